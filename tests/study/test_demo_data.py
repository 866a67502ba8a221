"""The bundled SYNTHETIC demo registry is what its generator makes, and is plausible."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from cartlens.study import demo_data


@pytest.fixture(scope="module")
def tables():
    return demo_data.build_tables()


def _read(name):
    with open(demo_data.DEMO_REGISTRY_DIR / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_bundled_files_equal_a_fresh_generation(tables):
    for entity, rows in tables.items():
        bundled = (demo_data.DEMO_REGISTRY_DIR / f"{entity}.csv").read_text(encoding="utf-8")
        assert bundled == demo_data.render_csv(entity, rows), (
            f"{entity}.csv is stale: run python -m cartlens.study.demo_data"
        )
    readme = (demo_data.DEMO_REGISTRY_DIR / "README.md").read_text()
    assert "SYNTHETIC" in readme


def test_construction_meets_the_published_survival_targets():
    """Checked by the construction's own KM/log-rank; the pipeline test repeats it."""
    assert demo_data.check_design(demo_data.design()) == demo_data.TARGETS


def test_counts_by_kind():
    assert sum(demo_data.KINDS.values()) == 84
    pats = _read("patients")
    assert len(pats) == 84
    assert all(p["patient_id"].startswith("SYN") for p in pats)
    inf = _read("infusions")
    assert sum(1 for i in inf if i["course_number"] == "2") == 26
    assert all(i["reinfusion_reason"] for i in inf if i["course_number"] == "2")


def test_dates_are_in_order():
    d = dt.date.fromisoformat
    pats = {p["patient_id"]: p for p in _read("patients")}
    inf = _read("infusions")
    cart1 = {i["patient_id"]: d(i["infusion_date"]) for i in inf if i["course_number"] == "1"}
    cart2 = {i["patient_id"]: d(i["infusion_date"]) for i in inf if i["course_number"] == "2"}
    for pid, p in pats.items():
        last = d(p["last_contact_date"])
        assert d(p["diagnosis_date"]) < cart1[pid] < last <= demo_data.CUTOFF
        if pid in cart2:
            assert cart1[pid] < cart2[pid] < last
    for t in _read("transplants"):
        pid = t["patient_id"]
        assert cart1[pid] < d(t["transplant_date"])
        rel = [d(r["relapse_date"]) for r in _read("relapses") if r["patient_id"] == pid]
        if rel:
            assert d(t["transplant_date"]) < min(rel)
        if pid in cart2:
            assert d(t["transplant_date"]) < min(rel) < cart2[pid]
    for r in _read("responses") + _read("relapses"):
        key = "assessment_date" if "assessment_date" in r else "relapse_date"
        assert cart1[r["patient_id"]] < d(r[key]) <= d(pats[r["patient_id"]]["last_contact_date"])
    for x in _read("deaths"):
        assert pats[x["patient_id"]]["last_contact_status"] == "dead"
        assert x["death_date"] == pats[x["patient_id"]]["last_contact_date"]
