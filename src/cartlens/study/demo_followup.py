"""SYNTHETIC follow-up beyond CRS and ICANS for the demo registry (invented patients).

:func:`add_followup` reads the rows :func:`cartlens.study.demo_data.build_tables` made and adds
laboratory series (ANC, platelets, haemoglobin, lymphocytes, CD19+ B cells, IgG, ferritin, CRP,
CAR transgene), infections, IEC-HS episodes, recorded ICAHT grades, therapy line numbers and
second malignancies. It draws from its own seeded generator (:data:`FOLLOWUP_SEED_OFFSET`), and
changes no existing value except the new ``line_number`` / ``intent`` of ``therapies``, so every
published number the demo reproduces stays what it was.

Plausibility (orders of magnitude from the CAR-T literature, not fitted to any study): profound
early neutropenia after lymphodepletion with a minority lasting beyond two weeks; CRP and
ferritin peaking with CRS; B-cell aplasia in responders, lost before most CD19-positive relapses;
CAR transgene peaking in the second week and falling below detection months later; low IgG
during aplasia; bacterial infections early and viral ones later; a few IEC-HS episodes; rare
second malignancies. The recorded ICAHT grades equal the grades computed from the ANC series
(no R063 warning in the demo).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from cartlens.model.icaht import icaht

#: Offset of the follow-up generator's seed from the demo's seed (its own stream).
FOLLOWUP_SEED_OFFSET = 1013

_D = dt.date.fromisoformat


def _iso(d: dt.date) -> str:
    return d.isoformat()


def _lab(rows, pid, iid, date, analyte, value, unit) -> None:
    rows["labs"].append(
        {
            "patient_id": pid,
            "infusion_id": iid,
            "sample_date": _iso(date),
            "analyte": analyte,
            "value": value,
            "unit": unit,
        }
    )


def _g(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}"


class _Patient:
    """What the generator needs of one patient, read from the existing rows."""

    def __init__(self, pid: str, by: dict[str, dict[str, list[dict]]]) -> None:
        def of(entity: str) -> list[dict]:
            return by[entity].get(pid, [])

        p = of("patients")[0]
        self.pid = pid
        self.last = _D(p["last_contact_date"])
        self.dead = p["last_contact_status"] == "dead"
        death = of("deaths")
        self.death_cause = death[0]["cause"] if death else None
        self.infusions = sorted(of("infusions"), key=lambda r: r["infusion_date"])
        self.relapses = sorted(of("relapses"), key=lambda r: r["relapse_date"])
        self.therapies = of("therapies")
        self.allo = sorted(
            _D(r["transplant_date"]) for r in of("transplants") if r["transplant_type"] == "allo"
        )
        self.responses = of("responses")
        self.crs = {
            r["infusion_id"]: int(r["grade"]) for r in of("toxicities") if r["toxicity"] == "CRS"
        }


def _by_patient(rows: dict[str, list[dict[str, str]]]) -> dict[str, dict[str, list[dict]]]:
    """Rows of every entity grouped by patient (one pass over the rows)."""
    by: dict[str, dict[str, list[dict]]] = {}
    for entity, rs in rows.items():
        g: dict[str, list[dict]] = {}
        for r in rs:
            g.setdefault(r["patient_id"], []).append(r)
        by[entity] = g
    return by


def add_followup(rows: dict[str, list[dict[str, str]]], seed: int) -> None:
    """Add the follow-up rows to ``rows`` in place (see the module docstring)."""
    rng = np.random.default_rng(seed + FOLLOWUP_SEED_OFFSET)
    pids = [r["patient_id"] for r in rows["patients"]]
    by = _by_patient(rows)
    patients = {pid: _Patient(pid, by) for pid in pids}
    for pid in sorted(pids):
        pt = patients[pid]
        for k, t in enumerate(sorted(pt.therapies, key=lambda r: r["start_date"]), start=1):
            t["line_number"] = str(k)
            t["intent"] = "salvage"
        for j, inf in enumerate(pt.infusions):
            _infusion_followup(rows, rng, pt, j, inf)
    _second_malignancies(rows, rng, patients)


def _infusion_followup(rows, rng, pt: _Patient, j: int, inf: dict) -> None:
    pid, iid = pt.pid, inf["infusion_id"]
    d0 = _D(inf["infusion_date"])
    end = pt.last  # death or last contact
    nxt = pt.infusions[j + 1]["infusion_date"] if j + 1 < len(pt.infusions) else None
    lab_end = min(
        [end + dt.timedelta(days=1)]
        + ([_D(nxt)] if nxt else [])
        + ([a for a in pt.allo if a > d0][:1])
    )  # labs strictly before this date
    rel = [_D(r["relapse_date"]) for r in pt.relapses]
    cd19_pos_rel = [
        _D(r["relapse_date"]) for r in pt.relapses if r["cd19_status"] in ("positive", "unknown")
    ]
    responded = any(r["infusion_id"] == iid and r["status"] in ("CR", "CRi") for r in pt.responses)
    crs = pt.crs.get(iid, 0)

    def ok(day: int) -> bool:
        return d0 + dt.timedelta(days=day) < lab_end

    def at(day: int) -> dt.date:
        return d0 + dt.timedelta(days=day)

    # ---- ANC: baseline, every 2 days to day 28, then days 35, 42, 60, 90 -------------------
    severe = rng.random() < (0.25 + 0.1 * (crs >= 3))
    onset = int(rng.integers(2, 5))
    dur = int(rng.integers(15, 40)) if severe else int(rng.choice([0, 3, 5, 7, 9, 11]))
    nadir = float(rng.uniform(0.04, 0.3) if severe else rng.uniform(0.12, 0.45))
    recovered = float(rng.uniform(0.9, 3.5))
    late_dip = rng.random() < (0.35 if severe else 0.12)
    anc_days = [-3, *range(0, 29, 2), 35, 42, 60, 90]
    series: dict[int, float] = {}
    for day in anc_days:
        if day > 0 and not ok(day):
            break
        if day < onset:
            v = float(rng.uniform(1.2, 4.0))
        elif day < onset + dur:
            v = nadir * float(rng.uniform(0.8, 1.25))
        elif day > 30 and late_dip:
            v = float(rng.uniform(0.3, 1.4))
        else:
            v = recovered * float(rng.uniform(0.8, 1.2))
        series[day] = round(v, 2)
    for day, v in series.items():
        _lab(rows, pid, iid, at(day), "anc", f"{v:.2f}", "10^9/L")
    # platelets and haemoglobin weekly
    for day in (-3, 0, 7, 14, 21, 28, 60, 90):
        if day > 0 and not ok(day):
            break
        low = 0 <= day <= 28 and (severe or rng.random() < 0.3)
        plt = rng.uniform(8, 45) if low else rng.uniform(60, 260)
        hb = rng.uniform(6.8, 9.0) if low else rng.uniform(8.5, 13.5)
        _lab(rows, pid, iid, at(day), "platelets", f"{plt:.0f}", "10^9/L")
        _lab(rows, pid, iid, at(day), "haemoglobin", f"{hb:.1f}", "g/dL")
    # ferritin and CRP with CRS
    fbase, cbase = float(rng.uniform(300, 1500)), float(rng.uniform(3, 20))
    for day in (0, 3, 7, 14):
        if day > 0 and not ok(day):
            break
        peak = day in (3, 7)
        fer = fbase * (1 + (crs * rng.uniform(1.5, 4.0) if peak else 0.3))
        crp = cbase + (crs * rng.uniform(25, 70) + rng.uniform(0, 15) if peak else 0)
        _lab(rows, pid, iid, at(day), "ferritin", f"{fer:.0f}", "ug/L")
        _lab(rows, pid, iid, at(day), "crp", f"{crp:.1f}", "mg/L")

    # ---- B-cell aplasia, CAR transgene, IgG, lymphocytes ------------------------------------
    aplasia = responded or rng.random() < 0.4
    loss = None
    if aplasia:
        later_rel = [r for r in cd19_pos_rel if r > d0]
        if later_rel and (later_rel[0] - d0).days > 75:
            loss = (later_rel[0] - d0).days - int(rng.integers(20, 60))
        elif rng.random() < 0.55:
            loss = int(rng.exponential(300)) + 60
    car_loss = None if loss is None else max(21, loss - int(rng.integers(10, 60)))
    peak = float(10 ** rng.normal(4.4, 0.5))
    for day in (7, 14, 28, 90, 180, 365):
        if not ok(day):
            break
        if car_loss is not None and day >= car_loss:
            copies = 0.0
        else:
            copies = peak * {7: 0.4, 14: 1.0, 28: 0.5, 90: 0.06, 180: 0.02, 365: 0.01}[day]
            copies *= float(rng.uniform(0.7, 1.3))
        _lab(rows, pid, iid, at(day), "car_transgene", f"{copies:.0f}", "copies/ug_DNA")
    for day in (30, 90, 180, 270, 365, 540, 730):
        if not ok(day):
            break
        aplastic = aplasia and (loss is None or day < loss)
        b = rng.uniform(0.0, 0.6) if aplastic else rng.uniform(2.5, 15.0)
        igg = rng.uniform(2.5, 5.5) if aplastic else rng.uniform(5.5, 12.0)
        _lab(rows, pid, iid, at(day), "cd19_b_cells", f"{b:.2f}", "%")
        _lab(rows, pid, iid, at(day), "lymphocytes", f"{rng.uniform(0.3, 2.2):.2f}", "10^9/L")
        _lab(rows, pid, iid, at(day), "igg", f"{igg:.1f}", "g/L")

    # ---- recorded ICAHT grades (= the grades computed from the series) -----------------------
    cens = [
        d
        for d in (
            rel
            + [_D(t["start_date"]) for t in pt.therapies]
            + pt.allo
            + ([end] if pt.dead else [])
            + ([_D(nxt)] if nxt else [])
        )
        if d > d0
    ]
    censor_day = (min(cens) - d0).days if cens else None
    days = sorted(series)
    r = icaht(days, [series[d] for d in days], censor_day=censor_day)
    if rng.random() < 0.7:
        first_low = next((d for d in days if series[d] <= 0.5 and d >= 0), None)
        if r.early_grade and first_low is not None:
            _icaht_row(rows, pid, iid, at(first_low), "ICAHT_early", r.early_grade)
        late_low = [d for d in days if d > 30 and series[d] <= 1.5]
        if r.late_grade and late_low and (censor_day is None or late_low[0] <= censor_day):
            _icaht_row(rows, pid, iid, at(late_low[0]), "ICAHT_late", r.late_grade)

    # ---- infections ----------------------------------------------------------------------
    fu_days = (end - d0).days
    stop = (lab_end - d0).days - 1 if nxt else fu_days
    if pt.dead and pt.death_cause == "infection" and j == len(pt.infusions) - 1:
        on = max(0, fu_days - int(rng.integers(1, 5)))
        _infection(rows, pid, iid, at(on), "bloodstream", "bacterial", "fatal", rng)
        stop = on - 1
    p_early = 0.22 + (0.2 if severe else 0.0)
    if stop >= 3 and rng.random() < p_early:
        on = int(rng.integers(3, min(stop, 30) + 1))
        kind = "fungal" if severe and rng.random() < 0.2 else "bacterial"
        site = (
            "pneumonia" if kind == "fungal" else str(rng.choice(["bloodstream", "urinary_tract"]))
        )
        _infection(rows, pid, iid, at(on), site, kind, _severity(rng), rng)
    if stop >= 60 and rng.random() < (0.35 if aplasia else 0.15):
        on = int(rng.integers(31, min(stop, 540) + 1))
        site = str(rng.choice(["upper_respiratory", "pneumonia", "gastrointestinal"]))
        _infection(rows, pid, iid, at(on), site, "viral", _severity(rng), rng)

    # ---- IEC-HS --------------------------------------------------------------------------
    if crs >= 2 and fu_days > 25 and rng.random() < 0.12:
        on = int(rng.integers(9, 21))
        grade = int(rng.choice([1, 2, 2, 3]))
        rows["iec_hs"].append(
            {
                "patient_id": pid,
                "infusion_id": iid,
                "onset_date": _iso(at(on)),
                "resolution_date": _iso(at(on + int(rng.integers(5, 15)))),
                "grade": str(grade),
                "ferritin_max": f"{rng.uniform(12000, 90000):.0f}",
                "fibrinogen_min": f"{rng.uniform(0.6, 1.5):.1f}",
                "haemophagocytosis": "true" if rng.random() < 0.4 else "false",
                "anakinra": "true" if grade >= 2 else "false",
                "steroids": "true" if grade >= 2 else "false",
                "fatal": "false",
            }
        )


def _severity(rng) -> str:
    return str(
        rng.choice(["mild", "moderate", "severe", "life_threatening"], p=[0.2, 0.45, 0.25, 0.1])
    )


def _infection(rows, pid, iid, onset, site, organism_class, severity, rng) -> None:
    organism = {
        "bacterial": ["E. coli", "Klebsiella pneumoniae", "Staphylococcus epidermidis"],
        "viral": ["RSV", "influenza A", "SARS-CoV-2", "CMV", "norovirus"],
        "fungal": ["Aspergillus fumigatus", "Candida albicans"],
    }[organism_class]
    rows["infections"].append(
        {
            "patient_id": pid,
            "infusion_id": iid,
            "onset_date": _iso(onset),
            "resolution_date": "",
            "infection_type": site,
            "organism_class": organism_class,
            "organism": str(rng.choice(organism)),
            "severity": severity,
        }
    )


def _icaht_row(rows, pid, iid, onset, toxicity, grade) -> None:
    rows["toxicities"].append(
        {
            "patient_id": pid,
            "infusion_id": iid,
            "toxicity": toxicity,
            "onset_date": _iso(onset),
            "grade": str(grade),
        }
    )


def _second_malignancies(rows, rng, patients: dict[str, _Patient]) -> None:
    """A few second malignancies among patients followed for more than a year."""
    long = []
    for pid in sorted(patients):
        pt = patients[pid]
        d0 = _D(pt.infusions[0]["infusion_date"])
        if (pt.last - d0).days > 420:
            long.append((pid, d0, pt.last))
    picks = rng.choice(len(long), size=min(4, len(long)), replace=False)
    kinds = [
        ("myeloid", "MDS with del(7q)", ""),
        ("myeloid", "therapy-related AML", ""),
        ("non_melanoma_skin", "basal cell carcinoma", ""),
        ("t_cell", "peripheral T-cell lymphoma, NOS", "negative"),
    ]
    for (mtype, histology, car), i in zip(kinds, sorted(int(x) for x in picks), strict=True):
        pid, d0, last = long[i]
        day = int(rng.integers(365, (last - d0).days + 1))
        rows["second_malignancies"].append(
            {
                "patient_id": pid,
                "diagnosis_date": _iso(d0 + dt.timedelta(days=day)),
                "malignancy_type": mtype,
                "histology": histology,
                "car_status": car,
            }
        )
