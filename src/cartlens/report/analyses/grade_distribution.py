"""Rendering of the ``grade_distribution`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, cp, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    d = a.details
    rows = d["rows"]
    tox = d["toxicity"].upper()
    grades = range(0, int(d.get("max_grade", 5)) + 1)
    head = (
        ["Cohort", "n"] + [f"grade {g}" for g in grades] + ["any", f"grade >= {d['severe_grade']}"]
    )
    rc.block["tables"].append(
        {
            "head": head,
            "rows": [
                [r["label"], fmt.count(r["n"])]
                + [cp(fmt, r["counts"][str(g)], r["n"]) for g in grades]
                + [
                    f"{fmt.count(r['any'])} ({fmt.pct(r['any'], r['n'])})",
                    f"{fmt.count(r['severe'])} ({fmt.pct(r['severe'], r['n'])})",
                ]
                for r in rows
            ],
        }
    )
    for t in d.get("tests", []):
        if t["p"] is not None:
            rc.text(
                f"{t['label']}: severe {tox} (grade >= {d['severe_grade']}) by group, "
                f"{t['test']}, P = {fmt.pvalue(t['p'])}."
            )
        if t.get("note"):
            rc.text(f"{t['label']}: {t['note']}.")
    from cartlens.report.figures.toxicity import grade_bar_figure

    rc.block["figures"].append(
        rc.figs.add(
            a.id,
            a.title,
            lambda rows=rows, tox=tox: grade_bar_figure(rows, toxicity=tox),
        )
    )


def methods(analyses: list, rc: RenderContext) -> str:
    if any(a.details.get("tests") for a in analyses):
        return (
            "Severe toxicity was compared between groups with Pearson's chi-squared test, or "
            "Fisher's exact test when an expected count was below 5."
        )
    return ""


register("grade_distribution", methods=methods, section="safety", render=render)
