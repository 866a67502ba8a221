"""Log-rank family against R's survdiff (tests/data/reference), by hand and by properties."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _km_reference import LOGRANK_CASES, assert_close, label_value, load, lung, veteran
from hypothesis import given, settings
from hypothesis import strategies as st

from cartlens.errors import InputError, NoEventsWarning, SparseDataWarning
from cartlens.stats.logrank import logrank_test, logrank_trend, p_adjust, pairwise_logrank


def _run(case, **kw):
    ds, name = case
    loader, time, event, group, strata = LOGRANK_CASES[case]
    block = load(ds)["logrank"][name]
    d = loader()
    used = [c for c in (group, strata) if c is not None]
    d = d.dropna(subset=used)
    return (
        block,
        d,
        logrank_test(
            d[time],
            d[event],
            d[group],
            strata=None if strata is None else d[strata],
            rho=block["rho"],
            **kw,
        ),
    )


@pytest.mark.parametrize("case", list(LOGRANK_CASES), ids=lambda c: f"{c[0]}-{c[1]}")
def test_logrank_matches_survdiff(case):
    """``survdiff(Surv(time, event) ~ group [+ strata(s)], rho = rho)`` (each block's
    ``r_call``): chisq, df, p, per-group n / observed / expected / O - E (weighted sums for
    rho = 1), and the variance matrix of O - E."""
    block, d, res = _run(case)
    assert_close(res.chisq, block["chisq"], what="chisq")
    assert res.df == block["df"]
    assert_close(res.p, block["p"], rtol=1e-6, what="p")
    got = {g["group"]: g for g in res.groups}
    order = []
    for label, want in block["groups"].items():
        g = got[label_value(label)]
        order.append(list(got).index(label_value(label)))
        assert g["n"] == want["n"]
        assert_close(g["observed"], want["observed"], what=f"{label} observed")
        assert_close(g["expected"], want["expected"], what=f"{label} expected")
        assert_close(g["o_minus_e"], want["o_minus_e"], atol=1e-9, what=f"{label} o-e")
    # R orders groups as factor levels; ours are sorted: permute before comparing
    want_var = np.array(block["var"], dtype=float)
    ours = res.var[np.ix_(order, order)]
    np.testing.assert_allclose(ours, want_var, rtol=1e-6, atol=1e-9)
    if "strata_n" in block:
        # strata labels: 'ph.ecog=0', 'squamous', or cut() intervals (mgus2 agegrp codes 0-3
        # follow the interval order)
        want_n = list(block["strata_n"].values())
        if all("=" in k or k.isalpha() for k in block["strata_n"]):
            sn = {s["stratum"]: s["n"] for s in res.strata}
            for label, n in block["strata_n"].items():
                assert sn[label_value(label) if "=" in label else label] == n
        else:
            assert [s["n"] for s in res.strata] == want_n


def test_trend_uses_survdiff_o_minus_e_and_var():
    """Trend test for lung ph.ecog (scores 0-3, the ECOG values): U = s'(O - E),
    var = s' V s with O - E and V from ``survdiff(Surv(time, status == 2) ~ ph.ecog,
    data = lung)``; chisq = U^2 / var."""
    block = load("lung")["logrank"]["ph_ecog_rho0"]
    d = lung().dropna(subset=["ph.ecog"])
    res = logrank_trend(d["time"], d["dead"], d["ph.ecog"].astype(int))
    s = np.array([label_value(k) for k in block["groups"]], dtype=float)
    oe = np.array([g["o_minus_e"] for g in block["groups"].values()])
    v = np.array(block["var"], dtype=float)
    u = s @ oe
    assert res.scores == (0.0, 1.0, 2.0, 3.0)
    assert_close(res.u, u, what="U")
    assert_close(res.var, s @ v @ s, what="var")
    assert_close(res.chisq, u * u / (s @ v @ s), what="chisq")
    assert res.df == 1
    assert res.z > 0  # higher ECOG, more deaths than expected


def test_trend_equals_logrank_for_two_groups():
    d = veteran()
    a = logrank_test(d["time"], d["status"], d["trt"])
    b = logrank_trend(d["time"], d["status"], d["trt"])
    assert b.chisq == pytest.approx(a.chisq, rel=1e-12)
    assert b.p == pytest.approx(a.p, rel=1e-9)


def test_trend_text_groups_get_ordinal_scores():
    d = veteran()
    res = logrank_trend(d["time"], d["status"], d["celltype"])
    assert res.scores == (1.0, 2.0, 3.0, 4.0)  # adeno, large, smallcell, squamous
    with pytest.raises(InputError):
        logrank_trend(d["time"], d["status"], d["celltype"], scores=[1, 2])


def test_pairwise_holm_and_bonferroni():
    """Each pair equals ``survdiff`` on the two groups' rows; Holm as ``p.adjust``."""
    d = veteran()
    res = pairwise_logrank(d["time"], d["status"], d["celltype"], adjust="holm")
    assert len(res.comparisons) == 6
    for c in res.comparisons:
        m = d["celltype"].isin([c["group1"], c["group2"]])
        one = logrank_test(d["time"][m], d["status"][m], d["celltype"][m])
        assert c["chisq"] == pytest.approx(one.chisq, rel=1e-12)
    p = np.array([c["p"] for c in res.comparisons])
    np.testing.assert_allclose([c["p_adjusted"] for c in res.comparisons], p_adjust(p, "holm"))
    bon = pairwise_logrank(d["time"], d["status"], d["celltype"], adjust="bonferroni")
    np.testing.assert_allclose([c["p_adjusted"] for c in bon.comparisons], np.minimum(1, p * 6))


def test_p_adjust_holm_by_hand():
    """R: ``p.adjust(c(0.01, 0.04, 0.03, 0.5), "holm")`` = 0.04 0.09 0.09 0.50."""
    np.testing.assert_allclose(p_adjust([0.01, 0.04, 0.03, 0.5], "holm"), [0.04, 0.09, 0.09, 0.5])


def test_hand_calculation_two_groups():
    """Group A dies at 1 and 3, group B at 2, B censored at 4: at t=1 N=4 (2/2), D=1 ->
    E_A=0.5, V=1*3/3*(1/2)(1/2)=0.25; t=2 N=3 (A 1, B 2), D=1 -> E_A=1/3, V=2/9; t=3 N=2
    (1/1) -> E_A=0.5, V=0 (D(N-D)/(N-1)=1*1/1 -> 0.25). O_A=2."""
    res = logrank_test([1, 3, 2, 4], [1, 1, 1, 0], ["A", "A", "B", "B"])
    ea = 0.5 + 1 / 3 + 0.5
    va = 0.25 + 2 / 9 + 0.25
    assert res.groups[0]["expected"] == pytest.approx(ea)
    assert res.chisq == pytest.approx((2 - ea) ** 2 / va)


def test_left_truncated_logrank_risk_sets():
    """With entry times the risk set is entry < t <= time: a record entering at t=1 is not
    at risk for the death at 1."""
    res = logrank_test([1, 3, 2, 4], [1, 1, 1, 0], ["A", "A", "B", "B"], entry=[0, 0, 1, 0])
    # t=1: A 2 at risk, B 1 (the one entering at 1 is not) -> E_A = 2/3
    # t=2: A 1, B 2 -> 1/3; t=3: A 1, B 1 -> 1/2
    assert res.groups[0]["expected"] == pytest.approx(2 / 3 + 1 / 3 + 1 / 2)
    assert res.left_truncated


def test_row_order_invariance():
    d = lung().dropna(subset=["ph.ecog"])
    a = logrank_test(d["time"], d["dead"], d["sex"], strata=d["ph.ecog"], rho=1)
    p = np.random.default_rng(3).permutation(len(d))
    b = logrank_test(
        d["time"].to_numpy()[p],
        d["dead"].to_numpy()[p],
        d["sex"].to_numpy()[p],
        strata=d["ph.ecog"].to_numpy()[p],
        rho=1,
    )
    assert a.chisq == pytest.approx(b.chisq, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 10), st.integers(0, 1), st.integers(0, 1)), min_size=2, max_size=40
    )
)
def test_agrees_with_lifelines(rows):
    """lifelines ``logrank_test`` (two groups, rho = 0) gives the same chi-square."""
    stats = pytest.importorskip("lifelines.statistics")
    t, e, g = (np.array(x) for x in zip(*rows))
    if len(set(g)) < 2 or e.sum() == 0:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = logrank_test(t, e, g)
        theirs = stats.logrank_test(t[g == 0], t[g == 1], e[g == 0], e[g == 1])
    if ours.df == 1 and np.isfinite(theirs.test_statistic):
        assert ours.chisq == pytest.approx(theirs.test_statistic, rel=1e-7, abs=1e-10)


def test_bad_input():
    with pytest.raises(InputError) as exc:
        logrank_test([1, 2], [1, 1], [1, 1])
    assert exc.value.column == "group"
    with pytest.raises(InputError) as exc:
        logrank_test([1, -2], [1, 1], [1, 2])
    assert exc.value.column == "time"
    with pytest.raises(InputError) as exc:
        logrank_test([1, 2], [1, 3], [1, 2])
    assert exc.value.column == "event"
    with pytest.raises(InputError):
        logrank_test([1, 2], [1, 1], [1, 2], rho=float("nan"))


def test_no_events_warns():
    with pytest.warns(NoEventsWarning):
        res = logrank_test([1, 2, 3], [0, 0, 0], [1, 2, 2])
    assert res.chisq == 0 and res.p == 1


def test_group_without_expected_events_is_dropped_from_df():
    """A group whose members all leave before the first death has E = 0; like survdiff it
    does not count towards df."""
    with pytest.warns(SparseDataWarning):
        res = logrank_test([1, 5, 6], [0, 1, 1], ["a", "b", "b"])
    assert res.df == 0 and res.chisq == 0
    res = logrank_test([1, 5, 6, 7, 8], [0, 1, 1, 1, 0], ["a", "b", "b", "c", "c"])
    assert res.df == 1
    assert res.to_dict()["groups"][0]["expected"] == 0


def test_left_truncated_logrank_equals_cox_score_test_without_ties():
    """Without tied times the log-rank statistic is the Cox score test of the group
    indicators (R: ``coxph(Surv(start, stop, event) ~ factor(g))$score``), so the
    left-truncated risk sets of both must agree."""
    cox = pytest.importorskip("cartlens.stats.cox")
    rng = np.random.default_rng(5)
    n = 200
    t = rng.exponential(10, n)
    en = t * rng.uniform(0, 0.8, n) * (rng.random(n) < 0.5)
    e = rng.integers(0, 2, n)
    g = rng.integers(0, 3, n)
    X = np.column_stack([(g == 1).astype(float), (g == 2).astype(float)])
    ours = logrank_test(t, e, g, entry=en)
    fit = cox.coxph(t, e, X, entry=en, ties="breslow")
    assert ours.chisq == pytest.approx(fit.score_test["stat"], rel=1e-9)


def test_one_group_error_shows_the_label_as_written():
    t = np.array([3.0, 5, 7, 9])
    e = np.array([1, 0, 1, 1])
    with pytest.raises(InputError, match="found only 'a'") as exc:
        logrank_test(t, e, ["a"] * 4, names={"group": "arm"})
    assert exc.value.column == "arm"
    # integer codes (as the command line passes them) with their labels
    with pytest.raises(InputError, match="found only 'a'"):
        logrank_test(t, e, np.zeros(4, int), labels=["a"])
