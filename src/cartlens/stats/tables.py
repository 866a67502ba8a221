"""Contingency-table tests as R's ``stats`` package computes them.

* :func:`chisq_test` - Pearson's chi-square (``chisq.test``), Yates-corrected on 2 x 2 tables.
* :func:`fisher_test` - Fisher's exact test (``fisher.test``): on a 2 x 2 table with the
  conditional maximum-likelihood odds ratio, its exact interval and one-sided alternatives;
  on an r x c table the exact p-value (network algorithm) or a seeded Monte Carlo one.
* :func:`prop_test_two` - the two-sample ``prop.test``: chi-square and Wald interval of p1 - p2.
* :func:`k_by_2_test` - k groups x (event, no event): chi-square and the Cochran-Armitage
  trend test (``prop.test`` / ``prop.trend.test``).
* :func:`mcnemar_test` - McNemar's test for paired binary data (``mcnemar.test``) and its
  exact binomial version (``binom.test(b, b + c)``).
* :func:`compare_proportions` - x1/n1 vs x2/n2, choosing chi-square or Fisher by the smallest
  expected count, and recording which test was used and why.

Tables are laid out as R's ``matrix(c(x1, n1 - x1, x2, n2 - x2), nrow = 2, byrow = TRUE)``:
rows are groups, columns are (event, no event).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
from scipy import optimize, stats

from cartlens.errors import InputError, PairedDataWarning, SparseDataWarning
from cartlens.results import Result
from cartlens.stats.proportions import (
    ProportionCI,
    _check_level,
    binom_ci,
    binom_test_p,
    check_count,
    clopper_pearson,
)

#: Expected-count threshold below which R warns and :func:`compare_proportions` uses Fisher.
MIN_EXPECTED = 5.0
_ALTERNATIVES = ("two.sided", "less", "greater")


def _as_table(table: object, name: str = "table") -> np.ndarray:
    """Validate a table of non-negative whole counts; return it as a float array."""
    try:
        arr = np.asarray(table, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"must be a table of counts: {exc}", column=name) from exc
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 2:
        raise InputError(
            f"must be a 2-D table with at least 2 rows and 2 columns, got shape {arr.shape}",
            column=name,
        )
    if not np.all(np.isfinite(arr)):
        raise InputError("contains a missing or infinite count", column=name)
    if np.any(arr < 0):
        raise InputError("contains a negative count", column=name)
    if np.any(arr != np.round(arr)):
        raise InputError("contains a count that is not a whole number", column=name)
    if arr.sum() == 0:
        raise InputError("is empty (all counts are 0)", column=name)
    return arr


def _check_alternative(alternative: str) -> str:
    if alternative not in _ALTERNATIVES:
        raise InputError(
            f"must be one of {', '.join(_ALTERNATIVES)}, got {alternative!r}", column="alternative"
        )
    return alternative


# --------------------------------------------------------------------------------------------
# Pearson chi-square
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ChisqResult(Result):
    """Pearson's chi-square test of independence (``chisq.test``)."""

    table: np.ndarray
    statistic: float
    df: int
    p_value: float
    expected: np.ndarray
    residuals: np.ndarray
    correct: bool
    method: str
    min_expected: float
    sparse: bool
    n: int


def chisq_test(table: object, *, correct: bool = True) -> ChisqResult:
    """Pearson's chi-square test of independence for an r x c table, as ``chisq.test``.

    Parameters
    ----------
    table : array_like
        r x c table of counts (rows = groups).
    correct : bool
        Yates' continuity correction, applied (as in R) only to 2 x 2 tables:
        each |O - E| is reduced by ``min(0.5, |O - E|)``.

    Returns
    -------
    ChisqResult
        ``residuals`` are the Pearson residuals (O - E) / sqrt(E).

    Warns
    -----
    SparseDataWarning
        When an expected count is below 5 (R: "Chi-squared approximation may be incorrect").

    References
    ----------
    Pearson K (1900). Yates F. Contingency tables involving small numbers and the chi-square
    test. J R Stat Soc Suppl 1934;1:217-235. R: ``chisq.test(tab, correct = ...)``.
    """
    x = _as_table(table)
    n = x.sum()
    sr, sc = x.sum(axis=1), x.sum(axis=0)
    if np.any(sr == 0) or np.any(sc == 0):
        raise InputError(
            "has a row or column whose counts are all 0; the chi-square test is undefined",
            column="table",
        )
    e = np.outer(sr, sc) / n
    use_yates = bool(correct and x.shape == (2, 2))
    if use_yates:
        yates = min(0.5, float(np.min(np.abs(x - e))))
        method = "Pearson's Chi-squared test with Yates' continuity correction"
    else:
        yates = 0.0
        method = "Pearson's Chi-squared test"
    stat = float(np.sum((np.abs(x - e) - yates) ** 2 / e))
    df = (x.shape[0] - 1) * (x.shape[1] - 1)
    min_e = float(e.min())
    sparse = min_e < MIN_EXPECTED
    if sparse:
        warnings.warn(
            f"Chi-squared approximation may be incorrect: smallest expected count is "
            f"{min_e:.3g} (< {MIN_EXPECTED:g}); consider Fisher's exact test",
            SparseDataWarning,
            stacklevel=2,
        )
    return ChisqResult(
        table=x.astype(np.int64),
        statistic=stat,
        df=df,
        p_value=float(stats.chi2.sf(stat, df)),
        expected=e,
        residuals=(x - e) / np.sqrt(e),
        correct=use_yates,
        method=method,
        min_expected=min_e,
        sparse=sparse,
        n=int(n),
    )


# --------------------------------------------------------------------------------------------
# Fisher's exact test (2 x 2)
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FisherResult(Result):
    """Fisher's exact test; on a 2 x 2 table with the conditional MLE odds ratio.

    ``odds_ratio``, ``lower`` and ``upper`` are ``None`` for a table larger than 2 x 2 (R
    reports no estimate there either). ``simulated`` says whether ``p_value`` is a Monte Carlo
    p-value from ``B`` tables drawn with ``seed``.
    """

    table: np.ndarray
    p_value: float
    odds_ratio: float | None
    lower: float | None
    upper: float | None
    alternative: str
    conf_level: float
    method: str
    n: int
    simulated: bool
    B: int | None
    seed: int | None


class _NoncentralHypergeometric:
    """Fisher's noncentral hypergeometric distribution of cell [0, 0] given the margins."""

    def __init__(self, x: np.ndarray) -> None:
        self.m = int(x[:, 0].sum())
        self.n = int(x[:, 1].sum())
        self.k = int(x[0, :].sum())
        self.x = int(x[0, 0])
        self.lo = max(0, self.k - self.n)
        self.hi = min(self.k, self.m)
        self.support = np.arange(self.lo, self.hi + 1)
        self.logdc = stats.hypergeom.logpmf(self.support, self.m + self.n, self.m, self.k)

    def density(self, log_ncp: float) -> np.ndarray:
        d = self.logdc + log_ncp * self.support
        d = np.exp(d - d.max())
        return d / d.sum()

    def mean(self, log_ncp: float) -> float:
        return float(np.sum(self.support * self.density(log_ncp)))

    def cdf(self, log_ncp: float, upper_tail: bool = False) -> float:
        """P(X <= x) or, with ``upper_tail``, P(X >= x) at odds ratio exp(log_ncp)."""
        d = self.density(log_ncp)
        sel = self.support >= self.x if upper_tail else self.support <= self.x
        return float(d[sel].sum())

    def p_null(self, upper_tail: bool) -> float:
        if upper_tail:
            return float(stats.hypergeom.sf(self.x - 1, self.m + self.n, self.m, self.k))
        return float(stats.hypergeom.cdf(self.x, self.m + self.n, self.m, self.k))


def _solve_log(f, target: float) -> float:
    """Root of the monotone function ``f(t) = target`` in t = log(OR), solved to ~1e-14."""
    a, b = -1.0, 1.0
    fa, fb = f(a) - target, f(b) - target
    for _ in range(200):
        if fa * fb <= 0:
            break
        # widen on the side where the root must lie
        a, b = a * 2, b * 2
        fa, fb = f(a) - target, f(b) - target
    else:  # pragma: no cover - the support endpoints are handled before calling
        raise RuntimeError("could not bracket the odds-ratio root")
    return float(
        optimize.brentq(lambda t: f(t) - target, a, b, xtol=1e-14, rtol=1e-15, maxiter=500)
    )


def _fisher_mle(h: _NoncentralHypergeometric) -> float:
    if h.x == h.lo:
        return 0.0
    if h.x == h.hi:
        return math.inf
    return math.exp(_solve_log(h.mean, float(h.x)))


def _fisher_upper(h: _NoncentralHypergeometric, alpha: float) -> float:
    if h.x == h.hi:
        return math.inf
    return math.exp(_solve_log(lambda t: h.cdf(t), alpha))


def _fisher_lower(h: _NoncentralHypergeometric, alpha: float) -> float:
    if h.x == h.lo:
        return 0.0
    return math.exp(_solve_log(lambda t: h.cdf(t, upper_tail=True), alpha))


def fisher_test(
    table: object,
    *,
    alternative: str = "two.sided",
    conf_level: float = 0.95,
    simulate_p_value: bool = False,
    B: int = 2000,
    seed: int | None = None,
) -> FisherResult:
    """Fisher's exact test for an r x c table, as R's ``fisher.test``.

    Parameters
    ----------
    table : array_like
        r x c table of counts (rows = groups; for 2 x 2, columns = event / no event).
    alternative : {"two.sided", "less", "greater"}
        For the p-value and interval of a 2 x 2 table; "less" means odds ratio < 1. Larger
        tables have only the two-sided test (a one-sided request is an error; R ignores it).
    conf_level : float
        Confidence level of the exact interval (2 x 2).
    simulate_p_value : bool
        Monte Carlo p-value for a table larger than 2 x 2, as ``simulate.p.value = TRUE``:
        ``(1 + #{simulated tables at most as probable as the observed}) / (B + 1)`` over ``B``
        tables drawn with the observed margins. As in R, a 2 x 2 table always gets the exact
        p-value (``simulated`` is then ``False``).
    B : int
        Number of simulated tables (R's default 2000).
    seed : int, optional
        Seed of the simulation (numpy's PCG64). Without one a seed is drawn and recorded in
        the result, so every simulated p-value can be reproduced. R's random stream cannot be
        reproduced, so a simulated p-value agrees with R's only within Monte Carlo error
        (its standard error is about ``sqrt(p (1 - p) / B)``).

    Returns
    -------
    FisherResult
        2 x 2: ``p_value`` (two-sided: the sum of the table probabilities
        <= P(observed) * (1 + 1e-7), R's rule); ``odds_ratio`` is the conditional
        maximum-likelihood estimate, and ``lower``/``upper`` its exact (Cornfield) interval
        (one-sided for a one-sided alternative: [0, upper] or [lower, Inf]). R solves these
        with ``uniroot`` at its default tolerance, partly on a 1/OR scale, so R's printed
        estimate and limits are accurate only to about 1e-6..1e-2 relative; here they are
        solved on the log(OR) scale to ~1e-14 (they agree with
        ``scipy.stats.contingency.odds_ratio(kind="conditional")``).
        r x c: the exact p-value sums the probabilities of the tables with
        log P <= log P(observed) + 3.45254e-7, the tolerance of R's FEXACT; it is computed by
        a network algorithm (see :mod:`cartlens.stats._fexact`) whose work grows with the
        number of distinct partial tables, not with the number of tables. A table too large
        for it is an :class:`~cartlens.errors.InputError` that says to simulate.

    References
    ----------
    Fisher RA. The logic of inductive inference. J R Stat Soc 1935;98:39-82.
    Cornfield J. A statistical problem arising from retrospective studies. Proc Third
    Berkeley Symp 1956;4:135-148. Agresti A. Categorical Data Analysis, 3rd ed, 2013,
    sec 3.5 and 16.6. Mehta CR, Patel NR. A network algorithm for performing Fisher's exact
    test in r x c contingency tables. J Am Stat Assoc 1983;78:427-434.
    R: ``fisher.test(tab, alternative = ...)``, ``fisher.test(tab, simulate.p.value = TRUE,
    B = ...)``.
    """
    from cartlens.stats import _fexact

    x = _as_table(table)
    alternative = _check_alternative(alternative)
    conf_level = _check_level(conf_level)
    if x.shape != (2, 2):
        if alternative != "two.sided":
            raise InputError(
                f"a one-sided alternative is defined only for 2 x 2 tables; this table is "
                f"{x.shape[0]} x {x.shape[1]}",
                column="alternative",
            )
        method = "Fisher's Exact Test for Count Data"
        if simulate_p_value:
            if isinstance(B, bool) or not isinstance(B, int | np.integer) or B < 1:
                raise InputError(f"must be a whole number >= 1, got {B!r}", column="B")
            if seed is None:
                seed = int(np.random.SeedSequence().entropy % (2**63))
            elif isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
                raise InputError(f"must be a whole number >= 0, got {seed!r}", column="seed")
            kept = x[x.sum(axis=1) > 0][:, x.sum(axis=0) > 0]
            if kept.shape[0] < 2 or kept.shape[1] < 2:
                raise InputError(
                    "needs 2 or more non-zero row and column margins to simulate",
                    column="table",
                )
            p, _ = _fexact.fisher_simulated(x, int(B), np.random.default_rng(int(seed)))
            method += f" with simulated p-value (based on {int(B)} replicates)"
        else:
            p = _fexact.fisher_exact_rxc(x)
        return FisherResult(
            table=x.astype(np.int64),
            p_value=float(p),
            odds_ratio=None,
            lower=None,
            upper=None,
            alternative=alternative,
            conf_level=conf_level,
            method=method,
            n=int(x.sum()),
            simulated=bool(simulate_p_value),
            B=int(B) if simulate_p_value else None,
            seed=int(seed) if simulate_p_value else None,
        )
    h = _NoncentralHypergeometric(x)
    if alternative == "less":
        p = h.p_null(upper_tail=False)
        lower, upper = 0.0, _fisher_upper(h, 1 - conf_level)
    elif alternative == "greater":
        p = h.p_null(upper_tail=True)
        lower, upper = _fisher_lower(h, 1 - conf_level), math.inf
    else:
        d = h.density(0.0)
        p = float(np.sum(d[d <= d[h.x - h.lo] * (1 + 1e-7)]))
        alpha = (1 - conf_level) / 2
        lower, upper = _fisher_lower(h, alpha), _fisher_upper(h, alpha)
    return FisherResult(
        table=x.astype(np.int64),
        p_value=min(1.0, p),
        odds_ratio=_fisher_mle(h),
        lower=lower,
        upper=upper,
        alternative=alternative,
        conf_level=conf_level,
        method="Fisher's Exact Test for Count Data",
        n=int(x.sum()),
        simulated=False,
        B=None,
        seed=None,
    )


# --------------------------------------------------------------------------------------------
# Two-sample proportions (prop.test) and k x 2 tables
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PropTestResult(Result):
    """Two-sample test for equality of proportions with the Wald CI of p1 - p2."""

    x: tuple[int, int]
    n: tuple[int, int]
    p1: float
    p2: float
    difference: float
    lower: float
    upper: float
    statistic: float
    df: int
    p_value: float
    correct: bool
    conf_level: float
    method: str


def prop_test_two(
    x1: int, n1: int, x2: int, n2: int, *, correct: bool = True, conf_level: float = 0.95
) -> PropTestResult:
    """Two-sample ``prop.test``: chi-square (pooled p) and the Wald interval for p1 - p2.

    With ``correct=True``, the statistic uses Yates' correction and each side of the interval
    is widened by ``min(0.5, |p1 - p2| / (1/n1 + 1/n2)) * (1/n1 + 1/n2)``; the interval is
    clipped to [-1, 1], as in R.

    References
    ----------
    Newcombe RG. Interval estimation for the difference between independent proportions:
    comparison of eleven methods. Stat Med 1998;17:873-890 (method 1 and 2).
    R: ``prop.test(c(x1, x2), c(n1, n2), correct = ...)``.
    """
    x1, n1 = check_count(x1, n1, x_name="x1", n_name="n1")
    x2, n2 = check_count(x2, n2, x_name="x2", n_name="n2")
    conf_level = _check_level(conf_level)
    x = np.array([x1, x2], dtype=float)
    n = np.array([n1, n2], dtype=float)
    est = x / n
    delta = float(est[0] - est[1])
    inv = float(np.sum(1 / n))
    yates = min(0.5, abs(delta) / inv) if correct else 0.0
    z = float(stats.norm.ppf((1 + conf_level) / 2))
    width = z * math.sqrt(float(np.sum(est * (1 - est) / n))) + yates * inv
    p = x.sum() / n.sum()
    if p in (0.0, 1.0):
        raise InputError(
            "all observations are events (or none are); the chi-square test is undefined",
            column="x1",
        )
    obs = np.column_stack([x, n - x])
    e = np.column_stack([n * p, n * (1 - p)])
    stat = float(np.sum((np.abs(obs - e) - yates) ** 2 / e))
    if e.min() < MIN_EXPECTED:
        warnings.warn(
            f"Chi-squared approximation may be incorrect: smallest expected count is "
            f"{e.min():.3g} (< {MIN_EXPECTED:g})",
            SparseDataWarning,
            stacklevel=2,
        )
    return PropTestResult(
        x=(x1, x2),
        n=(n1, n2),
        p1=float(est[0]),
        p2=float(est[1]),
        difference=delta,
        lower=max(delta - width, -1.0),
        upper=min(delta + width, 1.0),
        statistic=stat,
        df=1,
        p_value=float(stats.chi2.sf(stat, 1)),
        correct=bool(correct),
        conf_level=conf_level,
        method="2-sample test for equality of proportions "
        + ("with" if correct else "without")
        + " continuity correction",
    )


@dataclasses.dataclass(frozen=True)
class KBy2Result(Result):
    """k groups x (event, no event): chi-square of homogeneity and trend test."""

    groups: tuple
    x: np.ndarray
    n: np.ndarray
    proportions: np.ndarray
    statistic: float
    df: int
    p_value: float
    scores: np.ndarray
    trend_statistic: float
    trend_p_value: float
    min_expected: float
    method: str


def k_by_2_test(
    x: object, n: object, *, groups: object = None, scores: object = None
) -> KBy2Result:
    """Test equality of k proportions and a linear trend across them.

    Parameters
    ----------
    x, n : array_like
        Events and totals per group (k >= 2).
    groups : sequence, optional
        Group labels (default 1..k).
    scores : array_like, optional
        Group scores for the trend test (default 1..k, as R).

    Returns
    -------
    KBy2Result
        ``statistic``/``df``/``p_value``: Pearson chi-square with k - 1 df (``prop.test(x, n)``
        without continuity correction, i.e. ``chisq.test(cbind(x, n - x), correct = FALSE)``);
        ``trend_*``: Cochran-Armitage chi-square with 1 df (``prop.trend.test(x, n, score)``).

    Warns
    -----
    SparseDataWarning
        When an expected count is below 5.

    References
    ----------
    Cochran WG. Some methods for strengthening the common chi-square tests. Biometrics
    1954;10:417-451. Armitage P. Tests for linear trends in proportions and frequencies.
    Biometrics 1955;11:375-386. R: ``prop.test(x, n)``, ``prop.trend.test(x, n)``.
    """
    xa = np.asarray(x, dtype=float).ravel()
    na = np.asarray(n, dtype=float).ravel()
    if xa.size != na.size:
        raise InputError(f"has {xa.size} entries but n has {na.size}", column="x")
    if xa.size < 2:
        raise InputError("needs at least 2 groups", column="x")
    for i, (xi, ni) in enumerate(zip(xa, na)):
        check_count(xi, ni, x_name=f"x[{i}]", n_name=f"n[{i}]")
    labels = tuple(range(1, xa.size + 1)) if groups is None else tuple(groups)
    if len(labels) != xa.size:
        raise InputError(f"has {len(labels)} labels for {xa.size} groups", column="groups")
    sc = np.arange(1, xa.size + 1, dtype=float) if scores is None else np.asarray(scores, float)
    if sc.size != xa.size or not np.all(np.isfinite(sc)):
        raise InputError(f"needs {xa.size} finite scores", column="scores")
    p = xa.sum() / na.sum()
    if p in (0.0, 1.0):
        raise InputError(
            "all observations are events (or none are); tests are undefined", column="x"
        )
    obs = np.column_stack([xa, na - xa])
    e = np.column_stack([na * p, na * (1 - p)])
    stat = float(np.sum((obs - e) ** 2 / e))
    df = xa.size - 1
    if e.min() < MIN_EXPECTED:
        warnings.warn(
            f"Chi-squared approximation may be incorrect: smallest expected count is "
            f"{e.min():.3g} (< {MIN_EXPECTED:g})",
            SparseDataWarning,
            stacklevel=2,
        )
    # Cochran-Armitage: regression sum of squares of the weighted fit freq ~ score
    freq = xa / na
    w = na / (p * (1 - p))
    sbar = np.sum(w * sc) / w.sum()
    fbar = np.sum(w * freq) / w.sum()
    sxx = np.sum(w * (sc - sbar) ** 2)
    if sxx == 0:
        raise InputError("must not all be equal", column="scores")
    trend = float(np.sum(w * (sc - sbar) * (freq - fbar)) ** 2 / sxx)
    return KBy2Result(
        groups=labels,
        x=xa.astype(np.int64),
        n=na.astype(np.int64),
        proportions=freq,
        statistic=stat,
        df=df,
        p_value=float(stats.chi2.sf(stat, df)),
        scores=sc,
        trend_statistic=trend,
        trend_p_value=float(stats.chi2.sf(trend, 1)),
        min_expected=float(e.min()),
        method=f"{xa.size}-sample test for equality of proportions without continuity "
        "correction; Chi-squared Test for Trend in Proportions",
    )


# --------------------------------------------------------------------------------------------
# McNemar
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class McNemarResult(Result):
    """McNemar's test for a paired 2 x 2 table (discordant counts b and c)."""

    table: np.ndarray
    b: int
    c: int
    statistic: float
    df: int
    p_value: float
    correct: bool
    exact: bool
    estimate: float
    lower: float
    upper: float
    conf_level: float
    method: str
    n_pairs: int


def mcnemar_test(
    table: object, *, correct: bool = True, exact: bool = False, conf_level: float = 0.95
) -> McNemarResult:
    """McNemar's test for paired binary data, as ``mcnemar.test`` / ``binom.test(b, b + c)``.

    Parameters
    ----------
    table : array_like
        Paired 2 x 2 table: rows = first measurement (+, -), columns = second (+, -);
        b = table[0, 1] and c = table[1, 0] are the discordant pairs.
    correct : bool
        Asymptotic test with continuity correction: (|b - c| - 1)^2 / (b + c). As in R, the
        correction is not applied when b = c.
    exact : bool
        Exact conditional test: ``binom.test(b, b + c, 0.5)``. Then ``statistic`` is b,
        ``df`` is b + c, and ``estimate``/``lower``/``upper`` are b / (b + c) with its
        Clopper-Pearson interval.

    Returns
    -------
    McNemarResult
        For the asymptotic tests ``estimate`` is also b / (b + c) with its exact interval.

    Warns
    -----
    SparseDataWarning
        When there are no discordant pairs (the test is undefined; p = 1 is returned) or
        fewer than 10 of them for the asymptotic test (consider ``exact=True``).

    References
    ----------
    McNemar Q. Note on the sampling error of the difference between correlated proportions
    or percentages. Psychometrika 1947;12:153-157. R: ``mcnemar.test(tab, correct = ...)``.
    """
    x = _as_table(table)
    if x.shape != (2, 2):
        raise InputError(f"must be a paired 2 x 2 table, got shape {x.shape}", column="table")
    conf_level = _check_level(conf_level)
    b, c = int(x[0, 1]), int(x[1, 0])
    m = b + c
    if m == 0:
        warnings.warn(
            "no discordant pairs (b = c = 0): McNemar's test is undefined; p = 1 reported",
            SparseDataWarning,
            stacklevel=2,
        )
        return McNemarResult(
            table=x.astype(np.int64),
            b=b,
            c=c,
            statistic=math.nan if not exact else 0.0,
            df=0 if exact else 1,
            p_value=1.0,
            correct=bool(correct and not exact),
            exact=bool(exact),
            estimate=math.nan,
            lower=math.nan,
            upper=math.nan,
            conf_level=conf_level,
            method="Exact binomial test" if exact else "McNemar's Chi-squared test",
            n_pairs=int(x.sum()),
        )
    lower, upper = clopper_pearson(b, m, conf_level)
    if exact:
        stat, df, p = float(b), m, binom_test_p(b, m, 0.5)
        method = "Exact binomial test"
        use_correct = False
    else:
        use_correct = bool(correct and b != c)
        stat = ((abs(b - c) - 1) ** 2 if use_correct else (b - c) ** 2) / m
        df, p = 1, float(stats.chi2.sf(stat, 1))
        method = "McNemar's Chi-squared test" + (
            " with continuity correction" if use_correct else ""
        )
        if m < 10:
            warnings.warn(
                f"only {m} discordant pairs: the chi-square approximation may be poor; "
                "consider the exact test",
                SparseDataWarning,
                stacklevel=2,
            )
    return McNemarResult(
        table=x.astype(np.int64),
        b=b,
        c=c,
        statistic=float(stat),
        df=int(df),
        p_value=float(p),
        correct=use_correct,
        exact=bool(exact),
        estimate=b / m,
        lower=lower,
        upper=upper,
        conf_level=conf_level,
        method=method,
        n_pairs=int(x.sum()),
    )


def paired_table(first: object, second: object) -> np.ndarray:
    """2 x 2 paired table from two 0/1 arrays (rows: first 1/0, columns: second 1/0)."""
    a = np.asarray(first, dtype=float).ravel()
    s = np.asarray(second, dtype=float).ravel()
    if a.size != s.size:
        raise InputError(f"has {a.size} values but second has {s.size}", column="first")
    if a.size == 0:
        raise InputError("is empty", column="first")
    for arr, name in ((a, "first"), (s, "second")):
        bad = ~np.isin(arr, (0.0, 1.0))
        if bad.any():
            raise InputError(
                f"must be 0/1; value {arr[np.flatnonzero(bad)[0]]!r} found", column=name
            )
    return np.array(
        [
            [np.sum((a == 1) & (s == 1)), np.sum((a == 1) & (s == 0))],
            [np.sum((a == 0) & (s == 1)), np.sum((a == 0) & (s == 0))],
        ],
        dtype=np.int64,
    )


# --------------------------------------------------------------------------------------------
# compare_proportions
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ProportionComparison(Result):
    """x1/n1 vs x2/n2: the test chosen (and why), risk difference and odds ratio."""

    x1: int
    n1: int
    x2: int
    n2: int
    group1: ProportionCI
    group2: ProportionCI
    risk_difference: float
    rd_lower: float
    rd_upper: float
    odds_ratio: float
    or_lower: float
    or_upper: float
    test: str
    reason: str
    statistic: float | None
    df: int | None
    p_value: float
    min_expected: float
    expected: np.ndarray
    correct: bool
    conf_level: float
    rule: str
    overlapping: bool


def compare_proportions(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    *,
    correct: bool = True,
    conf_level: float = 0.95,
    overlapping: bool = False,
    force: str | None = None,
) -> ProportionComparison:
    """Compare two independent proportions, choosing the test by the expected counts.

    Rule: if any expected count of the 2 x 2 table is below 5 (the classical Cochran rule;
    it is also when R's ``chisq.test`` warns), Fisher's exact test is used; otherwise
    Pearson's chi-square (with Yates' correction unless ``correct=False``, R's default).
    The result records the test, the smallest expected count and the reason.

    Parameters
    ----------
    x1, n1, x2, n2 : int
        Events and totals of the two groups.
    correct : bool
        Yates' correction for the chi-square test and the risk-difference interval.
    conf_level : float
        Confidence level of every interval.
    overlapping : bool
        Set when the same patients can appear in both groups (e.g. two time points of one
        cohort). The groups are still analysed as independent, and a
        :class:`~cartlens.errors.PairedDataWarning` says so: use :func:`mcnemar_test` on the
        paired table instead.
    force : {"chisq", "fisher"}, optional
        Use this test whatever the expected counts (the reason says it was forced).

    Returns
    -------
    ProportionComparison
        Per-group Clopper-Pearson intervals; risk difference with the Wald interval of
        ``prop.test``; the conditional MLE odds ratio with the exact interval of
        ``fisher.test`` (reported for either test); the p-value of the chosen test.

    References
    ----------
    Cochran WG. Some methods for strengthening the common chi-square tests. Biometrics
    1954;10:417-451. Agresti A. Categorical Data Analysis, 3rd ed, 2013.
    """
    x1, n1 = check_count(x1, n1, x_name="x1", n_name="n1")
    x2, n2 = check_count(x2, n2, x_name="x2", n_name="n2")
    conf_level = _check_level(conf_level)
    if force not in (None, "chisq", "fisher"):
        raise InputError(f"must be 'chisq' or 'fisher', got {force!r}", column="force")
    if overlapping:
        warnings.warn(
            "the two groups share patients but are compared as independent samples; "
            "use a paired analysis (McNemar's test, `mcnemar_test`) on the paired table",
            PairedDataWarning,
            stacklevel=2,
        )
    tab = np.array([[x1, n1 - x1], [x2, n2 - x2]], dtype=float)
    sr, sc = tab.sum(axis=1), tab.sum(axis=0)
    e = np.outer(sr, sc) / tab.sum()
    min_e = float(e.min())
    fisher = fisher_test(tab, conf_level=conf_level)
    degenerate = bool(np.any(sc == 0))
    if force is not None:
        test = force
        reason = f"{force} test requested (smallest expected count {min_e:.3g})"
    elif degenerate:
        test = "fisher"
        reason = "all patients had the event (or none did): chi-square undefined, Fisher used"
    elif min_e < MIN_EXPECTED:
        test = "fisher"
        reason = (
            f"smallest expected count {min_e:.3g} < {MIN_EXPECTED:g}: Fisher's exact test "
            "instead of the chi-square approximation"
        )
    else:
        test = "chisq"
        reason = f"all expected counts >= {MIN_EXPECTED:g} (smallest {min_e:.3g}): chi-square test"
    if test == "chisq" and degenerate:
        raise InputError(
            "all patients had the event (or none did); the chi-square test is undefined",
            column="x1",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparseDataWarning)
        if not degenerate:
            pt = prop_test_two(x1, n1, x2, n2, correct=correct, conf_level=conf_level)
            rd_lower, rd_upper = pt.lower, pt.upper
        else:
            rd_lower = rd_upper = math.nan
        if test == "chisq":
            ch = chisq_test(tab, correct=correct)
            stat, df, p = ch.statistic, ch.df, ch.p_value
        else:
            stat, df, p = None, None, fisher.p_value
    if test == "chisq" and min_e < MIN_EXPECTED:  # only when forced
        warnings.warn(
            f"chi-square forced although the smallest expected count is {min_e:.3g} (< 5)",
            SparseDataWarning,
            stacklevel=2,
        )
    test_name = (
        "Fisher's exact test"
        if test == "fisher"
        else ("Pearson's chi-square test" + (" with Yates' correction" if correct else ""))
    )
    return ProportionComparison(
        x1=x1,
        n1=n1,
        x2=x2,
        n2=n2,
        group1=binom_ci(x1, n1, conf_level=conf_level),
        group2=binom_ci(x2, n2, conf_level=conf_level),
        risk_difference=x1 / n1 - x2 / n2,
        rd_lower=rd_lower,
        rd_upper=rd_upper,
        odds_ratio=fisher.odds_ratio,
        or_lower=fisher.lower,
        or_upper=fisher.upper,
        test=test_name,
        reason=reason,
        statistic=stat,
        df=df,
        p_value=p,
        min_expected=min_e,
        expected=e,
        correct=bool(correct and test == "chisq"),
        conf_level=conf_level,
        rule=f"Fisher's exact test if any expected count < {MIN_EXPECTED:g}, else chi-square",
        overlapping=bool(overlapping),
    )
