"""Counting-process builder (survival::tmerge) against R's jasa1 and hand-made cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartlens.errors import InputError
from cartlens.stats.tmerge import tmerge, validate_intervals

# the R reference copies (tests/data/reference); defined here rather than imported from
# conftest, whose module name is ambiguous when several test folders have one
REFERENCE = Path(__file__).parents[1] / "data" / "reference"


@pytest.fixture(scope="module")
def jasa():
    j = pd.read_csv(REFERENCE / "data" / "jasa1.csv")
    p = pd.read_csv(REFERENCE / "derived" / "jasa1_per_patient.csv")
    # jasa1_per_patient has ever_transplant but not the transplant time: recover it as the
    # start of the patient's first transplant = 1 interval (0 for patients 3 and 45, who were
    # transplanted on the day of acceptance; 3.5 for patient 38, transplanted on the day of
    # death, which jasa1 moved half a day earlier).
    p["txtime"] = p["id"].map(j[j.transplant == 1].groupby("id")["start"].min())
    return j, p


def test_reproduces_jasa1_row_for_row(jasa):
    """R: tmerge(p[, c("id", "age", "year", "surgery")], p, id = id,
    event = event(futime, dead), transplant = tdc(txtime)) gives jasa1's 170 rows
    (sorted by id, start) with identical tstart, tstop, event, transplant, and
    attr(, "tcount"): transplant within 67, leading 2; event trailing 103."""
    j, p = jasa
    res = tmerge(
        p,
        id="id",
        futime="futime",
        status="dead",
        tdc={"transplant": "txtime"},
        start_name="start",
        stop_name="stop",
        event_name="event",
        keep=["age", "year", "surgery"],
    )
    out = res.data.sort_values(["id", "start"]).reset_index(drop=True)
    ref = j.sort_values(["id", "start"]).reset_index(drop=True)
    assert res.n_intervals == len(ref) == 170
    for c in ("id", "start", "stop", "event", "transplant"):
        np.testing.assert_array_equal(out[c].to_numpy(), ref[c].to_numpy())
    np.testing.assert_allclose(out["age"], ref["age"])
    assert res.tcount["transplant"]["within"] == 67
    assert res.tcount["transplant"]["leading"] == 2
    assert res.tcount["transplant"]["missing"] == 34
    assert res.tcount["event"]["trailing"] == 103
    assert res.to_dict()["n_subjects"] == 103


def test_cumtdc_events_and_early_tdc():
    """Hand case: subject 1 followed 0-10, re-infused at 2 and 6, relapse at 4, died at 10;
    subject 2 exposed at -1 (before entry: applies from entry, counted early), censored at 5."""
    subj = pd.DataFrame({"id": [1, 2], "fu": [10.0, 5.0], "st": [1, 0], "tx": [np.nan, -1.0]})
    reinf = pd.DataFrame({"id": [1, 1], "time": [2.0, 6.0]})
    rel = pd.DataFrame({"id": [1], "time": [4.0]})
    res = tmerge(
        subj,
        id="id",
        futime="fu",
        status="st",
        tdc={"tx": "tx"},
        cumtdc={"n_inf": reinf},
        events={"relapse": rel},
    )
    d = res.data
    assert d["tstart"].tolist() == [0, 2, 4, 6, 0]
    assert d["tstop"].tolist() == [2, 4, 6, 10, 5]
    assert d["n_inf"].tolist() == [0, 1, 1, 2, 0]
    assert d["relapse"].tolist() == [0, 1, 0, 0, 0]
    assert d["st"].tolist() == [0, 0, 0, 1, 0]
    assert d["tx"].tolist() == [0, 0, 0, 0, 1]
    assert res.tcount["tx"]["early"] == 1
    assert res.tcount["n_inf"]["within"] == 2


def test_tied_tdc_and_cumtdc_values():
    subj = pd.DataFrame({"id": ["a"], "fu": [9.0], "st": [2]})
    doses = pd.DataFrame({"id": ["a", "a", "a"], "time": [3.0, 3.0, 5.0], "value": [1, 2, 4]})
    res = tmerge(subj, id="id", futime="fu", status="st", cumtdc={"dose": doses}, causes=[1, 2])
    assert res.data["dose"].tolist() == [0, 3, 7]
    assert res.tcount["dose"]["tied"] == 1


def test_refuses_exposure_after_follow_up():
    subj = pd.DataFrame({"id": [1, 7], "fu": [10.0, 5.0], "st": [1, 1], "tx": [3.0, 6.0]})
    with pytest.raises(InputError, match=r"column 'transplant'.*subject 7: transplant at 6"):
        tmerge(subj, id="id", futime="fu", status="st", tdc={"transplant": "tx"})


def test_refuses_start_after_stop_unknown_cause_duplicates_missid():
    subj = pd.DataFrame({"id": [1, 2], "fu": [10.0, 5.0], "en": [0.0, 6.0], "st": [1, 3]})
    with pytest.raises(InputError, match="subject 2: entry 6 is not before"):
        tmerge(subj, id="id", futime="fu", entry="en")
    with pytest.raises(InputError, match=r"column 'st'.*subject 2: unknown cause code 3"):
        tmerge(subj, id="id", futime="fu", status="st", causes=[1, 2])
    with pytest.raises(InputError, match="more than one row"):
        tmerge(pd.concat([subj, subj]), id="id", futime="fu")
    with pytest.raises(InputError, match="subject 9 is not in the subject data"):
        tmerge(subj, id="id", futime="fu", tdc={"x": pd.DataFrame({"id": [9], "time": [1.0]})})


def test_validate_intervals_overlap_and_order():
    validate_intervals([1, 1, 2], [0, 5, 0], [5, 8, 3])
    with pytest.raises(InputError, match=r"subject 1: interval \(4, 8\] .* overlaps \(0, 5\]"):
        validate_intervals([1, 1, 2], [0, 4, 0], [5, 8, 3])
    with pytest.raises(InputError, match="subject 2: start 3 is not before stop 3"):
        validate_intervals([1, 2], [0, 3], [5, 3])


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 30),
            st.integers(0, 1),
            st.one_of(st.none(), st.integers(-2, 30)),
        ),
        min_size=1,
        max_size=15,
    ),
    st.randoms(use_true_random=False),
)
def test_properties_follow_up_preserved_and_row_order_invariant(rows, rnd):
    """Intervals tile (entry, futime] exactly, one event per dead subject on its last interval,
    exposure 1 exactly from the exposure time on, whatever the input row order."""
    fu = [r[0] for r in rows]
    tx = [np.nan if r[2] is None or r[2] > r[0] else float(r[2]) for r in rows]
    subj = pd.DataFrame({"id": range(len(rows)), "fu": fu, "st": [r[1] for r in rows], "tx": tx})
    res = tmerge(subj, id="id", futime="fu", status="st", tdc={"x": "tx"}).data
    lengths = (res.tstop - res.tstart).groupby(res["id"]).sum()
    np.testing.assert_allclose(lengths.sort_index().to_numpy(), subj.fu.to_numpy(float))
    assert res.st.sum() == subj.st.sum()
    expo = subj.set_index("id").tx.loc[res["id"]].to_numpy()
    np.testing.assert_array_equal(res.x.to_numpy(), (res.tstart.to_numpy() >= expo).astype(int))
    perm = rnd.sample(range(len(rows)), len(rows))
    res2 = tmerge(subj.iloc[perm], id="id", futime="fu", status="st", tdc={"x": "tx"}).data
    key = ["id", "tstart"]
    pd.testing.assert_frame_equal(
        res.sort_values(key).reset_index(drop=True), res2.sort_values(key).reset_index(drop=True)
    )
