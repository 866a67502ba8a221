"""Aggregate-then-estimate equals the row-level functions on the reference data (1e-10).

The row-level functions are themselves tested against R (survfit, survdiff, cuminc, coxph)
on the same data, so equality here carries R parity over to the aggregate path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _mgus2 import REFERENCE, mgus2_cr_frame

from cartlens.errors import InputError
from cartlens.stats.aggregate import (
    combine_counts,
    combine_risk_set_sums,
    counts_from_frame,
    cox_newton,
    cox_partial_likelihood,
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

TOL = 1e-10


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "lung.csv")
    d["dead"] = (d["status"] == 2).astype(int)
    return d


def close(a, b, tol=TOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b))
    m = ~np.isnan(a)
    np.testing.assert_allclose(a[m], b[m], rtol=tol, atol=tol)


def test_count_table_is_much_smaller_and_counts_every_record(lung):
    c = survival_counts(lung.time, lung.dead, group=lung.sex)
    assert c.n == len(lung) and len(c.count) < len(lung)
    assert set(c.group) == {1, 2} and set(c.status) == {0, 1}


def test_km_from_counts_equals_rows(lung):
    rows = kaplan_meier(lung.time, lung.dead, group=lung.sex)
    agg = km_from_counts(survival_counts(lung.time, lung.dead, group=lung.sex))
    assert len(rows.curves) == len(agg.curves) == 2
    for r, a in zip(rows.curves, agg.curves):
        assert r.group == a.group
        for f in ("time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper"):
            close(getattr(a, f), getattr(r, f))
        assert (a.n, a.weighted, a.robust) == (r.n, r.weighted, r.robust)
        for f in ("median", "median_lower", "median_upper", "events", "n_start", "n_max"):
            close(getattr(a, f), getattr(r, f))


@pytest.mark.parametrize("rho", [0.0, 1.0])
@pytest.mark.parametrize("strata", [False, True])
def test_logrank_from_counts_equals_rows(lung, rho, strata):
    d = lung.dropna(subset=["ph.ecog"])
    st = d["ph.ecog"] if strata else None
    rows = logrank_test(d.time, d.dead, d.sex, strata=st, rho=rho)
    agg = logrank_from_counts(survival_counts(d.time, d.dead, group=d.sex, strata=st), rho=rho)
    close(agg.chisq, rows.chisq)
    close(agg.var, rows.var)
    assert (agg.n, agg.events, agg.df) == (rows.n, rows.events, rows.df)
    for ga, gr in zip(agg.groups, rows.groups):
        assert ga["n"] == gr["n"]
        close([ga["observed"], ga["expected"]], [gr["observed"], gr["expected"]])


@pytest.mark.parametrize("strata", [False, True])
def test_cuminc_and_gray_from_counts_equal_rows(strata):
    d = mgus2_cr_frame()
    st = (d["age"] > 70).astype(int) if strata else None
    rows = cuminc(d.etime, d.event, group=d.sex, strata=st)
    agg = cuminc_from_counts(survival_counts(d.etime, d.event, group=d.sex, strata=st))
    assert len(rows.curves) == len(agg.curves) == 4
    for r, a in zip(rows.curves, agg.curves):
        assert (r.group, r.cause, r.n, r.events) == (a.group, a.cause, a.n, a.events)
        for f in ("time", "estimate", "variance", "n_risk", "lower", "upper"):
            close(getattr(a, f), getattr(r, f))
    for r, a in zip(rows.gray_test, agg.gray_test):
        close([a.stat, a.p], [r.stat, r.p])


def test_three_sites_counts_combine_to_the_whole(lung):
    parts = np.array_split(np.arange(len(lung)), 3)
    sites = [survival_counts(lung.time[i], lung.dead[i], group=lung.sex[i]) for i in parts]
    pooled = km_from_counts(combine_counts(sites))
    whole = kaplan_meier(lung.time, lung.dead, group=lung.sex)
    for r, a in zip(whole.curves, pooled.curves):
        close(a.surv, r.surv)
        close(a.std_err, r.std_err)


def test_counts_from_frame_reads_the_sql_columns(lung):
    c = survival_counts(lung.time, lung.dead, group=lung.sex)
    df = pd.DataFrame({"grp": c.group, "time": c.time, "status": c.status, "n": c.count})
    back = counts_from_frame(df)
    assert np.array_equal(back.count, c.count) and np.array_equal(back.time, c.time)
    with pytest.raises(InputError) as e:
        counts_from_frame(df.drop(columns="n"))
    assert e.value.column == "n"


def _design(lung):
    d = lung.dropna(subset=["ph.ecog"]).reset_index(drop=True)
    X = np.column_stack([d.age, d.sex, d["ph.ecog"]]).astype(float)
    return d, X


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("strata", [False, True])
def test_cox_from_risk_set_sums_equals_coxph(lung, ties, strata):
    d, X = _design(lung)
    st = d.inst.fillna(0).astype(int) % 3 if strata else None
    ref = coxph(d.time, d.dead, X, strata=st, ties=ties, concordance=False)
    centre = X.mean(axis=0)
    fit = cox_newton(
        lambda b: cox_risk_set_sums(d.time, d.dead, X, b, strata=st, center=centre),
        3,
        ties=ties,
    )
    assert fit.converged and fit.iterations == ref.iterations
    close(fit.coef, ref.coef)
    close(fit.var, ref.vcov)
    close([fit.loglik_null, fit.loglik], [ref.loglik_null, ref.loglik])
    assert (fit.n, fit.events) == (ref.n, ref.events)


def test_cox_sums_of_three_sites_at_pooled_times_equal_the_whole(lung):
    d, X = _design(lung)
    beta = np.array([0.01, -0.5, 0.4])
    centre = X.mean(axis=0)
    whole = cox_risk_set_sums(d.time, d.dead, X, beta, center=centre)
    at = list(zip(whole.stratum, whole.time))
    parts = np.array_split(np.arange(len(d)), 3)
    sites = [
        cox_risk_set_sums(d.time[i], d.dead[i], X[i], beta, center=centre, at=at) for i in parts
    ]
    pooled = combine_risk_set_sums(sites)
    for ties in ("efron", "breslow"):
        a, b = cox_partial_likelihood(pooled, ties), cox_partial_likelihood(whole, ties)
        close(a[0], b[0])
        close(a[1], b[1])
        close(a[2], b[2])
