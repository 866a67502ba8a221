"""``cartlens demo [--out DIR]``: the bundled SYNTHETIC registry, the reference study, a report."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from cartlens.cli.apps import app


@app.command("demo")
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Output folder (default: ./cartlens-demo).")
    ] = Path("cartlens-demo"),
) -> None:
    """Run the reference study on the bundled SYNTHETIC registry and write its report.

    Imports the 84-patient demo registry into a store in DIR, runs the reference study (Xu
    et al. 2023: second CD19 CAR-T infusion in B-ALL) and prints the report's path.
    """
    from cartlens.errors import CartlensError

    t0 = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - t0:4.1f}s] {message}", file=sys.stderr, flush=True)

    try:
        from cartlens.report.pipeline import import_to_store, run_to_directory
        from cartlens.study.demo_data import DEMO_REGISTRY_DIR
        from cartlens.study.spec import REFERENCE_STUDY

        say("cartlens demo: 84 SYNTHETIC patients, reference study (Xu et al. 2023)")
        out.mkdir(parents=True, exist_ok=True)
        store = out / "registry.duckdb"
        if store.exists():
            store.unlink()
        import_to_store(DEMO_REGISTRY_DIR, store, say)
        res = run_to_directory(REFERENCE_STUDY, store, out, say=say)
    except (CartlensError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    rep = res["run"].replication_table
    ok = sum(r["match"] for r in rep)
    say(f"replication: {ok}/{len(rep)} published figures reproduced by the pipeline")
    say(f"results: {res['results']}")
    say("report written; open it in a browser:")
    print(str(res["report"].resolve()))
