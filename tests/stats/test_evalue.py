"""E-values (VanderWeele & Ding 2017) against the paper's example and hand calculations."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartlens.errors import InputError
from cartlens.stats.evalue import evalue, evalue_rr, to_risk_ratio


def test_paper_example():
    """VanderWeele & Ding 2017 (Ann Intern Med), breastfeeding example: RR 3.9 (1.8, 8.7)
    -> E-value 7.26, CI 3.0 (R: EValue::evalues.RR(3.9, 1.8, 8.7))."""
    r = evalue(3.9, 1.8, 8.7)
    assert r.evalue == pytest.approx(3.9 + math.sqrt(3.9 * 2.9))
    assert round(r.evalue, 2) == 7.26
    assert r.evalue_ci == pytest.approx(3.0)
    assert r.limit_used == "lower"


def test_protective_estimate_uses_upper_limit():
    """RR 0.5 (0.3, 0.8): 1/0.5 = 2 -> 2 + sqrt(2) = 3.414; upper 0.8 -> 1.25 + sqrt(1.25*0.25)."""
    r = evalue(0.5, 0.3, 0.8)
    assert r.evalue == pytest.approx(2 + math.sqrt(2))
    assert r.evalue_ci == pytest.approx(1.25 + math.sqrt(1.25 * 0.25))
    assert r.limit_used == "upper"


def test_ci_including_null_gives_one():
    assert evalue(1.3, 0.9, 1.8).evalue_ci == 1.0
    assert evalue(0.8, 0.6, 1.1).evalue_ci == 1.0
    assert evalue(1.0, 0.8, 1.2).evalue == 1.0


def test_odds_ratio_conversions():
    """Common outcome: RR ~ sqrt(OR); rare: RR = OR."""
    common = evalue(4.0, 2.25, 9.0, measure="or", rare=False)
    assert common.rr == pytest.approx(2.0) and common.rr_lower == pytest.approx(1.5)
    assert common.evalue == pytest.approx(2 + math.sqrt(2))
    rare = evalue(4.0, 2.25, 9.0, measure="or", rare=True)
    assert rare.evalue == pytest.approx(4 + math.sqrt(12))


def test_hazard_ratio_common_outcome():
    """RR ~ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) (VanderWeele 2020)."""
    hr = 0.6
    rr = (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))
    r = evalue(hr, 0.44, 0.83, measure="hr", rare=False)
    assert r.rr == pytest.approx(rr)
    assert r.evalue == pytest.approx(evalue_rr(rr))
    assert r.rr < 1 and r.rr > hr  # the conversion shrinks towards 1
    assert evalue(hr, measure="hr", rare=True).evalue == pytest.approx(evalue_rr(hr))


def test_smd_with_se():
    r = evalue(0.5, measure="smd", se=0.1)
    assert r.rr == pytest.approx(math.exp(0.455))
    assert r.rr_lower == pytest.approx(math.exp(0.455 - 0.178))
    assert r.evalue_ci == pytest.approx(evalue_rr(math.exp(0.455 - 0.178)))


def test_true_value_other_than_null():
    r = evalue(3.0, 2.0, 4.5, true=1.5)
    assert r.evalue == pytest.approx(evalue_rr(2.0))
    assert r.evalue_ci == pytest.approx(evalue_rr(2.0 / 1.5))


@given(st.floats(0.05, 20), st.floats(0.01, 0.5))
def test_evalue_properties(rr, spread):
    lo, hi = rr * math.exp(-spread), rr * math.exp(spread)
    r = evalue(rr, lo, hi)
    assert r.evalue >= 1.0 and r.evalue_ci >= 1.0
    assert r.evalue_ci <= r.evalue + 1e-12
    assert evalue(1 / rr).evalue == pytest.approx(r.evalue)


def test_bad_input():
    with pytest.raises(InputError, match="rare"):
        evalue(2.0, measure="hr")
    with pytest.raises(InputError, match="positive"):
        evalue(-1.0)
    with pytest.raises(InputError, match="measure"):
        evalue(2.0, measure="rd")
    with pytest.raises(InputError, match="wrong side"):
        evalue(2.0, 2.5, 3.0)
    with pytest.raises(InputError):
        to_risk_ratio(2.0, "foo")


@pytest.mark.parametrize("se", [-1.0, 0.0, float("nan"), float("inf")])
def test_non_positive_se_is_rejected(se):
    """A negative SE would put rr_lower above rr (exp(0.91 d - 1.78 se) > exp(0.91 d))."""
    with pytest.raises(InputError, match="se") as exc:
        evalue(0.5, measure="smd", se=se)
    assert exc.value.column == "se"
