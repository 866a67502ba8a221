"""D2, B8, B9: scale - a national registry on one machine, Spark, and many centres.

D2  ``cartlens run`` of the reference study on synthetic registries
    (``cartlens registry synthetic``) of 2,000 / 20,000 / 100,000 patients (quick: 2,000 and
    20,000), end to end in a fresh process: import, derive, every analysis, report. Printed:
    wall time of the largest, the growth factor 2,000 -> 20,000, the process's peak RSS
    (``wait4``), and per stage (import, derive, each analysis, report) the seconds between
    the runner's progress lines. Goals: 100,000 < 60 s and < 4 GB; 20,000 < 45 s and at
    most 12x the 2,000 time.
B8  1,000,000 patients (quick 100,000): derive + KM + log-rank (OS by sex) + Cox (OS on age
    and course number, Efron, Newton on risk-set sums) with the aggregates made by SQL, on
    DuckDB and on Spark local mode (``local[2]``), each in its own process. Printed: seconds
    (store -> engine load excluded and reported apart), patients per second, peak RSS of the
    driver process and, for Spark, of the JVM (``VmHWM``). The registry is generated and
    imported once, outside the timings.
B9  three sites (quick 3 x 20,000 patients; full 3 x 100,000): ``site-export`` at each site
    (count tables and the Cox summary), ``pool`` of the counts, and the distributed Cox
    (file-free in-process rounds, every reply through JSON) against the single-store
    analysis of the concatenated derived rows (row-level KM, log-rank, Cox).

Timings are single runs (the sizes make repeats expensive) on a possibly shared machine;
the load average at each start is in the notes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import tiny

IDS = ("D2", "B8", "B9")
ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "src" / "cartlens" / "study" / "reference_study.toml"


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def _synthetic(folder: Path, patients: int, seed: int = 1) -> None:
    from cartlens.ingest.synthetic import write_registry

    write_registry(folder, patients, seed)


def _run_timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, list[tuple]]:
    """Run ``cmd``; return (wall s, peak RSS MB, [(stderr line, t)...], CPU s user+sys)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    lines = []
    for line in proc.stderr:
        lines.append((line.strip(), time.perf_counter() - t0))
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        tail = "\n".join(x for x, _ in lines[-20:])
        raise RuntimeError(f"{cmd[:4]} failed:\n{tail}")
    return wall, usage.ru_maxrss / 1024.0, lines, usage.ru_utime + usage.ru_stime


def _stages(lines: list[tuple], wall: float) -> dict[str, float]:
    """Seconds from each progress line to the next (the last stage runs to the end)."""
    marks = []
    for text, t in lines:
        m = re.match(r"analysis \d+/\d+: (\S+)", text)
        if m:
            marks.append((m.group(1), t))
        elif text.startswith("validating and importing"):
            marks.append(("import", t))
        elif text.startswith("deriving the analysis frames"):
            marks.append(("derive", t))
        elif text.startswith("drawing figures"):
            marks.append(("report", t))
    out: dict[str, float] = {}
    if marks:
        out["start"] = marks[0][1]
    for (name, t), nxt in zip(marks, [*marks[1:], ("end", wall)]):
        out[name] = out.get(name, 0.0) + (nxt[1] - t)
    return out


def _d2(quick: bool) -> dict:
    sizes = (300, 1000) if tiny() else ((2000, 20000) if quick else (2000, 20000, 100000))
    runs = {}
    with tempfile.TemporaryDirectory(prefix="cartlens-d2-") as tmp:
        for n in sizes:
            reg = Path(tmp) / f"reg{n}"
            _synthetic(reg, n)
            load = _load()
            cmd = [sys.executable, "-m", "cartlens.cli.main", "run", str(STUDY),
                   "--registry", str(reg), "--out", str(Path(tmp) / f"out{n}")]  # fmt: skip
            wall, rss, lines, cpu = _run_timed(cmd)
            runs[n] = {"wall": wall, "cpu": cpu, "peak_rss_mb": rss, "load": load,
                       "stages": _stages(lines, wall)}  # fmt: skip
    big = max(sizes)
    growth = runs[sizes[1]]["wall"] / runs[sizes[0]]["wall"]
    cpu_growth = runs[sizes[1]]["cpu"] / runs[sizes[0]]["cpu"]
    comps = {f"{name}@{big}": {"cartlens": sec} for name, sec in runs[big]["stages"].items()}
    for n in sizes:
        comps[f"total@{n}"] = {"cartlens": runs[n]["wall"]}
    notes = "; ".join(
        f"{n} patients: {r['wall']:.1f} s (CPU {r['cpu']:.1f} s), peak RSS "
        f"{r['peak_rss_mb']:.0f} MB, load {r['load']}"
        for n, r in runs.items()
    )
    return {
        "id": "D2",
        "label": f"reference study end to end on a {big}-patient synthetic registry",
        "cartlens": runs[big]["wall"],
        "cartlens_peak_mb": runs[big]["peak_rss_mb"],
        "peak_method": "peak RSS of the cartlens process (wait4)",
        "components": comps,
        "notes": f"{notes}; growth {sizes[0]}->{sizes[1]}: {growth:.1f}x wall, "
        f"{cpu_growth:.1f}x CPU "
        "(goals: 100k < 60 s, < 4 GB; 20k < 45 s; growth <= 12x)",
        "details": runs,
    }


_ENGINE_SCRIPT = r"""
import json, os, sys, time
import numpy as np
from cartlens.derive.aggregate import cox_sums_sql, covariate_means_sql, survival_counts_sql
from cartlens.derive.engines import DuckDBEngine, SparkEngine
from cartlens.derive.sql import infusion_sql
from cartlens.model.schema import ENTITIES
from cartlens.stats.aggregate import (counts_from_frame, cox_newton, km_from_counts,
    logrank_from_counts, risk_set_sums_from_frame)
engine, store = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
if engine == "spark":
    eng = SparkEngine.start("local[2]")
    eng.load_store(store, tuple(e.name for e in ENTITIES))
else:
    import duckdb
    eng = DuckDBEngine(duckdb.connect(store, read_only=True))
t_load = time.perf_counter() - t0
t1 = time.perf_counter()
if engine == "spark":
    eng.session.sql(eng.transpile(infusion_sql())).cache().createOrReplaceTempView("d")
    n = eng.session.table("d").count()
else:
    eng.con.execute("CREATE TEMP TABLE d AS " + infusion_sql())
    n = eng.con.execute("SELECT count(*) FROM d").fetchone()[0]
t_derive = time.perf_counter() - t1
t2 = time.perf_counter()
c = counts_from_frame(eng.query(survival_counts_sql("d", "os_days", "os_event", group="sex")))
km = km_from_counts(c)
lr = logrank_from_counts(c)
t_km = time.perf_counter() - t2
t3 = time.perf_counter()
cov = ["age_at_infusion", "course_number"]
m = eng.query(covariate_means_sql("d", "os_days", "os_event", cov))
centre = [float(m[f"m_{i}"].iloc[0]) for i in range(2)]
nn = int(m["n"].iloc[0])
def at(beta):
    q = cox_sums_sql("d", "os_days", "os_event", cov, list(beta), centre)
    return risk_set_sums_from_frame(eng.query(q), 2, beta, centre, n=nn)
fit = cox_newton(at, 2, terms=cov)
t_cox = time.perf_counter() - t3
jvm = None
if engine == "spark":
    me = os.getpid()
    kids = []
    for tid in os.listdir(f"/proc/{me}/task"):
        try:
            kids += open(f"/proc/{me}/task/{tid}/children").read().split()
        except OSError:
            pass
    for k in kids:
        try:
            for line in open(f"/proc/{k}/status"):
                if line.startswith("VmHWM"):
                    jvm = max(jvm or 0, int(line.split()[1]) / 1024)
        except OSError:
            pass
import resource
driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"driver_peak_mb": driver, "load": t_load, "derive": t_derive,
    "km_logrank": t_km, "cox": t_cox,
    "rows": int(n), "coef": fit.coef.tolist(), "logrank_chisq": lr.chisq,
    "cox_rounds": fit.iterations, "jvm_peak_mb": jvm}))
"""


def _b8(quick: bool) -> dict:
    import json

    from cartlens.ingest.store import import_registry

    n = 2000 if tiny() else (100_000 if quick else 1_000_000)
    out = {}
    with tempfile.TemporaryDirectory(prefix="cartlens-b8-") as tmp:
        reg = Path(tmp) / "reg"
        _synthetic(reg, n)
        store = Path(tmp) / "store.duckdb"
        import_registry(reg, store)
        script = Path(tmp) / "engine.py"
        script.write_text(_ENGINE_SCRIPT)
        for eng in ("duckdb", "spark"):
            load = _load()
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, str(script), eng, str(store)],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                out[eng] = {"error": proc.stderr[-2000:]}
                continue
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            res["wall"] = time.perf_counter() - t0
            res["load_average"] = load
            out[eng] = res

    def work(r):
        return r["derive"] + r["km_logrank"] + r["cox"] if "derive" in r else None

    d, s = out.get("duckdb", {}), out.get("spark", {})
    comps = {}
    for part in ("derive", "km_logrank", "cox", "load"):
        comps[part] = {"cartlens": d.get(part), "spark": s.get(part)}
    note = []
    for name, r in (("duckdb", d), ("spark", s)):
        if "error" in r:
            note.append(f"{name} failed: {r['error'][-300:]}")
        elif r:
            note.append(
                f"{name}: {n / work(r):,.0f} patients/s, rows {r['rows']}, "
                f"load into engine {r['load']:.1f} s, Cox rounds {r['cox_rounds']}, "
                f"driver peak RSS {r['driver_peak_mb']:.0f} MB, JVM peak (VmHWM) "
                f"{r['jvm_peak_mb'] or 0:.0f} MB, load avg {r['load_average']}"
            )
    same = (
        bool(d and s and "coef" in d and "coef" in s)
        and max(abs(a - b) for a, b in zip(d["coef"], s["coef"])) < 1e-9
    )
    return {
        "id": "B8",
        "label": f"{n} patients: derive + KM + log-rank + Cox from SQL aggregates, "
        "DuckDB (cartlens=) vs Spark local[2] (spark=)",
        "cartlens": work(d) if d and "derive" in d else None,
        "spark": work(s) if s and "derive" in s else None,
        "components": comps,
        "notes": "; ".join(note) + f"; Cox coefficients equal on both engines: {same}",
        "details": out,
    }


def _b9(quick: bool) -> dict:
    import numpy as np
    import pandas as pd

    from cartlens.derive.tables import infusion_table
    from cartlens.ingest.store import import_registry
    from cartlens.stats.cox import coxph
    from cartlens.stats.km import kaplan_meier
    from cartlens.stats.logrank import logrank_test
    from cartlens.stats.pooling import simulate_distributed_cox
    from cartlens.study.sites import export_site, pool_counts

    n = 500 if tiny() else (20_000 if quick else 100_000)
    cov = ["age_at_infusion", "course_number"]
    with tempfile.TemporaryDirectory(prefix="cartlens-b9-") as tmp:
        stores, rows = [], []
        for i in range(3):
            _synthetic(Path(tmp) / f"csv{i}", n, 30 + i)
            st = Path(tmp) / f"s{i}.duckdb"
            import_registry(Path(tmp) / f"csv{i}", st)
            stores.append(st)
        load = _load()
        t0 = time.perf_counter()
        dirs = []
        for i, st in enumerate(stores):
            d = Path(tmp) / f"site{i}"
            export_site(st, d, site=f"s{i}", k=0, group="sex", covariates=cov)
            dirs.append(d)
        t_export = time.perf_counter() - t0
        t1 = time.perf_counter()
        pooled = pool_counts(dirs)
        t_pool = time.perf_counter() - t1
        site_rows = []
        for st in stores:
            r = infusion_table(str(st)).dropna(subset=["os_days", "os_event", *cov])
            site_rows.append(r)
            rows.append(r)
        t2 = time.perf_counter()
        fit, rounds = simulate_distributed_cox(
            [
                (r.os_days.to_numpy(float), r.os_event.to_numpy(float), r[cov].to_numpy(float))
                for r in site_rows
            ]  # fmt: skip
        )
        t_cox = time.perf_counter() - t2
        allr = pd.concat(rows, ignore_index=True)
        t3 = time.perf_counter()
        km = kaplan_meier(allr.os_days, allr.os_event, group=allr.sex)
        logrank_test(allr.pfs_days, allr.pfs_event, allr.sex)
        ref = coxph(allr.os_days, allr.os_event, allr[cov].to_numpy(float), concordance=False)
        t_single = time.perf_counter() - t3
    diff_cox = float(np.max(np.abs(fit.coef - ref.coef) / np.abs(ref.coef)))
    diff_km = float(
        np.max(np.abs(pooled["endpoints"]["os"]["km"].curves[0].surv - km.curves[0].surv))
    )
    return {
        "id": "B9",
        "label": f"3 sites x {n} patients: site-export + pool (KM, log-rank, CIF) + "
        "distributed Cox (cartlens=) vs single-store row-level KM, log-rank, Cox (single=)",
        "cartlens": t_export + t_pool + t_cox,
        "single": t_single,
        "components": {
            "site_export_x3": {"cartlens": t_export},
            "pool_counts": {"cartlens": t_pool},
            "cox_rounds": {"cartlens": t_cox},
        },
        "notes": f"{rounds} Cox rounds; max relative coefficient difference vs single store "
        f"{diff_cox:.1e}, max |S(t)| difference {diff_km:.1e}; load average {load}",
    }


def run(quick: bool = False, only: set[str] | None = None) -> list[dict]:
    out = []
    for rid, fn in (("D2", _d2), ("B8", _b8), ("B9", _b9)):
        if only and rid not in only:
            continue
        out.append(fn(quick))
    return out
