"""The ``logistic`` analysis: univariable and multivariable logistic regression (Firth)."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from cartlens.errors import CartlensError, StatisticalWarning
from cartlens.study.analyses.base import Context, register
from cartlens.study.analyses.models import ModelSpec, run_models


class LogisticAnalysis(ModelSpec):
    type: Literal["logistic"]
    outcome: str
    firth: bool = True

    def columns_used(self) -> tuple[str, ...]:
        return (self.outcome, *super().columns_used())


def run(a: LogisticAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    from cartlens.stats import logistic as lg

    df = ctx.cohorts[a.cohort]
    ctx.require(df, [a.outcome], f"analyses.{a.id}.outcome")
    df = df.copy()
    y_raw = df[a.outcome]
    df[a.outcome] = y_raw.map(lambda v: None if v is None or v != v else float(v)).astype(float)
    ci_methods: list[str] = []

    def fit(X, names, sub):
        y = sub[a.outcome].to_numpy(dtype=float)
        Xi = np.column_stack([np.ones(len(sub)), X])
        names_i = ["(Intercept)", *names]
        formula = f"{a.outcome} ~ " + " + ".join(names)
        kw = {"firth": a.firth, "outcome": a.outcome, "formula": formula}
        try:
            r = lg.fit_logistic_arrays(Xi, y, names_i, **kw)
        except ValueError as exc:
            if isinstance(exc, CartlensError):
                raise
            # the profile-likelihood interval could not be bracketed: Wald instead
            r = lg.fit_logistic_arrays(Xi, y, names_i, ci="wald", **kw)
            warnings.warn(
                f"model {formula}: profile-likelihood CI failed ({exc}); Wald CI and P shown",
                StatisticalWarning,
                stacklevel=2,
            )
        ci_methods.append(getattr(r, "ci_method", ""))
        rows = []
        for i, term in enumerate(r.terms):
            if term in ("(Intercept)", "Intercept"):
                continue
            rows.append(
                {
                    "term": term,
                    "or": float(r.odds_ratio[i]),
                    "lower": float(r.lower[i]),
                    "upper": float(r.upper[i]),
                    "p": float(r.p[i]),
                    "coef": float(np.log(r.odds_ratio[i])) if r.odds_ratio[i] > 0 else None,
                }
            )
        return r, rows, {}

    summary, details, results = run_models(
        a,
        ctx,
        df,
        [a.outcome],
        fit,
        measure="or",
        events_of=lambda s: int(np.sum(s[a.outcome].to_numpy(dtype=float) == 1)),
    )
    details["firth"] = a.firth
    details["ci_method"] = ci_methods[-1] if ci_methods else ""
    return summary, details, results


register(LogisticAnalysis, run)
