"""Rendering of the ``competing_risks`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    s, d = a.summary, a.details
    from cartlens.report.figures.cif import cif_groups_figure

    unit = d["time_unit"]
    rc.block["tables"].append(
        {
            "head": ["Group", "Cause", f"at ({unit})", "cumulative incidence", "95% CI"],
            "rows": [
                [
                    r["group"],
                    r["cause"],
                    fmt.num(r["time"], 0),
                    fmt.pct(r["estimate"], 1) if r["estimate"] is not None else "not estimable",
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
    groups = d.get("groups") or ["all"]
    keys = [None if g == "all" and None in res.groups else g for g in groups]
    pv = {
        int(c): f"Gray's test P = {fmt.pvalue(s.get('gray.' + name))}"
        for c, name in d["causes"].items()
        if s.get("gray." + name) is not None
    }
    rc.figure(
        a.id,
        a.title,
        lambda res=res, d=d, causes=causes, keys=keys, groups=groups, pv=pv: cif_groups_figure(
            res,
            groups=keys,
            group_labels={k: d.get("group_labels", {}).get(g, g) for k, g in zip(keys, groups)},
            cause_labels=causes,
            at_risk={k: d["at_risk"].get(g, []) for k, g in zip(keys, groups)},
            risk_times=d["risk_times"],
            pvalues=pv,
            time_unit=d["time_unit"],
            count_format=fmt.count,
        ),
    )


def methods(analyses: list, rc: RenderContext) -> str:
    return (
        "Cumulative incidences of relapse and of non-relapse mortality were estimated as "
        "competing risks (Aalen-Johansen, Gray's variance) and compared with Gray's test."
    )


register("competing_risks", methods=methods, section="survival", render=render)
