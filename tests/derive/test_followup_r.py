"""R parity of the follow-up cumulative incidences on the SYNTHETIC demo registry.

Reference: ``tests/data/followup/make_followup.R`` (cmprsk 2.2-11) on ``demo_followup.csv``,
which ``make_demo_followup.py`` there writes from ``cartlens.derive.followup_table``; the first
test fails when the CSV is stale, so the R numbers always belong to the bundled demo.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartlens.stats.competing import cif_at, cuminc

HERE = Path(__file__).parents[1] / "data" / "followup"
REF = json.loads((HERE / "demo_followup.json").read_text())
ENDPOINTS = ["infection", "severe_infection", "ttnt", "spm"]


def _maker():
    spec = importlib.util.spec_from_file_location(
        "make_demo_followup", HERE / "make_demo_followup.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def made() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _maker().demo_followup()


@pytest.fixture(scope="module")
def derived(made) -> pd.DataFrame:
    return made[0]


def test_reference_csvs_are_the_current_derivation(made):
    for frame, name in zip(made, ("demo_followup.csv", "demo_bca_intervals.csv"), strict=True):
        csv = pd.read_csv(HERE / name)
        pd.testing.assert_frame_equal(
            frame.reset_index(drop=True), csv, check_dtype=False, check_exact=True
        )


def test_loss_of_bca_as_time_dependent_covariate_matches_coxph(made):
    """``coxph(Surv(tstart, tstop, event) ~ bca_lost + hsct, ties = "efron")`` on CART1's PFS
    intervals (loss of B-cell aplasia and a later allo-HSCT switch 0 -> 1 during follow-up)."""
    from cartlens.stats.cox import coxph_formula

    ref = REF["bca_cox"]
    iv = made[1]
    fit = coxph_formula("bca_lost + hsct", iv, time="tstop", event="event", start="tstart")
    np.testing.assert_allclose(fit.coef, ref["coef"], rtol=1e-5)
    np.testing.assert_allclose(fit.se, ref["se"], rtol=1e-5)
    assert fit.loglik == pytest.approx(ref["loglik"][1], rel=1e-6)
    assert fit.loglik_null == pytest.approx(ref["loglik"][0], rel=1e-6)
    assert int(iv["event"].sum()) == ref["nevent"] and len(iv) == ref["n"]


def _check(res, group, ref_keys, est, var, times, key_group):
    for k, key in enumerate(ref_keys):
        g, cause = key.split(" ")
        if key_group(g) != group:
            continue
        at = cif_at(res.curve(group, int(cause)), times)
        np.testing.assert_allclose(at["estimate"], est[k], rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(at["variance"], var[k], rtol=1e-6, atol=1e-14)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_cuminc_matches_cmprsk(derived, endpoint):
    """``cuminc(<endpoint>_days, <endpoint>_event)`` and ``... , course_number)``, timepoints
    at days 30, 100, 365 and 730, and Gray's test between CART1 and CART2 infusions."""
    ref = REF[endpoint]
    t = derived[f"{endpoint}_days"].to_numpy(float)
    e = derived[f"{endpoint}_event"].to_numpy(int)
    times = REF["times"]
    res = cuminc(t, e)
    _check(res, None, ref["keys"], ref["est"], ref["var"], times, lambda g: None)
    by = ref["by_course"]
    grouped = cuminc(t, e, group=derived["course_number"].to_numpy())
    for course in (1, 2):
        _check(grouped, course, by["keys"], by["est"], by["var"], times, int)
    for cause, stat, p in zip(by["gray_causes"], by["gray_stat"], by["gray_p"], strict=True):
        gt = next(x for x in grouped.gray_test if x.cause == int(cause))
        assert gt.stat == pytest.approx(stat, rel=1e-6)
        assert gt.p == pytest.approx(p, rel=1e-6)
