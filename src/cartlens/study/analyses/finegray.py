"""The ``finegray`` analysis: Fine-Gray subdistribution hazards of relapse or of NRM."""

from __future__ import annotations

from typing import Literal

import numpy as np

from cartlens.study.analyses.base import Context, register
from cartlens.study.analyses.models import ModelSpec, run_models

#: the derive layer's competing-risks coding (``crisk_event``)
CAUSES = {"relapse": 1, "nrm": 2}


class FineGrayAnalysis(ModelSpec):
    type: Literal["finegray"]
    #: the event of interest; the other one competes
    cause: Literal["relapse", "nrm"] = "relapse"

    def columns_used(self) -> tuple[str, ...]:
        return ("crisk_days", "crisk_event", *super().columns_used())


def run(a: FineGrayAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    from cartlens.stats.finegray import finegray

    df = ctx.cohorts[a.cohort]
    ctx.require(df, ["crisk_days", "crisk_event"], f"analyses.{a.id}")
    code = CAUSES[a.cause]
    scale = ctx.time_scale

    def fit(X, names, sub):
        t = sub["crisk_days"].to_numpy(dtype=float) / scale
        s = sub["crisk_event"].to_numpy(dtype=int)
        r = finegray(t, s, X, failcode=code, cencode=0, names=names)
        rows = [
            {
                "term": n,
                "hr": float(r.shr[j]),
                "lower": float(r.shr_lower[j]),
                "upper": float(r.shr_upper[j]),
                "p": float(r.p[j]),
                "coef": float(r.coef[j]),
            }
            for j, n in enumerate(r.terms)
        ]
        return r, rows, {"converged": bool(r.converged), "competing": int(r.competing)}

    summary, details, results = run_models(
        a,
        ctx,
        df,
        ["crisk_days", "crisk_event"],
        fit,
        measure="hr",
        events_of=lambda s: int(np.sum(s["crisk_event"].to_numpy(dtype=int) == code)),
    )
    details["cause"] = a.cause
    return summary, details, results


register(FineGrayAnalysis, run)
