"""Contingency-table tests against R (tests/data/reference/tests2x2.json) and hand values."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import contingency, fisher_exact

from cartlens.errors import InputError, PairedDataWarning, SparseDataWarning
from cartlens.stats.tables import (
    chisq_test,
    compare_proportions,
    fisher_test,
    k_by_2_test,
    mcnemar_test,
    paired_table,
    prop_test_two,
)
from conftest import load_reference

REF = load_reference("tests2x2")
CASES = list(REF["two_by_two"].items())
IDS = [k for k, _ in CASES]
REL = 1e-9  # closed-form values: R writes 15 significant digits
REL_PRECISE = 1e-8  # fisher_precise was solved with uniroot tol = 1e-13 on log(OR)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparseDataWarning)
        return fn(*args, **kw)


@pytest.mark.parametrize(("key", "case"), CASES, ids=IDS)
@pytest.mark.parametrize("alt", ["two_sided", "less", "greater"])
def test_fisher_p_value_matches_r(key, case, alt):
    """R: ``fisher.test(tab, alternative = alt)$p.value``."""
    r = fisher_test(case["table"], alternative=alt.replace("_", "."))
    assert r.p_value == pytest.approx(case[f"fisher_{alt}"]["p"], rel=REL)


@pytest.mark.parametrize(("key", "case"), CASES, ids=IDS)
@pytest.mark.parametrize("alt", ["two_sided", "less", "greater"])
def test_fisher_odds_ratio_and_ci_match_precise_solution(key, case, alt):
    """R: ``fisher.test(tab)``'s conditional MLE and exact CI, re-solved on the log(OR) scale
    with tol = 1e-13 (``fisher_precise``); R's own uniroot values agree to <= 1e-2."""
    r = fisher_test(case["table"], alternative=alt.replace("_", "."))
    precise = case["fisher_precise"]
    lo, hi = precise[f"conf_int_{alt}"]
    assert r.odds_ratio == pytest.approx(precise["estimate"], rel=REL_PRECISE)
    assert r.lower == pytest.approx(lo, rel=REL_PRECISE)
    if hi is None:
        assert r.upper == math.inf
    else:
        assert r.upper == pytest.approx(hi, rel=REL_PRECISE)
    # R's uniroot-level values (documented to be accurate to ~1e-6 .. 1e-2 only)
    loose = case[f"fisher_{alt}"]
    assert r.odds_ratio == pytest.approx(loose["estimate"], rel=1e-2)
    assert r.lower == pytest.approx(loose["conf_int"][0], rel=1e-2)
    if loose["conf_int"][1] is not None:
        assert r.upper == pytest.approx(loose["conf_int"][1], rel=1e-2)


@pytest.mark.parametrize(("key", "case"), CASES, ids=IDS)
@pytest.mark.parametrize(("correct", "name"), [(False, "chisq_uncorrected"), (True, "chisq_yates")])
def test_chisq_matches_r(key, case, correct, name):
    """R: ``chisq.test(tab, correct = FALSE / TRUE)``: statistic, df, p, expected, warning."""
    exp = case[name]
    sparse = bool(exp["warnings"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = chisq_test(case["table"], correct=correct)
    assert r.statistic == pytest.approx(exp["statistic"], rel=REL)
    assert r.df == exp["parameter"]
    assert r.p_value == pytest.approx(exp["p"], rel=REL)
    assert r.method == exp["method"]
    if "expected" in exp:
        np.testing.assert_allclose(r.expected, np.array(exp["expected"]), rtol=REL)
    assert r.sparse is sparse
    assert any(issubclass(w.category, SparseDataWarning) for w in caught) is sparse


@pytest.mark.parametrize(("key", "case"), CASES, ids=IDS)
@pytest.mark.parametrize(
    ("correct", "name"),
    [(False, "prop_test_two_sample_uncorrected"), (True, "prop_test_two_sample_yates")],
)
def test_prop_test_two_sample_matches_r(key, case, correct, name):
    """R: ``prop.test(c(x1, x2), c(n1, n2), correct = ...)``: statistic, p, Wald CI of p1 - p2."""
    g1, g2 = case["group1"], case["group2"]
    exp = case[name]
    r = _quiet(prop_test_two, g1["x"], g1["n"], g2["x"], g2["n"], correct=correct)
    assert r.statistic == pytest.approx(exp["statistic"], rel=REL)
    assert r.p_value == pytest.approx(exp["p"], rel=REL)
    assert r.p1 == pytest.approx(exp["estimate"]["prop 1"], rel=REL)
    assert r.p2 == pytest.approx(exp["estimate"]["prop 2"], rel=REL)
    assert r.lower == pytest.approx(exp["conf_int"][0], rel=REL, abs=1e-14)
    assert r.upper == pytest.approx(exp["conf_int"][1], rel=REL, abs=1e-14)
    assert r.difference == pytest.approx(case["risk_difference"], rel=REL)
    assert r.method == exp["method"]


@pytest.mark.parametrize(("key", "case"), CASES, ids=IDS)
def test_compare_proportions_on_reference_tables(key, case):
    """compare_proportions picks Fisher when R's chisq.test warns (expected < 5), else
    chisq.test(tab, correct = TRUE); both p-values as in R."""
    g1, g2 = case["group1"], case["group2"]
    r = compare_proportions(g1["x"], g1["n"], g2["x"], g2["n"])
    sparse = bool(case["chisq_yates"]["warnings"])
    if sparse:
        assert r.test == "Fisher's exact test"
        assert r.p_value == pytest.approx(case["fisher_two_sided"]["p"], rel=REL)
        assert "< 5" in r.reason and r.statistic is None
    else:
        assert r.test.startswith("Pearson's chi-square")
        assert r.p_value == pytest.approx(case["chisq_yates"]["p"], rel=REL)
        assert r.statistic == pytest.approx(case["chisq_yates"]["statistic"], rel=REL)
    assert r.min_expected == pytest.approx(np.min(case["chisq_uncorrected"]["expected"]), rel=REL)
    assert r.risk_difference == pytest.approx(case["risk_difference"], rel=REL)
    ci = case["prop_test_two_sample_yates"]["conf_int"]
    assert (r.rd_lower, r.rd_upper) == (
        pytest.approx(ci[0], rel=REL, abs=1e-14),
        pytest.approx(ci[1], rel=REL, abs=1e-14),
    )
    assert r.odds_ratio == pytest.approx(case["fisher_precise"]["estimate"], rel=REL_PRECISE)
    assert r.group1.lower == pytest.approx(g1["binom_exact"]["conf_int"][0], rel=REL)
    assert r.to_dict()["test"] == r.test


def test_compare_proportions_forced_and_uncorrected():
    """R: chisq.test(matrix(c(14, 12, 64, 15), 2, byrow = TRUE), correct = FALSE)$p.value."""
    case = REF["two_by_two"]["cr_14of26_vs_64of79"]
    r = compare_proportions(14, 26, 64, 79, correct=False)
    assert r.p_value == pytest.approx(case["chisq_uncorrected"]["p"], rel=REL)
    r = compare_proportions(14, 26, 64, 79, force="fisher")
    assert r.p_value == pytest.approx(case["fisher_two_sided"]["p"], rel=REL)
    assert "requested" in r.reason
    with pytest.warns(SparseDataWarning):
        compare_proportions(6, 7, 2, 7, force="chisq")


def test_overlapping_groups_warn():
    with pytest.warns(PairedDataWarning, match="McNemar"):
        r = compare_proportions(14, 26, 64, 79, overlapping=True)
    assert r.overlapping is True


def test_compare_proportions_all_events_uses_fisher():
    r = compare_proportions(5, 5, 7, 7)
    assert r.test == "Fisher's exact test" and r.p_value == pytest.approx(1.0)


def test_mcnemar_matches_r():
    """R: tab <- matrix(c(10, 2, 9, 5), nrow = 2, byrow = TRUE);
    mcnemar.test(tab, correct = TRUE / FALSE); binom.test(2, 11, 0.5)."""
    ref = REF["mcnemar"]
    tab = ref["table"]
    for kw, key in (({"correct": True}, "corrected"), ({"correct": False}, "uncorrected")):
        r = _quiet(mcnemar_test, tab, **kw)
        assert r.statistic == pytest.approx(ref[key]["statistic"], rel=REL)
        assert r.df == ref[key]["parameter"]
        assert r.p_value == pytest.approx(ref[key]["p"], rel=REL)
        assert r.method == ref[key]["method"]
    r = mcnemar_test(tab, exact=True)
    exp = ref["exact_binomial"]
    assert r.statistic == exp["statistic"] and r.df == exp["parameter"]
    assert r.p_value == pytest.approx(exp["p"], rel=REL)
    assert r.estimate == pytest.approx(exp["estimate"], rel=REL)
    assert r.lower == pytest.approx(exp["conf_int"][0], rel=REL)
    assert r.upper == pytest.approx(exp["conf_int"][1], rel=REL)


def test_mcnemar_equal_discordant_counts():
    """R: mcnemar.test(matrix(c(10, 4, 4, 5), 2)) gives statistic 0, p 1 (no correction
    when b = c)."""
    r = _quiet(mcnemar_test, [[10, 4], [4, 5]])
    assert r.statistic == 0.0 and r.p_value == 1.0 and r.correct is False


def test_mcnemar_no_discordant_pairs_warns():
    with pytest.warns(SparseDataWarning, match="discordant"):
        r = mcnemar_test([[5, 0], [0, 3]])
    assert r.p_value == 1.0


def test_paired_table_from_columns():
    first = [1, 1, 0, 0, 1, 0, 1]
    second = [1, 0, 1, 1, 1, 0, 0]
    np.testing.assert_array_equal(paired_table(first, second), [[2, 2], [2, 1]])
    with pytest.raises(InputError, match="0/1"):
        paired_table([1, 2], [0, 1])


def test_chisq_r_by_c_matches_r():
    """R: chisq.test(matrix(c(12, 5, 7, 9, 3, 8), nrow = 3, byrow = TRUE)):
    X-squared = 5.4050802139037435, df = 2, p = 0.0670350201759789 (smallest expected 5.5,
    so no warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", SparseDataWarning)
        r = chisq_test([[12, 5], [7, 9], [3, 8]])
    assert r.statistic == pytest.approx(5.4050802139037435, rel=REL)
    assert r.df == 2 and r.p_value == pytest.approx(0.0670350201759789, rel=REL)
    assert r.correct is False  # Yates only applies to 2 x 2


def test_k_by_2_matches_r():
    """R: prop.test(c(83, 90, 129, 70), c(86, 93, 136, 82)): X-squared = 12.60041129713,
    df = 3, p = 0.00558547666163; prop.trend.test(same): X-squared = 8.224922285198,
    p = 0.00413189747764 (R's smokers example)."""
    r = k_by_2_test([83, 90, 129, 70], [86, 93, 136, 82])
    assert r.statistic == pytest.approx(12.60041129713, rel=1e-11)
    assert r.df == 3 and r.p_value == pytest.approx(0.00558547666163, rel=1e-10)
    assert r.trend_statistic == pytest.approx(8.224922285198, rel=1e-11)
    assert r.trend_p_value == pytest.approx(0.00413189747764, rel=1e-10)


def test_fisher_boundary_tables():
    """R: fisher.test(matrix(c(0, 5, 4, 3), 2)): p = 0.0808080808080808, estimate 0, CI lower 0."""
    r = fisher_test([[0, 4], [5, 3]])
    assert r.p_value == pytest.approx(0.0808080808080808, rel=REL)
    assert r.odds_ratio == 0.0 and r.lower == 0.0 and np.isfinite(r.upper)
    r = fisher_test([[4, 0], [3, 5]])
    assert r.odds_ratio == math.inf and r.upper == math.inf


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=25), min_size=4, max_size=4))
def test_fisher_agrees_with_scipy_and_brackets_estimate(cells):
    tab = np.array(cells).reshape(2, 2)
    if tab.sum(axis=0).min() == 0 or tab.sum(axis=1).min() == 0:
        return
    r = fisher_test(tab)
    assert r.p_value == pytest.approx(fisher_exact(tab).pvalue, rel=1e-6, abs=1e-12)
    assert r.lower <= r.odds_ratio <= r.upper
    assert 0.0 <= r.p_value <= 1.0
    ref = contingency.odds_ratio(tab, kind="conditional")
    if np.isfinite(ref.statistic) and ref.statistic > 0:
        assert r.odds_ratio == pytest.approx(ref.statistic, rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 60),
    st.floats(0, 1),
    st.integers(1, 60),
    st.floats(0, 1),
)
def test_compare_proportions_properties(n1, f1, n2, f2):
    x1, x2 = round(n1 * f1), round(n2 * f2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparseDataWarning)
        r = compare_proportions(x1, n1, x2, n2)
    assert 0.0 <= r.p_value <= 1.0
    assert r.or_lower <= r.odds_ratio <= r.or_upper
    if np.isfinite(r.rd_lower):
        assert -1.0 <= r.rd_lower <= r.risk_difference <= r.rd_upper <= 1.0
    assert (r.test == "Fisher's exact test") == (r.min_expected < 5 or x1 + x2 in (0, n1 + n2))


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((-1, 10, 3, 10), "x1"),
        ((11, 10, 3, 10), "x1"),
        ((1, 0, 3, 10), "n1"),
        ((1, 10, 3, -10), "n2"),
        ((1, 10, 2.5, 10), "x2"),
    ],
)
def test_compare_proportions_bad_input(args, field):
    with pytest.raises(InputError) as info:
        compare_proportions(*args)
    assert info.value.column == field


@pytest.mark.parametrize(
    "table", [[[1, -1], [2, 3]], [[1, 2, 3]], [[0, 0], [0, 0]], [[1.5, 2], [3, 4]], "abc"]
)
def test_bad_tables_raise(table):
    with pytest.raises(InputError):
        fisher_test(table)


def test_chisq_zero_margin_raises():
    with pytest.raises(InputError, match="all 0"):
        chisq_test([[0, 3], [0, 5]])
