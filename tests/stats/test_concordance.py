"""Harrell's concordance and its infinitesimal-jackknife SE against R's ``fit$concordance``
(every Cox block in tests/data/reference), a brute-force pair count and hand examples."""

from __future__ import annotations

import numpy as np
import pytest
from _cox_reference import COX_CASES, case_id, fit_case, reference_block
from hypothesis import given, settings
from hypothesis import strategies as st

from cartlens.stats.concordance import _merge_counts, _pairwise, concordance

KEYS = ("concordant", "discordant", "tied_x", "tied_y", "tied_xy")


@pytest.mark.parametrize("case", list(COX_CASES), ids=case_id)
def test_concordance_matches_r(case):
    """``coxph(...)$concordance``: C, its IJ SE and the (weighted) pair counts, e.g. lung
    ``coxph(Surv(time, status == 2) ~ sex + age + ph.ecog)``: C 0.637135493000455,
    se 0.0250679738530796, concordant 12544, discordant 7117, tied.x 126, tied.y 28."""
    ref = reference_block(case)["concordance"]
    got = fit_case(case).concordance
    assert got["concordance"] == pytest.approx(ref["c"], rel=1e-6)
    assert got["se"] == pytest.approx(ref["se"], rel=1e-5)
    for k in KEYS:
        assert got[k] == pytest.approx(ref[k], rel=1e-9, abs=1e-9)


def _brute(time, event, x, entry=None, w=None):
    """O(n^2) definition: death i vs every row j at risk at t_i that is not a death at t_i."""
    n = len(time)
    w = np.ones(n) if w is None else w
    start = np.full(n, -np.inf) if entry is None else entry
    c = dict.fromkeys(KEYS, 0.0)
    for i in range(n):
        if not event[i]:
            continue
        for j in range(n):
            if j == i:
                continue
            at_risk = start[j] < time[i] <= time[j]
            if not at_risk:
                continue
            ww = w[i] * w[j]
            if time[j] == time[i] and event[j]:
                if j > i:
                    c["tied_xy" if x[i] == x[j] else "tied_y"] += ww
                continue
            if x[i] > x[j]:
                c["concordant"] += ww
            elif x[i] < x[j]:
                c["discordant"] += ww
            else:
                c["tied_x"] += ww
    return c


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 30), st.integers(0, 2**31 - 1), st.booleans(), st.booleans())
def test_counts_equal_brute_force(n, seed, counting, weighted):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 8, n).astype(float)
    event = rng.integers(0, 2, n)
    x = rng.integers(0, 4, n).astype(float)
    entry = np.floor(time * rng.random(n)) if counting else None
    if entry is not None:
        entry = np.minimum(entry, time - 1)
    w = rng.uniform(0.5, 2, n) if weighted else None
    got = concordance(time, event, x, entry=entry, weights=w, reverse=True)
    want = _brute(time, event, x, entry, w)
    for k in KEYS:
        assert getattr(got, k) == pytest.approx(want[k], abs=1e-9)
    # the large-n (merge-sort) path gives the same counts and influence
    ww = np.ones(n) if w is None else w
    c1, i1 = _pairwise(time, event, x, entry, ww)
    c2, i2 = _merge_counts(time, event, x, entry, ww)
    np.testing.assert_allclose(c2, c1, atol=1e-9)
    np.testing.assert_allclose(i2, i1, atol=1e-9)


def test_large_path_matches_pairwise_on_bigger_data():
    rng = np.random.default_rng(11)
    n = 2500
    time = rng.integers(1, 300, n).astype(float)
    event = rng.integers(0, 2, n)
    x = np.round(rng.normal(size=n), 1)
    entry = np.minimum(np.floor(time * rng.random(n)), time - 1)
    w = rng.uniform(0.5, 2, n)
    for ent in (None, entry):
        c1, i1 = _pairwise(time, event, x, ent, w)
        c2, i2 = _merge_counts(time, event, x, ent, w)
        np.testing.assert_allclose(c2, c1, rtol=1e-10)
        np.testing.assert_allclose(i2, i1, rtol=1e-9, atol=1e-9)


def test_hand_example_and_direction():
    """Times 1..4 all events, x decreasing: every pair concordant when larger x = earlier
    death (reverse=True, C = 1) and discordant otherwise (C = 0)."""
    t = [1.0, 2.0, 3.0, 4.0]
    e = [1, 1, 1, 1]
    x = [4.0, 3.0, 2.0, 1.0]
    r = concordance(t, e, x, reverse=True)
    assert r.concordance == 1.0 and r.concordant == 6 and r.discordant == 0
    f = concordance(t, e, x)
    assert f.concordance == 0.0 and f.concordant == 0 and f.discordant == 6


def test_censored_at_event_time_counts_as_longer():
    r = concordance([2.0, 2.0], [1, 0], [1.0, 0.0], reverse=True)
    assert r.concordant == 1 and r.tied_y == 0
