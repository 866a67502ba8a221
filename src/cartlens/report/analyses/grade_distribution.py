"""Rendering of the ``grade_distribution`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, cp, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    d = a.details
    rows = d["rows"]
    tox = d["toxicity"].upper()
    head = (
        ["Cohort", "n"]
        + [f"grade {g}" for g in range(0, 6)]
        + ["any", f"grade >= {d['severe_grade']}"]
    )
    rc.block["tables"].append(
        {
            "head": head,
            "rows": [
                [r["label"], fmt.count(r["n"])]
                + [cp(fmt, r["counts"][str(g)], r["n"]) for g in range(0, 6)]
                + [
                    f"{fmt.count(r['any'])} ({fmt.pct(r['any'], r['n'])})",
                    f"{fmt.count(r['severe'])} ({fmt.pct(r['severe'], r['n'])})",
                ]
                for r in rows
            ],
        }
    )
    from cartlens.report.figures.toxicity import grade_bar_figure

    rc.block["figures"].append(
        rc.figs.add(
            a.id,
            a.title,
            lambda rows=rows, tox=tox: grade_bar_figure(rows, toxicity=tox),
        )
    )


def methods(analyses: list, rc: RenderContext) -> str:
    return ""


register("grade_distribution", methods=methods, section="safety", render=render)
