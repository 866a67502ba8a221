"""The ``proportion`` analysis: x/n with a CI per cohort (and per group with ``by``)."""

from __future__ import annotations

import warnings
from typing import ClassVar, Literal

from pydantic import Field

from cartlens.errors import SparseDataWarning
from cartlens.study.analyses.base import AnalysisSpec, Context, register
from cartlens.study.analyses.groups import GroupTest, pairwise_tests, split_by


class ProportionAnalysis(AnalysisSpec, GroupTest):
    type: Literal["proportion"]
    cohort_field: ClassVar[str] = "cohorts"
    cohorts: list[str] = Field(min_length=1)
    outcome: str
    labels: dict[str, str] = Field(default_factory=dict)

    def columns_used(self) -> tuple[str, ...]:
        return (self.outcome, *([self.by] if self.by else []))


def _one(ctx: Context, a, key: str, label: str, df, summary: dict, rows: list, results: dict):
    from cartlens.stats.proportions import binom_ci

    p = ctx.study.presentation
    v = df[a.outcome].dropna().astype(bool)
    x, n = int(v.sum()), int(len(v))
    row = {"cohort": key, "label": label, "x": x, "n": n}
    if n == 0:
        warnings.warn(
            f"cohort '{key}' has no row with a value of '{a.outcome}' (0 evaluable); "
            "its proportion is undefined",
            SparseDataWarning,
            stacklevel=3,
        )
        summary.update({f"{key}.x": 0, f"{key}.n": 0, f"{key}.pct": None})
        summary.update({f"{key}.lower": None, f"{key}.upper": None})
        rows.append({**row, "estimate": None, "lower": None, "upper": None})
        return x, n
    r = binom_ci(x, n, p.ci_method, conf_level=p.conf_level)
    results[key] = r
    summary.update({f"{key}.x": x, f"{key}.n": n, f"{key}.pct": 100 * x / n})
    summary.update({f"{key}.lower": r.lower, f"{key}.upper": r.upper})
    rows.append({**row, "estimate": r.estimate, "lower": r.lower, "upper": r.upper})
    return x, n


def run(a: ProportionAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    study, cohorts = ctx.study, ctx.cohorts
    p = study.presentation
    summary: dict = {}
    rows: list = []
    results: dict = {}
    tests = []
    for c in a.cohorts:
        df = cohorts[c]
        ctx.require(df, [a.outcome], f"analyses.{a.id}.outcome")
        clabel = study.cohorts[c].label or c
        if not a.by:
            _one(ctx, a, c, clabel, df, summary, rows, results)
            continue
        table, levels = [], []
        for lv, glabel, sub in split_by(ctx, df, a.by, f"analyses.{a.id}.by", a.labels):
            levels.append(lv)
            x, n = _one(ctx, a, f"{c}.{lv}", glabel, sub, summary, rows, results)
            rows[-1]["group"] = lv
            rows[-1]["cohort_label"] = clabel
            table.append([x, n - x])
        res = a.rxc(table, f"{a.id}: {a.outcome} by {a.by} in '{c}'")
        summary[f"{c}.p"] = res["p"]
        test = {"cohort": c, "label": clabel, **res}
        if a.pairwise and len(table) > 2:
            what = f"{a.id}: {a.outcome} by {a.by} in '{c}'"
            test["pairwise"] = pairwise_tests(a, table, levels, what)
            for pw in test["pairwise"]:
                summary[f"{c}.pairwise.{pw['group1']}|{pw['group2']}"] = pw.get("p_adjusted")
        tests.append(test)
    details = {
        "rows": rows,
        "method": p.ci_method,
        "conf_level": p.conf_level,
        "outcome": a.outcome,
        "outcome_label": ctx.variable_label(a.outcome),
        "by": a.by,
        "by_label": ctx.variable_label(a.by) if a.by else "",
        "tests": tests,
    }
    return summary, details, results


register(ProportionAnalysis, run)
