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
from cartlens.stats._linalg import linear_predictor

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


# --------------------------------------------------------------------------------------------
# Chained equations
# --------------------------------------------------------------------------------------------

#: Donors per missing value in predictive mean matching (mice's default ``donors = 5``).
PMM_DONORS = 5
_RIDGE = 1e-5  # mice's ridge, added to X'X before inverting


@dataclasses.dataclass(frozen=True, eq=False)
class ImputationResult(Result):
    """``m`` completed data sets, kept as the imputed values per column.

    ``imputed[col]`` is a list of ``m`` arrays, the values filled in at the rows
    ``missing_rows[col]`` (positions in ``data``). :meth:`complete` gives data set ``i``.
    """

    data: Any
    columns: tuple
    methods: dict
    missing_rows: dict
    imputed: dict
    m: int
    maxit: int
    seed: int
    n_missing: dict
    method: str

    def complete(self, i: int):
        """Completed data set ``i`` (0-based), a copy of ``data`` with the holes filled."""
        if not 0 <= i < self.m:
            raise InputError(f"must be in 0..{self.m - 1}, got {i}", column="i")
        out = self.data.copy()
        for c in self.columns:
            rows = self.missing_rows[c]
            col = out[c].astype(object) if self.methods[c] != "pmm" else out[c].astype(float)
            col.iloc[rows] = self.imputed[c][i]
            out[c] = col if self.methods[c] != "pmm" else col.astype(float)
        return out

    def datasets(self) -> list:
        return [self.complete(i) for i in range(self.m)]

    def to_dict(self) -> dict:  # the data frame itself is not part of the serialised result
        d = super().to_dict()
        d.pop("data", None)
        return d


def _is_categorical(col) -> bool:
    import pandas as pd

    return bool(
        isinstance(col.dtype, pd.CategoricalDtype)
        or col.dtype == bool
        or col.dtype == object
        or pd.api.types.is_string_dtype(col.dtype)
    )


def _design(frame, target: str, predictors: Sequence[str], categorical: dict) -> np.ndarray:
    """Intercept + numeric predictors + dummies (first level as reference)."""
    parts = [np.ones((len(frame), 1))]
    for c in predictors:
        if c == target:
            continue
        if c in categorical:
            levels = categorical[c]
            v = frame[c].to_numpy()
            parts.append(np.column_stack([(v == lv).astype(float) for lv in levels[1:]]))
        else:
            parts.append(frame[c].to_numpy(dtype=float)[:, None])
    X = np.column_stack(parts) if len(parts) > 1 else parts[0]
    # centre and scale the non-intercept columns (for the fits' conditioning only)
    sd = X[:, 1:].std(axis=0)
    X[:, 1:] = (X[:, 1:] - X[:, 1:].mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return X


def _pmm(X, y, obs, mis, rng) -> np.ndarray:
    """Predictive mean matching (mice ``.norm.draw`` + type-1 matching, 5 donors)."""
    Xo, yo = X[obs], y[obs]
    p = Xo.shape[1]
    xtx = Xo.T @ Xo
    xtx = xtx + np.diag(np.maximum(np.diag(xtx), 1e-12) * _RIDGE)
    inv = np.linalg.inv(xtx)
    beta = inv @ Xo.T @ yo
    resid = yo - Xo @ beta
    dfree = max(obs.sum() - p, 1)
    sigma = math.sqrt(float(resid @ resid) / rng.chisquare(dfree))
    chol = np.linalg.cholesky((inv + inv.T) / 2)
    beta_star = beta + sigma * chol @ rng.standard_normal(p)
    yhat_obs = Xo @ beta
    yhat_mis = X[mis] @ beta_star
    order = np.argsort(yhat_obs, kind="stable")
    sorted_hat = yhat_obs[order]
    k = min(PMM_DONORS, sorted_hat.size)
    out = np.empty(yhat_mis.size)
    pos = np.searchsorted(sorted_hat, yhat_mis)
    for i, (v, ps) in enumerate(zip(yhat_mis, pos, strict=True)):
        lo, hi = max(ps - k, 0), min(ps + k, sorted_hat.size)
        cand = np.arange(lo, hi)
        near = cand[np.argsort(np.abs(sorted_hat[cand] - v), kind="stable")[:k]]
        out[i] = yo[order[rng.choice(near)]]
    return out


def _multinomial(X, codes, k, rng, mis, obs) -> np.ndarray:
    """Multinomial (binary: logistic) regression on a bootstrap sample of the observed rows;
    categories drawn from the predicted probabilities of the missing rows."""
    idx = np.flatnonzero(obs)
    boot = rng.choice(idx, size=idx.size, replace=True)
    Xb, yb = X[boot], codes[boot]
    p = X.shape[1]
    q = k - 1
    Y = np.eye(k)[yb][:, 1:]
    theta = np.zeros(q * p)  # class-major: theta[a p:(a + 1) p] = coefficients of class a
    ridge = 1e-4  # keeps the fit finite under separation
    for _ in range(30):  # Newton-Raphson on the penalised multinomial log-likelihood
        B = theta.reshape(q, p).T
        eta = np.column_stack([np.zeros(len(Xb)), *(linear_predictor(Xb, b) for b in B.T)])
        P = np.exp(eta - eta.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        Pk = P[:, 1:]
        grad = (Xb.T @ (Y - Pk)).T.ravel() - ridge * theta
        H = np.empty((q * p, q * p))
        for a_ in range(q):
            for b_ in range(q):
                w = Pk[:, a_] * ((a_ == b_) - Pk[:, b_])
                H[a_ * p : (a_ + 1) * p, b_ * p : (b_ + 1) * p] = (Xb * w[:, None]).T @ Xb
        step = np.linalg.solve(H + ridge * np.eye(q * p), grad)
        theta = theta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    B = theta.reshape(q, p).T
    eta = np.column_stack([np.zeros(int(mis.sum())), *(linear_predictor(X[mis], b) for b in B.T)])
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    u = rng.random(P.shape[0])[:, None]
    return (u > np.cumsum(P, axis=1)).sum(axis=1).clip(0, k - 1)


def mice(
    data: Any,
    *,
    m: int = 5,
    maxit: int = 10,
    seed: int | None = None,
    columns: Sequence[str] | None = None,
    predictors: Sequence[str] | None = None,
) -> ImputationResult:
    """Multiple imputation by chained equations (see the module docstring).

    Parameters
    ----------
    data : pandas.DataFrame
    m : int
        Number of imputed data sets (mice's default 5).
    maxit : int
        Cycles through the incomplete columns (mice's default 5; 10 here, a common advice for
        convergence).
    seed : int, optional
        Seed (numpy PCG64; each imputation gets its own stream). Drawn and recorded if absent.
    columns : sequence of str, optional
        Columns to impute (default: every column with a missing value).
    predictors : sequence of str, optional
        Columns used as predictors (default: every column of ``data``). A predictor must be
        complete or itself imputed.

    Returns
    -------
    ImputationResult

    References
    ----------
    See the module docstring. R: ``mice::mice(data, m, maxit, seed)`` with its default
    methods (pmm, logreg, polyreg).
    """
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise InputError("must be a pandas DataFrame", column="data")
    for name, v, lo in (("m", m, 2), ("maxit", maxit, 1)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
            raise InputError(f"must be a whole number >= {lo}, got {v!r}", column=name)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    elif isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"must be a whole number >= 0, got {seed!r}", column="seed")
    preds = list(predictors) if predictors is not None else [str(c) for c in data.columns]
    for c in preds:
        if c not in data.columns:
            raise InputError("does not exist in the data", column=c)
    if columns is None:
        columns = [c for c in preds if data[c].isna().any()]
    columns = list(columns)
    for c in columns:
        if c not in data.columns:
            raise InputError("does not exist in the data", column=c)
        if data[c].notna().sum() < 2:
            raise InputError("has fewer than 2 observed values; it cannot be imputed", column=c)
    for c in preds:
        if c not in columns and data[c].isna().any():
            raise InputError(
                "has missing values but is not imputed; impute it too or leave it out of "
                "the predictors",
                column=c,
            )
    frame = data.reset_index(drop=True)
    categorical = {}
    for c in preds:
        if _is_categorical(frame[c]):
            categorical[c] = sorted(frame[c].dropna().unique().tolist(), key=str)
        elif not pd.api.types.is_numeric_dtype(frame[c]):
            raise InputError("must be numeric or categorical", column=c)
    methods = {
        c: (
            "pmm" if c not in categorical else ("logreg" if len(categorical[c]) == 2 else "polyreg")
        )
        for c in columns
    }
    miss = {c: frame[c].isna().to_numpy() for c in columns}
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(m)]
    imputed: dict = {c: [] for c in columns}
    for rng in streams:
        work = frame.copy()
        for c in columns:  # start: random draws from the observed values
            obs_vals = frame[c].dropna().to_numpy()
            vals = rng.choice(obs_vals, size=int(miss[c].sum()))
            col = work[c].astype(object) if c in categorical else work[c].astype(float)
            col[miss[c]] = vals
            work[c] = col
        for _ in range(maxit):
            for c in columns:
                X = _design(work, c, preds, categorical)
                obs, mis = ~miss[c], miss[c]
                if not mis.any():
                    continue
                if c in categorical:
                    levels = categorical[c]
                    codes = np.array([levels.index(v) for v in work[c].tolist()])
                    new = _multinomial(X, codes, len(levels), rng, mis, obs)
                    col = work[c].astype(object)
                    col[mis] = [levels[i] for i in new]
                else:
                    y = work[c].to_numpy(dtype=float)
                    col = work[c].astype(float)
                    col[mis] = _pmm(X, y, obs, mis, rng)
                work[c] = col
        for c in columns:
            imputed[c].append(work[c].to_numpy()[miss[c]])
    return ImputationResult(
        data=frame,
        columns=tuple(columns),
        methods=methods,
        missing_rows={c: np.flatnonzero(miss[c]) for c in columns},
        imputed=imputed,
        m=int(m),
        maxit=int(maxit),
        seed=int(seed),
        n_missing={c: int(miss[c].sum()) for c in columns},
        method=(
            f"multiple imputation by chained equations (m = {m}, {maxit} iterations, seed "
            f"{seed}): predictive mean matching for numeric, logistic / multinomial "
            "regression for categorical columns"
        ),
    )
