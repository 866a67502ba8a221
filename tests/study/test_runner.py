"""The runner on small studies: adjusted-comparison methods, filters, failures kept per analysis."""

from __future__ import annotations

import pytest

from cartlens.study.demo_data import DEMO_REGISTRY_DIR
from cartlens.study.runner import run_study
from cartlens.study.spec import SpecError, parse_study

BASE = """\
[study]
title = "adjusted"

[cohorts.adjusted]
frame = "salvage"
where.relapse_type = "morphologic"
where.relapse_cd19 = "positive"
where.group = ["hsct_cart2", "nohsct_cart2"]

[cohorts.older]
where = { course_number = 1, age = { op = ">=", value = 40 } }

[[analyses]]
id = "adj"
type = "adjusted"
cohort = "adjusted"
treatment = "group"
treated = "hsct_cart2"
control = "nohsct_cart2"
method = "METHOD"
covariates = ["age", "months_cart1_to_relapse"]

[[analyses]]
id = "older_cr"
type = "proportion"
cohorts = ["older"]
outcome = "cr"
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from cartlens.ingest.store import import_registry

    path = tmp_path_factory.mktemp("store") / "registry.duckdb"
    assert import_registry(DEMO_REGISTRY_DIR, path).ok
    return path


@pytest.mark.parametrize("method", ["restriction", "multivariable", "iptw", "matching"])
def test_adjusted_methods(store, method):
    text = BASE.replace("METHOD", method)
    run = run_study(parse_study(text), store, spec_text=text)
    a = run.analysis("adj")
    assert a.status == "ok", a.note
    s = a.summary
    assert s["n_treated"] == 7 and s["n_control"] == 7
    assert 0 < s["lower"] < s["hr"] < s["upper"]
    assert 0 < s["p"] < 1
    if method == "iptw":
        assert "weights" in a.results and "balance" in a.results
    if method == "matching":
        assert 0 < s["n_matched"] <= 14


def test_operator_filter_and_cohort_sizes(store):
    text = BASE.replace("METHOD", "restriction")
    run = run_study(parse_study(text), store, spec_text=text)
    older = run.cohorts["older"]
    assert 0 < older["n"] < 84
    prop = run.analysis("older_cr").summary
    assert prop["older.n"] <= older["n"]


def test_filter_type_mismatch_is_a_spec_error(store):
    text = BASE.replace("METHOD", "iptw").replace(
        'age = { op = ">=", value = 40 }', 'age = { op = ">=", value = "forty" }'
    )
    with pytest.raises(SpecError) as e:
        run_study(parse_study(text), store, spec_text=text)
    assert e.value.key == "cohorts.older.where.age"


def test_proportion_with_no_evaluable_row_is_a_warning_not_a_failure(store):
    text = (
        BASE.replace("METHOD", "restriction")
        + """
[cohorts.not_evaluable]
where = { course_number = 1, response_evaluable = false }

[[analyses]]
id = "ne_cr"
type = "proportion"
cohorts = ["not_evaluable"]
outcome = "cr"
"""
    )
    run = run_study(parse_study(text), store, spec_text=text)
    a = run.analysis("ne_cr")
    assert a.status == "ok"
    assert a.summary["not_evaluable.n"] == 0 and a.summary["not_evaluable.pct"] is None
    assert run.cohorts["not_evaluable"]["n"] == 5  # the five early deaths
    assert any("SparseDataWarning" in w and "0 evaluable" in w for w in a.warnings)


SWIMMER = """\
[study]
title = "swimmer"

[cohorts.first]
where.course_number = 1

[[analyses]]
id = "swim"
type = "swimmer"
cohort = "first"
MAXP
"""


def test_swimmer_above_max_patients_shows_a_seeded_selection_with_a_note(store):
    full = run_study(parse_study(SWIMMER.replace("MAXP", "max_patients = 84")), store)
    full = full.analysis("swim")
    assert full.summary["n"] == full.summary["n_cohort"] == 84
    assert "selection" not in full.details
    runs = [
        run_study(parse_study(SWIMMER.replace("MAXP", f"max_patients = 10\nseed = {s}")), store)
        for s in (1, 1, 2)
    ]
    a, again, other = (r.analysis("swim") for r in runs)
    assert a.summary["n"] == 10 and a.summary["n_cohort"] == 84
    sel = a.details["selection"]
    assert (sel["shown"], sel["of"], sel["seed"]) == (10, 84, 1)
    assert "10 of 84 patients shown" in sel["note"] and "seed 1" in sel["note"]
    ids = [p["patient_id"] for p in a.details["patients"]]
    assert ids == [p["patient_id"] for p in again.details["patients"]]  # seeded: repeatable
    assert set(ids) != {p["patient_id"] for p in other.details["patients"]}
    assert set(ids) <= {p["patient_id"] for p in full.details["patients"]}
    by_id = {p["patient_id"]: p for p in full.details["patients"]}
    assert all(p == by_id[p["patient_id"]] for p in a.details["patients"])
