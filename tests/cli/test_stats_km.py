"""``cartlens stats km / logrank / followup`` end to end against R (tests/data/reference)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_runner import run, run_json

# not ``from conftest import ...``: several conftest.py files share that module name
REFERENCE = Path(__file__).parents[1] / "data" / "reference"


def load_reference(name: str) -> dict:
    with open(REFERENCE / f"{name}.json") as f:
        return json.load(f)


LUNG = str(REFERENCE / "data" / "lung.csv")
VETERAN = str(REFERENCE / "data" / "veteran.csv")
JASA1 = str(REFERENCE / "data" / "jasa1.csv")
MGUS2 = str(REFERENCE / "data" / "mgus2.csv")


def close(got, want, rtol=1e-6):
    if want is None:
        return got is None
    return got is not None and abs(got - want) <= 1e-12 + rtol * abs(want)


def check_km(out: dict, block: dict, conf: str, key=lambda label: label.split("=", 1)[-1]):
    got = {g["group"]: g for g in out["groups"]}
    assert len(got) == len(block["groups"])
    for label, want in block["groups"].items():
        g = got[None if label == "all" else key(label)]
        assert g["n"] == want["records"] and g["events"] == want["events"]
        m = want["median"][conf]
        assert close(g["median"], m["median"]), (label, g["median"], m)
        assert close(g["median_lower"], m["lower"]), (label, g["median_lower"], m)
        assert close(g["median_upper"], m["upper"]), (label, g["median_upper"], m)
        lm = want["landmarks"]
        for i, a in enumerate(g["at"]):
            assert a["time"] == lm["time"][i]
            assert a["n_risk"] == lm["n_risk"][i]
            assert close(a["surv"], lm["surv"][i])
            assert close(a["std_err"], lm["std_err"][i])
            assert close(a["lower"], lm[f"lower_{conf}"][i])
            assert close(a["upper"], lm[f"upper_{conf}"][i])


@pytest.mark.parametrize("conf", ["log", "log_log", "plain"])
def test_km_lung_by_ph_ecog(conf):
    """R: ``survfit(Surv(time, status == 2) ~ ph.ecog, data = lung, conf.type = conf)`` and
    ``summary(<fit>, times = c(180, 365, 540, 730), extend = TRUE)``; one row with missing
    ph.ecog is dropped and counted; labels are the CSV text ("0", "1", ...)."""
    block = load_reference("lung")["km"]["by_ph_ecog"]
    out = run_json(
        "km",
        "--data",
        LUNG,
        "--time",
        "time",
        "--event",
        "status",
        "--event-code",
        "2",
        "--group",
        "ph.ecog",
        "--conf-type",
        conf.replace("_", "-"),
        "--times",
        "180,365,540,730",
    )
    assert out["n_dropped_missing"] == 1
    assert [g["group"] for g in out["groups"]] == ["0", "1", "2", "3"]
    check_km(out, block, conf)


def test_km_veteran_celltype_text_labels():
    """R: ``survfit(Surv(time, status) ~ celltype, data = veteran)``."""
    block = load_reference("veteran")["km"]["by_celltype"]
    out = run_json(
        "km",
        "--data",
        VETERAN,
        "--time",
        "time",
        "--event",
        "status",
        "--group",
        "celltype",
        "--times",
        "30,90,180,365",
    )
    assert [g["group"] for g in out["groups"]] == ["adeno", "large", "smallcell", "squamous"]
    check_km(out, block, "log")


def test_km_counting_process_simon_makuch():
    """R: ``survfit(Surv(start, stop, event) ~ transplant, data = jasa1)``: (start, stop]
    data via --start."""
    block = load_reference("heart")["km"]["simon_makuch_by_transplant"]
    out = run_json(
        "km",
        "--data",
        JASA1,
        "--time",
        "stop",
        "--event",
        "event",
        "--start",
        "start",
        "--group",
        "transplant",
        "--times",
        "30,90,180,365",
    )
    assert out["counting_process"]
    check_km(out, block, "log")


def test_km_weighted_robust(tmp_path):
    """R: ``survfit(Surv(time, dead) ~ female, data = lung_ps, weights = sw, robust = TRUE)``
    with the stabilised weights made from the reference ``ps_values``."""
    ref = load_reference("lung")["propensity"]
    d = pd.read_csv(LUNG)
    d = d[d["ph.ecog"].notna()].reset_index(drop=True)
    a = (d["sex"] == 2).astype(int).to_numpy()
    ps = np.array(ref["ps_model"]["ps_values"])
    d["female"] = a
    d["sw"] = a * a.mean() / ps + (1 - a) * (1 - a.mean()) / (1 - ps)
    f = tmp_path / "lung_ps.csv"
    d.to_csv(f, index=False)
    out = run_json(
        "km",
        "--data",
        str(f),
        "--time",
        "time",
        "--event",
        "status",
        "--event-code",
        "2",
        "--group",
        "female",
        "--weights",
        "sw",
        "--times",
        "180,365,540",
    )
    assert out["robust_se"]
    for label, want in ref["weighted_km_sw"]["robust_ij"]["groups"].items():
        g = next(x for x in out["groups"] if x["group"] == label.split("=")[1])
        assert close(g["median"], want["median"]) and close(g["median_upper"], want["median_upper"])
        for i, at in enumerate(g["at"]):
            assert close(at["surv"], want["surv"][i])
            assert close(at["std_err"], want["std_err"][i])
            assert close(at["lower"], want["lower_log"][i])


@pytest.mark.parametrize(
    "path, group, strata, block, args",
    [
        (
            LUNG,
            "sex",
            "ph.ecog",
            ("lung", "sex_stratified_ph_ecog_rho1"),
            ["--event", "status", "--event-code", "2", "--time", "time"],
        ),
        (MGUS2, "sex", None, ("mgus2", "os_sex_rho0"), ["--event", "death", "--time", "futime"]),
        (
            VETERAN,
            "celltype",
            None,
            ("veteran", "celltype_rho1"),
            ["--event", "status", "--time", "time"],
        ),
    ],
)
def test_logrank_matches_survdiff(path, group, strata, block, args):
    """R: the ``survdiff`` call of each block (stratified rho = 1, 2 groups, 4 groups)."""
    ds, name = block
    want = load_reference(ds)["logrank"][name]
    cmd = ["logrank", "--data", path, *args, "--group", group, "--rho", str(want["rho"])]
    if strata:
        cmd += ["--strata", strata]
    out = run_json(*cmd)
    assert close(out["chisq"], want["chisq"]) and out["df"] == want["df"]
    assert close(out["p"], want["p"])
    got = {g["group"]: g for g in out["groups"]}
    for label, w in want["groups"].items():
        g = got[label.split("=", 1)[1]]
        assert g["n"] == w["n"] and close(g["expected"], w["expected"])
        assert close(g["observed"], w["observed"])
    if strata:
        assert out["n_dropped_missing"] == want["n_dropped_missing"]


def test_logrank_trend_and_pairwise():
    out = run_json(
        "logrank",
        "--data",
        LUNG,
        "--time",
        "time",
        "--event",
        "status",
        "--event-code",
        "2",
        "--group",
        "ph.ecog",
        "--trend",
        "--pairwise",
        "holm",
    )
    assert out["trend"]["df"] == 1 and out["trend"]["scores"] == [0, 1, 2, 3]
    assert len(out["pairwise"]) == 6
    assert all(p["p_adjusted"] >= p["p"] for p in out["pairwise"])


def test_followup_matches_reverse_km():
    """R: ``survfit(Surv(time, status == 1) ~ sex, data = lung)`` medians (log CI)."""
    block = load_reference("lung")["followup_reverse_km"]["by_sex"]
    out = run_json(
        "followup",
        "--data",
        LUNG,
        "--time",
        "time",
        "--event",
        "status",
        "--event-code",
        "2",
        "--group",
        "sex",
    )
    for g in out["groups"]:
        m = block["groups"][f"sex={g['group']}"]["median"]["log"]
        assert close(g["median"], m["median"]) and close(g["median_lower"], m["lower"])
        assert close(g["median_upper"], m["upper"])


def test_tables_by_default():
    res = run(
        "km",
        "--data",
        LUNG,
        "--time",
        "time",
        "--event",
        "status",
        "--event-code",
        "2",
        "--group",
        "sex",
        "--times",
        "365",
    )
    assert res.exit_code == 0 and "median" in res.stdout
    res = run(
        "logrank",
        "--data",
        LUNG,
        "--time",
        "time",
        "--event",
        "status",
        "--event-code",
        "2",
        "--group",
        "sex",
    )
    assert res.exit_code == 0 and "chisq" in res.stdout
    res = run(
        "followup", "--data", LUNG, "--time", "time", "--event", "status", "--event-code", "2"
    )
    assert res.exit_code == 0 and "follow-up" in res.stdout


def _csv(tmp_path, text: str) -> str:
    f = tmp_path / "d.csv"
    f.write_text(text)
    return str(f)


@pytest.mark.parametrize(
    "text, extra, needle",
    [
        ("t,e\n1,1\n-2,0\n", [], "column 't'"),
        ("t,e\n1,1\nabc,0\n", [], "column 't'"),
        ("t,e,s\n1,1,0\n2,0,2\n", ["--start", "s"], "column 's'"),
        ("t,e\n1,1\n2,0\n", ["--group", "nope"], "column 'nope'"),
        ("t,e\n1,1\n2,0\n", ["--conf-type", "logit"], "--conf-type"),
        ("t,e,w\n1,1,1\n2,0,-1\n", ["--weights", "w"], "column 'w'"),
        ("t,e\n,1\n,0\n", [], "no rows left"),
    ],
)
def test_bad_input_exits_2_naming_the_column(tmp_path, text, extra, needle):
    res = run("km", "--data", _csv(tmp_path, text), "--time", "t", "--event", "e", *extra)
    assert res.exit_code == 2
    assert needle in res.stderr and "Traceback" not in res.output


def test_logrank_single_group_is_an_error(tmp_path):
    res = run(
        "logrank",
        "--data",
        _csv(tmp_path, "t,e,g\n1,1,a\n2,0,a\n"),
        "--time",
        "t",
        "--event",
        "e",
        "--group",
        "g",
    )
    assert res.exit_code == 2 and "column 'g'" in res.stderr


def test_all_censored_warns_in_json(tmp_path):
    out = run_json("km", "--data", _csv(tmp_path, "t,e\n1,0\n2,0\n"), "--time", "t", "--event", "e")
    assert out["groups"][0]["median"] is None
    assert any("NoEventsWarning" in w for w in out["warnings"])
