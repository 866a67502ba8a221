"""Batched kernels: many resampling replicates per vectorised pass.

A bootstrap replicate of ``n`` rows is represented by a row of integer *frequency weights*
(how often each original row was drawn), so ``B`` replicates form a ``(B, n)`` count matrix.
The sort order and tie structure of the original data are computed once and reused by every
replicate; each kernel then works on whole ``(B, ...)`` arrays.

Each replicate's result equals the scalar estimator applied to the explicitly resampled
rows (a row drawn ``k`` times is ``k`` identical rows):

* :func:`km_quantile_batched` - Kaplan-Meier quantile (median) with the rule of R's
  ``survival:::findq`` (midpoint when S(t) sits at p within ``sqrt(eps)``).
* :class:`CoxBatch` - Newton-Raphson Cox partial likelihood with Efron or Breslow ties, where
  a row with frequency weight ``k`` counts as ``k`` duplicated rows.  For Efron this means the
  number of tied deaths at a time is the *sum of counts* of the death rows there; R's
  weighted Efron (``coxph(weights=)``) is different and is not what a bootstrap needs.
* :func:`logrank_batched` - log-rank O-E, variance and chi-square (as ``survdiff``) for many
  relabelings of the groups at once (permutation tests).

These are private building blocks of :mod:`cartlens.stats.resample`.

References
----------
Efron B, Tibshirani RJ (1993). An Introduction to the Bootstrap. Chapman & Hall.
Therneau TM, Grambsch PM (2000). Modeling Survival Data: Extending the Cox Model. Springer.
Efron B (1977). The efficiency of Cox's likelihood function for censored data. JASA 72:557-565.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: R's default tolerance in ``quantile.survfit``: ``sqrt(.Machine$double.eps)``.
QUANTILE_TOL = float(np.sqrt(np.finfo(float).eps))


def _reverse_cumsum(a: np.ndarray, axis: int = 1) -> np.ndarray:
    return np.flip(np.cumsum(np.flip(a, axis=axis), axis=axis), axis=axis)


# ---------------------------------------------------------------------------------------------
# Kaplan-Meier quantiles
# ---------------------------------------------------------------------------------------------


def _km_curves(
    time: np.ndarray, event: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct sorted times ``u``, each replicate's row count at them (``tot``, shape (B, len(u)))
    and its product-limit ``S`` there, for every row of ``counts`` (``time`` not empty)."""
    order = np.argsort(time, kind="stable")
    ts = time[order]
    es = event[order].astype(bool)
    starts = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1]])
    u = ts[starts]
    C = counts[:, order].astype(np.int64, copy=False)
    tot = np.add.reduceat(C, starts, axis=1)
    dth = np.add.reduceat(np.where(es, C, 0), starts, axis=1)
    nrisk = _reverse_cumsum(tot, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(nrisk > 0, dth / np.maximum(nrisk, 1), 0.0)
    S = np.cumprod(1.0 - h, axis=1)
    return u, tot, S


def km_quantile_batched(
    time: np.ndarray,
    event: np.ndarray,
    counts: np.ndarray,
    p: float = 0.5,
    tol: float = QUANTILE_TOL,
) -> np.ndarray:
    """Kaplan-Meier p-quantile of survival time for every row of ``counts``.

    Parameters
    ----------
    time, event : ndarray, shape (n,)
        Follow-up times and 0/1 event indicators of the original rows.
    counts : ndarray, shape (B, n)
        Non-negative integer frequency weights (one replicate per row).
    p : float
        The probability: the quantile is the time where 1 - S(t) reaches ``p``
        (``p = 0.5`` is the median).
    tol : float
        Tolerance of R's ``findq`` (default ``sqrt(.Machine$double.eps)``).

    Returns
    -------
    ndarray, shape (B,)
        The quantile per replicate; NaN where it is not reached (as R's ``NA``), including
        replicates with no rows at all.

    Notes
    -----
    R (``survival:::findq``) takes the first time where ``F = 1 - S`` is at least ``p - tol``
    and the first where it is at least ``p + tol``; the quantile is their midpoint (so the
    two agree unless S sits at 1 - p, when it is the midpoint of that time and the next event
    time). If S sits at 1 - p at the last event time, the second time is the last time of
    the curve. If ``F`` never reaches ``p`` the quantile is ``NA``.

    References
    ----------
    Therneau T (2023). survival: quantile.survfit, R package version 3.5-3.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event)
    counts = np.asarray(counts)
    B = counts.shape[0]
    if time.size == 0:
        return np.full(B, np.nan)
    u, tot, S = _km_curves(time, event, counts)
    F = 1.0 - S
    f_last = F[:, -1]
    reached = (f_last >= p) & (tot.sum(axis=1) > 0)
    m1 = F >= p - tol
    m2 = F >= p + tol
    j1 = np.argmax(m1, axis=1)
    has2 = m2.any(axis=1)
    j2 = np.argmax(m2, axis=1)
    # last time of each replicate's curve (largest time with a positive count)
    present = tot > 0
    jlast = present.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1)
    x2 = np.where(has2, u[j2], u[jlast])
    q = (u[j1] + x2) / 2.0
    return np.where(reached, q, np.nan)


def km_survival_batched(
    time: np.ndarray, event: np.ndarray, counts: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """Kaplan-Meier S(t) at the times ``at`` for every row of ``counts``.

    Returns an array of shape (B, len(at)): the product-limit estimate at each time, held
    constant after a replicate's last observation (as ``summary(fit, times, extend = TRUE)``);
    1 before the first event; NaN for replicates without rows.

    References
    ----------
    Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations.
    JASA 53:457-481.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event)
    counts = np.asarray(counts)
    at = np.atleast_1d(np.asarray(at, dtype=float))
    B = counts.shape[0]
    if time.size == 0:
        return np.full((B, at.size), np.nan)
    u, tot, S = _km_curves(time, event, counts)
    j = np.searchsorted(u, at, side="right") - 1
    out = np.where(j[None, :] >= 0, S[:, np.maximum(j, 0)], 1.0)
    return np.where((tot.sum(axis=1) > 0)[:, None], out, np.nan)


# ---------------------------------------------------------------------------------------------
# Cox proportional hazards
# ---------------------------------------------------------------------------------------------


#: How risk-set sums are formed: "matmul" (one BLAS product with a risk-set indicator design;
#: fastest on an idle machine) or "cumsum" (cumulative sums; no BLAS threads, so steadier
#: when the cores are shared).
RISK_SUMS = "cumsum"

#: Largest risk-set design (n x event times x (1 + p + p(p+1)/2)) held for the BLAS path.
_MATMUL_MAX = 4_000_000


@dataclass(frozen=True)
class _TieIndex:
    """Tied-death structure of a batch: counts and the Efron positions k = 1..d-1."""

    d: np.ndarray  # (b, D) number of deaths (sum of counts of event rows)
    idx: list  # per k >= 1: flat indices of (replicate, time) with d > k
    f: list  # per k >= 1: k / d at those positions

    @classmethod
    def build(cls, d: np.ndarray) -> _TieIndex:
        flat = d.ravel()
        idx, f = [], []
        k = 1
        while True:
            sel = np.flatnonzero(flat > k)
            if sel.size == 0:
                break
            idx.append(sel)
            f.append(k / flat[sel])
            k += 1
        return cls(d=d, idx=idx, f=f)


@dataclass(frozen=True)
class CoxBatchFit:
    """Per-replicate Cox fits (arrays over replicates)."""

    coef: np.ndarray  # (B, p)
    loglik: np.ndarray  # (B,)
    loglik_init: np.ndarray  # (B,)
    converged: np.ndarray  # (B,) bool
    iterations: np.ndarray  # (B,) int
    singular: np.ndarray  # (B,) bool: some column aliased (information matrix singular)
    aliased: np.ndarray  # (B, p) bool: coefficient not estimable (NaN in coef, as R's NA)
    events: np.ndarray  # (B,) number of events (sum of counts of event rows)


class CoxBatch:
    """Cox partial likelihood for many frequency-weighted replicates of one data set.

    The data are sorted once (by decreasing time) and centred once; risk-set sums at each
    distinct event time are cumulative sums over the sorted rows.

    Parameters
    ----------
    time, event : ndarray, shape (n,)
        Follow-up time and 0/1 event indicator.
    X : ndarray, shape (n, p)
        Covariates (already numeric; no missing values).
    ties : {"efron", "breslow"}
        Tie handling; a row with frequency weight k is k tied rows.

    References
    ----------
    Cox DR (1972). Regression models and life-tables. JRSS-B 34:187-220.
    Efron B (1977). The efficiency of Cox's likelihood function for censored data.
    JASA 72:557-565.
    Therneau TM, Grambsch PM (2000). Modeling Survival Data. Springer, ch. 3 (coxph's
    Newton-Raphson with step halving, convergence on the relative change of the log
    partial likelihood).
    """

    def __init__(
        self, time: np.ndarray, event: np.ndarray, X: np.ndarray, ties: str = "efron"
    ) -> None:
        if ties not in ("efron", "breslow"):
            raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
        time = np.asarray(time, dtype=float)
        event = np.asarray(event).astype(bool)
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        self.ties = ties
        self.n, self.p = X.shape
        order = np.argsort(-time, kind="stable")
        self.order = order
        ts = time[order]
        es = event[order]
        Xs = X[order] - X.mean(axis=0)
        self.Xs = Xs
        self.es = es
        # last row (in decreasing-time order) of each distinct time: risk set = rows [0, end]
        is_last = np.r_[ts[1:] != ts[:-1], True]
        ends_all = np.flatnonzero(is_last)
        # distinct times holding at least one event row
        time_id = np.cumsum(np.r_[True, ts[1:] != ts[:-1]]) - 1
        ev_rows = np.flatnonzero(es)
        ev_time_ids = np.unique(time_id[ev_rows])
        self.ends = ends_all[ev_time_ids]
        self.death_rows = ev_rows  # sorted; grouped by time (decreasing)
        dt = time_id[ev_rows]
        self.death_starts = np.flatnonzero(np.r_[True, dt[1:] != dt[:-1]])
        self.Xd = Xs[ev_rows]
        iu = np.triu_indices(self.p)
        self._iu = iu
        self.XX = Xs[:, iu[0]] * Xs[:, iu[1]]  # (n, q) upper-triangle products
        self.XXd = self.XX[ev_rows]
        D = self.ends.size
        blocks = np.concatenate([np.ones((self.n, 1)), Xs, self.XX], axis=1)  # (n, 1+p+q)
        # risk-set indicator R[i, j] = row i at risk at event time j (decreasing order)
        if self.n * D * blocks.shape[1] <= _MATMUL_MAX:
            R = (np.arange(self.n)[:, None] <= self.ends[None, :]).astype(float)
            self._M = (blocks[:, :, None] * R[:, None, :]).reshape(self.n, -1)
        else:
            self._M = None
        self._blocksT = np.ascontiguousarray(blocks.T)  # (1+p+q, n)
        self._blocksT_d = np.ascontiguousarray(blocks[ev_rows].T)

    # -- one evaluation of loglik, score and information for a batch --------------------
    def _risk_sums(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Risk-set sums S0 (b, D), S1 (b, p, D), S2 (b, q, D) at the event times."""
        b, p, q, D = r.shape[0], self.p, self.XX.shape[1], self.ends.size
        if self._M is not None and RISK_SUMS == "matmul":
            big = r @ self._M  # (b, (1+p+q) D): one BLAS call
            big = big.reshape(b, 1 + p + q, D)
            return big[:, 0], big[:, 1 : 1 + p], big[:, 1 + p :]
        # cumulative sums over rows in decreasing time, read at the last row of each time
        a = r[:, None, :] * self._blocksT[None]  # (b, 1+p+q, n)
        big = np.cumsum(a, axis=2)[:, :, self.ends]
        return big[:, 0], big[:, 1 : 1 + p], big[:, 1 + p :]

    def _death_sums(self, rd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sums over the event rows at each event time: A0 (b, D), A1 (b, p, D), A2."""
        p = self.p
        big = np.add.reduceat(rd[:, None, :] * self._blocksT_d[None], self.death_starts, axis=2)
        return big[:, 0], big[:, 1 : 1 + p], big[:, 1 + p :]

    def _evaluate(
        self, W: np.ndarray, beta: np.ndarray, tie: _TieIndex, sum_wx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.p
        eta = np.zeros_like(W)
        for k in range(p):
            eta += beta[:, k : k + 1] * self.Xs[:, k]
        r = W * np.exp(eta)
        S0, S1, S2 = self._risk_sums(r)
        dr = self.death_rows
        ll = np.einsum("bn,bn->b", W[:, dr], eta[:, dr])
        d = tie.d
        has = d > 0
        # C order matters below: the Efron loop updates flat views of these arrays in place
        S0safe = np.ascontiguousarray(np.where(has, S0, 1.0))
        if self.ties == "breslow":
            a0 = d / S0safe
            b0 = d / S0safe**2
            ll = ll - (d * np.log(S0safe)).sum(axis=1)
            U = sum_wx - np.einsum("bpd,bd->bp", S1, a0)
            Iq = np.einsum("bqd,bd->bq", S2, a0)
            I = self._unpack(Iq)
            I -= (S1 * b0[:, None, :]) @ S1.transpose(0, 2, 1)
            return ll, U, I
        # Efron: the first tied death (k = 0) has the full risk set as denominator
        shape = S0safe.shape
        a0 = np.ascontiguousarray(has / S0safe)
        b0 = np.ascontiguousarray(a0 / S0safe)
        logsum = np.ascontiguousarray(np.where(has, np.log(S0safe), 0.0))
        a1 = np.zeros(shape)
        b1 = np.zeros(shape)
        b2 = np.zeros(shape)
        if tie.idx:
            A0, A1, A2 = self._death_sums(r[:, dr])
            S0f, A0f = S0safe.reshape(-1), np.ascontiguousarray(A0).reshape(-1)
            a0f, a1f, b0f, b1f, b2f, lsf = (
                a0.reshape(-1),
                a1.reshape(-1),
                b0.reshape(-1),
                b1.reshape(-1),
                b2.reshape(-1),
                logsum.reshape(-1),
            )
            for idx, f in zip(tie.idx, tie.f):
                den = S0f[idx] - f * A0f[idx]
                inv = 1.0 / den
                inv2 = inv * inv
                lsf[idx] += np.log(den)
                a0f[idx] += inv
                a1f[idx] += f * inv
                b0f[idx] += inv2
                b1f[idx] += f * inv2
                b2f[idx] += f * f * inv2
        ll = ll - logsum.sum(axis=1)
        U = sum_wx - np.einsum("bpd,bd->bp", S1, a0)
        Iq = np.einsum("bqd,bd->bq", S2, a0)
        if tie.idx:
            U += np.einsum("bpd,bd->bp", A1, a1)
            Iq -= np.einsum("bqd,bd->bq", A2, a1)
        I = self._unpack(Iq)
        I -= (S1 * b0[:, None, :]) @ S1.transpose(0, 2, 1)
        if tie.idx:
            cross = (S1 * b1[:, None, :]) @ A1.transpose(0, 2, 1)
            I += cross + cross.transpose(0, 2, 1)
            I -= (A1 * b2[:, None, :]) @ A1.transpose(0, 2, 1)
        return ll, U, I

    def _unpack(self, Iq: np.ndarray) -> np.ndarray:
        I = np.zeros((Iq.shape[0], self.p, self.p))
        I[:, self._iu[0], self._iu[1]] = Iq
        I[:, self._iu[1], self._iu[0]] = Iq
        return I

    def fit(
        self,
        counts: np.ndarray,
        *,
        init: np.ndarray | None = None,
        max_iter: int = 30,
        eps: float = 1e-9,
        predict: bool = True,
    ) -> CoxBatchFit:
        """Fit every replicate (row of ``counts``) by Newton-Raphson with step halving.

        The iteration follows R's ``coxph.fit``: stop when ``|1 - loglik_old / loglik_new|
        <= eps`` after a full (not halved) step, halve the step when the log-likelihood
        decreases, at most ``max_iter`` iterations.

        With ``predict`` the last evaluation is skipped where the Newton step's predicted
        gain ``U' I^-1 U / 2`` is already below ``eps * |loglik|``: R would evaluate that
        step, find the gain below ``eps`` and return it, which is the step returned here
        (its log-likelihood is then the quadratic prediction). This saves one of typically
        three or four evaluations.
        """
        W = np.asarray(counts, dtype=float)[:, self.order]
        B, p = W.shape[0], self.p
        Wd = W[:, self.death_rows]
        dcount = np.add.reduceat(Wd, self.death_starts, axis=1) if Wd.shape[1] else Wd
        sum_wx = Wd @ self.Xd if Wd.shape[1] else np.zeros((B, p))
        beta = np.zeros((B, p)) if init is None else np.broadcast_to(init, (B, p)).copy()
        events = dcount.sum(axis=1)

        tie_all = self._ties_for(dcount)
        ll, U, I = self._evaluate(W, beta, tie_all, sum_wx)
        ll_init = ll.copy()
        converged = np.zeros(B, dtype=bool)
        aliased = np.zeros((B, p), dtype=bool)
        iters = np.zeros(B, dtype=int)
        halving = np.zeros(B, dtype=bool)
        step = self._solve(I, U, aliased)
        newbeta = beta + step
        active = np.flatnonzero(events > 0)
        converged[events == 0] = False

        def shortcut(idx: np.ndarray, st: np.ndarray) -> np.ndarray:
            """Mark replicates whose predicted gain is below eps converged; return them."""
            if not predict or idx.size == 0:
                return np.zeros(idx.size, dtype=bool)
            gain = 0.5 * np.einsum("bp,bp->b", U[idx], st)
            ok = np.isfinite(gain) & (np.abs(gain) <= eps * np.abs(ll[idx]))
            sel = idx[ok]
            beta[sel] = newbeta[sel]
            ll[sel] = ll[sel] + gain[ok]
            converged[sel] = True
            return ok

        first = shortcut(active, step[active])
        active = active[~first]
        tie, tie_rows = None, None
        for it in range(1, max_iter + 1):
            if active.size == 0:
                break
            if tie_rows is None or tie_rows.size != active.size:
                tie_rows = active
                tie = tie_all if active.size == B else self._ties_for(dcount[active])
            nll, nU, nI = self._evaluate(W[active], newbeta[active], tie, sum_wx[active])
            iters[active] = it
            old = ll[active]
            with np.errstate(divide="ignore", invalid="ignore"):
                done = (np.abs(1.0 - old / nll) <= eps) & ~halving[active]
            done |= nll == old  # e.g. both exactly 0
            worse = ~done & ~(nll >= old)  # also catches NaN
            better = ~done & ~worse
            # converged: accept new beta
            idx = active[done]
            beta[idx] = newbeta[idx]
            ll[idx] = nll[done]
            U[idx] = nU[done]
            I[idx] = nI[done]
            converged[idx] = True
            # worse: halve the step towards the last good beta
            idx = active[worse]
            newbeta[idx] = (newbeta[idx] + beta[idx]) / 2.0
            halving[idx] = True
            # better: accept and take a new Newton step
            idx = active[better]
            if idx.size:
                beta[idx] = newbeta[idx]
                ll[idx] = nll[better]
                U[idx] = nU[better]
                I[idx] = nI[better]
                halving[idx] = False
                al = aliased[idx]
                st = self._solve(I[idx], U[idx], al)
                newbeta[idx] = beta[idx] + st
                aliased[idx] = al
                fin = np.zeros(active.size, dtype=bool)
                fin[np.flatnonzero(better)[shortcut(idx, st)]] = True
                done |= fin
            active = active[~done]
        # replicates stopped by max_iter keep their last accepted beta (R returns the
        # last iterate; the difference is below eps in the log-likelihood anyway)
        coef = beta.copy()
        coef[aliased] = np.nan
        return CoxBatchFit(
            coef=coef,
            loglik=ll,
            loglik_init=ll_init,
            converged=converged,
            iterations=iters,
            singular=aliased.any(axis=1),
            aliased=aliased,
            events=events,
        )

    def _ties_for(self, d: np.ndarray) -> _TieIndex:
        if self.ties == "efron":
            return _TieIndex.build(d)
        return _TieIndex(d=d, idx=[], f=[])

    @staticmethod
    def _solve(I: np.ndarray, U: np.ndarray, aliased: np.ndarray) -> np.ndarray:
        """Newton steps ``I^-1 U`` per replicate; aliased columns get a zero step.

        A column is aliased when its Cholesky pivot falls below ``toler * max(diag(I))``
        (R's ``cholesky2`` with ``coxph.control()$toler.chol``); as in ``coxph``, the other
        coefficients are then fitted without it. ``aliased`` (b, p) is updated in place.
        """
        diag = np.einsum("bii->bi", I)
        maxd = diag.max(axis=1, keepdims=True)
        flagged = (diag <= _TOLER_CHOL * maxd).any(axis=1) | aliased.any(axis=1)
        out = np.zeros_like(U)
        ok = np.flatnonzero(~flagged)
        if ok.size:
            try:
                out[ok] = np.linalg.solve(I[ok], U[ok][:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                flagged[ok] = True
        for b in np.flatnonzero(flagged):
            keep = _cholesky_rank(I[b]) & ~aliased[b]
            aliased[b] |= ~keep
            if keep.any():
                sub = I[b][np.ix_(keep, keep)]
                out[b, keep] = np.linalg.lstsq(sub, U[b, keep], rcond=None)[0]
        return out


#: coxph.control()$toler.chol = .Machine$double.eps^0.75
_TOLER_CHOL = float(np.finfo(float).eps ** 0.75)


def _cholesky_rank(M: np.ndarray) -> np.ndarray:
    """Columns kept by R's ``cholesky2`` (pivot >= toler * max diagonal), in order."""
    A = np.array(M, dtype=float)
    p = A.shape[0]
    eps = _TOLER_CHOL * max(float(np.max(np.diag(A))), 0.0)
    keep = np.zeros(p, dtype=bool)
    for i in range(p):
        pivot = A[i, i]
        if not np.isfinite(pivot) or pivot <= eps:
            A[i:, i] = 0.0
            continue
        keep[i] = True
        for j in range(i + 1, p):
            temp = A[j, i] / pivot
            A[j, i] = temp
            A[j, j] -= temp * temp * pivot
            for k in range(j + 1, p):
                A[k, j] -= temp * A[k, i]
    return keep


# ---------------------------------------------------------------------------------------------
# Log-rank for many labelings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogrankPrep:
    """Pooled quantities of the log-rank test that do not depend on the group labels."""

    order: np.ndarray  # sort order (increasing time)
    starts_ev: np.ndarray  # index (in sorted order) of the first row at each event time
    d: np.ndarray  # deaths at each event time
    nrisk: np.ndarray  # number at risk at each event time
    score: np.ndarray  # (n,) log-rank scores e_i - H(t_i), original row order
    event_sorted: np.ndarray  # (n,) event indicator in sorted order (float)


def logrank_prepare(time: np.ndarray, event: np.ndarray) -> LogrankPrep:
    """Sort once and compute the pooled risk sets, deaths and log-rank scores.

    The log-rank score of row i is its martingale residual under the pooled Nelson-Aalen
    estimate, ``e_i - H(t_i)``; the sum over a group is that group's O - E.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    n = time.size
    order = np.argsort(time, kind="stable")
    ts = time[order]
    es = event[order]
    starts = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1]])
    d_all = np.add.reduceat(es.astype(float), starts)
    n_all = n - starts
    has = d_all > 0
    haz = np.where(has, d_all / n_all, 0.0)
    H_t = np.cumsum(haz)  # at each distinct time (inclusive)
    time_id = np.cumsum(np.r_[True, ts[1:] != ts[:-1]]) - 1
    score_sorted = es - H_t[time_id]
    score = np.empty(n)
    score[order] = score_sorted
    return LogrankPrep(
        order=order,
        starts_ev=starts[has],
        d=d_all[has],
        nrisk=n_all[has].astype(float),
        score=score,
        event_sorted=es.astype(float),
    )


def logrank_batched(
    prep: LogrankPrep, labels: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """O - E, its variance and the ``survdiff`` chi-square for many labelings.

    Parameters
    ----------
    prep : LogrankPrep
        From :func:`logrank_prepare`.
    labels : ndarray, shape (P, n)
        Group codes 0..k-1 per row (original row order), one labeling per row.
    k : int
        Number of groups.

    Returns
    -------
    o_minus_e : ndarray (P, k)
    var : ndarray (P, k, k)
    chisq : ndarray (P,)
        ``(O-E)[1:] V[1:,1:]^{-1} (O-E)[1:]`` over groups with expected > 0, as survdiff
        (with k = 2 simply ``(O1-E1)^2 / V11``).

    References
    ----------
    Mantel N (1966). Evaluation of survival data and two new rank order statistics arising in
    its consideration. Cancer Chemother Rep 50:163-170.
    """
    labels = np.asarray(labels)
    P = labels.shape[0]
    Ls = labels[:, prep.order]
    onehot = Ls[:, :, None] == np.arange(k)[None, None, :]  # (P, n, k)
    oe = np.einsum("pnk,n->pk", onehot, prep.score[prep.order])
    observed = np.einsum("pnk,n->pk", onehot, prep.event_sorted)
    expected = observed - oe
    # numbers at risk per group at each event time: reverse cumulative counts
    ngj = _reverse_cumsum(onehot.astype(np.int32), axis=1)[:, prep.starts_ev, :]  # (P,J,k)
    nj = prep.nrisk
    dj = prep.d
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(nj > 1, dj * (nj - dj) / (nj - 1), 0.0)
    frac = ngj / nj[None, :, None]
    var = np.einsum("j,pjg->pg", c, frac)[:, :, None] * np.eye(k)[None] - np.einsum(
        "j,pjg,pjh->pgh", c, frac, frac
    )
    pos = expected > 1e-12 * max(1.0, float(prep.d.sum()))
    if k == 2:
        ok = pos.all(axis=1) & (var[:, 1, 1] > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            chisq = np.where(ok, oe[:, 1] ** 2 / np.where(ok, var[:, 1, 1], 1.0), 0.0)
    else:
        chisq = np.empty(P)
        for i in range(P):
            chisq[i] = _quadform_drop_first(oe[i], var[i], pos[i])
    return oe, var, chisq


def _quadform_drop_first(u: np.ndarray, v: np.ndarray, pos: np.ndarray) -> float:
    """``u[1:] V[1:,1:]^- u[1:]`` over groups with expected > 0 (survdiff's rule)."""
    keep = np.flatnonzero(pos)
    if keep.size <= 1:
        return 0.0
    keep = keep[1:]
    uu = u[keep]
    vv = v[np.ix_(keep, keep)]
    return float(uu @ np.linalg.pinv(vv) @ uu)
