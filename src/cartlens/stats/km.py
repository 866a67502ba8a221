"""Kaplan-Meier estimator as R's ``survfit(Surv(...) ~ group)``.

Right-censored, left-truncated / counting-process ``(entry, time]`` data and case weights.
The computation is vectorised: the rows are sorted once (by time, then stably by group),
tied times are collapsed with ``np.add.reduceat``, and risk sets are reverse cumulative sums
(minus, for left-truncated data, the weight of rows whose entry is >= t, found with
``np.searchsorted``). There is no Python loop over rows; the only loops are over groups.

Conventions follow R's survival package (3.5-3):

* the curve is evaluated at every distinct exit time, events **and** censorings;
* an interval ``(entry, time]`` is at risk at t when ``entry < t <= time``;
* ``std_err_log`` is the Greenwood SE of -log S, ``std_err`` = S x ``std_err_log`` the SE of S;
  where S = 0 the Greenwood SE is infinite and ``std_err`` is NaN (R: ``NA``);
* pointwise CIs for ``conf_type`` "log" (default), "log-log" and "plain" are computed exactly as
  ``survival:::survfit_confint``;
* the median and its CI follow ``summary(fit)$table``: the first time S(t) <= 0.5, except that
  when S(t) = 0.5 on an interval the midpoint of that interval is taken; the CI limits are the
  first times the lower / upper pointwise limit reaches 0.5 under the same rule;
* weighted fits use the infinitesimal-jackknife (IJ) variance when ``robust`` is true, which
  is R's default for non-integer weights (``survfit(..., weights = w)``).

References
----------
Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. J Am Stat Assoc
1958;53:457-481.

Greenwood M. The natural duration of cancer. Reports on Public Health and Medical Subjects
1926;33:1-26.

Therneau TM. A Package for Survival Analysis in R, version 3.5-3 (``survfit``,
``survfitKM``, ``summary.survfit``, ``quantile.survfit``), 2023.

Klein JP, Moeschberger ML. Survival Analysis: Techniques for Censored and Truncated Data,
2nd ed. Springer, 2003 (sections 4.2-4.6: left truncation, restricted mean).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

from cartlens.errors import InputError, NoEventsWarning
from cartlens.results import Result
from cartlens.stats._surv import check_survival_input, group_codes, time_codes

__all__ = [
    "KMCurve",
    "KMResult",
    "KMQuantile",
    "SurvivalAt",
    "RMSTResult",
    "kaplan_meier",
    "survival_at",
    "km_quantile",
    "rmst",
    "confidence_limits",
]

CONF_TYPES = ("log", "log-log", "plain")
_TOL = math.sqrt(np.finfo(float).eps)  # R: .Machine$double.eps^0.5


# --------------------------------------------------------------------------------------------
# result types

_CURVE_SCALARS = ("n", "events", "median", "median_lower", "median_upper", "n_start", "n_max")
_STEP_STATS = (
    "n_risk",
    "n_event",
    "n_censor",
    "surv",
    "std_err",
    "lower",
    "upper",
    "cumhaz",
    "std_chaz",
)


def _tidy(analysis: str, objs: Sequence[Any], scalars: Sequence[str], per_time: Sequence[str]):
    """Tidy frame: one row per (group, stat) for scalars and per (group, time, stat) for arrays."""
    import pandas as pd

    from cartlens.results import TIDY_COLUMNS, json_safe

    groups: list = []
    times: list[np.ndarray] = []
    stats: list = []
    values: list[np.ndarray] = []
    for o in objs:
        g = json_safe(o.group)
        for k in scalars:
            v = getattr(o, k)
            groups.append([g])
            times.append(np.array([np.nan]))
            stats.append([k])
            values.append(np.array([np.nan if v is None else float(v)]))
        t = np.asarray(o.time, dtype=float)
        for k in per_time:
            v = np.asarray(getattr(o, k), dtype=float)
            groups.append([g] * t.size)
            times.append(t)
            stats.append([k] * t.size)
            values.append(np.where(np.isfinite(v), v, np.nan))
    flat = [x for part in groups for x in part]
    df = pd.DataFrame(
        {
            "analysis": analysis,
            "group": pd.Series(flat, dtype=object),
            "term": None,
            "cause": None,
            "time": np.concatenate(times) if times else np.array([]),
            "stat": [x for part in stats for x in part],
            "value": np.concatenate(values) if values else np.array([]),
        }
    )
    return df[list(TIDY_COLUMNS)]


@dataclasses.dataclass(frozen=True, eq=False)
class KMCurve(Result):
    """One Kaplan-Meier curve, evaluated at every distinct time (events and censorings).

    Attributes
    ----------
    group : object
        The group's label (``None`` for a single curve).
    n : int
        Number of input records (rows; intervals for counting-process data), R's ``n``.
    events : float
        Sum of (weighted) events.
    time, n_risk, n_event, n_censor : ndarray
        Distinct times and the (weighted) number at risk, events and censorings at each.
    surv : ndarray
        Kaplan-Meier estimate S(t).
    std_err : ndarray
        Standard error of S(t) (R's ``summary.survfit`` ``std.err``).
    std_err_log : ndarray
        Standard error of -log S(t) (R's ``fit$std.err`` for model-based fits).
    lower, upper : ndarray
        Pointwise confidence limits of type ``conf_type``.
    cumhaz, std_chaz : ndarray
        Nelson-Aalen cumulative hazard (d/n at ties) and its standard error.
    median, median_lower, median_upper : float
        Median survival and its CI (NaN when not reached).
    n_start, n_max : float
        Number at risk at the first time and the largest risk set (R's ``n.start``,
        ``n.max``); both equal ``n`` for unweighted right-censored data.
    """

    group: Any
    n: int
    events: float
    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray
    std_err_log: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    cumhaz: np.ndarray
    std_chaz: np.ndarray
    median: float
    median_lower: float
    median_upper: float
    conf_type: str
    conf_level: float = 0.95
    n_start: float = math.nan
    n_max: float = math.nan
    robust: bool = False
    weighted: bool = False
    left_truncated: bool = False
    start_time: float = 0.0

    def survival_at(self, times: Sequence[float] | np.ndarray, extend: bool = True):
        """Shortcut for :func:`survival_at` on this curve."""
        return survival_at(self, times, extend=extend)

    def to_frame(self):
        """Tidy frame: the curve's scalars, then one row per (time, statistic)."""
        return _tidy("KMCurve", [self], _CURVE_SCALARS, _STEP_STATS)


@dataclasses.dataclass(frozen=True, eq=False)
class KMResult(Result):
    """Kaplan-Meier fit of one or more groups.

    Attributes
    ----------
    curves : tuple of KMCurve
        One curve per group in sorted group order (one curve with group ``None`` without groups).
    conf_type, conf_level : str, float
        Pointwise CI type and level.
    robust : bool
        Whether the variance is the infinitesimal-jackknife (robust) one.
    weighted, left_truncated : bool
        Whether case weights / entry times were given.
    n : int
        Number of input records.
    events : float
        Total (weighted) number of events.
    """

    curves: tuple[KMCurve, ...]
    conf_type: str
    conf_level: float
    robust: bool
    weighted: bool
    left_truncated: bool
    n: int
    events: float

    @property
    def groups(self) -> tuple:
        return tuple(c.group for c in self.curves)

    def curve(self, group: Any = None) -> KMCurve:
        """The curve of ``group`` (by value, then by text); ``None``: the only curve."""
        if group is None and len(self.curves) == 1:
            return self.curves[0]
        for c in self.curves:
            if c.group == group:
                return c
        for c in self.curves:
            if str(c.group) == str(group):
                return c
        raise KeyError(f"no curve for group {group!r}; groups are {list(self.groups)}")

    def to_frame(self):
        """Tidy frame (``TIDY_COLUMNS``): per group n, events, median and CI (``time`` empty),
        then one row per (group, time, statistic) of the step table; NaN where R has NA."""
        return _tidy("KMResult", self.curves, _CURVE_SCALARS, _STEP_STATS)


@dataclasses.dataclass(frozen=True, eq=False)
class SurvivalAt(Result):
    """Curve values at chosen times, as ``summary(fit, times = ..., extend = TRUE)``.

    ``n_event`` / ``n_censor`` count the (weighted) events / censorings in
    (previous requested time, time]; ``n_risk`` is the number at risk at ``time`` (0 beyond
    the last follow-up); ``std_err`` is the SE of S.
    """

    group: Any
    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    cumhaz: np.ndarray
    std_chaz: np.ndarray
    conf_type: str
    conf_level: float

    def to_frame(self):
        """Tidy frame: one row per (time, statistic)."""
        return _tidy("SurvivalAt", [self], (), _STEP_STATS)


@dataclasses.dataclass(frozen=True, eq=False)
class KMQuantile(Result):
    """Survival-time quantiles (the time where 1 - S(t) reaches ``p``) with CIs."""

    group: Any
    p: Any
    quantile: Any
    lower: Any
    upper: Any
    conf_type: str


@dataclasses.dataclass(frozen=True)
class RMSTResult(Result):
    """Restricted mean survival time on [start, tau] with its SE and a normal CI."""

    group: Any
    tau: float
    rmst: float
    se: float
    lower: float
    upper: float
    conf_level: float


# --------------------------------------------------------------------------------------------
# pointwise confidence limits


def confidence_limits(
    surv: np.ndarray,
    se: np.ndarray,
    conf_type: str = "log",
    conf_level: float = 0.95,
    *,
    logse: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of S(t) as ``survival:::survfit_confint``.

    Parameters
    ----------
    surv : ndarray
        Survival estimates.
    se : ndarray
        Standard errors: of -log S when ``logse`` (Greenwood), else of S (robust fits).
    conf_type : {"log", "log-log", "plain"}
    conf_level : float
    logse : bool

    Returns
    -------
    lower, upper : ndarray
        NaN where R gives ``NA`` (S = 0 for "log", S in {0, 1} for "log-log").

    References
    ----------
    Therneau TM. survival 3.5-3, ``survfit_confint``. Kalbfleisch JD, Prentice RL. The
    Statistical Analysis of Failure Time Data, 2nd ed. Wiley, 2002 (log-log limits).
    """
    if conf_type not in CONF_TYPES:
        raise InputError(
            f"must be one of {', '.join(CONF_TYPES)}; got {conf_type!r}", column="conf_type"
        )
    z = norm.ppf(1 - (1 - conf_level) / 2)
    p = np.asarray(surv, dtype=float)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if not logse:
            se = np.where(se == 0, 0.0, se / p)
        if conf_type == "plain":
            se2 = se * p * z
            return np.maximum(p - se2, 0.0), np.minimum(p + se2, 1.0)
        if conf_type == "log":
            xx = np.where(p == 0, np.nan, p)
            se2 = z * se
            return np.exp(np.log(xx) - se2), np.minimum(np.exp(np.log(xx) + se2), 1.0)
        xx = np.where((p == 0) | (p == 1), np.nan, p)
        se2 = z * se / np.log(xx)
        lower = np.exp(-np.exp(np.log(-np.log(xx)) - se2))
        upper = np.exp(-np.exp(np.log(-np.log(xx)) + se2))
        return lower, upper


# --------------------------------------------------------------------------------------------
# medians and quantiles


def _minmin(y: np.ndarray, x: np.ndarray) -> float:
    """R survmean's ``minmin``: first x with y <= 0.5, midpoint rule when y == 0.5."""
    keep = ~np.isnan(y) & (y < 0.5 + _TOL)
    if not keep.any():
        return math.nan
    xk = x[keep]
    yk = y[keep]
    if abs(yk[0] - 0.5) < _TOL:
        below = yk < yk[0]
        if below.any():
            return float((xk[0] + xk[int(np.argmax(below))]) / 2)
    return float(xk[0])


def _findq(x: np.ndarray, y: np.ndarray, p: np.ndarray, tol: float) -> np.ndarray:
    """R ``survival:::findq`` with x = c(start, time), y = c(0, 1 - S), step by step.

    y need not be monotone (a pointwise CI limit can rise again): as in R, repeated values of
    y are dropped wherever they occur (``duplicated``), then ``approx(y +/- tol, 1:n, p,
    method = "constant", f = 1)`` sorts the remaining non-missing points by y and takes, for
    each p, the first point whose y +/- tol is >= p (NA outside the range of y).
    """
    out = np.full(p.shape, np.nan)
    finite = y[~np.isnan(y)]
    if finite.size == 0 or finite.max() < p.min():
        return out
    xmax = x[-1]
    # duplicated(y): keep the first occurrence of every value (NaN counts as one value)
    key = np.where(np.isnan(y), np.inf, y)
    _, first_idx = np.unique(key, return_index=True)
    keep = np.sort(first_idx)
    x = x[keep]
    y = y[keep]
    n = y.size
    ok = np.flatnonzero(~np.isnan(y))

    def approx_const(yy: np.ndarray) -> np.ndarray:
        xs = yy[ok]
        o = np.argsort(xs, kind="stable")
        xs = xs[o]
        vals = ok[o]
        i = np.searchsorted(xs, p, side="left")
        res = np.where((p < xs[0]) | (p > xs[-1]), -1, vals[np.minimum(i, xs.size - 1)])
        return res

    i1 = approx_const(y + tol)
    i2 = approx_const(y - tol)
    valid = (i1 >= 0) & (i2 >= 0)
    q = np.where(valid, (x[np.maximum(i1, 0)] + x[np.maximum(i2, 0)]) / 2, np.nan)
    q = np.where(p == 0, x[0], q)
    if not np.isnan(y[n - 1]):
        last = (np.abs(p - y[n - 1]) < tol) & (i1 >= 0)
        q = np.where(last, (x[np.maximum(i1, 0)] + xmax) / 2, q)
    return q


def km_quantile(
    curve: KMCurve, p: float | Sequence[float], *, tolerance: float = _TOL
) -> KMQuantile:
    """Survival-time quantile(s) with CIs as ``quantile(fit, probs = p)``.

    The p-th quantile is the first time 1 - S(t) >= p; when 1 - S(t) equals p (within
    ``tolerance``) on an interval, the midpoint of that interval is returned. The limits are
    the same quantities for the lower and upper pointwise limits (``lower`` comes from the
    lower pointwise curve). NaN where a quantile is not reached.

    Parameters
    ----------
    curve : KMCurve
    p : float or sequence of float
        Probabilities in [0, 1] (0.5 = median).

    Returns
    -------
    KMQuantile
        Scalars for scalar ``p``, arrays otherwise.

    Notes
    -----
    For p = 0.5 this equals :attr:`KMCurve.median` except in one edge case inherited from R:
    when S(t) = 0.5 exactly on the last interval, ``quantile.survfit`` returns the midpoint
    to the last follow-up time while the ``summary`` table (and :attr:`KMCurve.median`) gives
    the start of that interval.

    References
    ----------
    Therneau TM. survival 3.5-3, ``quantile.survfit`` / ``findq``.
    Brookmeyer R, Crowley J. A confidence interval for the median survival time.
    Biometrics 1982;38:29-41.
    """
    scalar = np.ndim(p) == 0
    pp = np.atleast_1d(np.asarray(p, dtype=float))
    if np.isnan(pp).any() or (pp < 0).any() or (pp > 1).any():
        raise InputError("probabilities must be in [0, 1]", column="p")
    x = np.concatenate([[curve.start_time], curve.time])
    q = _findq(x, np.concatenate([[0.0], 1 - curve.surv]), pp, tolerance)
    lo = _findq(x, np.concatenate([[0.0], 1 - curve.lower]), pp, tolerance)
    hi = _findq(x, np.concatenate([[0.0], 1 - curve.upper]), pp, tolerance)
    if scalar:
        return KMQuantile(
            curve.group, float(pp[0]), float(q[0]), float(lo[0]), float(hi[0]), curve.conf_type
        )
    return KMQuantile(curve.group, pp, q, lo, hi, curve.conf_type)


# --------------------------------------------------------------------------------------------
# survival at given times, restricted mean


def survival_at(
    curve: KMCurve, times: Sequence[float] | np.ndarray | float, extend: bool = True
) -> SurvivalAt:
    """Curve values at ``times`` as ``summary(fit, times = times, extend = TRUE)``.

    Times are sorted (as R does) and non-finite ones dropped. Before the first time the
    curve is 1 (SE 0); after the last one it stays at its last value and ``n_risk`` is 0.
    With ``extend=False`` times after the last follow-up are dropped.

    Parameters
    ----------
    curve : KMCurve
    times : array_like
    extend : bool

    Returns
    -------
    SurvivalAt

    References
    ----------
    Therneau TM. survival 3.5-3, ``summary.survfit``.
    """
    tt = np.sort(np.atleast_1d(np.asarray(times, dtype=float)))
    tt = tt[np.isfinite(tt)]
    if not extend and curve.time.size:
        tt = tt[tt <= curve.time[-1]]
    m = curve.time.size
    k = np.searchsorted(curve.time, tt, side="right")  # number of curve times <= t
    before = k == 0
    row = np.maximum(k - 1, 0)
    j = np.searchsorted(curve.time, tt, side="left")  # number of curve times < t

    def pick(a: np.ndarray, start: float) -> np.ndarray:
        if m == 0:
            return np.full(tt.shape, start)
        return np.where(before, start, a[row])

    n_risk = np.where(j < m, np.concatenate([curve.n_risk, [0.0]])[np.minimum(j, m)], 0.0)
    ce = np.concatenate([[0.0], np.cumsum(curve.n_event)])[k]
    cc = np.concatenate([[0.0], np.cumsum(curve.n_censor)])[k]
    n_event = np.diff(np.concatenate([[0.0], ce]))
    n_censor = np.diff(np.concatenate([[0.0], cc]))
    return SurvivalAt(
        group=curve.group,
        time=tt,
        n_risk=n_risk,
        n_event=n_event,
        n_censor=n_censor,
        surv=pick(curve.surv, 1.0),
        std_err=pick(curve.std_err, 0.0),
        lower=pick(curve.lower, 1.0),
        upper=pick(curve.upper, 1.0),
        cumhaz=pick(curve.cumhaz, 0.0),
        std_chaz=pick(curve.std_chaz, 0.0),
        conf_type=curve.conf_type,
        conf_level=curve.conf_level,
    )


def rmst(curve: KMCurve, tau: float) -> RMSTResult:
    """Restricted mean survival time up to ``tau`` with SE, as ``summary(fit, rmean = tau)``.

    RMST is the area under the step function S(t) on [start, tau] (start = 0). Its variance
    is R's ``survmean`` formula: sum over times t_i <= tau of A(t_i, tau)^2 d_i / (n_i (n_i -
    d_i)), where A(t_i, tau) is the area under S from t_i to tau (terms with n_i = d_i are
    0). The CI is RMST +/- z SE.

    Parameters
    ----------
    curve : KMCurve
    tau : float
        Truncation time; must be >= the curve's start time (0).

    Returns
    -------
    RMSTResult

    References
    ----------
    Klein JP, Moeschberger ML. Survival Analysis, 2nd ed. Springer, 2003, section 4.5.
    Therneau TM. survival 3.5-3, ``survmean``.
    """
    tau = float(tau)
    if not math.isfinite(tau) or tau < curve.start_time:
        raise InputError(
            f"tau must be a finite time >= {curve.start_time}; got {tau}", column="tau"
        )
    t = curve.time
    keep = t <= tau
    nr = curve.n_risk[keep]
    ne = curve.n_event[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(nr - ne == 0, 0.0, ne / (nr * (nr - ne)))
    temptime = np.concatenate([t[keep], [tau]])
    tempsurv = np.concatenate([curve.surv[keep], curve.surv[keep][-1:] if keep.any() else [1.0]])
    hh = np.concatenate([hh, [0.0]])
    n = temptime.size
    delta = np.diff(np.concatenate([[curve.start_time], temptime]))
    rect = delta * np.concatenate([[1.0], tempsurv[:-1]])
    varmean = float(np.sum(np.cumsum(rect[1:][::-1]) ** 2 * hh[::-1][1:])) if n > 1 else 0.0
    mean = float(rect.sum()) + curve.start_time
    se = math.sqrt(varmean)
    z = norm.ppf(1 - (1 - curve.conf_level) / 2)
    return RMSTResult(curve.group, tau, mean, se, mean - z * se, mean + z * se, curve.conf_level)


# --------------------------------------------------------------------------------------------
# the estimator


def _rev_cumsum(a: np.ndarray) -> np.ndarray:
    return np.cumsum(a[::-1])[::-1]


def _entered_at_or_after(ke: np.ndarray, m: int, x: np.ndarray | None = None) -> np.ndarray:
    """For each time index k, the sum of ``x`` over records with entry >= u_k.

    ``ke`` = number of distinct times <= entry, so entry >= u_k exactly when ke > k.
    """
    b = np.bincount(ke, weights=x, minlength=m + 1).astype(np.float64)
    return np.concatenate([_rev_cumsum(b[1:]), [0.0]])[:m] if m else b[:0]


def _ij_variance(
    t: np.ndarray,
    e: np.ndarray,
    w: np.ndarray,
    en: np.ndarray | None,
    ke: np.ndarray | None,
    row_time: np.ndarray,
    utime: np.ndarray,
    a: np.ndarray,
    c: np.ndarray,
    surv: np.ndarray,
    cluster: np.ndarray | None,
) -> np.ndarray:
    """Infinitesimal-jackknife variance of S(t) (survfitkm.c, type 1), vectorised.

    Per record i (weight w_i, entry E_i, exit T_i, event d_i) the weighted influence on S at
    t is ``-S(t) w_i [d_i 1(T_i <= t) c(T_i) - (A(min(t, T_i)) - A(E_i))]`` with
    a_j = h_j / (n_j - d_j), c_j = 1 / (n_j - d_j) and A the cumulative sum of a. The
    variance is the sum over records (or clusters) of squared influences.
    """
    A = np.cumsum(a)
    A_T = A[row_time]
    if en is None:
        A_E = np.zeros_like(t)
    else:
        A_E = np.concatenate([[0.0], A])[ke]  # A at the last time <= entry
    v_final = A_T - A_E - e * c[row_time]
    m = utime.size
    if cluster is None:
        w2 = w * w
        # records that have exited by u_k
        s1 = np.cumsum(np.bincount(row_time, weights=w2 * v_final**2, minlength=m))
        # records still at risk after u_k: T_i > u_k, minus those with entry >= u_k
        W2 = np.bincount(row_time, weights=w2, minlength=m)
        B1 = np.bincount(row_time, weights=w2 * A_E, minlength=m)
        B2 = np.bincount(row_time, weights=w2 * A_E**2, minlength=m)
        W2g = np.concatenate([_rev_cumsum(W2)[1:], [0.0]])
        B1g = np.concatenate([_rev_cumsum(B1)[1:], [0.0]])
        B2g = np.concatenate([_rev_cumsum(B2)[1:], [0.0]])
        if en is not None:
            W2g = W2g - _entered_at_or_after(ke, m, w2)
            B1g = B1g - _entered_at_or_after(ke, m, w2 * A_E)
            B2g = B2g - _entered_at_or_after(ke, m, w2 * A_E**2)
        s2 = A**2 * W2g - 2 * A * B1g + B2g
        # the variance only changes at event times (R updates it there only): carry it
        # forward so that censor-only times repeat the value bit for bit
        evk = np.flatnonzero(a != 0)
        idx = np.zeros(m, dtype=np.intp)
        idx[evk] = np.arange(1, evk.size + 1)
        idx = np.maximum.accumulate(idx)
        total = np.concatenate([[0.0], np.maximum(s1 + s2, 0.0)[evk]])[idx]
        var = surv**2 * total
    else:
        # Clusters. At time u_k the influence of cluster c is alpha_c A_k + beta_c, where
        # alpha_c = sum of w_i over its records at risk (E_i < u_k < T_i) and beta_c =
        # -sum w_i A(E_i) over those plus sum w_i v_i over its records already exited. Each
        # record changes (alpha_c, beta_c) twice - on entry and on exit - so sum_c alpha_c^2,
        # sum_c alpha_c beta_c and sum_c beta_c^2 are cumulative sums over time of the
        # increments these changes cause; within-cluster running values come from one sort
        # by (cluster, time). O(n log n), no loop.
        ke = (
            np.zeros(t.size, dtype=np.intp)
            if en is None
            else np.searchsorted(utime, en, side="right")
        )
        k_ev = np.concatenate([ke, row_time])
        cl_ev = np.concatenate([cluster, cluster])
        da = np.concatenate([w, -w])
        db = np.concatenate([-w * A_E, w * (A_E + v_final)])
        o = np.argsort(cl_ev.astype(np.int64) * (m + 1) + k_ev, kind="stable")
        k_ev, cl_ev, da, db = k_ev[o], cl_ev[o], da[o], db[o]
        first = np.flatnonzero(np.concatenate([[True], cl_ev[1:] != cl_ev[:-1]]))
        seg = np.repeat(np.arange(first.size), np.diff(np.append(first, k_ev.size)))
        ca = np.cumsum(da)
        cb = np.cumsum(db)
        a_after = ca - (ca[first] - da[first])[seg]
        b_after = cb - (cb[first] - db[first])[seg]
        a_before = a_after - da
        b_before = b_after - db
        mm = m + 1  # entries after the last time land in slot m and are ignored
        s_aa = np.cumsum(np.bincount(k_ev, a_after**2 - a_before**2, minlength=mm))[:m]
        s_ab = np.cumsum(np.bincount(k_ev, a_after * b_after - a_before * b_before, minlength=mm))[
            :m
        ]
        s_bb = np.cumsum(np.bincount(k_ev, b_after**2 - b_before**2, minlength=mm))[:m]
        tot = np.maximum(A**2 * s_aa + 2 * A * s_ab + s_bb, 0.0)
        evk = np.flatnonzero(a != 0)
        idx = np.zeros(m, dtype=np.intp)
        idx[evk] = np.arange(1, evk.size + 1)
        idx = np.maximum.accumulate(idx)
        var = surv**2 * np.concatenate([[0.0], tot[evk]])[idx]
    var = np.where(surv == 0, 0.0, var)
    return var


def _one_curve(
    utime: np.ndarray,
    tot: np.ndarray,
    d_count: np.ndarray,
    dw: np.ndarray,
    rows: dict | None,
    *,
    nrec: int,
    group: Any,
    conf_type: str,
    conf_level: float,
    robust: bool,
) -> KMCurve:
    """Kaplan-Meier curve of one group from per-time sums.

    ``utime`` are the group's distinct exit times, ``tot`` / ``dw`` the (weighted) number of
    records / events exiting at each and ``d_count`` the unweighted number of events.
    ``rows`` holds the group's records (``t``, ``e``, ``w``, ``en``, ``cl`` and ``row_time``,
    the index of each record's time in ``utime``); it is needed only for left truncation and
    the robust variance.
    """
    m = utime.size
    w = None if rows is None else rows["w"]
    en = None if rows is None else rows["en"]
    cw = tot - dw
    n_risk = _rev_cumsum(tot)
    ke = None
    if en is not None:
        ke = np.searchsorted(utime, en, side="right")  # number of times <= entry
        n_risk = n_risk - _entered_at_or_after(ke, m, w)
    ev = (d_count > 0) & (dw > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        haz = np.where(ev, dw / n_risk, 0.0)
        surv = np.cumprod(np.where(ev, (n_risk - dw) / n_risk, 1.0))
        greenwood = np.cumsum(np.where(ev, dw / (n_risk * (n_risk - dw)), 0.0))
        cumhaz = np.cumsum(haz)
        v_na = np.cumsum(np.where(ev, dw / (n_risk * n_risk), 0.0))
    if robust:
        t, e, cl, row_time = rows["t"], rows["e"], rows["cl"], rows["row_time"]
        ww = np.ones(t.size) if w is None else w
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = n_risk - dw
            a = np.where(ev, haz / denom, 0.0)
            c = np.where(ev, 1.0 / denom, 0.0)
            a = np.where(np.isfinite(a), a, 0.0)
            c = np.where(np.isfinite(c), c, 0.0)
            var_s = _ij_variance(
                t, e.astype(np.float64), ww, en, ke, row_time, utime, a, c, surv, cl
            )
            # Nelson-Aalen IJ: influence w_i [d_i 1(T_i<=t)/n(T_i) - (H(min(t,T_i)) - H(E_i))/n]
            std_chaz = np.sqrt(
                _ij_variance(
                    t,
                    e.astype(np.float64),
                    ww,
                    en,
                    ke,
                    row_time,
                    utime,
                    np.where(ev, haz / n_risk, 0.0),
                    np.where(ev, 1.0 / n_risk, 0.0),
                    np.ones(m),
                    cl,
                )
            )
        std_err = np.sqrt(var_s)
        with np.errstate(divide="ignore", invalid="ignore"):
            std_err_log = np.where(std_err == 0, 0.0, std_err / surv)
        lower, upper = confidence_limits(surv, std_err, conf_type, conf_level, logse=False)
    else:
        std_err_log = np.sqrt(greenwood)
        with np.errstate(invalid="ignore"):
            std_err = surv * std_err_log
        std_chaz = np.sqrt(v_na)
        lower, upper = confidence_limits(surv, std_err_log, conf_type, conf_level, logse=True)
    return KMCurve(
        group=group,
        n=int(nrec),
        events=float(dw.sum()),
        time=utime,
        n_risk=n_risk,
        n_event=dw,
        n_censor=cw,
        surv=surv,
        std_err=std_err,
        std_err_log=std_err_log,
        lower=lower,
        upper=upper,
        cumhaz=cumhaz,
        std_chaz=std_chaz,
        median=_minmin(surv, utime),
        median_lower=_minmin(lower, utime),
        median_upper=_minmin(upper, utime),
        conf_type=conf_type,
        conf_level=conf_level,
        n_start=float(n_risk[0]),
        n_max=float(n_risk.max()),
        robust=robust,
        weighted=w is not None,
        left_truncated=en is not None,
    )


def kaplan_meier(
    time: Any,
    event: Any,
    *,
    entry: Any = None,
    weights: Any = None,
    group: Any = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
    robust: bool | None = None,
    cluster: Any = None,
    names: dict | None = None,
) -> KMResult:
    """Kaplan-Meier estimate(s), as ``survfit(Surv([entry,] time, event) ~ group)``.

    Parameters
    ----------
    time : array_like
        Exit (stop) times, >= 0.
    event : array_like
        1 = event at ``time``, 0 = censored.
    entry : array_like, optional
        Entry (start) times for left truncation / counting-process data; a record is at risk
        at t when ``entry < t <= time``.
    weights : array_like, optional
        Non-negative case weights.
    group : array_like, optional
        Group labels; one curve per distinct label, in sorted order.
    conf_type : {"log", "log-log", "plain"}
        Pointwise CI transformation (R's default "log").
    conf_level : float
        Confidence level (0.95).
    robust : bool, optional
        Use the infinitesimal-jackknife variance. Default (``None``) as R: true when weights
        are not all integers or ``cluster`` is given, false otherwise.
    cluster : array_like, optional
        Cluster (e.g. patient) identifiers for the robust variance; the influences of a
        cluster's records are summed before squaring, as ``survfit(..., cluster = id,
        robust = TRUE)`` (use it for (start, stop] data with several intervals per patient).
        Without it every record is its own cluster.
    names : dict, optional
        Names for error messages (keys ``time``, ``event``, ``entry``, ``weights``, ``group``).

    Returns
    -------
    KMResult

    Warns
    -----
    NoEventsWarning
        When a curve has no events (S(t) = 1 throughout, median not reached).

    Notes
    -----
    Cost: one O(n) pass (integer-valued times) or one sort (other times) plus bincounts; the
    robust variance adds O(n) without clusters and one O(n log n) sort with clusters.
    Medians and quantiles: see :func:`km_quantile`; survival at chosen times:
    :func:`survival_at`; restricted mean: :func:`rmst`.

    Examples
    --------
    >>> fit = kaplan_meier([1, 2, 2, 3], [1, 1, 0, 1])
    >>> fit.curve().surv.tolist()
    [0.75, 0.5, 0.0]

    References
    ----------
    Kaplan EL, Meier P. J Am Stat Assoc 1958;53:457-481. Therneau TM, Grambsch PM. Modeling
    Survival Data: Extending the Cox Model. Springer, 2000 (weights, robust variance).
    """
    if conf_type not in CONF_TYPES:
        raise InputError(
            f"must be one of {', '.join(CONF_TYPES)}; got {conf_type!r}", column="conf_type"
        )
    if not (0 < conf_level < 1):
        raise InputError(f"must be in (0, 1); got {conf_level}", column="conf_level")
    t, e, en, w = check_survival_input(time, event, entry, weights, names=names)
    n = t.size
    cl = None
    if cluster is not None:
        _, cl = group_codes(cluster, n, name=(names or {}).get("cluster", "cluster"))
    if robust is None:
        robust = cluster is not None or (w is not None and bool(np.any(w != np.floor(w))))
    robust = bool(robust)
    if group is None:
        levels: list = [None]
        codes = np.zeros(n, dtype=np.intp)
    else:
        levels, codes = group_codes(group, n, name=(names or {}).get("group", "group"))

    k = len(levels)
    utime_all, j = time_codes(t)
    m = utime_all.size
    key = j if k == 1 else codes * m + j
    # per (group, time) sums, no sort needed: bincount over the combined key
    cnt_all = np.bincount(key, minlength=k * m)
    dcnt_all = np.bincount(key[e == 1], minlength=k * m)
    if w is None:
        tot_all = cnt_all.astype(np.float64)
        dw_all = dcnt_all.astype(np.float64)
    else:
        tot_all = np.bincount(key, weights=w, minlength=k * m)
        dw_all = np.bincount(key, weights=w * e, minlength=k * m)
    need_rows = en is not None or robust

    curves = []
    for gi, lab in enumerate(levels):
        sl = slice(gi * m, (gi + 1) * m)
        present = cnt_all[sl] > 0
        if not present.any():
            continue
        pos = np.flatnonzero(present)
        rows = None
        if need_rows:
            sel = slice(None) if k == 1 else codes == gi
            lookup = np.cumsum(present) - 1
            rows = {
                "t": t[sel],
                "e": e[sel],
                "w": None if w is None else w[sel],
                "en": None if en is None else en[sel],
                "cl": None if cl is None else cl[sel],
                "row_time": lookup[j[sel]],
            }
        curves.append(
            _one_curve(
                utime_all[pos],
                tot_all[sl][pos],
                dcnt_all[sl][pos],
                dw_all[sl][pos],
                rows,
                nrec=int(cnt_all[sl].sum()),
                group=lab,
                conf_type=conf_type,
                conf_level=conf_level,
                robust=robust,
            )
        )
    none = [c.group for c in curves if c.events == 0]
    if none:
        which = "the data" if levels == [None] else "group(s) " + ", ".join(map(str, none))
        warnings.warn(
            f"no events in {which}: S(t) = 1 throughout and the median is not reached",
            NoEventsWarning,
            stacklevel=2,
        )
    return KMResult(
        curves=tuple(curves),
        conf_type=conf_type,
        conf_level=conf_level,
        robust=robust,
        weighted=w is not None,
        left_truncated=en is not None,
        n=int(n),
        events=float(sum(c.events for c in curves)),
    )
