"""``cartlens run STUDY.toml --registry PATH --out DIR``: run a study, write its report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cartlens.cli.apps import app


def _say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


@app.command("run")
def run(
    study: Annotated[
        Path, typer.Argument(help="Study specification (TOML; see docs/study-spec.md).")
    ],
    registry: Annotated[
        Path,
        typer.Option(
            "--registry", help="A cartlens store (.duckdb) or a folder of entity CSV files."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder (report.html, results.json).")],
    quiet: Annotated[bool, typer.Option("--quiet", help="Do not print progress.")] = False,
    engine: Annotated[
        str, typer.Option("--engine", help="Where the derive SQL runs: duckdb or spark.")
    ] = "duckdb",
    spark_master: Annotated[
        str | None, typer.Option("--spark-master", help="Spark master URL (default local[2]).")
    ] = None,
) -> None:
    """Run a study on a registry: writes report.html, results.json and figures/ into --out."""
    from cartlens.errors import CartlensError

    try:
        from cartlens.report.pipeline import run_to_directory

        res = run_to_directory(
            study,
            registry,
            out,
            say=(lambda _m: None) if quiet else _say,
            engine=engine,
            spark_master=spark_master,
        )
    except (CartlensError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    rep = res["run"].replication_table
    if rep:
        ok = sum(r["match"] for r in rep)
        print(f"replication: {ok}/{len(rep)} published figures reproduced", file=sys.stderr)
    print(f"results: {res['results']}", file=sys.stderr)
    print(str(res["report"]))
