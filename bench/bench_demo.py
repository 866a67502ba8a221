"""D1: ``cartlens demo`` from a cold start (fresh interpreter), end to end.

Imports the bundled SYNTHETIC 84-patient registry into a store, runs the reference study and
writes report.html, results.json and the figures. The acceptance goal is < 10 s on the
project's 2-core machine. No peer: nothing else does this whole job.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IDS = ("D1",)


def _once(out: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cartlens.cli.main", "demo", "--out", str(out)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "0"},
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run(quick: bool = False) -> list[dict]:
    repeats = 1 if quick else 3
    walls, cpus = [], []
    with tempfile.TemporaryDirectory(prefix="cartlens-bench-demo-") as tmp:
        for i in range(repeats):
            w, c = _once(Path(tmp) / f"demo{i}")
            walls.append(w)
            cpus.append(c)
    best = min(walls)
    return [
        {
            "id": "D1",
            "label": "cartlens demo, cold start (import, derive, 20 analyses, report + 17 figures)",
            "cartlens": best,
            "notes": (
                f"best of {repeats}; CPU (user+sys, both processes) {min(cpus):.1f} s; "
                f"load average at start {os.getloadavg()[0]:.1f}; goal < 10 s on 2 cores"
            ),
            "details": {"walls": walls, "cpus": cpus},
        }
    ]
