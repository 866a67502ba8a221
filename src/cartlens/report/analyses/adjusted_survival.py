"""Rendering of the ``adjusted_survival`` analysis: curves, table of S(t) and differences."""

from __future__ import annotations

from cartlens.report.analyses.base import ENDPOINT_NAMES, RenderContext, register


def render(a, rc: RenderContext) -> None:
    from cartlens.report.figures.adjusted import adjusted_curves_figure

    fmt = rc.fmt
    d = a.details
    r = a.results["curves"]
    labels = d["labels"]
    ep = ENDPOINT_NAMES.get(d["endpoint"], d["endpoint"].upper())
    if d.get("cause"):
        ep = f"cumulative incidence of {d['cause']}"
    unit = d["time_unit"]
    rc.figure(
        a.id,
        a.title,
        lambda r=r, labels=labels, unit=unit: adjusted_curves_figure(
            r, labels=labels, time_unit=unit
        ),
    )
    rows = []
    for c in r.curves:
        for i, tv in enumerate(c["time"]):
            rows.append(
                [
                    labels.get(c["level"], str(c["level"])),
                    fmt.num(tv),
                    fmt.num(c["surv"][i]),
                    fmt.interval(c["lower"][i], c["upper"][i]),
                ]
            )
    rc.table(
        ["Group", f"time ({unit})", f"adjusted {ep}", "95% CI"],
        rows,
        name=a.id,
        notes=[r.description + ".", "CIs: " + r.ci_method + ".", r.weighted_label + "."],
    )
    for dd in r.differences:
        rc.text(
            f"At {fmt.num(dd['time'])} {unit}: {labels.get(dd['level'], dd['level'])} minus "
            f"{labels.get(dd['reference'], dd['reference'])} {fmt.num(dd['estimate'])} "
            f"(95% CI {fmt.interval(dd['lower'], dd['upper'])}; P = {fmt.pvalue(dd['p'])})."
        )


def methods(analyses: list, rc: RenderContext) -> str:
    kinds = {a.details["method"] for a in analyses}
    parts = []
    cif = any(a.details.get("cause") for a in analyses)
    if cif:
        parts.append(
            "as adjusted cumulative incidences of relapse or non-relapse mortality (the g-formula "
            "from cause-specific Cox models of every cause, or the Aalen-Johansen estimator "
            "weighted by the inverse probability of treatment)"
        )
    if "gformula" in kinds:
        parts.append(
            "by the g-formula (the average over all patients of the survival predicted by a "
            "Cox model of treatment and covariates)"
        )
    if "iptw" in kinds:
        parts.append(
            "by Kaplan-Meier curves weighted by the inverse probability of treatment from a "
            "logistic propensity model"
        )
    return (
        "Covariate-adjusted survival curves were estimated "
        + " and ".join(parts)
        + "; confidence intervals and differences between curves at chosen times come from "
        "a nonparametric bootstrap of the patients with every model refitted (riskRegression "
        "ate / weighted survfit); risk tables give unweighted and weighted numbers at risk."
    )


register("adjusted_survival", methods=methods, section="survival", render=render)
