"""The report's CSV tables never carry a live spreadsheet formula (issue 10, point 6)."""

from __future__ import annotations

import csv

from cartlens.report.exports import csv_cell, write_tables


def test_formula_like_labels_are_escaped_and_numbers_are_not(tmp_path):
    context = {
        "sections": [
            {
                "blocks": [
                    {
                        "tables": [
                            {
                                "csv": "tables/t1.csv",
                                "head": ["Characteristic", "HR", "p"],
                                "rows": [
                                    ['=HYPERLINK("http://x","click")', "-0.35", "0.04"],
                                    ["\u2003+cmd", "\u22121.20", "@SUM(A1)"],
                                    ["Age, years", "1.02", "<0.001"],
                                ],
                                "notes": [],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    (path,) = write_tables(context, tmp_path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[1] == ['\'=HYPERLINK("http://x","click")', "-0.35", "0.04"]
    assert rows[2] == ["'    +cmd", "\u22121.20", "'@SUM(A1)"]
    assert rows[3] == ["Age, years", "1.02", "<0.001"]


def test_csv_cell_plain_values():
    assert csv_cell(3) == "3" and csv_cell("-2e-3") == "-2e-3" and csv_cell("-x") == "'-x"
