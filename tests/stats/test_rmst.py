"""RMST of two groups against R (tests/data/reference/rmst.json, made by make_reference2.R).

Per group: survival's ``summary(survfit(...), rmean = tau)$table`` (= ``print(fit, rmean =)``);
difference and ratios: survRM2's published formulas written out in the R script."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartlens.errors import InputError, SparseDataWarning
from cartlens.stats.rmst import rmst2
from conftest import load_reference

REF = load_reference("rmst")
DATA = Path(__file__).parents[1] / "data" / "reference" / "data"
BLOCKS = {
    "lung_sex_default_tau": ("lung", "sex", None),
    "lung_sex_tau_365": ("lung", "sex", 365),
    "veteran_trt_default_tau": ("veteran", "trt", None),
    "veteran_trt_tau_200": ("veteran", "trt", 200),
}
REL = 1e-9


@pytest.mark.parametrize("key", list(BLOCKS))
def test_rmst2_matches_r(key):
    """R: the block's ``r_call`` and the survRM2 formulas next to it."""
    name, arm, tau = BLOCKS[key]
    ref = REF[key]
    df = pd.read_csv(DATA / f"{name}.csv")
    event = (df["status"] == df["status"].max()).astype(int)
    r = rmst2(df["time"], event, df[arm], tau=tau)
    assert r.tau == pytest.approx(ref["tau"])
    assert r.tau_rule.startswith("default" if tau is None else "given")
    assert list(r.groups) == ref["groups"]
    for i, g in enumerate(r.per_group):
        assert g["rmst"] == pytest.approx(ref["rmst"][i], rel=REL)
        assert g["rmst_se"] == pytest.approx(ref["rmst_se"][i], rel=REL)
        assert g["rmtl"] == pytest.approx(ref["rmtl"][i], rel=REL)
        assert g["rmst_lower"] < g["rmst"] < g["rmst_upper"]
    for part in ("difference", "ratio", "rmtl_ratio"):
        for stat in ("estimate", "lower", "upper", "p"):
            assert getattr(r, part)[stat] == pytest.approx(ref[part][stat], rel=REL), (part, stat)
    assert r.difference["se"] == pytest.approx(ref["difference"]["se"], rel=REL)


def test_reference_group_reverses_the_contrasts():
    df = pd.read_csv(DATA / "lung.csv")
    event = (df["status"] == 2).astype(int)
    a = rmst2(df["time"], event, df["sex"])
    b = rmst2(df["time"], event, df["sex"], reference=2)
    assert b.groups == (2, 1)
    assert b.difference["estimate"] == pytest.approx(-a.difference["estimate"])
    assert b.ratio["estimate"] == pytest.approx(1 / a.ratio["estimate"])
    assert b.difference["p"] == pytest.approx(a.difference["p"])


def test_tau_rules_as_survrm2():
    # group a ends with an event at 5, group b is censored at 8
    t = np.array([1, 2, 3, 5, 1.5, 2.5, 4, 8])
    e = np.array([1, 0, 1, 1, 1, 1, 0, 0])
    g = np.array(["a"] * 4 + ["b"] * 4)
    assert rmst2(t, e, g).tau == 5  # default: the smaller largest time
    r = rmst2(t, e, g, tau=8)  # allowed: a's curve is 0 after its last event
    assert r.per_group[0]["rmst"] == pytest.approx(rmst2(t, e, g, tau=5).per_group[0]["rmst"])
    with pytest.raises(InputError, match="tau.*<= 8"):
        rmst2(t, e, g, tau=8.5)
    e2 = e.copy()
    e2[3] = 0  # now a ends censored at 5
    with pytest.raises(InputError, match="<= 5"):
        rmst2(t, e2, g, tau=6)


def test_bad_groups_and_undefined_ratio():
    t = np.array([1.0, 2, 3, 4, 5, 6])
    e = np.array([1, 1, 0, 0, 0, 0])
    with pytest.raises(InputError, match="exactly two groups"):
        rmst2(t, e, ["a", "b", "c", "a", "b", "c"])
    with pytest.raises(InputError, match="reference"):
        rmst2(t, e, ["a", "a", "a", "b", "b", "b"], reference="z")
    # no event in group b before tau: its RMTL is 0, the RMTL ratio is undefined (warned)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = rmst2(t, e, ["a", "a", "a", "b", "b", "b"])
    assert any(issubclass(w.category, SparseDataWarning) for w in caught)
    assert "undefined" in r.rmtl_ratio["note"] and np.isnan(r.rmtl_ratio["estimate"])
