"""The ``adjusted`` analysis: its spec and its computation."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from cartlens.results import Result
from cartlens.study.analyses.base import AnalysisSpec, Context, Endpoint, Scalar, register
from cartlens.study.analyses.design import numeric_design


class AdjustedComparison(AnalysisSpec):
    type: Literal["adjusted"]
    cohort: str
    treatment: str
    treated: Scalar
    control: Scalar
    endpoint: Endpoint = "os"
    method: Literal["restriction", "multivariable", "iptw", "matching"] = "iptw"
    covariates: list[str] = Field(default_factory=list)

    def columns_used(self) -> tuple[str, ...]:
        return (self.treatment, *self.covariates, f"{self.endpoint}_days", f"{self.endpoint}_event")


def run(a: AdjustedComparison, ctx: Context) -> tuple[dict, dict, dict]:
    cohorts = ctx.cohorts
    from cartlens.stats.propensity import propensity_score_arrays
    from cartlens.stats.weighting import iptw_weights, weighted_cox

    df = cohorts[a.cohort]
    ctx.require(df, [a.treatment, *a.covariates], f"analyses.{a.id}")
    d = df[df[a.treatment].isin([a.treated, a.control])].copy()
    d["_treat"] = (d[a.treatment] == a.treated).astype(int)
    d = d.dropna(subset=[*a.covariates, f"{a.endpoint}_days"])
    scale = ctx.time_scale
    t = d[f"{a.endpoint}_days"].to_numpy(dtype=float) / scale
    e = d[f"{a.endpoint}_event"].to_numpy(dtype=int)
    results: dict[str, Result] = {}
    summary: dict[str, Any] = {
        "n": int(len(d)),
        "n_treated": int(d["_treat"].sum()),
        "n_control": int((1 - d["_treat"]).sum()),
    }
    if a.method == "restriction":
        from cartlens.stats.cox import coxph

        r = coxph(t, e, d["_treat"].to_numpy(float)[:, None], names=["treated"])
    elif a.method == "multivariable":
        from cartlens.stats.cox import coxph

        X, names = numeric_design(d, ["_treat", *a.covariates])
        r = coxph(t, e, X, names=["treated", *names[1:]])
    elif a.method == "matching":
        from cartlens.stats.matching import match_nearest, matched_cox

        Xc, names = numeric_design(d, list(a.covariates))
        ps = propensity_score_arrays(d["_treat"].to_numpy(), Xc, names=names, firth=True)
        results["propensity"] = ps
        m = match_nearest(ps.ps, d["_treat"].to_numpy(), ids=d["patient_id"].to_numpy())
        results["match"] = m
        summary["n_matched"] = int(np.sum(m.matched))
        r = matched_cox(t, e, m)
    else:
        Xc, names = numeric_design(d, list(a.covariates))
        ps = propensity_score_arrays(d["_treat"].to_numpy(), Xc, names=names, firth=True)
        results["propensity"] = ps
        w = iptw_weights(ps.ps, d["_treat"].to_numpy(), stabilize=True)
        results["weights"] = w
        weights = np.asarray(getattr(w, "weights", w))
        r = weighted_cox(t, e, d["_treat"].to_numpy(), weights)
        try:
            from cartlens.stats.balance import balance_table

            bal = balance_table(d[a.covariates], d["_treat"].to_numpy(), weights)
            results["balance"] = bal
        except Exception as exc:  # noqa: BLE001 - balance is a diagnostic
            summary["balance_error"] = str(exc)
    results["cox"] = r
    hr = getattr(r, "hr", None)
    if hr is not None:
        summary["hr"] = float(np.asarray(hr)[0])
        summary["lower"] = float(np.asarray(r.hr_lower)[0])
        summary["upper"] = float(np.asarray(r.hr_upper)[0])
        summary["p"] = float(np.asarray(r.p)[0])
    return summary, {"method": a.method, "covariates": a.covariates}, results


register(AdjustedComparison, run)
