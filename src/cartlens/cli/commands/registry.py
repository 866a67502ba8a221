"""``cartlens registry init | import | validate | summary | export | derive | synthetic``.

Exit status: 0 on success (warnings allowed), 1 when the source has errors (nothing was
written), 2 when the input cannot be used at all (missing file, bad mapping, newer store).
The findings are printed as a table (``--json``: one JSON object) and written to ``--report``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cartlens.cli.apps import registry_app
from cartlens.cli.common import print_table, run_command

STORE_HELP = "DuckDB store file (default: ./cartlens.duckdb)."
StoreOpt = Annotated[Path, typer.Option("--store", help=STORE_HELP)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
MAX_ROWS = 50


def _render_report(payload: dict) -> None:
    findings = payload["findings"]
    if findings:
        rows = [
            (f["file"], f["row"], f["column"], f["value"], f["rule"], f["severity"], f["message"])
            for f in findings[:MAX_ROWS]
        ]
        print_table(
            f"{len(findings)} finding(s)",
            ["file", "row", "column", "value", "rule", "severity", "message"],
            rows,
        )
        if len(findings) > MAX_ROWS:
            print(f"... {len(findings) - MAX_ROWS} more in the report file")
    counts = payload.get("counts") or {}
    if counts:
        keys = ["read", "inserted", "updated", "unchanged", "deleted"]
        print_table(
            "rows",
            ["entity", *keys],
            [(e, *[c.get(k) for k in keys]) for e, c in counts.items()],
        )
    status = payload["outcome"]
    print(
        f"{status}: {payload['n_errors']} error(s), {payload['n_warnings']} warning(s)"
        + (f"; report: {payload['report']}" if payload.get("report") else "")
    )


def _run_import(source, store, mapping, dictionary, mode, report, as_json, dry_run) -> None:
    from cartlens.ingest import import_registry

    state: dict = {}

    def compute() -> dict:
        rep = import_registry(
            source,
            store,
            mapping=mapping,
            dictionary=dictionary,
            mode=mode,
            report_path=report,
            progress=not as_json,
            dry_run=dry_run,
        )
        state["ok"] = rep.ok
        d = rep.to_dict()
        d["report"] = None if report is None else str(report)
        return d

    run_command(compute, as_json, _render_report)
    if not state.get("ok", False):
        raise typer.Exit(1)


@registry_app.command("init")
def init(store: StoreOpt = Path("cartlens.duckdb"), as_json: JsonOpt = False) -> None:
    """Create an empty store (or bring an older one to the current schema)."""
    from cartlens.ingest import SCHEMA_VERSION, init_store

    run_command(
        lambda: {"store": str(init_store(store)), "schema_version": SCHEMA_VERSION},
        as_json,
        lambda p: print(f"store {p['store']} ready (schema version {p['schema_version']})"),
    )


@registry_app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="CSV folder, .xlsx workbook or REDCap export.")],
    store: StoreOpt = Path("cartlens.duckdb"),
    mapping: Annotated[
        Path | None, typer.Option(help="REDCap mapping file (TOML); makes SOURCE a REDCap export.")
    ] = None,
    dictionary: Annotated[Path | None, typer.Option(help="REDCap data dictionary CSV.")] = None,
    mode: Annotated[
        str, typer.Option(help="upsert (keep stored rows absent from the files) or replace.")
    ] = "upsert",
    report: Annotated[
        Path | None,
        typer.Option(help="Findings file (.csv or .json; default: <store>.findings.csv)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate SOURCE and, if it has no errors, import it in one transaction."""
    report = report or Path(str(store) + ".findings.csv")
    _run_import(source, store, mapping, dictionary, mode, report, as_json, False)


@registry_app.command("validate")
def validate(
    source: Annotated[Path, typer.Argument(help="CSV folder, .xlsx workbook or REDCap export.")],
    mapping: Annotated[Path | None, typer.Option(help="REDCap mapping file (TOML).")] = None,
    dictionary: Annotated[Path | None, typer.Option(help="REDCap data dictionary CSV.")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Findings file (.csv or .json); none by default.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check SOURCE against every rule without touching any store."""
    _run_import(source, None, mapping, dictionary, "upsert", report, as_json, True)


@registry_app.command("summary")
def summary(store: StoreOpt = Path("cartlens.duckdb"), as_json: JsonOpt = False) -> None:
    """Row counts, schema version and import history of a store."""
    from cartlens.ingest import store_summary

    def render(p: dict) -> None:
        print_table(
            f"{p['store']} (schema {p['schema_version']})",
            ["entity", "rows"],
            list(p["counts"].items()),
        )
        print_table(
            "imports",
            ["id", "finished", "kind", "source", "warnings", "outcome"],
            [
                (
                    i["import_id"],
                    i["finished_at"],
                    i["source_kind"],
                    i["source_path"],
                    i["n_warnings"],
                    i["outcome"],
                )
                for i in p["imports"]
            ],
        )

    run_command(lambda: store_summary(store), as_json, render)


@registry_app.command("export")
def export(
    out: Annotated[Path, typer.Argument(help="Folder for CSV files, or a .xlsx workbook.")],
    store: StoreOpt = Path("cartlens.duckdb"),
    as_json: JsonOpt = False,
) -> None:
    """Export every entity in the import format (re-importable)."""
    from cartlens.ingest import export_registry

    run_command(
        lambda: {"exported": str(export_registry(store, out))},
        as_json,
        lambda p: print(f"exported to {p['exported']}"),
    )


@registry_app.command("derive")
def derive(
    out: Annotated[Path, typer.Argument(help="CSV file for the per-infusion table.")],
    store: StoreOpt = Path("cartlens.duckdb"),
    settings: Annotated[
        Path | None, typer.Option(help="DeriveSettings as JSON or TOML (defaults otherwise).")
    ] = None,
    intervals: Annotated[
        Path | None, typer.Option(help="Also write counting-process intervals (OS) here.")
    ] = None,
    followup: Annotated[
        Path | None,
        typer.Option(
            help="Also write the follow-up table (ICAHT, B-cell aplasia, CAR-T persistence, "
            "infections, IEC-HS, next treatment, second malignancies) here."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the per-infusion analysis table (and optionally exposure intervals)."""
    import json
    import tomllib

    from cartlens.derive import DeriveSettings, exposure_intervals, infusion_table
    from cartlens.errors import InputError

    def compute() -> dict:
        s = DeriveSettings()
        if settings is not None:
            try:
                text = settings.read_text()
                data = tomllib.loads(text) if settings.suffix == ".toml" else json.loads(text)
                s = DeriveSettings(**data)
            except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
                raise InputError(f"cannot use settings file: {exc}", column="--settings") from exc
        df = infusion_table(store, s)
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
        res = {"out": str(out), "rows": len(df), "settings": s.model_dump()}
        if intervals is not None:
            iv = exposure_intervals(store, s)
            iv.to_csv(intervals, index=False)
            res["intervals"] = str(intervals)
            res["interval_rows"] = len(iv)
        if followup is not None:
            from cartlens.derive import followup_table

            fu = followup_table(store, s)
            followup.parent.mkdir(parents=True, exist_ok=True)
            fu.to_csv(followup, index=False)
            res["followup"] = str(followup)
            res["followup_rows"] = len(fu)
        return res

    run_command(compute, as_json, lambda p: print(f"{p['rows']} infusions written to {p['out']}"))


@registry_app.command("synthetic")
def synthetic(
    out: Annotated[Path, typer.Argument(help="Folder to write <entity>.csv files into.")],
    patients: Annotated[int, typer.Option(help="Number of patients.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Write a seeded synthetic registry (see cartlens.ingest.synthetic)."""
    from cartlens.errors import InputError
    from cartlens.ingest.synthetic import write_registry

    def compute() -> dict:
        if patients < 1:
            raise InputError("must be at least 1", column="--patients")
        return {"out": str(out), "rows": write_registry(out, patients, seed)}

    run_command(compute, as_json, lambda p: print(f"wrote {p['rows']} to {p['out']}"))
