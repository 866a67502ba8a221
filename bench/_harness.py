"""Helpers shared by the ``bench/bench_*.py`` modules (timing, memory, R, peers).

``bench/run.py`` puts this folder on ``sys.path``, so a benchmark module can write
``from _harness import time_call, peak_memory_mb, run_r, peer_enabled``.

Conventions
-----------
* Every side is timed in the same process run on identical data; only the computation is
  timed (not imports, not data loading). R is timed inside R with ``proc.time()`` around the
  computation; its start-up, ``library()`` and ``read.csv`` time is reported separately as
  ``r_load``.
* Peak memory of cartlens is measured with :mod:`tracemalloc` in a second, separate call (so
  tracing does not slow the timed call): the peak of memory allocated through Python's
  allocators during the call - numpy array buffers included, the input data (allocated before
  the call) excluded. It is not the process RSS.
* The machine may be shared, so cartlens and R are timed ``--repeat`` times (default 3) and
  the best run is reported; the slow Python peers (lifelines, statsmodels) run once.
* ``--peers`` of ``run.py`` limits which peers run (``CARTLENS_BENCH_PEERS``); the R part runs
  only when ``Rscript`` is on ``PATH``.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any


def peer_enabled(name: str) -> bool:
    """Whether peer ``name`` (``"r"``, ``"lifelines"``, ``"statsmodels"``, ...) should run."""
    peers = os.environ.get("CARTLENS_BENCH_PEERS")
    if peers is None or peers.strip().lower() == "all":
        return True
    return name.lower() in {p.strip().lower() for p in peers.split(",") if p.strip()}


def tiny() -> bool:
    """Smoke-test sizes (set by ``run.py --tiny``; used by the test suite)."""
    return os.environ.get("CARTLENS_BENCH_TINY") == "1"


def repeats() -> int:
    """How often fast sides (cartlens, R) are timed; the best run counts (``--repeat``)."""
    try:
        return max(1, int(os.environ.get("CARTLENS_BENCH_REPEAT", "3")))
    except ValueError:
        return 3


def rscript() -> str | None:
    """Path of ``Rscript`` when it is on PATH and the R peer is enabled, else None."""
    if not peer_enabled("r"):
        return None
    return shutil.which("Rscript")


def time_call(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Wall-clock seconds of ``fn()`` (best of ``repeat`` runs) and its last result."""
    best = float("inf")
    out = None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def peak_memory_mb(fn: Callable[[], Any]) -> float:
    """Peak memory (MiB) allocated during ``fn()``, traced by :mod:`tracemalloc`."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - base) / 2**20


def write_csv(path: Path, columns: dict) -> None:
    """Write equal-length arrays as a CSV with a header (the data R reads)."""
    import pandas as pd

    pd.DataFrame(columns).to_csv(path, index=False)


def run_r(code: str, timeout: float = 1800) -> dict[str, str]:
    """Run R ``code`` with ``Rscript`` and parse ``key=value`` lines printed on stdout.

    Raises RuntimeError (with R's stderr) when R fails.
    """
    exe = rscript()
    if exe is None:
        raise RuntimeError("Rscript is not available")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.R"
        script.write_text(code)
        proc = subprocess.run(
            [exe, "--vanilla", str(script)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"R failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


#: R prologue: start the clock before library(); ``.t_load()`` gives start-up + load time.
R_PROLOGUE = """
.t_start <- proc.time()[["elapsed"]]
suppressMessages(library(survival))
.t_load <- function() proc.time()[["elapsed"]] - .t_start
.tic <- function() proc.time()[["elapsed"]]
"""
