"""Row-order and machine invariance of every estimator that has ties (issue 14).

Two kinds of test:

* **Kernel-independent guards.** The same covariate row placed at every position of a large
  design matrix must give bit-identical linear predictors, propensity scores and tie groups.
  A BLAS ``X @ beta`` gives such rows values that differ in the last bit on some processors'
  kernels (it did for 3 of lung's 128 covariate patterns without ``OPENBLAS_CORETYPE``), so
  these fail wherever the accumulation order depends on the row's position, without relying
  on this machine's kernel showing it: besides the numerical check, a source check refuses a
  matrix product in any line of ``cartlens.stats`` that computes a linear predictor.
* **Permutation tests.** Data with many tied times and tied covariate patterns, fitted in two
  row orders, give the same results to 1e-12 (KM, log-rank, Cox with concordance and zph,
  Fine–Gray, cuminc, matching, weighting, seeded bootstrap and permutation tests).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from cartlens.stats._linalg import linear_predictor, linear_predictor_t
from cartlens.stats.competing import cuminc
from cartlens.stats.cox import coxph
from cartlens.stats.finegray import finegray
from cartlens.stats.km import kaplan_meier
from cartlens.stats.logrank import logrank_test
from cartlens.stats.matching import match_nearest
from cartlens.stats.propensity import propensity_score_arrays
from cartlens.stats.resample import (
    bootstrap_cox,
    bootstrap_km_median,
    bootstrap_km_survival,
    permutation_logrank,
)
from cartlens.stats.weighting import iptw_weights
from cartlens.stats.zph import cox_zph

RTOL = 1e-12
STATS_SRC = Path(__file__).resolve().parents[2] / "src" / "cartlens" / "stats"


# ------------------------------------------------------------------ helpers


def assert_same(a, b, path: str = "result", skip: tuple[str, ...] = ()) -> None:
    """Nested dicts/lists of numbers agree to RTOL (relative, with a 1e-14 absolute floor)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            if k not in skip:
                assert_same(a[k], b[k], f"{path}.{k}", skip)
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]", skip)
    elif isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            assert a is b, path
        elif math.isnan(a) or math.isnan(b):
            assert math.isnan(a) and math.isnan(b), path
        else:
            assert a == pytest.approx(b, rel=RTOL, abs=1e-14), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def tied():
    """n = 400 with integer times 1..25, 3-level and 2-level covariates, repeated rows."""
    rng = np.random.default_rng(20261204)
    n = 400
    x1 = rng.integers(0, 3, n).astype(float)
    x2 = rng.integers(0, 2, n).astype(float)
    x3 = np.round(rng.normal(60, 8, n), 0)  # ages in whole years: tied patterns
    lin = 0.4 * x1 - 0.5 * x2 + 0.02 * (x3 - 60)
    t = np.minimum(np.ceil(rng.exponential(12 * np.exp(-lin))), 25.0)
    status = rng.choice([0, 1, 2], n, p=[0.3, 0.5, 0.2])
    status[t == 25] = 0
    event = (status > 0).astype(int)
    group = np.array(["a", "b", "c"])[x1.astype(int)]
    strata = np.array(["s1", "s2"])[rng.integers(0, 2, n)]
    X = np.column_stack([x1, x2, x3])
    perm = rng.permutation(n)
    return {
        "n": n, "t": t, "status": status, "event": event, "X": X, "group": group,
        "strata": strata, "treat": x2.astype(int), "perm": perm, "ids": np.arange(n),
    }  # fmt: skip


def both(d, f):
    """f(columns) on the data as given and with its rows permuted."""
    p = d["perm"]
    cols = {k: v for k, v in d.items() if isinstance(v, np.ndarray) and k != "perm"}
    return f(cols), f({k: v[p] for k, v in cols.items()})


# ------------------------------------------------------------------ kernel-independent guards


@pytest.mark.parametrize("p", [1, 3, 7, 16])
def test_repeated_row_gives_bit_identical_predictor_at_every_position(p):
    rng = np.random.default_rng(p)
    n = 20_011  # not a multiple of any kernel block
    X = rng.normal(size=(n, p))
    row = rng.normal(size=p) * 1e3  # large values: rounding differences would show
    X[::3] = row  # the same row at every third position, across all blocks and remainders
    X[-1] = row
    beta = rng.normal(size=p) / 7
    for lp in (linear_predictor(X, beta), linear_predictor_t(np.ascontiguousarray(X.T), beta)):
        vals = lp[::3]
        assert np.unique(vals).size == 1
        assert lp[-1] == vals[0]
    # an all-identical design: one value
    same = np.tile(row, (n, 1))
    assert np.unique(linear_predictor(same, beta)).size == 1


def _patterned_design(n: int, p: int, layout: str, seed: int):
    """n rows, each one of 16 covariate patterns, in C or Fortran memory order (a column-major
    design is what makes BLAS gemv treat rows differently by position on common kernels)."""
    rng = np.random.default_rng(seed)
    patterns = rng.normal(size=(16, p)) * 50
    k = rng.integers(0, 16, n)
    return np.array(patterns[k], order=layout), k, rng


@pytest.mark.parametrize(("n", "p", "layout"), [(1001, 3, "F"), (1001, 7, "F"), (6000, 5, "C")])
def test_cox_repeated_pattern_is_one_tie_group_in_the_concordance(n, p, layout):
    """Every row shares one of 16 covariate patterns, placed at all positions: the concordance
    must count exactly the pairs tied on the inputs as tied in x."""
    X, k, rng = _patterned_design(n, p, layout, seed=p)
    t = rng.integers(1, 400, n).astype(float)
    e = (rng.random(n) < 0.8).astype(int)
    fit = coxph(t, e, X)
    # comparable pairs tied on the input pattern: an event at t and a row of the same pattern
    # still at risk after it (a later time, or censored at t: R counts censoring as later)
    tied_x = 0
    for pat in range(16):
        m = k == pat
        tp, ep = np.sort(t[m]), e[m][np.argsort(t[m], kind="stable")]
        later = tp.size - np.searchsorted(tp, tp, side="right")
        cens = np.sort(t[m][e[m] == 0])
        cens_at = np.searchsorted(cens, tp, side="right") - np.searchsorted(cens, tp, side="left")
        tied_x += int((later + cens_at)[ep == 1].sum())
    assert fit.concordance["tied_x"] == tied_x


@pytest.mark.parametrize(("n", "p", "layout"), [(1001, 3, "F"), (1001, 7, "F"), (9001, 5, "C")])
def test_propensity_scores_of_identical_rows_are_identical_and_match_as_ties(n, p, layout):
    X, k, rng = _patterned_design(n, p, layout, seed=10 + p)
    X = np.array(X + rng.normal(size=(n, p)) * (k != 0)[:, None], order=layout)
    treat = (rng.random(n) < 0.4).astype(int)
    treat[:2] = [0, 1]
    ps = propensity_score_arrays(treat, X)
    same = np.flatnonzero(k == 0)  # rows that keep pattern 0 exactly, at all positions
    assert np.unique(ps.ps[same]).size == 1
    # matching on those scores: the tied units share one distance value
    m = match_nearest(ps.ps, ps.treat, caliper=None, ids=np.arange(n))
    assert np.unique(m.distance[same]).size == 1


def test_no_matrix_product_computes_a_linear_predictor_in_stats():
    """Source guard: a linear predictor is never a BLAS product (see docs/architecture.md)."""
    pat = re.compile(r"^\s*(eta|lp|linpred|lin_pred|risk_score)\w*\s*=.*@")
    bad = [
        f"{f.name}:{i}: {line.strip()}"
        for f in sorted(STATS_SRC.glob("*.py"))
        for i, line in enumerate(f.read_text().splitlines(), 1)
        if pat.search(line)
    ]
    assert not bad, "linear predictors computed with '@':\n" + "\n".join(bad)


# ------------------------------------------------------------------ permutation invariance


def test_km_row_order(tied):
    a, b = both(tied, lambda c: kaplan_meier(c["t"], c["event"], group=c["group"]).to_dict())
    assert_same(a, b)


def test_km_weighted_robust_row_order(tied):
    def f(c):
        w = 1.0 + c["X"][:, 1]
        return kaplan_meier(c["t"], c["event"], weights=w, robust=True).to_dict()

    assert_same(*both(tied, f))


def test_logrank_row_order(tied):
    def f(c):
        return [
            logrank_test(c["t"], c["event"], c["group"]).to_dict(),
            logrank_test(c["t"], c["event"], c["group"], strata=c["strata"], rho=1).to_dict(),
        ]

    assert_same(*both(tied, f))


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_concordance_row_order(tied, ties):
    def f(c):
        return coxph(c["t"], c["event"], c["X"], ties=ties, strata=c["strata"]).to_dict()

    a, b = both(tied, f)
    assert_same(a, b)
    assert a["concordance"]["tied_x"] > 0  # the data do have tied predictors


def test_cox_robust_cluster_row_order(tied):
    def f(c):
        clus = c["ids"] // 2
        return coxph(c["t"], c["event"], c["X"], cluster=clus, robust=True).to_dict()

    assert_same(*both(tied, f))


def test_zph_row_order(tied):
    a, b = both(tied, lambda c: cox_zph(c["t"], c["event"], c["X"]).to_dict())
    assert_same(a, b, skip=("x", "y", "time", "residuals"))


def test_finegray_row_order(tied):
    a, b = both(tied, lambda c: finegray(c["t"], c["status"], c["X"]).to_dict())
    # the score at the solution is zero up to rounding (|U| ~ 1e-9): compared absolutely
    assert np.allclose(a.pop("score"), b.pop("score"), rtol=0, atol=1e-12)
    assert_same(a, b)


def test_cuminc_row_order(tied):
    a, b = both(tied, lambda c: cuminc(c["t"], c["status"], group=c["group"]).to_dict())
    assert_same(a, b)


def test_matching_and_weights_row_order(tied):
    def f(c):
        ps = propensity_score_arrays(c["treat"], c["X"][:, [0, 2]])
        m = match_nearest(ps.ps, ps.treat, caliper=0.2, ids=c["ids"])
        w = iptw_weights(ps.ps, ps.treat, estimand="ate", stabilize=True)
        pairs = sorted(zip(c["ids"][m.pairs_treated].tolist(), c["ids"][m.pairs_control].tolist()))
        by_id = np.argsort(c["ids"])
        return {
            "coef": ps.coef.tolist(),
            "ps": ps.ps[by_id].tolist(),
            "pairs": pairs,
            "weights": np.asarray(w.weights)[by_id].tolist(),
            "matched_weights": m.weights[by_id].tolist(),
        }

    a, b = both(tied, f)
    assert_same(a, b)
    assert len(a["pairs"]) > 50


def test_seeded_bootstrap_row_order(tied):
    def f(c):
        return [
            bootstrap_km_median(
                c["t"], c["event"], c["group"], n_boot=60, seed=5, ids=c["ids"]
            ).to_dict(),
            bootstrap_km_survival(
                c["t"], c["event"], times=[5, 10], n_boot=60, seed=5, ids=c["ids"]
            ).to_dict(),
            bootstrap_cox(c["t"], c["event"], c["X"], n_boot=30, seed=5, ids=c["ids"]).to_dict(),
        ]

    assert_same(*both(tied, f))


def test_seeded_permutation_logrank_row_order(tied):
    def f(c):
        return permutation_logrank(c["t"], c["event"], c["group"], n_perm=300, seed=9).to_dict()

    assert_same(*both(tied, f))
