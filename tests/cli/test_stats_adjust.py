"""``cartlens stats ps`` / ``cartlens stats match`` end to end against the lung reference."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cli_runner import run, run_json

REFERENCE = Path(__file__).parents[1] / "data" / "reference"


def load_reference(name: str) -> dict:
    """tests/data/reference/<name>.json (made by R; see the README there)."""
    with open(REFERENCE / f"{name}.json") as f:
        return json.load(f)


PS = load_reference("lung")["propensity"]
LUNG = str(REFERENCE / "data" / "lung.csv")


def test_ps_json_matches_r(tmp_path):
    """R: glm(female ~ age + ph.ecog, binomial) on lung rows with ph.ecog (sex == 2 treated);
    stabilised weights; SMDs before (pooled SD) and after (cobalt-style unweighted pooled SD)."""
    out_csv = tmp_path / "w.csv"
    out = run_json(
        "ps",
        "--data",
        LUNG,
        "--treatment",
        "sex",
        "--treated",
        "2",
        "--formula",
        "age + ph.ecog",
        "--stabilize",
        "--out",
        str(out_csv),
    )
    assert (out["n"], out["n_treated"], out["n_control"]) == (227, 90, 137)
    assert out["n_dropped_missing"] == 1
    terms = {t["term"]: t for t in out["ps_model"]["terms"]}
    ref = PS["ps_model"]["coefficients"]
    assert terms["age"]["coef"] == pytest.approx(ref["age"]["estimate"], rel=1e-6)
    assert terms["ph.ecog"]["se"] == pytest.approx(ref["ph.ecog"]["se"], rel=1e-6)
    assert terms["Intercept"]["p"] == pytest.approx(ref["(Intercept)"]["p"], rel=1e-6)
    for cov in ("age", "ph.ecog"):
        assert out["smd_before"][cov] == pytest.approx(PS["smd_before"][cov]["smd_pooled"])
        assert out["smd_after"][cov] == pytest.approx(
            PS["smd_after_weighting"][cov]["smd_unweighted_pooled_sd"], rel=1e-6
        )
    assert out["weights"]["summary"]["treated"]["sum"] == pytest.approx(
        PS["weights"]["sw"]["sum_treated"], rel=1e-6
    )
    assert out["ess"]["after"]["treated"] < 90
    w = pd.read_csv(out_csv)
    assert len(w) == 228 and w["ps"].isna().sum() == 1 and w["weight"].isna().sum() == 1
    assert w["ps"].dropna().to_numpy() == pytest.approx(PS["ps_model"]["ps_values"], rel=1e-6)


def test_ps_table_output_and_overlap_estimand():
    res = run("ps", "--data", LUNG, "--treatment", "sex", "--treated", "2", "--formula", "age")
    assert res.exit_code == 0, res.output
    assert "Balance" in res.output
    out = run_json(
        "ps", "--data", LUNG, "--treatment", "sex", "--treated", "2", "--formula", "age",
        "--estimand", "ato",
    )  # fmt: skip
    assert out["smd_after"]["age"] == pytest.approx(0.0, abs=1e-7)  # exact for overlap weights


def test_match_json(tmp_path):
    out_csv = tmp_path / "m.csv"
    out = run_json(
        "match", "--data", LUNG, "--treatment", "sex", "--treated", "2",
        "--formula", "age + ph.ecog", "--scale", "ps", "--out", str(out_csv),
    )  # fmt: skip
    assert out["nn"]["All"] == {"control": 137, "treated": 90}
    assert out["nn"]["Matched"] == {"control": 88, "treated": 88}
    assert out["matching"]["caliper_width"] == pytest.approx(
        PS["matchit"]["caliper_width_ps_scale"], rel=1e-6
    )
    assert out["smd_before"]["age"] == pytest.approx(
        PS["matchit"]["balance_all"]["age"]["std_mean_diff"], rel=1e-6
    )
    m = pd.read_csv(out_csv)
    assert len(m) == 176 and m.groupby("subclass")["sex"].nunique().eq(2).all()


def test_match_exact_and_replace():
    out = run_json(
        "match", "--data", LUNG, "--treatment", "sex", "--treated", "2",
        "--formula", "age", "--exact", "ph.ecog", "--replace", "--ratio", "2",
    )  # fmt: skip
    assert out["matching"]["exact"] == ["ph.ecog"] and out["matching"]["replace"] is True
    assert out["n_pairs"] > out["nn"]["Matched"]["treated"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--treatment", "ph.ecog", "--formula", "age"], "ph.ecog"),
        (["--treatment", "sex", "--formula", "age"], "treated="),
        (["--treatment", "sex", "--treated", "2", "--formula", "age + nosuch"], "nosuch"),
        (["--treatment", "nosuch", "--formula", "age"], "nosuch"),
        (["--treatment", "sex", "--treated", "2", "--formula", "age", "--trim", "0.5"], "trim"),
    ],
)
def test_bad_input_exit_2(args, needle):
    res = run("ps", "--data", LUNG, *args)
    assert res.exit_code == 2
    assert needle in res.output


def test_all_zero_weights_after_trim_is_an_error():
    res = run(
        "ps", "--data", LUNG, "--treatment", "sex", "--treated", "2", "--formula", "age",
        "--trim", "0.9,0.95",
    )  # fmt: skip
    assert res.exit_code == 2 and "trim" in res.output


def test_evalue_command():
    """VanderWeele & Ding 2017: RR 3.9 (1.8, 8.7) -> E-values 7.26 and 3.0."""
    out = run_json("evalue", "--estimate", "3.9", "--lower", "1.8", "--upper", "8.7")
    assert round(out["evalue"], 2) == 7.26 and out["evalue_ci"] == pytest.approx(3.0)
    assert "explain away" in out["interpretation"]
    res = run("evalue", "--estimate", "0.6", "--measure", "hr")
    assert res.exit_code == 2 and "rare" in res.output
    ok = run("evalue", "--estimate", "0.6", "--lower", "0.44", "--upper", "0.83", "--measure",
             "hr", "--common")  # fmt: skip
    assert ok.exit_code == 0 and "E-value" in ok.output
