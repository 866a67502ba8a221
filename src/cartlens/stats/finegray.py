"""Fine-Gray subdistribution hazard regression, as ``cmprsk::crr``.

The model is the proportional subdistribution hazards model of Fine and Gray (1999), fitted
by maximising the inverse-probability-of-censoring-weighted partial likelihood exactly as
``crr`` does:

* subjects who failed from a competing cause stay in the risk set after their failure with
  weight ``G(T-) / G(t_i-)``, where ``G`` is the Kaplan-Meier estimate of the censoring
  distribution (failures of any cause count as censored for it), evaluated just before each
  time; one ``G`` per censoring group (``cengroup``);
* ties are handled as crr does (Breslow: ``d log S0`` at each distinct failure time);
* Newton-Raphson with crr's step halving and its convergence rule
  ``max(|score| * max(|b|, 1)) < max(|loglik|, 1) * gtol``;
* the variance is crr's sandwich ``I^-1 (sum_i (eta_i + psi_i)(eta_i + psi_i)') I^-1`` where
  ``psi_i`` accounts for the estimated censoring distribution;
* ``loglik`` / ``loglik_null`` are the pseudo log-likelihoods at the estimate and at 0;
* :func:`predict_cif` is ``predict.crr``: ``1 - exp(-exp(x'b) * Lambda_0(t))`` with crr's
  baseline jumps ``d / S0``.

Unlike crr's Fortran (O(n^2) per iteration and O(n^3) for the variance), every risk-set sum
here is a cumulative sum over the time-sorted data: O(n log n) for the sort once, then O(n p^2)
per iteration and for the variance. No n x n matrix is formed.

Degenerate covariates are handled as :func:`cartlens.stats.cox.coxph` does (crr itself stops
with "system is exactly singular" or reports ``converged = FALSE``): aliased terms (constant,
or linear combinations of earlier terms) are dropped with NaN and a
:class:`~cartlens.errors.CollinearityWarning`; a diverging coefficient (monotone
pseudo-likelihood, e.g. a covariate that separates the events) gives a
:class:`~cartlens.errors.SeparationWarning` by coxph's "Loglik converged before variable" rule.

Time-varying coefficients (crr's ``cov2``/``tf``) are not supported. Several censoring groups
(``cengroup``) follow cmprsk 2.2-11, whose ``q(u)`` term of the variance is kept per group.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as _st

from cartlens.errors import (
    CollinearityWarning,
    ConvergenceWarning,
    InputError,
    NoEventsWarning,
    SeparationWarning,
)
from cartlens.results import Result
from cartlens.stats._linalg import linear_predictor, linear_predictor_t
from cartlens.stats.competing import check_competing_input


@dataclasses.dataclass(frozen=True)
class FineGrayResult(Result):
    """A fitted Fine-Gray model (fields named like ``crr``'s output where possible)."""

    terms: tuple
    coef: np.ndarray
    se: np.ndarray
    vcov: np.ndarray
    z: np.ndarray
    p: np.ndarray
    shr: np.ndarray
    shr_lower: np.ndarray
    shr_upper: np.ndarray
    loglik: float
    loglik_null: float
    lr_test: dict
    score: np.ndarray
    information: np.ndarray
    converged: bool
    iterations: int
    n: int
    n_dropped: int
    events: int
    competing: int
    censored: int
    failcode: Any
    uftime: np.ndarray
    bfitj: np.ndarray
    conf_level: float
    settings: dict

    def terms_table(self) -> list[dict]:
        """``[{term, coef, se, hr, lower, upper, z, p}]`` (hr = subdistribution HR)."""
        return [
            {
                "term": t,
                "coef": float(self.coef[i]),
                "se": float(self.se[i]),
                "hr": float(self.shr[i]),
                "lower": float(self.shr_lower[i]),
                "upper": float(self.shr_upper[i]),
                "z": float(self.z[i]),
                "p": float(self.p[i]),
            }
            for i, t in enumerate(self.terms)
        ]


# --------------------------------------------------------------------------------------------
# internal: sorted data and risk-set sums
# --------------------------------------------------------------------------------------------
def _blocks(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal values of a sorted, non-empty ``t``: start index and value of each run,
    and the run number of each element."""
    new = np.empty(t.size, bool)
    new[0] = True
    np.not_equal(t[1:], t[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    return starts, t[starts], np.cumsum(new) - 1


def _km_censoring_left(t: np.ndarray, cens: np.ndarray, at: np.ndarray) -> np.ndarray:
    """KM of the censoring distribution (``cens`` = 1 censored) just before each of ``at``.

    ``t`` is sorted. Equals crr's ``approx(survfit(Surv(t, cens) ~ 1), xout = at*(1-100eps))``.
    """
    n = t.size
    starts, ut, idx = _blocks(t)
    d = np.bincount(idx, weights=cens, minlength=ut.size)
    nrisk = (n - starts).astype(float)
    surv = np.cumprod(1.0 - d / nrisk)
    pos = np.searchsorted(ut, at, side="left") - 1  # last distinct time strictly before
    return np.where(pos >= 0, surv[np.maximum(pos, 0)], 1.0)


class _FGData:
    """Time-sorted data with everything that does not depend on beta."""

    def __init__(self, t, ici, X, cg, ncg):
        order = np.argsort(t, kind="stable")
        self.t = t[order]
        self.ici = ici[order]
        self.X = X[order]
        self.cg = cg[order]
        self.ncg = ncg
        self.order = order
        n, p = self.X.shape
        self.n, self.p = n, p
        t = self.t
        # censoring KM per group, left limits: at own times and at failure times
        fail = self.ici == 1
        self.uft = np.unique(t[fail])
        self.d = np.bincount(np.searchsorted(self.uft, t[fail]), minlength=self.uft.size).astype(
            float
        )
        # first sorted index of each failure time (start of its tie block)
        self.fidx = np.searchsorted(t, self.uft, side="left")
        self.G_own = np.ones(n)
        self.G_fail = np.ones((ncg, self.uft.size))
        for g in range(ncg):
            sel = self.cg == g
            if not sel.any():
                continue
            tg = t[sel]
            cens = (self.ici[sel] == 0).astype(float)
            self.G_own[sel] = _km_censoring_left(tg, cens, tg)
            self.G_fail[g] = _km_censoring_left(tg, cens, self.uft)
        self.other = self.ici == 2
        with np.errstate(divide="ignore"):
            self.inv_G_other = np.where(self.other, 1.0 / self.G_own, 0.0)
        self.fail = fail
        self.sum_x_fail = self.X[fail].sum(0)
        # pairs for the second-moment sums (upper triangle)
        self.iu = np.triu_indices(p)

    def _prepare_sums(self) -> None:
        """Constant parts of the risk-set sums (covariate products, competing-risk buckets)."""
        X = self.X
        self.XT = np.ascontiguousarray(X.T)
        self.XXT = np.ascontiguousarray((X[:, self.iu[0]] * X[:, self.iu[1]]).T)
        oth = np.flatnonzero(self.other)
        self.oth = oth
        # a competing failure at sorted row i counts for failure times T_k with fidx[k] > i;
        # rows are time-sorted, so buckets are non-decreasing: segment sums by reduceat
        bucket = np.searchsorted(self.fidx, oth, side="right")
        inv_g = self.inv_G_other[oth]
        full = np.vstack([inv_g[None, :], self.XT[:, oth] * inv_g, self.XXT[:, oth] * inv_g])
        self.oth_parts = []
        for g in range(self.ncg):
            sel = np.flatnonzero(self.cg[oth] == g)
            if sel.size == 0:
                continue
            b = bucket[sel]
            starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
            self.oth_parts.append(
                (g, oth[sel], np.ascontiguousarray(full[:, sel]), starts, b[starts])
            )
        self._memo: dict = {}

    def sums(self, beta: np.ndarray, second: bool = True):
        """S0, S1, S2 at each distinct failure time (and eta, w = exp(eta)).

        Risk set at failure time T: rows with t >= T (weight w) plus competing failures
        before T (weight w G(T-)/G(t_i-)). The first part is a reversed cumulative sum of
        per-segment sums (rows between consecutive failure times); the second a cumulative
        sum of per-bucket sums. O(n p^2) per call, no n x n matrix.
        """
        if not hasattr(self, "XT"):
            self._prepare_sums()
        # the Newton loop asks for the same beta several times (line search, then score and
        # information; variance and baseline at the end): keep the last few results
        key = beta.tobytes()
        hit = self._memo.get(key)
        if hit is not None and (hit[4] is not None or not second):
            return hit
        out = self._sums(beta, True)
        if len(self._memo) >= 4:
            self._memo.pop(next(iter(self._memo)))
        self._memo[key] = out
        return out

    def _sums(self, beta: np.ndarray, second: bool):
        p = self.p
        m = self.fidx.size
        eta = linear_predictor_t(self.XT, beta)
        w = np.exp(eta)
        nc = 1 + p + (self.XXT.shape[0] if second else 0)
        V = np.empty((nc, self.n))
        V[0] = w
        np.multiply(self.XT, w, out=V[1 : 1 + p])
        if second:
            np.multiply(self.XXT, w, out=V[1 + p :])
        if m == 0:
            tot = np.zeros((0, nc))
        else:
            segs = np.add.reduceat(V, self.fidx, axis=1)  # (nc, m)
            tot = np.cumsum(segs[:, ::-1], axis=1)[:, ::-1].T.copy()  # (m, nc)
        if m:
            for g, rows, base, starts, ub in self.oth_parts:
                Vo = base[:nc] * w[rows]
                seg = np.add.reduceat(Vo, starts, axis=1)  # (nc, n buckets used)
                pre = np.zeros((nc, m + 1))
                pre[:, ub] = seg
                tot += self.G_fail[g][:, None] * np.cumsum(pre[:, :m], axis=1).T
        S0 = tot[:, 0]
        S1 = tot[:, 1 : 1 + p]
        S2 = None
        if second:
            tri = tot[:, 1 + p :]
            S2 = np.zeros((S0.size, p, p))
            S2[:, self.iu[0], self.iu[1]] = tri
            S2[:, self.iu[1], self.iu[0]] = tri
        return eta, w, S0, S1, S2

    def negloglik(self, beta: np.ndarray) -> float:
        eta, _w, S0, _S1, _ = self.sums(beta, second=False)
        return float(np.sum(self.d * np.log(S0)) - eta[self.fail].sum())

    def fsv(self, beta: np.ndarray):
        """crr's crrfsv: minus log-likelihood, its gradient and Hessian."""
        eta, _w, S0, S1, S2 = self.sums(beta)
        lik = float(np.sum(self.d * np.log(S0)) - eta[self.fail].sum())
        xbar = S1 / S0[:, None]
        s = -self.sum_x_fail + (self.d[:, None] * xbar).sum(0)
        V = S2 / S0[:, None, None] - xbar[:, :, None] * xbar[:, None, :]
        h = np.einsum("k,kij->ij", self.d, V)
        return lik, s, h

    def sandwich_meat(self, beta: np.ndarray) -> np.ndarray:
        """crr's crrvv ``v2``: sum over subjects of (eta_i + psi_i)(eta_i + psi_i)'."""
        eta, w, S0, S1, _ = self.sums(beta, second=False)
        X, t = self.X, self.t
        n, p = self.n, self.p
        xbar = S1 / S0[:, None]
        a = self.d / S0  # (m,)
        bv = self.d[:, None] * xbar / S0[:, None]  # (m, p)
        # number of distinct failure times <= t_i
        K = np.searchsorted(self.uft, t, side="right")
        Pa = np.concatenate(([0.0], np.cumsum(a)))[K]
        Pb = np.vstack([np.zeros((1, p)), np.cumsum(bv, axis=0)])[K]
        eta1 = -w[:, None] * (X * Pa[:, None] - Pb)
        # own failure (dN part)
        fi = np.flatnonzero(self.fail)
        kf = np.searchsorted(self.uft, t[fi])
        eta1[fi] += X[fi] - xbar[kf]
        # competing failures: later failure times, weighted by G(T-)/G(t_i-)
        for g in range(self.ncg):
            Gf = self.G_fail[g]
            sa = np.concatenate((np.cumsum((Gf * a)[::-1])[::-1], [0.0]))
            sb = np.vstack([np.cumsum((Gf[:, None] * bv)[::-1], axis=0)[::-1], np.zeros((1, p))])
            sel = np.flatnonzero(self.other & (self.cg == g))
            ks = K[sel]
            fac = w[sel] * self.inv_G_other[sel]
            eta1[sel] -= fac[:, None] * (X[sel] * sa[ks][:, None] - sb[ks])
        # psi: the part from estimating G, per distinct time block
        bstart, ut, bid = _blocks(t)
        nb = ut.size
        kb = np.searchsorted(self.uft, ut, side="left")  # failure times >= block time
        c = w * self.inv_G_other
        psi = np.zeros((n, p))
        cens = self.ici == 0
        for g in range(self.ncg):
            sel = self.cg == g
            if not sel.any():
                continue
            # q(u) of group g (cmprsk 2.2-11 keeps one per censoring group): the
            # competing-risk weights of group g's members, integrated over the later
            # failures of group g
            Gf = self.G_fail[g]
            if self.ncg == 1:
                ag, bg = a, bv
            else:
                fg = self.fail & sel
                dg = np.bincount(np.searchsorted(self.uft, t[fg]), minlength=self.uft.size).astype(
                    float
                )
                ag = dg / S0
                bg = dg[:, None] * xbar / S0[:, None]
            q1 = np.concatenate((np.cumsum((Gf * ag)[::-1])[::-1], [0.0]))[kb]
            q2 = np.vstack([np.cumsum((Gf[:, None] * bg)[::-1], axis=0)[::-1], np.zeros((1, p))])[
                kb
            ]
            cg_ = np.where(sel, c, 0.0)
            R0 = np.concatenate(([0.0], np.cumsum(cg_)))[bstart]
            R1 = np.vstack([np.zeros((1, p)), np.cumsum(cg_[:, None] * X, axis=0)])[bstart]
            qu = R1 * q1[:, None] - R0[:, None] * q2
            # at-risk count of group g at each block: members with t >= block time
            cnt_g = np.bincount(bid[sel], minlength=nb).astype(float)
            Y = np.cumsum(cnt_g[::-1])[::-1]
            cc = np.bincount(bid[sel & cens], minlength=nb).astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                inc = np.where(cc > 0, cc / np.where(Y > 0, Y, 1.0) ** 2, 0.0)
            ss2 = -np.cumsum(inc[:, None] * qu, axis=0)
            rows = np.flatnonzero(sel)
            psi[rows] = ss2[bid[rows]]
            rc = np.flatnonzero(sel & cens)
            psi[rc] += qu[bid[rc]] / Y[bid[rc]][:, None]
        tot = eta1 + psi
        return tot.T @ tot

    def bfitj(self, beta: np.ndarray) -> np.ndarray:
        _eta, _w, S0, _S1, _ = self.sums(beta, second=False)
        return self.d / S0


def _crr_newton(data: _FGData, b: np.ndarray, gtol: float, maxiter: int):
    converged = False
    it = 0
    for ll in range(maxiter + 1):
        it = ll
        lik, s, h = data.fsv(b)
        if np.max(np.abs(s) * np.maximum(np.abs(b), 1.0)) < max(abs(lik), 1.0) * gtol:
            converged = True
            break
        if ll == maxiter:
            break
        try:
            sc = -np.linalg.solve(h, s)
        except np.linalg.LinAlgError:
            break
        sc0 = sc
        bn = b + sc
        fbn = data.negloglik(bn)
        i = 0
        # crr's Armijo step halving; skipped once the predicted decrease is below the
        # floating-point noise of the objective (there crr's rule only shrinks the steps)
        tiny = abs(float(sc @ s)) < 1e-9 * max(abs(lik), 1.0)
        while not tiny and (math.isnan(fbn) or fbn > lik + 1e-4 * float(sc @ s)):
            i += 1
            sc = sc * 0.5
            bn = b + sc
            fbn = data.negloglik(bn)
            if i > 20:
                break
        if i > 20:
            # crr stops here and reports non-convergence. When the Newton decrement is at
            # the floating-point noise level of the objective, b is the optimum (a numerical
            # fixed point): accept it.
            converged = abs(float(sc0 @ s)) < 1e-12 * max(abs(lik), 1.0)
            break
        b = bn
    return b, converged, it, lik, s, h


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def finegray(
    time: Any,
    status: Any,
    X: Any,
    *,
    failcode: Any = 1,
    cencode: Any = 0,
    names: Sequence[str] | None = None,
    cengroup: Any = None,
    gtol: float = 1e-9,
    maxiter: int = 100,
    init: Any = None,
    conf_level: float = 0.95,
    variance: bool = True,
    input_names: Mapping[str, str] | None = None,
) -> FineGrayResult:
    """Fit a Fine-Gray subdistribution hazards model (``cmprsk::crr``).

    Parameters
    ----------
    time : array_like
        Follow-up times.
    status : array_like
        ``cencode`` = censored, ``failcode`` = the event of interest, anything else = a
        competing event.
    X : array_like (n, p)
        Covariates (``cov1`` of crr); no intercept.
    failcode, cencode : scalar
        Codes of the event of interest and of censoring.
    names : sequence of str, optional
        Covariate names (default ``x1``, ``x2``...).
    cengroup : array_like, optional
        Groups with separate censoring distributions (crr's ``cengroup``).
    gtol, maxiter : float, int
        crr's convergence criterion. The defaults (1e-9, 100) are stricter than crr's
        (1e-6, 10), which leave relative errors of a few 1e-5 in the coefficients.
    init : array_like, optional
        Starting values (default 0).
    conf_level : float
        Level of the subdistribution hazard ratio intervals.
    variance : bool
        Compute the sandwich variance (default True).
    input_names : mapping, optional
        Names for error messages about ``time`` and ``status`` (keys ``time``, ``event``),
        e.g. the CSV column names; default ``time`` and ``status``. (``names`` is taken: it
        names the covariates.)

    Returns
    -------
    FineGrayResult
        Aliased terms (constant, or linear combinations of earlier terms) have NaN
        coefficients, standard errors and tests, as R's ``coxph`` reports NA (``crr`` itself
        stops with a singular matrix).

    Raises
    ------
    InputError
        Bad time/status/covariates, no event of ``failcode``, or no estimable term (every
        term constant or collinear; the message names them).

    Warns
    -----
    ConvergenceWarning
        When the criterion is not met within ``maxiter`` iterations.
    CollinearityWarning
        Naming aliased terms (dropped) and terms with no information at the estimate.
    SeparationWarning
        Monotone pseudo-likelihood: a coefficient diverges while the pseudo log-likelihood
        flattens (e.g. a covariate that separates the cause-``failcode`` events). The rule
        is coxph's "Loglik converged before variable": at the reported estimate the next
        Newton step ``|I^-1 U|`` is still above ``sqrt(gtol) * |b|`` (and above 1e-6) for
        that term. The estimate, SE and p-value of such a term are not meaningful; the
        result is still returned.

    References
    ----------
    Fine JP, Gray RJ. A proportional hazards model for the subdistribution of a competing
    risk. J Am Stat Assoc 1999;94:496-509.
    Gray RJ. cmprsk: Subdistribution Analysis of Competing Risks. R package 2.2-11.
    """
    t, e, _ = check_competing_input(
        time, status, cencode=cencode, event_name="status", names=input_names
    )
    Xa = np.asarray(X, dtype=float)
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    if Xa.ndim != 2 or Xa.shape[0] != t.size:
        raise InputError(f"must be an (n, p) matrix with n = {t.size} rows", column="X")
    if Xa.shape[1] == 0:
        raise InputError("needs at least one covariate", column="X")
    if not np.all(np.isfinite(Xa)):
        i = int(np.flatnonzero(~np.all(np.isfinite(Xa), axis=1))[0])
        raise InputError(f"missing or non-finite covariate value in row {i + 1}", column="X")
    p = Xa.shape[1]
    terms = tuple(names) if names is not None else tuple(f"x{j + 1}" for j in range(p))
    if len(terms) != p:
        raise InputError(f"{len(terms)} names for {p} covariates", column="names")
    if cengroup is None:
        cg = np.zeros(t.size, dtype=np.int64)
        ncg = 1
    else:
        lab, cg = np.unique(np.asarray(cengroup), return_inverse=True)
        ncg = lab.size
    ici = np.where(e == cencode, 0, np.where(e == failcode, 1, 2)).astype(np.int64)
    nfail = int((ici == 1).sum())
    if nfail == 0:
        warnings.warn(
            f"no events with failcode {failcode!r}: the model cannot be fitted",
            NoEventsWarning,
            stacklevel=2,
        )
        raise InputError(f"no events with failcode {failcode!r}", column="status")
    from cartlens.stats.cox import _aliased_columns, _gchol_inverse

    p_all = p
    alias = _aliased_columns(Xa, np.ones(t.size))
    if alias.all():
        bad = ", ".join(f"'{nm}'" for nm in terms)
        raise InputError(
            f"no estimable covariate: {bad} "
            + ("is" if p_all == 1 else "are")
            + f" constant or collinear over the {t.size} row(s) used",
            column=terms[0] if p_all == 1 else ", ".join(terms),
        )
    if alias.any():
        warnings.warn(
            "aliased term(s) "
            + ", ".join(np.asarray(terms)[alias])
            + " (constant or collinear with earlier terms) dropped; coefficient reported as "
            "NaN, as R's coxph does",
            CollinearityWarning,
            stacklevel=2,
        )
    keep = ~alias
    Xa = Xa[:, keep]
    p = Xa.shape[1]
    center = Xa.mean(0)
    data = _FGData(t, ici, Xa - center, cg, ncg)
    if init is None:
        b0 = np.zeros(p)
    else:
        b0 = np.asarray(init, dtype=float).copy()
        if b0.shape != (p_all,):
            raise InputError(f"needs {p_all} starting values", column="init")
        b0 = b0[keep]
    b, converged, it, lik, s, h = _crr_newton(data, b0, gtol, maxiter)
    if not converged:
        warnings.warn(
            f"Fine-Gray fit stopped after {it} iterations without meeting gtol = {gtol:g} "
            "(below about 1e-10 the criterion can hit floating-point noise; the "
            "coefficients are then at a numerical fixed point)",
            ConvergenceWarning,
            stacklevel=2,
        )
    # pseudo log-likelihoods without centring: the centring cancels exactly (see _FGData)
    loglik = -data.negloglik(b)
    loglik_null = -data.negloglik(np.zeros(p))
    _l, s_fin, info = data.fsv(b)
    # generalised inverse (R's cholesky2 rule): a term with no information gets a zero row
    hinv = _gchol_inverse(info)
    noinfo = np.diag(hinv) <= 0
    if noinfo.any():
        warnings.warn(
            "no information for term(s) "
            + ", ".join(np.asarray(terms)[keep][noinfo])
            + " at the estimate (collinear with other terms in the risk sets); its standard "
            "error and test are reported as NaN",
            CollinearityWarning,
            stacklevel=2,
        )
    # coxph's check for infinite coefficients (monotone likelihood): the Newton step that
    # remains at the reported estimate is still large compared with the coefficient
    if maxiter > 1:
        stepsz = np.abs(hinv @ s_fin)
        infs = (stepsz > 1e-6) & (stepsz > math.sqrt(gtol) * np.abs(b)) & ~noinfo
        if infs.any():
            warnings.warn(
                "pseudo log-likelihood converged before variable(s) "
                + ", ".join(np.asarray(terms)[keep][infs])
                + f" (Newton step still {', '.join(f'{v:.3g}' for v in stepsz[infs])}); "
                "coefficient may be infinite (monotone likelihood / separation of the "
                f"failcode {failcode!r} events); its estimate, SE and p-value are not "
                "meaningful",
                SeparationWarning,
                stacklevel=2,
            )
    if variance:
        meat = data.sandwich_meat(b)
        vcov = hinv @ meat @ hinv.T
        vcov[noinfo, :] = np.nan
        vcov[:, noinfo] = np.nan
    else:
        vcov = np.full((p, p), np.nan)

    def expand(v):
        out = np.full(p_all, np.nan)
        out[keep] = v
        return out

    vcov_all = np.full((p_all, p_all), np.nan)
    vcov_all[np.ix_(keep, keep)] = vcov
    info_all = np.full((p_all, p_all), np.nan)
    info_all[np.ix_(keep, keep)] = info
    bb = expand(b)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        se = np.sqrt(np.diag(vcov_all))
        z = bb / se
        pv = 2 * _st.norm.sf(np.abs(z))
        zc = _st.norm.ppf(0.5 + conf_level / 2)
        shr, shr_lo, shr_hi = np.exp(bb), np.exp(bb - zc * se), np.exp(bb + zc * se)
    lr = 2 * (loglik - loglik_null)
    return FineGrayResult(
        terms=terms,
        coef=bb,
        se=se,
        vcov=vcov_all,
        z=z,
        p=pv,
        shr=shr,
        shr_lower=shr_lo,
        shr_upper=shr_hi,
        loglik=loglik,
        loglik_null=loglik_null,
        lr_test={"stat": lr, "df": p, "p": float(_st.chi2.sf(lr, p))},
        score=expand(-s_fin),
        information=info_all,
        converged=converged,
        iterations=it,
        n=int(t.size),
        n_dropped=0,
        events=nfail,
        competing=int((ici == 2).sum()),
        censored=int((ici == 0).sum()),
        failcode=failcode,
        uftime=data.uft,
        bfitj=data.bfitj(b),
        conf_level=conf_level,
        settings={
            "failcode": failcode,
            "cencode": cencode,
            "gtol": gtol,
            "maxiter": maxiter,
            "center": expand(center),
            "aliased": tuple(np.asarray(terms)[alias]),
            "cengroup": cengroup is not None,
        },
    )


def predict_cif(result: FineGrayResult, x: Any) -> dict:
    """Predicted cumulative incidence for covariate rows ``x`` (``predict.crr``).

    Returns ``{"time": uftime, "cif": array (n_times, n_rows)}`` with
    ``CIF(t | x) = 1 - exp(-exp((x - centre)'b) * Lambda_0(t))``; the centring matches crr's
    uncentred baseline exactly because ``bfitj`` was computed with centred covariates.
    """
    xa = np.atleast_2d(np.asarray(x, dtype=float))
    if xa.shape[1] != result.coef.size:
        raise InputError(f"needs {result.coef.size} covariate values per row", column="x")
    use = np.isfinite(result.coef)  # aliased terms (NaN) do not enter the prediction
    lp = linear_predictor(xa[:, use] - result.settings["center"][use], result.coef[use])
    lam = np.cumsum(result.bfitj)
    return {"time": result.uftime, "cif": 1 - np.exp(-np.outer(lam, np.exp(lp)))}


def finegray_formula(
    formula: str,
    data: Any,
    *,
    time: str,
    status: str,
    failcode: Any = 1,
    cencode: Any = 0,
    **kwargs: Any,
) -> FineGrayResult:
    """:func:`finegray` with covariates from a formula (``cartlens.stats.formula`` coding).

    Rows with a missing value in a used column are dropped (``n_dropped``).
    """
    from cartlens.stats.formula import design

    for c in (time, status):
        if c not in data.columns:
            raise InputError("does not exist in the data", column=c)
    d = design(formula, data, extra_columns=(time, status))
    sub = data.loc[d.kept]
    res = finegray(
        sub[time].to_numpy(float),
        sub[status].to_numpy(),
        d.X,
        failcode=failcode,
        cencode=cencode,
        names=d.names,
        **{"input_names": {"time": time, "event": status}, **kwargs},
    )
    return dataclasses.replace(res, n_dropped=d.n_dropped)


def cause_specific_cox(
    time: Any, status: Any, X: Any, *, cause: Any, cencode: Any = 0, **kwargs: Any
):
    """Cause-specific Cox model for ``cause`` (other causes censored), via ``coxph``.

    Equivalent to R's ``coxph(Surv(time, status == cause) ~ X)``; for comparison with the
    Fine-Gray model. Extra keyword arguments go to :func:`cartlens.stats.cox.coxph`.
    """
    from cartlens.stats.cox import coxph

    t, e, _ = check_competing_input(time, status, cencode=cencode, event_name="status")
    return coxph(t, (e == cause).astype(int), X, **kwargs)
