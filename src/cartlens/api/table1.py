"""``tbl_summary``: Table 1 of a DataFrame, as gtsummary's ``tbl_summary(by =) |> add_overall()
|> add_p()``.

One label row per variable with its levels indented below it in the data's level order
(a ``Categorical``'s categories, else sorted); continuous variables on one row as
``median (Q1, Q3)`` (R's ``quantile`` type 7, :func:`cartlens.stats.nonparametric.
median_iqr`); categorical ones as ``n (%)`` with the known values as denominator; logical and
0/1 variables on one row (the ``TRUE`` / 1 count); missing values as an ``Unknown`` row with a
count only. Tests as gtsummary chooses them, and as the report's Table 1 does: Wilcoxon
rank-sum (2 groups) or Kruskal-Wallis (more) for continuous variables; Pearson's chi-square
without continuity correction, or Fisher's exact test when an expected count is below 5
(:func:`cartlens.study.analyses.groups.rxc_test`; a variable it cannot test gets "—" and a
note saying why). Every test is named in a footnote.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from cartlens.api.base import user_warnings
from cartlens.api.frame import level_text, levels_of, require_frame
from cartlens.api.text import Table, html_block
from cartlens.errors import InputError
from cartlens.results import Result


def _kind(s) -> str:
    import pandas as pd

    nonmiss = s.dropna()
    if pd.api.types.is_bool_dtype(s) or (
        len(nonmiss) and all(isinstance(v, bool | np.bool_) for v in nonmiss)
    ):
        return "dichotomous"
    if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s):
        return "categorical"
    u = set(pd.unique(nonmiss))
    if not u:
        return "continuous"
    if u <= {0, 1}:
        return "dichotomous"
    return "categorical" if len(u) < 10 and all(float(v).is_integer() for v in u) else "continuous"


def _fmt(x: float, digits: int) -> str:
    return "NA" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _pct(k: int, n: int) -> str:
    if n == 0:
        return f"{k}"
    p = 100 * k / n
    return (
        f"{k} ({p:.0f}%)"
        if p >= 10 or p == 0
        else f"{k} ({p:.1f}%)"
        if p >= 1
        else (f"{k} ({'<1' if p > 0 else '0'}%)")
    )


def _p_text(p: Any) -> str:
    if p is None or not math.isfinite(p):
        return "—"
    if p < 0.001:
        return "<0.001"
    return f"{p:.2f}" if p >= 0.1 else f"{p:.3f}"


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class TblSummary(Result):
    """Table 1: ``rows`` (one dict per printed row: ``variable, label, level, kind, cells,
    p, test``), the column headers and footnotes.

    ``cells`` holds, per column (overall first when ``overall``), the numbers shown:
    ``{"n", "N", "pct"}`` for a level, ``{"median", "q1", "q3", "n"}`` for a continuous row,
    ``{"n"}`` for Unknown.
    """

    rows: tuple
    columns: tuple
    column_n: tuple
    by: str | None
    tests: tuple
    digits: int
    notes: tuple = ()
    with_p: bool = False

    def _cell(self, row: dict, c: dict) -> str:
        if row["kind"] == "continuous" and row["level"] is None:
            if not c.get("n"):
                return "—"
            d = self.digits
            return f"{_fmt(c['median'], d)} ({_fmt(c['q1'], d)}, {_fmt(c['q3'], d)})"
        if row["level"] == "Unknown":
            return str(c["n"])
        if row["level"] is None and row["kind"] == "categorical":
            return ""
        return _pct(c["n"], c["N"])

    def table(self) -> Table:
        has_p = self.with_p
        cols = [f"{c}\nN = {n}" for c, n in zip(self.columns, self.column_n)]
        if has_p:
            cols.append("p-value")
        marks = {t: i + 1 for i, t in enumerate(self.tests)}
        body, names, indent = [], [], []
        for r in self.rows:
            cells = [self._cell(r, c) for c in r["cells"]]
            if has_p:
                cells.append(
                    (_p_text(r["p"]) + (f" {_sup(marks[r['test']])}" if r.get("test") else ""))
                    if r["level"] is None
                    else ""
                )
            body.append(cells)
            names.append(r["label"] if r["level"] is None else level_text(r["level"]))
            indent.append(r["level"] is not None)
        notes = [f"{_sup(i)} {t}" for t, i in marks.items()]
        notes += list(self.notes)
        notes.append("Median (Q1, Q3); n (%)")
        return Table(cols, body, names, notes=notes, indent=indent, corner="Characteristic")

    def text(self) -> str:
        t = self.table()
        head = [c.split("\n") for c in t.columns]
        t1 = Table([h[0] for h in head], t.rows, t.rownames, notes=t.notes, indent=t.indent)
        lines = t1.text().split("\n")
        names = t.rownames or []
        nw = max([len(n) + 4 for n in names] + [len("Characteristic")])
        widths = [
            max([len(h[0]), len(h[-1])] + [len(r[j]) for r in t.rows]) for j, h in enumerate(head)
        ]
        hdr1 = (
            "Characteristic".ljust(nw) + " " + " ".join(h[0].rjust(w) for h, w in zip(head, widths))
        )
        hdr2 = (
            " " * nw
            + " "
            + " ".join(h[-1].rjust(w) if len(h) > 1 else " " * w for h, w in zip(head, widths))
        )
        body = []
        for n, ind, r in zip(names, t.indent, t.rows):
            body.append(
                (("    " if ind else "") + n).ljust(nw)
                + " "
                + " ".join(c.rjust(w) for c, w in zip(r, widths))
            )
        del lines
        return (
            "\n".join([hdr1.rstrip(), hdr2.rstrip(), *[b.rstrip() for b in body], *t.notes]) + "\n"
        )

    def __repr__(self) -> str:
        return self.text()

    __str__ = __repr__

    def _repr_html_(self) -> str:
        t = self.table()
        t.columns = [c.replace("\n", " ") for c in t.columns]
        t.caption = "Characteristic" if False else ""
        return html_block("", [t])

    def to_frame(self):
        """Tidy frame: one row per (variable, level, column, statistic)."""
        import pandas as pd

        out = []
        for r in self.rows:
            for col, c in zip(self.columns, r["cells"]):
                for k, v in c.items():
                    out.append(
                        {
                            "analysis": "tbl_summary",
                            "group": col,
                            "term": r["variable"],
                            "cause": None if r["level"] is None else level_text(r["level"]),
                            "time": None,
                            "stat": k,
                            "value": v,
                        }
                    )
            if r["level"] is None and r.get("test"):
                out.append(
                    {
                        "analysis": "tbl_summary",
                        "group": None,
                        "term": r["variable"],
                        "cause": None,
                        "time": None,
                        "stat": "p.value",
                        "value": r["p"],
                    }
                )
        return pd.DataFrame(
            out, columns=["analysis", "group", "term", "cause", "time", "stat", "value"]
        )


def _label_row(variable: str, label: str, kind: str, cells: list, p, test) -> dict:
    return {
        "variable": variable,
        "label": label,
        "level": None,
        "kind": kind,
        "cells": cells,
        "p": p,
        "test": test,
    }


def _sup(i: int) -> str:
    return "".join("⁰¹²³⁴⁵⁶⁷⁸⁹"[int(d)] for d in str(i))


@user_warnings
def tbl_summary(
    data,
    by: str | None = None,
    *,
    include: list[str] | None = None,
    label: dict[str, str] | None = None,
    type: dict[str, str] | None = None,  # noqa: A002 - gtsummary's argument name
    overall: bool = True,
    test: bool = True,
    digits: int = 1,
) -> TblSummary:
    """Table 1 (``gtsummary::tbl_summary(data, by = by) |> add_overall() |> add_p()``).

    Parameters
    ----------
    data : pandas.DataFrame
    by : str, optional
        Column defining the groups (level order as everywhere: Categorical, else sorted).
    include : list of str, optional
        Variables to summarise (default: every column but ``by``).
    label : dict, optional
        Variable -> label (with unit), e.g. ``{"age": "Age, years"}``.
    type : dict, optional
        Variable -> ``"continuous"``, ``"categorical"`` or ``"dichotomous"`` (default guessed
        as gtsummary does: logical and 0/1 dichotomous, text and integers with fewer than 10
        values categorical, other numbers continuous).
    overall, test : bool
        Add the Overall column / the p-values.
    digits : int
        Decimals of medians and quartiles.

    References
    ----------
    Sjoberg DD et al. Reproducible summary tables with the gtsummary package. R J
    2021;13:570-580.
    """
    import pandas as pd

    from cartlens.stats.nonparametric import kruskal_wallis, mann_whitney, median_iqr
    from cartlens.study.analyses.groups import rxc_test

    require_frame(data)
    if by is not None and by not in data.columns:
        raise InputError("does not exist in the data", column=by)
    include = [c for c in (include or list(data.columns)) if c != by]
    for c in include:
        if c not in data.columns:
            raise InputError("does not exist in the data", column=c)
    label = label or {}
    type = type or {}
    d = data if by is None else data[data[by].notna()]
    glevels = levels_of(d[by]) if by is not None else []
    masks = ([np.ones(len(d), bool)] if overall or by is None else []) + [
        (d[by] == g).to_numpy() for g in glevels
    ]
    columns = (["Overall"] if overall or by is None else []) + [level_text(g) for g in glevels]
    column_n = tuple(int(m.sum()) for m in masks)
    gmasks = [(d[by] == g).to_numpy() for g in glevels]
    rows: list[dict] = []
    tests_used: list[str] = []
    notes: list[str] = []
    for v in include:
        s = d[v]
        kind = type.get(v) or _kind(s)
        if kind not in ("continuous", "categorical", "dichotomous"):
            raise InputError("type must be continuous, categorical or dichotomous", column=v)
        lab = label.get(v, v)
        miss = s.isna().to_numpy()
        p, tname = None, None
        if kind == "continuous":
            x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            if np.any(np.isnan(x) & ~miss):
                raise InputError(
                    "has values that are not numbers; pass type='categorical'", column=v
                )
            cells = []
            for m in masks:
                xs = x[m & ~miss]
                if xs.size:
                    r = median_iqr(xs)
                    cells.append({"median": r.median, "q1": r.q1, "q3": r.q3, "n": int(xs.size)})
                else:
                    cells.append({"median": math.nan, "q1": math.nan, "q3": math.nan, "n": 0})
            samples = [x[m & ~miss] for m in gmasks]
            if test and len(glevels) >= 2 and sum(s_.size > 0 for s_ in samples) >= 2:
                if len(glevels) == 2:
                    p = mann_whitney(samples[0], samples[1]).p_value
                    tname = "Wilcoxon rank sum test"
                else:
                    vals = np.concatenate(samples)
                    gg = np.concatenate([[i] * s_.size for i, s_ in enumerate(samples)])
                    p, tname = kruskal_wallis(vals, gg).p_value, "Kruskal-Wallis rank sum test"
            rows.append(_label_row(v, lab, kind, cells, p, tname))
        else:
            if kind == "dichotomous":
                # gtsummary shows the TRUE / 1 row, also when nobody has it (0 (0%))
                lv_all = levels_of(s)
                logical = pd.api.types.is_bool_dtype(s) or all(
                    isinstance(x, bool | np.bool_) for x in lv_all
                )
                if logical or set(lv_all) <= {0, 1}:
                    top = True if logical else 1
                else:  # a declared dichotomous variable: its last level
                    top = lv_all[-1]
                levels = [top]
            else:
                levels = levels_of(s)
            all_levels = levels_of(s) if kind == "dichotomous" else levels
            counts = (
                np.array(
                    [[int(((s == lv).to_numpy() & m).sum()) for lv in all_levels] for m in gmasks]
                )
                if gmasks
                else None
            )
            if test and counts is not None:
                # the report's Table 1 rule (study.analyses.groups.rxc_test): Pearson's
                # chi-square, Fisher's exact test when an expected count is below 5
                res = rxc_test(counts, rule="expected", what=v)
                p, tname = res["p"], res["test"]
                if res.get("note"):
                    notes.append(f"{lab}: {res['note']}")
            known = [int((m & ~miss).sum()) for m in masks]
            if kind == "dichotomous":
                cells = [
                    {"n": int(((s == levels[0]).to_numpy() & m).sum()), "N": k, "pct": None}
                    for m, k in zip(masks, known)
                ]
                for c in cells:
                    c["pct"] = 100 * c["n"] / c["N"] if c["N"] else None
                rows.append(_label_row(v, lab, kind, cells, p, tname))
            else:
                rows.append(_label_row(v, lab, kind, [{} for _ in masks], p, tname))
                for lv in levels:
                    cells = []
                    for m, k in zip(masks, known):
                        n = int(((s == lv).to_numpy() & m).sum())
                        cells.append({"n": n, "N": k, "pct": 100 * n / k if k else None})
                    rows.append(
                        {
                            "variable": v,
                            "label": lab,
                            "level": lv,
                            "kind": kind,
                            "cells": cells,
                            "p": None,
                            "test": None,
                        }
                    )
        if miss.any():
            rows.append(
                {
                    "variable": v,
                    "label": lab,
                    "level": "Unknown",
                    "kind": kind,
                    "cells": [{"n": int((miss & m).sum())} for m in masks],
                    "p": None,
                    "test": None,
                }
            )
        if tname and tname not in tests_used:
            tests_used.append(tname)
        if test and by is not None and tname is None and not any(lab in x for x in notes):
            notes.append(f"{lab}: not tested (fewer than two groups or levels with values)")
    return TblSummary(
        rows=tuple(rows),
        columns=tuple(columns),
        column_n=column_n,
        by=by,
        tests=tuple(tests_used),
        digits=digits,
        notes=tuple(notes),
        with_p=bool(test and by is not None and len(glevels) > 1),
    )
