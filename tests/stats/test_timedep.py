"""Time-dependent Cox, Mantel-Byar and Simon-Makuch on the Stanford heart data (jasa1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartlens.errors import InputError
from cartlens.stats.cox import coxph
from cartlens.stats.timedep import mantel_byar_test, simon_makuch, split_at_exposure

# the R reference copies (tests/data/reference); defined here rather than imported from
# conftest, whose module name is ambiguous when several test folders have one
REFERENCE = Path(__file__).parents[1] / "data" / "reference"


def load_reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def jasa1():
    return pd.read_csv(REFERENCE / "data" / "jasa1.csv")


@pytest.fixture(scope="module")
def heart():
    return load_reference("heart")


def test_mantel_byar_breslow_closed_form(jasa1, heart):
    """R: coxph(Surv(start, stop, event) ~ transplant, data = jasa1, ties = "breslow")$score
    -> heart.json mantel_byar_score_test.breslow.score_test (stat 0.169208483038687)."""
    ref = heart["mantel_byar_score_test"]["breslow"]["score_test"]
    j = jasa1
    res = mantel_byar_test(j.start, j.stop, j.event, j.transplant, id=j.id)
    assert res.stat == pytest.approx(ref["stat"], rel=1e-6)
    assert res.p == pytest.approx(ref["p"], rel=1e-6)
    assert res.df == ref["df"] == 1
    assert res.n_subjects == 103 and res.n_intervals == 170 and res.events == 75
    assert res.observed_exposed - res.expected_exposed == pytest.approx(res.score)


def test_mantel_byar_efron(jasa1, heart):
    """R: coxph(Surv(start, stop, event) ~ transplant, data = jasa1, ties = "efron")$score
    -> 0.173183923380735."""
    ref = heart["mantel_byar_score_test"]["efron"]["score_test"]
    j = jasa1
    res = mantel_byar_test(j.start, j.stop, j.event, j.transplant, ties="efron")
    assert res.stat == pytest.approx(ref["stat"], rel=1e-6)
    assert res.p == pytest.approx(ref["p"], rel=1e-6)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_time_dependent_cox(jasa1, heart, ties):
    """R: coxph(Surv(start, stop, event) ~ age + surgery + transplant, data = jasa1, ties = ties):
    the (start, stop] risk set is start < t <= stop (transplant coef 0.0140515 for efron)."""
    ref = heart["cox"][ties]
    j = jasa1
    fit = coxph(
        j.stop.to_numpy(float),
        j.event.to_numpy(),
        j[["age", "surgery", "transplant"]].to_numpy(float),
        entry=j.start.to_numpy(float),
        ties=ties,
        names=["age", "surgery", "transplant"],
    )
    for i, term in enumerate(fit.terms):
        assert fit.coef[i] == pytest.approx(ref["coefficients"][term]["coef"], rel=1e-5)
        assert fit.se[i] == pytest.approx(ref["coefficients"][term]["se"], rel=1e-5)


def test_simon_makuch_matches_survfit(jasa1, heart):
    """R: summary(survfit(Surv(start, stop, event) ~ transplant, data = jasa1),
    times = c(30, 90, 180, 365), extend = TRUE) and its median table."""
    ref = heart["km"]["simon_makuch_by_transplant"]
    j = jasa1
    fit = simon_makuch(j.start, j.stop, j.event, j.transplant, id=j.id)
    for g in (0, 1):
        r = ref["groups"][f"transplant={g}"]
        cur = fit.curve(g)
        at = cur.survival_at(ref["landmark_times"])
        lm = r["landmarks"]
        np.testing.assert_allclose(at.surv, lm["surv"], rtol=1e-6)
        np.testing.assert_allclose(at.std_err, lm["std_err"], rtol=1e-6)
        np.testing.assert_allclose(at.n_risk, lm["n_risk"])
        assert cur.median == r["median"]["log"]["median"]
        assert cur.events == r["events"]
        assert cur.n_start == r["n_start"] and cur.n_max == r["n_max"]


def test_split_at_exposure_then_mantel_byar_equals_jasa1(jasa1, heart):
    """Per-patient -> (start, stop] with the recovered transplant times, then Mantel-Byar:
    the same statistic as on R's jasa1."""
    p = pd.read_csv(REFERENCE / "derived" / "jasa1_per_patient.csv")
    tx = p["id"].map(jasa1[jasa1.transplant == 1].groupby("id")["start"].min())
    cp = split_at_exposure(p.futime, p.dead, tx)
    res = mantel_byar_test(cp["start"], cp["stop"], cp["event"], cp["exposure"], id=cp["id"])
    ref = heart["mantel_byar_score_test"]["breslow"]["score_test"]
    assert res.stat == pytest.approx(ref["stat"], rel=1e-6)


def test_bad_input(jasa1):
    j = jasa1
    with pytest.raises(InputError, match="overlaps"):
        mantel_byar_test([0, 5], [10, 12], [0, 1], [0, 1], id=[1, 1])
    with pytest.raises(InputError, match="exposure"):
        mantel_byar_test([0], [10], [1], [2])
    with pytest.raises(InputError, match="start 10 is not before stop 5"):
        simon_makuch([10], [5], [1], [0])
    with pytest.raises(InputError, match="after death or last follow-up"):
        split_at_exposure([5.0], [1], [7.0])
    with pytest.raises(InputError, match="ties"):
        mantel_byar_test(j.start, j.stop, j.event, j.transplant, ties="exact")
