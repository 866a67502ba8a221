"""Propensity scores: the probability of treatment given the measured confounders.

:func:`propensity_score` fits a logistic regression of a binary treatment on the covariates of
a formula (R's ``glm(family = binomial())``), or
Firth's penalised logistic regression for small samples or separated data (``firth=True``).
:func:`generalized_propensity_score` fits a multinomial logit for three or more treatment
groups (the generalised propensity score of Imbens 2000); :func:`pairwise_propensity_scores`
fits one binary model per pair of groups instead.

The maximum-likelihood fit is R's ``glm.fit`` IRLS (same start, same stopping rule, covariance
from the last IRLS weights as ``summary.glm``), written on cross-products so that a propensity
model on a million rows takes well under a second.

Formulas use formulaic's syntax (``"age + C(stage)"``); a column whose name is not a Python
identifier (``ph.ecog``) may be written as is - it is back-quoted automatically. The formula
may carry the treatment on its left-hand side (``"female ~ age + ph.ecog"``) or give only the
right-hand side, with the treatment named by ``treatment=``. Rows with a missing value in the
treatment or a covariate are dropped and counted (``n_dropped_missing``); ``rows`` gives the
positions of the rows used, so that scores can be put back beside the data.

References
----------
Rosenbaum PR, Rubin DB. The central role of the propensity score in observational studies for
causal effects. Biometrika 1983;70:41-55.
Firth D. Bias reduction of maximum likelihood estimates. Biometrika 1993;80:27-38.
Heinze G, Schemper M. A solution to the problem of separation in logistic regression.
Stat Med 2002;21:2409-2419.
Imbens GW. The role of the propensity score in estimating dose-response functions.
Biometrika 2000;87:706-710.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from cartlens.errors import (
    ConvergenceWarning,
    InputError,
    OverlapWarning,
    SeparationWarning,
)
from cartlens.results import Result
from cartlens.stats._linalg import canonical_order, linear_predictor
from cartlens.stats.formula import r_style_name

__all__ = [
    "PropensityResult",
    "GeneralizedPropensityResult",
    "propensity_score",
    "propensity_score_arrays",
    "generalized_propensity_score",
    "pairwise_propensity_scores",
    "binary_treatment",
    "check_overlap",
    "firth_logistic",
]

#: Fitted probabilities this close to 0 or 1 signal (quasi-)complete separation.
SEPARATION_EPS = 1e-10


# --------------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True)
class PropensityResult(Result):
    """A fitted binary propensity-score model and its scores.

    Attributes
    ----------
    formula : str
        The right-hand side of the model (as given).
    treatment : str
        Name of the treatment (column).
    treated_level : str
        The treatment value coded 1.
    terms : tuple of str
        Model terms (``Intercept`` first; a factor level as ``var[level]``, as in every command).
    coef, se, z, p : numpy.ndarray
        Coefficients, standard errors, Wald z and two-sided p-values.
    vcov : numpy.ndarray
        Covariance matrix of the coefficients.
    deviance, null_deviance, aic, loglik : float
        As R's ``glm`` reports them (for Firth fits, the unpenalised log-likelihood at the
        penalised estimate).
    ps : numpy.ndarray
        Fitted propensity scores, in the order of ``rows``.
    treat : numpy.ndarray
        0/1 treatment, in the order of ``rows``.
    rows : numpy.ndarray
        0-based positions in the input data of the rows used.
    n, n_treated, n_control, n_dropped_missing : int
    method : str
        ``"glm"`` (maximum likelihood) or ``"firth"``.
    converged : bool
    iterations : int
    separation : bool
        Whether (quasi-)separation was detected (a :class:`SeparationWarning` was issued).
    """

    formula: str
    treatment: str
    treated_level: str
    terms: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p: np.ndarray
    vcov: np.ndarray
    deviance: float
    null_deviance: float
    aic: float
    loglik: float
    ps: np.ndarray
    treat: np.ndarray
    rows: np.ndarray
    n: int
    n_treated: int
    n_control: int
    n_dropped_missing: int
    method: str
    converged: bool
    iterations: int
    separation: bool

    @property
    def logit_ps(self) -> np.ndarray:
        """The linear predictor, log(ps / (1 - ps))."""
        with np.errstate(divide="ignore"):
            return np.log(self.ps) - np.log1p(-self.ps)

    def terms_table(self) -> list[dict[str, Any]]:
        """One dict per term: ``term, coef, se, z, p``."""
        return [
            {
                "term": t,
                "coef": float(self.coef[i]),
                "se": float(self.se[i]),
                "z": float(self.z[i]),
                "p": float(self.p[i]),
            }
            for i, t in enumerate(self.terms)
        ]

    def summary(self) -> dict[str, float]:
        """Range of the scores and their mean by group (as R's ``ps_summary``)."""
        t = self.treat == 1
        return {
            "min": float(self.ps.min()),
            "max": float(self.ps.max()),
            "mean_treated": float(self.ps[t].mean()) if t.any() else float("nan"),
            "mean_control": float(self.ps[~t].mean()) if (~t).any() else float("nan"),
            "sd_all": float(self.ps.std(ddof=1)) if self.n > 1 else float("nan"),
        }


@dataclasses.dataclass(frozen=True)
class GeneralizedPropensityResult(Result):
    """A multinomial-logit (generalised) propensity model for K >= 2 treatment groups.

    Attributes
    ----------
    levels : tuple of str
        Treatment levels; the first is the reference of the multinomial logit.
    probs : numpy.ndarray
        n x K matrix of P(A = level_k | X), rows in the order of ``rows``.
    treat : numpy.ndarray
        Index (0..K-1) of each row's level.
    coef, se : numpy.ndarray
        (K-1) x p matrices, row k-1 for level k against the reference.
    terms : tuple of str
    loglik, aic : float
    rows : numpy.ndarray
    n, n_dropped_missing : int
    n_by_level : tuple of int
    converged : bool
    """

    formula: str
    treatment: str
    levels: tuple[str, ...]
    terms: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    loglik: float
    aic: float
    probs: np.ndarray
    treat: np.ndarray
    rows: np.ndarray
    n: int
    n_dropped_missing: int
    n_by_level: tuple[int, ...]
    converged: bool

    @property
    def ps_own(self) -> np.ndarray:
        """Each row's probability of the treatment it actually received."""
        return self.probs[np.arange(self.n), self.treat]


# --------------------------------------------------------------------------- helpers
def _quote_columns(formula: str, columns: Sequence[str]) -> str:
    """Back-quote column names that are not Python identifiers (``ph.ecog``)."""
    out = formula
    for col in sorted((c for c in columns if not str(c).isidentifier()), key=len, reverse=True):
        pat = r"(?<![\w.`])" + re.escape(str(col)) + r"(?![\w.`])"
        out = re.sub(pat, lambda _m, c=str(col): f"`{c}`", out)
    return out


def _split_formula(formula: str, treatment: str | None) -> tuple[str, str]:
    if not isinstance(formula, str) or not formula.strip():
        raise InputError("the propensity formula is empty", column="formula")
    if "~" in formula:
        lhs, rhs = formula.split("~", 1)
        lhs = lhs.strip().strip("`")
        if treatment is not None and lhs and lhs != treatment:
            raise InputError(
                f"the formula's left-hand side '{lhs}' differs from treatment='{treatment}'",
                column="formula",
            )
        treatment = lhs or treatment
    else:
        rhs = formula
    if not treatment:
        raise InputError("name the treatment column (treatment=) or put it left of '~'")
    if not rhs.strip():
        raise InputError("the propensity formula has no covariates", column="formula")
    return treatment, rhs.strip()


def binary_treatment(values: Any, treated: Any = None, *, name: str = "treatment") -> np.ndarray:
    """Code a two-valued treatment as 0/1.

    Parameters
    ----------
    values : array-like
        The treatment, without missing values.
    treated : optional
        The value meaning "treated". Not needed for 0/1 or boolean data.
    name : str
        Column name for error messages.

    Returns
    -------
    numpy.ndarray of int64
    """
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr.astype(np.int64)
    levels = list(dict.fromkeys(arr.tolist()))
    if treated is not None:
        hits = [v for v in levels if v == treated or str(v) == str(treated)]
        if not hits:
            raise InputError(f"the treated value '{treated}' does not occur", column=name)
        if len(levels) != 2:
            raise InputError(
                f"must take exactly two values for a binary propensity score, found "
                f"{len(levels)}: {sorted(map(str, levels))[:10]} (use "
                "generalized_propensity_score for three or more groups)",
                column=name,
            )
        return np.array([1 if (v == hits[0]) else 0 for v in arr.tolist()], dtype=np.int64)
    try:
        num = arr.astype(float)
    except (TypeError, ValueError):
        num = None
    if num is not None and set(np.unique(num).tolist()) <= {0.0, 1.0}:
        if len(np.unique(num)) < 2:
            raise InputError(
                "takes only one value; a propensity score needs treated and control units",
                column=name,
            )
        return num.astype(np.int64)
    if len(levels) != 2:
        raise InputError(
            f"must take exactly two values (0/1) for a binary propensity score, found "
            f"{len(levels)}: {sorted(map(str, levels))[:10]} (use generalized_propensity_score "
            "for three or more groups)",
            column=name,
        )
    raise InputError(
        f"is not coded 0/1 (values {sorted(map(str, levels))}); say which value is treated "
        "(treated=...)",
        column=name,
    )


def check_overlap(ps: np.ndarray, treat: np.ndarray, *, max_outside: float = 0.1) -> dict:
    """Common support of the propensity score; warn when the groups hardly overlap.

    Returns a dict with the common-support interval ``[lower, upper]`` (the larger of the two
    minima and the smaller of the two maxima) and ``n_outside``, the number of units outside
    it. Issues :class:`OverlapWarning` when the interval is empty or more than
    ``max_outside`` of the units lie outside it.
    """
    ps = np.asarray(ps, dtype=float)
    treat = np.asarray(treat)
    t = treat == 1
    if not t.any() or t.all():
        raise InputError("needs both treated and control units", column="treatment")
    lower = max(ps[t].min(), ps[~t].min())
    upper = min(ps[t].max(), ps[~t].max())
    outside = (ps < lower) | (ps > upper)
    n_out = int(outside.sum())
    info = {
        "lower": float(lower),
        "upper": float(upper),
        "n_outside": n_out,
        "n_outside_treated": int((outside & t).sum()),
        "n_outside_control": int((outside & ~t).sum()),
        "overlap": bool(lower <= upper),
    }
    if lower > upper:
        warnings.warn(
            f"the propensity scores of treated and control units do not overlap at all "
            f"(treated {ps[t].min():.3g}-{ps[t].max():.3g}, control "
            f"{ps[~t].min():.3g}-{ps[~t].max():.3g}); no adjusted comparison is supported "
            "by the data",
            OverlapWarning,
            stacklevel=2,
        )
    elif n_out > max_outside * len(ps):
        warnings.warn(
            f"{n_out} of {len(ps)} units have propensity scores outside the common support "
            f"[{lower:.3g}, {upper:.3g}]",
            OverlapWarning,
            stacklevel=2,
        )
    return info


def _check_design(X: np.ndarray, names: Sequence[str]) -> None:
    for j, nm in enumerate(names):
        if nm == "Intercept":
            continue
        col = X[:, j]
        if not np.all(np.isfinite(col)):
            raise InputError("has non-finite values", column=nm)
        if col.size and np.ptp(col) == 0:
            raise InputError(
                "takes a single value in the analysis data; a constant covariate cannot "
                "predict treatment - drop it from the formula",
                column=nm,
            )
    # rank from the scaled cross-product matrix: cheap for millions of rows
    scale = np.sqrt(np.sum(X * X, axis=0))
    xs = X / np.where(scale > 0, scale, 1.0)
    ev = np.linalg.eigvalsh(xs.T @ xs)
    rank = int(np.sum(ev > ev.max() * X.shape[1] * 1e-12))
    if rank < X.shape[1]:
        raise InputError(
            f"the design matrix is rank-deficient (rank {rank} < {X.shape[1]} columns: "
            f"{', '.join(names)}); remove collinear covariates",
            column="formula",
        )


# --------------------------------------------------------------------------- fitting
def firth_logistic(
    X: np.ndarray, y: np.ndarray, *, maxiter: int = 100, tol: float = 1e-8
) -> dict[str, Any]:
    """Firth's bias-reduced logistic regression by modified-score Newton-Raphson.

    The score is modified to ``X'(y - p + h (1/2 - p))`` with ``h`` the hat values of the
    weighted design; steps are halved until the penalised log-likelihood
    ``l(b) + log|X'WX|/2`` increases (as logistf). Standard errors are from the inverse
    information at the estimate; p-values are Wald (logistf reports profile penalised
    likelihood ones).

    Returns
    -------
    dict with ``coef, vcov, fitted, loglik, iterations, converged``.

    References
    ----------
    Firth D. Biometrika 1993;80:27-38. Heinze G, Schemper M. Stat Med 2002;21:2409-2419.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, k = X.shape
    beta = np.zeros(k)

    def penalised(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        eta = linear_predictor(X, b)
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1.0 - p)
        info = X.T @ (X * w[:, None])
        sign, logdet = np.linalg.slogdet(info)
        ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        return ll + 0.5 * logdet if sign > 0 else -np.inf, p, info

    pl, p, info = penalised(beta)
    converged = False
    it = 0
    for it in range(1, maxiter + 1):  # noqa: B007
        w = p * (1.0 - p)
        inv = np.linalg.inv(info)
        xs = X * np.sqrt(w)[:, None]
        h = np.einsum("ij,jk,ik->i", xs, inv, xs)
        score = X.T @ (y - p + h * (0.5 - p))
        step = inv @ score
        step_norm = np.max(np.abs(step))
        if step_norm > 5.0:  # limit the step as logistf's maxstep
            step *= 5.0 / step_norm
        new = beta + step
        new_pl, new_p, new_info = penalised(new)
        halvings = 0
        while new_pl < pl - 1e-12 and halvings < 30:
            step /= 2.0
            new = beta + step
            new_pl, new_p, new_info = penalised(new)
            halvings += 1
        beta, pl, p, info = new, new_pl, new_p, new_info
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    vcov = np.linalg.inv(info)
    eta = linear_predictor(X, beta)
    loglik = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    return {
        "coef": beta,
        "vcov": vcov,
        "fitted": p,
        "loglik": loglik,
        "iterations": it,
        "converged": converged,
    }


def _firth_fit(X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Firth fit: :func:`cartlens.stats.logistic.fit_logistic_arrays` (``firth=True``, Wald
    inference) when available, else :func:`firth_logistic`."""
    try:
        from cartlens.stats.logistic import fit_logistic_arrays
    except ImportError:  # pragma: no cover - the logistic module is part of cartlens
        return firth_logistic(X, y)
    with warnings.catch_warnings():
        # separation is expected here and handled by the penalty; A's fit records it
        warnings.simplefilter("ignore", SeparationWarning)
        res = fit_logistic_arrays(X, y, firth=True, ci="wald")
    if len(res.coef) != X.shape[1]:  # pragma: no cover - design checked before
        return firth_logistic(X, y)
    return {
        "coef": np.asarray(res.coef, dtype=float),
        "vcov": np.asarray(res.vcov, dtype=float),
        "fitted": np.asarray(res.fitted, dtype=float),
        "loglik": float(res.loglik),
        "iterations": int(res.iterations),
        "converged": bool(res.converged),
    }


def _separated(X: np.ndarray, y: np.ndarray) -> bool:
    """Linear-programme check for (quasi-)complete separation (small and medium n)."""
    if X.shape[0] > 20_000:
        return False
    try:
        from cartlens.stats.logistic import detect_separation
    except ImportError:  # pragma: no cover
        return False
    return detect_separation(X, y) is not None


def _glm_fit(X: np.ndarray, y: np.ndarray, *, epsilon: float = 1e-8, maxit: int = 50):
    """Logistic regression by IRLS, step for step as R's ``glm.fit``.

    Starts from ``mu = (y + 1/2) / 2`` and iterates until ``|dev - dev_old| / (|dev| + 0.1) <
    epsilon``, then takes one more step (so that the score equations hold to rounding error);
    the covariance is from the weights of R's last IRLS solve (as ``summary.glm``; these
    differ from the converged information matrix by ~1e-7 relative). The weighted
    cross-products are formed directly (no QR of the n x p design), which keeps a
    million-row fit to about a second.

    References
    ----------
    McCullagh P, Nelder JA. Generalized Linear Models, 2nd ed. Chapman & Hall, 1989.
    R Core Team. ``stats::glm.fit``.
    """
    n, k = X.shape
    mu = (y + 0.5) / 2.0
    eta = np.log(mu) - np.log1p(-mu)

    def deviance(mu_: np.ndarray) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            ll = np.where(y > 0, np.log(mu_), np.log1p(-mu_))
        return float(-2.0 * np.sum(ll))

    dev_old = deviance(mu)
    converged = False
    coef = np.zeros(k)
    info = np.eye(k)
    info_r = info
    it = 0
    polish = False
    for it in range(1, maxit + 1):  # noqa: B007
        w = np.maximum(mu * (1.0 - mu), np.finfo(float).eps)  # as binomial()$mu.eta
        z = eta + (y - mu) / w
        info = X.T @ (X * w[:, None])
        rhs = X.T @ (w * z)
        try:
            chol = np.linalg.cholesky(info)
            coef = np.linalg.solve(chol.T, np.linalg.solve(chol, rhs))
        except np.linalg.LinAlgError:
            coef = np.linalg.lstsq(info, rhs, rcond=None)[0]
        eta = linear_predictor(X, coef)
        mu = 1.0 / (1.0 + np.exp(-eta))
        dev = deviance(mu)
        if polish:
            break
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            # R stops here; one more (quadratically convergent) step solves the score
            # equations to rounding error and moves the estimates by < 1e-8 relative
            converged = True
            polish = True
            info_r = info
        dev_old = dev
    vcov = np.linalg.pinv(info_r if converged else info)
    pbar = float(y.mean())
    null_dev = float(-2.0 * n * (pbar * np.log(pbar) + (1 - pbar) * np.log1p(-pbar)))
    fitted = mu
    separated = bool(np.any(fitted < SEPARATION_EPS) or np.any(fitted > 1.0 - SEPARATION_EPS))
    return {
        "coef": coef,
        "vcov": vcov,
        "fitted": fitted,
        "loglik": -dev / 2.0,
        "deviance": dev,
        "null_deviance": null_dev,
        "iterations": it,
        "converged": converged,
        "separated": separated,
    }


def propensity_score_arrays(
    treat: Any,
    X: Any,
    *,
    names: Sequence[str] | None = None,
    firth: bool = False,
    add_intercept: bool = True,
    treatment: str = "treatment",
    treated_level: str = "1",
    formula: str = "",
    rows: np.ndarray | None = None,
    n_dropped_missing: int = 0,
    check: bool = True,
) -> PropensityResult:
    """Fit the propensity-score logistic model on arrays (see :func:`propensity_score`).

    Parameters
    ----------
    treat : array-like of 0/1
    X : array-like, n x p
        Covariates (without an intercept unless ``add_intercept=False``).
    names : sequence of str, optional
        Covariate names (default ``x1..xp``).
    firth : bool
        Firth's penalised likelihood instead of maximum likelihood.
    check : bool
        Check the design for constant / collinear columns (costs a rank computation).
    """
    y = np.asarray(treat)
    y = binary_treatment(y, name=treatment) if y.dtype != np.int64 else y
    if not np.isin(y, (0, 1)).all():
        raise InputError("must be coded 0/1", column=treatment)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.shape[0] != y.shape[0]:
        raise InputError(
            f"has {X.shape[0]} rows but the treatment has {y.shape[0]}", column="covariates"
        )
    if names is None:
        names = [f"x{j + 1}" for j in range(X.shape[1])]
    names = list(names)
    if add_intercept:
        X = np.column_stack([np.ones(X.shape[0]), X])
        names = ["Intercept", *names]
    n = int(y.size)
    n1 = int(y.sum())
    if n1 == 0 or n1 == n:
        raise InputError(
            "needs both treated and control units (found only "
            f"{'treated' if n1 == n else 'control'} units)",
            column=treatment,
        )
    if check:
        _check_design(X, names)

    # fit on the rows in an order set by their contents: the same rows in any order give
    # bit-identical coefficients and scores, so matches on tied scores do not depend on it
    order = canonical_order(y, X)
    Xo, yo = X[order], y[order]
    if firth:
        fit = _firth_fit(Xo, yo.astype(float))
        fitted = np.asarray(fit["fitted"], dtype=float)
        pbar = n1 / n
        null_ll = n1 * np.log(pbar) + (n - n1) * np.log1p(-pbar)
        fit = {
            **fit,
            "deviance": -2.0 * fit["loglik"],
            "null_deviance": -2.0 * null_ll,
            "separated": False,
        }
        method = "firth"
    else:
        fit = _glm_fit(Xo, yo.astype(float))
        if not fit["separated"] and _separated(Xo, yo.astype(float)):
            fit["separated"] = True
        fitted = fit["fitted"]
        method = "glm"
    fitted_rows = np.empty(n)
    fitted_rows[order] = fitted
    fitted = fitted_rows
    if not fit["converged"]:
        warnings.warn(
            f"the propensity model did not converge in {fit['iterations']} iterations",
            ConvergenceWarning,
            stacklevel=2,
        )
    separation = bool(
        fit["separated"]
        or (
            not firth and (np.any(fitted < SEPARATION_EPS) or np.any(fitted > 1.0 - SEPARATION_EPS))
        )
    )
    if separation:
        warnings.warn(
            "the treatment is (quasi-)completely separated by the covariates: fitted "
            "propensity scores of 0 or 1 occurred and some coefficients diverge; there is no "
            "overlap for those units (use firth=True, coarsen or drop covariates, or restrict "
            "the cohort)",
            SeparationWarning,
            stacklevel=2,
        )
    coef = np.asarray(fit["coef"], dtype=float)
    vcov = np.asarray(fit["vcov"], dtype=float)
    se = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = coef / se
    p = 2.0 * sps.norm.sf(np.abs(z))
    k = X.shape[1]
    return PropensityResult(
        formula=formula,
        treatment=treatment,
        treated_level=str(treated_level),
        terms=tuple(names),
        coef=coef,
        se=se,
        z=z,
        p=p,
        vcov=vcov,
        deviance=float(fit["deviance"]),
        null_deviance=float(fit["null_deviance"]),
        aic=float(-2.0 * fit["loglik"] + 2 * k),
        loglik=float(fit["loglik"]),
        ps=fitted,
        treat=y.astype(np.int64),
        rows=np.arange(n) if rows is None else np.asarray(rows),
        n=n,
        n_treated=n1,
        n_control=n - n1,
        n_dropped_missing=int(n_dropped_missing),
        method=method,
        converged=bool(fit["converged"]),
        iterations=int(fit["iterations"]),
        separation=separation,
    )


def _used_columns(rhs: str, columns: Sequence[str]) -> list[str]:
    """Data columns named in a formula (as whole tokens, back-quoted or not)."""
    used = []
    for c in columns:
        pat = r"(?<![\w.])`?" + re.escape(str(c)) + r"`?(?![\w.])"
        if re.search(pat, rhs) is not None:
            used.append(c)
    return used


def _design(data: Any, treatment: str, rhs: str):
    """Complete-case model matrix for ``rhs``: rows with a missing treatment or a missing
    value in any column the formula names (categorical ones included) are dropped."""
    import pandas as pd
    from formulaic import model_matrix

    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    if treatment not in data.columns:
        raise InputError("does not exist in the data", column=treatment)
    cols = [str(c) for c in data.columns]
    used = _used_columns(rhs, cols)
    complete = data[[treatment, *used]].notna().all(axis=1).to_numpy()
    rhs_q = _quote_columns(rhs, cols)
    sub = data.loc[complete].reset_index(drop=True)
    try:
        mm = model_matrix(rhs_q, sub, na_action="ignore")
    except Exception as exc:  # noqa: BLE001 - formulaic raises many types
        raise InputError(f"cannot evaluate the formula '{rhs}': {exc}", column="formula") from exc
    values = np.asarray(mm, dtype=float)
    names = [r_style_name(str(c)) for c in mm.columns]  # var[level], as every command
    finite = np.all(np.isfinite(values), axis=1)
    rows = np.flatnonzero(complete)[finite]
    return data, values[finite], names, rows, int(len(data) - rows.size)


def propensity_score(
    formula: str,
    data: Any,
    *,
    treatment: str | None = None,
    treated: Any = None,
    firth: bool = False,
    warn_overlap: bool = True,
) -> PropensityResult:
    """Fit a propensity-score model ``treatment ~ covariates`` by logistic regression.

    Parameters
    ----------
    formula : str
        ``"age + ph.ecog"`` (with ``treatment=``) or ``"female ~ age + ph.ecog"``. An
        intercept is included unless the formula removes it (``- 1``).
    data : pandas.DataFrame
    treatment : str, optional
        The treatment column (required when the formula has no left-hand side).
    treated : optional
        Value of the treatment meaning "treated"; not needed for 0/1 or boolean columns.
    firth : bool
        Use Firth's penalised likelihood (finite estimates under separation; less biased in
        small samples).
    warn_overlap : bool
        Check the common support (:func:`check_overlap`) and warn.

    Returns
    -------
    PropensityResult

    Warns
    -----
    SeparationWarning
        Fitted scores of 0 or 1 (separation); the estimates diverge - use ``firth=True``.
    OverlapWarning
        The groups' scores hardly overlap.

    References
    ----------
    Rosenbaum PR, Rubin DB. Biometrika 1983;70:41-55. Firth D. Biometrika 1993;80:27-38.

    Examples
    --------
    >>> fit = propensity_score("female ~ age + ph.ecog", lung)  # doctest: +SKIP
    >>> fit.terms_table()[1]["coef"]  # doctest: +SKIP
    -0.0280...
    """
    treatment, rhs = _split_formula(formula, treatment)
    df, X, names, rows, n_drop = _design(data, treatment, rhs)
    if X.shape[0] == 0:
        raise InputError("no complete rows remain after dropping missing values")
    y = binary_treatment(df[treatment].to_numpy()[rows], treated, name=treatment)
    add_intercept = False
    treated_level = treated if treated is not None else 1
    res = propensity_score_arrays(
        y,
        X,
        names=names,
        firth=firth,
        add_intercept=add_intercept,
        treatment=treatment,
        treated_level=str(treated_level),
        formula=rhs,
        rows=rows,
        n_dropped_missing=n_drop,
    )
    if warn_overlap and not res.separation:
        check_overlap(res.ps, res.treat)
    return res


def generalized_propensity_score(
    formula: str, data: Any, *, treatment: str | None = None, reference: Any = None
) -> GeneralizedPropensityResult:
    """Generalised propensity score for three or more groups by multinomial logit.

    Parameters
    ----------
    formula, data, treatment
        As :func:`propensity_score`.
    reference : optional
        The reference level (default: the first in sorted order).

    Returns
    -------
    GeneralizedPropensityResult
        ``probs[i, k]`` = P(A = levels[k] | X_i); use
        :func:`cartlens.stats.weighting.generalized_iptw_weights` for weights.

    References
    ----------
    Imbens GW. Biometrika 2000;87:706-710. McCaffrey DF et al. A tutorial on propensity
    score estimation for multiple treatments. Stat Med 2013;32:3388-3414.
    """
    import statsmodels.api as sm

    treatment, rhs = _split_formula(formula, treatment)
    df, X, names, rows, n_drop = _design(data, treatment, rhs)
    raw = df[treatment].to_numpy()[rows]
    levels = sorted({str(v) for v in raw.tolist()})
    if reference is not None:
        if str(reference) not in levels:
            raise InputError(f"the reference level '{reference}' does not occur", column=treatment)
        levels.remove(str(reference))
        levels.insert(0, str(reference))
    if len(levels) < 2:
        raise InputError("takes only one value", column=treatment)
    index = {lv: k for k, lv in enumerate(levels)}
    a = np.array([index[str(v)] for v in raw.tolist()], dtype=np.int64)
    _check_design(X, names)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sm.MNLogit(a, X).fit(method="newton", maxiter=200, disp=False)
    converged = bool(res.mle_retvals.get("converged", True))
    if not converged or any("separation" in str(w.message).lower() for w in caught):
        warnings.warn(
            "the multinomial propensity model did not converge (possible separation)",
            ConvergenceWarning,
            stacklevel=2,
        )
    probs = np.asarray(res.predict(X), dtype=float)
    coef = np.asarray(res.params, dtype=float).T
    se = np.asarray(res.bse, dtype=float).T
    k = coef.size
    if np.any(probs < SEPARATION_EPS):
        warnings.warn(
            "fitted generalised propensity scores of 0 occurred (separation)",
            SeparationWarning,
            stacklevel=2,
        )
    return GeneralizedPropensityResult(
        formula=rhs,
        treatment=treatment,
        levels=tuple(levels),
        terms=tuple(names),
        coef=coef,
        se=se,
        loglik=float(res.llf),
        aic=float(-2.0 * res.llf + 2 * k),
        probs=probs,
        treat=a,
        rows=rows,
        n=int(a.size),
        n_dropped_missing=n_drop,
        n_by_level=tuple(int((a == j).sum()) for j in range(len(levels))),
        converged=converged,
    )


def pairwise_propensity_scores(
    formula: str,
    data: Any,
    *,
    treatment: str | None = None,
    reference: Any = None,
    firth: bool = False,
) -> dict[tuple[str, str], PropensityResult]:
    """One binary propensity model per pair of treatment groups (treated = the second).

    With ``reference`` given, only the pairs (reference, other) are fitted, the other level
    being "treated". Each model uses only the rows of its two groups; ``rows`` of each result
    are positions in ``data``.

    References
    ----------
    Lopez MJ, Gutman R. Estimation of causal effects with multiple treatments: a review and
    new ideas. Statist Sci 2017;32:432-454.
    """
    import pandas as pd

    treatment, rhs = _split_formula(formula, treatment)
    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    if treatment not in data.columns:
        raise InputError("does not exist in the data", column=treatment)
    col = data[treatment]
    levels = sorted({str(v) for v in col.dropna().tolist()})
    if len(levels) < 2:
        raise InputError("takes fewer than two values", column=treatment)
    if reference is not None:
        if str(reference) not in levels:
            raise InputError(f"the reference level '{reference}' does not occur", column=treatment)
        pairs = [(str(reference), lv) for lv in levels if lv != str(reference)]
    else:
        pairs = [(a, b) for i, a in enumerate(levels) for b in levels[i + 1 :]]
    out: dict[tuple[str, str], PropensityResult] = {}
    as_text = col.astype(str)
    for a, b in pairs:
        mask = (col.notna() & as_text.isin([a, b])).to_numpy()
        sub = data.loc[mask].copy()
        sub[treatment] = (sub[treatment].astype(str) == b).astype(np.int64)
        fit = propensity_score(rhs, sub.reset_index(drop=True), treatment=treatment, firth=firth)
        positions = np.flatnonzero(mask)[fit.rows]
        out[(a, b)] = dataclasses.replace(fit, rows=positions, treated_level=b)
    return out
