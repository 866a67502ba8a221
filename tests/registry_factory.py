"""Build small registries (CSV folders, stores) for the registry tests."""

from __future__ import annotations

import copy
import csv
import datetime as dt
from pathlib import Path

from cartlens.model.schema import ENTITIES

D0 = dt.date(2020, 1, 1)
TODAY = dt.date(2024, 1, 1)


def day(n: int, origin: dt.date = D0) -> str:
    """ISO date ``n`` days after ``origin``."""
    return (origin + dt.timedelta(days=n)).isoformat()


def patient(pid: str, **kw) -> dict:
    row = {
        "patient_id": pid,
        "sex": "female",
        "birth_year": "1989",
        "age_at_diagnosis": "30",
        "diagnosis_date": "2019-06-01",
        "disease": "B-ALL",
        "prior_therapy_lines": "3",
        "prior_allo_hsct": "false",
        "last_contact_date": day(365),
        "last_contact_status": "alive",
    }
    row.update(kw)
    return row


def infusion(pid: str, k: int = 1, at: int = 0, **kw) -> dict:
    row = {
        "infusion_id": f"{pid}-I{k}",
        "patient_id": pid,
        "infusion_date": day(at),
        "infusion_number": str(k),
        "course_number": str(k),
        "target_antigen": "CD19",
        "dose_cells_per_kg": "1e6",
        "lymphodepletion": "flu_cy",
        "marrow_blasts_pct": "40",
    }
    if k > 1:
        row["reinfusion_reason"] = "cd19_positive_relapse"
    row.update(kw)
    return row


def response(pid: str, k: int, at: int, status: str, **kw) -> dict:
    row = {
        "patient_id": pid,
        "infusion_id": f"{pid}-I{k}",
        "assessment_date": day(at),
        "method": "marrow_morphology",
        "status": status,
    }
    row.update(kw)
    return row


def crs(pid: str, k: int, at: int, grade: int, **kw) -> dict:
    comp = {
        1: {"hypotension": "none", "oxygen": "none"},
        2: {"hypotension": "no_vasopressor", "oxygen": "none"},
        3: {"hypotension": "one_vasopressor", "oxygen": "none"},
        4: {"hypotension": "multiple_vasopressors", "oxygen": "none"},
    }[grade]
    row = {
        "patient_id": pid,
        "infusion_id": f"{pid}-I{k}",
        "toxicity": "CRS",
        "onset_date": day(at),
        "resolution_date": day(at + 3),
        "grade": str(grade),
        "max_temperature_c": "39.0",
        **comp,
    }
    row.update(kw)
    return row


def icans(pid: str, k: int, at: int, grade: int, **kw) -> dict:
    ice = {1: "8", 2: "5", 3: "1"}[grade]
    row = {
        "patient_id": pid,
        "infusion_id": f"{pid}-I{k}",
        "toxicity": "ICANS",
        "onset_date": day(at),
        "grade": str(grade),
        "ice_score": ice,
    }
    row.update(kw)
    return row


def lab(pid: str, k: int, at: int, analyte: str, value, unit: str = "10^9/L") -> dict:
    return {
        "patient_id": pid,
        "infusion_id": f"{pid}-I{k}",
        "sample_date": day(at),
        "analyte": analyte,
        "value": str(value),
        "unit": unit,
    }


def anc_series(pid: str, k: int, values: dict[int, float]) -> list[dict]:
    """ANC rows (10^9/L) of infusion ``k``: {day: value}."""
    return [lab(pid, k, d, "anc", v) for d, v in sorted(values.items())]


def infection(pid: str, k: int, at: int, **kw) -> dict:
    row = {
        "patient_id": pid,
        "infusion_id": f"{pid}-I{k}",
        "onset_date": day(at),
        "infection_type": "pneumonia",
        "organism_class": "viral",
        "severity": "moderate",
    }
    row.update(kw)
    return row


def iec_hs(pid: str, k: int, at: int, grade: int = 2, **kw) -> dict:
    row = {
        "patient_id": pid,
        "infusion_id": f"{pid}-I{k}",
        "onset_date": day(at),
        "grade": str(grade),
        "fatal": "true" if grade == 5 else "false",
    }
    row.update(kw)
    return row


def malignancy(pid: str, at: int, mtype: str = "myeloid", **kw) -> dict:
    row = {"patient_id": pid, "diagnosis_date": day(at), "malignancy_type": mtype}
    row.update(kw)
    return row


def base_registry() -> dict[str, list[dict]]:
    """A valid two-patient registry (no findings at all)."""
    return copy.deepcopy(
        {
            "patients": [
                patient(
                    "P1",
                    prior_allo_hsct="true",
                    prior_allo_hsct_date="2019-10-01",
                    last_contact_date=day(300),
                    last_contact_status="dead",
                ),
                patient("P2", sex="male"),
            ],
            "infusions": [infusion("P1"), infusion("P1", 2, 160), infusion("P2")],
            "responses": [
                response("P1", 1, 28, "CR", mrd_negative="true"),
                response("P1", 2, 188, "NR"),
                response("P2", 1, 28, "CR"),
            ],
            "toxicities": [crs("P1", 1, 3, 2), icans("P1", 1, 5, 1), crs("P2", 1, 2, 1)],
            "transplants": [
                {
                    "patient_id": "P1",
                    "transplant_date": "2019-10-01",
                    "transplant_type": "allo",
                    "donor_type": "haploidentical",
                }
            ],
            "relapses": [
                {"patient_id": "P1", "relapse_date": day(100), "relapse_type": "morphologic"}
            ],
            "therapies": [
                {"patient_id": "P1", "start_date": day(110), "therapy_type": "blinatumomab"}
            ],
            "deaths": [
                {"patient_id": "P1", "death_date": day(300), "cause": "relapse_or_progression"}
            ],
        }
    )


def write_folder(folder: Path, registry: dict[str, list[dict]]) -> Path:
    """Write ``registry`` as ``<entity>.csv`` files (columns: the model's, in order, that any
    row uses, plus any unknown keys at the end)."""
    folder.mkdir(parents=True, exist_ok=True)
    order = {e.name: list(e.columns) for e in ENTITIES}
    for name, rows in registry.items():
        if rows is None:
            continue
        cols: list[str] = []
        for c in order.get(name, []):
            if any(c in r for r in rows):
                cols.append(c)
        for r in rows:
            for c in r:
                if c not in cols:
                    cols.append(c)
        if not cols and name in order:
            cols = [
                f.name for f in next(e for e in ENTITIES if e.name == name).fields if f.required
            ]
        with open(folder / f"{name}.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for r in rows:
                w.writerow({c: r.get(c, "") for c in cols})
    return folder


def build_store(tmp: Path, registry: dict[str, list[dict]], name: str = "store.duckdb") -> Path:
    """Import ``registry`` into a new store; fail the test if it has errors."""
    from cartlens.ingest import import_registry

    folder = write_folder(tmp / "src", registry)
    store = tmp / name
    rep = import_registry(folder, store, today=TODAY)
    assert rep.ok, rep.errors.to_string()
    return store
