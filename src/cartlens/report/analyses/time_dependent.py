"""Rendering of the ``time_dependent`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import ENDPOINT_NAMES, RenderContext, register


def render(a, rc: RenderContext) -> None:
    fmt = rc.fmt
    s, d = a.summary, a.details
    unit = d["time_unit"]
    ep = ENDPOINT_NAMES.get(d.get("endpoint", "os"), "OS")
    rows = [
        [
            "Naive: exposed ever vs never, from time zero (immortal-time biased)",
            fmt.estimate(s.get("naive.hr"), 2),
            fmt.interval(s.get("naive.lower"), s.get("naive.upper"), 2),
            fmt.pvalue(s.get("naive.p")),
        ],
        [
            "Time-dependent Cox (exposure from its date)",
            fmt.estimate(s.get("td.hr"), 2),
            fmt.interval(s.get("td.lower"), s.get("td.upper"), 2),
            fmt.pvalue(s.get("td.p")),
        ],
        [
            f"Landmark at day {fmt.num(s.get('landmark.days'), 0)} ("
            + ", ".join(
                f"{k} {fmt.count(s[key])}"
                for k, key in (
                    ("n =", "landmark.n"),
                    ("exposed", "landmark.exposed"),
                    ("excluded", "landmark.excluded"),
                )
                if s.get(key) is not None
            )
            + ")",
            fmt.estimate(s.get("landmark.hr"), 2),
            fmt.interval(s.get("landmark.lower"), s.get("landmark.upper"), 2),
            fmt.pvalue(s.get("landmark.p")),
        ],
    ]
    if s.get("mantel_byar.p") is not None:
        rows.append(["Mantel-Byar test", "", "", fmt.pvalue(s.get("mantel_byar.p"))])
    rc.block["tables"].append({"head": ["Analysis", "HR", "95% CI", "P"], "rows": rows})
    rc.block["text"].append(
        f"Counting exposed patients as exposed from time zero credits them with "
        f"{fmt.num(s.get('immortal_person_time'))} {unit} of immortal time."
    )
    if d.get("landmark_survival"):
        rc.table(
            ["Group (at the landmark)", "days since the landmark", "at risk", "S(t)", "95% CI"],
            [
                [
                    r["group"],
                    fmt.num(r["time_days"], 0),
                    fmt.count(r["n_risk"]),
                    fmt.num(r["surv"]),
                    fmt.interval(r["lower"], r["upper"]),
                ]
                for r in d["landmark_survival"]
            ],
            name=a.id + "_landmark_survival",
        )
    from cartlens.report.figures.km import km_figure

    lm = a.results.get("landmark")
    if d.get("landmark_curves") and lm is not None and lm.km is not None:
        rc.block["figures"].append(
            rc.figs.add(
                a.id + "_landmark",
                a.title + " (landmark)",
                lambda lm=lm, d=d, s=s: km_figure(
                    lm.km,
                    d["landmark_curves"],
                    title=f"Landmark analysis: {ep} from day " + fmt.num(s.get("landmark.days"), 0),
                    endpoint=ep,
                    time_unit=d["time_unit"],
                    risk_times=d["risk_times"],
                    pvalues=[f"log-rank P = {fmt.pvalue(s.get('landmark.p'))}"],
                    decimals=fmt.decimals,
                    count_format=fmt.count,
                ),
            )
        )
    sm = a.results.get("simon_makuch")
    if sm is not None and d.get("simon_makuch_curves"):
        rc.block["figures"].append(
            rc.figs.add(
                a.id + "_simon_makuch",
                a.title + " (Simon-Makuch)",
                lambda sm=sm, d=d, s=s: km_figure(
                    sm,
                    d["simon_makuch_curves"],
                    title="Simon-Makuch curves: patients switch group at "
                    + d.get("exposure_label", "the exposure"),
                    endpoint=ep,
                    time_unit=d["time_unit"],
                    risk_times=d["risk_times"],
                    pvalues=[f"Mantel-Byar P = {fmt.pvalue(s.get('mantel_byar.p'))}"],
                    decimals=fmt.decimals,
                    count_format=fmt.count,
                ),
            )
        )


def methods(analyses: list, rc: RenderContext) -> str:
    return (
        "Because the exposure happens after the time origin, its association with survival was "
        "also estimated without immortal-time bias: as a time-dependent covariate in a Cox "
        "model, with the Mantel-Byar test and Simon-Makuch curves, and by a landmark analysis."
    )


register("time_dependent", methods=methods, section="not_done", render=render)
