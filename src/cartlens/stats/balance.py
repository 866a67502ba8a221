"""Covariate balance: standardised mean differences, variance ratios, eCDF statistics, ESS.

The standardised mean difference (SMD) of a covariate ``x`` between treated (1) and control (0)
units is ``(m1 - m0) / s`` where ``m`` are the (weighted) group means
``sum(w x) / sum(w)`` and ``s`` is a standard deviation chosen by ``denominator``:

``"pooled"`` (default for the ATE and overlap weights)
    ``sqrt((v1 + v0) / 2)`` with the **unweighted** full-sample group variances (denominator
    n - 1), the same before and after adjustment (cobalt's ``s.d.denom = "pooled"``), so that
    a change in the SMD is a change in the means only.
``"treated"`` (default for the ATT) / ``"control"`` (ATC)
    The unweighted full-sample SD of the treated (control) group. MatchIt's ``summary()``
    reports ``Std. Mean Diff.`` this way for the ATT, before and after matching.
``"weighted"``
    ``sqrt((v1w + v0w) / 2)`` with the weighted variances, "unbiased" form
    ``sum w (x - m)^2 / sum w * (sum w)^2 / ((sum w)^2 - sum w^2)`` (for matching weights of
    1 this is the matched-sample pooled SD).
``"weighted_biased"``
    As ``"weighted"`` with the biased weighted variance ``sum w (x - m)^2 / sum w``.

Variance ratios are treated over control (weighted unbiased variances after adjustment); they
are not reported for binary (0/1) covariates. The eCDF statistics are MatchIt's: the mean and
the maximum over the distinct values of ``|F1(x) - F0(x)|`` (for a binary covariate both equal
the absolute difference in proportions). The effective sample size is Kish's
``(sum w)^2 / sum w^2``.

References
----------
Austin PC. Balance diagnostics for comparing the distribution of baseline covariates between
treatment groups in propensity-score matched samples. Stat Med 2009;28:3083-3107.
Austin PC, Stuart EA. Moving towards best practice when using inverse probability of treatment
weighting (IPTW) using the propensity score to estimate causal treatment effects in
observational studies. Stat Med 2015;34:3661-3679.
Greifer N. cobalt: Covariate Balance Tables and Plots. R package, 2024.
Ho DE, Imai K, King G, Stuart EA. MatchIt: nonparametric preprocessing for parametric causal
inference. J Stat Softw 2011;42(8).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from cartlens.errors import BalanceWarning, InputError
from cartlens.results import Result
from cartlens.stats.weighting import effective_sample_size

__all__ = [
    "BalanceResult",
    "balance_table",
    "pairwise_balance",
    "smd",
    "weighted_mean",
    "weighted_var",
    "ecdf_stats",
    "DENOMINATORS",
    "DEFAULT_THRESHOLD",
]

DENOMINATORS = ("pooled", "treated", "control", "weighted", "weighted_biased")
DEFAULT_THRESHOLD = 0.1


def weighted_mean(x: Any, w: Any = None) -> float:
    """``sum(w x) / sum(w)`` (the plain mean without weights)."""
    x = np.asarray(x, dtype=float)
    if w is None:
        return float(x.mean())
    w = np.asarray(w, dtype=float)
    sw = w.sum()
    if sw <= 0:
        raise InputError("all weights are zero", column="weights")
    return float(np.sum(w * x) / sw)


def weighted_var(x: Any, w: Any = None, *, unbiased: bool = True) -> float:
    """Weighted variance.

    Biased: ``sum w (x - m)^2 / sum w``; unbiased ("reliability weights"): the biased one times
    ``(sum w)^2 / ((sum w)^2 - sum w^2)``. Without weights: the sample variance (n - 1 when
    ``unbiased``).
    """
    x = np.asarray(x, dtype=float)
    if w is None:
        w = np.ones_like(x)
    w = np.asarray(w, dtype=float)
    sw = w.sum()
    if sw <= 0:
        raise InputError("all weights are zero", column="weights")
    m = np.sum(w * x) / sw
    vb = float(np.sum(w * (x - m) ** 2) / sw)
    if not unbiased:
        return vb
    sw2 = float(np.sum(w * w))
    denom = sw**2 - sw2
    return float(vb * sw**2 / denom) if denom > 0 else float("nan")


def _is_binary(x: np.ndarray) -> bool:
    u = np.unique(x)
    return u.size <= 2 and bool(np.all(np.isin(u, (0.0, 1.0))))


def ecdf_stats(x: Any, treat: Any, weights: Any = None) -> tuple[float, float]:
    """Mean and maximum over distinct values of ``|F1(x) - F0(x)|`` (weighted eCDFs).

    As MatchIt's ``summary()``: the distinct values are those of all units, including units
    of weight 0 (unmatched); for a binary covariate both statistics are the absolute
    difference in (weighted) proportions.
    """
    x = np.asarray(x, dtype=float)
    t = np.asarray(treat) == 1
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if _is_binary(x):
        d = abs(weighted_mean(x[t], w[t]) - weighted_mean(x[~t], w[~t]))
        return float(d), float(d)
    order = np.argsort(x, kind="mergesort")
    xs, ts, ws = x[order], t[order], w[order]
    signed = np.where(ts, ws / ws[ts].sum(), -ws / ws[~ts].sum())
    cum = np.abs(np.cumsum(signed))
    last = np.append(np.diff(xs) != 0, True)
    ediff = cum[last]
    return float(ediff.mean()), float(ediff.max())


def _denominator_sd(x: np.ndarray, t: np.ndarray, w: np.ndarray | None, denominator: str) -> float:
    if denominator == "pooled":
        return float(np.sqrt((np.var(x[t], ddof=1) + np.var(x[~t], ddof=1)) / 2.0))
    if denominator == "treated":
        return float(np.std(x[t], ddof=1))
    if denominator == "control":
        return float(np.std(x[~t], ddof=1))
    if denominator in ("weighted", "weighted_biased"):
        ub = denominator == "weighted"
        ww = np.ones_like(x) if w is None else w
        v1 = weighted_var(x[t], ww[t], unbiased=ub)
        v0 = weighted_var(x[~t], ww[~t], unbiased=ub)
        return float(np.sqrt((v1 + v0) / 2.0))
    raise InputError(
        f"must be one of {', '.join(DENOMINATORS)}, not '{denominator}'", column="denominator"
    )


def smd(x: Any, treat: Any, weights: Any = None, *, denominator: str = "pooled") -> float:
    """Standardised mean difference (treated minus control) of one covariate.

    Parameters
    ----------
    x : array-like
    treat : array-like of 0/1
    weights : array-like, optional
        Weights for the means (and for the ``weighted*`` denominators).
    denominator : str
        One of :data:`DENOMINATORS` (see the module docstring). ``"pooled"``, ``"treated"``
        and ``"control"`` use the unweighted full sample (all units given).

    Returns
    -------
    float
        When the denominator is 0 (the covariate is constant within each group, e.g. it
        separates the treatment): NaN when the means are equal too (a covariate constant
        overall carries no imbalance to measure), +-inf (the sign of the difference) when
        they differ - the SMD of a perfectly separated covariate is unbounded. Both come
        with a :class:`~cartlens.errors.BalanceWarning` naming the problem; never an
        exception.

    References
    ----------
    Austin PC. Stat Med 2009;28:3083-3107.
    """
    x = np.asarray(x, dtype=float)
    t = np.asarray(treat) == 1
    w = None if weights is None else np.asarray(weights, dtype=float)
    if w is None:
        m1, m0 = x[t].mean(), x[~t].mean()
    else:
        m1, m0 = weighted_mean(x[t], w[t]), weighted_mean(x[~t], w[~t])
    s = _denominator_sd(x, t, w, denominator)
    diff = float(m1) - float(m0)
    if s == 0 or not np.isfinite(s):
        if s == 0:
            what = "equal means" if diff == 0 else "different means"
            warnings.warn(
                f"the {denominator} standard deviation is 0 (the covariate is constant within "
                f"each group, {what}): SMD reported as "
                + ("NaN" if diff == 0 else ("+inf" if diff > 0 else "-inf"))
                + "; a covariate that separates the treatment groups cannot be balanced",
                BalanceWarning,
                stacklevel=2,
            )
            return float("nan") if diff == 0 else float(np.copysign(np.inf, diff))
        warnings.warn(
            f"the {denominator} standard deviation is undefined (a group has fewer than 2 "
            "units or no weight): SMD reported as NaN",
            BalanceWarning,
            stacklevel=2,
        )
        return float("nan")
    return diff / s


@dataclasses.dataclass(frozen=True)
class BalanceResult(Result):
    """Balance of each covariate before and after adjustment.

    Attributes
    ----------
    rows : tuple of dict
        Per covariate: ``covariate`` (also as ``term``, which labels tidy frames),
        ``binary, mean_treated, mean_control, smd_before, var_ratio_before,
        ecdf_mean_before, ecdf_max_before`` and, when weights were given,
        ``mean_treated_adj, mean_control_adj, smd_after, var_ratio_after,
        ecdf_mean_after, ecdf_max_after``, plus ``pass`` (``|SMD| < threshold`` after
        adjustment, or before when unadjusted).
    threshold : float
    denominator : str
    estimand : str
    n_treated, n_control : int
    ess_before, ess_after : dict
        Kish's effective sample sizes (``treated``, ``control``); ``ess_after`` is None
        without weights.
    adjusted : bool
        Whether weights were given.
    balanced : bool
        Every covariate passes.
    max_abs_smd : float
        Largest ``|SMD|`` after adjustment (before when unadjusted).
    failing : tuple of str
        Covariates that fail.
    """

    rows: tuple[dict, ...]
    threshold: float
    denominator: str
    estimand: str
    n_treated: int
    n_control: int
    ess_before: dict
    ess_after: dict | None
    adjusted: bool
    balanced: bool
    max_abs_smd: float
    failing: tuple[str, ...]

    def smd_before(self) -> dict[str, float]:
        """``{covariate: SMD before adjustment}``."""
        return {r["covariate"]: r["smd_before"] for r in self.rows}

    def smd_after(self) -> dict[str, float]:
        """``{covariate: SMD after adjustment}`` (empty when unadjusted)."""
        return {r["covariate"]: r["smd_after"] for r in self.rows if "smd_after" in r}

    def row(self, covariate: str) -> dict:
        for r in self.rows:
            if r["covariate"] == covariate:
                return r
        raise KeyError(covariate)


def _as_columns(covariates: Any, n: int) -> dict[str, np.ndarray]:
    import pandas as pd

    if isinstance(covariates, pd.DataFrame):
        items = [(str(c), covariates[c].to_numpy()) for c in covariates.columns]
    elif isinstance(covariates, Mapping):
        items = [(str(k), np.asarray(v)) for k, v in covariates.items()]
    else:
        arr = np.asarray(covariates)
        arr = arr[:, None] if arr.ndim == 1 else arr
        items = [(f"x{j + 1}", arr[:, j]) for j in range(arr.shape[1])]
    out: dict[str, np.ndarray] = {}
    for name, v in items:
        try:
            col = np.asarray(v, dtype=float)
        except (TypeError, ValueError) as exc:
            raise InputError(
                "is not numeric; expand categorical covariates into 0/1 indicators first",
                column=name,
            ) from exc
        if col.shape != (n,):
            raise InputError(f"has {col.size} values, expected {n}", column=name)
        if not np.all(np.isfinite(col)):
            raise InputError("has missing or non-finite values", column=name)
        out[name] = col
    if not out:
        raise InputError("no covariates given", column="covariates")
    return out


def balance_table(
    covariates: Any,
    treat: Any,
    weights: Any = None,
    *,
    estimand: str = "ate",
    denominator: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    distance: Any = None,
    warn: bool = True,
) -> BalanceResult:
    """Balance diagnostics of covariates before and (with ``weights``) after adjustment.

    Parameters
    ----------
    covariates : DataFrame, mapping name -> array, or 2-D array
        Numeric covariates (categorical ones expanded to 0/1 indicators).
    treat : array-like of 0/1
    weights : array-like, optional
        IPT weights, or matching weights (0 for unmatched units).
    estimand : {"ate", "att", "atc", "ato"}
        Picks the default denominator: ``"treated"`` for the ATT, ``"control"`` for the
        ATC, ``"pooled"`` otherwise.
    denominator : str, optional
        One of :data:`DENOMINATORS`; overrides the estimand's default.
    threshold : float
        A covariate passes when ``|SMD| < threshold`` (default 0.1; Austin 2009).
    distance : array-like, optional
        The propensity score; reported as a first row ``distance`` (as MatchIt) but not
        counted in pass/fail.
    warn : bool
        Issue :class:`BalanceWarning` when an adjusted covariate fails.

    Returns
    -------
    BalanceResult

    References
    ----------
    Austin PC. Stat Med 2009;28:3083-3107. Ho DE et al. J Stat Softw 2011;42(8).
    """
    t_raw = np.asarray(treat)
    if not np.isin(t_raw, (0, 1)).all():
        raise InputError("must be coded 0/1", column="treatment")
    t = t_raw == 1
    n = t.size
    if not t.any() or t.all():
        raise InputError("needs both treated and control units", column="treatment")
    estimand = str(estimand).lower()
    if denominator is None:
        denominator = {"att": "treated", "atc": "control"}.get(estimand, "pooled")
    if denominator not in DENOMINATORS:
        raise InputError(
            f"must be one of {', '.join(DENOMINATORS)}, not '{denominator}'", column="denominator"
        )
    threshold = float(threshold)
    if not threshold > 0:
        raise InputError("must be positive", column="threshold")
    cols = _as_columns(covariates, n)
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != (n,):
            raise InputError(f"has {w.size} values, expected {n}", column="weights")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InputError("must be finite and non-negative", column="weights")
        if not np.any(w[t] > 0) or not np.any(w[~t] > 0):
            raise InputError(
                f"all {'treated' if not np.any(w[t] > 0) else 'control'} weights are zero",
                column="weights",
            )
    all_cols: list[tuple[str, np.ndarray, bool]] = []
    if distance is not None:
        all_cols.append(("distance", np.asarray(distance, dtype=float), False))
    all_cols += [(k, v, True) for k, v in cols.items()]
    rows = []
    for name, x, counted in all_cols:
        binary = _is_binary(x)
        constant = np.ptp(x) == 0
        r: dict[str, Any] = {"covariate": name, "term": name, "binary": binary}
        r["mean_treated"] = float(x[t].mean())
        r["mean_control"] = float(x[~t].mean())
        r["smd_before"] = 0.0 if constant else smd(x, t, None, denominator=_unw(denominator))
        r["var_ratio_before"] = (
            None if binary or constant else float(np.var(x[t], ddof=1) / np.var(x[~t], ddof=1))
        )
        r["ecdf_mean_before"], r["ecdf_max_before"] = ecdf_stats(x, t)
        if w is not None:
            r["mean_treated_adj"] = weighted_mean(x[t], w[t])
            r["mean_control_adj"] = weighted_mean(x[~t], w[~t])
            r["smd_after"] = 0.0 if constant else smd(x, t, w, denominator=denominator)
            if binary or constant:
                r["var_ratio_after"] = None
            else:
                v1 = weighted_var(x[t], w[t])
                v0 = weighted_var(x[~t], w[~t])
                r["var_ratio_after"] = float(v1 / v0) if v0 > 0 else float("nan")
            r["ecdf_mean_after"], r["ecdf_max_after"] = ecdf_stats(x, t, w)
        key = "smd_after" if w is not None else "smd_before"
        r["pass"] = bool(abs(r[key]) < threshold) if counted else None
        r["counted"] = counted
        rows.append(r)
    counted_rows = [r for r in rows if r["counted"]]
    key = "smd_after" if w is not None else "smd_before"
    failing = tuple(r["covariate"] for r in counted_rows if not r["pass"])
    max_abs = float(max(abs(r[key]) for r in counted_rows))
    ess_before = {"treated": float(t.sum()), "control": float((~t).sum())}
    ess_after = (
        None
        if w is None
        else {"treated": effective_sample_size(w[t]), "control": effective_sample_size(w[~t])}
    )
    if warn and w is not None and failing:
        warnings.warn(
            f"covariate balance after adjustment misses |SMD| < {threshold:g} for "
            f"{', '.join(failing)} (max |SMD| = {max_abs:.3f})",
            BalanceWarning,
            stacklevel=2,
        )
    return BalanceResult(
        rows=tuple(rows),
        threshold=threshold,
        denominator=denominator,
        estimand=estimand,
        n_treated=int(t.sum()),
        n_control=int((~t).sum()),
        ess_before=ess_before,
        ess_after=ess_after,
        adjusted=w is not None,
        balanced=not failing,
        max_abs_smd=max_abs,
        failing=failing,
    )


def _unw(denominator: str) -> str:
    """Before adjustment the weighted denominators reduce to the unweighted pooled SD."""
    return "pooled" if denominator.startswith("weighted") else denominator


def pairwise_balance(
    covariates: Any,
    groups: Any,
    weights: Any = None,
    *,
    reference: Any = None,
    threshold: float = DEFAULT_THRESHOLD,
    warn: bool = True,
) -> dict[tuple[str, str], BalanceResult]:
    """Balance of every pair of three or more treatment groups (or each group against
    ``reference``), each pair with :func:`balance_table` on its own units: the second group
    of a pair plays "treated". Denominators are the pair's pooled unweighted SD.

    References
    ----------
    McCaffrey DF, Griffin BA, Almirall D, et al. Stat Med 2013;32:3388-3414.
    """
    import pandas as pd

    g = np.asarray(groups).astype(str)
    n = g.size
    cols = _as_columns(covariates, n)
    w = None if weights is None else np.asarray(weights, dtype=float)
    levels = sorted(set(g.tolist()))
    if len(levels) < 2:
        raise InputError("needs at least two groups", column="groups")
    if reference is not None:
        if str(reference) not in levels:
            raise InputError(f"the reference '{reference}' does not occur", column="groups")
        pairs = [(str(reference), lv) for lv in levels if lv != str(reference)]
    else:
        pairs = [(a, b) for i, a in enumerate(levels) for b in levels[i + 1 :]]
    out: dict[tuple[str, str], BalanceResult] = {}
    for a, b in pairs:
        m = (g == a) | (g == b)
        sub = pd.DataFrame({k: v[m] for k, v in cols.items()})
        out[(a, b)] = balance_table(
            sub,
            (g[m] == b).astype(int),
            None if w is None else w[m],
            threshold=threshold,
            warn=warn,
        )
    return out
