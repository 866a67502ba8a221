"""Landmark analysis against R (survfit/survdiff on the landmark subset)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartlens.errors import InputError, SparseDataWarning
from cartlens.stats.landmark import landmark_analysis, landmark_series

# the R reference copies (tests/data/reference); defined here rather than imported from
# conftest, whose module name is ambiguous when several test folders have one
REFERENCE = Path(__file__).parents[1] / "data" / "reference"


DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def heart_subjects():
    j = pd.read_csv(REFERENCE / "data" / "jasa1.csv")
    p = pd.read_csv(REFERENCE / "derived" / "jasa1_per_patient.csv")
    # transplant time recovered from jasa1 (start of the first transplant = 1 interval)
    p["txtime"] = p["id"].map(j[j.transplant == 1].groupby("id")["start"].min())
    return p


def test_landmarks_match_r(heart_subjects):
    """R (tests/data/competing/make_competing.R, landmark_heart): for L in 30, 90, 180:
    d <- subset(p, futime > L); tx <- txtime <= L; survdiff(Surv(futime - L, dead) ~ tx) and
    summary(survfit(...))$table medians with log CIs."""
    ref = json.loads((DATA / "competing" / "sim3.json").read_text())["landmark_heart"]["results"]
    p = heart_subjects
    series = landmark_series(p.futime, p.dead, p.txtime, [r["landmark"] for r in ref])
    for res, r in zip(series.results, ref, strict=True):
        assert res.n_at_landmark == r["n"]
        assert res.groups[1]["n"] == r["n_tx"]
        assert res.chisq == pytest.approx(r["chisq"], rel=1e-6)
        assert res.p == pytest.approx(r["p"], rel=1e-6)
        for g, med, lo, hi in zip(res.groups, r["median"], r["lower"], r["upper"], strict=True):
            for got, want in ((g["median"], med), (g["median_lower"], lo), (g["median_upper"], hi)):
                if want is None:
                    assert np.isnan(got)
                else:
                    assert got == pytest.approx(want)
    rows = series.table()
    assert [row["landmark"] for row in rows] == [30, 90, 180]
    assert rows[0]["n_exposed"] == 35


def test_exposure_after_landmark_counts_as_unexposed():
    """Hand case: exposure at 50 is after the landmark 30 -> the subject is unexposed."""
    res = landmark_analysis([100, 80, 20, 60], [1, 0, 1, 1], [np.nan, 10, np.nan, 50], 30)
    assert res.n_at_landmark == 3 and res.n_excluded == 1 and res.events_before == 1
    assert [g["n"] for g in res.groups] == [2, 1]
    np.testing.assert_allclose(res.km.curve("exposed").time, [50])


def test_one_group_warns():
    with pytest.warns(SparseDataWarning):
        res = landmark_analysis([100, 80], [1, 0], [np.nan, np.nan], 30)
    assert np.isnan(res.p)


def test_bad_input():
    with pytest.raises(InputError, match="exposure at 90 is after death"):
        landmark_analysis([100, 80], [1, 0], [np.nan, 90], 30)
    with pytest.raises(InputError, match="landmark"):
        landmark_analysis([100, 80], [1, 0], [np.nan, 9], -1)
    with pytest.raises(InputError, match="event"):
        landmark_analysis([100, 80], [1, 2], [np.nan, 9], 5)


def test_negative_or_infinite_time_is_an_input_error_naming_the_column():
    """Same rule as km: times must be finite and >= 0 (shared check_survival_input)."""
    t = np.array([5.0, 8.0, -4.0, 12.0])
    e = np.array([1, 0, 1, 1])
    x = np.array([np.nan, 2.0, np.nan, 1.0])
    with pytest.raises(InputError, match="-4") as exc:
        landmark_analysis(t, e, x, 3)
    assert exc.value.column == "time"
    with pytest.raises(InputError, match="'os_days'.*-4"):
        landmark_analysis(t, e, x, 3, names={"time": "os_days", "event": "died"})
    with pytest.raises(InputError, match="'os_days'.*inf"):
        landmark_analysis(np.r_[t[:2], np.inf, t[3:]], e, x, 3, names={"time": "os_days"})
    with pytest.raises(InputError, match="'tx_day'.*-1"):
        landmark_analysis(
            np.abs(t),
            e,
            np.array([np.nan, -1.0, np.nan, 1.0]),
            3,
            names={"exposure_time": "tx_day"},
        )


def test_landmark_survival_at_times_and_cox_hr_match_r(heart_subjects):
    """R (tests/data/reference/make_reference2.R, landmark.json): per landmark L,
    ``summary(survfit(Surv(futime - L, dead) ~ tx, subset futime > L), times = c(30, 180, 365),
    extend = TRUE)`` and ``coxph(Surv(futime - L, dead) ~ tx)`` (tx = transplant by L)."""
    ref = json.loads((REFERENCE / "landmark.json").read_text())
    p = heart_subjects
    for block in ref["landmarks"]:
        res = landmark_analysis(
            p.futime, p.dead, p.txtime, block["landmark"], times=ref["times_since_landmark"]
        )
        assert res.n_at_landmark == block["n"]
        s = block["survival"]
        got = {(r["group"], r["time"]): r for r in res.survival}
        assert len(got) == len(s["time"])
        for i, stratum in enumerate(s["strata"]):
            row = got[(stratum.removeprefix("tx="), s["time"][i])]
            assert row["n_risk"] == s["n_risk"][i]
            for k in ("surv", "std_err", "lower", "upper"):
                assert row[k] == pytest.approx(s[k][i], rel=1e-9), k
        c = block["cox"]
        assert res.cox["term"] == "exposed vs unexposed"
        assert (res.cox["n"], res.cox["events"]) == (c["n"], c["events"])
        for k in ("coef", "se", "hr", "lower", "upper", "p", "lr_p"):
            assert res.cox[k] == pytest.approx(c[k], rel=1e-6), k
        row = res.row()
        assert row["hr"] == res.cox["hr"] and "surv_exposed_180" in row


def test_landmark_times_must_be_valid(heart_subjects):
    p = heart_subjects
    with pytest.raises(InputError, match="times"):
        landmark_analysis(p.futime, p.dead, p.txtime, 30, times=[-1])
    assert landmark_analysis(p.futime, p.dead, p.txtime, 30, cox=False).cox is None
