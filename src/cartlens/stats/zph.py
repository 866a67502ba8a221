"""Test of proportional hazards as survival 3.x ``cox.zph(fit, transform="km", terms=TRUE)``.

For a fitted Cox model, the coefficient of each term is allowed to vary as
``beta(t) = beta + theta * g(t)`` with ``g(t) = 1 - KM(t-)`` (the pooled, unweighted
Kaplan-Meier of the fitted data, left-continuous), centred at its mean over the events. The
statistic for a term is the score test of ``theta = 0`` for that term's columns, computed
at ``(beta_hat, 0)`` from the score and information of the augmented model (all ``beta``
plus that term's ``theta``); the global test uses all ``theta`` at once. A factor with
``k`` levels is one term with ``k - 1`` degrees of freedom.

This is the exact score test of survival >= 3.0, not the Grambsch-Therneau approximation
of older versions and of lifelines' ``proportional_hazard_test``.

References
----------
Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based on weighted
residuals. Biometrika 1994;81:515-526.
Therneau TM, Grambsch PM. Modeling Survival Data: Extending the Cox Model. Springer, 2000,
section 6.2.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
from scipy import special, stats

from cartlens.errors import InputError
from cartlens.results import Result
from cartlens.stats._linalg import linear_predictor_t


@dataclasses.dataclass(frozen=True)
class ZphResult(Result):
    """Per-term and global chi-square tests of proportional hazards."""

    terms: tuple  # dicts {term, chisq, df, p}
    global_test: dict
    transform: str
    n: int
    events: int

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["global"] = d.pop("global_test")
        return d


def _km_left(stop, event, entry):
    """1 - KM(t-) at every row's stop time (pooled, unweighted; (start, stop] risk sets)."""
    ut = np.unique(stop[event == 1])
    if entry is None:
        n_risk = stop.size - np.searchsorted(np.sort(stop), ut, "left")
    else:
        n_risk = (stop.size - np.searchsorted(np.sort(stop), ut, "left")) - (
            stop.size - np.searchsorted(np.sort(entry), ut, "left")
        )
    d = np.bincount(np.searchsorted(ut, stop[event == 1]), minlength=ut.size)
    surv = np.cumprod(1 - d / n_risk)
    idx = np.searchsorted(ut, stop, "left")  # number of event times < t
    return 1.0 - np.concatenate([[1.0], surv])[idx]


def cox_zph(
    time,
    event,
    X,
    *,
    entry=None,
    strata=None,
    weights=None,
    ties: str = "efron",
    names=None,
    terms: dict | None = None,
    coef=None,
    transform: str = "km",
) -> ZphResult:
    """Score tests of proportional hazards for a Cox model, as ``cox.zph`` (survival 3.x).

    Parameters
    ----------
    time, event, X, entry, strata, weights, ties, names
        As for :func:`cartlens.stats.cox.coxph` (the model is refitted unless ``coef``).
    terms : dict, optional
        Term label -> tuple of column indices of ``X`` (a factor's dummies form one term).
        Default: one term per column.
    coef : array_like, optional
        Fitted coefficients (skip the refit).
    transform : {"km", "identity", "rank", "log"}
        Time transform ``g(t)``; ``"km"`` (R's default) is ``1 - KM(t-)``.

    Returns
    -------
    ZphResult

    References
    ----------
    Grambsch PM, Therneau TM. Biometrika 1994;81:515-526.
    Therneau TM, Grambsch PM. Modeling Survival Data. Springer, 2000.
    """
    from cartlens.stats.cox import _CoxEngine, _prepare, coxph

    t, ev, Xa, ent, scodes, w, _, names = _prepare(
        time, event, X, entry, strata, weights, None, names
    )
    n, p = Xa.shape
    if ev.sum() == 0:
        raise InputError("has no events: the test is not defined", column="event")
    if coef is None:
        fit = coxph(
            t,
            ev,
            Xa,
            entry=ent,
            strata=strata,
            weights=weights,
            ties=ties,
            names=names,
            concordance=False,
        )
        coef = fit.coef
    coef = np.asarray(coef, dtype=float)
    if terms is None:
        terms = {nm: (j,) for j, nm in enumerate(names)}
    keep = ~np.isnan(coef)
    if transform == "km":
        g_all = _km_left(t, ev, ent)
    elif transform == "identity":
        g_all = t.copy()
    elif transform == "log":
        g_all = np.log(t)
    elif transform == "rank":
        g_all = stats.rankdata(t)
    else:
        raise InputError("must be km, identity, rank or log", column="transform")
    g_all = g_all - g_all[ev == 1].mean()

    means = (w @ Xa) / w.sum()
    Xc = Xa[:, keep] - means[keep]
    q = Xc.shape[1]
    beta = coef[keep]
    engine = _CoxEngine(t, ev, Xc, ent, scodes, w, ties)
    # per-group score and information contributions at beta_hat
    XT, Xs = engine.XT, engine.X
    r = engine.w * np.exp(linear_predictor_t(XT, beta))
    vT = np.concatenate(
        [r[None, :], XT * r, (XT[:, None, :] * XT[None, :, :]).reshape(q * q, -1) * r]
    )
    S, E = engine._risk_sums(vT, deaths=True)
    G = engine.G
    S0, S1, S2 = S[:, 0], S[:, 1 : q + 1], S[:, q + 1 :].reshape(G, q, q)
    E0, E1, E2 = E[:, 0], E[:, 1 : q + 1], E[:, q + 1 :].reshape(G, q, q)
    f = engine.frac
    gi = engine.g_rep
    d2 = S0[gi] - f * E0[gi]
    a = (S1[gi] - f[:, None] * E1[gi]) / d2[:, None]
    mw = engine.meanw[gi]
    V = (S2[gi] - f[:, None, None] * E2[gi]) / d2[:, None, None] - a[:, :, None] * a[:, None, :]
    info_g = np.add.reduceat(V * mw[:, None, None], engine.g_starts, axis=0)
    abar = np.add.reduceat(a * mw[:, None], engine.g_starts, axis=0)
    ev_rows = engine.ev_rows
    wx = np.zeros((G, q))
    np.add.at(wx, engine.g_of_ev, (engine.w[ev_rows])[:, None] * Xs[ev_rows])
    u_g = wx - abar
    gt = g_all[engine.perm][ev_rows][engine.g_starts]  # g at each event-time group
    u = np.concatenate([u_g.sum(axis=0), gt @ u_g])
    Ibb = info_g.sum(axis=0)
    Ibt = np.einsum("g,gkl->kl", gt, info_g)
    Itt = np.einsum("g,gkl->kl", gt * gt, info_g)
    imat = np.block([[Ibb, Ibt], [Ibt.T, Itt]])

    colmap = np.full(p, -1)
    colmap[keep] = np.arange(q)
    rows = []
    for label, cols in terms.items():
        jj = [int(colmap[c]) for c in cols if colmap[c] >= 0]
        if not jj:
            continue
        idx = list(range(q)) + [q + j for j in jj]
        sub = imat[np.ix_(idx, idx)]
        stat = float(u[idx] @ np.linalg.solve(sub, u[idx]))
        rows.append(_row(label, stat, len(jj)))
    gstat = float(u @ np.linalg.solve(imat, u))
    glob = _row("GLOBAL", gstat, q)
    glob.pop("term")
    return ZphResult(
        terms=tuple(rows),
        global_test=glob,
        transform=transform,
        n=int(n),
        events=int(ev.sum()),
    )


def _row(label: str, stat: float, df: int) -> dict:
    p = float(special.chdtrc(df, stat)) if np.isfinite(stat) else math.nan
    return {"term": label, "chisq": stat, "df": int(df), "p": p}


_TERM_C = re.compile(r"C\(\s*`?([^`,()]+)`?\s*(?:,.*)?\)")


def term_label(term: str) -> str:
    """R-like label of a formula term: ``C(celltype)`` -> ``celltype``."""
    return _TERM_C.sub(r"\1", term).replace("`", "")


def cox_zph_formula(
    formula: str,
    data,
    *,
    time: str,
    event: str,
    start: str | None = None,
    strata: str | None = None,
    weights: str | None = None,
    ties: str = "efron",
    transform: str = "km",
) -> ZphResult:
    """:func:`cox_zph` for a formula; a factor (``C(x)`` or text column) is one term.

    References
    ----------
    Therneau TM, Grambsch PM. Modeling Survival Data. Springer, 2000.
    """
    from cartlens.stats.formula import design

    extra = [c for c in (time, event, start, strata, weights) if c is not None]
    for c in extra:
        if c not in data.columns:
            raise InputError("does not exist in the data", column=c)
    dm = design(formula, data, intercept=False, extra_columns=extra)
    sub = data.loc[dm.kept]
    terms = {term_label(k): v for k, v in dm.term_columns.items()}
    return cox_zph(
        sub[time].to_numpy(dtype=float),
        sub[event].to_numpy(),
        dm.X,
        entry=None if start is None else sub[start].to_numpy(dtype=float),
        strata=None if strata is None else sub[strata].to_numpy(),
        weights=None if weights is None else sub[weights].to_numpy(dtype=float),
        ties=ties,
        names=dm.names,
        terms=terms,
        transform=transform,
    )
