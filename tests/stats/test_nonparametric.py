"""Rank tests and median/IQR against R (``wilcox.test``, ``kruskal.test``, ``quantile``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cartlens.errors import InputError, SparseDataWarning
from cartlens.stats.nonparametric import kruskal_wallis, mann_whitney, median_iqr

REL = 1e-9

# R's ?wilcox.test example (Hollander & Wolfe), no ties
X_NT = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
Y_NT = [1.15, 0.88, 0.90, 0.74, 1.21]
# with ties
X_T = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
Y_T = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]


@pytest.mark.parametrize(
    ("alt", "p"),
    [("two.sided", 0.254412254412254), ("less", 0.896769896769897), ("greater", 0.127206127206127)],
)
def test_exact_small_samples(alt, p):
    """R: wilcox.test(x, y, alternative = alt) -> W = 35, "Wilcoxon rank sum exact test"."""
    r = mann_whitney(X_NT, Y_NT, alternative=alt)
    assert r.statistic == 35 and r.exact
    assert r.p_value == pytest.approx(p, rel=REL)
    assert r.method == "Wilcoxon rank sum exact test"


def test_normal_approximation_when_asked():
    """R: wilcox.test(x, y, exact = FALSE)$p.value = 0.244623605126983."""
    r = mann_whitney(X_NT, Y_NT, exact=False)
    assert r.p_value == pytest.approx(0.244623605126983, rel=REL)
    assert r.method == "Wilcoxon rank sum test with continuity correction"


@pytest.mark.parametrize(
    ("alt", "p"),
    [
        ("two.sided", 0.132919458185319),
        ("less", 0.944204400289713),
        ("greater", 0.0664597290926594),
    ],
)
def test_ties_use_normal_approximation(alt, p):
    """R: wilcox.test(x, y, alternative = alt) with ties -> W = 58, normal approximation
    with continuity and tie correction."""
    r = mann_whitney(X_T, Y_T, alternative=alt)
    assert r.statistic == 58 and not r.exact and r.ties
    assert r.p_value == pytest.approx(p, rel=REL)


def test_ties_without_continuity_correction():
    """R: wilcox.test(c(3,5,5,7,9,2,8), c(4,4,6,10,12,11), correct = FALSE):
    W = 13, p = 0.251791073070378; with correction p = 0.282650502137313."""
    a, b = [3, 5, 5, 7, 9, 2, 8], [4, 4, 6, 10, 12, 11]
    assert mann_whitney(a, b, correct=False).p_value == pytest.approx(0.251791073070378, rel=REL)
    assert mann_whitney(a, b).p_value == pytest.approx(0.282650502137313, rel=REL)
    with pytest.warns(SparseDataWarning, match="ties"):
        mann_whitney(a, b, exact=True)


def test_exact_larger_samples():
    """R: a <- sqrt(3 * (1:30)); b <- 1.3 * log(5 * (1:45)) + 2; wilcox.test(a, b):
    W = 436, p = 0.00930994857570606 (exact); alternative = "greater": 0.99549528920326."""
    a = np.sqrt(3 * np.arange(1, 31))
    b = 1.3 * np.log(5 * np.arange(1, 46)) + 2
    r = mann_whitney(a, b)
    assert r.statistic == 436 and r.exact
    assert r.p_value == pytest.approx(0.00930994857570606, rel=REL)
    assert mann_whitney(a, b, alternative="greater").p_value == pytest.approx(
        0.99549528920326, rel=REL
    )


def test_kruskal_matches_r():
    """R (?kruskal.test, Hollander & Wolfe): kruskal.test(list(x, y, z)):
    statistic 0.771428571428572, df 2, p 0.679964773578894."""
    values = [2.9, 3.0, 2.5, 2.6, 3.2, 3.8, 2.7, 4.0, 2.4, 2.8, 3.4, 3.7, 2.2, 2.0]
    groups = ["x"] * 5 + ["y"] * 4 + ["z"] * 5
    r = kruskal_wallis(values, groups)
    assert r.statistic == pytest.approx(0.771428571428572, rel=REL)
    assert r.df == 2 and r.p_value == pytest.approx(0.679964773578894, rel=REL)
    assert r.groups == ("x", "y", "z") and list(r.n) == [5, 4, 5]


def test_kruskal_with_ties_matches_r():
    """R: kruskal.test(c(1,2,2,3,3,3,4,5,5,6,6,7), c(1,1,1,2,2,2,2,3,3,3,3,3)):
    statistic 9.93548387096774, p 0.00695884382533828."""
    r = kruskal_wallis([1, 2, 2, 3, 3, 3, 4, 5, 5, 6, 6, 7], [1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3])
    assert r.statistic == pytest.approx(9.93548387096774, rel=REL)
    assert r.p_value == pytest.approx(0.00695884382533828, rel=REL)


def test_median_iqr_type7():
    """R: quantile(c(3,1,4,1,5,9,2,6), c(.25, .5, .75)) = 1.75, 3.50, 5.25."""
    r = median_iqr([3, 1, 4, 1, 5, 9, 2, 6, float("nan")])
    assert (r.q1, r.median, r.q3) == (1.75, 3.5, 5.25)
    assert r.iqr == 3.5 and r.n == 8 and r.n_missing == 1


def test_median_iqr_all_missing_warns():
    with pytest.warns(SparseDataWarning):
        r = median_iqr([float("nan")])
    assert r.n == 0 and np.isnan(r.median)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 20), min_size=1, max_size=25),
    st.lists(st.integers(0, 20), min_size=1, max_size=25),
)
def test_mann_whitney_agrees_with_scipy(x, y):
    """scipy's mannwhitneyu with method='asymptotic'/'exact' follows the same definitions."""
    if len(set(x + y)) == 1:
        return
    r = mann_whitney(x, y)
    method = "exact" if r.exact else "asymptotic"
    ref = stats.mannwhitneyu(x, y, alternative="two-sided", method=method, use_continuity=True)
    assert r.statistic == ref.statistic
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 3)), min_size=4, max_size=40))
def test_kruskal_agrees_with_scipy_and_is_order_invariant(rows):
    values = [v for v, _ in rows]
    groups = [g for _, g in rows]
    if len(set(groups)) < 2 or len(set(values)) < 2:
        return
    r = kruskal_wallis(values, groups)
    samples = [[v for v, g in rows if g == lab] for lab in sorted(set(groups))]
    assert r.statistic == pytest.approx(stats.kruskal(*samples).statistic, rel=1e-9)
    r2 = kruskal_wallis(values[::-1], groups[::-1])
    assert r2.statistic == pytest.approx(r.statistic, rel=1e-12)


def test_bad_input():
    with pytest.raises(InputError, match="'x'"):
        mann_whitney([], [1, 2])
    with pytest.raises(InputError, match="missing"):
        mann_whitney([1, float("nan")], [1, 2])
    with pytest.raises(InputError, match="same group"):
        kruskal_wallis([1, 2, 3], ["a", "a", "a"])
    with pytest.raises(InputError, match="labels"):
        kruskal_wallis([1, 2, 3], ["a", "b"])
    with pytest.raises(InputError, match="alternative"):
        mann_whitney([1], [2], alternative="both")


def test_median_iqr_by_group():
    """R: tapply(x, g, quantile): a -> 1.75 / 3.5 / 5.25 (as above), b -> 10 for all."""
    from cartlens.stats.nonparametric import median_iqr_by_group

    x = [3, 1, 4, 1, 5, 9, 2, 6, 10, 10]
    g = ["a"] * 8 + ["b"] * 2
    a, b = median_iqr_by_group(x, g)
    assert (a.group, a.q1, a.median, a.q3) == ("a", 1.75, 3.5, 5.25)
    assert (b.group, b.n, b.iqr) == ("b", 2, 0.0)
