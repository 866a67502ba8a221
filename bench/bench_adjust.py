"""B7: propensity score + 1:1 caliper matching (cartlens) beside R MatchIt.

B7  - logistic PS on 10 covariates + greedy 1:1 nearest-neighbour matching without
      replacement, caliper 0.2 SD of the PS (MatchIt's scale), 1,000,000 subjects (goal:
      under 10 s on the 2-core machine). Peer ``r_matchit_100k``: MatchIt on the 100,000
      subjects of B7a.
B7a - the same on 100,000 subjects: cartlens vs ``MatchIt::matchit(treat ~ x1 + ... + x10,
      method = "nearest", distance = "glm", caliper = 0.2)``.

The timed cartlens call is ``propensity_score_arrays`` + ``match_nearest`` (PS fit, caliper,
sorted search with union-find "next available" pointers); R's is ``matchit()`` (glm + its
C++ matcher). Note: MatchIt 4.5.1-4.5.3 ignore the caliper in this kind of matching
(MatchIt issue #163), so R matches every treated unit; the matched counts are reported.

``--quick``: 100,000 and 20,000 subjects.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from _harness import R_PROLOGUE, peak_memory_mb, repeats, rscript, run_r, time_call, write_csv
from _harness import tiny as _tiny

IDS = ("B7", "B7a")


def ps_data(n: int, seed: int = 20240707) -> dict:
    """n subjects, 10 covariates (7 normal, 3 binary), about 30% treated."""
    rng = np.random.default_rng(seed)
    cols = {}
    for j in range(10):
        cols[f"x{j + 1}"] = rng.normal(size=n) if j < 7 else rng.integers(0, 2, n).astype(float)
    X = np.column_stack(list(cols.values()))
    beta = np.array([0.4, -0.3, 0.2, 0.1, -0.2, 0.15, 0.05, 0.3, -0.4, 0.2])
    lp = -1.0 + X @ beta
    treat = (rng.random(n) < 1.0 / (1.0 + np.exp(-lp))).astype(np.int64)
    return {"treat": treat, **cols}


def _cartlens(d: dict):
    from cartlens.stats.matching import match_nearest
    from cartlens.stats.propensity import propensity_score_arrays

    X = np.column_stack([d[f"x{j + 1}"] for j in range(10)])
    fit = propensity_score_arrays(d["treat"], X)
    return match_nearest(fit.ps, fit.treat, caliper=0.2, scale="ps")


R_MATCHIT = (
    R_PROLOGUE
    + """
suppressMessages(library(MatchIt))
d <- read.csv("{path}")
cat("r_load=", .t_load(), "\\n", sep = "")
best <- Inf
for (i in seq_len({rep})) {{
  t0 <- .tic()
  m <- matchit(treat ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10, data = d,
               method = "nearest", distance = "glm", caliper = 0.2)
  best <- min(best, .tic() - t0)
}}
cat("r=", best, "\\n", sep = "")
cat("matched=", sum(!is.na(m$match.matrix[, 1])), "\\n", sep = "")
cat("version=", as.character(packageVersion("MatchIt")), "\\n", sep = "")
"""
)


def _r(d: dict, rep: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ps.csv"
        write_csv(path, d)
        return run_r(R_MATCHIT.format(path=path, rep=rep))


def run(quick: bool = False, only: set | None = None) -> list[dict]:
    tiny = _tiny()
    n_big = 3_000 if tiny else (100_000 if quick else 1_000_000)
    n_r = 1_000 if tiny else (20_000 if quick else 100_000)
    rep = repeats()
    want = only or set(IDS)
    out: list[dict] = []
    _cartlens(ps_data(500))  # warm-up: imports (scipy, formulaic) are not timed
    r_time = None
    r_notes = ""
    if "B7a" in want or "B7" in want:
        d = ps_data(n_r)
        t_cl, m = time_call(lambda: _cartlens(d), rep)
        notes = (
            f"n={n_r}, {int(d['treat'].sum())} treated; cartlens matched "
            f"{m.n_matched_treated} (caliper width {m.caliper_width:.3g})"
        )
        if rscript():
            r = _r(d, rep)
            r_time = float(r["r"])
            r_notes = f"; MatchIt {r.get('version')} matched {r.get('matched')} (caliper ignored)"
        if "B7a" in want:
            out.append(
                {
                    "id": "B7a",
                    "label": f"PS (10 covariates) + 1:1 caliper matching, n={n_r:,}",
                    "cartlens": t_cl,
                    "r": r_time,
                    "cartlens_peak_mb": peak_memory_mb(lambda: _cartlens(d)),
                    "notes": notes + r_notes,
                }
            )
    if "B7" in want:
        d = ps_data(n_big)
        t_big, m = time_call(lambda: _cartlens(d), 1 if n_big >= 1_000_000 else rep)
        out.append(
            {
                "id": "B7",
                "label": f"PS (10 covariates) + 1:1 caliper matching, n={n_big:,}",
                "cartlens": t_big,
                "r": None,
                "r_matchit_100k": r_time if n_r == 100_000 else None,
                "notes": (
                    f"n={n_big}, {int(d['treat'].sum())} treated, {m.n_matched_treated} matched; "
                    f"goal < 10 s; r_matchit_100k = MatchIt on the {n_r:,} subjects of B7a"
                    + ("" if n_r == 100_000 else " (not run at this size)")
                ),
            }
        )
    return out
