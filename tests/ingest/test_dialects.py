"""CSV dialects: separators and decimal marks detected or declared and stated in the report,
encodings declared, and structural errors that name the data row and the column."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest

from cartlens.cli.apps import app
from cartlens.errors import InputError
from cartlens.ingest import import_registry, open_store, validate_registry
from cartlens.model.schema import ENTITY_BY_NAME
from cartlens.study.demo_data import DEMO_REGISTRY_DIR
from cli_runner import RUNNER
from registry_factory import demo_store_at, store_tables

TODAY = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    return demo_store_at(tmp_path_factory.mktemp("demo") / "demo.duckdb", TODAY)


def rewrite(dst: Path, *, delimiter=",", decimal=".", encoding="utf-8", edit=None) -> Path:
    """The demo registry written with another dialect (``edit(entity, rows)`` may change it)."""
    dst.mkdir(parents=True, exist_ok=True)
    for src in DEMO_REGISTRY_DIR.glob("*.csv"):
        with open(src, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        numbers = {
            i for i, h in enumerate(rows[0]) if ENTITY_BY_NAME[src.stem].field(h).kind == "number"
        }
        if decimal == ",":
            rows = [rows[0]] + [
                [c.replace(".", ",") if i in numbers else c for i, c in enumerate(r)]
                for r in rows[1:]
            ]
        if edit:
            edit(src.stem, rows)
        with open(dst / src.name, "w", newline="", encoding=encoding) as f:
            csv.writer(f, delimiter=delimiter).writerows(rows)
    return dst


def test_european_excel_export_is_detected(tmp_path, demo_store):
    src = rewrite(tmp_path / "eu", delimiter=";", decimal=",")
    assert ";" in (src / "infusions.csv").read_text().splitlines()[1]
    assert "34,4" in (src / "infusions.csv").read_text()  # a decimal comma
    store = tmp_path / "s.duckdb"
    rep = import_registry(src, store, today=TODAY)
    assert rep.ok, rep.findings.head().to_string()
    read = rep.settings["read"]["infusions.csv"]
    assert read == {"delimiter": ";", "decimal": ",", "encoding": "utf-8", "declared": []}
    assert store_tables(store) == store_tables(demo_store)


@pytest.mark.parametrize("delimiter", ["\t", "|"])
def test_other_separators_are_detected(tmp_path, demo_store, delimiter):
    src = rewrite(tmp_path / "x", delimiter=delimiter)
    store = tmp_path / "s.duckdb"
    rep = import_registry(src, store, today=TODAY)
    assert rep.ok and rep.settings["read"]["patients.csv"]["delimiter"] == delimiter
    assert store_tables(store) == store_tables(demo_store)


def test_declared_dialect_and_encoding_on_the_command_line(tmp_path, demo_store):
    def accent(entity, rows):
        if entity == "patients":
            rows[1][rows[0].index("disease_subtype")] = "Ph-like, réarrangé"

    src = rewrite(tmp_path / "l1", delimiter=";", decimal=",", encoding="latin-1", edit=accent)
    # undeclared: the file is not UTF-8: the finding names the data row and the column
    rep = validate_registry(src, today=TODAY)
    r000 = rep.errors[rep.errors["rule"] == "R000"]
    assert list(r000[["file", "row", "column"]].itertuples(index=False, name=None)) == [
        ("patients.csv", 1, "disease_subtype")
    ]
    assert "--encoding" in r000["message"].iloc[0]
    store = tmp_path / "s.duckdb"
    res = RUNNER.invoke(
        app,
        [
            "registry",
            "import",
            str(src),
            "--store",
            str(store),
            "--delimiter",
            ";",
            "--decimal",
            ",",
            "--encoding",
            "latin-1",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    con = open_store(store)
    subtype = con.execute(
        "SELECT disease_subtype FROM patients ORDER BY patient_id LIMIT 1"
    ).fetchall()[0][0]
    con.close()
    assert subtype == "Ph-like, réarrangé"
    assert '"encoding": "iso8859-1"' in res.output and '"declared": [' in res.output


def test_declared_separator_that_makes_one_column_is_refused(tmp_path):
    src = rewrite(tmp_path / "c")
    rep = validate_registry(src, today=TODAY, delimiter=";")
    r000 = rep.errors[rep.errors["rule"] == "R000"]
    assert set(r000["file"]) == {p.name for p in DEMO_REGISTRY_DIR.glob("*.csv")}
    assert "one column with the declared separator ';'" in r000["message"].iloc[0]
    assert "R002" not in set(rep.errors["rule"])  # not read as a single column


@pytest.mark.parametrize(
    ("damage", "row", "column", "text"),
    [
        (lambda lines: lines.insert(3, lines[3] + ",extra"), 3, None, "has 18 fields"),
        (
            lambda lines: lines.__setitem__(5, lines[5].rsplit(",", 3)[0]),
            5,
            "extramedullary_disease",
            "first missing",
        ),
        (
            lambda lines: lines.__setitem__(6, lines[6].replace(",SYN", ',"SYN', 1)),
            6,
            "patient_id",
            "unbalanced quote",
        ),
    ],
)
def test_structural_errors_name_data_row_and_column(tmp_path, damage, row, column, text):
    src = tmp_path / "r"
    shutil.copytree(DEMO_REGISTRY_DIR, src)
    p = src / "infusions.csv"
    lines = p.read_text().splitlines()
    damage(lines)
    p.write_text("\n".join(lines) + "\n")
    rep = validate_registry(src, today=TODAY)
    r000 = rep.errors[rep.errors["rule"] == "R000"]
    assert len(r000) == 1, rep.errors.to_string()
    f = r000.iloc[0]
    assert (f["file"], f["row"]) == ("infusions.csv", row)
    assert (f["column"] if isinstance(f["column"], str) else None) == column
    assert text in f["message"]


def test_bad_dialect_options_are_input_errors(tmp_path):
    for kw, match in (
        ({"delimiter": "::"}, "not a field separator"),
        ({"decimal": ";"}, "decimal mark"),
        ({"encoding": "klingon"}, "unknown text encoding"),
        ({"delimiter": ",", "decimal": ","}, "decimal comma"),
    ):
        with pytest.raises(InputError, match=match):
            validate_registry(DEMO_REGISTRY_DIR, today=TODAY, **kw)
