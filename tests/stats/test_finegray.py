"""Fine-Gray regression (cmprsk::crr) against R."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartlens.errors import ConvergenceWarning, InputError
from cartlens.stats.finegray import (
    cause_specific_cox,
    finegray,
    finegray_formula,
    predict_cif,
)

# the R reference copies (tests/data/reference); defined here rather than imported from
# conftest, whose module name is ambiguous when several test folders have one
REFERENCE = Path(__file__).parents[1] / "data" / "reference"


def load_reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def mgus2_cr():
    d = pd.read_csv(REFERENCE / "data" / "mgus2.csv")
    d["etime"] = np.where(d.pstat == 0, d.futime, d.ptime).astype(float)
    d["event"] = np.where(d.pstat == 0, 2 * d.death, 1).astype(int)
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
