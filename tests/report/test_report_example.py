"""The SYNTHETIC multi-product example: a generic report, CSV tables and report.docx."""

from __future__ import annotations

import csv
import html as htmllib
import json
import re

import pytest
from _report_text import BAD_TEXT


def _visible_text(page: str) -> str:
    page = re.sub(r"<svg.*?</svg>", " ", page, flags=re.S)
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize("which", ["demo_run", "example_run"])
def test_no_none_nan_or_dash_pairs_and_no_empty_section(which, request):
    out = request.getfixturevalue(which)
    page = (out / "report.html").read_text()
    text = _visible_text(page)
    assert not BAD_TEXT.findall(text), sorted(set(BAD_TEXT.findall(text)))
    for sec in re.findall(r"<section id=\"([^\"]+)\">(.*?)</section>", page, flags=re.S):
        body = re.sub(r"<h2>.*?</h2>", "", sec[1], flags=re.S)
        assert re.search(r"<(p|table|figure)\b", body), f"section {sec[0]} is empty"


def test_example_report_has_nothing_of_the_reference_study(example_run):
    text = _visible_text((example_run / "report.html").read_text())
    for foreign in ("CART2", "Replication", "What the study did not do", "McNemar", "published"):
        assert foreign not in text, foreign
    assert "Survival after" not in text
    # methods only for what the study used: no PFS-only or McNemar sentences, EFS/DOR defined
    methods = text[text.index("Methods") :]
    assert "Event-free survival (EFS)" in methods and "Duration of remission" in methods
    assert "Fine-Gray" in methods and "Kaplan-Meier" in methods


def test_example_table1_is_a_tbl_summary(example_run):
    rows = list(csv.reader((example_run / "tables" / "table1.csv").open(encoding="utf-8-sig")))
    head = rows[0]
    assert head[0] == "Characteristic" and head[1].startswith("Overall (N = ")
    assert [h.split(" (N")[0] for h in head[2:6]] == [
        "tisa-cel",
        "axi-cel",
        "brexu-cel",
        "cilta-cel",
    ]
    labels = [r[0] for r in rows]
    # a label row per variable, its levels indented below it, in the declared order
    i = labels.index("Cytogenetic risk")
    assert [x.strip() for x in labels[i + 1 : i + 6]] == [
        "Favourable",
        "Intermediate",
        "Adverse",
        "Not assessable",
        "Unknown",
    ]
    unknown = rows[i + 5]
    assert all(re.fullmatch(r"\d+", c) for c in unknown[1:6])  # counts only, no percentage
    assert int(unknown[1]) == sum(int(c) for c in unknown[2:6])
    # the percentages use the known values: they add up to 100 in each column
    lv = rows[i + 1 : i + 5]
    pct = [float(re.search(r"\(([\d.]+)%\)", r[1]).group(1)) for r in lv]
    assert abs(sum(pct) - 100) < 0.3
    age = rows[labels.index("Age, years")]
    assert re.fullmatch(r"[\d.]+ \([\d.]+, [\d.]+\)", age[1]) and age[-1].endswith("¹")


def test_example_results_and_exports(example_run):
    doc = json.loads((example_run / "results.json").read_text())
    by_id = {a["id"]: a for a in doc["analyses"]}
    assert all(a["status"] == "ok" for a in doc["analyses"]), [
        (a["id"], a["note"]) for a in doc["analyses"] if a["status"] != "ok"
    ]
    assert doc["replication"] == {} and doc["replication_table"] == []
    cox = by_id["cox_os"]["details"]
    terms = {r["term"] for r in cox["rows"] if r["model"] == "multivariable"}
    assert {
        "product[axi-cel]",
        "product[brexu-cel]",
        "product[cilta-cel]",
        "sex[male]:age",
    } <= terms
    ref = [r for r in cox["layout"] if r["kind"] == "reference"]
    assert [r["label"] for r in ref] == ["tisa-cel", "Female"]
    assert "zph" in cox["models"]["multivariable"]
    tables = sorted(p.name for p in (example_run / "tables").glob("*.csv"))
    assert "table1.csv" in tables and "cox_os.csv" in tables and "os_by_product.csv" in tables

    from docx import Document

    d = Document(str(example_run / "report.docx"))
    assert len(d.tables) >= 10
    assert len(d.inline_shapes) >= 8  # the figures
    heads = [p.text for p in d.paragraphs if p.style.name.startswith("Heading")]
    assert "Methods" in heads and "Factors associated with outcome" in heads
