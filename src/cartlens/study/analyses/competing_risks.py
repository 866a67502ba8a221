"""The ``competing_risks`` analysis: its spec and its computation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cartlens.study.analyses.base import (
    AnalysisSpec,
    Context,
    cif_summary_rows,
    group_label,
    group_levels,
    label,
    register,
    risk_times_for,
)


class CompetingRisksAnalysis(AnalysisSpec):
    """Cumulative incidence of relapse and of non-relapse mortality (competing events)."""

    type: Literal["competing_risks"]
    cohort: str
    by: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    times: list[float] = Field(default_factory=lambda: [6.0, 12.0])

    def columns_used(self) -> tuple[str, ...]:
        return ("crisk_days", "crisk_event", *([self.by] if self.by else []))


def run(a: CompetingRisksAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    """Relapse vs non-relapse mortality (derive layer's ``crisk_*``): cuminc and Gray's test."""
    study, cohorts = ctx.study, ctx.cohorts
    from cartlens.stats.competing import cuminc, numbers_at_risk

    df = cohorts[a.cohort]
    if a.by:
        ctx.require(df, [a.by], f"analyses.{a.id}.by")
        df = df[df[a.by].notna()]
    scale = ctx.time_scale
    t = df["crisk_days"].to_numpy(dtype=float) / scale
    e = df["crisk_event"].to_numpy(dtype=int)
    grp = df[a.by].map(label).to_numpy() if a.by else None
    res = cuminc(t, e, group=grp, cencode=0)
    causes = {1: "relapse", 2: "non-relapse mortality"}
    summary: dict[str, Any] = {"n": int(len(df))}
    more, rows = cif_summary_rows(
        res, a.times, causes, lambda g: group_label(ctx, a.by, g, a.labels) if a.by else g
    )
    summary.update(more)
    times = risk_times_for(study.presentation.risk_table_times, float(t.max()) if len(t) else 0.0)
    at_risk = numbers_at_risk(t, times, group=grp)
    groups = group_levels(ctx, a.by, df[a.by]) if a.by else ["all"]
    details = {
        "rows": rows,
        "at_risk": {label(k) if k is not None else "all": v for k, v in at_risk.items()},
        "causes": {str(k): v for k, v in causes.items()},
        "risk_times": times,
        "groups": groups,
        "group_labels": {
            g: group_label(ctx, a.by, g, a.labels)
            if a.by
            else (study.cohorts[a.cohort].label or a.cohort)
            for g in groups
        },
        "time_unit": study.presentation.time_unit,
        "labels": a.labels,
    }
    return summary, details, {"cuminc": res}


register(CompetingRisksAnalysis, run)
