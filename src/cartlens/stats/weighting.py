"""Propensity-score weights: IPTW for the ATE and ATT, stabilised weights, overlap weights.

With treatment ``A`` (0/1) and propensity score ``e = P(A = 1 | X)``:

=========  ==========================================  =========================================
estimand   weight of a treated unit                    weight of a control unit
=========  ==========================================  =========================================
``ate``    ``1 / e``                                   ``1 / (1 - e)``
``att``    ``1``                                       ``e / (1 - e)``
``atc``    ``(1 - e) / e``                             ``1``
``ato``    ``1 - e`` (overlap weights)                 ``e``
=========  ==========================================  =========================================

``stabilize=True`` multiplies the ATE weights by the marginal probability of the group a unit
is in (``mean(A)`` for treated, ``1 - mean(A)`` for controls: Robins, Hernan & Brumback 2000,
as in the R reference ``sw``); for the ATT the control weights are multiplied by
``(1 - mean(A)) / mean(A)`` (so that they sum to about the number of controls), for the ATC the
treated weights by ``mean(A) / (1 - mean(A))``; overlap weights are left as they are.

Trimming (``trim=(lo, hi)``) gives weight 0 to units whose propensity score lies outside
``[lo, hi]`` (Crump et al. 2009 suggest (0.1, 0.9)) - it changes the population.
Truncation (``truncate=(plo, phi)``) caps the weights at their ``plo`` and ``phi`` quantiles
(R's default quantile type 7; Cole & Hernan 2008). Trimming is done before the stabilising
means are taken (on the retained units) and truncation after stabilisation.

References
----------
Rosenbaum PR. Model-based direct adjustment. JASA 1987;82:387-394.
Robins JM, Hernan MA, Brumback B. Marginal structural models and causal inference in
epidemiology. Epidemiology 2000;11:550-560.
Cole SR, Hernan MA. Constructing inverse probability weights for marginal structural models.
Am J Epidemiol 2008;168:656-664.
Crump RK, Hotz VJ, Imbens GW, Mitnik OA. Dealing with limited overlap in estimation of average
treatment effects. Biometrika 2009;96:187-199.
Li F, Morgan KL, Zaslavsky AM. Balancing covariates via propensity score weighting.
JASA 2018;113:390-400.
Kish L. Survey Sampling. Wiley, 1965 (effective sample size).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
from scipy import stats as sps

from cartlens.errors import InputError, OverlapWarning
from cartlens.results import Result

__all__ = [
    "WeightsResult",
    "iptw_weights",
    "generalized_iptw_weights",
    "effective_sample_size",
    "weight_summary",
    "WeightedProportionResult",
    "weighted_proportions",
    "weighted_km",
    "weighted_cox",
]

ESTIMANDS = ("ate", "att", "atc", "ato")


@dataclasses.dataclass(frozen=True)
class WeightsResult(Result):
    """Propensity-score weights and how they were made.

    Attributes
    ----------
    weights : numpy.ndarray
        One weight per unit (0 for trimmed units).
    ps, treat : numpy.ndarray
        The scores and 0/1 treatment the weights were made from.
    estimand : str
    stabilized : bool
    trim, truncate : tuple or None
        The settings used.
    kept : numpy.ndarray of bool
        Units not trimmed.
    n_trimmed : int
    n_truncated : int
        Number of weights changed by truncation.
    truncation_bounds : tuple or None
        The weight values at which weights were capped.
    summary : dict
        Per group (``treated``, ``control``) and overall: sum, min, max, mean, ess.
    """

    weights: np.ndarray
    ps: np.ndarray
    treat: np.ndarray
    estimand: str
    stabilized: bool
    trim: tuple[float, float] | None
    truncate: tuple[float, float] | None
    kept: np.ndarray
    n_trimmed: int
    n_truncated: int
    truncation_bounds: tuple[float, float] | None
    summary: dict

    @property
    def ess(self) -> dict[str, float]:
        """Kish's effective sample size by group."""
        return {g: self.summary[g]["ess"] for g in ("treated", "control")}


def effective_sample_size(weights: Any) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (0 when all weights are 0).

    References
    ----------
    Kish L. Survey Sampling. Wiley, 1965.
    """
    w = np.asarray(weights, dtype=float)
    s2 = float(np.sum(w * w))
    return float(np.sum(w) ** 2 / s2) if s2 > 0 else 0.0


def weight_summary(weights: Any, treat: Any) -> dict:
    """Sum, min, max, mean and Kish ESS of the weights, by group and overall."""
    w = np.asarray(weights, dtype=float)
    t = np.asarray(treat) == 1

    def one(x: np.ndarray) -> dict:
        if x.size == 0:
            return {"n": 0, "sum": 0.0, "min": None, "max": None, "mean": None, "ess": 0.0}
        return {
            "n": int(x.size),
            "sum": float(x.sum()),
            "min": float(x.min()),
            "max": float(x.max()),
            "mean": float(x.mean()),
            "ess": effective_sample_size(x),
        }

    return {"treated": one(w[t]), "control": one(w[~t]), "all": one(w)}


def _check_ps_treat(ps: Any, treat: Any) -> tuple[np.ndarray, np.ndarray]:
    ps = np.asarray(ps, dtype=float)
    treat = np.asarray(treat)
    if ps.ndim != 1 or treat.shape != ps.shape:
        raise InputError("ps and treatment must be 1-D arrays of the same length", column="ps")
    if not np.isin(treat, (0, 1)).all():
        raise InputError("must be coded 0/1", column="treatment")
    if not np.all(np.isfinite(ps)) or np.any((ps < 0) | (ps > 1)):
        raise InputError("propensity scores must be finite and within [0, 1]", column="ps")
    return ps, treat.astype(np.int64)


def _quantile_type7(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q, method="linear"))


def iptw_weights(
    ps: Any,
    treat: Any,
    *,
    estimand: str = "ate",
    stabilize: bool = False,
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
) -> WeightsResult:
    """Inverse-probability-of-treatment weights (and overlap weights).

    Parameters
    ----------
    ps : array-like
        Propensity scores P(A = 1 | X).
    treat : array-like of 0/1
    estimand : {"ate", "att", "atc", "ato"}
        ``ato`` gives overlap weights (Li, Morgan & Zaslavsky 2018).
    stabilize : bool
        Multiply by the marginal treatment probabilities (see the module docstring).
    trim : (lo, hi), optional
        Give weight 0 to units with ps outside [lo, hi].
    truncate : (plo, phi), optional
        Cap weights at their plo and phi quantiles (e.g. (0.01, 0.99)); use 0 or 1 to leave
        a side alone.

    Returns
    -------
    WeightsResult

    Raises
    ------
    InputError
        Unknown estimand, bad bounds, a propensity score of exactly 0 or 1 where it would be
        divided by (no overlap: the weight is infinite), or all weights zero after trimming.

    Warns
    -----
    OverlapWarning
        Very large weights (a unit stands for more than 10% of its group's weight).

    References
    ----------
    Robins JM, Hernan MA, Brumback B. Epidemiology 2000;11:550-560.
    Li F, Morgan KL, Zaslavsky AM. JASA 2018;113:390-400.
    """
    ps, a = _check_ps_treat(ps, treat)
    estimand = str(estimand).lower()
    if estimand not in ESTIMANDS:
        raise InputError(
            f"must be one of {', '.join(ESTIMANDS)}, not '{estimand}'", column="estimand"
        )
    if not (a == 1).any() or not (a == 0).any():
        raise InputError("needs both treated and control units", column="treatment")
    kept = np.ones(ps.size, dtype=bool)
    if trim is not None:
        lo, hi = (float(v) for v in trim)
        if not (0.0 <= lo < hi <= 1.0):
            raise InputError(f"bounds must satisfy 0 <= lo < hi <= 1, got {trim}", column="trim")
        kept = (ps >= lo) & (ps <= hi)
        if not (kept & (a == 1)).any() or not (kept & (a == 0)).any():
            raise InputError(
                f"trimming to ps in [{lo}, {hi}] leaves no "
                f"{'treated' if not (kept & (a == 1)).any() else 'control'} units",
                column="trim",
            )
    t = a == 1
    need_e = {"ate": t, "att": np.zeros_like(t), "atc": t, "ato": np.zeros_like(t)}[estimand]
    need_1me = {"ate": ~t, "att": ~t, "atc": np.zeros_like(t), "ato": np.zeros_like(t)}[estimand]
    bad = kept & ((need_e & (ps <= 0.0)) | (need_1me & (ps >= 1.0)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{int(bad.sum())} unit(s) have a propensity score of exactly 0 or 1 (first: "
            f"position {i}, ps = {ps[i]}); their inverse-probability weight is infinite - there "
            "is no overlap. Trim (trim=), use overlap weights (estimand='ato') or restrict the "
            "cohort",
            column="ps",
        )
    w = np.zeros(ps.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        if estimand == "ate":
            w = np.where(t, 1.0 / ps, 1.0 / (1.0 - ps))
        elif estimand == "att":
            w = np.where(t, 1.0, ps / (1.0 - ps))
        elif estimand == "atc":
            w = np.where(t, (1.0 - ps) / ps, 1.0)
        else:
            w = np.where(t, 1.0 - ps, ps)
    w = np.where(kept, w, 0.0)
    if stabilize and estimand != "ato":
        pbar = float(a[kept].mean())
        if estimand == "ate":
            w = w * np.where(t, pbar, 1.0 - pbar)
        elif estimand == "att":
            w = w * np.where(t, 1.0, (1.0 - pbar) / pbar)
        else:
            w = w * np.where(t, pbar / (1.0 - pbar), 1.0)
    n_trunc = 0
    bounds = None
    if truncate is not None:
        plo, phi = (float(v) for v in truncate)
        if not (0.0 <= plo < phi <= 1.0):
            raise InputError(
                f"quantiles must satisfy 0 <= lo < hi <= 1, got {truncate}", column="truncate"
            )
        wk = w[kept]
        lo_w = _quantile_type7(wk, plo) if plo > 0 else float(wk.min())
        hi_w = _quantile_type7(wk, phi) if phi < 1 else float(wk.max())
        capped = np.clip(w, lo_w, hi_w)
        capped = np.where(kept, capped, 0.0)
        n_trunc = int(np.sum(capped != w))
        w = capped
        bounds = (lo_w, hi_w)
    if not np.any(w > 0):
        raise InputError("all weights are zero", column="weights")
    summ = weight_summary(w, a)
    for g in ("treated", "control"):
        s = summ[g]
        if estimand != "ato" and s["sum"] > 0 and s["n"] >= 20 and s["max"] > 0.1 * s["sum"]:
            warnings.warn(
                f"one {g} unit carries {s['max'] / s['sum']:.0%} of its group's total weight "
                "(extreme propensity scores); consider trimming, truncation or overlap weights",
                OverlapWarning,
                stacklevel=2,
            )
    return WeightsResult(
        weights=w,
        ps=ps,
        treat=a,
        estimand=estimand,
        stabilized=bool(stabilize and estimand != "ato"),
        trim=None if trim is None else (float(trim[0]), float(trim[1])),
        truncate=None if truncate is None else (float(truncate[0]), float(truncate[1])),
        kept=kept,
        n_trimmed=int((~kept).sum()),
        n_truncated=n_trunc,
        truncation_bounds=bounds,
        summary=summ,
    )


def generalized_iptw_weights(
    probs: Any,
    treat: Any,
    *,
    estimand: str = "ate",
    focal: int | None = None,
    stabilize: bool = False,
) -> np.ndarray:
    """Weights for K >= 2 groups from a generalised propensity score.

    Parameters
    ----------
    probs : n x K array
        P(A = k | X) (e.g. ``GeneralizedPropensityResult.probs``).
    treat : array of int
        The group index 0..K-1 of each unit.
    estimand : {"ate", "att"}
        ATE: ``1 / P(A = a_i | X_i)``; ATT with a focal group f:
        ``P(A = f | X_i) / P(A = a_i | X_i)`` (1 for the focal group).
    stabilize : bool
        Multiply by the marginal proportion of the unit's group (ATE only).

    References
    ----------
    McCaffrey DF, Griffin BA, Almirall D, et al. A tutorial on propensity score estimation for
    multiple treatments using generalized boosted models. Stat Med 2013;32:3388-3414.
    """
    P = np.asarray(probs, dtype=float)
    a = np.asarray(treat, dtype=np.int64)
    if P.ndim != 2 or P.shape[0] != a.size:
        raise InputError("probs must be an n x K matrix matching the treatment", column="probs")
    if a.min() < 0 or a.max() >= P.shape[1]:
        raise InputError("group indices must be in 0..K-1", column="treatment")
    own = P[np.arange(a.size), a]
    if np.any(own <= 0):
        raise InputError(
            "some units have probability 0 of the treatment they received (no overlap)",
            column="probs",
        )
    estimand = estimand.lower()
    if estimand == "ate":
        w = 1.0 / own
        if stabilize:
            marg = np.bincount(a, minlength=P.shape[1]) / a.size
            w = w * marg[a]
    elif estimand == "att":
        if focal is None:
            raise InputError("the ATT needs a focal group (focal=index)", column="focal")
        w = P[:, focal] / own
    else:
        raise InputError(f"must be 'ate' or 'att', not '{estimand}'", column="estimand")
    return w


# --------------------------------------------------------------------------- outcome analyses
@dataclasses.dataclass(frozen=True)
class WeightedProportionResult(Result):
    """Weighted risk in each group, risk difference, risk ratio and odds ratio.

    Standard errors are robust (sandwich, weights treated as known - as R's
    ``glm(..., weights = w)`` with ``sandwich::vcovHC(type = "HC0")`` or
    ``survey::svyglm``); confidence intervals are Wald, on the log scale for RR and OR.
    """

    n: int
    n_treated: int
    n_control: int
    risk_treated: float
    risk_control: float
    risk_difference: float
    rd_se: float
    rd_lower: float
    rd_upper: float
    risk_ratio: float
    log_rr_se: float
    rr_lower: float
    rr_upper: float
    odds_ratio: float
    log_or_se: float
    or_lower: float
    or_upper: float
    p_value: float
    conf_level: float


def weighted_proportions(
    outcome: Any, treat: Any, weights: Any, *, conf_level: float = 0.95
) -> WeightedProportionResult:
    """Compare a binary outcome between weighted groups (robust sandwich SE).

    The weighted risks are ``r_g = sum w y / sum w`` in each group; the influence function of
    ``r_g`` is ``w (y - r_g) / sum w``, so ``var(r_g) = sum w^2 (y - r_g)^2 / (sum w)^2`` (the
    HC0 sandwich of a weighted linear/logistic model with a group indicator). Delta method
    for log RR and log OR; the p-value is the Wald test of the risk difference.

    References
    ----------
    Lunceford JK, Davidian M. Stratification and weighting via the propensity score in
    estimation of causal treatment effects. Stat Med 2004;23:2937-2960.
    """
    y = np.asarray(outcome, dtype=float)
    a = np.asarray(treat)
    w = np.asarray(weights, dtype=float)
    if not (y.shape == a.shape == w.shape):
        raise InputError("outcome, treatment and weights must have the same length")
    if not np.isin(y, (0, 1)).all():
        raise InputError("must be coded 0/1", column="outcome")
    if not np.isin(a, (0, 1)).all():
        raise InputError("must be coded 0/1", column="treatment")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise InputError("must be finite and non-negative", column="weights")
    z = sps.norm.ppf(0.5 + conf_level / 2.0)
    out: dict[str, tuple[float, float]] = {}
    for g, lab in ((1, "t"), (0, "c")):
        m = a == g
        sw = w[m].sum()
        if sw <= 0:
            raise InputError(
                f"all {'treated' if g == 1 else 'control'} weights are zero", column="weights"
            )
        r = float((w[m] * y[m]).sum() / sw)
        v = float(np.sum(w[m] ** 2 * (y[m] - r) ** 2) / sw**2)
        out[lab] = (r, v)
    (r1, v1), (r0, v0) = out["t"], out["c"]
    rd = r1 - r0
    rd_se = float(np.sqrt(v1 + v0))
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = r1 / r0
        lrr_se = float(np.sqrt(v1 / r1**2 + v0 / r0**2))
        odds = r1 / (1 - r1) / (r0 / (1 - r0))
        lor_se = float(np.sqrt(v1 / (r1 * (1 - r1)) ** 2 + v0 / (r0 * (1 - r0)) ** 2))
        p = float(2 * sps.norm.sf(abs(rd) / rd_se)) if rd_se > 0 else float("nan")
    return WeightedProportionResult(
        n=int(y.size),
        n_treated=int((a == 1).sum()),
        n_control=int((a == 0).sum()),
        risk_treated=r1,
        risk_control=r0,
        risk_difference=rd,
        rd_se=rd_se,
        rd_lower=rd - z * rd_se,
        rd_upper=rd + z * rd_se,
        risk_ratio=float(rr),
        log_rr_se=lrr_se,
        rr_lower=float(rr * np.exp(-z * lrr_se)),
        rr_upper=float(rr * np.exp(z * lrr_se)),
        odds_ratio=float(odds),
        log_or_se=lor_se,
        or_lower=float(odds * np.exp(-z * lor_se)),
        or_upper=float(odds * np.exp(z * lor_se)),
        p_value=p,
        conf_level=float(conf_level),
    )


def weighted_km(time: Any, event: Any, treat: Any, weights: Any, *, robust: bool = True, **kw):
    """Weighted Kaplan-Meier curves by treatment group (robust infinitesimal-jackknife SE).

    A thin wrapper of :func:`cartlens.stats.km.kaplan_meier` with ``weights=`` and
    ``group=treat`` (R: ``survfit(Surv(time, event) ~ treat, weights = w, robust = TRUE)``).
    Units with weight 0 (trimmed) are dropped first.
    """
    from cartlens.stats.km import kaplan_meier

    w = np.asarray(weights, dtype=float)
    keep = w > 0
    if not keep.any():
        raise InputError("all weights are zero", column="weights")
    return kaplan_meier(
        np.asarray(time, dtype=float)[keep],
        np.asarray(event)[keep],
        weights=w[keep],
        group=np.asarray(treat)[keep],
        robust=robust,
        **kw,
    )


def weighted_cox(time: Any, event: Any, treat: Any, weights: Any, *, X: Any = None, **kw):
    """Weighted Cox model of the treatment with robust (sandwich) SE.

    A thin wrapper of :func:`cartlens.stats.cox.coxph` with ``weights=`` and ``robust=True``
    (R: ``coxph(Surv(time, event) ~ treat, weights = w, robust = TRUE)``); extra covariates
    (doubly robust adjustment) may be given in ``X``. Units with weight 0 are dropped.
    """
    from cartlens.stats.cox import coxph

    w = np.asarray(weights, dtype=float)
    keep = w > 0
    if not keep.any():
        raise InputError("all weights are zero", column="weights")
    a = np.asarray(treat, dtype=float)[keep]
    names = kw.pop("names", None)
    if X is None:
        design = a[:, None]
        names = names or ["treat"]
    else:
        Xa = np.asarray(X, dtype=float)
        Xa = Xa[:, None] if Xa.ndim == 1 else Xa
        design = np.column_stack([a, Xa[keep]])
        names = names or ["treat", *[f"x{j + 1}" for j in range(Xa.shape[1])]]
    return coxph(
        np.asarray(time, dtype=float)[keep],
        np.asarray(event)[keep],
        design,
        weights=w[keep],
        robust=True,
        names=names,
        **kw,
    )
