"""Covariate-adjusted survival curves: g-formula from a Cox model and IPTW-weighted
Kaplan-Meier, with bootstrap CIs, differences at chosen times and risk tables.

* ``method="gformula"`` (direct standardisation): fit
  ``coxph(Surv(time, event) ~ treatment + covariates)`` (Efron ties) and average each
  subject's predicted survival with the treatment set to each level:
  ``S_a(t) = mean_i exp(-H0(t) exp(beta_a + x_i' beta))``, as ``riskRegression::ate(...,
  estimator = "GFORMULA")`` (which reports the risk ``1 - S_a(t)``).
* ``adjusted_cif(method="gformula")``: the same for the cumulative incidence of one cause
  from cause-specific Cox models of every cause, as ``riskRegression::ate(CSC(...), cause
  =)``; ``adjusted_cif(method="iptw")``: the IPTW-weighted Aalen-Johansen CIF.
* ``method="iptw"``: a logistic propensity model ``treatment ~ covariates``, ATE weights
  ``1 / P(A = a | x)``, and the weighted Kaplan-Meier curve of each arm (``survfit(...,
  weights = w)``). Binary treatment only.

Confidence intervals are nonparametric bootstrap ones: ``B`` resamples of the subjects
(seeded), every model refitted in each; the SE is the bootstrap SD and the CI the percentile
interval, for each curve and for each difference ``S_a(t) - S_ref(t)`` (with a normal-theory
P from the bootstrap SE). The method is stated in every result. Risk tables give, per arm
and time, the unweighted number at risk and, for IPTW, the weighted one (sum of the weights
of the subjects at risk), each labelled.

References
----------
Makuch RW. Adjusted survival curve estimation using covariates. J Chronic Dis
1982;35:437-443. Cole SR, Hernan MA. Adjusted survival curves with inverse probability
weights. Comput Methods Programs Biomed 2004;75:45-49. Xie J, Liu C. Adjusted Kaplan-Meier
estimator and log-rank test with inverse probability of treatment weighting for survival
data. Stat Med 2005;24:3089-3110. Ozenne BMH, Scheike TH, Staerk L, Gerds TA. On the
estimation of average treatment effects with right-censored time to event outcome and
competing risks. Biom J 2020;62:751-763 (riskRegression::ate). Efron B, Tibshirani RJ. An
Introduction to the Bootstrap. Chapman & Hall, 1993.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

from cartlens.errors import InputError
from cartlens.results import Result
from cartlens.stats._linalg import linear_predictor

METHODS = ("gformula", "iptw")
#: The g-formula's whole curve (for figures) is evaluated at no more than this many event
#: times, so that its cost stays linear in the number of subjects; the values at the
#: requested ``times`` are exact.
_GRID = 400


@dataclasses.dataclass(frozen=True, eq=False)
class AdjustedCurves(Result):
    """Adjusted survival curves of each treatment level.

    Attributes
    ----------
    method : str
        ``"gformula"`` or ``"iptw"``; ``description`` says it in words.
    levels : tuple
        Treatment levels; the first is the reference of the differences.
    times : ndarray
        The requested times.
    curves : tuple of dict
        Per level: ``level``, ``time``, ``surv``, ``se``, ``lower``, ``upper`` at ``times``,
        and ``step_time``/``step_surv`` (the whole curve, for figures).
    differences : tuple of dict
        Per non-reference level and time: ``level``, ``reference``, ``time``, ``estimate``
        (S_level - S_reference), ``se``, ``lower``, ``upper``, ``p``.
    risk_table : tuple of dict
        Per level: ``level``, ``time`` (the risk-table times), ``n_risk`` (unweighted),
        ``n_risk_weighted`` (IPTW; for the g-formula the unweighted numbers, as no weights
        exist - ``weighted_label`` says which).
    ci_method : str
    """

    method: str
    description: str
    treatment: str
    formula: str
    levels: tuple
    times: np.ndarray
    curves: tuple
    differences: tuple
    risk_table: tuple
    weighted_label: str
    ci_method: str
    B: int
    seed: int
    conf_level: float
    n: int
    events: int
    n_dropped_missing: int


def _step(times: np.ndarray, values: np.ndarray, at: np.ndarray, before: float) -> np.ndarray:
    pos = np.searchsorted(times, at, side="right") - 1
    return np.where(pos >= 0, values[np.maximum(pos, 0)] if values.size else before, before)


def _prepare(data, time, event, treatment, formula):
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise InputError("must be a pandas DataFrame", column="data")
    for c in (time, event, treatment):
        if c not in data.columns:
            raise InputError("does not exist in the data", column=c)
    from cartlens.stats.formula import _prepare_formula

    _, used = _prepare_formula(formula, [str(c) for c in data.columns])
    cols = list(dict.fromkeys([time, event, treatment, *used]))
    kept = data[cols].notna().all(axis=1).to_numpy()
    sub = data.loc[kept].reset_index(drop=True)
    if len(sub) < 2:
        raise InputError(
            f"fewer than 2 complete rows ({len(sub)}) are left after dropping missing values",
            column=treatment,
        )
    from cartlens.stats._surv import check_survival_input

    t, e, _, _ = check_survival_input(
        sub[time].to_numpy(), sub[event].to_numpy(), names={"time": time, "event": event}
    )
    raw = sub[treatment]
    levels = sorted(set(raw.tolist()), key=lambda v: (str(type(v)), v))
    if len(levels) < 2:
        raise InputError(f"has only one value ({levels[0]!r})", column=treatment)
    a = np.array([levels.index(v) for v in raw.tolist()], dtype=np.int64)
    return sub, t, e.astype(float), a, levels, int((~kept).sum())


def _covariates(sub, formula: str) -> tuple[np.ndarray, tuple]:
    from cartlens.stats.formula import design

    if not formula.strip():
        return np.zeros((len(sub), 0)), ()
    d = design(formula, sub)
    return d.X, d.names


def _gformula_once(t, e, a, Z, k, at, curves=True):
    """S_a(at) for each level a (array (k, len(at))) and the whole curves."""
    from cartlens.stats.cox import coxph

    A = np.column_stack([(a == j).astype(float) for j in range(1, k)])
    X = np.column_stack([A, Z]) if Z.shape[1] else A
    fit = coxph(t, e, X, concordance=False)
    beta = np.nan_to_num(fit.coef, nan=0.0)
    base = fit.baseline
    h0 = base["cumhaz"] * math.exp(-float(np.nan_to_num(fit.means) @ beta))  # uncentred
    eta_z = linear_predictor(Z, beta[k - 1 :]) if Z.shape[1] else np.zeros(t.size)
    grid = base["times"]
    if grid.size > _GRID:  # the whole curve on at most _GRID event times (linear cost)
        keep = np.unique(np.linspace(0, grid.size - 1, _GRID).round().astype(int))
        grid, h0_grid = grid[keep], h0[keep]
    else:
        h0_grid = h0
    out_at = np.empty((k, at.size))
    out_grid = np.empty((k, grid.size))
    for j in range(k):
        lin = eta_z + (beta[j - 1] if j > 0 else 0.0)
        risk = np.exp(lin)
        h_at = _step(base["times"], h0, at, 0.0)
        out_at[j] = np.exp(-np.outer(risk, h_at)).mean(axis=0)
        if curves:
            out_grid[j] = np.exp(-np.outer(risk, h0_grid)).mean(axis=0)
    return out_at, grid, out_grid


def _iptw_once(t, e, a, Z, at):
    from cartlens.stats.km import kaplan_meier
    from cartlens.stats.propensity import propensity_score_arrays
    from cartlens.stats.weighting import iptw_weights

    ps = propensity_score_arrays(a, Z, check=False)
    w = iptw_weights(ps.ps, a, estimand="ate").weights
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km = kaplan_meier(t, e, group=a, weights=w)
    out_at = np.empty((2, at.size))
    curves = []
    for j in range(2):
        c = km.curve(j)
        out_at[j] = _step(c.time, c.surv, at, 1.0)
        curves.append((c.time, c.surv))
    return out_at, curves, w


def _check_common(B, seed, conf_level, times, risk_times):
    """Validated (B, seed, conf_level, times, risk_times); a missing seed is drawn."""
    if isinstance(B, bool) or not isinstance(B, int | np.integer) or B < 20:
        raise InputError(f"must be a whole number >= 20, got {B!r}", column="B")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    elif isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"must be a whole number >= 0, got {seed!r}", column="seed")
    if not (0 < conf_level < 1):
        raise InputError(f"must be in (0, 1), got {conf_level!r}", column="conf_level")
    at = np.asarray(list(times), dtype=float)
    if at.size == 0 or not np.all(np.isfinite(at)) or np.any(at < 0):
        raise InputError("must be finite times >= 0", column="times")
    rt = at if risk_times is None else np.asarray(list(risk_times), dtype=float)
    return int(B), int(seed), float(conf_level), at, rt


def _bootstrap(once, n: int, a: np.ndarray, k: int, shape, B: int, seed: int, column: str):
    """``B`` resamples of the subjects: ``once(idx)`` per resample (skipped when a level is
    absent or the fit fails); returns the usable replicates and how many there were."""
    rng = np.random.default_rng(seed)
    reps = np.full((B, *shape), np.nan)
    for b in range(B):
        idx = rng.integers(0, n, n)
        if np.unique(a[idx]).size < k:
            continue
        try:
            reps[b] = once(idx)
        except (InputError, np.linalg.LinAlgError, FloatingPointError):
            continue
    ok = np.isfinite(reps).all(axis=tuple(range(1, reps.ndim)))
    if ok.sum() < 2:
        raise InputError(
            f"only {int(ok.sum())} of {B} bootstrap resamples could be analysed (too few "
            "events or subjects per level for the bootstrap)",
            column=column,
        )
    return reps[ok], int(ok.sum())


def _summarise(est, reps, levels, at, steps, conf_level):
    """Curves (estimate, bootstrap SE and percentile CI) and differences from the first
    level at each time, with a normal-theory P from the bootstrap SE."""
    q = ((1 - conf_level) / 2, 1 - (1 - conf_level) / 2)
    curves = []
    for j, lev in enumerate(levels):
        lo, hi = np.quantile(reps[:, j], q, axis=0)
        curves.append(
            {
                "level": lev,
                "time": at,
                "surv": est[j],
                "se": reps[:, j].std(axis=0, ddof=1),
                "lower": lo,
                "upper": hi,
                "step_time": steps[j][0],
                "step_surv": steps[j][1],
            }
        )
    diffs = []
    for j in range(1, len(levels)):
        d_reps = reps[:, j] - reps[:, 0]
        d_est = est[j] - est[0]
        se = d_reps.std(axis=0, ddof=1)
        lo, hi = np.quantile(d_reps, q, axis=0)
        for i, tv in enumerate(at):
            diffs.append(
                {
                    "level": levels[j],
                    "reference": levels[0],
                    "time": float(tv),
                    "estimate": float(d_est[i]),
                    "se": float(se[i]),
                    "lower": float(lo[i]),
                    "upper": float(hi[i]),
                    "p": float(2 * norm.sf(abs(d_est[i]) / se[i])) if se[i] > 0 else math.nan,
                }
            )
    return tuple(curves), tuple(diffs)


def _risk_table(t, a, levels, rt, w):
    """Per level: unweighted numbers at risk at ``rt`` and, with weights, the weighted ones."""
    table = []
    for j, lev in enumerate(levels):
        risk = t[a == j][None, :] >= rt[:, None]
        n_risk = risk.sum(axis=1).astype(float)
        n_w = n_risk if w is None else (risk * w[a == j][None, :]).sum(axis=1)
        table.append({"level": lev, "time": rt, "n_risk": n_risk, "n_risk_weighted": n_w})
    return tuple(table)


def _ci_text(usable: int, B: int, seed: int, conf_level: float, what: str) -> str:
    return (
        f"nonparametric bootstrap of the subjects ({usable} of {B} resamples usable, seed "
        f"{seed}): SE = bootstrap SD, {conf_level:.0%} percentile interval; {what} refitted "
        "in each resample"
    )


def _curves_result(
    once, est, steps, w, t, a, levels, at, rt, k, B, seed, conf_level, *,
    method, description, treatment, formula, refitted, events, n_dropped_missing,
) -> AdjustedCurves:  # fmt: skip
    """Bootstrap ``once``, summarise and build the result (adjusted survival and CIF alike)."""
    reps, usable = _bootstrap(once, t.size, a, k, (k, at.size), B, seed, treatment)
    curves, diffs = _summarise(est, reps, levels, at, steps, conf_level)
    return AdjustedCurves(
        method=method,
        description=description,
        treatment=treatment,
        formula=formula,
        levels=tuple(levels),
        times=at,
        curves=curves,
        differences=diffs,
        risk_table=_risk_table(t, a, levels, rt, w),
        weighted_label=(
            "weighted number at risk: sum of the IPT weights of the subjects at risk"
            if w is not None
            else "g-formula: no weights, the numbers at risk are the unweighted ones"
        ),
        ci_method=_ci_text(usable, B, seed, conf_level, refitted),
        B=int(B),
        seed=int(seed),
        conf_level=float(conf_level),
        n=int(t.size),
        events=events,
        n_dropped_missing=n_dropped_missing,
    )


def adjusted_survival(
    data: Any,
    *,
    time: str,
    event: str,
    treatment: str,
    formula: str,
    times: Sequence[float],
    method: str = "gformula",
    risk_times: Sequence[float] | None = None,
    B: int = 200,
    seed: int | None = None,
    conf_level: float = 0.95,
) -> AdjustedCurves:
    """Adjusted survival curves per treatment level (see the module docstring).

    Parameters
    ----------
    data : pandas.DataFrame
    time, event, treatment : str
        Columns; ``event`` is 0/1, ``treatment`` any labels (sorted; the first is the
        reference; IPTW needs exactly two).
    formula : str
        Right-hand side of the adjustment covariates, e.g. ``"age + C(ecog)"`` (outcome
        model for the g-formula, propensity model for IPTW).
    times : sequence of float
        Times at which curves and differences are reported.
    method : {"gformula", "iptw"}
    risk_times : sequence of float, optional
        Times of the risk table (default ``times``).
    B, seed : int
        Bootstrap resamples and their seed (drawn and recorded when absent).
    conf_level : float

    Returns
    -------
    AdjustedCurves

    References
    ----------
    See the module docstring. R: ``riskRegression::ate(coxph(..., x = TRUE), treatment =,
    times =)`` (g-formula); ``survfit(Surv(time, event) ~ a, weights = w)`` (IPTW).
    """
    if method not in METHODS:
        raise InputError(f"must be one of {', '.join(METHODS)}, got {method!r}", column="method")
    B, seed, conf_level, at, rt = _check_common(B, seed, conf_level, times, risk_times)
    sub, t, e, a, levels, n_drop = _prepare(data, time, event, treatment, formula)
    if e.sum() == 0:
        raise InputError("has no events: survival curves cannot be adjusted", column=event)
    k = len(levels)
    if method == "iptw" and k != 2:
        raise InputError(
            f"IPTW curves need a binary treatment; found {k} levels: {levels}",
            column=treatment,
        )
    Z, _ = _covariates(sub, formula)
    w = None
    if method == "gformula":
        est, grid, grid_surv = _gformula_once(t, e, a, Z, k, at)
        steps = [(grid, grid_surv[j]) for j in range(k)]
        desc = (
            "g-formula (direct standardisation) from a Cox model of treatment and covariates "
            "(Efron ties): the mean over all subjects of the predicted survival at each level"
        )
    else:
        est, steps, w = _iptw_once(t, e, a, Z, at)
        desc = (
            "inverse probability of treatment weighted Kaplan-Meier (logistic propensity "
            "model of the covariates, ATE weights 1 / P(A = a | x))"
        )

    def once(idx):
        if e[idx].sum() == 0:
            return np.nan
        if method == "gformula":
            return _gformula_once(t[idx], e[idx], a[idx], Z[idx], k, at, False)[0]
        return _iptw_once(t[idx], e[idx], a[idx], Z[idx], at)[0]

    return _curves_result(
        once, est, steps, w, t, a, levels, at, rt, k, B, seed, conf_level,
        method=method, description=desc, treatment=treatment, formula=formula,
        refitted="every model", events=int(e.sum()), n_dropped_missing=n_drop,
    )  # fmt: skip


def _weighted_aj(t: np.ndarray, status: np.ndarray, w: np.ndarray, cause, cencode):
    """Weighted Aalen-Johansen CIF of ``cause`` (jump times and values)."""
    order = np.argsort(t, kind="stable")
    t, status, w = t[order], status[order], w[order]
    ut, first = np.unique(t, return_index=True)
    ywt = np.cumsum(w[::-1])[::-1][first]  # weight at risk at each distinct time
    ev = status != cencode
    idx = np.searchsorted(ut, t)
    d_all = np.bincount(idx, weights=w * ev, minlength=ut.size)
    d_k = np.bincount(idx, weights=w * (status == cause), minlength=ut.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        haz = np.where(ywt > 0, d_all / ywt, 0.0)
        haz_k = np.where(ywt > 0, d_k / ywt, 0.0)
    s_minus = np.r_[1.0, np.cumprod(1 - haz)[:-1]]
    return ut, np.cumsum(s_minus * haz_k)


def _iptw_cif_once(t, status, a, Z, at, cause, cencode):
    from cartlens.stats.propensity import propensity_score_arrays
    from cartlens.stats.weighting import iptw_weights

    ps = propensity_score_arrays(a, Z, check=False)
    w = iptw_weights(ps.ps, a, estimand="ate").weights
    out = np.empty((2, at.size))
    steps = []
    for j in range(2):
        sel = a == j
        ut, f = _weighted_aj(t[sel], status[sel], w[sel], cause, cencode)
        out[j] = _step(ut, f, at, 0.0)
        steps.append((ut, f))
    return out, steps, w


#: Patterns of linear predictors per block of the g-formula CIF, so that its working memory
#: stays about ``_CHUNK x event times`` floats whatever the number of subjects.
_CHUNK = 256


def _csc_gformula_once(t, st, a, Z, k, at, cause, causes, curves=True):
    """CIF_a(at) of ``cause`` for each level a from cause-specific Cox models of every
    cause in ``causes`` (array (k, len(at))), and the whole curves on at most ``_GRID``
    event times.

    As ``riskRegression::ate(CSC(...))`` (``predict.CauseSpecificCox`` with its default
    ``product.limit = TRUE``): each cause-specific model is ``coxph`` with Efron ties and
    its baseline hazard increments ``dLambda_c`` are the Efron-type ones (``predictCox``
    uses the fit's ties); the event-free survival just before ``s`` is the product limit
    ``prod_{u < s} (1 - sum_c exp(lp_c) dLambda_c(u))``, and
    ``CIF_a(t) = mean_i sum_{s <= t} exp(lp_cause,i(a)) dLambda_cause(s) S_i(s-)``.
    Subjects with the same linear predictors of every cause are computed once (weighted by
    their count), in blocks of ``_CHUNK`` patterns: cost O(patterns x event times) per
    level, memory O(_CHUNK x event times); without ``curves`` (the bootstrap) only the
    event times up to ``max(at)`` are used.
    """
    from cartlens.stats.cox import coxph

    A = np.column_stack([(a == j).astype(float) for j in range(1, k)])
    X = np.column_stack([A, Z]) if Z.shape[1] else A
    grid = np.unique(t[np.isin(st, causes)])  # every event time of any cause
    incs, etas, shifts = [], [], []
    for c in causes:
        fit = coxph(t, (st == c).astype(float), X, concordance=False)
        beta = np.nan_to_num(fit.coef, nan=0.0)
        base = fit.baseline
        inc = np.zeros(grid.size)  # increments at x = means, on the common grid
        inc[np.searchsorted(grid, base["times"])] = base["hazard"]
        incs.append(inc)
        eta_z = linear_predictor(Z, beta[k - 1 :]) if Z.shape[1] else np.zeros(t.size)
        etas.append(eta_z - float(np.nan_to_num(fit.means) @ beta))  # centred as the base
        shifts.append(np.r_[0.0, beta[: k - 1]])
    dlam = np.vstack(incs)  # (K, T)
    if not curves:  # only the values at ``at`` are needed: drop the later event times
        grid = grid[grid <= at.max()]
        dlam = dlam[:, : grid.size]
        if grid.size == 0:  # every requested time is before the first event
            return np.zeros((k, at.size)), grid, np.zeros((k, 0))
    ci = list(causes).index(cause)
    # subjects with the same linear predictors of every cause give the same curve
    pat, counts = np.unique(np.column_stack(etas), axis=0, return_counts=True)
    wts = counts / t.size
    pos_at = np.searchsorted(grid, at, side="right")  # event times <= at
    if curves and grid.size > _GRID:
        keep = np.unique(np.linspace(0, grid.size - 1, _GRID).round().astype(int))
    else:
        keep = np.arange(grid.size)
    shift = np.column_stack(shifts)  # (k, K)
    out_at = np.zeros((k, at.size))
    out_grid = np.zeros((k, keep.size))
    for j in range(k):
        for lo in range(0, pat.shape[0], _CHUNK):
            risk = np.exp(pat[lo : lo + _CHUNK] + shift[j][None, :])  # (P, K)
            s_minus = np.empty((len(risk), grid.size))
            s_minus[:, 0] = 1.0
            # summed hazard jumps, as an explicit sum over the causes: a (P, K) @ (K, T)
            # matmul with small K was measured many times slower
            h = risk[:, :1] * dlam[0, :-1]
            for c in range(1, dlam.shape[0]):
                h += risk[:, c : c + 1] * dlam[c, :-1]
            np.cumprod(1.0 - h, axis=1, out=s_minus[:, 1:])  # R's product limit
            s_minus *= risk[:, ci, None] * dlam[ci][None, :]
            cif = np.cumsum(s_minus, axis=1, out=s_minus)
            w = wts[lo : lo + _CHUNK]
            out_at[j] += np.where(pos_at > 0, w @ cif[:, np.maximum(pos_at - 1, 0)], 0.0)
            if curves:
                out_grid[j] += w @ cif[:, keep]
    return out_at, grid[keep], out_grid


def adjusted_cif(
    data: Any,
    *,
    time: str,
    status: str,
    treatment: str,
    formula: str,
    times: Sequence[float],
    cause: Any = 1,
    cencode: Any = 0,
    method: str = "iptw",
    risk_times: Sequence[float] | None = None,
    B: int = 200,
    seed: int | None = None,
    conf_level: float = 0.95,
) -> AdjustedCurves:
    """Adjusted cumulative incidence of ``cause`` per treatment level; bootstrap CIs and
    differences of the CIFs from the first level (``surv`` in the result holds the
    cumulative incidence here).

    * ``method="iptw"`` (binary treatment): the weighted Aalen-Johansen estimator with ATE
      weights from a logistic propensity model, as ``survfit(Surv(time, factor(status)) ~
      a, weights = w)``.
    * ``method="gformula"`` (any number of levels): direct standardisation from
      cause-specific Cox models ``coxph(Surv(time, status == c) ~ treatment + covariates)``
      of every cause ``c`` (Efron ties), ``CIF_a(t) = mean_i sum_{s <= t}
      exp(lp_cause,i(a)) dLambda_cause(s) prod_{u < s} (1 - sum_c exp(lp_c,i(a))
      dLambda_c(u))`` with the Efron-type baseline hazards, as ``riskRegression::ate(CSC(
      Hist(time, status) ~ treatment + covariates), treatment =, times =, cause =)`` (its
      default ``product.limit = TRUE``). Cost: O(levels x distinct linear-predictor
      patterns x event times) per fit (subjects with equal linear predictors of every
      cause are computed once), in blocks of 256 patterns so that memory stays
      O(256 x event times); the bootstrap repeats it ``B`` times.

    References
    ----------
    See the module docstring; Neumann A, Billionnet C. Covariate adjustment of cumulative
    incidence functions for competing risks data using inverse probability of treatment
    weighting. Comput Methods Programs Biomed 2016;129:63-70.
    """
    import pandas as pd

    if method not in METHODS:
        raise InputError(f"must be one of {', '.join(METHODS)}, got {method!r}", column="method")
    B, seed, conf_level, at, rt = _check_common(B, seed, conf_level, times, risk_times)
    if not isinstance(data, pd.DataFrame):
        raise InputError("must be a pandas DataFrame", column="data")
    if status not in data.columns:
        raise InputError("does not exist in the data", column=status)
    work = data.assign(__ev=(data[status] != cencode).astype(float).where(data[status].notna()))
    sub, t, e, a, levels, n_drop = _prepare(work, time, "__ev", treatment, formula)
    st = pd.to_numeric(sub[status], errors="coerce").to_numpy()
    if np.isnan(st).any():
        i = int(np.flatnonzero(np.isnan(st))[0])
        raise InputError(f"value {sub[status].iloc[i]!r} is not a number", column=status)
    if not np.any(st == cause):
        raise InputError(f"cause {cause!r} does not occur", column=status)
    k = len(levels)
    if method == "iptw" and k != 2:
        raise InputError(
            f"IPTW curves need a binary treatment; found {k} levels: {levels}",
            column=treatment,
        )
    Z, _ = _covariates(sub, formula)
    if method == "gformula":
        causes = np.unique(st[st != cencode])
        est, grid, grid_cif = _csc_gformula_once(t, st, a, Z, k, at, cause, causes)
        steps = [(grid, grid_cif[j]) for j in range(k)]
        w = None

        def once(idx):
            present = np.unique(st[idx][st[idx] != cencode])
            if cause not in present:
                return np.nan  # a cause absent from a resample has no model: skipped
            return _csc_gformula_once(
                t[idx], st[idx], a[idx], Z[idx], k, at, cause, present, False
            )[0]

        desc = (
            f"g-formula (direct standardisation) cumulative incidence of cause {cause} from "
            f"cause-specific Cox models of each cause ({', '.join(f'{c:g}' for c in causes)};"
            " Efron ties, product-limit event-free survival): the mean over all subjects of "
            "the predicted cumulative incidence at each level"
        )
        refitted = "every cause-specific model"
    else:
        est, steps, w = _iptw_cif_once(t, st, a, Z, at, cause, cencode)

        def once(idx):
            return _iptw_cif_once(t[idx], st[idx], a[idx], Z[idx], at, cause, cencode)[0]

        desc = (
            f"inverse probability of treatment weighted cumulative incidence of cause {cause} "
            "(weighted Aalen-Johansen; logistic propensity model, ATE weights)"
        )
        refitted = "the propensity model"
    return _curves_result(
        once, est, steps, w, t, a, levels, at, rt, k, B, seed, conf_level,
        method=method, description=desc, treatment=treatment, formula=formula,
        refitted=refitted, events=int((st == cause).sum()), n_dropped_missing=n_drop,
    )  # fmt: skip
