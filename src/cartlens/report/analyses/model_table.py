"""The regression table and forest plot shared by the Cox and logistic renderers."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext


def render_model(a, rc: RenderContext, meas: str) -> None:
    fmt = rc.fmt
    d = a.details
    from cartlens.report.figures.forest import forest_figure

    rows = d["rows"]
    rc.block["tables"].append(
        {
            "head": ["Model", "Term", "HR" if meas == "hr" else "OR", "95% CI", "P"],
            "rows": [
                [row["model"], row["term"], "error", row["error"], ""]
                if "error" in row
                else [
                    row["model"],
                    row["term"],
                    fmt.num(row[meas], 2),
                    f"{fmt.num(row['lower'], 2)}-{fmt.num(row['upper'], 2)}",
                    fmt.pvalue(row["p"]),
                ]
                for row in rows
            ],
        }
    )
    rc.block["figures"].append(
        rc.figs.add(
            a.id,
            a.title,
            lambda rows=rows, meas=meas, t=a.title: forest_figure(rows, measure=meas, title=t),
        )
    )
