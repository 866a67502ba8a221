"""Site export and pooling: what ``cartlens site-export`` and ``cartlens pool`` do.

A site derives its infusion table in its own store (DuckDB), selects its rows (``where``:
column = value pairs, e.g. ``course_number = 2``) and writes only aggregate files into a
folder it can hand over:

``manifest.json``
    site name, settings (endpoints, group and strata columns, ``k``, the derive settings),
    per table the suppression report.
``counts_<endpoint>.csv``
    ``stratum, grp, time, status, n`` (by
    :func:`cartlens.derive.aggregate.survival_counts_sql`), cells with 0 < n < k withheld
    (:func:`cartlens.stats.pooling.suppress_counts`).
``cox_summary.json`` (with ``covariates``)
    records, covariate sums and event times: the first message of the distributed Cox.
``cox_sums_r<round>.json`` (``answer_cox_round``)
    its risk-set sums at the coordinator's beta for that round.

The coordinator (``pool_counts``, ``cox_round``) reads only those files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cartlens.errors import InputError

#: endpoint -> (time column, status column) of the derived infusion table
ENDPOINTS = {
    "os": ("os_days", "os_event"),
    "pfs": ("pfs_days", "pfs_event"),
    "efs": ("efs_days", "efs_event"),
    "crisk": ("crisk_days", "crisk_event"),
}
MANIFEST = "manifest.json"


def _literal(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int | float):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def _site_rows(store: str | Path, where: dict[str, Any] | None):
    """A read-only connection with the derived table and the view ``site_rows``."""
    from cartlens.derive.aggregate import _ident
    from cartlens.derive.tables import materialize
    from cartlens.ingest.store import open_store

    con = open_store(store)
    materialize(con)
    cond = " AND ".join(f"{_ident(k, 'where')} = {_literal(v)}" for k, v in (where or {}).items())
    con.execute(
        "CREATE OR REPLACE TEMP VIEW site_rows AS SELECT * FROM derived_infusions"
        + (f" WHERE {cond}" if cond else "")
    )
    return con


def _cox_rows(con, endpoint: str, covariates: Sequence[str], strata: str | None):
    t, e = ENDPOINTS[endpoint]
    cols = [t, e, *covariates] + ([strata] if strata else [])
    df = con.execute(
        "SELECT "
        + ", ".join(cols)
        + " FROM site_rows WHERE "
        + " AND ".join(f"{c} IS NOT NULL" for c in cols)
    ).df()
    X = df[list(covariates)].to_numpy(float)
    st = df[strata].astype(str).to_numpy(object) if strata else None
    return df[t].to_numpy(float), df[e].to_numpy(float), X, st


def export_site(
    store: str | Path,
    out: str | Path,
    *,
    site: str,
    k: int = 5,
    where: dict[str, Any] | None = None,
    group: str | None = None,
    strata: str | None = None,
    endpoints: Sequence[str] = ("os", "pfs", "crisk"),
    covariates: Sequence[str] = (),
    cox_endpoint: str = "os",
    round_days: float | None = None,
) -> dict:
    """Write the site's aggregate files into ``out``; return the manifest.

    ``round_days``: count tables on times rounded up to multiples of it (all sites must
    use the same; the pooled estimates are then exactly those of the rounded times)."""
    from cartlens.derive.aggregate import survival_counts_sql
    from cartlens.stats.aggregate import counts_from_frame
    from cartlens.stats.pooling import site_event_summary, suppress_counts

    for ep in [*endpoints, cox_endpoint]:
        if ep not in ENDPOINTS:
            raise InputError(
                f"must be one of {', '.join(ENDPOINTS)}; got {ep!r}", column="--endpoints"
            )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    con = _site_rows(store, where)
    try:
        tables = {}
        for ep in endpoints:
            t, e = ENDPOINTS[ep]
            sql = survival_counts_sql(
                "site_rows", t, e, group=group, strata=strata, time_step=round_days
            )
            counts = counts_from_frame(con.execute(sql).df())
            kept, rep = suppress_counts(counts, k)
            name = f"counts_{ep}.csv"
            pd.DataFrame(
                {
                    "stratum": kept.stratum,
                    "grp": kept.group,
                    "time": kept.time,
                    "status": kept.status,
                    "n": kept.count,
                }
            ).to_csv(out / name, index=False)
            tables[ep] = {"file": name, "cells": int(kept.count.size), **rep.to_dict()}
        if covariates:
            t, e, X, st = _cox_rows(con, cox_endpoint, covariates, strata)
            (out / "cox_summary.json").write_text(
                json.dumps(site_event_summary(t, e, X, strata=st)), encoding="utf-8"
            )
    finally:
        con.close()
    manifest = {
        "site": site,
        "k": int(k),
        "where": where or {},
        "group": group,
        "strata": strata,
        "endpoints": list(endpoints),
        "covariates": list(covariates),
        "cox_endpoint": cox_endpoint,
        "round_days": round_days,
        "tables": tables,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def answer_cox_round(store: str | Path, out: str | Path, request: str | Path) -> Path:
    """Evaluate the coordinator's request (beta, centre, times) on the site's rows; write
    ``cox_sums_r<round>.json`` next to the manifest."""
    from cartlens.stats.aggregate import cox_risk_set_sums
    from cartlens.stats.pooling import sums_to_json

    out = Path(out)
    man = _manifest(out)
    if not man["covariates"]:
        raise InputError("the site was exported without --covariates", column="--covariates")
    req = json.loads(Path(request).read_text(encoding="utf-8"))
    con = _site_rows(store, man["where"])
    try:
        t, e, X, st = _cox_rows(con, man["cox_endpoint"], man["covariates"], man["strata"])
    finally:
        con.close()
    sums = cox_risk_set_sums(
        t, e, X, req["beta"], strata=st, center=req["center"], at=[tuple(a) for a in req["at"]]
    )
    path = out / f"cox_sums_r{int(req['round'])}.json"
    path.write_text(sums_to_json(sums), encoding="utf-8")
    return path


def _manifest(folder: Path) -> dict:
    p = Path(folder) / MANIFEST
    if not p.exists():
        raise InputError(
            f"'{folder}' holds no {MANIFEST} (run cartlens site-export)", column="SITE"
        )
    return json.loads(p.read_text(encoding="utf-8"))


def _same_settings(mans: Sequence[dict]) -> None:
    keys = ("where", "group", "strata", "covariates", "cox_endpoint", "round_days")
    for m in mans[1:]:
        for key in keys:
            if m[key] != mans[0][key]:
                raise InputError(
                    f"site '{m['site']}' has {key} = {m[key]!r}, site '{mans[0]['site']}' "
                    f"{mans[0][key]!r}: sites must export with the same settings",
                    column=key,
                )


def pool_counts(folders: Sequence[str | Path]) -> dict:
    """Pooled KM (by group), log-rank (with strata) and, for ``crisk``, cumulative incidence
    with Gray's test, from the sites' count tables. Returns results per endpoint and the
    sites' suppression reports."""
    from cartlens.stats.aggregate import (
        combine_counts,
        counts_from_frame,
        cuminc_from_counts,
        km_from_counts,
        logrank_from_counts,
    )

    mans = [_manifest(Path(f)) for f in folders]
    if not mans:
        raise InputError("no site folders", column="SITE")
    _same_settings(mans)
    common = [ep for ep in mans[0]["endpoints"] if all(ep in m["tables"] for m in mans)]
    out: dict[str, Any] = {"sites": [m["site"] for m in mans], "endpoints": {}}
    for ep in common:
        tables = [
            counts_from_frame(pd.read_csv(Path(f) / m["tables"][ep]["file"], keep_default_na=True))
            for f, m in zip(folders, mans)
        ]
        pooled = combine_counts(tables)
        withheld = sum(m["tables"][ep]["records_withheld"] for m in mans)
        res: dict[str, Any] = {
            "n": pooled.n,
            "records_withheld": int(withheld),
            "exact": withheld == 0,
        }
        if pooled.n == 0:
            res["note"] = "every cell was withheld (cells below k): nothing to estimate"
        elif ep == "crisk":
            res["cuminc"] = cuminc_from_counts(pooled)
        else:
            event = _binary(pooled)
            res["km"] = km_from_counts(event)
            if len({g for g in event.group}) > 1:
                res["logrank"] = logrank_from_counts(event)
        out["endpoints"][ep] = res
    return out


def _binary(c):
    """Status as 0/1 (any cause an event), as KM and the log-rank test read it."""
    from cartlens.stats.aggregate import SurvivalCounts

    return SurvivalCounts(
        stratum=c.stratum,
        group=c.group,
        time=c.time,
        status=(np.asarray(c.status) != 0).astype(np.int64),
        count=c.count,
    )


def cox_round(folders: Sequence[str | Path], state: str | Path, *, ties: str = "efron") -> dict:
    """One coordinator step of the distributed Cox over files.

    Without ``state``: start from the sites' ``cox_summary.json`` and write the state and
    ``cox_request_r0.json``. With it: read every site's ``cox_sums_r<round>.json``, take the
    Newton step, write the next request (or, when done, ``cox_result.json``) beside the
    state. Returns ``{"done", "round", "request" | "result"}``.
    """
    from cartlens.stats.pooling import CoxRounds, sums_from_json

    state = Path(state)
    mans = [_manifest(Path(f)) for f in folders]
    _same_settings(mans)
    if not state.exists():
        summaries = []
        for f in folders:
            p = Path(f) / "cox_summary.json"
            if not p.exists():
                raise InputError(
                    f"'{f}' has no cox_summary.json (export with --covariates)", column="SITE"
                )
            summaries.append(json.loads(p.read_text(encoding="utf-8")))
        rounds = CoxRounds.start(summaries, ties=ties, terms=mans[0]["covariates"])
    else:
        rounds = CoxRounds.from_json(state.read_text(encoding="utf-8"))
        r = rounds.round
        replies = []
        for f in folders:
            p = Path(f) / f"cox_sums_r{r}.json"
            if not p.exists():
                raise InputError(f"site folder '{f}' has no reply for round {r}", column="SITE")
            replies.append(sums_from_json(p.read_text(encoding="utf-8")))
        rounds.update(replies)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(rounds.to_json(), encoding="utf-8")
    if rounds.done:
        res = rounds.result()
        (state.parent / "cox_result.json").write_text(
            json.dumps(res.to_dict(), indent=1), encoding="utf-8"
        )
        return {"done": True, "round": rounds.round, "result": res}
    req = rounds.request()
    path = state.parent / f"cox_request_r{rounds.round}.json"
    path.write_text(json.dumps(req), encoding="utf-8")
    return {"done": False, "round": rounds.round, "request": path}
