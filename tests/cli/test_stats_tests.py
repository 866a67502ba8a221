"""``cartlens stats fisher / wilcox / rmst / adjusted / mi`` end to end against R
(references made by tests/data/reference/make_reference2.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_runner import run, run_json

REFERENCE = Path(__file__).parents[1] / "data" / "reference"
DATA = REFERENCE / "data"


def load_reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


def test_fisher_table_and_data_match_r(tmp_path):
    """R: fisher.test(matrix(c(3, 1, 0, 1, 4, 2, 0, 2, 5), 3, 3, byrow = TRUE))."""
    ref = load_reference("fisher_rxc")["tables"]["ordered_3x3"]
    out = run_json("fisher", "--table", "3,1,0;1,4,2;0,2,5")
    assert out["p"] == pytest.approx(ref["exact"]["p"], rel=1e-9)
    assert out["odds_ratio"] is None and not out["simulated"]
    rows = [
        (r, c) for r, row in enumerate(ref["table"]) for c, k in enumerate(row) for _ in range(k)
    ]
    path = tmp_path / "t.csv"
    pd.DataFrame({"grade": [f"g{r}" for r, _ in rows], "arm": [f"a{c}" for _, c in rows]}).to_csv(
        path, index=False
    )
    again = run_json("fisher", "--data", str(path), "--rows", "grade", "--cols", "arm")
    assert again["p"] == pytest.approx(ref["exact"]["p"], rel=1e-9)
    assert again["row_labels"] == ["g0", "g1", "g2"]
    sim = run_json(
        "fisher", "--table", "3,1,0;1,4,2;0,2,5", "--simulate", "--B", "4000", "--seed", "5"
    )
    assert sim["simulated"] and sim["seed"] == 5
    assert abs(sim["p"] - ref["exact"]["p"]) < 4 * np.sqrt(0.05 * 0.95 / 4000) + 1e-3
    one = run_json("fisher", "--table", "8,2;1,5", "--alternative", "greater")
    assert one["upper"] is None and one["lower"] > 0  # [lower, Inf): JSON null for Inf
    assert run("fisher", "--table", "3,1,0;1,4,2;0,2,5").exit_code == 0


def test_wilcox_matches_r(tmp_path):
    """R: wilcox.test(x, y, conf.int = TRUE) for the 'ties' case of wilcox_hl.json."""
    case = load_reference("wilcox_hl")["cases"]["ties_two.sided_correct"]
    path = tmp_path / "w.csv"
    pd.DataFrame(
        {"v": case["x"] + case["y"], "g": ["x"] * len(case["x"]) + ["y"] * len(case["y"])}
    ).to_csv(path, index=False)
    out = run_json("wilcox", "--data", str(path), "--value", "v", "--group", "g")
    assert out["p"] == pytest.approx(case["p"], rel=1e-9)
    assert out["shift_estimate"] == pytest.approx(case["estimate"], rel=1e-9)
    assert [out["lower"], out["upper"]] == pytest.approx(case["conf_int"], rel=1e-9)
    rev = run_json(
        "wilcox", "--data", str(path), "--value", "v", "--group", "g", "--reference", "x"
    )
    assert rev["shift_estimate"] == pytest.approx(-case["estimate"], rel=1e-6)
    assert run("wilcox", "--data", str(path), "--value", "v", "--group", "g").exit_code == 0


def test_rmst_matches_r():
    """R: summary(survfit(Surv(time, status == 2) ~ sex, lung), rmean = 365) + survRM2."""
    ref = load_reference("rmst")["lung_sex_tau_365"]
    args = ["rmst", "--data", str(DATA / "lung.csv"), "--time", "time", "--event", "status"]
    out = run_json(*args, "--event-code", "2", "--group", "sex", "--tau", "365")
    assert [g["rmst"] for g in out["per_group"]] == pytest.approx(ref["rmst"], rel=1e-9)
    assert out["difference"]["estimate"] == pytest.approx(ref["difference"]["estimate"])
    assert out["ratio"]["p"] == pytest.approx(ref["ratio"]["p"], rel=1e-9)
    assert run(*args, "--event-code", "2", "--group", "sex").exit_code == 0


def test_adjusted_matches_riskregression_and_weighted_survfit():
    """R: riskRegression::ate (g-formula) and survfit(weights = w) (IPTW), adjusted.json."""
    ref = load_reference("adjusted")
    base = [
        *["adjusted", "--data", str(DATA / "lung.csv"), "--time", "time", "--event", "status"],
        *["--event-code", "2", "--treatment", "sex", "--formula", "age + ph.ecog"],
        *["--times", "180,365,540", "--n-boot", "20", "--seed", "1"],
    ]
    g = run_json(*base)
    mr = ref["lung_sex_gformula"]["mean_risk"]
    risks = [1 - s for c in g["curves"] for s in c["surv"]]
    assert risks == pytest.approx(mr["estimate"], rel=1e-6)
    assert "bootstrap" in g["ci_method"] and g["n_dropped_missing"] == 1
    w = run_json(*base, "--method", "iptw")
    surv = [s for c in w["curves"] for s in c["surv"]]
    assert surv == pytest.approx(ref["lung_sex_iptw"]["surv"], rel=1e-6)
    assert "IPT weights" in w["weighted_label"]
    assert run(*base).exit_code == 0


def test_adjusted_cif_and_mi(tmp_path):
    d = pd.read_csv(DATA / "mgus2.csv")
    d = d[d.hgb.notna()]
    d = d.assign(
        etime=np.where(d.pstat == 0, d.futime, d.ptime),
        event=np.where(d.pstat == 0, 2 * d.death, 1),
        male=(d.sex == "M").astype(int),
    )
    path = tmp_path / "mg.csv"
    d.to_csv(path, index=False)
    out = run_json(
        *["adjusted", "--data", str(path), "--time", "etime", "--event", "event"],
        *["--treatment", "male", "--formula", "age + hgb", "--times", "60,120,240"],
        *["--method", "iptw", "--cause", "1", "--n-boot", "20", "--seed", "2"],
    )
    ref = load_reference("adjusted")["mgus2_sex_iptw_cif"]
    assert [c["surv"][0] for c in out["curves"]] == pytest.approx(
        [ref["pstate"][0][1], ref["pstate"][3][1]], rel=1e-6
    )
    assert out["estimand"] == "cumulative incidence"
    g = run_json(
        *["adjusted", "--data", str(path), "--time", "etime", "--event", "event"],
        *["--treatment", "male", "--formula", "age + hgb", "--times", "60,120,240"],
        *["--cause", "2", "--n-boot", "20", "--seed", "2"],
    )
    mr = load_reference("adjusted")["mgus2_sex_csc_gformula"]["cause2"]["mean_risk"]
    assert [s for c in g["curves"] for s in c["surv"]] == pytest.approx(mr["estimate"], rel=1e-6)
    assert g["method"] == "gformula" and "cause-specific Cox" in g["description"]
    mi = run_json(
        *["mi", "--data", str(DATA / "lung.csv"), "--model", "cox", "--time", "time"],
        *["--event", "status", "--event-code", "2", "--formula", "age + sex + wt.loss"],
        *["--m", "3", "--maxit", "3", "--seed", "7"],
    )
    again = run_json(
        *["mi", "--data", str(DATA / "lung.csv"), "--model", "cox", "--time", "time"],
        *["--event", "status", "--event-code", "2", "--formula", "age + sex + wt.loss"],
        *["--m", "3", "--maxit", "3", "--seed", "7"],
    )
    assert mi["terms"] == again["terms"]  # seeded
    assert mi["imputed_columns"]["wt.loss"]["n_missing"] == 14
    assert all(0 < t["fmi"] < 1 for t in mi["terms"])
    full = pd.read_csv(DATA / "mgus2.csv")
    full = full.assign(
        etime=np.where(full.pstat == 0, full.futime, full.ptime),
        event=np.where(full.pstat == 0, 2 * full.death, 1),
    )[["etime", "event", "age", "hgb", "creat"]]
    fpath = tmp_path / "mg_missing.csv"
    full.to_csv(fpath, index=False)
    fg = run_json(
        *["mi", "--data", str(fpath), "--model", "finegray", "--time", "etime"],
        *["--event", "event", "--formula", "age + hgb + creat"],
        *["--m", "2", "--maxit", "2", "--seed", "1"],
    )
    assert [t["term"] for t in fg["terms"]] == ["age", "hgb", "creat"]
    assert fg["imputed_columns"]["hgb"]["n_missing"] == int(full.hgb.isna().sum())
