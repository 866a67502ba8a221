"""Cox proportional hazards against R's coxph (reference JSON in tests/data/reference), and by
properties, lifelines, statsmodels and bad input.

Every reference block quotes its R call in ``r_call``, e.g.
``coxph(Surv(time, status == 2) ~ sex + age + ph.ecog, data = lung, ties = "efron")`` gives
sex coef -0.552612395703631, se 0.167739053787263, loglik -729.230121374862.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from _cox_reference import COX_CASES, R_NAMES, case_id, fit_case, lung, reference_block
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartlens.errors import CollinearityWarning, InputError, SeparationWarning
from cartlens.stats.cox import coxph, coxph_formula

FIT = 1e-5  # iteratively fitted values
EXACT = 1e-6  # log likelihoods and closed forms
CASES = list(COX_CASES)


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))


@pytest.fixture(scope="module")
def fits():
    return {}


def _get(fits, case):
    if case not in fits:
        fits[case] = fit_case(case)
    return fits[case]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_coefficients_match_r(fits, case):
    """coef, se, robust_se, hr and its CI, z, p per term as ``r_call`` in the block."""
    ref = reference_block(case)
    fit = _get(fits, case)
    assert fit.n == ref["n"] and fit.events == ref["nevent"]
    assert fit.n_dropped_missing == ref["n_dropped_missing"]
    table = {row["term"]: row for row in fit.terms_table()}
    assert len(table) == len(ref["coefficients"])
    for rname, rc in ref["coefficients"].items():
        j = fit.terms.index(R_NAMES.get(rname, rname))
        assert fit.coef[j] == pytest.approx(rc["coef"], rel=FIT)
        assert fit.se[j] == pytest.approx(rc["se"], rel=FIT)
        if "robust_se" in rc:
            assert fit.robust_se[j] == pytest.approx(rc["robust_se"], rel=FIT)
        row = table[fit.terms[j]]
        assert row["hr"] == pytest.approx(rc["hr"], rel=FIT)
        assert row["lower"] == pytest.approx(rc["hr_lower95"], rel=FIT)
        assert row["upper"] == pytest.approx(rc["hr_upper95"], rel=FIT)
        assert row["z"] == pytest.approx(rc["z"], rel=FIT)
        assert row["p"] == pytest.approx(rc["p"], rel=FIT)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_loglik_and_tests_match_r(fits, case):
    """loglik_null/final (1e-6), LR, Wald, score and robust score tests, iteration count."""
    ref = reference_block(case)
    fit = _get(fits, case)
    assert fit.loglik_null == pytest.approx(ref["loglik_null"], rel=EXACT)
    assert fit.loglik == pytest.approx(ref["loglik_final"], rel=EXACT)
    assert fit.iterations == ref["iterations"]
    assert fit.converged
    for key in ("lr_test", "wald_test", "score_test", "robust_score_test"):
        if key not in ref:
            assert key != "robust_score_test" or fit.robust_score_test is None
            continue
        got = getattr(fit, key)
        assert got["df"] == ref[key]["df"]
        assert got["stat"] == pytest.approx(ref[key]["stat"], rel=FIT)
        assert got["p"] == pytest.approx(ref[key]["p"], rel=FIT)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_vcov_matches_r(fits, case):
    """``vcov`` (robust in robust fits) and ``naive_vcov`` in R's term order."""
    ref = reference_block(case)
    fit = _get(fits, case)
    order = ref["vcov_order"]
    order = [order] if isinstance(order, str) else order
    idx = [fit.terms.index(R_NAMES.get(t, t)) for t in order]
    v = np.asarray(ref["vcov"], float)
    np.testing.assert_allclose(fit.vcov[np.ix_(idx, idx)], v, rtol=FIT, atol=1e-5 * np.abs(v).max())
    if "naive_vcov" in ref:
        nv = np.asarray(ref["naive_vcov"], float)
        np.testing.assert_allclose(
            fit.naive_vcov[np.ix_(idx, idx)], nv, rtol=FIT, atol=1e-5 * np.abs(nv).max()
        )


def test_strata_equal_separate_likelihoods():
    """A stratified fit's loglik at beta = 0 is the sum of the strata's null logliks, and
    the stratified score equals the sum of per-stratum scores (hand check of the engine)."""
    d = lung().dropna(subset=["ph.ecog"])
    full = coxph(d["time"], d["dead"], d[["age"]], strata=d["sex"], concordance=False)
    parts = [
        coxph(g["time"], g["dead"], g[["age"]], concordance=False).loglik_null
        for _, g in d.groupby("sex")
    ]
    assert full.loglik_null == pytest.approx(sum(parts), rel=1e-12)


def test_counting_process_split_rows_equal_unsplit():
    """Splitting every row into (0, t/2] and (t/2, t] leaves the fit unchanged (risk set
    start < t <= stop; statsmodels' entry convention would double count)."""
    d = lung().dropna(subset=["ph.ecog"])
    t, e, X = d["time"].to_numpy(float), d["dead"].to_numpy(), d[["sex", "age"]].to_numpy()
    one = coxph(t, e, X, concordance=False)
    mid = t / 2
    two = coxph(
        np.r_[mid, t],
        np.r_[np.zeros_like(e), e],
        np.r_[X, X],
        entry=np.r_[np.zeros_like(t), mid],
        concordance=False,
    )
    np.testing.assert_allclose(two.coef, one.coef, rtol=1e-10)
    np.testing.assert_allclose(two.se, one.se, rtol=1e-10)
    assert two.loglik == pytest.approx(one.loglik, rel=1e-12)


def test_integer_weights_equal_replicated_rows():
    """Case weight 2 = the row twice (Breslow; under Efron, R's weighted semantics average
    the weights of tied deaths, so replication and weighting differ there as in R)."""
    d = lung().dropna(subset=["ph.ecog"]).iloc[:80]
    rng = np.random.default_rng(1)
    w = rng.integers(1, 3, len(d))
    rep = d.loc[d.index.repeat(w)]
    for ties in ("breslow",):
        a = coxph(d["time"], d["dead"], d[["age", "sex"]], weights=w, ties=ties)
        b = coxph(rep["time"], rep["dead"], rep[["age", "sex"]], ties=ties)
        np.testing.assert_allclose(a.coef, b.coef, rtol=1e-8)
        np.testing.assert_allclose(a.se, b.se, rtol=1e-8)


def test_baseline_cumhaz_breslow_at_zero_is_nelson_aalen():
    """With beta = 0 effect (a constant column dropped) the Breslow baseline is Nelson-Aalen."""
    t = np.array([1.0, 2, 2, 3, 4, 5])
    e = np.array([1, 1, 0, 1, 0, 1])
    x = np.array([0.5, -0.1, 0.3, 0.2, -0.4, 0.0])
    fit = coxph(t, e, x[:, None], ties="breslow", iter_max=0, concordance=False)
    base = fit.baseline
    np.testing.assert_allclose(base["times"], [1, 2, 3, 5])
    np.testing.assert_allclose(base["cumhaz"], np.cumsum([1 / 6, 1 / 5, 1 / 3, 1 / 1]))


def test_dataframe_columns_name_the_terms():
    d = lung().dropna(subset=["ph.ecog"])
    fit = coxph(d["time"], d["dead"], d[["sex", "age"]], concordance=False)
    assert fit.terms == ("sex", "age")
    assert coxph(d["time"], d["dead"], d["age"], concordance=False).terms == ("age",)


def test_row_order_invariance():
    d = lung().dropna(subset=["ph.ecog"])
    a = coxph_formula("sex + age + ph.ecog", d, time="time", event="dead")
    b = coxph_formula(
        "sex + age + ph.ecog", d.sample(frac=1, random_state=3), time="time", event="dead"
    )
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10)
    np.testing.assert_allclose(a.se, b.se, rtol=1e-10)
    assert a.concordance["concordance"] == pytest.approx(b.concordance["concordance"], rel=1e-12)


@st.composite
def _survival_data(draw):
    n = draw(st.integers(15, 60))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    t = np.ceil(rng.exponential(5 * np.exp(-0.4 * X[:, 0]), n))  # integer times: ties
    e = (rng.random(n) < 0.75).astype(int)
    if e.sum() < 3:
        e[:3] = 1
    w = rng.uniform(0.5, 2.0, n)
    return t, e, X, w, rng


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_survival_data())
def test_property_row_order_and_lifelines_efron(data):
    """Row order does not matter; lifelines CoxPHFitter (Efron, tight tolerance) agrees."""
    import pandas as pd
    from lifelines import CoxPHFitter

    t, e, X, _, rng = data
    fit = coxph(t, e, X)
    perm = rng.permutation(t.size)
    fit2 = coxph(t[perm], e[perm], X[perm])
    np.testing.assert_allclose(fit2.coef, fit.coef, rtol=1e-8, atol=1e-10)
    df = pd.DataFrame({"t": t, "e": e, "x1": X[:, 0], "x2": X[:, 1]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # lifelines stops by default when the log-likelihood changes by less than 1e-9
        # relative (r_precision), which leaves coefficients off by ~1e-4 relative on flat
        # likelihoods; fit the oracle to full precision before comparing
        opts = {"precision": 1e-12, "r_precision": 1e-15, "max_steps": 500}
        cph = CoxPHFitter().fit(df, "t", "e", fit_options=opts)
    # compare at the precision the oracle can promise: both fitted to full precision, ours is
    # the maximum, and the coefficients differ by no more than the log-likelihood gap allows
    # (quadratic approximation: |db_j| <= sqrt(2 gap) se_j; doubled for safety)
    full = coxph(t, e, X, eps=1e-14, iter_max=100)
    ll, ll_o = full.loglik, cph.log_likelihood_
    assert ll >= ll_o - 1e-12 * abs(ll)
    gap = ll - ll_o + 1e-12 * abs(ll)
    tol = 2 * np.sqrt(2 * gap) * full.se + 1e-12
    assert np.all(np.abs(full.coef - cph.params_.to_numpy()) <= tol)
    np.testing.assert_allclose(full.se, cph.standard_errors_.to_numpy(), rtol=1e-5)
    assert fit.loglik == pytest.approx(ll_o, rel=1e-8)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_survival_data())
def test_property_statsmodels_breslow(data):
    """statsmodels PHReg (Breslow ties, right-censored, unweighted) agrees."""
    from statsmodels.duration.hazard_regression import PHReg

    t, e, X, _, _ = data
    fit = coxph(t, e, X, ties="breslow")
    res = PHReg(t, X, status=e, ties="breslow").fit()
    np.testing.assert_allclose(fit.coef, res.params, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fit.se, res.bse, rtol=1e-5)
    assert fit.loglik == pytest.approx(res.llf, rel=1e-8)


def test_collinear_column_dropped_with_warning():
    """R: coxph(... ~ age + age2) with age2 = 2*age gives NA for age2."""
    d = lung().dropna(subset=["ph.ecog"]).copy()
    d["age2"] = 2 * d["age"]
    with pytest.warns(CollinearityWarning, match="age2"):
        fit = coxph_formula("age + age2 + sex", d, time="time", event="dead")
    assert np.isnan(fit.coef[1])
    ref = coxph_formula("age + sex", d, time="time", event="dead")
    np.testing.assert_allclose(fit.coef[[0, 2]], ref.coef, rtol=1e-10)
    assert fit.aliased == ("age2",)


def test_separation_warns_and_firth_is_finite():
    """Monotone likelihood: every death in group x = 1 before any in x = 0."""
    t = np.arange(1.0, 21.0)
    x = (t <= 10).astype(float)
    e = np.ones(20, dtype=int)
    e[::3] = 0
    with pytest.warns(SeparationWarning):
        fit = coxph(t, e, x[:, None])
    assert abs(fit.coef[0]) > 5
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparationWarning)
        firth = coxph(t, e, x[:, None], firth=True)
    assert np.isfinite(firth.coef[0]) and 0 < firth.coef[0] < 10
    assert np.isfinite(firth.se[0])


@pytest.mark.parametrize(
    "kwargs, column",
    [
        ({"time": [1.0, 2.0], "event": [0, 0]}, "event"),
        ({"time": [1.0], "event": [1]}, "time"),
        ({"time": [1.0, np.nan, 3.0], "event": [1, 0, 1]}, "time"),
        ({"time": [1.0, 2.0, 3.0], "event": [1, 2, 1]}, "event"),
        ({"time": [1.0, -2.0, 3.0], "event": [1, 0, 1]}, "time"),
    ],
)
def test_bad_input_is_input_error(kwargs, column):
    X = np.arange(len(kwargs["time"]), dtype=float)[:, None]
    with pytest.raises(InputError) as err:
        coxph(kwargs["time"], kwargs["event"], X)
    assert err.value.column == column


def test_start_not_before_stop_is_input_error():
    with pytest.raises(InputError, match="start 2.0 >= stop 2.0"):
        coxph([2.0, 3.0], [1, 1], [[0.0], [1.0]], entry=[2.0, 1.0])


def test_unknown_column_is_input_error():
    d = lung()
    with pytest.raises(InputError, match="nosuch"):
        coxph_formula("age + nosuch", d, time="time", event="dead")
    with pytest.raises(InputError, match="tim"):
        coxph_formula("age", d, time="tim", event="dead")


def test_firth_maximises_penalised_likelihood():
    """Firth (Heinze & Schemper 2001): at the estimate, the numerical gradient of
    l(b) + 0.5 log det I(b) (Breslow partial likelihood) vanishes; no coxphf in CI, so the
    check is by definition."""
    from cartlens.stats.cox import _CoxEngine

    rng = np.random.default_rng(5)
    n = 40
    X = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)]).astype(float)
    t = np.ceil(rng.exponential(5 * np.exp(-X[:, 0]), n))
    e = (rng.random(n) < 0.8).astype(int)
    fit = coxph(t, e, X, firth=True)
    assert fit.converged and fit.firth and fit.ties == "breslow"
    eng = _CoxEngine(t, e, X - X.mean(axis=0), None, np.zeros(n, int), np.ones(n), "breslow")

    def pen(b):
        st = eng.evaluate(b)
        return st["loglik"] + 0.5 * np.linalg.slogdet(st["info"])[1]

    h = 1e-5
    grad = [
        (pen(fit.coef + h * np.eye(2)[j]) - pen(fit.coef - h * np.eye(2)[j])) / (2 * h)
        for j in range(2)
    ]
    np.testing.assert_allclose(grad, 0, atol=1e-6)
    assert fit.loglik == pytest.approx(pen(fit.coef), rel=1e-12)
    assert fit.lr_test["stat"] == pytest.approx(2 * (pen(fit.coef) - pen(np.zeros(2))), rel=1e-9)


def test_firth_close_to_mle_on_large_data():
    """The penalty's bias correction is O(1/n): on lung it moves coefficients only a little."""
    d = lung().dropna(subset=["ph.ecog"])
    mle = coxph_formula("sex + age + ph.ecog", d, time="time", event="dead", ties="breslow")
    fir = coxph_formula("sex + age + ph.ecog", d, time="time", event="dead", firth=True)
    np.testing.assert_allclose(fir.coef, mle.coef, rtol=0.05)


# R (survival 3.5-3) on tests/data/cox/strata_weights_counting.csv (made in R with set.seed(3);
# (start, stop] rows, 3 strata, case weights, 150 clusters of 2 rows):
#   f <- coxph(Surv(start, stop, event) ~ x1 + x2 + strata(s) + cluster(id), data = d,
#              weights = w, ties = "efron")
#   f2 <- coxph(Surv(stop, event) ~ x1 + x2 + strata(s), data = d, weights = w,
#               ties = "breslow", robust = TRUE)
# printed with sprintf("%.12g"): coef, naive se, robust se, loglik, score, wald, rscore,
# concordance, its se.
R_STRATA_WEIGHTS = {
    "efron_cluster": [
        0.0108215004345,
        0.172374806834,
        0.0689571278474,
        0.134062060134,
        0.0764861161434,
        0.154632730727,
        -882.764710104,
        -881.918306752,
        1.70683492426,
        1.28444834758,
        1.28384146468,
        0.523018092568,
        0.0275625483368,
    ],
    "breslow_robust": [
        0.00179313734368,
        0.141559635295,
        0.0691698822823,
        0.133715491414,
        0.0723708084171,
        0.148034766875,
        -927.941357726,
        -927.379749598,
        1.13059820053,
        0.931936288352,
        0.938219156464,
        0.519191644592,
        0.0247152731319,
    ],
}


@pytest.mark.parametrize("key", list(R_STRATA_WEIGHTS))
def test_strata_weights_counting_process_cluster_match_r(key):
    """Strata + case weights (+ (start, stop] + cluster) at once, against the R calls above."""
    import pandas as pd

    d = pd.read_csv(Path(__file__).parents[1] / "data" / "cox" / "strata_weights_counting.csv")
    if key == "efron_cluster":
        f = coxph(
            d["stop"],
            d["event"],
            d[["x1", "x2"]],
            entry=d["start"],
            strata=d["s"],
            cluster=d["id"],
            weights=d["w"],
        )
    else:
        f = coxph(
            d["stop"],
            d["event"],
            d[["x1", "x2"]],
            strata=d["s"],
            weights=d["w"],
            ties="breslow",
            robust=True,
        )
    got = [
        *f.coef,
        *f.se,
        *f.robust_se,
        f.loglik_null,
        f.loglik,
        f.score_test["stat"],
        f.wald_test["stat"],
        f.robust_score_test["stat"],
        f.concordance["concordance"],
        f.concordance["se"],
    ]
    np.testing.assert_allclose(got, R_STRATA_WEIGHTS[key], rtol=1e-5)


def test_term_constant_within_strata_is_aliased():
    """R: coxph(Surv(time, status == 2) ~ age + sex + strata(sex)) gives NA for sex."""
    d = lung()
    with pytest.warns(CollinearityWarning, match="sex"):
        fit = coxph(d["time"], d["dead"], d[["age", "sex"]], strata=d["sex"], names=["age", "sex"])
    assert np.isnan(fit.coef[1]) and np.isfinite(fit.coef[0])
    ref = coxph(d["time"], d["dead"], d[["age"]], strata=d["sex"])
    assert fit.coef[0] == pytest.approx(ref.coef[0], rel=1e-12)


def test_iteration_limit_gives_convergence_warning():
    from cartlens.errors import ConvergenceWarning

    d = lung().dropna(subset=["ph.ecog"])
    with pytest.warns(ConvergenceWarning):
        fit = coxph(d["time"], d["dead"], d[["sex", "age", "ph.ecog"]], iter_max=1)
    assert not fit.converged


def test_to_dict_is_json_safe_and_frame_is_tidy():
    import json

    d = lung().dropna(subset=["ph.ecog"])
    fit = coxph_formula("sex + age", d, time="time", event="dead", robust=True)
    json.dumps(fit.to_dict(), allow_nan=False)
    fr = fit.to_frame()
    hr = fr[(fr["term"] == "sex") & (fr["stat"] == "terms.hr")]["value"]
    assert float(hr.iloc[0]) == pytest.approx(fit.hr[0])


@pytest.mark.parametrize(
    "ties, want",
    [
        (
            "efron",
            [
                0.00396302246470663,
                0.05778135675250312,
                0.32951931043736504,
                0.60289829536810158,
                2.98017990475352867,
            ],
        ),
        (
            "breslow",
            [
                0.00396435383544906,
                0.05766914220243741,
                0.32891485222080491,
                0.60209179586245754,
                2.97757456338146342,
            ],
        ),
    ],
)
def test_baseline_cumhaz_matches_r_basehaz(ties, want):
    """R: d <- na.omit(lung[, c("time", "status", "sex", "age", "ph.ecog")]);
    basehaz(coxph(Surv(time, status == 2) ~ sex + age + ph.ecog, d, ties = ties),
    centered = TRUE) at times 5, 54, 183, 291, 1022."""
    fit = fit_case(("lung", "cox", ties))
    b = fit.baseline
    idx = np.searchsorted(b["times"], [5, 54, 183, 291, 1022], side="right") - 1
    np.testing.assert_allclose(b["cumhaz"][idx], want, rtol=1e-6)
    np.testing.assert_allclose(b["surv"], np.exp(-b["cumhaz"]))


def test_weighted_baseline_and_means_match_r():
    """R on tests/data/cox/strata_weights_counting.csv:
    ``f <- coxph(Surv(stop, event) ~ x1 + x2, d, weights = w)``: ``f$means`` =
    (-0.130972233127358, 0) (0/1 covariates are not centred) and
    ``tail(basehaz(f), 1)$hazard`` = 2.76726532027586."""
    import pandas as pd

    d = pd.read_csv(Path(__file__).parents[1] / "data" / "cox" / "strata_weights_counting.csv")
    f = coxph(d["stop"], d["event"], d[["x1", "x2"]], weights=d["w"])
    np.testing.assert_allclose(f.means, [-0.130972233127358, 0.0], atol=1e-12)
    assert f.baseline["cumhaz"][-1] == pytest.approx(2.76726532027586, rel=1e-6)


def test_stratified_baseline_restarts_in_each_stratum():
    """Each stratum's baseline equals the Breslow baseline of a fit on that stratum alone
    with the coefficient fixed at the stratified estimate."""
    d = lung()
    fit = coxph(d["time"], d["dead"], d[["age"]], strata=d["sex"], ties="breslow")
    b = fit.baseline
    for k, (_, g) in enumerate(d.groupby("sex")):
        one = coxph(
            g["time"],
            g["dead"],
            g[["age"]],
            ties="breslow",
            init=fit.coef,
            iter_max=0,
            concordance=False,
        )
        sel = b["stratum"] == k
        # same centring (the pooled mean) for both: shift by exp(beta * (mean_g - mean))
        shift = np.exp(fit.coef[0] * (fit.means[0] - one.means[0]))
        np.testing.assert_allclose(b["cumhaz"][sel], one.baseline["cumhaz"] * shift, rtol=1e-10)


def test_missing_labels_and_text_covariates_are_input_errors():
    t = np.arange(1.0, 9.0)
    e = np.array([1, 0, 1, 1, 0, 1, 1, 0])
    x = np.linspace(0, 1, 8)
    with pytest.raises(InputError) as err:
        coxph(t, e, x, strata=np.r_[np.nan, np.ones(7)])
    assert err.value.column == "strata"
    with pytest.raises(InputError) as err:
        coxph(t, e, x, cluster=np.array([None, *"abcdefg"], dtype=object))
    assert err.value.column == "cluster"
    with pytest.raises(InputError) as err:
        coxph(t, e, np.array(["a"] * 8), names=["stage"])
    assert err.value.column == "stage"


def test_firth_matches_penalised_likelihood_maximised_in_r():
    """Separated data t = 1..20, x = (t <= 10), every third row censored. In R (survival
    3.5-3, no coxphf available) the Firth penalised partial likelihood maximised directly:
    ``pl <- function(b) {f <- coxph(Surv(t, e) ~ x, d, ties = "breslow", init = b,
    control = coxph.control(iter.max = 0)); f$loglik[2] + 0.5 * log(det(solve(vcov(f))))}``;
    ``optim(0, function(b) -pl(b), method = "BFGS", control = list(reltol = 1e-14))`` gives
    b = 3.45319847 and pl = -21.1127248396."""
    t = np.arange(1.0, 21.0)
    x = (t <= 10).astype(float)
    e = np.ones(20, dtype=int)
    e[::3] = 0
    fit = coxph(t, e, x[:, None], firth=True)
    assert fit.coef[0] == pytest.approx(3.45319847, rel=1e-6)
    assert fit.loglik == pytest.approx(-21.1127248396, rel=1e-9)
