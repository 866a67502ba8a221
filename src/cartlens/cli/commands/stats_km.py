"""``cartlens stats km``, ``cartlens stats logrank`` and ``cartlens stats followup``.

* ``km``: Kaplan-Meier curves (R's ``survfit``) with the median and its CI per group and the
  curve at ``--times`` (``summary(fit, times = ..., extend = TRUE)``; without ``--times``, at
  every event time). ``--start`` gives (start, stop] data, ``--weights`` case weights (with
  the robust infinitesimal-jackknife SE, as ``survfit(..., weights = w, robust = TRUE)``).
* ``logrank``: ``survdiff`` (``--rho`` for Fleming-Harrington weights, ``--strata``), plus
  optionally a test for trend (``--trend``) and pairwise tests (``--pairwise holm``).
* ``followup``: median follow-up by reverse Kaplan-Meier.

Group labels are reported exactly as written in the CSV; groups are ordered numerically when
every label is a number, else alphabetically.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cartlens.cli.apps import stats_app
from cartlens.cli.common import (
    DataOpt,
    JsonOpt,
    group_codes,
    load_survival_frame,
    numeric_column,
    parse_floats,
    print_table,
    run_command,
    whole_number,
)
from cartlens.errors import InputError

CONF_TYPES = ("log", "log-log", "plain")

TimeOpt = Annotated[str, typer.Option("--time", help="Time (stop) column.")]
EventOpt = Annotated[str, typer.Option("--event", help="Event column.")]
CodeOpt = Annotated[
    str, typer.Option("--event-code", help="Value of the event column meaning 'event' (1).")
]


def _clean(payload: dict) -> dict:
    """NaN -> None so that tables print '-' for 'not reached'."""
    from cartlens.results import json_safe

    return json_safe(payload)


def _check_conf(conf_type: str) -> None:
    if conf_type not in CONF_TYPES:
        raise InputError(
            f"must be one of {', '.join(CONF_TYPES)}; got {conf_type!r}", column="--conf-type"
        )


@stats_app.command("km")
def km(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    event_code: CodeOpt = "1",
    group: Annotated[str | None, typer.Option("--group", help="Group column.")] = None,
    conf_type: Annotated[
        str, typer.Option("--conf-type", help="Pointwise CI: log (R default), log-log, plain.")
    ] = "log",
    times: Annotated[
        str | None, typer.Option("--times", help="Times for the survival table, e.g. 180,365.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="Entry (start) column: (start, stop] data.")
    ] = None,
    weights: Annotated[
        str | None, typer.Option("--weights", help="Case-weight column (robust IJ SE).")
    ] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Cluster (patient id) column for robust SE.")
    ] = None,
    model_based: Annotated[
        bool,
        typer.Option("--model-based", help="With --weights: weighted Greenwood SE, not robust."),
    ] = False,
    conf_level: Annotated[float, typer.Option("--conf-level")] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """Kaplan-Meier estimates: median (95% CI) per group and S(t) at chosen times."""

    def compute() -> dict:
        import numpy as np

        from cartlens.stats.km import kaplan_meier, survival_at

        _check_conf(conf_type)
        tt = parse_floats(times, "--times")
        df, t, e, n_dropped = load_survival_frame(
            data, time, event, event_code, [group, start, weights, cluster]
        )
        labels, codes = (None, None) if group is None else group_codes(df, group)
        entry = None if start is None else numeric_column(df, start)
        w = None if weights is None else numeric_column(df, weights)
        robust = None
        if w is not None or cluster is not None:
            robust = not model_based
        fit = kaplan_meier(
            t,
            e,
            entry=entry,
            weights=w,
            group=codes,
            conf_type=conf_type,
            conf_level=conf_level,
            robust=robust,
            cluster=None if cluster is None else df[cluster].to_numpy(),
            names={
                "time": time,
                "event": event,
                "entry": start,
                "weights": weights,
                "group": group,
                "cluster": cluster,
            },
        )
        out = []
        for c in fit.curves:
            at_times = tt if tt is not None else c.time[c.n_event > 0]
            s = survival_at(c, np.asarray(at_times, dtype=float))
            out.append(
                {
                    "group": None if labels is None else labels[c.group],
                    "n": c.n,
                    "events": whole_number(c.events),
                    "median": c.median,
                    "median_lower": c.median_lower,
                    "median_upper": c.median_upper,
                    "n_start": whole_number(c.n_start),
                    "at": [
                        {
                            "time": whole_number(s.time[i]),
                            "n_risk": whole_number(s.n_risk[i]),
                            "n_event": whole_number(s.n_event[i]),
                            "surv": float(s.surv[i]),
                            "std_err": float(s.std_err[i]),
                            "lower": float(s.lower[i]),
                            "upper": float(s.upper[i]),
                        }
                        for i in range(s.time.size)
                    ],
                }
            )
        return {
            "groups": out,
            "n_dropped_missing": n_dropped,
            "conf_type": conf_type,
            "conf_level": conf_level,
            "robust_se": fit.robust,
            "counting_process": start is not None,
        }

    def render(p: dict) -> None:
        p = _clean(p)
        lvl = f"{round(100 * p['conf_level'])}%"
        print_table(
            f"Kaplan-Meier median ({lvl} CI, {p['conf_type']}); "
            f"{p['n_dropped_missing']} rows dropped for missing values",
            ["group", "n", "events", "median", "lower", "upper"],
            [
                [
                    g["group"] if g["group"] is not None else "all",
                    g["n"],
                    g["events"],
                    g["median"],
                    g["median_lower"],
                    g["median_upper"],
                ]
                for g in p["groups"]
            ],
        )
        if times is not None:
            print_table(
                "Survival at the requested times (std_err = SE of S)",
                ["group", "time", "n_risk", "surv", "std_err", "lower", "upper"],
                [
                    [
                        g["group"] if g["group"] is not None else "all",
                        a["time"],
                        a["n_risk"],
                        a["surv"],
                        a["std_err"],
                        a["lower"],
                        a["upper"],
                    ]
                    for g in p["groups"]
                    for a in g["at"]
                ],
            )

    run_command(compute, as_json, render)


@stats_app.command("logrank")
def logrank(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    group: Annotated[str, typer.Option("--group", help="Group column.")],
    event_code: CodeOpt = "1",
    strata: Annotated[str | None, typer.Option("--strata", help="Stratum column.")] = None,
    rho: Annotated[
        float, typer.Option("--rho", help="Fleming-Harrington rho: 0 log-rank, 1 Peto-Peto.")
    ] = 0.0,
    start: Annotated[
        str | None, typer.Option("--start", help="Entry (start) column: left truncation.")
    ] = None,
    trend: Annotated[
        bool,
        typer.Option(
            "--trend", help="Add a test for trend (scores: numeric labels, else 1..k in order)."
        ),
    ] = False,
    pairwise: Annotated[
        str | None,
        typer.Option("--pairwise", help="Add pairwise tests adjusted by holm|bonferroni|none."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Log-rank / Fleming-Harrington test (R's survdiff), optionally stratified."""

    def compute() -> dict:
        from cartlens.stats.logrank import logrank_test, logrank_trend, pairwise_logrank

        if pairwise is not None and pairwise not in ("holm", "bonferroni", "none"):
            raise InputError(
                f"must be holm, bonferroni or none; got {pairwise!r}", column="--pairwise"
            )
        df, t, e, n_dropped = load_survival_frame(
            data, time, event, event_code, [group, strata, start]
        )
        labels, codes = group_codes(df, group)
        slabels, scodes = (None, None) if strata is None else group_codes(df, strata)
        entry = None if start is None else numeric_column(df, start)
        names = {"time": time, "event": event, "group": group, "strata": strata, "entry": start}
        r = logrank_test(
            t, e, codes, strata=scodes, rho=rho, entry=entry, names=names, labels=labels
        )
        out = {
            "chisq": r.chisq,
            "df": r.df,
            "p": r.p,
            "groups": [
                {
                    "group": labels[g["group"]],
                    "n": g["n"],
                    "observed": whole_number(g["observed"]),
                    "expected": g["expected"],
                    "o_minus_e": g["o_minus_e"],
                }
                for g in r.groups
            ],
            "rho": rho,
            "method": r.method,
            "n": r.n,
            "events": r.events,
            "n_dropped_missing": n_dropped,
        }
        if r.strata is not None:
            out["strata"] = [{"stratum": slabels[s["stratum"]], "n": s["n"]} for s in r.strata]
        if trend:
            scores = None
            try:
                scores = [float(lab) for lab in labels]
            except ValueError:
                scores = None
            tr = logrank_trend(
                t, e, codes, scores=scores, strata=scodes, rho=rho, entry=entry, names=names
            )
            out["trend"] = {
                "chisq": tr.chisq,
                "df": tr.df,
                "p": tr.p,
                "z": tr.z,
                "scores": list(tr.scores),
            }
        if pairwise is not None:
            pw = pairwise_logrank(
                t, e, codes, strata=scodes, rho=rho, entry=entry, adjust=pairwise, names=names
            )
            out["pairwise"] = [
                {
                    "group1": labels[c["group1"]],
                    "group2": labels[c["group2"]],
                    "chisq": c["chisq"],
                    "p": c["p"],
                    "p_adjusted": c["p_adjusted"],
                }
                for c in pw.comparisons
            ]
            out["pairwise_adjust"] = pairwise
        return out

    def render(p: dict) -> None:
        p = _clean(p)
        title = f"{p['method']}: chisq = {p['chisq']:.4g}, df = {p['df']}, p = {p['p']:.4g}" + (
            " (stratified)" if "strata" in p else ""
        )
        print_table(
            title,
            ["group", "n", "observed", "expected", "O-E"],
            [
                [g["group"], g["n"], g["observed"], g["expected"], g["o_minus_e"]]
                for g in p["groups"]
            ],
        )
        if "trend" in p:
            tr = p["trend"]
            print_table(
                "Test for trend",
                ["chisq", "df", "p", "z"],
                [[tr["chisq"], tr["df"], tr["p"], tr["z"]]],
            )
        if "pairwise" in p:
            print_table(
                f"Pairwise tests ({p['pairwise_adjust']} adjustment)",
                ["group 1", "group 2", "chisq", "p", "p adjusted"],
                [
                    [c["group1"], c["group2"], c["chisq"], c["p"], c["p_adjusted"]]
                    for c in p["pairwise"]
                ],
            )

    run_command(compute, as_json, render)


@stats_app.command("followup")
def followup(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    event_code: CodeOpt = "1",
    group: Annotated[str | None, typer.Option("--group", help="Group column.")] = None,
    conf_type: Annotated[
        str, typer.Option("--conf-type", help="Pointwise CI: log (R default), log-log, plain.")
    ] = "log",
    as_json: JsonOpt = False,
) -> None:
    """Median follow-up by reverse Kaplan-Meier (censorings become the events)."""

    def compute() -> dict:
        from cartlens.stats.followup import median_followup

        _check_conf(conf_type)
        df, t, e, n_dropped = load_survival_frame(data, time, event, event_code, [group])
        labels, codes = (None, None) if group is None else group_codes(df, group)
        r = median_followup(
            t,
            e,
            group=codes,
            conf_type=conf_type,
            names={"time": time, "event": event, "group": group},
        )
        return {
            "groups": [
                {**g, "group": None if labels is None else labels[g["group"]]} for g in r.groups
            ],
            "method": r.method,
            "conf_type": conf_type,
            "n_dropped_missing": n_dropped,
        }

    def render(p: dict) -> None:
        p = _clean(p)
        print_table(
            f"Median follow-up ({p['method']}, 95% CI {p['conf_type']})",
            ["group", "n", "censored", "median", "lower", "upper", "max"],
            [
                [
                    g["group"] if g["group"] is not None else "all",
                    g["n"],
                    g["censored"],
                    g["median"],
                    g["median_lower"],
                    g["median_upper"],
                    g["max"],
                ]
                for g in p["groups"]
            ],
        )

    run_command(compute, as_json, render)
