"""B1 (bootstrap) and B2 (scale) benchmarks of the statistical core.

B1 - resampling: 1,000 bootstrap replicates of {Cox model with 3 covariates (Efron ties) +
Kaplan-Meier median of 2 groups} on n = 200 rows (ordinary resampling of rows).
  cartlens: ``bootstrap_counts`` + ``bootstrap_cox`` + ``bootstrap_km_median`` on the same
  count matrix (batched). R: a loop of ``sample.int`` + ``coxph`` + ``survfit`` (median from
  ``summary(fit)$table``). lifelines: a loop of ``CoxPHFitter`` + ``KaplanMeierFitter``.

B2 - scale: Kaplan-Meier by group + log-rank + Cox (5 covariates, Efron, daily ties) on
1,000,000 subjects held in memory. cartlens: ``kaplan_meier``, ``logrank_test``, ``coxph``.
R: ``survfit`` + ``survdiff`` + ``coxph``. lifelines: ``KaplanMeierFitter`` per group,
``logrank_test``, ``CoxPHFitter``. statsmodels: ``SurvfuncRight`` per group, ``survdiff``,
``PHReg(ties="efron")``.

Sizes: ``--quick`` uses 100 replicates (B1) and 100,000 subjects (B2); lifelines in B1 runs
fewer replicates and is scaled linearly to the replicate count (said in the notes).
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np

from _harness import (
    R_PROLOGUE,
    peak_memory_mb,
    peer_enabled,
    repeats,
    rscript,
    run_r,
    time_call,
    write_csv,
)
from _harness import tiny as _tiny

IDS = ("B1", "B2")


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


def b1_data(n: int = 200, seed: int = 20240101) -> dict:
    """n subjects: 3 covariates, a 2-level group, times in whole days (ties), ~30% censored."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 2, n).astype(float)
    x3 = rng.normal(size=n)
    grp = rng.integers(0, 2, n)
    lp = 0.5 * x1 - 0.4 * x2 + 0.3 * x3 + 0.4 * grp
    t = np.ceil(rng.exponential(365 * np.exp(-lp)))
    c = np.ceil(rng.uniform(180, 1500, n))
    event = (t <= c).astype(int)
    return {
        "time": np.minimum(t, c),
        "event": event,
        "x1": x1,
        "x2": x2,
        "x3": x3,
        "grp": grp,
    }


def b2_data(n: int = 1_000_000, seed: int = 20240102) -> dict:
    """n subjects: 5 covariates, a 2-level group, daily times up to ~5 years."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.normal(size=n),
            rng.integers(0, 2, n),
            rng.normal(size=n),
            rng.integers(0, 2, n),
            rng.normal(60, 10, n),
        ]
    ).astype(float)
    grp = rng.integers(0, 2, n)
    lp = X @ np.array([0.3, -0.2, 0.1, 0.25, 0.02]) + 0.3 * grp - 1.2
    t = np.ceil(rng.exponential(365 * np.exp(-lp)))
    c = np.ceil(rng.uniform(30, 1826, n))
    d = {"time": np.minimum(t, c), "event": (t <= c).astype(int), "grp": grp}
    for j in range(5):
        d[f"x{j + 1}"] = X[:, j]
    return d


# ---------------------------------------------------------------------------------------------
# B1
# ---------------------------------------------------------------------------------------------


def _b1_cartlens(d: dict, n_boot: int, seed: int = 1):
    from cartlens.stats.resample import bootstrap_counts, bootstrap_cox, bootstrap_km_median

    X = np.column_stack([d["x1"], d["x2"], d["x3"]])
    n = X.shape[0]

    def go():
        counts = bootstrap_counts(n, n_boot, seed=seed)
        cox = bootstrap_cox(d["time"], d["event"], X, names=["x1", "x2", "x3"], counts=counts)
        km = bootstrap_km_median(d["time"], d["event"], d["grp"], counts=counts)
        return cox, km

    return go


B1_R = """
d <- read.csv("{csv}")
n <- nrow(d)
load <- .t_load()
full <- coxph(Surv(time, event) ~ x1 + x2 + x3, data = d, ties = "efron")
compute <- Inf
invisible(gc(reset = TRUE))
for (rep in seq_len({repeat})) {{
  set.seed(1)
  t0 <- .tic()
  for (b in seq_len({reps})) {{
    i <- sample.int(n, n, replace = TRUE)
    db <- d[i, ]
    f <- coxph(Surv(time, event) ~ x1 + x2 + x3, data = db, ties = "efron")
    k <- survfit(Surv(time, event) ~ grp, data = db)
    m <- summary(k)$table[, "median"]
  }}
  compute <- min(compute, .tic() - t0)
}}
cat(sprintf("load=%.6f\\ncompute=%.6f\\n", load, compute))
cat(sprintf("peak_mb=%.3f\\n", sum(gc()[, 6])))
cat("coef=", paste(sprintf("%.15g", coef(full)), collapse = ","), "\\n", sep = "")
"""


def _b1_lifelines(d: dict, reps: int, seed: int = 1) -> float:
    import pandas as pd
    from lifelines import CoxPHFitter, KaplanMeierFitter

    df = pd.DataFrame(d)
    cols = ["time", "event", "x1", "x2", "x3"]
    rng = np.random.default_rng(seed)
    n = len(df)

    def go():
        for _ in range(reps):
            db = df.iloc[rng.integers(0, n, n)]
            CoxPHFitter().fit(db[cols], "time", "event")
            for g in (0, 1):
                s = db[db.grp == g]
                _ = KaplanMeierFitter().fit(s.time, s.event).median_survival_time_

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        secs, _ = time_call(go)
    return secs


def run_b1(quick: bool = False) -> dict:
    tiny = _tiny()
    n = 40 if tiny else 200
    n_boot = 10 if tiny else (100 if quick else 1000)
    lif_reps = 2 if tiny else (10 if quick else n_boot)
    d = b1_data(n)
    notes = [f"n={n}, {n_boot} replicates, best of {repeats()} for cartlens and R"]
    details: dict = {"n": n, "n_boot": n_boot}

    go = _b1_cartlens(d, n_boot)
    _b1_cartlens(d, 5)()  # warm-up: imports and first-call costs are not timed
    secs, (cox, km) = time_call(go, repeat=repeats())
    details["cartlens_cox_hr_ci"] = {t.term: [t.hr_lower, t.hr_upper] for t in cox.terms}
    details["cartlens_km_median_ci"] = {t.term: [t.lower, t.upper] for t in km.terms}
    peak = peak_memory_mb(go)

    r_secs = None
    if rscript():
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "b1.csv"
            write_csv(csv, d)
            out = run_r(R_PROLOGUE + B1_R.format(csv=csv.as_posix(), reps=n_boot, repeat=repeats()))
        r_secs = float(out["compute"])
        details["r_load"] = float(out["load"])
        details["r_peak_mb"] = float(out["peak_mb"])
        r_coef = np.array([float(v) for v in out["coef"].split(",")])
        ours = np.array([t.estimate for t in cox.terms])
        details["full_data_coef_max_rel_diff_vs_r"] = float(
            np.max(np.abs(ours - r_coef) / np.abs(r_coef))
        )
        notes.append(
            f"R load {details['r_load']:.2f}s not included; R heap max used "
            f"{details['r_peak_mb']:.0f} MB (gc(), whole session incl. data)"
        )
    lif = None
    if peer_enabled("lifelines"):
        lif = _b1_lifelines(d, lif_reps) * (n_boot / lif_reps)
        if lif_reps != n_boot:
            notes.append(f"lifelines ran {lif_reps} replicates, scaled x{n_boot / lif_reps:g}")
    return {
        "id": "B1",
        "label": "bootstrap: Cox (3 covariates, Efron) + KM median of 2 groups",
        "cartlens": secs,
        "r": r_secs,
        "lifelines": lif,
        "cartlens_peak_mb": peak,
        "notes": "; ".join(notes),
        "details": details,
    }


# ---------------------------------------------------------------------------------------------
# B2
# ---------------------------------------------------------------------------------------------


def _b2_cartlens_parts(d: dict) -> dict:
    """name -> zero-argument callable for each cartlens component (None if unavailable)."""
    X = np.column_stack([d[f"x{j}"] for j in range(1, 6)])
    parts = {}
    try:
        from cartlens.stats.km import kaplan_meier

        parts["km"] = lambda: kaplan_meier(d["time"], d["event"], group=d["grp"])
    except ImportError:
        parts["km"] = None
    try:
        from cartlens.stats.logrank import logrank_test

        parts["logrank"] = lambda: logrank_test(d["time"], d["event"], d["grp"])
    except ImportError:
        parts["logrank"] = None
    try:
        from cartlens.stats.cox import coxph

        parts["cox"] = lambda: coxph(d["time"], d["event"], X, ties="efron")
    except ImportError:
        parts["cox"] = None
    return parts


B2_R = """
d <- read.csv("{csv}")
load <- .t_load()
t_km <- t_lr <- t_cox <- Inf
invisible(gc(reset = TRUE))
for (rep in seq_len({repeat})) {{
  t0 <- .tic(); km <- survfit(Surv(time, event) ~ grp, data = d); m <- summary(km)$table
  t_km <- min(t_km, .tic() - t0)
  t0 <- .tic(); lr <- survdiff(Surv(time, event) ~ grp, data = d)
  t_lr <- min(t_lr, .tic() - t0)
  t0 <- .tic()
  cx <- coxph(Surv(time, event) ~ x1 + x2 + x3 + x4 + x5, data = d, ties = "efron")
  t_cox <- min(t_cox, .tic() - t0)
}}
cat(sprintf("load=%.6f\\nkm=%.6f\\nlogrank=%.6f\\ncox=%.6f\\n", load, t_km, t_lr, t_cox))
cat(sprintf("chisq=%.15g\\n", lr$chisq))
cat(sprintf("peak_mb=%.3f\\n", sum(gc()[, 6])))
cat("coef=", paste(sprintf("%.15g", coef(cx)), collapse = ","), "\\n", sep = "")
"""


def _b2_lifelines(d: dict) -> dict:
    import pandas as pd
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test

    df = pd.DataFrame(d)
    g = df.grp.to_numpy()
    T, E = df.time.to_numpy(), df.event.to_numpy()

    def km():
        for v in (0, 1):
            _ = KaplanMeierFitter().fit(T[g == v], E[g == v]).median_survival_time_

    cols = ["time", "event", "x1", "x2", "x3", "x4", "x5"]
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["km"] = time_call(km)[0]
        out["logrank"] = time_call(
            lambda: logrank_test(T[g == 0], T[g == 1], E[g == 0], E[g == 1])
        )[0]
        out["cox"] = time_call(lambda: CoxPHFitter().fit(df[cols], "time", "event"))[0]
    return out


def _b2_statsmodels(d: dict) -> dict:
    from statsmodels.duration.hazard_regression import PHReg
    from statsmodels.duration.survfunc import SurvfuncRight, survdiff

    T, E, g = d["time"], d["event"], d["grp"]
    X = np.column_stack([d[f"x{j}"] for j in range(1, 6)])

    def km():
        for v in (0, 1):
            SurvfuncRight(T[g == v], E[g == v]).quantile(0.5)

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["km"] = time_call(km)[0]
        out["logrank"] = time_call(lambda: survdiff(T, E, g))[0]
        out["cox"] = time_call(lambda: PHReg(T, X, status=E, ties="efron").fit())[0]
    return out


def run_b2(quick: bool = False) -> dict:
    tiny = _tiny()
    n = 2_000 if tiny else (100_000 if quick else 1_000_000)
    d = b2_data(n)
    names = ("km", "logrank", "cox")
    comps: dict = {k: {} for k in names}
    notes = [f"n={n:,}, best of {repeats()} for cartlens and R, 1 run for the others"]
    details: dict = {"n": n, "events": int(d["event"].sum())}

    parts = _b2_cartlens_parts(d)
    small = b2_data(1000, seed=1)
    for fn in _b2_cartlens_parts(small).values():  # warm-up (imports, first calls)
        if fn is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn()
    results = {}
    for k in names:
        fn = parts[k]
        if fn is None:
            comps[k]["cartlens"] = None
            notes.append(f"cartlens {k} not available")
            continue
        comps[k]["cartlens"], results[k] = time_call(fn, repeat=repeats())
    total = (
        None
        if any(comps[k]["cartlens"] is None for k in names)
        else sum(comps[k]["cartlens"] for k in names)
    )
    peaks = {k: peak_memory_mb(parts[k]) for k in names if parts[k] is not None}
    details["cartlens_peak_mb_by_component"] = peaks

    r_total = None
    if rscript():
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "b2.csv"
            write_csv(csv, d)
            out = run_r(R_PROLOGUE + B2_R.format(csv=csv.as_posix(), repeat=repeats()))
        for k in names:
            comps[k]["r"] = float(out[k])
        r_total = sum(comps[k]["r"] for k in names)
        details["r_load"] = float(out["load"])
        details["r_peak_mb"] = float(out["peak_mb"])
        notes.append(
            f"R load+read.csv {details['r_load']:.1f}s not included; R heap max used "
            f"{details['r_peak_mb']:.0f} MB (gc(), whole session incl. data)"
        )
        if "cox" in results:
            r_coef = np.array([float(v) for v in out["coef"].split(",")])
            details["cox_coef_max_rel_diff_vs_r"] = float(
                np.max(np.abs(np.asarray(results["cox"].coef) - r_coef) / np.abs(r_coef))
            )
        if "logrank" in results:
            details["logrank_chisq_rel_diff_vs_r"] = float(
                abs(results["logrank"].chisq - float(out["chisq"])) / float(out["chisq"])
            )
    else:
        for k in names:
            comps[k]["r"] = None
    lif_total = None
    if peer_enabled("lifelines"):
        lt = _b2_lifelines(d)
        for k in names:
            comps[k]["lifelines"] = lt[k]
        lif_total = sum(lt.values())
    sm_total = None
    if peer_enabled("statsmodels"):
        st = _b2_statsmodels(d)
        for k in names:
            comps[k]["statsmodels"] = st[k]
        sm_total = sum(st.values())
    return {
        "id": "B2",
        "label": "KM by group + log-rank + Cox (5 covariates, Efron, daily ties), in memory",
        "cartlens": total,
        "r": r_total,
        "lifelines": lif_total,
        "statsmodels": sm_total,
        "components": comps,
        "cartlens_peak_mb": max(peaks.values()) if peaks else None,
        "notes": "; ".join(notes),
        "details": details,
    }


def run(quick: bool = False, only: set | None = None) -> list[dict]:
    """Run B1 and B2 (or those of them in ``only``)."""
    out = []
    if not only or "B1" in only:
        out.append(run_b1(quick))
    if not only or "B2" in only:
        out.append(run_b2(quick))
    return out
