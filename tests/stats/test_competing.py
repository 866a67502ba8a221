"""Cumulative incidence (cmprsk::cuminc) and Gray's test against R."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from _mgus2 import DATA, load_reference, mgus2_cr_frame
from hypothesis import given, settings
from hypothesis import strategies as st

from cartlens.errors import InputError, StatisticalWarning
from cartlens.stats.competing import (
    aalen_johansen,
    aalen_johansen_state,
    cif_at,
    cif_ci,
    cuminc,
    gray_test,
)
from cartlens.stats.km import kaplan_meier


@pytest.fixture(scope="module")
def mgus2_cr():
    d = mgus2_cr_frame()
    return d["etime"].to_numpy(), d["event"].to_numpy(), d.sex.to_numpy()


@pytest.fixture(scope="module")
def cr_ref():
    return load_reference("mgus2")["competing_risks"]


def _km(time, dead):
    """All-cause Kaplan-Meier (cartlens.stats.km) at the sorted distinct times."""
    curve = kaplan_meier(time, dead.astype(int)).curve()
    ut = np.unique(time)
    return ut, curve.survival_at(ut).surv


def test_cuminc_by_sex_matches_cmprsk(mgus2_cr, cr_ref):
    """R: timepoints(cuminc(etime, event, sex, cencode = 0), times = c(60, 120, 240, 360))
    -> mgus2.json competing_risks.cuminc_by_sex.curves (est and Gray's var)."""
    etime, event, sex = mgus2_cr
    res = cuminc(etime, event, group=sex)
    ref = cr_ref["cuminc_by_sex"]["curves"]
    assert len(res.curves) == len(ref) == 4
    for c in ref.values():
        at = cif_at(res.curve(c["group"], c["cause"]), c["time"])
        np.testing.assert_allclose(at["estimate"], c["est"], rtol=1e-6)
        np.testing.assert_allclose(at["variance"], c["var"], rtol=1e-6)
    # curve order is cause-major as in cuminc: "F 1", "M 1", "F 2", "M 2"
    assert [f"{c.group} {c.cause}" for c in res.curves] == list(ref)


def test_gray_test_matches_cmprsk(mgus2_cr, cr_ref):
    """R: cuminc(etime, event, sex)$Tests -> pcm stat 1.19450782507551, death 11.6512590121277."""
    etime, event, sex = mgus2_cr
    res = cuminc(etime, event, group=sex)
    for t in res.gray_test:
        ref = cr_ref["cuminc_by_sex"]["gray_test"][str(t.cause)]
        assert t.stat == pytest.approx(ref["stat"], rel=1e-6)
        assert t.p == pytest.approx(ref["p"], rel=1e-6)
        assert t.df == ref["df"]
    direct = gray_test(etime, event, sex, cause=2)
    assert direct.stat == pytest.approx(cr_ref["cuminc_by_sex"]["gray_test"]["2"]["stat"], rel=1e-6)


def test_cuminc_overall_matches_cmprsk(mgus2_cr, cr_ref):
    """R: timepoints(cuminc(etime, event, cencode = 0), c(60, 120, 240, 360)): keys "1 1", "1 2"."""
    etime, event, _ = mgus2_cr
    res = cuminc(etime, event)
    assert res.gray_test == ()
    for c in cr_ref["cuminc_overall"]["curves"].values():
        at = cif_at(res.curve(None, c["cause"]), c["time"])
        np.testing.assert_allclose(at["estimate"], c["est"], rtol=1e-6)
        np.testing.assert_allclose(at["variance"], c["var"], rtol=1e-6)


def test_gray_test_three_groups_strata_rho():
    """R (tests/data/competing/make_competing.R): cuminc(time, status, group, stratum, rho = 1)
    and cuminc(time, status, group) on simulated tied data with 3 groups and 3 causes."""
    d = pd.read_csv(DATA / "competing" / "sim3.csv")
    ref = json.loads((DATA / "competing" / "sim3.json").read_text())
    strat = cuminc(d.time, d.status, group=d.group.to_numpy(), strata=d.stratum.to_numpy(), rho=1)
    plain = cuminc(d.time, d.status, group=d.group.to_numpy())
    for res, key in ((strat, "stratified_rho1"), (plain, "unstratified")):
        for t in res.gray_test:
            r = ref[key]["gray_test"][str(t.cause)]
            assert t.stat == pytest.approx(r["stat"], rel=1e-6)
            assert t.p == pytest.approx(r["p"], rel=1e-6)
            assert t.df == r["df"] == 2
    tp = ref["unstratified"]["timepoints"]
    for i, key in enumerate(tp["keys"]):
        g, c = key.split()
        at = cif_at(plain.curve(g, int(c)), tp["times"])
        np.testing.assert_allclose(at["estimate"], tp["est"][i], rtol=1e-6, atol=1e-15)
        np.testing.assert_allclose(at["variance"], tp["var"][i], rtol=1e-6, atol=1e-15)


@pytest.mark.parametrize("block", ["aalen_johansen_by_sex", "aalen_johansen_overall"])
def test_aalen_johansen_matches_survfit(mgus2_cr, cr_ref, block):
    """R: summary(survfit(Surv(etime, event_f) ~ sex), times = c(60, 120, 240, 360),
    extend = TRUE): pstate, infinitesimal-jackknife std_err, log CI and n_risk of (s0), pcm,
    death (and ~ 1 for the overall block)."""
    etime, event, sex = mgus2_cr
    ref = cr_ref[block]
    codes = {"pcm": 1, "death": 2, "(s0)": "(s0)"}
    group = None if block.endswith("overall") else sex
    res = aalen_johansen(etime, event, [60, 120, 240, 360], group=group)
    for g in res.groups:
        r = ref["groups"]["all" if g["group"] is None else f"sex={g['group']}"]
        np.testing.assert_array_equal(g["n_risk"], r["n_risk"])
        for state, vals in r["states"].items():
            mine = g["states"][codes[state]]
            for key in ("pstate", "std_err", "lower", "upper"):
                np.testing.assert_allclose(mine[key], vals[key], rtol=1e-6)
    # pstate of a cause equals cuminc's estimate
    p = aalen_johansen_state(etime, event, [60, 120])
    c = cif_at(cuminc(etime, event).curve(None, 1), [60, 120])
    np.testing.assert_allclose(p[1], c["estimate"], rtol=1e-12)


def test_value_beyond_follow_up_is_nan_and_before_first_jump_zero(mgus2_cr):
    etime, event, sex = mgus2_cr
    c = cuminc(etime, event, group=sex).curve("F", 1)
    at = cif_at(c, [0.0, c.max_time, c.max_time + 1])
    assert at["estimate"][0] == 0 and at["variance"][0] == 0
    assert np.isfinite(at["estimate"][1])
    assert np.isnan(at["estimate"][2]) and np.isnan(at["variance"][2])


def test_confidence_intervals_bracket_estimate(mgus2_cr):
    etime, event, sex = mgus2_cr
    for ct in ("log-log", "plain", "log"):
        res = cuminc(etime, event, group=sex, conf_type=ct)
        for c in res.curves:
            assert np.all(c.lower <= c.estimate + 1e-15)
            assert np.all(c.upper >= c.estimate - 1e-15)
            assert np.all((c.lower >= 0) & (c.upper <= 1))


def test_loglog_ci_hand_formula():
    """F = 0.2, V = 0.0004: lower = F^exp(z*0.02/(F log F)), upper = F^exp(-z*0.02/(F log F))."""
    z = 1.959963984540054
    k = z * 0.02 / (0.2 * np.log(0.2))
    lo, hi = cif_ci(np.array([0.2]), np.array([0.0004]))
    assert lo[0] == pytest.approx(0.2 ** np.exp(-k), rel=1e-12)
    assert hi[0] == pytest.approx(0.2 ** np.exp(k), rel=1e-12)


# ------------------------------------------------------------------ properties
_data = st.integers(min_value=5, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(1, 12), min_size=n, max_size=n),
        st.lists(st.sampled_from([0, 1, 2, 3]), min_size=n, max_size=n),
    )
)


@pytest.mark.filterwarnings("ignore::cartlens.errors.StatisticalWarning")
@settings(max_examples=40, deadline=None)
@given(_data)
def test_cifs_plus_km_sum_to_one_and_monotone(data):
    t, e = (np.asarray(x) for x in data)
    res = cuminc(t, e)
    grid = np.unique(t).astype(float)
    total = np.zeros(grid.size)
    for c in res.curves:
        est = cif_at(c, grid)["estimate"]
        assert np.all(np.diff(c.estimate) >= -1e-15)
        assert np.all(c.variance >= -1e-15)
        total += est
    ut, km = _km(t, e != 0)
    np.testing.assert_allclose(total + km, 1.0, atol=1e-12)


@pytest.mark.filterwarnings("ignore::cartlens.errors.StatisticalWarning")
@settings(max_examples=40, deadline=None)
@given(_data)
def test_single_cause_is_one_minus_km(data):
    t, e = (np.asarray(x) for x in data)
    e = (e > 0).astype(int)
    if e.sum() == 0:
        return
    c = cuminc(t, e).curve(None, 1)
    ut, km = _km(t, e == 1)
    np.testing.assert_allclose(1 - cif_at(c, ut)["estimate"], km, atol=1e-12)


@pytest.mark.filterwarnings("ignore::cartlens.errors.StatisticalWarning")
@settings(max_examples=25, deadline=None)
@given(_data, st.randoms(use_true_random=False))
def test_row_order_invariance(data, rnd):
    t, e = (np.asarray(x) for x in data)
    g = np.arange(t.size) % 2
    perm = np.array(rnd.sample(range(t.size), t.size))
    a = cuminc(t, e, group=g)
    b = cuminc(t[perm], e[perm], group=g[perm])
    for ca, cb in zip(a.curves, b.curves, strict=True):
        np.testing.assert_allclose(ca.estimate, cb.estimate, rtol=1e-12)
        np.testing.assert_allclose(ca.variance, cb.variance, rtol=1e-10, atol=1e-15)
    for ta, tb in zip(a.gray_test, b.gray_test, strict=True):
        if np.isfinite(ta.stat):
            assert ta.stat == pytest.approx(tb.stat, rel=1e-8, abs=1e-12)


def test_gray_test_undefined_when_a_risk_set_empties_at_an_event():
    """Found by hypothesis: group 1 fails entirely at t = 1, so Gray's variance divides by an
    empty risk set. R: cuminc(c(2,1,1,1,3,1), c(2,2,0,2,2,2), c(0,1,0,1,0,1)) stops with
    "NA/NaN/Inf in foreign function call"; cartlens gives NaN with a typed warning."""
    t = np.array([2, 1, 1, 1, 3, 1.0])
    e = np.array([2, 2, 0, 2, 2, 2])
    g = np.array([0, 1, 0, 1, 0, 1])
    with pytest.warns(StatisticalWarning, match="not finite"):
        r = cuminc(t, e, group=g)
    (test,) = r.gray_test
    assert math.isnan(test.stat) and math.isnan(test.p)
    # the curves themselves are defined: group 1's CIF of cause 2 reaches 1 at t = 1
    (c1,) = [c for c in r.curves if c.group == 1 and c.cause == 2]
    assert c1.estimate[-1] == pytest.approx(1.0)


# ------------------------------------------------------------------ bad input
def test_bad_input_errors():
    with pytest.raises(InputError, match="unknown cause code 7 at row 3"):
        cuminc([1, 2, 3], [0, 1, 7], causes=[1, 2])
    with pytest.raises(InputError, match="negative time"):
        cuminc([1, -2, 3], [0, 1, 1])
    with pytest.raises(InputError, match="event"):
        cuminc([1, 2, 3], [0, 1])
    with pytest.raises(InputError, match="time"):
        cuminc([1, np.nan, 3], [0, 1, 1])
    with pytest.raises(InputError, match="column 'group': missing value at row 2"):
        cuminc([1, 2, 3], [0, 1, 1], group=np.array(["a", None, "b"], dtype=object))
    with pytest.raises(InputError, match="conf_type"):
        cuminc([1, 2, 3], [0, 1, 1], conf_type="logit")


def test_errors_name_the_callers_columns_and_rho():
    t = np.array([3.0, 6.0, -4.0, 9.0, 12.0])
    ev = np.array([1, 2, 1, 0, 1])
    with pytest.raises(InputError, match="negative time") as exc:
        cuminc(t, ev)
    assert exc.value.column == "time"  # default unchanged for API users
    names = {"time": "os_days", "event": "status"}
    with pytest.raises(InputError, match="'os_days'.*-4"):
        cuminc(t, ev, names=names)
    with pytest.raises(InputError, match="'os_days'.*inf"):
        cuminc(np.r_[3.0, np.inf, 6, 9, 12], ev, names=names)
    with pytest.raises(InputError, match="'os_days'"):
        gray_test(t, ev, [0, 0, 1, 1, 1], cause=1, names=names)
    with pytest.raises(InputError, match="'os_days'"):
        aalen_johansen(t, ev, [5.0], names=names)
    ok = np.abs(t)
    for rho in (np.nan, np.inf):
        with pytest.raises(InputError, match="'rho'.*finite") as exc:
            cuminc(ok, ev, group=[0, 0, 1, 1, 1], rho=rho)
        assert exc.value.column == "rho"
        with pytest.raises(InputError, match="'rho'"):
            gray_test(ok, ev, [0, 0, 1, 1, 1], cause=1, rho=rho)
