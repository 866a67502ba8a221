"""The ``swimmer`` analysis: its spec and its computation."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from cartlens.study.analyses.base import AnalysisSpec, Context, register


class SwimmerAnalysis(AnalysisSpec):
    """One bar per patient; cohorts above ``max_patients`` show a seeded random selection."""

    type: Literal["swimmer"]
    cohort: str
    max_patients: int = Field(60, ge=1)
    seed: int = 20231

    def columns_used(self) -> tuple[str, ...]:
        return ("os_days", "cr", "hsct_before")


def run(a: SwimmerAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    """Each patient's course from CART1 (entity rows grouped by patient once: linear cost)."""
    study, cohorts = ctx.study, ctx.cohorts
    df = cohorts[a.cohort].drop_duplicates("patient_id")
    n_cohort = len(df)
    selection = None
    if n_cohort > a.max_patients:
        rng = np.random.default_rng(a.seed)
        keep = np.sort(rng.choice(n_cohort, size=a.max_patients, replace=False))
        df = df.iloc[keep]
        selection = {
            "shown": int(a.max_patients),
            "of": int(n_cohort),
            "seed": int(a.seed),
            "note": (
                f"{a.max_patients} of {n_cohort} patients shown: a random selection "
                f"(seed {a.seed}); swimmer plots show at most max_patients = {a.max_patients}"
            ),
        }
    tables = ctx.tables
    inf = ctx.frames["infusions"]
    pids = set(df["patient_id"])

    def by_patient(t: pd.DataFrame) -> dict:
        if t.empty or "patient_id" not in t:
            return {}
        t = t[t["patient_id"].isin(pids)]
        return {k: g for k, g in t.groupby("patient_id", sort=False)}

    courses_by = by_patient(inf.sort_values("course_number", kind="stable"))
    tx_by = by_patient(tables["transplants"])
    rel_by = by_patient(tables["relapses"])
    scale = ctx.time_scale
    rows = []
    for pid, cart2_cr, hsct_before in zip(df["patient_id"], df["cr"], df["hsct_before"]):
        courses = courses_by[pid]
        c1 = courses.iloc[0]
        t0 = c1["infusion_date"]

        def day(x, t0=t0):
            return None if pd.isna(x) else float((x - t0).days) / scale

        events = []
        for c in courses.itertuples(index=False):
            events.append({"t": day(c.infusion_date), "kind": c.course})
            if c.best_response is not None and not pd.isna(c.best_response):
                resp_day = c.infusion_date + pd.Timedelta(days=study.endpoints.response_day)
                events.append(
                    {"t": day(resp_day), "kind": "response", "value": str(c.best_response)}
                )
        if pid in tx_by:
            for d in tx_by[pid]["transplant_date"]:
                events.append({"t": day(d), "kind": "HSCT"})
        if pid in rel_by:
            for d in rel_by[pid]["relapse_date"]:
                events.append({"t": day(d), "kind": "relapse"})
        end = day(c1["last_contact_date"])
        rows.append(
            {
                "patient_id": pid,
                "end": end,
                "dead": bool(c1["dead"]),
                "cart2_cr": bool(cart2_cr is True),
                "hsct_before": bool(hsct_before),
                "events": sorted(events, key=lambda e: (e["t"] is None, e["t"])),
            }
        )
    rows.sort(key=lambda r: -(r["end"] or 0))
    details = {"patients": rows, "time_unit": study.presentation.time_unit}
    if selection:
        details["selection"] = selection
    return {"n": len(rows), "n_cohort": n_cohort}, details, {}


register(SwimmerAnalysis, run)
