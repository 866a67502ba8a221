"""The formula API gives R's numbers: each R call quoted in tests/data/reference (``r_call``)
is run as written through ``cartlens.coxph`` / ``survdiff`` / ``cox_zph`` / ``survfit`` /
``cuminc`` / ``crr`` / ``propensity`` / ``weight`` / ``match``, and compared with R's values
and with the array API (:mod:`cartlens.stats`) on the same data. The event is given as R gives
it (``status == 2``, lung's 1/2 coding, 0/1)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from _cox_reference import R_NAMES, jasa1, lung_ps, veteran
from _km_reference import jasa1_subj
from _km_reference import mgus2 as mgus2_km
from _mgus2 import REFERENCE, load_reference, mgus2_cr_frame

import cartlens as cl

RTOL_FIT = 1e-5  # fitted models, as the project's tolerance
RTOL = 1e-6


def lung() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / "lung.csv")


def mgus2_cr() -> pd.DataFrame:
    d = mgus2_cr_frame()
    d["agegrp"] = mgus2_km()["agegrp"]
    d["sexM"] = (d["sex"] == "M").astype(int)
    return d


FRAMES = {
    "lung": lung,
    "veteran": veteran,
    "jasa1": jasa1,
    "jasa1_subj": jasa1_subj,
    "mgus2_cr": mgus2_cr,
    "lung_ps": lung_ps,
}


def r_call_to_api(call: str):
    """``coxph(Surv(...) ~ ..., data = lung, ties = "efron", robust = TRUE, weights = sw)``
    -> (function name, formula, data frame, keyword arguments)."""
    m = re.fullmatch(r"(\w+)\((.*), data = (\w+)(.*)\)", call)
    assert m, call
    fun, formula, data, rest = m.groups()
    kw: dict = {}
    for k, v in re.findall(r", (\w+) = ([^,]+)", rest):
        v = v.strip()
        kw[k] = (
            True
            if v == "TRUE"
            else False
            if v == "FALSE"
            else v.strip('"')
            if v.startswith('"')
            else float(v)
            if re.fullmatch(r"[\d.]+", v)
            else v
        )
    return fun, formula, FRAMES[data](), kw


def _blocks(section: str, fun: str):
    out = []
    for name in ("lung", "veteran", "heart", "mgus2"):
        for key, block in load_reference(name).get(section, {}).items():
            if isinstance(block, dict) and block.get("r_call", "").startswith(fun + "("):
                out.append(pytest.param(block, id=f"{name}-{key}"))
    return out


def _arr(values) -> np.ndarray:
    """R's NA (null in the JSON) as NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _r_term(term: str) -> str:
    return R_NAMES.get(term, term)


COX = (
    _blocks("cox", "coxph")
    + _blocks("propensity", "coxph")
    + _blocks("mantel_byar_score_test", "coxph")
)


@pytest.mark.parametrize("block", COX)
def test_coxph_formula_api_matches_r(block):
    fun, formula, data, kw = r_call_to_api(block["r_call"])
    fit = cl.coxph(data, formula, **kw)
    assert fit.n == block["n"] and fit.events == block["nevent"]
    assert fit.n_dropped_missing == block.get("n_dropped_missing", 0)
    for rname, want in block["coefficients"].items():
        j = fit.terms.index(_r_term(rname))
        assert fit.coef[j] == pytest.approx(want["coef"], rel=RTOL_FIT, abs=1e-10)
        assert fit.se[j] == pytest.approx(want["se"], rel=RTOL_FIT)
        if "robust_se" in want:
            assert fit.robust_se[j] == pytest.approx(want["robust_se"], rel=RTOL_FIT)
        assert fit.p[j] == pytest.approx(want["p"], rel=RTOL_FIT)
    assert fit.loglik == pytest.approx(block["loglik_final"], rel=1e-9)
    for t in ("lr_test", "wald_test", "score_test"):
        if t in block:
            assert getattr(fit, t)["stat"] == pytest.approx(block[t]["stat"], rel=RTOL_FIT)


@pytest.mark.parametrize("block", _blocks("cox", "coxph"))
def test_coxph_formula_api_equals_the_array_api(block):
    """Same data, 0/1 event column, ``stats.cox.coxph`` on the design the API builds."""
    from cartlens.stats.cox import coxph
    from cartlens.stats.formula import design

    fun, formula, data, kw = r_call_to_api(block["r_call"])
    fit = cl.coxph(data, formula, **kw)
    mf = fit.frame
    d = design(mf.formula.rhs, mf.data)
    cluster = mf.formula.cluster
    arr = coxph(
        mf.time,
        mf.event,
        d.X,
        entry=mf.start,
        names=d.names,
        ties=kw.get("ties", "efron"),
        robust=kw.get("robust", False),
        cluster=None if not cluster else mf.data[cluster[0]].to_numpy(),
    )
    np.testing.assert_allclose(fit.coef, arr.coef, rtol=1e-12)
    np.testing.assert_allclose(fit.vcov, arr.vcov, rtol=1e-12)


@pytest.mark.parametrize("block", _blocks("logrank", "survdiff"))
def test_survdiff_matches_r(block):
    fun, formula, data, kw = r_call_to_api(block["r_call"])
    res = cl.survdiff(data, formula, rho=kw.get("rho", 0.0))
    assert res.chisq == pytest.approx(block["chisq"], rel=RTOL)
    assert res.df == block["df"]
    assert res.p == pytest.approx(block["p"], rel=RTOL)
    got = dict(zip(res.groups.labels, res.result.groups))
    for label, want in block["groups"].items():
        g = got[label]  # R's stratum labels, e.g. "sex=1", "celltype=squamous"
        assert g["n"] == want["n"]
        assert g["observed"] == pytest.approx(want["observed"], rel=RTOL)
        assert g["expected"] == pytest.approx(want["expected"], rel=RTOL)


@pytest.mark.parametrize("block", _blocks("cox_zph", "cox.zph"))
def test_cox_zph_matches_r(block):
    inner = re.fullmatch(r"cox\.zph\((coxph\(.*\)), transform.*", block["r_call"]).group(1)
    fun, formula, data, kw = r_call_to_api(inner)
    z = cl.cox_zph(cl.coxph(data, formula, **kw))
    rows = {r["term"]: r for r in z.terms}
    rows["GLOBAL"] = z.global_test
    for term, want in block["table"].items():
        assert rows[term]["chisq"] == pytest.approx(want["chisq"], rel=RTOL_FIT)
        assert rows[term]["df"] == want["df"]
        assert rows[term]["p"] == pytest.approx(want["p"], rel=RTOL_FIT)


@pytest.mark.parametrize("by", ["sex", "ph.ecog"])
@pytest.mark.parametrize("conf", ["log", "log-log", "plain"])
def test_survfit_matches_r_and_the_array_api(by, conf):
    """R: ``survfit(Surv(time, status == 2) ~ <by>, data = lung, conf.type = <conf>)`` and
    ``summary(fit, times = c(180, 365, 540, 730), extend = TRUE)``."""
    from cartlens.stats.km import kaplan_meier

    block = load_reference("lung")["km"][f"by_{by.replace('.', '_')}"]
    fit = cl.survfit(lung(), f"Surv(time, status == 2) ~ {by}", conf_type=conf)
    key = conf.replace("-", "_")
    for label, want in block["groups"].items():
        c = fit.curve(label)
        assert c.n == want["records"] and c.events == want["events"]
        med = want["median"][key]
        for ours, r in (
            (c.median, med["median"]),
            (c.median_lower, med["lower"]),
            (c.median_upper, med["upper"]),
        ):
            assert (np.isnan(ours) and r is None) or ours == pytest.approx(r, rel=RTOL)
        s = fit.summary(times=block["landmark_times"], extend=True).to_frame()
        s = s[s["strata"] == label]
        lm = want["landmarks"]
        np.testing.assert_allclose(s["survival"], _arr(lm["surv"]), rtol=RTOL)
        np.testing.assert_allclose(s["n.risk"], _arr(lm["n_risk"]), rtol=RTOL)
        np.testing.assert_allclose(s["std.err"], _arr(lm["std_err"]), rtol=RTOL)
    d = lung().dropna(subset=[by])
    arr = kaplan_meier(d["time"], (d["status"] == 2).astype(int), group=d[by], conf_type=conf)
    for a, b in zip(arr.curves, fit.curves):
        np.testing.assert_array_equal(a.surv, b.surv)
        np.testing.assert_array_equal(a.upper, b.upper)


def test_survfit_steps_match_r():
    """R: ``survfit(Surv(time, status == 2) ~ 1, data = lung)`` every step."""
    ref = load_reference("lung")["km_steps_overall"]
    c = cl.survfit(lung(), "Surv(time, status) ~ 1").curve()
    np.testing.assert_array_equal(c.time, ref["time"])
    np.testing.assert_allclose(c.surv, ref["surv"], rtol=1e-12)
    np.testing.assert_allclose(c.std_err, ref["std_err_surv"], rtol=RTOL)
    np.testing.assert_allclose(c.lower, ref["lower_log"], rtol=RTOL)


def test_cuminc_formula_and_keyword_forms_match_r():
    """R: ``cuminc(etime, event, group = sex, cencode = 0)`` and ``timepoints(fit, c(60, 120,
    240, 360))`` (mgus2); Gray's test statistics."""
    ref = load_reference("mgus2")["competing_risks"]["cuminc_by_sex"]
    d = mgus2_cr()
    a = cl.cuminc(d, "Hist(etime, event) ~ sex")
    b = cl.cuminc(d, time="etime", cause="event", group="sex")
    for fit in (a, b):
        s = fit.summary([60, 120, 240, 360]).to_frame()
        for key, want in ref["curves"].items():
            grp, cause = key.split()
            rows = s[(s["group"] == f"sex={grp}") & (s["cause"] == int(cause))]
            np.testing.assert_allclose(rows["estimate"], want["est"], rtol=RTOL)
            np.testing.assert_allclose(rows["variance"], want["var"], rtol=RTOL)
    assert len(a.gray_test) == len(ref["gray_test"]) == 2
    for cause, want in ref["gray_test"].items():
        gt = next(t for t in a.gray_test if str(t.cause) == str(cause))
        assert gt.stat == pytest.approx(want["stat"], rel=RTOL)
        assert gt.p == pytest.approx(want["p"], rel=RTOL)


@pytest.mark.parametrize("which, failcode", [("crr_pcm", 1), ("crr_death", 2)])
def test_crr_matches_r(which, failcode):
    ref = load_reference("mgus2")["competing_risks"][which]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = cl.crr(mgus2_cr(), "Hist(etime, event) ~ sexM + age", failcode=failcode)
    assert fit.n == ref["n"]
    for term, want in ref["coefficients"].items():
        j = fit.terms.index(term)
        assert fit.coef[j] == pytest.approx(want["coef"], rel=1e-4)
        assert fit.se[j] == pytest.approx(want["se"], rel=1e-4)


def test_propensity_and_weights_match_r():
    """R: ``glm(female ~ age + ph.ecog, family = binomial(), data = lung_ps)`` and the
    stabilised weights of the reference (``sw``)."""
    ref = load_reference("lung")["propensity"]["ps_model"]
    d = lung_ps()
    ps = cl.propensity(d, "female ~ age + ph.ecog")
    for term, want in ref["coefficients"].items():
        j = ps.terms.index("Intercept" if term == "(Intercept)" else term)
        assert ps.coef[j] == pytest.approx(want["estimate"], rel=RTOL)
        assert ps.se[j] == pytest.approx(want["se"], rel=RTOL)
    np.testing.assert_allclose(ps.ps, ref["ps_values"], rtol=RTOL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = cl.weight(d, "female ~ age + ph.ecog", stabilize=True)
    np.testing.assert_allclose(w.weights, d["sw"], rtol=RTOL)
    wd = w.data()
    fit = cl.coxph(wd, "Surv(time, dead) ~ female", weights="weights", robust=True)
    want = load_reference("lung")["propensity"]["weighted_cox_sw"]["coefficients"]["female"]
    assert fit.coef[0] == pytest.approx(want["coef"], rel=RTOL_FIT)
    assert fit.robust_se[0] == pytest.approx(want["robust_se"], rel=RTOL_FIT)


def test_match_matches_matchit_and_the_array_api():
    """R: ``matchit(female ~ age + ph.ecog, data = lung_ps, method = "nearest",
    distance = "glm", caliper = 0.2, ratio = 1)``. The installed MatchIt 4.5.1 ignores its
    caliper (see tests/stats/test_matching.py), so its sample-size table is compared with
    ``caliper=None`` and its caliper width with ours; the caliper match equals
    ``stats.matching.propensity_match`` on the PS scale (MatchIt's ``distance = "glm"``)."""
    from cartlens.stats.matching import propensity_match

    ref = load_reference("lung")["propensity"]["matchit"]
    d = lung_ps()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        free = cl.match(d, "female ~ age + ph.ecog", caliper=None)
        m = cl.match(d, "female ~ age + ph.ecog", caliper=0.2)
        _, arr = propensity_match("age + ph.ecog", d, treatment="female", scale="ps")
    for k in ("All", "Matched", "Unmatched"):
        assert free.nn[k] == ref["nn"][k]
    assert m.caliper_width == pytest.approx(ref["caliper_width_ps_scale"], rel=RTOL)
    np.testing.assert_array_equal(m.pairs_treated, arr.pairs_treated)
    np.testing.assert_array_equal(m.pairs_control, arr.pairs_control)
    md = m.data()
    assert len(md) == 2 * m.nn["Matched"]["treated"]
    assert {"subclass", "weights"} <= set(md.columns)


def test_glm_logistic_matches_r_and_the_array_api():
    from cartlens.stats.logistic import logistic_regression

    ref = load_reference("lung")["propensity"]["ps_model"]
    fit = cl.glm_logistic(lung_ps(), "female ~ age + ph.ecog")
    for term, want in ref["coefficients"].items():
        j = fit.terms.index(term)
        assert fit.coef[j] == pytest.approx(want["estimate"], rel=RTOL)
    assert fit.deviance == pytest.approx(ref["deviance"], rel=1e-9)
    endo = pd.read_csv(REFERENCE.parent / "logistic" / "endometrial.csv")
    a = cl.glm_logistic(endo, "HG ~ NV + PI + EH", firth=True)
    b = logistic_regression("HG ~ NV + PI + EH", endo, firth=True)
    np.testing.assert_array_equal(a.coef, b.coef)
    np.testing.assert_array_equal(a.lower, b.lower)
    assert "logistf(formula = HG ~ NV + PI + EH" in str(a)
