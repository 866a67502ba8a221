"""Logistic regression against R: glm (lung propensity model) and logistf (sex2, endometrial)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cartlens.errors import CollinearityWarning, InputError, SeparationWarning
from cartlens.stats.logistic import (
    detect_separation,
    firth_fit,
    fit_logistic_arrays,
    logistic_regression,
    univariable_logistic,
)
from conftest import REFERENCE, load_reference

DATA = Path(__file__).parents[1] / "data" / "logistic"


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    df = pd.read_csv(REFERENCE / "data" / "lung.csv")
    df["female"] = (df["sex"] == 2).astype(int)
    return df


@pytest.fixture(scope="module")
def sex2() -> pd.DataFrame:
    return pd.read_csv(DATA / "sex2.csv")


@pytest.fixture(scope="module")
def endometrial() -> pd.DataFrame:
    return pd.read_csv(DATA / "endometrial.csv")


def test_glm_matches_r_on_lung_propensity_model(lung):
    """R: ``glm(female ~ age + ph.ecog, family = binomial(), data = lung_ps)``
    (lung.json propensity.ps_model): estimates 1e-6, SE/z/p 1e-6 (R's SE use the last IRLS
    weights, ~1e-7 from the converged information), deviance and AIC 1e-9."""
    ref = load_reference("lung")["propensity"]["ps_model"]
    r = logistic_regression("female ~ age + ph.ecog", lung)
    assert r.terms == ("(Intercept)", "age", "ph.ecog")
    for i, term in enumerate(r.terms):
        exp = ref["coefficients"][term]
        assert r.coef[i] == pytest.approx(exp["estimate"], rel=1e-6)
        assert r.se[i] == pytest.approx(exp["se"], rel=1e-6)
        assert r.z[i] == pytest.approx(exp["z"], rel=1e-6)
        assert r.p[i] == pytest.approx(exp["p"], rel=1e-6)
    assert r.deviance == pytest.approx(ref["deviance"], rel=1e-9)
    assert r.null_deviance == pytest.approx(ref["null_deviance"], rel=1e-9)
    assert r.aic == pytest.approx(ref["aic"], rel=1e-9)
    assert r.n == 227 and r.n_dropped_missing == 1 and r.events == 90
    np.testing.assert_allclose(r.fitted, ref["ps_values"], rtol=1e-6)
    assert r.ci_method == "wald" and not r.separation and r.converged
    i = r.terms.index("age")
    z = stats.norm.ppf(0.975)
    assert r.lower[i] == pytest.approx(np.exp(r.coef[i] - z * r.se[i]), rel=1e-12)


SEX2_COEF = {  # logistf(case ~ age + oc + vic + vicl + vis + dia, data = sex2)
    "(Intercept)": 0.12025405,
    "age": -1.10598131,
    "oc": -0.06881673,
    "vic": 2.26887464,
    "vicl": -2.11140817,
    "vis": -0.78831694,
    "dia": 3.09601166,
}
SEX2_CI = {  # confint: profile penalised likelihood, logistf's default
    "(Intercept)": (-0.8185591, 1.07315122),
    "age": (-1.9737884, -0.30742514),
    "oc": (-0.9414363, 0.78920202),
    "vic": (1.2730216, 3.43543273),
    "vicl": (-3.2608611, -1.11773495),
    "vis": (-1.6080879, 0.01518468),
    "dia": (0.7745682, 8.03029352),
}
SEX2_CHISQ = {  # penalised likelihood-ratio chi-squares, printed to 2 decimals
    "(Intercept)": 0.06,
    "age": 7.51,
    "oc": 0.02,
    "vic": 22.93,
    "vicl": 19.10,
    "vis": 3.70,
    "dia": 7.90,
}


def test_firth_matches_logistf_on_sex2(sex2):
    """R: ``logistf(case ~ age + oc + vic + vicl + vis + dia, data = sex2)``: coefficients and
    profile penalised-likelihood CIs (logistf prints 8 significant digits; tolerance 1e-6),
    penalised LR chi-squares to the printed 2 decimals."""
    r = logistic_regression("case ~ age + oc + vic + vicl + vis + dia", sex2, firth=True)
    assert r.ci_method == "profile" and r.firth
    for i, term in enumerate(r.terms):
        assert r.coef[i] == pytest.approx(SEX2_COEF[term], rel=1e-6)
        lo, hi = SEX2_CI[term]
        assert np.log(r.lower[i]) == pytest.approx(lo, rel=1e-6)
        assert np.log(r.upper[i]) == pytest.approx(hi, rel=1e-6)
        chisq = stats.chi2.isf(r.p[i], 1)
        assert chisq == pytest.approx(SEX2_CHISQ[term], abs=0.0051)


def test_firth_wald_option_uses_same_variance(sex2):
    """logistf(..., pl = FALSE): Wald CIs from vcov = inverse information at the estimate."""
    r = logistic_regression("case ~ age + oc + vic + vicl + vis + dia", sex2, firth=True, ci="wald")
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(np.log(r.lower), r.coef - z * r.se, rtol=1e-12)
    np.testing.assert_allclose(r.p, r.p_wald)
    assert r.se[r.terms.index("age")] == pytest.approx(0.4236601, rel=1e-6)


ENDO_COEF = {"(Intercept)": 3.77455951, "NV": 2.92927330, "PI": -0.03475175, "EH": -2.60416387}
ENDO_CI = {
    "(Intercept)": (1.0825371, 7.20928050),
    "NV": (0.6097244, 7.85463171),
    "PI": (-0.1244587, 0.04045547),
    "EH": (-4.3651832, -1.23272106),
}


def test_separation_detected_and_firth_matches_logistf(endometrial):
    """Heinze & Schemper (2002) endometrial data: NV separates HG. R:
    ``glm(HG ~ NV + PI + EH, binomial)`` warns "fitted probabilities numerically 0 or 1";
    ``logistf(HG ~ NV + PI + EH, data = endometrial)`` gives the values below."""
    with pytest.warns(SeparationWarning, match="NV"):
        ml = logistic_regression("HG ~ NV + PI + EH", endometrial)
    assert ml.separation and "NV" in ml.separated_terms
    fl = logistic_regression("HG ~ NV + PI + EH", endometrial, firth=True)
    assert fl.separation and fl.converged
    for i, term in enumerate(fl.terms):
        assert fl.coef[i] == pytest.approx(ENDO_COEF[term], rel=1e-6)
        assert np.log(fl.lower[i]) == pytest.approx(ENDO_CI[term][0], rel=1e-6)
        assert np.log(fl.upper[i]) == pytest.approx(ENDO_CI[term][1], rel=1e-6)


def test_no_separation_on_overlapping_data(lung):
    X = np.column_stack([np.ones(len(lung)), lung["age"]])
    assert detect_separation(X, lung["female"].to_numpy()) is None


def test_collinear_term_dropped_with_warning(lung):
    """R: glm(female ~ age + age2, binomial) with age2 = 2 * age gives NA for age2."""
    df = lung.assign(age2=2 * lung["age"])
    with pytest.warns(CollinearityWarning, match="age2"):
        r = logistic_regression("female ~ age + age2", df)
    assert r.aliased_terms == ("age2",)
    assert np.isnan(r.coef[2]) and np.isfinite(r.coef[1])
    plain = logistic_regression("female ~ age", lung)
    assert r.coef[1] == pytest.approx(plain.coef[1], rel=1e-10)


def test_categorical_terms_and_univariable(lung):
    df = lung.assign(ecog=lung["ph.ecog"].map({0: "zero", 1: "one", 2: "two", 3: "two"}))
    r = logistic_regression("female ~ age + C(ecog)", df)
    assert r.terms == ("(Intercept)", "age", "ecog[two]", "ecog[zero]")
    u = univariable_logistic("female", ["age", "ph.ecog"], lung)
    rows = u.terms_table()
    assert [row["term"] for row in rows] == ["age", "ph.ecog"]
    assert rows[1]["n"] == 227 and rows[0]["n"] == 228
    d = u.to_dict()
    assert d["table"][0]["covariate"] == "age"


def test_result_is_json_safe(sex2):
    r = logistic_regression("case ~ age + dia", sex2, firth=True)
    d = r.to_dict()
    assert "fitted" not in d and d["table"][0]["term"] == "(Intercept)"
    assert r.to_frame().shape[0] > 0


def test_firth_fit_array_backend(sex2):
    X = np.column_stack([np.ones(len(sex2)), sex2[["age", "oc", "vic", "vicl", "vis", "dia"]]])
    out = firth_fit(X, sex2["case"].to_numpy())
    assert out["coef"][1] == pytest.approx(SEX2_COEF["age"], rel=1e-6)
    assert out["converged"]


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_row_order_invariance_and_ci_brackets(seed):
    rng = np.random.default_rng(seed)
    n = 60
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + 0.8 * x)))).astype(int)
    if y.min() == y.max():
        return
    X = np.column_stack([np.ones(n), x])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparationWarning)
        a = fit_logistic_arrays(X, y, ["(Intercept)", "x"])
        perm = rng.permutation(n)
        b = fit_logistic_arrays(X[perm], y[perm], ["(Intercept)", "x"])
        f = fit_logistic_arrays(X, y, ["(Intercept)", "x"], firth=True)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-8, atol=1e-10)
    if not a.separation:
        assert np.all(a.lower <= a.odds_ratio) and np.all(a.odds_ratio <= a.upper)
    assert np.all(f.lower <= f.odds_ratio) and np.all(f.odds_ratio <= f.upper)
    assert np.all((f.p >= 0) & (f.p <= 1))


def test_agrees_with_statsmodels_glm(lung):
    import statsmodels.api as sm

    df = lung.dropna(subset=["ph.ecog"])
    X = sm.add_constant(df[["age", "ph.ecog", "wt.loss"]].fillna(df["wt.loss"].mean()))
    ref = sm.GLM(df["female"], X, family=sm.families.Binomial()).fit(tol=1e-12)
    r = fit_logistic_arrays(X.to_numpy(), df["female"].to_numpy(), list(X.columns))
    np.testing.assert_allclose(r.coef, ref.params.to_numpy(), rtol=1e-7)
    np.testing.assert_allclose(r.se, ref.bse.to_numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    ("formula", "column"),
    [
        ("nosuch ~ age", "nosuch"),
        ("female ~ age + nosuch", "nosuch"),
        ("sex ~ age", "sex"),
        ("female age", "formula"),
    ],
)
def test_bad_input_names_the_column(lung, formula, column):
    with pytest.raises(InputError) as info:
        logistic_regression(formula, lung)
    assert info.value.column == column


def test_single_outcome_class_is_an_error(lung):
    with pytest.raises(InputError, match="both"):
        logistic_regression("female ~ age", lung[lung["female"] == 1])


def test_profile_likelihood_ci_matches_r_confint(lung):
    """R 4.2.2 / MASS 7.3-58: ``confint(glm(female ~ age + ph.ecog, binomial, lung_ps))``
    (profile likelihood; MASS interpolates the profile with a spline, so agreement is ~1e-5):
    (Intercept) -0.5343433704834, 3.19627995286812; age -0.0587049560531, 0.00193639555901;
    ph.ecog -0.3743247571481, 0.39407943957570."""
    r = logistic_regression("female ~ age + ph.ecog", lung, ci="profile")
    expected = {
        "(Intercept)": (-0.5343433704834, 3.19627995286812),
        "age": (-0.0587049560531, 0.00193639555901),
        "ph.ecog": (-0.3743247571481, 0.39407943957570),
    }
    for i, term in enumerate(r.terms):
        assert np.log(r.lower[i]) == pytest.approx(expected[term][0], rel=1e-4)
        assert np.log(r.upper[i]) == pytest.approx(expected[term][1], rel=1e-4)


def test_firth_penalized_loglik_sex2(sex2):
    """logistf(case ~ age + oc + vic + vicl + vis + dia, data = sex2)$loglik["full"] is the
    maximised penalised log-likelihood, -132.5394 (printed to 4 decimals)."""
    r = logistic_regression("case ~ age + oc + vic + vicl + vis + dia", sex2, firth=True, ci="wald")
    assert r.penalized_loglik == pytest.approx(-132.5394, abs=5e-5)
    assert r.loglik <= r.loglik_null + 0 or r.lr_test["stat"] > 0


# The demo registry's CART2 response model (cr ~ hsct_before + flu_cy + dose_1e6_per_kg +
# marrow_blasts_pct + age, 26 patients, 15 CR): its profile penalised-likelihood interval
# used to fail inside brentq ("f(a) and f(b) must have different signs") and the study
# runner fell back to Wald intervals.
_DEMO_HSCT = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1]
_DEMO_FLU_CY = [1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
_DEMO_DOSE = [1.01, 1.45, 0.67, 1.0, 2.16, 0.66, 1.08, 0.63, 1.12, 1.6, 1.7, 4.24, 1.95]
_DEMO_DOSE += [1.39, 7.58, 3.38, 1.71, 3.9, 2.28, 3.09, 4.2, 4.49, 5.52, 2.16, 3.0, 3.12]
_DEMO_BLASTS = [69.4, 44.8, 80.0, 26.1, 34.7, 30.7, 70.3, 41.5, 62.7, 78.5, 10.3, 31.3, 22.5]
_DEMO_BLASTS += [12.9, 26.3, 9.3, 59.6, 24.4, 31.9, 12.7, 31.0, 22.7, 24.2, 27.9, 29.1, 22.6]
_DEMO_AGE = [25.3, 41.9, 26.5, 10.4, 14.6, 21.0, 42.6, 69.3, 26.5, 22.4, 30.3, 10.0, 21.0]
_DEMO_AGE += [22.7, 27.3, 20.0, 71.9, 29.2, 33.9, 25.2, 18.2, 47.3, 31.5, 15.4, 28.8, 15.0]
_DEMO_CR = [0] * 10 + [1, 1, 1, 0, 1, 1, 0] + [1] * 9


def _penalised_loglik(X, y, beta):
    eta = X @ beta
    ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    p = 1 / (1 + np.exp(-eta))
    return ll + 0.5 * np.linalg.slogdet(X.T @ (X * (p * (1 - p))[:, None]))[1]


def test_profile_ci_on_demo_response_model_brackets_and_hits_threshold():
    """No exception and a finite profile interval bracketing the estimate for every term.
    For hsct_before, whose constrained fits have a single maximum, the penalised
    likelihood-ratio statistic at each limit, re-maximised independently (scipy BFGS from
    the estimate), equals qchisq(0.95, 1) = 3.841459. (For other terms the penalised
    likelihood with the coefficient fixed far out has several local maxima; see
    test_demo_profile_limits_use_the_global_constrained_maximum.)"""
    from scipy import optimize

    X = np.column_stack(
        [np.ones(26), _DEMO_HSCT, _DEMO_FLU_CY, _DEMO_DOSE, _DEMO_BLASTS, _DEMO_AGE]
    )
    y = np.asarray(_DEMO_CR, float)
    names = ["(Intercept)", "hsct_before", "flu_cy", "dose", "blasts", "age"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = fit_logistic_arrays(X, y, names, firth=True)
    assert r.ci_method == "profile"
    assert np.all(np.isfinite(r.lower)) and np.all(np.isfinite(r.upper))
    assert np.all(r.lower < r.odds_ratio) and np.all(r.odds_ratio < r.upper)
    top = _penalised_loglik(X, y, r.coef)
    crit = stats.chi2.ppf(0.95, 1)
    for j in (1,):
        for limit in (np.log(r.lower[j]), np.log(r.upper[j])):
            rest = np.delete(r.coef, j)

            def neg(v, j=j, limit=limit):
                return -_penalised_loglik(X, y, np.insert(v, j, limit))

            best = optimize.minimize(neg, rest, method="BFGS", options={"gtol": 1e-9})
            assert 2 * (top + best.fun) == pytest.approx(crit, abs=1e-4)


def _penalised_derivs(X, y, beta):
    """Penalised log-likelihood, score X'(y - p + h (1/2 - p)) and Hessian (w = p (1 - p)):
    -X'WX + (X' diag(q w (1 - 6w)) X - X' diag(w (1 - 2p)) (Q o Q) diag(w (1 - 2p)) X) / 2,
    Q = X (X'WX)^-1 X', q = diag(Q); derived by hand, checked by finite differences below."""
    p = 1 / (1 + np.exp(-(X @ beta)))
    w = p * (1 - p)
    info = X.T @ (X * w[:, None])
    sign, logdet = np.linalg.slogdet(info)
    if sign <= 0:
        return -np.inf, np.zeros(len(beta)), -np.eye(len(beta))
    Q = X @ np.linalg.solve(info, X.T)
    q = np.diag(Q)
    score = X.T @ (y - p + w * q * (0.5 - p))
    a = X * (w * (1 - 2 * p))[:, None]
    hess = -info + 0.5 * (X.T @ (X * (q * w * (1 - 6 * w))[:, None]) - a.T @ (Q * Q) @ a)
    ll = float(np.sum(y * (X @ beta) - np.logaddexp(0.0, X @ beta)))
    return ll + 0.5 * logdet, score, hess


def test_demo_profile_limits_use_the_global_constrained_maximum():
    """Every profile penalised-likelihood limit of the demo CART2 response model is where
    2 (PL(beta_hat) - max over the other coefficients of PL) = qchisq(0.95, 1) = 3.841459,
    with the GLOBAL maximum. The Firth penalised likelihood (loglik + log det I / 2) with
    one coefficient fixed far out has several local maxima (at the old blasts lower limit
    -0.7326: statistics 6.12 from the estimate, 3.84 by the old continuation, 2.65 at the
    global maximum), so limits from a local search depended on its start. Here the
    statistic at each limit is re-maximised independently (scipy trust-exact with the
    hand-derived Hessian above, from the estimate and 30 fixed-seed random starts, 3
    standard errors wide): it must equal 3.841459 to 1e-4 relative. logistf searches
    locally (Venzon & Moolgavkar), so it is no reference for this model."""
    from scipy import optimize

    X = np.column_stack(
        [np.ones(26), _DEMO_HSCT, _DEMO_FLU_CY, _DEMO_DOSE, _DEMO_BLASTS, _DEMO_AGE]
    )
    y = np.asarray(_DEMO_CR, float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = fit_logistic_arrays(X, y, firth=True)
    b0 = r.coef + 0.1 * r.se
    f0, g0, h0 = _penalised_derivs(X, y, b0)
    eps = 1e-6 * np.eye(6)
    num_g = [
        (_penalised_derivs(X, y, b0 + e)[0] - _penalised_derivs(X, y, b0 - e)[0]) / 2e-6
        for e in eps
    ]
    num_h = [
        (_penalised_derivs(X, y, b0 + e)[1] - _penalised_derivs(X, y, b0 - e)[1]) / 2e-6
        for e in eps
    ]
    assert f0 == pytest.approx(_penalised_loglik(X, y, b0), rel=1e-12)
    np.testing.assert_allclose(num_g, g0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(num_h, h0, rtol=1e-5, atol=1e-3)

    top = _penalised_loglik(X, y, r.coef)
    crit = stats.chi2.ppf(0.95, 1)
    rng = np.random.default_rng(20261124)
    starts = [r.coef] + [r.coef + 3 * r.se * rng.standard_normal(6) for _ in range(30)]
    for j in range(6):
        for limit in (np.log(r.lower[j]), np.log(r.upper[j])):
            assert np.isfinite(limit)

            def neg(v, j=j, limit=limit):
                ll, score, _ = _penalised_derivs(X, y, np.insert(v, j, limit))
                return -ll, -np.delete(score, j)

            def neg_hess(v, j=j, limit=limit):
                h = _penalised_derivs(X, y, np.insert(v, j, limit))[2]
                return -np.delete(np.delete(h, j, 0), j, 1)

            best = min(
                optimize.minimize(
                    neg, np.delete(s0, j), jac=True, hess=neg_hess, method="trust-exact"
                ).fun
                for s0 in starts
            )
            assert 2 * (top + best) == pytest.approx(crit, rel=1e-4), (j, limit)


def test_profile_limit_at_infinity_is_inf_with_warning():
    """x = 1: 4 of 4 events, x = 0: 2 of 4 (quasi-separation). By maximum likelihood the
    profile of the x coefficient tends to the maximum as b -> inf (the x = 1 group is
    fitted exactly, the intercept fits 2/4), so it never reaches the threshold: the upper
    limit is +inf, with a SeparationWarning, not an exception. The lower limit is finite:
    2 (l_max - l(alpha(b), b)) = 3.841459 there, with l_max = 4 log(1/2)."""
    from scipy import optimize

    x = np.array([0, 0, 0, 0, 1, 1, 1, 1], float)
    y = np.array([0, 0, 1, 1, 1, 1, 1, 1], float)
    X = np.column_stack([np.ones(8), x])
    with pytest.warns(SeparationWarning, match="unbounded"):
        r = fit_logistic_arrays(X, y, ["(Intercept)", "x"], firth=False, ci="profile")
    assert r.upper[1] == np.inf
    b = np.log(r.lower[1])
    assert np.isfinite(b)

    def neg(alpha):
        eta = alpha + b * x
        return -float(np.sum(y * eta - np.logaddexp(0.0, eta)))

    prof = optimize.minimize_scalar(neg, bounds=(-30, 30), method="bounded")
    assert 2 * (4 * np.log(0.5) + prof.fun) == pytest.approx(stats.chi2.ppf(0.95, 1), abs=1e-5)
