"""The store: one-transaction import, idempotent re-import, upsert, audit, migration, export."""

from __future__ import annotations

import hashlib
import json
import os

import duckdb
import pytest

from cartlens.errors import InputError
from cartlens.ingest import (
    SCHEMA_VERSION,
    export_registry,
    import_registry,
    init_store,
    open_store,
    store_summary,
)
from cartlens.ingest import store as store_mod
from registry_factory import TODAY, base_registry, build_store, day, write_folder


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table(store, name):
    con = open_store(store)
    try:
        return con.execute(f"SELECT * EXCLUDE (_import_id) FROM {name} ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_import_creates_store_with_counts_and_audit(tmp_path):
    store = build_store(tmp_path, base_registry())
    s = store_summary(store)
    assert s["schema_version"] == SCHEMA_VERSION
    assert s["counts"]["patients"] == 2 and s["counts"]["infusions"] == 3
    assert len(s["imports"]) == 1 and s["imports"][0]["outcome"] == "imported"
    con = open_store(store)
    files, counts = con.execute("SELECT files, counts FROM imports").fetchall()[0]
    con.close()
    files = json.loads(files)
    assert files["patients.csv"] == sha(tmp_path / "src" / "patients.csv")
    assert json.loads(counts)["responses"]["inserted"] == 3


def test_errors_block_import_and_store_is_unchanged(tmp_path):
    store = build_store(tmp_path, base_registry())
    before = sha(store)
    reg = base_registry()
    reg["patients"][1]["sex"] = "F"
    bad = write_folder(tmp_path / "bad", reg)
    rep = import_registry(bad, store, today=TODAY)
    assert not rep.ok and rep.outcome == "rejected" and rep.n_errors == 1
    assert sha(store) == before


def test_rejected_import_does_not_create_store(tmp_path):
    reg = base_registry()
    reg["patients"][1]["sex"] = "F"
    rep = import_registry(write_folder(tmp_path / "bad", reg), tmp_path / "s.duckdb", today=TODAY)
    assert not rep.ok
    assert not (tmp_path / "s.duckdb").exists()


def test_failure_mid_import_leaves_store_byte_for_byte(tmp_path, monkeypatch):
    store = build_store(tmp_path, base_registry())
    before = sha(store)
    reg = base_registry()
    reg["patients"][1]["sex"] = "male" if reg["patients"][1]["sex"] == "female" else "female"
    reg["responses"][2]["status"] = "CRi"
    src = write_folder(tmp_path / "changed", reg)

    def boom(entity):
        if entity == "infusions":  # after patients were written
            raise RuntimeError("injected failure")

    monkeypatch.setattr(store_mod, "_after_entity_hook", boom)
    with pytest.raises(RuntimeError, match="injected"):
        import_registry(src, store, today=TODAY)
    assert sha(store) == before
    leftovers = [p.name for p in tmp_path.iterdir() if "importing" in p.name]
    assert leftovers == []
    monkeypatch.setattr(store_mod, "_after_entity_hook", None)
    rep = import_registry(src, store, today=TODAY)
    assert rep.ok and rep.counts["patients"]["updated"] == 1


def test_failure_on_first_import_leaves_no_store(tmp_path, monkeypatch):
    src = write_folder(tmp_path / "src", base_registry())
    monkeypatch.setattr(
        store_mod, "_after_entity_hook", lambda e: (_ for _ in ()).throw(RuntimeError("x"))
    )
    with pytest.raises(RuntimeError):
        import_registry(src, tmp_path / "new.duckdb", today=TODAY)
    assert not (tmp_path / "new.duckdb").exists()


def test_reimport_same_files_changes_no_data(tmp_path):
    store = build_store(tmp_path, base_registry())
    data_before = {t: table(store, t) for t in ("patients", "infusions", "toxicities")}
    rep = import_registry(tmp_path / "src", store, today=TODAY)
    assert rep.ok and rep.outcome == "unchanged"
    assert all(c["inserted"] == c["updated"] == 0 for c in rep.counts.values())
    assert {t: table(store, t) for t in data_before} == data_before
    # same content in another folder: same hashes, still unchanged
    copy = write_folder(tmp_path / "copy", base_registry())
    assert import_registry(copy, store, today=TODAY).outcome == "unchanged"
    assert [r["outcome"] for r in store_summary(store)["imports"]] == [
        "imported",
        "unchanged",
        "unchanged",
    ]


def test_changed_rows_are_updated_and_new_rows_inserted(tmp_path):
    store = build_store(tmp_path, base_registry())
    reg = base_registry()
    reg["patients"][1]["last_contact_date"] = day(400)
    reg["responses"].append(
        {
            "patient_id": "P2",
            "infusion_id": "P2-I1",
            "assessment_date": day(90),
            "method": "marrow_morphology",
            "status": "CR",
        }
    )
    rep = import_registry(write_folder(tmp_path / "v2", reg), store, today=TODAY)
    assert rep.counts["patients"] == {
        "read": 2,
        "inserted": 0,
        "updated": 1,
        "unchanged": 1,
        "missing": 0,
        "deleted": 0,
    }
    assert rep.counts["responses"]["inserted"] == 1
    assert rep.counts["responses"]["unchanged"] == 3
    con = open_store(store)
    lc, imp = con.execute(
        "SELECT last_contact_date, _import_id FROM patients WHERE patient_id = 'P2'"
    ).fetchall()[0]
    con.close()
    assert lc.isoformat() == day(400) and imp == 2


def test_upsert_keeps_and_replace_deletes_absent_rows(tmp_path):
    store = build_store(tmp_path, base_registry())
    reg = base_registry()
    reg["therapies"] = []
    src = write_folder(tmp_path / "v2", reg)
    rep = import_registry(src, store, today=TODAY)
    assert rep.counts["therapies"]["deleted"] == 0 and len(table(store, "therapies")) == 1
    rep = import_registry(src, store, today=TODAY, mode="replace")
    assert rep.counts["therapies"]["deleted"] == 1 and table(store, "therapies") == []


def test_warnings_are_stored_with_the_import(tmp_path):
    reg = base_registry()
    reg["toxicities"][2]["grade"] = "3"  # R060 warning
    store = build_store(tmp_path, reg)
    con = open_store(store)
    rows = con.execute('SELECT import_id, file, "row", rule FROM findings').fetchall()
    astct = con.execute(
        "SELECT grade, astct_grade FROM toxicities WHERE patient_id = 'P2'"
    ).fetchall()
    con.close()
    assert rows == [(1, "toxicities.csv", 3, "R060")]
    assert astct == [(3, 1)]


def test_report_file_json_and_csv(tmp_path):
    reg = base_registry()
    reg["patients"][1]["sex"] = "F"
    src = write_folder(tmp_path / "r", reg)
    import_registry(src, None, today=TODAY, report_path=tmp_path / "f.json")
    import_registry(src, None, today=TODAY, report_path=tmp_path / "f.csv")
    recs = json.loads((tmp_path / "f.json").read_text())
    assert recs[0]["rule"] == "R020" and recs[0]["row"] == 2
    assert "R020" in (tmp_path / "f.csv").read_text()


def _make_v1_store(path):
    """A store as cartlens schema version 1 wrote it: no toxicities.astct_grade, no
    imports.outcome."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('created_at', '2024-01-01')")
    for e in store_mod.ENTITIES:
        cols = [(f.name, f.duckdb_type) for f in e.fields]
        ddl = ", ".join(f'"{n}" {t}' for n, t in cols)
        con.execute(f'CREATE TABLE "{e.name}" ({ddl}, _import_id BIGINT)')
    con.execute(
        "CREATE TABLE imports (import_id BIGINT, started_at TIMESTAMP, finished_at TIMESTAMP, "
        "source_kind VARCHAR, source_path VARCHAR, mode VARCHAR, files VARCHAR, counts VARCHAR, "
        "n_errors BIGINT, n_warnings BIGINT, cartlens_version VARCHAR)"
    )
    con.execute(store_mod.FINDINGS_DDL.format(p=""))
    con.execute(
        "INSERT INTO toxicities (patient_id, infusion_id, toxicity, onset_date, grade, "
        "max_temperature_c, hypotension, oxygen) VALUES ('P1', 'P1-I1', 'CRS', DATE "
        "'2020-01-03', 2, 39.0, 'one_vasopressor', 'none')"
    )
    con.execute(
        "INSERT INTO imports VALUES (1, NULL, NULL, 'csv', 'x', 'upsert', '{}', '{}', 0, 0, "
        "'0.0.1')"
    )
    con.close()


def test_migration_from_v1(tmp_path):
    path = tmp_path / "old.duckdb"
    _make_v1_store(path)
    # read-only open migrates an in-memory copy and leaves the file alone
    before = sha(path)
    con = open_store(path)
    assert con.execute("SELECT astct_grade FROM toxicities").fetchall() == [(3,)]
    con.close()
    assert sha(path) == before
    # writable open migrates the file
    con = open_store(path, read_only=False)
    con.close()
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [
        (str(SCHEMA_VERSION),)
    ]
    assert con.execute("SELECT outcome FROM imports").fetchall() == [("imported",)]
    assert con.execute("SELECT astct_grade FROM toxicities").fetchall() == [(3,)]
    con.close()


def test_import_into_v1_store_migrates_it(tmp_path):
    path = tmp_path / "old.duckdb"
    _make_v1_store(path)
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM toxicities")
    con.close()
    src = write_folder(tmp_path / "src", base_registry())
    rep = import_registry(src, path, today=TODAY)
    assert rep.ok and rep.import_id == 2
    assert store_summary(path)["schema_version"] == SCHEMA_VERSION


def test_newer_store_is_refused(tmp_path):
    path = init_store(tmp_path / "s.duckdb")
    con = duckdb.connect(str(path))
    con.execute(f"UPDATE meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(InputError, match="newer"):
        open_store(path, read_only=False)
    with pytest.raises(InputError, match="does not exist"):
        open_store(tmp_path / "none.duckdb")


def test_export_round_trip_csv_and_excel(tmp_path):
    store = build_store(tmp_path, base_registry())
    out = export_registry(store, tmp_path / "exp")
    rep = import_registry(out, tmp_path / "s2.duckdb", today=TODAY)
    assert rep.ok
    xlsx = export_registry(store, tmp_path / "exp.xlsx")
    rep2 = import_registry(xlsx, tmp_path / "s3.duckdb", today=TODAY)
    assert rep2.ok, rep2.errors.to_string()
    for t in ("patients", "infusions", "responses", "toxicities", "deaths"):
        assert table(tmp_path / "s2.duckdb", t) == table(store, t)
        assert table(tmp_path / "s3.duckdb", t) == table(store, t)


def test_not_a_store_and_concurrent_import_are_input_errors(tmp_path):
    src = write_folder(tmp_path / "src", base_registry())
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"this is not a database" * 100)
    before = sha(junk)
    with pytest.raises(InputError, match="cannot write the store"):
        import_registry(src, junk, today=TODAY)
    assert sha(junk) == before
    store = tmp_path / "s.duckdb"
    (tmp_path / "s.duckdb.lock").write_text(f"{os.getppid()}")  # a live process
    with pytest.raises(InputError, match="another import"):
        import_registry(src, store, today=TODAY)
    assert not store.exists()
    (tmp_path / "s.duckdb.lock").unlink()
    assert import_registry(src, store, today=TODAY).ok
    assert not (tmp_path / "s.duckdb.lock").exists()
