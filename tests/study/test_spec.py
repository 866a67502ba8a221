"""The study specification: the bundled study validates; bad files name key and line."""

from __future__ import annotations

import pytest

from cartlens.study.spec import REFERENCE_STUDY, SpecError, key_lines, load_study, parse_study

MINIMAL = """\
[study]
title = "t"

[cohorts.cart2]
where = { course_number = 2 }

[[analyses]]
id = "response"
type = "proportion"
cohorts = ["cart2"]
outcome = "cr"
"""


def test_reference_study_validates():
    s = load_study(REFERENCE_STUDY)
    assert s.presentation.month_days == 30.4375
    assert len(s.replication) == 30
    assert s.cohort_chain("adj_hsct_cart2") == ["relapse_after_cr", "adjusted", "adj_hsct_cart2"]


def test_minimal_study_uses_documented_defaults():
    s = parse_study(MINIMAL)
    assert s.presentation.ci_method == "clopper-pearson"
    assert s.endpoints.window == (21, 35)
    assert s.endpoints.severe_grade == 3
    assert s.endpoints.derive_settings(30.4375).month_days == 30.4375


def test_unknown_key_names_key_and_line():
    text = MINIMAL.replace('outcome = "cr"', 'outcome = "cr"\nconfidence = 0.9')
    with pytest.raises(SpecError) as e:
        parse_study(text)
    assert e.value.key == "analyses[1].confidence"  # numbered from 1
    assert e.value.line == 12
    assert "unknown key" in str(e.value) and "line 12" in str(e.value)


def test_wrong_type_names_key_and_line():
    text = MINIMAL + '\n[presentation]\ndecimals = "two"\n'
    with pytest.raises(SpecError) as e:
        parse_study(text)
    assert e.value.key == "presentation.decimals"
    assert e.value.line == 14
    assert "two" in str(e.value)


def test_bad_value_in_nested_table():
    text = MINIMAL + "\n[endpoints]\nsevere_grade = 9\n"
    with pytest.raises(SpecError) as e:
        parse_study(text)
    assert e.value.key == "endpoints.severe_grade"
    assert e.value.line == 14


def test_unknown_analysis_type_and_unknown_cohort():
    with pytest.raises(SpecError) as e:
        parse_study(MINIMAL.replace('type = "proportion"', 'type = "kaplan"'))
    assert e.value.key.startswith("analyses[1]") and e.value.line is not None
    with pytest.raises(SpecError) as e:
        parse_study(MINIMAL.replace('cohorts = ["cart2"]', 'cohorts = ["cart3"]'))
    assert e.value.key == "analyses[1].cohorts" and e.value.line == 10
    assert "cart3" in str(e.value)


def test_missing_required_key():
    with pytest.raises(SpecError) as e:
        parse_study(MINIMAL.replace('title = "t"\n', ""))
    assert e.value.key == "study.title" and "missing" in str(e.value)


def test_invalid_toml_reports_line():
    with pytest.raises(SpecError) as e:
        parse_study(MINIMAL + "\n[broken\n")
    assert e.value.line == 13


def test_key_lines_maps_tables_arrays_and_inline_tables():
    lines = key_lines(MINIMAL)
    assert lines[("study", "title")] == 2
    assert lines[("cohorts", "cart2", "where", "course_number")] == 5
    assert lines[("analyses", 0, "outcome")] == 11
