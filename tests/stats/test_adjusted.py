"""Adjusted survival curves against R (tests/data/reference/adjusted.json, made by
make_reference2.R): g-formula vs ``riskRegression::ate`` and IPTW-KM vs weighted survfit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cartlens.errors import InputError
from cartlens.stats.adjusted import adjusted_survival
from conftest import load_reference

REF = load_reference("adjusted")
DATA = Path(__file__).parents[1] / "data" / "reference" / "data"


@pytest.fixture(scope="module")
def lung():
    d = pd.read_csv(DATA / "lung.csv")
    d = d[d["ph.ecog"].notna()].reset_index(drop=True)
    return d.assign(dead=(d.status == 2).astype(int))


@pytest.fixture(scope="module")
def lung_gformula(lung):
    return adjusted_survival(
        lung,
        time="time",
        event="dead",
        treatment="sex",
        formula="age + ph.ecog",
        times=[180, 365, 540],
        B=200,
        seed=1,
    )


def test_gformula_matches_riskregression_ate(lung_gformula):
    """R: ate(coxph(Surv(time, dead) ~ sex + age + ph.ecog, x = TRUE), treatment = "sex",
    times = c(180, 365, 540)): mean risks 1 - S and differences, to 1e-6."""
    ref = REF["lung_sex_gformula"]
    r = lung_gformula
    mr = ref["mean_risk"]
    for c in r.curves:
        for i, tv in enumerate(r.times):
            j = next(
                k
                for k in range(len(mr["time"]))
                if mr["time"][k] == tv and mr["treatment"][k] == str(c["level"])
            )
            assert 1 - c["surv"][i] == pytest.approx(mr["estimate"][j], rel=1e-6)
            # bootstrap SE against ate's influence-function SE: the same quantity, B = 200
            assert c["se"][i] == pytest.approx(mr["se"][j], rel=0.25)
            assert c["lower"][i] <= c["surv"][i] <= c["upper"][i]
    dr = ref["diff_risk"]
    for d, est, se in zip(r.differences, dr["estimate"], dr["se"], strict=True):
        assert -d["estimate"] == pytest.approx(est, rel=1e-6)  # risk B - A = -(S_B - S_A)
        assert d["se"] == pytest.approx(se, rel=0.25)
    assert "bootstrap" in r.ci_method and "seed 1" in r.ci_method
    assert "g-formula" in r.description


def test_gformula_with_four_levels_matches_ate():
    """R: ate(coxph(Surv(time, status) ~ celltype + karno + age), treatment = "celltype",
    times = c(30, 90, 180))."""
    ref = REF["veteran_celltype_gformula"]["mean_risk"]
    d = pd.read_csv(DATA / "veteran.csv")
    r = adjusted_survival(
        d,
        time="time",
        event="status",
        treatment="celltype",
        formula="karno + age",
        times=[30, 90, 180],
        B=20,
        seed=2,
    )
    assert r.levels == ("adeno", "large", "smallcell", "squamous")
    got = {(c["level"], tv): 1 - c["surv"][i] for c in r.curves for i, tv in enumerate(r.times)}
    for tv, lev, est in zip(ref["time"], ref["treatment"], ref["estimate"], strict=True):
        assert got[(lev, tv)] == pytest.approx(est, rel=1e-6)
    assert len(r.differences) == 3 * 3


def test_iptw_km_matches_weighted_survfit(lung):
    """R: glm(I(sex == 2) ~ age + ph.ecog, binomial); w = 1/ps or 1/(1 - ps);
    summary(survfit(Surv(time, dead) ~ sex, weights = w), times = c(180, 365, 540))."""
    ref = REF["lung_sex_iptw"]
    r = adjusted_survival(
        lung,
        time="time",
        event="dead",
        treatment="sex",
        formula="age + ph.ecog",
        times=[180, 365, 540],
        method="iptw",
        B=50,
        seed=3,
        risk_times=[0, 365],
    )
    got = {
        (f"sex={c['level']}", tv): c["surv"][i] for c in r.curves for i, tv in enumerate(r.times)
    }
    for st, tv, sv in zip(ref["strata"], ref["time"], ref["surv"], strict=True):
        assert got[(st, tv)] == pytest.approx(sv, rel=1e-6)
    tab = {row["level"]: row for row in r.risk_table}
    assert tab[1]["n_risk"][0] == (lung.sex == 1).sum()
    # weighted numbers at risk at time 0: the sum of the arm's ATE weights (about n)
    assert tab[1]["n_risk_weighted"][0] > tab[1]["n_risk"][0]
    assert "IPT weights" in r.weighted_label


def test_risk_table_and_differences_are_consistent(lung, lung_gformula):
    r = lung_gformula
    tab = {row["level"]: row for row in r.risk_table}
    want = [int(((lung.sex == 2) & (lung.time >= tv)).sum()) for tv in (180, 365, 540)]
    assert list(tab[2]["n_risk"]) == want
    assert list(tab[2]["n_risk_weighted"]) == want and "no weights" in r.weighted_label
    s = {c["level"]: c["surv"] for c in r.curves}
    for d in r.differences:
        i = list(r.times).index(d["time"])
        assert d["estimate"] == pytest.approx(s[2][i] - s[1][i])
        assert d["lower"] <= d["estimate"] <= d["upper"] and 0 <= d["p"] <= 1


def test_bad_input(lung):
    kw = {"time": "time", "event": "dead", "treatment": "sex", "formula": "age", "times": [100]}
    with pytest.raises(InputError, match="method"):
        adjusted_survival(lung, method="aiptw", **kw)
    with pytest.raises(InputError, match="'B'"):
        adjusted_survival(lung, B=5, **kw)
    with pytest.raises(InputError, match="times"):
        adjusted_survival(lung, **{**kw, "times": [-1]})
    with pytest.raises(InputError, match="binary treatment"):
        adjusted_survival(lung, **{**kw, "treatment": "ph.ecog"}, method="iptw")
    with pytest.raises(InputError, match="'nope'"):
        adjusted_survival(lung, **{**kw, "treatment": "nope"})
