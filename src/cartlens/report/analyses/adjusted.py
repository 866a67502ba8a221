"""Rendering of the ``adjusted`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    s, d = a.summary, a.details
    bal = a.results.get("balance")
    if bal is not None:
        from cartlens.report.figures.balance import love_plot

        rc.block["figures"].append(
            rc.figs.add(
                a.id + "_balance",
                a.title + " (covariate balance)",
                lambda bal=bal: love_plot(bal, title="Covariate balance before/after IPTW"),
            )
        )
    rc.block["tables"].append(
        {
            "head": ["Method", "n (treated / control)", "HR", "95% CI", "P"],
            "rows": [
                [
                    d["method"]
                    + (
                        f" on {', '.join(rc.vlabel(c) for c in d['covariates'])}"
                        if d["covariates"]
                        else ""
                    ),
                    f"{s.get('n')} ({s.get('n_treated')} / {s.get('n_control')})",
                    fmt.estimate(s.get("hr"), 2),
                    fmt.interval(s.get("lower"), s.get("upper"), 2),
                    fmt.pvalue(s.get("p")),
                ]
            ],
        }
    )


def methods(analyses: list, rc: RenderContext) -> str:
    return (
        "Adjusted comparisons used stabilised inverse-probability-of-treatment weights from "
        "a Firth logistic propensity model with a weighted Cox model (robust variance)."
    )


register("adjusted", methods=methods, section="not_done", render=render)
