"""Derived endpoints on hand-built patients whose answers a human can check.

All infusions are on 2020-01-01 (day 0) unless stated; ``day(n)`` is the date n days later.

- A: CR on day 28, relapse day 100, death day 200
  -> PFS 100/1, OS 200/1, relapse-vs-NRM 100/code 1, RFS 100/1, DOR 72/1 (from day 28).
- B: NR on day 28, no relapse recorded, alive at day 365
  -> PFS 365/0 by default (not_event); 0/1 with time_zero; 28/1 with assessment;
     EFS 0/1 by default (non-response is an event at day 0).
- C: CR on day 28, allo-HSCT day 60, death day 300 without relapse
  -> OS 300/1; relapse-vs-NRM 300/code 2; censored at the HSCT: 60/code 0; OS still 300/1.
- D: prior allo-HSCT on 2019-10-01 (92 days before day 0), CR day 28, relapse day 150,
  CART2 day 200 (course 2), CR day 228 after CART2, alive at day 400
  -> CART1: days_since_prior_hsct 92, next_cart_days 200, PFS 150/1, OS 400/0;
     CART2: PFS 200/0 (no event after day 200 of follow-up: 400 - 200), prior HSCT 292 days.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cartlens.derive import DeriveSettings, exposure_intervals, infusion_table
from cartlens.derive.tables import materialize, table_settings
from cartlens.ingest import open_store
from registry_factory import build_store, crs, day, icans, infusion, patient, response


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("derive")
    reg = {
        "patients": [
            patient("A", last_contact_date=day(200), last_contact_status="dead"),
            patient("B"),
            patient("C", last_contact_date=day(300), last_contact_status="dead"),
            patient(
                "D",
                prior_allo_hsct="true",
                prior_allo_hsct_date="2019-10-01",
                last_contact_date=day(400),
            ),
        ],
        "infusions": [
            infusion("A"),
            infusion("B"),
            infusion("C"),
            infusion("D"),
            infusion("D", 2, 200),
        ],
        "responses": [
            response("A", 1, 28, "CR", mrd_negative="true"),
            response("A", 1, 90, "CR"),
            response("B", 1, 14, "PR"),  # outside the default window 21-35
            response("B", 1, 28, "NR"),
            response("C", 1, 28, "CRi"),
            response("D", 1, 28, "CR"),
            response("D", 2, 228, "CR"),
        ],
        "toxicities": [
            crs("A", 1, 3, 2),
            crs("B", 1, 2, 3),
            icans("B", 1, 6, 3),
            crs("D", 2, 202, 1),
        ],
        "transplants": [
            {"patient_id": "C", "transplant_date": day(60), "transplant_type": "allo"},
        ],
        "relapses": [
            {"patient_id": "A", "relapse_date": day(100), "relapse_type": "morphologic"},
            {"patient_id": "D", "relapse_date": day(150), "relapse_type": "morphologic"},
        ],
        "deaths": [
            {"patient_id": "A", "death_date": day(200), "cause": "relapse_or_progression"},
            {"patient_id": "C", "death_date": day(300), "cause": "infection"},
        ],
    }
    return build_store(tmp, reg)


def row(df: pd.DataFrame, infusion_id: str) -> pd.Series:
    return df.set_index("infusion_id").loc[infusion_id]


def test_patient_a_relapse_then_death(store):
    r = row(infusion_table(store), "A-I1")
    assert (r.pfs_days, r.pfs_event) == (100, 1)
    assert (r.os_days, r.os_event) == (200, 1)
    assert (r.efs_days, r.efs_event) == (100, 1)
    assert (r.crisk_days, r.crisk_event) == (100, 1)
    assert (r.rfs_days, r.rfs_event) == (100, 1)
    assert (r.dor_days, r.dor_event) == (72, 1)
    assert r.best_response == "CR" and r.cr and r.mrd_negative_cr and r.remission_day == 28
    assert r.crs_max_grade == 2 and r.crs_any and not r.crs_severe and not r.icans_any
    assert r.os_months == pytest.approx(200 / 30.4375, rel=1e-12)
    assert r.followup_days == 200


def test_patient_b_nonresponder_settings(store):
    r = row(infusion_table(store), "B-I1")
    assert r.best_response == "NR" and not r.cr and r.nonresponse and r.evaluable
    assert r.n_assessments == 1  # day 14 is outside 28 +/- 7
    assert (r.pfs_days, r.pfs_event) == (365, 0)
    assert (r.efs_days, r.efs_event) == (0, 1)
    assert pd.isna(r.rfs_days) and pd.isna(r.dor_days)
    assert r.crs_max_grade == 3 and r.crs_severe and r.icans_max_grade == 3 and r.icans_severe
    r0 = row(infusion_table(store, DeriveSettings(nonresponder_pfs="time_zero")), "B-I1")
    assert (r0.pfs_days, r0.pfs_event) == (0, 1)
    ra = row(infusion_table(store, DeriveSettings(nonresponder_pfs="assessment")), "B-I1")
    assert (ra.pfs_days, ra.pfs_event) == (28, 1)
    re = row(infusion_table(store, DeriveSettings(efs_nonresponse="assessment")), "B-I1")
    assert (re.efs_days, re.efs_event) == (28, 1)
    # a wider window starting at day 0 sees the day-14 PR as the best response
    rw = row(infusion_table(store, DeriveSettings(response_day=14, response_tolerance=14)), "B-I1")
    assert rw.best_response == "PR" and rw.n_assessments == 2


def test_patient_c_nrm_and_censoring_at_hsct(store):
    r = row(infusion_table(store), "C-I1")
    assert (r.os_days, r.os_event) == (300, 1)
    assert (r.crisk_days, r.crisk_event) == (300, 2)
    assert r.hsct_after and r.hsct_after_days == 60
    assert r.best_response == "CRi" and r.cr
    rc = row(infusion_table(store, DeriveSettings(censor_at_hsct=True)), "C-I1")
    assert (rc.crisk_days, rc.crisk_event) == (60, 0)
    assert (rc.pfs_days, rc.pfs_event) == (60, 0)
    assert (rc.os_days, rc.os_event) == (300, 1)  # OS never censored at HSCT by default
    ro = row(infusion_table(store, DeriveSettings(censor_at_hsct=True, censor_os=True)), "C-I1")
    assert (ro.os_days, ro.os_event) == (60, 0)
    strict = row(infusion_table(store, DeriveSettings(cri_counts_as_cr=False)), "C-I1")
    assert not strict.cr and strict.nonresponse


def test_patient_d_prior_hsct_and_cart2(store):
    df = infusion_table(store)
    r1, r2 = row(df, "D-I1"), row(df, "D-I2")
    assert r1.prior_allo_hsct and r1.days_since_prior_hsct == 92
    assert r1.next_cart and r1.next_cart_days == 200
    assert (r1.pfs_days, r1.pfs_event) == (150, 1)
    assert (r1.os_days, r1.os_event) == (400, 0)
    assert r2.course_number == 2 and r2.is_course_start
    assert r2.reinfusion_reason == "cd19_positive_relapse"
    assert r2.days_since_prior_hsct == 292 and not r2.next_cart
    assert (r2.pfs_days, r2.pfs_event) == (200, 0)
    assert r2.best_response == "CR" and r2.crs_max_grade == 1
    rn = row(infusion_table(store, DeriveSettings(censor_at_next_cart=True)), "D-I1")
    assert (rn.pfs_days, rn.pfs_event) == (150, 1)  # relapse before the CART2 censoring
    assert (rn.os_days, rn.os_event) == (400, 0)


def test_mrd_rule(store):
    s = DeriveSettings(require_mrd_negative=True)
    df = infusion_table(store, s)
    assert row(df, "A-I1").cr  # MRD-negative CR
    assert not row(df, "D-I1").cr  # CR without MRD negativity


def test_settings_travel_with_the_frame_and_table(store):
    s = DeriveSettings(censor_at_hsct=True)
    df = infusion_table(store, s)
    assert df.attrs["derive_settings"]["censor_at_hsct"] is True
    assert df.attrs["derive_settings"]["month_days"] == 30.4375
    con = open_store(store)
    materialize(con, s)
    assert table_settings(con) == s.model_dump()
    assert con.execute("SELECT count(*) FROM derived_infusions").fetchall() == [(5,)]
    con.close()


def test_exposure_intervals_hand_checked(store):
    x = exposure_intervals(store)
    c = x[x.infusion_id == "C-I1"][["tstart", "tstop", "event", "hsct", "next_cart"]]
    assert c.values.tolist() == [[0, 60, 0, 0, 0], [60, 300, 1, 1, 0]]
    d = x[x.infusion_id == "D-I1"][["tstart", "tstop", "event", "hsct", "next_cart"]]
    assert d.values.tolist() == [[0, 200, 0, 0, 0], [200, 400, 0, 0, 1]]
    assert x.attrs["endpoint"] == "os"
    p = exposure_intervals(store, endpoint="pfs")
    dp = p[p.infusion_id == "D-I1"][["tstart", "tstop", "event", "next_cart"]]
    assert dp.values.tolist() == [[0, 150, 1, 0]]  # CART2 after the PFS event: no split


def test_exposure_intervals_agree_with_tmerge(store):
    """Same rows as cartlens.stats.tmerge (engineer E) on the derived table, if available."""
    tm = pytest.importorskip("cartlens.stats.tmerge")
    df = infusion_table(store)
    df = df[df.os_days > 0]
    subjects = pd.DataFrame(
        {
            "infusion_id": df.infusion_id,
            "futime": df.os_days.astype(float),
            "status": df.os_event,
            "hsct_t": df.hsct_after_days.where(df.hsct_after_days < df.os_days).astype(float),
            "cart_t": df.next_cart_days.where(df.next_cart_days < df.os_days).astype(float),
        }
    )
    res = tm.tmerge(
        subjects,
        id="infusion_id",
        futime="futime",
        status="status",
        tdc={"hsct": "hsct_t", "next_cart": "cart_t"},
        keep=[],
    )
    ref = res.data.sort_values(["infusion_id", "tstart"])
    mine = exposure_intervals(store).sort_values(["infusion_id", "tstart"])
    assert ref["tstart"].tolist() == mine["tstart"].astype(float).tolist()
    assert ref["tstop"].tolist() == mine["tstop"].astype(float).tolist()
    assert ref["hsct"].astype(int).tolist() == mine["hsct"].tolist()
    assert ref["next_cart"].astype(int).tolist() == mine["next_cart"].tolist()
    assert ref["status"].astype(int).tolist() == mine["event"].tolist()


def test_bad_endpoint(store):
    from cartlens.errors import InputError

    with pytest.raises(InputError, match="endpoint"):
        exposure_intervals(store, endpoint="xyz")
    with pytest.raises(ValueError):
        DeriveSettings(nonresponder_pfs="sometimes")


def test_derived_times_identical_for_identical_intervals(tmp_path):
    """Times computed from dates depend only on the intervals (issue 14): 40 patients with
    the same course (CR day 28, relapse day 100, death day 211) starting on different days,
    listed in shuffled order, get bit-identical OS/PFS/DOR times in every unit."""
    import datetime as dt
    import random

    starts = list(range(0, 400, 10))
    random.Random(3).shuffle(starts)
    reg = {k: [] for k in ("patients", "infusions", "responses", "relapses", "deaths")}
    for i, s in enumerate(starts):
        pid = f"P{i:02d}"
        origin = dt.date(2020, 1, 1) + dt.timedelta(days=s)
        reg["patients"].append(
            patient(pid, last_contact_date=day(211, origin), last_contact_status="dead")
        )
        reg["infusions"].append(infusion(pid, infusion_date=day(0, origin)))
        reg["responses"].append(response(pid, 1, 28, "CR", assessment_date=day(28, origin)))
        reg["relapses"].append(
            {"patient_id": pid, "relapse_date": day(100, origin), "relapse_type": "morphologic"}
        )
        reg["deaths"].append(
            {"patient_id": pid, "death_date": day(211, origin), "cause": "relapse_or_progression"}
        )
    path = build_store(tmp_path, reg)
    with open_store(path, read_only=True) as con:
        df = infusion_table(con, DeriveSettings())
    # every float column but those that depend on the calendar (age, years since diagnosis)
    times = [
        c for c in df.columns
        if df[c].dtype.kind == "f" and not c.startswith(("age", "year", "days_since_diag"))
    ]  # fmt: skip
    assert any("os" in c for c in times) and len(df) == 40
    for c in times:
        vals = df[c].dropna().to_numpy()
        assert vals.size == 0 or (vals == vals[0]).all(), c
