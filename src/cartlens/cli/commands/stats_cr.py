"""``cartlens stats cif``, ``cartlens stats finegray`` and ``cartlens stats landmark``.

* ``cif``: cumulative incidence per group and cause (``cmprsk::cuminc``: Aalen-Johansen
  estimate, Gray's variance) at ``--times`` (default: every jump), with log(-log) CIs, beside
  the infinitesimal-jackknife SE and log CI that ``survfit`` reports for the same estimate,
  and Gray's test per cause when there are groups. The event column holds 0 = censored and any
  other value = a cause code.
* ``finegray``: Fine-Gray subdistribution hazard model for ``--cause`` (``cmprsk::crr``).
* ``landmark``: landmark analysis of an exposure dated after time zero (an empty
  ``--exposure-time`` field = never exposed): KM medians and log-rank from each landmark.

Time-dependent Cox models run through ``cartlens stats cox --start``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cartlens.cli.apps import stats_app
from cartlens.cli.common import (
    DataOpt,
    JsonOpt,
    group_codes,
    load_complete_rows,
    load_survival_frame,
    numbers_if_numeric,
    numeric_column,
    parse_floats,
    print_table,
    read_csv,
    require_columns,
    run_command,
    whole_number,
)
from cartlens.errors import InputError

TimeOpt = Annotated[str, typer.Option("--time", help="Time column.")]
StatusOpt = Annotated[
    str, typer.Option("--event", help="Status column: 0 = censored, other values = cause codes.")
]
_AT_KEYS = ("time", "estimate", "variance", "lower", "upper")


def _status(df, column: str):
    """Cause codes as numbers (whole numbers as int)."""
    import numpy as np

    v = numeric_column(df, column)
    if np.all(v == np.round(v)):
        return v.astype(np.int64)
    return v


@stats_app.command("cif")
def cif(
    data: DataOpt,
    time: TimeOpt,
    event: StatusOpt,
    group: Annotated[str | None, typer.Option("--group", help="Group column.")] = None,
    times: Annotated[
        str | None, typer.Option("--times", help="Times for the table, e.g. 60,120.")
    ] = None,
    strata: Annotated[
        str | None, typer.Option("--strata", help="Strata column for Gray's test.")
    ] = None,
    causes: Annotated[
        str | None, typer.Option("--causes", help="Allowed cause codes, e.g. 1,2 (else any).")
    ] = None,
    rho: Annotated[float, typer.Option("--rho", help="Gray's test weight power (0).")] = 0.0,
    conf_type: Annotated[
        str, typer.Option("--conf-type", help="CI scale: log-log (default), plain, log.")
    ] = "log-log",
    as_json: JsonOpt = False,
) -> None:
    """Cumulative incidence of competing events (cuminc) with Gray's test."""

    def compute() -> dict:
        import numpy as np

        from cartlens.stats.competing import aalen_johansen, cif_at, cuminc

        df, n_dropped = load_complete_rows(data, [time, event, group, strata], empty_column=time)
        t = numeric_column(df, time)
        st = _status(df, event)
        allowed = None
        if causes is not None:
            allowed = [whole_number(c) for c in parse_floats(causes, "--causes") or []]
        labels, codes = (None, None) if group is None else group_codes(df, group)
        slabels, scodes = (None, None) if strata is None else group_codes(df, strata)
        res = cuminc(
            t,
            st,
            group=codes,
            strata=scodes,
            rho=rho,
            causes=allowed,
            conf_type=conf_type,
            names={"time": time, "event": event},
        )
        tt = parse_floats(times, "--times")
        all_causes = sorted({c.cause for c in res.curves})
        out_groups = []
        for c in res.curves:
            at = cif_at(c, c.time if tt is None else np.asarray(tt, float))
            sel = np.ones(t.size, bool) if codes is None else np.asarray(codes) == c.group
            aj = aalen_johansen(t[sel], st[sel], at["time"], causes=all_causes)
            ij = aj.groups[0]["states"][c.cause]
            rows = []
            for i in range(at["time"].size):
                row = {k: float(at[k][i]) for k in _AT_KEYS}
                row["ij_se"] = float(ij["std_err"][i])
                row["ij_lower"] = float(ij["lower"][i])
                row["ij_upper"] = float(ij["upper"][i])
                rows.append(row)
            out_groups.append(
                {
                    "group": None if labels is None else labels[c.group],
                    "cause": c.cause,
                    "n": c.n,
                    "events": c.events,
                    "at": rows,
                }
            )
        return {
            "n": res.n,
            "n_dropped_missing": n_dropped,
            "events": {str(k): v for k, v in res.events.items()},
            "conf_type": conf_type,
            "variance": "Gray (cmprsk::cuminc)",
            "ij_variance": (
                "Aalen-Johansen infinitesimal jackknife (survfit multi-state std.err), "
                "log-type CI (survfit's default)"
            ),
            "groups": out_groups,
            "gray_test": [
                {"cause": g.cause, "stat": g.stat, "df": g.df, "p": g.p} for g in res.gray_test
            ],
        }

    def render(p: dict) -> None:
        rows = []
        for g in p["groups"]:
            for a in g["at"]:
                rows.append(
                    [
                        g["group"],
                        g["cause"],
                        a["time"],
                        a["estimate"],
                        a["lower"],
                        a["upper"],
                        a["ij_se"],
                        a["ij_lower"],
                        a["ij_upper"],
                    ]
                )
        print_table(
            f"Cumulative incidence (CI {p['conf_type']} with Gray's variance; IJ: survfit's "
            "infinitesimal-jackknife SE and log CI)",
            ["group", "cause", "time", "CIF", "lower", "upper", "IJ se", "IJ lower", "IJ upper"],
            rows,
        )
        if p["gray_test"]:
            print_table(
                "Gray's test",
                ["cause", "chisq", "df", "p"],
                [[g["cause"], g["stat"], g["df"], g["p"]] for g in p["gray_test"]],
            )

    run_command(compute, as_json, render)


def _numeric_frame(df):
    """Columns that are all numbers become float; others stay text (categorical)."""
    out = df.copy()
    for c in out.columns:
        conv = numbers_if_numeric(out[c])
        if conv is not None:
            out[c] = conv
    return out


def _code(text: str, option: str) -> int | float:
    """A cause/censoring code given on the command line, as a number."""
    try:
        return whole_number(float(text))
    except ValueError as exc:
        raise InputError(f"must be a number ({exc})", column=option) from exc


@stats_app.command("finegray")
def finegray_cmd(
    data: DataOpt,
    time: TimeOpt,
    event: StatusOpt,
    cause: Annotated[str, typer.Option("--cause", help="Cause code of interest.")],
    formula: Annotated[str, typer.Option("--formula", help='Covariates, e.g. "age + sex".')],
    cencode: Annotated[str, typer.Option("--cencode", help="Censoring code (0).")] = "0",
    as_json: JsonOpt = False,
) -> None:
    """Fine-Gray subdistribution hazard regression (cmprsk::crr)."""

    def compute() -> dict:
        from cartlens.stats.finegray import finegray_formula

        df = read_csv(data)
        require_columns(df, [time, event], data)
        df = _numeric_frame(df)
        for col in (time, event):
            if df[col].dtype == object:
                numeric_column(df, col)  # raises, naming the row and the offending value
        fc = _code(cause, "--cause")
        cc = _code(cencode, "--cencode")
        res = finegray_formula(formula, df, time=time, status=event, failcode=fc, cencode=cc)
        return {
            "n": res.n,
            "n_dropped_missing": res.n_dropped,
            "events": res.events,
            "competing": res.competing,
            "censored": res.censored,
            "cause": fc,
            "converged": res.converged,
            "loglik": res.loglik,
            "loglik_null": res.loglik_null,
            "lr_test": res.lr_test,
            "terms": res.terms_table(),
        }

    def render(p: dict) -> None:
        print_table(
            f"Fine-Gray model for cause {p['cause']} (n = {p['n']}, events = {p['events']})",
            ["term", "coef", "se", "sHR", "lower", "upper", "p"],
            [
                [r["term"]] + [r[k] for k in ("coef", "se", "hr", "lower", "upper", "p")]
                for r in p["terms"]
            ],
        )

    run_command(compute, as_json, render)


@stats_app.command("landmark")
def landmark_cmd(
    data: DataOpt,
    time: TimeOpt,
    event: Annotated[str, typer.Option("--event", help="Event column (0/1).")],
    landmark: Annotated[str, typer.Option("--landmark", help="Landmark time(s), e.g. 30,90.")],
    exposure_time: Annotated[
        str,
        typer.Option("--exposure-time", help="Exposure time column (empty = never exposed)."),
    ],
    event_code: Annotated[str, typer.Option("--event-code", help="Value meaning event.")] = "1",
    as_json: JsonOpt = False,
) -> None:
    """Landmark analysis of an exposure dated after time zero (KM medians, log-rank)."""

    def compute() -> dict:
        from cartlens.stats.landmark import landmark_series

        df, t, e, n_dropped = load_survival_frame(
            data, time, event, event_code, also_required=[exposure_time]
        )
        x = numeric_column(df, exposure_time)  # missing (never exposed) stays NaN
        lms = parse_floats(landmark, "--landmark") or []
        names = {"time": time, "event": event, "exposure_time": exposure_time}
        series = landmark_series(t, e, x, lms, names=names)
        return {
            "n": len(df),
            "n_dropped_missing": n_dropped,
            "rule": "kept: time > landmark; exposed: exposure time <= landmark",
            "landmarks": [
                {
                    "landmark": r.landmark,
                    "n": r.n_at_landmark,
                    "excluded": r.n_excluded,
                    "groups": list(r.groups),
                    "logrank": {"chisq": r.chisq, "df": r.df, "p": r.p},
                }
                for r in series.results
            ],
        }

    def render(p: dict) -> None:
        rows = []
        for r in p["landmarks"]:
            for g in r["groups"]:
                rows.append(
                    [
                        r["landmark"],
                        g["group"],
                        g["n"],
                        g["events"],
                        g["median"],
                        g["median_lower"],
                        g["median_upper"],
                        r["logrank"]["p"],
                    ]
                )
        print_table(
            "Landmark analysis (times from the landmark)",
            ["landmark", "group", "n", "events", "median", "lower", "upper", "log-rank p"],
            rows,
        )

    run_command(compute, as_json, render)
