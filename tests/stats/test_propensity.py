"""Propensity-score models against R's glm (lung.json -> propensity.ps_model)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _lung_ps import PS, REFERENCE, lung_ps
from hypothesis import given, settings
from hypothesis import strategies as st

from cartlens.errors import InputError, OverlapWarning, SeparationWarning
from cartlens.stats.propensity import (
    binary_treatment,
    check_overlap,
    firth_logistic,
    generalized_propensity_score,
    pairwise_propensity_scores,
    propensity_score,
    propensity_score_arrays,
)


@pytest.fixture(scope="module")
def fit():
    return propensity_score("female ~ age + ph.ecog", lung_ps())


def test_coefficients_match_r(fit):
    """R: glm(female ~ age + ph.ecog, family = binomial(), data = lung_ps).

    Expected: age -0.0280482775129838 (SE 0.0154115326857459), ph.ecog 0.00975829454896152
    (SE 0.195382377665973); 1e-6 relative for estimate, z, p. R's SE come from the weights of
    its last IRLS solve (~1e-7 from a converged information matrix); cartlens reproduces
    that, so the SE are checked to 1e-9."""
    ref = PS["ps_model"]["coefficients"]
    assert fit.terms == ("Intercept", "age", "ph.ecog")
    for i, term in enumerate(["(Intercept)", "age", "ph.ecog"]):
        r = ref[term]
        assert fit.coef[i] == pytest.approx(r["estimate"], rel=1e-6)
        assert fit.se[i] == pytest.approx(r["se"], rel=1e-9)
        assert fit.z[i] == pytest.approx(r["z"], rel=1e-6)
        assert fit.p[i] == pytest.approx(r["p"], rel=1e-6)


def test_deviance_aic_and_scores_match_r(fit):
    """R: deviance 301.430692239869, null 304.886793600203, AIC 307.430692239869; fitted()."""
    m = PS["ps_model"]
    assert fit.deviance == pytest.approx(m["deviance"], rel=1e-6)
    assert fit.null_deviance == pytest.approx(m["null_deviance"], rel=1e-6)
    assert fit.aic == pytest.approx(m["aic"], rel=1e-6)
    np.testing.assert_allclose(fit.ps, m["ps_values"], rtol=1e-6)
    s = fit.summary()
    for k in ("min", "max", "mean_treated", "mean_control", "sd_all"):
        assert s[k] == pytest.approx(m["ps_summary"][k], rel=1e-6)
    assert (fit.n, fit.n_treated, fit.n_control) == (PS["n"], PS["n_treated"], PS["n_control"])


def test_missing_rows_dropped_and_counted():
    """The full lung data has one missing ph.ecog: 227 rows used, 1 dropped, same fit."""
    df = pd.read_csv(REFERENCE / "data" / "lung.csv")
    df["female"] = (df["sex"] == 2).astype(int)
    fit = propensity_score("age + ph.ecog", df, treatment="female")
    assert fit.n == 227 and fit.n_dropped_missing == 1
    assert df["ph.ecog"].iloc[fit.rows].notna().all()
    np.testing.assert_allclose(fit.ps, PS["ps_model"]["ps_values"], rtol=1e-6)


def test_treated_level_for_two_valued_column():
    """sex coded 1/2 with treated=2 gives the same model as female = sex == 2."""
    df = lung_ps()
    fit = propensity_score("age + ph.ecog", df, treatment="sex", treated=2)
    np.testing.assert_allclose(fit.ps, PS["ps_model"]["ps_values"], rtol=1e-6)
    assert fit.treated_level == "2"


def test_terms_table_shape(fit):
    table = fit.terms_table()
    assert [t["term"] for t in table] == list(fit.terms)
    assert set(table[0]) == {"term", "coef", "se", "z", "p"}
    assert fit.to_dict()["n"] == 227


def test_non_binary_treatment_is_an_input_error():
    df = lung_ps()
    with pytest.raises(InputError, match="ph.ecog"):
        propensity_score("age", df, treatment="ph.ecog")
    with pytest.raises(InputError, match="treated="):
        propensity_score("age", df, treatment="sex")


def test_constant_covariate_is_an_input_error():
    df = lung_ps().assign(one=1.0)
    with pytest.raises(InputError, match="one"):
        propensity_score("female ~ age + one", df)


def test_missing_column_and_empty_formula():
    df = lung_ps()
    with pytest.raises(InputError):
        propensity_score("female ~ age + nosuch", df)
    with pytest.raises(InputError):
        propensity_score("", df, treatment="female")
    with pytest.raises(InputError, match="treatment"):
        propensity_score("age", df)


def test_binary_treatment_single_value():
    with pytest.raises(InputError, match="one value"):
        binary_treatment(np.ones(5))


def separated_data(n: int = 40):
    rng = np.random.default_rng(1)
    x = rng.normal(size=n)
    a = (x > 0).astype(int)
    return pd.DataFrame({"a": a, "x": x, "z": rng.normal(size=n)})


def test_separation_warns_and_firth_is_finite():
    df = separated_data()
    with pytest.warns(SeparationWarning):
        propensity_score("a ~ x + z", df)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparationWarning)
        fit = propensity_score("a ~ x + z", df, firth=True, warn_overlap=False)
    assert fit.method == "firth" and fit.converged
    assert np.all(np.isfinite(fit.coef)) and np.all((fit.ps > 0) & (fit.ps < 1))


def test_firth_shrinks_towards_zero_and_solves_modified_score():
    """Firth's estimate solves X'(y - p + h(1/2 - p)) = 0 and is smaller than the MLE."""
    df = lung_ps()
    ml = propensity_score("female ~ age + ph.ecog", df)
    X = np.column_stack([np.ones(len(df)), df["age"], df["ph.ecog"]])
    y = df["female"].to_numpy()
    res = firth_logistic(X, y)
    p = res["fitted"]
    w = p * (1 - p)
    xs = X * np.sqrt(w)[:, None]
    h = np.einsum("ij,jk,ik->i", xs, np.linalg.inv(X.T @ (X * w[:, None])), xs)
    np.testing.assert_allclose(X.T @ (y - p + h * (0.5 - p)), 0.0, atol=1e-8)
    assert abs(res["coef"][1]) < abs(ml.coef[1])


def test_no_overlap_warns():
    ps = np.array([0.1, 0.2, 0.15, 0.8, 0.9, 0.85])
    a = np.array([0, 0, 0, 1, 1, 1])
    with pytest.warns(OverlapWarning, match="do not overlap"):
        info = check_overlap(ps, a)
    assert info["overlap"] is False


def test_generalized_ps_three_groups():
    """Multinomial PS: rows of probs sum to 1 and the two-level case equals the binary fit."""
    df = lung_ps()
    df["grp"] = np.where(df["ph.ecog"] >= 2, "c", np.where(df["female"] == 1, "b", "a"))
    g = generalized_propensity_score("grp ~ age + wt_loss", df.assign(wt_loss=df["inst"]))
    assert g.levels == ("a", "b", "c")
    np.testing.assert_allclose(g.probs.sum(axis=1), 1.0)
    assert sum(g.n_by_level) == g.n
    two = generalized_propensity_score("female ~ age + ph.ecog", df)
    np.testing.assert_allclose(two.probs[:, 1], PS["ps_model"]["ps_values"], rtol=1e-6)


def test_pairwise_ps_rows_refer_to_input():
    df = lung_ps()
    df["grp"] = np.where(df["ph.ecog"] >= 2, "c", np.where(df["female"] == 1, "b", "a"))
    fits = pairwise_propensity_scores("grp ~ age", df, reference="a")
    assert set(fits) == {("a", "b"), ("a", "c")}
    f = fits[("a", "b")]
    assert set(df["grp"].iloc[f.rows]) == {"a", "b"}
    assert f.n_treated == int((df["grp"] == "b").sum())


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(60, 200))
def test_score_equations_hold(seed, n):
    """ML logistic with an intercept: sum (A - ps) x = 0 for every model column."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    a = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + X @ [0.5, -0.4, 0.2])))).astype(int)
    if a.sum() < 3 or a.sum() > n - 3:
        return
    fit = propensity_score_arrays(a, X)
    Xi = np.column_stack([np.ones(n), X])
    np.testing.assert_allclose(Xi.T @ (a - fit.ps), 0.0, atol=1e-7)


def test_firth_backend_agrees_with_own_firth():
    """The PS Firth fit (cartlens.stats.logistic) and this module's firth_logistic agree."""
    df = lung_ps()
    fit = propensity_score("female ~ age + ph.ecog", df, firth=True)
    X = np.column_stack([np.ones(len(df)), df["age"], df["ph.ecog"]])
    own = firth_logistic(X, df["female"].to_numpy())
    np.testing.assert_allclose(fit.coef, own["coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.se, np.sqrt(np.diag(own["vcov"])), rtol=1e-6)
    np.testing.assert_allclose(fit.ps, own["fitted"], rtol=1e-6)


def test_quasi_separation_warns():
    """Quasi-complete separation: x >= 0 is always treated, x < 0 mixed."""
    rng = np.random.default_rng(4)
    x = np.r_[rng.uniform(0, 2, 30), rng.uniform(-2, 0, 30)]
    a = np.r_[np.ones(30, int), rng.integers(0, 2, 30)]
    df = pd.DataFrame({"a": a, "x": (x >= 0).astype(float), "z": rng.normal(size=60)})
    with pytest.warns(SeparationWarning):
        fit = propensity_score("a ~ x + z", df, warn_overlap=False)
    assert fit.separation


def test_missing_categorical_rows_are_dropped():
    """A missing category is not silently coded as the reference level."""
    df = lung_ps()[["female", "age", "ph.ecog"]].copy()
    df["site"] = np.array(["a", "b", "c"])[np.arange(len(df)) % 3]
    df.loc[[4, 10], "site"] = None
    fit = propensity_score("female ~ age + C(site)", df)
    assert fit.n == len(df) - 2 and fit.n_dropped_missing == 2
    assert 4 not in fit.rows and 10 not in fit.rows
