"""``cartlens site-export`` and ``cartlens pool``: many centres without sharing patient rows.

A site runs ``site-export`` on its own store and hands over the folder (aggregate tables
only, cells below ``--k`` withheld); the coordinator runs ``pool`` on the folders. Cox by
distributed Newton over files: ``pool --cox-state S`` writes a request, every site answers
it with ``site-export --answer REQUEST`` into its folder, and ``pool --cox-state S`` again
takes the step, until it prints the fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cartlens.cli.apps import app
from cartlens.cli.common import print_table, run_command


def _where(pairs: list[str]) -> dict:
    out = {}
    for p in pairs:
        if "=" not in p:
            from cartlens.errors import InputError

            raise InputError(f"must be COLUMN=VALUE; got {p!r}", column="--where")
        k, v = (x.strip() for x in p.split("=", 1))
        try:
            out[k] = int(v)
        except ValueError:
            out[k] = {"true": True, "false": False}.get(v.lower(), v)
    return out


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


@app.command("site-export")
def site_export(
    registry: Annotated[Path, typer.Option("--registry", help="The site's cartlens store.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the aggregates into.")],
    site: Annotated[str, typer.Option("--site", help="Site name.")] = "site",
    k: Annotated[
        int, typer.Option("--k", help="Withhold cells of fewer than k records (0: none).")
    ] = 5,
    where: Annotated[
        list[str], typer.Option("--where", help="COLUMN=VALUE row filter (repeatable).")
    ] = [],  # noqa: B006 - typer needs a literal default
    group: Annotated[str | None, typer.Option("--group", help="Group column.")] = None,
    strata: Annotated[str | None, typer.Option("--strata", help="Strata column.")] = None,
    endpoints: Annotated[
        str, typer.Option("--endpoints", help="os,pfs,efs,crisk")
    ] = "os,pfs,crisk",
    covariates: Annotated[
        str, typer.Option("--covariates", help="Cox covariates (comma-separated).")
    ] = "",
    cox_endpoint: Annotated[str, typer.Option("--cox-endpoint")] = "os",
    round_days: Annotated[
        float | None,
        typer.Option("--round-days", help="Round times up to multiples of this (count tables)."),
    ] = None,
    answer: Annotated[
        Path | None, typer.Option("--answer", help="A coordinator's Cox request to answer.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Write a site's aggregate tables (no patient rows) for ``cartlens pool``."""
    from cartlens.study.sites import answer_cox_round, export_site

    def compute() -> dict:
        if answer is not None:
            return {"reply": str(answer_cox_round(registry, out, answer))}
        return export_site(
            registry,
            out,
            site=site,
            k=k,
            where=_where(where),
            group=group,
            strata=strata,
            endpoints=_csv(endpoints),
            covariates=_csv(covariates),
            cox_endpoint=cox_endpoint,
            round_days=round_days,
        )

    def render(p: dict) -> None:
        if "reply" in p:
            print(f"wrote {p['reply']}")
            return
        print_table(
            f"site {p['site']}: aggregates in {out} (k = {p['k']})",
            ["table", "cells", "records kept", "records withheld"],
            [
                (t["file"], t["cells"], t["records_kept"], t["records_withheld"])
                for t in p["tables"].values()
            ],
        )

    run_command(compute, as_json, render)


@app.command("pool")
def pool(
    sites: Annotated[list[Path], typer.Argument(help="Site folders from site-export.")],
    cox_state: Annotated[
        Path | None,
        typer.Option("--cox-state", help="Run one distributed-Cox round with this state file."),
    ] = None,
    ties: Annotated[str, typer.Option("--ties", help="efron or breslow")] = "efron",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Pool sites' aggregates: KM, log-rank and CIF from counts; Cox by distributed Newton."""
    from cartlens.study.sites import cox_round, pool_counts

    def compute() -> dict:
        if cox_state is not None:
            r = cox_round(sites, cox_state, ties=ties)
            if r["done"]:
                return {"cox": r["result"].to_dict(), "round": r["round"], "done": True}
            return {"request": str(r["request"]), "round": r["round"], "done": False}
        res = pool_counts(sites)
        out = {"sites": res["sites"], "endpoints": {}}
        for ep, d in res["endpoints"].items():
            out["endpoints"][ep] = {
                k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in d.items()
            }
        return out

    def render(p: dict) -> None:
        if "cox" in p:
            c = p["cox"]
            print_table(
                f"pooled Cox ({c['ties']}, {c['iterations']} rounds, n = {c['n']})",
                ["term", "coef", "HR", "lower", "upper", "p"],
                list(zip(c["terms"], c["coef"], c["hr"], c["lower"], c["upper"], c["p"])),
            )
            return
        if "request" in p:
            print(f"round {p['round']}: sites answer {p['request']} (site-export --answer)")
            return
        rows = []
        for ep, d in p["endpoints"].items():
            for c in (d.get("km") or {}).get("curves", []):
                rows.append((ep, c["group"], c["n"], c["events"], c["median"], d["exact"]))
            if "logrank" in d:
                rows.append((ep, "log-rank P", None, None, d["logrank"]["p"], d["exact"]))
            for t in (d.get("cuminc") or {}).get("gray_test", []):
                rows.append((ep, f"Gray cause {t['cause']} P", None, None, t["p"], d["exact"]))
        print_table(
            f"pooled over {len(p['sites'])} sites",
            ["endpoint", "group", "n", "events", "median / P", "exact"],
            rows,
        )

    run_command(compute, as_json, render)
