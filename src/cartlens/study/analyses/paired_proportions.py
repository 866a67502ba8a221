"""The ``paired_proportions`` analysis: its spec and its computation."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from cartlens.study.analyses.base import AnalysisSpec, Context, register


class PairedProportions(AnalysisSpec):
    type: Literal["paired_proportions"]
    cohort_field: ClassVar[str] = "cohorts"
    cohorts: tuple[str, str]
    outcome: str
    pair_by: str = "patient_id"
    exact: bool = True

    def columns_used(self) -> tuple[str, ...]:
        return (self.outcome,)


def run(a: PairedProportions, ctx: Context) -> tuple[dict, dict, dict]:
    cohorts = ctx.cohorts
    from cartlens.stats.tables import mcnemar_test

    c1, c2 = a.cohorts
    d1 = cohorts[c1][[a.pair_by, a.outcome]].dropna()
    d2 = cohorts[c2][[a.pair_by, a.outcome]].dropna()
    m = d1.merge(d2, on=a.pair_by, suffixes=("_1", "_2"))
    y1 = m[f"{a.outcome}_1"].astype(bool).to_numpy()
    y2 = m[f"{a.outcome}_2"].astype(bool).to_numpy()
    table = np.array([[np.sum(y1 & y2), np.sum(y1 & ~y2)], [np.sum(~y1 & y2), np.sum(~y1 & ~y2)]])
    r = mcnemar_test(table, correct=False, exact=a.exact)
    r_asym = mcnemar_test(table, correct=True)
    summary = {
        "n_pairs": int(len(m)),
        "both": int(table[0, 0]),
        "first_only": int(table[0, 1]),
        "second_only": int(table[1, 0]),
        "neither": int(table[1, 1]),
        "p": r.p_value,
        "p_chisq_corrected": r_asym.p_value,
        "pct1": 100 * y1.mean() if len(m) else None,
        "pct2": 100 * y2.mean() if len(m) else None,
    }
    details = {"table": table.tolist(), "labels": [c1, c2], "method": r.method}
    return summary, details, {"mcnemar": r, "mcnemar_corrected": r_asym}


register(PairedProportions, run)
