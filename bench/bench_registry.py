"""B6: registry import + validate + derive against the DuckDB load floor.

Data: :func:`cartlens.ingest.synthetic.write_registry` with 100,000 patients (seed 0; about
1.3-1.4 million rows over the eight entity files; ``--quick``: 20,000; tiny: 500).

* ``duckdb_floor``: DuckDB alone loading the same CSV files into tables of a new database
  file (``CREATE TABLE t AS SELECT * FROM read_csv_auto(file)``), nothing else.
* ``cartlens``: :func:`cartlens.ingest.import_registry` into a new store (reading, every
  validation rule, the ASTCT recomputation, the transactional write with audit) plus
  :func:`cartlens.derive.infusion_table` (all endpoints, as a pandas frame).

Each side runs in a fresh child process (so that its peak resident memory can be reported: the
child's ``ru_maxrss``, DuckDB's buffers included) and the best of ``--repeat`` runs counts.
Goal (issue 4): cartlens <= 3 x the floor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import repeats, tiny

IDS = ("B6",)

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
kind, folder, db = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
if kind == "floor":
    import duckdb
    t0 = time.perf_counter()
    con = duckdb.connect(db)
    con.execute("SET enable_progress_bar = false")
    for p in sorted(folder.glob("*.csv")):
        con.execute(f"CREATE TABLE {p.stem} AS SELECT * FROM read_csv_auto('{p}')")
    con.close()
    parts = {}
else:
    from cartlens.ingest import import_registry
    from cartlens.derive import infusion_table
    t0 = time.perf_counter()
    rep = import_registry(folder, db)
    t1 = time.perf_counter()
    assert rep.ok, rep.errors.head().to_string()
    df = infusion_table(db)
    parts = {"import": t1 - t0, "derive": time.perf_counter() - t1, "rows": len(df)}
secs = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": secs, "peak_mb": peak, **parts}))
"""


def _child(kind: str, folder: Path, db: Path) -> dict:
    if db.exists():
        db.unlink()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(folder), str(db)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[dict]:
    from cartlens.ingest.synthetic import write_registry

    n = 500 if tiny() else (20_000 if quick else 100_000)
    with tempfile.TemporaryDirectory(prefix="cartlens-b6-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        counts = write_registry(tmp / "csv", n, seed=0)
        gen = time.perf_counter() - t0
        best: dict[str, dict] = {}
        for _ in range(repeats()):
            for kind in ("floor", "cartlens"):
                res = _child(kind, tmp / "csv", tmp / f"{kind}.duckdb")
                if kind not in best or res["seconds"] < best[kind]["seconds"]:
                    best[kind] = res
    floor, cl = best["floor"], best["cartlens"]
    ratio = cl["seconds"] / floor["seconds"]
    return [
        {
            "id": "B6",
            "label": f"registry import+validate+derive, {n} patients, {sum(counts.values())} rows",
            "cartlens": cl["seconds"],
            "duckdb_floor": floor["seconds"],
            "cartlens_peak_mb": cl["peak_mb"],
            "peak_method": "peak RSS of a child process",
            "components": {
                "import": {"cartlens": cl["import"]},
                "derive": {"cartlens": cl["derive"]},
            },
            "notes": (
                f"ratio cartlens/floor = {ratio:.2f} (goal <= 3); peak RSS cartlens "
                f"{cl['peak_mb']:.0f} MB, floor {floor['peak_mb']:.0f} MB; data generation "
                f"{gen:.1f} s (not timed)"
            ),
            "details": {"rows": counts, "floor_peak_mb": floor["peak_mb"], "ratio": ratio},
        }
    ]


if __name__ == "__main__":  # pragma: no cover
    for r in run(quick="--quick" in sys.argv):
        print(json.dumps(r, indent=2))
