"""The ``descriptive`` analysis: Table 1 as gtsummary's ``tbl_summary`` (+ overall, + p).

One label row per variable; a categorical variable's levels under it in the declared order,
counts with percentages of the known values; an "Unknown" row with the count of missing
values; a binary (true/false) variable on one row (its "true" count); a continuous variable
as median (Q1, Q3) (R's ``quantile`` type 7). With ``by``, one column per group (k groups)
and a test per variable, named in a footnote; a variable that cannot be tested gets no P and
a note saying why - it never fails the table.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from cartlens.errors import CartlensError, SparseDataWarning
from cartlens.study.analyses.base import (
    AnalysisSpec,
    Context,
    group_label,
    group_levels,
    label,
    natural_key,
    register,
)
from cartlens.study.analyses.groups import rxc_test


class DescriptiveAnalysis(AnalysisSpec):
    type: Literal["descriptive"]
    cohort: str
    by: str | None = None
    variables: list[str]
    categorical: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    overall: bool = True
    #: ``auto``: Fisher for a 2 x 2 table with an expected count < 5, else Pearson's
    #: chi-square (today's rule); ``expected``: Fisher whenever an expected count is < 5,
    #: for any r x c table (gtsummary's rule); ``chisq``; ``fisher``; ``none``
    categorical_test: Literal["auto", "expected", "chisq", "fisher", "none"] = "auto"
    #: ``auto``: Wilcoxon rank-sum for 2 groups, Kruskal-Wallis for more; or ``kruskal``,
    #: ``none``
    continuous_test: Literal["auto", "kruskal", "none"] = "auto"
    #: Monte Carlo P for Fisher's test (B tables, seeded), as ``fisher.test(simulate.p.value)``;
    #: used anyway for r x c tables of more than 300 patients
    fisher_simulate: bool = False
    fisher_B: int = Field(2000, ge=100)
    seed: int = 1

    def columns_used(self) -> tuple[str, ...]:
        return (*self.variables, *([self.by] if self.by else []))


def _known(s: pd.Series) -> pd.Series:
    return s[s.notna()]


def run(a: DescriptiveAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    df = ctx.cohorts[a.cohort]
    ctx.require(df, list(a.columns_used()), f"analyses.{a.id}")
    summary: dict[str, Any] = {"n": int(len(df))}
    columns: list[dict] = []
    masks: list[np.ndarray] = []
    if a.overall or not a.by:
        columns.append({"key": "overall", "label": "Overall", "n": int(len(df))})
        masks.append(np.ones(len(df), bool))
    levels: list[str] = []
    if a.by:
        bl = df[a.by].map(lambda v: None if v is None or v != v else label(v))
        levels = group_levels(ctx, a.by, df[a.by])
        for lv in levels:
            m = (bl == lv).to_numpy()
            summary[f"n.{lv}"] = int(m.sum())
            columns.append(
                {"key": lv, "label": group_label(ctx, a.by, lv, a.labels), "n": int(m.sum())}
            )
            masks.append(m)
        n_no_group = int(bl.isna().sum())
        if n_no_group:
            warnings.warn(
                f"{a.id}: {n_no_group} patients have no value of '{a.by}' and are only in the "
                "Overall column",
                SparseDataWarning,
                stacklevel=2,
            )
    gmasks = masks[1:] if (a.overall or not a.by) and a.by else masks
    if not a.by:
        gmasks = []
    rows = []
    tests: dict[str, Any] = {}
    for v in a.variables:
        s = df[v]
        var = ctx.study.variable(v)
        kind = "categorical" if v in a.categorical else var.kind(s)
        row: dict[str, Any] = {"variable": v, "label": ctx.variable_label(v), "kind": kind}
        n_missing = [int(s[m].isna().sum()) for m in masks]
        row["unknown"] = n_missing if any(n_missing) else None
        if kind == "continuous":
            x = pd.to_numeric(s, errors="coerce")
            bad = x.isna() & s.notna()
            if bad.any():
                row["note"] = (
                    f"values such as {s[bad].iloc[0]!r} are not numbers; declare the variable "
                    "categorical"
                )
                kind = row["kind"] = "categorical"
        if kind == "continuous":
            x = x.to_numpy(dtype=float)
            cells = []
            for m in masks:
                xs = x[m & ~np.isnan(x)]
                if len(xs):
                    q1, med, q3 = np.percentile(xs, [25, 50, 75])
                    cells.append({"median": med, "q1": q1, "q3": q3, "n": int(len(xs))})
                else:
                    cells.append({"median": None, "q1": None, "q3": None, "n": 0})
            row["cells"] = cells
            row["stat"] = "median (Q1, Q3)"
            if gmasks and a.continuous_test != "none":
                samples = [x[m & ~np.isnan(x)] for m in gmasks]
                _continuous_test(a, row, samples, levels)
        else:
            lab = s.map(lambda z: None if z is None or z != z else label(z))
            present = set(_known(lab).unique())
            order = var.level_order() or sorted(present, key=natural_key)
            lvls = [lv for lv in order if lv in present] if var.level_order() is None else order
            binary = kind == "binary" and v not in a.categorical and set(lvls) <= {"true", "false"}
            table = np.array(
                [[int(((lab == lv).to_numpy() & m).sum()) for lv in lvls] for m in masks]
            )
            denoms = [int(lab[m].notna().sum()) for m in masks]
            shown = ["true"] if binary else lvls
            row["levels"] = [
                {
                    "level": lv,
                    "label": var.level_label(lv),
                    "cells": [
                        {
                            "n": int(table[j, lvls.index(lv)]) if lv in lvls else 0,
                            "denom": denoms[j],
                        }
                        for j in range(len(masks))
                    ],
                }
                for lv in shown
            ]
            row["stat"] = "n (%)"
            row["binary"] = binary
            if gmasks and a.categorical_test != "none":
                gtab = np.array(
                    [[int(((lab == lv).to_numpy() & m).sum()) for lv in lvls] for m in gmasks]
                )
                _categorical_test(a, row, gtab, levels, lvls)
        if row.get("note"):
            warnings.warn(f"{a.id}: variable '{v}': {row['note']}", SparseDataWarning, stacklevel=2)
        if row.get("test"):
            tests[row["test"]] = True
        summary[f"{v}.p"] = row.get("p")
        rows.append(row)
    details = {
        "rows": rows,
        "columns": columns,
        "groups": [c["key"] for c in columns if c["key"] != "overall"] or ["all"],
        "by": a.by,
        "by_label": ctx.variable_label(a.by) if a.by else "",
        "labels": a.labels,
        "tests": list(tests),
    }
    return summary, details, {}


def _continuous_test(a, row: dict, samples: list[np.ndarray], levels: list[str]) -> None:
    from cartlens.stats.nonparametric import kruskal_wallis, mann_whitney

    keep = [i for i, s in enumerate(samples) if len(s)]
    empty = [levels[i] for i, s in enumerate(samples) if not len(s)]
    if len(keep) < 2:
        row["note"] = "cannot be tested: fewer than two groups have a value"
        return
    if empty:
        row["note"] = f"no value in group(s) {', '.join(empty)}; tested across the others"
    try:
        if len(keep) == 2 and a.continuous_test == "auto":
            r = mann_whitney(samples[keep[0]], samples[keep[1]])
            row["test"], row["p"] = "Wilcoxon rank-sum test", float(r.p_value)
        else:
            vals = np.concatenate([samples[i] for i in keep])
            gg = np.concatenate([[i] * len(samples[i]) for i in keep])
            r = kruskal_wallis(vals, gg)
            row["test"], row["p"] = "Kruskal-Wallis rank-sum test", float(r.p_value)
    except (CartlensError, ValueError, ZeroDivisionError) as exc:
        row["note"] = f"cannot be tested: {exc}"
        row.pop("test", None)
        row.pop("p", None)


def _categorical_test(a, row: dict, tab: np.ndarray, levels: list[str], lvls: list[str]) -> None:
    gone = [levels[i] for i in np.flatnonzero(tab.sum(axis=1) == 0)]
    res = rxc_test(
        tab,
        rule=a.categorical_test,
        simulate=a.fisher_simulate,
        B=a.fisher_B,
        seed=a.seed,
        what=f"{a.id}: variable '{row['variable']}'",
    )
    notes = [f"no known value in group(s) {', '.join(gone)}"] if gone else []
    if res["note"]:
        notes.append(res["note"])
    if res["p"] is not None:
        row["p"], row["test"] = res["p"], res["test"]
    if notes:
        row["note"] = "; ".join(notes)


register(DescriptiveAnalysis, run)
