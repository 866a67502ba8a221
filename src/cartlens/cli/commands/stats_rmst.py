"""``cartlens stats rmst``, ``cartlens stats adjusted`` and ``cartlens stats mi``.

* ``rmst``: restricted mean survival time of two groups with the difference and ratios
  (``survRM2::rmst2``), ``--tau`` or survRM2's default.
* ``adjusted``: covariate-adjusted survival curves (``--method gformula`` from a Cox model, as
  ``riskRegression::ate``; or ``iptw``, weighted Kaplan-Meier), or with ``--cause`` the
  adjusted cumulative incidence of that cause (the event column then holds 0 = censored
  and cause codes; ``gformula`` from cause-specific Cox models of every cause, as
  ``ate(CSC(...), cause =)``, or ``iptw``, weighted Aalen-Johansen); bootstrap CIs,
  differences at ``--times``, and a risk table with unweighted and weighted numbers at risk.
* ``mi``: multiple imputation by chained equations (``--m`` data sets, ``--seed``) and a Cox,
  logistic or Fine-Gray model pooled by Rubin's rules (``mice::pool``), with the fraction of
  missing information per term.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cartlens.cli.apps import stats_app
from cartlens.cli.commands.stats_cox import CodeOpt, EventOpt, TimeOpt
from cartlens.cli.commands.stats_cr import _numeric_frame
from cartlens.cli.common import (
    DataOpt,
    JsonOpt,
    event_indicator,
    load_survival_frame,
    numeric_column,
    parse_floats,
    print_table,
    read_csv,
    require_columns,
    run_command,
)
from cartlens.errors import InputError

SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed (drawn and shown if absent).")]


@stats_app.command("rmst")
def rmst(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    group: Annotated[str, typer.Option("--group", help="Group column (two groups).")],
    tau: Annotated[float | None, typer.Option("--tau", help="Truncation time.")] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="Reference group (survRM2's arm 0).")
    ] = None,
    event_code: CodeOpt = "1",
    conf_level: Annotated[float, typer.Option("--conf-level")] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """Restricted mean survival time of two groups: difference and ratios (survRM2)."""

    def compute() -> dict:
        from cartlens.stats.rmst import rmst2

        df, t, e, n_dropped = load_survival_frame(data, time, event, event_code, [group])
        r = rmst2(
            t,
            e,
            df[group].to_numpy(),
            tau=tau,
            reference=reference,
            conf_level=conf_level,
            names={"time": time, "event": event, "group": group},
        )
        return {
            "tau": r.tau,
            "tau_rule": r.tau_rule,
            "groups": list(r.groups),
            "per_group": list(r.per_group),
            "difference": r.difference,
            "ratio": r.ratio,
            "rmtl_ratio": r.rmtl_ratio,
            "conf_level": r.conf_level,
            "n": r.n,
            "n_dropped_missing": n_dropped,
            "method": r.method,
        }

    def render(p: dict) -> None:
        print_table(
            f"RMST up to tau = {p['tau']:g} ({p['tau_rule']})",
            ["group", "n", "events", "RMST", "se", "lower", "upper", "RMTL"],
            [
                [
                    g["group"],
                    g["n"],
                    g["events"],
                    g["rmst"],
                    g["rmst_se"],
                    g["rmst_lower"],
                    g["rmst_upper"],
                    g["rmtl"],
                ]
                for g in p["per_group"]
            ],
        )
        a, b = p["groups"]
        rows = []
        for key, name in (
            ("difference", f"RMST {b} - {a}"),
            ("ratio", f"RMST {b} / {a}"),
            ("rmtl_ratio", f"RMTL {b} / {a}"),
        ):
            c = p[key]
            if c["estimate"] is None:
                rows.append([name, c.get("note") or "not estimable", "", "", ""])
            else:
                rows.append([name, c["estimate"], c["lower"], c["upper"], c["p"]])
        print_table("Between-group contrasts", ["", "estimate", "lower", "upper", "p"], rows)

    run_command(compute, as_json, render)


@stats_app.command("adjusted")
def adjusted(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    treatment: Annotated[str, typer.Option("--treatment", help="Treatment column.")],
    formula: Annotated[str, typer.Option("--formula", help='Covariates, e.g. "age + C(ecog)".')],
    times: Annotated[str, typer.Option("--times", help="Times to report, e.g. 180,365.")],
    method: Annotated[
        str, typer.Option("--method", help="gformula (Cox, default) or iptw.")
    ] = "gformula",
    cause: Annotated[
        str | None,
        typer.Option(
            "--cause",
            help="Cause code: cumulative incidence of that cause (g-formula from "
            "cause-specific Cox models, or IPTW).",
        ),
    ] = None,
    event_code: CodeOpt = "1",
    risk_times: Annotated[
        str | None, typer.Option("--risk-times", help="Risk-table times (default --times).")
    ] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples (200).")] = 200,
    seed: SeedOpt = None,
    conf_level: Annotated[float, typer.Option("--conf-level")] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """Adjusted survival (g-formula / IPTW KM) or CIF (g-formula CSC / IPTW) curves."""

    def compute() -> dict:
        import numpy as np

        from cartlens.stats.adjusted import adjusted_cif, adjusted_survival

        df = read_csv(data)
        require_columns(df, [time, event, treatment], data)
        tt = parse_floats(times, "--times")
        rt = parse_floats(risk_times, "--risk-times")
        common = {
            "treatment": treatment,
            "formula": formula,
            "times": tt,
            "risk_times": rt,
            "B": n_boot,
            "seed": seed,
            "conf_level": conf_level,
        }
        if cause is not None:
            work = _numeric_frame(df)
            work[time] = numeric_column(df, time)
            work[event] = numeric_column(df, event)
            try:
                code = float(cause)
            except ValueError as exc:
                raise InputError(f"'{cause}' is not a number", column="--cause") from exc
            code = int(code) if code.is_integer() else code
            r = adjusted_cif(work, time=time, status=event, cause=code, method=method, **common)
        else:
            work = _numeric_frame(df)
            work[time] = numeric_column(df, time)
            present = df[event].notna().to_numpy()
            ev = np.full(len(df), np.nan)
            ev[present] = event_indicator(df.loc[present], event, event_code)
            work[event] = ev
            r = adjusted_survival(work, time=time, event=event, method=method, **common)
        return {
            "method": r.method,
            "description": r.description,
            "estimand": "cumulative incidence" if cause is not None else "survival",
            "levels": list(r.levels),
            "curves": [
                {k: c[k] for k in ("level", "time", "surv", "se", "lower", "upper")}
                for c in r.curves
            ],
            "differences": list(r.differences),
            "risk_table": list(r.risk_table),
            "weighted_label": r.weighted_label,
            "ci_method": r.ci_method,
            "seed": r.seed,
            "n": r.n,
            "events": r.events,
            "n_dropped_missing": r.n_dropped_missing,
        }

    def render(p: dict) -> None:
        what = "CIF" if p["estimand"] == "cumulative incidence" else "S(t)"
        print_table(
            f"Adjusted {p['estimand']}: {p['description']}",
            ["level", "time", what, "se", "lower", "upper"],
            [
                [c["level"], c["time"][i], c["surv"][i], c["se"][i], c["lower"][i], c["upper"][i]]
                for c in p["curves"]
                for i in range(len(c["time"]))
            ],
        )
        print_table(
            f"Differences ({what} level - reference)",
            ["level", "reference", "time", "difference", "lower", "upper", "p"],
            [
                [
                    d["level"],
                    d["reference"],
                    d["time"],
                    d["estimate"],
                    d["lower"],
                    d["upper"],
                    d["p"],
                ]
                for d in p["differences"]
            ],
        )
        print_table(
            f"Number at risk (unweighted; {p['weighted_label']})",
            ["level", "time", "n at risk", "weighted"],
            [
                [r["level"], r["time"][i], r["n_risk"][i], r["n_risk_weighted"][i]]
                for r in p["risk_table"]
                for i in range(len(r["time"]))
            ],
        )
        print(f"CIs: {p['ci_method']}")

    run_command(compute, as_json, render)


@stats_app.command("mi")
def mi(
    data: DataOpt,
    model: Annotated[str, typer.Option("--model", help="cox, logistic or finegray.")],
    formula: Annotated[
        str, typer.Option("--formula", help='Covariates ("age + C(ecog)"); logistic: "y ~ ...".')
    ],
    time: Annotated[str | None, typer.Option("--time", help="Time column (cox, finegray).")] = None,
    event: Annotated[
        str | None,
        typer.Option("--event", help="Event (cox: 0/1) or status column (finegray: 0 = censored)."),
    ] = None,
    cause: Annotated[str, typer.Option("--cause", help="Fine-Gray cause code (1).")] = "1",
    event_code: CodeOpt = "1",
    impute: Annotated[
        str | None,
        typer.Option("--impute", help="Columns to impute, e.g. ecog,ldh (default: all with gaps)."),
    ] = None,
    m: Annotated[int, typer.Option("--m", help="Imputed data sets (5).")] = 5,
    maxit: Annotated[int, typer.Option("--maxit", help="Chained-equation cycles (10).")] = 10,
    seed: SeedOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Multiple imputation (chained equations) + Rubin's rules for a Cox/logistic/FG model."""

    def compute() -> dict:
        from cartlens.stats.cox import coxph_formula
        from cartlens.stats.finegray import finegray_formula
        from cartlens.stats.formula import _prepare_formula
        from cartlens.stats.imputation import mice, pool_fits
        from cartlens.stats.logistic import logistic_regression

        if model not in ("cox", "logistic", "finegray"):
            raise InputError(f"must be cox, logistic or finegray, got {model!r}", column="--model")
        df = _numeric_frame(read_csv(data))
        if model == "logistic":
            if "~" not in formula:
                raise InputError("must look like 'outcome ~ a + b'", column="--formula")
            lhs, rhs = (s.strip() for s in formula.split("~", 1))
            outcome = [lhs.strip("`")]
        else:
            if time is None or event is None:
                raise InputError(f"--model {model} needs --time and --event")
            rhs, outcome = formula, [time, event]
        require_columns(df, outcome, data)
        for c in outcome if model != "logistic" else ():
            df[c] = numeric_column(df, c)
        if model != "logistic":
            import numpy as np

            tv = df[time].to_numpy(dtype=float)
            bad = ~np.isnan(tv) & (~np.isfinite(tv) | (tv < 0))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(
                    f"value {tv[i]:g} in data row {i + 1} is not a finite time >= 0", column=time
                )
        _, used = _prepare_formula(rhs, [str(c) for c in df.columns])
        cols = list(dict.fromkeys([*outcome, *used]))
        for c in outcome:
            if df[c].isna().any():
                raise InputError(
                    f"has {int(df[c].isna().sum())} missing values; outcomes are not imputed "
                    "(drop those rows first)",
                    column=c,
                )
        if model == "cox":  # the 0/1 event indicator (every other value a censoring)
            df[event] = event_indicator(df.astype({event: str}), event, event_code)
        targets = [c.strip() for c in impute.split(",")] if impute else None
        imp = mice(df[cols], m=m, maxit=maxit, seed=seed, columns=targets)
        fits = []
        for i in range(imp.m):
            d = imp.complete(i)
            if model == "cox":
                fits.append(coxph_formula(rhs, d, time=time, event=event))
            elif model == "logistic":
                fits.append(logistic_regression(formula, d))
            else:
                code = float(cause)
                fits.append(
                    finegray_formula(
                        rhs,
                        d,
                        time=time,
                        status=event,
                        failcode=int(code) if code.is_integer() else code,
                    )
                )
        pooled = pool_fits(fits)
        return {
            "model": model,
            "formula": formula,
            "imputation": imp.method,
            "seed": imp.seed,
            "m": imp.m,
            "imputed_columns": {
                c: {"method": imp.methods[c], "n_missing": imp.n_missing[c]} for c in imp.columns
            },
            "n": len(df),
            "pooling": pooled.method,
            "terms": list(pooled.terms),
        }

    def render(p: dict) -> None:
        ratio = {"cox": "HR", "logistic": "OR", "finegray": "sHR"}[p["model"]]
        print_table(
            f"{p['model']} model pooled over {p['m']} imputations (Rubin's rules)\n"
            f"{p['imputation']}",
            ["term", ratio, "lower", "upper", "p", "df", "FMI"],
            [
                [
                    t["term"],
                    t["exp_estimate"],
                    t["exp_lower"],
                    t["exp_upper"],
                    t["p"],
                    t["df"],
                    t["fmi"],
                ]
                for t in p["terms"]
            ],
        )
        print_table(
            "Imputed columns",
            ["column", "method", "missing"],
            [[c, v["method"], v["n_missing"]] for c, v in p["imputed_columns"].items()],
        )

    run_command(compute, as_json, render)
