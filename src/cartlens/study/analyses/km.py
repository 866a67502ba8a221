"""The ``km`` analysis: its spec and its computation."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field

from cartlens.results import Result
from cartlens.study.analyses.base import AnalysisSpec, Context, Scalar, label, register


class KMAnalysis(AnalysisSpec):
    type: Literal["km"]
    cohort: str
    endpoint: Literal["pfs", "os"]
    by: str | None = None
    groups: list[Scalar] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    logrank_pairs: list[tuple[Scalar, Scalar]] = Field(default_factory=list)


def run(a: KMAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    study, cohorts = ctx.study, ctx.cohorts
    from cartlens.stats.km import kaplan_meier
    from cartlens.stats.logrank import logrank_test

    df = cohorts[a.cohort]
    scale = ctx.time_scale
    if a.by:
        ctx.require(df, [a.by], f"analyses.{a.id}.by")
        df = df[df[a.by].notna()]
        if a.groups is not None:
            df = df[df[a.by].map(label).isin([label(g) for g in a.groups])]
    t = df[f"{a.endpoint}_days"].to_numpy(dtype=float) / scale
    e = df[f"{a.endpoint}_event"].to_numpy(dtype=int)
    grp = df[a.by].map(label).to_numpy() if a.by else None
    p = study.presentation
    km = kaplan_meier(t, e, group=grp, conf_type=p.km_conf_type, conf_level=p.conf_level)
    results: dict[str, Result] = {"km": km}
    summary: dict[str, Any] = {"n": int(len(df)), "events": int(e.sum())}
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
        tt = t[mask]
        risk = [int(np.sum(tt >= x)) for x in p.risk_table_times]
        curves.append(
            {
                "group": g,
                "label": a.labels.get(g, study.cohorts[a.cohort].label if g == "all" else g),
                "n": int(cv.n),
                "events": int(cv.events),
                "median": med,
                "median_lower": cv.median_lower,
                "median_upper": cv.median_upper,
                "at_risk": risk,
            }
        )
    if a.by and len(km.curves) > 1:
        lr = logrank_test(t, e, grp)
        results["logrank"] = lr
        summary["logrank"] = lr.p
    for g1, g2 in a.logrank_pairs:
        l1, l2 = label(g1), label(g2)
        m = np.isin(grp, [l1, l2])
        lr = logrank_test(t[m], e[m], grp[m])
        results[f"logrank {l1}|{l2}"] = lr
        summary[f"logrank.{l1}|{l2}"] = lr.p
    details = {
        "curves": curves,
        "endpoint": a.endpoint,
        "time_unit": p.time_unit,
        "risk_times": p.risk_table_times,
        "pairs": [[label(x), label(y)] for x, y in a.logrank_pairs],
    }
    return summary, details, results


register(KMAnalysis, run)
