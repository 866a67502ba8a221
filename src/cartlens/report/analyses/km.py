"""Rendering of the ``km`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    s, d = a.summary, a.details
    from cartlens.report.figures.km import km_figure

    pv = []
    for g1, g2 in d.get("pairs", []):
        lab = {c["group"]: c["label"] for c in d["curves"]}
        pv.append(
            f"log-rank P = {fmt.pvalue(s.get(f'logrank.{g1}|{g2}'))}: "
            f"{lab.get(g1, g1)} vs {lab.get(g2, g2)}"
        )
    if not d.get("pairs") and s.get("logrank") is not None:
        pv.append(f"log-rank P = {fmt.pvalue(s['logrank'])}")
    km = a.results["km"]
    ep = d["endpoint"].upper()
    rc.block["figures"].append(
        rc.figs.add(
            a.id,
            a.title,
            lambda km=km, d=d, t=a.title, pv=pv, ep=ep: km_figure(
                km,
                d["curves"],
                title=t,
                endpoint=ep,
                time_unit=d["time_unit"],
                risk_times=d["risk_times"],
                pvalues=pv,
                decimals=fmt.decimals,
                count_format=fmt.count,
            ),
        )
    )
    rc.block["tables"].append(
        {
            "head": ["Group", "n", "events", f"median {ep} ({d['time_unit']})", "95% CI"],
            "rows": [
                [
                    c["label"],
                    fmt.count(c["n"]),
                    fmt.count(c["events"]),
                    fmt.median(c["median"]),
                    f"{fmt.median(c['median_lower'])}-{fmt.median(c['median_upper'])}",
                ]
                for c in d["curves"]
            ],
        }
    )
    rc.block["text"] += pv


def methods(analyses: list, rc: RenderContext) -> str:
    pres = rc.study["presentation"]
    return (
        f"Survival was estimated by the Kaplan-Meier method with {pres['km_conf_type']}-"
        "transformed pointwise confidence intervals (Greenwood variance); medians follow R's "
        "survfit rule and 'NR' means not reached. Groups were compared with the log-rank test."
    )


register("km", methods=methods, section="survival", render=render)
