"""Nearest-neighbour PS matching: MatchIt's balance tables, caliper, brute-force agreement.

Note on the R reference (lung.json -> propensity.matchit): the installed MatchIt 4.5.1 ignores
the caliper in nearest-neighbour matching on a propensity score (MatchIt issue #163, versions
4.5.1-4.5.3): its pairs are up to 0.0235 apart although the caliper width is 0.0121, and the
same 90 pairs come out for any caliper. Its ``nn`` (90/90 matched) and ``balance_matched``
therefore cannot be compared with a correct caliper match. What is compared here: MatchIt's
full-sample table (``balance_all``), its caliper width, and its balance table computed on
its own pairs (which checks the matched-sample balance statistics and weights exactly).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _lung_ps import COVS, PS, lung_ps
from hypothesis import given, settings
from hypothesis import strategies as st

from cartlens.errors import InputError
from cartlens.stats.balance import balance_table
from cartlens.stats.matching import (
    match_from_pairs,
    match_nearest,
    matched_data,
    propensity_match,
    std_pair_distance,
)
from cartlens.stats.propensity import propensity_score

MI = PS["matchit"]


@pytest.fixture(scope="module")
def lung():
    df = lung_ps()
    return df, propensity_score("female ~ age + ph.ecog", df)


def brute_force_greedy(d, a, width, order_desc=True):
    """O(n^2) greedy nearest-available matching, treated in descending distance order."""
    t = np.flatnonzero(a == 1)
    order = t[np.lexsort((t, -d[t] if order_desc else d[t]))]
    avail = set(np.flatnonzero(a == 0).tolist())
    pairs = {}
    for i in order:
        if not avail:
            break
        c = min(avail, key=lambda j: (abs(d[j] - d[i]), d[j], j))
        if abs(d[c] - d[i]) <= width:
            pairs[int(i)] = c
            avail.remove(c)
    return pairs


def test_caliper_width_matches_matchit(lung):
    """R: matchit(..., caliper = 0.2)$caliper = 0.2 * sd(ps) = 0.0121010691892687."""
    _, fit = lung
    m = match_nearest(fit.ps, fit.treat, scale="ps")
    assert m.caliper_width == pytest.approx(MI["caliper_width_ps_scale"], rel=1e-6)


def test_lung_caliper_match_on_ps_scale(lung):
    """Correct greedy 1:1 caliper matching (largest PS first) leaves 2 treated unmatched:
    three treated share ps 0.52296 and only one control lies within 0.0121 of them."""
    _, fit = lung
    m = match_nearest(fit.ps, fit.treat, scale="ps")
    ref = brute_force_greedy(fit.ps, fit.treat, MI["caliper_width_ps_scale"])
    assert dict(zip(m.pairs_treated.tolist(), m.pairs_control.tolist())) == ref
    assert m.nn["Matched"] == {"control": 88, "treated": 88}
    assert m.nn["Unmatched"] == {"control": 49, "treated": 2}
    assert m.nn["All"] == MI["nn"]["All"]
    assert m.pairs_distance.max() <= m.caliper_width


def test_reference_matchit_ignored_its_caliper(lung):
    """Documents why MatchIt's nn/balance_matched are not compared: its pairs break the caliper."""
    _, fit = lung
    pt = np.array(MI["pairs"]["treated_row"]) - 1
    pc = np.array(MI["pairs"]["control_row"]) - 1
    assert np.abs(fit.ps[pt] - fit.ps[pc]).max() > MI["caliper_width_ps_scale"]


def test_balance_on_matchit_pairs_matches_sum_matched(lung):
    """R: summary(m)$sum.matched on MatchIt's own pairs: means, Std. Mean Diff. (by the
    full-sample treated SD, age -0.0766084002669729), Var. Ratio, eCDF Mean/Max; and nn."""
    df, fit = lung
    m = match_from_pairs(
        np.array(MI["pairs"]["treated_row"]) - 1,
        np.array(MI["pairs"]["control_row"]) - 1,
        fit.treat,
        distance=fit.ps,
    )
    for k in ("All", "Matched", "Unmatched", "Matched (ESS)"):
        assert m.nn[k] == pytest.approx(MI["nn"][k])
    b = balance_table(df[COVS], fit.treat, m.weights, estimand="att", distance=fit.ps)
    for cov in ["distance", *COVS]:
        r, e = b.row(cov), MI["balance_matched"][cov]
        assert r["mean_treated_adj"] == pytest.approx(e["means_treated"], rel=1e-6)
        assert r["mean_control_adj"] == pytest.approx(e["means_control"], rel=1e-6)
        assert r["smd_after"] == pytest.approx(e["std_mean_diff"], rel=1e-6)
        assert r["var_ratio_after"] == pytest.approx(e["var_ratio"], rel=1e-6)
        assert r["ecdf_mean_after"] == pytest.approx(e["ecdf_mean"], rel=1e-6)
        assert r["ecdf_max_after"] == pytest.approx(e["ecdf_max"], rel=1e-6, abs=1e-12)
        x = fit.ps if cov == "distance" else df[cov].to_numpy(float)
        assert std_pair_distance(x, m) == pytest.approx(e["std_pair_dist"], rel=1e-6)
    own = MI["smd_matched_own"]
    for cov in COVS:
        assert b.row(cov)["smd_after"] == pytest.approx(own[cov]["smd_fullsample_treated_sd"])


def test_propensity_match_reports_balance(lung):
    df, _ = lung
    fit, m = propensity_match("female ~ age + ph.ecog", df, scale="ps")
    assert m.balance is not None and m.balance.estimand == "att"
    assert m.balance.row("distance")["pass"] is None
    assert m.balance.row("age")["std_pair_dist"] > 0
    md = matched_data(df, m, fit.rows)
    assert len(md) == 176 and set(md["subclass"]) == set(range(1, 89))
    assert (md.groupby("subclass")["female"].sum() == 1).all()


def test_default_is_logit_scale(lung):
    _, fit = lung
    m = match_nearest(fit.ps, fit.treat)
    logit = np.log(fit.ps / (1 - fit.ps))
    assert m.scale == "logit"
    assert m.caliper_width == pytest.approx(0.2 * np.std(logit, ddof=1))


def random_data(seed, n, shift=0.5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    a = (rng.random(n) < 1 / (1 + np.exp(-(shift * x - 0.7)))).astype(int)
    ps = 1 / (1 + np.exp(-(0.9 * x - 0.7 + 0.1 * rng.normal(size=n))))
    return ps, a


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 100_000), st.integers(20, 120), st.sampled_from([0.05, 0.2, None]))
def test_agrees_with_brute_force_greedy(seed, n, caliper):
    ps, a = random_data(seed, n)
    if a.sum() == 0 or a.sum() == n:
        return
    m = match_nearest(ps, a, scale="ps", caliper=caliper)
    width = np.inf if caliper is None else caliper * np.std(ps, ddof=1)
    ref = brute_force_greedy(ps, a, width)
    assert dict(zip(m.pairs_treated.tolist(), m.pairs_control.tolist())) == ref


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 100_000), st.integers(20, 150), st.integers(1, 3), st.booleans())
def test_no_reuse_caliper_and_weights(seed, n, ratio, replace):
    ps, a = random_data(seed, n)
    if a.sum() == 0 or a.sum() == n:
        return
    m = match_nearest(ps, a, ratio=ratio, replace=replace, caliper=0.3)
    if not replace:
        assert np.unique(m.pairs_control).size == m.pairs_control.size
    assert np.all(a[m.pairs_treated] == 1) and np.all(a[m.pairs_control] == 0)
    assert np.all(m.pairs_distance <= m.caliper_width + 1e-12)
    assert np.all(np.bincount(m.pairs_treated, minlength=n) <= ratio)
    # MatchIt weights: matched treated 1; control weights sum to the number of matched controls
    t = a == 1
    assert np.all(m.weights[t & m.matched] == 1.0)
    assert m.weights[~t].sum() == pytest.approx((m.matched & ~t).sum())


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 100_000), st.sampled_from(["largest", "smallest", "random", "data"]))
def test_row_order_invariance_given_ids_and_seed(seed, m_order):
    """Ties included: the PS takes few distinct values, so tie-breaking by id matters."""
    rng = np.random.default_rng(seed)
    n = 80
    ps = rng.choice([0.2, 0.3, 0.35, 0.5, 0.6], size=n)
    a = (rng.random(n) < ps).astype(int)
    if a.sum() == 0 or a.sum() == n:
        return
    ids = rng.permutation(n) + 1000
    exact = rng.integers(0, 2, n)
    m1 = match_nearest(ps, a, ids=ids, m_order=m_order, seed=7, exact=exact, caliper=0.5)
    perm = rng.permutation(n)
    m2 = match_nearest(
        ps[perm], a[perm], ids=ids[perm], m_order=m_order, seed=7, exact=exact[perm], caliper=0.5
    )
    p1 = {(ids[t], ids[c]) for t, c in zip(m1.pairs_treated, m1.pairs_control)}
    p2 = {(ids[perm][t], ids[perm][c]) for t, c in zip(m2.pairs_treated, m2.pairs_control)}
    assert p1 == p2


def test_exact_matching_respects_strata():
    rng = np.random.default_rng(3)
    n = 300
    ps = rng.uniform(0.1, 0.9, n)
    a = (rng.random(n) < ps).astype(int)
    g = rng.choice(["x", "y", "z"], n)
    m = match_nearest(ps, a, exact={"g": g}, caliper=None)
    assert np.all(g[m.pairs_treated] == g[m.pairs_control])
    assert m.exact == ("g",)


def test_ratio_two_rounds_and_with_replacement():
    ps = np.array([0.5, 0.52, 0.49, 0.55, 0.3, 0.51])
    a = np.array([1, 0, 0, 0, 0, 1])
    m = match_nearest(ps, a, ratio=2, caliper=None, scale="ps")
    # round 1: 0.51 (largest) -> 0.52 (0.01 vs 0.5's ... ) ; 0.5 -> 0.49; round 2: 0.51 -> 0.55
    pairs = set(zip(m.pairs_treated.tolist(), m.pairs_control.tolist()))
    assert pairs == {(5, 1), (0, 2), (5, 3), (0, 4)}
    r = match_nearest(ps, a, ratio=1, replace=True, caliper=None, scale="ps")
    assert set(zip(r.pairs_treated.tolist(), r.pairs_control.tolist())) == {(5, 1), (0, 2)}
    rr = match_nearest(ps, a, ratio=1, replace=True, caliper=None, scale="ps")
    assert rr.weights[a == 0].sum() == pytest.approx(2)


def test_random_order_is_reproducible():
    ps, a = random_data(5, 200)
    m1 = match_nearest(ps, a, m_order="random", seed=11)
    m2 = match_nearest(ps, a, m_order="random", seed=11)
    np.testing.assert_array_equal(m1.pairs_control, m2.pairs_control)


def test_bad_input():
    ps = np.array([0.2, 0.4, 0.6, 0.5])
    with pytest.raises(InputError, match="0/1"):
        match_nearest(ps, [0, 1, 2, 1])
    with pytest.raises(InputError, match="both"):
        match_nearest(ps, [1, 1, 1, 1])
    with pytest.raises(InputError, match="logit"):
        match_nearest([0.0, 0.4, 0.6, 1.0], [0, 1, 0, 1])
    with pytest.raises(InputError, match="caliper"):
        match_nearest(ps, [0, 1, 0, 1], caliper=-1)
    with pytest.raises(InputError, match="unique"):
        match_nearest(ps, [0, 1, 0, 1], ids=[1, 1, 2, 3])
    with pytest.raises(InputError, match="twice"):
        match_from_pairs([1, 3], [0, 0], [0, 1, 0, 1])


def test_no_treated_within_caliper_is_an_error():
    df = pd.DataFrame({"a": [0] * 10 + [1] * 10, "x": list(range(10)) + list(range(40, 50))})
    with pytest.raises(InputError, match="caliper"):
        with pytest.warns(Warning):
            propensity_match("a ~ x", df, caliper=0.001, firth=True)


def test_matched_cox_on_matchit_pairs_matches_r(lung):
    """R: coxph(Surv(time, dead) ~ female + cluster(subclass), data = match.data(m)) on
    MatchIt's pairs: coef -0.516000436160985, se 0.179954623388095, robust 0.148953566109573."""
    from cartlens.stats.matching import matched_cox

    df, fit = lung
    m = match_from_pairs(
        np.array(MI["pairs"]["treated_row"]) - 1,
        np.array(MI["pairs"]["control_row"]) - 1,
        fit.treat,
        distance=fit.ps,
    )
    cx = matched_cox(df["time"], df["dead"], m)
    ref = MI["matched_cox"]["coefficients"]["female"]
    assert cx.n == MI["matched_cox"]["n"]
    assert cx.coef[0] == pytest.approx(ref["coef"], rel=1e-5)
    assert cx.se[0] == pytest.approx(ref["se"], rel=1e-5)
    assert cx.robust_se[0] == pytest.approx(ref["robust_se"], rel=1e-5)
    strat = matched_cox(df["time"], df["dead"], m, stratified=True)
    assert np.isfinite(strat.coef[0])


def test_discard_outside_common_support():
    """discard='both': units outside the other group's PS range are dropped before matching
    and counted as Discarded (MatchIt's discard = "both"); the caliper SD uses the rest."""
    ps = np.array([0.05, 0.2, 0.3, 0.4, 0.5, 0.25, 0.35, 0.45, 0.6, 0.9])
    a = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    m = match_nearest(ps, a, discard="both", scale="ps", caliper=0.5)
    # treated range [0.25, 0.9] drops control 0.05 and 0.2; control range [0.05, 0.5]
    # drops treated 0.6 and 0.9
    assert m.nn["Discarded"] == {"control": 2, "treated": 2}
    kept = np.array([False, False, True, True, True, True, True, True, False, False])
    assert m.caliper_width == pytest.approx(0.5 * np.std(ps[kept], ddof=1))
    assert not set(m.pairs_treated) & {8, 9} and not set(m.pairs_control) & {0, 1}
    total = m.nn["Matched"]["treated"] + m.nn["Unmatched"]["treated"]
    assert total + m.nn["Discarded"]["treated"] == 5
    with pytest.raises(InputError, match="discard"):
        match_nearest(ps, a, discard="some")


def test_no_caliper_nn_equals_matchit(lung):
    """MatchIt 4.5.1 in effect matched without a caliper; so does caliper=None: the reference
    nn table (90 treated, 90 controls matched, 47 unmatched) is reproduced."""
    _, fit = lung
    m = match_nearest(fit.ps, fit.treat, scale="ps", caliper=None)
    for k in ("All", "Matched", "Unmatched", "Discarded"):
        assert m.nn[k] == MI["nn"][k]


def test_discard_both_counts_match_matchit():
    """R: summary(matchit(female ~ age + ph.ecog, data = lung_ps, method = "nearest",
    distance = "glm", discard = "both"))$nn: Discarded control 8, treated 0; Unmatched
    control 39; Matched 90/90 (MatchIt 4.5.1)."""
    df = lung_ps()
    _, m = propensity_match("female ~ age + ph.ecog", df, scale="ps", caliper=None, discard="both")
    assert m.nn["Discarded"] == {"control": 8, "treated": 0}
    assert m.nn["Unmatched"] == {"control": 39, "treated": 0}
    assert m.nn["Matched"] == {"control": 90, "treated": 90}


# ---- MatchIt's tie-breaking (ties="matchit"), issue 12 -------------------------------------


def _matchit_ties_case():
    import json
    from pathlib import Path

    ref_dir = Path(__file__).parents[1] / "data" / "reference"
    ref = json.loads((ref_dir / "matchit_ties.json").read_text())
    df = pd.read_csv(ref_dir / "data" / "matchit_ties.csv")
    return ref, df


@pytest.mark.parametrize(
    ("key", "ratio", "m_order"),
    [("largest_1", 1, "largest"), ("smallest_1", 1, "smallest"), ("data_2", 2, "data")],
)
def test_matchit_tie_order_reproduces_matchit_pairs(key, ratio, m_order):
    """R (make_reference2.R, matchit_ties.json): matchit(treat ~ score, method = "nearest",
    distance = score, ratio, m.order) on a whole-number score with many ties: the
    match.matrix, pair for pair, with ties="matchit" on score / 64 (scale "ps", no caliper).
    """
    from cartlens.stats.matching import match_nearest

    ref, df = _matchit_ties_case()
    block = ref[key]
    ps = df["score"].to_numpy() / 64.0
    treat = df["treat"].to_numpy()
    kw = {"ratio": ratio, "caliper": None, "scale": "ps", "m_order": m_order}
    m = match_nearest(ps, treat, ties="matchit", **kw)
    got: dict[int, list[int]] = {}
    for t, c in zip(m.pairs_treated.tolist(), m.pairs_control.tolist(), strict=True):
        got.setdefault(int(t) + 1, []).append(int(c) + 1)
    want = {
        t: [c for c in row if c is not None]
        for t, row in zip(block["treated_rows"], block["match_matrix"], strict=True)
    }
    assert {t: v for t, v in want.items() if v} == got
    default = match_nearest(ps, treat, **kw)
    assert sorted(default.pairs_treated.tolist()) == sorted(m.pairs_treated.tolist())


def test_matchit_ties_option_is_checked():
    from cartlens.stats.matching import match_nearest

    ps = np.array([0.2, 0.4, 0.4, 0.6])
    with pytest.raises(InputError, match="ties"):
        match_nearest(ps, [1, 0, 0, 1], ties="random")
    with pytest.raises(InputError, match="without replacement"):
        match_nearest(ps, [1, 0, 0, 1], ties="matchit", replace=True)
