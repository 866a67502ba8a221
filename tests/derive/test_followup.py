"""Follow-up endpoints on hand-built patients whose answers a human can check.

Every infusion is on 2020-01-01 (day 0) unless stated; ``day(n)`` is n days later.

- A: alive at day 400. ANC 1.0 (day 0), 0.3 (3), 0.05 (8), 0.2 (15), 0.8 (20), 0.9 (21),
  1.2 (22), 1.4 (45), 1.3 (60): <= 0.5 on days 3-19 (17 days), <= 0.1 on 8-14 (7 days) ->
  early ICAHT 3 (recorded 3), late 1 (two values <= 1.5; recorded 2: mismatch), ANC recovery
  day 20. CD19+ B cells 0.2 % (14), 0.1 % (60), 0.5 % (120), 4 % (180), 6 % (240) -> aplasia
  from day 14, lost on day 180 (duration 166). CAR transgene 5000 (7), 30000 (14), 12000 (28),
  800 (90), 0 (180), 0 (240) -> peak 30000 on day 14, lost on day 180. Infections: severe
  bacteraemia day 10, moderate viral pneumonia day 100 -> first infection 10/1, severe 10/1.
  IEC-HS grade 2 on day 12. MDS on day 300 -> second malignancy 300/1. No later treatment ->
  TTNT censored 400/0.
- B: died day 150 (no relapse, no later treatment). ANC 0.2 (0), 0.2 (10), 0.3 (35), 0.4 (50),
  0.2 (60): <= 0.5 from day 0 to the last sample on day 60 (61 days) -> early ICAHT 4, late 3
  (three values <= 0.5, none <= 0.1), not recovered. CD19+ 2 cells/uL (30), 5 (90) -> aplasia
  from day 30, not lost, last seen day 90 (duration 60). Life-threatening fungal pneumonia day
  140 -> infection 140/1; TTNT and second malignancy: death competes, 150/2.
- C: relapse day 100, blinatumomab day 110, CART2 day 200, alive at day 500. CART1: CD19+ 0.5 %
  (30), 0.3 % (90) and 5 % on day 210, after CART2 (ignored) -> aplasia not lost, 90/0; no ANC
  -> ICAHT not assessable; TTNT 110/1; no infection -> 500/0; T-cell lymphoma, CAR-positive, on
  day 450 -> 450/1 (CART2: 250/1).
- D: allo-HSCT day 60, alive at day 300. Mild infection on day 0 -> infection 0/1, severe
  infection 300/0 (60/0 when censored at HSCT); TTNT 60/1 (300/0 without HSCT as a treatment).
"""

from __future__ import annotations

import pandas as pd
import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from cartlens.derive import DeriveSettings, FollowupSettings, exposure_intervals, followup_table
from cartlens.derive.followup import followup_sql
from cartlens.derive.sql import ENDPOINTS, exposure_sql
from registry_factory import (
    anc_series,
    build_store,
    day,
    iec_hs,
    infection,
    infusion,
    lab,
    malignancy,
    patient,
)


def _icaht_row(pid, phase, at, grade):
    return {
        "patient_id": pid,
        "infusion_id": f"{pid}-I1",
        "toxicity": f"ICAHT_{phase}",
        "onset_date": day(at),
        "grade": str(grade),
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("followup")
    labs = anc_series(
        "A", 1, {0: 1.0, 3: 0.3, 8: 0.05, 15: 0.2, 20: 0.8, 21: 0.9, 22: 1.2, 45: 1.4, 60: 1.3}
    )
    labs += [
        lab("A", 1, d, "cd19_b_cells", v, "%")
        for d, v in {14: 0.2, 60: 0.1, 120: 0.5, 180: 4.0, 240: 6.0}.items()
    ]
    labs += [
        lab("A", 1, d, "car_transgene", v, "copies/ug_DNA")
        for d, v in {7: 5000, 14: 30000, 28: 12000, 90: 800, 180: 0, 240: 0}.items()
    ]
    labs += anc_series("B", 1, {0: 0.2, 10: 0.2, 35: 0.3, 50: 0.4, 60: 0.2})
    labs += [
        lab("B", 1, 30, "cd19_b_cells", 2, "cells/uL"),
        lab("B", 1, 90, "cd19_b_cells", 0.005, "10^9/L"),
    ]
    labs += [lab("C", 1, d, "cd19_b_cells", v, "%") for d, v in {30: 0.5, 90: 0.3, 210: 5}.items()]
    reg = {
        "patients": [
            patient("A", last_contact_date=day(400)),
            patient("B", last_contact_date=day(150), last_contact_status="dead"),
            patient("C", last_contact_date=day(500)),
            patient("D", last_contact_date=day(300)),
        ],
        "infusions": [
            infusion("A"),
            infusion("B"),
            infusion("C"),
            infusion("C", 2, 200),
            infusion("D"),
        ],
        "toxicities": [_icaht_row("A", "early", 3, 3), _icaht_row("A", "late", 45, 2)],
        "labs": labs,
        "infections": [
            infection(
                "A",
                1,
                10,
                infection_type="bloodstream",
                organism_class="bacterial",
                severity="severe",
            ),
            infection("A", 1, 100),
            infection("B", 1, 140, organism_class="fungal", severity="life_threatening"),
            infection("D", 1, 0, severity="mild"),
        ],
        "iec_hs": [iec_hs("A", 1, 12, 2)],
        "transplants": [{"patient_id": "D", "transplant_date": day(60), "transplant_type": "allo"}],
        "relapses": [{"patient_id": "C", "relapse_date": day(100), "relapse_type": "morphologic"}],
        "therapies": [
            {
                "patient_id": "C",
                "start_date": day(110),
                "therapy_type": "blinatumomab",
                "line_number": "1",
                "intent": "salvage",
            }
        ],
        "deaths": [{"patient_id": "B", "death_date": day(150), "cause": "infection"}],
        "second_malignancies": [
            malignancy("A", 300, "myeloid"),
            malignancy("C", 450, "t_cell", car_status="positive"),
        ],
    }
    return build_store(tmp, reg)


@pytest.fixture(scope="module")
def table(store):
    return followup_table(store).set_index("infusion_id")


def test_icaht_computed_recorded_and_mismatch(table):
    a, b, c = table.loc["A-I1"], table.loc["B-I1"], table.loc["C-I1"]
    assert (a.days_anc_le_500, a.days_anc_le_100) == (17, 7)
    assert (a.icaht_early_computed, a.icaht_early_recorded, a.icaht_early_grade) == (3, 3, 3)
    assert not a.icaht_early_mismatch
    assert (a.icaht_late_computed, a.icaht_late_recorded) == (1, 2)
    assert a.icaht_late_grade == 2 and a.icaht_late_mismatch  # recorded wins by default
    assert a.anc_recovery_day == 20 and a.severe_icaht
    assert (b.days_anc_le_500, b.icaht_early_grade, b.icaht_late_grade) == (61, 4, 3)
    assert pd.isna(b.anc_recovery_day) and pd.isna(b.icaht_early_recorded)
    assert pd.isna(c.icaht_early_grade) and not c.severe_icaht


def test_icaht_grade_source(store):
    t = followup_table(store, DeriveSettings(grade_source="computed")).set_index("infusion_id")
    assert t.loc["A-I1", "icaht_late_grade"] == 1


def test_b_cell_aplasia(table):
    a, b, c = table.loc["A-I1"], table.loc["B-I1"], table.loc["C-I1"]
    assert a.bca and (a.bca_onset_day, a.bca_loss_day) == (14, 180)
    assert (a.bca_loss_days, a.bca_loss_event, a.bca_duration_days) == (180, 1, 166)
    assert (b.bca_onset_day, b.bca_loss_days, b.bca_loss_event, b.bca_duration_days) == (
        30,
        90,
        0,
        60,
    )
    # the 5 % on day 210 comes after CART2 (day 200): not a loss for CART1
    assert (c.bca_onset_day, c.bca_loss_days, c.bca_loss_event) == (30, 90, 0)
    assert not table.loc["D-I1", "bca"] and pd.isna(table.loc["D-I1", "bca_loss_event"])


def test_bca_thresholds_are_settings(store):
    t = followup_table(store, followup=FollowupSettings(bca_cd19_pct_max=0.4)).set_index(
        "infusion_id"
    )
    # 0.5 % on day 120 is no longer aplastic: aplasia 14-60, lost on day 120
    assert (t.loc["A-I1", "bca_loss_day"], t.loc["A-I1", "bca_duration_days"]) == (120, 106)


def test_car_persistence(table):
    a = table.loc["A-I1"]
    assert a.car_detected and (a.car_peak_copies, a.car_peak_day) == (30000, 14)
    assert (a.car_loss_day, a.car_loss_days, a.car_loss_event) == (180, 180, 1)
    assert not table.loc["B-I1", "car_detected"] and pd.isna(table.loc["B-I1", "car_loss_event"])


def test_infections_with_death_competing(table):
    a, b, c, d = (table.loc[k] for k in ("A-I1", "B-I1", "C-I1", "D-I1"))
    assert (a.infection_days, a.infection_event, a.n_infections) == (10, 1, 2)
    assert (a.severe_infection_days, a.severe_infection_event, a.n_severe_infections) == (
        10,
        1,
        1,
    )
    assert a.first_infection_class == "bacterial"
    assert (b.infection_days, b.infection_event) == (140, 1)
    assert (c.infection_days, c.infection_event) == (500, 0)
    assert (d.infection_days, d.infection_event) == (0, 1)
    assert (d.severe_infection_days, d.severe_infection_event) == (300, 0)
    assert table.loc["C-I2", "infection_days"] == 300


def test_infection_censoring_follows_derive_settings(store):
    t = followup_table(store, DeriveSettings(censor_at_hsct=True)).set_index("infusion_id")
    assert (t.loc["D-I1", "severe_infection_days"], t.loc["D-I1", "severe_infection_event"]) == (
        60,
        0,
    )
    assert t.loc["D-I1", "infection_event"] == 1  # the day-0 infection precedes the HSCT
    assert t.loc["B-I1", "severe_infection_event"] == 1


def test_death_competes_with_a_severe_infection_outcome(store):
    t = followup_table(store, followup=FollowupSettings(severe_infection="fatal"))
    b = t.set_index("infusion_id").loc["B-I1"]
    assert (b.severe_infection_days, b.severe_infection_event) == (150, 2)


def test_iec_hs(table):
    a = table.loc["A-I1"]
    assert a.iec_hs and (a.iec_hs_max_grade, a.iec_hs_onset_day, a.n_iec_hs) == (2, 12, 1)
    assert not table.loc["B-I1", "iec_hs"] and table.loc["B-I1", "iec_hs_max_grade"] == 0


def test_time_to_next_treatment(store, table):
    assert (table.loc["A-I1", "ttnt_days"], table.loc["A-I1", "ttnt_event"]) == (400, 0)
    assert (table.loc["B-I1", "ttnt_days"], table.loc["B-I1", "ttnt_event"]) == (150, 2)
    assert (table.loc["C-I1", "ttnt_days"], table.loc["C-I1", "ttnt_event"]) == (110, 1)
    assert (table.loc["C-I2", "ttnt_days"], table.loc["C-I2", "ttnt_event"]) == (300, 0)
    assert (table.loc["D-I1", "ttnt_days"], table.loc["D-I1", "ttnt_event"]) == (60, 1)
    t = followup_table(store, followup=FollowupSettings(ttnt_includes_hsct=False))
    d = t.set_index("infusion_id").loc["D-I1"]
    assert (d.ttnt_days, d.ttnt_event) == (300, 0)
    assert table.loc["C-I1", "ttnt_months"] == pytest.approx(110 / 30.4375, rel=1e-12)


def test_second_malignancy_with_death_competing(table):
    assert (table.loc["A-I1", "spm_days"], table.loc["A-I1", "spm_event"]) == (300, 1)
    assert table.loc["A-I1", "spm_type"] == "myeloid" and not table.loc["A-I1", "t_cell_malignancy"]
    assert (table.loc["B-I1", "spm_days"], table.loc["B-I1", "spm_event"]) == (150, 2)
    c1, c2 = table.loc["C-I1"], table.loc["C-I2"]
    assert (c1.spm_days, c1.spm_event, c2.spm_days, c2.spm_event) == (450, 1, 250, 1)
    assert c1.t_cell_malignancy and c1.t_cell_malignancy_car_positive


def test_loss_of_bca_as_time_dependent_exposure(store):
    x = exposure_intervals(store, endpoint="os", followup=FollowupSettings())
    a = x[x["infusion_id"] == "A-I1"][["tstart", "tstop", "event", "bca_lost"]]
    assert a.values.tolist() == [[0, 180, 0, 0], [180, 400, 0, 1]]
    b = x[x["infusion_id"] == "B-I1"][["tstart", "tstop", "event", "bca_lost"]]
    assert b.values.tolist() == [[0, 150, 1, 0]]
    c1 = x[x["infusion_id"] == "C-I1"][["tstart", "tstop", "next_cart", "bca_lost"]]
    assert c1.values.tolist() == [[0, 200, 0, 0], [200, 500, 1, 0]]
    # without follow-up settings the intervals are as before (no bca_lost column)
    assert "bca_lost" not in exposure_intervals(store).columns


def test_settings_travel_with_the_frame(store):
    t = followup_table(store, followup=FollowupSettings(car_detection_min=1000))
    assert t.attrs["followup_settings"]["car_detection_min"] == 1000
    a = t.set_index("infusion_id").loc["A-I1"]
    assert (a.car_loss_day, a.car_loss_days) == (90, 90)  # 800 copies: below the limit


@pytest.mark.parametrize(
    "settings",
    [DeriveSettings(), DeriveSettings(censor_at_hsct=True, censor_at_new_therapy=True)],
)
def test_followup_sql_transpiles_to_spark(settings):
    for sql in [followup_sql(settings, FollowupSettings(ttnt_includes_hsct=False))] + [
        exposure_sql(settings, e, followup=FollowupSettings()) for e in ENDPOINTS
    ]:
        out = sqlglot.transpile(
            sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE
        )
        sqlglot.parse_one(out[0], read="spark")
