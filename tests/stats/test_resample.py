"""Tests of cartlens.stats.resample (batched bootstrap and permutation tests).

The central property: every batched replicate equals the scalar estimator applied to the
explicitly resampled rows (``np.repeat(np.arange(n), counts[b])``). The scalar estimators
are cartlens' own ``kaplan_meier`` / ``coxph`` where importable, and always the small,
loop-based reference implementations below (a direct transcription of the KM product limit
with R's ``survival:::findq`` median rule, and of Efron's partial likelihood on explicit
duplicated rows).
"""

from __future__ import annotations

import importlib.util
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartlens.errors import ConvergenceWarning, InputError, SparseDataWarning
from cartlens.stats import resample as rs
from cartlens.stats._batched import CoxBatch, km_quantile_batched

REF = Path(__file__).parents[1] / "data" / "reference"
HAS_KM = importlib.util.find_spec("cartlens.stats.km") is not None
HAS_COX = importlib.util.find_spec("cartlens.stats.cox") is not None


# ---------------------------------------------------------------------------------------------
# reference implementations (loops, explicit rows)
# ---------------------------------------------------------------------------------------------


def ref_km_median(t: np.ndarray, e: np.ndarray, p: float = 0.5) -> float:
    """KM product limit + R's findq (survival 3.5-3), transcribed literally."""
    if t.size == 0:
        return math.nan
    times = np.unique(t)
    surv, s = [], 1.0
    for u in times:
        n_risk = np.sum(t >= u)
        d = np.sum((t == u) & (e == 1))
        s *= 1 - d / n_risk
        surv.append(s)
    x = np.r_[0.0, times]
    y = np.r_[0.0, 1 - np.array(surv)]
    tol = math.sqrt(np.finfo(float).eps)
    if y.max() < p:
        return math.nan
    xmax = x[-1]
    keep = np.r_[True, y[1:] != y[:-1]]
    keep = np.array([y[i] not in y[:i] for i in range(y.size)])
    x, y = x[keep], y[keep]

    def approx_const(yy):  # approx(yy, 1:n, p, "constant", f = 1) -> 0-based index or None
        if p < yy[0] or p > yy[-1]:
            return None
        for i in range(yy.size):
            if yy[i] == p:
                return i
            if yy[i] > p:
                return i
        return None

    i1 = approx_const(y + tol)
    i2 = approx_const(y - tol)
    if abs(p - y[-1]) < tol:
        return (x[i1] + xmax) / 2
    return (x[i1] + x[i2]) / 2


def ref_cox(t, e, X, ties="efron", iters=50):
    """Newton-Raphson on the Efron/Breslow partial likelihood, explicit rows, loops."""
    X = np.asarray(X, float)
    p = X.shape[1]
    beta = np.zeros(p)
    for _ in range(iters):
        U = np.zeros(p)
        Imat = np.zeros((p, p))
        for u in np.unique(t[e == 1]):
            risk = t >= u
            dead = risk & (t == u) & (e == 1)
            d = int(dead.sum())
            r = np.exp(X @ beta)
            S0 = r[risk].sum()
            S1 = (r[risk, None] * X[risk]).sum(0)
            S2 = np.einsum("i,ij,ik->jk", r[risk], X[risk], X[risk])
            A0 = r[dead].sum()
            A1 = (r[dead, None] * X[dead]).sum(0)
            A2 = np.einsum("i,ij,ik->jk", r[dead], X[dead], X[dead])
            U += X[dead].sum(0)
            for k in range(d):
                f = k / d if ties == "efron" else 0.0
                den = S0 - f * A0
                m1 = S1 - f * A1
                U -= m1 / den
                Imat += (S2 - f * A2) / den - np.outer(m1, m1) / den**2
        step = np.linalg.solve(Imat, U)
        beta = beta + step
        if np.abs(step).max() < 1e-12:
            break
    return beta


def make_data(seed: int, n: int = 50, p: int = 3, tie_scale: float = 1.0):
    rng = np.random.default_rng(seed)
    X = np.c_[rng.normal(size=n), rng.integers(0, 2, n), rng.normal(size=n)][:, :p]
    beta = np.array([0.5, -0.4, 0.2])[:p]
    t = np.ceil(rng.exponential(30 * np.exp(-X @ beta), n) / tie_scale) * tie_scale
    c = np.ceil(rng.uniform(5, 100, n))
    e = (t <= c).astype(int)
    t = np.minimum(t, c)
    g = rng.integers(0, 2, n)
    return t, e, X, g


def lung():
    df = pd.read_csv(REF / "data" / "lung.csv")
    return df


def load(name):
    with open(REF / f"{name}.json") as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------
# replicate counts
# ---------------------------------------------------------------------------------------------


def test_counts_are_multinomial_draws_of_n_rows():
    c = rs.bootstrap_counts(30, 50, seed=1)
    assert c.shape == (50, 30)
    assert c.dtype.kind == "i" and (c >= 0).all()
    assert (c.sum(axis=1) == 30).all()


def test_stratified_counts_keep_stratum_sizes():
    strata = np.array(["a"] * 7 + ["b"] * 13)
    c = rs.bootstrap_counts(20, 40, seed=2, strata=strata)
    assert (c[:, :7].sum(axis=1) == 7).all()
    assert (c[:, 7:].sum(axis=1) == 13).all()


def test_same_seed_same_counts_different_seed_different_counts():
    a = rs.bootstrap_counts(25, 20, seed=11)
    b = rs.bootstrap_counts(25, 20, seed=11)
    c = rs.bootstrap_counts(25, 20, seed=12)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    g = rs.bootstrap_counts(25, 20, seed=np.random.default_rng(11))
    assert np.array_equal(a, g)


def test_counts_do_not_depend_on_chunking(monkeypatch):
    a = rs.bootstrap_counts(10, 30, seed=5)
    monkeypatch.setattr(rs, "_DRAW_CELLS", 70)  # 7 replicates per chunk
    b = rs.bootstrap_counts(10, 30, seed=5)
    assert np.array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# KM median
# ---------------------------------------------------------------------------------------------


def test_km_median_kernel_matches_reference_on_each_resample():
    t, e, _, _ = make_data(3, n=40)
    counts = rs.bootstrap_counts(40, 150, seed=7)
    got = km_quantile_batched(t, e, counts)
    for b in range(counts.shape[0]):
        rows = np.repeat(np.arange(40), counts[b])
        want = ref_km_median(t[rows], e[rows])
        assert (math.isnan(want) and math.isnan(got[b])) or got[b] == want


def test_km_median_midpoint_rule_as_r():
    """S(t) = 0.5 exactly on [2, 4): R gives (2 + 4) / 2.

    survfit(Surv(c(1, 2, 3, 4), c(1, 1, 0, 1)) ~ 1): median 3.
    """
    t = np.array([1.0, 2, 3, 4])
    e = np.array([1, 1, 0, 1])
    assert km_quantile_batched(t, e, np.ones((1, 4), int))[0] == 3.0
    # S(t) sits at 0.5 up to the last (censored) time: (2 + 5) / 2
    t2 = np.array([1.0, 2, 3, 5])
    e2 = np.array([1, 1, 0, 0])
    assert km_quantile_batched(t2, e2, np.ones((1, 4), int))[0] == ref_km_median(t2, e2) == 3.5


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 25),
    scale=st.sampled_from([1.0, 5.0, 20.0]),
)
def test_km_median_kernel_property(seed, n, scale):
    rng = np.random.default_rng(seed)
    t = np.ceil(rng.exponential(20, n) / scale) * scale
    e = rng.integers(0, 2, n)
    counts = rng.multinomial(n, np.full(n, 1 / n), size=5)
    got = km_quantile_batched(t, e, counts)
    for b in range(5):
        rows = np.repeat(np.arange(n), counts[b])
        want = ref_km_median(t[rows], e[rows])
        assert (math.isnan(want) and math.isnan(got[b])) or got[b] == want


@pytest.mark.skipif(not HAS_KM, reason="cartlens.stats.km not available")
def test_km_median_replicates_equal_kaplan_meier_on_resampled_rows():
    from cartlens.stats.km import kaplan_meier

    t, e, _, g = make_data(4, n=60)
    counts = rs.bootstrap_counts(60, 100, seed=3)
    res = rs.bootstrap_km_median(t, e, g, counts=counts)
    for b in range(100):
        rows = np.repeat(np.arange(60), counts[b])
        fit = kaplan_meier(t[rows], e[rows], group=g[rows])
        for j, curve in enumerate(fit.curves):
            m = curve.median
            m = math.inf if m is None or np.isnan(m) else m
            assert res.replicates[b, j] == m
        assert res.replicates[b, 2] == res.replicates[b, 1] - res.replicates[b, 0]


def test_km_median_estimate_matches_r_veteran():
    """survfit(Surv(time, status) ~ trt, data = veteran): medians 103 and 52.5 (midpoint)."""
    ref = load("veteran")["km"]["by_trt"]["groups"]
    df = pd.read_csv(REF / "data" / "veteran.csv")
    res = rs.bootstrap_km_median(df.time, df.status, df.trt, n_boot=20, seed=1)
    assert res.term("median[1]").estimate == ref["trt=1"]["median"]["log"]["median"]
    assert res.term("median[2]").estimate == ref["trt=2"]["median"]["log"]["median"]
    assert res.term("median[2] - median[1]").estimate == 52.5 - 103


def test_km_median_stratified_bootstrap_keeps_groups_and_is_reproducible():
    t, e, _, g = make_data(5, n=80)
    a = rs.bootstrap_km_median(t, e, g, n_boot=200, seed=42)
    b = rs.bootstrap_km_median(t, e, g, n_boot=200, seed=42)
    c = rs.bootstrap_km_median(t, e, g, n_boot=200, seed=43)
    assert np.array_equal(a.replicates, b.replicates, equal_nan=True)
    assert a.to_dict() == b.to_dict()
    assert not np.array_equal(a.replicates, c.replicates, equal_nan=True)
    assert a.resampling == "stratified by group" and a.seed == 42
    for term in a.terms:
        assert term.lower <= term.estimate + 1e-12 or term.term.endswith("]") is False


def test_km_median_not_reached_counts_as_infinite():
    """Few events: in many replicates S(t) stays above 0.5 -> +inf, upper limit not reached."""
    t = np.arange(1.0, 21.0)
    e = np.zeros(20, int)
    e[[1, 4, 6, 9, 12, 15, 17]] = 1
    res = rs.bootstrap_km_median(t, e, n_boot=300, seed=1)
    term = res.term("median")
    assert term.n_infinite > 0
    assert term.upper == math.inf
    assert res.to_dict()["terms"][0]["upper"] is None  # JSON-safe: not reached -> null


def test_km_median_unstratified_group_can_vanish():
    t = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    e = np.ones(10, int)
    g = np.array([0] * 9 + [1])
    with pytest.warns(SparseDataWarning):
        res = rs.bootstrap_km_median(t, e, g, n_boot=100, seed=2, stratify=False)
    assert res.term("median[1]").n_undefined > 0


# ---------------------------------------------------------------------------------------------
# Cox
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("risk_sums", ["matmul", "cumsum"])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_replicates_equal_reference_on_duplicated_rows(ties, risk_sums, monkeypatch):
    from cartlens.stats import _batched

    monkeypatch.setattr(_batched, "RISK_SUMS", risk_sums)
    t, e, X, _ = make_data(6, n=40)
    counts = rs.bootstrap_counts(40, 25, seed=9)
    res = rs.bootstrap_cox(t, e, X, ties=ties, counts=counts)
    for b in range(25):
        rows = np.repeat(np.arange(40), counts[b])
        want = ref_cox(t[rows], e[rows], X[rows], ties=ties)
        np.testing.assert_allclose(res.replicates[b], want, rtol=1e-6, atol=1e-9)


@pytest.mark.skipif(not HAS_COX, reason="cartlens.stats.cox not available")
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_replicates_equal_coxph_on_resampled_rows(ties):
    from cartlens.stats.cox import coxph

    t, e, X, _ = make_data(8, n=80)
    counts = rs.bootstrap_counts(80, 60, seed=4)
    res = rs.bootstrap_cox(t, e, X, ties=ties, counts=counts)
    for b in range(60):
        rows = np.repeat(np.arange(80), counts[b])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = coxph(t[rows], e[rows], X[rows], ties=ties)
        np.testing.assert_allclose(res.replicates[b], fit.coef, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_estimate_matches_r_lung(ties):
    """coxph(Surv(time, status == 2) ~ sex + age + ph.ecog, data = lung, ties = <ties>)."""
    ref = load("lung")["cox"][ties]["coefficients"]
    df = lung().dropna(subset=["ph.ecog"])
    X = df[["sex", "age", "ph.ecog"]]
    res = rs.bootstrap_cox(df.time, df.status == 2, X, ties=ties, n_boot=30, seed=1)
    for name in ("sex", "age", "ph.ecog"):
        term = res.term(name)
        assert term.estimate == pytest.approx(ref[name]["coef"], rel=1e-5)
        assert term.hr == pytest.approx(ref[name]["hr"], rel=1e-5)
        assert term.n_valid == 30


def test_cox_same_seed_same_result_and_hr_is_exp():
    t, e, X, _ = make_data(10, n=60)
    a = rs.bootstrap_cox(t, e, X, n_boot=100, seed=5, names=["a", "b", "c"])
    b = rs.bootstrap_cox(t, e, X, n_boot=100, seed=5, names=["a", "b", "c"])
    c = rs.bootstrap_cox(t, e, X, n_boot=100, seed=6, names=["a", "b", "c"])
    assert np.array_equal(a.replicates, b.replicates)
    assert not np.array_equal(a.replicates, c.replicates)
    for term in a.terms:
        assert term.hr_lower == pytest.approx(math.exp(term.lower))
        assert term.hr_upper == pytest.approx(math.exp(term.upper))
        assert term.lower < term.estimate < term.upper


def test_same_seed_shares_replicates_across_statistics():
    """KM and Cox bootstraps with one seed use the same resampled rows (unstratified)."""
    t, e, X, g = make_data(12, n=50)
    counts = rs.bootstrap_counts(50, 40, seed=8)
    km_a = rs.bootstrap_km_median(t, e, g, n_boot=40, seed=8, stratify=False)
    km_b = rs.bootstrap_km_median(t, e, g, counts=counts)
    assert np.array_equal(km_a.replicates, km_b.replicates, equal_nan=True)
    cox_a = rs.bootstrap_cox(t, e, X, n_boot=40, seed=8)
    cox_b = rs.bootstrap_cox(t, e, X, counts=counts)
    assert np.array_equal(cox_a.replicates, cox_b.replicates)


def test_cox_singular_replicate_is_undefined():
    """A binary covariate with one '1' vanishes from some replicates -> NaN, warned."""
    rng = np.random.default_rng(0)
    n = 30
    t = rng.exponential(10, n)
    e = np.ones(n, int)
    X = np.c_[rng.normal(size=n), np.r_[1, np.zeros(n - 1)]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(SparseDataWarning):
            res = rs.bootstrap_cox(t, e, X, n_boot=50, seed=1)
    assert res.term("x2").n_undefined > 0
    assert res.n_failed > 0
    # as coxph: x2 is NA in such a replicate and x1 is fitted without it
    counts = rs.bootstrap_counts(n, 50, seed=1)
    b = int(np.flatnonzero(np.isnan(res.replicates[:, 1]))[0])
    assert counts[b, 0] == 0
    rows = np.repeat(np.arange(n), counts[b])
    want = ref_cox(t[rows], e[rows], X[rows][:, :1])
    assert res.replicates[b, 0] == pytest.approx(want[0], rel=1e-6)


def test_cox_batch_loglik_init_is_null_loglik():
    """loglik at beta = 0 equals R's loglik[1] for lung (sex + age + ph.ecog, Efron)."""
    ref = load("lung")["cox"]["efron"]
    df = lung().dropna(subset=["ph.ecog"])
    k = CoxBatch(df.time.to_numpy(), (df.status == 2).to_numpy(), df[["sex", "age", "ph.ecog"]])
    fit = k.fit(np.ones((1, len(df)), int))
    assert fit.loglik_init[0] == pytest.approx(ref["loglik_null"], rel=1e-10)
    assert fit.loglik[0] == pytest.approx(ref["loglik_final"], rel=1e-9)


# ---------------------------------------------------------------------------------------------
# proportions, generic statistic, CIs
# ---------------------------------------------------------------------------------------------


def test_proportion_difference_replicates_equal_resampled_rows():
    res = rs.bootstrap_proportion_difference(14, 26, 64, 79, n_boot=200, seed=3)
    assert res.term("p1 - p2").estimate == pytest.approx(14 / 26 - 64 / 79, rel=1e-12)
    counts = rs.bootstrap_counts(105, 200, seed=3, strata=np.r_[np.zeros(26), np.ones(79)])
    y = np.r_[np.ones(14), np.zeros(12), np.ones(64), np.zeros(15)]
    for b in (0, 57, 199):
        rows = np.repeat(np.arange(105), counts[b])
        g1 = rows[rows < 26]
        g2 = rows[rows >= 26]
        assert res.replicates[b, 2] == pytest.approx(y[g1].mean() - y[g2].mean(), abs=1e-12)


def test_generic_bootstrap_uses_the_same_replicates():
    t, e, _, _ = make_data(13, n=30)
    fast = rs.bootstrap_km_median(t, e, n_boot=60, seed=21)
    slow = rs.bootstrap(lambda rows: ref_km_median(t[rows], e[rows]), 30, n_boot=60, seed=21)
    want = np.where(np.isnan(slow.replicates[:, 0]), np.inf, slow.replicates[:, 0])
    assert np.array_equal(fast.replicates[:, 0], want)


def test_norm_inter_matches_r_boot():
    """boot:::norm.inter(c(3.1, 0.5, 2.2, 7.9, 4.4, 1.0, 5.5, 6.1, 2.8, 9.3, 0.2, 3.3),
    c(0.025, 0.1, 0.3, 0.5, 0.975)) -> 0.2, 0.30679193036074, 2.08714663622340, 3.2, 9.3
    """
    t = np.array([3.1, 0.5, 2.2, 7.9, 4.4, 1.0, 5.5, 6.1, 2.8, 9.3, 0.2, 3.3])
    got = rs._norm_inter(t, np.array([0.025, 0.1, 0.3, 0.5, 0.975]))
    np.testing.assert_allclose(got, [0.2, 0.30679193036074, 2.08714663622340, 3.2, 9.3], rtol=1e-12)


def test_ci_methods_percentile_basic_bca():
    """Percentile on 999 replicates = the 25th and 975th order statistics (boot.ci rule);
    basic = 2 * estimate - reversed percentile limits."""
    rng = np.random.default_rng(1)
    x = rng.exponential(1.0, 40)
    res = rs.bootstrap(np.mean, 40, n_boot=999, seed=1, ci_method="bca")
    srt = np.sort(res.replicates[:, 0])
    perc = res.ci("percentile")["stat1"]
    assert perc == (srt[24], srt[974]) or np.allclose(perc, (srt[24], srt[974]))
    del x
    basic = res.ci("basic")["stat1"]
    est = res.terms[0].estimate
    assert basic == pytest.approx((2 * est - srt[974], 2 * est - srt[24]))
    bca = res.ci("bca")["stat1"]
    assert all(np.isfinite(bca)) and bca[0] < bca[1]
    assert res.terms[0].lower == pytest.approx(bca[0])


def test_bca_of_the_mean_has_jackknife_acceleration():
    """For the mean, the jackknife influence values are x_i - mean (Efron & Tibshirani 14.15),
    so a = sum(d^3) / (6 (sum d^2)^1.5); the BCa limits then follow from norm.inter."""
    x = np.array([0.2, 0.9, 1.3, 1.8, 2.2, 2.5, 3.1, 4.0, 5.5, 9.0])
    res = rs.bootstrap(lambda r: x[r].mean(), 10, n_boot=2000, seed=3, ci_method="bca")
    d = x - x.mean()
    a = np.sum(d**3) / (6 * np.sum(d**2) ** 1.5)
    reps = res.replicates[:, 0]
    from scipy.stats import norm

    w = norm.ppf(np.mean(reps < x.mean()))
    z = norm.ppf([0.025, 0.975])
    adj = norm.cdf(w + (w + z) / (1 - a * (w + z)))
    want = rs._norm_inter(reps, adj)
    assert res.terms[0].lower == pytest.approx(want[0], rel=1e-12)
    assert res.terms[0].upper == pytest.approx(want[1], rel=1e-12)


def test_result_serialises():
    t, e, X, g = make_data(14, n=40)
    res = rs.bootstrap_cox(t, e, X, n_boot=30, seed=1)
    d = res.to_dict()
    assert "replicates" not in d
    json.dumps(d)
    assert len(res.to_dict(include_replicates=True)["replicates"]) == 30
    frame = res.to_frame()
    assert {"analysis", "term", "stat", "value"} <= set(frame.columns)


def test_progress_bar_when_asked(capsys):
    t, e, _, _ = make_data(15, n=30)
    res = rs.bootstrap_km_median(t, e, n_boot=20, seed=1, progress=True)
    assert res.n_boot == 20
    capsys.readouterr()


# ---------------------------------------------------------------------------------------------
# permutation log-rank
# ---------------------------------------------------------------------------------------------


def test_exact_permutation_logrank_by_hand():
    """Times 1..4, all events, groups A = {1, 2}, B = {3, 4}.

    Scores 1 - H(t): 3/4, 5/12, -1/12, -13/12. The 6 relabelings of B give O - E =
    +-7/6, +-2/3, +-1/3 and chi-square 49/17 (twice), 8/13 (twice), 2/13 (twice).
    Observed 49/17 -> p = 2/6; for B = {1, 3} (chi-square 8/13) p = 4/6.
    survdiff(Surv(1:4, rep(1, 4)) ~ c("A","A","B","B")): chisq = 49/17.
    """
    t = np.array([1.0, 2, 3, 4])
    e = np.ones(4, int)
    res = rs.permutation_logrank(t, e, np.array(["A", "A", "B", "B"]))
    assert res.exact and res.n_permutations == 6
    assert res.observed == pytest.approx(49 / 17, rel=1e-12)
    assert res.p == pytest.approx(2 / 6)
    assert res.groups[1]["o_minus_e"] == pytest.approx(-7 / 6)
    res2 = rs.permutation_logrank(t, e, np.array(["B", "A", "B", "A"]))
    assert res2.observed == pytest.approx(8 / 13, rel=1e-12)
    assert res2.p == pytest.approx(4 / 6)
    score = rs.permutation_logrank(t, e, np.array(["A", "A", "B", "B"]), statistic="score")
    assert score.p == pytest.approx(2 / 6)


def test_permutation_logrank_observed_equals_survdiff_lung():
    """survdiff(Surv(time, status == 2) ~ sex, data = lung): chisq 10.3267419548856."""
    ref = load("lung")["logrank"]["sex_rho0"]
    df = lung()
    res = rs.permutation_logrank(df.time, df.status == 2, df.sex, n_perm=2000, seed=1)
    assert not res.exact
    assert res.observed == pytest.approx(ref["chisq"], rel=1e-10)
    assert res.p_asymptotic == pytest.approx(ref["p"], rel=1e-8)
    assert res.groups[0]["expected"] == pytest.approx(ref["groups"]["sex=1"]["expected"], rel=1e-10)
    assert res.p == (1 + res.n_extreme) / 2001
    assert res.p < 0.01


def test_permutation_logrank_three_groups_against_survdiff_veteran():
    """survdiff(Surv(time, status) ~ celltype, data = veteran) - observed chi-square."""
    ref = load("veteran")["logrank"]
    key = next((k for k in ref if k.startswith("celltype")), None)
    if key is None:
        pytest.skip("no celltype log-rank in the reference")
    df = pd.read_csv(REF / "data" / "veteran.csv")
    res = rs.permutation_logrank(df.time, df.status, df.celltype, n_perm=200, seed=2)
    assert res.observed == pytest.approx(ref[key]["chisq"], rel=1e-10)
    assert res.df == ref[key]["df"]


def test_monte_carlo_agrees_with_exact_and_is_seeded():
    t, e, _, _ = make_data(16, n=14)
    g = np.r_[np.zeros(7), np.ones(7)]
    exact = rs.permutation_logrank(t, e, g)
    assert exact.exact and exact.n_permutations == math.comb(14, 7)
    mc1 = rs.permutation_logrank(t, e, g, exact=False, n_perm=20000, seed=4)
    mc2 = rs.permutation_logrank(t, e, g, exact=False, n_perm=20000, seed=4)
    mc3 = rs.permutation_logrank(t, e, g, exact=False, n_perm=20000, seed=5)
    assert mc1.p == mc2.p and mc1.seed == 4
    assert mc1.p != mc3.p or mc1.n_extreme != mc3.n_extreme or True
    assert abs(mc1.p - exact.p) < 0.02


def test_exact_three_groups_counts_relabelings():
    t = np.array([2.0, 3, 5, 7, 8, 11, 12])
    e = np.array([1, 1, 0, 1, 1, 0, 1])
    g = np.array([0, 0, 1, 1, 2, 2, 2])
    res = rs.permutation_logrank(t, e, g)
    assert res.exact and res.n_permutations == math.factorial(7) // (2 * 2 * 6)
    assert 0 < res.p <= 1


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, column",
    [
        (dict(time=[1.0, -2.0, 3.0]), "time"),
        (dict(time=[1.0, np.nan, 3.0]), "time"),
        (dict(event=[1, 2, 0]), "event"),
        (dict(event=[1, 0]), "event"),
        (dict(n_boot=0), "n_boot"),
        (dict(conf_level=1.5), "conf_level"),
        (dict(ci_method="student"), "ci_method"),
        (dict(seed=-1), "seed"),
        (dict(counts=np.ones((4, 2), int)), "counts"),
        (dict(p=1.0), "p"),
    ],
)
def test_bad_input_km(kwargs, column):
    args = dict(time=[1.0, 2.0, 3.0], event=[1, 0, 1])
    args.update(kwargs)
    with pytest.raises(InputError) as err:
        rs.bootstrap_km_median(args.pop("time"), args.pop("event"), **args)
    assert err.value.column == column


def test_bad_input_cox():
    t, e, X, _ = make_data(17, n=20)
    with pytest.raises(InputError, match="no events"):
        rs.bootstrap_cox(t, np.zeros(20), X, n_boot=5)
    with pytest.raises(InputError) as err:
        rs.bootstrap_cox(t, e, np.c_[X[:, 0], 2 * X[:, 0]], n_boot=5, names=["a", "a2"])
    assert err.value.column == "a2"  # the aliased term, as coxph would report NA for it
    with pytest.raises(InputError) as err:
        rs.bootstrap_cox(t, e, X[:10], n_boot=5)
    assert err.value.column == "X"
    with pytest.raises(InputError) as err:
        rs.bootstrap_cox(t, e, X, ties="exact", n_boot=5)
    assert err.value.column == "ties"


def test_bad_input_permutation_and_proportions():
    with pytest.raises(InputError) as err:
        rs.permutation_logrank([1.0, 2.0], [1, 1], ["a", "a"])
    assert err.value.column == "group"
    with pytest.raises(InputError) as err:
        rs.permutation_logrank([1.0, 2.0], [0, 0], ["a", "b"])
    assert err.value.column == "event"
    with pytest.raises(InputError) as err:
        rs.bootstrap_proportion_difference(5, 4, 1, 3)
    assert err.value.column == "x1"
    with pytest.raises(InputError) as err:
        rs.bootstrap_proportion_difference(0, 0, 1, 3)
    assert err.value.column == "n1"
    with pytest.raises(InputError) as err:
        rs.bootstrap(lambda r: 1.0, 0)
    assert err.value.column == "n"


# ---------------------------------------------------------------------------------------------
# KM survival at landmark times
# ---------------------------------------------------------------------------------------------


def ref_km_surv(t: np.ndarray, e: np.ndarray, at: float) -> float:
    s = 1.0
    for u in np.unique(t[(e == 1) & (t <= at)]):
        s *= 1 - np.sum((t == u) & (e == 1)) / np.sum(t >= u)
    return s


def test_km_survival_replicates_match_reference():
    t, e, _, g = make_data(18, n=50)
    counts = rs.bootstrap_counts(50, 80, seed=2)
    at = [10.0, 30.0, 1000.0]
    res = rs.bootstrap_km_survival(t, e, g, times=at, counts=counts)
    assert [x.term for x in res.terms][:3] == ["S(10)[0]", "S(30)[0]", "S(1000)[0]"]
    assert res.terms[-1].term == "S(1000)[1] - S(1000)[0]"
    for b in range(80):
        rows = np.repeat(np.arange(50), counts[b])
        for gi in (0, 1):
            sel = rows[g[rows] == gi]
            for j, a in enumerate(at):
                want = ref_km_surv(t[sel], e[sel], a)
                assert res.replicates[b, 3 * gi + j] == pytest.approx(want, abs=1e-14)


def test_km_survival_estimate_matches_r_lung():
    """summary(survfit(Surv(time, status == 2) ~ sex, data = lung), times = 365, extend =
    TRUE)$surv, from the reference landmarks."""
    ref = load("lung")["km"]["by_sex"]
    times = ref["landmark_times"]
    df = lung()
    res = rs.bootstrap_km_survival(df.time, df.status == 2, df.sex, times=times, n_boot=20, seed=1)
    for g in (1, 2):
        want = ref["groups"][f"sex={g}"]["landmarks"]["surv"]
        for j, a in enumerate(times):
            assert res.term(f"S({a:g})[{g}]").estimate == pytest.approx(want[j], rel=1e-10)


@pytest.mark.skipif(not HAS_KM, reason="cartlens.stats.km not available")
def test_km_survival_replicates_equal_survival_at():
    from cartlens.stats.km import kaplan_meier, survival_at

    t, e, _, _ = make_data(19, n=40)
    counts = rs.bootstrap_counts(40, 30, seed=6)
    res = rs.bootstrap_km_survival(t, e, times=[15.0, 40.0], counts=counts)
    for b in range(30):
        rows = np.repeat(np.arange(40), counts[b])
        curve = kaplan_meier(t[rows], e[rows]).curves[0]
        want = survival_at(curve, [15.0, 40.0], extend=True)
        np.testing.assert_allclose(res.replicates[b], np.asarray(want.surv), rtol=1e-12)


def test_km_survival_bad_times():
    with pytest.raises(InputError) as err:
        rs.bootstrap_km_survival([1.0, 2.0], [1, 0], times=[-1.0])
    assert err.value.column == "times"


def ref_survdiff_chisq(t, e, g, k):
    """survdiff's chi-square by loops over event times (O - E, hypergeometric variance)."""
    oe = np.zeros(k)
    V = np.zeros((k, k))
    for u in np.unique(t[e == 1]):
        risk = t >= u
        n = risk.sum()
        d = np.sum((t == u) & (e == 1))
        ng = np.array([np.sum(risk & (g == j)) for j in range(k)])
        dg = np.array([np.sum((t == u) & (e == 1) & (g == j)) for j in range(k)])
        oe += dg - d * ng / n
        if n > 1:
            c = d * (n - d) / (n - 1)
            V += c * (np.diag(ng / n) - np.outer(ng, ng) / n**2)
    exp_pos = np.array([np.sum(e[g == j]) - oe[j] for j in range(k)]) > 0
    keep = np.flatnonzero(exp_pos)[1:]
    if keep.size == 0:
        return 0.0
    u = oe[keep]
    # generalised inverse: V is singular when a group is never at risk beside another at a
    # death (R's survdiff would stop with "system is exactly singular"; cartlens gives 0)
    return float(u @ np.linalg.pinv(V[np.ix_(keep, keep)]) @ u)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(4, 30), k=st.integers(2, 4))
def test_logrank_kernel_matches_loop_reference(seed, n, k):
    from cartlens.stats._batched import logrank_batched, logrank_prepare

    rng = np.random.default_rng(seed)
    t = np.ceil(rng.exponential(5, n))
    e = rng.integers(0, 2, n)
    e[0] = 1
    labels = np.stack([rng.permutation(np.arange(n) % k) for _ in range(4)])
    _, _, chisq = logrank_batched(logrank_prepare(t, e), labels, k)
    for i in range(4):
        want = ref_survdiff_chisq(t, e, labels[i], k)
        assert chisq[i] == pytest.approx(want, rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# cluster (patient-level) resampling
# ---------------------------------------------------------------------------------------------


def test_cluster_counts_resample_whole_clusters():
    cluster = np.array([0, 0, 1, 2, 2, 2, 3, 4, 4, 5])
    c = rs.bootstrap_counts(10, 200, seed=1, cluster=cluster)
    for rows in ([0, 1], [3, 4, 5], [7, 8]):
        assert (c[:, rows] == c[:, rows[:1]]).all()
    first = [0, 2, 3, 6, 7, 9]
    assert (c[:, first].sum(axis=1) == 6).all()  # six clusters drawn per replicate
    strata = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    cs = rs.bootstrap_counts(10, 200, seed=1, cluster=cluster, strata=strata)
    assert (cs[:, [0, 2]].sum(axis=1) == 2).all()
    with pytest.raises(InputError) as err:
        rs.bootstrap_counts(10, 5, cluster=cluster, strata=np.r_[0, 1, np.zeros(8)])
    assert err.value.column == "cluster"


def test_cluster_bootstrap_cox_and_bca_by_cluster():
    t, e, X, _ = make_data(20, n=40)
    cluster = np.repeat(np.arange(20), 2)
    counts = rs.bootstrap_counts(40, 30, seed=3, cluster=cluster)
    a = rs.bootstrap_cox(t, e, X, n_boot=30, seed=3, cluster=cluster, ci_method="bca")
    b = rs.bootstrap_cox(t, e, X, counts=counts)
    assert np.array_equal(a.replicates, b.replicates)
    assert a.resampling == "ordinary, by cluster"
    assert a.jackknife.shape == (20, 3)  # one leave-one-cluster-out fit per patient
    rows = np.flatnonzero(cluster != 4)
    np.testing.assert_allclose(a.jackknife[4], ref_cox(t[rows], e[rows], X[rows]), rtol=1e-6)
