"""The ``cox`` analysis: its spec and its computation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cartlens.errors import CartlensError
from cartlens.study.analyses.base import AnalysisSpec, Context, Endpoint, register
from cartlens.study.analyses.design import numeric_design


class CoxAnalysis(AnalysisSpec):
    type: Literal["cox"]
    cohort: str
    endpoint: Endpoint
    covariates: list[str] = Field(min_length=1)
    univariable: bool = True
    multivariable: bool = True
    firth: bool = False
    ties: Literal["efron", "breslow"] = "efron"


def run(a: CoxAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    cohorts = ctx.cohorts
    from cartlens.stats.cox import coxph

    df = cohorts[a.cohort]
    ctx.require(df, a.covariates, f"analyses.{a.id}.covariates")
    scale = ctx.time_scale
    d = df[[f"{a.endpoint}_days", f"{a.endpoint}_event", *a.covariates]].dropna()
    t = d[f"{a.endpoint}_days"].to_numpy(dtype=float) / scale
    e = d[f"{a.endpoint}_event"].to_numpy(dtype=int)
    rows, results, summary = [], {}, {"n": int(len(d)), "events": int(e.sum())}
    models = []
    if a.univariable:
        models += [("univariable", [c]) for c in a.covariates]
    if a.multivariable and len(a.covariates) > 1:
        models.append(("multivariable", list(a.covariates)))
    for kind, cols in models:
        X, names = numeric_design(d, cols)
        try:
            r = coxph(t, e, X, names=names, ties=a.ties, firth=a.firth)
        except CartlensError as exc:
            rows.append({"model": kind, "term": ", ".join(cols), "error": str(exc)})
            continue
        results[f"{kind}:{'+'.join(cols)}"] = r
        for row in r.terms_table():
            rows.append({"model": kind, **row})
            summary[f"{kind}.{row['term']}.hr"] = row.get("hr")
            summary[f"{kind}.{row['term']}.p"] = row.get("p")
    return summary, {"rows": rows, "endpoint": a.endpoint}, results


register(CoxAnalysis, run)
