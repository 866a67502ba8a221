"""The import report: summary first, --json, the full list as CSV beside the store, no
terminal-width cuts, and an early stop with bounded memory on a million-row file."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cartlens.cli.apps import app
from cartlens.ingest import validate_registry
from cartlens.study.demo_data import DEMO_REGISTRY_DIR
from cli_runner import RUNNER

TODAY = dt.date(2026, 1, 1)
SRC = Path(__file__).parents[2] / "src"


def broken(folder: Path) -> Path:
    """The demo registry with 84 bad sexes, 110 bad doses and 5 deaths of unknown patients."""
    shutil.copytree(DEMO_REGISTRY_DIR, folder)
    for name, column, value in (
        ("patients", "sex", "M"),
        ("infusions", "dose_cells_per_kg", "1,5 Mio"),
    ):
        p = folder / f"{name}.csv"
        with open(p, newline="") as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            r[column] = value
        with open(p, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    with open(folder / "deaths.csv", "a") as f:
        for i in range(5):
            f.write(f"GHOST{i},2023-01-01,infection\n")
    return folder


def test_summary_first_counts_and_examples_json_and_csv(tmp_path):
    src = broken(tmp_path / "b")
    store = tmp_path / "s.duckdb"
    res = RUNNER.invoke(app, ["registry", "import", str(src), "--store", str(store), "--json"])
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    by = {(g["rule"], g["column"]): g for g in out["summary"]}
    assert by[("R020", "sex")]["count"] == 84
    assert by[("R011", "dose_cells_per_kg")]["count"] == 110
    assert by[("R030", "patient_id")]["count"] == 5
    assert [x["row"] for x in by[("R020", "sex")]["examples"]] == [1, 2, 3]
    assert out["summary"][0]["count"] == 110  # errors, most frequent first
    assert out["n_errors"] == sum(g["count"] for g in out["summary"] if g["severity"] == "error")
    assert out["n_not_listed"] == 0 and not out["stopped_early"]
    # the complete list beside the store (the store itself was not created)
    full = Path(str(store) + ".findings.csv")
    with open(full, newline="") as f:
        assert len(list(csv.DictReader(f))) == out["n_errors"] + out["n_warnings"]
    assert not store.exists()
    # as text to a pipe: the summary comes first and nothing is cut to 80 columns
    res = RUNNER.invoke(app, ["registry", "validate", str(src)])
    text = res.stdout
    assert text.index("findings by rule and column") < text.index("details:")
    assert "patient 'GHOST0' is not in patients" in text and "…" not in text
    assert max(len(line) for line in text.splitlines()) > 80
    assert "... 149 more listed in" in text


def test_early_stop_lists_at_most_max_errors_and_counts_the_rest(tmp_path):
    src = broken(tmp_path / "b")
    rep = validate_registry(src, today=TODAY, max_errors=20)
    assert rep.stopped_early and len(rep.errors) == 20
    assert rep.n_errors == 84 + 110  # counted, not listed
    assert rep.n_not_listed == rep.n_errors + rep.n_warnings - len(rep.findings)
    assert "R030" not in {g["rule"] for g in rep.summary}  # the cross rules did not run
    full = validate_registry(src, today=TODAY)
    assert not full.stopped_early and full.n_errors == 84 + 110 + 5


def test_a_million_junk_rows_stop_early_in_bounded_memory(tmp_path):
    src = tmp_path / "junk"
    shutil.copytree(DEMO_REGISTRY_DIR, src)
    header = (DEMO_REGISTRY_DIR / "patients.csv").read_text().splitlines()[0]
    n = 1_000_000
    with open(src / "patients.csv", "w") as f:
        f.write(header + "\n")
        junk = ",x?,19x9,abc,2019-13-45,B-ALL!,,risky,maybe,no?,1?,,three,0.5,2019/01/01,,zombie\n"
        for start in range(0, n, 100_000):
            f.write("".join(f"J{i}{junk}" for i in range(start, start + 100_000)))
    code = (
        "import resource, sys\n"
        f"sys.path.insert(0, {str(SRC)!r})\n"
        "from cartlens.cli.main import main\n"
        "sys.argv = ['cartlens', 'registry', 'validate', sys.argv[1], '--json']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(src)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["stopped_early"] and len(out["findings"]) <= 2000
    assert sum(1 for f in out["findings"] if f["severity"] == "error") == 1000
    assert out["n_errors"] > 5 * n  # every bad cell counted
    assert out["n_not_listed"] == out["n_errors"] + out["n_warnings"] - len(out["findings"])
    peak_kb = int(proc.stderr.split("PEAK_KB")[1].split()[0])
    assert peak_kb < 1024 * 1024, f"peak RSS {peak_kb / 1024:.0f} MB"
    print(f"peak RSS {peak_kb / 1024:.0f} MB")
