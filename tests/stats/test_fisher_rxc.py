"""Fisher's exact test on r x c tables against R (tests/data/reference/fisher_rxc.json).

The references were made by ``make_reference2.R``; each case stores its R call.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import gammaln

from cartlens.errors import InputError
from cartlens.stats._fexact import FEXACT_TOL, fisher_exact_rxc
from cartlens.stats.tables import fisher_test
from conftest import load_reference

REF = load_reference("fisher_rxc")["tables"]
CASES = list(REF.items())
IDS = [k for k, _ in CASES]


@pytest.mark.parametrize(("key", "case"), CASES, ids=IDS)
def test_exact_p_matches_r(key, case):
    """R: ``fisher.test(tab)$p.value`` (FEXACT)."""
    r = fisher_test(case["table"])
    assert r.p_value == pytest.approx(case["exact"]["p"], rel=1e-9)
    assert r.odds_ratio is None and r.lower is None and r.upper is None
    assert not r.simulated and r.B is None and r.seed is None
    assert r.method == case["exact"]["method"]


@pytest.mark.parametrize(("key", "case"), CASES, ids=IDS)
def test_simulated_p_within_monte_carlo_error_of_exact_and_of_r(key, case):
    """R: ``set.seed(20261204); fisher.test(tab, simulate.p.value = TRUE, B = 20000)``.

    R's random stream cannot be reproduced; both simulated p-values must lie within 4
    Monte Carlo standard errors (plus the 1/(B+1) offset) of the exact p-value."""
    exact = case["exact"]["p"]
    tab = np.asarray(case["table"])
    kept = tab[tab.sum(axis=1) > 0][:, tab.sum(axis=0) > 0]
    B = 20000
    r = fisher_test(tab, simulate_p_value=True, B=B, seed=11)
    assert r.simulated and r.B == B and r.seed == 11
    assert "simulated p-value (based on 20000 replicates)" in r.method
    se = math.sqrt(max(exact * (1 - exact), 1e-12) / B)
    for p in (r.p_value, case["simulated"]["p"]):
        assert abs(p - exact) <= 4 * se + 2 / (B + 1), (p, exact, kept.shape)


def test_simulation_is_reproducible_from_the_recorded_seed():
    tab = REF["grade_by_product_3x6"]["table"]
    a = fisher_test(tab, simulate_p_value=True, B=500, seed=3)
    b = fisher_test(tab, simulate_p_value=True, B=500, seed=3)
    assert a.p_value == b.p_value
    drawn = fisher_test(tab, simulate_p_value=True, B=500)
    again = fisher_test(tab, simulate_p_value=True, B=500, seed=drawn.seed)
    assert isinstance(drawn.seed, int) and again.p_value == drawn.p_value
    # p is (1 + count) / (B + 1)
    assert (a.p_value * 501) == pytest.approx(round(a.p_value * 501))


def _brute_force_p(tab: np.ndarray) -> float:
    """Enumerate every table with the margins of ``tab`` (tiny tables only)."""
    rows, cols = tab.sum(axis=1), tab.sum(axis=0)
    n = int(tab.sum())
    lf = gammaln(np.arange(n + 2) + 1.0)
    c0 = lf[rows].sum() + lf[cols].sum() - lf[n]
    obs = -lf[tab].sum()

    def fill(j, left):
        if j == cols.size - 1:
            yield [left]
            return
        ranges = [range(0, min(int(r), int(cols[j])) + 1) for r in left]
        for x in itertools.product(*ranges):
            if sum(x) == cols[j]:
                for rest in fill(j + 1, [a - b for a, b in zip(left, x, strict=True)]):
                    yield [list(x), *rest]

    p = 0.0
    for t in fill(0, [int(r) for r in rows]):
        v = -lf[np.array(t).T].sum()
        if v <= obs + FEXACT_TOL:
            p += math.exp(c0 + v)
    return p


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 3).flatmap(
        lambda r: st.integers(2, 4).flatmap(
            lambda c: st.lists(
                st.lists(st.integers(0, 4), min_size=c, max_size=c), min_size=r, max_size=r
            )
        )
    )
)
def test_exact_p_equals_full_enumeration(cells):
    tab = np.array(cells)
    if tab.sum() == 0:
        return
    assert fisher_exact_rxc(tab) == pytest.approx(min(1.0, _brute_force_p(tab)), rel=1e-9)


def test_p_is_invariant_to_transposing_and_permuting():
    tab = np.array(REF["grade_by_product_3x6"]["table"])
    p = fisher_test(tab).p_value
    assert fisher_test(tab.T).p_value == pytest.approx(p, rel=1e-12)
    assert fisher_test(tab[[2, 0, 1]][:, [5, 3, 1, 0, 2, 4]]).p_value == pytest.approx(p, rel=1e-12)


def test_two_by_two_is_always_exact_as_in_r():
    r = fisher_test([[3, 1], [1, 3]], simulate_p_value=True, seed=1)
    assert not r.simulated and r.odds_ratio is not None
    assert r.p_value == pytest.approx(fisher_test([[3, 1], [1, 3]]).p_value, rel=1e-15)


def test_bad_requests_name_the_option():
    with pytest.raises(InputError, match="alternative.*only for 2 x 2"):
        fisher_test([[1, 2, 3], [3, 2, 1]], alternative="less")
    with pytest.raises(InputError, match="'B'"):
        fisher_test([[1, 2, 3], [3, 2, 1]], simulate_p_value=True, B=0)
    with pytest.raises(InputError, match="'seed'"):
        fisher_test([[1, 2, 3], [3, 2, 1]], simulate_p_value=True, seed=-1)
    with pytest.raises(InputError, match="non-zero row and column margins"):
        fisher_test([[1, 2, 3], [0, 0, 0]], simulate_p_value=True, seed=1)


def test_a_table_too_large_for_the_network_says_to_simulate():
    big = np.array([[5, 2, 3, 1, 0], [1, 6, 2, 3, 2], [2, 1, 7, 2, 3], [3, 3, 1, 8, 1]] * 2)
    with pytest.raises(InputError, match="simulate"):
        fisher_exact_rxc(big)
    r = fisher_test(big, simulate_p_value=True, B=200, seed=1)
    assert 0 < r.p_value <= 1
