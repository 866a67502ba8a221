"""Balance diagnostics against the R reference (lung.json -> propensity.smd_*, matchit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _lung_ps import COVS, PS, lung_ps

from cartlens.errors import BalanceWarning, InputError
from cartlens.stats.balance import balance_table, ecdf_stats, smd, weighted_mean, weighted_var
from cartlens.stats.propensity import propensity_score
from cartlens.stats.weighting import iptw_weights


@pytest.fixture(scope="module")
def data():
    df = lung_ps()
    fit = propensity_score("female ~ age + ph.ecog", df)
    return df, fit


@pytest.mark.parametrize("cov", COVS)
def test_smd_before_matches_r(data, cov):
    """R: (m1 - m0) / sqrt((v1 + v0) / 2), var with n - 1; age -0.253871912131991."""
    df, fit = data
    ref = PS["smd_before"][cov]
    x = df[cov].to_numpy(float)
    t = fit.treat == 1
    assert x[t].mean() == pytest.approx(ref["mean_treated"], rel=1e-9)
    assert x[~t].mean() == pytest.approx(ref["mean_control"], rel=1e-9)
    assert weighted_var(x[t]) == pytest.approx(ref["var_treated"], rel=1e-9)
    assert weighted_var(x[~t]) == pytest.approx(ref["var_control"], rel=1e-9)
    assert smd(x, fit.treat) == pytest.approx(ref["smd_pooled"], rel=1e-6)


@pytest.mark.parametrize("stabilize", [True, False])
@pytest.mark.parametrize("cov", COVS)
def test_smd_after_weighting_matches_r(data, cov, stabilize):
    """R (sw weights; the same for iptw): wm = sum(w x)/sum(w); wvar_biased and the unbiased
    one times sum(w)^2/(sum(w)^2 - sum(w^2)); SMD with the unweighted pooled SD (age
    -0.0056683053826855), weighted biased SD (-0.00563934826517067) and weighted unbiased SD
    (-0.00561334430333592)."""
    df, fit = data
    ref = PS["smd_after_weighting"][cov]
    w = iptw_weights(fit.ps, fit.treat, stabilize=stabilize).weights
    x = df[cov].to_numpy(float)
    t = fit.treat == 1
    assert weighted_mean(x[t], w[t]) == pytest.approx(ref["wmean_treated"], rel=1e-6)
    assert weighted_mean(x[~t], w[~t]) == pytest.approx(ref["wmean_control"], rel=1e-6)
    for g, m in (("treated", t), ("control", ~t)):
        assert weighted_var(x[m], w[m], unbiased=False) == pytest.approx(
            ref[f"wvar_biased_{g}"], rel=1e-6
        )
        assert weighted_var(x[m], w[m]) == pytest.approx(ref[f"wvar_unbiased_{g}"], rel=1e-6)
    assert smd(x, t, w) == pytest.approx(ref["smd_unweighted_pooled_sd"], rel=1e-6)
    assert smd(x, t, w, denominator="weighted_biased") == pytest.approx(
        ref["smd_weighted_biased_sd"], rel=1e-6
    )
    assert smd(x, t, w, denominator="weighted") == pytest.approx(
        ref["smd_weighted_unbiased_sd"], rel=1e-6
    )


def test_balance_table_before_matches_matchit_sum_all(data):
    """R: summary(matchit(female ~ age + ph.ecog, ...))$sum.all: Std. Mean Diff. by the
    full-sample treated SD (age -0.258517828877457), Var. Ratio, eCDF Mean / Max
    (age 0.0565114123508284 / 0.14963503649635); distance row = the PS."""
    df, fit = data
    b = balance_table(df[COVS], fit.treat, estimand="att", distance=fit.ps)
    ref = PS["matchit"]["balance_all"]
    for cov in ["distance", *COVS]:
        r, e = b.row(cov), ref[cov]
        assert r["mean_treated"] == pytest.approx(e["means_treated"], rel=1e-6)
        assert r["mean_control"] == pytest.approx(e["means_control"], rel=1e-6)
        assert r["smd_before"] == pytest.approx(e["std_mean_diff"], rel=1e-6)
        assert r["var_ratio_before"] == pytest.approx(e["var_ratio"], rel=1e-6)
        assert r["ecdf_mean_before"] == pytest.approx(e["ecdf_mean"], rel=1e-6)
        assert r["ecdf_max_before"] == pytest.approx(e["ecdf_max"], rel=1e-6)
    assert b.denominator == "treated" and not b.adjusted


def test_balance_table_weighted(data):
    df, fit = data
    w = iptw_weights(fit.ps, fit.treat, stabilize=True).weights
    b = balance_table(df[COVS], fit.treat, w)
    assert b.adjusted and b.balanced and b.failing == ()
    for cov in COVS:
        assert b.smd_after()[cov] == pytest.approx(
            PS["smd_after_weighting"][cov]["smd_unweighted_pooled_sd"], rel=1e-6
        )
        assert b.smd_before()[cov] == pytest.approx(PS["smd_before"][cov]["smd_pooled"], rel=1e-6)
    t = fit.treat == 1
    ess_t = w[t].sum() ** 2 / (w[t] ** 2).sum()
    assert b.ess_after["treated"] == pytest.approx(ess_t)
    assert b.ess_before == {"treated": 90.0, "control": 137.0}
    frame = b.to_frame()
    assert len(frame) > 0


def test_balance_warning_reported_not_hidden(data):
    df, fit = data
    with pytest.warns(BalanceWarning, match="age"):
        b = balance_table(df[COVS], fit.treat, np.ones(len(df)), threshold=0.1)
    assert not b.balanced and "age" in b.failing
    assert b.row("age")["pass"] is False


def test_binary_covariate_ecdf_and_no_var_ratio():
    x = np.array([0, 1, 1, 0, 0, 1, 0, 0.0])
    a = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    assert ecdf_stats(x, a) == pytest.approx((0.25, 0.25))
    b = balance_table({"x": x}, a)
    assert b.row("x")["var_ratio_before"] is None and b.row("x")["binary"]


def test_bad_input():
    x = np.arange(6.0)
    with pytest.raises(InputError, match="0/1"):
        balance_table({"x": x}, [0, 1, 2, 0, 1, 0])
    with pytest.raises(InputError, match="zero"):
        balance_table({"x": x}, [0, 1, 1, 0, 1, 0], np.array([0, 1, 1, 0, 1, 0.0]))
    with pytest.raises(InputError, match="numeric"):
        balance_table(pd.DataFrame({"s": list("abcdef")}), [0, 1, 1, 0, 1, 0])
    with pytest.raises(InputError, match="denominator"):
        balance_table({"x": x}, [0, 1, 1, 0, 1, 0], denominator="foo")


def test_constant_covariate_has_zero_smd():
    b = balance_table({"c": np.ones(6)}, [0, 1, 1, 0, 1, 0])
    assert b.row("c")["smd_before"] == 0.0


def test_pairwise_balance_three_groups_with_generalized_weights():
    """Three groups: generalised-PS ATE weights bring every pairwise |SMD| of the model
    covariates under 0.1 (from up to 0.89); each pair's table equals balance_table on that
    pair's units."""
    from cartlens.stats.balance import pairwise_balance
    from cartlens.stats.propensity import generalized_propensity_score
    from cartlens.stats.weighting import generalized_iptw_weights

    df = lung_ps()
    df["grp"] = np.where(df["ph.ecog"] >= 2, "c", np.where(df["female"] == 1, "b", "a"))
    g = generalized_propensity_score("grp ~ age + wt", df.assign(wt=df["inst"]))
    used = df.iloc[g.rows].assign(wt=lambda d: d["inst"])
    w = generalized_iptw_weights(g.probs, g.treat)
    groups = np.asarray(g.levels)[g.treat]
    res = pairwise_balance(used[["age", "wt"]], groups, w, warn=False)
    assert set(res) == {("a", "b"), ("a", "c"), ("b", "c")}
    for (a, b), bal in res.items():
        assert max(map(abs, bal.smd_after().values())) < 0.1
        assert bal.max_abs_smd < max(map(abs, bal.smd_before().values()))
        m = np.isin(groups, [a, b])
        direct = balance_table(used[["age", "wt"]][m], (groups[m] == b).astype(int), w[m])
        assert direct.smd_after() == pytest.approx(bal.smd_after())
    only_ref = pairwise_balance(used[["age"]], groups, reference="a")
    assert set(only_ref) == {("a", "b"), ("a", "c")}


def test_smd_with_zero_sd_is_defined_and_warns():
    """Zero denominator (the covariate is constant within each group): +-inf when the means
    differ (a separating covariate), NaN when they are equal; a BalanceWarning, no crash."""
    treat = np.array([1, 1, 0, 0, 0])
    with pytest.warns(BalanceWarning, match="standard deviation is 0"):
        assert smd(np.array([1.0, 1, 0, 0, 0]), treat) == np.inf
    with pytest.warns(BalanceWarning):
        assert smd(np.array([0.0, 0, 1, 1, 1]), treat) == -np.inf
    with pytest.warns(BalanceWarning):
        assert np.isnan(smd(np.full(5, 7.0), treat))
    w = np.array([1.0, 2, 1, 1, 3])
    with pytest.warns(BalanceWarning):
        assert smd(np.array([1.0, 1, 0, 0, 0]), treat, w, denominator="weighted") == np.inf
    # one treated unit: the treated SD (ddof = 1) is undefined
    with pytest.warns(BalanceWarning, match="undefined"):
        assert np.isnan(
            smd(np.array([3.0, 1, 2, 4, 0]), treat * [1, 0, 1, 1, 1], denominator="treated")
        )
