"""Fine-Gray regression (cmprsk::crr) against R."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from _mgus2 import DATA, load_reference, mgus2_cr_frame

from cartlens.errors import (
    CollinearityWarning,
    ConvergenceWarning,
    InputError,
    SeparationWarning,
)
from cartlens.stats.finegray import (
    cause_specific_cox,
    finegray,
    finegray_formula,
    predict_cif,
)


@pytest.fixture(scope="module")
def mgus2_cr():
    d = mgus2_cr_frame()
    d["sexM"] = (d.sex == "M").astype(float)
    return d


@pytest.fixture(scope="module")
def sim():
    d = pd.read_csv(DATA / "competing" / "crr3.csv")
    ref = json.loads((DATA / "competing" / "sim3.json").read_text())["crr3"]
    return d, ref


@pytest.mark.parametrize(("failcode", "key"), [(1, "crr_pcm"), (2, "crr_death")])
def test_crr_mgus2(mgus2_cr, failcode, key):
    """R: crr(etime, event, cbind(sexM, age), failcode = 1 or 2, cencode = 0, gtol = 1e-12,
    maxiter = 100) -> mgus2.json competing_risks.crr_pcm / crr_death (coef, se, shr and CI, z, p,
    loglik, loglik_null, lr_stat)."""
    ref = load_reference("mgus2")["competing_risks"][key]
    d = mgus2_cr
    res = finegray(d.etime, d.event, d[["sexM", "age"]], failcode=failcode, names=["sexM", "age"])
    assert res.converged
    for i, term in enumerate(res.terms):
        c = ref["coefficients"][term]
        assert res.coef[i] == pytest.approx(c["coef"], rel=1e-4)
        assert res.se[i] == pytest.approx(c["se"], rel=1e-4)
        assert res.shr[i] == pytest.approx(c["shr"], rel=1e-4)
        assert res.shr_lower[i] == pytest.approx(c["shr_lower95"], rel=1e-4)
        assert res.shr_upper[i] == pytest.approx(c["shr_upper95"], rel=1e-4)
        assert res.z[i] == pytest.approx(c["z"], rel=1e-4)
        assert res.p[i] == pytest.approx(c["p"], rel=1e-4)
    np.testing.assert_allclose(res.vcov, ref["vcov"], rtol=1e-4)
    assert res.loglik == pytest.approx(ref["loglik"], rel=1e-8)
    assert res.loglik_null == pytest.approx(ref["loglik_null"], rel=1e-10)
    assert res.lr_test["stat"] == pytest.approx(ref["lr_stat"], rel=1e-5)
    assert res.lr_test["df"] == ref["lr_df"]
    assert res.n == ref["n"]
    table = res.terms_table()
    assert [r["term"] for r in table] == ["sexM", "age"]
    assert table[0]["hr"] == pytest.approx(ref["coefficients"]["sexM"]["shr"], rel=1e-4)


def test_crr_three_covariates_and_predict(sim):
    """R (tests/data/competing/make_competing.R): crr(ftime, status, cbind(x1, x2, x3),
    gtol = 1e-12, maxiter = 100) and predict(fit, rbind(c(0, 60, 0), c(1, 70, -1)))."""
    d, ref = sim
    X = d[["x1", "x2", "x3"]].to_numpy(float)
    res = finegray(d.ftime, d.status, X, gtol=1e-12)
    np.testing.assert_allclose(res.coef, ref["main"]["coef"], rtol=1e-6)
    np.testing.assert_allclose(res.se, ref["main"]["se"], rtol=1e-6)
    np.testing.assert_allclose(res.vcov, ref["main"]["vcov"], rtol=1e-6, atol=1e-14)
    assert res.loglik == pytest.approx(ref["main"]["loglik"], rel=1e-9)
    pr = predict_cif(res, [[0, 60, 0], [1, 70, -1]])
    np.testing.assert_array_equal(pr["time"], ref["predict"]["time"])
    np.testing.assert_allclose(pr["cif"][:, 0], ref["predict"]["cif1"], rtol=1e-6)
    np.testing.assert_allclose(pr["cif"][:, 1], ref["predict"]["cif2"], rtol=1e-6)
    assert np.all(np.diff(pr["cif"], axis=0) >= 0)


def test_crr_cengroup(sim):
    """R: crr(ftime, status, cbind(x1, x2, x3), cengroup = cg, gtol = 1e-12, maxiter = 100)."""
    d, ref = sim
    X = d[["x1", "x2", "x3"]].to_numpy(float)
    res = finegray(d.ftime, d.status, X, cengroup=d.cg.to_numpy(), gtol=1e-12)
    np.testing.assert_allclose(res.coef, ref["cengroup"]["coef"], rtol=1e-6)
    np.testing.assert_allclose(res.se, ref["cengroup"]["se"], rtol=1e-6)
    np.testing.assert_allclose(res.vcov, ref["cengroup"]["vcov"], rtol=1e-6, atol=1e-14)


def test_formula_interface_and_row_order(mgus2_cr):
    """finegray_formula('sex + age') codes sex as sex[M] (reference F), as crr with sexM."""
    d = mgus2_cr
    res = finegray_formula("sex + age", d, time="etime", status="event", failcode=2)
    assert res.terms == ("sex[M]", "age")
    perm = np.random.default_rng(3).permutation(len(d))
    res2 = finegray_formula(
        "sex + age", d.iloc[perm].reset_index(drop=True), time="etime", status="event", failcode=2
    )
    np.testing.assert_allclose(res.coef, res2.coef, rtol=1e-9)
    np.testing.assert_allclose(res.se, res2.se, rtol=1e-9)


def test_cause_specific_cox_matches_coxph(mgus2_cr):
    """R: coxph(Surv(etime, event == 1) ~ sex + age, ties = "efron") (mgus2.json
    cox.cause_specific_pcm_efron)."""
    ref = load_reference("mgus2")["cox"]["cause_specific_pcm_efron"]
    d = mgus2_cr
    fit = cause_specific_cox(d.etime, d.event, d[["sexM", "age"]].to_numpy(), cause=1)
    for i, term in enumerate(("sexM", "age")):
        assert fit.coef[i] == pytest.approx(ref["coefficients"][term]["coef"], rel=1e-5)
        assert fit.se[i] == pytest.approx(ref["coefficients"][term]["se"], rel=1e-5)


def test_default_tolerance_warns_with_tiny_maxiter(mgus2_cr):
    d = mgus2_cr
    with pytest.warns(ConvergenceWarning):
        finegray(d.etime, d.event, d[["sexM", "age"]], maxiter=1)


def test_bad_input(mgus2_cr):
    d = mgus2_cr
    with pytest.raises(InputError, match="X"):
        finegray(d.etime, d.event, np.ones((3, 2)))
    x = d[["age"]].to_numpy(dtype=float).copy()
    x[5] = np.nan
    with pytest.raises(InputError, match="row 6"):
        finegray(d.etime, d.event, x)
    with pytest.raises(InputError, match="no events with failcode 9"), pytest.warns(Warning):
        finegray(d.etime, d.event, d[["age"]], failcode=9)


def test_without_competing_events_equals_breslow_cox_with_robust_se(mgus2_cr):
    """With no competing events the IPCW weights never enter: Fine-Gray is the Cox model with
    Breslow ties, and crr's sandwich (psi = 0) is the Lin-Wei robust variance
    (R: coxph(Surv(etime, event == 1) ~ sexM + age, ties = "breslow", robust = TRUE))."""
    from cartlens.stats.cox import coxph

    d = mgus2_cr
    status = np.where(d.event == 1, 1, 0)
    X = d[["sexM", "age"]].to_numpy()
    fg = finegray(d.etime, status, X)
    cx = coxph(d.etime.to_numpy(), status, X, ties="breslow", robust=True)
    np.testing.assert_allclose(fg.coef, cx.coef, rtol=1e-7)
    np.testing.assert_allclose(fg.se, cx.robust_se, rtol=1e-6)
    assert fg.loglik == pytest.approx(cx.loglik, rel=1e-9)


def _separated():
    """Twelve subjects; the covariate is 1 exactly for the cause-1 events (all earlier)."""
    died = (np.arange(12) % 3 != 0).astype(int)
    t = np.where(died == 1, 2.0, 50.0) + np.arange(12)
    return t, died, died.reshape(-1, 1).astype(float)


def test_separation_warns_naming_the_term():
    """Monotone pseudo-likelihood. R: ``crr(t, died, cbind(x = died))`` stops with
    ``converged = FALSE`` and coef 11.55 after its 10 iterations (the coefficient diverges);
    here the fit runs on to a numerical optimum and warns as coxph does ("Loglik converged
    before variable x")."""
    t, died, x = _separated()
    with pytest.warns(SeparationWarning, match="before variable.*sep"):
        res = finegray(t, died, x, names=["sep"])
    assert res.coef[0] > 10  # diverging, but a defined (finite) result
    assert np.isfinite(res.loglik)


def test_no_separation_warning_on_a_regular_fit(mgus2_cr):
    d = mgus2_cr
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparationWarning)
        res = finegray(d.etime, d.event, d[["sexM", "age"]])
    assert res.converged


def test_collinear_term_is_aliased_as_coxph(mgus2_cr):
    """``age2 = 2 * age + 1``: crr stops with "system is exactly singular"; as coxph, the later
    term is dropped with NaN and the others equal the fit without it."""
    d = mgus2_cr
    X = np.column_stack([d.sexM, d.age, 2 * d.age + 1])
    with pytest.warns(CollinearityWarning, match="age2"):
        res = finegray(d.etime, d.event, X, names=["sexM", "age", "age2"])
    ref = finegray(d.etime, d.event, X[:, :2], names=["sexM", "age"])
    np.testing.assert_allclose(res.coef[:2], ref.coef, rtol=1e-10)
    np.testing.assert_allclose(res.se[:2], ref.se, rtol=1e-10)
    assert np.isnan(res.coef[2]) and np.isnan(res.se[2]) and np.isnan(res.p[2])
    assert res.settings["aliased"] == ("age2",)
    np.testing.assert_allclose(
        predict_cif(res, X[:3])["cif"], predict_cif(ref, X[:3, :2])["cif"], rtol=1e-10
    )
    assert json.dumps(res.to_dict(), allow_nan=False)


def test_constant_or_single_row_covariate_is_an_input_error_naming_it(mgus2_cr):
    d = mgus2_cr
    with pytest.raises(InputError, match="'age2'.*constant"):
        finegray(d.etime, d.event, np.full((len(d), 1), 7.0), names=["age2"])
    with pytest.raises(InputError, match="'age2'"):
        finegray([5.0], [1], [[60.0]], names=["age2"])


def test_time_errors_name_the_callers_column(mgus2_cr):
    d = mgus2_cr
    t = d.etime.to_numpy(dtype=float).copy()
    t[3] = -4
    with pytest.raises(InputError, match="'time'") as exc:
        finegray(t, d.event, d[["age"]])
    assert exc.value.column == "time"
    with pytest.raises(InputError, match="'os_days'.*-4"):
        finegray(t, d.event, d[["age"]], input_names={"time": "os_days", "event": "status"})
    frame = d.assign(os_days=t)
    with pytest.raises(InputError, match="'os_days'"):
        finegray_formula("age", frame, time="os_days", status="event")
