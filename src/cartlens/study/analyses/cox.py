"""The ``cox`` analysis: univariable and multivariable Cox models, with cox.zph per term."""

from __future__ import annotations

from typing import Literal

import numpy as np

from cartlens.study.analyses.base import Context, Endpoint, register
from cartlens.study.analyses.models import ModelSpec, parse_terms, run_models


class CoxAnalysis(ModelSpec):
    type: Literal["cox"]
    endpoint: Endpoint
    firth: bool = False
    ties: Literal["efron", "breslow"] = "efron"

    def columns_used(self) -> tuple[str, ...]:
        return (f"{self.endpoint}_days", f"{self.endpoint}_event", *super().columns_used())


def run(a: CoxAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    from cartlens.stats.cox import coxph
    from cartlens.stats.zph import cox_zph

    df = ctx.cohorts[a.cohort]
    tcol, ecol = f"{a.endpoint}_days", f"{a.endpoint}_event"
    ctx.require(df, [tcol, ecol], f"analyses.{a.id}.endpoint")
    scale = ctx.time_scale
    terms = parse_terms(a.covariates)

    def fit(X, names, sub):
        t = sub[tcol].to_numpy(dtype=float) / scale
        e = sub[ecol].to_numpy(dtype=int)
        r = coxph(t, e, X, names=names, ties=a.ties, firth=a.firth)
        rows = r.terms_table()
        extra: dict = {"converged": bool(r.converged)}
        # proportional hazards: cox.zph's test per covariate (a factor's levels together)
        try:
            groups: dict[str, tuple[int, ...]] = {}
            for term in terms:
                if all(p in sub.columns for p in term.parts):
                    cols = tuple(
                        i for i, n in enumerate(names) if _belongs(n, term.parts, len(term.parts))
                    )
                    if cols:
                        groups[term.text] = cols
            z = cox_zph(t, e, X, names=names, terms=groups, coef=r.coef, ties=a.ties)
            extra["zph"] = {row["term"]: row["p"] for row in z.terms}
            extra["zph_global"] = z.global_test.get("p")
        except Exception as exc:  # noqa: BLE001 - the PH test is a diagnostic
            extra["zph_error"] = str(exc)
        return r, rows, extra

    summary, details, results = run_models(
        a,
        ctx,
        df,
        [tcol, ecol],
        fit,
        measure="hr",
        events_of=lambda s: int(np.sum(s[ecol].to_numpy(dtype=float) == 1)),
    )
    details["endpoint"] = a.endpoint
    details["ties"] = a.ties
    return summary, details, results


def _belongs(name: str, parts: tuple[str, ...], k: int) -> bool:
    """Is design column ``name`` (``a``, ``a[lv]``, ``a[lv]:b``) made of exactly ``parts``?"""
    pieces = name.split(":")
    if len(pieces) != k:
        return False
    return all(pc.split("[", 1)[0] == p for pc, p in zip(pieces, parts))


register(CoxAnalysis, run)
