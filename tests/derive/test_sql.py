"""The derivation SQL stays in one dialect that sqlglot transpiles to Spark SQL."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from cartlens.derive import DeriveSettings
from cartlens.derive.sql import ENDPOINTS, exposure_sql, infusion_sql

SETTINGS = [
    DeriveSettings(),
    DeriveSettings(
        censor_at_hsct=True,
        censor_at_next_cart=True,
        censor_at_new_therapy=True,
        censor_os=True,
        nonresponder_pfs="assessment",
        efs_nonresponse="assessment",
        require_mrd_negative=True,
        cri_counts_as_cr=False,
        mrd_relapse_is_event=False,
        grade_source="computed",
    ),
]


def _spark(sql: str) -> str:
    out = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)
    assert len(out) == 1
    return out[0]


@pytest.mark.parametrize("settings", SETTINGS)
def test_infusion_sql_transpiles_to_spark(settings):
    spark = _spark(infusion_sql(settings))
    assert "DATEDIFF" in spark.upper() and "MIN_BY" in spark.upper()
    # and back: the Spark text parses as Spark
    sqlglot.parse_one(spark, read="spark")


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_exposure_sql_transpiles_to_spark(endpoint):
    _spark(exposure_sql(DeriveSettings(), endpoint))
