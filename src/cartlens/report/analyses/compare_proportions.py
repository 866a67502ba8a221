"""Rendering of the ``compare_proportions`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, join, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    s, d = a.summary, a.details
    c1, c2 = a.cohorts
    rc.block["tables"].append(
        {
            "head": ["", rc.clabel(c1), rc.clabel(c2), "P", "test"],
            "rows": [
                [
                    a.title.split(",")[0],
                    fmt.count_pct(s["x1"], s["n1"]),
                    fmt.count_pct(s["x2"], s["n2"]),
                    fmt.pvalue(s["p"]),
                    d["method"],
                ],
                [
                    "(Fisher's exact test)",
                    "",
                    "",
                    fmt.pvalue(s["p_fisher"]),
                    "for reference",
                ],
            ],
        }
    )


def methods(analyses: list, rc: RenderContext) -> str:
    tests = list(dict.fromkeys(a.details.get("method", "") for a in analyses))
    tests = [t for t in tests if t]
    if not tests:
        return ""
    s = f"Proportions were compared between cohorts with {join(tests)}"
    if any(a.summary.get("overlap") for a in analyses):
        s += (
            ", which treats the cohorts as independent groups although they share patients "
            "(a PairedDataWarning says how many); Fisher's exact test is given for reference"
        )
    return s + "."


register("compare_proportions", methods=methods, section="efficacy", render=render)
