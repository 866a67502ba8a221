"""The ``grade_distribution`` analysis: worst CRS/ICANS grade per infusion (by group)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from cartlens.study.analyses.base import AnalysisSpec, Context, register
from cartlens.study.analyses.groups import GroupTest, split_by


class GradeDistribution(AnalysisSpec, GroupTest):
    type: Literal["grade_distribution"]
    cohort_field: ClassVar[str] = "cohorts"
    cohorts: list[str] = Field(min_length=1)
    toxicity: Literal["crs", "icans"]
    max_grade: int = Field(5, ge=1, le=5)
    labels: dict[str, str] = Field(default_factory=dict)

    def columns_used(self) -> tuple[str, ...]:
        return (f"{self.toxicity}_grade", *([self.by] if self.by else []))


def _one(a, key, label, df, severe, summary, rows):
    g = df[f"{a.toxicity}_grade"].fillna(0).astype(int)
    n = len(g)
    counts = {k: int((g == k).sum()) for k in range(0, a.max_grade + 1)}
    summary[f"{key}.n"] = n
    for k, v in counts.items():
        summary[f"{key}.grade_{k}"] = v
    summary[f"{key}.any"] = int((g >= 1).sum())
    summary[f"{key}.severe"] = int((g >= severe).sum())
    rows.append(
        {
            "cohort": key,
            "label": label,
            "n": n,
            "counts": counts,
            "any": int((g >= 1).sum()),
            "severe": int((g >= severe).sum()),
        }
    )
    return rows[-1]


def run(a: GradeDistribution, ctx: Context) -> tuple[dict, dict, dict]:
    study, cohorts = ctx.study, ctx.cohorts
    severe = study.endpoints.severe_grade
    summary: dict = {}
    rows: list = []
    tests = []
    for c in a.cohorts:
        df = cohorts[c]
        ctx.require(df, [f"{a.toxicity}_grade"], f"analyses.{a.id}.toxicity")
        clabel = study.cohorts[c].label or c
        if not a.by:
            _one(a, c, clabel, df, severe, summary, rows)
            continue
        table = []
        for lv, glabel, sub in split_by(ctx, df, a.by, f"analyses.{a.id}.by", a.labels):
            r = _one(a, f"{c}.{lv}", f"{clabel}: {glabel}", sub, severe, summary, rows)
            table.append([r["severe"], r["n"] - r["severe"]])
        res = a.rxc(table, f"{a.id}: severe {a.toxicity.upper()} by {a.by} in '{c}'")
        summary[f"{c}.p_severe"] = res["p"]
        tests.append({"cohort": c, "label": clabel, **res})
    details = {
        "rows": rows,
        "severe_grade": severe,
        "toxicity": a.toxicity,
        "max_grade": a.max_grade,
        "tests": tests,
        "by": a.by,
    }
    return summary, details, {}


register(GradeDistribution, run)
