"""Rendering of the ``paired_proportions`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    s = a.summary
    c1, c2 = a.cohorts
    rc.block["tables"].append(
        {
            "head": [
                f"{rc.clabel(c1)} \\ {rc.clabel(c2)}",
                "yes",
                "no",
            ],
            "rows": [
                ["yes", fmt.count(s["both"]), fmt.count(s["first_only"])],
                ["no", fmt.count(s["second_only"]), fmt.count(s["neither"])],
            ],
        }
    )
    rc.block["text"].append(
        f"{s['n_pairs']} patients had both infusions evaluated: {fmt.num(s['pct1'])}% "
        f"after the first vs {fmt.num(s['pct2'])}% after the second; McNemar's exact "
        f"test P = {fmt.pvalue(s['p'])} (discordant pairs {s['first_only']} vs "
        f"{s['second_only']})."
    )


def methods(analyses: list, rc: RenderContext) -> str:
    return (
        "For patients in both of two cohorts (the same patients measured twice), proportions "
        "were compared with McNemar's test on the discordant pairs."
    )


register("paired_proportions", methods=methods, section="not_done", render=render)
