"""``cartlens stats bootstrap`` and ``cartlens stats permutation-logrank``.

* ``bootstrap``: bootstrap confidence intervals, seeded. ``--group COL`` gives the
  Kaplan-Meier median per group and (two groups) the difference of medians, resampling
  within groups unless ``--no-stratify``; ``--times`` adds S(t) at those times (per group
  and their difference); ``--formula`` gives Cox hazard ratios (Efron or
  Breslow ties, ordinary resampling of rows). Both can be asked for in one call; they then
  share the seed. ``--cluster COL`` resamples whole clusters (patients) instead of rows.
  ``--ci percentile|basic|bca`` (R ``boot.ci`` conventions).
* ``permutation-logrank``: exact (all relabelings, when there are at most ``--max-exact``)
  or Monte Carlo permutation log-rank test.

Group labels are reported exactly as written in the CSV; groups are ordered numerically when
every label is a number, else alphabetically.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Annotated

import typer

from cartlens.cli.apps import stats_app
from cartlens.cli.common import (
    drop_missing,
    numeric_column,
    parse_floats,
    print_table,
    read_csv,
    require_columns,
    run_command,
    survival_event,
)
from cartlens.errors import InputError

DataOpt = Annotated[str, typer.Option("--data", help="CSV file.")]
TimeOpt = Annotated[str, typer.Option("--time", help="Time column.")]
EventOpt = Annotated[str, typer.Option("--event", help="Event column.")]
CodeOpt = Annotated[
    str, typer.Option("--event-code", help="Value of the event column meaning 'event' (1).")
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Random seed (recorded; same seed, same result).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _label_key(lab: str):
    try:
        return (0, float(lab), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(lab))


def _codes(df, column: str):
    import numpy as np

    labels = sorted(df[column].unique(), key=_label_key)
    index = {lab: i for i, lab in enumerate(labels)}
    return labels, df[column].map(index).to_numpy(dtype=np.intp)


def _load(data: str, time: str, event: str, code: str, others: list[str | None], formula=None):
    df = read_csv(data)
    require_columns(df, [time, event, *others], data)
    used: list[str] = []
    if formula:
        from cartlens.stats.formula import _prepare_formula

        _, used = _prepare_formula(formula, [str(c) for c in df.columns])
    cols = list(dict.fromkeys([time, event, *[c for c in others if c], *used]))
    df, n_dropped = drop_missing(df, cols)
    if len(df) == 0:
        raise InputError("no rows left after dropping rows with missing values", column=time)
    return df, numeric_column(df, time), survival_event(df, event, code), n_dropped, used


@contextlib.contextmanager
def _csv_names(columns: dict[str, str | None]) -> Iterator[None]:
    """Re-raise an :class:`InputError` about an API argument (``time``, ``group``...) as one
    about the CSV column given for it, so that the user sees their own column name."""
    try:
        yield
    except InputError as exc:
        col = exc.column
        if col in columns and columns[col]:
            msg = str(exc)
            prefix = f"column '{col}': "
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
            raise InputError(msg, column=columns[col]) from exc
        raise


def _relabel(name: str, labels: list[str]) -> str:
    return re.sub(r"\[(\d+)\]", lambda m: f"[{labels[int(m.group(1))]}]", name)


def _terms(res, labels=None) -> list[dict]:
    from cartlens.results import json_safe

    out = []
    for t in res.terms:
        d = json_safe(t)
        if labels is not None:
            d["term"] = _relabel(t.term, labels)
        if d.get("hr") is None:
            for k in ("hr", "hr_lower", "hr_upper"):
                d.pop(k, None)
        out.append(d)
    return out


@stats_app.command("bootstrap")
def bootstrap(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    event_code: CodeOpt = "1",
    group: Annotated[
        str | None, typer.Option("--group", help="Group column: KM median per group.")
    ] = None,
    formula: Annotated[
        str | None,
        typer.Option("--formula", help="Cox model right-hand side, e.g. 'age + sex'."),
    ] = None,
    times: Annotated[
        str | None,
        typer.Option("--times", help="Landmark times for S(t), e.g. 180,365 (per --group)."),
    ] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Number of replicates.")] = 1000,
    seed: SeedOpt = None,
    ci: Annotated[str, typer.Option("--ci", help="percentile, basic or bca.")] = "percentile",
    conf_level: Annotated[float, typer.Option("--conf-level")] = 0.95,
    ties: Annotated[str, typer.Option("--ties", help="efron (default) or breslow.")] = "efron",
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", help="Cluster (patient id) column: resample whole clusters."),
    ] = None,
    no_stratify: Annotated[
        bool, typer.Option("--no-stratify", help="Resample all rows, not within groups.")
    ] = False,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="Progress bar.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Bootstrap CIs: KM median per group (--group) and/or Cox hazard ratios (--formula)."""

    def compute() -> dict:
        at = parse_floats(times, "--times")
        if group is None and formula is None and at is None:
            raise InputError(
                "give --group (KM medians), --times (S(t)) and/or --formula (Cox)",
                column="--group",
            )
        df, t, e, n_dropped, used = _load(data, time, event, event_code, [group, cluster], formula)
        cl = None if cluster is None else df[cluster].to_numpy()
        with _csv_names({"time": time, "event": event, "group": group, "cluster": cluster}):
            return _bootstrap_compute(df, t, e, n_dropped, used, cl, at)

    def _bootstrap_compute(df, t, e, n_dropped, used, cl, at) -> dict:
        import numpy as np

        from cartlens.stats import resample as rs

        used_seed = seed
        if used_seed is None:
            used_seed = int(np.random.SeedSequence().entropy % (2**31))
        out: dict = {
            "n": int(t.size),
            "events": int(e.sum()),
            "n_dropped_missing": n_dropped,
            "n_boot": n_boot,
            "seed": used_seed,
            "ci_method": ci,
            "conf_level": conf_level,
        }
        km_opts = {
            "n_boot": n_boot,
            "seed": used_seed,
            "conf_level": conf_level,
            "ci_method": ci,
            "stratify": not no_stratify,
            "cluster": cl,
            "progress": progress,
        }
        if group is not None:
            labels, codes = _codes(df, group)
            res = rs.bootstrap_km_median(t, e, codes, **km_opts)
            out["median"] = {"resampling": res.resampling, "terms": _terms(res, labels)}
        if at is not None:
            labels, codes = (None, None) if group is None else _codes(df, group)
            res = rs.bootstrap_km_survival(t, e, codes, times=at, **km_opts)
            out["survival"] = {"resampling": res.resampling, "terms": _terms(res, labels)}
        if formula is not None:
            import pandas as pd

            from cartlens.stats.formula import design

            frame = pd.DataFrame(index=df.index)
            for c in used:
                num = pd.to_numeric(df[c], errors="coerce")
                frame[c] = num if num.notna().all() else df[c]
            des = design(formula, frame)
            res = rs.bootstrap_cox(
                t[des.kept],
                e[des.kept],
                des.X,
                cluster=None if cl is None else cl[des.kept],
                names=des.names,
                ties=ties,
                n_boot=n_boot,
                seed=used_seed,
                conf_level=conf_level,
                ci_method=ci,
                progress=progress,
            )
            out["cox"] = {
                "ties": ties,
                "resampling": res.resampling,
                "n_failed": res.n_failed,
                "terms": _terms(res),
            }
        return out

    def render(p: dict) -> None:
        pct = f"{100 * p['conf_level']:g}%"
        head = f"n={p['n']}, events={p['events']}, {p['n_boot']} replicates, seed {p['seed']}"
        for key in ("median", "survival"):
            if key in p:
                rows = [
                    [t["term"], t["estimate"], t["se"], t["lower"], t["upper"]]
                    for t in p[key]["terms"]
                ]
                print_table(
                    f"Bootstrap KM {key} ({head}; {p[key]['resampling']})",
                    ["term", "estimate", "boot SE", f"{pct} lower", f"{pct} upper"],
                    rows,
                )
        if "cox" in p:
            rows = [
                [t["term"], t["hr"], t["se"], t["hr_lower"], t["hr_upper"]]
                for t in p["cox"]["terms"]
            ]
            print_table(
                f"Bootstrap Cox HR ({head}; {p['cox']['ties']} ties)",
                ["term", "HR", "boot SE (log HR)", f"{pct} lower", f"{pct} upper"],
                rows,
            )

    run_command(compute, as_json, render)


@stats_app.command("permutation-logrank")
def permutation_logrank(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    group: Annotated[str, typer.Option("--group", help="Group column.")],
    event_code: CodeOpt = "1",
    statistic: Annotated[
        str, typer.Option("--statistic", help="chisq (survdiff) or score (|O-E|-type).")
    ] = "chisq",
    exact: Annotated[
        bool | None,
        typer.Option("--exact/--monte-carlo", help="Force exact or Monte Carlo (default: auto)."),
    ] = None,
    max_exact: Annotated[int, typer.Option("--max-exact")] = 20000,
    n_perm: Annotated[int, typer.Option("--n-perm", help="Monte Carlo relabelings.")] = 10000,
    seed: SeedOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Permutation log-rank test (exact for small groups, else Monte Carlo)."""

    def compute() -> dict:
        from cartlens.results import json_safe
        from cartlens.stats.resample import permutation_logrank as perm

        df, t, e, n_dropped, _ = _load(data, time, event, event_code, [group])
        labels, codes = _codes(df, group)
        with _csv_names({"time": time, "event": event, "group": group}):
            res = perm(
                t,
                e,
                codes,
                statistic=statistic,
                exact=exact,
                max_exact=max_exact,
                n_perm=n_perm,
                seed=seed,
            )
        d = json_safe(res)
        for g in d["groups"]:
            g["group"] = labels[int(g["group"])]
        d["n_dropped_missing"] = n_dropped
        return d

    def render(p: dict) -> None:
        kind = "exact" if p["exact"] else "Monte Carlo"
        print_table(
            f"Permutation log-rank ({kind}, {p['n_permutations']} relabelings): "
            f"{p['statistic']} = {p['observed']:.4g}, p = {p['p']:.4g} "
            f"(asymptotic p = {p['p_asymptotic']:.4g})",
            ["group", "n", "observed", "expected"],
            [[g["group"], g["n"], g["observed"], g["expected"]] for g in p["groups"]],
        )

    run_command(compute, as_json, render)
