"""Immortal-time guard."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cartlens.errors import ImmortalTimeWarning, InputError
from cartlens.stats.immortal import check_immortal_time
from cartlens.stats.landmark import landmark_analysis
from cartlens.stats.timedep import mantel_byar_test, split_at_exposure


def test_warns_for_exposure_after_time_zero_and_names_remedies():
    with pytest.warns(ImmortalTimeWarning) as rec:
        res = check_immortal_time(0.0, [np.nan, 30.0, 0.0, 90.0], exposure="allo-HSCT")
    msg = str(rec[0].message)
    for word in ("landmark", "time-dependent", "Mantel-Byar", "allo-HSCT", "2 of 3"):
        assert word in msg
    assert res.n_after_time_zero == 2 and res.n_exposed == 3
    assert res.median_delay == 60 and res.max_delay == 90


def test_dates_are_accepted():
    t0 = pd.to_datetime(["2020-01-01", "2020-02-01"])
    ex = pd.to_datetime(["2020-03-01", None])
    with pytest.warns(ImmortalTimeWarning):
        res = check_immortal_time(t0, ex)
    assert res.max_delay == 60  # days


def test_no_warning_when_exposure_at_baseline():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = check_immortal_time([5.0, 7.0], [5.0, np.nan])
    assert not res.at_risk


def test_remedies_do_not_warn():
    t = np.array([100.0, 80, 20, 60, 40])
    e = np.array([1, 0, 1, 1, 1])
    x = np.array([np.nan, 10, np.nan, 50, 5])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImmortalTimeWarning)
        landmark_analysis(t, e, x, 30)
        cp = split_at_exposure(t, e, x)
        mantel_byar_test(cp["start"], cp["stop"], cp["event"], cp["exposure"], id=cp["id"])


def test_bad_input():
    with pytest.raises(InputError, match="time_zero"):
        check_immortal_time([0.0, 1.0, 2.0], [1.0, 2.0])
    with pytest.raises(InputError, match="exposure_time"):
        check_immortal_time(0.0, ["soon", "later"])
