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
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cartlens import __version__
from cartlens.errors import InputError
from cartlens.ingest.readers import RegistrySource, read_source, reader_finding, source_settings
from cartlens.ingest.validate import (
    FINDING_COLUMNS,
    lit,
    merge_summaries,
    no_progress_bar,
    q,
    summarise,
    validate_source,
)
from cartlens.model.schema import ENTITIES, ENTITY_BY_NAME, EntitySpec
from cartlens.results import Result, json_safe

#: Default store path (relative to the working directory).
DEFAULT_STORE = Path("cartlens.duckdb")
#: Current schema version of the store.
SCHEMA_VERSION = 4
#: Columns every entity table holds beside its fields: the import that last wrote the row,
#: the data row of that import's file, and the source's own key of the row (REDCap: record,
#: event, instrument and repeat instance; NULL for CSV and Excel).
HIDDEN_COLUMNS = (("_import_id", "BIGINT"), ("_import_row", "BIGINT"), ("_source_key", "VARCHAR"))
#: Stored rows absent from an import are listed in at most this many findings per entity.
MISSING_LISTED = 1000

EXTRA_COLUMNS: dict[str, list[tuple[str, str]]] = {"toxicities": [("astct_grade", "BIGINT")]}

IMPORTS_DDL = """
CREATE TABLE IF NOT EXISTS {p}imports (
    import_id BIGINT, started_at TIMESTAMP, finished_at TIMESTAMP, source_kind VARCHAR,
    source_path VARCHAR, mode VARCHAR, files VARCHAR, counts VARCHAR, n_errors BIGINT,
    n_warnings BIGINT, cartlens_version VARCHAR, outcome VARCHAR)
"""
CHANGES_DDL = """
CREATE TABLE IF NOT EXISTS {p}changes (
    import_id BIGINT, entity VARCHAR, identity VARCHAR, action VARCHAR, field VARCHAR,
    old_value VARCHAR, new_value VARCHAR, "row" BIGINT)
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
        cols = ", ".join(f"{q(n)} {t}" for n, t in [*entity_columns(e), *HIDDEN_COLUMNS])
        con.execute(f"CREATE TABLE IF NOT EXISTS {p}{q(e.name)} ({cols})")
    con.execute(IMPORTS_DDL.format(p=p))
    con.execute(CHANGES_DDL.format(p=p))
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


def _migrate_3_to_4(con, p: str) -> None:
    """v4 adds ``toxicities.episode`` (numbered in onset order), the hidden columns
    ``_import_row`` and ``_source_key`` of every entity and the ``changes`` audit table."""
    con.execute(f"ALTER TABLE {p}toxicities ADD COLUMN IF NOT EXISTS episode BIGINT")
    con.execute(
        f"UPDATE {p}toxicities s SET episode = d._ep FROM (SELECT rowid AS _rid, row_number() "
        f"OVER (PARTITION BY infusion_id, toxicity ORDER BY onset_date, rowid) AS _ep FROM "
        f"{p}toxicities) d WHERE s.rowid = d._rid AND s.episode IS NULL"
    )
    for e in ENTITIES:
        if _has_table(con, e.name, p.rstrip(".") or None):
            for name, typ in HIDDEN_COLUMNS:
                con.execute(f"ALTER TABLE {p}{q(e.name)} ADD COLUMN IF NOT EXISTS {name} {typ}")
    con.execute(CHANGES_DDL.format(p=p))


MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection, str], None]] = {
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
    3: _migrate_3_to_4,
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
    #: Findings by rule, column and severity: ``count`` and the first ``examples`` (file, row,
    #: value, message), errors first, most frequent first; counts every finding, listed or not.
    summary: list = dataclasses.field(default_factory=list)
    #: Findings counted but not listed (more than ``max_errors`` of a severity).
    n_not_listed: int = 0
    #: More errors than ``max_errors`` in the files: the rules between rows and entities
    #: were not run.
    stopped_early: bool = False

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


def append_findings(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Findings of ``a`` then ``b`` (text columns as objects, ``row`` as nullable integer)."""
    parts = [f[FINDING_COLUMNS].astype(object) for f in (a, b) if not f.empty]
    if not parts:
        return a
    out = pd.concat(parts, ignore_index=True)
    out["row"] = pd.array(out["row"], dtype="Int64")
    return out


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


def identity_sql(e: EntitySpec, alias: str) -> str:
    """SQL text ``'k1=v1, k2=v2'`` of a row's identity (for the audit and the findings)."""
    return " || ', ' || ".join(
        f"'{k}=' || coalesce(CAST({alias}.{q(k)} AS VARCHAR), '')" for k in e.identity_columns
    )


def _count(con, sql: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {sql}").fetchall()[0][0])


class _MergeRejected(Exception):
    """The merged store would break a rule; ``findings`` name the rule and both rows."""

    def __init__(self, findings: list[dict]) -> None:
        super().__init__(f"{len(findings)} conflict(s) with the store")
        self.findings = findings


def _write_entity(
    con: duckdb.DuckDBPyConnection, e: EntitySpec, import_id: int, sync: bool, label: str
) -> tuple[dict[str, int], list[dict]]:
    """Merge staged ``final_<entity>`` into ``st.<entity>``; return the counts and the
    findings listing stored rows the import does not hold (R070).

    Incoming rows are matched to stored rows by the source's own key (``_source_key``), then
    by the entity's identity; a matched row whose values differ is updated in place and each
    changed field is written to ``changes`` (old and new value). Temp table ``_inc_<entity>``
    (``nrow``: the incoming data row, ``orid``: the stored rowid) records every incoming row.
    """
    cols = [c for c, _ in entity_columns(e)]
    new, old, inc = q("final_" + e.name), f"st.{q(e.name)}", q("_inc_" + e.name)
    olds = f"(SELECT rowid AS _rid, * FROM {old})"
    read = _count(con, new)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _by_src AS SELECT n._row AS nrow, o._rid AS orid "
        f"FROM {new} n JOIN {olds} o ON n._source_key = o._source_key"
    )
    ident = " AND ".join(f"n.{q(k)} = o.{q(k)}" for k in e.identity_columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {inc} AS SELECT * FROM _by_src UNION ALL "
        f"SELECT n._row, o._rid FROM (SELECT * FROM {new} WHERE _row NOT IN (SELECT nrow FROM "
        f"_by_src)) n JOIN (SELECT * FROM {olds} WHERE _rid NOT IN (SELECT orid FROM _by_src)) "
        f"o ON {ident}"
    )
    pairs = f"{inc} m JOIN {new} n ON n._row = m.nrow JOIN {olds} o ON o._rid = m.orid"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _chg AS SELECT m.nrow, m.orid FROM {pairs} "
        f"WHERE NOT ({_nulls_equal(cols)})"
    )
    n_matched, n_changed = _count(con, inc), _count(con, "_chg")
    if n_changed:
        changed = f"_chg m JOIN {new} n ON n._row = m.nrow JOIN {olds} o ON o._rid = m.orid"
        con.execute(
            "INSERT INTO st.changes "
            + " UNION ALL ".join(
                f"SELECT {import_id}, {lit(e.name)}, {identity_sql(e, 'o')}, 'update', {lit(c)}, "
                f"CAST(o.{q(c)} AS VARCHAR), CAST(n.{q(c)} AS VARCHAR), n._row FROM {changed} "
                f"WHERE o.{q(c)} IS DISTINCT FROM n.{q(c)}"
                for c in cols
            )
        )
        sets = ", ".join(f"{q(c)} = n.{q(c)}" for c in cols)
        con.execute(
            f"UPDATE {old} o SET {sets}, _import_id = {import_id}, _import_row = n._row, "
            f"_source_key = coalesce(n._source_key, o._source_key) FROM (SELECT n.*, m.orid AS "
            f"_orid FROM _chg m JOIN {new} n ON n._row = m.nrow) n WHERE o.rowid = n._orid"
        )
    absent = f"{olds} o WHERE o._rid NOT IN (SELECT orid FROM {inc})"
    n_missing = _count(con, f"(SELECT * FROM {absent})")
    listed = con.execute(
        f"SELECT {identity_sql(e, 'o')}, o._import_id FROM {absent} ORDER BY o._rid "
        f"LIMIT {MISSING_LISTED}"
    ).fetchall()
    action = "deleted (--sync)" if sync else "kept; --sync deletes it"
    missing = [
        {
            **reader_finding(
                label,
                f"stored {e.name} row ({ident_text}, import {imp}) is not in this import: {action}",
                rule="R070",
                severity="warning",
            ),
            "value": ident_text,
        }
        for ident_text, imp in listed
    ]
    if n_missing > len(listed):
        missing.append(
            reader_finding(
                label,
                f"{n_missing - len(listed)} more stored {e.name} row(s) are not in this import",
                rule="R070",
                severity="warning",
            )
        )
    deleted = 0
    if sync and n_missing:
        packed = "{" + ", ".join(f"{lit(c)}: o.{q(c)}" for c in cols) + "}"
        con.execute(
            f"INSERT INTO st.changes SELECT {import_id}, {lit(e.name)}, {identity_sql(e, 'o')}, "
            f"'delete', NULL, CAST(to_json({packed}) AS VARCHAR), NULL, NULL FROM {absent}"
        )
        con.execute(f"DELETE FROM {old} WHERE rowid NOT IN (SELECT orid FROM {inc})")
        deleted = n_missing
    targets = ", ".join(q(c) for c in [*cols, "_import_id", "_import_row", "_source_key"])
    con.execute(
        f"INSERT INTO {old} ({targets}) SELECT {', '.join('n.' + q(c) for c in cols)}, "
        f"{import_id}, n._row, n._source_key FROM {new} n WHERE n._row NOT IN "
        f"(SELECT nrow FROM {inc})"
    )
    con.execute(
        f"INSERT INTO {inc} SELECT _import_row, rowid FROM {old} WHERE _import_id = {import_id} "
        f"AND rowid NOT IN (SELECT orid FROM {inc})"
    )
    counts = {
        "read": read,
        "inserted": read - n_matched,
        "updated": n_changed,
        "unchanged": n_matched - n_changed,
        "missing": n_missing,
        "deleted": deleted,
    }
    return counts, missing


# ---- the merged store against every rule ----------------------------------------------------


def _merged_views(con: duckdb.DuckDBPyConnection) -> None:
    """Views ``merged_<entity>``: the store as this import leaves it; ``_row`` is the incoming
    data row of a row the import holds and ``-(rowid + 1)`` of any other stored row."""
    for e in ENTITIES:
        inc = q("_inc_" + e.name)
        if not _has_temp(con, "_inc_" + e.name):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {inc} (nrow BIGINT, orid BIGINT)")
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {q('merged_' + e.name)} AS SELECT coalesce(m.nrow, "
            f"-(o._rid + 1)) AS _row, o.* EXCLUDE (_rid) FROM (SELECT rowid AS _rid, * FROM "
            f"st.{q(e.name)}) o LEFT JOIN {inc} m ON m.orid = o._rid"
        )


def _has_temp(con, name: str) -> bool:
    return _count(con, f"duckdb_tables() WHERE temporary AND table_name = {lit(name)}") > 0


def _mentioned_first(message: str, names: list[str]) -> list[str]:
    """Entity names, those the message mentions (``death`` for deaths) first."""
    text = message.lower()
    return sorted(names, key=lambda n: 0 if n.rstrip("s") in text else 1)


def _row_of_patient(con, pid, names: list[str], incoming: bool):
    """(entity, row or rowid, identity, import) of the first incoming (or other stored) row
    of patient ``pid`` among ``names``."""
    for name in names:
        e = ENTITY_BY_NAME[name]
        if "patient_id" not in e.columns:
            continue
        cond = "_row > 0" if incoming else "_row < 0"
        got = con.execute(
            f"SELECT _row, {identity_sql(e, 'm')}, _import_id FROM {q('merged_' + name)} m "
            f"WHERE patient_id = ? AND {cond} ORDER BY abs(_row) LIMIT 1",
            [pid],
        ).fetchall()
        if got:
            return name, *got[0]
    return None


def _merge_conflicts(
    con: duckdb.DuckDBPyConnection, labels: dict[str, str], today: dt.date, limit: int
) -> list[dict]:
    """Errors of the cross-entity rules on the merged store, each naming the incoming row
    (file and data row) and the stored row it conflicts with."""
    from cartlens.ingest.validate import collect_findings, cross_rule_queries

    _merged_views(con)
    names = {e.name: e.name for e in ENTITIES}
    from cartlens.ingest.followup import followup_rule_queries

    queries = cross_rule_queries(names, today, "merged_")
    queries += followup_rule_queries(con, names, today, "merged_")
    errors = [f"SELECT * FROM ({sql}) WHERE severity = 'error'" for sql in queries]
    collect_findings(con, "_conflicts", errors)
    found = con.execute(
        f"SELECT * FROM _conflicts ORDER BY file, abs(row), rule LIMIT {int(limit)}"
    ).df()
    out = []
    entity_names = [e.name for e in ENTITIES]
    for f in found.to_dict("records"):
        name, row, msg = f["file"], int(f["row"]), f["message"]
        e = ENTITY_BY_NAME[name]
        if row > 0:
            pid = con.execute(
                f"SELECT patient_id FROM {q('merged_' + name)} WHERE _row = ?", [row]
            ).fetchall()[0][0]
            other = _row_of_patient(con, pid, _mentioned_first(msg, entity_names), False)
            where = (
                f"; it conflicts with the stored {other[0]} row ({other[2]}, import {other[3]})"
                if other
                else ""
            )
            out.append({**f, "file": labels[name], "row": row, "message": msg + where})
        else:
            ident, imp, pid = con.execute(
                f"SELECT {identity_sql(e, 'm')}, _import_id, patient_id FROM "
                f"{q('merged_' + name)} m WHERE _row = ?",
                [row],
            ).fetchall()[0]
            other = _row_of_patient(con, pid, _mentioned_first(msg, entity_names), True)
            file, line = (labels[other[0]], int(other[1])) if other else (labels[name], None)
            out.append(
                {
                    **f,
                    "file": file,
                    "row": line,
                    "message": f"stored {name} row ({ident}, import {imp}): {msg}, after "
                    f"merging this import's {other[0] if other else name} row"
                    + (f" ({other[2]})" if other else ""),
                }
            )
    return out


# ---- writing the store under a lock -----------------------------------------------------------


#: Test hook: called with the entity name after each entity is written (inside the transaction).
_after_entity_hook: Callable[[str], None] | None = None
#: Test hook: called with the step of the write ("locked", "copied", "written", "checked",
#: "committed", "checkpointed", "replaced") so a test can kill the process at that moment.
_step_hook: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if _step_hook is not None:
        _step_hook(name)


def _temp_copy(store: Path, pid: int) -> Path:
    return store.with_name(f".{store.name}.importing-{pid}")


def _remove_temp(tmp: Path) -> None:
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)


def _write_store_unlocked(
    stage_con: duckdb.DuckDBPyConnection,
    store: Path,
    source: RegistrySource,
    entities: tuple[str, ...],
    findings: pd.DataFrame,
    *,
    labels: dict[str, str],
    mode: str,
    started: dt.datetime,
    unchanged: bool,
    progress: _Progress,
    today: dt.date,
    max_errors: int,
) -> tuple[int, dict, pd.DataFrame]:
    tmp = _temp_copy(store, os.getpid())
    _remove_temp(tmp)
    attached = False
    try:
        if store.exists():
            shutil.copy2(store, tmp)
        _step("copied")
        stage_con.execute(f"ATTACH {lit(str(tmp))} AS st")
        attached = True
        stage_con.execute("BEGIN")
        migrate(stage_con, "st")
        import_id = stage_con.execute(
            "SELECT coalesce(max(import_id), 0) + 1 FROM st.imports"
        ).fetchall()[0][0]
        had_rows = any(_count(stage_con, f"st.{q(e.name)}") for e in ENTITIES)
        counts: dict[str, dict[str, int]] = {}
        listed: list[dict] = []
        sync = mode == "sync"
        if not unchanged:
            for name in entities:
                progress.step(f"writing {name}")
                counts[name], missing = _write_entity(
                    stage_con, ENTITY_BY_NAME[name], import_id, sync, labels[name]
                )
                listed += missing
                if _after_entity_hook is not None:
                    _after_entity_hook(name)
            _step("written")
            if had_rows:
                conflicts = _merge_conflicts(stage_con, labels, today, max_errors)
                if conflicts:
                    raise _MergeRejected(conflicts)
            _step("checked")
        else:
            for name in entities:
                n = _count(stage_con, q("final_" + name))
                counts[name] = {
                    "read": n,
                    "inserted": 0,
                    "updated": 0,
                    "unchanged": n,
                    "missing": 0,
                    "deleted": 0,
                }
        if listed:
            findings = append_findings(findings, pd.DataFrame(listed, columns=FINDING_COLUMNS))
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
        _step("committed")
        stage_con.execute("CHECKPOINT st")
        stage_con.execute("DETACH st")
        attached = False
        _step("checkpointed")
        os.replace(tmp, store)
        _step("replaced")
        return int(import_id), counts, findings
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
        _remove_temp(tmp)


def _lock_owner(lock: Path) -> tuple[int | None, str | None]:
    """(pid, host) written in a lock file; (None, None) when unreadable."""
    try:
        parts = lock.read_text().split()
        return int(parts[0]), (parts[1] if len(parts) > 1 else None)
    except (OSError, ValueError, IndexError):
        return None, None


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _clear_dead_imports(store: Path) -> list[Path]:
    """Remove temporary copies ``.<store>.importing-<pid>`` of processes that are gone."""
    removed = []
    for tmp in store.parent.glob(f".{store.name}.importing-*"):
        tail = tmp.name.rsplit("-", 1)[1].removesuffix(".wal")
        if tail.isdigit() and not _process_alive(int(tail)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _acquire_lock(store: Path) -> Path:
    """Create ``<store>.lock`` holding ``"<pid> <host>"`` (atomically: written aside, then
    hard-linked). A lock whose process is gone on this host is removed with its temporary
    copy; a live one is an :class:`InputError`."""
    lock = store.with_name(store.name + ".lock")
    host = socket.gethostname()
    mine = store.with_name(f".{store.name}.lock-{os.getpid()}")
    try:
        mine.write_text(f"{os.getpid()} {host}\n")
        for _ in range(3):
            try:
                os.link(mine, lock)
                return lock
            except FileExistsError:
                pid, owner_host = _lock_owner(lock)
                if pid is None:
                    raise InputError(
                        f"'{lock}' exists but names no process; if no import is running, delete it"
                    ) from None
                if (owner_host not in (None, host)) or _process_alive(pid):
                    where = "" if owner_host in (None, host) else f" on {owner_host}"
                    raise InputError(
                        f"another import into '{store}' is running (process {pid}{where}, "
                        f"lock '{lock}')"
                    ) from None
                _remove_temp(_temp_copy(store, pid))
                lock.unlink(missing_ok=True)
        raise InputError(f"cannot take the lock '{lock}': it keeps coming back")
    except OSError as exc:
        raise InputError(
            f"cannot create the lock file '{exc.filename or lock}': {exc.strerror}"
        ) from exc
    finally:
        mine.unlink(missing_ok=True)


def _write_store(stage_con: duckdb.DuckDBPyConnection, store: Path, *args, **kwargs):
    """Write under an exclusive lock file ``<store>.lock`` (one import at a time).

    Database errors (a file that is not a DuckDB store, a store held open by another process)
    and file-system errors (permission denied, disk full) become :class:`InputError` naming
    the path, after the temporary copy has been removed.
    """
    lock = _acquire_lock(store)
    try:
        _step("locked")
        _clear_dead_imports(store)
        return _write_store_unlocked(stage_con, store, *args, **kwargs)
    except duckdb.Error as exc:
        msg = str(exc).splitlines()[0]
        raise InputError(f"cannot write the store '{store}': {msg}") from exc
    except OSError as exc:
        path = exc.filename or store
        raise InputError(f"cannot write the store: '{path}': {exc.strerror or exc}") from exc
    finally:
        lock.unlink(missing_ok=True)


def _finalise_staging(con: duckdb.DuckDBPyConnection, entities: tuple[str, ...]) -> None:
    """Views ``final_<entity>``: typed rows in file order, with computed columns, the data
    row ``_row`` and the source's own key ``_source_key``."""
    for name in entities:
        e = ENTITY_BY_NAME[name]
        cols = ", ".join(f"t.{q(f.name)}" for f in e.fields)
        key = "CAST(s._source_key AS VARCHAR)" if _has_source_key(con, name) else "NULL"
        extra = ""
        join = ""
        if name == "toxicities":
            extra = ", CAST(a.astct_grade AS BIGINT) AS astct_grade"
            join = " JOIN _astct a USING (_row)"
        con.execute(
            f"CREATE OR REPLACE VIEW {q('final_' + name)} AS SELECT {cols}{extra}, t._row, "
            f"CAST({key} AS VARCHAR) AS _source_key FROM {q('typed_' + name)} t{join}"
            + (f" JOIN {q('chk_' + name)} s USING (_row)" if key != "NULL" else "")
        )


def _has_source_key(con, name: str) -> bool:
    cols = con.execute(
        f"SELECT column_name FROM duckdb_columns() WHERE table_name = {lit('stg_' + name)}"
    ).fetchall()
    return ("_source_key",) in cols


def import_registry(
    source: str | Path | RegistrySource,
    store_path: str | Path | None = DEFAULT_STORE,
    *,
    mapping: str | Path | None = None,
    dictionary: str | Path | None = None,
    mode: str = "upsert",
    sync: bool = False,
    report_path: str | Path | None = None,
    today: dt.date | None = None,
    progress: bool = False,
    dry_run: bool = False,
    max_errors: int = 1000,
    **read_options: Any,
) -> ImportReport:
    """Validate a registry source and, if it has no errors, import it into the store.

    Parameters
    ----------
    source : path or RegistrySource
        A folder of ``<entity>.csv`` files, an ``.xlsx`` workbook, or a REDCap export (with
        ``mapping`` and optionally ``dictionary``); see :func:`cartlens.ingest.readers.read_source`.
    store_path : path, optional
        DuckDB store (created if absent). ``None`` or ``dry_run=True``: validate only.
    sync : bool
        Also delete stored rows of the entities the import holds that the import does not
        contain (they are listed, rule R070, either way). ``mode="replace"`` is the same.
    mode : {"upsert", "replace", "sync"}
        Older spelling of ``sync``.
    report_path : path, optional
        Write all findings there (``.json`` or ``.csv``).
    today : date, optional
        Reference date of the future-date rule (default: today).
    progress : bool
        Show a rich progress bar.
    max_errors : int
        Stop listing (and skip the later rules) once this many errors are found.
    **read_options
        Passed to :func:`cartlens.ingest.readers.read_source` (``delimiter``, ``decimal``,
        ``encoding``).

    Returns
    -------
    ImportReport
        ``ok`` is False when errors blocked the import (the store is then untouched): errors
        of the source, or of the store as the import would leave it (merge conflicts).
    """
    if mode not in ("upsert", "replace", "sync"):
        raise InputError("mode must be 'upsert' or 'sync'", column="mode")
    mode = "sync" if (sync or mode != "upsert") else "upsert"
    started = dt.datetime.now(dt.UTC)
    src = (
        source
        if isinstance(source, RegistrySource)
        else read_source(source, mapping=mapping, dictionary=dictionary, **read_options)
    )
    bar = _Progress(progress, total=3 + len(src.tables))
    today = today or dt.date.today()
    try:
        bar.step("reading and validating")
        findings, staged, con = validate_source(src, today=today, max_errors=max_errors)
        settings = {"mode": mode, "today": today.isoformat(), **source_settings(src)}

        def report(ok, outcome, import_id, counts, findings, extra=None) -> ImportReport:
            if report_path is not None:
                write_findings(findings, report_path)
            summary = merge_summaries(staged.summary, extra)
            totals = summary.groupby("severity")["count"].sum() if len(summary) else {}
            n_total = int(sum(int(v) for v in dict(totals).values()))
            return ImportReport(
                ok=ok,
                outcome=outcome,
                import_id=import_id,
                store_path=None if store_path is None else str(store_path),
                source=str(src.path),
                source_kind=src.kind,
                files=dict(src.files),
                counts=counts,
                n_errors=int(dict(totals).get("error", 0)),
                n_warnings=int(dict(totals).get("warning", 0)),
                findings=findings,
                settings=settings,
                summary=summary.to_dict("records"),
                n_not_listed=n_total - len(findings),
                stopped_early=staged.stopped_early,
            )

        read_counts = {name: {"read": staged.counts[name]} for name in staged.entities}
        if (findings["severity"] == "error").any():
            con.close()
            return report(False, "rejected", None, read_counts, findings)
        if store_path is None or dry_run:
            con.close()
            return report(True, "validated", None, read_counts, findings)
        store = Path(store_path)
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the folder '{store.parent}': {exc.strerror}") from exc
        unchanged = _last_files(store) == {"files": src.files, "mode": mode}
        n_listed = len(findings)
        bar.step("preparing")
        _finalise_staging(con, staged.entities)
        try:
            import_id, counts, findings = _write_store(
                con,
                store,
                src,
                staged.entities,
                findings,
                labels=staged.labels,
                mode=mode,
                started=started,
                unchanged=unchanged,
                progress=bar,
                today=today,
                max_errors=max_errors,
            )
        except _MergeRejected as exc:
            con.close()
            conflicts = pd.DataFrame(exc.findings, columns=FINDING_COLUMNS)
            merged = append_findings(findings, conflicts)
            return report(False, "rejected", None, read_counts, merged, summarise(conflicts))
        con.close()
        added = findings.iloc[n_listed:]
        outcome = "unchanged" if unchanged else "imported"
        return report(True, outcome, import_id, counts, findings, summarise(added))
    finally:
        bar.close()


def validate_registry(source, **kwargs) -> ImportReport:
    """Validate only (never touches a store); see :func:`import_registry`."""
    kwargs.pop("store_path", None)
    return import_registry(source, None, **kwargs)


#: First characters that make a spreadsheet run a text cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@")


def formula_like(value: Any) -> bool:
    """Whether a value is text that a spreadsheet would run as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def escape_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` for CSV: text beginning with ``= + - @`` gets a leading apostrophe
    (shown as text by spreadsheets; a cartlens import removes it again)."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].map(lambda v: "'" + v if formula_like(v) else v)
    return out


def write_xlsx(frames: dict[str, pd.DataFrame], path: Path) -> Path:
    """Write one sheet per frame; text cells are always text cells (a value beginning with
    ``=`` is not written as a live formula)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, df in frames.items():
        ws = wb.create_sheet(name)
        ws.append([str(c) for c in df.columns])
        for rec in df.itertuples(index=False, name=None):
            ws.append([None if (v is None or v is pd.NA or v != v) else v for v in rec])
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if formula_like(cell.value) or cell.data_type == "f":
                    cell.data_type = "s"
                    cell.quotePrefix = True
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def export_registry(store_path: str | Path, out: str | Path) -> Path:
    """Export every entity of a store to a CSV folder or an ``.xlsx`` workbook (import format).

    Text that a spreadsheet would run as a formula (rule R063) is written escaped: in CSV with
    a leading apostrophe (which an import removes), in XLSX as a text cell.
    """
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
    try:
        if out.suffix.lower() == ".xlsx":
            write_xlsx(frames, out)
        else:
            out.mkdir(parents=True, exist_ok=True)
            for name, df in frames.items():
                escape_formulas(df).to_csv(out / f"{name}.csv", index=False)
    except OSError as exc:
        raise InputError(f"cannot write '{exc.filename or out}': {exc.strerror}") from exc
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
