"""Binomial intervals and one-sample tests against R (tests/data/reference/tests2x2.json)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartlens.errors import InputError
from cartlens.stats.proportions import binom_ci, binom_test_p
from conftest import load_reference

REF = load_reference("tests2x2")
GROUPS = [
    (case, g, REF["two_by_two"][case][g])
    for case in REF["two_by_two"]
    for g in ("group1", "group2")
]
IDS = [f"{c}-{g}" for c, g, _ in GROUPS]
REL = 1e-9


@pytest.mark.parametrize(("case", "g", "ref"), GROUPS, ids=IDS)
def test_clopper_pearson_matches_binom_test(case, g, ref):
    """R: ``binom.test(x, n)`` -> conf.int and p.value (vs 0.5)."""
    r = binom_ci(ref["x"], ref["n"], "clopper-pearson")
    exp = ref["binom_exact"]
    assert r.estimate == pytest.approx(exp["estimate"], rel=REL)
    assert r.estimate == pytest.approx(ref["p_hat"], rel=REL)
    assert r.lower == pytest.approx(exp["conf_int"][0], rel=REL)
    assert r.upper == pytest.approx(exp["conf_int"][1], rel=REL)
    assert r.p_value == pytest.approx(exp["p_vs_0.5"], rel=REL)


@pytest.mark.parametrize(("case", "g", "ref"), GROUPS, ids=IDS)
def test_wilson_matches_prop_test(case, g, ref):
    """R: ``prop.test(x, n, correct = FALSE)`` -> conf.int, statistic, p.value."""
    r = binom_ci(ref["x"], ref["n"], "wilson")
    exp = ref["wilson"]
    assert r.lower == pytest.approx(exp["conf_int"][0], rel=REL)
    assert r.upper == pytest.approx(exp["conf_int"][1], rel=REL)
    assert r.statistic == pytest.approx(exp["statistic"], rel=REL)
    assert r.p_value == pytest.approx(exp["p_vs_0.5"], rel=REL)


@pytest.mark.parametrize(("case", "g", "ref"), GROUPS, ids=IDS)
def test_wilson_cc_matches_prop_test(case, g, ref):
    """R: ``prop.test(x, n, correct = TRUE)$conf.int``."""
    r = binom_ci(ref["x"], ref["n"], "wilson-cc")
    exp = ref["wilson_cc"]
    assert r.lower == pytest.approx(exp["conf_int"][0], rel=REL)
    assert r.upper == pytest.approx(exp["conf_int"][1], rel=REL)


def test_edge_counts_match_r():
    """R: binom.test(0, 10)$conf.int = c(0, 0.308497107818761), p = 0.001953125;
    prop.test(0, 10, correct = TRUE)$conf.int = c(0, 0.344537218306922);
    prop.test(10, 10, correct = FALSE)$conf.int = c(0.722467200137111, 1)."""
    r = binom_ci(0, 10)
    assert (r.lower, r.upper) == (0.0, pytest.approx(0.308497107818761, rel=REL))
    assert r.p_value == pytest.approx(0.001953125, rel=REL)
    r = binom_ci(0, 10, "wilson-cc")
    assert (r.lower, r.upper) == (0.0, pytest.approx(0.344537218306922, rel=REL))
    r = binom_ci(10, 10, "wilson")
    assert (r.lower, r.upper) == (pytest.approx(0.722467200137111, rel=REL), 1.0)


def test_continuity_correction_depends_on_null_as_in_r():
    """R: prop.test(5, 10, correct = TRUE)$conf.int = c(0.236593090512564, 0.763406909487436)
    (|x - n p0| = 0, so R applies no correction: the interval is the plain Wilson one)."""
    r = binom_ci(5, 10, "wilson-cc")
    assert r.lower == pytest.approx(0.236593090512564, rel=REL)
    assert r.upper == pytest.approx(0.763406909487436, rel=REL)
    assert (r.lower, r.upper) == pytest.approx(
        (binom_ci(5, 10, "wilson").lower, binom_ci(5, 10, "wilson").upper)
    )


def test_binom_test_two_sided_other_null():
    """R: binom.test(3, 20, p = 0.3)$p.value = 0.220418267380709;
    binom.test(12, 20, p = 0.3)$p.value = 0.00593608419809751."""
    assert binom_test_p(3, 20, 0.3) == pytest.approx(0.220418267380709, rel=REL)
    assert binom_test_p(12, 20, 0.3) == pytest.approx(0.00593608419809751, rel=REL)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=300),
    frac=st.floats(min_value=0, max_value=1),
    method=st.sampled_from(["clopper-pearson", "wilson", "wilson-cc"]),
    level=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_interval_brackets_estimate_and_lies_in_unit_interval(n, frac, method, level):
    x = round(frac * n)
    r = binom_ci(x, n, method, conf_level=level)
    assert 0.0 <= r.lower <= r.estimate <= r.upper <= 1.0
    assert 0.0 <= r.p_value <= 1.0


@pytest.mark.parametrize(
    ("x", "n", "field"),
    [
        (-1, 10, "x"),
        (3, -2, "n"),
        (11, 10, "x"),
        (0, 0, "n"),
        (1.5, 10, "x"),
        (1, float("nan"), "n"),
    ],
)
def test_bad_counts_raise_input_error(x, n, field):
    with pytest.raises(InputError) as info:
        binom_ci(x, n)
    assert info.value.column == field


def test_bad_method_and_level():
    with pytest.raises(InputError, match="method"):
        binom_ci(1, 10, "agresti")
    with pytest.raises(InputError, match="conf_level"):
        binom_ci(1, 10, conf_level=1.5)


def test_result_serialises():
    d = binom_ci(14, 26).to_dict()
    assert d["x"] == 14 and d["n"] == 26 and d["method"] == "clopper-pearson"
    assert set(binom_ci(14, 26).to_frame().columns) >= {"analysis", "stat", "value"}
