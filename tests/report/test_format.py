"""Number formatting of the report: small-cell suppression lives in one place."""

from __future__ import annotations

from cartlens.report.format import Formatter


def test_small_cell_suppression():
    f = Formatter({"decimals": 1, "p_decimals": 3, "small_cell_threshold": 5})
    assert f.count(3) == "<5"
    assert f.count(0) == "0"
    assert f.count(12) == "12"
    assert f.pct(3, 26) == "-"  # a percentage would reveal the suppressed count
    assert f.count_pct(14, 26) == "14/26 (53.8%)"


def test_no_suppression_by_default_and_p_values():
    f = Formatter({"decimals": 1, "p_decimals": 3})
    assert f.count(1) == "1"
    assert f.pct(2, 26) == "7.7%"
    assert f.pvalue(0.0059749) == "0.006"
    assert f.pvalue(0.0002) == "<0.001"
    assert f.median(None) == "NR"
    assert f.median(6.2094) == "6.2"
