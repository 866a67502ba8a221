"""The regression table and forest plot shared by the Cox, logistic and Fine-Gray renderers.

One table with the univariable and multivariable columns side by side (gtsummary's
``tbl_uvregression`` merged with ``tbl_regression``): a label row per variable, its
reference level as a row with an em dash, N and events, and for Cox models the ``cox.zph``
P of each covariate.
"""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext
from cartlens.report.format import NOT_ESTIMABLE

INDENT = "\u2003"
DASH = "\u2014"
NAMES = {"hr": "HR", "or": "OR"}
LONG = {
    "HR": "HR = hazard ratio",
    "OR": "OR = odds ratio",
    "sHR": "sHR = subdistribution hazard ratio",
}


def render_model(a, rc: RenderContext, meas: str, *, ph: bool = False, name: str = "") -> None:
    from cartlens.report.figures.forest import forest_figure

    fmt = rc.fmt
    d = a.details
    short = name or NAMES.get(meas, meas.upper())
    by = {(r["model"], r.get("term")): r for r in d["rows"] if "error" not in r}
    models = d.get("models", {})
    mv = models.get("multivariable", {})
    zph = mv.get("zph") or {}
    has_uv, has_mv = bool(d.get("univariable")), bool(d.get("multivariable"))
    mi = has_mv and (d.get("missing") or {}).get("method") == "multiple_imputation"

    def cells(row):
        if row is None:
            return ["", "", ""]
        if row.get("not_estimable"):
            return [NOT_ESTIMABLE, row["not_estimable"], fmt.pvalue(row.get("p"))]
        return [
            fmt.estimate(row.get(meas), 2),
            fmt.interval(row.get("lower"), row.get("upper"), 2),
            fmt.pvalue(row.get("p")),
        ]

    head = ["Characteristic", "N"]
    if has_uv:
        head += [f"{short} (univariable)", "95% CI", "p"]
    if has_mv:
        head += [f"{short} (multivariable)", "95% CI", "p"]
    if mi:
        head.append("FMI")
    if ph and has_mv:
        head.append("PH test p")
    out, forest = [], []
    for lay in d.get("layout", []):
        label = INDENT * lay.get("indent", 0) + lay["label"]
        uv = by.get(("univariable", lay.get("term")))
        mvr = by.get(("multivariable", lay.get("term")))
        ph_p = ""
        if ph and has_mv and (lay["kind"] == "header" or lay.get("indent", 0) == 0):
            ph_p = fmt.pvalue(zph.get(lay["group"])) if lay["group"] in zph else ""
        n = fmt.count(lay["n"]) if lay.get("n") is not None else ""
        if lay["kind"] == "header":
            row = [label, n] + [""] * (3 * has_uv + 3 * has_mv)
        elif lay["kind"] == "reference":
            row = [label, n] + [DASH, DASH, ""] * has_uv + [DASH, DASH, ""] * has_mv
        else:
            row = [label, n]
            row += cells(uv) if has_uv else []
            row += cells(mvr) if has_mv else []
        if mi:
            fmi = (mvr or {}).get("fmi") if lay["kind"] == "term" else None
            row.append(fmt.num(fmi, 2) if fmi is not None else "")
        if ph and has_mv:
            row.append(ph_p)
        out.append(row)
        src = mvr if has_mv else uv
        frow = {"label": lay["label"], "indent": lay.get("indent", 0), "kind": lay["kind"]}
        if lay["kind"] == "term" and src is not None:
            frow.update(
                est=src.get(meas) if not src.get("not_estimable") else None,
                lower=src.get("lower"),
                upper=src.get("upper"),
                text=(
                    NOT_ESTIMABLE
                    if src.get("not_estimable")
                    else fmt.ratio(src.get(meas), src.get("lower"), src.get("upper"))
                ),
                p=fmt.pvalue(src.get("p")),
            )
        if lay.get("n") is not None and lay["kind"] != "header":
            frow["n_events"] = f"{fmt.count(lay['n'])} ({fmt.count(lay['events'])})"
        forest.append(frow)
    notes = []
    ref = mv if has_mv else next(iter(models.values()), {})
    if ref.get("n") is not None:
        which = "multivariable model" if has_mv else "cohort"
        notes.append(
            f"Events: {fmt.count(ref.get('events'))} of {fmt.count(ref.get('n'))} "
            f"({which}). {LONG.get(short, short)}; CI = confidence interval."
        )
    if mi:
        k = (d.get("missing") or {}).get("imputations")
        notes.append(
            f"Missing covariates multiply imputed ({k} data sets), estimates pooled with "
            "Rubin's rules; FMI = fraction of missing information."
        )
    if ph and has_mv:
        notes.append("PH test p: Grambsch-Therneau test of proportional hazards (cox.zph).")
    rc.table(head, out, name=a.id, notes=notes)
    for r in d["rows"]:
        if "error" in r:
            rc.text(f"The {r['model']} model ({r['term']}) could not be fitted: {r['error']}")
    if any(f.get("kind") == "term" for f in forest):
        model = "multivariable" if has_mv else "univariable"
        rc.figure(
            a.id,
            a.title,
            lambda forest=forest, meas=meas, model=model: forest_figure(
                forest, measure=meas, model=model
            ),
        )


def missing_sentence(analyses: list) -> str:
    """How missing covariate values were handled, for the methods text of a model type."""
    mi = [
        a
        for a in analyses
        if (a.details.get("missing") or {}).get("method") == "multiple_imputation"
    ]
    if not mi:
        return (
            " Each model used the patients with complete data for its variables "
            "(complete-case analysis)."
        )
    info = mi[0].details["missing"]
    fmi = [
        (r["fmi"], r["term"])
        for a in mi
        for r in a.details.get("rows", [])
        if r.get("model") == "multivariable" and r.get("fmi") is not None
    ]
    worst = max(fmi) if fmi else None
    imputed = ", ".join(sorted({c for a in mi for c in a.details["missing"].get("imputed", {})}))
    s = (
        f" Missing covariate values ({imputed or 'none'}) were multiply imputed by chained "
        f"equations ({info['imputations']} imputed data sets, {info['iterations']} iterations, "
        "predictive mean matching for continuous and logistic or multinomial regression for "
        f"categorical variables, seed {info['seed']}), and the estimates pooled with Rubin's "
        "rules (Barnard-Rubin degrees of freedom)"
    )
    if worst is not None:
        s += f"; the largest fraction of missing information was {worst[0]:.2f} ({worst[1]})"
    return s + "."
