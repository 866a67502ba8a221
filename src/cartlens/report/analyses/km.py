"""Rendering of the ``km`` analysis: KM figure with risk table, medians table, log-rank."""

from __future__ import annotations

from cartlens.report.analyses.base import ENDPOINT_NAMES, RenderContext, register


def render(a, rc: RenderContext) -> None:
    from cartlens.report.figures.km import km_figure

    fmt = rc.fmt
    s, d = a.summary, a.details
    lab = {c["group"]: c["label"] for c in d["curves"]}
    pv = []
    if s.get("logrank") is not None and (len(d["curves"]) > 2 or not d.get("pairs")):
        pv.append(f"log-rank P = {fmt.pvalue(s['logrank'])}")
    for g1, g2 in d.get("pairs", []):
        pv.append(
            f"log-rank P = {fmt.pvalue(s.get(f'logrank.{g1}|{g2}'))}: "
            f"{lab.get(g1, g1)} vs {lab.get(g2, g2)}"
        )
    pairwise = [
        f"{lab.get(g1, g1)} vs {lab.get(g2, g2)}: P = {fmt.pvalue(s.get(f'pairwise.{g1}|{g2}'))}"
        for g1, g2 in d.get("pairwise", [])
    ]
    # in the panel only the overall test; the pairwise ones are in the text below
    panel = [f"log-rank P = {fmt.pvalue(s['logrank'])}"] if s.get("logrank") is not None else []
    km = a.results["km"]
    ep = ENDPOINT_NAMES.get(d["endpoint"], d["endpoint"].upper())
    rc.figure(
        a.id,
        a.title,
        lambda km=km, d=d, panel=panel, ep=ep: km_figure(
            km,
            d["curves"],
            endpoint=ep,
            time_unit=d["time_unit"],
            risk_times=d["risk_times"],
            pvalues=panel,
            decimals=fmt.decimals,
            count_format=fmt.count,
            cumulative_events=d.get("cumulative_events", False),
        ),
    )
    rc.table(
        [d.get("by_label") or "Group", "n", "events", f"median {ep} ({d['time_unit']})", "95% CI"],
        [
            [
                c["label"],
                fmt.count(c["n"]),
                fmt.count(c["events"]),
                fmt.median(c["median"]),
                fmt.interval(c["median_lower"], c["median_upper"], upper_nr=True),
            ]
            for c in d["curves"]
        ],
        name=a.id,
    )
    rc.block["text"] += pv
    if pairwise:
        rc.text("Pairwise log-rank tests (Holm-adjusted): " + "; ".join(pairwise) + ".")


def methods(analyses: list, rc: RenderContext) -> str:
    pres = rc.study["presentation"]
    s = (
        f"Survival was estimated by the Kaplan-Meier method with {pres['km_conf_type']}-"
        "transformed pointwise confidence intervals (Greenwood variance); medians follow R's "
        "survfit rule and 'NR' means not reached."
    )
    if any(a.summary.get("logrank") is not None for a in analyses):
        s += " Groups were compared with the log-rank test"
        if any(a.details.get("pairwise") for a in analyses):
            s += ", pairwise with Holm's adjustment"
        s += "."
    return s


register("km", methods=methods, section="survival", render=render)
