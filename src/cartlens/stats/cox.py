"""Cox proportional hazards regression, as R's ``survival::coxph``.

One vectorised engine covers right-censored and counting-process ``(start, stop]`` data,
strata, case weights, Efron (default) and Breslow ties, robust (sandwich) variances with
clusters, and Firth's penalised partial likelihood.

Conventions (all as survival 3.5-3):

* Risk set at an event time ``t``: the rows of the same stratum with ``start < t <= stop``
  (``start = -inf`` without ``entry``). A split subject is never counted twice.
* Ties: Efron's approximation with R's weighted semantics (each of the ``m`` tied deaths
  carries the mean death weight); Breslow's as an option.
* Newton-Raphson from ``init`` (zeros) with step halving, stopping when the relative change
  in log partial likelihood is ``<= eps`` (1e-9), at most ``iter_max`` (20) iterations; the
  variance is the inverse information at the final estimate.
* ``robust=True`` (implied by ``cluster`` or by weights passed with ``robust=True``): the
  grouped dfbeta sandwich ``D'D`` with ``D`` the weighted dfbeta residuals summed by cluster
  (each row its own cluster without ``cluster``), with no small-sample factor. Wald tests,
  z, p and confidence limits then use the robust variance, as R does.
* Tests: likelihood ratio ``2 (l(b) - l(0))``, Wald ``b' V^-1 b`` and the score test at
  ``beta = 0`` (plus R's robust score test in robust fits).
* Aliased (collinear) columns are dropped and reported with NaN coefficients and a
  :class:`~cartlens.errors.CollinearityWarning`. A coefficient that diverges (monotone
  likelihood) gives a :class:`~cartlens.errors.SeparationWarning` with R's criterion
  ("Loglik converged before variable ..."); running out of iterations gives a
  :class:`~cartlens.errors.ConvergenceWarning`.
* Speed: rows are sorted once by (stratum, stop time, deaths first); each Newton step is a
  handful of O(n) passes (block sums by ``reduceat``, reverse cumulative sums over the
  distinct times, Efron terms vectorised over tied deaths, the information as one
  ``X' diag(v) X`` product plus per-time outer products). 10^6 rows with 5 covariates and
  daily ties fit in well under a second.
* ``firth=True`` maximises Firth's penalised partial likelihood
  ``l(b) + 0.5 log det I(b)`` (Heinze & Schemper 2001), which stays finite under
  separation. As in R's ``coxphf`` the penalised fit uses Breslow's handling of ties; the
  likelihood-ratio test then compares penalised log likelihoods.

References
----------
Cox DR. Regression models and life-tables. JRSS B 1972;34:187-220.
Efron B. The efficiency of Cox's likelihood function for censored data. JASA 1977;72:557-565.
Lin DY, Wei LJ. The robust inference for the Cox proportional hazards model. JASA
1989;84:1074-1078.
Andersen PK, Gill RD. Cox's regression model for counting processes. Ann Stat 1982;10:1100-1120.
Heinze G, Schemper M. A solution to the problem of monotone likelihood in Cox regression.
Biometrics 2001;57:114-119.
Therneau TM, Grambsch PM. Modeling Survival Data: Extending the Cox Model. Springer, 2000.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np
from scipy import special, stats

from cartlens.errors import (
    CollinearityWarning,
    ConvergenceWarning,
    InputError,
    SeparationWarning,
)
from cartlens.results import Result
from cartlens.stats._linalg import linear_predictor, linear_predictor_t

_Z975 = 1.959963984540054
_TOLER_CHOL = np.finfo(float).eps ** 0.75


@dataclasses.dataclass(frozen=True)
class CoxResult(Result):
    """A fitted Cox model (field names follow the agreed cartlens interface).

    ``vcov`` is the variance used for inference (robust in robust fits); ``naive_vcov`` is
    the model-based inverse information. ``se`` is always the model-based SE and
    ``robust_se`` the sandwich SE (``None`` in non-robust fits); ``z``, ``p`` and the hazard
    ratio limits use ``vcov``.
    """

    terms: tuple
    coef: np.ndarray
    se: np.ndarray
    robust_se: np.ndarray | None
    vcov: np.ndarray
    naive_vcov: np.ndarray
    z: np.ndarray
    p: np.ndarray
    hr: np.ndarray
    hr_lower: np.ndarray
    hr_upper: np.ndarray
    loglik_null: float
    loglik: float
    lr_test: dict
    wald_test: dict
    score_test: dict
    robust_score_test: dict | None
    concordance: dict | None
    n: int
    events: int
    iterations: int
    converged: bool
    ties: str
    firth: bool
    strata: int
    clusters: int | None
    means: np.ndarray
    baseline: dict
    aliased: tuple
    n_dropped_missing: int = 0
    conf_level: float = 0.95

    def to_frame(self):
        """Tidy frame: one row per (term, statistic) of :meth:`terms_table`, then the
        model-level values (n, events, log likelihoods, tests, concordance)."""
        import pandas as pd

        from cartlens.results import TIDY_COLUMNS, json_safe, tidy_rows

        summary = {
            "terms": self.terms_table(),
            "n": self.n,
            "events": self.events,
            "loglik_null": self.loglik_null,
            "loglik": self.loglik,
            "lr_test": self.lr_test,
            "wald_test": self.wald_test,
            "score_test": self.score_test,
            "robust_score_test": self.robust_score_test,
            "concordance": self.concordance,
        }
        rows = tidy_rows(type(self).__name__, json_safe(summary))
        return pd.DataFrame(rows, columns=list(TIDY_COLUMNS))

    def terms_table(self) -> list[dict]:
        """One dict per term: ``term, coef, se, hr, lower, upper, z, p`` (+ ``naive_se``).

        ``se`` is the SE used for inference (robust in robust fits, where the model-based
        one is added as ``naive_se``).
        """
        rows = []
        se_inf = np.sqrt(np.diag(self.vcov)) if self.vcov.size else np.array([])
        for j, t in enumerate(self.terms):
            row = {
                "term": t,
                "coef": float(self.coef[j]),
                "se": float(se_inf[j]),
                "hr": float(self.hr[j]),
                "lower": float(self.hr_lower[j]),
                "upper": float(self.hr_upper[j]),
                "z": float(self.z[j]),
                "p": float(self.p[j]),
            }
            if self.robust_se is not None:
                row["naive_se"] = float(self.se[j])
            rows.append(row)
        return rows


def _chisq_test(stat: float, df: int) -> dict:
    p = float(special.chdtrc(df, stat)) if df > 0 and np.isfinite(stat) else math.nan
    return {"stat": float(stat), "df": int(df), "p": p}


def _quad_solve(mat: np.ndarray, vec: np.ndarray) -> float:
    """``vec' mat^-1 vec`` with a generalised inverse (as coxph.wtest with cholesky)."""
    if vec.size == 0:
        return 0.0
    inv = _gchol_inverse(mat)
    return float(vec @ inv @ vec)


def _gchol_inverse(mat: np.ndarray, toler: float = _TOLER_CHOL) -> np.ndarray:
    """Inverse of a symmetric PSD matrix; rows/columns found singular (as R's cholesky2,
    pivot <= toler * largest diagonal) are set to zero."""
    p = mat.shape[0]
    if p == 0:
        return mat.copy()
    diag = np.abs(np.diag(mat))
    eps = toler * (diag.max() if diag.size and diag.max() > 0 else 1.0)
    try:  # fast path: positive definite with no tiny pivot
        chol = np.linalg.cholesky(mat)
        if np.all(np.diag(chol) ** 2 >= eps):
            inv = np.linalg.inv(mat)
            return (inv + inv.T) / 2
    except np.linalg.LinAlgError:
        pass
    a = mat.astype(float).copy()
    keep = np.ones(p, dtype=bool)
    # Sequential LDL' like cholesky2: columns whose pivot is tiny are declared singular.
    d = np.zeros(p)
    L = np.eye(p)
    for i in range(p):
        piv = a[i, i] - (L[i, :i] ** 2 * d[:i]).sum()
        if piv < eps:
            keep[i] = False
            d[i] = 0.0
            continue
        d[i] = piv
        for j in range(i + 1, p):
            L[j, i] = (a[j, i] - (L[j, :i] * L[i, :i] * d[:i]).sum()) / piv
    inv = np.zeros_like(a)
    if keep.any():
        sub = a[np.ix_(keep, keep)]
        inv[np.ix_(keep, keep)] = np.linalg.inv(sub)
        inv = (inv + inv.T) / 2
    return inv


def _time_ranks(t: np.ndarray):
    """Distinct values and dense ranks of ``t``; O(n) for whole numbers in a moderate range
    (days, months), else a sort."""
    if t.size:
        lo, hi = float(t.min()), float(t.max())
        if hi - lo <= 4 * t.size + 1024:
            ti = t.astype(np.int64)
            if np.array_equal(ti, t):
                uniq, inv = _dense_unique(ti - int(lo), int(hi - lo) + 1)
                return uniq.astype(float) + lo, inv
    uniq, inv = np.unique(t, return_inverse=True)
    return uniq, inv.ravel()


def _dense_unique(keys: np.ndarray, size: int):
    """``np.unique(keys, return_inverse=True)`` for non-negative int keys below ``size``,
    in O(n + size) when ``size`` is moderate (no sort)."""
    if size <= 4 * keys.size + 1024:
        present = np.bincount(keys, minlength=size) > 0
        uniq = np.flatnonzero(present)
        lookup = np.cumsum(present) - 1
        return uniq, lookup[keys]
    uniq, inv = np.unique(keys, return_inverse=True)
    return uniq, inv.ravel()


class _CoxEngine:
    """Indexed data for repeated evaluations of the partial likelihood.

    Everything that does not depend on ``beta`` is computed once: integer keys
    (stratum, time rank), the blocks of rows sharing a key, the event-time groups with their
    risk-set block ranges, and the tied-death layout of Efron's approximation. An evaluation
    is then a few O(n) passes: block sums by ``bincount``, reverse cumulative sums over the
    (few) blocks, and per-death Efron terms vectorised with ``repeat``/``reduceat``.
    """

    def __init__(self, stop, event, X, entry, strata_codes, weights, ties):
        self.n, self.p = X.shape
        self.ties = ties
        self.has_entry = entry is not None
        if entry is None:
            all_times, rank_stop = _time_ranks(stop)
        else:
            all_times, inv = _time_ranks(np.concatenate([stop, entry]))
            rank_stop, rank_start = inv[: self.n], inv[self.n :]
        M = all_times.size + 1
        s = strata_codes.astype(np.int64)
        nstrata = int(s.max()) + 1 if s.size else 1
        size = nstrata * M
        key = s * M + rank_stop
        # Rows are kept sorted by (stratum, stop, deaths first): blocks of equal keys are
        # contiguous and each block starts with its deaths.
        dead = np.asarray(event).astype(bool)
        skey = key * 2 + (~dead)
        if 2 * size + 2 < 65536:  # numpy sorts 16-bit integers by radix sort, O(n)
            skey = skey.astype(np.uint16)
        perm = np.argsort(skey, kind="stable")
        self.perm = perm
        # (p, n) C-ordered copy, gathered column by column (faster than a row gather);
        # self.X is its (n, p) transposed view
        self.XT = np.empty((self.p, self.n))
        for j in range(self.p):
            np.take(X[:, j], perm, out=self.XT[j])
        self.X = self.XT.T
        self.w = weights[perm]
        self.d = event.astype(bool)[perm]
        self.key_stop = key[perm]
        if entry is not None:
            rank_start = rank_start[perm]
        s = s[perm]
        weights = self.w
        newblk = np.empty(self.n, dtype=bool)
        newblk[0] = True
        newblk[1:] = self.key_stop[1:] != self.key_stop[:-1]
        self.blk_starts = np.flatnonzero(newblk)
        self.blk_keys = self.key_stop[self.blk_starts]
        ev = np.flatnonzero(self.d)
        self.ev_rows = ev
        gkeys, g_of_ev = _dense_unique(self.key_stop[ev], size)
        self.gkeys = gkeys
        self.G = gkeys.size
        self.g_of_ev = g_of_ev
        m = np.bincount(g_of_ev, minlength=self.G)
        self.m = m
        self.g_starts = np.concatenate([[0], np.cumsum(m)[:-1]]).astype(np.int64)
        self.dw = np.bincount(g_of_ev, weights=weights[ev], minlength=self.G)
        self.wxd = self.XT @ np.where(self.d, weights, 0.0)  # sum of w x over deaths
        self.g_of_row = np.full(self.n, self.G, dtype=np.int64)
        self.g_of_row[ev] = g_of_ev
        self.meanw = self.dw / m
        # Efron fractions k/m for the k-th of m tied deaths (k = 0..m-1); Breslow uses 0.
        # Which death gets which k does not matter, so the layout is simply group-sorted.
        self.g_rep = np.repeat(np.arange(self.G), m)
        if ties == "efron":
            k = np.arange(ev.size) - np.repeat(self.g_starts, m)
            self.frac = k / np.repeat(m, m)
        else:
            self.frac = np.zeros(ev.size)
        g_strat = gkeys // M
        self.g_strata = g_strat
        end_keys = (g_strat + 1) * M
        # Segments: each block split into [deaths | others]; risk sums are reverse cumulative
        # sums over segments, death sums are the deaths' segments.
        g_row = np.searchsorted(self.key_stop, gkeys, "left")
        ev_end = g_row + m
        self.seg_bounds = np.union1d(self.blk_starts, ev_end[ev_end < self.n])
        self.seg_g = np.searchsorted(self.seg_bounds, g_row)
        end_rows = np.searchsorted(self.key_stop, end_keys, "left")
        self.seg_hi = np.searchsorted(self.seg_bounds, end_rows)
        self.single_stratum = bool(np.all(end_rows == self.n))
        if entry is not None:
            self.key_start = s * M + rank_start
            self.sblk_keys, self.blk_start = _dense_unique(self.key_start, size)
            self.lo_start = np.searchsorted(self.sblk_keys, gkeys, "left")
            self.hi_start = np.searchsorted(self.sblk_keys, end_keys, "left")
        else:
            self.key_start = s * M - 1
        # Per-row range of event groups at which the row is at risk: [row_lo, row_hi).
        if size <= 4 * self.n + 1024:
            isg = np.zeros(size + 1, dtype=np.int64)
            isg[gkeys + 1] = 1
            cnt = np.cumsum(isg)  # cnt[k + 1] = number of group keys <= k
            self.row_hi = cnt[self.key_stop + 1]
            self.row_lo = cnt[self.key_start + 1]
        else:
            self.row_hi = np.searchsorted(gkeys, self.key_stop, "right")
            self.row_lo = np.searchsorted(gkeys, self.key_start, "right")
        self.no_lo = bool(entry is None and nstrata == 1)

    # -- building blocks -------------------------------------------------------------
    @staticmethod
    def _block_revcum(blk: np.ndarray, nblk: int, v: np.ndarray) -> np.ndarray:
        """Reverse cumulative sums over blocks (row k: sum over blocks >= k), (nblk+1, k)."""
        out = np.zeros((nblk + 1, v.shape[0]))
        for j in range(v.shape[0]):
            out[:-1, j] = np.bincount(blk, weights=v[j], minlength=nblk)
        out[:-1] = np.cumsum(out[-2::-1], axis=0)[::-1]
        return out

    def _risk_sums(self, vT: np.ndarray, deaths: bool = False):
        """Sums of the columns of ``vT`` (k, n) over each event group's risk set, (G, k);
        with ``deaths=True`` also over the group's deaths."""
        seg = np.add.reduceat(vT, self.seg_bounds, axis=1)
        rc = np.zeros((vT.shape[0], seg.shape[1] + 1))
        rc[:, :-1] = np.cumsum(seg[:, ::-1], axis=1)[:, ::-1]
        out = rc[:, self.seg_g]
        if not self.single_stratum:
            out -= rc[:, self.seg_hi]
        if self.has_entry:
            rs = self._block_revcum(self.blk_start, self.sblk_keys.size, vT)
            out -= (rs[self.lo_start] - rs[self.hi_start]).T
        if deaths:
            return out.T, seg[:, self.seg_g].T
        return out.T

    def _row_cum(self, c: np.ndarray) -> np.ndarray:
        """For each row, the sum of the per-group values ``c`` over groups where it is at risk."""
        if c.ndim == 1:
            cc = np.concatenate([[0.0], np.cumsum(c)])
        else:
            cc = np.vstack([np.zeros((1, c.shape[1])), np.cumsum(c, axis=0)])
        if self.no_lo:
            return cc[self.row_hi]
        return cc[self.row_hi] - cc[self.row_lo]

    def evaluate(self, beta: np.ndarray, *, hessian: bool = True, resid: bool = False) -> dict:
        """Log partial likelihood, score, information (and score residuals) at ``beta``."""
        X, w = self.X, self.w
        eta = linear_predictor_t(self.XT, beta) if self.p else np.zeros(self.n)
        e = np.exp(eta)
        r = w * e
        vT = np.empty((self.p + 1, self.n))
        vT[0] = r
        np.multiply(self.XT, r, out=vT[1:])
        S, E = self._risk_sums(vT, deaths=True)
        ev, gev = self.ev_rows, self.g_of_ev
        S0, S1 = S[:, 0], S[:, 1:]
        E0, E1 = E[:, 0], E[:, 1:]
        f = self.frac
        if self.ties == "efron":
            d2 = S0[self.g_rep] - f * E0[self.g_rep]
            inv = 1.0 / d2
            A = np.add.reduceat(inv, self.g_starts)
            B = np.add.reduceat(f * inv, self.g_starts)
            logs = np.add.reduceat(np.log(d2), self.g_starts)
        else:
            A = self.m / S0
            B = np.zeros(self.G)
            logs = self.m * np.log(S0)
        mw = self.meanw
        loglik = float(self.wxd @ beta - np.dot(mw, logs)) if self.p else -float(mw @ logs)
        wA, wB = mw * A, mw * B
        U = self.wxd - (wA @ S1 - wB @ E1)
        out: dict[str, Any] = {"loglik": loglik, "score": U}
        if hessian or resid:
            if self.ties == "efron":
                inv2 = inv * inv
                wC = mw * np.add.reduceat(inv2, self.g_starts)
                wD = mw * np.add.reduceat(f * inv2, self.g_starts)
                wF = mw * np.add.reduceat(f * f * inv2, self.g_starts)
            else:
                wC = mw * self.m / S0**2
                wD = wF = np.zeros(self.G)
            cumA = self._row_cum(wA)
        if hessian:
            vrow = r * (cumA - np.append(wB, 0.0)[self.g_of_row])
            info = (self.XT * vrow) @ X
            DE = (S1 * wD[:, None]).T @ E1
            info -= (S1 * wC[:, None]).T @ S1 - DE - DE.T + (E1 * wF[:, None]).T @ E1
            out["info"] = (info + info.T) / 2
        if resid:
            Q = S1 * wC[:, None] - E1 * wD[:, None]
            R = S1 * wD[:, None] - E1 * wF[:, None]
            abar = (S1 * A[:, None] - E1 * B[:, None]) / self.m[:, None]
            L = -(e[:, None] * (X * cumA[:, None] - self._row_cum(Q)))
            L[ev] += X[ev] - abar[gev]
            L[ev] += e[ev, None] * (X[ev] * wB[gev, None] - R[gev])
            out["resid"] = np.empty_like(L)
            out["resid"][self.perm] = L
        out["S0"] = S0
        out["E0"] = E0
        out["A"] = A
        return out


def _has_missing(a: np.ndarray) -> bool:
    """NaN / None in a label array (numeric or object)."""
    if a.dtype.kind == "f":
        return bool(np.isnan(a).any())
    if a.dtype == object:
        import pandas as pd

        return bool(pd.isna(a).any())
    return False


def _prepare(time, event, X, entry, strata, weights, cluster, names):
    from cartlens.stats._surv import check_survival_input

    # shared survival checks: finite times >= 0, 0/1 events, start < stop, equal lengths
    time, evi, entry, _ = check_survival_input(time, event, entry, names={"entry": "start"})
    n = time.size
    evf = evi.astype(float)
    if names is None and hasattr(X, "columns"):
        names = [str(c) for c in X.columns]
    elif names is None and getattr(X, "name", None) is not None and np.ndim(X) == 1:
        names = [str(X.name)]
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        Xo = np.asarray(X, dtype=object)
        Xo = Xo[:, None] if Xo.ndim == 1 else Xo
        col = 0
        for j in range(Xo.shape[1]):
            try:
                Xo[:, j].astype(float)
            except (TypeError, ValueError):
                col = j
                break
        label = names[col] if names is not None and col < len(names) else f"x{col + 1}"
        raise InputError(
            f"covariate values must be numbers ({exc}); code factors as 0/1 columns or use "
            "coxph_formula",
            column=label,
        ) from None
    if X.ndim == 1:
        X = X[:, None]
    if X.shape[0] != n:
        raise InputError(f"X has {X.shape[0]} rows but time has {n}", column="X")
    p = X.shape[1]
    if names is None:
        names = tuple(f"x{j + 1}" for j in range(p))
    names = tuple(str(s) for s in names)
    if len(names) != p:
        raise InputError(f"{len(names)} names for {p} columns", column="names")
    bad = ~np.isfinite(X)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        raise InputError("contains missing or infinite values", column=names[j])
    if weights is None:
        w = np.ones(n)
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if w.size != n or np.any(~np.isfinite(w)) or np.any(w <= 0):
            raise InputError("must be positive and finite, one per row", column="weights")
    if strata is None:
        scodes = np.zeros(n, dtype=np.int64)
    else:
        sarr = np.asarray(strata).ravel()
        if sarr.size != n:
            raise InputError("must have one value per row", column="strata")
        if _has_missing(sarr):
            raise InputError("contains missing values (drop those rows first)", column="strata")
        _, scodes = np.unique(
            sarr.astype(str) if sarr.dtype == object else sarr, return_inverse=True
        )
    ccodes = None
    if cluster is not None:
        carr = np.asarray(cluster).ravel()
        if carr.size != n:
            raise InputError("must have one value per row", column="cluster")
        if _has_missing(carr):
            raise InputError("contains missing values (drop those rows first)", column="cluster")
        _, ccodes = np.unique(
            carr.astype(str) if carr.dtype == object else carr, return_inverse=True
        )
    return time, evf.astype(np.int64), X, entry, scodes, w, ccodes, names


def _aliased_columns(X: np.ndarray, w: np.ndarray, strata: np.ndarray | None = None):
    """Boolean mask of columns that are linear combinations of earlier ones (R keeps the
    first of a collinear set and reports NaN for the later ones): sequential pivots of the
    weighted cross-product matrix of X centred within strata (a column constant within
    every stratum carries no information in a stratified model)."""
    p = X.shape[1]
    alias = np.zeros(p, dtype=bool)
    if p == 0:
        return alias
    if strata is not None and strata.max() > 0:
        k = int(strata.max()) + 1
        sw = np.bincount(strata, weights=w, minlength=k)
        smu = (
            np.stack(
                [np.bincount(strata, weights=w * X[:, j], minlength=k) for j in range(p)], axis=1
            )
            / sw[:, None]
        )
        Xs = X - smu[strata]
        C = (Xs * w[:, None]).T @ Xs
    else:
        mu = (w @ X) / w.sum()
        C = (X * w[:, None]).T @ X - w.sum() * np.outer(mu, mu)
    dg = np.diag(C).copy()
    scale = np.abs(X).max(axis=0) ** 2 * w.sum()
    alias |= dg <= 1e-14 * np.maximum(scale, 1e-300)
    keep: list[int] = []
    for j in range(p):
        if alias[j]:
            continue
        if keep:
            sub = C[np.ix_(keep, keep)]
            c = C[keep, j]
            resid = dg[j] - c @ np.linalg.solve(sub, c)
            if resid <= 1e-10 * dg[j]:
                alias[j] = True
                continue
        keep.append(j)
    return alias


def _newton(engine: _CoxEngine, beta0: np.ndarray, eps: float, iter_max: int, firth: bool):
    """coxfit6-style Newton-Raphson with step halving. Returns (beta, state, iters, conv,
    loglik_init, state_init)."""

    def ev(b):
        st = engine.evaluate(b, hessian=True)
        if firth:
            _firth_adjust(engine, b, st)
        return st

    beta = beta0.copy()
    st = ev(beta)
    st0 = st
    lik_key = "ploglik" if firth else "loglik"
    oldlik = st[lik_key]
    if engine.p == 0 or iter_max == 0:
        return beta, st, 0, True, st0
    step = _gchol_inverse(st["info"]) @ st["score"]
    newbeta = beta + step
    halving = False
    newst = st
    for it in range(1, iter_max + 1):
        newst = ev(newbeta)
        newlik = newst[lik_key]
        if not np.isfinite(newlik):
            newlik = -np.inf
        done = np.isfinite(newlik) and abs(1 - oldlik / newlik) <= eps and not halving
        if done and firth:
            # the penalised likelihood is flat near its maximum: also require a tiny
            # Newton step (|step| <= 1e-8), as coxphf's criterion on the coefficients
            nxt = _gchol_inverse(newst["info"]) @ newst["score"]
            done = bool(np.max(np.abs(nxt)) <= 1e-8)
        if done:
            return newbeta, newst, it, True, st0
        if it == iter_max:
            break
        if newlik < oldlik:
            halving = True
            newbeta = (newbeta + beta) / 2
        else:
            halving = False
            oldlik = newlik
            beta = newbeta
            newbeta = newbeta + _gchol_inverse(newst["info"]) @ newst["score"]
    return newbeta, newst, iter_max, False, st0


def _firth_adjust(engine: _CoxEngine, beta: np.ndarray, st: dict) -> None:
    """Add Firth's penalty 0.5 log det I and its gradient 0.5 tr(I^-1 dI/db_j) to ``st``.

    Exact third derivatives for Breslow's partial likelihood (the ties handling of coxphf).
    """
    X, w, p = engine.X, engine.w, engine.p
    info = st["info"]
    sign, logdet = np.linalg.slogdet(info)
    st["ploglik"] = st["loglik"] + (0.5 * logdet if sign > 0 else -np.inf)
    if sign <= 0:
        return
    Iinv = np.linalg.inv(info)
    eta = linear_predictor_t(engine.XT, beta)
    r = w * np.exp(eta)
    XT = engine.XT
    vT = np.concatenate(
        [r[None, :], XT * r, (XT[:, None, :] * XT[None, :, :]).reshape(p * p, -1) * r]
    )
    S = engine._risk_sums(vT)
    S0, S1, S2 = S[:, 0], S[:, 1 : p + 1], S[:, p + 1 :].reshape(-1, p, p)
    c1 = engine.dw / S0
    cumc = engine._row_cum(c1)
    grad = np.empty(p)
    a = S1 / S0[:, None]  # (G, p)
    for j in range(p):
        # d/db_j of I = sum_g dw [S2/S0 - a a'] :
        # sum_g dw [S3_j/S0 - S2 a_j/S0 - (S2_j a' + a S2_j')/S0 + 2 a a' a_j]
        t3 = (X * (r * cumc * X[:, j])[:, None]).T @ X
        S2j = S2[:, :, j] / S0[:, None]  # (G, p)
        aj = a[:, j]
        t = t3 - np.einsum("g,gkl->kl", c1 * aj, S2)
        t -= (S2j * engine.dw[:, None]).T @ a + ((S2j * engine.dw[:, None]).T @ a).T
        t += 2 * (a * (engine.dw * aj)[:, None]).T @ a
        grad[j] = 0.5 * np.sum(Iinv * t)
    st["score"] = st["score"] + grad


def coxph(
    time,
    event,
    X,
    *,
    entry=None,
    strata=None,
    weights=None,
    cluster=None,
    robust: bool = False,
    ties: str = "efron",
    firth: bool = False,
    names=None,
    init=None,
    eps: float = 1e-9,
    iter_max: int = 20,
    concordance: bool = True,
    conf_level: float = 0.95,
    n_dropped_missing: int = 0,
) -> CoxResult:
    """Fit a Cox proportional hazards model as ``survival::coxph``.

    Parameters
    ----------
    time : array_like
        Event/censoring time (the ``stop`` time for counting-process data).
    event : array_like
        1 = event at ``time``, 0 = censored.
    X : array_like, shape (n, p)
        Covariates (no intercept column).
    entry : array_like, optional
        Start of each ``(start, stop]`` interval (left truncation / time-varying covariates).
    strata : array_like, optional
        Stratum labels; each stratum has its own baseline hazard.
    weights : array_like, optional
        Positive case weights (R's weighted Efron semantics).
    cluster : array_like, optional
        Cluster labels for the robust variance (implies ``robust=True``).
    robust : bool
        Robust sandwich variance (each row its own cluster unless ``cluster`` is given).
    ties : {"efron", "breslow"}
    firth : bool
        Firth's penalised partial likelihood (Breslow ties).
    names : sequence of str, optional
        Column names of ``X`` (default: a DataFrame's columns, else ``x1, x2, ...``).
    init : array_like, optional
        Starting coefficients (default zeros).
    eps, iter_max : float, int
        Convergence criterion on the relative change in log likelihood and iteration limit.
    concordance : bool
        Compute Harrell's C with its IJ SE (as ``fit$concordance``). It dominates the run
        time on very large data (about 2-3 s CPU for 10^6 rows, against about 0.5-0.8 s for
        the fit itself), so pass ``False`` when it is not needed.

    Returns
    -------
    CoxResult

    References
    ----------
    Therneau TM, Grambsch PM. Modeling Survival Data: Extending the Cox Model. Springer, 2000.
    Efron B. JASA 1977;72:557-565. Lin DY, Wei LJ. JASA 1989;84:1074-1078.
    Heinze G, Schemper M. Biometrics 2001;57:114-119.
    """
    if ties not in ("efron", "breslow"):
        raise InputError("must be 'efron' or 'breslow'", column="ties")
    time, ev, X, entry, scodes, w, ccodes, names = _prepare(
        time, event, X, entry, strata, weights, cluster, names
    )
    n, p_all = X.shape
    if n < 2:
        raise InputError("a Cox model needs at least 2 rows", column="time")
    n_events = int(ev.sum())
    if n_events == 0:
        raise InputError("has no events: a Cox model cannot be fitted", column="event")
    if p_all == 0:
        raise InputError("no covariates in the model", column="X")
    if firth:
        ties = "breslow"
        iter_max = max(iter_max, 50)
    robust = bool(robust or ccodes is not None)

    alias = _aliased_columns(X, w, scodes if strata is not None else None)
    if alias.any():
        warnings.warn(
            "aliased term(s) "
            + ", ".join(np.asarray(names)[alias])
            + " (constant, collinear with earlier terms, or constant within strata) dropped;"
            " coefficient reported as NaN, as R does",
            CollinearityWarning,
            stacklevel=2,
        )
    keep = ~alias
    # centring values as survival 3.x's fit$means: weighted means, but 0 for 0/1 columns
    means = (w @ X) / w.sum()
    means[np.all((X == 0) | (X == 1), axis=0)] = 0.0
    while True:
        Xc = X[:, keep] - means[keep]
        p = Xc.shape[1]
        engine = _CoxEngine(time, ev, Xc, entry, scodes, w, ties)
        beta0 = np.zeros(p) if init is None else np.asarray(init, dtype=float)[keep]
        beta, st, iters, converged, st0 = _newton(engine, beta0, eps, iter_max, firth)
        naive_var = _gchol_inverse(st["info"])
        singular = np.diag(naive_var) <= 0
        if not singular.any():
            break
        # no information (e.g. constant within every stratum): dropped, NaN as R's NA
        sing_names = np.asarray(names)[keep][singular]
        warnings.warn(
            "no information for term(s) "
            + ", ".join(sing_names)
            + " (collinear with the strata or other terms); coefficient reported as NaN",
            CollinearityWarning,
            stacklevel=2,
        )
        alias[np.flatnonzero(keep)[singular]] = True
        keep = ~alias
    if init is not None and np.any(beta0 != 0):
        st0 = engine.evaluate(np.zeros(p), hessian=True)
        if firth:
            _firth_adjust(engine, np.zeros(p), st0)
    if not converged:
        warnings.warn(
            f"Cox fit did not converge in {iter_max} iterations (relative change in log "
            "likelihood above eps); estimates may be unreliable",
            ConvergenceWarning,
            stacklevel=2,
        )
    # R's check for infinite coefficients (monotone likelihood).
    if not firth and iter_max > 1:
        stepsz = np.abs(naive_var @ st["score"])
        infs = (stepsz > eps) & (stepsz > math.sqrt(eps) * np.abs(beta))
        # A column with zero information is also a sign of a degenerate fit.
        if infs.any():
            kept_names = np.asarray(names)[keep]
            warnings.warn(
                "Loglik converged before variable(s) "
                + ", ".join(kept_names[infs])
                + "; coefficient may be infinite (monotone likelihood / separation). "
                "Consider firth=True.",
                SeparationWarning,
                stacklevel=2,
            )
    loglik_key = "ploglik" if firth else "loglik"
    loglik0 = float(st0[loglik_key])
    loglik = float(st[loglik_key])
    score_stat = _quad_solve(st0["info"], st0["score"])
    var = naive_var
    rscore = None
    n_clusters = None
    if robust:
        res = engine.evaluate(beta, hessian=False, resid=True)["resid"]
        dfb = (res * w[:, None]) @ naive_var
        res0 = engine.evaluate(np.zeros(p), hessian=False, resid=True)["resid"] * w[:, None]
        if ccodes is not None:
            nc = int(ccodes.max()) + 1
            dfb = _collapse(dfb, ccodes, nc)
            res0 = _collapse(res0, ccodes, nc)
            n_clusters = nc
        else:
            n_clusters = n
        var = dfb.T @ dfb
        rscore = _chisq_test(_quad_solve(res0.T @ res0, res0.sum(axis=0)), p)
    wald = _quad_solve(var, beta)

    # Expand back to all columns (aliased -> NaN).
    def expand_vec(v):
        out = np.full(p_all, np.nan)
        out[keep] = v
        return out

    def expand_mat(m):
        out = np.full((p_all, p_all), np.nan)
        out[np.ix_(keep, keep)] = m
        return out

    coef = expand_vec(beta)
    np_err = np.errstate(over="ignore")
    np_err.__enter__()
    se = expand_vec(np.sqrt(np.diag(naive_var)))
    vcov = expand_mat(var)
    se_inf = expand_vec(np.sqrt(np.diag(var)))
    z = coef / se_inf
    pval = 2 * special.ndtr(-np.abs(z))
    zq = stats.norm.ppf(0.5 + conf_level / 2) if conf_level != 0.95 else _Z975
    hr, hr_lower, hr_upper = np.exp(coef), np.exp(coef - zq * se_inf), np.exp(coef + zq * se_inf)
    np_err.__exit__(None, None, None)
    lr = _chisq_test(2 * (loglik - loglik0), p)
    conc = None
    if concordance:
        from cartlens.stats.concordance import concordance as _conc

        lp = linear_predictor(Xc, beta)
        try:
            conc = _conc(
                time,
                ev,
                lp,
                entry=entry,
                strata=scodes if strata is not None else None,
                weights=None if weights is None else w,
                cluster=ccodes,
                reverse=True,
            ).to_dict()
        except Exception:  # pragma: no cover - concordance must never break a fit
            conc = None
    # Baseline cumulative hazard at the mean covariates (Breslow/Efron increments).
    base = _baseline(engine, st, time)
    return CoxResult(
        terms=tuple(names),
        coef=coef,
        se=se,
        robust_se=se_inf if robust else None,
        vcov=vcov,
        naive_vcov=expand_mat(naive_var),
        z=z,
        p=pval,
        hr=hr,
        hr_lower=hr_lower,
        hr_upper=hr_upper,
        loglik_null=loglik0,
        loglik=loglik,
        lr_test=lr,
        wald_test=_chisq_test(wald, p),
        score_test=_chisq_test(score_stat, p),
        robust_score_test=rscore,
        concordance=conc,
        n=int(n),
        events=n_events,
        iterations=int(iters),
        converged=bool(converged),
        ties=ties,
        firth=bool(firth),
        strata=int(scodes.max()) + 1,
        clusters=n_clusters,
        means=means,
        baseline=base,
        aliased=tuple(np.asarray(names)[alias]),
        n_dropped_missing=int(n_dropped_missing),
        conf_level=conf_level,
    )


def _collapse(mat: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((k, mat.shape[1]))
    np.add.at(out, codes, mat)
    return out


def _baseline(engine: _CoxEngine, st: dict, time: np.ndarray) -> dict:
    """Cumulative baseline hazard (and survival ``exp(-H)``) at ``means`` (weighted means,
    0 for 0/1 covariates, as R's ``basehaz(fit, centered = TRUE)``): the Breslow / Efron
    increments ``meanw * sum_k 1 / (S0 - k/m E0)`` at each event time (strata one after
    the other)."""
    inc = engine.meanw * st["A"]
    gtime = time[engine.perm[engine.ev_rows[engine.g_starts]]]
    cumhaz = np.cumsum(inc)
    gs = engine.g_strata
    if gs.size and gs[-1] != gs[0]:  # restart the sum in each stratum
        first = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
        offset = np.r_[0.0, cumhaz[first[1:] - 1]]
        cumhaz = cumhaz - np.repeat(offset, np.diff(np.r_[first, gs.size]))
    return {
        "times": gtime,
        "cumhaz": cumhaz,
        "hazard": inc,
        "surv": np.exp(-cumhaz),
        "stratum": gs,  # index into the sorted distinct strata labels
    }


def coxph_formula(
    formula: str,
    data,
    *,
    time: str,
    event: str,
    start: str | None = None,
    strata: str | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    robust: bool = False,
    ties: str = "efron",
    firth: bool = False,
    **kwargs,
) -> CoxResult:
    """Fit :func:`coxph` from a formula (see :mod:`cartlens.stats.formula` for term names).

    ``data`` is a pandas DataFrame; ``time``/``event``/``start``/``strata``/``weights``/
    ``cluster`` are column names (``event`` already 0/1). Rows with a missing value in any
    used column are dropped and counted in ``n_dropped_missing``.

    References
    ----------
    Therneau TM, Grambsch PM. Modeling Survival Data: Extending the Cox Model. Springer, 2000.
    """
    from cartlens.stats.formula import design

    extra = [c for c in (time, event, start, strata, weights, cluster) if c is not None]
    for c in extra:
        if c not in data.columns:
            raise InputError("does not exist in the data", column=c)
    dm = design(formula, data, intercept=False, extra_columns=extra)
    sub = data.loc[dm.kept]
    return coxph(
        sub[time].to_numpy(dtype=float),
        sub[event].to_numpy(),
        dm.X,
        entry=None if start is None else sub[start].to_numpy(dtype=float),
        strata=None if strata is None else sub[strata].to_numpy(),
        weights=None if weights is None else sub[weights].to_numpy(dtype=float),
        cluster=None if cluster is None else sub[cluster].to_numpy(),
        robust=robust,
        ties=ties,
        firth=firth,
        names=dm.names,
        n_dropped_missing=dm.n_dropped,
        **kwargs,
    )
