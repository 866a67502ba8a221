"""Crash recovery without a person: kill -9 at several moments of a large import, stale locks,
permission and file-size ("disk full") errors."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cartlens.errors import InputError
from cartlens.ingest import import_registry, open_store
from cartlens.ingest.synthetic import write_registry
from registry_factory import TODAY, base_registry, build_store, sha, write_folder

SRC = Path(__file__).parents[2] / "src"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".lock" in p.name or "importing" in p.name)


def counts(store: Path) -> dict:
    con = open_store(store)
    try:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("patients", "infusions", "responses", "toxicities")
        }
    finally:
        con.close()


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


CHILD = """
import datetime as dt, os, signal, sys
sys.path.insert(0, {src!r})
from cartlens.ingest import import_registry, store
target = {target!r}
def kill(step):
    if step == target:
        os.kill(os.getpid(), signal.SIGKILL)
store._step_hook = kill
store._after_entity_hook = lambda name: kill("entity:" + name)
import_registry({source!r}, {store!r}, today=dt.date(2026, 1, 1))
sys.exit(3)  # the kill did not happen
"""


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """A 1000-patient registry, a 1600-patient one that extends it, and the row counts of the
    latter imported alone."""
    root = tmp_path_factory.mktemp("large")
    write_registry(root / "v1", 1000, seed=1)
    write_registry(root / "more", 600, seed=2)
    # v2: v1 and 600 more patients (ids P... renamed Q...)
    (root / "v2").mkdir()
    for f in (root / "v1").glob("*.csv"):
        old = pd.read_csv(f, dtype=str, keep_default_na=False)
        new = pd.read_csv(root / "more" / f.name, dtype=str, keep_default_na=False)
        for c in ("patient_id", "infusion_id"):
            if c in new.columns:
                new[c] = "Q" + new[c].str[1:]
        pd.concat([old, new]).to_csv(root / "v2" / f.name, index=False)
    reference = root / "reference.duckdb"
    assert import_registry(root / "v2", reference, today=TODAY.replace(year=2026)).ok
    return root, counts(reference)


@pytest.mark.parametrize(
    "moment",
    [
        "locked",
        "copied",
        "entity:infusions",
        "entity:toxicities",
        "written",
        "checked",
        "committed",
        "checkpointed",
        "replaced",
    ],
)
def test_kill_9_at_any_moment_then_next_import_succeeds(large, tmp_path, moment):
    large, expected = large
    store = tmp_path / "store.duckdb"
    first = import_registry(large / "v1", store, today=TODAY.replace(year=2026))
    assert first.ok, first.errors.head().to_string()
    before = sha(store)
    script = CHILD.format(src=str(SRC), target=moment, source=str(large / "v2"), store=str(store))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if moment == "replaced":
        assert sha(store) != before  # the import had finished; only the lock is left
        assert leftovers(tmp_path) == ["store.duckdb.lock"]
    else:
        assert sha(store) == before  # the store is as it was
        assert "store.duckdb.lock" in leftovers(tmp_path)
    # no person needed: the next import clears the dead process's lock and temporary copy
    rep = import_registry(large / "v2", store, today=TODAY.replace(year=2026))
    assert rep.ok, rep.errors.head().to_string()
    assert leftovers(tmp_path) == []
    assert counts(store) == expected and expected["patients"] == 1600


def test_stale_lock_and_temporary_copy_are_cleared(tmp_path):
    store = build_store(tmp_path, base_registry())
    pid = dead_pid()
    (tmp_path / "store.duckdb.lock").write_text(f"{pid} {os.uname().nodename}\n")
    (tmp_path / f".store.duckdb.importing-{pid}").write_bytes(b"partial")
    (tmp_path / f".store.duckdb.importing-{pid}.wal").write_bytes(b"partial")
    reg = base_registry()
    reg["patients"][1]["last_contact_date"] = "2021-02-02"
    rep = import_registry(write_folder(tmp_path / "v2", reg), store, today=TODAY)
    assert rep.ok and rep.counts["patients"]["updated"] == 1
    assert leftovers(tmp_path) == []


def test_live_lock_is_respected_and_named(tmp_path):
    store = build_store(tmp_path, base_registry())
    before = sha(store)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "store.duckdb.lock").write_text(f"{sleeper.pid} {os.uname().nodename}\n")
        with pytest.raises(InputError, match=f"process {sleeper.pid}"):
            import_registry(tmp_path / "src", store, today=TODAY)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sha(store) == before
    # the process has gone: the lock is now stale and cleared
    rep = import_registry(tmp_path / "src", store, today=TODAY)
    assert rep.ok and leftovers(tmp_path) == []


def _run_cli_limited(args: list[str], *, fsize: int | None = None):
    """Run ``cartlens`` in a child, optionally with a file-size limit (writes beyond it fail
    like writes to a full disk)."""

    def pre() -> None:
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        [sys.executable, "-m", "cartlens.cli.main", *args],
        capture_output=True,
        text=True,
        preexec_fn=pre,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )


def test_full_disk_names_the_path_and_leaves_no_partial_file(tmp_path):
    store = build_store(tmp_path, base_registry())
    before = sha(store)
    reg = base_registry()
    reg["patients"][1]["last_contact_date"] = "2021-02-02"
    src = write_folder(tmp_path / "v2", reg)
    # writes beyond half the store's size fail (EFBIG, as ENOSPC would on a full disk)
    proc = _run_cli_limited(
        [
            "registry",
            "import",
            str(src),
            "--store",
            str(store),
            "--report",
            str(tmp_path / "r.json"),
        ],
        fsize=store.stat().st_size // 2,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(tmp_path) in proc.stderr and "error:" in proc.stderr
    assert sha(store) == before
    assert leftovers(tmp_path) == []
    print(proc.stderr)


def test_read_only_folder_names_the_path(tmp_path):
    store = build_store(tmp_path, base_registry())
    before = sha(store)
    if os.geteuid() == 0:  # root ignores the mode bits: make the folder immutable instead
        lock, unlock = ["chattr", "+i", str(tmp_path)], ["chattr", "-i", str(tmp_path)]
    else:
        lock, unlock = ["chmod", "555", str(tmp_path)], ["chmod", "755", str(tmp_path)]
    if subprocess.run(lock, capture_output=True).returncode != 0:
        pytest.skip("cannot make a folder read-only here (root without chattr)")
    try:
        proc = _run_cli_limited(
            ["registry", "import", str(tmp_path / "src"), "--store", str(store)]
        )
    finally:
        subprocess.run(unlock, check=True)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    low = proc.stderr.lower()
    assert str(tmp_path) in proc.stderr and ("not permitted" in low or "denied" in low)
    assert sha(store) == before and leftovers(tmp_path) == []
    print(proc.stderr)
