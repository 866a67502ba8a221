"""results.json of the demo run reproduces every published figure of the reference study.

Published values: Xu et al., Cell Transplantation 2023 (abstract), as listed in the shared
study description; each is computed by the pipeline (import -> derive -> statistics) from the
patient-level demo registry - nothing is copied into the results.
"""

from __future__ import annotations

import json

import pytest

PUBLISHED = {
    "cart1_n": 84,
    "cart1_evaluable": 79,
    "cart1_cr": 64,
    "cart1_severe_crs": 24,
    "cart2_n": 26,
    "cart2_crs_any": 17,
    "cart2_crs_g1": 11,
    "cart2_crs_g2": 4,
    "cart2_crs_g3": 2,
    "cart2_icans": 1,
    "cart2_cr": 14,
    "p_cr_cart2_vs_cart1": 0.006,
    "p_severe_crs_cart2_vs_cart1": 0.020,
    "cart2_median_pfs_months": 6.2,
    "cart2_median_os_months": 11.2,
    "posthsct_cart2_n": 10,
    "posthsct_cart2_response": 8,
    "posthsct_cart2_median_pfs_months": 7.9,
    "posthsct_cart2_median_os_months": 25.1,
    "adj_hsct_cart2_n": 7,
    "adj_hsct_cart2_response": 6,
    "adj_nohsct_cart2_n": 7,
    "adj_nohsct_cart2_response": 2,
    "adj_nohsct_other_n": 15,
    "adj_nohsct_other_response": 2,
    "adj_hsct_cart2_median_os_months": None,
    "adj_nohsct_cart2_median_os_months": 3.9,
    "adj_nohsct_other_median_os_months": 6.0,
    "p_os_hsct_cart2_vs_nohsct_cart2": 0.014,
    "p_os_hsct_cart2_vs_nohsct_other": 0.012,
}


@pytest.fixture(scope="module")
def results(demo_run):
    with open(demo_run / "results.json") as f:
        return json.load(f)


def test_replication_has_exactly_the_published_keys(results):
    assert set(results["replication"]) == set(PUBLISHED)


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_replication_value(results, key):
    value = results["replication"][key]
    published = PUBLISHED[key]
    if published is None:  # "not reached"
        assert value is None
    elif key.startswith("p_"):
        assert round(value, 3) == pytest.approx(published, abs=1e-9), value
    elif "median" in key:
        assert round(value, 1) == pytest.approx(published, abs=1e-9), value
    else:
        assert isinstance(value, int) and value == published


def test_chi_square_pvalues_match_r(results):
    """R: chisq.test(matrix(c(14, 12, 64, 15), 2, byrow=TRUE), correct=FALSE)$p.value
    = 0.005974887; chisq.test(matrix(c(2, 24, 24, 55), 2, byrow=TRUE), correct=FALSE)$p.value
    = 0.02008422."""
    rep = results["replication"]
    assert rep["p_cr_cart2_vs_cart1"] == pytest.approx(0.005974887, rel=1e-6)
    assert rep["p_severe_crs_cart2_vs_cart1"] == pytest.approx(0.02008422, rel=1e-6)


def test_results_document_is_complete(results):
    assert results["software"].startswith("cartlens ")
    assert results["study"]["study"]["title"]
    assert len(results["inputs"]["spec_sha256"]) == 64
    assert results["inputs"]["registry_files"]
    ids = {a["id"] for a in results["analyses"]}
    assert {"cr_paired", "hsct_time_dependent", "km_cart2_os"} <= ids
    assert all(a["status"] == "ok" for a in results["analyses"]), [
        (a["id"], a["note"]) for a in results["analyses"] if a["status"] != "ok"
    ]
    cols = {"analysis", "group", "term", "cause", "time", "stat", "value"}
    assert results["tidy"] and set(results["tidy"][0]) == cols
    assert all(r["match"] for r in results["replication_table"])


def test_warnings_surface_the_design_problems(results):
    text = " ".join(results["warnings"])
    assert "PairedDataWarning" in text  # CART1 vs CART2 treated as independent
    assert "ImmortalTimeWarning" in text  # HSCT after time zero


def test_survival_figures_match_r(results):
    """R 4.x, survival 3.5 on the demo's derived frames (months = days / 30.4375):
    survdiff(Surv(os_months, os_event) ~ group, adjusted[hsct_cart2 | nohsct_cart2])$pvalue
    = 0.01383817, and vs nohsct_other = 0.01204293; survfit(...)$table medians: adjusted
    nohsct_cart2 3.909651, nohsct_other 6.012320, hsct_cart2 NA; CART2 PFS 6.209446,
    OS 11.20329; post-HSCT CART2 PFS 7.885010, OS 25.100616."""
    rep = results["replication"]
    expected = {
        "p_os_hsct_cart2_vs_nohsct_cart2": 0.01383817,
        "p_os_hsct_cart2_vs_nohsct_other": 0.01204293,
        "adj_nohsct_cart2_median_os_months": 3.909651,
        "adj_nohsct_other_median_os_months": 6.012320,
        "cart2_median_pfs_months": 6.209446,
        "cart2_median_os_months": 11.20329,
        "posthsct_cart2_median_pfs_months": 7.885010,
        "posthsct_cart2_median_os_months": 25.100616,
    }
    for key, r_value in expected.items():
        assert rep[key] == pytest.approx(r_value, rel=1e-6), key
