"""Rank tests and robust summaries, as R's ``wilcox.test``, ``kruskal.test`` and ``quantile``.

* :func:`mann_whitney` - Wilcoxon rank-sum / Mann-Whitney test of two samples: exact
  p-value for small samples without ties, otherwise the normal approximation with tie
  correction and continuity correction (R's defaults).
* :func:`kruskal_wallis` - Kruskal-Wallis rank-sum test of k samples with tie correction.
* :func:`median_iqr` - median, quartiles (R's default ``quantile`` type 7), range.
"""

from __future__ import annotations

import dataclasses
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


def mann_whitney(
    x: object,
    y: object,
    *,
    alternative: str = "two.sided",
    exact: bool | None = None,
    correct: bool = True,
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

    Returns
    -------
    MannWhitneyResult
        ``statistic`` W = sum of the ranks of x - n_x (n_x + 1) / 2.

    References
    ----------
    Mann HB, Whitney DR. On a test of whether one of two random variables is stochastically
    larger than the other. Ann Math Stat 1947;18:50-60. Hollander M, Wolfe DA. Nonparametric
    Statistical Methods, 2nd ed, 1999. R: ``wilcox.test(x, y)``.
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
    return MannWhitneyResult(
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
