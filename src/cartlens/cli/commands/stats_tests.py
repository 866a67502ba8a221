"""``cartlens stats fisher`` and ``cartlens stats wilcox``.

* ``fisher``: Fisher's exact test for an r x c table (``fisher.test``), from ``--table``
  (rows separated by ``;``, cells by ``,``: ``"3,1;1,4"``) or from two columns of a CSV
  (``--data F --rows COL --cols COL``). 2 x 2: conditional MLE odds ratio with its exact CI
  and ``--alternative less|greater``. Larger tables: the exact p-value, or with ``--simulate``
  a Monte Carlo p-value from ``--B`` tables drawn with ``--seed``.
* ``wilcox``: Wilcoxon rank-sum (Mann-Whitney) test of ``--value`` between the two groups of
  ``--group`` with the Hodges-Lehmann estimate of the shift and its CI
  (``wilcox.test(x, y, conf.int = TRUE)``; x = the first group in sorted order, or
  ``--reference``'s other group).
"""

from __future__ import annotations

from typing import Annotated

import typer

from cartlens.cli.apps import stats_app
from cartlens.cli.common import (
    JsonOpt,
    group_labels,
    load_complete_rows,
    numeric_column,
    print_table,
    run_command,
)
from cartlens.errors import InputError

AltOpt = Annotated[str, typer.Option("--alternative", help="two.sided (default), less or greater.")]


def _parse_table(text: str):
    import numpy as np

    rows = [r for r in text.split(";")]
    try:
        cells = [[float(v) for v in r.split(",")] for r in rows]
    except ValueError as exc:
        raise InputError(
            f"'{text}' must be counts, cells separated by ',' and rows by ';'", column="--table"
        ) from exc
    if len({len(r) for r in cells}) != 1:
        raise InputError(f"'{text}': every row needs the same number of cells", column="--table")
    return np.array(cells)


@stats_app.command("fisher")
def fisher(
    table: Annotated[
        str | None, typer.Option("--table", help='Counts, e.g. "3,1,0;1,4,2" (rows by ;).')
    ] = None,
    data: Annotated[str | None, typer.Option("--data", help="CSV file.")] = None,
    rows: Annotated[str | None, typer.Option("--rows", help="Row variable column.")] = None,
    cols: Annotated[str | None, typer.Option("--cols", help="Column variable column.")] = None,
    alternative: AltOpt = "two.sided",
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Monte Carlo p-value (tables larger than 2 x 2).")
    ] = False,
    n_sim: Annotated[int, typer.Option("--B", help="Simulated tables (2000).")] = 2000,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the simulation.")] = None,
    conf_level: Annotated[float, typer.Option("--conf-level")] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """Fisher's exact test for r x c tables (fisher.test): exact or seeded Monte Carlo."""

    def compute() -> dict:
        import numpy as np

        from cartlens.stats.tables import fisher_test

        n_dropped = 0
        if data is None:
            if table is None:
                raise InputError("give --table, or --data with --rows and --cols")
            if rows is not None or cols is not None:
                raise InputError("--rows/--cols need --data")
            tab = _parse_table(table)
            row_labels = [str(i + 1) for i in range(tab.shape[0])]
            col_labels = [str(j + 1) for j in range(tab.shape[1])]
        else:
            if table is not None:
                raise InputError("give either --table or --data, not both")
            if rows is None or cols is None:
                raise InputError("--data needs --rows and --cols")
            df, n_dropped = load_complete_rows(data, [rows, cols], empty_column=rows)
            row_labels, col_labels = group_labels(df, rows), group_labels(df, cols)
            if len(row_labels) < 2:
                raise InputError(f"has only one value ({row_labels[0]!r})", column=rows)
            if len(col_labels) < 2:
                raise InputError(f"has only one value ({col_labels[0]!r})", column=cols)
            tab = np.array(
                [
                    [int(((df[rows] == r) & (df[cols] == c)).sum()) for c in col_labels]
                    for r in row_labels
                ]
            )
        if not (0 < conf_level < 1):
            raise InputError(f"must be in (0, 1), got {conf_level}", column="--conf-level")
        if n_sim < 1:
            raise InputError(f"must be >= 1, got {n_sim}", column="--B")
        r = fisher_test(
            tab,
            alternative=alternative,
            conf_level=conf_level,
            simulate_p_value=simulate,
            B=n_sim,
            seed=seed,
        )
        return {
            "table": r.table.tolist(),
            "row_labels": row_labels,
            "col_labels": col_labels,
            "method": r.method,
            "alternative": r.alternative,
            "p": r.p_value,
            "odds_ratio": r.odds_ratio,
            "lower": r.lower,
            "upper": r.upper,
            "conf_level": r.conf_level,
            "simulated": r.simulated,
            "B": r.B,
            "seed": r.seed,
            "n": r.n,
            "n_dropped_missing": n_dropped,
        }

    def render(p: dict) -> None:
        print_table(
            "Table",
            ["", *p["col_labels"]],
            [[lab, *row] for lab, row in zip(p["row_labels"], p["table"], strict=True)],
        )
        out = [["test", p["method"]], ["alternative", p["alternative"]], ["p", p["p"]]]
        if p["simulated"]:
            out.append(["replicates (seed)", f"{p['B']} ({p['seed']})"])
        if p["odds_ratio"] is not None:
            out.append(
                [
                    f"odds ratio (cond. MLE) [{p['conf_level']:.0%} CI]",
                    f"{p['odds_ratio']:.4g} [{p['lower']:.4g}, {p['upper']:.4g}]",
                ]
            )
        print_table("Fisher's exact test", ["", "value"], out)

    run_command(compute, as_json, render)


@stats_app.command("wilcox")
def wilcox(
    data: Annotated[str, typer.Option("--data", help="CSV file.")],
    value: Annotated[str, typer.Option("--value", help="Numeric column.")],
    group: Annotated[str, typer.Option("--group", help="Group column (two groups).")],
    reference: Annotated[
        str | None, typer.Option("--reference", help="Group that is y (shift = x - y).")
    ] = None,
    alternative: AltOpt = "two.sided",
    exact: Annotated[
        bool | None, typer.Option("--exact/--no-exact", help="Exact test (R's default rule).")
    ] = None,
    no_correct: Annotated[
        bool, typer.Option("--no-correct", help="No continuity correction.")
    ] = False,
    conf_level: Annotated[float, typer.Option("--conf-level")] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """Wilcoxon rank-sum test with the Hodges-Lehmann shift and CI (wilcox.test conf.int)."""

    def compute() -> dict:
        from cartlens.stats.nonparametric import mann_whitney

        df, n_dropped = load_complete_rows(data, [value, group], empty_column=value)
        labels = group_labels(df, group)
        if len(labels) != 2:
            raise InputError(
                f"needs exactly two groups, found {len(labels)}: {labels[:10]}", column=group
            )
        if reference is not None:
            if reference not in labels:
                raise InputError(
                    f"'{reference}' is not one of the groups {labels}", column="--reference"
                )
            y_lab = reference
            x_lab = labels[0] if labels[1] == reference else labels[1]
        else:
            x_lab, y_lab = labels
        v = numeric_column(df, value)
        x = v[(df[group] == x_lab).to_numpy()]
        y = v[(df[group] == y_lab).to_numpy()]
        r = mann_whitney(
            x,
            y,
            alternative=alternative,
            exact=exact,
            correct=not no_correct,
            conf_int=True,
            conf_level=conf_level,
        )
        return {
            "x": x_lab,
            "y": y_lab,
            "n_x": r.n_x,
            "n_y": r.n_y,
            "method": r.method,
            "alternative": r.alternative,
            "W": r.statistic,
            "p": r.p_value,
            "exact": r.exact,
            "shift_estimate": r.estimate,
            "lower": r.lower,
            "upper": r.upper,
            "conf_level": r.conf_level,
            "ci_method": r.ci_method,
            "median_x": r.median_x,
            "median_y": r.median_y,
            "n_dropped_missing": n_dropped,
        }

    def render(p: dict) -> None:
        print_table(
            f"{p['method']}: {p['x']} (n={p['n_x']}) vs {p['y']} (n={p['n_y']})",
            ["", "value"],
            [
                ["W", p["W"]],
                ["p", p["p"]],
                [f"Hodges-Lehmann shift {p['x']} - {p['y']}", p["shift_estimate"]],
                [
                    f"{p['conf_level']:.0%} CI",
                    f"[{_f(p['lower'])}, {_f(p['upper'])}]",
                ],
                ["CI method", p["ci_method"]],
            ],
        )

    run_command(compute, as_json, render)


def _f(v) -> str:
    return "-inf" if v == float("-inf") else ("inf" if v == float("inf") else f"{v:.4g}")
