"""Rendering of the ``descriptive`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, cp, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    s, d = a.summary, a.details
    groups = d["groups"]
    head = (
        ["Characteristic"]
        + [
            f"{d.get('labels', {}).get(g) or d['by'] + ' = ' + g} (n={s.get('n.' + g, '')})"
            for g in groups
        ]
        + ["P", "test"]
    )
    rows = []
    for r in d["rows"]:
        if r["kind"] == "numeric":
            rows.append(
                [f"{r['variable']}, median (IQR)"]
                + [
                    f"{fmt.num(c['median'])} ({fmt.num(c['q1'])}-{fmt.num(c['q3'])})"
                    for c in r["cells"]
                ]
                + [fmt.pvalue(r["p"]), r["test"] or ""]
            )
        else:
            for j, lv in enumerate(r["levels"]):
                rows.append(
                    [f"{r['variable']} = {lv['level']}, n (%)"]
                    + [cp(fmt, c["n"], c.get("denom")) for c in lv["cells"]]
                    + ([fmt.pvalue(r["p"]), r["test"] or ""] if j == 0 else ["", ""])
                )
    rc.block["tables"].append({"head": head, "rows": rows})


def methods(analyses: list, rc: RenderContext) -> str:
    return (
        "Baseline characteristics are medians (interquartile range) compared with the "
        "Wilcoxon rank-sum test, and counts (%) compared with Pearson's chi-square test "
        "(Fisher's exact test for 2x2 tables with an expected count below 5)."
    )


register("descriptive", methods=methods, section="baseline", render=render)
