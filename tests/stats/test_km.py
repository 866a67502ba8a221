"""Kaplan-Meier against R's survfit (reference JSON in tests/data/reference), by hand, and by
properties (hypothesis) and lifelines."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _km_reference import (
    KM_CASES,
    STEP_CASES,
    assert_close,
    label_value,
    load,
    lung,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartlens.errors import InputError, NoEventsWarning
from cartlens.stats.km import kaplan_meier, km_quantile, rmst, survival_at

CONF = {"log": "log", "log_log": "log-log", "plain": "plain"}


def _fit(case, conf_type="log", **kw):
    loader, time, event, entry, group = KM_CASES[case]
    d = loader()
    if group is not None:
        d = d[d[group].notna()]
        g = d[group].to_numpy()
        if g.dtype.kind == "f":
            g = g.astype(int)
    else:
        g = None
    return kaplan_meier(
        d[time].to_numpy(),
        d[event].to_numpy(),
        entry=None if entry is None else d[entry].to_numpy(),
        group=g,
        conf_type=conf_type,
        **kw,
    )


@pytest.mark.parametrize("case", list(KM_CASES), ids=lambda c: f"{c[0]}-{c[1]}")
@pytest.mark.parametrize("conf", list(CONF))
def test_km_matches_survfit(case, conf):
    """``survfit(Surv([start,] time, event) ~ group, conf.type = conf)`` (the ``r_calls`` of
    each ``km`` block), then ``summary(<fit>, times = landmark_times, extend = TRUE)`` and
    ``summary(<fit>, rmean = tau)$table``: medians and CIs (midpoint rule), landmark S(t),
    SE, CI, n.risk, n.event / n.censor between landmarks, Nelson-Aalen and its SE, RMST and
    its SE. The heart ``simon_makuch_by_transplant`` and ``overall_counting_process`` cases
    are (start, stop] data: they exercise left truncation."""
    ds, name = case
    block = load(ds)["km"][name]
    fit = _fit(case, CONF[conf])
    assert len(fit.curves) == len(block["groups"])
    for label, want in block["groups"].items():
        c = fit.curve(label_value(label))
        what = f"{ds} {name} {label} {conf}"
        assert c.n == want["records"]
        assert_close(c.n_start, want["n_start"], 0, what=what + " n_start")
        assert_close(c.n_max, want["n_max"], 0, what=what + " n_max")
        assert_close(c.events, want["events"], 0, what=what + " events")
        m = want["median"][conf]
        assert_close(c.median, m["median"], what=what + " median")
        assert_close(c.median_lower, m["lower"], what=what + " median lower")
        assert_close(c.median_upper, m["upper"], what=what + " median upper")
        lm = want["landmarks"]
        s = survival_at(c, block["landmark_times"])
        assert_close(s.time, lm["time"], 0)
        assert_close(s.surv, lm["surv"], what=what + " surv")
        assert_close(s.std_err, lm["std_err"], what=what + " std_err")
        assert_close(s.lower, lm[f"lower_{conf}"], what=what + " lower")
        assert_close(s.upper, lm[f"upper_{conf}"], what=what + " upper")
        assert_close(s.n_risk, lm["n_risk"], 0, what=what + " n_risk")
        assert_close(s.n_event, lm["n_event"], 0, what=what + " n_event")
        assert_close(s.n_censor, lm["n_censor"], 0, what=what + " n_censor")
        assert_close(s.cumhaz, lm["cumhaz"], what=what + " cumhaz")
        assert_close(s.std_chaz, lm["std_chaz"], what=what + " std_chaz")
        r = rmst(c, want["rmst"]["tau"])
        assert_close(r.rmst, want["rmst"]["rmean"], what=what + " rmean")
        assert_close(r.se, want["rmst"]["se"], what=what + " se(rmean)")


@pytest.mark.parametrize("case", list(STEP_CASES), ids=lambda c: f"{c[0]}-{c[1]}")
def test_step_table_matches_survfit(case):
    """Every distinct time of ``survfit(Surv(...) ~ 1)`` (``km_steps_overall*`` ``r_call``):
    time, n.risk, n.event, n.censor, surv, std.err (-log S scale and S scale), log CI,
    cumhaz, std.chaz."""
    ds, name = case
    loader, time, event, entry = STEP_CASES[case]
    want = load(ds)[name]
    d = loader()
    c = kaplan_meier(d[time], d[event], entry=None if entry is None else d[entry]).curve()
    assert_close(c.time, want["time"], 0)
    for ours, theirs in [
        ("n_risk", "n_risk"),
        ("n_event", "n_event"),
        ("n_censor", "n_censor"),
        ("surv", "surv"),
        ("std_err_log", "std_err_log_surv"),
        ("std_err", "std_err_surv"),
        ("lower", "lower_log"),
        ("upper", "upper_log"),
        ("cumhaz", "cumhaz"),
        ("std_chaz", "std_chaz"),
    ]:
        assert_close(getattr(c, ours), want[theirs], what=f"{ds} {name} {ours}")


@pytest.mark.parametrize("variant", ["model_based", "robust_ij"])
def test_weighted_km_matches_survfit(variant):
    """``survfit(Surv(time, dead) ~ female, data = lung_ps, weights = sw, robust = FALSE/TRUE)``
    with sw = A mean(A)/ps + (1 - A)(1 - mean(A))/(1 - ps) and the stored ``ps_values``:
    weighted S(t), its SE (weighted Greenwood / infinitesimal jackknife), log CI, weighted
    number at risk, and the median with its CI."""
    ref = load("lung")["propensity"]
    block = ref["weighted_km_sw"][variant]
    d = lung()
    d = d[d["ph.ecog"].notna()].reset_index(drop=True)
    a = (d["sex"] == 2).to_numpy().astype(float)
    ps = np.array(ref["ps_model"]["ps_values"], dtype=float)
    assert ps.size == len(d)
    sw = a * a.mean() / ps + (1 - a) * (1 - a.mean()) / (1 - ps)
    fit = kaplan_meier(
        d["time"], d["dead"], group=a.astype(int), weights=sw, robust=variant == "robust_ij"
    )
    for label, want in block["groups"].items():
        c = fit.curve(label_value(label))
        s = survival_at(c, want["time"])
        what = f"{variant} {label}"
        assert_close(s.surv, want["surv"], what=what + " surv")
        assert_close(s.std_err, want["std_err"], what=what + " std_err")
        assert_close(s.lower, want["lower_log"], what=what + " lower")
        assert_close(s.upper, want["upper_log"], what=what + " upper")
        assert_close(s.n_risk, want["n_risk_weighted"], what=what + " n_risk")
        assert_close(c.median, want["median"], what=what + " median")
        assert_close(c.median_lower, want["median_lower"], what=what + " median lower")
        assert_close(c.median_upper, want["median_upper"], what=what + " median upper")


def test_weighted_default_is_robust_for_non_integer_weights():
    """R: ``survfit(..., weights = w)`` uses the IJ variance when some weight is not an integer."""
    fit = kaplan_meier([1, 2, 3, 4], [1, 0, 1, 1], weights=[0.5, 1, 1.5, 1])
    assert fit.robust
    fit = kaplan_meier([1, 2, 3, 4], [1, 0, 1, 1], weights=[1, 2, 1, 1])
    assert not fit.robust


def test_integer_weights_equal_replicated_rows():
    """Case weight k is the same as k copies of the row (model-based Greenwood variance)."""
    t = np.array([1, 2, 2, 3, 5, 6.0])
    e = np.array([1, 0, 1, 1, 0, 1])
    w = np.array([2, 1, 3, 1, 2, 1])
    a = kaplan_meier(t, e, weights=w).curve()
    b = kaplan_meier(np.repeat(t, w), np.repeat(e, w)).curve()
    for f in ("time", "n_risk", "n_event", "surv", "std_err", "lower", "upper", "cumhaz"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-12)


def test_hand_calculation_with_midpoint_median():
    """Hand-computable: times 1,2,3,4 all events -> S = .75, .5, .25, 0; S = 0.5 on [2, 3)
    so the median is (2 + 3)/2 = 2.5 (R: ``survfit(Surv(1:4, rep(1, 4)) ~ 1)`` prints 2.5).
    Greenwood var of -log S at t=2: 1/(4*3) + 1/(3*2) = 0.25."""
    c = kaplan_meier([4, 3, 2, 1], [1, 1, 1, 1]).curve()
    assert c.surv.tolist() == [0.75, 0.5, 0.25, 0.0]
    assert c.median == 2.5
    assert c.std_err_log[1] == pytest.approx(0.5)
    assert c.std_err[1] == pytest.approx(0.25)
    assert np.isnan(c.std_err[-1])  # S = 0: R gives NA
    q = km_quantile(c, [0.25, 0.5, 0.75])
    np.testing.assert_allclose(q.quantile, [1.5, 2.5, 3.5])
    r = rmst(c, 4)
    assert r.rmst == pytest.approx(1 + 0.75 + 0.5 + 0.25)


def test_quantile_matches_median_in_references():
    """``quantile(fit, 0.5)`` equals the ``summary(fit)$table`` median (lung by sex, all types)."""
    for conf in CONF.values():
        fit = _fit(("lung", "by_sex"), conf)
        for c in fit.curves:
            q = km_quantile(c, 0.5)
            assert_close([q.quantile, q.lower, q.upper], [c.median, c.median_lower, c.median_upper])


def test_survival_at_before_first_and_after_last():
    c = kaplan_meier([2, 3, 5], [1, 0, 1]).curve()
    s = survival_at(c, [7, 0, 1])
    assert s.time.tolist() == [0, 1, 7]
    assert s.surv.tolist() == [1.0, 1.0, 0.0]
    assert s.n_risk.tolist() == [3, 3, 0]
    assert s.n_event.tolist() == [0, 0, 2]
    s2 = survival_at(c, [1, 7], extend=False)
    assert s2.time.tolist() == [1]


def test_left_truncation_risk_set_excludes_entry_time():
    """(start, stop] at risk at t iff start < t <= stop: a record entering at 2 is not at risk
    for the death at 2."""
    c = kaplan_meier([2, 4, 5], [1, 1, 0], entry=[0, 2, 0]).curve()
    assert c.n_risk.tolist() == [2, 2, 1]
    assert c.surv.tolist() == [0.5, 0.25, 0.25]


def test_cluster_robust_with_singleton_clusters_equals_robust():
    d = lung()
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 2, len(d))
    a = kaplan_meier(d["time"], d["dead"], weights=w, robust=True).curve()
    b = kaplan_meier(d["time"], d["dead"], weights=w, cluster=np.arange(len(d))).curve()
    np.testing.assert_allclose(a.std_err, b.std_err, rtol=1e-9)
    np.testing.assert_allclose(a.std_chaz, b.std_chaz, rtol=1e-9)


def test_cluster_robust_matches_r_by_id():
    """Split every lung record at its half-time into two (start, stop] intervals with the
    same id. Summing influences within id (as ``survfit(..., id = id, robust = TRUE)``) must
    give the per-record IJ SE of the unsplit data."""
    d = lung()
    t = d["time"].to_numpy(float)
    e = d["dead"].to_numpy()
    mid = np.floor(t / 2) + 0.5
    start = np.concatenate([np.zeros_like(t), mid])
    stop = np.concatenate([mid, t])
    ev = np.concatenate([np.zeros_like(e), e])
    ids = np.concatenate([np.arange(len(t)), np.arange(len(t))])
    a = kaplan_meier(t, e, robust=True).curve()
    b = kaplan_meier(stop, ev, entry=start, cluster=ids).curve()
    sa = survival_at(a, [100, 300, 500])
    sb = survival_at(b, [100, 300, 500])
    np.testing.assert_allclose(sb.surv, sa.surv, rtol=1e-12)
    np.testing.assert_allclose(sb.std_err, sa.std_err, rtol=1e-9)


def test_clustered_weighted_counting_process_matches_r():
    """R::

    d <- data.frame(start = c(0,0,2,0,1,0,3,0,0,2,0,1), stop = c(4,6,7,3,5,8,9,2,6,10,5,7),
                    event = c(1,0,1,1,0,1,1,0,1,0,1,1),
                    w = c(1,0.5,2,1.5,1,1,0.7,1.2,1,2,0.8,1),
                    id = c(1,1,2,3,3,4,5,5,6,7,8,8))
    f <- survfit(Surv(start, stop, event) ~ 1, data = d, weights = w, cluster = id,
                 robust = TRUE)
    s <- summary(f, times = c(3, 5, 7, 9)); s$surv; s$std.err; s$std.chaz
    """
    c = kaplan_meier(
        [4, 6, 7, 3, 5, 8, 9, 2, 6, 10, 5, 7],
        [1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1],
        entry=[0, 0, 2, 0, 1, 0, 3, 0, 0, 2, 0, 1],
        weights=[1, 0.5, 2, 1.5, 1, 1, 0.7, 1.2, 1, 2, 0.8, 1],
        cluster=[1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 8, 8],
    ).curve()
    s = survival_at(c, [3, 5, 7, 9])
    assert_close(
        s.surv, [0.872881355932203, 0.730046224961479, 0.353994019529920, 0.191348118664822]
    )
    assert_close(
        s.std_err, [0.108788940774322, 0.112490853496366, 0.174508345062178, 0.164577548999438]
    )
    assert_close(
        s.std_chaz, [0.108788940774322, 0.137366454517643, 0.310177406751388, 0.595109745624601]
    )


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, column",
    [
        ({"time": [1, -2, 3], "event": [1, 0, 1]}, "time"),
        ({"time": [1, np.nan, 3], "event": [1, 0, 1]}, "time"),
        ({"time": [1, 2, 3], "event": [1, 2, 1]}, "event"),
        ({"time": [1, 2, 3], "event": [1, np.nan, 1]}, "event"),
        ({"time": [1, 2, 3], "event": [1, 0]}, "event"),
        ({"time": [1, 2, 3], "event": [1, 0, 1], "entry": [0, 2, 1]}, "entry"),
        ({"time": [1, 2, 3], "event": [1, 0, 1], "entry": [0, np.nan, 1]}, "entry"),
        ({"time": [1, 2, 3], "event": [1, 0, 1], "weights": [1, -1, 1]}, "weights"),
        ({"time": [1, 2, 3], "event": [1, 0, 1], "weights": [1, np.nan, 1]}, "weights"),
        ({"time": [1, 2, 3], "event": [1, 0, 1], "group": [1, None, 2]}, "group"),
        ({"time": [], "event": []}, "time"),
        ({"time": [1, 2], "event": [1, 0], "conf_type": "logit"}, "conf_type"),
    ],
)
def test_bad_input_names_the_argument(kwargs, column):
    kw = dict(kwargs)
    t, e = kw.pop("time"), kw.pop("event")
    with pytest.raises(InputError) as exc:
        kaplan_meier(t, e, **kw)
    assert exc.value.column == column


def test_no_events_warns_and_gives_flat_curve():
    with pytest.warns(NoEventsWarning):
        fit = kaplan_meier([1, 2, 3], [0, 0, 0])
    c = fit.curve()
    assert c.surv.tolist() == [1, 1, 1]
    assert np.isnan(c.median)
    assert fit.to_dict()["curves"][0]["median"] is None


def test_one_subject():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = kaplan_meier([5], [1]).curve()
    assert c.surv.tolist() == [0.0]
    assert c.median == 5.0


# --- properties --------------------------------------------------------------------------


@st.composite
def surv_data(draw, weighted=False):
    n = draw(st.integers(1, 40))
    t = draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))
    e = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    g = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    w = draw(st.lists(st.floats(0.1, 5), min_size=n, max_size=n)) if weighted else None
    return np.array(t, float), np.array(e), np.array(g), None if w is None else np.array(w)


PROP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROP
@given(surv_data(weighted=True), st.sampled_from(["log", "log-log", "plain"]), st.booleans())
def test_properties(data, conf, use_w):
    t, e, g, w = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoEventsWarning)
        fit = kaplan_meier(t, e, group=g, weights=w if use_w else None, conf_type=conf)
        perm = np.random.default_rng(0).permutation(t.size)
        fit2 = kaplan_meier(
            t[perm], e[perm], group=g[perm], weights=(w[perm] if use_w else None), conf_type=conf
        )
    for c, c2 in zip(fit.curves, fit2.curves, strict=True):
        assert ((c.surv >= 0) & (c.surv <= 1)).all()
        assert (np.diff(c.surv) <= 1e-15).all()
        ok = ~np.isnan(c.lower)
        assert (c.lower[ok] <= c.surv[ok] + 1e-12).all()
        ok = ~np.isnan(c.upper)
        assert (c.upper[ok] >= c.surv[ok] - 1e-12).all()
        # row-order invariance
        np.testing.assert_allclose(c.surv, c2.surv, rtol=1e-12)
        np.testing.assert_allclose(c.std_err, c2.std_err, rtol=1e-9)
        np.testing.assert_array_equal(np.isnan(c.median), np.isnan(c2.median))


@PROP
@given(surv_data(weighted=True), st.booleans())
def test_agrees_with_lifelines(data, use_w):
    """lifelines ``KaplanMeierFitter().fit(t, e, weights=w)`` gives the same S(t) (its
    median differs by R's midpoint rule, so it is not compared). With non-integer weights
    lifelines keeps S = 1 instead of 0 when the whole weighted risk set dies (a lifelines
    defect: R and the product-limit formula give 0), so those points are skipped."""
    lifelines = pytest.importorskip("lifelines")
    t, e, _, w = data
    kmf = lifelines.KaplanMeierFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kmf.fit(t, e, weights=w if use_w else None)
        c = kaplan_meier(t, e, weights=w if use_w else None).curve()
    theirs = kmf.survival_function_at_times(c.time).to_numpy()
    ok = c.surv > 0 if use_w else np.ones(c.surv.size, dtype=bool)
    np.testing.assert_allclose(c.surv[ok], theirs[ok], rtol=1e-9, atol=1e-12)


def test_to_dict_and_frame():
    fit = _fit(("lung", "by_sex"))
    d = fit.to_dict()
    assert d["curves"][0]["group"] == 1
    assert isinstance(d["curves"][0]["surv"], list)
    fr = fit.to_frame()
    assert list(fr.columns) == ["analysis", "group", "term", "cause", "time", "stat", "value"]
    med = fr[(fr["stat"] == "median") & (fr["group"] == 2)]["value"].item()
    assert med == fit.curve(2).median
    s = fr[(fr["stat"] == "surv") & (fr["group"] == 1)]
    np.testing.assert_array_equal(s["time"], fit.curve(1).time)
    np.testing.assert_array_equal(s["value"], fit.curve(1).surv)
    at = survival_at(fit.curve(1), [180, 365]).to_frame()
    assert at[at["stat"] == "n_risk"]["value"].tolist() == [89, 35]


def test_quantiles_with_non_monotone_upper_limit():
    """The log-type upper limit falls to 0.89 at t=10 and returns to 1 at t=11; R's findq
    drops repeated values of 1 - upper wherever they occur. R::

        t <- c(9, 7, 9, 6, 4, 8, 2, 10, 4, 3, 10, 4, 5, 6, 1, 9, 5, 12, 1, 11, 9, 6)
        e <- c(0, 1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0)
        quantile(survfit(Surv(t, e) ~ 1), probs = c(.1, .25, .5, .75, .9))
        # quantile 4 7 10 11 NA; lower 3 6 9 10 11; upper 10 NA NA NA NA
    """
    t = [9, 7, 9, 6, 4, 8, 2, 10, 4, 3, 10, 4, 5, 6, 1, 9, 5, 12, 1, 11, 9, 6]
    e = [0, 1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    q = km_quantile(kaplan_meier(t, e).curve(), [0.1, 0.25, 0.5, 0.75, 0.9])
    assert_close(q.quantile, [4, 7, 10, 11, None])
    assert_close(q.lower, [3, 6, 9, 10, 11])
    assert_close(q.upper, [10, None, None, None, None])
