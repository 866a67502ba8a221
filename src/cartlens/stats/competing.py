"""Cumulative incidence for competing risks (Aalen-Johansen) and Gray's k-sample test.

The numbers follow ``cmprsk::cuminc`` exactly:

* the estimate is the Aalen-Johansen type cumulative incidence function (CIF)
  ``F_k(t) = sum_{t_j <= t} S(t_j-) d_kj / n_j`` with ``S`` the all-cause Kaplan-Meier;
* the variance is Gray's (1988) estimate computed by cmprsk's Fortran routine ``cinc``
  (including its tie corrections ``1 - (d - 1)/(n - 1)``);
* values at a time ``t`` are taken at the last jump ``<= t`` (``cmprsk::timepoints``) and are
  undefined (NaN) beyond the group's largest follow-up time;
* Gray's test is the score statistic of ``crstm`` with strata and weight ``(1 - F(t-))^rho``.

:func:`aalen_johansen` gives the same estimates in the multi-state form of ``survfit``
(event-free probability plus one CIF per cause) with survfit's infinitesimal-jackknife
standard errors and log-type CIs.

Confidence intervals are not part of cuminc. cartlens gives pointwise intervals from Gray's
variance on the log(-log) scale by default (``F^exp(+/- z sqrt(V) / (F log F))``, as
tidycmprsk does), or on the ``"plain"`` (clipped to [0, 1]) or ``"log"`` scale.

Everything is vectorised over distinct times with numpy: one sort, then cumulative sums.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as _st

from cartlens.errors import InputError, NoEventsWarning, StatisticalWarning
from cartlens.results import Result

CONF_TYPES = ("log-log", "plain", "log")


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _as_float(x: Any, name: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"must be numeric ({exc})", column=name) from exc
    if a.ndim != 1:
        raise InputError("must be one-dimensional", column=name)
    return a


def check_competing_input(
    time: Any,
    event: Any,
    *,
    cencode: Any = 0,
    causes: Sequence[Any] | None = None,
    time_name: str = "time",
    event_name: str = "event",
    names: Mapping[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Validate competing-risks input.

    Parameters
    ----------
    time : array_like
        Follow-up times, finite and ``>= 0``.
    event : array_like
        Status codes: ``cencode`` for censored, any other value is a cause code.
    cencode : scalar
        The censoring code (default 0).
    causes : sequence, optional
        The allowed cause codes. A code that is neither ``cencode`` nor listed is an
        :class:`InputError` naming the row.
    time_name, event_name : str
        Names used in error messages.
    names : mapping, optional
        Overrides for the names in error messages, keys ``time`` and ``event`` (for
        example the CSV column names, as :func:`cartlens.stats._surv.check_survival_input`).

    Returns
    -------
    time, event, causes
        ``time`` as float array, ``event`` as a numpy array, and the sorted cause codes seen.
    """
    if names:
        time_name = str(names.get("time") or time_name)
        event_name = str(names.get("event") or event_name)
    t = _as_float(time, time_name)
    e = np.asarray(event)
    if e.ndim != 1:
        raise InputError("must be one-dimensional", column=event_name)
    if t.shape[0] != e.shape[0]:
        raise InputError(
            f"has {e.shape[0]} values but '{time_name}' has {t.shape[0]}", column=event_name
        )
    if t.shape[0] == 0:
        raise InputError("no observations", column=time_name)
    bad = ~np.isfinite(t)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"value {t[i]} at row {i + 1} is missing or not finite", column=time_name)
    if (t < 0).any():
        i = int(np.flatnonzero(t < 0)[0])
        raise InputError(f"negative time {t[i]} at row {i + 1}", column=time_name)
    if e.dtype.kind == "f" and np.isnan(e).any():
        i = int(np.flatnonzero(np.isnan(e))[0])
        raise InputError(f"missing status at row {i + 1}", column=event_name)
    if e.dtype.kind == "O" and any(v is None for v in e):
        i = next(k for k, v in enumerate(e) if v is None)
        raise InputError(f"missing status at row {i + 1}", column=event_name)
    failed = e != cencode
    seen = tuple(np.unique(e[failed]).tolist())
    if causes is not None:
        allowed = set(causes)
        for k, v in enumerate(e.tolist()):
            if v != cencode and v not in allowed:
                raise InputError(
                    f"unknown cause code {v!r} at row {k + 1} "
                    f"(censoring is {cencode!r}; causes are {sorted(allowed)!r})",
                    column=event_name,
                )
    return t, e, seen


def _check_rho(rho: Any) -> float:
    """Gray's test weight power: a finite number (NaN would break the variance's SVD)."""
    try:
        r = float(rho)
    except (TypeError, ValueError):
        raise InputError(f"must be a finite number; got {rho!r}", column="rho") from None
    if not math.isfinite(r):
        raise InputError(f"must be a finite number; got {r}", column="rho")
    return r


def _groups(group: Any, n: int, name: str) -> tuple[np.ndarray, tuple]:
    """Integer codes 0..G-1 in sorted label order, and the labels."""
    if group is None:
        return np.zeros(n, dtype=np.int64), (None,)
    g = np.asarray(group)
    if g.shape != (n,):
        raise InputError(f"must have one value per observation ({n})", column=name)
    import pandas as pd

    codes, uniq = pd.factorize(g, sort=True)
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise InputError(f"missing value at row {i + 1}", column=name)
    labels = np.asarray(uniq)
    return codes.astype(np.int64), tuple(labels.tolist())


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class CIFCurve(Result):
    """Cumulative incidence of one cause in one group (as one element of ``cuminc``).

    ``time`` holds the distinct times at which this cause occurs; ``estimate`` and
    ``variance`` are the values just after each jump. ``max_time`` is the group's largest
    follow-up time: beyond it the curve is undefined.
    """

    group: Any
    cause: Any
    n: int
    events: int
    time: np.ndarray
    estimate: np.ndarray
    variance: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_risk: np.ndarray
    max_time: float
    conf_type: str
    conf_level: float


@dataclasses.dataclass(frozen=True)
class GrayTest(Result):
    """Gray's k-sample test for one cause."""

    cause: Any
    stat: float
    df: int
    p: float
    rho: float
    scores: np.ndarray
    var: np.ndarray


@dataclasses.dataclass(frozen=True)
class CumincResult(Result):
    """All cumulative incidence curves (group x cause) and Gray's tests."""

    curves: tuple[CIFCurve, ...]
    gray_test: tuple[GrayTest, ...]
    groups: tuple
    causes: tuple
    n: int
    events: dict
    strata: tuple
    settings: dict

    def curve(self, group: Any = None, cause: Any = None) -> CIFCurve:
        """The curve of ``group`` (None for an ungrouped fit) and ``cause``."""
        for c in self.curves:
            if c.group == group and c.cause == cause:
                return c
        raise KeyError(f"no curve for group={group!r}, cause={cause!r}")

    def summary(self, times: Sequence[float]) -> list[dict]:
        """``[{"group", "cause", "at": [{"time", "estimate", "variance", "lower", "upper"}]}]``."""
        out = []
        for c in self.curves:
            est = cif_at(c, times)
            out.append(
                {
                    "group": c.group,
                    "cause": c.cause,
                    "at": [
                        {
                            "time": float(t),
                            "estimate": float(est["estimate"][i]),
                            "variance": float(est["variance"][i]),
                            "lower": float(est["lower"][i]),
                            "upper": float(est["upper"][i]),
                        }
                        for i, t in enumerate(est["time"])
                    ],
                }
            )
        return out


# --------------------------------------------------------------------------------------------
# confidence intervals
# --------------------------------------------------------------------------------------------
def cif_ci(
    estimate: np.ndarray, variance: np.ndarray, conf_type: str = "log-log", conf_level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of a CIF from its variance.

    ``"log-log"``: ``F^exp(+/- z se / (F log F))`` (lower uses +); ``"log"``:
    ``F exp(-/+ z se / F)`` capped at 1; ``"plain"``: ``F -/+ z se`` clipped to [0, 1]. Where
    ``F`` is 0 the interval is [0, 0]; where ``F`` is 1 (log-log) it is [1, 1].
    """
    if conf_type not in CONF_TYPES:
        raise InputError(f"must be one of {CONF_TYPES}", column="conf_type")
    f = np.asarray(estimate, dtype=float)
    se = np.sqrt(np.maximum(np.asarray(variance, dtype=float), 0.0))
    z = _st.norm.ppf(0.5 + conf_level / 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            lo = np.clip(f - z * se, 0, 1)
            hi = np.clip(f + z * se, 0, 1)
        elif conf_type == "log":
            lo = f * np.exp(-z * se / f)
            hi = np.minimum(f * np.exp(z * se / f), 1.0)
        else:
            k = z * se / (f * np.log(f))
            lo = f ** np.exp(-k)
            hi = f ** np.exp(k)
        zero = f <= 0
        lo = np.where(zero, 0.0, lo)
        hi = np.where(zero, 0.0, hi)
        if conf_type == "log-log":
            one = f >= 1
            lo = np.where(one, 1.0, lo)
            hi = np.where(one, 1.0, hi)
    nan = np.isnan(f)
    return np.where(nan, np.nan, lo), np.where(nan, np.nan, hi)


# --------------------------------------------------------------------------------------------
# estimation (cmprsk's cinc, vectorised)
# --------------------------------------------------------------------------------------------
def _distinct(time_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and the start index of each run."""
    if time_sorted.size == 0:
        return time_sorted, np.zeros(0, dtype=np.int64)
    new = np.empty(time_sorted.size, dtype=bool)
    new[0] = True
    np.not_equal(time_sorted[1:], time_sorted[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    return time_sorted[starts], starts


def _cinc(
    t: np.ndarray, failed: np.ndarray, cause_codes: np.ndarray, n_causes: int
) -> list[tuple[np.ndarray, ...]]:
    """cmprsk ``cinc`` for all causes of one group at once (``t`` sorted).

    ``cause_codes`` holds 0..n_causes-1 for failures (ignored where ``failed`` is False).
    Returns per cause ``(jump_times, estimate, variance, n_risk)``.
    """
    n = t.size
    ut, starts = _distinct(t)
    m = ut.size
    idx = np.repeat(np.arange(m), np.diff(np.append(starts, n)))
    d_all = np.bincount(idx, weights=failed, minlength=m)
    dk = (
        np.bincount(cause_codes[failed] * m + idx[failed], minlength=n_causes * m)
        .reshape(n_causes, m)
        .astype(float)
    )
    rs = (n - starts).astype(float)  # number at risk at each distinct time
    ev = d_all > 0
    rs, d_all, dk, ut = rs[ev], d_all[ev], dk[:, ev], ut[ev]
    # all-cause KM: fk (left-continuous), fkn (right-continuous)
    fkn = np.cumprod((rs - d_all) / rs)
    fk = np.concatenate(([1.0], fkn[:-1]))
    out = []
    for k in range(n_causes):
        nd1 = dk[k]
        nd2 = d_all - nd1
        f = np.cumsum(fk * nd1 / rs)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(fkn > 0, 1.0 / np.where(fkn > 0, fkn, 1.0), 0.0)
            rs1 = np.where(rs > 1, rs - 1.0, 1.0)
            # other causes (only where nd2 > 0 and fkn > 0)
            t5 = np.where(nd2 > 1, 1.0 - (nd2 - 1.0) / rs1, 1.0)
            t6 = fk * fk * t5 * nd2 / (rs * rs)
            use2 = (nd2 > 0) & (fkn > 0)
            t6 = np.where(use2, t6, 0.0)
            t4 = f * inv
            a1 = t4 * t4 * t6
            a2 = inv * t4 * t6
            a3 = inv * inv * t6
            # cause of interest
            t5b = np.where(nd1 > 1, 1.0 - (nd1 - 1.0) / rs1, 1.0)
            t6b = np.where(nd1 > 0, fk * fk * t5b * nd1 / (rs * rs), 0.0)
            t4b = 1.0 + inv * f
            a1 = a1 + t4b * t4b * t6b
            a2 = a2 + inv * t4b * t6b
            a3 = a3 + inv * inv * t6b
        v1, v2, v3 = np.cumsum(a1), np.cumsum(a2), np.cumsum(a3)
        var = v1 + f * f * v3 - 2 * f * v2
        jump = nd1 > 0
        out.append((ut[jump], f[jump], var[jump], rs[jump]))
    return out


def cif_at(curve: CIFCurve, times: Sequence[float]) -> dict:
    """Values of a CIF at ``times`` (``cmprsk::timepoints``): the last jump ``<= t``.

    Before the first jump the estimate and variance are 0; after the group's largest
    follow-up time (``curve.max_time``) they are NaN (R's ``NA``).
    """
    tt = np.asarray(times, dtype=float)
    pos = np.searchsorted(curve.time, tt, side="right") - 1
    est = np.where(pos >= 0, curve.estimate[np.maximum(pos, 0)] if curve.time.size else 0.0, 0.0)
    var = np.where(pos >= 0, curve.variance[np.maximum(pos, 0)] if curve.time.size else 0.0, 0.0)
    beyond = (tt > curve.max_time) | (tt < 0)
    est = np.where(beyond, np.nan, est).astype(float)
    var = np.where(beyond, np.nan, var).astype(float)
    lo, hi = cif_ci(est, var, curve.conf_type, curve.conf_level)
    return {"time": tt, "estimate": est, "variance": var, "lower": lo, "upper": hi}


# --------------------------------------------------------------------------------------------
# Gray's test (cmprsk's crst, vectorised over times)
# --------------------------------------------------------------------------------------------
def _crst_counts(t: np.ndarray, g: np.ndarray, ng: int) -> tuple[np.ndarray, ...]:
    """Per distinct time of one stratum (``t`` sorted): time index of each row, at-risk
    counts per group (mt, ng) and the number of distinct times."""
    n = t.size
    _ut, starts = _distinct(t)
    mt = starts.size
    idx = np.repeat(np.arange(mt), np.diff(np.append(starts, n)))
    key = idx * ng + g
    dall = np.bincount(key, minlength=mt * ng).reshape(mt, ng).astype(float)
    rs = np.cumsum(dall[::-1], axis=0)[::-1]
    return key, rs, mt


def _crst(
    key: np.ndarray, rs: np.ndarray, mt: int, m: np.ndarray, ng: int, rho: float
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and variance (ng-1 x ng-1) of one stratum (cmprsk's ``crst``).

    ``key`` = time index * ng + group of each (time-sorted) row, ``m`` its status
    (0 censored, 1 cause of interest, 2 other cause).
    """
    ng1 = ng - 1
    s1 = m == 1
    d1 = np.bincount(key[s1], minlength=mt * ng).reshape(mt, ng).astype(float)
    d2 = np.bincount(key[m == 2], minlength=mt * ng).reshape(mt, ng).astype(float)
    ev = (d1.sum(1) + d2.sum(1)) > 0
    d1, d2, rs = d1[ev], d2[ev], rs[ev]
    T = d1.shape[0]
    if T == 0:
        return np.zeros(ng1), np.zeros((ng1, ng1))
    pos = rs > 0
    rsafe = np.where(pos, rs, 1.0)
    td = d1 + d2
    skm = np.cumprod(np.where(pos, (rs - td) / rsafe, 1.0), axis=0)
    skmm = np.vstack([np.ones((1, ng)), skm[:-1]])
    f1 = np.cumsum(np.where(pos, skmm * d1 / rsafe, 0.0), axis=0)
    f1m = np.vstack([np.zeros((1, ng)), f1[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(pos, rs / np.where(skmm > 0, skmm, 1.0), 0.0)
    tr = t1.sum(1)
    tq = (t1 * (1 - f1m)).sum(1)
    nd1 = d1.sum(1)
    fcum = np.cumsum(nd1 / tr)
    fm = np.concatenate(([0.0], fcum[:-1]))
    f = fcum
    fb = (1 - fm) ** rho
    # a(i, j) per time: fb * (diag(t1) - t1 t1' / tr)
    a = -(fb / tr)[:, None, None] * t1[:, :, None] * t1[:, None, :]
    di = np.arange(ng)
    a[:, di, di] += fb[:, None] * t1
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(nd1 > 0, nd1 / (tr * (1 - fm)), 0.0)
    c = np.cumsum(a * w[:, None, None], axis=0)
    # scores
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = fb[:, None] * (d1 - nd1[:, None] * t1 * (1 - f1m) / tq[:, None])
    sc = np.where(pos, sc, 0.0)
    s = sc[:, :ng1].sum(0)
    # variance, cause-1 part (times with nd1 > 0, groups at risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        t4 = np.where(skm > 0, 1 - (1 - f)[:, None] / np.where(skm > 0, skm, 1.0), 1.0)
        t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0)
        t3 = t5 * skmm * nd1[:, None] / (tr[:, None] * rsafe)
    use1 = pos & (nd1[:, None] > 0)
    t3 = np.where(use1, t3, 0.0)
    v3 = (t4 * t4 * t3).sum(0)
    b = a[:, :ng1, :] - t4[:, None, :] * c[:, :ng1, :]  # (T, ng1, ng)
    v2 = np.einsum("tik,tk->ik", b, t4 * t3)
    v = np.einsum("tik,tjk,tk->ij", b, b, t3)
    # variance, other-cause part (groups with skm > 0 and d2 > 0)
    use2 = (skm > 0) & (d2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t4b = np.where(use2, (1 - f)[:, None] / np.where(skm > 0, skm, 1.0), 0.0)
        rs1 = np.where(rs > 1, rs - 1.0, 1.0)
        t5b = np.where(d2 > 1, 1 - (d2 - 1) / rs1, 1.0)
        t3b = np.where(use2, t5b * skmm**2 * d2 / rsafe**2, 0.0)
    q = t4b * t4b * t3b
    v3 = v3 + q.sum(0)
    cc = c[:, :ng1, :]
    v2 = v2 - np.einsum("tik,tk->ik", cc, q)
    v = v + np.einsum("tik,tjk,tk->ij", cc, cc, q)
    cf = c[-1, :ng1, :]
    v = v + (cf * v3[None, :]) @ cf.T + cf @ v2.T + v2 @ cf.T
    return s, v


def gray_test(
    time: Any,
    event: Any,
    group: Any,
    *,
    cause: Any,
    strata: Any = None,
    rho: float = 0.0,
    cencode: Any = 0,
    names: Mapping[str, str] | None = None,
) -> GrayTest:
    """Gray's k-sample test of equal cumulative incidence of ``cause`` across groups.

    Parameters
    ----------
    time, event, group : array_like
        Follow-up time, status (``cencode`` = censored) and group labels.
    cause : scalar
        The cause code being compared.
    strata : array_like, optional
        Stratum labels; scores and variances are summed over strata (as ``cuminc``).
    rho : float
        Weight ``(1 - F(t-))^rho``; 0 (default) as cuminc.
    names : mapping, optional
        Names for error messages, keys ``time`` and ``event`` (e.g. the CSV columns).

    Returns
    -------
    GrayTest
        ``stat`` ~ chi-square with ``df`` = number of groups - 1.

    References
    ----------
    Gray RJ. A class of K-sample tests for comparing the cumulative incidence of a competing
    risk. Ann Stat 1988;16:1141-1154.
    """
    rho = _check_rho(rho)
    t, e, _ = check_competing_input(time, event, cencode=cencode, names=names)
    g, labels = _groups(group, t.size, "group")
    st, _slabels = _groups(strata, t.size, "strata")
    m = np.where(e == cencode, 0, np.where(e == cause, 1, 2)).astype(np.int64)
    prep = _gray_prepare(t, g, len(labels), st)
    return _gray(prep, m, cause, rho)


def _gray_prepare(
    t: np.ndarray,
    g: np.ndarray,
    ng: int,
    st: np.ndarray,
    order: np.ndarray | None = None,
    presorted: bool = False,
) -> dict:
    """Sort by (stratum, time) once and precompute per-stratum counts shared by all causes.

    ``order``: a time-sorting permutation already at hand (used when there are no strata);
    ``presorted``: ``t``, ``g``, ``st`` are already in that order.
    """
    if st.max(initial=0) > 0:
        order = np.lexsort((t, st))
        presorted = False
    elif order is None:
        order = np.argsort(t)
    if presorted:
        ts, gs, ss = t, g, st
    else:
        ts, gs, ss = t[order], g[order], st[order]
    bounds = np.flatnonzero(np.diff(ss)) + 1 if ss.max(initial=0) > 0 else np.zeros(0, np.int64)
    parts = []
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, ts.size], strict=True):
        key, rs, mt = _crst_counts(ts[lo:hi], gs[lo:hi], ng)
        parts.append((lo, hi, key, rs, mt))
    return {"order": order, "parts": parts, "ng": ng}


def _gray(prep: dict, m: np.ndarray, cause: Any, rho: float, presorted: bool = False) -> GrayTest:
    ng = prep["ng"]
    ng1 = ng - 1
    s = np.zeros(ng1)
    v = np.zeros((ng1, ng1))
    ms = m if presorted else m[prep["order"]]
    for lo, hi, key, rs, mt in prep["parts"]:
        si, vi = _crst(key, rs, mt, ms[lo:hi], ng, rho)
        s += si
        v += vi
    if ng1 < 1:
        stat = math.nan
    elif not np.all(np.isfinite(v)):
        # e.g. every subject of a group fails at the first time: the variance terms divide
        # by an empty risk set. R's cuminc stops with "NA/NaN/Inf in foreign function call".
        warnings.warn(
            f"Gray's test for cause {cause!r}: the score variance is not finite "
            "(a group's risk set empties at an event time); the test is undefined",
            StatisticalWarning,
            stacklevel=3,
        )
        stat = math.nan
    elif np.linalg.matrix_rank(v) < ng1:
        warnings.warn(
            f"Gray's test for cause {cause!r}: the score variance is singular "
            "(a group has no events at risk); the test is undefined (R's cuminc reports -1)",
            StatisticalWarning,
            stacklevel=3,
        )
        stat = math.nan
    else:
        stat = float(s @ np.linalg.solve(v, s))
    p = float(_st.chi2.sf(stat, ng1)) if not math.isnan(stat) else math.nan
    return GrayTest(cause=cause, stat=stat, df=ng1, p=p, rho=float(rho), scores=s, var=v)


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------
def cuminc(
    time: Any,
    event: Any,
    *,
    group: Any = None,
    strata: Any = None,
    rho: float = 0.0,
    cencode: Any = 0,
    causes: Sequence[Any] | None = None,
    conf_type: str = "log-log",
    conf_level: float = 0.95,
    names: Mapping[str, str] | None = None,
) -> CumincResult:
    """Cumulative incidence functions by group and cause, with Gray's test (``cmprsk::cuminc``).

    Parameters
    ----------
    time : array_like
        Follow-up time (``>= 0``).
    event : array_like
        Status: ``cencode`` (default 0) = censored, any other value = the cause code.
    group : array_like, optional
        Group labels; curves are given per group in sorted label order.
    strata : array_like, optional
        Strata for Gray's test.
    rho : float
        Power of the weight in Gray's test (0, the default, as cuminc).
    cencode : scalar
        Censoring code.
    causes : sequence, optional
        Allowed cause codes; any other non-censoring code is an :class:`InputError`.
        Causes listed but not observed get a flat curve at 0.
    conf_type : {"log-log", "plain", "log"}
        Scale of the pointwise confidence interval (cuminc itself gives none).
    conf_level : float
        Confidence level.
    names : mapping, optional
        Names for error messages, keys ``time`` and ``event`` (e.g. the CSV columns);
        default the argument names.

    Returns
    -------
    CumincResult
        ``curves`` (one :class:`CIFCurve` per group and cause, cause-major as cuminc),
        ``gray_test`` (one per cause, when there are 2+ groups).

    References
    ----------
    Kalbfleisch JD, Prentice RL. The Statistical Analysis of Failure Time Data. Wiley, 1980.
    Gray RJ. A class of K-sample tests for comparing the cumulative incidence of a competing
    risk. Ann Stat 1988;16:1141-1154.
    Gray RJ. cmprsk: Subdistribution Analysis of Competing Risks. R package 2.2-11.
    """
    if conf_type not in CONF_TYPES:
        raise InputError(f"must be one of {CONF_TYPES}", column="conf_type")
    if not 0 < conf_level < 1:
        raise InputError("must be in (0, 1)", column="conf_level")
    rho = _check_rho(rho)
    t, e, seen = check_competing_input(time, event, cencode=cencode, causes=causes, names=names)
    g, labels = _groups(group, t.size, "group")
    st, slabels = _groups(strata, t.size, "strata")
    cause_list = tuple(sorted(set(seen) | set(causes or ())))
    if not cause_list:
        warnings.warn("no events of any cause: every CIF is 0", NoEventsWarning, stacklevel=2)
    failed = e != cencode
    ccode = np.zeros(t.size, dtype=np.int64)
    if failed.any():
        ccode[failed] = np.searchsorted(np.asarray(cause_list), e[failed])
    # sort by time (the order within tied times does not matter: everything below is
    # aggregated per distinct time), then stably by group (radix sort on small integers)
    order = np.argsort(t)
    ts, fs, cs, gs = t[order], failed[order], ccode[order], g[order]
    ng = len(labels)
    if ng > 1:
        gorder = np.argsort(gs.astype(np.int16 if ng < 2**15 else np.int64), kind="stable")
        gsz = np.bincount(gs, minlength=ng)
        tg, fg, cg = ts[gorder], fs[gorder], cs[gorder]
    else:
        gsz = np.array([t.size])
        tg, fg, cg = ts, fs, cs
    edges = np.r_[0, np.cumsum(gsz)]
    per_group = []
    for gi in range(ng):
        lo, hi = edges[gi], edges[gi + 1]
        per_group.append(
            (_cinc(tg[lo:hi], fg[lo:hi], cg[lo:hi], len(cause_list)), int(hi - lo), tg[hi - 1])
        )
    nc = max(len(cause_list), 1)
    ev_counts = np.bincount(g[failed] * nc + ccode[failed], minlength=len(labels) * nc).reshape(
        len(labels), nc
    )
    curves = []
    for k, cause in enumerate(cause_list):
        for gi, lab in enumerate(labels):
            res, ng_, tmax = per_group[gi]
            jt, est, var, nr = res[k]
            lo, hi = cif_ci(est, var, conf_type, conf_level)
            curves.append(
                CIFCurve(
                    group=lab,
                    cause=cause,
                    n=ng_,
                    events=int(ev_counts[gi, k]),
                    time=jt,
                    estimate=est,
                    variance=var,
                    lower=lo,
                    upper=hi,
                    n_risk=nr,
                    max_time=float(tmax),
                    conf_type=conf_type,
                    conf_level=conf_level,
                )
            )
    tests: list[GrayTest] = []
    if len(labels) > 1:
        if st.max(initial=0) > 0:
            prep = _gray_prepare(t, g, ng, st)
            fsrt, csrt = failed[prep["order"]], ccode[prep["order"]]
        else:
            prep = _gray_prepare(ts, gs, ng, np.zeros(1, np.int64), order, presorted=True)
            fsrt, csrt = fs, cs
        for k, cause in enumerate(cause_list):
            m = np.where(fsrt, np.where(csrt == k, 1, 2), 0).astype(np.int8)
            tests.append(_gray(prep, m, cause, rho, presorted=True))
    events = {c: int(ev_counts[:, k].sum()) for k, c in enumerate(cause_list)}
    return CumincResult(
        curves=tuple(curves),
        gray_test=tuple(tests),
        groups=labels,
        causes=cause_list,
        n=int(t.size),
        events=events,
        strata=slabels,
        settings={
            "rho": rho,
            "cencode": cencode,
            "conf_type": conf_type,
            "conf_level": conf_level,
            "variance": "Gray (cmprsk cuminc)",
        },
    )


@dataclasses.dataclass(frozen=True, eq=False)
class AalenJohansenResult(Result):
    """State probabilities of the competing-risks multi-state model, per group.

    ``groups`` is a tuple of dicts ``{"group", "time", "n_risk", "states": {state: {"pstate",
    "std_err", "lower", "upper"}}}``; the states are ``"(s0)"`` (event-free) and each cause.
    ``std_err`` is the infinitesimal-jackknife SE as R's ``survfit`` reports for multi-state
    fits (not Gray's variance); the CI is survfit's default log type.
    """

    groups: tuple
    states: tuple
    conf_level: float
    settings: dict


def _aj_one(t: np.ndarray, c: np.ndarray, causes: tuple, tau: np.ndarray, z: float) -> dict:
    """Aalen-Johansen estimate and its IJ SE at ``tau`` for one group.

    ``c`` holds 0 (censored) or 1..K (index into ``causes`` + 1).
    """
    n = t.size
    K = len(causes)
    ut, inv = np.unique(t, return_inverse=True)
    m = ut.size
    Y = np.bincount(inv, minlength=m)[::-1].cumsum()[::-1].astype(float)
    dk = np.bincount(c * m + inv, minlength=(K + 1) * m).reshape(K + 1, m)[1:].astype(float)
    dAk = dk / Y
    dA = dAk.sum(0)
    q = 1.0 - dA
    p0 = np.cumprod(q)
    p0m = np.r_[1.0, p0[:-1]]
    ak = p0m * dAk  # jumps of each CIF
    Fk = np.cumsum(ak, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cc = np.where(q > 0, dA / (Y * q), 0.0)
        Dt = np.where(q > 0, 1.0 / (Y * q), 0.0)
    C = np.cumsum(cc)
    Cm = np.r_[0.0, C[:-1]]
    Bk = np.cumsum(ak * Cm, axis=1)
    G = np.cumsum(p0m * dAk / Y, axis=1)  # sum_s p0(s-) dA_k(s) / Y(s)
    # Subject-level influences, summed in squares without an n x len(tau) loop: a subject
    # whose time is <= tau has u_i(tau) = alpha_i F(tau) + beta_i (F = p0 for the event-free
    # state, with beta_i = 0), one still at risk after tau has the same u(tau) as every other
    # such subject. Prefix sums over the distinct times give sum_i u_i(tau)^2 in O(n + m).
    ti = inv  # index of own time
    died = c > 0
    Di = np.where(died, Dt[ti], 0.0)
    alpha = C[ti] - Di
    pos = np.searchsorted(ut, tau, side="right") - 1  # last time <= tau
    pc = np.maximum(pos, 0)
    first = pos < 0

    def upto(x: np.ndarray) -> np.ndarray:
        """sum of x_i over subjects with time index <= pos (0 before the first time)."""
        cs = np.cumsum(np.bincount(ti, weights=x, minlength=m))
        return np.where(first, 0.0, cs[pc])

    n_before = upto(np.ones(n))
    n_after = n - n_before
    a2 = upto(alpha**2)
    out_p = np.zeros((K + 1, tau.size))
    out_se = np.zeros((K + 1, tau.size))
    p0t = np.where(first, 1.0, p0[pc])
    out_p[0] = p0t
    var0 = p0t**2 * (a2 + n_after * np.where(first, 0.0, C[pc]) ** 2)
    out_se[0] = np.where(first, 0.0, np.sqrt(np.maximum(var0, 0.0)))
    for k in range(K):
        own = np.where(c == k + 1, p0m[ti] / Y[ti], 0.0)
        beta = -alpha * Fk[k, ti] + Bk[k, ti] + own - G[k, ti]
        Ft = np.where(first, 0.0, Fk[k, pc])
        after = np.where(first, 0.0, Bk[k, pc] - G[k, pc])
        vk = Ft**2 * a2 + 2 * Ft * upto(alpha * beta) + upto(beta**2) + n_after * after**2
        out_p[k + 1] = Ft
        out_se[k + 1] = np.where(first, 0.0, np.sqrt(np.maximum(vk, 0.0)))
    # n at risk at tau: subjects with t >= tau
    nrisk = (n - np.searchsorted(np.sort(t), tau, side="left")).astype(float)
    res = {}
    names = ("(s0)",) + tuple(causes)
    for s_i, name in enumerate(names):
        pst, se = out_p[s_i], out_se[s_i]
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.where(pst > 0, pst * np.exp(-z * se / pst), np.nan)
            hi = np.where(pst > 0, np.minimum(pst * np.exp(z * se / pst), 1.0), np.nan)
        res[name] = {"pstate": pst, "std_err": se, "lower": lo, "upper": hi}
    return {"n_risk": nrisk, "states": res}


def aalen_johansen(
    time: Any,
    event: Any,
    times: Sequence[float],
    *,
    group: Any = None,
    cencode: Any = 0,
    causes: Sequence[Any] | None = None,
    conf_level: float = 0.95,
    names: Mapping[str, str] | None = None,
) -> AalenJohansenResult:
    """Aalen-Johansen state probabilities with survfit's infinitesimal-jackknife SE.

    The multi-state view of competing risks, as R's
    ``summary(survfit(Surv(time, factor(event)) ~ group), times = times, extend = TRUE)``:
    the event-free probability ``"(s0)"`` (the all-cause Kaplan-Meier) and one cumulative
    incidence per cause (equal to :func:`cuminc`'s estimate), each with the IJ standard error
    and a log-type CI. Values are those of the last jump ``<= t``.

    References
    ----------
    Aalen OO, Johansen S. An empirical transition matrix for non-homogeneous Markov chains
    based on censored observations. Scand J Stat 1978;5:141-150.
    Therneau T. The survival package: multi-state models (survfit.formula, IJ variance).
    """
    t, e, seen = check_competing_input(time, event, cencode=cencode, causes=causes, names=names)
    g, labels = _groups(group, t.size, "group")
    cause_list = tuple(sorted(set(seen) | set(causes or ())))
    tau = np.asarray(times, dtype=float)
    z = float(_st.norm.ppf(0.5 + conf_level / 2))
    failed = e != cencode
    code = np.zeros(t.size, dtype=np.int64)
    if failed.any():
        code[failed] = np.searchsorted(np.asarray(cause_list), e[failed]) + 1
    out = []
    for gi, lab in enumerate(labels):
        sel = g == gi
        one = _aj_one(t[sel], code[sel], cause_list, tau, z)
        out.append({"group": lab, "time": tau, **one})
    return AalenJohansenResult(
        groups=tuple(out),
        states=("(s0)",) + cause_list,
        conf_level=conf_level,
        settings={"variance": "infinitesimal jackknife (survfit)", "conf_type": "log"},
    )


def aalen_johansen_state(
    time: Any, event: Any, times: Sequence[float], *, cencode: Any = 0
) -> dict:
    """``{"(s0)": P(event-free), cause: CIF, ...}`` at ``times`` (one group)."""
    res = aalen_johansen(time, event, times, cencode=cencode)
    return {k: v["pstate"] for k, v in res.groups[0]["states"].items()}


def numbers_at_risk(time: Any, times: Sequence[float], *, group: Any = None) -> dict:
    """Numbers still event-free and under follow-up (``time >= t``) at ``times``, per group.

    Returns ``{group label: [counts]}`` (key None without groups), for figure tables.
    """
    t = _as_float(time, "time")
    g, labels = _groups(group, t.size, "group")
    tt = np.asarray(times, dtype=float)
    out = {}
    for gi, lab in enumerate(labels):
        ts = np.sort(t[g == gi])
        out[lab] = (ts.size - np.searchsorted(ts, tt, side="left")).tolist()
    return out
