"""Readers: CSV folder (R000 cases), Excel workbook, REDCap export + dictionary + mapping, and
fuzzing: arbitrary bytes or cells never give a traceback, only InputError or findings."""

from __future__ import annotations

import datetime as dt
import shutil
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartlens.errors import InputError
from cartlens.ingest import import_registry, open_store, read_source, validate_registry
from cartlens.ingest.readers import parse_choices
from registry_factory import TODAY, base_registry, write_folder

REDCAP = Path(__file__).parents[1] / "data" / "redcap"


def rules_at(rep, rule):
    f = rep.findings
    return f[f["rule"] == rule]


# ---- CSV folder ------------------------------------------------------------------------------


def test_duplicate_header_is_r000(tmp_path):
    folder = write_folder(tmp_path / "r", base_registry())
    p = folder / "therapies.csv"
    p.write_text("patient_id,patient_id,start_date\nP1,P1,2020-04-20\n")
    rep = validate_registry(folder, today=TODAY)
    hit = rules_at(rep, "R000")
    assert list(hit["file"]) == ["therapies.csv"] and "duplicate" in hit["message"].iloc[0]
    assert not rep.ok


def test_ragged_row_is_r000(tmp_path):
    folder = write_folder(tmp_path / "r", base_registry())
    with open(folder / "therapies.csv", "a") as f:
        f.write("P1,2020-05-01,chemotherapy,extra,cells\n")
    rep = validate_registry(folder, today=TODAY)
    assert list(rules_at(rep, "R000")["file"]) == ["therapies.csv"]


def test_not_utf8_is_r000(tmp_path):
    folder = write_folder(tmp_path / "r", base_registry())
    (folder / "therapies.csv").write_bytes(b"patient_id,start_date,therapy_type\nP1,\xff\xfe,x\n")
    rep = validate_registry(folder, today=TODAY)
    assert "therapies.csv" in set(rules_at(rep, "R000")["file"])


def test_unknown_file_is_reported_and_bom_and_blanks_accepted(tmp_path):
    folder = write_folder(tmp_path / "r", base_registry())
    (folder / "notes.csv").write_text("a\n1\n")
    p = folder / "deaths.csv"
    text = p.read_text().replace("P1,", " P1 ,")
    p.write_bytes(b"\xef\xbb\xbf" + text.encode())
    rep = validate_registry(folder, today=TODAY)
    assert list(rep.findings["rule"]) == ["R003"]
    assert rep.ok


def test_missing_source_raises_input_error(tmp_path):
    with pytest.raises(InputError):
        read_source(tmp_path / "nowhere")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError):
        read_source(tmp_path / "x.txt")


# ---- Excel -----------------------------------------------------------------------------------


def _workbook(path: Path, registry: dict) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in registry.items():
        ws = wb.create_sheet(name)
        cols = list(dict.fromkeys(c for r in rows for c in r))
        ws.append(cols)
        for r in rows:
            vals = []
            for c in cols:
                v = r.get(c, "")
                # typed cells as a spreadsheet user would enter them
                if c.endswith("_date") and v:
                    v = dt.datetime.fromisoformat(v)
                elif c in ("infusion_number", "course_number", "grade") and v:
                    v = int(v)
                elif c == "dose_cells_per_kg" and v:
                    v = float(v)
                vals.append(None if v == "" else v)
            ws.append(vals)
    ws = wb.create_sheet("notes")
    ws.append(["free text"])
    wb.save(path)
    return path


def test_excel_workbook_imports_like_csv(tmp_path):
    xlsx = _workbook(tmp_path / "reg.xlsx", base_registry())
    rep = import_registry(xlsx, tmp_path / "x.duckdb", today=TODAY)
    assert rep.ok, rep.findings.to_string()
    assert list(rep.findings["rule"]) == ["R003"]  # the 'notes' sheet
    csv = import_registry(
        write_folder(tmp_path / "c", base_registry()), tmp_path / "c.duckdb", today=TODAY
    )
    for t in ("patients", "infusions", "toxicities"):
        a = open_store(tmp_path / "x.duckdb")
        b = open_store(tmp_path / "c.duckdb")
        q = f"SELECT * EXCLUDE (_import_id) FROM {t} ORDER BY ALL"
        assert a.execute(q).fetchall() == b.execute(q).fetchall()
        a.close()
        b.close()
    assert csv.ok


def test_excel_findings_name_sheet_and_row(tmp_path):
    reg = base_registry()
    reg["patients"][1]["sex"] = "F"
    rep = validate_registry(_workbook(tmp_path / "reg.xlsx", reg), today=TODAY)
    hit = rules_at(rep, "R020")
    assert list(hit["file"]) == ["reg.xlsx:patients"] and list(hit["row"]) == [2]


def test_corrupt_workbook_is_an_r000_finding(tmp_path):
    p = tmp_path / "bad.xlsx"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    rep = validate_registry(p, today=TODAY)
    assert not rep.ok
    assert list(rep.errors[["file", "rule"]].itertuples(index=False, name=None)) == [
        ("bad.xlsx", "R000")
    ]
    assert "not a readable Excel workbook" in rep.errors["message"].iloc[0]


# ---- REDCap ----------------------------------------------------------------------------------


def test_parse_choices():
    assert parse_choices("1, Male | 2, Female, other") == {"1": "Male", "2": "Female, other"}
    assert parse_choices(None) == {}


def test_redcap_export_through_mapping(tmp_path):
    rep = import_registry(
        REDCAP / "export.csv",
        tmp_path / "r.duckdb",
        mapping=REDCAP / "mapping.toml",
        dictionary=REDCAP / "dictionary.csv",
        today=TODAY,
    )
    assert rep.ok, rep.findings.to_string()
    # the CRS episode of R001 is recorded grade 2 but has one vasopressor: ASTCT grade 3
    warn = rules_at(rep, "R060")
    assert list(warn["row"]) == [6] and warn["file"].iloc[0] == "export.csv[toxicity]"
    con = open_store(tmp_path / "r.duckdb")
    pts = con.execute(
        "SELECT patient_id, sex, disease, last_contact_status FROM patients ORDER BY 1"
    ).fetchall()
    inf = con.execute(
        "SELECT infusion_id, infusion_number, course_number, target_antigen, reinfusion_reason "
        "FROM infusions ORDER BY 1"
    ).fetchall()
    tox = con.execute(
        "SELECT infusion_id, toxicity, tocilizumab, astct_grade FROM toxicities ORDER BY 1, 2"
    ).fetchall()
    resp = con.execute("SELECT infusion_id, status, mrd_negative FROM responses ORDER BY 1")
    resp = resp.fetchall()
    deaths = con.execute("SELECT patient_id, cause FROM deaths").fetchall()
    con.close()
    assert pts == [("R001", "female", "B-ALL", "dead"), ("R002", "male", "B-ALL", "alive")]
    assert inf == [
        ("R001-I1", 1, 1, "CD19", None),
        ("R001-I2", 2, 2, "CD19", "cd19_positive_relapse"),
        ("R002-I1", 1, 1, "CD19+CD22", None),
    ]
    assert tox == [
        ("R001-I1", "CRS", True, 3),
        ("R001-I1", "ICANS", False, 1),
        ("R002-I1", "CRS", False, 1),
    ]
    assert resp == [("R001-I1", "CR", True), ("R001-I2", "NR", None), ("R002-I1", "CRi", False)]
    assert deaths == [("R001", "relapse_or_progression")]


def test_redcap_findings_name_redcap_field(tmp_path):
    text = (REDCAP / "export.csv").read_text().replace("2019-05-02", "02.05.2019")
    (tmp_path / "export.csv").write_text(text)
    rep = validate_registry(
        tmp_path / "export.csv",
        mapping=REDCAP / "mapping.toml",
        dictionary=REDCAP / "dictionary.csv",
        today=TODAY,
    )
    hit = rules_at(rep, "R012")
    assert list(hit["column"]) == ["dx_date"] and list(hit["row"]) == [1]


def test_bad_mapping_is_input_error(tmp_path):
    m = tomllib.loads((REDCAP / "mapping.toml").read_text())
    bad = (REDCAP / "mapping.toml").read_text().replace('sex = "sex"', 'sex = "gender"')
    (tmp_path / "m.toml").write_text(bad)
    with pytest.raises(InputError, match="gender"):
        read_source(REDCAP / "export.csv", mapping=tmp_path / "m.toml")
    (tmp_path / "m2.toml").write_text("[entities.people]\nfields = {}\n")
    with pytest.raises(InputError, match="people"):
        read_source(REDCAP / "export.csv", mapping=tmp_path / "m2.toml")
    (tmp_path / "m3.toml").write_text("not = toml = at all")
    with pytest.raises(InputError, match="TOML"):
        read_source(REDCAP / "export.csv", mapping=tmp_path / "m3.toml")
    assert "patients" in m["entities"]


# ---- fuzzing ---------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(data=st.binary(max_size=300))
def test_fuzz_random_bytes_in_csv(tmp_path_factory, data):
    folder = write_folder(tmp_path_factory.mktemp("f"), base_registry())
    (folder / "infusions.csv").write_bytes(data)
    try:
        rep = validate_registry(folder, today=TODAY)
    except InputError:
        return
    assert not rep.ok  # infusions are required: random bytes cannot make a valid file


cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@FUZZ
@given(values=st.lists(cells, min_size=6, max_size=6), col=st.integers(0, 5))
def test_fuzz_random_cells(tmp_path_factory, values, col):
    reg = base_registry()
    keys = [
        "infusion_date",
        "dose_cells_per_kg",
        "course_number",
        "target_antigen",
        "marrow_blasts_pct",
        "infusion_id",
    ]
    for k, v in zip(keys, values):
        reg["infusions"][2][k] = v
    reg["patients"][col % 2]["birth_year"] = values[col]
    folder = write_folder(tmp_path_factory.mktemp("c"), reg)
    rep = import_registry(folder, None, today=TODAY)
    assert set(rep.findings["severity"]) <= {"error", "warning"}
    assert rep.findings["rule"].notna().all()


@FUZZ
@given(data=st.binary(max_size=200))
def test_fuzz_random_bytes_as_workbook_and_redcap(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("x")
    (d / "r.xlsx").write_bytes(data)
    try:
        validate_registry(d / "r.xlsx", today=TODAY)
    except InputError:
        pass
    (d / "export.csv").write_bytes(data)
    shutil.copy(REDCAP / "mapping.toml", d / "m.toml")
    try:
        validate_registry(d / "export.csv", mapping=d / "m.toml", today=TODAY)
    except InputError:
        pass
