"""Confidence intervals and one-sample tests for a binomial proportion, as R computes them.

* ``"clopper-pearson"``: the exact interval of ``binom.test(x, n)`` (beta quantiles), with the
  exact two-sided p-value against ``p0`` (sum of the probabilities <= P(x) * (1 + 1e-7)).
* ``"wilson"``: the score interval of ``prop.test(x, n, correct = FALSE)``, with its
  chi-square statistic against ``p0``.
* ``"wilson-cc"``: the continuity-corrected score interval of ``prop.test(x, n, correct = TRUE)``.
  As in R, the correction is ``min(0.5, |x - n p0|)``, so it depends on the null value ``p0``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np
from scipy import stats

from cartlens.errors import InputError
from cartlens.results import Result

METHODS = ("clopper-pearson", "wilson", "wilson-cc")


@dataclasses.dataclass(frozen=True)
class ProportionCI(Result):
    """A proportion ``x / n`` with its confidence interval and one-sample test against ``p0``.

    ``statistic`` is the chi-square statistic of ``prop.test`` for the Wilson methods and the
    number of successes ``x`` for the exact method (as ``binom.test`` reports it).
    """

    x: int
    n: int
    estimate: float
    lower: float
    upper: float
    method: str
    conf_level: float
    p0: float
    statistic: float
    p_value: float
    test: str


def check_count(x: object, n: object, *, x_name: str = "x", n_name: str = "n") -> tuple[int, int]:
    """Validate a count ``x`` out of ``n`` trials; return them as ints.

    Raises :class:`InputError` naming the field for non-integers, negatives, ``n = 0`` or
    ``x > n``.
    """
    out = []
    for value, name in ((x, x_name), (n, n_name)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InputError(f"must be a whole number, got {value!r}", column=name)
        f = float(value)
        if not math.isfinite(f) or f != round(f):
            raise InputError(f"must be a whole number, got {value!r}", column=name)
        if f < 0:
            raise InputError(f"must not be negative, got {value!r}", column=name)
        out.append(int(round(f)))
    xi, ni = out
    if ni == 0:
        raise InputError("must be at least 1 (no trials)", column=n_name)
    if xi > ni:
        raise InputError(f"{x_name} = {xi} exceeds {n_name} = {ni}", column=x_name)
    return xi, ni


def _check_level(conf_level: float) -> float:
    if not (0.0 < float(conf_level) < 1.0):
        raise InputError(
            f"must lie strictly between 0 and 1, got {conf_level!r}", column="conf_level"
        )
    return float(conf_level)


def binom_test_p(x: int, n: int, p0: float = 0.5, alternative: str = "two.sided") -> float:
    """Exact binomial test p-value as R's ``binom.test``.

    The two-sided p-value sums the probabilities of all outcomes no more likely than the
    observed one, with R's relative tolerance ``1 + 1e-7``.

    References
    ----------
    R Core Team. ``binom.test`` in package stats (src/library/stats/R/binom.test.R).
    """
    if alternative == "less":
        return float(stats.binom.cdf(x, n, p0))
    if alternative == "greater":
        return float(stats.binom.sf(x - 1, n, p0))
    if alternative != "two.sided":
        raise InputError(
            f"must be 'two.sided', 'less' or 'greater', got {alternative!r}", column="alternative"
        )
    if p0 == 0:
        return float(x == 0)
    if p0 == 1:
        return float(x == n)
    rel_err = 1 + 1e-7
    d = stats.binom.pmf(x, n, p0)
    m = n * p0
    if x == m:
        return 1.0
    if x < m:
        i = np.arange(math.ceil(m), n + 1)
        y = int(np.sum(stats.binom.pmf(i, n, p0) <= d * rel_err))
        pv = stats.binom.cdf(x, n, p0) + stats.binom.sf(n - y, n, p0)
    else:
        i = np.arange(0, math.floor(m) + 1)
        y = int(np.sum(stats.binom.pmf(i, n, p0) <= d * rel_err))
        pv = stats.binom.cdf(y - 1, n, p0) + stats.binom.sf(x - 1, n, p0)
    return float(min(1.0, pv))


def clopper_pearson(x: int, n: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson exact interval (``binom.test``): beta quantiles.

    References
    ----------
    Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the case
    of the binomial. Biometrika 1934;26:404-413.
    """
    alpha = 1 - conf_level
    lower = 0.0 if x == 0 else float(stats.beta.ppf(alpha / 2, x, n - x + 1))
    upper = 1.0 if x == n else float(stats.beta.ppf(1 - alpha / 2, x + 1, n - x))
    return lower, upper


def wilson(
    x: int, n: int, conf_level: float = 0.95, *, correct: bool = False, p0: float = 0.5
) -> tuple[float, float]:
    """Wilson score interval, optionally continuity-corrected, exactly as R's ``prop.test``.

    With ``correct=True`` the correction is ``min(0.5, |x - n p0|)`` (R's rule), applied on
    each side before the score formula; a limit beyond [0, 1] is clipped.

    References
    ----------
    Wilson EB. Probable inference, the law of succession, and statistical inference.
    JASA 1927;22:209-212. Newcombe RG. Two-sided confidence intervals for the single
    proportion: comparison of seven methods. Stat Med 1998;17:857-872.
    """
    z = float(stats.norm.ppf((1 + conf_level) / 2))
    yates = min(0.5, abs(x - n * p0)) if correct else 0.0
    est = x / n
    z22n = z * z / (2 * n)
    pc = est + yates / n
    if pc >= 1:
        upper = 1.0
    else:
        upper = (pc + z22n + z * math.sqrt(pc * (1 - pc) / n + z22n / (2 * n))) / (1 + 2 * z22n)
    pc = est - yates / n
    if pc <= 0:
        lower = 0.0
    else:
        lower = (pc + z22n - z * math.sqrt(pc * (1 - pc) / n + z22n / (2 * n))) / (1 + 2 * z22n)
    return float(lower), float(upper)


def prop_test_one(x: int, n: int, p0: float = 0.5, *, correct: bool = True) -> tuple[float, float]:
    """Chi-square statistic and p-value of R's one-sample ``prop.test(x, n, p0, correct)``."""
    yates = min(0.5, abs(x - n * p0)) if correct else 0.0
    obs = np.array([x, n - x], dtype=float)
    exp = np.array([n * p0, n * (1 - p0)])
    stat = float(np.sum((np.abs(obs - exp) - yates) ** 2 / exp))
    return stat, float(stats.chi2.sf(stat, 1))


def binom_ci(
    x: int,
    n: int,
    method: str = "clopper-pearson",
    *,
    conf_level: float = 0.95,
    p0: float = 0.5,
) -> ProportionCI:
    """Confidence interval for a proportion, with the matching one-sample test against ``p0``.

    Parameters
    ----------
    x, n : int
        Successes and trials (0 <= x <= n, n >= 1).
    method : {"clopper-pearson", "wilson", "wilson-cc"}
        ``binom.test``, ``prop.test(correct = FALSE)`` or ``prop.test(correct = TRUE)``.
    conf_level : float
        Confidence level (default 0.95).
    p0 : float
        Null proportion for the test (R's default 0.5); the continuity correction of
        ``"wilson-cc"`` depends on it as in R.

    Returns
    -------
    ProportionCI

    References
    ----------
    Clopper & Pearson (1934); Wilson (1927); Newcombe RG, Stat Med 1998;17:857-872.
    R: ``binom.test(x, n)``, ``prop.test(x, n, correct = ...)``.
    """
    x, n = check_count(x, n)
    conf_level = _check_level(conf_level)
    if not (0.0 < float(p0) < 1.0):
        raise InputError(f"must lie strictly between 0 and 1, got {p0!r}", column="p0")
    if method == "clopper-pearson":
        lower, upper = clopper_pearson(x, n, conf_level)
        stat, p = float(x), binom_test_p(x, n, p0)
        test = "Exact binomial test"
    elif method in ("wilson", "wilson-cc"):
        correct = method == "wilson-cc"
        lower, upper = wilson(x, n, conf_level, correct=correct, p0=p0)
        stat, p = prop_test_one(x, n, p0, correct=correct)
        test = "1-sample proportions test " + (
            "with continuity correction" if correct else "without continuity correction"
        )
    else:
        raise InputError(f"must be one of {', '.join(METHODS)}, got {method!r}", column="method")
    return ProportionCI(
        x=x,
        n=n,
        estimate=x / n,
        lower=lower,
        upper=upper,
        method=method,
        conf_level=conf_level,
        p0=float(p0),
        statistic=stat,
        p_value=p,
        test=test,
    )
