"""``cartlens stats cif / finegray / landmark`` end to end against R."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_runner import run, run_json

# the R reference copies (tests/data/reference); defined here rather than imported from
# conftest, whose module name is ambiguous when several test folders have one
REFERENCE = Path(__file__).parents[1] / "data" / "reference"


def load_reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def mgus2_csv(tmp_path_factory):
    d = pd.read_csv(REFERENCE / "data" / "mgus2.csv")
    d["etime"] = np.where(d.pstat == 0, d.futime, d.ptime)
    d["event"] = np.where(d.pstat == 0, 2 * d.death, 1)
    path = tmp_path_factory.mktemp("cr") / "mgus2_cr.csv"
    d.to_csv(path, index=False)
    return str(path)


def test_cif_matches_cuminc(mgus2_csv):
    """R: timepoints(cuminc(etime, event, sex), c(60, 120, 240, 360)) and $Tests."""
    ref = load_reference("mgus2")["competing_risks"]["cuminc_by_sex"]
    aj_ref = load_reference("mgus2")["competing_risks"]["aalen_johansen_by_sex"]
    out = run_json(
        "cif",
        "--data",
        mgus2_csv,
        "--time",
        "etime",
        "--event",
        "event",
        "--group",
        "sex",
        "--times",
        "60,120,240,360",
    )
    assert len(out["groups"]) == 4
    for g in out["groups"]:
        r = ref["curves"][f"{g['group']} {g['cause']}"]
        np.testing.assert_allclose([a["estimate"] for a in g["at"]], r["est"], rtol=1e-6)
        np.testing.assert_allclose([a["variance"] for a in g["at"]], r["var"], rtol=1e-6)
        assert all(a["lower"] <= a["estimate"] <= a["upper"] for a in g["at"])
        # beside Gray's variance: survfit's infinitesimal-jackknife SE and log CI
        # R: summary(survfit(Surv(etime, event_f) ~ sex, data = mgus2_cr), times = ...)
        state = {1: "pcm", 2: "death"}[g["cause"]]
        aj = aj_ref["groups"][f"sex={g['group']}"]["states"][state]
        for key, ref_key in (("ij_se", "std_err"), ("ij_lower", "lower"), ("ij_upper", "upper")):
            np.testing.assert_allclose([a[key] for a in g["at"]], aj[ref_key], rtol=1e-6)
    for t in out["gray_test"]:
        r = ref["gray_test"][str(t["cause"])]
        assert t["stat"] == pytest.approx(r["stat"], rel=1e-6)
        assert t["p"] == pytest.approx(r["p"], rel=1e-6)
        assert t["df"] == 1
    table = run("cif", "--data", mgus2_csv, "--time", "etime", "--event", "event")
    assert table.exit_code == 0 and "Cumulative incidence" in table.output


def test_finegray_matches_crr(mgus2_csv):
    """R: crr(etime, event, cbind(sexM, age), failcode = 2, gtol = 1e-12) (mgus2.json crr_death)."""
    ref = load_reference("mgus2")["competing_risks"]["crr_death"]["coefficients"]
    out = run_json(
        "finegray",
        "--data",
        mgus2_csv,
        "--time",
        "etime",
        "--event",
        "event",
        "--cause",
        "2",
        "--formula",
        "sex + age",
    )
    terms = {t["term"]: t for t in out["terms"]}
    for mine, theirs in (("sex[M]", "sexM"), ("age", "age")):
        assert terms[mine]["coef"] == pytest.approx(ref[theirs]["coef"], rel=1e-4)
        assert terms[mine]["se"] == pytest.approx(ref[theirs]["se"], rel=1e-4)
        assert terms[mine]["hr"] == pytest.approx(ref[theirs]["shr"], rel=1e-4)
        assert terms[mine]["lower"] == pytest.approx(ref[theirs]["shr_lower95"], rel=1e-4)


def test_landmark_command(tmp_path):
    """Same numbers as tests/stats/test_landmark.py (R survdiff on the 30-day landmark set)."""
    ref = json.loads((REFERENCE.parent / "competing" / "sim3.json").read_text())
    ref = ref["landmark_heart"]["results"][0]
    j = pd.read_csv(REFERENCE / "data" / "jasa1.csv")
    p = pd.read_csv(REFERENCE / "derived" / "jasa1_per_patient.csv")
    p["txtime"] = p["id"].map(j[j.transplant == 1].groupby("id")["start"].min())
    path = tmp_path / "heart.csv"
    p.to_csv(path, index=False)
    out = run_json(
        "landmark",
        "--data",
        str(path),
        "--time",
        "futime",
        "--event",
        "dead",
        "--landmark",
        "30,90",
        "--exposure-time",
        "txtime",
    )
    first = out["landmarks"][0]
    assert first["n"] == ref["n"]
    assert first["logrank"]["chisq"] == pytest.approx(ref["chisq"], rel=1e-6)
    assert [g["median"] for g in first["groups"]] == ref["median"]
    table = run(
        "landmark",
        "--data",
        str(path),
        "--time",
        "futime",
        "--event",
        "dead",
        "--landmark",
        "30",
        "--exposure-time",
        "txtime",
    )
    assert table.exit_code == 0 and "Landmark" in table.output


def test_errors_exit_2(mgus2_csv, tmp_path):
    res = run("cif", "--data", mgus2_csv, "--time", "nope", "--event", "event")
    assert res.exit_code == 2 and "nope" in res.output
    res = run("cif", "--data", mgus2_csv, "--time", "etime", "--event", "event", "--causes", "1")
    assert res.exit_code == 2 and "unknown cause code 2" in res.output
    bad = tmp_path / "bad.csv"
    bad.write_text("t,d,x\n10,1,20\n5,0,\n")
    res = run(
        "landmark",
        "--data",
        str(bad),
        "--time",
        "t",
        "--event",
        "d",
        "--landmark",
        "2",
        "--exposure-time",
        "x",
    )
    assert res.exit_code == 2 and "after death" in res.output
    res = run(
        "finegray",
        "--data",
        mgus2_csv,
        "--time",
        "etime",
        "--event",
        "event",
        "--cause",
        "1",
        "--formula",
        "sex + nothing",
    )
    assert res.exit_code == 2 and "nothing" in res.output
