"""IPT weights against the R reference (lung.json -> propensity.weights) and their identities."""

from __future__ import annotations

import numpy as np
import pytest
from _lung_ps import PS, lung_ps
from hypothesis import given, settings
from hypothesis import strategies as st

from cartlens.errors import InputError
from cartlens.stats.balance import smd
from cartlens.stats.propensity import propensity_score, propensity_score_arrays
from cartlens.stats.weighting import (
    effective_sample_size,
    generalized_iptw_weights,
    iptw_weights,
    weighted_proportions,
)


@pytest.fixture(scope="module")
def fit():
    return propensity_score("female ~ age + ph.ecog", lung_ps())


@pytest.mark.parametrize("stabilize,key", [(False, "iptw"), (True, "sw")])
def test_weights_match_r(fit, stabilize, key):
    """R: iptw = A/ps + (1-A)/(1-ps); sw = A*mean(A)/ps + (1-A)*(1-mean(A))/(1-ps).

    Expected iptw: sum_treated 226.561041719033, sum_control 227.233751034938, min
    1.37392315143104, max 3.27947921744625, mean 1.99909600332146 (sw likewise in lung.json)."""
    w = iptw_weights(fit.ps, fit.treat, stabilize=stabilize)
    ref = PS["weights"][key]
    s = w.summary
    assert s["treated"]["sum"] == pytest.approx(ref["sum_treated"], rel=1e-6)
    assert s["control"]["sum"] == pytest.approx(ref["sum_control"], rel=1e-6)
    assert s["all"]["min"] == pytest.approx(ref["min"], rel=1e-6)
    assert s["all"]["max"] == pytest.approx(ref["max"], rel=1e-6)
    assert s["all"]["mean"] == pytest.approx(ref["mean"], rel=1e-6)
    assert w.stabilized is stabilize and w.n_trimmed == 0


def test_att_atc_ato_formulas():
    ps = np.array([0.2, 0.5, 0.8, 0.4])
    a = np.array([1, 0, 1, 0])
    np.testing.assert_allclose(iptw_weights(ps, a, estimand="att").weights, [1, 1, 1, 0.4 / 0.6])
    np.testing.assert_allclose(iptw_weights(ps, a, estimand="atc").weights, [4, 1, 0.25, 1])
    np.testing.assert_allclose(iptw_weights(ps, a, estimand="ato").weights, [0.8, 0.5, 0.2, 0.4])
    sw = iptw_weights(ps, a, estimand="att", stabilize=True).weights
    np.testing.assert_allclose(sw, [1, 1, 1, 0.4 / 0.6])  # mean(A) = 1/2: factor 1


def test_trimming_and_truncation():
    ps = np.linspace(0.05, 0.95, 19)
    a = np.tile([0, 1], 10)[:19]
    w = iptw_weights(ps, a, trim=(0.1, 0.9))
    assert w.n_trimmed == int(((ps < 0.1) | (ps > 0.9)).sum())
    assert np.all(w.weights[~w.kept] == 0)
    raw = iptw_weights(ps, a).weights
    tr = iptw_weights(ps, a, truncate=(0.05, 0.95))
    lo, hi = np.quantile(raw, [0.05, 0.95])  # R quantile type 7
    np.testing.assert_allclose(tr.weights, np.clip(raw, lo, hi))
    assert tr.truncation_bounds == pytest.approx((lo, hi))
    assert tr.n_truncated == int(np.sum((raw < lo) | (raw > hi)))


def test_bad_input():
    ps = np.array([0.2, 0.5, 0.8, 0.4])
    with pytest.raises(InputError, match="0/1"):
        iptw_weights(ps, [0, 1, 2, 0])
    with pytest.raises(InputError, match="estimand"):
        iptw_weights(ps, [0, 1, 1, 0], estimand="foo")
    with pytest.raises(InputError, match="infinite"):
        iptw_weights([0.0, 0.5, 1.0, 0.4], [1, 0, 0, 0])
    with pytest.raises(InputError, match="leaves no"):
        iptw_weights(ps, [0, 1, 1, 0], trim=(0.45, 0.55))
    with pytest.raises(InputError):
        iptw_weights(ps, [1, 1, 1, 1])


def test_ess():
    assert effective_sample_size([1, 1, 1, 1]) == 4
    assert effective_sample_size([2, 0, 0, 0]) == 1
    assert effective_sample_size([0, 0]) == 0


def test_generalized_weights_two_groups_equal_binary(fit):
    probs = np.column_stack([1 - fit.ps, fit.ps])
    w = generalized_iptw_weights(probs, fit.treat)
    np.testing.assert_allclose(w, iptw_weights(fit.ps, fit.treat).weights)
    sw = generalized_iptw_weights(probs, fit.treat, stabilize=True)
    np.testing.assert_allclose(sw, iptw_weights(fit.ps, fit.treat, stabilize=True).weights)
    att = generalized_iptw_weights(probs, fit.treat, estimand="att", focal=1)
    np.testing.assert_allclose(att, iptw_weights(fit.ps, fit.treat, estimand="att").weights)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(60, 200))
def test_overlap_weights_balance_model_covariates_exactly(seed, n):
    """ML logistic score equations sum (A - e) x = 0 imply sum_{A=1} (1-e) x = sum_{A=0} e x
    for every model column (x = 1 included): overlap-weighted means are equal, SMD = 0."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    a = (rng.random(n) < 1 / (1 + np.exp(-(0.2 + X @ [0.8, -0.5, 0.3])))).astype(int)
    if a.sum() < 3 or a.sum() > n - 3:
        return
    fit = propensity_score_arrays(a, X)
    w = iptw_weights(fit.ps, a, estimand="ato").weights
    for j in range(3):
        assert abs(smd(X[:, j], a, w)) < 1e-7


def test_weighted_proportions_hand_calculation():
    """Unit weights: risks 2/4 and 1/4; var = r(1-r)/n (HC0), RD = 0.25."""
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    a = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    r = weighted_proportions(y, a, np.ones(8))
    assert r.risk_treated == 0.5 and r.risk_control == 0.25
    assert r.rd_se == pytest.approx(np.sqrt(0.25 / 4 + 0.1875 / 4))
    assert r.risk_ratio == pytest.approx(2.0)
    assert r.odds_ratio == pytest.approx(3.0)
    assert r.log_rr_se == pytest.approx(np.sqrt((0.25 / 4) / 0.25 + (0.1875 / 4) / 0.0625))
    with pytest.raises(InputError, match="zero"):
        weighted_proportions(y, a, np.r_[np.zeros(4), np.ones(4)])


# ------------------------------------------------------------------ outcome analyses (B's/C's code)
@pytest.mark.parametrize("robust,key", [(False, "model_based"), (True, "robust_ij")])
def test_weighted_km_matches_r(fit, robust, key):
    """R: survfit(Surv(time, dead) ~ female, data = lung_ps, weights = sw, robust = FALSE/TRUE)
    at 180/365/540/730 days: surv, std_err (weighted Greenwood / infinitesimal jackknife),
    log CI, weighted n at risk, median (CI). e.g. female=1 robust std_err(365) 0.060377845712042.
    """
    from cartlens.stats.km import survival_at

    df = lung_ps()
    sw = iptw_weights(fit.ps, fit.treat, stabilize=True).weights
    from cartlens.stats.weighting import weighted_km

    km = weighted_km(df["time"], df["dead"], fit.treat, sw, robust=robust)
    for c in km.curves:
        ref = PS["weighted_km_sw"][key]["groups"][f"female={c.group}"]
        s = survival_at(c, np.asarray(ref["time"], dtype=float))
        np.testing.assert_allclose(s.surv, ref["surv"], rtol=1e-6)
        np.testing.assert_allclose(s.std_err, ref["std_err"], rtol=1e-6)
        np.testing.assert_allclose(s.lower, ref["lower_log"], rtol=1e-6)
        np.testing.assert_allclose(s.upper, ref["upper_log"], rtol=1e-6)
        np.testing.assert_allclose(s.n_risk, ref["n_risk_weighted"], rtol=1e-6)
        assert (c.median, c.median_lower, c.median_upper) == (
            ref["median"],
            ref["median_lower"],
            ref["median_upper"],
        )


@pytest.mark.parametrize("stabilize,key", [(True, "weighted_cox_sw"), (False, "weighted_cox_iptw")])
def test_weighted_cox_matches_r(fit, stabilize, key):
    """R: coxph(Surv(time, dead) ~ female, data = lung_ps, weights = sw|iptw, robust = TRUE):
    sw coef -0.498765677541797, robust_se 0.161309426210603, naive se 0.166840739612112."""
    from cartlens.stats.weighting import weighted_cox

    df = lung_ps()
    w = iptw_weights(fit.ps, fit.treat, stabilize=stabilize).weights
    cx = weighted_cox(df["time"], df["dead"], fit.treat, w, names=["female"])
    ref = PS[key]["coefficients"]["female"]
    assert cx.coef[0] == pytest.approx(ref["coef"], rel=1e-5)
    assert cx.se[0] == pytest.approx(ref["se"], rel=1e-5)
    assert cx.robust_se[0] == pytest.approx(ref["robust_se"], rel=1e-5)
    assert cx.p[0] == pytest.approx(ref["p"], rel=1e-5)


def test_weighted_proportions_match_r_sandwich(fit):
    """R (sandwich 3.x), sw as in the reference:
    f <- glm(dead ~ female, data = lung_ps, weights = sw, family = quasibinomial(link = L))
    sqrt(vcovHC(f, type = "HC0")[2, 2]): identity link -> RD -0.2071285, SE 0.06244441;
    log link -> 0.09705664 (log RR); logit link -> 0.3083903 (log OR)."""
    df = lung_ps()
    sw = iptw_weights(fit.ps, fit.treat, stabilize=True).weights
    r = weighted_proportions(df["dead"], fit.treat, sw)
    assert r.risk_difference == pytest.approx(-0.2071285, rel=1e-6)
    assert r.rd_se == pytest.approx(0.06244441, rel=1e-6)
    assert r.log_rr_se == pytest.approx(0.09705664, rel=1e-6)
    assert r.log_or_se == pytest.approx(0.3083903, rel=1e-6)
