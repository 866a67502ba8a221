"""Formula injection: text beginning with = + - @ is warned about at import (R065) and written
escaped by every export (CSV, XLSX, the derived table), never as a live formula."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import zipfile
from pathlib import Path

from openpyxl import load_workbook

from cartlens.cli.apps import app
from cartlens.ingest import export_registry, import_registry
from cartlens.study.demo_data import DEMO_REGISTRY_DIR
from cli_runner import RUNNER
from registry_factory import store_tables

TODAY = dt.date(2026, 1, 1)
PAYLOADS = {
    ("patients", "disease_subtype"): '=HYPERLINK("http://example.org","click")',
    ("infusions", "product"): "=cmd|' /C calc'!A0",
    ("therapies", "regimen"): "+1 cycle",
    ("transplants", "conditioning_regimen"): "@SUM(A1:A9)",
    ("relapses", "site"): "-CNS",
}


def poisoned(folder: Path) -> Path:
    shutil.copytree(DEMO_REGISTRY_DIR, folder)
    for (entity, column), text in PAYLOADS.items():
        p = folder / f"{entity}.csv"
        with open(p, newline="") as f:
            rows = list(csv.DictReader(f))
        rows[1][column] = text
        with open(p, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return folder


def test_formula_like_text_is_warned_and_every_export_escapes_it(tmp_path):
    src = poisoned(tmp_path / "src")
    store = tmp_path / "s.duckdb"
    rep = import_registry(src, store, today=TODAY)
    assert rep.ok, rep.errors.head().to_string()
    r063 = rep.warnings[rep.warnings["rule"] == "R065"]
    got = {
        (f, c): (r, v)
        for f, r, c, v in r063[["file", "row", "column", "value"]].itertuples(
            index=False, name=None
        )
    }
    assert got == {(f"{e}.csv", c): (2, t) for (e, c), t in PAYLOADS.items()}
    # CSV export: escaped with an apostrophe; a re-import restores the text exactly
    out = export_registry(store, tmp_path / "out")
    text = (out / "patients.csv").read_text()
    assert "'=HYPERLINK(" in text and ",=HYPERLINK(" not in text.replace('"', "")
    assert "'-CNS" in (out / "relapses.csv").read_text()
    back = tmp_path / "back.duckdb"
    assert import_registry(out, back, today=TODAY).ok
    assert store_tables(back) == store_tables(store)
    # XLSX export: text cells, no formula element anywhere
    xlsx = export_registry(store, tmp_path / "out.xlsx")
    with zipfile.ZipFile(xlsx) as z:
        sheets = [z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any(b"<f>" in s or b"<f " in s for s in sheets)
    wb = load_workbook(xlsx)
    cell = next(
        c
        for row in wb["patients"].iter_rows()
        for c in row
        if c.value == PAYLOADS[("patients", "disease_subtype")]
    )
    assert cell.data_type == "s"
    back2 = tmp_path / "back2.duckdb"
    assert import_registry(xlsx, back2, today=TODAY).ok
    assert store_tables(back2) == store_tables(store)
    # the derived per-infusion table (a CSV users open in a spreadsheet)
    derived = tmp_path / "derived.csv"
    res = RUNNER.invoke(app, ["registry", "derive", str(derived), "--store", str(store)])
    assert res.exit_code == 0, res.output
    assert "'=cmd|" in derived.read_text()
