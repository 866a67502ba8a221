"""cox.zph (survival 3.x exact score test, transform = "km", terms = TRUE) against the
``cox_zph`` blocks in tests/data/reference, e.g. lung
``cox.zph(coxph(Surv(time, status == 2) ~ sex + age + ph.ecog, data = lung, ties = "efron"),
transform = "km", terms = TRUE)``: sex chisq 2.30543722740497, GLOBAL 4.46365758875861 (df 3)."""

from __future__ import annotations

import numpy as np
import pytest
from _cox_reference import COX_CASES, lung

from cartlens.errors import InputError
from cartlens.stats.zph import cox_zph, cox_zph_formula, term_label
from conftest import load_reference

CASES = [
    (name, ties) for name in ("lung", "veteran", "heart", "mgus2") for ties in ("efron", "breslow")
]


@pytest.mark.parametrize("name, ties", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_zph_matches_r(name, ties):
    """Per-term (a factor such as veteran celltype is one term, df 3) and GLOBAL tests."""
    table = load_reference(name)["cox_zph"][ties]["table"]
    loader, formula, cols, _ = COX_CASES[(name, "cox", ties)]
    res = cox_zph_formula(formula, loader(), ties=ties, **cols)
    got = {row["term"]: row for row in res.terms}
    assert set(got) | {"GLOBAL"} == set(table)
    for term, row in got.items():
        assert row["df"] == table[term]["df"]
        assert row["chisq"] == pytest.approx(table[term]["chisq"], rel=1e-5)
        assert row["p"] == pytest.approx(table[term]["p"], rel=1e-5)
    assert res.global_test["df"] == table["GLOBAL"]["df"]
    assert res.global_test["chisq"] == pytest.approx(table["GLOBAL"]["chisq"], rel=1e-5)
    assert res.global_test["p"] == pytest.approx(table["GLOBAL"]["p"], rel=1e-5)
    assert "global" in res.to_dict()


def test_single_covariate_term_equals_global():
    d = lung()
    res = cox_zph(d["time"], d["dead"], d[["sex"]], names=["sex"])
    assert res.terms[0]["chisq"] == pytest.approx(res.global_test["chisq"], rel=1e-12)


def test_row_order_invariance():
    d = lung().dropna(subset=["ph.ecog"])
    a = cox_zph_formula("sex + age + ph.ecog", d, time="time", event="dead")
    b = cox_zph_formula(
        "sex + age + ph.ecog", d.sample(frac=1, random_state=7), time="time", event="dead"
    )
    np.testing.assert_allclose(
        [r["chisq"] for r in a.terms], [r["chisq"] for r in b.terms], rtol=1e-8
    )


def test_term_label():
    assert term_label("C(celltype)") == "celltype"
    assert term_label("C(`ph.ecog`, contr.treatment(base=2))") == "ph.ecog"
    assert term_label("age:sex") == "age:sex"


def test_no_events_is_input_error():
    with pytest.raises(InputError):
        cox_zph([1.0, 2.0, 3.0], [0, 0, 0], [[0.0], [1.0], [0.5]])


def test_strata_weights_counting_process_match_r():
    """R on tests/data/cox/strata_weights_counting.csv:
    ``cox.zph(coxph(Surv(start, stop, event) ~ x1 + x2 + strata(s), data = d, weights = w),
    transform = "km")$table[, 1]`` = 0.96061257154, 0.129006940426, GLOBAL 1.13953099041."""
    from pathlib import Path

    import pandas as pd

    d = pd.read_csv(Path(__file__).parents[1] / "data" / "cox" / "strata_weights_counting.csv")
    z = cox_zph(
        d["stop"],
        d["event"],
        d[["x1", "x2"]],
        entry=d["start"],
        strata=d["s"],
        weights=d["w"],
        names=["x1", "x2"],
    )
    np.testing.assert_allclose(
        [r["chisq"] for r in z.terms], [0.96061257154, 0.129006940426], rtol=1e-5
    )
    assert z.global_test["chisq"] == pytest.approx(1.13953099041, rel=1e-5)
