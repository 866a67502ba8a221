"""Log-rank family of tests as R's ``survdiff``, plus a test for trend and pairwise tests.

At each distinct event time t (within a stratum) with N at risk and D deaths, group g with
n_g at risk and d_g deaths contributes, with weight w(t):

* observed ``O_g += w d_g`` and expected ``E_g += w D n_g / N``;
* covariance ``V_gh += w^2 D (N - D) / (N - 1) * (n_g / N) (1[g = h] - n_h / N)`` (0 when N = 1).

The Fleming-Harrington weight is ``w(t) = S(t-)^rho`` with S the pooled Kaplan-Meier
estimate of the stratum (rho = 0: log-rank; rho = 1: Peto & Peto's Gehan-Wilcoxon
modification), exactly as ``survdiff(..., rho = rho)``; note that with rho != 0 the reported
observed / expected are the *weighted* sums, as in R. Stratified tests add O, E and V over
strata. The statistic is ``(O - E)' V^- (O - E)`` over the groups with E > 0, dropping the first
of them, with ``df`` = (number of groups with E > 0) - 1.

Left-truncated / counting-process data ``(entry, time]`` are supported (a record is at risk at
t when entry < t <= time), which R's survdiff does not offer.

The computation is vectorised: rows are sorted once by time (then stably by stratum); per
stratum, deaths and risk sets per (time, group) come from ``np.bincount`` and reverse
cumulative sums. The only Python loops are over strata and groups.

References
----------
Mantel N. Evaluation of survival data and two new rank order statistics arising in its
consideration. Cancer Chemother Rep 1966;50:163-170.

Peto R, Peto J. Asymptotically efficient rank invariant test procedures. J R Stat Soc A
1972;135:185-207.

Harrington DP, Fleming TR. A class of rank test procedures for censored survival data.
Biometrika 1982;69:553-566.

Therneau TM. A Package for Survival Analysis in R, version 3.5-3 (``survdiff``), 2023.

Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat 1979;6:65-70.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import chi2, norm

from cartlens.errors import InputError, NoEventsWarning, SparseDataWarning
from cartlens.results import Result
from cartlens.stats._surv import check_survival_input, group_codes, time_codes

__all__ = [
    "LogrankResult",
    "LogrankTrendResult",
    "PairwiseLogrankResult",
    "logrank_test",
    "logrank_trend",
    "pairwise_logrank",
    "p_adjust",
]


@dataclasses.dataclass(frozen=True, eq=False)
class LogrankResult(Result):
    """Result of :func:`logrank_test` (R's ``survdiff``).

    Attributes
    ----------
    chisq, df, p : float, int, float
        Test statistic, degrees of freedom and upper-tail chi-square p-value.
    groups : tuple of dict
        Per group (sorted order): ``group``, ``n`` (records), ``observed``, ``expected``,
        ``o_minus_e`` (weighted sums when rho != 0).
    var : ndarray
        Covariance matrix of O - E (groups in the same order).
    rho : float
        Fleming-Harrington exponent.
    strata : tuple of dict or None
        ``stratum`` and ``n`` per stratum for stratified tests.
    n, events : int, int
        Records and events used.
    """

    chisq: float
    df: int
    p: float
    groups: tuple[dict, ...]
    var: np.ndarray
    rho: float
    strata: tuple[dict, ...] | None
    n: int
    events: int
    left_truncated: bool = False
    method: str = "log-rank"


@dataclasses.dataclass(frozen=True, eq=False)
class LogrankTrendResult(Result):
    """Result of :func:`logrank_trend`: 1-df test of U = sum_g s_g (O_g - E_g).

    ``z`` = U / sqrt(var) is signed: positive when groups with higher scores have more
    events than expected.
    """

    chisq: float
    df: int
    p: float
    z: float
    u: float
    var: float
    scores: tuple[float, ...]
    groups: tuple[dict, ...]
    rho: float
    n: int
    events: int
    stratified: bool


@dataclasses.dataclass(frozen=True)
class PairwiseLogrankResult(Result):
    """All pairwise tests between groups with adjusted p-values.

    ``comparisons`` holds dicts ``group1``, ``group2``, ``n``, ``chisq``, ``df``, ``p``,
    ``p_adjusted``.
    """

    comparisons: tuple[dict, ...]
    adjust: str
    rho: float
    stratified: bool


def p_adjust(p: Sequence[float], method: str = "holm") -> np.ndarray:
    """Adjust p-values for multiple comparisons as R's ``p.adjust``.

    Parameters
    ----------
    p : sequence of float
    method : {"holm", "bonferroni", "none"}

    References
    ----------
    Holm S. Scand J Stat 1979;6:65-70.
    """
    pv = np.asarray(p, dtype=float)
    m = pv.size
    if method == "none" or m == 0:
        return pv.copy()
    if method == "bonferroni":
        return np.minimum(1.0, pv * m)
    if method == "holm":
        o = np.argsort(pv, kind="stable")
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * pv[o]))
        out = np.empty(m)
        out[o] = adj
        return out
    raise InputError(f"must be 'holm', 'bonferroni' or 'none'; got {method!r}", column="adjust")


def _sums(
    j: np.ndarray,
    utime: np.ndarray,
    e: np.ndarray,
    g: np.ndarray,
    en: np.ndarray | None,
    k: int,
    rho: float,
    w: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """O, E, V of one stratum; ``j`` indexes each record's time in ``utime`` (any row order);
    ``w``: frequency counts (row i stands for w[i] identical records)."""
    m = utime.size
    key = j * k + g
    ev = e == 1
    cnt = np.bincount(key, weights=w, minlength=m * k).reshape(m, k).astype(np.float64)
    dth = (
        np.bincount(key[ev], weights=None if w is None else w[ev], minlength=m * k)
        .reshape(m, k)
        .astype(np.float64)
    )
    D = dth.sum(axis=1)
    keep = D > 0
    nrisk = np.cumsum(cnt[::-1], axis=0)[::-1][keep]
    dth, D = dth[keep], D[keep]
    if en is not None:
        ut = utime[keep]
        for gi in range(k):
            eg = np.sort(en[g == gi])
            if eg.size:
                nrisk[:, gi] -= eg.size - np.searchsorted(eg, ut, side="left")
    N = nrisk.sum(axis=1)
    if rho != 0:
        surv = np.cumprod((N - D) / N)
        w = np.concatenate([[1.0], surv[:-1]]) ** rho
    else:
        w = np.ones(D.size)
    obs = (w[:, None] * dth).sum(axis=0)
    exp = ((w * D / N)[:, None] * nrisk).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kk = np.where(N > 1, w * w * D * (N - D) / (N * (N - 1)), 0.0)
    var = np.diag((kk[:, None] * nrisk).sum(axis=0)) - (nrisk * (kk / N)[:, None]).T @ nrisk
    return obs, exp, var


def _prepare(time, event, group, strata, entry, names):
    t, e, en, _ = check_survival_input(time, event, entry, None, names=names)
    n = t.size
    gname = (names or {}).get("group", "group")
    if group is None:
        raise InputError("a grouping variable is required", column=gname)
    levels, gcodes = group_codes(group, n, name=gname)
    if strata is not None:
        slevels, scodes = group_codes(strata, n, name=(names or {}).get("strata", "strata"))
    else:
        slevels, scodes = None, None
    return t, e, en, levels, gcodes, slevels, scodes


def _oev(t, e, en, gcodes, k, scodes, ns, rho, w=None):
    utime, j = time_codes(t)
    O = np.zeros(k)
    E = np.zeros(k)
    V = np.zeros((k, k))
    for s in range(ns):
        if scodes is None or ns == 1:
            sel = slice(None)
        else:
            sel = scodes == s
        o, ex, v = _sums(
            j[sel],
            utime,
            e[sel],
            gcodes[sel],
            None if en is None else en[sel],
            k,
            rho,
            None if w is None else w[sel],
        )
        O += o
        E += ex
        V += v
    return O, E, V


def _chisq(O, E, V):
    use = np.flatnonzero(E > 0)
    df = use.size - 1
    if use.size < 2:
        return 0.0, max(df, 0)
    idx = use[1:]
    oe = (O - E)[idx]
    vv = V[np.ix_(idx, idx)]
    try:
        sol = np.linalg.solve(vv, oe)
    except np.linalg.LinAlgError:
        warnings.warn(
            "the variance matrix of O - E is singular; a generalised inverse was used",
            SparseDataWarning,
            stacklevel=3,
        )
        sol = np.linalg.pinv(vv) @ oe
    return float(sol @ oe), int(df)


def _label(level: Any, labels: Sequence[Any] | None) -> str:
    """A group level for messages: its label as written (quoted), via ``labels`` if given."""
    if labels is not None:
        try:
            level = labels[int(level)]
        except (TypeError, ValueError, IndexError):
            pass
    return f"'{level}'"


def logrank_test(
    time: Any,
    event: Any,
    group: Any,
    *,
    strata: Any = None,
    rho: float = 0.0,
    entry: Any = None,
    names: dict | None = None,
    labels: Sequence[Any] | None = None,
    counts: Any = None,
) -> LogrankResult:
    """Log-rank / Fleming-Harrington test of k groups, as ``survdiff``.

    Parameters
    ----------
    time, event : array_like
        Follow-up time and 0/1 event indicator.
    group : array_like
        Group labels (sorted order in the output).
    strata : array_like, optional
        Stratum labels: O, E and V are summed over strata (``+ strata(x)`` in R); with
        rho != 0 the weights are the within-stratum pooled KM.
    rho : float
        Fleming-Harrington exponent: weights S(t-)^rho (0 = log-rank, 1 = Peto-Peto).
    entry : array_like, optional
        Entry times for left-truncated data (entry < t <= time at risk).
    names : dict, optional
        Names for error messages (keys ``time``, ``event``, ``group``, ``strata``, ``entry``).
    labels : sequence, optional
        When ``group`` holds integer codes 0..k-1, the label of each code as the user wrote
        it (e.g. the CSV values); used only in messages, so that an error shows ``'a'``
        rather than the internal code ``0``.
    counts : array_like, optional
        Frequency counts: row i stands for ``counts[i]`` identical records (positive
        integers; not with ``entry``). A table of counts per (stratum, group, time,
        status) gives the records' result (:mod:`cartlens.stats.aggregate`).

    Returns
    -------
    LogrankResult

    Warns
    -----
    NoEventsWarning
        No events at all: chisq = 0, df = 0, p = 1.
    SparseDataWarning
        Fewer than two groups have expected events > 0 (chisq = 0, df = 0, p = 1).

    References
    ----------
    Mantel N. Cancer Chemother Rep 1966;50:163-170. Harrington DP, Fleming TR. Biometrika
    1982;69:553-566. Therneau TM. survival 3.5-3, ``survdiff``.
    """
    rho = float(rho)
    if not math.isfinite(rho):
        raise InputError(f"must be a finite number; got {rho}", column="rho")
    t, e, en, levels, gcodes, slevels, scodes = _prepare(time, event, group, strata, entry, names)
    k = len(levels)
    if k < 2:
        shown = [_label(v, labels) for v in levels]
        raise InputError(
            "needs at least 2 groups to compare; found only "
            + (", ".join(shown) if shown else "none")
            + (" (one group)" if len(shown) == 1 else ""),
            column=(names or {}).get("group", "group"),
        )
    ns = 1 if slevels is None else len(slevels)
    w = None
    if counts is not None:
        if en is not None:
            raise InputError("frequency counts cannot be combined with entry", column="counts")
        w = np.asarray(counts, dtype=float)
        if w.shape != t.shape or not np.all(np.isfinite(w) & (w >= 1) & (w == np.rint(w))):
            raise InputError("must be one positive integer per row", column="counts")
    O, E, V = _oev(t, e, en, gcodes, k, scodes, ns, rho, w)
    nev = int(e.sum()) if w is None else int(np.rint(w[e == 1].sum()))
    if nev == 0:
        warnings.warn(
            "no events: the test is undefined (chisq = 0, p = 1)", NoEventsWarning, stacklevel=2
        )
        chisq, df, p = 0.0, 0, 1.0
    else:
        chisq, df = _chisq(O, E, V)
        if df < 1:
            warnings.warn(
                "fewer than two groups have subjects at risk at event times; no test "
                "(chisq = 0, p = 1)",
                SparseDataWarning,
                stacklevel=2,
            )
            p = 1.0
        else:
            p = float(chi2.sf(chisq, df))
    counts = np.rint(np.bincount(gcodes, weights=w, minlength=k)).astype(np.int64)
    groups = tuple(
        {
            "group": lab,
            "n": int(counts[i]),
            "observed": float(O[i]),
            "expected": float(E[i]),
            "o_minus_e": float(O[i] - E[i]),
        }
        for i, lab in enumerate(levels)
    )
    strata_info = None
    if slevels is not None:
        sc = np.rint(np.bincount(scodes, weights=w, minlength=len(slevels))).astype(np.int64)
        strata_info = tuple({"stratum": s, "n": int(sc[i])} for i, s in enumerate(slevels))
    method = "log-rank" if rho == 0 else f"Fleming-Harrington (rho = {rho:g})"
    return LogrankResult(
        chisq=float(chisq),
        df=int(df),
        p=p,
        groups=groups,
        var=V,
        rho=rho,
        strata=strata_info,
        n=int(t.size) if w is None else int(np.rint(w.sum())),
        events=nev,
        left_truncated=en is not None,
        method=method,
    )


def logrank_trend(
    time: Any,
    event: Any,
    group: Any,
    *,
    scores: Sequence[float] | None = None,
    strata: Any = None,
    rho: float = 0.0,
    entry: Any = None,
    names: dict | None = None,
) -> LogrankTrendResult:
    """Log-rank test for trend across ordered groups.

    U = sum_g s_g (O_g - E_g) with var(U) = s' V s, where O, E and V are exactly those of
    :func:`logrank_test` (same weights, strata and truncation), and chisq = U^2 / var(U) on
    1 df.

    Scores: ``scores`` gives one score per group in sorted group order. By default the group
    values themselves are the scores when every label is a number (e.g. ECOG 0-3, dose
    levels); otherwise the groups get 1, 2, ..., k in sorted order. With two groups the trend
    test equals the log-rank test.

    Parameters
    ----------
    time, event, group, strata, rho, entry, names
        As :func:`logrank_test`.
    scores : sequence of float, optional
        Scores of the groups in sorted group order.

    Returns
    -------
    LogrankTrendResult

    References
    ----------
    Collett D. Modelling Survival Data in Medical Research, 3rd ed. CRC Press, 2015,
    section 2.6.4 (log-rank test for trend). Peto R, Pike MC, Armitage P, et al. Br J Cancer
    1977;35:1-39.
    """
    res = logrank_test(time, event, group, strata=strata, rho=rho, entry=entry, names=names)
    levels = [g["group"] for g in res.groups]
    if scores is None:
        if all(
            isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            for v in levels
        ):
            s = np.array(levels, dtype=float)
        else:
            s = np.arange(1, len(levels) + 1, dtype=float)
    else:
        s = np.asarray(scores, dtype=float)
        if s.shape != (len(levels),) or not np.isfinite(s).all():
            raise InputError(
                f"needs one finite score per group ({len(levels)} groups: {levels!r})",
                column="scores",
            )
    oe = np.array([g["o_minus_e"] for g in res.groups])
    u = float(s @ oe)
    v = float(s @ res.var @ s)
    if v <= 0:
        warnings.warn(
            "the trend statistic has zero variance (chisq = 0, p = 1)",
            SparseDataWarning,
            stacklevel=2,
        )
        chisq, p, z = 0.0, 1.0, 0.0
    else:
        chisq = u * u / v
        z = u / math.sqrt(v)
        p = float(2 * norm.sf(abs(z)))
    return LogrankTrendResult(
        chisq=float(chisq),
        df=1,
        p=p,
        z=float(z),
        u=u,
        var=v,
        scores=tuple(float(x) for x in s),
        groups=res.groups,
        rho=res.rho,
        n=res.n,
        events=res.events,
        stratified=res.strata is not None,
    )


def pairwise_logrank(
    time: Any,
    event: Any,
    group: Any,
    *,
    strata: Any = None,
    rho: float = 0.0,
    entry: Any = None,
    adjust: str = "holm",
    names: dict | None = None,
) -> PairwiseLogrankResult:
    """Log-rank tests between every pair of groups with adjusted p-values.

    Each pair is tested on the records of its two groups only (as ``survminer::
    pairwise_survdiff``), with the same ``strata``/``rho``/``entry``; p-values are adjusted
    over all pairs with Holm's step-down method (default), Bonferroni, or not at all.

    Returns
    -------
    PairwiseLogrankResult

    References
    ----------
    Holm S. Scand J Stat 1979;6:65-70.
    """
    if adjust not in ("holm", "bonferroni", "none"):
        raise InputError(f"must be 'holm', 'bonferroni' or 'none'; got {adjust!r}", column="adjust")
    t, e, en, _ = check_survival_input(time, event, entry, None, names=names)
    levels, gcodes = group_codes(group, t.size, name=(names or {}).get("group", "group"))
    st = None if strata is None else np.asarray(strata)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparseDataWarning)
        for a, b in itertools.combinations(range(len(levels)), 2):
            m = (gcodes == a) | (gcodes == b)
            r = logrank_test(
                t[m],
                e[m],
                gcodes[m],
                strata=None if st is None else st[m],
                rho=rho,
                entry=None if en is None else en[m],
                names=names,
            )
            rows.append(
                {
                    "group1": levels[a],
                    "group2": levels[b],
                    "n": int(m.sum()),
                    "chisq": r.chisq,
                    "df": r.df,
                    "p": r.p,
                }
            )
    adj = p_adjust([r["p"] for r in rows], adjust)
    for r, pa in zip(rows, adj, strict=True):
        r["p_adjusted"] = float(pa)
    return PairwiseLogrankResult(tuple(rows), adjust, float(rho), strata is not None)
