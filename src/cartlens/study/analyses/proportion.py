"""The ``proportion`` analysis: its spec and its computation."""

from __future__ import annotations

import warnings
from typing import ClassVar, Literal

from pydantic import Field

from cartlens.study.analyses.base import AnalysisSpec, Context, register


class ProportionAnalysis(AnalysisSpec):
    type: Literal["proportion"]
    cohort_field: ClassVar[str] = "cohorts"
    cohorts: list[str] = Field(min_length=1)
    outcome: str


def run(a: ProportionAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    study, cohorts = ctx.study, ctx.cohorts
    from cartlens.stats.proportions import binom_ci

    p = study.presentation
    summary, rows, results = {}, [], {}
    for c in a.cohorts:
        df = cohorts[c]
        ctx.require(df, [a.outcome], f"analyses.{a.id}.outcome")
        v = df[a.outcome].dropna().astype(bool)
        x, n = int(v.sum()), int(len(v))
        if n == 0:
            from cartlens.errors import SparseDataWarning

            warnings.warn(
                f"cohort '{c}' has no row with a value of '{a.outcome}' (0 evaluable); "
                "its proportion is undefined",
                SparseDataWarning,
                stacklevel=2,
            )
            summary.update({f"{c}.x": 0, f"{c}.n": 0, f"{c}.pct": None})
            summary.update({f"{c}.lower": None, f"{c}.upper": None})
            rows.append(
                {
                    "cohort": c,
                    "label": study.cohorts[c].label or c,
                    "x": 0,
                    "n": 0,
                    "estimate": None,
                    "lower": None,
                    "upper": None,
                }
            )
            continue
        r = binom_ci(x, n, p.ci_method, conf_level=p.conf_level)
        results[c] = r
        summary.update({f"{c}.x": x, f"{c}.n": n, f"{c}.pct": 100 * x / n})
        summary.update({f"{c}.lower": r.lower, f"{c}.upper": r.upper})
        rows.append(
            {
                "cohort": c,
                "label": study.cohorts[c].label or c,
                "x": x,
                "n": n,
                "estimate": r.estimate,
                "lower": r.lower,
                "upper": r.upper,
            }
        )
    return summary, {"rows": rows, "method": p.ci_method, "conf_level": p.conf_level}, results


register(ProportionAnalysis, run)
