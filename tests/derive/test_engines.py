"""DuckDB and Spark (PySpark local mode) give identical derived data, aggregates and study
results. One Spark session serves the module (its start-up dominates the run time)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from cartlens.derive.aggregate import covariate_means_sql, cox_sums_sql, survival_counts_sql
from cartlens.derive.engines import DuckDBEngine, SparkEngine, normalise
from cartlens.derive.settings import DeriveSettings
from cartlens.derive.sql import infusion_sql
from cartlens.derive.tables import materialize
from cartlens.stats.aggregate import (
    counts_from_frame,
    cox_risk_set_sums,
    risk_set_sums_from_frame,
    survival_counts,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime"),
]
pytest.importorskip("pyspark")

ENTITIES = (
    "patients",
    "infusions",
    "responses",
    "toxicities",
    "transplants",
    "relapses",
    "therapies",
    "deaths",
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from cartlens.ingest.store import import_registry
    from cartlens.ingest.synthetic import write_registry

    root = tmp_path_factory.mktemp("engines")
    write_registry(root / "csv", 400, 7)
    path = root / "registry.duckdb"
    assert import_registry(root / "csv", path).ok
    return path


@pytest.fixture(scope="module")
def spark(store):
    eng = SparkEngine.start("local[2]")
    eng.load_store(store, ENTITIES)
    yield eng
    eng.stop()


@pytest.fixture(scope="module")
def duck(store):
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    materialize(con, DeriveSettings())
    yield DuckDBEngine(con)
    con.close()


def _same(a: pd.DataFrame, b: pd.DataFrame, key: list[str]) -> None:
    a = normalise(a).sort_values(key).reset_index(drop=True)
    b = normalise(b).sort_values(key).reset_index(drop=True)
    assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0
    for col in a.columns:
        x, y = a[col], b[col]
        assert (x.isna() == y.isna()).all(), col
        m = x.notna()
        if x.dtype.kind in "fiu" or str(x.dtype) in ("Int32", "Int64"):
            np.testing.assert_allclose(
                x[m].astype(float), y[m].astype(float), rtol=1e-12, atol=0, err_msg=col
            )
        else:
            assert (x[m] == y[m]).all(), col


def test_derived_infusion_table_is_identical(duck, spark):
    sql = infusion_sql(DeriveSettings())
    _same(duck.query(sql), spark.query(sql), ["infusion_id"])


def test_aggregate_queries_are_identical_and_match_the_rows(duck, spark):
    spark.session.createDataFrame(
        duck.query("SELECT * FROM derived_infusions")[
            [
                "infusion_id",
                "os_days",
                "os_event",
                "crisk_days",
                "crisk_event",
                "sex",
                "age_at_infusion",
                "course_number",
            ]
        ]
    ).createOrReplaceTempView("derived_infusions")
    q = survival_counts_sql(
        "derived_infusions", "crisk_days", "crisk_event", group="sex", strata="course_number"
    )
    a, b = duck.query(q), spark.query(q)
    _same(a, b, ["stratum", "grp", "time", "status"])
    rows = duck.query("SELECT * FROM derived_infusions")
    ref = survival_counts(
        rows.crisk_days,
        rows.crisk_event,
        group=rows.sex.astype(str),
        strata=rows.course_number.astype(str),
    )
    got = counts_from_frame(b)
    assert np.array_equal(got.count, ref.count) and np.array_equal(got.time, ref.time)
    cov = ["age_at_infusion", "course_number"]
    m = duck.query(covariate_means_sql("derived_infusions", "os_days", "os_event", cov))
    centre = [float(m[f"m_{i}"].iloc[0]) for i in range(2)]
    beta = [0.013, -0.25]
    q = cox_sums_sql("derived_infusions", "os_days", "os_event", cov, beta, centre)
    a, b = duck.query(q), spark.query(q)
    _same(a, b, ["time"])
    full = rows.dropna(subset=["os_days", "os_event", *cov])
    ref = cox_risk_set_sums(
        full.os_days, full.os_event, full[cov].to_numpy(float), beta, center=centre
    )
    got = risk_set_sums_from_frame(b, 2, beta, centre)
    for f in ("time", "ndead", "xd", "r0", "r1", "r2", "d0", "d1", "d2"):
        np.testing.assert_allclose(getattr(got, f), getattr(ref, f), rtol=1e-10, err_msg=f)


def test_study_results_are_identical_on_both_engines(spark):
    from cartlens.study.demo_data import DEMO_REGISTRY_DIR
    from cartlens.study.runner import results_document, run_study
    from cartlens.study.spec import REFERENCE_STUDY

    runs = {
        e: results_document(run_study(REFERENCE_STUDY, DEMO_REGISTRY_DIR, engine=e))
        for e in ("duckdb", "spark")
    }
    d, s = runs["duckdb"], runs["spark"]
    assert d["cohorts"] == s["cohorts"]
    assert d["replication"] == s["replication"]
    assert d["analyses"] == s["analyses"]
    assert d["tidy"] == s["tidy"]
