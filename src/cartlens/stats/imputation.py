"""Multiple imputation of missing covariates: chained equations and Rubin's rules.

* :func:`mice` - multiple imputation by chained equations (fully conditional specification),
  seeded, ``m`` completed data sets. Each incomplete column is imputed in turn from all the
  other columns, cycling ``maxit`` times, as ``mice::mice`` does with its default methods:
  numeric columns by predictive mean matching (``pmm``: a Bayesian draw of the linear
  regression's coefficients, then a random one of the 5 observed values whose predicted means
  are closest), two-level columns by logistic regression and columns with more levels by
  multinomial logistic regression, each fitted to a bootstrap sample of the observed rows
  (mice's ``logreg.boot`` idea) so that the imputations carry the parameters' uncertainty.
  R's random stream cannot be reproduced, so the imputed values differ from R's; what is
  checked against R is the pooling, on data sets imputed by R.
* :func:`rubin_pool` - Rubin's rules for estimates with variances, as ``mice::pool``: pooled
  estimate ``qbar``, within ``ubar``, between ``b`` and total variance
  ``t = ubar + (1 + 1/m) b``, relative increase in variance ``riv``, proportion of variance
  due to missingness ``lambda``, Barnard-Rubin degrees of freedom ``df`` (complete-data
  ``dfcom``) and the fraction of missing information ``fmi = (riv + 2 / (df + 3)) /
  (riv + 1)``; t-based CI and P.
* :func:`pool_fits` - the same for a list of fitted Cox, logistic or Fine-Gray models (one
  per imputed data set), with mice's complete-data df: events - p (Cox), n - p (logistic) and
  n - p for Fine-Gray (``pool.scalar(n = n, k = p)``, as mice has no ``crr`` method).
* :func:`pool_scalars` - one scalar per imputation (a proportion, a weighted effect) with its
  variance, as ``mice::pool.scalar``.

References
----------
Rubin DB. Multiple Imputation for Nonresponse in Surveys. Wiley, 1987.
Barnard J, Rubin DB. Small-sample degrees of freedom with multiple imputation. Biometrika
1999;86:948-955.
van Buuren S, Groothuis-Oudshoorn K. mice: Multivariate imputation by chained equations in
R. J Stat Softw 2011;45(3):1-67. van Buuren S. Flexible Imputation of Missing Data, 2nd ed.
CRC Press, 2018 (sections 2.3, 3.4, 5.2).
Little RJA. Missing-data adjustments in large surveys. J Bus Econ Stat 1988;6:287-296 (pmm).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from cartlens.errors import InputError
from cartlens.results import Result

# --------------------------------------------------------------------------------------------
# Rubin's rules
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class PooledResult(Result):
    """Rubin's-rules pooled estimates, one dict per term.

    Each term has ``term``, ``m``, ``qbar``, ``ubar``, ``b``, ``t``, ``dfcom``, ``df``,
    ``riv``, ``lambda``, ``fmi``, ``se`` (= sqrt t), ``statistic``, ``p``, ``lower``,
    ``upper`` (and ``exp_estimate``/``exp_lower``/``exp_upper`` for log-scale models: HR,
    OR or subdistribution HR).
    """

    terms: tuple
    m: int
    conf_level: float
    model: str
    method: str

    def term(self, name: str) -> dict:
        for t in self.terms:
            if t["term"] == name:
                return t
        raise KeyError(f"no term {name!r}; terms are {[t['term'] for t in self.terms]}")


def _barnard_rubin(m: int, b: np.ndarray, t: np.ndarray, dfcom: float) -> np.ndarray:
    lam = (1 + 1 / m) * b / t
    lam = np.maximum(lam, 1e-4)
    dfold = (m - 1) / lam**2
    if math.isinf(dfcom):
        return dfold
    dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    return dfold * dfobs / (dfold + dfobs)


def rubin_pool(
    estimates: Any,
    variances: Any,
    *,
    names: Sequence[str] | None = None,
    dfcom: float = math.inf,
    conf_level: float = 0.95,
    exponentiate: bool = False,
    model: str = "",
) -> PooledResult:
    """Pool ``m`` sets of estimates with Rubin's rules, as ``mice::pool``.

    Parameters
    ----------
    estimates : array_like, shape (m, p)
        One row of estimates per imputed data set.
    variances : array_like, shape (m, p) or (m, p, p)
        Their variances (or covariance matrices, whose diagonals are used).
    names : sequence of str, optional
    dfcom : float
        Complete-data degrees of freedom (``Inf``: large sample).
    conf_level : float
    exponentiate : bool
        Also report exp(estimate) and exp(limits) (hazard or odds ratios).

    Returns
    -------
    PooledResult

    References
    ----------
    See the module docstring. R: ``summary(mice::pool(fits), conf.int = TRUE)``.
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    if q.ndim == 1:
        q = q[:, None]
    if u.ndim == 3:
        u = np.diagonal(u, axis1=1, axis2=2)
    elif u.ndim == 1:
        u = u[:, None]
    m = q.shape[0]
    if m < 2:
        raise InputError(f"needs at least 2 imputations, got {m}", column="m")
    if u.shape != q.shape:
        raise InputError(f"has shape {u.shape}, estimates {q.shape}", column="variances")
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(u))):
        bad = np.flatnonzero(~(np.isfinite(q) & np.isfinite(u)).all(axis=0))
        label = names[bad[0]] if names is not None else f"#{bad[0] + 1}"
        raise InputError(
            f"term {label!r} has a non-finite estimate or variance in some imputation",
            column="estimates",
        )
    if not (0 < conf_level < 1):
        raise InputError(f"must be in (0, 1), got {conf_level!r}", column="conf_level")
    names = list(names) if names is not None else [f"x{j + 1}" for j in range(q.shape[1])]
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1 + 1 / m) * b
    riv = (1 + 1 / m) * b / ubar
    lam = (1 + 1 / m) * b / t
    df = _barnard_rubin(m, b, t, float(dfcom))
    fmi = (riv + 2 / (df + 3)) / (riv + 1)
    se = np.sqrt(t)
    stat = qbar / se
    p = 2 * stats.t.sf(np.abs(stat), df)
    crit = stats.t.ppf(1 - (1 - conf_level) / 2, df)
    rows = []
    for j, nm in enumerate(names):
        row = {
            "term": nm,
            "m": m,
            "qbar": float(qbar[j]),
            "ubar": float(ubar[j]),
            "b": float(b[j]),
            "t": float(t[j]),
            "dfcom": float(dfcom),
            "df": float(df[j]),
            "riv": float(riv[j]),
            "lambda": float(lam[j]),
            "fmi": float(fmi[j]),
            "se": float(se[j]),
            "statistic": float(stat[j]),
            "p": float(p[j]),
            "lower": float(qbar[j] - crit[j] * se[j]),
            "upper": float(qbar[j] + crit[j] * se[j]),
        }
        if exponentiate:
            row["exp_estimate"] = math.exp(row["qbar"])
            row["exp_lower"] = math.exp(row["lower"])
            row["exp_upper"] = math.exp(row["upper"])
        rows.append(row)
    return PooledResult(
        terms=tuple(rows),
        m=m,
        conf_level=float(conf_level),
        model=model,
        method="Rubin's rules with Barnard-Rubin degrees of freedom (mice::pool)",
    )


def pool_scalars(
    estimates: Any,
    variances: Any,
    *,
    n: float = math.inf,
    k: int = 1,
    name: str = "estimate",
    conf_level: float = 0.95,
) -> PooledResult:
    """One scalar per imputation (a proportion, a weighted effect...) and its variance,
    pooled as ``mice::pool.scalar(Q, U, n, k)`` (complete-data df n - k)."""
    q = np.asarray(estimates, dtype=float).ravel()
    u = np.asarray(variances, dtype=float).ravel()
    return rubin_pool(
        q[:, None], u[:, None], names=[name], dfcom=n - k, conf_level=conf_level, model="scalar"
    )


def pool_fits(fits: Sequence[Any], *, dfcom: float | None = None, conf_level: float = 0.95):
    """Pool Cox, logistic or Fine-Gray fits of the ``m`` imputed data sets (mice's dfcom).

    The fits must have the same terms. Estimates are on the model's scale (log hazard /
    log odds); ``exp_estimate`` etc. give the ratios.
    """
    from cartlens.stats.cox import CoxResult
    from cartlens.stats.finegray import FineGrayResult
    from cartlens.stats.logistic import LogisticResult

    fits = list(fits)
    if len(fits) < 2:
        raise InputError(f"needs at least 2 fitted models, got {len(fits)}", column="fits")
    kinds = {type(f) for f in fits}
    if len(kinds) != 1 or not kinds <= {CoxResult, LogisticResult, FineGrayResult}:
        raise InputError("must all be Cox, all logistic or all Fine-Gray fits", column="fits")
    terms = tuple(fits[0].terms)
    for i, f in enumerate(fits[1:], start=2):
        if tuple(f.terms) != terms:
            raise InputError(
                f"fit {i} has terms {list(f.terms)}, fit 1 {list(terms)} (a factor level "
                "missing from one imputed data set?)",
                column="fits",
            )
    first = fits[0]
    p = len(terms)
    if isinstance(first, CoxResult):
        model, default_df = "cox", max(first.events - p, 1)
    elif isinstance(first, LogisticResult):
        model, default_df = "logistic", max(first.n - p, 1)
    else:
        model, default_df = "finegray", max(first.n - p, 1)
    return rubin_pool(
        np.array([f.coef for f in fits]),
        np.array([f.vcov for f in fits]),
        names=terms,
        dfcom=float(default_df if dfcom is None else dfcom),
        conf_level=conf_level,
        exponentiate=True,
        model=model,
    )


def fraction_missing_information(pooled: PooledResult) -> dict:
    """``{term: fmi}`` - for methods text and tables."""
    return {t["term"]: t["fmi"] for t in pooled.terms}
