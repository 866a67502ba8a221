"""``cartlens demo``: builds the bundled registry into a store, runs the study, prints the path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    res = subprocess.run(
        [sys.executable, "-m", "cartlens.cli.main", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    report = Path(res.stdout.strip().splitlines()[-1])
    assert report == (out / "report.html").resolve()
    assert report.exists()
    assert (out / "registry.duckdb").exists()
    assert (out / "figures" / "km_cart2_os.svg").exists()
    assert (out / "figures" / "km_cart2_os.png").exists()
    # progress was printed as it went
    assert "importing" in res.stderr and "analysis 1/" in res.stderr
    assert "30/30 published figures reproduced" in res.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["replication"]["cart2_cr"] == 14
    assert results["inputs"]["registry"].endswith("registry.duckdb")
    html = report.read_text()
    assert "SYNTHETIC" in html
    for attr in ('src="http', "src='http", 'href="http', "url(http", "<script src"):
        assert attr not in html  # nothing is fetched from the network
