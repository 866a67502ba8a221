"""Rendering of the ``proportion`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    d = a.details
    rc.block["tables"].append(
        {
            "head": [
                "Cohort",
                "CR / n",
                "%",
                f"{100 * d['conf_level']:.0f}% CI ({d['method']})",
            ],
            "rows": [
                [
                    r["label"],
                    f"{fmt.count(r['x'])}/{fmt.count(r['n'])}",
                    fmt.pct(r["x"], r["n"]),
                    fmt.ci(r["lower"], r["upper"]),
                ]
                for r in d["rows"]
            ],
        }
    )


def methods(analyses: list, rc: RenderContext) -> str:
    pres = rc.study["presentation"]
    ci = _CI.get(pres["ci_method"], pres["ci_method"])
    return f"Proportions are given with {ci} {100 * pres['conf_level']:.0f}% confidence intervals."


_CI = {
    "clopper-pearson": "exact Clopper-Pearson",
    "wilson": "Wilson score",
    "wilson-cc": "Wilson score with continuity correction",
}


register("proportion", methods=methods, section="efficacy", render=render)
