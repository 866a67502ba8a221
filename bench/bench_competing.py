"""B3-B5: competing-risks benchmarks against R's cmprsk.

B3 - Fine-Gray, 3 covariates, 10,000 subjects: cartlens ``finegray`` vs ``cmprsk::crr``
  (same data, same convergence rule gtol = 1e-6, maxiter = 10 as crr's default).
B4 - Fine-Gray, 3 covariates, 1,000,000 subjects: cartlens ``finegray``. crr cannot run at
  this size (O(n^2) per iteration, O(n^3) for the variance); the peer ``r_crr_10k`` is crr's
  time on the 10,000 subjects of B3 (the issue's goal: 1e6 with cartlens in less time than
  crr needs for 1e4).
B5 - cumulative incidence by 2 groups (2 causes) + Gray's test, 1,000,000 subjects: cartlens
  ``cuminc`` vs ``cmprsk::cuminc``.

``--quick``: B3 with 2,000 subjects (crr takes ~100 s on 10,000), B4 with 100,000, B5 with
100,000. Times in whole days (ties), ~25% censored, causes 1/2 about 60/40.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from _harness import R_PROLOGUE, peak_memory_mb, repeats, rscript, run_r, time_call, write_csv
from _harness import tiny as _tiny

IDS = ("B3", "B4", "B5")


def cr_data(n: int, seed: int = 20240303) -> dict:
    """n subjects, 3 covariates (normal, binary, normal), a 2-level group, day-level ties."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 2, n).astype(float)
    x3 = rng.normal(size=n)
    grp = rng.integers(0, 2, n)
    lp = 0.4 * x1 - 0.3 * x2 + 0.2 * x3 + 0.3 * grp
    t = np.ceil(rng.exponential(365 * np.exp(-lp)))
    c = np.ceil(rng.uniform(30, 1500, n))
    cause = np.where(rng.random(n) < 0.6, 1, 2)
    status = np.where(t <= c, cause, 0)
    return {
        "time": np.minimum(t, c),
        "status": status,
        "x1": x1,
        "x2": x2,
        "x3": x3,
        "grp": grp,
    }


def _fg(d: dict):
    from cartlens.stats.finegray import finegray

    X = np.column_stack([d["x1"], d["x2"], d["x3"]])
    return finegray(d["time"], d["status"], X, gtol=1e-6, maxiter=10)


def _ci(d: dict):
    from cartlens.stats.competing import cuminc

    return cuminc(d["time"], d["status"], group=d["grp"])


R_CRR = (
    R_PROLOGUE
    + """
suppressMessages(library(cmprsk))
d <- read.csv("{path}")
cat("r_load=", .t_load(), "\\n", sep = "")
t0 <- .tic()
f <- crr(d$time, d$status, cbind(d$x1, d$x2, d$x3), failcode = 1, cencode = 0)
cat("r=", .tic() - t0, "\\n", sep = "")
cat("coef=", paste(format(f$coef, digits = 15), collapse = ","), "\\n", sep = "")
"""
)

R_CUMINC = (
    R_PROLOGUE
    + """
suppressMessages(library(cmprsk))
d <- read.csv("{path}")
cat("r_load=", .t_load(), "\\n", sep = "")
best <- Inf
for (i in seq_len({rep})) {{
  t0 <- .tic()
  r <- cuminc(d$time, d$status, d$grp, cencode = 0)
  best <- min(best, .tic() - t0)
}}
cat("r=", best, "\\n", sep = "")
cat("stat=", paste(format(r$Tests[, 1], digits = 15), collapse = ","), "\\n", sep = "")
"""
)


def _r(template: str, d: dict, **kw) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cr.csv"
        write_csv(path, d)
        return run_r(template.format(path=path, **kw))


def run(quick: bool = False, only: set | None = None) -> list[dict]:
    tiny = _tiny()
    n3 = 300 if tiny else (2_000 if quick else 10_000)
    n4 = 3_000 if tiny else (100_000 if quick else 1_000_000)
    n5 = 3_000 if tiny else (100_000 if quick else 1_000_000)
    rep = repeats()
    want = only or set(IDS)
    # imports and first-use initialisation are not part of the timed computation
    warm = cr_data(200, seed=1)
    _fg(warm)
    _ci(warm)
    out = []
    r_crr = None
    if {"B3", "B4"} & want:
        d3 = cr_data(n3)
        t_cl, fit = time_call(lambda: _fg(d3), rep)
        notes = f"n={n3}, 3 covariates, gtol=1e-6 maxiter=10 (crr default)"
        details = {"coef": fit.coef.tolist()}
        if rscript():
            r = _r(R_CRR, d3)
            r_crr = float(r["r"])
            rc = np.array([float(v) for v in r["coef"].split(",")])
            details["r_coef"] = rc.tolist()
            notes += f"; max rel coef diff vs crr {np.max(np.abs(fit.coef / rc - 1)):.1e}"
        if "B3" in want:
            out.append(
                {
                    "id": "B3",
                    "label": f"Fine-Gray (crr), 3 covariates, n={n3:,}",
                    "cartlens": t_cl,
                    "r": r_crr,
                    "cartlens_peak_mb": peak_memory_mb(lambda: _fg(d3)),
                    "notes": notes,
                    "details": details,
                }
            )
    if "B4" in want:
        d4 = cr_data(n4)
        t4, fit4 = time_call(lambda: _fg(d4), min(rep, 2))
        out.append(
            {
                "id": "B4",
                "label": f"Fine-Gray, 3 covariates, n={n4:,}",
                "cartlens": t4,
                "r": None,
                "r_crr_10k": r_crr if n3 == 10_000 else None,
                "notes": (
                    f"n={n4}; crr is infeasible at this size; r_crr_10k = crr on the "
                    f"{n3:,} subjects of B3"
                    + ("" if n3 == 10_000 else " (not reported: B3 ran below 10,000)")
                ),
                "details": {"coef": fit4.coef.tolist(), "iterations": fit4.iterations},
            }
        )
    if "B5" in want:
        d5 = cr_data(n5)
        t5, res = time_call(lambda: _ci(d5), rep)
        r5 = None
        notes = f"n={n5}, 2 groups x 2 causes, CIFs with Gray's variance + Gray's test"
        if rscript():
            r = _r(R_CUMINC, {k: d5[k] for k in ("time", "status", "grp")}, rep=rep)
            r5 = float(r["r"])
            rs = np.array([float(v) for v in r["stat"].split(",")])
            mine = np.array([g.stat for g in res.gray_test])
            notes += f"; max rel Gray stat diff vs cuminc {np.max(np.abs(mine / rs - 1)):.1e}"
        out.append(
            {
                "id": "B5",
                "label": f"cuminc + Gray's test, n={n5:,}",
                "cartlens": t5,
                "r": r5,
                "cartlens_peak_mb": peak_memory_mb(lambda: _ci(d5)),
                "notes": notes,
            }
        )
    return out
