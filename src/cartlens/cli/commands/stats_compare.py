"""``cartlens stats compare``, ``cartlens stats paired`` and ``cartlens stats logistic``.

* ``compare``: two proportions, given as counts (``--a 14/26 --b 64/79``) or as columns of a
  CSV (``--data F --group COL --outcome COL [--outcome-code V]``). Two groups: chi-square or
  Fisher chosen by the smallest expected count (the choice and the reason are printed), risk
  difference and odds ratio with CIs. More than two groups: k x 2 chi-square and trend test.
* ``paired``: McNemar's test, from ``--table b,c`` (discordant counts), ``--table a,b,c,d``
  (the whole paired table, row-major) or two 0/1 columns (``--data F --first C1 --second C2``).
* ``logistic``: ``--data F --formula "y ~ a + b" [--firth]``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cartlens.cli.apps import stats_app
from cartlens.cli.common import (
    DataOpt,
    JsonOpt,
    event_indicator,
    group_labels,
    load_complete_rows,
    numbers_if_numeric,
    print_table,
    read_csv,
    require_columns,
    run_command,
)
from cartlens.errors import InputError

NO_ROWS_LEFT = "no rows left after dropping missing values"


def _parse_fraction(text: str, option: str) -> tuple[int, int]:
    """``"14/26"`` -> (14, 26); anything else is an :class:`InputError` naming the option."""
    parts = text.split("/")
    if len(parts) != 2:
        raise InputError(f"'{text}' must look like x/n, e.g. 14/26", column=option)
    try:
        x, n = (int(p.strip()) for p in parts)
    except ValueError as exc:
        raise InputError(f"'{text}' must be two whole numbers x/n", column=option) from exc
    if x < 0 or n < 0:
        raise InputError(f"'{text}': counts must not be negative", column=option)
    if n == 0:
        raise InputError(f"'{text}': n must be at least 1", column=option)
    if x > n:
        raise InputError(f"'{text}': x = {x} exceeds n = {n}", column=option)
    return x, n


def _group_payload(label, ci) -> dict:
    return {
        "group": label,
        "n": ci.n,
        "events": ci.x,
        "proportion": ci.estimate,
        "lower": ci.lower,
        "upper": ci.upper,
        "ci_method": ci.method,
    }


@stats_app.command("compare")
def compare(
    a: Annotated[str | None, typer.Option("--a", help="Group A as x/n, e.g. 14/26.")] = None,
    b: Annotated[str | None, typer.Option("--b", help="Group B as x/n, e.g. 64/79.")] = None,
    data: Annotated[str | None, typer.Option("--data", help="CSV file.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Group column.")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="Outcome column.")] = None,
    outcome_code: Annotated[
        str, typer.Option("--outcome-code", help="Outcome value meaning 'yes' (default 1).")
    ] = "1",
    no_correct: Annotated[
        bool, typer.Option("--no-correct", help="No Yates continuity correction.")
    ] = False,
    overlapping: Annotated[
        bool,
        typer.Option("--overlapping", help="The groups share patients (warns; use `paired`)."),
    ] = False,
    test: Annotated[
        str | None, typer.Option("--test", help="Force 'chisq' or 'fisher' (2 groups).")
    ] = None,
    conf_level: Annotated[float, typer.Option("--conf-level")] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """Compare proportions: chi-square or Fisher (chosen by expected counts), RD and OR."""

    def compute() -> dict:
        from cartlens.stats.tables import compare_proportions, k_by_2_test

        n_dropped = 0
        if data is None:
            if a is None or b is None:
                raise InputError("give --a x/n and --b x/n, or --data with --group and --outcome")
            if group is not None or outcome is not None:
                raise InputError("--group/--outcome need --data")
            counts = [("a", *_parse_fraction(a, "--a")), ("b", *_parse_fraction(b, "--b"))]
        else:
            if a is not None or b is not None:
                raise InputError("give either --a/--b or --data, not both")
            if group is None or outcome is None:
                raise InputError("--data needs --group and --outcome")
            df, n_dropped = load_complete_rows(
                data, [group, outcome], empty_column=outcome, empty_message=NO_ROWS_LEFT
            )
            y = event_indicator(df, outcome, outcome_code, option="--outcome-code")
            labels = group_labels(df, group)
            counts = []
            for lab in labels:
                sel = (df[group] == lab).to_numpy()
                counts.append((lab, int(y[sel].sum()), int(sel.sum())))
            if len(counts) < 2:
                raise InputError(f"has only one group ({labels[0]!r})", column=group)
        if len(counts) == 2:
            (la, x1, n1), (lb, x2, n2) = counts
            r = compare_proportions(
                x1,
                n1,
                x2,
                n2,
                correct=not no_correct,
                conf_level=conf_level,
                overlapping=overlapping,
                force=test,
            )
            return {
                "test": r.test,
                "reason": r.reason,
                "rule": r.rule,
                "statistic": r.statistic,
                "df": r.df,
                "p": r.p_value,
                "min_expected": r.min_expected,
                "groups": [_group_payload(la, r.group1), _group_payload(lb, r.group2)],
                "risk_difference": r.risk_difference,
                "rd_lower": r.rd_lower,
                "rd_upper": r.rd_upper,
                "odds_ratio": r.odds_ratio,
                "or_lower": r.or_lower,
                "or_upper": r.or_upper,
                "conf_level": r.conf_level,
                "n_dropped_missing": n_dropped,
            }
        if test == "fisher":
            raise InputError("Fisher's exact test is only available for 2 groups", column="--test")
        from cartlens.stats.proportions import binom_ci

        r = k_by_2_test(
            [c[1] for c in counts], [c[2] for c in counts], groups=[c[0] for c in counts]
        )
        return {
            "test": "Pearson's chi-square test (k x 2)",
            "reason": f"{len(counts)} groups: chi-square test of equal proportions",
            "statistic": r.statistic,
            "df": r.df,
            "p": r.p_value,
            "min_expected": r.min_expected,
            "trend": {"statistic": r.trend_statistic, "df": 1, "p": r.trend_p_value},
            "groups": [
                _group_payload(lab, binom_ci(x, n, conf_level=conf_level)) for lab, x, n in counts
            ],
            "conf_level": conf_level,
            "n_dropped_missing": n_dropped,
        }

    def render(p: dict) -> None:
        print_table(
            "Proportions",
            ["group", "events", "n", "proportion", "lower", "upper"],
            [
                [g["group"], g["events"], g["n"], g["proportion"], g["lower"], g["upper"]]
                for g in p["groups"]
            ],
        )
        rows = [["test", p["test"]], ["why", p["reason"]], ["p", p["p"]]]
        if p.get("statistic") is not None:
            rows.insert(2, ["statistic (df)", f"{p['statistic']:.4g} ({p['df']})"])
        if "risk_difference" in p:
            rows += [
                [
                    "risk difference",
                    f"{p['risk_difference']:.4g} [{_f(p['rd_lower'])}, {_f(p['rd_upper'])}]",
                ],
                [
                    "odds ratio (cond. MLE)",
                    f"{_f(p['odds_ratio'])} [{_f(p['or_lower'])}, {_f(p['or_upper'])}]",
                ],
            ]
        if "trend" in p:
            rows.append(["trend p", p["trend"]["p"]])
        print_table("Comparison", ["", "value"], rows)

    run_command(compute, as_json, render)


def _f(v) -> str:
    return "-" if v is None else f"{v:.4g}"


@stats_app.command("paired")
def paired(
    table: Annotated[
        str | None,
        typer.Option("--table", help="b,c (discordant pairs) or a,b,c,d (paired table)."),
    ] = None,
    data: Annotated[str | None, typer.Option("--data", help="CSV file.")] = None,
    first: Annotated[str | None, typer.Option("--first", help="First 0/1 column.")] = None,
    second: Annotated[str | None, typer.Option("--second", help="Second 0/1 column.")] = None,
    code: Annotated[
        str, typer.Option("--code", help="Value meaning 'positive' in both columns (default 1).")
    ] = "1",
    no_correct: Annotated[bool, typer.Option("--no-correct")] = False,
    exact: Annotated[bool, typer.Option("--exact", help="Exact binomial McNemar test.")] = False,
    conf_level: Annotated[float, typer.Option("--conf-level")] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """McNemar's test for paired binary outcomes (asymptotic or exact)."""

    def compute() -> dict:
        import numpy as np

        from cartlens.stats.tables import mcnemar_test, paired_table

        n_dropped = 0
        if data is None:
            if table is None:
                raise InputError("give --table b,c (or a,b,c,d), or --data with --first/--second")
            try:
                vals = [float(v) for v in table.split(",")]
            except ValueError as exc:
                raise InputError(
                    f"'{table}' must be numbers separated by commas", column="--table"
                ) from exc
            if any(v < 0 or v != round(v) for v in vals):
                raise InputError(f"'{table}': counts must be whole numbers >= 0", column="--table")
            if len(vals) == 2:
                tab = np.array([[0, vals[0]], [vals[1], 0]])
            elif len(vals) == 4:
                tab = np.array(vals).reshape(2, 2)
            else:
                raise InputError(f"'{table}' needs 2 (b,c) or 4 (a,b,c,d) counts", column="--table")
            if tab.sum() == 0:
                raise InputError("all counts are 0", column="--table")
        else:
            if table is not None:
                raise InputError("give either --table or --data, not both")
            if first is None or second is None:
                raise InputError("--data needs --first and --second")
            df, n_dropped = load_complete_rows(
                data, [first, second], empty_column=first, empty_message=NO_ROWS_LEFT
            )
            tab = paired_table(
                event_indicator(df, first, code, option="--code"),
                event_indicator(df, second, code, option="--code"),
            )
        r = mcnemar_test(tab, correct=not no_correct, exact=exact, conf_level=conf_level)
        discordant_only = data is None and len(table.split(",")) == 2
        return {
            "table": None if discordant_only else tab.astype(int).tolist(),
            "b": r.b,
            "c": r.c,
            "n_pairs": None if discordant_only else r.n_pairs,
            "test": r.method,
            "statistic": r.statistic,
            "df": r.df,
            "p": r.p_value,
            "exact": r.exact,
            "correct": r.correct,
            "proportion_b": r.estimate,
            "lower": r.lower,
            "upper": r.upper,
            "conf_level": r.conf_level,
            "n_dropped_missing": n_dropped,
        }

    def render(p: dict) -> None:
        rows = [
            ["discordant b (+/-)", p["b"]],
            ["discordant c (-/+)", p["c"]],
            ["test", p["test"]],
            ["statistic", p["statistic"]],
            ["df", p["df"]],
            ["p", p["p"]],
            ["b/(b+c) [CI]", f"{_f(p['proportion_b'])} [{_f(p['lower'])}, {_f(p['upper'])}]"],
        ]
        print_table("McNemar", ["", "value"], rows)

    run_command(compute, as_json, render)


@stats_app.command("logistic")
def logistic(
    data: DataOpt,
    formula: Annotated[str, typer.Option("--formula", help='e.g. "response ~ age + C(arm)".')],
    outcome_code: Annotated[
        str | None,
        typer.Option("--outcome-code", help="Outcome value meaning 1 (default: column is 0/1)."),
    ] = None,
    firth: Annotated[bool, typer.Option("--firth", help="Firth's penalised likelihood.")] = False,
    ci: Annotated[
        str | None, typer.Option("--ci", help="wald or profile (default: profile with --firth).")
    ] = None,
    conf_level: Annotated[float, typer.Option("--conf-level")] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """Logistic regression (odds ratios, CIs, p-values); Firth option for small samples."""

    def compute() -> dict:
        import numpy as np

        from cartlens.stats.logistic import logistic_regression

        df = read_csv(data)
        if "~" not in formula:
            raise InputError("must look like 'outcome ~ a + b'", column="--formula")
        lhs = formula.split("~")[0].strip().strip("`")
        require_columns(df, [lhs], data)
        for c in df.columns:  # numeric-looking columns become numbers, the rest stay text
            conv = numbers_if_numeric(df[c])
            if df[c].notna().any() and conv is not None:
                df[c] = conv
        if outcome_code is not None:
            present = df[lhs].notna().to_numpy()
            y = np.full(len(df), np.nan)
            y[present] = event_indicator(
                df.loc[present], lhs, outcome_code, option="--outcome-code"
            )
            df[lhs] = y
        r = logistic_regression(formula, df, firth=firth, ci=ci, conf_level=conf_level)
        return {
            "formula": formula,
            "firth": r.firth,
            "ci_method": r.ci_method,
            "n": r.n,
            "events": r.events,
            "n_dropped_missing": r.n_dropped_missing,
            "terms": [
                {k: row[k] for k in ("term", "coef", "se", "or", "lower", "upper", "z", "p")}
                for row in r.terms_table()
            ],
            "loglik": r.loglik,
            "loglik_null": r.loglik_null,
            "lr_test": r.lr_test,
            "aic": r.aic,
            "converged": r.converged,
            "separation": r.separation,
            "aliased_terms": list(r.aliased_terms),
        }

    def render(p: dict) -> None:
        print_table(
            f"Logistic regression ({'Firth' if p['firth'] else 'ML'}; n = {p['n']}, "
            f"events = {p['events']}; CI: {p['ci_method']})",
            ["term", "OR", "lower", "upper", "p"],
            [[t["term"], t["or"], t["lower"], t["upper"], t["p"]] for t in p["terms"]],
        )

    run_command(compute, as_json, render)
