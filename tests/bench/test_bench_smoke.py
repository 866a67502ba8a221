"""Smoke test of the benchmark harness (bench/run.py): it runs and prints the agreed format.

Tiny sizes (``--tiny``), and R is switched off (tests must pass without R); no timing is
asserted - only that the harness works and its output lines have the specified form.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "bench"
NUM = r"(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?)"
LINE_B1 = re.compile(
    rf"^B1 cartlens={NUM} r=(?:na|{NUM}) lifelines=(?:na|{NUM}) "
    rf"ratio_r=(?:na|{NUM}) ratio_lifelines=(?:na|{NUM})$"
)


@pytest.fixture()
def harness(monkeypatch):
    for key in ("CARTLENS_BENCH_PEERS", "CARTLENS_BENCH_TINY", "CARTLENS_BENCH_REPEAT"):
        monkeypatch.setenv(key, "")  # restored after the test; main() overwrites them
    spec = importlib.util.spec_from_file_location("cartlens_bench_run", BENCH / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_format_line_with_and_without_peers(harness):
    line = harness.format_line(
        {"id": "B9", "label": "x", "cartlens": 0.5, "r": 2.0, "lifelines": None, "notes": ""}
    )
    assert line == "B9 cartlens=0.5 r=2 lifelines=na ratio_r=4.0 ratio_lifelines=na"


def test_discovers_the_core_benchmarks(harness):
    names = [p.name for p in harness.discover()]
    assert "bench_core.py" in names


def test_quick_b1_runs_and_prints_the_specified_line(harness, tmp_path):
    out = io.StringIO()
    rc = harness.main(
        [
            "--tiny",
            "--only",
            "B1",
            "--peers",
            "lifelines",
            "--repeat",
            "1",
            "--json",
            str(tmp_path / "b.json"),
        ],
        out=out,
    )
    assert rc == 0
    lines = out.getvalue().splitlines()
    assert LINE_B1.match(lines[0]), lines[0]
    assert " r=na " in lines[0] and "lifelines=na" not in lines[0]
    assert all(line.startswith("  B1") for line in lines[1:])
    data = json.loads((tmp_path / "b.json").read_text())
    (res,) = data["results"]
    assert res["id"] == "B1" and res["cartlens"] > 0 and res["r"] is None
    assert res["cartlens_peak_mb"] >= 0
    assert data["meta"]["quick"] is True


def test_unknown_id_is_an_error(harness):
    out = io.StringIO()
    assert harness.main(["--tiny", "--only", "B99", "--peers", "none"], out=out) == 1
    assert out.getvalue() == ""
