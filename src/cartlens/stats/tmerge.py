"""Counting-process (start, stop] data from one row per subject plus dated events.

In the spirit of ``survival::tmerge``: each subject is followed from ``entry`` (default 0) to
``futime``; dated exposures split the follow-up into (start, stop] intervals.

* ``tdc``: a time-dependent covariate that switches at a time (0 before, 1 from then on, or
  the given value): ``{"transplant": "tx_time"}``. It applies to every interval that starts
  at or after the switch time, so a switch at the entry time (or before it) makes the whole
  follow-up exposed, as tmerge does.
* ``cumtdc``: a cumulative count (or cumulative sum of values) of dated events, e.g. number of
  re-infusions so far.
* ``events``: dated events marked on the interval that ends at their time (tmerge's
  ``event()``), e.g. relapse as a recurrent outcome.
* ``status``: the outcome at ``futime`` (0 = censored, else a cause code) is put on the last
  interval.

A dated item is either a column of ``subjects`` (one time per subject, missing = never) or a
long :class:`pandas.DataFrame` with the id column, a ``time`` column and optionally a
``value`` column (several rows per subject allowed).

What was done is counted per item like tmerge's ``tcount`` (``early``, ``leading``,
``within``, ``trailing``, ``late``, ``tied``, ``missing``). Unlike tmerge, inconsistent input is
refused with an :class:`InputError` naming the subject and field: a dated exposure or event
after ``futime`` (after death or last follow-up; tmerge counts these as ``late`` and drops
them), an ``events`` item at or before entry (tmerge: ``leading``/``early``, dropped),
``entry >= futime``, duplicated subjects, dated rows for unknown subjects (tmerge:
``missid``) and unknown cause codes. tmerge's ``gap`` and ``boundary`` counts do not arise
because each subject has a single follow-up interval on input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cartlens.errors import InputError
from cartlens.results import Result, json_safe

COUNT_KEYS = ("early", "leading", "within", "trailing", "late", "tied", "missing")


@dataclasses.dataclass(frozen=True)
class TmergeResult(Result):
    """Counting-process data and a report of what was done.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per (start, stop] interval, sorted by id and start.
    tcount : dict
        Per dated item, the counts ``early`` (before entry; applied from entry), ``leading``
        (at entry), ``within`` (inside follow-up: split there), ``trailing`` (at futime; a tdc
        there has no effect), ``late`` (always 0: refused), ``tied`` (same subject and time
        as another row of the item) and ``missing`` (no time: never happened).
    """

    data: pd.DataFrame
    tcount: dict
    n_subjects: int
    n_intervals: int
    settings: dict

    def to_dict(self) -> dict:
        d = {f.name: json_safe(getattr(self, f.name)) for f in dataclasses.fields(self)}
        d["data"] = json_safe(self.data.to_dict(orient="list"))
        return d


def _s(v: Any) -> Any:
    """A subject id as a plain Python value (for messages)."""
    return v.item() if hasattr(v, "item") else v


def _dated(
    spec: str | pd.DataFrame,
    name: str,
    subjects: pd.DataFrame,
    id: str,
) -> pd.DataFrame:
    """Normalise a dated item to a frame with columns id, time, value (value may be NaN)."""
    if isinstance(spec, str):
        if spec not in subjects.columns:
            raise InputError(
                f"column '{spec}' (for '{name}') is not in the subject data", column=spec
            )
        t = pd.to_numeric(subjects[spec], errors="coerce")
        bad = t.isna() & subjects[spec].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"subject {_s(subjects[id].iloc[i])!r}: time "
                f"{_s(subjects[spec].iloc[i])!r} is not a number",
                column=spec,
            )
        return pd.DataFrame(
            {"id": subjects[id].to_numpy(), "time": t.to_numpy(float), "value": np.nan}
        )
    if isinstance(spec, pd.DataFrame):
        for c in (id, "time"):
            if c not in spec.columns:
                raise InputError(f"the dated table for '{name}' needs a column '{c}'", column=name)
        t = pd.to_numeric(spec["time"], errors="coerce")
        if (t.isna() & spec["time"].notna()).any():
            raise InputError(f"the dated table for '{name}' has a non-numeric time", column=name)
        v = (
            pd.to_numeric(spec["value"], errors="coerce").to_numpy(float)
            if "value" in spec.columns
            else np.full(len(spec), np.nan)
        )
        return pd.DataFrame({"id": spec[id].to_numpy(), "time": t.to_numpy(float), "value": v})
    raise InputError("must be a column name or a DataFrame (id, time[, value])", column=name)


def validate_intervals(id: Any, start: Any, stop: Any) -> None:
    """Check (start, stop] rows: ``start < stop`` and no overlapping intervals within a subject.

    Raises
    ------
    InputError
        Naming the subject and field (``start``/``stop``) of the first offending row.
    """
    ids = np.asarray(id)
    s = np.asarray(start, dtype=float)
    e = np.asarray(stop, dtype=float)
    if not (ids.shape == s.shape == e.shape):
        raise InputError("id, start and stop must have the same length", column="start")
    for name, a in (("start", s), ("stop", e)):
        if np.isnan(a).any():
            i = int(np.flatnonzero(np.isnan(a))[0])
            raise InputError(f"subject {_s(ids[i])!r}: missing value (row {i + 1})", column=name)
    bad = s >= e
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"subject {_s(ids[i])!r}: start {s[i]:g} is not before stop {e[i]:g} (row {i + 1})",
            column="start",
        )
    order = np.lexsort((s, ids))
    same = ids[order][1:] == ids[order][:-1]
    overlap = same & (s[order][1:] < e[order][:-1])
    if overlap.any():
        k = int(np.flatnonzero(overlap)[0])
        i, j = order[k], order[k + 1]
        raise InputError(
            f"subject {_s(ids[j])!r}: interval ({s[j]:g}, {e[j]:g}] (row {j + 1}) overlaps "
            f"({s[i]:g}, {e[i]:g}] (row {i + 1})",
            column="start",
        )


def tmerge(
    subjects: pd.DataFrame,
    *,
    id: str,
    futime: str,
    status: str | None = None,
    entry: str | float = 0.0,
    tdc: Mapping[str, str | pd.DataFrame] | None = None,
    cumtdc: Mapping[str, str | pd.DataFrame] | None = None,
    events: Mapping[str, str | pd.DataFrame] | None = None,
    causes: Sequence[Any] | None = None,
    tdc_init: float = 0.0,
    start_name: str = "tstart",
    stop_name: str = "tstop",
    event_name: str | None = None,
    keep: Sequence[str] | None = None,
) -> TmergeResult:
    """Build (start, stop] counting-process rows from one row per subject and dated events.

    Parameters
    ----------
    subjects : DataFrame
        One row per subject.
    id : str
        Subject identifier column (also the id column of dated tables).
    futime : str
        Column with the end of follow-up (death, event or last contact).
    status : str, optional
        Column with the outcome at ``futime``: 0 = censored, else a cause code; written to
        the last interval (as ``event(futime, status)``), named ``event_name`` (default: the
        status column's name).
    entry : str or float
        Start of follow-up: a column name or one number for all (default 0).
    tdc, cumtdc, events : mapping name -> column or DataFrame
        Dated items, see the module docstring.
    causes : sequence, optional
        Allowed non-zero status codes (default: any).
    tdc_init : float
        Value of a ``tdc`` before its switch (default 0).
    start_name, stop_name : str
        Names of the interval columns (default ``tstart`` / ``tstop`` as tmerge).
    keep : sequence of str, optional
        Subject columns to carry onto every interval (default: all other columns).

    Returns
    -------
    TmergeResult

    References
    ----------
    Therneau T, Crowson C, Atkinson E. Using time dependent covariates and time dependent
    coefficients in the Cox model. survival package vignette, 2023.
    """
    if id not in subjects.columns:
        raise InputError("is not a column of the subject data", column=id)
    for c in (futime, status, entry if isinstance(entry, str) else None):
        if c is not None and c not in subjects.columns:
            raise InputError("is not a column of the subject data", column=c)
    if subjects[id].isna().any():
        raise InputError("missing subject id", column=id)
    dup = subjects[id].duplicated()
    if dup.any():
        raise InputError(
            f"subject {_s(subjects[id][dup].iloc[0])!r} has more than one row "
            "(one row per subject)",
            column=id,
        )
    ids = subjects[id].to_numpy()
    fu = pd.to_numeric(subjects[futime], errors="coerce").to_numpy(float)
    if np.isnan(fu).any():
        i = int(np.flatnonzero(np.isnan(fu))[0])
        raise InputError(
            f"subject {_s(ids[i])!r}: missing or non-numeric follow-up time", column=futime
        )
    if isinstance(entry, str):
        en = pd.to_numeric(subjects[entry], errors="coerce").to_numpy(float)
        ename = entry
    else:
        en = np.full(len(subjects), float(entry))
        ename = "entry"
    if np.isnan(en).any():
        i = int(np.flatnonzero(np.isnan(en))[0])
        raise InputError(f"subject {_s(ids[i])!r}: missing entry time", column=ename)
    bad = en >= fu
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"subject {_s(ids[i])!r}: entry {en[i]:g} is not before follow-up end {fu[i]:g}",
            column=futime,
        )
    st = None
    if status is not None:
        st = pd.to_numeric(subjects[status], errors="coerce").to_numpy(float)
        if np.isnan(st).any():
            i = int(np.flatnonzero(np.isnan(st))[0])
            raise InputError(
                f"subject {_s(ids[i])!r}: missing or non-numeric status", column=status
            )
        if causes is not None:
            allowed = {float(c) for c in causes} | {0.0}
            for i, v in enumerate(st):
                if v not in allowed:
                    raise InputError(
                        f"subject {_s(ids[i])!r}: unknown cause code {v:g} "
                        f"(allowed: 0 = censored, {sorted(causes)})",
                        column=status,
                    )
    base = pd.DataFrame({"_id": ids, "_entry": en, "_fu": fu})
    items: list[tuple[str, str, pd.DataFrame]] = []
    for kind, specs in (("tdc", tdc), ("cumtdc", cumtdc), ("event", events)):
        for name, spec in (specs or {}).items():
            items.append((kind, name, _dated(spec, name, subjects, id)))

    tcount: dict[str, dict[str, int]] = {}
    if status is not None:
        tcount[event_name or status] = {**dict.fromkeys(COUNT_KEYS, 0), "trailing": len(ids)}
    cuts = [
        base[["_id", "_entry"]].rename(columns={"_entry": "time"}),
        base[["_id", "_fu"]].rename(columns={"_fu": "time"}),
    ]
    prepared = []
    known = set(ids.tolist())
    for kind, name, d in items:
        counts = dict.fromkeys(COUNT_KEYS, 0)
        miss = d["time"].isna()
        counts["missing"] = int(miss.sum())
        d = d.loc[~miss].reset_index(drop=True)
        unknown = ~d["id"].isin(known)
        if unknown.any():
            raise InputError(
                f"subject {_s(d['id'][unknown].iloc[0])!r} is not in the subject data", column=name
            )
        d = d.merge(base, left_on="id", right_on="_id", how="left")
        late = d["time"] > d["_fu"]
        if late.any():
            r = d.loc[late].iloc[0]
            sid = d["id"][late].iloc[0]
            what = "death or last follow-up" if kind != "event" else "the end of follow-up"
            raise InputError(
                f"subject {_s(sid)!r}: {name} at {r['time']:g} is after {what} ({r['_fu']:g})",
                column=name,
            )
        counts["early"] = int((d["time"] < d["_entry"]).sum())
        counts["leading"] = int((d["time"] == d["_entry"]).sum())
        inside = (d["time"] > d["_entry"]) & (d["time"] < d["_fu"])
        counts["within"] = int(inside.sum())
        counts["trailing"] = int((d["time"] == d["_fu"]).sum())
        counts["tied"] = int(d.duplicated(["id", "time"]).sum())
        tcount[name] = counts
        if kind == "event" and (d["time"] <= d["_entry"]).any():
            r = d.loc[d["time"] <= d["_entry"]].iloc[0]
            sid = d["id"][d["time"] <= d["_entry"]].iloc[0]
            raise InputError(
                f"subject {_s(sid)!r}: event {name} at {r['time']:g} is not after entry "
                f"({r['_entry']:g})",
                column=name,
            )
        cuts.append(d.loc[inside, ["id", "time"]].rename(columns={"id": "_id"}))
        prepared.append((kind, name, d[["id", "time", "value", "_entry"]]))

    cp = pd.concat(cuts, ignore_index=True).drop_duplicates()
    cp = cp.sort_values(["_id", "time"], kind="stable").reset_index(drop=True)
    nxt = cp["time"].shift(-1)
    same = cp["_id"].shift(-1) == cp["_id"]
    rows = pd.DataFrame({"_id": cp["_id"][same], "_start": cp["time"][same], "_stop": nxt[same]})
    rows = rows.reset_index(drop=True)
    # order of subjects as in the input
    pos = pd.Series(np.arange(len(ids)), index=pd.Index(ids))
    rows["_pos"] = pos.loc[rows["_id"].to_numpy()].to_numpy()
    rows = rows.sort_values(["_pos", "_start"], kind="stable").reset_index(drop=True)

    out = pd.DataFrame(
        {id: rows["_id"].to_numpy(), start_name: rows["_start"], stop_name: rows["_stop"]}
    )
    last = rows["_id"].shift(-1) != rows["_id"]
    if st is not None:
        ev_name = event_name or status
        stv = pd.Series(st, index=pd.Index(ids)).loc[rows["_id"].to_numpy()].to_numpy()
        ev = np.where(last.to_numpy(), stv, 0.0)
        out[ev_name] = ev.astype(int) if np.all(ev == np.round(ev)) else ev
    key = rows[["_id", "_start", "_stop"]].copy()
    key["_row"] = np.arange(len(rows))
    for kind, name, d in prepared:
        if kind == "event":
            val = d["value"].fillna(1.0)
            agg = (
                pd.DataFrame({"_id": d["id"], "_stop": d["time"], "v": val})
                .groupby(["_id", "_stop"], sort=False)["v"]
                .sum()
                .reset_index()
            )
            m = key.merge(agg, on=["_id", "_stop"], how="left").sort_values("_row")
            col = m["v"].fillna(0.0).to_numpy()
        else:
            dd = d.copy()
            # early changes apply from entry; a change at t applies to intervals starting >= t
            dd["t"] = np.maximum(dd["time"], dd["_entry"])
            dd = dd.sort_values(["id", "t"], kind="stable")
            if kind == "tdc":
                dd["v"] = dd["value"].fillna(1.0)
                dd = dd.drop_duplicates(["id", "t"], keep="last")
                init = tdc_init
            else:
                dd["v"] = dd["value"].fillna(1.0).groupby(dd["id"]).cumsum()
                dd = dd.drop_duplicates(["id", "t"], keep="last")
                init = 0.0
            left = key.sort_values("_start", kind="stable")
            right = dd[["id", "t", "v"]].rename(columns={"id": "_id"}).sort_values("t")
            m = pd.merge_asof(
                left, right, left_on="_start", right_on="t", by="_id", direction="backward"
            ).sort_values("_row")
            col = m["v"].fillna(init).to_numpy()
        out[name] = col.astype(int) if np.all(col == np.round(col)) else col
    skip = {id, futime, status, entry if isinstance(entry, str) else None}
    carry = [c for c in (keep if keep is not None else subjects.columns) if c not in skip]
    carry = [c for c in carry if c not in out.columns]
    if carry:
        sub = subjects.set_index(id)[carry]
        extra = sub.loc[rows["_id"].to_numpy()].reset_index(drop=True)
        out = pd.concat([out, extra], axis=1)
    validate_intervals(out[id].to_numpy(), out[start_name].to_numpy(), out[stop_name].to_numpy())
    return TmergeResult(
        data=out,
        tcount=tcount,
        n_subjects=len(ids),
        n_intervals=len(out),
        settings={
            "id": id,
            "futime": futime,
            "status": status,
            "entry": entry,
            "tdc": sorted((tdc or {}).keys()),
            "cumtdc": sorted((cumtdc or {}).keys()),
            "events": sorted((events or {}).keys()),
            "tdc_init": tdc_init,
        },
    )
