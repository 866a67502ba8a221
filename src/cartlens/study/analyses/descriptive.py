"""The ``descriptive`` analysis: its spec and its computation."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from cartlens.study.analyses.base import AnalysisSpec, Context, label, register


class DescriptiveAnalysis(AnalysisSpec):
    type: Literal["descriptive"]
    cohort: str
    by: str | None = None
    variables: list[str]
    categorical: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


def run(a: DescriptiveAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    cohorts = ctx.cohorts
    from cartlens.stats.nonparametric import kruskal_wallis, mann_whitney
    from cartlens.stats.tables import chisq_test, fisher_test

    df = cohorts[a.cohort]
    ctx.require(df, [*a.variables, *([a.by] if a.by else [])], f"analyses.{a.id}")
    groups = sorted(df[a.by].dropna().unique(), key=label) if a.by else [None]
    gl = [label(g) for g in groups] if a.by else ["all"]
    summary: dict[str, Any] = {"n": int(len(df))}
    for g, lab in zip(groups, gl):
        if a.by:
            summary[f"n.{lab}"] = int((df[a.by] == g).sum())
    rows = []
    for v in a.variables:
        s = df[v]
        cat = (
            v in a.categorical
            or s.dtype == object
            and not pd.api.types.is_numeric_dtype(s.dropna())
        )
        if cat:
            levels = sorted(s.dropna().map(label).unique())
            cells = []
            for lv in levels:
                row = {"variable": v, "level": lv, "cells": []}
                for g in groups:
                    sg = df[s.notna() & ((df[a.by] == g) if a.by else True)][v].map(label)
                    k = int((sg == lv).sum())
                    row["cells"].append(
                        {"n": k, "denom": len(sg), "pct": 100 * k / len(sg) if len(sg) else None}
                    )
                cells.append(row)
            test, p = None, None
            if a.by and len(groups) > 1 and len(levels) > 1:
                tab = np.array([[c["n"] for c in r["cells"]] for r in cells]).T
                chi = chisq_test(tab, correct=False)
                if chi.min_expected < 5 and tab.shape == (2, 2):
                    p, test = fisher_test(tab).p_value, "Fisher's exact test (expected count < 5)"
                else:
                    p, test = (
                        chi.p_value,
                        "Pearson chi-square"
                        + (" (expected count < 5)" if chi.min_expected < 5 else ""),
                    )
            rows.append(
                {"variable": v, "kind": "categorical", "levels": cells, "test": test, "p": p}
            )
            summary[f"{v}.p"] = p
        else:
            x = pd.to_numeric(s.astype(float), errors="coerce")
            cells = []
            samples = []
            for g in groups:
                xs = x[(df[a.by] == g) if a.by else slice(None)].dropna().to_numpy()
                samples.append(xs)
                if len(xs):
                    q1, med, q3 = np.percentile(xs, [25, 50, 75])
                    cells.append({"median": med, "q1": q1, "q3": q3, "n": len(xs)})
                else:
                    cells.append({"median": None, "q1": None, "q3": None, "n": 0})
            test, p = None, None
            if a.by and len(groups) == 2 and all(len(s_) for s_ in samples):
                p, test = mann_whitney(samples[0], samples[1]).p_value, "Wilcoxon rank-sum"
            elif a.by and len(groups) > 2:
                vals = np.concatenate(samples)
                gg = np.concatenate([[i] * len(s_) for i, s_ in enumerate(samples)])
                p, test = kruskal_wallis(vals, gg).p_value, "Kruskal-Wallis"
            rows.append({"variable": v, "kind": "numeric", "cells": cells, "test": test, "p": p})
            summary[f"{v}.p"] = p
    return summary, {"rows": rows, "groups": gl, "by": a.by, "labels": a.labels}, {}


register(DescriptiveAnalysis, run)
