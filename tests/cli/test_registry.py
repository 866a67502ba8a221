"""``cartlens registry ...`` end to end: exit codes, JSON findings, report files."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cartlens.cli.apps import app
from cartlens.cli.main import _load_commands
from registry_factory import base_registry, write_folder

_load_commands()
RUNNER = CliRunner()


def run(*args: str):
    return RUNNER.invoke(app, ["registry", *[str(a) for a in args]])


def test_synthetic_import_summary_export_derive(tmp_path):
    syn, store = tmp_path / "syn", tmp_path / "s.duckdb"
    res = run("synthetic", syn, "--patients", "30", "--seed", "3", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["rows"]["patients"] == 30
    res = run("import", syn, "--store", store, "--json")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["ok"] and payload["outcome"] == "imported" and payload["n_errors"] == 0
    assert (tmp_path / "s.duckdb.findings.csv").exists()
    res = run("import", syn, "--store", store, "--json")
    assert json.loads(res.stdout)["outcome"] == "unchanged"
    res = run("summary", "--store", store, "--json")
    s = json.loads(res.stdout)
    assert s["counts"]["patients"] == 30 and len(s["imports"]) == 2
    res = run("export", tmp_path / "exp", "--store", store)
    assert res.exit_code == 0 and (tmp_path / "exp" / "patients.csv").exists()
    (tmp_path / "set.json").write_text(json.dumps({"censor_at_hsct": True}))
    res = run(
        "derive",
        tmp_path / "d.csv",
        "--store",
        store,
        "--settings",
        tmp_path / "set.json",
        "--intervals",
        tmp_path / "iv.csv",
        "--followup",
        tmp_path / "fu.csv",
        "--json",
    )
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["settings"]["censor_at_hsct"] is True and d["rows"] >= 30
    assert (tmp_path / "iv.csv").exists()
    assert d["followup_rows"] == d["rows"] and "ttnt_event" in (tmp_path / "fu.csv").read_text()


def test_errors_exit_1_with_json_findings_and_report(tmp_path):
    reg = base_registry()
    reg["patients"][1]["sex"] = "F"
    src = write_folder(tmp_path / "bad", reg)
    res = run("validate", src, "--json", "--report", tmp_path / "f.json")
    assert res.exit_code == 1
    payload = json.loads(res.stdout)
    f = payload["findings"][0]
    assert (f["file"], f["row"], f["column"], f["value"], f["rule"], f["severity"]) == (
        "patients.csv",
        2,
        "sex",
        "F",
        "R020",
        "error",
    )
    assert json.loads((tmp_path / "f.json").read_text())[0]["rule"] == "R020"
    res = run("import", src, "--store", tmp_path / "s.duckdb")
    assert res.exit_code == 1 and "R020" in res.stdout
    assert not (tmp_path / "s.duckdb").exists()


def test_unusable_input_exit_2(tmp_path):
    res = run("import", tmp_path / "missing", "--store", tmp_path / "s.duckdb")
    assert res.exit_code == 2 and "does not exist" in res.output
    res = run("summary", "--store", tmp_path / "none.duckdb")
    assert res.exit_code == 2
    res = run("synthetic", tmp_path / "x", "--patients", "0")
    assert res.exit_code == 2


def test_init_creates_store(tmp_path):
    res = run("init", "--store", tmp_path / "new.duckdb", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["schema_version"] >= 2
    res = run("summary", "--store", tmp_path / "new.duckdb", "--json")
    assert json.loads(res.stdout)["counts"]["patients"] == 0
