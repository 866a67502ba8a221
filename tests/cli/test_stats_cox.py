"""``cartlens stats cox`` / ``cartlens stats zph`` end to end against the R reference."""

from __future__ import annotations

import pytest

from cartlens.cli.apps import app
from cli_runner import RUNNER, run, run_json
from conftest import REFERENCE, load_reference

DATA = REFERENCE / "data"


LUNG = (
    "--data",
    str(DATA / "lung.csv"),
    "--time",
    "time",
    "--event",
    "status",
    "--event-code",
    "2",
)


def test_cox_json_matches_r():
    """R: coxph(Surv(time, status == 2) ~ sex + age + ph.ecog, data = lung) - one row
    dropped for the missing ph.ecog; sex coef -0.552612395703631."""
    ref = load_reference("lung")["cox"]["efron"]
    out = run_json("cox", *LUNG, "--formula", "sex + age + ph.ecog")
    assert out["n"] == 227 and out["events"] == 164 and out["n_dropped_missing"] == 1
    for row in out["terms"]:
        rc = ref["coefficients"][row["term"]]
        assert row["coef"] == pytest.approx(rc["coef"], rel=1e-5)
        assert row["se"] == pytest.approx(rc["se"], rel=1e-5)
        assert row["lower"] == pytest.approx(rc["hr_lower95"], rel=1e-5)
        assert row["p"] == pytest.approx(rc["p"], rel=1e-5)
        assert "naive_se" not in row
    assert out["loglik"] == pytest.approx(ref["loglik_final"], rel=1e-6)
    for k in ("lr_test", "wald_test", "score_test"):
        assert out[k]["stat"] == pytest.approx(ref[k]["stat"], rel=1e-5)
    assert out["concordance"] == pytest.approx(ref["concordance"]["c"], rel=1e-6)


def test_cox_counting_process_cluster_reports_robust_and_naive_se():
    """R: coxph(Surv(start, stop, event) ~ age + surgery + transplant + cluster(id), jasa1)."""
    ref = load_reference("heart")["cox"]["efron_robust_cluster_id"]
    out = run_json(
        "cox",
        "--data",
        str(DATA / "jasa1.csv"),
        "--time",
        "stop",
        "--start",
        "start",
        "--event",
        "event",
        "--formula",
        "age + surgery + transplant",
        "--cluster",
        "id",
    )
    for row in out["terms"]:
        rc = ref["coefficients"][row["term"]]
        assert row["se"] == pytest.approx(rc["robust_se"], rel=1e-5)
        assert row["naive_se"] == pytest.approx(rc["se"], rel=1e-5)
        assert row["z"] == pytest.approx(rc["z"], rel=1e-5)
    assert out["robust_score_test"]["stat"] == pytest.approx(
        ref["robust_score_test"]["stat"], rel=1e-5
    )


def test_cox_factor_terms_and_breslow():
    """R: coxph(Surv(time, status) ~ trt + celltype + karno + age, veteran, ties='breslow');
    the CSV's levels sort as adeno < large < smallcell < squamous, so adeno is the reference
    here (R's factor has squamous first): compare a contrast that does not depend on it."""
    ref = load_reference("veteran")["cox"]["breslow"]["coefficients"]
    out = run_json(
        "cox",
        "--data",
        str(DATA / "veteran.csv"),
        "--time",
        "time",
        "--event",
        "status",
        "--formula",
        "trt + celltype + karno + age",
        "--ties",
        "breslow",
    )
    terms = {r["term"]: r for r in out["terms"]}
    assert set(terms) == {
        "trt",
        "celltype[large]",
        "celltype[smallcell]",
        "celltype[squamous]",
        "karno",
        "age",
    }
    assert terms["karno"]["coef"] == pytest.approx(ref["karno"]["coef"], rel=1e-5)
    # large vs adeno = (large vs squamous) - (adeno vs squamous)
    want = ref["celltypelarge"]["coef"] - ref["celltypeadeno"]["coef"]
    assert terms["celltype[large]"]["coef"] == pytest.approx(want, rel=1e-5)


def test_zph_json_matches_r():
    """R: cox.zph(coxph(Surv(time, status) ~ trt + celltype + karno + age, veteran),
    transform = 'km', terms = TRUE) - celltype is one term with df 3."""
    table = load_reference("veteran")["cox_zph"]["efron"]["table"]
    out = run_json(
        "zph",
        "--data",
        str(DATA / "veteran.csv"),
        "--time",
        "time",
        "--event",
        "status",
        "--formula",
        "trt + celltype + karno + age",
    )
    for row in out["terms"]:
        assert row["chisq"] == pytest.approx(table[row["term"]]["chisq"], rel=1e-5)
        assert row["df"] == table[row["term"]]["df"]
    assert out["global"]["chisq"] == pytest.approx(table["GLOBAL"]["chisq"], rel=1e-5)


def test_table_output_shows_factor_levels():
    res = RUNNER.invoke(
        app,
        [
            "stats",
            "cox",
            "--data",
            str(DATA / "veteran.csv"),
            "--time",
            "time",
            "--event",
            "status",
            "--formula",
            "C(celltype) + karno",
        ],
        env={"COLUMNS": "200"},
    )
    assert res.exit_code == 0, res.output
    assert "celltype[smallcell]" in res.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--formula", "sex + nosuch"), "nosuch"),
        (("--formula", "sex", "--strata", "nosuch"), "nosuch"),
        (("--formula", "sex", "--ties", "exact"), "--ties"),
        (("--formula", "sex +"), "formula"),
    ],
)
def test_bad_input_exit_2(args, needle):
    res = run("cox", *LUNG, *args)
    assert res.exit_code == 2
    assert needle in res.output


def test_zero_events_exit_2(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("t,e,x\n1,0,1\n2,0,2\n3,0,1\n")
    res = run("cox", "--data", str(f), "--time", "t", "--event", "e", "--formula", "x")
    assert res.exit_code == 2
    assert "no events" in res.output


def test_separation_is_a_warning_in_json(tmp_path):
    f = tmp_path / "d.csv"
    rows = ["t,e,x"] + [f"{i},{int(i % 3 != 0)},{int(i <= 10)}" for i in range(1, 21)]
    f.write_text("\n".join(rows) + "\n")
    out = run_json("cox", "--data", str(f), "--time", "t", "--event", "e", "--formula", "x")
    assert any("SeparationWarning" in w for w in out["warnings"])
    firth = run_json(
        "cox", "--data", str(f), "--time", "t", "--event", "e", "--formula", "x", "--firth"
    )
    assert firth["firth"] is True and firth["terms"][0]["coef"] is not None


def _csv(tmp_path, text):
    f = tmp_path / "d.csv"
    f.write_text(text)
    return str(f)


@pytest.mark.parametrize(
    "rows, extra, needles",
    [
        ("1,1,50,0,1\n-4,0,60,0,1\n3,1,70,0,1\n", [], ("'os_days'", "-4")),
        ("1,1,50,0,1\ninf,0,60,0,1\n3,1,70,0,1\n", [], ("'os_days'", "inf")),
        ("1,1,50,1,1\n2,0,60,0,1\n3,1,70,0,1\n", ["--start", "entry"], ("'entry'",)),
        ("1,1,50,0,1\n2,0,60,0,0\n3,1,70,0,1\n", ["--weights", "wt"], ("'wt'",)),
        ("1,1,50,0,1\n2,0,60,0,-1\n3,1,70,0,1\n", ["--weights", "wt"], ("'wt'",)),
    ],
)
def test_bad_columns_are_named_as_in_the_csv(tmp_path, rows, extra, needles):
    path = _csv(tmp_path, "os_days,died,age,entry,wt\n" + rows)
    res = run(
        "cox", "--data", path, "--time", "os_days", "--event", "died", "--formula", "age", *extra
    )
    assert res.exit_code == 2
    for n in needles:
        assert n in res.output


def test_term_constant_within_strata_warns(tmp_path):
    """R: coxph(Surv(t, e) ~ arm + strata(arm)) reports NA for arm."""
    path = _csv(tmp_path, "t,e,arm\n1,1,a\n2,1,b\n3,0,a\n4,1,b\n5,1,a\n6,0,b\n")
    out = run_json(
        "cox", "--data", path, "--time", "t", "--event", "e", "--formula", "arm", "--strata", "arm"
    )
    assert out["terms"][0]["coef"] is None
    assert any("CollinearityWarning" in w for w in out["warnings"])


def test_formula_error_has_no_terminal_escapes():
    res = run("cox", *LUNG, "--formula", "age +")
    assert res.exit_code == 2
    assert "\x1b[" not in res.output
