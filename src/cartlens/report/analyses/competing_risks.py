"""Rendering of the ``competing_risks`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    s, d = a.summary, a.details
    from cartlens.report.figures.competing import cif_figure

    unit = d["time_unit"]
    rc.block["tables"].append(
        {
            "head": ["Group", "Cause", f"at ({unit})", "cumulative incidence", "95% CI"],
            "rows": [
                [
                    r["group"],
                    r["cause"],
                    fmt.num(r["time"], 0),
                    fmt.pct(r["estimate"], 1) if r["estimate"] is not None else "-",
                    fmt.ci(r["lower"], r["upper"]),
                ]
                for r in d["rows"]
            ],
        }
    )
    for k, v in s.items():
        if k.startswith("gray."):
            rc.block["text"].append(f"Gray's test, {k[5:]}: P = {fmt.pvalue(v)}")
    res = a.results["cuminc"]
    causes = {int(k): v for k, v in d["causes"].items()}
    rc.block["figures"].append(
        rc.figs.add(
            a.id,
            a.title,
            lambda res=res, d=d, causes=causes: cif_figure(
                res,
                at_risk=d["at_risk"] if None not in res.groups else None,
                risk_times=d["risk_times"],
                cause_labels=causes,
                group_labels=d["labels"],
                time_unit=d["time_unit"],
            ),
        )
    )


def methods(analyses: list, rc: RenderContext) -> str:
    return (
        "Cumulative incidences of relapse and of non-relapse mortality were estimated as "
        "competing risks (Aalen-Johansen, Gray's variance) and compared with Gray's test."
    )


register("competing_risks", methods=methods, section="survival", render=render)
