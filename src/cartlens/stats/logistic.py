"""Logistic regression: maximum likelihood (as R ``glm``) and Firth's penalised likelihood
(as R ``logistf``), from a formula on a DataFrame or from arrays.

* Maximum likelihood by iteratively reweighted least squares, started as R's ``glm.fit``
  (mu = (y + 1/2) / 2) and run to a relative deviance change below 1e-10. Standard errors
  are from the inverse Fisher information at the estimate; intervals and p-values are Wald
  (``summary.glm``, ``confint.default``) unless ``ci="profile"``.
* Firth: maximises l(b) + log|X'W X| / 2 by Newton-Raphson on the modified score
  ``X'(y - p + h (1/2 - p))`` with step halving and a maximum step of 5 (logistf's
  defaults), to a tighter tolerance than logistf. As in ``logistf(pl = TRUE)`` (its
  default), intervals are **profile penalised-likelihood** intervals and p-values are
  **penalised likelihood-ratio** tests: for each coefficient the penalised likelihood is
  re-maximised with that coefficient fixed (the penalty keeps the full design, as in
  logistf). ``ci="wald"`` gives Wald intervals and p-values from the same variance (the
  inverse information at the estimate, logistf's ``vcov``). With one coefficient fixed,
  the penalised likelihood can have several local maxima; the profile uses the global one
  (exact-Hessian Newton from several starts with a multi-start guard at each limit, see
  ``_profile_limit``), where logistf takes the local one its search reaches. Each point
  of the profile is computed once and cached; the bracket grows geometrically from
  one standard error, and where the profile never reaches the threshold (separation;
  ``|b| > 1e4``) the limit is reported as infinite (``inf`` odds ratio, ``null`` in
  JSON) with a :class:`SeparationWarning`, never an exception.
  logistf reports a finite value at its iteration limit there instead.
* Separation is detected exactly by a linear programme (is there a direction b != 0 with
  (2y - 1) x'b >= 0 for every row?): a :class:`SeparationWarning` names the terms
  involved; the ML estimates then diverge, and Firth's method is the remedy.
* Collinear columns are found as R's ``glm`` does (a column whose residual on the
  previous columns has a relative norm below 1e-7 is aliased), dropped, reported with a
  :class:`CollinearityWarning`, and get NaN estimates (R's ``NA``).

References
----------
Firth D. Bias reduction of maximum likelihood estimates. Biometrika 1993;80:27-38.
Heinze G, Schemper M. A solution to the problem of separation in logistic regression.
Stat Med 2002;21:2409-2419.
Heinze G, Ploner M. Fixing the nonconvergence bug in logistic regression with SPLUS and SAS.
Comput Methods Programs Biomed 2003;71:181-187.
Konis K. Linear programming algorithms for detecting separated data in binary logistic
regression models. DPhil thesis, University of Oxford, 2007.
McCullagh P, Nelder JA. Generalized Linear Models, 2nd ed. Chapman & Hall, 1989.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize, stats

from cartlens.errors import (
    CollinearityWarning,
    ConvergenceWarning,
    InputError,
    SeparationWarning,
)
from cartlens.results import Result
from cartlens.stats._linalg import linear_predictor
from cartlens.stats.formula import r_style_name

#: Relative tolerance of the pivoting rule that declares a column aliased (R's glm: 1e-7).
ALIAS_TOL = 1e-7


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LogisticResult(Result):
    """A fitted logistic regression.

    ``coef``, ``se``, ``z``, ``p``, ``odds_ratio``, ``lower``, ``upper`` are aligned with
    ``terms`` (R-style names, ``(Intercept)`` first); aliased terms have NaN. ``lower`` and
    ``upper`` are the limits of the odds ratio; ``ci_method`` says how they (and ``p``) were
    computed: ``"wald"`` or ``"profile"`` (profile (penalised) likelihood intervals with
    (penalised) likelihood-ratio p-values). ``loglik`` is the unpenalised log-likelihood at
    the estimate and ``penalized_loglik`` the maximised objective (equal to ``loglik`` without
    Firth).
    """

    formula: str | None
    outcome: str | None
    terms: tuple
    coef: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p: np.ndarray
    odds_ratio: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    p_wald: np.ndarray
    vcov: np.ndarray
    conf_level: float
    ci_method: str
    firth: bool
    loglik: float
    penalized_loglik: float
    loglik_null: float
    deviance: float
    null_deviance: float
    aic: float
    lr_test: dict
    n: int
    events: int
    n_dropped_missing: int
    iterations: int
    converged: bool
    separation: bool
    separated_terms: tuple
    aliased_terms: tuple
    fitted: np.ndarray

    def terms_table(self) -> list[dict]:
        """One dict per term: term, coef, se, or, lower, upper, z, p."""
        return [
            {
                "term": t,
                "coef": float(self.coef[i]),
                "se": float(self.se[i]),
                "or": float(self.odds_ratio[i]),
                "lower": float(self.lower[i]),
                "upper": float(self.upper[i]),
                "z": float(self.z[i]),
                "p": float(self.p[i]),
            }
            for i, t in enumerate(self.terms)
        ]

    def to_dict(self) -> dict:
        """JSON-safe dict; the per-row ``fitted`` values are left out (use the attribute)."""
        d = super().to_dict()
        d.pop("fitted", None)
        d["table"] = [{k: _nan_none(v) for k, v in r.items()} for r in self.terms_table()]
        return d


def _nan_none(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


@dataclasses.dataclass(frozen=True)
class UnivariableLogistic(Result):
    """One logistic model per covariate (each on its own complete cases)."""

    outcome: str
    covariates: tuple
    fits: tuple
    firth: bool

    def terms_table(self) -> list[dict]:
        """All non-intercept terms of every model, each with its ``covariate`` and ``n``."""
        rows = []
        for cov, fit in zip(self.covariates, self.fits):
            for r in fit.terms_table():
                if r["term"] != "(Intercept)":
                    rows.append({"covariate": cov, "n": fit.n, "events": fit.events, **r})
        return rows

    def to_dict(self) -> dict:
        return {
            "outcome": self.outcome,
            "covariates": list(self.covariates),
            "firth": self.firth,
            "fits": [f.to_dict() for f in self.fits],
            "table": [{k: _nan_none(v) for k, v in r.items()} for r in self.terms_table()],
        }


# --------------------------------------------------------------------------------------------
# Numerical core
# --------------------------------------------------------------------------------------------


def _expit(eta: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -eta))


def _loglik(X: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
    eta = linear_predictor(X, beta)
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


def _objective(X: np.ndarray, y: np.ndarray, beta: np.ndarray, firth: bool):
    """(objective, p, information) at beta; the objective is penalised when ``firth``."""
    eta = linear_predictor(X, beta)
    p = _expit(eta)
    w = p * (1.0 - p)
    info = X.T @ (X * w[:, None])
    ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    if firth:
        sign, logdet = np.linalg.slogdet(info)
        ll = ll + 0.5 * logdet if sign > 0 else -math.inf
    return ll, p, info


def _score(X: np.ndarray, y: np.ndarray, p: np.ndarray, info: np.ndarray, firth: bool):
    """Gradient of the (penalised) log-likelihood: X'(y - p [+ h (1/2 - p)])."""
    resid = y - p
    if firth:
        w = p * (1.0 - p)
        try:
            inv = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            inv = np.linalg.pinv(info, hermitian=True)
        xs = X * np.sqrt(w)[:, None]
        h = np.einsum("ij,jk,ik->i", xs, inv, xs)
        resid = resid + h * (0.5 - p)
    return X.T @ resid


def _newton(
    X: np.ndarray,
    y: np.ndarray,
    beta0: np.ndarray,
    *,
    firth: bool,
    free: np.ndarray | None = None,
    maxiter: int = 100,
    maxstep: float = 5.0,
    tol: float = 1e-10,
) -> tuple[np.ndarray, float, int, bool]:
    """Maximise the (penalised) log-likelihood over the ``free`` coordinates of beta.

    Newton-Raphson with the Fisher information, steps limited to ``maxstep`` and halved
    until the objective does not decrease (logistf's algorithm). Returns (beta, objective,
    iterations, converged).
    """
    beta = beta0.astype(float).copy()
    k = beta.size
    free = np.ones(k, bool) if free is None else free
    all_free = bool(free.all())
    fi = np.flatnonzero(free)
    obj, p, info = _objective(X, y, beta, firth)
    converged = False
    it = 0
    for it in range(1, maxiter + 1):  # noqa: B007
        g = _score(X, y, p, info, firth)
        if all_free:
            sub = info
        else:
            g = g[fi]
            sub = info[fi[:, None], fi]
        try:
            step_f = np.linalg.solve(sub, g)
        except np.linalg.LinAlgError:
            step_f = np.linalg.lstsq(sub, g, rcond=None)[0]
        mx = float(np.max(np.abs(step_f))) if step_f.size else 0.0
        if mx > maxstep:
            step_f *= maxstep / mx
        step = np.zeros(k)
        step[free] = step_f
        new = beta + step
        new_obj, new_p, new_info = _objective(X, y, new, firth)
        halvings = 0
        while not (new_obj >= obj - 1e-12 * max(1.0, abs(obj))) and halvings < 40:
            step /= 2.0
            new = beta + step
            new_obj, new_p, new_info = _objective(X, y, new, firth)
            halvings += 1
        beta, p, info = new, new_p, new_info
        change = abs(new_obj - obj)
        obj = new_obj
        if float(np.max(np.abs(step))) < tol or (
            change < tol * (abs(obj) + 0.1) and float(np.max(np.abs(g))) < 1e-6
        ):
            converged = True
            break
    return beta, obj, it, converged


def _aliased_columns(X: np.ndarray) -> np.ndarray:
    """Boolean mask of columns linearly dependent on earlier columns (R's glm pivoting)."""
    k = X.shape[1]
    aliased = np.zeros(k, bool)
    basis: list[np.ndarray] = []
    for j in range(k):
        v = X[:, j].astype(float)
        norm = float(np.linalg.norm(v))
        r = v.copy()
        for q in basis:
            r -= (q @ r) * q
        for q in basis:  # re-orthogonalise once (classical Gram-Schmidt twice is stable)
            r -= (q @ r) * q
        rn = float(np.linalg.norm(r))
        if norm == 0 or rn <= ALIAS_TOL * norm:
            aliased[j] = True
        else:
            basis.append(r / rn)
    return aliased


def detect_separation(X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Direction of (quasi-)complete separation, or ``None`` when the ML estimate exists.

    Solves the linear programme max sum_i s_i x_i'b subject to s_i x_i'b >= 0 and
    -1 <= b <= 1 (s_i = 2 y_i - 1). A positive optimum means a direction in which the
    log-likelihood increases without bound.

    References
    ----------
    Albert A, Anderson JA. On the existence of maximum likelihood estimates in logistic
    regression models. Biometrika 1984;71:1-10. Konis K (2007), DPhil thesis, Oxford.
    """
    s = 2.0 * np.asarray(y, float) - 1.0
    A = X * s[:, None]
    scale = np.maximum(np.abs(X).max(axis=0), 1e-300)
    As = A / scale  # column scaling keeps the programme well conditioned
    res = optimize.linprog(
        c=-As.sum(axis=0),
        A_ub=-As,
        b_ub=np.zeros(len(y)),
        bounds=[(-1.0, 1.0)] * X.shape[1],
        method="highs",
    )
    if res.status != 0:
        return None
    if -res.fun > 1e-7 * len(y):
        d = res.x / scale
        return np.where(np.abs(res.x) > 1e-8, d, 0.0)
    return None


def _penalised_derivatives(X: np.ndarray, y: np.ndarray, beta: np.ndarray):
    """Firth-penalised log-likelihood l(b) + log|I(b)| / 2 with its exact gradient and Hessian.

    With w = p (1 - p), w' = w (1 - 2p), w'' = w (1 - 6w), Q = X I^{-1} X' and q = diag(Q):
    gradient X'(y - p + w q (1/2 - p)); Hessian
    -I + (X' diag(q w'') X - X' diag(w') (Q o Q) diag(w') X) / 2 (o: elementwise product).
    The Hessian is not the Fisher information: the penalised likelihood is not concave.
    Returns (-inf, None, None) where the information is singular.
    """
    eta = linear_predictor(X, beta)
    p = _expit(eta)
    w = p * (1.0 - p)
    info = X.T @ (X * w[:, None])
    try:
        chol = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        return -math.inf, None, None
    diag = np.diag(chol)
    if not np.all(diag > 0):
        return -math.inf, None, None
    obj = float(np.sum(y * eta - np.logaddexp(0.0, eta))) + float(np.sum(np.log(diag)))
    A = np.linalg.solve(chol, X.T)  # Q = X I^{-1} X' = A'A
    Q = A.T @ A
    q = np.diag(Q)
    grad = X.T @ (y - p + w * q * (0.5 - p))
    xw1 = X * (w * (1.0 - 2.0 * p))[:, None]
    hess = -info + 0.5 * (X.T @ (X * (q * w * (1.0 - 6.0 * w))[:, None]) - xw1.T @ (Q * Q) @ xw1)
    return obj, grad, hess


def _firth_constrained_max(
    X: np.ndarray, y: np.ndarray, beta0: np.ndarray, free: np.ndarray, maxiter: int = 300
) -> tuple[np.ndarray, float]:
    """Local maximum of the penalised log-likelihood over the ``free`` coordinates from beta0.

    Newton's method with the exact Hessian (quadratic convergence, where Fisher scoring
    crawls far out on a flat profile); where the Hessian is not negative definite its
    eigenvalues are replaced by minus their absolute values (an ascent direction), steps
    are capped at 5 and halved until the objective increases.
    """
    fi = np.flatnonzero(free)
    beta = beta0.astype(float).copy()
    obj, grad, hess = _penalised_derivatives(X, y, beta)
    if grad is None:
        return beta, -math.inf
    tol_obj = 1e-13 * (abs(obj) + 1.0)
    for _ in range(maxiter):
        g = grad[fi]
        if float(np.max(np.abs(g))) < 1e-9:
            break
        neg = -hess[np.ix_(fi, fi)]
        try:  # negative definite Hessian: plain Newton step
            np.linalg.cholesky(neg)
            step_f = np.linalg.solve(neg, g)
        except np.linalg.LinAlgError:
            evals, evecs = np.linalg.eigh(neg)
            evals = np.maximum(np.abs(evals), 1e-10 * max(float(np.max(np.abs(evals))), 1e-300))
            step_f = evecs @ ((evecs.T @ g) / evals)
        mx = float(np.max(np.abs(step_f)))
        if mx > 5.0:
            step_f *= 5.0 / mx
        for _halving in range(60):
            new = beta.copy()
            new[fi] += step_f
            new_obj, new_grad, new_hess = _penalised_derivatives(X, y, new)
            if new_grad is not None and new_obj >= obj - tol_obj:
                break
            step_f = step_f / 2.0
        else:
            break
        beta, grad, hess = new, new_grad, new_hess
        done = float(np.max(np.abs(step_f))) < 1e-11
        obj = new_obj
        if done:
            break
    return beta, float(obj)


_PROFILE_MAXITER = 1000  # ML constrained fits (concave; Fisher scoring)
_PROFILE_MAX_DOUBLINGS = 30  # bracket grows geometrically: step * 2**30 covers any finite limit
_PROFILE_MAX_ABS = 1e4  # |beta_j| beyond which the limit is taken as infinite
_GUARD_STARTS = 12  # random starts of the global-maximum guard (fixed seed: deterministic)
_GUARD_SPREAD = 4.0  # their spread, in standard errors at the estimate
_GUARD_ROUNDS = 6  # profile searches redone with newly found branches, at most


def _firth_global_max(
    X: np.ndarray,
    y: np.ndarray,
    b: float,
    j: int,
    free: np.ndarray,
    starts: Sequence[np.ndarray],
) -> tuple[np.ndarray, float]:
    """Best local maximum of the penalised likelihood with beta_j = b over several starts."""
    best, best_obj = starts[0], -math.inf
    for start in starts:
        beta0 = start.copy()
        beta0[j] = b
        cand, cand_obj = _firth_constrained_max(X, y, beta0, free)
        if cand_obj > best_obj:
            best, best_obj = cand, cand_obj
    return best, best_obj


def _guard_starts(beta_hat: np.ndarray, se: np.ndarray, j: int, side: int) -> list[np.ndarray]:
    """Deterministic random starts around the estimate for the global-maximum guard."""
    rng = np.random.default_rng([j, side + 1])
    spread = _GUARD_SPREAD * np.where(np.isfinite(se) & (se > 0), se, 1.0)
    return [beta_hat + spread * rng.standard_normal(beta_hat.size) for _ in range(_GUARD_STARTS)]


def _profile_limit(
    X: np.ndarray,
    y: np.ndarray,
    beta_hat: np.ndarray,
    obj_hat: float,
    j: int,
    se: np.ndarray,
    side: int,
    crit: float,
    firth: bool,
) -> float:
    """Limit of the profile (penalised) likelihood interval of coefficient j on one side.

    The deficit ``2 (l(beta_hat) - max_{beta_-j} l(b, beta_-j)) - crit`` is computed once
    per value of b and cached, so ``brentq`` sees exactly the values that formed the
    bracket. The bracket grows geometrically from one standard error; if the deficit never
    becomes positive before ``|beta_j|`` exceeds ``1e4`` (or 30 doublings) the profile
    does not cross the threshold (separation: the limit is at infinity) and
    ``side * inf`` is returned; the caller warns. ML fits (concave) start from the
    estimate.

    Firth: the penalised likelihood is not concave, and with beta_j fixed far from its
    estimate the maximisation over the other coefficients has several local maxima (on
    the demo's CART2 model a local search from the estimate, or a continuation from the
    previous point, gave limits off by up to 50%). The maximum must be the global one.
    Each value is maximised by exact-Hessian Newton (:func:`_firth_constrained_max`)
    from the nearest solved point and from every branch point found so far, keeping the
    highest. At the limit found, a guard maximises again from 12 fixed-seed random
    starts (4 standard errors around the estimate); if one reaches a higher penalised
    likelihood, its solution joins the branch points and the search is redone (at most
    6 times); so does the solution at the limit when brentq stopped at a jump of the
    computed profile (a lower local maximum taken just beyond it). All starts are fixed,
    so the result is deterministic.
    """
    free = np.ones(beta_hat.size, bool)
    free[j] = False
    se_j = float(se[j])
    branches: list[np.ndarray] = [beta_hat]

    def search() -> tuple[float, dict, dict]:
        cache: dict[float, float] = {}
        solved: dict[float, np.ndarray] = {float(beta_hat[j]): beta_hat}
        objs: dict[float, float] = {}

        def deficit(b: float) -> float:
            if b not in cache:
                if firth:
                    near = solved[min(solved, key=lambda v: abs(v - b))]
                    beta, obj = _firth_global_max(X, y, b, j, free, [near, *branches])
                else:
                    beta0 = beta_hat.copy()
                    beta0[j] = b
                    beta, obj, _, _ = _newton(
                        X, y, beta0, firth=False, free=free, maxiter=_PROFILE_MAXITER
                    )
                solved[b] = beta
                objs[b] = obj
                cache[b] = 2.0 * (obj_hat - obj) - crit
            return cache[b]

        step = max(se_j, 1e-3) if math.isfinite(se_j) else 1.0
        lo = float(beta_hat[j])
        hi = lo + side * step
        f_hi = deficit(hi)
        doublings = 0
        while not f_hi > 0:
            lo = hi
            step *= 2.0
            hi = lo + side * step
            doublings += 1
            if doublings > _PROFILE_MAX_DOUBLINGS or abs(hi) > _PROFILE_MAX_ABS:
                return side * math.inf, solved, objs
            f_hi = deficit(hi)
        a, b = sorted((lo, hi))
        root = float(optimize.brentq(deficit, a, b, xtol=1e-10, rtol=1e-12, maxiter=200))
        deficit(root)
        return root, solved, objs

    limit, solved, objs = search()
    if not firth:
        return limit
    guard = _guard_starts(beta_hat, se, j, side)
    for _ in range(_GUARD_ROUNDS):
        # check the limit (or, when unbounded, the last point tried)
        b = limit if math.isfinite(limit) else max(solved, key=lambda v: side * v)
        beta, obj = _firth_global_max(X, y, b, j, free, guard)
        if obj > objs[b] + 1e-9 * (abs(objs[b]) + 1.0):
            branches.append(beta)
        elif math.isfinite(limit) and abs(2.0 * (obj_hat - objs[b]) - crit) > 1e-6:
            # brentq stopped at a jump of the computed profile: beyond it a lower local
            # maximum was taken; continue the higher branch from here
            branches.append(solved[b])
        else:
            break
        limit, solved, objs = search()
    return limit


def _profile_p(
    X: np.ndarray,
    y: np.ndarray,
    beta_hat: np.ndarray,
    obj_hat: float,
    j: int,
    firth: bool,
    se: np.ndarray | None = None,
) -> float:
    free = np.ones(beta_hat.size, bool)
    free[j] = False
    if firth:
        starts = [beta_hat]
        if se is not None:  # the estimate's neighbourhood: fewer starts suffice
            starts += _guard_starts(beta_hat, se, j, 0)[: _GUARD_STARTS // 2]
        _, obj = _firth_global_max(X, y, 0.0, j, free, starts)
    else:
        beta0 = beta_hat.copy()
        beta0[j] = 0.0
        _, obj, _, _ = _newton(X, y, beta0, firth=False, free=free, maxiter=200)
    stat = max(2.0 * (obj_hat - obj), 0.0)
    return float(stats.chi2.sf(stat, 1))


def _check_y(y: Any, name: str = "y") -> np.ndarray:
    try:
        ya = np.asarray(y, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"must be 0/1: {exc}", column=name) from exc
    bad = ~np.isin(ya, (0.0, 1.0))
    if bad.any():
        raise InputError(
            f"must be coded 0/1 (or True/False); found {ya[np.flatnonzero(bad)[0]]!r}",
            column=name,
        )
    return ya


def fit_logistic_arrays(
    X: Any,
    y: Any,
    names: Sequence[str] | None = None,
    *,
    firth: bool = False,
    ci: str | None = None,
    conf_level: float = 0.95,
    outcome: str | None = None,
    formula: str | None = None,
    n_dropped_missing: int = 0,
) -> LogisticResult:
    """Fit a logistic regression on a design matrix (include the intercept column yourself).

    Parameters
    ----------
    X : array_like (n, k)
        Design matrix.
    y : array_like (n,)
        Outcome coded 0/1.
    names : sequence of str, optional
        Column names (default ``x0, x1, ...``).
    firth : bool
        Firth's penalised likelihood instead of maximum likelihood.
    ci : {"wald", "profile"}, optional
        Interval and p-value method; default ``"profile"`` with Firth (logistf's default)
        and ``"wald"`` without (``summary.glm``).
    conf_level : float
        Confidence level.

    Returns
    -------
    LogisticResult

    Warns
    -----
    SeparationWarning
        Separation without Firth (estimates diverge; use ``firth=True``); with Firth the
        estimates are finite and the flag is only recorded.
    CollinearityWarning
        Aliased columns were dropped.
    ConvergenceWarning
        The iterations did not converge.

    References
    ----------
    See the module docstring.
    """
    Xa = np.asarray(X, dtype=float)
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    ya = _check_y(y, outcome or "y")
    n, k = Xa.shape
    if ya.size != n:
        raise InputError(f"has {ya.size} values but X has {n} rows", column=outcome or "y")
    if not np.all(np.isfinite(Xa)):
        raise InputError("design matrix contains missing or infinite values", column="X")
    names = tuple(names) if names is not None else tuple(f"x{i}" for i in range(k))
    if len(names) != k:
        raise InputError(f"has {len(names)} names for {k} columns", column="names")
    if n == 0:
        raise InputError("no observations", column=outcome or "y")
    events = int(ya.sum())
    if events == 0 or events == n:
        raise InputError(
            f"all {n} observations have outcome {int(ya[0])}; a logistic model needs both outcomes",
            column=outcome or "y",
        )
    ci = ci or ("profile" if firth else "wald")
    if ci not in ("wald", "profile"):
        raise InputError(f"must be 'wald' or 'profile', got {ci!r}", column="ci")
    if not (0.0 < conf_level < 1.0):
        raise InputError(f"must lie in (0, 1), got {conf_level!r}", column="conf_level")

    aliased = _aliased_columns(Xa)
    if aliased.any():
        warnings.warn(
            "collinear covariates: "
            + ", ".join(np.asarray(names)[aliased])
            + " dropped (not estimable; linearly dependent on earlier terms)",
            CollinearityWarning,
            stacklevel=2,
        )
    keep = ~aliased
    Xk = Xa[:, keep]
    kk = Xk.shape[1]
    names_k = [n for n, kept in zip(names, keep, strict=True) if kept]
    if n <= kk and not firth:
        warnings.warn(
            f"only {n} observations for {kk} coefficients", ConvergenceWarning, stacklevel=2
        )

    direction = detect_separation(Xk, ya)
    separation = direction is not None
    sep_terms: tuple = ()
    if separation:
        sep_terms = tuple(np.asarray(names)[keep][np.abs(direction) > 0])
        if not firth:
            warnings.warn(
                "separation: the outcome is perfectly predicted along "
                + (", ".join(sep_terms) or "a combination of terms")
                + "; maximum-likelihood estimates do not exist (they diverge). "
                "Use Firth's penalised likelihood (firth=True; --firth on the command line).",
                SeparationWarning,
                stacklevel=2,
            )

    # start as R's glm.fit: mu = (y + 0.5) / 2, i.e. eta = logit(mu), one WLS step
    mu0 = (ya + 0.5) / 2.0
    eta0 = np.log(mu0 / (1 - mu0))
    w0 = mu0 * (1 - mu0)
    z0 = eta0 + (ya - mu0) / w0
    try:
        beta0 = np.linalg.lstsq(Xk * np.sqrt(w0)[:, None], z0 * np.sqrt(w0), rcond=None)[0]
    except np.linalg.LinAlgError:  # pragma: no cover
        beta0 = np.zeros(kk)
    maxiter = 25 if (separation and not firth) else 100
    beta, obj, iters, converged = _newton(Xk, ya, beta0, firth=firth, maxiter=maxiter)
    if not converged and not (separation and not firth):
        warnings.warn(
            f"the fit did not converge in {iters} iterations", ConvergenceWarning, stacklevel=2
        )
    _, pfit, info = _objective(Xk, ya, beta, False)
    try:
        vk = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        vk = np.linalg.pinv(info, hermitian=True)
    se_k = np.sqrt(np.clip(np.diag(vk), 0, None))
    z_k = beta / se_k
    p_wald_k = 2 * stats.norm.sf(np.abs(z_k))
    zq = float(stats.norm.ppf((1 + conf_level) / 2))
    if ci == "wald":
        lo_k, hi_k, p_k = beta - zq * se_k, beta + zq * se_k, p_wald_k
    else:
        crit = float(stats.chi2.ppf(conf_level, 1))
        lo_k = np.empty(kk)
        hi_k = np.empty(kk)
        p_k = np.empty(kk)
        for j in range(kk):
            lo_k[j] = _profile_limit(Xk, ya, beta, obj, j, se_k, -1, crit, firth)
            hi_k[j] = _profile_limit(Xk, ya, beta, obj, j, se_k, +1, crit, firth)
            p_k[j] = _profile_p(Xk, ya, beta, obj, j, firth, se_k)
        open_ends = [
            f"{names_k[j]} ({'lower' if np.isinf(lo_k[j]) else 'upper'})"
            for j in range(kk)
            if np.isinf(lo_k[j]) or np.isinf(hi_k[j])
        ]
        if open_ends:
            warnings.warn(
                "the profile likelihood does not reach the confidence threshold, so the "
                f"interval is unbounded (reported as infinite) for: {', '.join(open_ends)}",
                SeparationWarning,
                stacklevel=2,
            )

    def full(v: np.ndarray) -> np.ndarray:
        out = np.full(k, np.nan)
        out[keep] = v
        return out

    vcov = np.full((k, k), np.nan)
    vcov[np.ix_(keep, keep)] = vk
    loglik = _loglik(Xk, ya, beta)
    pbar = events / n
    loglik_null = float(events * math.log(pbar) + (n - events) * math.log1p(-pbar))
    lr_stat = 2.0 * (loglik - loglik_null)
    df_lr = int(kk - (1 if _has_intercept(Xk) else 0))
    coef = full(beta)
    with np.errstate(over="ignore"):
        odds_ratio, or_lower, or_upper = np.exp(coef), np.exp(full(lo_k)), np.exp(full(hi_k))
    return LogisticResult(
        formula=formula,
        outcome=outcome,
        terms=names,
        coef=coef,
        se=full(se_k),
        z=full(z_k),
        p=full(np.asarray(p_k, float)),
        odds_ratio=odds_ratio,
        lower=or_lower,
        upper=or_upper,
        p_wald=full(p_wald_k),
        vcov=vcov,
        conf_level=float(conf_level),
        ci_method=ci,
        firth=bool(firth),
        loglik=loglik,
        penalized_loglik=float(obj),
        loglik_null=loglik_null,
        deviance=-2.0 * loglik,
        null_deviance=-2.0 * loglik_null,
        aic=-2.0 * loglik + 2 * kk,
        lr_test={"stat": lr_stat, "df": df_lr, "p": float(stats.chi2.sf(lr_stat, max(df_lr, 1)))},
        n=int(n),
        events=events,
        n_dropped_missing=int(n_dropped_missing),
        iterations=int(iters),
        converged=bool(converged),
        separation=separation,
        separated_terms=sep_terms,
        aliased_terms=tuple(np.asarray(names)[aliased]),
        fitted=pfit,
    )


def _has_intercept(X: np.ndarray) -> bool:
    return bool(np.any(np.all(X == 1.0, axis=0)))


def firth_fit(X: Any, y: Any) -> dict:
    """Array back end for other modules: Firth fit of ``y`` on ``X`` (intercept included).

    Returns a dict with ``coef, vcov, fitted, loglik`` (unpenalised), ``penalized_loglik,
    iterations, converged`` (Wald quantities only; no profile intervals are computed).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparationWarning)
        r = fit_logistic_arrays(X, y, firth=True, ci="wald")
    return {
        "coef": r.coef,
        "vcov": r.vcov,
        "fitted": r.fitted,
        "loglik": r.loglik,
        "penalized_loglik": r.penalized_loglik,
        "iterations": r.iterations,
        "converged": r.converged,
    }


# --------------------------------------------------------------------------------------------
# Formula interface
# --------------------------------------------------------------------------------------------


def _term_name(name: str) -> str:
    """formulaic's column name -> ``(Intercept)`` or the ``var[level]`` of every command."""
    return "(Intercept)" if name == "Intercept" else r_style_name(name)


def _quote(expr: str, columns: Sequence[str]) -> str:
    """Back-quote column names that are not Python identifiers (``ph.ecog``) for formulaic."""
    out = expr
    for c in sorted((c for c in columns if not str(c).isidentifier()), key=len, reverse=True):
        out = re.sub(r"(?<![\w.`])" + re.escape(str(c)) + r"(?![\w.`])", f"`{c}`", out)
    return out


def _outcome_vector(data: Any, outcome: str) -> np.ndarray:
    """The outcome column as 0/1 floats with NaN for missing; booleans accepted.

    Anything else is an :class:`InputError` naming the column, the first offending row and
    the distinct values found."""
    import pandas as pd

    col = data[outcome]
    if col.dtype == bool:
        return col.astype(float).to_numpy()
    vals = pd.to_numeric(col, errors="coerce")
    arr = vals.to_numpy(dtype=float)
    bad = (vals.isna() & col.notna()).to_numpy() | ~(np.isnan(arr) | np.isin(arr, (0.0, 1.0)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        found = sorted({str(v) for v in col.dropna().tolist()})
        shown = ", ".join(repr(v) for v in found[:10]) + (", ..." if len(found) > 10 else "")
        raise InputError(
            f"must be a binary outcome coded 0/1; value {col.iloc[i]!r} in row {i + 1} is "
            f"not ({len(found)} values found: {shown})",
            column=outcome,
        )
    return arr


def logistic_regression(
    formula: str,
    data: Any,
    *,
    firth: bool = False,
    ci: str | None = None,
    conf_level: float = 0.95,
) -> LogisticResult:
    """Logistic regression from an R-style formula, ``"y ~ a + b + C(c)"``, on a DataFrame.

    Parameters
    ----------
    formula : str
        ``outcome ~ terms`` (formulaic syntax; categorical variables use treatment coding
        with the first level as reference). The outcome column must be 0/1 or boolean.
        Columns whose names are not Python identifiers (``ph.ecog``) may be written as they are.
    data : pandas.DataFrame
    firth : bool
        Firth's penalised likelihood (logistf).
    ci : {"wald", "profile"}, optional
        See :func:`fit_logistic_arrays`.
    conf_level : float

    Returns
    -------
    LogisticResult
        Rows with a missing value in a used column are dropped and counted
        (``n_dropped_missing``). Term names: ``(Intercept)``, numeric columns by name,
        categorical levels as ``var[level]``.

    References
    ----------
    See the module docstring. R: ``glm(formula, family = binomial)``,
    ``logistf::logistf(formula)``.
    """
    import formulaic
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise InputError("must be a pandas DataFrame", column="data")
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise InputError("must look like 'outcome ~ a + b'", column="formula")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    outcome = lhs.strip("`")
    if outcome not in data.columns:
        raise InputError("does not exist in the data", column=outcome)
    if not rhs:
        raise InputError("has no right-hand side", column="formula")
    y_all = _outcome_vector(data, outcome)
    rows = ~np.isnan(y_all)
    sub = data.loc[rows]
    for tok in re.findall(r"`([^`]+)`|([A-Za-z_.][\w.]*)", rhs):
        name = tok[0] or tok[1]
        if tok[0] and name not in data.columns:
            raise InputError("does not exist in the data", column=name)
    try:
        mm = formulaic.model_matrix(_quote(rhs, list(map(str, data.columns))), sub)
    except Exception as exc:
        msg = str(exc)
        m = re.search(r"name '([^']+)' is not defined", msg) or re.search(
            r"`([^`]+)`.*not (?:present|found)", msg
        )
        if m:
            raise InputError("does not exist in the data", column=m.group(1)) from exc
        raise InputError(f"cannot be evaluated: {msg}", column="formula") from exc
    idx = mm.index
    y = pd.Series(y_all[rows], index=sub.index).loc[idx].to_numpy()
    names = tuple(_term_name(str(c)) for c in mm.columns)
    return fit_logistic_arrays(
        np.asarray(mm, dtype=float),
        y,
        names,
        firth=firth,
        ci=ci,
        conf_level=conf_level,
        outcome=outcome,
        formula=formula,
        n_dropped_missing=int(len(data) - len(idx)),
    )


def univariable_logistic(
    outcome: str,
    covariates: Sequence[str],
    data: Any,
    *,
    firth: bool = False,
    ci: str | None = None,
    conf_level: float = 0.95,
) -> UnivariableLogistic:
    """One ``outcome ~ covariate`` model per covariate (complete cases of each pair).

    References
    ----------
    See :func:`logistic_regression`.
    """
    if isinstance(covariates, str):
        covariates = [covariates]
    if not covariates:
        raise InputError("no covariates given", column="covariates")
    fits = tuple(
        logistic_regression(f"{outcome} ~ {c}", data, firth=firth, ci=ci, conf_level=conf_level)
        for c in covariates
    )
    return UnivariableLogistic(
        outcome=outcome, covariates=tuple(covariates), fits=fits, firth=bool(firth)
    )
