"""``cartlens stats ps``, ``stats match`` and ``stats evalue``: confounder adjustment.

* ``ps``: fits ``treatment ~ formula`` by logistic regression (``--firth`` for Firth's
  penalised likelihood), makes IPT weights for ``--estimand`` ate (default), att, atc or ato
  (overlap weights), optionally ``--stabilize``-d, ``--trim``-med (PS bounds) or
  ``--truncate``-d (weight quantiles), and reports the PS model, SMDs before and after
  weighting (denominator: the unweighted pooled SD, or the treated SD for the ATT), variance
  ratios, Kish effective sample sizes and pass/fail against ``--threshold`` (0.1).
  ``--out FILE`` writes the input rows plus ``ps`` and ``weight`` columns (empty for rows
  dropped for missing values).
* ``match``: greedy nearest-neighbour matching on the PS (1:``--ratio``, ``--replace``,
  ``--caliper`` in SDs, on the logit PS by default or the PS with ``--scale ps`` as MatchIt,
  ``--exact`` columns, ``--m-order``, ``--seed``), reporting MatchIt's sample-size table and
  balance (SMDs standardised by the full-sample treated SD). ``--out FILE`` writes the matched
  rows with ``ps``, ``subclass`` and ``weights`` columns.
* ``evalue``: the E-value of a risk, odds or hazard ratio (``--rare``/``--common`` outcome) or
  an SMD, and of its confidence limit closest to the null.

Covariates are read as numbers when every value is numeric and as categories otherwise
(categorical terms are expanded into indicators for the balance table). Column names that
are not identifiers (``ph.ecog``) can be used as they are.
"""

from __future__ import annotations

import re
from typing import Annotated

import typer

from cartlens.cli.apps import stats_app
from cartlens.cli.common import (
    DataOpt,
    JsonOpt,
    numbers_if_numeric,
    parse_floats,
    print_table,
    read_csv,
    require_columns,
    run_command,
)
from cartlens.errors import InputError

TreatOpt = Annotated[str, typer.Option("--treatment", help="Binary treatment column.")]
FormulaOpt = Annotated[
    str, typer.Option("--formula", help='Covariates, e.g. "age + ph.ecog + C(stage)".')
]
TreatedOpt = Annotated[
    str | None,
    typer.Option("--treated", help="Value of the treatment meaning 'treated' (not for 0/1)."),
]
FirthOpt = Annotated[bool, typer.Option("--firth", help="Firth's penalised logistic PS model.")]
ThresholdOpt = Annotated[
    float, typer.Option("--threshold", help="Balance threshold for |SMD| (default 0.1).")
]


def _prepare(data: str, treatment: str, formula: str):
    """Read the CSV; convert the formula's columns to numbers where they are numeric."""
    df = read_csv(data)
    require_columns(df, [treatment], data)
    if "~" in formula:
        raise InputError(
            "give only the right-hand side; the treatment is --treatment", column="--formula"
        )
    cols = [
        c
        for c in df.columns
        if re.search(r"(?<![\w.])" + re.escape(str(c)) + r"(?![\w.])", formula) is not None
    ]
    work = df.copy()
    for c in cols:
        num = numbers_if_numeric(df[c])
        if num is not None:
            whole = num.notna().all() and bool((num == num.round()).all())
            work[c] = num.astype("int64") if whole else num
    num_t = numbers_if_numeric(df[treatment])
    if num_t is not None:
        work[treatment] = num_t
    return df, work


def _balance_payload(bal) -> dict:
    rows = []
    for r in bal.rows:
        row = {
            "covariate": r["covariate"],
            "mean_treated": r["mean_treated"],
            "mean_control": r["mean_control"],
            "smd_before": r["smd_before"],
            "var_ratio_before": r["var_ratio_before"],
        }
        if "smd_after" in r:
            row.update(
                {
                    "mean_treated_adj": r["mean_treated_adj"],
                    "mean_control_adj": r["mean_control_adj"],
                    "smd_after": r["smd_after"],
                    "var_ratio_after": r["var_ratio_after"],
                    "ecdf_max_after": r["ecdf_max_after"],
                }
            )
        row["pass"] = r["pass"]
        rows.append(row)
    counted = [r for r in bal.rows if r["counted"]]
    return {
        "smd_before": {r["covariate"]: r["smd_before"] for r in counted},
        "smd_after": {r["covariate"]: r.get("smd_after") for r in counted},
        "balance": {
            "rows": rows,
            "denominator": bal.denominator,
            "threshold": bal.threshold,
            "balanced": bal.balanced,
            "failing": list(bal.failing),
            "max_abs_smd": bal.max_abs_smd,
        },
        "ess": {"before": bal.ess_before, "after": bal.ess_after},
    }


def _sample_payload(fit, treatment: str, formula: str) -> dict:
    """The analysed sample of a PS fit: sizes, rows dropped, treatment and formula."""
    return {
        "n": fit.n,
        "n_treated": fit.n_treated,
        "n_control": fit.n_control,
        "n_dropped_missing": fit.n_dropped_missing,
        "treatment": treatment,
        "treated_level": fit.treated_level,
        "formula": formula,
    }


def _ps_model_payload(fit) -> dict:
    return {
        "terms": fit.terms_table(),
        "method": fit.method,
        "deviance": fit.deviance,
        "aic": fit.aic,
        "converged": fit.converged,
        "separation": fit.separation,
        "ps_summary": fit.summary(),
    }


def _pair(text: str | None, option: str) -> tuple[float, float] | None:
    vals = parse_floats(text, option)
    if vals is None:
        return None
    if len(vals) != 2:
        raise InputError("give two numbers, e.g. 0.1,0.9", column=option)
    return vals[0], vals[1]


def _render_balance(p: dict, title: str) -> None:
    rows = [
        [
            r["covariate"],
            r["mean_treated"],
            r["mean_control"],
            r["smd_before"],
            r.get("smd_after"),
            r.get("var_ratio_after"),
            "-" if r["pass"] is None else ("yes" if r["pass"] else "NO"),
        ]
        for r in p["balance"]["rows"]
    ]
    print_table(
        title,
        [
            "covariate",
            "mean treated",
            "mean control",
            "SMD before",
            "SMD after",
            "VR after",
            "pass",
        ],
        rows,
    )


@stats_app.command("ps")
def ps(
    data: DataOpt,
    treatment: TreatOpt,
    formula: FormulaOpt,
    treated: TreatedOpt = None,
    estimand: Annotated[
        str, typer.Option("--estimand", help="ate (default), att, atc or ato (overlap).")
    ] = "ate",
    stabilize: Annotated[bool, typer.Option("--stabilize", help="Stabilised weights.")] = False,
    trim: Annotated[
        str | None, typer.Option("--trim", help="Keep units with PS in [lo,hi], e.g. 0.1,0.9.")
    ] = None,
    truncate: Annotated[
        str | None,
        typer.Option("--truncate", help="Cap weights at these quantiles, e.g. 0.01,0.99."),
    ] = None,
    firth: FirthOpt = False,
    threshold: ThresholdOpt = 0.1,
    out: Annotated[
        str | None, typer.Option("--out", help="Write rows + ps + weight columns here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Propensity score, IPT/overlap weights and balance before/after weighting."""

    def compute() -> dict:
        import numpy as np

        from cartlens.stats.balance import balance_table
        from cartlens.stats.propensity import _design, propensity_score
        from cartlens.stats.weighting import iptw_weights

        raw, work = _prepare(data, treatment, formula)
        fit = propensity_score(formula, work, treatment=treatment, treated=treated, firth=firth)
        w = iptw_weights(
            fit.ps,
            fit.treat,
            estimand=estimand,
            stabilize=stabilize,
            trim=_pair(trim, "--trim"),
            truncate=_pair(truncate, "--truncate"),
        )
        used = work.iloc[fit.rows].reset_index(drop=True)
        _, X, names, _, _ = _design(used, treatment, fit.formula)
        covs = {nm: X[:, j] for j, nm in enumerate(names) if nm != "Intercept"}
        bal = balance_table(
            covs, fit.treat, w.weights, estimand=w.estimand, threshold=threshold, distance=fit.ps
        )
        if out:
            full = raw.copy()
            ps_col = np.full(len(raw), np.nan)
            w_col = np.full(len(raw), np.nan)
            ps_col[fit.rows] = fit.ps
            w_col[fit.rows] = w.weights
            full["ps"] = ps_col
            full["weight"] = w_col
            full.to_csv(out, index=False, na_rep="", float_format="%.15g")
        return {
            **_sample_payload(fit, treatment, formula),
            "estimand": w.estimand,
            "stabilized": w.stabilized,
            "ps_model": _ps_model_payload(fit),
            **_balance_payload(bal),
            "weights": {
                "summary": w.summary,
                "n_trimmed": w.n_trimmed,
                "n_truncated": w.n_truncated,
                "trim": w.trim,
                "truncate": w.truncate,
            },
            "out": out,
        }

    def render(p: dict) -> None:
        from cartlens.results import json_safe

        p = json_safe(p)
        print_table(
            f"Propensity model ({p['ps_model']['method']}): {p['treatment']} "
            f"(n = {p['n']}: {p['n_treated']} treated, {p['n_control']} control; "
            f"{p['n_dropped_missing']} dropped for missing values)",
            ["term", "coef", "se", "z", "p"],
            [[t["term"], t["coef"], t["se"], t["z"], t["p"]] for t in p["ps_model"]["terms"]],
        )
        ess = p["ess"]["after"]
        _render_balance(
            p,
            f"Balance, {p['estimand'].upper()} weights"
            f"{' (stabilised)' if p['stabilized'] else ''}: |SMD| < {p['balance']['threshold']}"
            f" {'met' if p['balance']['balanced'] else 'NOT met'}; ESS treated "
            f"{ess['treated']:.1f}, control {ess['control']:.1f}",
        )

    run_command(compute, as_json, render)


@stats_app.command("match")
def match(
    data: DataOpt,
    treatment: TreatOpt,
    formula: FormulaOpt,
    treated: TreatedOpt = None,
    caliper: Annotated[
        float | None,
        typer.Option("--caliper", help="Caliper in SDs of the matching scale (default 0.2)."),
    ] = 0.2,
    no_caliper: Annotated[
        bool, typer.Option("--no-caliper", help="Match without caliper.")
    ] = False,
    ratio: Annotated[int, typer.Option("--ratio", help="Controls per treated unit.")] = 1,
    replace: Annotated[bool, typer.Option("--replace", help="Match with replacement.")] = False,
    exact: Annotated[
        str | None, typer.Option("--exact", help="Columns to match exactly on, e.g. sex,site.")
    ] = None,
    scale: Annotated[
        str,
        typer.Option("--scale", help="logit (default; Austin 2011) or ps (MatchIt's default)."),
    ] = "logit",
    m_order: Annotated[
        str, typer.Option("--m-order", help="largest (default), smallest, random, data.")
    ] = "largest",
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for --m-order random.")] = None,
    ties: Annotated[
        str,
        typer.Option("--ties", help="Equidistant controls: distance-id (default) or matchit."),
    ] = "distance-id",
    id_column: Annotated[
        str | None, typer.Option("--id", help="Unique id column (tie-breaking).")
    ] = None,
    discard: Annotated[
        str,
        typer.Option("--discard", help="none (default), treated, control, both (as MatchIt)."),
    ] = "none",
    firth: FirthOpt = False,
    threshold: ThresholdOpt = 0.1,
    out: Annotated[
        str | None, typer.Option("--out", help="Write the matched rows (+ ps, subclass, weights).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Nearest-neighbour propensity-score matching with MatchIt-style balance."""

    def compute() -> dict:
        from cartlens.stats.matching import matched_data, propensity_match

        raw, work = _prepare(data, treatment, formula)
        ex = [c.strip() for c in exact.split(",") if c.strip()] if exact else None
        require_columns(work, [*(ex or []), id_column], data)
        fit, m = propensity_match(
            formula,
            work,
            treatment=treatment,
            treated=treated,
            firth=firth,
            ratio=ratio,
            replace=replace,
            caliper=None if no_caliper else caliper,
            scale=scale,
            exact=ex,
            m_order=m_order,
            ties=ties,
            seed=seed,
            id_column=id_column,
            threshold=threshold,
            discard=discard,
        )
        if out:
            md = matched_data(raw.assign(ps=float("nan")), m, fit.rows)
            md["ps"] = fit.ps[m.matched]
            md.to_csv(out, index=False, na_rep="", float_format="%.15g")
        return {
            **_sample_payload(fit, treatment, formula),
            "estimand": "att",
            "matching": {
                "method": "nearest",
                "ratio": m.ratio,
                "replace": m.replace,
                "caliper": m.caliper,
                "caliper_width": m.caliper_width,
                "scale": m.scale,
                "m_order": m.m_order,
                "ties": ties,
                "seed": m.seed,
                "exact": list(m.exact),
                "discard": discard,
            },
            "nn": m.nn,
            "n_pairs": int(m.pairs_treated.size),
            "ps_model": _ps_model_payload(fit),
            **_balance_payload(m.balance),
            "out": out,
        }

    def render(p: dict) -> None:
        from cartlens.results import json_safe

        p = json_safe(p)
        nn = p["nn"]
        print_table(
            f"Matching 1:{p['matching']['ratio']} on the {p['matching']['scale']} scale, caliper "
            f"{p['matching']['caliper']} SD",
            ["", "control", "treated"],
            [[k, v["control"], v["treated"]] for k, v in nn.items()],
        )
        _render_balance(
            p,
            f"Balance after matching (SMD by the full-sample treated SD): |SMD| < "
            f"{p['balance']['threshold']} {'met' if p['balance']['balanced'] else 'NOT met'}",
        )

    run_command(compute, as_json, render)


@stats_app.command("evalue")
def evalue_cmd(
    estimate: Annotated[float, typer.Option("--estimate", help="RR, OR, HR or SMD.")],
    lower: Annotated[float | None, typer.Option("--lower", help="Lower confidence limit.")] = None,
    upper: Annotated[float | None, typer.Option("--upper", help="Upper confidence limit.")] = None,
    measure: Annotated[str, typer.Option("--measure", help="rr (default), or, hr, smd.")] = "rr",
    rare: Annotated[
        bool | None,
        typer.Option("--rare/--common", help="Outcome rare (< 15%) or common; needed for or/hr."),
    ] = None,
    se: Annotated[float | None, typer.Option("--se", help="SE of an SMD.")] = None,
    true: Annotated[float, typer.Option("--true", help="Reference value (default 1).")] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """E-value for unmeasured confounding (VanderWeele & Ding 2017)."""

    def compute() -> dict:
        from cartlens.stats.evalue import evalue

        r = evalue(estimate, lower, upper, measure=measure, rare=rare, se=se, true=true)
        return {**r.to_dict(), "interpretation": r.sentence()}

    def render(p: dict) -> None:
        from cartlens.results import json_safe

        p = json_safe(p)
        print_table(
            f"E-value ({p['measure'].upper()}; risk-ratio scale {p['rr']:.4g})",
            ["", "E-value"],
            [["estimate", p["evalue"]], [f"CI ({p['limit_used'] or '-'} limit)", p["evalue_ci"]]],
        )
        print(p["interpretation"])

    run_command(compute, as_json, render)
