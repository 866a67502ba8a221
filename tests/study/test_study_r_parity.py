"""The study layer on the SYNTHETIC multi-product example against R.

Reference values: ``tests/data/study/make_study_reference.R`` (survival 3.5-3, stats) on
``example_all.csv``, the study's cohort ``all``; see ``study_reference.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "study"
REF = json.loads((DATA / "study_reference.json").read_text())


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    from cartlens.study.runner import run_study
    from cartlens.study.spec import load_study
    from example_registry import import_example

    store = import_example(tmp_path_factory.mktemp("example") / "example.duckdb")
    study = load_study(ROOT / "examples" / "multi_product" / "study.toml")
    return run_study(study, store), store, study


def test_frame_is_the_committed_one(example):
    """R was run on exactly the rows and values the study analyses."""
    from cartlens.study.frames import frames_from_store
    from cartlens.study.runner import build_cohorts
    from cartlens.study.variables import apply_variables

    _, store, study = example
    _, frames = frames_from_store(store, study.endpoints, study.presentation.month_days)
    frames = apply_variables(study.variables, frames, {})
    got = build_cohorts(study, frames, {})["all"].reset_index(drop=True)
    want = pd.read_csv(DATA / "example_all.csv", keep_default_na=False, na_values=[""])
    assert list(got["patient_id"]) == list(want["patient_id"])
    for c in ("os_days", "os_event", "age"):
        np.testing.assert_array_equal(got[c].to_numpy(float), want[c].to_numpy(float))
    for c in ("product", "sex", "age_group", "cytogenetic_risk"):
        assert got[c].fillna("NA").astype(str).tolist() == want[c].fillna("NA").astype(str).tolist()


def test_cox_with_categorical_covariate_and_interaction_matches_coxph(example):
    """coxph(Surv(os_days / 30.4375, os_event) ~ age + product + sex + sex:age), factor
    levels as declared (tisa-cel and female are the references), ties = "efron"."""
    run, _, _ = example
    a = run.analysis("cox_os")
    assert a.status == "ok", a.note
    r_names = {
        "age": "age",
        "productaxi-cel": "product[axi-cel]",
        "productbrexu-cel": "product[brexu-cel]",
        "productcilta-cel": "product[cilta-cel]",
        "sexmale": "sex[male]",
        "age:sexmale": "sex[male]:age",
    }
    rows = {r["term"]: r for r in a.details["rows"] if r["model"] == "multivariable"}
    ref = REF["cox"]
    for term, coef, se, p in zip(ref["terms"], ref["coef"], ref["se"], ref["p"]):
        row = rows[r_names[term]]
        assert row["coef"] == pytest.approx(coef, rel=1e-5, abs=1e-8), term
        assert row["se"] == pytest.approx(se, rel=1e-5), term
        assert row["p"] == pytest.approx(p, rel=1e-5), term
    mv = a.details["models"]["multivariable"]
    assert (mv["n"], mv["events"]) == (ref["n"], ref["events"])
    # cox.zph(fit, terms = TRUE): one test per covariate, the factor's levels together
    zph = dict(zip(ref["zph_terms"], ref["zph_p"]))
    assert mv["zph"]["product"] == pytest.approx(zph["product"], rel=1e-5)
    assert mv["zph"]["age"] == pytest.approx(zph["age"], rel=1e-5)
    assert mv["zph"]["sex:age"] == pytest.approx(zph["age:sex"], rel=1e-5)
    # the univariable model of product: all three contrasts in one model
    uv = {r["term"]: r for r in a.details["rows"] if r["model"] == "univariable"}
    for term, coef, p in zip(
        REF["cox_uv_product"]["terms"], REF["cox_uv_product"]["coef"], REF["cox_uv_product"]["p"]
    ):
        assert uv[r_names[term]]["coef"] == pytest.approx(coef, rel=1e-5)
        assert uv[r_names[term]]["p"] == pytest.approx(p, rel=1e-5)


def test_table1_kruskal_wallis_matches_kruskal_test(example):
    """kruskal.test(age ~ product)."""
    run, _, _ = example
    row = next(r for r in run.analysis("table1").details["rows"] if r["variable"] == "age")
    assert row["test"] == "Kruskal-Wallis rank-sum test"
    assert row["p"] == pytest.approx(REF["kruskal_age_by_product"]["p"], rel=1e-6)


def test_table1_fisher_rxc_matches_fisher_test(example):
    """fisher.test(table(product, age_group)): exact, as R."""
    run, _, _ = example
    row = next(r for r in run.analysis("table1").details["rows"] if r["variable"] == "age_group")
    table = np.array([[c["n"] for c in lv["cells"][1:]] for lv in row["levels"]]).T
    ref = REF["fisher_age_group_by_product"]
    np.testing.assert_array_equal(table, np.array(ref["table"]))
    assert row["test"] == "Fisher's exact test"
    assert row["p"] == pytest.approx(ref["p"], rel=1e-6)


def test_table1_fisher_too_large_for_the_exact_algorithm_is_monte_carlo(example):
    """R needs fisher.test(table(product, cytogenetic_risk), workspace = 2e7) for the exact P;
    cartlens falls back to the seeded Monte Carlo P (B = 2000), within 4 SE of R's exact P."""
    run, _, _ = example
    row = next(
        r for r in run.analysis("table1").details["rows"] if r["variable"] == "cytogenetic_risk"
    )
    known = [lv for lv in row["levels"]]
    table = np.array([[c["n"] for c in lv["cells"][1:]] for lv in known]).T
    ref = REF["fisher_cytogenetic_risk_by_product"]
    np.testing.assert_array_equal(table, np.array(ref["table"]))
    assert row["test"].startswith("Fisher's exact test (Monte Carlo, B = 2000, seed 1)")
    se = (ref["p"] * (1 - ref["p"]) / 2000) ** 0.5
    assert abs(row["p"] - ref["p"]) < 4 * se
