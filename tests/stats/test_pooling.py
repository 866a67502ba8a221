"""Three simulated sites: pooled results equal the single-store analysis of the concatenated
records (suppression off), and small-count suppression withholds exactly the small cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _mgus2 import REFERENCE, mgus2_cr_frame

from cartlens.errors import InputError
from cartlens.stats.aggregate import (
    combine_counts,
    cox_risk_set_sums,
    cuminc_from_counts,
    km_from_counts,
    logrank_from_counts,
    survival_counts,
)
from cartlens.stats.competing import cuminc
from cartlens.stats.cox import coxph
from cartlens.stats.km import kaplan_meier
from cartlens.stats.logrank import logrank_test
from cartlens.stats.pooling import (
    CoxRounds,
    simulate_distributed_cox,
    site_event_summary,
    sums_from_json,
    sums_to_json,
    suppress_counts,
)

TOL = 1e-8


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "lung.csv").dropna(subset=["ph.ecog"])
    d["dead"] = (d["status"] == 2).astype(int)
    return d.reset_index(drop=True)


def _sites(n: int, seed: int = 3) -> list[np.ndarray]:
    """Three sites of unequal size (a random partition of the rows)."""
    lab = np.random.default_rng(seed).choice(3, size=n, p=[0.5, 0.3, 0.2])
    return [np.flatnonzero(lab == s) for s in range(3)]


def test_pooled_counts_equal_the_concatenated_records(lung):
    idx = _sites(len(lung))
    sites = [
        survival_counts(lung.time[i], lung.dead[i], group=lung.sex[i], strata=lung["ph.ecog"][i])
        for i in idx
    ]
    released = []
    for s in sites:
        kept, rep = suppress_counts(s, 0)  # suppression off
        assert rep.cells_withheld == 0 and rep.records_kept == s.n
        released.append(kept)
    pooled = combine_counts(released)
    km = km_from_counts(pooled)
    ref = kaplan_meier(lung.time, lung.dead, group=lung.sex)
    for a, r in zip(km.curves, ref.curves):
        np.testing.assert_allclose(a.surv, r.surv, rtol=TOL)
        np.testing.assert_allclose(a.std_err, r.std_err, rtol=TOL)
        assert a.median == r.median
    lr = logrank_from_counts(pooled, rho=1.0)
    lr_ref = logrank_test(lung.time, lung.dead, lung.sex, strata=lung["ph.ecog"], rho=1.0)
    np.testing.assert_allclose([lr.chisq, lr.p], [lr_ref.chisq, lr_ref.p], rtol=TOL)


def test_pooled_cif_and_gray_equal_the_concatenated_records():
    d = mgus2_cr_frame()
    idx = _sites(len(d), seed=5)
    pooled = combine_counts([survival_counts(d.etime[i], d.event[i], group=d.sex[i]) for i in idx])
    got = cuminc_from_counts(pooled)
    ref = cuminc(d.etime, d.event, group=d.sex)
    for a, r in zip(got.curves, ref.curves):
        np.testing.assert_allclose(a.estimate, r.estimate, rtol=TOL)
        np.testing.assert_allclose(a.variance, r.variance, rtol=TOL)
    for a, r in zip(got.gray_test, ref.gray_test):
        np.testing.assert_allclose(a.stat, r.stat, rtol=TOL)


def test_suppression_withholds_exactly_the_cells_below_k(lung):
    c = survival_counts(lung.time, lung.dead, group=lung.sex)
    kept, rep = suppress_counts(c, 3)
    small = c.count < 3
    assert rep.cells_withheld == int(small.sum()) > 0
    assert rep.records_withheld == int(c.count[small].sum())
    assert rep.records_kept + rep.records_withheld == c.n == len(lung)
    assert kept.count.min() >= 3
    assert len(kept.count) == int((~small).sum())
    # what remains is an approximation: it differs from the records' estimate
    full = km_from_counts(c).curves[0]
    approx = km_from_counts(kept).curves[0]
    assert approx.n_risk[0] < full.n_risk[0]
    _, none = suppress_counts(c, 1)
    assert none.cells_withheld == 0
    with pytest.raises(InputError) as e:
        suppress_counts(c, -1)
    assert e.value.column == "k"


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("strata", [False, True])
def test_distributed_cox_equals_the_concatenated_fit(lung, ties, strata):
    X = np.column_stack([lung.age, lung.sex, lung["ph.ecog"]]).astype(float)
    st = (lung.inst.fillna(0).astype(int) % 2).astype(str).to_numpy() if strata else None
    ref = coxph(lung.time, lung.dead, X, strata=st, ties=ties, concordance=False)
    idx = _sites(len(lung))
    sites = [(lung.time.to_numpy()[i], lung.dead.to_numpy()[i], X[i]) for i in idx]
    fit, rounds = simulate_distributed_cox(
        sites, strata=None if st is None else [st[i] for i in idx], ties=ties
    )
    assert fit.converged and rounds == ref.iterations + 1
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=TOL)
    np.testing.assert_allclose(fit.var, ref.vcov, rtol=TOL)
    np.testing.assert_allclose(
        [fit.loglik_null, fit.loglik], [ref.loglik_null, ref.loglik], rtol=TOL
    )
    assert (fit.n, fit.events) == (ref.n, ref.events)


def test_cox_rounds_survive_a_json_state_file_between_rounds(lung):
    X = np.column_stack([lung.age, lung.sex]).astype(float)
    idx = _sites(len(lung), seed=9)
    sites = [(lung.time.to_numpy()[i], lung.dead.to_numpy()[i], X[i]) for i in idx]
    state = CoxRounds.start([site_event_summary(*s) for s in sites]).to_json()
    while True:
        rounds = CoxRounds.from_json(state)
        if rounds.done:
            break
        req = rounds.request()
        replies = [
            sums_to_json(
                cox_risk_set_sums(
                    t, e, x, req["beta"], center=req["center"], at=[tuple(a) for a in req["at"]]
                )
            )
            for t, e, x in sites
        ]
        rounds.update([sums_from_json(r) for r in replies])
        state = rounds.to_json()
    fit = rounds.result()
    ref = coxph(lung.time, lung.dead, X, concordance=False)
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=TOL)
    with pytest.raises(InputError):
        rounds.update([])
