"""The ``swimmer`` analysis: its spec and its computation."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from cartlens.study.analyses.base import AnalysisSpec, Context, register


class SwimmerAnalysis(AnalysisSpec):
    type: Literal["swimmer"]
    cohort: str

    def columns_used(self) -> tuple[str, ...]:
        return ("os_days", "cr", "hsct_before")


def run(a: SwimmerAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    study, cohorts = ctx.study, ctx.cohorts
    df = cohorts[a.cohort]
    tables = ctx.tables
    frames = ctx.frames
    inf = frames["infusions"]
    scale = ctx.time_scale
    rows = []
    for pid in df["patient_id"]:
        courses = inf[inf["patient_id"] == pid].sort_values("course_number")
        c1 = courses.iloc[0]
        t0 = c1["infusion_date"]

        def day(x, t0=t0):
            return None if pd.isna(x) else float((x - t0).days) / scale

        events = []
        for _, c in courses.iterrows():
            events.append({"t": day(c["infusion_date"]), "kind": c["course"]})
            if c["best_response"] is not None and not pd.isna(c["best_response"]):
                resp_day = c["infusion_date"] + pd.Timedelta(days=study.endpoints.response_day)
                events.append(
                    {"t": day(resp_day), "kind": "response", "value": str(c["best_response"])}
                )
        tx = tables["transplants"]
        for d in tx.loc[tx["patient_id"] == pid, "transplant_date"]:
            events.append({"t": day(d), "kind": "HSCT"})
        rel = tables["relapses"]
        for d in rel.loc[rel["patient_id"] == pid, "relapse_date"]:
            events.append({"t": day(d), "kind": "relapse"})
        end = day(c1["last_contact_date"])
        rows.append(
            {
                "patient_id": pid,
                "end": end,
                "dead": bool(c1["dead"]),
                "cart2_cr": bool(df.loc[df["patient_id"] == pid, "cr"].iloc[0] is True),
                "hsct_before": bool(df.loc[df["patient_id"] == pid, "hsct_before"].iloc[0]),
                "events": sorted(events, key=lambda e: (e["t"] is None, e["t"])),
            }
        )
    rows.sort(key=lambda r: -(r["end"] or 0))
    return {"n": len(rows)}, {"patients": rows, "time_unit": study.presentation.time_unit}, {}


register(SwimmerAnalysis, run)
