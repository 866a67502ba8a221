"""Hodges-Lehmann estimate and CI of ``wilcox.test(x, y, conf.int = TRUE)`` against R
(tests/data/reference/wilcox_hl.json, made by make_reference2.R; the R call is in each case).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from cartlens.errors import SparseDataWarning
from cartlens.stats.nonparametric import mann_whitney
from conftest import load_reference

CASES = list(load_reference("wilcox_hl")["cases"].items())
IDS = [k for k, _ in CASES]


@pytest.mark.parametrize(("key", "case"), CASES, ids=IDS)
def test_hodges_lehmann_matches_r(key, case):
    """R: the ``r_call`` of the case; estimate, limits and achieved level to 1e-9 (the
    normal-approximation roots follow R's own uniroot iterates)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparseDataWarning)
        r = mann_whitney(
            case["x"],
            case["y"],
            alternative=case["alternative"],
            correct=case["correct"],
            conf_int=True,
        )
    assert r.p_value == pytest.approx(case["p"], rel=1e-9)
    assert r.statistic == pytest.approx(case["statistic"], rel=1e-12)
    assert r.estimate == pytest.approx(case["estimate"], rel=1e-9, abs=1e-12)
    lo, hi = case["conf_int"]
    assert r.lower == (-math.inf if lo is None else pytest.approx(lo, rel=1e-9, abs=1e-12))
    assert r.upper == (math.inf if hi is None else pytest.approx(hi, rel=1e-9, abs=1e-12))
    assert r.conf_level == pytest.approx(case["conf_level"], rel=1e-12)
    assert ("exact" in r.ci_method) == ("exact" in case["method"])


def test_unachievable_level_warns_and_reports_the_achieved_level():
    with pytest.warns(SparseDataWarning, match="not achievable"):
        r = mann_whitney([1.1, 2.3, 3.9], [0.4, 1.7], conf_int=True)
    assert r.conf_level == pytest.approx(0.8)


def test_exact_estimate_is_the_median_of_pairwise_differences_and_shift_equivariant():
    rng = np.random.default_rng(3)
    x, y = rng.normal(1, 1, 12), rng.normal(0, 1, 10)
    r = mann_whitney(x, y, conf_int=True)
    assert r.estimate == pytest.approx(np.median(np.subtract.outer(x, y)))
    s = mann_whitney(x + 2.5, y, conf_int=True)
    assert s.estimate == pytest.approx(r.estimate + 2.5)
    assert (s.lower, s.upper) == pytest.approx((r.lower + 2.5, r.upper + 2.5))
    assert r.lower <= r.estimate <= r.upper


def test_without_conf_int_no_estimate():
    r = mann_whitney([1, 2, 3], [4, 5, 6])
    assert r.estimate is None and r.lower is None and r.ci_method is None
