"""The ``haematotoxicity`` analysis: ICAHT grades (EHA/EBMT 2023), neutropenia and recovery.

Per cohort: the early and late ICAHT grade distributions (the grade per the endpoints'
``grade_source``; infusions without an ANC series are "not assessable"), severe early ICAHT
(grade >= 3), the median days with ANC <= 500/uL, the median day of ANC recovery (CIBMTR) among
the recovered, and how many recorded grades differ from the computed ones (rule R063).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from cartlens.study.analyses.base import AnalysisSpec, Context, register

COLUMNS = (
    "icaht_early_grade",
    "icaht_late_grade",
    "icaht_early_mismatch",
    "icaht_late_mismatch",
    "days_anc_le_500",
    "anc_recovery_day",
)


class HaematotoxicityAnalysis(AnalysisSpec):
    type: Literal["haematotoxicity"]
    cohort_field: ClassVar[str] = "cohorts"
    cohorts: list[str] = Field(min_length=1)

    def columns_used(self) -> tuple[str, ...]:
        return COLUMNS


def _median(v: pd.Series) -> tuple[float | None, float | None, float | None]:
    x = pd.to_numeric(v, errors="coerce").dropna().to_numpy(dtype=float)
    if x.size == 0:
        return None, None, None
    q = np.quantile(x, [0.25, 0.5, 0.75])  # R's quantile(type = 7)
    return float(q[1]), float(q[0]), float(q[2])


def run(a: HaematotoxicityAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    summary: dict[str, Any] = {}
    rows = []
    for key in a.cohorts:
        df = ctx.cohorts[key]
        ctx.require(df, list(COLUMNS), f"analyses.{a.id}")
        row: dict[str, Any] = {
            "cohort": key,
            "label": ctx.study.cohorts[key].label or key,
            "n": len(df),
        }
        for phase in ("early", "late"):
            g = pd.to_numeric(df[f"icaht_{phase}_grade"], errors="coerce")
            known = g.dropna().astype(int)
            counts = {str(k): int((known == k).sum()) for k in range(0, 5)}
            row[phase] = {
                "assessable": int(len(known)),
                "counts": counts,
                "severe": int((known >= 3).sum()),
                "mismatch": int(df[f"icaht_{phase}_mismatch"].fillna(False).astype(bool).sum()),
            }
            summary[f"{key}.{phase}.assessable"] = int(len(known))
            summary[f"{key}.{phase}.severe"] = int((known >= 3).sum())
            for k, v in counts.items():
                summary[f"{key}.{phase}.grade_{k}"] = v
        med, q1, q3 = _median(df["days_anc_le_500"])
        row["days_anc_le_500"] = {"median": med, "q1": q1, "q3": q3}
        rmed, rq1, rq3 = _median(df["anc_recovery_day"])
        row["recovery_day"] = {
            "median": rmed,
            "q1": rq1,
            "q3": rq3,
            "n": int(pd.to_numeric(df["anc_recovery_day"], errors="coerce").notna().sum()),
        }
        summary[f"{key}.days_anc_le_500.median"] = med
        summary[f"{key}.recovery_day.median"] = rmed
        rows.append(row)
    return summary, {"rows": rows}, {}


register(HaematotoxicityAnalysis, run)
