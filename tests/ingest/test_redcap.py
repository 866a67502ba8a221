"""REDCap: the template mapping of docs/redcap reads a template export built from the demo
registry (longitudinal, repeating instruments, checkboxes, coded choices), strict mapping
validation with "did you mean", choice labels, date formats and re-imports after corrections."""

from __future__ import annotations

import csv
import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest

from cartlens.errors import InputError
from cartlens.ingest import import_registry, open_store, validate_registry
from cartlens.study.demo_data import DEMO_REGISTRY_DIR
from redcap_export import build_export
from registry_factory import sha, store_tables

DOCS = Path(__file__).parents[2] / "docs" / "redcap"
MAPPING, DICTIONARY = DOCS / "mapping.toml", DOCS / "dictionary.csv"

TODAY = dt.date(2026, 1, 1)
#: The entities the template maps (the follow-up entities are not in it).
MAPPED = tuple(tomllib.loads(MAPPING.read_text())["entities"])


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("redcap")
    return build_export(DEMO_REGISTRY_DIR, MAPPING, DICTIONARY, d / "export.csv")


@pytest.fixture(scope="module")
def csv_store(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("csv") / "demo.duckdb"
    assert import_registry(DEMO_REGISTRY_DIR, store, today=TODAY).ok
    return store


def as_redcap(store: Path) -> dict:
    """The mapped entities' rows as a REDCap export can hold them: a checkbox has no empty
    state, so an unknown tocilizumab/steroids (left empty in the CSV) reads as unchecked."""
    tables = store_tables(store, MAPPED)
    con = open_store(store)
    try:
        tables["toxicities"] = con.execute(
            "SELECT * EXCLUDE (_import_id, _import_row, _source_key) REPLACE "
            "(coalesce(tocilizumab, false) AS tocilizumab, coalesce(steroids, false) AS "
            "steroids) FROM toxicities ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    return tables


def edit(src: Path, dst: Path, fn) -> Path:
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        fn(r)  # edits the row in place
    with open(dst, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return dst


def mapping_with(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = MAPPING.read_text()
    assert old in text
    p = tmp_path / "mapping.toml"
    p.write_text(text.replace(old, new, count))
    return p


def test_template_mapping_reads_the_template_export_like_the_csv_registry(
    export, csv_store, tmp_path
):
    head = export.read_text().splitlines()[0].split(",")
    assert "redcap_event_name" in head and "target___1" in head  # longitudinal, checkboxes
    store = tmp_path / "redcap.duckdb"
    rep = import_registry(export, store, mapping=MAPPING, dictionary=DICTIONARY, today=TODAY)
    assert rep.ok, rep.findings.head(10).to_string()
    assert rep.settings["read"]["export.csv"]["longitudinal"] is True
    assert as_redcap(store) == as_redcap(csv_store)
    con = open_store(store)
    keys = con.execute("SELECT _source_key FROM toxicities ORDER BY ALL LIMIT 1").fetchall()
    con.close()
    assert re.fullmatch(r"SYN\d+\|follow_up_arm_1\|toxicity\|\d+", keys[0][0])


def test_longitudinal_export_without_declared_events(export, csv_store, tmp_path):
    m = tmp_path / "m.toml"
    m.write_text(re.sub(r'(?m)^event = "[a-z_0-9]+"\n', "", MAPPING.read_text()))
    store = tmp_path / "s.duckdb"
    rep = import_registry(export, store, mapping=m, dictionary=DICTIONARY, today=TODAY)
    assert rep.ok, rep.findings.head(10).to_string()
    assert as_redcap(store) == as_redcap(csv_store)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ('instrument = "toxicity"', 'instrument = "toxicities"', "did you mean 'toxicity'"),
        ('event = "follow_up_arm_1"', 'event = "followup_arm_1"', "did you mean 'follow_up_arm_1'"),
        ('instrument = "relapse"', 'instrumnet = "relapse"', "did you mean 'instrument'"),
        ('\ndate_format = "YMD"', '\ndate_fromat = "YMD"', "did you mean 'date_format'"),
        ('\ndate_format = "YMD"', '\ndate_format = "DYM"', "DMY"),
        ('sex = "sex"', 'sex = "gender"', "'gender' is not in the export"),
        ('dose_cells_per_kg = "dose"', 'dose_cells_per_kg = "dosee"', "did you mean 'dose'"),
        ('cause = "death_cause"', 'caus = "death_cause"', "did you mean 'cause'"),
        ('checkbox = "target"', 'checkbox = "targets"', "did you mean 'target'"),
        (
            '{ checkbox = "tox_treat", code = "1" }',
            '{ checkbox = "tox_treat", cod = "1" }',
            "'code'",
        ),
        ("{record_id}-I{tox_inf}", "{record_id}-I{tox_infusion}", "did you mean 'tox_inf'"),
        ("[entities.therapies]", "[entities.therapy]", "did you mean 'therapies'"),
        (
            'target_antigen = { checkbox = "target", join = "+" }',
            'target_antigen = "target___9"',
            "'target___9' is not in the export",
        ),
    ],
)
def test_mapping_mistakes_are_errors_with_did_you_mean(export, tmp_path, old, new, match):
    m = mapping_with(tmp_path, old, new)
    with pytest.raises(InputError, match=re.escape(match)):
        validate_registry(export, mapping=m, dictionary=DICTIONARY, today=TODAY)


def test_checkbox_found_from_its_columns_and_labels_matched_ignoring_case(
    export, csv_store, tmp_path
):
    # a plain field name that is a checkbox; dictionary labels in upper case
    m = mapping_with(
        tmp_path,
        'target_antigen = { checkbox = "target", join = "+" }',
        'target_antigen = "target"',
    )
    dd = tmp_path / "dd.csv"
    with open(DICTIONARY, newline="") as f:
        rows = list(csv.reader(f))
    for r in rows[1:]:
        r[5] = " | ".join(
            f"{p.split(',', 1)[0]},{p.split(',', 1)[1].upper()}" for p in r[5].split(" | ") if p
        )
    with open(dd, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    store = tmp_path / "s.duckdb"
    rep = import_registry(export, store, mapping=m, dictionary=dd, today=TODAY)
    assert rep.ok, rep.findings.head(10).to_string()
    assert as_redcap(store) == as_redcap(csv_store)


def test_unmapped_codes_are_listed_per_field_with_counts(export, tmp_path):
    sexes = iter(range(1000))

    def bad(r):
        if r["redcap_event_name"] == "baseline_arm_1" and not r["redcap_repeat_instrument"]:
            if next(sexes) < 3:
                r["sex"] = "7"

    ex = edit(export, tmp_path / "export.csv", bad)
    rep = validate_registry(ex, mapping=MAPPING, dictionary=DICTIONARY, today=TODAY)
    summary = rep.errors[rep.errors["row"].isna() & (rep.errors["rule"] == "R020")]
    assert list(summary["column"]) == ["sex"] and list(summary["value"]) == ["7"]
    assert "3 row(s)" in summary["message"].iloc[0] and "'sex'" in summary["message"].iloc[0]
    per_row = rep.errors[rep.errors["row"].notna() & (rep.errors["column"] == "sex")]
    assert len(per_row) == 3 and set(per_row["file"]) == {"export.csv[record]"}


def _dmy(r):
    for k, v in r.items():
        m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", v or "")
        if m:
            r[k] = f"{m[3]}/{m[2]}/{m[1]}"


def test_dmy_export_with_and_without_declared_date_format(export, csv_store, tmp_path):
    ex = edit(export, tmp_path / "export.csv", _dmy)
    rep = validate_registry(ex, mapping=MAPPING, dictionary=DICTIONARY, today=TODAY)
    r012 = rep.errors[rep.errors["rule"] == "R012"]
    assert len(r012) > 100 and r012["message"].str.contains("date_format").all()
    m = mapping_with(tmp_path, '\ndate_format = "YMD"', '\ndate_format = "DMY"')
    store = tmp_path / "s.duckdb"
    rep = import_registry(ex, store, mapping=m, dictionary=DICTIONARY, today=TODAY)
    assert rep.ok, rep.findings.head().to_string()
    assert rep.settings["read"]["export.csv"]["date_format"] == "DMY"
    assert as_redcap(store) == as_redcap(csv_store)


def test_reimport_after_corrections_updates_in_place(export, tmp_path):
    store = tmp_path / "s.duckdb"
    assert import_registry(export, store, mapping=MAPPING, dictionary=DICTIONARY, today=TODAY).ok
    con = open_store(store)
    before = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
        for t in ("toxicities", "responses")
    }
    con.close()
    done = set()

    def correct(r):
        # the first CRS episode one day later; the first response one day later
        for inst, col in (("toxicity", "tox_onset"), ("response", "resp_date")):
            if r["redcap_repeat_instrument"] == inst and inst not in done:
                if inst == "toxicity" and r["tox_type"] != "1":
                    continue
                d = dt.date.fromisoformat(r[col]) + dt.timedelta(days=1)
                r[col] = d.isoformat()
                done.add(inst)

    ex2 = edit(export, tmp_path / "export2.csv", correct)
    rep = import_registry(ex2, store, mapping=MAPPING, dictionary=DICTIONARY, today=TODAY)
    assert rep.ok, rep.errors.head().to_string()
    assert rep.counts["toxicities"]["updated"] == 1 and rep.counts["toxicities"]["inserted"] == 0
    assert rep.counts["responses"]["updated"] == 1 and rep.counts["responses"]["inserted"] == 0
    assert rep.counts["responses"]["missing"] == 0
    con = open_store(store)
    after = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
        for t in ("toxicities", "responses")
    }
    fields = con.execute("SELECT entity, field FROM changes ORDER BY ALL").fetchall()
    con.close()
    assert after == before
    assert fields == [("responses", "assessment_date"), ("toxicities", "onset_date")]


def test_refused_redcap_import_leaves_the_store_byte_for_byte(export, tmp_path):
    store = tmp_path / "s.duckdb"
    assert import_registry(export, store, mapping=MAPPING, dictionary=DICTIONARY, today=TODAY).ok
    before = sha(store)
    ex = edit(export, tmp_path / "bad.csv", lambda r: r.update(dose="lots") if r["dose"] else None)
    rep = import_registry(ex, store, mapping=MAPPING, dictionary=DICTIONARY, today=TODAY)
    assert not rep.ok and set(rep.errors["rule"]) == {"R011"}
    assert set(rep.errors["column"]) == {"dose"} and rep.errors["row"].notna().all()
    assert sha(store) == before
