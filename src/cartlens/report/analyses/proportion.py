"""Rendering of the ``proportion`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    d = a.details
    by = d.get("by")
    head = ["Cohort"] + ([d.get("by_label") or by] if by else [])
    head += [
        f"{d.get('outcome_label') or d.get('outcome', 'outcome')}: x / n",
        "%",
        f"{100 * d['conf_level']:.0f}% CI ({d['method']})",
    ]
    rows = []
    for r in d["rows"]:
        first = [r.get("cohort_label", r["label"])] + ([r["label"]] if by else [])
        rows.append(
            first
            + [
                f"{fmt.count(r['x'])}/{fmt.count(r['n'])}",
                fmt.pct(r["x"], r["n"]),
                fmt.ci(r["lower"], r["upper"]),
            ]
        )
    rc.table(head, rows, name=a.id)
    lab = {r.get("group"): r["label"] for r in d["rows"] if r.get("group")}
    for t in d.get("tests", []):
        if t["p"] is not None:
            rc.text(f"{t['label']}: {t['test']}, P = {fmt.pvalue(t['p'])}.")
        if t.get("note"):
            rc.text(f"{t['label']}: {t['note']}.")
        pairs = [
            f"{lab.get(pw['group1'], pw['group1'])} vs {lab.get(pw['group2'], pw['group2'])}: "
            f"P = {fmt.pvalue(pw['p_adjusted'])}"
            for pw in t.get("pairwise", [])
            if pw.get("p_adjusted") is not None
        ]
        if pairs:
            rc.text(f"{t['label']}, pairwise (Holm-adjusted): " + "; ".join(pairs) + ".")


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
