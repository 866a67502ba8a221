"""``cartlens site-export`` / ``cartlens pool`` with three simulated sites (synthetic registries).

With suppression off the pooled results equal the single-store analysis of the sites'
concatenated derived rows (1e-8); with ``--k`` no released cell is below k.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cartlens.cli.apps import app
from cartlens.cli.main import _load_commands

_load_commands()
RUNNER = CliRunner()
TOL = 1e-8
COV = "age_at_infusion,course_number"


def cli(*args: str) -> dict:
    res = RUNNER.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    from cartlens.derive.tables import infusion_table
    from cartlens.ingest.store import import_registry
    from cartlens.ingest.synthetic import write_registry

    root = tmp_path_factory.mktemp("sites")
    stores, rows = [], []
    for i, n in enumerate((160, 110, 70)):
        write_registry(root / f"csv{i}", n, 20 + i)
        store = root / f"site{i}.duckdb"
        assert import_registry(root / f"csv{i}", store).ok
        stores.append(store)
        rows.append(infusion_table(str(store)))
    return root, stores, pd.concat(rows, ignore_index=True)


def _export(root, stores, k, tag, *extra):
    dirs = []
    for i, store in enumerate(stores):
        d = root / f"{tag}{i}"
        cli(
            "site-export", "--registry", str(store), "--out", str(d), "--site", f"s{i}",
            "--k", str(k), "--group", "sex", "--covariates", COV, *extra,
        )  # fmt: skip
        dirs.append(d)
    return dirs


def test_pooled_counts_equal_the_concatenated_rows(sites):
    from cartlens.stats.competing import cuminc
    from cartlens.stats.km import kaplan_meier
    from cartlens.stats.logrank import logrank_test

    root, stores, rows = sites
    dirs = _export(root, stores, 0, "open")
    p = cli("pool", *map(str, dirs))
    assert p["sites"] == ["s0", "s1", "s2"]
    os_ = p["endpoints"]["os"]
    assert os_["exact"] and os_["records_withheld"] == 0 and os_["n"] == len(rows)
    ref = kaplan_meier(rows.os_days, rows.os_event, group=rows.sex)
    for c, r in zip(os_["km"]["curves"], ref.curves):
        assert c["group"] == r.group and c["n"] == r.n
        np.testing.assert_allclose(c["surv"], r.surv, rtol=TOL)
        np.testing.assert_allclose(c["std_err"], r.std_err, rtol=TOL)
    lr = logrank_test(rows.pfs_days, rows.pfs_event, rows.sex)
    np.testing.assert_allclose(p["endpoints"]["pfs"]["logrank"]["chisq"], lr.chisq, rtol=TOL)
    ci = cuminc(rows.crisk_days, rows.crisk_event, group=rows.sex)
    got = p["endpoints"]["crisk"]["cuminc"]
    for c, r in zip(got["curves"], ci.curves):
        np.testing.assert_allclose(c["estimate"], r.estimate, rtol=TOL)
    for t, r in zip(got["gray_test"], ci.gray_test):
        np.testing.assert_allclose(t["stat"], r.stat, rtol=TOL)


def test_cox_over_files_equals_the_concatenated_fit(sites):
    from cartlens.stats.cox import coxph

    root, stores, rows = sites
    dirs = _export(root, stores, 0, "cox")
    state = root / "coordinator" / "state.json"
    for _ in range(30):
        r = cli("pool", *map(str, dirs), "--cox-state", str(state))
        if r["done"]:
            break
        for store, d in zip(stores, dirs):
            cli("site-export", "--registry", str(store), "--out", str(d), "--answer", r["request"])
    assert r["done"]
    cols = COV.split(",")
    full = rows.dropna(subset=["os_days", "os_event", *cols])
    ref = coxph(full.os_days, full.os_event, full[cols].to_numpy(float), concordance=False)
    np.testing.assert_allclose(r["cox"]["coef"], ref.coef, rtol=TOL)
    np.testing.assert_allclose(r["cox"]["se"], ref.se, rtol=TOL)
    np.testing.assert_allclose(r["cox"]["loglik"], ref.loglik, rtol=TOL)
    assert r["cox"]["terms"] == cols and r["cox"]["converged"]


def test_suppression_withholds_small_cells_and_pool_says_so(sites):
    root, stores, rows = sites
    released = {}
    for tag, extra in (("k5d", ()), ("k5m", ("--round-days", "30"))):
        dirs = _export(root, stores, 5, tag, *extra)
        withheld = 0
        for d in dirs:
            man = json.loads((d / "manifest.json").read_text())
            for t in man["tables"].values():
                tab = pd.read_csv(d / t["file"])
                assert (tab["n"] >= 5).all() and t["cells"] == len(tab)
                assert t["records_kept"] == tab["n"].sum()
                withheld += t["records_withheld"]
        p = cli("pool", *map(str, dirs))
        os_ = p["endpoints"]["os"]
        assert os_["n"] + os_["records_withheld"] == len(rows)
        assert os_["exact"] == (os_["records_withheld"] == 0)
        assert withheld > 0  # these small sites have cells below 5 at either resolution
        assert "km" in os_ or "note" in os_
        released[tag] = os_["n"]
    assert released["k5m"] > released["k5d"]  # coarser cells: fewer below k


def test_sites_with_different_settings_are_refused(sites):
    root, stores, _rows = sites
    a = root / "diff_a"
    b = root / "diff_b"
    cli("site-export", "--registry", str(stores[0]), "--out", str(a), "--group", "sex")
    cli("site-export", "--registry", str(stores[1]), "--out", str(b))
    res = RUNNER.invoke(app, ["pool", str(a), str(b)])
    assert res.exit_code == 2 and "same settings" in res.output
