"""The registry store: one DuckDB file, written only by whole, validated imports.

Layout (schema version :data:`SCHEMA_VERSION`)
----------------------------------------------
* one table per entity (columns of :mod:`cartlens.model.schema`, typed), plus ``_import_id``
  (the import that last wrote the row); ``toxicities`` also holds ``astct_grade``, the ASTCT 2019
  grade computed from the raw components;
* ``meta(key, value)``: ``schema_version``, ``created_at``, ``cartlens_version``;
* ``imports``: the audit trail, one row per import (time, source, file names and SHA-256
  hashes, per-entity counts read/inserted/updated/unchanged/deleted, errors, warnings, outcome);
* ``findings``: the warnings of every import (errors block an import, so none are stored).

Transaction guarantee
---------------------
Everything is validated in memory first; if any error is found the store is not opened. A
valid import is written into a copy of the store inside one DuckDB transaction, checkpointed,
and the copy atomically replaces the store (:func:`os.replace`). Any failure before the
replacement removes the copy, so the store file stays byte-for-byte what it was.

Re-import
---------
Rows are matched on each entity's key. A row whose values are identical is left alone, a
changed row is updated, a new key is inserted. With ``mode="replace"`` rows whose key is absent
from the import are deleted too (the files are then the complete registry); the default
``mode="upsert"`` keeps them. Entities absent from the source are not touched. When every file's
content hash equals that of the last import, nothing is written but the audit row (outcome
``unchanged``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cartlens import __version__
from cartlens.errors import InputError
from cartlens.ingest.readers import RegistrySource, read_source
from cartlens.ingest.validate import FINDING_COLUMNS, lit, no_progress_bar, q, validate_source
from cartlens.model.schema import ENTITIES, ENTITY_BY_NAME, EntitySpec
from cartlens.results import Result, json_safe

#: Default store path (relative to the working directory).
DEFAULT_STORE = Path("cartlens.duckdb")
#: Current schema version of the store.
SCHEMA_VERSION = 3

EXTRA_COLUMNS: dict[str, list[tuple[str, str]]] = {"toxicities": [("astct_grade", "BIGINT")]}

IMPORTS_DDL = """
CREATE TABLE IF NOT EXISTS {p}imports (
    import_id BIGINT, started_at TIMESTAMP, finished_at TIMESTAMP, source_kind VARCHAR,
    source_path VARCHAR, mode VARCHAR, files VARCHAR, counts VARCHAR, n_errors BIGINT,
    n_warnings BIGINT, cartlens_version VARCHAR, outcome VARCHAR)
"""
FINDINGS_DDL = """
CREATE TABLE IF NOT EXISTS {p}findings (
    import_id BIGINT, file VARCHAR, "row" BIGINT, "column" VARCHAR, value VARCHAR,
    rule VARCHAR, severity VARCHAR, message VARCHAR)
"""


def entity_columns(e: EntitySpec) -> list[tuple[str, str]]:
    """(name, DuckDB type) of an entity's store table, without ``_import_id``."""
    return [(f.name, f.duckdb_type) for f in e.fields] + EXTRA_COLUMNS.get(e.name, [])


def create_schema(con: duckdb.DuckDBPyConnection, prefix: str = "") -> None:
    """Create the current schema (tables that do not exist yet) and stamp the version."""
    p = prefix
    con.execute(f"CREATE TABLE IF NOT EXISTS {p}meta (key VARCHAR, value VARCHAR)")
    for e in ENTITIES:
        cols = ", ".join(f"{q(n)} {t}" for n, t in entity_columns(e))
        con.execute(f"CREATE TABLE IF NOT EXISTS {p}{q(e.name)} ({cols}, _import_id BIGINT)")
    con.execute(IMPORTS_DDL.format(p=p))
    con.execute(FINDINGS_DDL.format(p=p))
    _set_meta(con, "schema_version", str(SCHEMA_VERSION), p)
    _set_meta(con, "cartlens_version", __version__, p)
    if _get_meta(con, "created_at", p) is None:
        _set_meta(con, "created_at", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), p)


def _get_meta(con, key: str, p: str = "") -> str | None:
    rows = con.execute(f"SELECT value FROM {p}meta WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else None


def _set_meta(con, key: str, value: str, p: str = "") -> None:
    con.execute(f"DELETE FROM {p}meta WHERE key = ?", [key])
    con.execute(f"INSERT INTO {p}meta VALUES (?, ?)", [key, value])


def _has_table(con, name: str, catalog: str | None = None) -> bool:
    sql = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?"
    args: list[Any] = [name]
    if catalog:
        sql += " AND database_name = ?"
        args.append(catalog)
    return con.execute(sql, args).fetchall()[0][0] > 0


def store_version(con, catalog: str | None = None) -> int:
    """Schema version of an open store (0 for an empty database)."""
    p = f"{catalog}." if catalog else ""
    if not _has_table(con, "meta", catalog):
        return 0
    v = _get_meta(con, "schema_version", p)
    return int(v) if v else 0


# ---- migrations: MIGRATIONS[v] upgrades a version-v store to v + 1 ---------------------------


def _migrate_1_to_2(con, p: str) -> None:
    """v2 adds ``toxicities.astct_grade`` (computed from stored components) and
    ``imports.outcome``."""
    from cartlens.model.astct import astct_grades

    con.execute(f"ALTER TABLE {p}toxicities ADD COLUMN IF NOT EXISTS astct_grade BIGINT")
    con.execute(f"ALTER TABLE {p}imports ADD COLUMN IF NOT EXISTS outcome VARCHAR")
    con.execute(f"UPDATE {p}imports SET outcome = 'imported' WHERE outcome IS NULL")
    tox = con.execute(f"SELECT rowid AS _rid, * FROM {p}toxicities").df()
    if not tox.empty:
        grades = pd.DataFrame({"_rid": tox["_rid"], "g": astct_grades(tox)})
        con.register("_grades", grades)
        con.execute(
            f"UPDATE {p}toxicities t SET astct_grade = g.g FROM _grades g WHERE t.rowid = g._rid"
        )
        con.unregister("_grades")


def _migrate_2_to_3(con, p: str) -> None:
    """v3 adds the follow-up entities (labs, infections, iec_hs, second_malignancies; their
    tables are created by :func:`create_schema` after the migrations) and
    ``therapies.line_number`` / ``intent`` / ``end_date``: every missing column of an existing
    entity table is added."""
    for e in ENTITIES:
        if _has_table(con, e.name, p.rstrip(".") or None):
            for n, t in entity_columns(e):
                con.execute(f"ALTER TABLE {p}{q(e.name)} ADD COLUMN IF NOT EXISTS {q(n)} {t}")


MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection, str], None]] = {
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
}


def migrate(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> int:
    """Bring a store to :data:`SCHEMA_VERSION`; return the version it had.

    Raises :class:`InputError` when the store was written by a newer cartlens.
    """
    p = f"{catalog}." if catalog else ""
    v = store_version(con, catalog)
    if v > SCHEMA_VERSION:
        raise InputError(
            f"the store has schema version {v}, newer than this cartlens ({SCHEMA_VERSION}); "
            "upgrade cartlens"
        )
    start = v
    while 0 < v < SCHEMA_VERSION:
        MIGRATIONS[v](con, p)
        v += 1
        _set_meta(con, "schema_version", str(v), p)
    if v == 0 or start != SCHEMA_VERSION:
        create_schema(con, p)
    return start


def init_store(path: str | Path = DEFAULT_STORE) -> Path:
    """Create an empty store (or migrate an existing one) at ``path``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(p))
    try:
        con.execute("BEGIN")
        migrate(con)
        con.execute("COMMIT")
    finally:
        con.close()
    return p


def open_store(path: str | Path = DEFAULT_STORE, *, read_only: bool = True):
    """Open a store. Read-only by default; a writable open migrates an older store.

    A read-only open of an older store migrates an in-memory copy, so queries always see the
    current schema.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"store '{p}' does not exist (create it with 'cartlens registry init')")
    try:
        if not read_only:
            con = duckdb.connect(str(p))
            no_progress_bar(con)
            con.execute("BEGIN")
            migrate(con)
            con.execute("COMMIT")
            return con
        con = duckdb.connect(str(p), read_only=True)
        no_progress_bar(con)
    except duckdb.Error as exc:
        raise InputError(f"'{p}' is not a readable cartlens store: {exc}") from exc
    v = store_version(con)
    if v == 0:
        con.close()
        raise InputError(f"'{p}' is not a cartlens store (no meta table)")
    if v != SCHEMA_VERSION:
        con.close()
        mem = duckdb.connect()
        mem.execute(f"ATTACH {lit(str(p))} AS src (READ_ONLY)")
        mem.execute("ATTACH ':memory:' AS m")
        for (name,) in mem.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'"
        ).fetchall():
            mem.execute(f"CREATE TABLE m.{q(name)} AS SELECT * FROM src.{q(name)}")
        mem.execute("DETACH src")
        mem.execute("USE m")
        migrate(mem)
        return mem
    return con


# ---- import --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImportReport(Result):
    """Outcome of an import (or of a validation: ``import_id`` None).

    ``counts[entity]`` holds ``read``, ``inserted``, ``updated``, ``unchanged`` and ``deleted``.
    ``findings`` is a frame with :data:`FINDING_COLUMNS`.
    """

    ok: bool
    outcome: str
    import_id: int | None
    store_path: str | None
    source: str
    source_kind: str
    files: dict
    counts: dict
    n_errors: int
    n_warnings: int
    findings: pd.DataFrame
    settings: dict

    def to_dict(self) -> dict:
        d = {
            f.name: json_safe(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name != "findings"
        }
        d["findings"] = json_safe(findings_records(self.findings))
        return d

    @property
    def errors(self) -> pd.DataFrame:
        return self.findings[self.findings["severity"] == "error"]

    @property
    def warnings(self) -> pd.DataFrame:
        return self.findings[self.findings["severity"] == "warning"]


def findings_records(findings: pd.DataFrame) -> list[dict]:
    out = []
    for rec in findings[FINDING_COLUMNS].to_dict("records"):
        rec = {
            k: (None if (v is pd.NA or (isinstance(v, float) and v != v)) else v)
            for k, v in rec.items()
        }
        if rec["row"] is not None:
            rec["row"] = int(rec["row"])
        out.append(rec)
    return out


def write_findings(findings: pd.DataFrame, path: str | Path) -> Path:
    """Write findings as JSON (``.json``) or CSV (any other suffix)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() == ".json":
        p.write_text(json.dumps(findings_records(findings), indent=2) + "\n")
    else:
        findings[FINDING_COLUMNS].to_csv(p, index=False)
    return p


def _last_files(store: Path) -> dict | None:
    if not store.exists():
        return None
    try:
        con = duckdb.connect(str(store), read_only=True)
    except duckdb.Error:
        return None
    try:
        if not _has_table(con, "imports"):
            return None
        row = con.execute(
            "SELECT files, mode FROM imports ORDER BY import_id DESC LIMIT 1"
        ).fetchall()
        return {"files": json.loads(row[0][0]), "mode": row[0][1]} if row else None
    finally:
        con.close()


class _Progress:
    """Optional rich progress bar over import steps."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.bar = None
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True
            )
            self.bar.start()
            self.task = self.bar.add_task("import", total=total)

    def step(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _nulls_equal(cols: list[str]) -> str:
    return " AND ".join(f"n.{q(c)} IS NOT DISTINCT FROM o.{q(c)}" for c in cols)


def _write_entity(
    con: duckdb.DuckDBPyConnection, e: EntitySpec, import_id: int, mode: str
) -> dict[str, int]:
    """Upsert staged ``final_<entity>`` into ``st.<entity>``; return the counts."""
    cols = [c for c, _ in entity_columns(e)]
    key = " AND ".join(f"n.{q(k)} = o.{q(k)}" for k in e.key)
    new, old = q("final_" + e.name), f"st.{q(e.name)}"
    read = con.execute(f"SELECT count(*) FROM {new}").fetchall()[0][0]
    n_old = con.execute(f"SELECT count(*) FROM {old}").fetchall()[0][0]
    col_list = ", ".join(q(c) for c in cols)
    if n_old == 0:
        con.execute(f"INSERT INTO {old} SELECT {col_list}, {import_id} FROM {new}")
        return {"read": read, "inserted": read, "updated": 0, "unchanged": 0, "deleted": 0}
    matched = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE NOT ({_nulls_equal(cols)})) "
        f"FROM {new} n JOIN {old} o ON {key}"
    ).fetchall()[0]
    n_matched, n_changed = int(matched[0]), int(matched[1])
    deleted = 0
    if n_changed:
        con.execute(
            f"DELETE FROM {old} o WHERE EXISTS (SELECT 1 FROM {new} n WHERE {key} AND NOT "
            f"({_nulls_equal(cols)}))"
        )
    if mode == "replace":
        deleted = con.execute(
            f"SELECT count(*) FROM {old} o WHERE NOT EXISTS (SELECT 1 FROM {new} n WHERE {key})"
        ).fetchall()[0][0]
        if deleted:
            con.execute(f"DELETE FROM {old} o WHERE NOT EXISTS (SELECT 1 FROM {new} n WHERE {key})")
    con.execute(
        f"INSERT INTO {old} SELECT {', '.join('n.' + q(c) for c in cols)}, {import_id} "
        f"FROM {new} n "
        f"WHERE NOT EXISTS (SELECT 1 FROM {old} o WHERE {key})"
    )
    return {
        "read": read,
        "inserted": read - n_matched,
        "updated": n_changed,
        "unchanged": n_matched - n_changed,
        "deleted": int(deleted),
    }


#: Test hook: called with the entity name after each entity is written (inside the transaction).
_after_entity_hook: Callable[[str], None] | None = None


def _write_store_unlocked(
    stage_con: duckdb.DuckDBPyConnection,
    store: Path,
    source: RegistrySource,
    entities: tuple[str, ...],
    findings: pd.DataFrame,
    *,
    mode: str,
    started: dt.datetime,
    unchanged: bool,
    progress: _Progress,
) -> tuple[int, dict]:
    tmp = store.with_name(f".{store.name}.importing-{os.getpid()}")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        if leftover.exists():
            leftover.unlink()
    if store.exists():
        shutil.copy2(store, tmp)
    attached = False
    try:
        stage_con.execute(f"ATTACH {lit(str(tmp))} AS st")
        attached = True
        stage_con.execute("BEGIN")
        migrate(stage_con, "st")
        import_id = stage_con.execute(
            "SELECT coalesce(max(import_id), 0) + 1 FROM st.imports"
        ).fetchall()[0][0]
        counts: dict[str, dict[str, int]] = {}
        if not unchanged:
            for name in entities:
                progress.step(f"writing {name}")
                counts[name] = _write_entity(stage_con, ENTITY_BY_NAME[name], import_id, mode)
                if _after_entity_hook is not None:
                    _after_entity_hook(name)
        else:
            for name in entities:
                n = stage_con.execute(f"SELECT count(*) FROM {q('final_' + name)}").fetchall()[0][0]
                counts[name] = {
                    "read": n,
                    "inserted": 0,
                    "updated": 0,
                    "unchanged": n,
                    "deleted": 0,
                }
        warnings_ = findings[findings["severity"] == "warning"].copy()
        warnings_.insert(0, "import_id", import_id)
        if not warnings_.empty:
            stage_con.register("_warn", warnings_)
            stage_con.execute(
                'INSERT INTO st.findings SELECT import_id, file, CAST("row" AS BIGINT), '
                '"column", value, rule, severity, message FROM _warn'
            )
            stage_con.unregister("_warn")
        stage_con.execute(
            "INSERT INTO st.imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                import_id,
                started.replace(tzinfo=None),
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
                source.kind,
                str(source.path),
                mode,
                json.dumps(source.files, sort_keys=True),
                json.dumps(counts, sort_keys=True),
                0,
                len(warnings_),
                __version__,
                "unchanged" if unchanged else "imported",
            ],
        )
        stage_con.execute("COMMIT")
        stage_con.execute("CHECKPOINT st")
        stage_con.execute("DETACH st")
        attached = False
        os.replace(tmp, store)
        return int(import_id), counts
    except BaseException:
        try:
            stage_con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        if attached:
            try:
                stage_con.execute("DETACH st")
            except duckdb.Error:
                pass
        raise
    finally:
        for leftover in (tmp, Path(str(tmp) + ".wal")):
            if leftover.exists():
                leftover.unlink()


def _write_store(stage_con: duckdb.DuckDBPyConnection, store: Path, *args, **kwargs):
    """Write under an exclusive lock file ``<store>.lock`` (one import at a time); database
    errors (a file that is not a DuckDB store, a store held open by another process) become
    :class:`InputError` after the clean-up."""
    lock = store.with_name(store.name + ".lock")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        raise InputError(
            f"another import into '{store}' is running (or one crashed: then delete '{lock}')"
        ) from None
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return _write_store_unlocked(stage_con, store, *args, **kwargs)
    except duckdb.Error as exc:
        msg = str(exc).splitlines()[0]
        raise InputError(f"cannot write the store '{store}': {msg}") from exc
    finally:
        lock.unlink(missing_ok=True)


def _finalise_staging(con: duckdb.DuckDBPyConnection, entities: tuple[str, ...]) -> None:
    """Views ``final_<entity>``: typed rows in file order, with computed columns."""
    for name in entities:
        e = ENTITY_BY_NAME[name]
        cols = ", ".join(f"t.{q(f.name)}" for f in e.fields)
        if name == "toxicities":
            con.execute(
                f"CREATE OR REPLACE VIEW final_toxicities AS SELECT {cols}, "
                "CAST(a.astct_grade AS BIGINT) AS astct_grade FROM typed_toxicities t "
                "JOIN _astct a USING (_row)"
            )
        else:
            con.execute(
                f"CREATE OR REPLACE VIEW {q('final_' + name)} AS SELECT {cols} FROM "
                f"{q('typed_' + name)} t"
            )


def import_registry(
    source: str | Path | RegistrySource,
    store_path: str | Path | None = DEFAULT_STORE,
    *,
    mapping: str | Path | None = None,
    dictionary: str | Path | None = None,
    mode: str = "upsert",
    report_path: str | Path | None = None,
    today: dt.date | None = None,
    progress: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Validate a registry source and, if it has no errors, import it into the store.

    Parameters
    ----------
    source : path or RegistrySource
        A folder of ``<entity>.csv`` files, an ``.xlsx`` workbook, or a REDCap export (with
        ``mapping`` and optionally ``dictionary``); see :func:`cartlens.ingest.readers.read_source`.
    store_path : path, optional
        DuckDB store (created if absent). ``None`` or ``dry_run=True``: validate only.
    mode : {"upsert", "replace"}
        ``replace`` also deletes stored rows whose key is absent from the import.
    report_path : path, optional
        Write all findings there (``.json`` or ``.csv``).
    today : date, optional
        Reference date of the future-date rule (default: today).
    progress : bool
        Show a rich progress bar.

    Returns
    -------
    ImportReport
        ``ok`` is False when errors blocked the import (the store is then untouched).
    """
    if mode not in ("upsert", "replace"):
        raise InputError("mode must be 'upsert' or 'replace'", column="mode")
    started = dt.datetime.now(dt.UTC)
    src = (
        source
        if isinstance(source, RegistrySource)
        else read_source(source, mapping=mapping, dictionary=dictionary)
    )
    bar = _Progress(progress, total=3 + len(src.tables))
    try:
        bar.step("reading and validating")
        findings, staged, con = validate_source(src, today=today)
        n_err = int((findings["severity"] == "error").sum())
        n_warn = int((findings["severity"] == "warning").sum())
        settings = {"mode": mode, "today": (today or dt.date.today()).isoformat()}
        base = dict(
            store_path=None if store_path is None else str(store_path),
            source=str(src.path),
            source_kind=src.kind,
            files=dict(src.files),
            n_errors=n_err,
            n_warnings=n_warn,
            findings=findings,
            settings=settings,
        )
        read_counts = {name: {"read": staged.counts[name]} for name in staged.entities}
        if report_path is not None:
            write_findings(findings, report_path)
        if n_err:
            con.close()
            return ImportReport(
                ok=False, outcome="rejected", import_id=None, counts=read_counts, **base
            )
        if store_path is None or dry_run:
            con.close()
            return ImportReport(
                ok=True, outcome="validated", import_id=None, counts=read_counts, **base
            )
        store = Path(store_path)
        store.parent.mkdir(parents=True, exist_ok=True)
        unchanged = _last_files(store) == {"files": src.files, "mode": mode}
        bar.step("preparing")
        _finalise_staging(con, staged.entities)
        import_id, counts = _write_store(
            con,
            store,
            src,
            staged.entities,
            findings,
            mode=mode,
            started=started,
            unchanged=unchanged,
            progress=bar,
        )
        con.close()
        return ImportReport(
            ok=True,
            outcome="unchanged" if unchanged else "imported",
            import_id=import_id,
            counts=counts,
            **base,
        )
    finally:
        bar.close()


def validate_registry(source, **kwargs) -> ImportReport:
    """Validate only (never touches a store); see :func:`import_registry`."""
    kwargs.pop("store_path", None)
    return import_registry(source, None, **kwargs)


def export_registry(store_path: str | Path, out: str | Path) -> Path:
    """Export every entity of a store to a CSV folder or an ``.xlsx`` workbook (import format)."""
    con = open_store(store_path)
    out = Path(out)
    try:
        frames = {}
        for e in ENTITIES:
            cols = ", ".join(q(f.name) for f in e.fields)
            order = ", ".join(q(k) for k in e.key)
            df = con.execute(f"SELECT {cols} FROM {q(e.name)} ORDER BY {order}").df()
            for f in e.fields:
                if f.kind == "date":
                    df[f.name] = pd.to_datetime(df[f.name]).dt.strftime("%Y-%m-%d")
                elif f.kind == "boolean":
                    df[f.name] = df[f.name].map({True: "true", False: "false"})
                elif f.kind == "integer":
                    df[f.name] = df[f.name].astype("Int64")
            frames[e.name] = df
    finally:
        con.close()
    if out.suffix.lower() == ".xlsx":
        out.parent.mkdir(parents=True, exist_ok=True)
        with pd.ExcelWriter(out, engine="openpyxl") as xw:
            for name, df in frames.items():
                df.to_excel(xw, sheet_name=name, index=False)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for name, df in frames.items():
            df.to_csv(out / f"{name}.csv", index=False)
    return out


def store_summary(store_path: str | Path) -> dict:
    """Row counts per entity, schema version and the audit trail of a store."""
    con = open_store(store_path)
    try:
        counts = {
            e.name: con.execute(f"SELECT count(*) FROM {q(e.name)}").fetchall()[0][0]
            for e in ENTITIES
        }
        imports = con.execute(
            "SELECT import_id, finished_at, source_kind, source_path, n_warnings, outcome "
            "FROM imports ORDER BY import_id"
        ).df()
        return {
            "store": str(store_path),
            "schema_version": store_version(con),
            "counts": counts,
            "imports": imports.to_dict("records"),
        }
    finally:
        con.close()
