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
from cartlens.study.spec import Endpoints

ENTITY_NAMES = (
    "patients",
    "infusions",
    "responses",
    "toxicities",
    "transplants",
    "relapses",
    "therapies",
    "deaths",
)
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


def _worst_grade(tox: pd.DataFrame, kind: str, courses: pd.DataFrame) -> pd.Series:
    if tox.empty or "toxicity" not in tox:
        return pd.Series(0, index=courses.index, dtype=float)
    t = tox[tox["toxicity"] == kind]
    g = t.groupby("course_key")["grade"].max()
    return courses["course_key"].map(g).fillna(0).astype(float)


def build_frames(
    tables: dict[str, pd.DataFrame], endpoints: Endpoints | None = None, month_days: float = 30.4375
):
    """Return ``{"infusions": DataFrame, "salvage": DataFrame}``."""
    ep = endpoints or Endpoints()
    pats = tables["patients"].set_index("patient_id")
    inf = tables["infusions"].sort_values(["patient_id", "infusion_date", "infusion_number"])
    # one row per course: its first infusion
    courses = inf.groupby(["patient_id", "course_number"], as_index=False).first()
    courses["course_key"] = (
        courses["patient_id"] + "#" + courses["course_number"].astype(int).astype(str)
    )
    courses = courses.sort_values(["patient_id", "course_number"]).reset_index(drop=True)
    course_of_inf = dict(
        zip(
            inf["infusion_id"],
            inf["patient_id"] + "#" + inf["course_number"].astype(int).astype(str),
        )
    )
    prev = courses.groupby("patient_id")["infusion_date"].shift(1)

    df = pd.DataFrame(
        {
            "patient_id": courses["patient_id"],
            "infusion_id": courses["infusion_id"],
            "course_number": courses["course_number"].astype(int),
            "infusion_date": courses["infusion_date"],
        }
    )
    df["course"] = "CART" + df["course_number"].astype(str)
    n_courses = courses.groupby("patient_id")["course_number"].max()
    df["got_cart2"] = df["patient_id"].map(n_courses).to_numpy() >= 2
    p = pats.reindex(df["patient_id"])
    diag_age = p["age_at_diagnosis"].to_numpy(dtype=float) if "age_at_diagnosis" in p else np.nan
    years_since_dx = _days(df["infusion_date"], p["diagnosis_date"].set_axis(df.index)) / 365.25
    age = diag_age + years_since_dx.to_numpy()
    if "birth_year" in p:
        by = p["birth_year"].to_numpy(dtype=float)
        age = np.where(np.isnan(age), df["infusion_date"].dt.year.to_numpy() - by, age)
    df["age"] = np.round(age, 1)
    for col in ("sex", "ph_positive", "prior_therapy_lines", "prior_allo_hsct", "cytogenetic_risk"):
        if col in p:
            df[col] = p[col].to_numpy()
    for col in (
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
        if col in courses:
            df[col] = courses[col].to_numpy()
    df["flu_cy"] = df.get("lymphodepletion") == "flu_cy"
    df["log10_dose"] = np.log10(df["dose_cells_per_kg"].astype(float))
    df["dose_1e6_per_kg"] = df["dose_cells_per_kg"].astype(float) / 1e6
    df["blasts_ge_20"] = df["marrow_blasts_pct"].astype(float) >= 20
    reason = df.get("reinfusion_reason")
    df["reason_group"] = np.where(
        df["course_number"] == 1,
        None,
        np.where(
            reason.isin(["cd19_positive_relapse", "extramedullary_relapse"]),
            "relapse",
            "suboptimal_response",
        ),
    )

    # ---- response: best status within the window ----
    rs = tables["responses"].copy()
    lo, hi = ep.response.window_days
    rank = {"CR": 0, "CRi": 1, "PR": 2, "SD": 3, "NR": 4, "PD": 5, "relapse": 6, "NE": 9}
    best = pd.Series(index=df.index, dtype=object)
    if not rs.empty:
        rs["course_key"] = rs["infusion_id"].map(course_of_inf)
        rs = rs.merge(courses[["course_key", "infusion_date"]], on="course_key", how="left")
        rs["day"] = _days(rs["assessment_date"], rs["infusion_date"])
        rs = rs[(rs["day"] >= lo) & (rs["day"] <= hi) & (rs["status"] != "NE")]
        rs["rank"] = rs["status"].map(rank).fillna(8)
        b = rs.sort_values("rank").groupby("course_key")["status"].first()
        best = courses["course_key"].map(b)
    df["best_response"] = best.to_numpy()
    df["response_evaluable"] = df["best_response"].notna()
    df["cr"] = (
        df["best_response"].isin(ep.response.responder_status).where(df["response_evaluable"])
    )

    # ---- toxicity ----
    tox = tables["toxicities"].copy()
    if not tox.empty:
        tox["course_key"] = tox["infusion_id"].map(course_of_inf)
        if ep.toxicity.use_recomputed_grade:
            from cartlens.model.astct import astct_grades

            tox["grade"] = astct_grades(tox).astype(float)
        tox["grade"] = pd.to_numeric(tox["grade"], errors="coerce")
    df["crs_grade"] = _worst_grade(tox, "CRS", courses).to_numpy()
    df["icans_grade"] = _worst_grade(tox, "ICANS", courses).to_numpy()
    df["crs_any"] = df["crs_grade"] >= 1
    df["crs_severe"] = df["crs_grade"] >= ep.toxicity.severe_grade
    df["icans_any"] = df["icans_grade"] >= 1
    df["icans_severe"] = df["icans_grade"] >= ep.toxicity.severe_grade

    # ---- HSCT relative to courses ----
    tx = tables["transplants"]
    allo = tx[tx.get("transplant_type", pd.Series(dtype=object)) == "allo"] if not tx.empty else tx
    first_after = []
    before = []
    for i, row in df.iterrows():
        t = (
            allo.loc[allo["patient_id"] == row["patient_id"], "transplant_date"]
            if not allo.empty
            else pd.Series(dtype="datetime64[ns]")
        )
        after = t[t > row["infusion_date"]]
        first_after.append((after.min() - row["infusion_date"]).days if len(after) else np.nan)
        pv = prev.iloc[i]
        before.append(
            bool(len(t[(t < row["infusion_date"]) & (t > pv)])) if pd.notna(pv) else False
        )
    df["hsct_after_day"] = first_after
    df["hsct_before"] = before

    # ---- survival from the infusion ----
    last = pats["last_contact_date"].reindex(df["patient_id"]).to_numpy()
    dead = (pats["last_contact_status"] == "dead").reindex(df["patient_id"]).to_numpy()
    df["last_contact_date"] = last
    df["dead"] = dead
    rel = tables["relapses"]
    pfs_types = [e for e in ep.pfs.events if e != "death"]
    rel_ev = rel[rel["relapse_type"].isin(pfs_types)] if not rel.empty else rel
    first_rel = []
    for _, row in df.iterrows():
        r = (
            rel_ev.loc[rel_ev["patient_id"] == row["patient_id"], "relapse_date"]
            if not rel_ev.empty
            else pd.Series(dtype="datetime64[ns]")
        )
        r = r[r > row["infusion_date"]]
        first_rel.append(r.min() if len(r) else pd.NaT)
    df["progression_date"] = pd.to_datetime(pd.Series(first_rel, index=df.index))
    _survival(df, "infusion_date", ep, month_days)
    df["hsct_after_day"] = df["hsct_after_day"].astype(float)
    salvage = _salvage_frame(tables, df, ep, month_days)
    for f in (df, salvage):
        f.drop(columns=[c for c in ("course_key",) if c in f], inplace=True)
    return {"infusions": df.reset_index(drop=True), "salvage": salvage.reset_index(drop=True)}


def _survival(df: pd.DataFrame, origin: str, ep: Endpoints, month_days: float) -> None:
    o = df[origin]
    os_end = pd.to_datetime(df["last_contact_date"])
    df["os_days"] = _days(os_end, o)
    df["os_event"] = df["dead"].astype(bool).astype(int)
    prog = pd.to_datetime(df["progression_date"])
    has_prog = prog.notna() & (prog <= os_end)
    death_counts = "death" in ep.pfs.events
    pfs_end = prog.where(has_prog, os_end)
    df["pfs_days"] = _days(pfs_end, o)
    df["pfs_event"] = (has_prog | (df["dead"].astype(bool) & death_counts)).astype(int)
    df["os_months"] = df["os_days"] / month_days
    df["pfs_months"] = df["pfs_days"] / month_days
    bad = df["os_days"] < 0
    if bad.any():
        pid = df.loc[bad, "patient_id"].iloc[0]
        raise InputError(
            f"last contact before the time origin for patient '{pid}'", column="last_contact_date"
        )


def _salvage_frame(
    tables: dict[str, pd.DataFrame], inf: pd.DataFrame, ep: Endpoints, month_days: float
) -> pd.DataFrame:
    cart1 = inf[inf["course_number"] == 1].set_index("patient_id")
    cart2 = inf[inf["course_number"] == 2].set_index("patient_id")
    rel = tables["relapses"]
    ther = tables["therapies"]
    tx = tables["transplants"]
    rs = tables["responses"]
    rows = []
    for pid, c1 in cart1.iterrows():
        if c1["cr"] is not True and c1["cr"] != 1:
            continue
        r = (
            rel[(rel["patient_id"] == pid) & (rel["relapse_date"] > c1["infusion_date"])]
            if not rel.empty
            else rel
        )
        if r.empty:
            continue
        r = r.sort_values("relapse_date").iloc[0]
        t = (
            tx[(tx["patient_id"] == pid) & (tx["transplant_type"] == "allo")]
            if not tx.empty
            else tx
        )
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
        th = (
            ther[(ther["patient_id"] == pid) & (ther["start_date"] >= r["relapse_date"])]
            if not ther.empty
            else ther
        )
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
            a = rs[(rs["patient_id"] == pid) & (rs["assessment_date"] >= start)]
            a = a.assign(day=(a["assessment_date"] - start).dt.days)
            lo, hi = ep.response.window_days
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
                cr=(best in ep.response.responder_status) if best is not None else None,
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
    pfs_types = [e for e in ep.pfs.events if e != "death"]
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
