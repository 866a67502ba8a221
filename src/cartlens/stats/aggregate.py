"""Aggregate, then estimate: survival statistics from sufficient statistics, not patient rows.

Two kinds of aggregate are enough for the estimators a study uses:

* a **count table** (:class:`SurvivalCounts`): one row per (stratum, group, time, status) with
  the number of records; status 0 is censored, any other value an event of that cause.
  Kaplan-Meier, the log-rank / Fleming-Harrington test (with strata), the Aalen-Johansen
  cumulative incidence (cmprsk ``cuminc``) and Gray's test depend on the data only through
  it, and the row-level functions accept it as frequency counts (``weights`` for
  :func:`~cartlens.stats.km.kaplan_meier`, ``counts`` for
  :func:`~cartlens.stats.logrank.logrank_test` and :func:`~cartlens.stats.competing.cuminc`),
  so the estimates are those of the records, computed in O(distinct rows).
* **risk-set sums** for Cox's partial likelihood (:class:`CoxRiskSetSums`): per stratum and
  event time, at a given beta, the number and weight of deaths, the deaths' sum of w x, and
  the sums of r = w exp(x'beta), r x and r x x' over the risk set and over the deaths. The
  log partial likelihood, score and information (Breslow or Efron ties, R's weighted Efron)
  follow in O(event times p^2), so Newton's method (:func:`cox_newton`) needs one
  aggregation per iteration; sums from several sites add up time by time
  (:func:`combine_risk_set_sums`), which gives the pooled (unstratified) model exactly.

Both are made by SQL next to the data (:mod:`cartlens.derive.aggregate`, DuckDB or Spark);
the functions here also make them from arrays (the reference the SQL is tested against).
Counting-process ``(start, stop]`` data are not covered.

References
----------
Therneau TM, Grambsch PM. Modeling Survival Data: Extending the Cox Model. Springer, 2000
(sections 3.2-3.3: the partial likelihood, Efron's approximation, its derivatives).
Lu CL, Wang S, Ji Z, et al. WebDISCO: a web service for distributed Cox model learning
without patient-level data sharing. J Am Med Inform Assoc 2015;22:1212-1219.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats as _st

from cartlens.errors import ConvergenceWarning, InputError
from cartlens.results import Result
from cartlens.stats._linalg import linear_predictor

__all__ = [
    "SurvivalCounts",
    "survival_counts",
    "counts_from_frame",
    "combine_counts",
    "km_from_counts",
    "logrank_from_counts",
    "cuminc_from_counts",
    "CoxRiskSetSums",
    "cox_risk_set_sums",
    "risk_set_sums_from_frame",
    "combine_risk_set_sums",
    "cox_partial_likelihood",
    "CoxAggregateResult",
    "CoxRounds",
    "cox_newton",
]


# --------------------------------------------------------------------------------------------
# count tables
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class SurvivalCounts(Result):
    """Records per (stratum, group, time, status); status 0 = censored, else the cause.

    ``stratum`` and ``group`` hold labels (``None`` where the table has no strata / groups);
    ``count`` the number of records (positive integers).
    """

    stratum: np.ndarray
    group: np.ndarray
    time: np.ndarray
    status: np.ndarray
    count: np.ndarray

    @property
    def n(self) -> int:
        return int(self.count.sum())

    @property
    def has_groups(self) -> bool:
        return any(g is not None for g in self.group)

    @property
    def has_strata(self) -> bool:
        return any(s is not None for s in self.stratum)


def _labels(v: Any, n: int) -> np.ndarray:
    if v is None:
        return np.full(n, None, dtype=object)
    a = np.asarray(v, dtype=object)
    if a.shape != (n,):
        raise InputError(f"has {a.size} values for {n} rows", column="group/strata")
    return a


def _collapse(stratum, group, time, status, count) -> SurvivalCounts:
    """Sum ``count`` over identical (stratum, group, time, status) keys, sorted by them."""
    import pandas as pd

    def key(v):
        return np.array(["\0none" if _isnull(x) else x for x in v], dtype=object)

    df = pd.DataFrame({"s": key(stratum), "g": key(group), "t": time, "e": status, "n": count})
    agg = df.groupby(["s", "g", "t", "e"], sort=True, dropna=False)["n"].sum().reset_index()

    def back(col):
        return np.array([None if x == "\0none" else x for x in agg[col]], dtype=object)

    return SurvivalCounts(
        stratum=back("s"),
        group=back("g"),
        time=agg["t"].to_numpy(float),
        status=agg["e"].to_numpy(),
        count=agg["n"].to_numpy(np.int64),
    )


def survival_counts(
    time: Any, status: Any, *, group: Any = None, strata: Any = None
) -> SurvivalCounts:
    """The count table of records (what :func:`cartlens.derive.aggregate.survival_counts_sql`
    computes in the database)."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(status)
    if t.shape != e.shape or t.ndim != 1:
        raise InputError("time and status must be 1-d of equal length", column="status")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InputError("must be finite and >= 0", column="time")
    n = t.size
    return _collapse(_labels(strata, n), _labels(group, n), t, e, np.ones(n, np.int64))


def counts_from_frame(df: Any) -> SurvivalCounts:
    """A count table from a frame with columns ``stratum, grp, time, status, n`` (the SQL's
    output; ``stratum`` / ``grp`` may be absent or null)."""
    n = len(df)
    for col in ("time", "status", "n"):
        if col not in df:
            raise InputError("missing from the count table", column=col)

    def lab(col):
        if col not in df:
            return np.full(n, None, dtype=object)
        return np.array([None if _isnull(x) else x for x in df[col]], dtype=object)

    cnt = np.asarray(df["n"], dtype=float)
    if np.any(cnt < 0) or np.any(cnt != np.rint(cnt)):
        raise InputError("counts must be non-negative integers", column="n")
    keep = cnt > 0
    return _collapse(
        lab("stratum")[keep],
        lab("grp")[keep],
        np.asarray(df["time"], dtype=float)[keep],
        np.asarray(df["status"])[keep],
        cnt[keep].astype(np.int64),
    )


def _isnull(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def combine_counts(tables: Sequence[SurvivalCounts]) -> SurvivalCounts:
    """Several sites' count tables as one (counts of equal keys are added)."""
    if not tables:
        raise InputError("no count tables to combine", column="tables")
    return _collapse(
        np.concatenate([c.stratum for c in tables]),
        np.concatenate([c.group for c in tables]),
        np.concatenate([c.time for c in tables]),
        np.concatenate([c.status for c in tables]),
        np.concatenate([c.count for c in tables]),
    )


def km_from_counts(counts: SurvivalCounts, *, conf_type: str = "log", conf_level: float = 0.95):
    """Kaplan-Meier curves (by group) from a count table: ``survfit`` of the records.

    Any non-zero status is an event. Greenwood variance (counts are frequencies, not
    sampling weights).
    """
    from cartlens.stats.km import kaplan_meier

    res = kaplan_meier(
        counts.time,
        (np.asarray(counts.status) != 0).astype(float),
        weights=counts.count.astype(float),
        group=counts.group if counts.has_groups else None,
        conf_type=conf_type,
        conf_level=conf_level,
        robust=False,
    )
    # the counts are records, not sampling weights: n is their number, the fit unweighted
    n_by_group: dict = {}
    for g, c in zip(counts.group, counts.count):
        n_by_group[g] = n_by_group.get(g, 0) + int(c)
    curves = tuple(
        dataclasses.replace(
            cv, n=n_by_group[cv.group if counts.has_groups else None], weighted=False
        )
        for cv in res.curves
    )
    return dataclasses.replace(res, curves=curves)


def logrank_from_counts(counts: SurvivalCounts, *, rho: float = 0.0):
    """Log-rank / Fleming-Harrington test (with the table's strata) from a count table."""
    from cartlens.stats.logrank import logrank_test

    return logrank_test(
        counts.time,
        (np.asarray(counts.status) != 0).astype(float),
        counts.group,
        strata=counts.stratum if counts.has_strata else None,
        rho=rho,
        counts=counts.count,
    )


def cuminc_from_counts(
    counts: SurvivalCounts,
    *,
    rho: float = 0.0,
    conf_type: str = "log-log",
    conf_level: float = 0.95,
    causes: Sequence[Any] | None = None,
):
    """Cumulative incidence by group and cause with Gray's test, from a count table."""
    from cartlens.stats.competing import cuminc

    return cuminc(
        counts.time,
        counts.status,
        group=counts.group if counts.has_groups else None,
        strata=counts.stratum if counts.has_strata else None,
        rho=rho,
        conf_type=conf_type,
        conf_level=conf_level,
        causes=causes,
        counts=counts.count,
    )


# --------------------------------------------------------------------------------------------
# Cox: risk-set sums at a given beta
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class CoxRiskSetSums(Result):
    """Per (stratum, event time), at ``beta`` (covariates centred at ``center``):

    ``ndead`` deaths, ``deadwt`` their weight, ``xd`` their sum of w x (m, p); over the risk
    set (time >= t) ``r0`` = sum r, ``r1`` = sum r x (m, p), ``r2`` = sum r x x' (m, p, p)
    with r = w exp(x'beta); ``d0``, ``d1``, ``d2`` the same over the deaths at t.
    ``n`` and ``events`` count the records and deaths.
    """

    beta: np.ndarray
    center: np.ndarray
    stratum: np.ndarray
    time: np.ndarray
    ndead: np.ndarray
    deadwt: np.ndarray
    xd: np.ndarray
    r0: np.ndarray
    r1: np.ndarray
    r2: np.ndarray
    d0: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    n: int
    events: int


def cox_risk_set_sums(
    time: Any,
    event: Any,
    X: Any,
    beta: Any,
    *,
    strata: Any = None,
    weights: Any = None,
    center: Any = None,
    at: Sequence[tuple[Any, float]] | None = None,
) -> CoxRiskSetSums:
    """Risk-set sums of records at ``beta`` (the SQL's reference): one sort, reverse cumsums.

    By default at the records' own event times; ``at`` ((stratum label or None, time)
    pairs) gives them at other times too (for pooling across sites).
    """
    t = np.asarray(time, dtype=float)
    d = np.asarray(event, dtype=float)
    x = np.asarray(X, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    n, p = x.shape
    b = np.asarray(beta, dtype=float).reshape(p)
    c = np.zeros(p) if center is None else np.asarray(center, dtype=float).reshape(p)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    s = _labels(strata, n)
    xc = x - c
    r = w * np.exp(linear_predictor(xc, b))  # column by column: equal rows, equal r
    # per (stratum, time) sums, then reverse cumulative sums within stratum
    skeys = np.array([("" if v is None else str(v)) for v in s], dtype=object)
    slev, scode = np.unique(skeys, return_inverse=True)
    order = np.lexsort((t, scode))
    ts, ss = t[order], scode[order]
    new = np.r_[True, (np.diff(ts) != 0) | (np.diff(ss) != 0)]
    starts = np.flatnonzero(new)
    gid = np.cumsum(new) - 1
    ng = starts.size
    xs, rs, ds, ws = xc[order], r[order], d[order], w[order]

    def gsum(v):
        out = np.zeros((ng,) + v.shape[1:])
        np.add.at(out, gid, v)
        return out

    rx = rs[:, None] * xs
    rxx = rx[:, :, None] * xs[:, None, :]
    g_r0, g_r1, g_r2 = gsum(rs), gsum(rx), gsum(rxx)
    dead = ds == 1
    g_nd = gsum(dead.astype(float))
    g_dw = gsum(ws * dead)
    g_xd = gsum((ws * dead)[:, None] * xs)
    g_d0, g_d1, g_d2 = gsum(rs * dead), gsum(rx * dead[:, None]), gsum(rxx * dead[:, None, None])
    g_s = ss[starts]
    # reverse cumsum within stratum: total from the group to the stratum's end
    bounds = np.r_[np.flatnonzero(np.diff(g_s)) + 1, ng]

    def rcum(v):
        out = np.empty_like(v)
        lo = 0
        for hi in bounds:
            out[lo:hi] = np.cumsum(v[lo:hi][::-1], axis=0)[::-1]
            lo = hi
        return out

    R0, R1, R2 = rcum(g_r0), rcum(g_r1), rcum(g_r2)
    g_t = ts[starts]
    g_lab = np.array([None if slev[i] == "" else slev[i] for i in g_s], dtype=object)
    if at is None:
        ev = g_nd > 0
        pick = {
            "stratum": g_lab[ev],
            "time": g_t[ev],
            **{
                k: v[ev]
                for k, v in dict(
                    ndead=g_nd,
                    deadwt=g_dw,
                    xd=g_xd,
                    r0=R0,
                    r1=R1,
                    r2=R2,
                    d0=g_d0,
                    d1=g_d1,
                    d2=g_d2,
                ).items()
            },
        }
    else:
        pick = _sums_at_points(
            at, slev, g_s, g_t, bounds, (g_nd, g_dw, g_xd, R0, R1, R2, g_d0, g_d1, g_d2), p
        )
    return CoxRiskSetSums(beta=b, center=c, **pick, n=int(n), events=int(dead.sum()))


def _sums_at_points(at, slev, g_s, g_t, bounds, arrays, p) -> dict:
    """Risk-set sums at (stratum, time) points: the first group time >= t of the stratum
    (0 beyond the last); deaths only where a group time equals t."""
    nd, dw, xd, R0, R1, R2, d0, d1, d2 = arrays
    m = len(at)
    out = {
        "ndead": np.zeros(m),
        "deadwt": np.zeros(m),
        "xd": np.zeros((m, p)),
        "r0": np.zeros(m),
        "r1": np.zeros((m, p)),
        "r2": np.zeros((m, p, p)),
        "d0": np.zeros(m),
        "d1": np.zeros((m, p)),
        "d2": np.zeros((m, p, p)),
    }
    lo_of = {}
    lo = 0
    for hi in bounds:
        lo_of[int(g_s[lo])] = (lo, hi)
        lo = hi
    code = {("" if v == "" else v): i for i, v in enumerate(slev)}
    for row, (st, t) in enumerate(at):
        key = "" if st is None else str(st)
        if key not in code or code[key] not in lo_of:
            continue
        lo, hi = lo_of[code[key]]
        j = lo + int(np.searchsorted(g_t[lo:hi], t, side="left"))
        if j >= hi:
            continue
        out["r0"][row], out["r1"][row], out["r2"][row] = R0[j], R1[j], R2[j]
        if g_t[j] == t:
            out["ndead"][row], out["deadwt"][row], out["xd"][row] = nd[j], dw[j], xd[j]
            out["d0"][row], out["d1"][row], out["d2"][row] = d0[j], d1[j], d2[j]
    out["stratum"] = np.array([a[0] for a in at], dtype=object)
    out["time"] = np.array([a[1] for a in at], dtype=float)
    return out


def risk_set_sums_from_frame(
    df: Any, p: int, beta: Any, center: Any, n: int | None = None
) -> CoxRiskSetSums:
    """Risk-set sums from the SQL's frame (:func:`cartlens.derive.aggregate.cox_sums_sql`):
    columns ``stratum, time, ndead, deadwt, xd_i, r0, r1_i, r2_i_j, d0, d1_i, d2_i_j``
    (i <= j; the lower triangle is filled by symmetry)."""
    m = len(df)

    def col(name):
        if name not in df:
            raise InputError("missing from the risk-set sums", column=name)
        return np.asarray(df[name], dtype=float)

    def mat(prefix):
        out = np.zeros((m, p, p))
        for i in range(p):
            for j in range(i, p):
                out[:, i, j] = out[:, j, i] = col(f"{prefix}_{i}_{j}")
        return out

    def vec(prefix):
        return np.column_stack([col(f"{prefix}_{i}") for i in range(p)]) if p else np.zeros((m, 0))

    stratum = (
        np.array([None if _isnull(x) else x for x in df["stratum"]], dtype=object)
        if "stratum" in df
        else np.full(m, None, dtype=object)
    )
    nd = col("ndead")
    return CoxRiskSetSums(
        beta=np.asarray(beta, dtype=float),
        center=np.asarray(center, dtype=float),
        stratum=stratum,
        time=col("time"),
        ndead=nd,
        deadwt=col("deadwt"),
        xd=vec("xd"),
        r0=col("r0"),
        r1=vec("r1"),
        r2=mat("r2"),
        d0=col("d0"),
        d1=vec("d1"),
        d2=mat("d2"),
        n=int(n) if n is not None else -1,
        events=int(round(nd.sum())),
    )


def _pair_key(pair):
    """Sort key of a (stratum label or None, time) pair."""
    return ("" if pair[0] is None else str(pair[0]), pair[1])


def combine_risk_set_sums(parts: Sequence[CoxRiskSetSums]) -> CoxRiskSetSums:
    """Sites' risk-set sums (same beta and centre) added per (stratum, event time).

    Risk sets span sites: a site's records at risk at another site's event time count there
    too. Each site therefore reports its sums at every pooled event time (``at`` of
    :func:`cox_risk_set_sums`; deaths 0 where it has none), and this function adds the
    aligned rows (times with no deaths anywhere are dropped).
    """
    if not parts:
        raise InputError("no risk-set sums to combine", column="sites")
    b, c = parts[0].beta, parts[0].center
    for q in parts[1:]:
        if not (np.array_equal(q.beta, b) and np.array_equal(q.center, c)):
            raise InputError("sites' sums were computed at different beta or centre", column="beta")
    keys = [list(zip(q.stratum, q.time)) for q in parts]
    allk = sorted({k for ks in keys for k in ks}, key=_pair_key)
    index = {k: i for i, k in enumerate(allk)}
    m = len(allk)
    acc = {
        f: np.zeros((m,) + getattr(parts[0], f).shape[1:])
        for f in ("ndead", "deadwt", "xd", "r0", "r1", "r2", "d0", "d1", "d2")
    }
    for q, ks in zip(parts, keys):
        rows = np.array([index[k] for k in ks], dtype=np.int64)
        for f in acc:
            np.add.at(acc[f], rows, getattr(q, f))
    keep = acc["ndead"] > 0
    return CoxRiskSetSums(
        beta=b,
        center=c,
        stratum=np.array([k[0] for k in allk], dtype=object)[keep],
        time=np.array([k[1] for k in allk], dtype=float)[keep],
        **{f: v[keep] for f, v in acc.items()},
        n=int(sum(q.n for q in parts)),
        events=int(sum(q.events for q in parts)),
    )


def cox_partial_likelihood(sums: CoxRiskSetSums, ties: str = "efron"):
    """(log partial likelihood, score, information) at ``sums.beta`` (R's ``coxph``
    formulas; Efron with weights uses the deaths' mean weight, as ``coxfit6``)."""
    if ties not in ("efron", "breslow"):
        raise InputError("must be 'efron' or 'breslow'", column="ties")
    b = sums.beta
    p = b.size
    # sum over deaths of w (x - c)'beta: sum of log-risk of deaths
    ll = float(np.sum(sums.xd @ b))
    score = sums.xd.sum(axis=0)
    info = np.zeros((p, p))
    nd = np.rint(sums.ndead).astype(np.int64)
    if ties == "breslow" or not np.any(nd > 1):
        dw = sums.deadwt
        mean1 = sums.r1 / sums.r0[:, None]
        ll -= float(np.sum(dw * np.log(sums.r0)))
        score = score - (dw[:, None] * mean1).sum(axis=0)
        info = (dw[:, None, None] * (sums.r2 / sums.r0[:, None, None])).sum(axis=0) - np.einsum(
            "t,ti,tj->ij", dw, mean1, mean1
        )
        return ll, score, info
    # Efron: per event time, k = 0..ndead-1, denominator r0 - (k / ndead) d0
    rep = np.repeat(np.arange(nd.size), nd)
    k = np.arange(rep.size) - np.repeat(np.cumsum(nd) - nd, nd)
    frac = k / nd[rep]
    meanwt = (sums.deadwt / nd)[rep]
    den = sums.r0[rep] - frac * sums.d0[rep]
    a = sums.r1[rep] - frac[:, None] * sums.d1[rep]
    cc = sums.r2[rep] - frac[:, None, None] * sums.d2[rep]
    ll -= float(np.sum(meanwt * np.log(den)))
    abar = a / den[:, None]
    score = score - (meanwt[:, None] * abar).sum(axis=0)
    info = (meanwt[:, None, None] * (cc / den[:, None, None])).sum(axis=0) - np.einsum(
        "t,ti,tj->ij", meanwt, abar, abar
    )
    return ll, score, info


@dataclasses.dataclass(frozen=True, eq=False)
class CoxAggregateResult(Result):
    """A Cox model fitted from risk-set sums: coefficients, variance (inverse information),
    log partial likelihoods (null, final), likelihood-ratio test, Newton iterations."""

    terms: tuple
    coef: np.ndarray
    var: np.ndarray
    se: np.ndarray
    hr: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    p: np.ndarray
    loglik_null: float
    loglik: float
    lr_stat: float
    lr_p: float
    iterations: int
    converged: bool
    ties: str
    n: int
    events: int
    conf_level: float


@dataclasses.dataclass
class CoxRounds:
    """Coordinator state of the distributed Newton iteration (``coxph``'s ``coxfit6`` rule:
    a full step, halving when the log likelihood drops, stop when
    ``|1 - loglik_old / loglik| <= eps`` after a full step). ``beta_next`` is what the sites
    are asked to evaluate next; ``done`` once converged or out of iterations."""

    p: int
    center: list
    at: list
    ties: str = "efron"
    eps: float = 1e-9
    iter_max: int = 20
    terms: list = dataclasses.field(default_factory=list)
    round: int = 0
    beta: list = dataclasses.field(default_factory=list)
    beta_next: list = dataclasses.field(default_factory=list)
    oldlik: float | None = None
    loglik_null: float | None = None
    halving: bool = False
    done: bool = False
    converged: bool = False
    last: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.beta:
            self.beta = [0.0] * self.p
        if not self.beta_next:
            self.beta_next = [0.0] * self.p
        if not self.terms:
            self.terms = [f"x{i}" for i in range(self.p)]

    @classmethod
    def start(
        cls,
        summaries: Sequence[dict],
        *,
        ties: str = "efron",
        eps: float = 1e-9,
        iter_max: int = 20,
        terms: Sequence[str] | None = None,
    ) -> CoxRounds:
        """From the sites' :func:`site_event_summary` messages: pooled centre, union of
        event times, beta = 0."""
        if not summaries:
            raise InputError("no sites", column="sites")
        n = sum(s["n"] for s in summaries)
        p = len(summaries[0]["x_sum"])
        centre = (np.sum([s["x_sum"] for s in summaries], axis=0) / n).tolist()
        at = sorted({tuple(pr) for s in summaries for pr in s["event_times"]}, key=_pair_key)
        return cls(
            p=p,
            center=centre,
            at=[list(a) for a in at],
            ties=ties,
            eps=eps,
            iter_max=iter_max,
            terms=list(terms or (f"x{i}" for i in range(p))),
            beta=[0.0] * p,
            beta_next=[0.0] * p,
        )

    def request(self) -> dict:
        """What every site evaluates this round."""
        return {"round": self.round, "beta": self.beta_next, "center": self.center, "at": self.at}

    def update(self, site_sums: Sequence[CoxRiskSetSums]) -> None:
        """Add the sites' sums at ``beta_next`` and take the next Newton step."""
        from cartlens.stats.cox import _gchol_inverse

        if self.done:
            raise InputError("the iteration has finished", column="round")
        pooled = site_sums[0] if len(site_sums) == 1 else combine_risk_set_sums(site_sums)
        if not np.allclose(pooled.beta, self.beta_next, rtol=0, atol=0):
            raise InputError("sums were computed at another beta", column="beta")
        ll, u, imat = cox_partial_likelihood(pooled, self.ties)
        nb = np.asarray(self.beta_next, float)
        self.last = {
            "beta": nb.tolist(),
            "loglik": float(ll),
            "information": np.asarray(imat).tolist(),
            "n": pooled.n,
            "events": pooled.events,
        }
        if self.round == 0:
            self.loglik_null = self.oldlik = float(ll)
            self.beta = nb.tolist()
            if self.p == 0 or self.iter_max == 0:
                self.done = self.converged = True
            else:
                self.beta_next = (nb + _gchol_inverse(imat) @ u).tolist()
            self.round = 1
            return
        newlik = float(ll) if math.isfinite(ll) else -math.inf
        if math.isfinite(newlik) and abs(1 - self.oldlik / newlik) <= self.eps and not self.halving:
            self.done = self.converged = True
            return
        if self.round == self.iter_max:
            self.done = True
            return
        b = np.asarray(self.beta, float)
        if newlik < self.oldlik:
            self.halving = True
            self.beta_next = ((nb + b) / 2).tolist()
        else:
            self.halving = False
            self.oldlik = newlik
            self.beta = nb.tolist()
            self.beta_next = (nb + _gchol_inverse(imat) @ u).tolist()
        self.round += 1

    def result(self, conf_level: float = 0.95) -> CoxAggregateResult:
        """The fit at the last evaluated beta (call when ``done``)."""
        from cartlens.stats.cox import _gchol_inverse

        st = _st
        if not self.last:
            raise InputError("no round has been evaluated", column="round")
        beta = np.asarray(self.last["beta"], float)
        var = _gchol_inverse(np.asarray(self.last["information"], float))
        se = np.sqrt(np.diag(var))
        z = st.norm.ppf(0.5 + conf_level / 2)
        lr = 2.0 * (self.last["loglik"] - self.loglik_null)
        return CoxAggregateResult(
            terms=tuple(self.terms),
            coef=beta,
            var=var,
            se=se,
            hr=np.exp(beta),
            lower=np.exp(beta - z * se),
            upper=np.exp(beta + z * se),
            p=2.0 * st.norm.sf(np.abs(beta / se)),
            loglik_null=float(self.loglik_null),
            loglik=float(self.last["loglik"]),
            lr_stat=float(lr),
            lr_p=float(st.chi2.sf(lr, self.p)),
            iterations=int(self.round),
            converged=bool(self.converged),
            ties=self.ties,
            n=int(self.last["n"]),
            events=int(self.last["events"]),
            conf_level=conf_level,
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> CoxRounds:
        return cls(**json.loads(text))


def cox_newton(
    sums_at: Callable[[np.ndarray], CoxRiskSetSums],
    p: int,
    *,
    terms: Sequence[str] | None = None,
    ties: str = "efron",
    eps: float = 1e-9,
    iter_max: int = 20,
    conf_level: float = 0.95,
) -> CoxAggregateResult:
    """Newton-Raphson on the partial likelihood, one aggregation ``sums_at(beta)`` per step
    (:class:`CoxRounds`: ``coxph``'s update, step halving and stopping rule). ``sums_at``
    may query one store, or several sites and add their sums."""
    import warnings

    rounds = CoxRounds(
        p=p, center=[0.0] * p, at=[], ties=ties, eps=eps, iter_max=iter_max,
        terms=list(terms or (f"x{i}" for i in range(p))),
    )  # fmt: skip
    while not rounds.done:
        rounds.update([sums_at(np.asarray(rounds.beta_next, float))])
    if not rounds.converged:
        warnings.warn(
            f"Cox Newton iterations did not converge in {iter_max} steps",
            ConvergenceWarning,
            stacklevel=2,
        )
    return rounds.result(conf_level)
