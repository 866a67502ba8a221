"""``cartlens stats cox`` and ``cartlens stats zph``: Cox models on any CSV.

* ``cox``: ``survival::coxph`` - Efron (default) or Breslow ties, ``--strata``, ``--start``
  for (start, stop] data, ``--weights`` case weights, ``--cluster`` for a robust variance
  grouped by cluster, ``--firth`` for Firth's penalised likelihood.
  With ``--cluster``, ``--weights`` or ``--robust`` the ``se`` (and z, p, CI) is the robust
  sandwich SE and the model-based one is added as ``naive_se``.
* ``zph``: the proportional-hazards test ``cox.zph(fit, transform = "km", terms = TRUE)``.

Formula (``--formula``): right-hand side only, e.g. ``"age + sex + C(stage) + age:sex"``.
A column whose values are all numbers enters as a number (its term is the column name);
a text column, or any column wrapped in ``C(...)``, is a factor with treatment coding and
the first level (sorted) as reference, its terms named ``column[level]`` (R would write
``columnlevel``). Column names such as ``ph.ecog`` can be written as they are.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cartlens.cli.apps import stats_app
from cartlens.cli.common import (
    NO_ROWS_LEFT,
    DataOpt,
    JsonOpt,
    drop_missing,
    numbers_if_numeric,
    numeric_column,
    print_table,
    read_csv,
    require_columns,
    run_command,
    survival_event,
)
from cartlens.errors import InputError

TimeOpt = Annotated[str, typer.Option("--time", help="Time (stop) column.")]
EventOpt = Annotated[str, typer.Option("--event", help="Event column.")]
CodeOpt = Annotated[
    str, typer.Option("--event-code", help="Value of the event column meaning 'event' (1).")
]
FormulaOpt = Annotated[
    str,
    typer.Option(
        "--formula",
        help="Right-hand side, e.g. 'age + sex + C(stage)'. Numeric columns: term = column "
        "name; factors (text or C(x)): terms 'x\\[level]', first sorted level = reference.",
    ),
]
StartOpt = Annotated[str | None, typer.Option("--start", help="Start column: (start, stop] data.")]
StrataOpt = Annotated[str | None, typer.Option("--strata", help="Stratum column.")]
TiesOpt = Annotated[str, typer.Option("--ties", help="efron (R default) or breslow.")]
ClusterOpt = Annotated[
    str | None, typer.Option("--cluster", help="Cluster column (robust SE by cluster).")
]
WeightsOpt = Annotated[
    str | None, typer.Option("--weights", help="Case-weight column (robust SE reported).")
]


def _load(data, time, event, code, formula, others):
    """Read the CSV, convert columns, drop rows with missing values in used columns."""
    import pandas as pd

    from cartlens.stats.formula import _prepare_formula

    df = read_csv(data)
    require_columns(df, [time, event, *others], data)
    _, used = _prepare_formula(formula, [str(c) for c in df.columns])
    cols = list(dict.fromkeys([time, event, *[c for c in others if c], *used]))
    df, n_dropped = drop_missing(df, cols)
    if len(df) == 0:
        raise InputError(NO_ROWS_LEFT, column=time)
    out = pd.DataFrame(index=df.index)
    out["__time"] = numeric_column(df, time)
    out["__event"] = survival_event(df, event, code)
    for c in used:  # no missing values left: a column of numbers becomes float
        num = numbers_if_numeric(df[c])
        out[c] = df[c] if num is None else num
    return df, out, n_dropped


def _check_columns(frame, time, event, start, weights) -> None:
    """Validate times, start and weights naming the CSV columns (not the API arguments)."""
    import numpy as np

    from cartlens.stats._surv import check_survival_input

    check_survival_input(
        frame["__time"].to_numpy(),
        frame["__event"].to_numpy(),
        None if start is None else frame["__start"].to_numpy(),
        names={"time": time, "event": event, "entry": start},
    )
    if weights:
        w = frame["__weights"].to_numpy(dtype=float)
        bad = ~np.isfinite(w) | (w <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"case weights must be positive and finite (as R's coxph); got {w[i]:g} in "
                f"data row {i + 1}",
                column=weights,
            )


def _fit(
    data,
    time,
    event,
    event_code,
    formula,
    start,
    strata,
    ties,
    cluster,
    weights,
    robust=False,
    firth=False,
):
    from cartlens.stats.cox import coxph_formula

    df, frame, n_dropped = _load(
        data, time, event, event_code, formula, [start, strata, cluster, weights]
    )
    kw = {}
    if start:
        frame["__start"] = numeric_column(df, start)
        kw["start"] = "__start"
    if weights:
        frame["__weights"] = numeric_column(df, weights)
        kw["weights"] = "__weights"
    if strata:
        frame["__strata"] = df[strata].to_numpy()
        kw["strata"] = "__strata"
    _check_columns(frame, time, event, start, weights)
    if cluster:
        frame["__cluster"] = df[cluster].to_numpy()
        kw["cluster"] = "__cluster"
    if ties not in ("efron", "breslow"):
        raise InputError(f"must be efron or breslow; got {ties!r}", column="--ties")
    fit = coxph_formula(
        formula,
        frame,
        time="__time",
        event="__event",
        ties=ties,
        robust=robust or bool(weights),
        firth=firth,
        **kw,
    )
    return fit, n_dropped, frame, kw


@stats_app.command("cox")
def cox(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    formula: FormulaOpt,
    event_code: CodeOpt = "1",
    start: StartOpt = None,
    strata: StrataOpt = None,
    ties: TiesOpt = "efron",
    cluster: ClusterOpt = None,
    weights: WeightsOpt = None,
    robust: Annotated[
        bool, typer.Option("--robust", help="Robust sandwich SE (each row its own cluster).")
    ] = False,
    firth: Annotated[
        bool, typer.Option("--firth", help="Firth's penalised partial likelihood (Breslow).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Cox proportional hazards model (R's coxph): HR, CI, Wald/LR/score tests, concordance."""

    def compute() -> dict:
        fit, n_dropped, _, _ = _fit(
            data,
            time,
            event,
            event_code,
            formula,
            start,
            strata,
            ties,
            cluster,
            weights,
            robust,
            firth,
        )
        conc = fit.concordance or {}
        out = {
            "n": fit.n,
            "events": fit.events,
            "n_dropped_missing": n_dropped,
            "ties": fit.ties,
            "firth": fit.firth,
            "robust": fit.robust_se is not None,
            "terms": fit.terms_table(),
            "loglik_null": fit.loglik_null,
            "loglik": fit.loglik,
            "lr_test": fit.lr_test,
            "wald_test": fit.wald_test,
            "score_test": fit.score_test,
            "concordance": conc.get("concordance"),
            "concordance_se": conc.get("se"),
            "iterations": fit.iterations,
            "converged": fit.converged,
        }
        if fit.robust_score_test is not None:
            out["robust_score_test"] = fit.robust_score_test
        if fit.aliased:
            out["aliased"] = list(fit.aliased)
        return out

    def render(p: dict) -> None:
        from rich.markup import escape

        cols = ["term", "coef", "se", "hr", "lower", "upper", "z", "p"]
        if p["robust"]:
            cols.insert(3, "naive_se")
        print_table(
            f"Cox model (n={p['n']}, events={p['events']}, ties={p['ties']}, "
            f"dropped {p['n_dropped_missing']} rows with missing values)",
            cols,
            [[escape(r["term"]), *[r.get(c) for c in cols[1:]]] for r in p["terms"]],
        )
        rows = [
            [k, p[k]["stat"], p[k]["df"], p[k]["p"]]
            for k in ("lr_test", "wald_test", "score_test", "robust_score_test")
            if k in p
        ]
        print_table("Tests", ["test", "stat", "df", "p"], rows)
        print_table("Concordance", ["C", "se"], [[p["concordance"], p["concordance_se"]]])

    run_command(compute, as_json, render)


@stats_app.command("zph")
def zph(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    formula: FormulaOpt,
    event_code: CodeOpt = "1",
    start: StartOpt = None,
    strata: StrataOpt = None,
    ties: TiesOpt = "efron",
    cluster: ClusterOpt = None,
    weights: WeightsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Test of proportional hazards (R's cox.zph, transform='km', factor = one term)."""

    def compute() -> dict:
        from cartlens.stats.zph import cox_zph_formula

        _, n_dropped, frame, kw = _fit(
            data, time, event, event_code, formula, start, strata, ties, cluster, weights
        )
        kw.pop("cluster", None)  # the test does not use clusters (as cox.zph)
        res = cox_zph_formula(formula, frame, time="__time", event="__event", ties=ties, **kw)
        return {
            "n": res.n,
            "events": res.events,
            "n_dropped_missing": n_dropped,
            "transform": res.transform,
            "terms": list(res.terms),
            "global": res.global_test,
        }

    def render(p: dict) -> None:
        from rich.markup import escape

        rows = [[escape(r["term"]), r["chisq"], r["df"], r["p"]] for r in p["terms"]]
        rows.append(["GLOBAL", p["global"]["chisq"], p["global"]["df"], p["global"]["p"]])
        print_table(
            f"Proportional hazards test (cox.zph, transform=km; n={p['n']}, events={p['events']})",
            ["term", "chisq", "df", "p"],
            rows,
        )

    run_command(compute, as_json, render)
