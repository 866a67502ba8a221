"""The study's analysis frames, built from the registry's entity tables.

Two frames, each a pandas DataFrame whose columns a study's cohort filters and analyses name
(the full list is in ``docs/study-spec.md``):

``infusions``
    One row per CAR-T course (the first infusion of each ``course_number``): baseline
    characteristics, best response within the response window, worst CRS/ICANS grade, PFS and
    OS from the infusion, allo-HSCT before the course (after the previous one) and after it.
``salvage``
    One row per patient whose first relapse followed a remission after CART1: relapse type and
    CD19 status, whether an allo-HSCT came between CART1 and the relapse, the first salvage
    (``CART2`` or ``other`` therapy), its response and PFS/OS from its start.

Endpoint settings (response window, PFS events, severe grade) come from the study's
``[endpoints]`` table, so that they are explicit and stated in the report's methods.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cartlens.errors import InputError
from cartlens.model.schema import ENTITIES
from cartlens.study.spec import Endpoints

#: The registry's entities, in load order (as :data:`cartlens.model.schema.ENTITIES`).
ENTITY_NAMES = tuple(e.name for e in ENTITIES)
_DATE_COLS = {
    "patients": ["diagnosis_date", "prior_allo_hsct_date", "last_contact_date"],
    "infusions": ["infusion_date"],
    "responses": ["assessment_date"],
    "toxicities": ["onset_date", "resolution_date"],
    "transplants": ["transplant_date"],
    "relapses": ["relapse_date"],
    "therapies": ["start_date"],
    "deaths": ["death_date"],
}
_BOOL_TRUE = {"true", "yes", "y", "1"}
_BOOL_FALSE = {"false", "no", "n", "0"}


def _typed(entity: str, df: pd.DataFrame) -> pd.DataFrame:
    """Types from the data model (dates, numbers, booleans); text stays text."""
    try:
        from cartlens.model import entity as spec

        fields = {f.name: f.kind for f in spec(entity).fields}
    except Exception:  # pragma: no cover
        fields = {}
    out = df.copy()
    for col in out.columns:
        kind = fields.get(col)
        if kind == "date" or col in _DATE_COLS.get(entity, ()):
            out[col] = pd.to_datetime(out[col], errors="coerce")
        elif kind in ("integer", "number"):
            out[col] = pd.to_numeric(out[col], errors="coerce")
        elif kind == "boolean":
            s = out[col].astype("string").str.strip().str.lower()
            out[col] = s.map(
                lambda v: True if v in _BOOL_TRUE else (False if v in _BOOL_FALSE else pd.NA)
            )
    return out


def load_entities(registry: str | Path) -> dict[str, pd.DataFrame]:
    """Entity tables of a registry store (DuckDB file) or a folder of entity CSV files."""
    p = Path(registry)
    if not p.exists():
        raise InputError(f"registry '{p}' does not exist", column="--registry")
    tables: dict[str, pd.DataFrame] = {}
    if p.is_dir():
        for name in ENTITY_NAMES:
            f = p / f"{name}.csv"
            if f.exists():
                raw = pd.read_csv(f, dtype=str, keep_default_na=False, na_values=["", "NA"])
                tables[name] = _typed(name, raw)
    else:
        import duckdb

        con = duckdb.connect(str(p), read_only=True)
        try:
            have = {
                r[0]
                for r in con.execute("select table_name from information_schema.tables").fetchall()
            }
            for name in ENTITY_NAMES:
                if name in have:
                    tables[name] = _typed(name, con.execute(f'select * from "{name}"').df())
        finally:
            con.close()
    for req in ("patients", "infusions"):
        if req not in tables or tables[req].empty:
            raise InputError(f"registry '{p}' has no {req}", column=req)
    for name in ENTITY_NAMES:
        if name not in tables:
            tables[name] = pd.DataFrame({c: pd.Series(dtype="object") for c in ("patient_id",)})
            for c in _DATE_COLS.get(name, ()):
                tables[name][c] = pd.Series(dtype="datetime64[ns]")
    return tables


def _days(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a - b).dt.days.astype("float")


def _pfs_types(ep: Endpoints) -> list[str]:
    types = ["morphologic", "extramedullary", "progression"]
    return [*types, "mrd"] if ep.mrd_relapse_is_event else types


def frames_from_store(
    store: str | Path, endpoints: Endpoints | None = None, month_days=30.4375, *, followup=None
):
    """Entity tables and analysis frames of a cartlens store (derived by ``cartlens.derive``;
    ``followup``: the :class:`~cartlens.derive.followup.FollowupSettings` of the follow-up
    columns)."""
    from cartlens.derive.tables import infusion_table

    ep = endpoints or Endpoints()
    tables = load_entities(store)
    derived = infusion_table(str(store), ep.derive_settings(month_days))
    # follow-up beyond CRS/ICANS (ICAHT, B-cell aplasia, infections, ...): more columns per infusion
    from cartlens.derive.followup import followup_table

    fu = followup_table(str(store), ep.derive_settings(month_days), followup)
    derived = derived.merge(
        fu.drop(columns=["patient_id", "course_number"]),
        on="infusion_id",
        how="left",
        validate="one_to_one",
    )
    return tables, build_frames(tables, derived, ep, month_days)


def build_frames(
    tables: dict[str, pd.DataFrame],
    derived: pd.DataFrame,
    endpoints: Endpoints | None = None,
    month_days: float = 30.4375,
) -> dict[str, pd.DataFrame]:
    """Return ``{"infusions": DataFrame, "salvage": DataFrame}``.

    ``derived`` is the derive layer's per-infusion table
    (:func:`cartlens.derive.tables.infusion_table`); the study adds course-level columns.
    """
    ep = endpoints or Endpoints()
    d = derived[derived["is_course_start"].astype(bool)].copy()
    d = d.sort_values(["patient_id", "course_number"]).reset_index(drop=True)
    for c in ("infusion_date", "last_contact_date", "relapse_date", "diagnosis_date"):
        if c in d:
            d[c] = pd.to_datetime(d[c])
    df = pd.DataFrame(
        {
            "patient_id": d["patient_id"],
            "infusion_id": d["infusion_id"],
            "course_number": d["course_number"].astype(int),
            "infusion_date": d["infusion_date"],
        }
    )
    df["course"] = "CART" + df["course_number"].astype(str)
    n_courses = d.groupby("patient_id")["course_number"].max()
    df["got_cart2"] = df["patient_id"].map(n_courses).to_numpy() >= 2
    df["age"] = pd.to_numeric(d["age_at_infusion"], errors="coerce").round(1)
    for col in (
        "sex",
        "ph_positive",
        "prior_therapy_lines",
        "prior_allo_hsct",
        "cytogenetic_risk",
        "dose_cells_per_kg",
        "lymphodepletion",
        "marrow_blasts_pct",
        "extramedullary_disease",
        "cd19_status",
        "scfv_origin",
        "costim_domain",
        "product",
        "reinfusion_reason",
    ):
        if col in d:
            df[col] = d[col].to_numpy()
    df["flu_cy"] = df["lymphodepletion"] == "flu_cy"
    dose = pd.to_numeric(df["dose_cells_per_kg"], errors="coerce")
    df["log10_dose"] = np.log10(dose)
    df["dose_1e6_per_kg"] = dose / 1e6
    df["blasts_ge_20"] = pd.to_numeric(df["marrow_blasts_pct"], errors="coerce") >= 20
    reason = df["reinfusion_reason"]
    df["reason_group"] = np.where(
        df["course_number"] == 1,
        None,
        np.where(
            reason.isin(["cd19_positive_relapse", "extramedullary_relapse"]),
            "relapse",
            "suboptimal_response",
        ),
    )
    # response and toxicity (derive layer)
    df["best_response"] = d["best_response"].to_numpy()
    df["response_evaluable"] = d["evaluable"].astype(bool).to_numpy()
    df["cr"] = d["cr"].astype(object).where(df["response_evaluable"], None).to_numpy()
    df["crs_grade"] = pd.to_numeric(d["crs_max_grade"], errors="coerce").fillna(0).to_numpy()
    df["icans_grade"] = pd.to_numeric(d["icans_max_grade"], errors="coerce").fillna(0).to_numpy()
    df["crs_any"] = df["crs_grade"] >= 1
    df["crs_severe"] = df["crs_grade"] >= ep.severe_grade
    df["icans_any"] = df["icans_grade"] >= 1
    df["icans_severe"] = df["icans_grade"] >= ep.severe_grade
    # allo-HSCT after this course (derive) and before it, after the previous course (study)
    df["hsct_after_day"] = pd.to_numeric(d["hsct_after_days"], errors="coerce").to_numpy()
    tx = tables["transplants"]
    allo = tx[tx["transplant_type"] == "allo"] if "transplant_type" in tx else tx.iloc[0:0]
    prev = df.groupby("patient_id")["infusion_date"].shift(1)
    allo_by = _by_patient(allo)
    none = pd.Series(dtype="datetime64[ns]")
    before = []
    for i, row in df.iterrows():
        pv = prev.iloc[i]
        g = allo_by.get(row["patient_id"])
        t = g["transplant_date"] if g is not None else none
        before.append(
            bool(((t < row["infusion_date"]) & (t > pv)).any()) if pd.notna(pv) else False
        )
    df["hsct_before"] = before
    # survival (derive layer)
    df["last_contact_date"] = d["last_contact_date"].to_numpy()
    df["dead"] = (d["last_contact_status"] == "dead").to_numpy()
    df["progression_date"] = d["relapse_date"].to_numpy()
    for e in ("os", "pfs", "crisk"):
        df[f"{e}_days"] = pd.to_numeric(d[f"{e}_days"], errors="coerce").to_numpy()
        df[f"{e}_event"] = pd.to_numeric(d[f"{e}_event"], errors="coerce").astype(int).to_numpy()
        df[f"{e}_months"] = df[f"{e}_days"] / month_days
    # every other column of the derive layer's table, under its own name (disease, target
    # antigen, bridging therapy, cause of death, EFS/RFS/DOR, ...)
    # (added at once: one column at a time fragments the frame)
    extra = {col: d[col].to_numpy() for col in d.columns if col not in df.columns}
    df = pd.concat([df, pd.DataFrame(extra, index=df.index)], axis=1)
    salvage = _salvage_frame(tables, df, ep, month_days)
    return {"infusions": df.reset_index(drop=True), "salvage": salvage.reset_index(drop=True)}


def _survival(df: pd.DataFrame, origin: str, ep: Endpoints, month_days: float) -> None:
    """OS and PFS from ``origin`` (the salvage frame; same rules as the derive layer)."""
    o = df[origin]
    os_end = pd.to_datetime(df["last_contact_date"])
    df["os_days"] = _days(os_end, o)
    df["os_event"] = df["dead"].astype(bool).astype(int)
    prog = pd.to_datetime(df["progression_date"])
    has_prog = prog.notna() & (prog <= os_end)
    pfs_end = prog.where(has_prog, os_end)
    df["pfs_days"] = _days(pfs_end, o)
    df["pfs_event"] = (has_prog | df["dead"].astype(bool)).astype(int)
    df["os_months"] = df["os_days"] / month_days
    df["pfs_months"] = df["pfs_days"] / month_days
    bad = df["os_days"] < 0
    if bad.any():
        pid = df.loc[bad, "patient_id"].iloc[0]
        raise InputError(
            f"last contact before the time origin for patient '{pid}'",
            column="last_contact_date",
        )


def _by_patient(df: pd.DataFrame) -> dict:
    """``{patient_id: rows}`` (one groupby instead of a filter per patient)."""
    if df.empty or "patient_id" not in df:
        return {}
    return {k: g for k, g in df.groupby("patient_id", sort=False)}


#: patient-level columns of the CART1 row carried into the salvage frame
_SALVAGE_FROM_CART1 = (
    "disease",
    "disease_subtype",
    "cytogenetic_risk",
    "tp53_mutated",
    "kmt2a_rearranged",
    "product",
    "target_antigen",
    "prior_allo_hsct",
    "death_cause",
    "death_date",
)


def _salvage_frame(
    tables: dict[str, pd.DataFrame], inf: pd.DataFrame, ep: Endpoints, month_days: float
) -> pd.DataFrame:
    cart1 = inf[inf["course_number"] == 1].set_index("patient_id")
    cart2 = inf[inf["course_number"] == 2].set_index("patient_id")
    rel_by = _by_patient(tables["relapses"])
    ther_by = _by_patient(tables["therapies"])
    tx_by = _by_patient(tables["transplants"])
    rs_by = _by_patient(tables["responses"])
    rows = []
    for pid, c1 in cart1.iterrows():
        if c1["cr"] is not True and c1["cr"] != 1:
            continue
        rel = rel_by.get(pid, tables["relapses"].iloc[0:0])
        tx = tx_by.get(pid, tables["transplants"].iloc[0:0])
        ther = ther_by.get(pid, tables["therapies"].iloc[0:0])
        rs = rs_by.get(pid, tables["responses"].iloc[0:0])
        r = rel[rel["relapse_date"] > c1["infusion_date"]]
        if r.empty:
            continue
        r = r.sort_values("relapse_date").iloc[0]
        t = tx[tx["transplant_type"] == "allo"] if not tx.empty else tx
        hsct = bool(
            len(
                t[
                    (t["transplant_date"] > c1["infusion_date"])
                    & (t["transplant_date"] < r["relapse_date"])
                ]
            )
        )
        row = {
            "patient_id": pid,
            "relapse_date": r["relapse_date"],
            "relapse_type": r["relapse_type"],
            "relapse_cd19": r.get("cd19_status"),
            "relapse_site": r.get("site"),
            "hsct_before_relapse": hsct,
            "months_cart1_to_relapse": (r["relapse_date"] - c1["infusion_date"]).days / month_days,
            "age": c1["age"],
            "sex": c1.get("sex"),
            "ph_positive": c1.get("ph_positive"),
            "prior_therapy_lines": c1.get("prior_therapy_lines"),
            "last_contact_date": c1["last_contact_date"],
            "dead": c1["dead"],
        }
        for col in _SALVAGE_FROM_CART1:
            if col in c1.index and col not in row:
                row[col] = c1[col]
        th = ther[ther["start_date"] >= r["relapse_date"]] if not ther.empty else ther
        c2 = cart2.loc[pid] if pid in cart2.index else None
        if c2 is not None and c2["infusion_date"] >= r["relapse_date"]:
            row.update(
                salvage="CART2",
                salvage_start=c2["infusion_date"],
                best_response=c2["best_response"],
                cr=c2["cr"],
            )
        elif not th.empty:
            start = th["start_date"].min()
            a = rs[rs["assessment_date"] >= start]
            a = a.assign(day=(a["assessment_date"] - start).dt.days)
            lo, hi = ep.window
            a = a[(a["day"] >= lo) & (a["day"] <= hi) & (a["status"] != "NE")]
            rank = {"CR": 0, "CRi": 1, "PR": 2, "SD": 3, "NR": 4, "PD": 5, "relapse": 6}
            best = (
                a.assign(k=a["status"].map(rank)).sort_values("k")["status"].iloc[0]
                if len(a)
                else None
            )
            row.update(
                salvage="other",
                salvage_start=start,
                best_response=best,
                cr=(best in ep.responder_status) if best is not None else None,
            )
        else:
            continue
        rows.append(row)
    s = pd.DataFrame(rows)
    if s.empty:
        return s
    s["group"] = np.where(s["hsct_before_relapse"], "hsct_", "nohsct_") + np.where(
        s["salvage"] == "CART2", "cart2", "other"
    )
    s["response_evaluable"] = s["best_response"].notna()
    rel = tables["relapses"]
    pfs_types = _pfs_types(ep)
    prog = []
    for _, row in s.iterrows():
        r = rel[
            (rel["patient_id"] == row["patient_id"])
            & rel["relapse_type"].isin(pfs_types)
            & (rel["relapse_date"] > row["salvage_start"])
        ]
        prog.append(r["relapse_date"].min() if len(r) else pd.NaT)
    s["progression_date"] = pd.to_datetime(pd.Series(prog, index=s.index))
    _survival(s, "salvage_start", ep, month_days)
    return s
