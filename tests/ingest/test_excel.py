"""Excel workbooks: percent cells, formula cells without a saved value, date serials and
corrupt workbooks, each built at test time from the demo registry."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.utils.datetime import to_excel

from cartlens.cli.apps import app
from cartlens.ingest import import_registry, validate_registry
from cartlens.study.demo_data import DEMO_REGISTRY_DIR
from cli_runner import RUNNER
from registry_factory import demo_store_at, sha, store_tables

TODAY = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    return demo_store_at(tmp_path_factory.mktemp("demo") / "demo.duckdb", TODAY)


def workbook(path: Path, cell=None) -> Path:
    """The demo registry as a workbook of text cells; ``cell(sheet, column, text, openpyxl
    cell)`` may retype a cell."""
    wb = Workbook()
    wb.remove(wb.active)
    for src in sorted(DEMO_REGISTRY_DIR.glob("*.csv")):
        ws = wb.create_sheet(src.stem)
        with open(src, newline="") as f:
            rows = list(csv.reader(f))
        ws.append(rows[0])
        for r, values in enumerate(rows[1:], start=2):
            for c, (name, text) in enumerate(zip(rows[0], values), start=1):
                if text == "":
                    continue
                target = ws.cell(row=r, column=c, value=text)
                if cell:
                    cell(src.stem, name, text, target)
    wb.save(path)
    return path


def test_percent_cells_are_read_as_shown(tmp_path, demo_store):
    def percent(sheet, name, text, c):
        if sheet == "infusions" and name == "marrow_blasts_pct":
            c.value = float(text) / 100
            c.number_format = "0.0%"

    xlsx = workbook(tmp_path / "p.xlsx", percent)
    store = tmp_path / "s.duckdb"
    rep = import_registry(xlsx, store, today=TODAY)
    assert rep.ok, rep.errors.head().to_string()
    r004 = rep.warnings[rep.warnings["rule"] == "R004"]
    assert list(r004[["file", "column", "row"]].itertuples(index=False, name=None)) == [
        ("p.xlsx:infusions", "marrow_blasts_pct", 1)
    ]
    assert "percentage shown" in r004["message"].iloc[0]
    assert store_tables(store) == store_tables(demo_store)


def test_date_serials_in_date_fields_are_dates(tmp_path, demo_store):
    def serial(sheet, name, text, c):
        if sheet == "patients" and name == "diagnosis_date":
            c.value = int(to_excel(dt.date.fromisoformat(text)))

    store = tmp_path / "s.duckdb"
    rep = import_registry(workbook(tmp_path / "d.xlsx", serial), store, today=TODAY)
    assert rep.ok, rep.errors.head().to_string()
    r004 = rep.warnings[rep.warnings["rule"] == "R004"]
    assert list(r004["column"]) == ["diagnosis_date"] and "84 cell(s)" in r004["message"].iloc[0]
    assert store_tables(store) == store_tables(demo_store)


def test_formula_without_saved_value_is_an_error(tmp_path, demo_store):
    store = tmp_path / "s.duckdb"
    assert import_registry(DEMO_REGISTRY_DIR, store, today=TODAY).ok
    before = sha(store)

    def formula(sheet, name, text, c):
        if sheet == "infusions" and name == "dose_cells_per_kg" and c.row == 4:
            c.value = "=2*5E5"  # openpyxl saves no computed value

    rep = import_registry(workbook(tmp_path / "f.xlsx", formula), store, today=TODAY)
    assert not rep.ok
    r005 = rep.errors[rep.errors["rule"] == "R005"]
    assert list(r005[["file", "row", "column", "value"]].itertuples(index=False, name=None)) == [
        ("f.xlsx:infusions", 3, "dose_cells_per_kg", "=2*5E5")
    ]
    assert sha(store) == before


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_workbook_is_a_finding_and_exit_1(tmp_path, damage):
    good = workbook(tmp_path / "g.xlsx").read_bytes()
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(
        {"truncate": good[: len(good) // 2], "garbage": b"PK\x03\x04" + b"\x00" * 99, "empty": b""}[
            damage
        ]
    )
    rep = validate_registry(bad, today=TODAY)
    assert list(rep.errors["rule"]) == ["R000"] and list(rep.errors["file"]) == ["bad.xlsx"]
    res = RUNNER.invoke(app, ["registry", "validate", str(bad)])
    assert res.exit_code == 1 and "R000" in res.output
