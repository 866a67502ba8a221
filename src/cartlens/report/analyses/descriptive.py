"""Rendering of the ``descriptive`` analysis: Table 1 as gtsummary's ``tbl_summary``."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register

INDENT = "\u2003"
DASH = "\u2014"
SUPERSCRIPTS = "¹²³⁴⁵⁶⁷⁸⁹"


def _cell(fmt, c: dict) -> str:
    n, denom = c["n"], c.get("denom")
    if denom in (None, 0):
        return f"{fmt.count(n)}"
    return f"{fmt.count(n)} ({fmt.pct(n, denom)})"


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    d = a.details
    columns = d.get("columns") or [{"key": g, "label": g, "n": None} for g in d["groups"]]
    has_test = bool(d.get("by"))
    marks = {t: SUPERSCRIPTS[i % len(SUPERSCRIPTS)] for i, t in enumerate(d.get("tests", []))}
    head = ["Characteristic"] + [f"{c['label']} (N = {fmt.count(c['n'])})" for c in columns]
    if has_test:
        head.append("p-value")
    rows = []
    notes: list[str] = []
    k = len(columns)
    for r in d["rows"]:
        p = ""
        if has_test:
            if r.get("p") is not None:
                p = f"{fmt.pvalue(r['p'])} {marks.get(r.get('test'), '')}".strip()
            else:
                p = DASH
            if r.get("note"):
                notes.append(f"{r['label']}: {r['note']}.")
        tail = [p] if has_test else []
        if r["kind"] == "continuous":
            vals = [
                f"{fmt.num(c['median'])} ({fmt.num(c['q1'])}, {fmt.num(c['q3'])})"
                if c["n"]
                else DASH
                for c in r["cells"]
            ]
            rows.append([r["label"], *vals, *tail])
        elif r.get("binary"):
            lv = r["levels"][0]
            rows.append([r["label"], *[_cell(fmt, c) for c in lv["cells"]], *tail])
        else:
            rows.append([r["label"], *[""] * k, *tail])
            for lv in r["levels"]:
                rows.append(
                    [INDENT + lv["label"], *[_cell(fmt, c) for c in lv["cells"]]]
                    + ([""] if has_test else [])
                )
        if r.get("unknown"):
            rows.append(
                [INDENT + "Unknown", *[fmt.count(x) for x in r["unknown"]]]
                + ([""] if has_test else [])
            )
    foot = "; ".join(f"{m} {t}" for t, m in marks.items())
    legend = "Median (Q1, Q3); n (%) of the known values"
    rc.table(head, rows, name=a.id, notes=[x for x in (foot, legend, *notes) if x])


def methods(analyses: list, rc: RenderContext) -> str:
    tests = list(dict.fromkeys(t for a in analyses for t in a.details.get("tests", [])))
    s = (
        "Characteristics are medians (first and third quartiles) for continuous variables and "
        "counts (percentages of the known values) for categorical ones; missing values are "
        "counted as Unknown."
    )
    if tests:
        s += " Groups were compared with " + ", ".join(t for t in tests) + "."
    return s


register("descriptive", methods=methods, section="baseline", render=render)
