"""The follow-up entities reach the store, and a schema-v2 store gains them by migration."""

from __future__ import annotations

import duckdb

from cartlens.ingest import open_store
from cartlens.ingest import store as store_mod
from cartlens.model.labs import to_canonical
from registry_factory import (
    anc_series,
    base_registry,
    build_store,
    iec_hs,
    infection,
    lab,
    malignancy,
)


def _followup_registry():
    reg = base_registry()
    reg["labs"] = [*anc_series("P2", 1, {0: 2.0, 4: 0.3}), lab("P2", 1, 7, "anc", 900, "cells/uL")]
    reg["infections"] = [infection("P2", 1, 40, organism="RSV")]
    reg["iec_hs"] = [iec_hs("P2", 1, 12)]
    reg["second_malignancies"] = [malignancy("P2", 300, "t_cell", car_status="negative")]
    reg["therapies"][0]["line_number"] = "1"
    return reg


def test_followup_entities_import(tmp_path):
    store = build_store(tmp_path, _followup_registry())
    con = open_store(store)
    assert con.execute("SELECT count(*) FROM labs").fetchone()[0] == 3
    assert (
        con.execute("SELECT unit FROM labs WHERE sample_date = DATE '2020-01-08'").fetchone()[0]
        == "cells/uL"
    )
    assert con.execute("SELECT organism FROM infections").fetchone()[0] == "RSV"
    assert con.execute("SELECT car_status FROM second_malignancies").fetchone()[0] == "negative"
    assert con.execute("SELECT line_number FROM therapies").fetchone()[0] == 1
    con.close()


def test_canonical_units():
    assert to_canonical("anc", "cells/uL", 900.0) == (0.9, "10^9/L")
    assert to_canonical("igg", "mg/dL", 450.0) == (4.5, "g/L")
    assert to_canonical("cd19_b_cells", "10^9/L", 0.05) == (50.0, "cells/uL")
    assert to_canonical("haemoglobin", "g/L", 95.0)[0] == 9.5


def test_v2_store_migrates_to_followup_schema(tmp_path):
    """A store as schema version 2 wrote it (no follow-up tables, therapies without
    line_number/intent/end_date) gains them on a writable open and keeps its rows."""
    store = build_store(tmp_path, base_registry())
    con = duckdb.connect(str(store))
    for name in ("labs", "infections", "iec_hs", "second_malignancies"):
        con.execute(f'DROP TABLE "{name}"')
    for col in ("line_number", "intent", "end_date"):
        con.execute(f"ALTER TABLE therapies DROP COLUMN {col}")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    ro = open_store(store)  # read-only: an in-memory migrated copy
    assert ro.execute("SELECT count(*) FROM labs").fetchone()[0] == 0
    ro.close()
    con = open_store(store, read_only=False)
    con.close()
    con = duckdb.connect(str(store), read_only=True)
    assert store_mod.store_version(con) == store_mod.SCHEMA_VERSION
    assert con.execute("SELECT count(*), count(line_number) FROM therapies").fetchone() == (1, 0)
    assert con.execute("SELECT count(*) FROM second_malignancies").fetchone()[0] == 0
    con.close()
