"""The ``cumulative_incidence`` analysis: an event of the follow-up with death competing.

Endpoints (columns of :func:`cartlens.derive.followup_table`, in the study's infusion frame):
``infection`` (first infection), ``severe_infection`` (first infection of at least the derive
setting's severity), ``next_treatment`` (time to next treatment: another therapy, the next CAR-T
course or an allo-HSCT) and ``second_malignancy``; each with death without the event as the
competing event (``cmprsk::cuminc`` coding 0/1/2).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cartlens.study.analyses.base import (
    AnalysisSpec,
    Context,
    cif_summary_rows,
    label,
    register,
)

#: endpoint -> (column prefix, name of the event)
CI_ENDPOINTS = {
    "infection": ("infection", "infection"),
    "severe_infection": ("severe_infection", "severe infection"),
    "next_treatment": ("ttnt", "next treatment"),
    "second_malignancy": ("spm", "second malignancy"),
}


class CumulativeIncidenceAnalysis(AnalysisSpec):
    """Cumulative incidence of a follow-up event with death as the competing event."""

    type: Literal["cumulative_incidence"]
    cohort: str
    endpoint: Literal["infection", "severe_infection", "next_treatment", "second_malignancy"]
    by: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    times: list[float] = Field(default_factory=lambda: [1.0, 3.0, 12.0])

    def columns_used(self) -> tuple[str, ...]:
        p = CI_ENDPOINTS[self.endpoint][0]
        return (f"{p}_days", f"{p}_event", *([self.by] if self.by else []))


def run(a: CumulativeIncidenceAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    """cuminc (and Gray's test with ``by``) of the endpoint vs death without it."""
    from cartlens.stats.competing import cuminc, numbers_at_risk

    study = ctx.study
    prefix, name = CI_ENDPOINTS[a.endpoint]
    df = ctx.cohorts[a.cohort]
    cols = [f"{prefix}_days", f"{prefix}_event"]
    ctx.require(df, cols, f"analyses.{a.id}.endpoint")
    if a.by:
        ctx.require(df, [a.by], f"analyses.{a.id}.by")
        df = df[df[a.by].notna()]
    df = df[df[cols[0]].notna()]
    t = df[cols[0]].to_numpy(dtype=float) / ctx.time_scale
    e = df[cols[1]].to_numpy(dtype=int)
    grp = df[a.by].map(label).to_numpy() if a.by else None
    res = cuminc(t, e, group=grp, cencode=0, causes=[1, 2])
    causes = {1: name, 2: f"death without {name}"}
    summary: dict[str, Any] = {"n": int(len(df)), "events": int((e == 1).sum())}
    more, rows = cif_summary_rows(res, a.times, causes, lambda g: a.labels.get(g, g))
    summary.update(more)
    at_risk = numbers_at_risk(t, study.presentation.risk_table_times, group=grp)
    details = {
        "rows": rows,
        "endpoint": a.endpoint,
        "at_risk": {label(k) if k is not None else "all": v for k, v in at_risk.items()},
        "causes": {str(k): v for k, v in causes.items()},
        "risk_times": study.presentation.risk_table_times,
        "time_unit": study.presentation.time_unit,
        "labels": a.labels,
    }
    return summary, details, {"cuminc": res}


register(CumulativeIncidenceAnalysis, run)
