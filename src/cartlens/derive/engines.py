"""Where the derive and aggregate SQL runs: DuckDB (the store itself) or Apache Spark.

Both engines take the same DuckDB-dialect text (:mod:`cartlens.derive.sql`,
:mod:`cartlens.derive.aggregate`); :class:`SparkEngine` transpiles it with sqlglot
(``read="duckdb", write="spark"``) and runs it on a ``SparkSession`` whose master is a URL
(``local[2]``, ``spark://host:7077``, ``yarn``...), so a user can point it at a cluster.
Results come back as pandas frames with the same columns and normalised types
(:func:`normalise`), so that what follows sees identical input from either engine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from cartlens.errors import InputError

ENGINES = ("duckdb", "spark")


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise InputError(f"must be a plain table name; got {name!r}", column="table")
    return name


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Engine-independent types: dates and timestamps as ``datetime64[us]`` (as DuckDB's),
    integers as int64 (nullable ``Int64`` where null), floats as float64, text as object."""
    out = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s) or (
            s.dtype == object and s.map(lambda v: hasattr(v, "year")).any()
        ):
            out[col] = pd.to_datetime(s).astype("datetime64[us]")
        elif pd.api.types.is_bool_dtype(s):
            out[col] = s.astype(bool)
        elif pd.api.types.is_integer_dtype(s):
            out[col] = s.astype("int64") if not s.isna().any() else s.astype("Int64")
        elif pd.api.types.is_float_dtype(s):
            out[col] = s.astype("float64")
        else:
            out[col] = s.astype(object).where(s.notna(), None)
    return pd.DataFrame(out, index=range(len(df)))


class DuckDBEngine:
    """Runs SQL on an open DuckDB connection (a cartlens store)."""

    name = "duckdb"

    def __init__(self, con: Any) -> None:
        self.con = con

    def query(self, sql: str) -> pd.DataFrame:
        return normalise(self.con.execute(sql).df())


class SparkEngine:
    """Runs the same SQL on Spark (transpiled by sqlglot); tables are Spark temp views."""

    name = "spark"

    def __init__(self, session: Any) -> None:
        self.session = session
        self._tmp = Path(tempfile.mkdtemp(prefix="cartlens-spark-"))  # Parquet of the views

    @classmethod
    def start(cls, master: str = "local[2]", app_name: str = "cartlens") -> SparkEngine:
        """Get or create a ``SparkSession`` on ``master`` (UTC session time zone)."""
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - pyspark is a test extra
            raise InputError(
                "needs pyspark (pip install pyspark) and a Java runtime", column="--engine"
            ) from exc
        session = (
            SparkSession.builder.master(master)
            .appName(app_name)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        return cls(session)

    @staticmethod
    def transpile(sql: str) -> str:
        import sqlglot
        from sqlglot.errors import ErrorLevel

        out = sqlglot.transpile(
            sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE
        )
        if len(out) != 1:
            raise InputError("expected one statement", column="sql")
        return out[0]

    def query(self, sql: str) -> pd.DataFrame:
        sdf = self.session.sql(self.transpile(sql))
        pdf = sdf.toPandas()
        for f in sdf.schema.fields:  # integer columns with nulls come back as float
            kind = f.dataType.typeName()
            if kind in ("integer", "long", "short") and pdf[f.name].dtype.kind == "f":
                pdf[f.name] = pdf[f.name].astype("Int32" if kind != "long" else "Int64")
        return normalise(pdf)

    def stop(self) -> None:
        """Drop the views' files (the session stays up for reuse: ``getOrCreate``)."""
        import shutil

        shutil.rmtree(self._tmp, ignore_errors=True)

    def load_store(self, store: str | Path, tables: tuple[str, ...]) -> None:
        """Copy a store's entity tables into Spark temp views (through Parquet, which keeps
        DuckDB's column types: DATE stays a date, integers stay integers)."""
        import duckdb

        con = duckdb.connect(str(store), read_only=True)
        try:
            info = "select table_name from information_schema.tables"
            have = {r[0] for r in con.execute(info).fetchall()}
            for name in tables:
                if name not in have:
                    continue
                path = self._tmp / f"{_ident(name)}.parquet"
                con.execute(f"COPY \"{name}\" TO '{path}' (FORMAT PARQUET)")
                self.session.read.parquet(str(path)).createOrReplaceTempView(name)
        finally:
            con.close()


def start_engine(engine: str, *, store: str | Path | None = None, master: str | None = None):
    """``"duckdb"`` (None: the runner uses the store directly) or a started Spark engine with
    the store's entity tables loaded."""
    if engine not in ENGINES:
        raise InputError(f"must be one of {', '.join(ENGINES)}; got {engine!r}", column="--engine")
    if engine == "duckdb":
        return None
    from cartlens.model.schema import ENTITIES

    eng = SparkEngine.start(master or "local[2]")
    if store is not None:
        eng.load_store(store, tuple(e.name for e in ENTITIES))
    return eng
