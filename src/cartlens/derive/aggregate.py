"""Aggregate queries: the sufficient statistics of the survival estimators, made in SQL.

Each builder returns one DuckDB-dialect ``SELECT`` over a table or view of records (for
example the derived infusion table); like :mod:`cartlens.derive.sql` it transpiles to Spark
SQL with sqlglot, so the aggregation runs where the data are (:mod:`cartlens.derive.engines`).
Only the aggregates leave the engine; :mod:`cartlens.stats.aggregate` estimates from them.

``survival_counts_sql``
    records per (stratum, group, time, status): Kaplan-Meier, log-rank (strata,
    Fleming-Harrington), cumulative incidence and Gray's test.
``cox_sums_sql``
    per (stratum, event time), at a given beta, the deaths' count, weight and sum of w x,
    and the sums of r = w exp(x'beta), r x, r x x' over the risk set (reverse cumulative
    window sums) and over the deaths: one query per Newton step of a Cox fit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cartlens.errors import InputError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _ident(name: str, what: str) -> str:
    if not isinstance(name, str) or not _IDENT.match(name):
        raise InputError(f"must be a plain column or table name; got {name!r}", column=what)
    return name


def _num(v: float) -> str:
    """A float literal that reads back exactly (repr round-trips IEEE doubles)."""
    x = float(v)
    if x != x or x in (float("inf"), float("-inf")):
        raise InputError(f"must be finite; got {v!r}", column="beta")
    return f"CAST({x!r} AS DOUBLE)"


def survival_counts_sql(
    source: str,
    time: str,
    status: str,
    *,
    group: str | None = None,
    strata: str | None = None,
    time_step: float | None = None,
) -> str:
    """``stratum, grp, time, status, n``: records per key (rows with a null time or status
    are left out), ordered by the key. ``time_step``: times rounded up to a multiple of it
    first (coarser cells, fewer of them small; the estimates are those of the rounded
    times)."""
    src = _ident(source, "source")
    t, e = _ident(time, "time"), _ident(status, "status")
    g = f"CAST({_ident(group, 'group')} AS VARCHAR)" if group else "CAST(NULL AS VARCHAR)"
    tt = f"CAST({t} AS DOUBLE)"
    if time_step is not None:
        if not float(time_step) > 0:
            raise InputError(f"must be > 0; got {time_step!r}", column="time_step")
        tt = f"CEIL({tt} / {_num(time_step)}) * {_num(time_step)}"
    s = f"CAST({_ident(strata, 'strata')} AS VARCHAR)" if strata else "CAST(NULL AS VARCHAR)"
    return (
        f"SELECT {s} AS stratum, {g} AS grp, {tt} AS time, "
        f"CAST({e} AS BIGINT) AS status, COUNT(*) AS n "
        f"FROM {src} WHERE {t} IS NOT NULL AND {e} IS NOT NULL "
        f"GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
    )


def cox_sums_sql(
    source: str,
    time: str,
    event: str,
    covariates: Sequence[str],
    beta: Sequence[float],
    center: Sequence[float],
    *,
    strata: str | None = None,
    weights: str | None = None,
) -> str:
    """Risk-set sums at ``beta`` with covariates centred at ``center``.

    Columns ``stratum, time, ndead, deadwt, xd_i, r0, r1_i, r2_i_j, d0, d1_i, d2_i_j``
    (i <= j), one row per (stratum, event time), ordered; rows with a null time, event or
    covariate are left out (as a complete-case model frame).
    """
    src = _ident(source, "source")
    t, e = _ident(time, "time"), _ident(event, "event")
    xs = [_ident(c, "covariates") for c in covariates]
    p = len(xs)
    if len(beta) != p or len(center) != p:
        raise InputError(f"needs {p} values, one per covariate", column="beta")
    s = f"CAST({_ident(strata, 'strata')} AS VARCHAR)" if strata else "CAST(NULL AS VARCHAR)"
    w = f"CAST({_ident(weights, 'weights')} AS DOUBLE)" if weights else "CAST(1.0 AS DOUBLE)"
    notnull = " AND ".join(f"{c} IS NOT NULL" for c in [t, e, *xs])
    centred = ", ".join(
        f"CAST({c} AS DOUBLE) - {_num(m)} AS x{i}" for i, (c, m) in enumerate(zip(xs, center))
    )
    lin = " + ".join(f"{_num(b)} * x{i}" for i, b in enumerate(beta)) or "0.0"
    pairs = [(i, j) for i in range(p) for j in range(i, p)]
    per_time = [
        "SUM(d) AS ndead",
        "SUM(w * d) AS deadwt",
        *[f"SUM(w * d * x{i}) AS xd_{i}" for i in range(p)],
        "SUM(r) AS s0",
        *[f"SUM(r * x{i}) AS s1_{i}" for i in range(p)],
        *[f"SUM(r * x{i} * x{j}) AS s2_{i}_{j}" for i, j in pairs],
        "SUM(r * d) AS d0",
        *[f"SUM(r * d * x{i}) AS d1_{i}" for i in range(p)],
        *[f"SUM(r * d * x{i} * x{j}) AS d2_{i}_{j}" for i, j in pairs],
    ]
    over = (
        "OVER (PARTITION BY stratum ORDER BY time DESC "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )
    cum = [
        f"SUM(s0) {over} AS r0",
        *[f"SUM(s1_{i}) {over} AS r1_{i}" for i in range(p)],
        *[f"SUM(s2_{i}_{j}) {over} AS r2_{i}_{j}" for i, j in pairs],
    ]
    out = [
        "stratum",
        "time",
        "ndead",
        "deadwt",
        *[f"xd_{i}" for i in range(p)],
        "r0",
        *[f"r1_{i}" for i in range(p)],
        *[f"r2_{i}_{j}" for i, j in pairs],
        "d0",
        *[f"d1_{i}" for i in range(p)],
        *[f"d2_{i}_{j}" for i, j in pairs],
    ]
    comma = ", "
    return (
        f"WITH base AS (SELECT {s} AS stratum, CAST({t} AS DOUBLE) AS time, "
        f"CAST({e} AS DOUBLE) AS d, {w} AS w"
        + (f", {centred}" if p else "")
        + f" FROM {src} WHERE {notnull}), "
        f"rr AS (SELECT *, w * EXP({lin}) AS r FROM base), "
        f"g AS (SELECT stratum, time, {comma.join(per_time)} FROM rr GROUP BY stratum, time), "
        f"c AS (SELECT *, {comma.join(cum)} FROM g) "
        f"SELECT {comma.join(out)} FROM c WHERE ndead > 0 ORDER BY stratum, time"
    )


def covariate_means_sql(source: str, time: str, event: str, covariates: Sequence[str]) -> str:
    """``n, events, m_i``: complete-case record count, deaths and covariate means (the centre
    of :func:`cox_sums_sql`)."""
    src = _ident(source, "source")
    t, e = _ident(time, "time"), _ident(event, "event")
    xs = [_ident(c, "covariates") for c in covariates]
    notnull = " AND ".join(f"{c} IS NOT NULL" for c in [t, e, *xs])
    means = "".join(f", AVG(CAST({c} AS DOUBLE)) AS m_{i}" for i, c in enumerate(xs))
    return (
        f"SELECT COUNT(*) AS n, SUM(CAST({e} AS BIGINT)) AS events{means} "
        f"FROM {src} WHERE {notnull}"
    )
