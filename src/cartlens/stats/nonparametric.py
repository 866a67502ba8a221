"""Rank tests and robust summaries, as R's ``wilcox.test``, ``kruskal.test`` and ``quantile``.

* :func:`mann_whitney` - Wilcoxon rank-sum / Mann-Whitney test of two samples: exact
  p-value for small samples without ties, otherwise the normal approximation with tie
  correction and continuity correction (R's defaults).
* :func:`kruskal_wallis` - Kruskal-Wallis rank-sum test of k samples with tie correction.
* :func:`median_iqr` - median, quartiles (R's default ``quantile`` type 7), range.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from functools import lru_cache

import numpy as np
from scipy import stats

from cartlens.errors import InputError, SparseDataWarning
from cartlens.results import Result

#: Largest group size for which the exact distribution is used by default (R: 50).
EXACT_LIMIT = 50


def _values(x: object, name: str, *, min_n: int = 1) -> np.ndarray:
    """Finite float values; NaN are an error (drop missing values before calling)."""
    try:
        a = np.asarray(x, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"must be numeric: {exc}", column=name) from exc
    if np.any(np.isnan(a)):
        raise InputError("contains missing values (drop them first)", column=name)
    if np.any(np.isinf(a)):
        raise InputError("contains infinite values", column=name)
    if a.size < min_n:
        raise InputError(f"needs at least {min_n} value(s), got {a.size}", column=name)
    return a


def _group_labels(groups: object, n: int) -> tuple[np.ndarray, list]:
    """Group labels as an object array (one per value, none missing) and their sorted set."""
    g = np.asarray(groups, dtype=object).ravel()
    if g.size != n:
        raise InputError(f"has {g.size} labels for {n} values", column="groups")
    if any(lab is None or (isinstance(lab, float) and np.isnan(lab)) for lab in g):
        raise InputError("contains missing group labels (drop them first)", column="groups")
    return g, sorted(set(g.tolist()), key=lambda s: (str(type(s)), s))


def _tie_sizes(values: np.ndarray) -> np.ndarray:
    _, counts = np.unique(values, return_counts=True)
    return counts.astype(float)


# --------------------------------------------------------------------------------------------
# Mann-Whitney
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _wilcox_counts(m: int, n: int) -> np.ndarray:
    """Number of arrangements giving each value 0..m*n of the Mann-Whitney U statistic."""
    # c[i][j] polynomial recursion: f(m, n) = f(m-1, n) shifted by n + f(m, n-1)
    # implemented as the generating function prod_{i=1}^{m} (1 - q^{n+i}) / (1 - q^i)
    size = m * n + 1
    poly = np.zeros(size, dtype=object)
    poly[0] = 1
    for i in range(1, m + 1):
        # multiply by (1 - q^{n+i})
        shift = n + i
        if shift < size:
            poly[shift:] = poly[shift:] - poly[: size - shift]
        # divide by (1 - q^i): cumulative sum with stride i
        for k in range(i, size):
            poly[k] = poly[k] + poly[k - i]
    return poly


def _pwilcox(q: float, m: int, n: int, upper: bool = False) -> float:
    """P(U <= q) (or P(U > q) with ``upper``) for the Mann-Whitney U statistic, as R's pwilcox."""
    counts = _wilcox_counts(m, n)
    total = sum(counts)
    q = int(np.floor(q + 1e-7))
    if upper:
        if q < 0:
            return 1.0
        num = sum(counts[q + 1 :])
    else:
        if q < 0:
            return 0.0
        num = sum(counts[: q + 1])
    return float(num / total)


@dataclasses.dataclass(frozen=True)
class MannWhitneyResult(Result):
    """Wilcoxon rank-sum (Mann-Whitney) test; ``statistic`` is R's W (= U of sample x)."""

    statistic: float
    p_value: float
    alternative: str
    exact: bool
    correct: bool
    n_x: int
    n_y: int
    median_x: float
    median_y: float
    ties: bool
    method: str
    #: Hodges-Lehmann estimate of the location shift x - y and its interval (``conf_int``).
    estimate: float | None = None
    lower: float | None = None
    upper: float | None = None
    #: The level of the interval; lower than asked for when R says "not achievable".
    conf_level: float | None = None
    ci_method: str | None = None


def _qwilcox(p: float, m: int, n: int) -> int:
    """R's ``qwilcox(p, m, n)``: the smallest q with P(U <= q) >= p (R's 10 eps fuzz)."""
    counts = _wilcox_counts(m, n)
    total = sum(counts)
    acc = 0
    if p <= 0.5:
        x = p - 10 * np.finfo(float).eps
        for q, c in enumerate(counts):
            acc += c
            if acc / total >= x:
                return q
        return m * n
    x = 1 - p + 10 * np.finfo(float).eps
    for q, c in enumerate(counts):
        acc += c
        if acc / total > x:
            return m * n - q
    return 0


def _hl_exact(xa, ya, alternative: str, conf_level: float):
    """Exact Hodges-Lehmann interval: order statistics of the m n differences (R's code)."""
    m, n = xa.size, ya.size
    diffs = np.sort(np.subtract.outer(xa, ya).ravel())
    alpha = 1 - conf_level
    qu = _qwilcox(alpha / 2 if alternative == "two.sided" else alpha, m, n)
    qu = max(qu, 1)
    ql = m * n - qu
    achieved = _pwilcox(qu - 1, m, n) * (2 if alternative == "two.sided" else 1)
    lower = float(diffs[qu - 1]) if alternative != "less" else -math.inf
    upper = float(diffs[ql]) if alternative != "greater" else math.inf
    level = 1 - achieved if achieved - alpha > alpha / 2 else conf_level
    return float(np.median(diffs)), lower, upper, level


def _hl_normal(xa, ya, alternative: str, conf_level: float, correct: bool, tol: float):
    """Hodges-Lehmann estimate and interval by inverting the normal-approximation statistic,
    with R's ``uniroot`` (:func:`~cartlens.stats._zeroin.zeroin2`) at R's ``tol.root``."""
    from cartlens.stats._zeroin import zeroin2

    m, n = xa.size, ya.size

    def w(d: float, correct: bool = correct) -> float:
        dr = stats.rankdata(np.concatenate([xa - d, ya]))
        nt = np.unique(dr, return_counts=True)[1].astype(float)
        dz = dr[:m].sum() - m * (m + 1) / 2 - m * n / 2
        corr = 0.0
        if correct:
            corr = {"two.sided": float(np.sign(dz)) * 0.5, "greater": 0.5, "less": -0.5}[
                alternative
            ]
        sigma = math.sqrt(
            (m * n / 12) * ((m + n + 1) - np.sum(nt**3 - nt) / ((m + n) * (m + n - 1)))
        )
        if sigma == 0:
            raise InputError(
                "cannot compute a confidence interval when all observations are tied",
                column="x",
            )
        return (dz - corr) / sigma

    mumin, mumax = float(xa.min() - ya.max()), float(xa.max() - ya.min())
    wmin, wmax = w(mumin), w(mumax)

    def root(zq: float) -> float:
        fl = wmin - zq
        if fl <= 0:
            return mumin
        fu = wmax - zq
        if fu >= 0:
            return mumax
        return zeroin2(lambda d: w(d) - zq, mumin, mumax, fl, fu, tol)

    alpha = 1 - conf_level
    lower, upper = -math.inf, math.inf
    if alternative == "two.sided":
        lower, upper = (
            root(float(stats.norm.isf(alpha / 2))),
            root(float(stats.norm.ppf(alpha / 2))),
        )
    elif alternative == "greater":
        lower = root(float(stats.norm.isf(alpha)))
    else:
        upper = root(float(stats.norm.ppf(alpha)))
    # the estimate: uniroot(W, lower = mumin, upper = mumax, tol = tol.root), where R has set
    # correct <- FALSE before (so the estimate's statistic has no continuity correction)
    wmin, wmax = w(mumin, False), w(mumax, False)
    if wmin * wmax > 0:
        raise InputError(
            "the Hodges-Lehmann estimate is undefined (the statistic does not change sign)",
            column="x",
        )
    est = zeroin2(lambda d: w(d, False), mumin, mumax, wmin, wmax, tol)
    return float(est), float(lower), float(upper), conf_level


def mann_whitney(
    x: object,
    y: object,
    *,
    alternative: str = "two.sided",
    exact: bool | None = None,
    correct: bool = True,
    conf_int: bool = False,
    conf_level: float = 0.95,
    tol_root: float = 1e-4,
) -> MannWhitneyResult:
    """Wilcoxon rank-sum test of two independent samples, as R's ``wilcox.test(x, y)``.

    Parameters
    ----------
    x, y : array_like
        The two samples (no missing values).
    alternative : {"two.sided", "less", "greater"}
        "greater" means x tends to be larger than y.
    exact : bool, optional
        Exact p-value. Default (R's): exact when both samples have fewer than 50 values and
        there are no ties. With ties the exact p-value is unavailable and the normal
        approximation is used (R warns "cannot compute exact p-value with ties" even by
        default; here a :class:`SparseDataWarning` is issued only when ``exact=True`` was
        asked for; ``exact`` in the result says which was used).
    correct : bool
        Continuity correction of the normal approximation (R default True).
    conf_int : bool
        Also give the Hodges-Lehmann estimate of the location shift x - y with its interval,
        as ``wilcox.test(x, y, conf.int = TRUE)``. In the exact case (as for the p-value) the
        estimate is the median of the n_x n_y differences x_i - y_j and the limits are order
        statistics of them given by ``qwilcox``; if the level cannot be achieved (tiny
        samples) ``conf_level`` in the result is the achieved one, as R reports. Otherwise
        (ties, n >= 50) the estimate and limits are the roots of the continuity-corrected
        normal statistic as a function of the shift, found with R's own ``uniroot`` iterates
        at ``tol_root`` (R's ``tol.root = 1e-4``), so they are R's numbers, not only within
        R's tolerance of them.
    conf_level : float
    tol_root : float
        R's ``tol.root``.

    Returns
    -------
    MannWhitneyResult
        ``statistic`` W = sum of the ranks of x - n_x (n_x + 1) / 2; with ``conf_int``,
        ``estimate``, ``lower``, ``upper``, ``conf_level`` and ``ci_method``.

    References
    ----------
    Mann HB, Whitney DR. On a test of whether one of two random variables is stochastically
    larger than the other. Ann Math Stat 1947;18:50-60. Hollander M, Wolfe DA. Nonparametric
    Statistical Methods, 2nd ed, 1999. Hodges JL, Lehmann EL. Estimates of location based on
    rank tests. Ann Math Stat 1963;34:598-611. Bauer DF. Constructing confidence sets using
    rank statistics. J Am Stat Assoc 1972;67:687-690. R: ``wilcox.test(x, y, conf.int = ...)``.
    """
    xa = _values(x, "x")
    ya = _values(y, "y")
    if alternative not in ("two.sided", "less", "greater"):
        raise InputError(
            f"must be 'two.sided', 'less' or 'greater', got {alternative!r}", column="alternative"
        )
    nx, ny = xa.size, ya.size
    allv = np.concatenate([xa, ya])
    r = stats.rankdata(allv)
    w = float(r[:nx].sum() - nx * (nx + 1) / 2)
    ties = bool(np.unique(allv).size < allv.size)
    requested = exact
    if exact is None:
        exact = nx < EXACT_LIMIT and ny < EXACT_LIMIT
    use_exact = bool(exact and not ties)
    if requested and ties:
        warnings.warn(
            "cannot compute exact p-value with ties; normal approximation used",
            SparseDataWarning,
            stacklevel=2,
        )
    if use_exact:
        if alternative == "two.sided":
            if w > nx * ny / 2:
                p = _pwilcox(w - 1, nx, ny, upper=True)
            else:
                p = _pwilcox(w, nx, ny)
            p = min(2 * p, 1.0)
        elif alternative == "greater":
            p = _pwilcox(w - 1, nx, ny, upper=True)
        else:
            p = _pwilcox(w, nx, ny)
        method = "Wilcoxon rank sum exact test"
        used_correct = False
    else:
        nt = _tie_sizes(allv)
        z = w - nx * ny / 2
        sigma = (
            np.sqrt(
                (nx * ny / 12) * ((nx + ny + 1) - np.sum(nt**3 - nt) / ((nx + ny) * (nx + ny - 1)))
            )
            if nx + ny > 1
            else 0.0
        )
        corr = 0.0
        if correct:
            corr = {"two.sided": float(np.sign(z)) * 0.5, "greater": 0.5, "less": -0.5}[alternative]
        if sigma == 0:
            warnings.warn(
                "all values are tied: the rank-sum test is undefined; p = 1 reported",
                SparseDataWarning,
                stacklevel=2,
            )
            p = 1.0
        else:
            zz = (z - corr) / sigma
            if alternative == "two.sided":
                p = 2 * min(stats.norm.cdf(zz), stats.norm.sf(zz))
            elif alternative == "greater":
                p = stats.norm.sf(zz)
            else:
                p = stats.norm.cdf(zz)
        method = "Wilcoxon rank sum test" + (" with continuity correction" if correct else "")
        used_correct = bool(correct)
    hl: dict = {}
    if conf_int:
        if not (isinstance(conf_level, float | int) and 0 < conf_level < 1):
            raise InputError(f"must be in (0, 1), got {conf_level!r}", column="conf_level")
        if use_exact:
            est, lo, hi, level = _hl_exact(xa, ya, alternative, float(conf_level))
            how = "exact: order statistics of the pairwise differences (qwilcox)"
        else:
            est, lo, hi, level = _hl_normal(
                xa, ya, alternative, float(conf_level), bool(correct), float(tol_root)
            )
            how = (
                "normal approximation"
                + (" with continuity correction" if correct else "")
                + f", inverted with R's uniroot (tol {tol_root:g})"
            )
        if level < conf_level:
            warnings.warn(
                f"requested conf.level not achievable; the interval has level {level:.4g}",
                SparseDataWarning,
                stacklevel=2,
            )
        hl = {"estimate": est, "lower": lo, "upper": hi, "conf_level": level, "ci_method": how}
    return MannWhitneyResult(
        **hl,
        statistic=w,
        p_value=float(min(p, 1.0)),
        alternative=alternative,
        exact=use_exact,
        correct=used_correct,
        n_x=nx,
        n_y=ny,
        median_x=float(np.median(xa)),
        median_y=float(np.median(ya)),
        ties=ties,
        method=method,
    )


# --------------------------------------------------------------------------------------------
# Kruskal-Wallis
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class KruskalResult(Result):
    """Kruskal-Wallis rank-sum test of k groups."""

    statistic: float
    df: int
    p_value: float
    groups: tuple
    n: np.ndarray
    mean_rank: np.ndarray
    method: str


def kruskal_wallis(values: object, groups: object) -> KruskalResult:
    """Kruskal-Wallis rank-sum test, as R's ``kruskal.test(values, groups)``.

    Parameters
    ----------
    values : array_like
        Observations (no missing values).
    groups : array_like
        Group label of each observation; at least 2 distinct groups.

    Returns
    -------
    KruskalResult
        Tie-corrected statistic with k - 1 df; groups in sorted order.

    References
    ----------
    Kruskal WH, Wallis WA. Use of ranks in one-criterion variance analysis. JASA
    1952;47:583-621. R: ``kruskal.test(x, g)``.
    """
    v = _values(values, "values")
    g, labels = _group_labels(groups, v.size)
    k = len(labels)
    if k < 2:
        raise InputError("all observations are in the same group", column="groups")
    n = v.size
    r = stats.rankdata(v)
    sizes = np.array([np.sum(g == lab) for lab in labels], dtype=float)
    sums = np.array([r[g == lab].sum() for lab in labels])
    h = np.sum(sums**2 / sizes)
    nt = _tie_sizes(v)
    denom = 1 - np.sum(nt**3 - nt) / (n**3 - n)
    if denom == 0:
        raise InputError(
            "all values are tied; the Kruskal-Wallis test is undefined", column="values"
        )
    stat = float((12 * h / (n * (n + 1)) - 3 * (n + 1)) / denom)
    return KruskalResult(
        statistic=stat,
        df=k - 1,
        p_value=float(stats.chi2.sf(stat, k - 1)),
        groups=tuple(labels),
        n=sizes.astype(np.int64),
        mean_rank=sums / sizes,
        method="Kruskal-Wallis rank sum test",
    )


# --------------------------------------------------------------------------------------------
# Median / IQR
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MedianIQR(Result):
    """Median, quartiles (R ``quantile`` type 7), IQR and range of one sample."""

    group: object
    n: int
    n_missing: int
    median: float
    q1: float
    q3: float
    iqr: float
    min: float
    max: float
    mean: float
    sd: float


def median_iqr(x: object, *, group: object = None) -> MedianIQR:
    """Median and interquartile range, as R's ``quantile(x, c(.25, .5, .75))`` (type 7).

    Missing values (NaN) are counted in ``n_missing`` and left out. With no non-missing
    value the statistics are NaN and a :class:`SparseDataWarning` is issued.

    References
    ----------
    Hyndman RJ, Fan Y. Sample quantiles in statistical packages. Am Stat 1996;50:361-365
    (definition 7, R's default).
    """
    try:
        a = np.asarray(x, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"must be numeric: {exc}", column="x") from exc
    miss = np.isnan(a)
    v = a[~miss]
    if np.any(np.isinf(v)):
        raise InputError("contains infinite values", column="x")
    if v.size == 0:
        warnings.warn("no non-missing values: summary undefined", SparseDataWarning, stacklevel=2)
        nan = float("nan")
        return MedianIQR(group, 0, int(miss.sum()), nan, nan, nan, nan, nan, nan, nan, nan)
    q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75], method="linear")
    return MedianIQR(
        group=group,
        n=int(v.size),
        n_missing=int(miss.sum()),
        median=float(med),
        q1=float(q1),
        q3=float(q3),
        iqr=float(q3 - q1),
        min=float(v.min()),
        max=float(v.max()),
        mean=float(v.mean()),
        sd=float(v.std(ddof=1)) if v.size > 1 else float("nan"),
    )


def median_iqr_by_group(x: object, groups: object) -> tuple[MedianIQR, ...]:
    """:func:`median_iqr` per group (groups in sorted order; missing labels are an error).

    References
    ----------
    Hyndman RJ, Fan Y. Am Stat 1996;50:361-365 (definition 7).
    """
    try:
        a = np.asarray(x, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"must be numeric: {exc}", column="x") from exc
    g, labels = _group_labels(groups, a.size)
    return tuple(median_iqr(a[g == lab], group=lab) for lab in labels)
