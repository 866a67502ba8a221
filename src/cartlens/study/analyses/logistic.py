"""The ``logistic`` analysis: its spec and its computation."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from pydantic import Field

from cartlens.errors import CartlensError, StatisticalWarning
from cartlens.study.analyses.base import AnalysisSpec, Context, register
from cartlens.study.analyses.design import numeric_design


class LogisticAnalysis(AnalysisSpec):
    type: Literal["logistic"]
    cohort: str
    outcome: str
    covariates: list[str] = Field(min_length=1)
    univariable: bool = True
    multivariable: bool = True
    firth: bool = True


def run(a: LogisticAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    cohorts = ctx.cohorts
    from cartlens.stats import logistic as lg

    df = cohorts[a.cohort]
    ctx.require(df, [a.outcome, *a.covariates], f"analyses.{a.id}")
    d = df[[a.outcome, *a.covariates]].dropna().copy()
    for c in [a.outcome, *a.covariates]:
        if d[c].map(lambda v: isinstance(v, bool | np.bool_)).all():
            d[c] = d[c].astype(int)
    rows, results = [], {}
    summary: dict[str, Any] = {"n": int(len(d)), "events": int(d[a.outcome].sum())}
    models = []
    if a.univariable:
        models += [("univariable", [c]) for c in a.covariates]
    if a.multivariable and len(a.covariates) > 1:
        models.append(("multivariable", list(a.covariates)))
    y = d[a.outcome].astype(float).to_numpy()
    for kind, cols in models:
        formula = f"{a.outcome} ~ " + " + ".join(cols)
        Xc, names = numeric_design(d, cols)
        X = np.column_stack([np.ones(len(d)), Xc])
        names = ["(Intercept)", *names]
        kw = {"firth": a.firth, "outcome": a.outcome, "formula": formula}
        try:
            try:
                r = lg.fit_logistic_arrays(X, y, names, **kw)
            except ValueError as exc:
                if isinstance(exc, CartlensError):
                    raise
                # the profile-likelihood interval could not be bracketed: Wald instead
                r = lg.fit_logistic_arrays(X, y, names, ci="wald", **kw)
                warnings.warn(
                    f"{kind} model {formula}: profile-likelihood CI failed ({exc}); "
                    "Wald CI and P shown",
                    StatisticalWarning,
                    stacklevel=2,
                )
        except CartlensError as exc:
            rows.append({"model": kind, "term": ", ".join(cols), "error": str(exc)})
            continue
        results[f"{kind}:{'+'.join(cols)}"] = r
        for i, term in enumerate(r.terms):
            if term in ("(Intercept)", "Intercept"):
                continue
            row = {
                "model": kind,
                "term": term,
                "or": float(r.odds_ratio[i]),
                "lower": float(r.lower[i]),
                "upper": float(r.upper[i]),
                "p": float(r.p[i]),
            }
            rows.append(row)
            summary[f"{kind}.{term}.or"] = row["or"]
            summary[f"{kind}.{term}.p"] = row["p"]
    return (
        summary,
        {"rows": rows, "firth": a.firth, "ci_method": getattr(r, "ci_method", "")},
        results,
    )


register(LogisticAnalysis, run)
