"""Dozens of broken copies of the demo registry, built at test time, imported into a store
holding the demo registry: each is refused with file, row, column and rule (and the store is
byte-for-byte unchanged), or accepted as docs/data-model.md documents."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest

from cartlens.ingest import import_registry
from cartlens.study.demo_data import DEMO_REGISTRY_DIR
from registry_factory import demo_store_at, sha

TODAY = dt.date(2026, 1, 1)


def _rows(folder: Path, entity: str) -> list[dict]:
    with open(folder / f"{entity}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write(folder: Path, entity: str, rows: list[dict], fields=None) -> None:
    with open(folder / f"{entity}.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields or list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def setv(entity, index, **values):
    def m(folder):
        rows = _rows(folder, entity)
        rows[index].update(values)
        _write(folder, entity, rows)

    return m


def lines(entity, fn):
    def m(folder):
        p = folder / f"{entity}.csv"
        text = p.read_bytes().decode("utf-8").splitlines()
        p.write_bytes(fn(text))

    return m


def drop_column(entity, column):
    def m(folder):
        rows = _rows(folder, entity)
        for r in rows:
            del r[column]
        _write(folder, entity, rows)

    return m


def only(*entities, then=None):
    """A partial export: only these entity files (then ``then``)."""

    def m(folder):
        for p in folder.glob("*.csv"):
            if p.stem not in entities:
                p.unlink()
        if then:
            then(folder)

    return m


def both(*ms):
    def m(folder):
        for f in ms:
            f(folder)

    return m


def append(entity, **values):
    def m(folder):
        rows = _rows(folder, entity)
        rows.append({**{k: "" for k in rows[0]}, **values})
        _write(folder, entity, rows)

    return m


def duplicate(entity, index):
    def m(folder):
        rows = _rows(folder, entity)
        rows.insert(index + 1, dict(rows[index]))
        _write(folder, entity, rows)

    return m


def delete(entity, index):
    def m(folder):
        rows = _rows(folder, entity)
        del rows[index]
        _write(folder, entity, rows)

    return m


def enc(text: list[str]) -> bytes:
    return ("\n".join(text) + "\n").encode("utf-8")


# (id, mutation, file, data row, column, rule) - refused
REFUSED = [
    ("sex-code", setv("patients", 2, sex="F"), "patients.csv", 3, "sex", "R020"),
    (
        "birth-year-text",
        setv("patients", 0, birth_year="19x0"),
        "patients.csv",
        1,
        "birth_year",
        "R010",
    ),
    (
        "age-impossible",
        setv("patients", 1, age_at_diagnosis="150"),
        "patients.csv",
        2,
        "age_at_diagnosis",
        "R021",
    ),
    (
        "date-invalid",
        setv("patients", 0, diagnosis_date="2019-02-30"),
        "patients.csv",
        1,
        "diagnosis_date",
        "R012",
    ),
    (
        "date-dmy",
        setv("patients", 0, diagnosis_date="28/02/2019"),
        "patients.csv",
        1,
        "diagnosis_date",
        "R012",
    ),
    (
        "boolean-maybe",
        setv("patients", 3, ph_positive="maybe"),
        "patients.csv",
        4,
        "ph_positive",
        "R013",
    ),
    (
        "id-space",
        setv("patients", 4, patient_id="SYN 005"),
        "patients.csv",
        5,
        "patient_id",
        "R014",
    ),
    ("required-empty", setv("patients", 5, disease=""), "patients.csv", 6, "disease", "R001"),
    (
        "dose-negative",
        setv("infusions", 0, dose_cells_per_kg="-5"),
        "infusions.csv",
        1,
        "dose_cells_per_kg",
        "R021",
    ),
    (
        "dose-text",
        setv("infusions", 1, dose_cells_per_kg="1 Mio"),
        "infusions.csv",
        2,
        "dose_cells_per_kg",
        "R011",
    ),
    (
        "blasts-over-100",
        setv("infusions", 2, marrow_blasts_pct="344"),
        "infusions.csv",
        3,
        "marrow_blasts_pct",
        "R021",
    ),
    (
        "future-infusion",
        setv("infusions", 0, infusion_date="2099-01-01"),
        "infusions.csv",
        1,
        "infusion_date",
        "R044",
    ),
    (
        "course-3-first",
        setv("infusions", 0, course_number="3"),
        "infusions.csv",
        1,
        "course_number",
        "R046",
    ),
    (
        "infusion-unknown-patient",
        setv("infusions", 0, patient_id="NOBODY"),
        "infusions.csv",
        1,
        "patient_id",
        "R030",
    ),
    (
        "response-before-infusion",
        setv("responses", 0, assessment_date="2022-10-01"),
        "responses.csv",
        1,
        "assessment_date",
        "R041",
    ),
    ("response-status", setv("responses", 1, status="CR?"), "responses.csv", 2, "status", "R020"),
    (
        "response-other-patients-infusion",
        setv("responses", 0, infusion_id="SYN002-I1"),
        "responses.csv",
        1,
        "infusion_id",
        "R031",
    ),
    ("toxicity-grade-7", setv("toxicities", 0, grade="7"), "toxicities.csv", 1, "grade", "R021"),
    (
        "toxicity-resolves-before-onset",
        setv("toxicities", 0, resolution_date="2022-10-01"),
        "toxicities.csv",
        1,
        "resolution_date",
        "R045",
    ),
    (
        "toxicity-legacy-without-scale",
        setv("toxicities", 1, legacy_grade="2"),
        "toxicities.csv",
        2,
        "legacy_grade",
        "R061",
    ),
    (
        "toxicity-duplicate",
        duplicate("toxicities", 0),
        "toxicities.csv",
        2,
        "infusion_id,toxicity,onset_date",
        "R032",
    ),
    (
        "death-before-diagnosis",
        setv("deaths", 0, death_date="2020-01-01"),
        "deaths.csv",
        1,
        "death_date",
        "R040",
    ),
    (
        "death-unknown-patient",
        append("deaths", patient_id="GHOST", death_date="2023-01-01"),
        "deaths.csv",
        52,
        "patient_id",
        "R030",
    ),
    (
        "relapse-after-death",
        setv("relapses", 2, relapse_date="2025-12-01"),
        "relapses.csv",
        3,
        "relapse_date",
        "R042",
    ),
    (
        "last-contact-before-relapse",
        setv("patients", 0, last_contact_date="2023-01-10"),
        "patients.csv",
        1,
        "last_contact_date",
        "R043",
    ),
    (
        "status-dead-without-death",
        setv("patients", 0, last_contact_status="dead"),
        "patients.csv",
        1,
        "last_contact_status",
        "R047",
    ),
    (
        "missing-required-column",
        drop_column("patients", "sex"),
        "patients.csv",
        None,
        "sex",
        "R002",
    ),
    (
        "too-many-fields",
        lines("infusions", lambda t: enc(t[:3] + [t[3] + ",x"] + t[4:])),
        "infusions.csv",
        3,
        None,
        "R000",
    ),
    (
        "too-few-fields",
        lines("infusions", lambda t: enc(t[:5] + [t[5].rsplit(",", 3)[0]] + t[6:])),
        "infusions.csv",
        5,
        "extramedullary_disease",
        "R000",
    ),
    (
        "unbalanced-quote",
        lines("infusions", lambda t: enc(t[:6] + [t[6].replace(",SYN", ',"SYN', 1)] + t[7:])),
        "infusions.csv",
        6,
        "patient_id",
        "R000",
    ),
    (
        "latin-1-byte",
        lines(
            "patients", lambda t: enc(t).replace(b"B-ALL,,adverse", b"B-ALL,r\xe9arr,adverse", 1)
        ),
        "patients.csv",
        1,
        "disease_subtype",
        "R000",
    ),
    # against the stored demo registry (merged-store rules)
    (
        "partial-earlier-death",
        only(
            "patients",
            "infusions",
            "deaths",
            then=both(
                setv("deaths", 0, death_date="2022-12-01"),
                setv("patients", 1, last_contact_date="2022-12-01"),
                lambda f: _write(
                    f,
                    "infusions",
                    [r for r in _rows(f, "infusions") if r["infusion_id"] != "SYN002-I2"],
                ),
            ),
        ),
        "deaths.csv",
        1,
        "assessment_date",
        "R042",
    ),
    (
        "partial-renumbered-infusion",
        only(
            "patients", "infusions", "deaths", then=setv("infusions", 2, infusion_id="SYN002-I2b")
        ),
        "infusions.csv",
        3,
        "infusion_number",
        "R046",
    ),
]

# (id, mutation, check(report)) - accepted as documented
ACCEPTED = [
    (
        "same-data-semicolon-decimal-comma",
        lines(
            "infusions",
            lambda t: enc(
                [
                    ";".join(
                        c.replace(".", ",") if c.replace(".", "").isdigit() else c
                        for c in line.split(",")
                    )
                    for line in t
                ]
            ),
        ),
        lambda r: (
            r.counts["infusions"]["unchanged"] == 110
            and r.settings["read"]["infusions.csv"]["decimal"] == ","
        ),
    ),
    (
        "same-data-bom-crlf",
        lines("patients", lambda t: b"\xef\xbb\xbf" + "\r\n".join(t).encode() + b"\r\n"),
        lambda r: r.counts["patients"]["unchanged"] == 84,
    ),
    (
        "same-data-columns-reordered",
        lambda f: _write(f, "deaths", _rows(f, "deaths"), ["cause", "death_date", "patient_id"]),
        lambda r: r.counts["deaths"]["unchanged"] == 51,
    ),
    (
        "same-data-blanks-around",
        lines("deaths", lambda t: enc([t[0]] + [" " + x.replace(",", " , ") for x in t[1:]])),
        lambda r: r.counts["deaths"]["unchanged"] == 51,
    ),
    (
        "same-data-yes-no-booleans",
        lambda f: _write(
            f,
            "patients",
            [
                {**r, "ph_positive": {"true": "Yes", "false": "no"}[r["ph_positive"]]}
                for r in _rows(f, "patients")
            ],
        ),
        lambda r: r.counts["patients"]["unchanged"] == 84,
    ),
    (
        "same-data-integer-as-3.0",
        setv("patients", 0, prior_therapy_lines="5.0"),
        lambda r: r.counts["patients"]["unchanged"] == 84,
    ),
    (
        "unknown-column",
        lambda f: _write(f, "relapses", [{**r, "notes": "x"} for r in _rows(f, "relapses")]),
        lambda r: "R003" in set(r.warnings["rule"]) and r.counts["relapses"]["unchanged"] == 84,
    ),
    (
        "unknown-file",
        lambda f: (f / "notes.csv").write_text("a\n1\n"),
        lambda r: list(r.warnings[r.warnings["rule"] == "R003"]["file"]) == ["notes.csv"],
    ),
    (
        "formula-text",
        setv("patients", 0, disease_subtype='=HYPERLINK("http://x","y")'),
        lambda r: (
            list(r.warnings[r.warnings["rule"] == "R065"]["row"]) == [1]
            and r.counts["patients"]["updated"] == 1
        ),
    ),
    (
        "corrected-onset-date",
        setv("toxicities", 0, onset_date="2022-10-25"),
        lambda r: (
            r.counts["toxicities"]["updated"] == 1 and r.counts["toxicities"]["inserted"] == 0
        ),
    ),
    (
        "corrected-last-contact",
        setv("patients", 0, last_contact_date="2023-04-01"),
        lambda r: r.counts["patients"]["updated"] == 1,
    ),
    (
        "row-gone-from-full-export",
        delete("responses", 0),
        lambda r: (
            r.counts["responses"]["missing"] == 1
            and r.counts["responses"]["deleted"] == 0
            and list(r.warnings[r.warnings["rule"] == "R070"]["file"]) == ["responses.csv"]
        ),
    ),
    (
        "new-patient",
        both(
            append(
                "patients",
                patient_id="NEW1",
                sex="female",
                age_at_diagnosis="40",
                diagnosis_date="2021-01-01",
                disease="B-ALL",
                last_contact_date="2023-01-01",
                last_contact_status="alive",
            ),
            append(
                "infusions",
                infusion_id="NEW1-I1",
                patient_id="NEW1",
                infusion_date="2022-01-01",
                infusion_number="1",
                course_number="1",
                target_antigen="CD19",
            ),
        ),
        lambda r: r.counts["patients"]["inserted"] == 1 and r.counts["infusions"]["inserted"] == 1,
    ),
]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    return demo_store_at(tmp_path_factory.mktemp("demo") / "demo.duckdb", TODAY)


def _setup(tmp_path, demo_store, mutate):
    src = tmp_path / "src"
    shutil.copytree(DEMO_REGISTRY_DIR, src, ignore=shutil.ignore_patterns("*.md"))
    mutate(src)
    store = tmp_path / "store.duckdb"
    shutil.copy(demo_store, store)
    return src, store


@pytest.mark.parametrize(
    ("mutate", "file", "row", "column", "rule"), [pytest.param(*c[1:], id=c[0]) for c in REFUSED]
)
def test_refused_with_file_row_column_rule_and_store_unchanged(
    tmp_path, demo_store, mutate, file, row, column, rule
):
    src, store = _setup(tmp_path, demo_store, mutate)
    before = sha(store)
    rep = import_registry(src, store, today=TODAY)
    assert not rep.ok and rep.outcome == "rejected"
    e = rep.errors
    hit = e[(e["file"] == file) & (e["rule"] == rule)]
    hit = hit[hit["row"].isna()] if row is None else hit[hit["row"] == row]
    if column is not None:
        hit = hit[hit["column"] == column]
    assert len(hit) >= 1, e.head(20).to_string()
    assert (hit["message"].str.len() > 10).all()
    assert sha(store) == before
    assert not any("importing" in p.name or p.name.endswith(".lock") for p in tmp_path.iterdir())


@pytest.mark.parametrize(("mutate", "check"), [pytest.param(*c[1:], id=c[0]) for c in ACCEPTED])
def test_accepted_as_documented(tmp_path, demo_store, mutate, check):
    src, store = _setup(tmp_path, demo_store, mutate)
    rep = import_registry(src, store, today=TODAY)
    assert rep.ok, rep.errors.head(10).to_string()
    assert check(rep), rep.counts


def test_merge_conflict_names_the_stored_row(tmp_path, demo_store):
    mutate = dict((c[0], c[1]) for c in REFUSED)["partial-earlier-death"]
    src, store = _setup(tmp_path, demo_store, mutate)
    rep = import_registry(src, store, today=TODAY)
    msgs = " ".join(rep.errors["message"])
    assert "stored responses row (infusion_id=SYN002-I1" in msgs and "import 1" in msgs
