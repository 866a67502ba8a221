"""``cartlens stats compare / paired / logistic`` end to end (JSON output, exit codes)."""

from __future__ import annotations

import pytest

from cli_runner import run, run_json
from conftest import REFERENCE, load_reference

REF = load_reference("tests2x2")["two_by_two"]


def test_compare_counts_chisq():
    """R: chisq.test(matrix(c(14, 12, 64, 15), 2, byrow = TRUE)) (Yates; no warning)."""
    out = run_json("compare", "--a", "14/26", "--b", "64/79")
    case = REF["cr_14of26_vs_64of79"]
    assert out["test"].startswith("Pearson's chi-square")
    assert out["p"] == pytest.approx(case["chisq_yates"]["p"], rel=1e-9)
    assert out["odds_ratio"] == pytest.approx(case["fisher_precise"]["estimate"], rel=1e-8)
    assert [g["group"] for g in out["groups"]] == ["a", "b"]
    assert out["groups"][0]["lower"] == pytest.approx(
        case["group1"]["binom_exact"]["conf_int"][0], rel=1e-9
    )


def test_compare_counts_fisher_when_sparse():
    """R: fisher.test(matrix(c(6, 1, 2, 5), 2, byrow = TRUE))$p.value (expected counts < 5)."""
    out = run_json("compare", "--a", "6/7", "--b", "2/7")
    assert out["test"] == "Fisher's exact test" and "< 5" in out["reason"]
    assert out["p"] == pytest.approx(REF["6of7_vs_2of7"]["fisher_two_sided"]["p"], rel=1e-9)
    assert out["statistic"] is None


def test_compare_from_csv(tmp_path):
    """8/10 responders in arm 'CAR-T A' vs 6/16 in 'B' (R: fisher.test on [[8, 2], [6, 10]])."""
    rows = ["arm,response"]
    rows += ["CAR-T A,yes"] * 8 + ["CAR-T A,no"] * 2 + ["B,yes"] * 6 + ["B,no"] * 10
    rows += ["B,", ",yes"]
    f = tmp_path / "d.csv"
    f.write_text("\n".join(rows) + "\n")
    out = run_json(
        "compare",
        "--data",
        str(f),
        "--group",
        "arm",
        "--outcome",
        "response",
        "--outcome-code",
        "yes",
    )
    assert out["n_dropped_missing"] == 2
    groups = {g["group"]: g for g in out["groups"]}
    assert groups["B"]["events"] == 6 and groups["CAR-T A"]["n"] == 10
    case = REF["response_8of10_vs_6of16"]
    assert out["test"] == "Fisher's exact test"
    assert out["p"] == pytest.approx(case["fisher_two_sided"]["p"], rel=1e-9)


def test_compare_three_groups(tmp_path):
    """R: prop.test(c(83, 90, 129), c(86, 93, 136)) / prop.trend.test(...) style k x 2 output."""
    rows = ["g,y"]
    for g, x, n in (("1", 3, 10), ("2", 5, 10), ("3", 8, 10)):
        rows += [f"{g},1"] * x + [f"{g},0"] * (n - x)
    f = tmp_path / "k.csv"
    f.write_text("\n".join(rows) + "\n")
    out = run_json("compare", "--data", str(f), "--group", "g", "--outcome", "y")
    assert out["df"] == 2 and "trend" in out
    assert [g["group"] for g in out["groups"]] == ["1", "2", "3"]
    assert any("SparseDataWarning" in w for w in out["warnings"])


def test_overlapping_warns():
    out = run_json("compare", "--a", "14/26", "--b", "64/79", "--overlapping")
    assert any("PairedDataWarning" in w for w in out["warnings"])


@pytest.mark.parametrize(
    "args",
    [
        ("compare", "--a", "27/26", "--b", "1/2"),
        ("compare", "--a", "-1/26", "--b", "1/2"),
        ("compare", "--a", "1/0", "--b", "1/2"),
        ("compare", "--a", "abc", "--b", "1/2"),
        ("compare", "--a", "1/2"),
        ("compare", "--data", "/nonexistent.csv", "--group", "g", "--outcome", "y"),
        ("paired", "--table", "1,2,3"),
        ("paired", "--table", "-1,2"),
    ],
)
def test_bad_input_exits_2(args):
    res = run(*args)
    assert res.exit_code == 2
    assert "error:" in res.output


def test_missing_column_named(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("g,y\na,1\nb,0\n")
    res = run("compare", "--data", str(f), "--group", "arm", "--outcome", "y")
    assert res.exit_code == 2 and "'arm'" in res.output


def test_paired_table_matches_r():
    """R: mcnemar.test(matrix(c(10, 2, 9, 5), nrow = 2, byrow = TRUE)); binom.test(2, 11)."""
    ref = load_reference("tests2x2")["mcnemar"]
    out = run_json("paired", "--table", "10,2,9,5")
    assert out["p"] == pytest.approx(ref["corrected"]["p"], rel=1e-9)
    assert out["b"] == 2 and out["c"] == 9 and out["n_pairs"] == 26
    out = run_json("paired", "--table", "2,9", "--exact")
    assert out["p"] == pytest.approx(ref["exact_binomial"]["p"], rel=1e-9)
    out = run_json("paired", "--table", "2,9", "--no-correct")
    assert out["statistic"] == pytest.approx(ref["uncorrected"]["statistic"], rel=1e-9)


def test_paired_from_columns(tmp_path):
    rows = ["id,before,after"]
    pairs = [(1, 1)] * 10 + [(1, 0)] * 2 + [(0, 1)] * 9 + [(0, 0)] * 5
    rows += [f"{i},{a},{b}" for i, (a, b) in enumerate(pairs)]
    rows.append("99,,1")
    f = tmp_path / "p.csv"
    f.write_text("\n".join(rows) + "\n")
    out = run_json("paired", "--data", str(f), "--first", "before", "--second", "after")
    ref = load_reference("tests2x2")["mcnemar"]
    assert out["table"] == [[10, 2], [9, 5]] and out["n_dropped_missing"] == 1
    assert out["p"] == pytest.approx(ref["corrected"]["p"], rel=1e-9)


def test_logistic_command_matches_glm(tmp_path):
    """R: glm(female ~ age + ph.ecog, family = binomial(), data = lung_ps) (lung.json)."""
    import pandas as pd

    df = pd.read_csv(REFERENCE / "data" / "lung.csv")
    df["female"] = (df["sex"] == 2).astype(int)
    f = tmp_path / "lung.csv"
    df.to_csv(f, index=False)
    out = run_json("logistic", "--data", str(f), "--formula", "female ~ age + ph.ecog")
    ref = load_reference("lung")["propensity"]["ps_model"]["coefficients"]
    terms = {t["term"]: t for t in out["terms"]}
    assert terms["age"]["coef"] == pytest.approx(ref["age"]["estimate"], rel=1e-6)
    assert out["n"] == 227 and out["n_dropped_missing"] == 1
    out = run_json(
        "logistic", "--data", str(f), "--formula", "sex ~ age", "--outcome-code", "2", "--firth"
    )
    assert out["firth"] and out["ci_method"] == "profile" and out["n"] == 228
    res = run("logistic", "--data", str(f), "--formula", "sex ~ age")
    assert res.exit_code == 2 and "'sex'" in res.output
    res = run("logistic", "--data", str(f), "--formula", "female ~ nosuch")
    assert res.exit_code == 2 and "nosuch" in res.output
