"""Covariate-adjusted survival curves: g-formula from a Cox model and IPTW-weighted
Kaplan-Meier, with bootstrap CIs, differences at chosen times and risk tables.

* ``method="gformula"`` (direct standardisation): fit
  ``coxph(Surv(time, event) ~ treatment + covariates)`` (Efron ties) and average each
  subject's predicted survival with the treatment set to each level:
  ``S_a(t) = mean_i exp(-H0(t) exp(beta_a + x_i' beta))``, as ``riskRegression::ate(...,
  estimator = "GFORMULA")`` (which reports the risk ``1 - S_a(t)``).
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
        raise InputError("fewer than 2 complete rows", column=treatment)
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
    sub, t, e, a, levels, n_drop = _prepare(data, time, event, treatment, formula)
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
    rng = np.random.default_rng(seed)
    reps = np.full((B, k, at.size), np.nan)
    n = t.size
    for b in range(B):
        idx = rng.integers(0, n, n)
        if np.unique(a[idx]).size < k or e[idx].sum() == 0:
            continue
        try:
            if method == "gformula":
                reps[b] = _gformula_once(t[idx], e[idx], a[idx], Z[idx], k, at, False)[0]
            else:
                reps[b] = _iptw_once(t[idx], e[idx], a[idx], Z[idx], at)[0]
        except (InputError, np.linalg.LinAlgError, FloatingPointError):
            continue
    ok = np.isfinite(reps).all(axis=(1, 2))
    reps = reps[ok]
    alpha = 1 - conf_level
    q = (alpha / 2, 1 - alpha / 2)
    curves = []
    for j, lev in enumerate(levels):
        se = reps[:, j].std(axis=0, ddof=1)
        lo, hi = np.quantile(reps[:, j], q, axis=0)
        curves.append(
            {
                "level": lev,
                "time": at,
                "surv": est[j],
                "se": se,
                "lower": lo,
                "upper": hi,
                "step_time": steps[j][0],
                "step_surv": steps[j][1],
            }
        )
    diffs = []
    for j in range(1, k):
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
    table = []
    for j, lev in enumerate(levels):
        tj = t[a == j]
        n_risk = (tj[None, :] >= rt[:, None]).sum(axis=1).astype(float)
        if w is not None:
            wj = w[a == j]
            n_w = ((tj[None, :] >= rt[:, None]) * wj[None, :]).sum(axis=1)
        else:
            n_w = n_risk
        table.append({"level": lev, "time": rt, "n_risk": n_risk, "n_risk_weighted": n_w})
    return AdjustedCurves(
        method=method,
        description=desc,
        treatment=treatment,
        formula=formula,
        levels=tuple(levels),
        times=at,
        curves=tuple(curves),
        differences=tuple(diffs),
        risk_table=tuple(table),
        weighted_label=(
            "weighted number at risk: sum of the IPT weights of the subjects at risk"
            if w is not None
            else "g-formula: no weights, the numbers at risk are the unweighted ones"
        ),
        ci_method=(
            f"nonparametric bootstrap of the subjects ({int(ok.sum())} of {B} resamples "
            f"usable, seed {seed}): SE = bootstrap SD, {conf_level:.0%} percentile interval; "
            "every model refitted in each resample"
        ),
        B=int(B),
        seed=int(seed),
        conf_level=float(conf_level),
        n=int(n),
        events=int(e.sum()),
        n_dropped_missing=n_drop,
    )
