"""The SYNTHETIC demo's follow-up beyond CRS and ICANS is valid, varied and plausible."""

from __future__ import annotations

import datetime as dt

import pytest

from cartlens.derive import followup_table
from cartlens.ingest import import_registry
from cartlens.study.demo_data import DEMO_REGISTRY_DIR, build_tables


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    store = tmp_path_factory.mktemp("demo-fu") / "demo.duckdb"
    rep = import_registry(DEMO_REGISTRY_DIR, store, today=dt.date(2024, 1, 1))
    assert rep.ok
    # recorded ICAHT grades equal the computed ones (no R063), and no other finding either
    assert rep.n_warnings == 0 and rep.n_errors == 0
    return followup_table(store)


def test_every_follow_up_entity_has_rows():
    t = build_tables()
    for name in ("labs", "infections", "iec_hs", "second_malignancies"):
        assert t[name], name
    assert {r["toxicity"] for r in t["toxicities"]} == {"CRS", "ICANS", "ICAHT_early", "ICAHT_late"}
    assert all(r["line_number"] for r in t["therapies"])


def test_grades_and_endpoints_vary(table):
    assert set(table["icaht_early_grade"].dropna()) == {0, 1, 2, 3, 4}
    assert not table["icaht_early_mismatch"].any() and not table["icaht_late_mismatch"].any()
    for col in ("infection_event", "ttnt_event", "spm_event"):
        assert set(table[col]) == {0, 1, 2}, col
    assert table["bca_loss_event"].sum() > 10 and table["car_loss_event"].sum() > 10
    assert table["t_cell_malignancy"].any() and table["iec_hs"].any()


def test_plausible_ranges(table):
    assert table["anc_recovery_day"].dropna().between(0, 120).all()
    assert table["car_peak_day"].dropna().isin([7, 14, 28]).mean() > 0.9
    # severe early ICAHT goes with more infections in the first 100 days
    early = (table["infection_event"] == 1) & (table["infection_days"] <= 100)
    sev = table["icaht_early_grade"] >= 3
    assert early[sev].mean() > early[~sev].mean()
