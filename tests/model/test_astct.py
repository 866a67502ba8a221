"""ASTCT 2019 grading (Lee et al., BBMT 2019;25:625-638, tables 5 and 8)."""

from __future__ import annotations

import pandas as pd
import pytest

from cartlens.model.astct import (
    astct_grades,
    crs_grade,
    crs_grades,
    grade_mismatch,
    icans_grade,
)


@pytest.mark.parametrize(
    ("temp", "hypo", "oxy", "flow", "expected"),
    [
        (39.0, "none", "none", None, 1),  # fever only
        (38.0, "none", "none", None, 1),  # threshold is >= 38.0
        (37.9, "none", "none", None, 0),  # no fever, no masking therapy: no CRS
        (39.0, "no_vasopressor", "none", None, 2),
        (39.0, "none", "low_flow", None, 2),
        (39.0, "none", None, 6.0, 2),  # 6 L/min is still low flow
        (39.0, "none", None, 6.5, 3),  # > 6 L/min is high flow
        (39.0, "one_vasopressor", "low_flow", None, 3),  # worse component decides
        (39.0, "none", "high_flow", None, 3),
        (39.0, "multiple_vasopressors", "none", None, 4),
        (39.0, "no_vasopressor", "positive_pressure", None, 4),
    ],
)
def test_crs_table(temp, hypo, oxy, flow, expected):
    assert crs_grade(temp, hypo, oxy, flow) == expected


def test_crs_fever_masked_by_tocilizumab():
    # afebrile after tocilizumab: fever no longer required
    assert crs_grade(37.0, "one_vasopressor", "none", tocilizumab=True) == 3
    assert crs_grade(None, "no_vasopressor", None, steroids=True) == 2
    assert crs_grade(37.0, "one_vasopressor", "none") == 0


def test_crs_not_computable_and_fatal():
    assert crs_grade() is None
    assert crs_grade(None, "one_vasopressor", "none") is None  # fever status unknown
    assert crs_grade(None, None, None, fatal=True) == 5


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"ice_score": 10}, 0),
        ({"ice_score": 9}, 1),
        ({"ice_score": 7}, 1),
        ({"ice_score": 6}, 2),
        ({"ice_score": 3}, 2),
        ({"ice_score": 2}, 3),
        ({"ice_score": 0}, 3),
        ({"ice_score": 0, "consciousness": "unarousable"}, 4),
        ({"capd_score": 0}, 0),
        ({"capd_score": 4}, 1),
        ({"capd_score": 9}, 3),
        ({"capd_unable": True}, 4),
        ({"ice_score": 8, "consciousness": "awakens_to_voice"}, 2),
        ({"ice_score": 8, "consciousness": "awakens_to_touch"}, 3),
        ({"ice_score": 10, "seizure": "resolved_rapidly"}, 3),
        ({"ice_score": 10, "seizure": "prolonged_or_repetitive"}, 4),
        ({"ice_score": 9, "motor_findings": "deep_focal_weakness"}, 4),
        ({"ice_score": 9, "cerebral_oedema": "focal"}, 3),
        ({"ice_score": 9, "cerebral_oedema": "diffuse"}, 4),
        ({"fatal": True}, 5),
        ({}, None),
    ],
)
def test_icans_table(kwargs, expected):
    assert icans_grade(**kwargs) == expected


def test_vectorised_matches_scalar_and_mismatch():
    df = pd.DataFrame(
        {
            "toxicity": ["CRS", "CRS", "ICANS", "ICANS"],
            "max_temperature_c": [39.5, 38.2, None, None],
            "hypotension": ["one_vasopressor", "none", None, None],
            "oxygen": ["none", "none", None, None],
            "ice_score": [None, None, 5, None],
            "grade": [3, 2, 2, 1],
        }
    )
    computed = astct_grades(df)
    assert computed.tolist()[:3] == [3, 1, 2]
    assert computed.isna().tolist() == [False, False, False, True]
    assert grade_mismatch(df["grade"], computed).tolist() == [False, True, False, False]
    assert crs_grades(df.iloc[:2]).tolist() == [3, 1]
