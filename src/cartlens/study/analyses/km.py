"""The ``km`` analysis: Kaplan-Meier curves by group, medians, log-rank tests."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np
from pydantic import Field

from cartlens.results import Result
from cartlens.study.analyses.base import (
    AnalysisSpec,
    Context,
    Endpoint,
    Scalar,
    endpoint_arrays,
    group_label,
    group_levels,
    label,
    register,
    risk_times_for,
)


class KMAnalysis(AnalysisSpec):
    type: Literal["km"]
    cohort: str
    endpoint: Endpoint
    by: str | None = None
    groups: list[Scalar] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    logrank_pairs: list[tuple[Scalar, Scalar]] = Field(default_factory=list)
    pairwise: bool = False
    cumulative_events: bool = False

    def columns_used(self) -> tuple[str, ...]:
        ep = (f"{self.endpoint}_days", f"{self.endpoint}_event")
        return (*ep, *([self.by] if self.by else []))


def run(a: KMAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    from cartlens.stats.km import kaplan_meier
    from cartlens.stats.logrank import logrank_test, pairwise_logrank

    study = ctx.study
    df = ctx.cohorts[a.cohort]
    levels: list[str] = []
    if a.by:
        ctx.require(df, [a.by], f"analyses.{a.id}.by")
        df = df[df[a.by].notna()]
        if a.groups is not None:
            df = df[df[a.by].map(label).isin([label(g) for g in a.groups])]
        levels = (
            [label(g) for g in a.groups]
            if a.groups is not None
            else group_levels(ctx, a.by, df[a.by])
        )
    t, e, keep = endpoint_arrays(ctx, df, a.endpoint, f"analyses.{a.id}.endpoint")
    df = df[keep]
    grp = df[a.by].map(label).to_numpy() if a.by else None
    p = study.presentation
    km = kaplan_meier(t, e, group=grp, conf_type=p.km_conf_type, conf_level=p.conf_level)
    if a.by:  # the curves in the declared level order
        pos = {lv: i for i, lv in enumerate(levels)}
        km = dataclasses.replace(
            km, curves=tuple(sorted(km.curves, key=lambda c: pos.get(label(c.group), 1e9)))
        )
    results: dict[str, Result] = {"km": km}
    summary: dict[str, Any] = {"n": int(len(df)), "events": int(e.sum())}
    times = risk_times_for(p.risk_table_times, float(t.max()) if len(t) else 0.0)
    curves = []
    for cv in km.curves:
        g = "all" if cv.group is None else label(cv.group)
        suffix = "" if cv.group is None else f".{g}"
        med = None if cv.median is None or not math.isfinite(cv.median) else float(cv.median)
        summary[f"median{suffix}"] = med
        summary[f"median_lower{suffix}"] = cv.median_lower
        summary[f"median_upper{suffix}"] = cv.median_upper
        summary[f"n{suffix}" if suffix else "n_curve"] = int(cv.n)
        summary[f"events{suffix}" if suffix else "events_curve"] = int(cv.events)
        mask = slice(None) if grp is None else (grp == g)
        tt, ee = t[mask], e[mask]
        curves.append(
            {
                "group": g,
                "label": (
                    a.labels.get(g, study.cohorts[a.cohort].label or a.cohort)
                    if g == "all"
                    else group_label(ctx, a.by, g, a.labels)
                ),
                "n": int(cv.n),
                "events": int(cv.events),
                "median": med,
                "median_lower": cv.median_lower,
                "median_upper": cv.median_upper,
                "at_risk": [int(np.sum(tt >= x)) for x in times],
                "events_at": [int(np.sum((tt <= x) & (ee == 1))) for x in times],
            }
        )
    if a.by and len(km.curves) > 1:
        lr = logrank_test(t, e, grp)
        results["logrank"] = lr
        summary["logrank"] = lr.p
    pairs = [(label(x), label(y)) for x, y in a.logrank_pairs]
    for l1, l2 in pairs:
        m = np.isin(grp, [l1, l2])
        lr = logrank_test(t[m], e[m], grp[m])
        results[f"logrank {l1}|{l2}"] = lr
        summary[f"logrank.{l1}|{l2}"] = lr.p
    if a.pairwise and len(km.curves) > 2:
        pw = pairwise_logrank(t, e, grp, adjust="holm")
        results["pairwise"] = pw
        for c in pw.comparisons:
            g1, g2 = label(c["group1"]), label(c["group2"])
            summary[f"pairwise.{g1}|{g2}"] = c["p_adjusted"]
    details = {
        "curves": curves,
        "endpoint": a.endpoint,
        "time_unit": p.time_unit,
        "risk_times": times,
        "pairs": [list(x) for x in pairs],
        "pairwise": [
            [label(c["group1"]), label(c["group2"])] for c in results["pairwise"].comparisons
        ]
        if "pairwise" in results
        else [],
        "cumulative_events": a.cumulative_events,
        "by_label": ctx.variable_label(a.by) if a.by else "",
    }
    return summary, details, results


register(KMAnalysis, run)
