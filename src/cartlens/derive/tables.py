"""Run the derivations in DuckDB and return frames that carry their settings."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

from cartlens.derive.settings import DeriveSettings
from cartlens.derive.sql import ENDPOINTS, exposure_sql, infusion_sql
from cartlens.errors import InputError


def _connect(con_or_path) -> tuple[duckdb.DuckDBPyConnection, bool]:
    if isinstance(con_or_path, str | Path):
        from cartlens.ingest.store import open_store

        return open_store(con_or_path), True
    return con_or_path, False


def _run(con_or_path, sql: str, settings: DeriveSettings, kind: str) -> pd.DataFrame:
    con, close = _connect(con_or_path)
    try:
        df = con.execute(sql).df()
    finally:
        if close:
            con.close()
    df.attrs["derive_settings"] = settings.model_dump()
    df.attrs["derived"] = kind
    return df


def infusion_table(con, settings: DeriveSettings | None = None) -> pd.DataFrame:
    """One row per CAR-T infusion with covariates, response, toxicity and endpoints.

    Parameters
    ----------
    con : duckdb connection or path
        An open store (:func:`cartlens.ingest.open_store`) or its path.
    settings : DeriveSettings, optional
        Event definitions, censoring rules and windows (defaults documented there).

    Returns
    -------
    pandas.DataFrame
        Columns documented in ``docs/data-model.md`` ("Derived data"); the settings are in
        ``df.attrs["derive_settings"]``.
    """
    s = settings or DeriveSettings()
    return _run(con, infusion_sql(s), s, "infusion_table")


def exposure_intervals(
    con, settings: DeriveSettings | None = None, *, endpoint: str = "os", followup=None
) -> pd.DataFrame:
    """Counting-process (tstart, tstop] rows from each infusion's day 0 with time-varying
    ``hsct`` (later allo-HSCT) and ``next_cart`` (next CAR-T course) and the endpoint's
    ``event`` (0/1; for ``relapse_nrm`` 0/1/2) on the last interval.

    Parameters
    ----------
    endpoint : {"os", "pfs", "efs", "rfs", "relapse_nrm"}
    followup : cartlens.derive.followup.FollowupSettings, optional
        Also split at the loss of B-cell aplasia: time-varying ``bca_lost`` (0 -> 1).
    """
    if endpoint not in ENDPOINTS:
        raise InputError(f"must be one of {', '.join(ENDPOINTS)}", column="endpoint")
    s = settings or DeriveSettings()
    sql = exposure_sql(s, endpoint, followup=followup)
    df = _run(con, sql, s, f"exposure_intervals:{endpoint}")
    df.attrs["endpoint"] = endpoint
    if followup is not None:
        df.attrs["followup_settings"] = followup.model_dump()
    return df


def materialize(
    con: duckdb.DuckDBPyConnection,
    settings: DeriveSettings | None = None,
    table: str = "derived_infusions",
    *,
    temporary: bool = True,
) -> str:
    """Create (or replace) a table holding :func:`infusion_table` in ``con``, with the settings
    as JSON in the table's comment; return the table name.

    By default the table is temporary (it lives as long as the connection, and works on a
    read-only store); ``temporary=False`` writes it into a writable database.
    """
    s = settings or DeriveSettings()
    kind = "TEMP TABLE" if temporary else "TABLE"
    con.execute(f'CREATE OR REPLACE {kind} "{table}" AS {infusion_sql(s)}')
    comment = json.dumps({"derive_settings": s.model_dump()}).replace("'", "''")
    con.execute(f"COMMENT ON TABLE \"{table}\" IS '{comment}'")
    return table


def table_settings(con: duckdb.DuckDBPyConnection, table: str = "derived_infusions") -> dict:
    """The settings stored with a materialised table."""
    rows = con.execute(
        "SELECT comment FROM duckdb_tables() WHERE table_name = ?", [table]
    ).fetchall()
    if not rows or not rows[0][0]:
        raise InputError(f"table '{table}' has no stored settings", column=table)
    return json.loads(rows[0][0])["derive_settings"]
