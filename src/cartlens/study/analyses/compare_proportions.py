"""The ``compare_proportions`` analysis: its spec and its computation."""

from __future__ import annotations

import warnings
from typing import ClassVar, Literal

import numpy as np

from cartlens.results import Result
from cartlens.study.analyses.base import AnalysisSpec, Context, register


class CompareProportions(AnalysisSpec):
    type: Literal["compare_proportions"]
    cohort_field: ClassVar[str] = "cohorts"
    cohorts: tuple[str, str]
    outcome: str
    test: Literal["chisq", "fisher", "auto"] = "chisq"
    correct: bool = False

    def columns_used(self) -> tuple[str, ...]:
        return (self.outcome,)


def run(a: CompareProportions, ctx: Context) -> tuple[dict, dict, dict]:
    cohorts = ctx.cohorts
    from cartlens.stats.tables import chisq_test, compare_proportions, fisher_test

    c1, c2 = a.cohorts
    d1, d2 = cohorts[c1], cohorts[c2]
    for d in (d1, d2):
        ctx.require(d, [a.outcome], f"analyses.{a.id}.outcome")
    v1 = d1[a.outcome].dropna().astype(bool)
    v2 = d2[a.outcome].dropna().astype(bool)
    x1, n1, x2, n2 = int(v1.sum()), len(v1), int(v2.sum()), len(v2)
    overlap = len(set(d1["patient_id"]) & set(d2["patient_id"]))
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
    results: dict[str, Result] = {}
    if a.test == "chisq":
        r = chisq_test(table, correct=a.correct)
        results["test"] = r
        p, stat, method = r.p_value, r.statistic, r.method
    elif a.test == "fisher":
        r = fisher_test(table)
        results["test"] = r
        p, stat, method = r.p_value, None, "Fisher's exact test"
    else:
        r = compare_proportions(x1, n1, x2, n2, correct=a.correct, overlapping=overlap > 0)
        results["test"] = r
        p = getattr(r, "p_value", None)
        stat, method = getattr(r, "statistic", None), getattr(r, "test", "auto")
    if overlap:
        from cartlens.errors import PairedDataWarning

        warnings.warn(
            f"{overlap} patients are in both '{c1}' and '{c2}'; the test treats the groups as "
            "independent, which they are not (see the paired McNemar analysis)",
            PairedDataWarning,
            stacklevel=2,
        )
    fisher = fisher_test(table)
    results["fisher"] = fisher
    summary = {
        "p": p,
        "statistic": stat,
        "x1": x1,
        "n1": n1,
        "x2": x2,
        "n2": n2,
        "pct1": 100 * x1 / n1,
        "pct2": 100 * x2 / n2,
        "overlap": overlap,
        "p_fisher": fisher.p_value,
    }
    if a.test == "chisq" and not a.correct:
        method = f"{method} without continuity correction"
    details = {"method": method, "table": table.tolist(), "labels": [c1, c2]}
    return summary, details, results


register(CompareProportions, run)
