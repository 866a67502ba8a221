"""Cross-library property tests: cartlens against lifelines / statsmodels where those are right.

Issue 2 asks for agreement with lifelines/statsmodels "on random data with ties, censoring
and weights where those libraries are right". The comparisons already made elsewhere
(unweighted KM S(t), two-group log-rank, unweighted Efron Cox vs lifelines, unweighted
Breslow Cox vs statsmodels) are not repeated here; this file covers what was missing:

* Nelson-Aalen cumulative hazard (lifelines ``NelsonAalenFitter(nelson_aalen_smoothing=
  False)``); its SE is compared with R's formula, not with lifelines, whose variance
  estimator differs from ``survfit``'s ``std.chaz``;
* Kaplan-Meier log-log ("exponential Greenwood") pointwise CIs and left-truncated KM;
* k-group log-rank and Fleming-Harrington rho = 1;
* Cox (Efron) with case weights, strata and left truncation (lifelines); the robust sandwich SE
  on tie-free data (lifelines' robust SE ignores tied event times, R's does not, so tied
  data are not compared); Breslow with strata (statsmodels ``PHReg``);
* concordance (lifelines ``concordance_index``), RMST (lifelines
  ``restricted_mean_survival_time``) and the Aalen-Johansen CIF on tie-free data (lifelines
  jitters tied times, which is why issue 3 calls it wrong on mgus2).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cartlens.stats.competing import cuminc
from cartlens.stats.concordance import concordance
from cartlens.stats.cox import coxph
from cartlens.stats.km import kaplan_meier, rmst
from cartlens.stats.logrank import logrank_test

lifelines = pytest.importorskip("lifelines")
from lifelines.statistics import logrank_test as lifelines_logrank  # noqa: E402
from lifelines.statistics import multivariate_logrank_test  # noqa: E402
from lifelines.utils import concordance_index, restricted_mean_survival_time  # noqa: E402

FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COX = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIFELINES_TIGHT = {"precision": 1e-14, "max_steps": 500}
TIGHT = {"eps": 1e-12, "iter_max": 100}  # both fits to full precision (R's default eps 1e-9)


@st.composite
def survival_data(draw, min_n: int = 8, max_n: int = 60, ties: bool = True):
    """Random right-censored data: integer times (many ties) or continuous ones, about 70%
    events (at least 2), three groups, two normal covariates, weights in [0.5, 2]."""
    n = draw(st.integers(min_n, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.normal(size=(n, 2))
    t = rng.exponential(6 * np.exp(-0.3 * X[:, 0]), n) + 0.01
    if ties:
        t = np.ceil(t)
    e = (rng.random(n) < 0.7).astype(int)
    e[:2] = 1
    g = rng.integers(0, 3, n)
    w = rng.uniform(0.5, 2.0, n)
    # entry strictly between 0 and the exit time, never equal to an integer exit time
    entry = np.where(rng.random(n) < 0.5, 0.0, np.floor(rng.random(n) * t * 0.8) + 0.5)
    entry = np.where(entry < t, entry, 0.0)
    return t, e, X, g, w, entry


def _quiet():
    """Silence the libraries' own warnings (convergence chatter, small samples)."""
    return warnings.catch_warnings(action="ignore")


def _step_at(series: pd.Series, times: np.ndarray) -> np.ndarray:
    """Right-continuous step function given on its jump times, evaluated at ``times``."""
    return series.reindex(series.index.union(times)).ffill().loc[times].to_numpy()


# ---- Kaplan-Meier / Nelson-Aalen --------------------------------------------------------


@FAST
@given(survival_data())
def test_nelson_aalen_matches_lifelines(data):
    """Cumulative hazard H(t) = sum d_i / n_i (R: ``survfit(...)$cumhaz``) equals lifelines'
    unsmoothed Nelson-Aalen; the SE is R's ``std.chaz`` = sqrt(sum d_i / n_i^2)."""
    t, e, *_ = data
    c = kaplan_meier(t, e).curve()
    naf = lifelines.NelsonAalenFitter(nelson_aalen_smoothing=False).fit(t, e)
    theirs = _step_at(naf.cumulative_hazard_.iloc[:, 0], c.time)
    np.testing.assert_allclose(c.cumhaz, theirs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        c.std_chaz, np.sqrt(np.cumsum(c.n_event / c.n_risk**2)), rtol=1e-10, atol=1e-12
    )


@FAST
@given(survival_data())
def test_km_log_log_ci_matches_lifelines(data):
    """lifelines' KM interval is the "exponential Greenwood" one, R's conf.type =
    "log-log"; compared wherever S(t) is in (0, 1) (R gives NA limits at S = 0 or 1)."""
    t, e, *_ = data
    c = kaplan_meier(t, e, conf_type="log-log").curve()
    kmf = lifelines.KaplanMeierFitter().fit(t, e)
    ci = kmf.confidence_interval_survival_function_
    lower, upper = _step_at(ci.iloc[:, 0], c.time), _step_at(ci.iloc[:, 1], c.time)
    ok = (c.surv > 0) & (c.surv < 1)
    np.testing.assert_allclose(c.lower[ok], lower[ok], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(c.upper[ok], upper[ok], rtol=1e-8, atol=1e-12)


@FAST
@given(survival_data())
def test_left_truncated_km_matches_lifelines(data):
    """(entry, time] data (entries at half-integers, never equal to an exit time, so both
    libraries' conventions for entry == exit cannot differ): S(t) equals lifelines
    ``KaplanMeierFitter().fit(t, e, entry=entry)``."""
    t, e, _, _, _, entry = data
    c = kaplan_meier(t, e, entry=entry).curve()
    try:
        kmf = lifelines.KaplanMeierFitter().fit(t, e, entry=entry)
    except lifelines.exceptions.StatError:
        # lifelines refuses data whose risk set empties before later entries (S = 0 from
        # then on, as R's survfit has it); not comparable
        assume(False)
    theirs = kmf.survival_function_at_times(c.time).to_numpy()
    np.testing.assert_allclose(c.surv, theirs, rtol=1e-10, atol=1e-12)


@FAST
@given(survival_data(), st.floats(0.5, 30.0))
def test_rmst_matches_lifelines(data, tau):
    """RMST = area under the KM step function on [0, tau] (R: ``summary(fit, rmean =
    tau)``), as lifelines ``restricted_mean_survival_time(kmf, t=tau)``."""
    t, e, *_ = data
    ours = rmst(kaplan_meier(t, e).curve(), tau).rmst
    theirs = restricted_mean_survival_time(lifelines.KaplanMeierFitter().fit(t, e), t=tau)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


# ---- log-rank family --------------------------------------------------------------------


@FAST
@given(survival_data())
def test_k_group_logrank_matches_lifelines(data):
    """``survdiff(Surv(t, e) ~ g)`` with three groups = lifelines
    ``multivariate_logrank_test``."""
    t, e, _, g, _, _ = data
    if np.unique(g).size < 3:
        return
    with _quiet():
        ours = logrank_test(t, e, g)
    # survdiff counts only groups with a positive expected count (a group censored before
    # the first event drops out of df); lifelines does not, so such data are not compared
    assume(ours.df == 2)
    theirs = multivariate_logrank_test(t, g, e)
    assert ours.chisq == pytest.approx(theirs.test_statistic, rel=1e-8, abs=1e-10)


@FAST
@given(survival_data())
def test_fleming_harrington_rho1_matches_lifelines(data):
    """``survdiff(..., rho = 1)`` (Peto-Peto weights S(t-) of the pooled KM) = lifelines
    ``logrank_test(..., weightings="fleming-harrington", p=1, q=0)``."""
    t, e, _, g, _, _ = data
    g = g % 2
    if np.unique(g).size < 2:
        return
    with _quiet():
        ours = logrank_test(t, e, g, rho=1.0)
    theirs = lifelines_logrank(
        t[g == 0], t[g == 1], e[g == 0], e[g == 1], weightings="fleming-harrington", p=1, q=0
    )
    assert ours.chisq == pytest.approx(theirs.test_statistic, rel=1e-8, abs=1e-10)


# ---- Cox --------------------------------------------------------------------------------


def _lifelines_cox(df: pd.DataFrame, **kw):
    with _quiet():
        return lifelines.CoxPHFitter().fit(df, "t", "e", fit_options=LIFELINES_TIGHT, **kw)


def _frame(t, e, X, **extra) -> pd.DataFrame:
    return pd.DataFrame({"t": t, "e": e, "x1": X[:, 0], "x2": X[:, 1], **extra})


def _assert_cox_agrees(fit, cph, se=True) -> None:
    np.testing.assert_allclose(fit.coef, cph.params_.to_numpy(), rtol=1e-5, atol=1e-7)
    if se:
        np.testing.assert_allclose(fit.se, cph.standard_errors_.to_numpy(), rtol=1e-5)
    assert fit.loglik == pytest.approx(cph.log_likelihood_, rel=1e-8)


@COX
@given(survival_data(min_n=20))
def test_weighted_efron_cox_matches_lifelines(data):
    """Case weights, Efron ties: coefficients, model-based SE (R's ``coxph(..., weights = w)``
    ``se(coef)``) and log-likelihood equal lifelines ``weights_col`` with robust=False."""
    t, e, X, _, w, _ = data
    with _quiet():
        fit = coxph(t, e, X, weights=w, concordance=False, **TIGHT)
    cph = _lifelines_cox(_frame(t, e, X, w=w), weights_col="w", robust=False)
    _assert_cox_agrees(fit, cph)


@COX
@given(survival_data(min_n=20))
def test_stratified_efron_cox_matches_lifelines(data):
    """``coxph(Surv(t, e) ~ x1 + x2 + strata(g))`` = lifelines ``strata=["g"]``."""
    t, e, X, g, _, _ = data
    with _quiet():
        fit = coxph(t, e, X, strata=g, concordance=False, **TIGHT)
    cph = _lifelines_cox(_frame(t, e, X, g=g), strata=["g"])
    _assert_cox_agrees(fit, cph)


@COX
@given(survival_data(min_n=20))
def test_left_truncated_efron_cox_matches_lifelines(data):
    """``coxph(Surv(entry, t, e) ~ x1 + x2)`` with one interval per subject (delayed entry at
    half-integers) = lifelines ``entry_col``."""
    t, e, X, _, _, entry = data
    with _quiet():
        fit = coxph(t, e, X, entry=entry, concordance=False, **TIGHT)
    cph = _lifelines_cox(_frame(t, e, X, entry=entry), entry_col="entry")
    _assert_cox_agrees(fit, cph)


@COX
@given(survival_data(min_n=20, ties=False))
def test_robust_se_matches_lifelines_without_ties(data):
    """``coxph(..., robust = TRUE)`` sandwich SE = lifelines ``robust=True`` when no event
    times are tied (with ties lifelines' robust SE departs from R's, which cartlens follows;
    see tests/stats/test_cox.py for the R reference values)."""
    t, e, X, _, _, _ = data
    with _quiet():
        fit = coxph(t, e, X, robust=True, concordance=False, **TIGHT)
    cph = _lifelines_cox(_frame(t, e, X), robust=True)
    _assert_cox_agrees(fit, cph, se=False)
    np.testing.assert_allclose(fit.robust_se, cph.standard_errors_.to_numpy(), rtol=1e-5)


@COX
@given(survival_data(min_n=20))
def test_stratified_breslow_cox_matches_statsmodels(data):
    """Breslow ties with strata (right-censored, unweighted): statsmodels ``PHReg(...,
    strata=g, ties="breslow")`` is right here and must agree."""
    from statsmodels.duration.hazard_regression import PHReg

    t, e, X, g, _, _ = data
    with _quiet():
        fit = coxph(t, e, X, strata=g, ties="breslow", concordance=False, **TIGHT)
        res = PHReg(t, X, status=e, strata=g, ties="breslow").fit()
    np.testing.assert_allclose(fit.coef, res.params, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fit.se, res.bse, rtol=1e-5)
    assert fit.loglik == pytest.approx(res.llf, rel=1e-8)


# ---- concordance / competing risks ------------------------------------------------------


@FAST
@given(survival_data(), st.integers(2, 5))
def test_concordance_matches_lifelines(data, levels):
    """Harrell's C with tied times and a predictor with few distinct values (ties in x count
    1/2): R's ``concordance(Surv(t, e) ~ x)`` = lifelines ``concordance_index(t, x, e)``."""
    t, e, X, *_ = data
    x = np.floor(levels * (X[:, 1] - X[:, 1].min()) / (np.ptp(X[:, 1]) + 1e-12))
    ours = concordance(t, e, x).concordance
    assert ours == pytest.approx(concordance_index(t, x, e), rel=1e-10)


@FAST
@given(survival_data(ties=False))
def test_aalen_johansen_matches_lifelines_without_ties(data):
    """On tie-free data (lifelines jitters tied times) the CIF of each cause from
    ``cmprsk::cuminc`` equals lifelines ``AalenJohansenFitter``."""
    t, e, _, g, _, _ = data
    status = np.where(e == 1, 1 + g % 2, 0)
    res = cuminc(t, status)
    for curve in res.curves:
        with _quiet():
            ajf = lifelines.AalenJohansenFitter(calculate_variance=False).fit(
                t, status, event_of_interest=int(curve.cause)
            )
        theirs = _step_at(ajf.cumulative_density_.iloc[:, 0], curve.time)
        np.testing.assert_allclose(curve.estimate, theirs, rtol=1e-9, atol=1e-12)
