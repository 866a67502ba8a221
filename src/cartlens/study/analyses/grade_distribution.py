"""The ``grade_distribution`` analysis: its spec and its computation."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from cartlens.study.analyses.base import AnalysisSpec, Context, register


class GradeDistribution(AnalysisSpec):
    type: Literal["grade_distribution"]
    cohort_field: ClassVar[str] = "cohorts"
    cohorts: list[str] = Field(min_length=1)
    toxicity: Literal["crs", "icans"]
    max_grade: int = Field(5, ge=1, le=5)


def run(a: GradeDistribution, ctx: Context) -> tuple[dict, dict, dict]:
    study, cohorts = ctx.study, ctx.cohorts
    col = f"{a.toxicity}_grade"
    severe = study.endpoints.severe_grade
    summary, rows = {}, []
    for c in a.cohorts:
        g = cohorts[c][col].fillna(0).astype(int)
        n = len(g)
        counts = {k: int((g == k).sum()) for k in range(0, a.max_grade + 1)}
        summary[f"{c}.n"] = n
        for k, v in counts.items():
            summary[f"{c}.grade_{k}"] = v
        summary[f"{c}.any"] = int((g >= 1).sum())
        summary[f"{c}.severe"] = int((g >= severe).sum())
        rows.append(
            {
                "cohort": c,
                "label": study.cohorts[c].label or c,
                "n": n,
                "counts": counts,
                "any": int((g >= 1).sum()),
                "severe": int((g >= severe).sum()),
            }
        )
    return summary, {"rows": rows, "severe_grade": severe, "toxicity": a.toxicity}, {}


register(GradeDistribution, run)
