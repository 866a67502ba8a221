"""Rendering of the ``haematotoxicity`` analysis: ICAHT grade tables and the methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, cp, register


def _iqr(fmt, d: dict) -> str:
    if d["median"] is None:
        return "-"
    return f"{fmt.num(d['median'], 0)} ({fmt.num(d['q1'], 0)}-{fmt.num(d['q3'], 0)})"


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    rows = a.details["rows"]
    for phase, title in (
        ("early", "Early ICAHT (day 0-30)"),
        ("late", "Late ICAHT (after day 30)"),
    ):
        head = [f"{title}: cohort", "assessable"]
        head += [f"grade {g}" for g in range(0, 5)] + ["grade >= 3"]
        body = []
        for r in rows:
            p = r[phase]
            n = p["assessable"]
            body.append(
                [r["label"], f"{fmt.count(n)} of {fmt.count(r['n'])}"]
                + [cp(fmt, p["counts"][str(g)], n) for g in range(0, 5)]
                + [cp(fmt, p["severe"], n)]
            )
        notes = []
        mism = sum(r[phase]["mismatch"] for r in rows)
        if mism:
            notes.append(
                f"{mism} recorded {phase} ICAHT grade(s) differ from the grade computed from "
                "the ANC series (rule R063); the table uses the endpoints' grade_source."
            )
        rc.table(head, body, name=title, notes=notes)
    rc.table(
        ["Cohort", "days with ANC <= 500/uL, median (IQR)", "ANC recovery day, median (IQR)"],
        [
            [
                r["label"],
                _iqr(fmt, r["days_anc_le_500"]),
                f"{_iqr(fmt, r['recovery_day'])}, n = {fmt.count(r['recovery_day']['n'])}",
            ]
            for r in rows
        ],
        name="Neutropenia and recovery",
    )
    from cartlens.report.figures.toxicity import grade_bar_figure

    bars = [
        {"label": r["label"], "n": r["early"]["assessable"], "counts": r["early"]["counts"]}
        for r in rows
    ]
    rc.figure(a.id, a.title, lambda bars=bars: grade_bar_figure(bars, toxicity="early ICAHT"))


def methods(analyses: list, rc: RenderContext) -> str:
    return (
        "Immune effector cell-associated haematotoxicity (ICAHT) was graded by the EHA/EBMT "
        "consensus (Rejeski et al., Blood 2023) from the ANC series: early ICAHT (day 0-30) "
        "from the cumulative days with ANC <= 500/uL and <= 100/uL (last value carried "
        "forward between samples, rises shorter than 3 days counted as neutropenic, "
        "censored at progression, a later line of therapy or death), late ICAHT from at least "
        "two values at or below 1500, 1000, 500 or 100/uL after day 30. ANC recovery was the "
        "first of three consecutive values >= 0.5 x 10^9/L after the nadir (CIBMTR)."
    )


register("haematotoxicity", methods=methods, section="safety", render=render)
