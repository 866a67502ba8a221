"""``cartlens stats bootstrap`` / ``permutation-logrank`` end to end on the lung data."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cartlens.cli.apps import app
from cartlens.cli.main import _load_commands
from conftest import REFERENCE, load_reference

_load_commands()
RUNNER = CliRunner()
LUNG = str(REFERENCE / "data" / "lung.csv")
COMMON = ["--data", LUNG, "--time", "time", "--event", "status", "--event-code", "2"]


def run_json(*args: str) -> dict:
    res = RUNNER.invoke(app, ["stats", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_bootstrap_median_and_cox_json():
    """Estimates are R's: survfit(Surv(time, status == 2) ~ sex, data = lung) medians 270 and
    426 (on the 227 rows with ph.ecog); coxph(... ~ age + sex + ph.ecog) HR of sex 0.5754."""
    ref = load_reference("lung")["cox"]["efron"]["coefficients"]
    a = run_json(
        "bootstrap",
        *COMMON,
        "--group",
        "sex",
        "--formula",
        "age + sex + ph.ecog",
        "--n-boot",
        "50",
        "--seed",
        "3",
    )
    b = run_json(
        "bootstrap",
        *COMMON,
        "--group",
        "sex",
        "--formula",
        "age + sex + ph.ecog",
        "--n-boot",
        "50",
        "--seed",
        "3",
    )
    assert a == b
    assert a["n"] == 227 and a["n_dropped_missing"] == 1 and a["seed"] == 3
    terms = {t["term"]: t for t in a["median"]["terms"]}
    assert terms["median[1]"]["estimate"] == 270
    assert terms["median[2] - median[1]"]["estimate"] == 426 - 270
    cox = {t["term"]: t for t in a["cox"]["terms"]}
    assert cox["sex"]["hr"] == pytest.approx(ref["sex"]["hr"], rel=1e-5)
    assert cox["age"]["hr_lower"] < cox["age"]["hr"] < cox["age"]["hr_upper"]


def test_bootstrap_survival_at_times():
    """summary(survfit(Surv(time, status == 2) ~ sex, data = lung), times = 365)$surv."""
    ref = load_reference("lung")["km"]["by_sex"]
    j = ref["landmark_times"].index(365)
    out = run_json(
        "bootstrap", *COMMON, "--group", "sex", "--times", "365", "--n-boot", "40", "--seed", "1"
    )
    terms = {t["term"]: t for t in out["survival"]["terms"]}
    want = ref["groups"]["sex=2"]["landmarks"]["surv"][j]
    assert terms["S(365)[2]"]["estimate"] == pytest.approx(want, rel=1e-10)
    assert "S(365)[2] - S(365)[1]" in terms


def test_bootstrap_by_cluster():
    out = run_json(
        "bootstrap",
        *COMMON,
        "--formula",
        "age",
        "--cluster",
        "inst",
        "--n-boot",
        "30",
        "--seed",
        "2",
    )
    assert out["cox"]["resampling"] == "ordinary, by cluster"
    assert out["n_dropped_missing"] == 1  # inst is missing in one row


def test_permutation_logrank_json():
    """survdiff(Surv(time, status == 2) ~ sex, data = lung): chisq 10.3267419548856."""
    ref = load_reference("lung")["logrank"]["sex_rho0"]
    out = run_json(
        "permutation-logrank", *COMMON, "--group", "sex", "--n-perm", "500", "--seed", "1"
    )
    assert out["observed"] == pytest.approx(ref["chisq"], rel=1e-10)
    assert [g["group"] for g in out["groups"]] == ["1", "2"]
    assert out["exact"] is False and 0 < out["p"] < 0.05


def test_bad_input_exits_2():
    res = RUNNER.invoke(app, ["stats", "bootstrap", *COMMON, "--group", "nope"])
    assert res.exit_code == 2
    assert "nope" in res.output
    res = RUNNER.invoke(app, ["stats", "bootstrap", *COMMON])
    assert res.exit_code == 2
    res = RUNNER.invoke(app, ["stats", "bootstrap", *COMMON, "--group", "sex", "--ci", "x"])
    assert res.exit_code == 2
