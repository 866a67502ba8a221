"""Multiple imputation: Rubin's rules against mice::pool / pool.scalar on data sets imputed
by R (tests/data/reference/mi_pool.json and data/*_imputed.csv, made by make_reference2.R),
and the chained-equations engine's own properties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartlens.errors import InputError
from cartlens.stats.cox import coxph_formula
from cartlens.stats.finegray import finegray
from cartlens.stats.imputation import mice, pool_fits, pool_scalars, rubin_pool
from cartlens.stats.logistic import logistic_regression
from conftest import load_reference

REF = load_reference("mi_pool")
DATA = Path(__file__).parents[1] / "data" / "reference" / "data"
KEYS = ("qbar", "ubar", "b", "t", "df", "riv", "fmi")


@pytest.fixture(scope="module")
def lung_imputed():
    d = pd.read_csv(DATA / "lung_imputed.csv")
    return [g.drop(columns=".imp").reset_index(drop=True) for _, g in d.groupby(".imp")]


def _check(pooled, ref_terms, name_map=lambda s: s, rel=1e-6, rel_p=None):
    for r in ref_terms:
        got = pooled.term(name_map(r["term"]))
        for k in KEYS:
            assert got[k] == pytest.approx(r[k], rel=rel), (r["term"], k)
        for k in ("dfcom", "lambda", "se", "statistic", "p", "lower", "upper"):
            if k in r:
                tol = rel_p if (k == "p" and rel_p is not None) else rel
                assert got[k] == pytest.approx(r[k], rel=tol), (r["term"], k)


def test_cox_pooling_matches_mice_pool(lung_imputed):
    """R: pool(with(imp, coxph(Surv(time, status) ~ age + sex + ph.ecog + wt.loss)))."""
    fits = []
    for d in lung_imputed:
        d = d.assign(dead=(d.status == 2).astype(int))
        fits.append(coxph_formula("age + sex + ph.ecog + wt.loss", d, time="time", event="dead"))
    pooled = pool_fits(fits)
    assert pooled.model == "cox" and pooled.m == 5
    _check(pooled, REF["cox"]["terms"])
    t = pooled.term("age")
    assert t["exp_estimate"] == pytest.approx(np.exp(t["qbar"]))


def test_logistic_pooling_matches_mice_pool(lung_imputed):
    """R: pool(with(imp, glm(I(status == 2) ~ age + sex + ph.ecog + wt.loss, binomial)))."""
    fits = [
        logistic_regression(
            "dead ~ age + sex + ph.ecog + wt.loss", d.assign(dead=(d.status == 2).astype(int))
        )
        for d in lung_imputed
    ]
    pooled = pool_fits(fits)
    # glm stops at its epsilon = 1e-8 deviance criterion, so its variances are ~1e-6 off
    # the maximum; the fitted-model tolerance 1e-5 applies (P, a tail area, 1e-4)
    _check(pooled, REF["logistic"]["terms"], rel=1e-5, rel_p=1e-4)


def test_finegray_pooling_matches_pool_scalar():
    """R: crr(etime, event, cbind(age, hgb, creat, mspike), failcode = 1) per imputation and
    pool.scalar(q, u, n = nrow, k = 4) per coefficient."""
    d = pd.read_csv(DATA / "mgus2_imputed.csv")
    cols = ["age", "hgb", "creat", "mspike"]
    fits = [
        finegray(g.etime, g.event, g[cols].to_numpy(), names=cols) for _, g in d.groupby(".imp")
    ]
    for f, i in zip(fits, range(5), strict=True):
        for j, r in enumerate(REF["finegray"]["terms"]):
            assert f.coef[j] == pytest.approx(r["qhat"][i], rel=1e-5)
    _check(pool_fits(fits), REF["finegray"]["terms"], rel=1e-4)


def test_proportion_pooling_matches_pool_scalar():
    """R: pool.scalar(props, props * (1 - props) / n, n = n, k = 1)."""
    ref = REF["proportion"]
    q = np.array(ref["estimates"])
    n = 228
    pooled = pool_scalars(q, q * (1 - q) / n, n=n, k=1, name="ph.ecog >= 2")
    _check(pooled, [{**ref, "term": "ph.ecog >= 2"}], rel=1e-9)


def test_rubin_rules_by_hand():
    q = np.array([[1.0], [2.0], [3.0]])
    u = np.array([[0.5], [0.5], [0.5]])
    r = rubin_pool(q, u).terms[0]
    assert r["qbar"] == 2.0 and r["b"] == 1.0
    assert r["t"] == pytest.approx(0.5 + 4 / 3)
    assert r["riv"] == pytest.approx((4 / 3) / 0.5)
    lam = (4 / 3) / (0.5 + 4 / 3)
    assert r["df"] == pytest.approx(2 / lam**2)  # dfcom = Inf: the old Rubin df


def test_bad_pooling_input():
    with pytest.raises(InputError, match="at least 2"):
        rubin_pool([[1.0]], [[1.0]])
    with pytest.raises(InputError, match="non-finite"):
        rubin_pool([[1.0], [np.nan]], [[1.0], [1.0]], names=["age"])
    with pytest.raises(InputError, match="at least 2"):
        pool_fits([])


# ---- the chained-equations engine --------------------------------------------------------


def _mar_frame(n=400, seed=1):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0, 1, n)
    x2 = x1 + rng.normal(0, 0.5, n)
    grp = np.where(x1 + rng.normal(0, 0.5, n) > 0, "hi", "lo").astype(object)
    stage = np.select([x1 < -0.5, x1 < 0.5], ["I", "II"], "III").astype(object)
    df = pd.DataFrame({"x1": x1, "x2": x2, "grp": grp, "stage": stage})
    truth = df.copy()
    miss = x1 > 0.3  # missing at random given x1
    df.loc[miss & (rng.random(n) < 0.7), "x2"] = np.nan
    df.loc[rng.random(n) < 0.15, "grp"] = None
    df.loc[rng.random(n) < 0.15, "stage"] = None
    return df, truth


def test_mice_is_seeded_keeps_observed_values_and_imputes_plausible_ones():
    df, _ = _mar_frame()
    a = mice(df, m=3, maxit=5, seed=11)
    b = mice(df, m=3, maxit=5, seed=11)
    c = mice(df, m=3, maxit=5, seed=12)
    assert a.methods == {"x2": "pmm", "grp": "logreg", "stage": "polyreg"}
    assert all(np.array_equal(u, v) for u, v in zip(a.imputed["x2"], b.imputed["x2"], strict=True))
    assert not np.array_equal(a.imputed["x2"][0], c.imputed["x2"][0])
    for i in range(3):
        d = a.complete(i)
        assert d.notna().all().all()
        obs = df["x2"].notna()
        assert np.array_equal(d.loc[obs, "x2"], df.loc[obs, "x2"])
        assert set(d.loc[~obs, "x2"]) <= set(df.loc[obs, "x2"])  # pmm donates observed values
        assert set(d["grp"]) == {"hi", "lo"}
        assert set(d["stage"]) == {"I", "II", "III"}
        # stage follows x1: the imputed stages agree with x1 far more often than by chance
        fill = df["stage"].isna()
        truth_stage = np.select([d.x1 < -0.5, d.x1 < 0.5], ["I", "II"], "III")
        assert (d.loc[fill, "stage"] == truth_stage[fill]).mean() > 0.6
    assert a.n_missing["x2"] == int(df["x2"].isna().sum())
    assert "seed 11" in a.method and a.to_dict()["seed"] == 11 and "data" not in a.to_dict()


def test_mice_recovers_values_missing_at_random_where_complete_cases_are_biased():
    df, truth = _mar_frame(n=1500, seed=3)
    miss = df["x2"].isna()
    true_mean = truth["x2"].mean()
    cc_mean = df["x2"].mean()
    imp = mice(df, m=5, maxit=5, seed=5)
    means = [imp.complete(i)["x2"].mean() for i in range(5)]
    pooled = pool_scalars(means, [imp.complete(i)["x2"].var() / len(df) for i in range(5)])
    est = pooled.terms[0]
    assert abs(cc_mean - true_mean) > 0.2  # complete cases miss the high x1 rows
    assert abs(est["qbar"] - true_mean) < 0.05
    assert est["lower"] < true_mean < est["upper"]
    assert 0 < est["fmi"] < 1 and miss.sum() > 100


def test_mice_bad_input():
    df, _ = _mar_frame(n=50)
    with pytest.raises(InputError, match="'m'"):
        mice(df, m=1)
    with pytest.raises(InputError, match="'nope'"):
        mice(df, columns=["nope"])
    with pytest.raises(InputError, match="'x2'.*not imputed"):
        mice(df, columns=["grp"])
    with pytest.raises(InputError, match="fewer than 2"):
        mice(df.assign(x3=np.nan), columns=["x2", "grp", "stage", "x3"])
