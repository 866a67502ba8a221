"""The ``rmst`` analysis: restricted mean survival time of two groups (survRM2)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cartlens.study.analyses.base import (
    AnalysisSpec,
    Context,
    Endpoint,
    Scalar,
    SpecError,
    endpoint_arrays,
    group_label,
    group_levels,
    label,
    register,
)


class RMSTAnalysis(AnalysisSpec):
    """RMST up to ``tau_days`` (default: survRM2's, the smaller of the groups' largest
    follow-up times) of the two groups of ``by``; the first group is the reference."""

    type: Literal["rmst"]
    cohort: str
    endpoint: Endpoint
    by: str
    groups: list[Scalar] | None = Field(None, min_length=2, max_length=2)
    tau_days: float | None = Field(None, gt=0)
    labels: dict[str, str] = Field(default_factory=dict)

    def columns_used(self) -> tuple[str, ...]:
        return (f"{self.endpoint}_days", f"{self.endpoint}_event", self.by)


def run(a: RMSTAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    from cartlens.stats.rmst import rmst2

    df = ctx.cohorts[a.cohort]
    ctx.require(df, [a.by], f"analyses.{a.id}.by")
    df = df[df[a.by].notna()]
    if a.groups is not None:
        df = df[df[a.by].map(label).isin([label(g) for g in a.groups])]
    levels = (
        [label(g) for g in a.groups] if a.groups is not None else group_levels(ctx, a.by, df[a.by])
    )
    if len(levels) != 2:
        raise SpecError(
            f"an RMST comparison needs two groups; '{a.by}' has {len(levels)}: "
            f"{', '.join(levels)} (choose two with groups = [...])",
            key=f"analyses.{a.id}.by",
            line=ctx.lines.get((*ctx.loc, "by")) or ctx.lines.get(ctx.loc),
        )
    t, e, keep = endpoint_arrays(ctx, df, a.endpoint, f"analyses.{a.id}.endpoint")
    grp = df[keep][a.by].map(label).to_numpy()
    tau = None if a.tau_days is None else a.tau_days / ctx.time_scale
    r = rmst2(t, e, grp, tau=tau, reference=levels[0], conf_level=ctx.study.presentation.conf_level)
    summary: dict[str, Any] = {
        "n": r.n,
        "tau": r.tau,
        "difference": r.difference["estimate"],
        "difference_lower": r.difference["lower"],
        "difference_upper": r.difference["upper"],
        "p": r.difference["p"],
        "ratio": r.ratio["estimate"],
        "ratio_p": r.ratio["p"],
    }
    for g in r.per_group:
        summary[f"rmst.{g['group']}"] = g["rmst"]
    details = {
        "endpoint": a.endpoint,
        "time_unit": ctx.study.presentation.time_unit,
        "tau_rule": r.tau_rule,
        "by_label": ctx.variable_label(a.by),
        "groups": [
            {**g, "label": group_label(ctx, a.by, g["group"], a.labels)} for g in r.per_group
        ],
        "difference": r.difference,
        "ratio": r.ratio,
        "rmtl_ratio": r.rmtl_ratio,
    }
    return summary, details, {"rmst": r}


register(RMSTAnalysis, run)
