"""Every validation rule: a failing case (the finding names file, row, column) and a passing one.

The base registry of ``registry_factory.base_registry()`` produces no finding at all; each case
mutates it minimally and checks that the expected rule fires at the expected place.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cartlens.ingest import RULES, validate_registry
from registry_factory import (
    TODAY,
    anc_series,
    base_registry,
    day,
    icans,
    iec_hs,
    infection,
    lab,
    malignancy,
    patient,
    write_folder,
)


def findings_for(tmp_path, reg):
    write_folder(tmp_path / "reg", reg)
    return validate_registry(tmp_path / "reg", today=TODAY).findings


def test_base_registry_is_clean(tmp_path):
    f = findings_for(tmp_path, base_registry())
    assert f.empty, f.to_string()


def _set(entity: str, i: int, **kw) -> Callable[[dict], None]:
    def m(reg):
        reg[entity][i].update(kw)

    return m


def _append(entity: str, row: dict) -> Callable[[dict], None]:
    def m(reg):
        reg[entity].append(row)

    return m


def _drop_col(entity: str, col: str) -> Callable[[dict], None]:
    def m(reg):
        for r in reg[entity]:
            r.pop(col, None)

    return m


def _rows(entity: str, *rows: dict, **more: list[dict]) -> Callable[[dict], None]:
    """Add rows to ``entity`` (and to the entities named in ``more``)."""

    def m(reg):
        reg.setdefault(entity, []).extend(dict(r) for r in rows)
        for name, extra in more.items():
            reg.setdefault(name, []).extend(dict(r) for r in extra)

    return m


def _icaht_case(recorded: int) -> Callable[[dict], None]:
    """P2's ANC is <= 0.5 on days 3-4 only (early ICAHT grade 1); ``recorded`` is the centre's
    grade."""
    return _rows(
        "labs",
        *anc_series("P2", 1, {0: 2.0, 3: 0.4, 5: 1.0, 6: 1.2, 7: 1.5}),
        toxicities=[
            {
                "patient_id": "P2",
                "infusion_id": "P2-I1",
                "toxicity": "ICAHT_early",
                "onset_date": day(3),
                "grade": str(recorded),
            }
        ],
    )


# (rule, mutation, file, data row, column)
CASES = [
    ("R001", _set("patients", 1, sex=""), "patients.csv", 2, "sex"),
    ("R002", _drop_col("patients", "diagnosis_date"), "patients.csv", None, "diagnosis_date"),
    ("R003", _set("patients", 0, nickname="x"), "patients.csv", None, "nickname"),
    (
        "R010",
        _set("patients", 1, prior_therapy_lines="three"),
        "patients.csv",
        2,
        "prior_therapy_lines",
    ),
    (
        "R011",
        _set("infusions", 2, dose_cells_per_kg="1,5e6"),
        "infusions.csv",
        3,
        "dose_cells_per_kg",
    ),
    ("R012", _set("infusions", 2, infusion_date="01/01/2020"), "infusions.csv", 3, "infusion_date"),
    ("R012", _set("infusions", 2, infusion_date="2020-02-30"), "infusions.csv", 3, "infusion_date"),
    ("R013", _set("patients", 1, ph_positive="maybe"), "patients.csv", 2, "ph_positive"),
    ("R014", _set("patients", 1, patient_id="John Smith"), "patients.csv", 2, "patient_id"),
    ("R020", _set("patients", 1, sex="F"), "patients.csv", 2, "sex"),
    (
        "R021",
        _set("infusions", 2, marrow_blasts_pct="120"),
        "infusions.csv",
        3,
        "marrow_blasts_pct",
    ),
    ("R021", _set("toxicities", 2, grade="6"), "toxicities.csv", 3, "grade"),
    (
        "R022",
        _set("infusions", 2, dose_cells_per_kg="5e10"),
        "infusions.csv",
        3,
        "dose_cells_per_kg",
    ),
    (
        "R030",
        _set("infusions", 2, patient_id="P9", infusion_id="P9-I1"),
        "infusions.csv",
        3,
        "patient_id",
    ),
    ("R031", _set("responses", 2, infusion_id="P2-I9"), "responses.csv", 3, "infusion_id"),
    ("R031", _set("responses", 2, infusion_id="P1-I1"), "responses.csv", 3, "infusion_id"),
    (
        "R032",
        lambda r: r["infusions"].append(dict(r["infusions"][2])),
        "infusions.csv",
        4,
        "infusion_id",
    ),
    ("R033", _append("patients", patient("P3")), "patients.csv", 3, "patient_id"),
    ("R040", _set("patients", 1, diagnosis_date=day(10)), "infusions.csv", 3, "infusion_date"),
    ("R041", _set("responses", 2, assessment_date=day(-3)), "responses.csv", 3, "assessment_date"),
    ("R042", _set("therapies", 0, start_date=day(310)), "therapies.csv", 1, "start_date"),
    (
        "R043",
        _set("patients", 1, last_contact_date=day(20)),
        "patients.csv",
        2,
        "last_contact_date",
    ),
    (
        "R044",
        _set("patients", 1, last_contact_date="2030-01-01"),
        "patients.csv",
        2,
        "last_contact_date",
    ),
    ("R045", _set("toxicities", 0, resolution_date=day(1)), "toxicities.csv", 1, "resolution_date"),
    ("R046", _set("infusions", 1, infusion_number="3"), "infusions.csv", 2, "infusion_number"),
    ("R046", _set("infusions", 1, course_number="3"), "infusions.csv", 2, "course_number"),
    (
        "R047",
        _set("patients", 1, last_contact_status="dead"),
        "patients.csv",
        2,
        "last_contact_status",
    ),
    (
        "R047",
        _set("patients", 0, last_contact_status="alive"),
        "patients.csv",
        1,
        "last_contact_status",
    ),
    (
        "R048",
        _set("patients", 0, prior_allo_hsct_date=day(5)),
        "patients.csv",
        1,
        "prior_allo_hsct_date",
    ),
    (
        "R048",
        _set("patients", 0, prior_allo_hsct="false"),
        "patients.csv",
        1,
        "prior_allo_hsct_date",
    ),
    ("R050", _set("infusions", 1, reinfusion_reason=""), "infusions.csv", 2, "reinfusion_reason"),
    (
        "R051",
        _set("infusions", 2, reinfusion_reason="other"),
        "infusions.csv",
        3,
        "reinfusion_reason",
    ),
    ("R060", _set("toxicities", 2, grade="3"), "toxicities.csv", 3, "grade"),
    ("R061", _set("toxicities", 2, legacy_grade="2"), "toxicities.csv", 3, "legacy_grade"),
    (
        "R062",
        _set("patients", 1, birth_year="", age_at_diagnosis=""),
        "patients.csv",
        2,
        "birth_year",
    ),
    ("R062", _set("patients", 1, birth_year="1950"), "patients.csv", 2, "birth_year"),
    *[  # follow-up entities (labs, infections, IEC-HS, therapy lines, second malignancies)
        ("R040", _rows("labs", lab("P2", 1, -300, "anc", 2.0)), "labs.csv", 1, "sample_date"),
        ("R041", _rows("infections", infection("P2", 1, -2)), "infections.csv", 1, "onset_date"),
        ("R041", _rows("iec_hs", iec_hs("P2", 1, -1)), "iec_hs.csv", 1, "onset_date"),
        ("R042", _rows("labs", lab("P1", 2, 301, "anc", 2.0)), "labs.csv", 1, "sample_date"),
        (
            "R043",
            _rows("infections", infection("P2", 1, 366)),
            "patients.csv",
            2,
            "last_contact_date",
        ),
        (
            "R044",
            _rows("infections", infection("P2", 1, 40, resolution_date="2030-01-01")),
            "infections.csv",
            1,
            "resolution_date",
        ),
        (
            "R045",
            _rows("iec_hs", iec_hs("P2", 1, 10, resolution_date=day(9))),
            "iec_hs.csv",
            1,
            "resolution_date",
        ),
        (
            "R045",
            _set("therapies", 0, end_date=day(100)),
            "therapies.csv",
            1,
            "end_date",
        ),
        # ANC <= 0.5 on days 3-4 only: early ICAHT grade 1, recorded 3
        (
            "R063",
            _icaht_case(3),
            "toxicities.csv",
            4,
            "grade",
        ),
        ("R064", _rows("iec_hs", iec_hs("P2", 1, 10, 2, fatal="true")), "iec_hs.csv", 1, "grade"),
        ("R064", _rows("iec_hs", iec_hs("P2", 1, 10, 5, fatal="false")), "iec_hs.csv", 1, "grade"),
        ("R080", _rows("labs", lab("P2", 1, 5, "anc", 0.4, "mg/L")), "labs.csv", 1, "unit"),
        (
            "R081",
            _rows("labs", lab("P2", 1, 14, "car_positive_pct", 120, "%")),
            "labs.csv",
            1,
            "value",
        ),
        ("R082", _rows("labs", lab("P2", 1, 5, "anc", 450)), "labs.csv", 1, "value"),
        (
            "R082",
            _rows("labs", lab("P2", 1, 5, "haemoglobin", 95, "g/dL")),
            "labs.csv",
            1,
            "value",
        ),
        (
            "R083",
            _rows("second_malignancies", malignancy("P2", 300, "t_cell")),
            "second_malignancies.csv",
            1,
            "car_status",
        ),
        (
            "R084",
            lambda r: (
                r["therapies"][0].update(line_number="2"),
                r["therapies"].append(
                    {
                        "patient_id": "P1",
                        "start_date": day(150),
                        "therapy_type": "chemotherapy",
                        "line_number": "1",
                    }
                ),
            ),
            "therapies.csv",
            2,
            "line_number",
        ),
    ],
]


@pytest.mark.parametrize(("rule", "mutate", "file", "row", "column"), CASES)
def test_rule_fires_where_expected(tmp_path, rule, mutate, file, row, column):
    reg = base_registry()
    mutate(reg)
    f = findings_for(tmp_path, reg)
    hit = f[(f["rule"] == rule) & (f["file"] == file) & (f["column"] == column)]
    if row is not None:
        hit = hit[hit["row"] == row]
    assert len(hit) >= 1, f.to_string()
    assert set(hit["severity"]) == {RULES[rule].severity}
    assert hit["message"].str.len().min() > 10


def test_every_rule_has_a_failing_case():
    covered = {c[0] for c in CASES} | {"R000"}  # R000: test_readers.py
    assert covered == set(RULES)


# passing edge cases: values that must be accepted
PASSES = [
    ("R010", _set("patients", 1, prior_therapy_lines="3.0")),
    ("R011", _set("infusions", 2, dose_cells_per_kg="1.5E+06")),
    ("R013", _set("patients", 1, ph_positive="Yes")),
    ("R021", _set("infusions", 2, marrow_blasts_pct="100")),
    ("R022", _set("infusions", 2, dose_cells_per_kg="1e9")),
    ("R041", _set("responses", 2, assessment_date=day(0))),
    ("R042", _set("therapies", 0, start_date=day(300))),
    ("R043", _set("patients", 1, last_contact_date=day(28))),
    ("R044", _set("patients", 1, last_contact_date=TODAY.isoformat())),
    (
        "R046",
        lambda r: r["infusions"].insert(
            2,
            {
                **r["infusions"][1],
                "infusion_id": "P1-I3",
                "infusion_number": "3",
                "infusion_date": day(161),
                "reinfusion_reason": "",
            },
        ),
    ),
    ("R050", _set("infusions", 1, reinfusion_reason="no_response")),
    ("R060", _append("toxicities", icans("P2", 1, 4, 2, ice_score="6"))),
    ("R061", _set("toxicities", 2, legacy_grade="2", legacy_scale="penn")),
    ("R062", _set("patients", 1, birth_year="")),
    ("R041", _rows("labs", lab("P2", 1, -5, "anc", 2.0))),  # baseline labs precede day 0
    ("R080", _rows("labs", lab("P2", 1, 5, "anc", 450, "cells/uL"))),
    ("R082", _rows("labs", lab("P2", 1, 5, "haemoglobin", 95, "g/L"))),
    ("R081", _rows("labs", lab("P2", 1, 14, "cd19_b_cells", 100, "%"))),
    ("R083", _rows("second_malignancies", malignancy("P2", 300, "t_cell", car_status="negative"))),
    ("R064", _rows("iec_hs", iec_hs("P2", 1, 10, 5))),
    (
        "R063",
        _icaht_case(1),
    ),
    (
        "R084",
        lambda r: (
            r["therapies"][0].update(line_number="1"),
            r["therapies"].append(
                {
                    "patient_id": "P1",
                    "start_date": day(150),
                    "therapy_type": "chemotherapy",
                    "line_number": "2",
                    "end_date": day(150),
                }
            ),
        ),
    ),
]


@pytest.mark.parametrize(("rule", "mutate"), PASSES)
def test_rule_accepts_valid_edge_values(tmp_path, rule, mutate):
    reg = base_registry()
    mutate(reg)
    f = findings_for(tmp_path, reg)
    assert not (f["rule"] == rule).any(), f.to_string()
    assert not (f["severity"] == "error").any(), f.to_string()


def test_missing_required_entity(tmp_path):
    reg = base_registry()
    del reg["infusions"]
    f = findings_for(tmp_path, reg)
    assert ((f["rule"] == "R002") & (f["file"] == "infusions.csv")).any()


def test_astct_mismatch_message_names_computed_grade(tmp_path):
    reg = base_registry()
    reg["toxicities"][2]["grade"] = "3"
    f = findings_for(tmp_path, reg)
    msg = f.loc[f["rule"] == "R060", "message"].iloc[0]
    assert "grade 3" in msg and "give grade 1" in msg


def test_icaht_mismatch_message_names_computed_grade_and_durations(tmp_path):
    reg = base_registry()
    _icaht_case(3)(reg)
    f = findings_for(tmp_path, reg)
    msg = f.loc[f["rule"] == "R063", "message"].iloc[0]
    assert "grade 3" in msg and "gives grade 1" in msg and "2 days ANC <= 500/uL" in msg
