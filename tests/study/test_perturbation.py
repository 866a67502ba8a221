"""Changing one patient in a copy of the demo registry moves the results and the report.

Nothing in the study or the report is hard-coded: turn one CART2 complete remission into no
response and the CART2 CR count drops by one, its P-value changes, and the report shows it.
"""

from __future__ import annotations

import csv
import json
import re
import shutil

from cartlens.report.pipeline import run_to_directory
from cartlens.study.demo_data import DEMO_REGISTRY_DIR
from cartlens.study.spec import REFERENCE_STUDY


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_one_cart2_cr_turned_into_nr_moves_the_numbers(tmp_path, demo_run):
    reg = tmp_path / "registry"
    shutil.copytree(DEMO_REGISTRY_DIR, reg)
    inf = _rows(reg / "infusions.csv")
    cart2_ids = {r["infusion_id"] for r in inf if r["course_number"] == "2"}
    rows = _rows(reg / "responses.csv")
    target = next(r for r in rows if r["infusion_id"] in cart2_ids and r["status"] == "CR")
    target["status"] = "NR"
    target["mrd_negative"] = "false"
    with open(reg / "responses.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)

    out = tmp_path / "out"
    run_to_directory(REFERENCE_STUDY, reg, out)
    base = json.loads((demo_run / "results.json").read_text())["replication"]
    new = json.loads((out / "results.json").read_text())["replication"]
    assert new["cart2_cr"] == base["cart2_cr"] - 1 == 13
    assert new["cart2_n"] == base["cart2_n"]
    assert new["p_cr_cart2_vs_cart1"] < base["p_cr_cart2_vs_cart1"]
    assert new["cart1_cr"] == base["cart1_cr"]

    html = (out / "report.html").read_text()
    old_html = (demo_run / "report.html").read_text()
    assert 'data-key="cart2_cr">13<' in html
    assert 'data-key="cart2_cr">14<' in old_html
    assert "13/26" in html and "13/26" not in old_html
    # the replication summary now says that some figures are not reproduced
    reproduced = int(re.search(r"<strong>(\d+) of 30</strong>", html).group(1))
    assert reproduced < 30
    assert "<strong>30 of 30</strong>" in old_html
