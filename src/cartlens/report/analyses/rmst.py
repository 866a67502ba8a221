"""Rendering of the ``rmst`` analysis: a table of RMST per group and the contrasts."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    d = a.details
    unit = d["time_unit"]
    ref, other = d["groups"]

    def ci(lo, hi) -> str:
        return f"{fmt.num(lo)} to {fmt.num(hi)}"

    rows = [
        [
            g["label"],
            fmt.count(g["n"]),
            fmt.count(g["events"]),
            fmt.num(g["rmst"]),
            ci(g["rmst_lower"], g["rmst_upper"]),
        ]
        for g in d["groups"]
    ]
    rc.table(
        ["Group", "N", "Events", f"RMST ({unit})", "95% CI"],
        rows,
        name=f"rmst_{a.id}",
        notes=[f"RMST up to {fmt.num(a.summary['tau'])} {unit} ({d['tau_rule']})."],
    )
    diff, ratio = d["difference"], d["ratio"]
    tau = fmt.num(a.summary["tau"])
    text = (
        f"Up to {tau} {unit}, the restricted mean survival time was {fmt.num(other['rmst'])} "
        f"{unit} for {other['label']} and {fmt.num(ref['rmst'])} {unit} for {ref['label']}"
    )
    if diff.get("note"):
        text += f" ({diff['note']})"
    else:
        text += (
            f": difference {fmt.num(diff['estimate'])} {unit} (95% CI "
            f"{ci(diff['lower'], diff['upper'])}; P = {fmt.pvalue(diff['p'])})"
        )
    if ratio.get("note"):
        text += f"; {ratio['note']}."
    else:
        text += f", ratio {fmt.num(ratio['estimate'])} ({ci(ratio['lower'], ratio['upper'])})."
    rc.text(text)


def methods(analyses: list, rc: RenderContext) -> str:
    return (
        "Restricted mean survival time (the area under the Kaplan-Meier curve up to a "
        "truncation time tau) was compared between groups as difference and ratio with "
        "normal-theory confidence intervals (Uno et al. 2014; survRM2), tau being the "
        "smaller of the two groups' largest follow-up times unless stated."
    )


register("rmst", methods=methods, section="survival", render=render)
