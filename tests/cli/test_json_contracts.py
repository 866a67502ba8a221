"""Acceptance audit: the JSON shapes that the issues promise, on the R reference data.

Issue 2 (statistical core), issue 3 (competing risks) and issue 6 (adjustment) spell out the
keys of ``cartlens stats <command> --json``. These tests check that every promised key is
there with exactly that spelling (commands may add more keys; the promised ones must not be
renamed), that group labels are the CSV text, that "not reached" is ``null``, that
``n_dropped_missing`` is reported, and a few numbers against R (``tests/data/reference``) so
that a shape with wrong numbers cannot pass.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cartlens.cli.apps import app
from cartlens.cli.main import _load_commands
from conftest import REFERENCE, load_reference

_load_commands()
RUNNER = CliRunner()
LUNG = str(REFERENCE / "data" / "lung.csv")
VETERAN = str(REFERENCE / "data" / "veteran.csv")
LUNG_ENDPOINT = ["--time", "time", "--event", "status", "--event-code", "2"]


def _reject_constant(text: str):
    raise AssertionError(f"JSON contains the non-standard literal {text}")


def run_json(*args: str) -> dict:
    res = RUNNER.invoke(app, ["stats", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout, parse_constant=_reject_constant)


def has_keys(obj: dict, keys: str) -> None:
    """Every promised key is present (exact spelling)."""
    missing = set(keys.split()) - set(obj)
    assert not missing, f"missing promised keys {sorted(missing)}; present: {sorted(obj)}"


def close(got, want, rtol=1e-6) -> bool:
    if want is None:
        return got is None
    return got is not None and abs(got - want) <= 1e-12 + rtol * abs(want)


@pytest.fixture(scope="module")
def mgus2_cr(tmp_path_factory) -> str:
    """mgus2 with the competing-risk endpoint of mgus2.json: etime = ifelse(pstat == 0,
    futime, ptime); event = ifelse(pstat == 0, 2 * death, 1)."""
    d = pd.read_csv(REFERENCE / "data" / "mgus2.csv")
    d["etime"] = np.where(d.pstat == 0, d.futime, d.ptime)
    d["event"] = np.where(d.pstat == 0, 2 * d.death, 1)
    path = tmp_path_factory.mktemp("contracts") / "mgus2_cr.csv"
    d.to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def lung_with_id(tmp_path_factory) -> str:
    """lung plus a unique row id, so that --cluster rowid equals R's robust = TRUE."""
    d = pd.read_csv(LUNG, dtype=str, keep_default_na=False)
    d["rowid"] = [f"r{i}" for i in range(len(d))]
    path = tmp_path_factory.mktemp("contracts") / "lung_id.csv"
    d.to_csv(path, index=False)
    return str(path)


# ---- km ---------------------------------------------------------------------------------


def test_km_contract_and_values():
    """Issue 2: km -> {"groups": [{"group", "n", "events", "median", "median_lower",
    "median_upper", "at": [{"time", "n_risk", "surv", "std_err", "lower", "upper"}]}]}.

    R: ``survfit(Surv(time, status == 2) ~ sex, data = lung)`` (conf.type "log") and
    ``summary(<fit>, times = c(180, 365, 540, 730), extend = TRUE)``; sex=1 median 270
    (212, 310)."""
    ref = load_reference("lung")["km"]["by_sex"]
    times = ",".join(str(t) for t in ref["landmark_times"])
    out = run_json("km", "--data", LUNG, *LUNG_ENDPOINT, "--group", "sex", "--times", times)
    has_keys(out, "groups n_dropped_missing")
    assert out["n_dropped_missing"] == 0
    assert [g["group"] for g in out["groups"]] == ["1", "2"]  # the CSV text, not numbers
    for g in out["groups"]:
        has_keys(g, "group n events median median_lower median_upper at")
        want = ref["groups"][f"sex={g['group']}"]
        assert g["n"] == want["records"] and g["events"] == want["events"]
        m = want["median"]["log"]
        assert (g["median"], g["median_lower"], g["median_upper"]) == (
            m["median"],
            m["lower"],
            m["upper"],
        )
        lm = want["landmarks"]
        assert [a["time"] for a in g["at"]] == lm["time"]
        for i, a in enumerate(g["at"]):
            has_keys(a, "time n_risk surv std_err lower upper")
            assert a["n_risk"] == lm["n_risk"][i]
            assert close(a["surv"], lm["surv"][i])
            assert close(a["std_err"], lm["std_err"][i])  # SE of S(t), as summary.survfit
            assert close(a["lower"], lm["lower_log"][i])
            assert close(a["upper"], lm["upper_log"][i])


def test_km_one_curve_has_null_group_and_not_reached_is_null():
    """Issue 2: ``group`` is null for one curve; a median CI limit that is not reached is
    null. R: ``survfit(Surv(time, status == 2) ~ ph.ecog, data = lung)``, ph.ecog = 0 has
    median 394 with upper limit NA; 1 row with missing ph.ecog is dropped."""
    one = run_json("km", "--data", LUNG, *LUNG_ENDPOINT)
    assert len(one["groups"]) == 1 and one["groups"][0]["group"] is None
    ref = load_reference("lung")["km"]["by_ph_ecog"]["groups"]
    out = run_json("km", "--data", LUNG, *LUNG_ENDPOINT, "--group", "ph.ecog")
    assert out["n_dropped_missing"] == 1
    got = {g["group"]: g for g in out["groups"]}
    assert sorted(got) == ["0", "1", "2", "3"]
    nulls = 0
    for label, g in got.items():
        m = ref[f"ph.ecog={label}"]["median"]["log"]
        for key, rkey in (
            ("median", "median"),
            ("median_lower", "lower"),
            ("median_upper", "upper"),
        ):
            assert close(g[key], m[rkey]), (label, key, g[key], m[rkey])
            nulls += m[rkey] is None
    assert nulls > 0  # the reference does contain not-reached limits


def test_group_labels_exactly_as_written(tmp_path):
    """Issue 2: group labels are the group's value exactly as written in the CSV ("02" stays
    "02", "1.0" stays "1.0"), in km, logrank, cif and compare alike."""
    rows = ["t,e,arm,cs"]
    labels = ["02", "1.0", "CAR-T 2"]
    for i in range(18):
        rows.append(f"{3 + i},{int(i % 3 != 0)},{labels[i % 3]},{(i % 3) if i % 2 else 1}")
    f = tmp_path / "labels.csv"
    f.write_text("\n".join(rows) + "\n")
    data = ["--data", str(f)]
    km = run_json("km", *data, "--time", "t", "--event", "e", "--group", "arm")
    assert {g["group"] for g in km["groups"]} == set(labels)
    lr = run_json("logrank", *data, "--time", "t", "--event", "e", "--group", "arm")
    assert {g["group"] for g in lr["groups"]} == set(labels)
    has_keys(lr, "chisq df p groups n_dropped_missing")
    cif = run_json("cif", *data, "--time", "t", "--event", "cs", "--group", "arm")
    assert {g["group"] for g in cif["groups"]} == set(labels)
    cmp = run_json("compare", *data, "--group", "arm", "--outcome", "e")
    assert {g["group"] for g in cmp["groups"]} == set(labels)


# ---- logrank ----------------------------------------------------------------------------


def test_logrank_contract_and_values():
    """Issue 2: logrank -> {"chisq", "df", "p", "groups": [{"group", "n", "observed",
    "expected"}]}. R: ``survdiff(Surv(time, status == 2) ~ sex, data = lung, rho = 1)``:
    chisq 12.7141514011575."""
    ref = load_reference("lung")["logrank"]["sex_rho1"]
    out = run_json("logrank", "--data", LUNG, *LUNG_ENDPOINT, "--group", "sex", "--rho", "1")
    has_keys(out, "chisq df p groups n_dropped_missing")
    assert close(out["chisq"], ref["chisq"]) and close(out["p"], ref["p"])
    assert out["df"] == ref["df"]
    assert [g["group"] for g in out["groups"]] == ["1", "2"]
    for g in out["groups"]:
        has_keys(g, "group n observed expected")
        want = ref["groups"][f"sex={g['group']}"]
        assert g["n"] == want["n"]
        assert close(g["observed"], want["observed"]) and close(g["expected"], want["expected"])


# ---- cox / zph --------------------------------------------------------------------------

COX_TOP = "n events terms loglik_null loglik lr_test wald_test score_test concordance"
TERM_KEYS = "term coef se hr lower upper z p"


def test_cox_contract_and_values():
    """Issue 2: cox -> {"n", "events", "terms": [{"term", "coef", "se", "hr", "lower", "upper",
    "z", "p"}], "loglik_null", "loglik", "lr_test": {"stat", "df", "p"}, "wald_test",
    "score_test", "concordance"}; a plain numeric column's term is its name (ph.ecog).
    R: ``coxph(Surv(time, status == 2) ~ sex + age + ph.ecog, data = lung, ties = "efron")``."""
    ref = load_reference("lung")["cox"]["efron"]
    out = run_json("cox", "--data", LUNG, *LUNG_ENDPOINT, "--formula", "sex + age + ph.ecog")
    has_keys(out, COX_TOP + " n_dropped_missing")
    assert (out["n"], out["events"], out["n_dropped_missing"]) == (227, 164, 1)
    assert [t["term"] for t in out["terms"]] == ["sex", "age", "ph.ecog"]
    for t in out["terms"]:
        has_keys(t, TERM_KEYS)
        assert "naive_se" not in t  # only added with --cluster (or weights/robust)
        want = ref["coefficients"][t["term"]]
        assert close(t["coef"], want["coef"], 1e-5) and close(t["se"], want["se"], 1e-5)
        assert close(t["lower"], want["hr_lower95"], 1e-5)
    for test in ("lr_test", "wald_test", "score_test"):
        has_keys(out[test], "stat df p")
        assert close(out[test]["stat"], ref[test]["stat"], 1e-5)
        assert out[test]["df"] == ref[test]["df"]
    assert close(out["loglik"], ref["loglik_final"], 1e-8)
    assert close(out["loglik_null"], ref["loglik_null"], 1e-8)
    assert isinstance(out["concordance"], float)
    assert close(out["concordance"], ref["concordance"]["c"])


def test_cox_cluster_reports_robust_se_and_naive_se(lung_with_id):
    """Issue 2: with --cluster, ``se`` is the robust SE and ``naive_se`` is added. One row per
    cluster is R's robust = TRUE: ``coxph(Surv(time, status == 2) ~ sex + age + ph.ecog,
    data = lung, ties = "efron", robust = TRUE)`` (sex robust_se 0.16474842795208)."""
    ref = load_reference("lung")["cox"]["efron_robust"]
    out = run_json(
        "cox", "--data", lung_with_id, *LUNG_ENDPOINT,
        "--formula", "sex + age + ph.ecog", "--cluster", "rowid",
    )  # fmt: skip
    has_keys(out, COX_TOP)
    for t in out["terms"]:
        has_keys(t, TERM_KEYS + " naive_se")
        want = ref["coefficients"][t["term"]]
        assert close(t["se"], want["robust_se"], 1e-5), (t["term"], t["se"], want)
        assert close(t["naive_se"], want["se"], 1e-5)
        assert close(t["z"], want["z"], 1e-5) and close(t["upper"], want["hr_upper95"], 1e-5)
    assert close(out["wald_test"]["stat"], ref["wald_test"]["stat"], 1e-5)  # robust Wald


def test_zph_contract_and_values():
    """Issue 2: zph -> {"terms": [{"term", "chisq", "df", "p"}], "global": {...}}.
    R: ``cox.zph(coxph(Surv(time, status == 2) ~ sex + age + ph.ecog, data = lung),
    transform = "km")``: GLOBAL chisq 4.46365758875861 on 3 df."""
    table = load_reference("lung")["cox_zph"]["efron"]["table"]
    out = run_json("zph", "--data", LUNG, *LUNG_ENDPOINT, "--formula", "sex + age + ph.ecog")
    has_keys(out, "terms global n_dropped_missing")
    assert [t["term"] for t in out["terms"]] == ["sex", "age", "ph.ecog"]
    for t in out["terms"]:
        has_keys(t, "term chisq df p")
        assert close(t["chisq"], table[t["term"]]["chisq"], 1e-5)
    has_keys(out["global"], "chisq df p")
    assert close(out["global"]["chisq"], table["GLOBAL"]["chisq"], 1e-5)
    assert out["global"]["df"] == 3


# ---- competing risks --------------------------------------------------------------------


def test_cif_contract_and_values(mgus2_cr):
    """Issue 3: cif -> {"groups": [{"group", "cause", "at": [{"time", "estimate", "variance",
    "lower", "upper"}]}], "gray_test": [{"cause", "stat", "df", "p"}]}.
    R: ``timepoints(cuminc(etime, event, group = sex, cencode = 0), c(60, 120, 240, 360))``;
    Gray's test for cause 2: stat 11.6512590121277."""
    ref = load_reference("mgus2")["competing_risks"]["cuminc_by_sex"]
    out = run_json(
        "cif", "--data", mgus2_cr, "--time", "etime", "--event", "event",
        "--group", "sex", "--times", "60,120,240,360",
    )  # fmt: skip
    has_keys(out, "groups gray_test n_dropped_missing")
    assert {(g["group"], g["cause"]) for g in out["groups"]} == {
        ("F", 1),
        ("M", 1),
        ("F", 2),
        ("M", 2),
    }
    for g in out["groups"]:
        has_keys(g, "group cause at")
        want = ref["curves"][f"{g['group']} {g['cause']}"]
        assert [a["time"] for a in g["at"]] == want["time"]
        for i, a in enumerate(g["at"]):
            has_keys(a, "time estimate variance lower upper")
            assert close(a["estimate"], want["est"][i]) and close(a["variance"], want["var"][i])
    assert sorted(t["cause"] for t in out["gray_test"]) == [1, 2]
    for t in out["gray_test"]:
        has_keys(t, "cause stat df p")
        want = ref["gray_test"][str(t["cause"])]
        assert close(t["stat"], want["stat"]) and t["df"] == want["df"]


def test_finegray_contract_and_values(mgus2_cr):
    """Issue 3: finegray -> {"terms": [{"term", "coef", "se", "hr", "lower", "upper", "z",
    "p"}]}. R: ``crr(etime, event, cbind(sexM, age), failcode = 1, cencode = 0,
    gtol = 1e-12, maxiter = 100)``: age coef -0.0173381534235662 (1e-4, crr's tolerance)."""
    ref = load_reference("mgus2")["competing_risks"]["crr_pcm"]["coefficients"]
    out = run_json(
        "finegray", "--data", mgus2_cr, "--time", "etime", "--event", "event",
        "--cause", "1", "--formula", "sex + age",
    )  # fmt: skip
    has_keys(out, "terms n_dropped_missing")
    terms = {t["term"]: t for t in out["terms"]}
    assert set(terms) == {"sex[M]", "age"}
    for name, rname in (("sex[M]", "sexM"), ("age", "age")):
        t, want = terms[name], ref[rname]
        has_keys(t, TERM_KEYS)
        assert close(t["coef"], want["coef"], 1e-4) and close(t["se"], want["se"], 1e-4)
        assert close(t["hr"], want["shr"], 1e-4)
        assert close(t["lower"], want["shr_lower95"], 1e-4)
        assert close(t["upper"], want["shr_upper95"], 1e-4)


# ---- adjustment -------------------------------------------------------------------------

PS_TOP = "n n_treated n_control ps_model smd_before smd_after ess"


def test_ps_contract_and_values(tmp_path):
    """Issue 6: ps -> {"n", "n_treated", "n_control", "ps_model": {"terms": [{"term", "coef",
    "se", "z", "p"}]}, "smd_before": {covariate: value}, "smd_after": {covariate: value},
    "ess": {...}} and --out writes the input rows plus ``ps`` and ``weight``.
    R: ``glm(female ~ age + ph.ecog, family = binomial(), data = lung_ps)``: age estimate
    -0.0280482775129838; SMD of age before -0.253871912131991 (pooled SD)."""
    ps = load_reference("lung")["propensity"]
    out_csv = tmp_path / "weights.csv"
    out = run_json(
        "ps", "--data", LUNG, "--treatment", "sex", "--treated", "2",
        "--formula", "age + ph.ecog", "--out", str(out_csv),
    )  # fmt: skip
    has_keys(out, PS_TOP + " n_dropped_missing")
    assert (out["n"], out["n_treated"], out["n_control"]) == (ps["n"], 90, 137)
    has_keys(out["ps_model"], "terms")
    for t in out["ps_model"]["terms"]:
        has_keys(t, "term coef se z p")
    terms = {t["term"]: t for t in out["ps_model"]["terms"]}
    for name in ("age", "ph.ecog"):
        assert close(terms[name]["coef"], ps["ps_model"]["coefficients"][name]["estimate"])
        assert close(terms[name]["se"], ps["ps_model"]["coefficients"][name]["se"])
    assert set(out["smd_before"]) == set(out["smd_after"]) == {"age", "ph.ecog"}
    for cov in ("age", "ph.ecog"):
        assert close(out["smd_before"][cov], ps["smd_before"][cov]["smd_pooled"])
        want = ps["smd_after_weighting"][cov]["smd_unweighted_pooled_sd"]
        assert close(out["smd_after"][cov], want)
    written = pd.read_csv(out_csv)
    original = pd.read_csv(LUNG)
    assert list(written.columns) == [*original.columns, "ps", "weight"]
    assert len(written) == len(original)
    assert np.allclose(written["ps"].dropna(), ps["ps_model"]["ps_values"], rtol=1e-6)


def test_match_contract_and_values():
    """Issue 6: match -> like ps, with matched counts and balance. R: ``matchit(female ~ age +
    ph.ecog, data = lung_ps, method = "nearest", caliper = 0.2)``: caliper width
    0.0121010691892687 on the PS scale; All = 137 control / 90 treated. (MatchIt's own
    matched counts are not compared: its pairs break its caliper, see test_matching.py.)"""
    mi = load_reference("lung")["propensity"]["matchit"]
    out = run_json(
        "match", "--data", LUNG, "--treatment", "sex", "--treated", "2",
        "--formula", "age + ph.ecog", "--scale", "ps",
    )  # fmt: skip
    has_keys(out, PS_TOP + " n_dropped_missing nn")
    for row in ("All", "Matched", "Unmatched"):
        has_keys(out["nn"][row], "control treated")
    assert out["nn"]["All"] == mi["nn"]["All"]
    matched = out["nn"]["Matched"]
    assert matched["treated"] == matched["control"] <= 90  # 1:1 without replacement
    assert close(out["matching"]["caliper_width"], mi["caliper_width_ps_scale"])
    assert set(out["smd_after"]) == {"age", "ph.ecog"}


# ---- compare / followup -------------------------------------------------------------------


def test_compare_contract_and_values():
    """Issue 2: compare with --a 14/26 --b 64/79 records the test chosen and why. R:
    ``chisq.test(matrix(c(14, 12, 64, 15), 2, byrow = TRUE))`` (Yates; all expected >= 5):
    X-squared 6.20258626070456, p 0.0127563783305339; risk difference -0.271665043816943."""
    ref = load_reference("tests2x2")["two_by_two"]["cr_14of26_vs_64of79"]
    out = run_json("compare", "--a", "14/26", "--b", "64/79")
    has_keys(out, "test reason p groups risk_difference odds_ratio n_dropped_missing")
    assert "Yates" in out["test"] and out["reason"]
    assert close(out["statistic"], ref["chisq_yates"]["statistic"])
    assert close(out["p"], ref["chisq_yates"]["p"])
    assert close(out["risk_difference"], ref["risk_difference"])
    assert close(out["rd_lower"], ref["prop_test_two_sample_yates"]["conf_int"][0])
    assert close(out["odds_ratio"], ref["fisher_precise"]["estimate"])
    for g in out["groups"]:
        has_keys(g, "group n events proportion lower upper")


def test_followup_contract_and_values():
    """Issue 2: followup with the same conventions (group labels, n_dropped_missing, null
    when not reached). R: ``survfit(Surv(time, status == 1) ~ sex, data = lung)``."""
    ref = load_reference("lung")["followup_reverse_km"]["by_sex"]["groups"]
    out = run_json("followup", "--data", LUNG, *LUNG_ENDPOINT, "--group", "sex")
    has_keys(out, "groups n_dropped_missing")
    assert [g["group"] for g in out["groups"]] == ["1", "2"]
    for g in out["groups"]:
        has_keys(g, "group n median median_lower median_upper")
        m = ref[f"sex={g['group']}"]["median"]["log"]
        assert close(g["median"], m["median"]) and close(g["median_upper"], m["upper"])
