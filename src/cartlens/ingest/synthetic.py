"""Seeded synthetic CAR-T registry in the import format (a CSV folder of any size).

The generator is vectorised (numpy) so that 100,000 patients take seconds. Each patient follows
a realistic sequence; all dates respect the validation rules, so a generated registry imports
without errors (a few deliberate ASTCT grade mismatches give R060 warnings when
``mismatch_rate > 0``).

Sequence per patient
--------------------
1. Diagnosis (2010-2021), B-ALL in 95 %; age 2-75; 30 % had an allo-HSCT before CAR-T.
2. CART1 120-1500 days after diagnosis (day 0). Day-28 response: CR 70 %, CRi 10 %, PR 4 %,
   NR 16 %; 4 % have no assessment (not evaluable). Evaluable patients are also assessed on
   day 14 (responders as PR then); responders are reassessed on days 60, 90, 120, 180, 270,
   365, 540 and 730 while in remission, and assessed as "relapse" on the relapse date.
3. CRS in 80 % (ASTCT grade 1/2/3/4 with probabilities .45/.30/.20/.05, raw components
   consistent with the grade), onset day 1-7; ICANS in 25 %, onset day 3-10.
4. 60 % of responders relapse after an exponential time (mean 400 days from day 34); 70 % of
   non-responders progress on day 35-90.
5. 35 % of responders still in remission on day 90 receive a consolidative allo-HSCT on day
   60-150 (before any relapse).
6. 35 % of patients with relapse/progression receive CART2 (course 2) 20-60 days later, with a
   reason matching the event; CART2 has its own response (CR 50 %), toxicities and relapse.
   Others with relapse/progression start another therapy 7-30 days after it.
7. Death: after relapse/progression (exponential, mean 250 days) or without relapse (mean 8000
   days); administrative end of follow-up 2025-06-30; last contact is the death date or a date
   between the last event and the end of follow-up (5 % lost to follow-up).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

EPOCH = np.datetime64("1970-01-01", "D")
ADMIN_END = int((np.datetime64("2025-06-30", "D") - EPOCH).astype(int))
NA_DAY = np.iinfo(np.int64).max // 2  # "no date"


def _dates(days: np.ndarray) -> np.ndarray:
    """Integer day numbers -> ISO strings ('' where missing)."""
    days = np.asarray(days, dtype=np.int64)
    ok = days < NA_DAY
    out = np.full(days.shape, "", dtype=object)
    if ok.any():
        out[ok] = np.datetime_as_string(EPOCH + days[ok].astype("timedelta64[D]"), unit="D")
    return out


def generate_registry(n_patients: int, seed: int = 0, *, mismatch_rate: float = 0.02) -> dict:
    """Generate the entity frames of a synthetic registry.

    Parameters
    ----------
    n_patients : int
        Number of patients (each has at least one infusion).
    seed : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same registry.
    mismatch_rate : float
        Share of toxicity episodes whose recorded grade is one higher than the components give.

    Returns
    -------
    dict of str -> pandas.DataFrame
        One frame per entity with text/numeric columns as written to CSV.
    """
    if n_patients < 1:
        raise ValueError("n_patients must be at least 1")
    rng = np.random.default_rng(seed)
    n = int(n_patients)
    pid = np.array([f"P{i:06d}" for i in range(1, n + 1)], dtype=object)
    d0 = int((np.datetime64("2010-01-01", "D") - EPOCH).astype(int))
    dx = d0 + rng.integers(0, 12 * 365, n)
    age = rng.uniform(2, 75, n).round(0)
    dx_year = (EPOCH + dx.astype("timedelta64[D]")).astype("datetime64[Y]").astype(int) + 1970
    cart1 = dx + rng.integers(120, 1500, n)
    cart1 = np.minimum(cart1, ADMIN_END - 200)
    prior = rng.random(n) < 0.30
    prior_date = np.where(prior, dx + ((cart1 - dx) * rng.uniform(0.3, 0.8, n)).astype(int), NA_DAY)

    # ---- CART1 response
    u = rng.random(n)
    resp1 = np.select([u < 0.70, u < 0.80, u < 0.84], ["CR", "CRi", "PR"], "NR").astype(object)
    evaluable1 = rng.random(n) >= 0.04
    responder1 = np.isin(resp1, ["CR", "CRi"]) & evaluable1
    cured1 = rng.random(n) < 0.4
    rel1 = np.where(
        responder1 & ~cured1,
        cart1 + 34 + rng.exponential(400, n).astype(int) + 1,
        np.where(~responder1 & (rng.random(n) < 0.7), cart1 + rng.integers(35, 91, n), NA_DAY),
    )
    rel1_type = np.where(
        responder1,
        rng.choice(["morphologic", "mrd", "extramedullary"], n, p=[0.7, 0.2, 0.1]),
        "progression",
    ).astype(object)
    hsct = responder1 & (rel1 > cart1 + 150) & (rng.random(n) < 0.35)
    hsct_date = np.where(hsct, cart1 + rng.integers(60, 151, n), NA_DAY)
    # ---- CART2
    had_event = rel1 < NA_DAY
    cart2_flag = had_event & (rng.random(n) < 0.35)
    cart2 = np.where(cart2_flag, rel1 + rng.integers(20, 61, n), NA_DAY)
    resp2 = np.where(rng.random(n) < 0.5, "CR", "NR").astype(object)
    responder2 = cart2_flag & (resp2 == "CR")
    rel2 = np.where(
        responder2,
        cart2 + 34 + rng.exponential(200, n).astype(int) + 1,
        np.where(cart2_flag & (rng.random(n) < 0.7), cart2 + rng.integers(35, 91, n), NA_DAY),
    )
    other_ther = had_event & ~cart2_flag & (rng.random(n) < 0.8)
    ther_date = np.where(other_ther, rel1 + rng.integers(7, 31, n), NA_DAY)
    # ---- death
    last_rel = np.where(rel2 < NA_DAY, rel2, rel1)
    death = np.where(
        last_rel < NA_DAY,
        np.maximum(last_rel, np.where(cart2 < NA_DAY, cart2, 0))
        + 1
        + rng.exponential(250, n).astype(int),
        cart1 + 1 + rng.exponential(8000, n).astype(int),
    )
    # events must precede death: HSCT and therapies happen only if before death
    death = np.maximum(death, np.where(hsct_date < NA_DAY, hsct_date + 1, 0))
    death = np.maximum(death, np.where(ther_date < NA_DAY, ther_date + 1, 0))
    dead = death <= ADMIN_END
    death = np.where(dead, death, NA_DAY)

    def alive_at(day: np.ndarray) -> np.ndarray:
        return (day < NA_DAY) & (day <= ADMIN_END) & (day <= death)

    keep_rel1 = alive_at(rel1)
    rel1 = np.where(keep_rel1, rel1, NA_DAY)
    cart2_flag &= alive_at(cart2) & keep_rel1
    cart2 = np.where(cart2_flag, cart2, NA_DAY)
    rel2 = np.where(cart2_flag & alive_at(rel2), rel2, NA_DAY)
    hsct_date = np.where(alive_at(hsct_date), hsct_date, NA_DAY)
    ther_date = np.where(alive_at(ther_date) & keep_rel1, ther_date, NA_DAY)

    # ---- infusions
    inf_pid = np.concatenate([pid, pid[cart2_flag]])
    inf_day = np.concatenate([cart1, cart2[cart2_flag]])
    inf_no = np.concatenate([np.ones(n, int), np.full(cart2_flag.sum(), 2)])
    m2 = int(cart2_flag.sum())
    reason_map = {
        "progression": "no_response",
        "morphologic": "cd19_positive_relapse",
        "mrd": "mrd_positive_remission",
        "extramedullary": "extramedullary_relapse",
    }
    reasons = np.array([reason_map[t] for t in rel1_type[cart2_flag]], dtype=object)
    pr_mask = resp1[cart2_flag] == "PR"
    reasons[pr_mask & (rel1_type[cart2_flag] == "progression")] = "partial_response"
    inf_id = np.array([f"{p}-I{k}" for p, k in zip(inf_pid, inf_no)], dtype=object)
    n_inf = len(inf_id)
    dose = np.exp(rng.normal(np.log(1e6), 0.6, n_inf)).round(-3)
    infusions = pd.DataFrame(
        {
            "infusion_id": inf_id,
            "patient_id": inf_pid,
            "infusion_date": _dates(inf_day),
            "infusion_number": inf_no,
            "course_number": inf_no,
            "product": rng.choice(["CTL019", "HU-CD19-BB", "CD19-28z"], n_inf),
            "target_antigen": "CD19",
            "scfv_origin": rng.choice(["murine", "humanised"], n_inf, p=[0.7, 0.3]),
            "costim_domain": rng.choice(["4-1BB", "CD28"], n_inf, p=[0.75, 0.25]),
            "dose_cells_per_kg": dose,
            "lymphodepletion": rng.choice(["flu_cy", "cy", "other"], n_inf, p=[0.85, 0.1, 0.05]),
            "bridging_therapy": "",
            "marrow_blasts_pct": rng.uniform(0, 95, n_inf).round(1),
            "mrd_pct": "",
            "extramedullary_disease": np.where(rng.random(n_inf) < 0.1, "true", "false"),
            "cd19_status": "positive",
            "reinfusion_reason": np.concatenate([np.full(n, "", dtype=object), reasons]),
        }
    )

    # ---- patients
    last_event = np.max(
        np.vstack(
            [
                inf_day_max := np.where(cart2 < NA_DAY, cart2, cart1),
                np.where(rel1 < NA_DAY, rel1, 0),
                np.where(rel2 < NA_DAY, rel2, 0),
                np.where(hsct_date < NA_DAY, hsct_date, 0),
                np.where(ther_date < NA_DAY, ther_date, 0),
            ]
        ),
        axis=0,
    )
    last_event = np.maximum(last_event, inf_day_max + 40)  # response assessments/toxicities
    lost = ~dead & (rng.random(n) < 0.05)
    lc_alive = np.maximum(last_event, ADMIN_END - rng.integers(0, 180, n))
    lc_alive = np.where(lost, np.minimum(lc_alive, last_event + rng.integers(0, 400, n)), lc_alive)
    lc_alive = np.minimum(lc_alive, ADMIN_END)
    last_contact = np.where(dead, death, lc_alive)
    status = np.where(dead, "dead", np.where(lost, "lost_to_follow_up", "alive"))
    patients = pd.DataFrame(
        {
            "patient_id": pid,
            "sex": rng.choice(["male", "female"], n),
            "birth_year": (dx_year - age).astype(int),
            "age_at_diagnosis": age.astype(int),
            "diagnosis_date": _dates(dx),
            "disease": rng.choice(["B-ALL", "other"], n, p=[0.95, 0.05]),
            "disease_subtype": "",
            "cytogenetic_risk": rng.choice(
                ["favourable", "intermediate", "adverse", "unknown"], n, p=[0.2, 0.4, 0.3, 0.1]
            ),
            "ph_positive": np.where(rng.random(n) < 0.2, "true", "false"),
            "tp53_mutated": np.where(rng.random(n) < 0.1, "true", "false"),
            "kmt2a_rearranged": np.where(rng.random(n) < 0.08, "true", "false"),
            "risk_markers": "",
            "prior_therapy_lines": rng.integers(1, 7, n),
            "prior_allo_hsct": np.where(prior, "true", "false"),
            "prior_allo_hsct_date": _dates(prior_date),
            "last_contact_date": _dates(last_contact),
            "last_contact_status": status,
        }
    )

    # ---- responses: day-28 (±5) then reassessments while in remission
    def responses_for(day0, inf_ids, pids, status_, evaluable, responder, relapse, stop):
        rows = []
        early = day0 + 14
        ok0 = evaluable & (early <= stop)
        rows.append((inf_ids[ok0], pids[ok0], early[ok0], np.where(responder, "PR", status_)[ok0]))
        first = day0 + 28 + rng.integers(-5, 6, len(day0))
        ok = evaluable & (first <= stop)
        rows.append((inf_ids[ok], pids[ok], first[ok], status_[ok]))
        for d in (60, 90, 120, 180, 270, 365, 540, 730):
            day = day0 + d
            ok2 = responder & (day < relapse) & (day <= stop)
            rows.append((inf_ids[ok2], pids[ok2], day[ok2], status_[ok2]))
        ok3 = responder & (relapse <= stop)
        rows.append((inf_ids[ok3], pids[ok3], relapse[ok3], np.full(ok3.sum(), "relapse")))
        return rows

    stop1 = np.minimum(
        np.minimum(last_contact, np.where(cart2 < NA_DAY, cart2 - 1, NA_DAY)), ADMIN_END
    )
    parts = responses_for(cart1, inf_id[:n], pid, resp1, evaluable1, responder1, rel1, stop1)
    pid2 = pid[cart2_flag]
    parts += responses_for(
        cart2[cart2_flag],
        inf_id[n:],
        pid2,
        resp2[cart2_flag],
        np.ones(m2, bool),
        responder2[cart2_flag],
        rel2[cart2_flag],
        last_contact[cart2_flag],
    )
    r_inf = np.concatenate([p[0] for p in parts])
    r_pid = np.concatenate([p[1] for p in parts])
    r_day = np.concatenate([p[2] for p in parts])
    r_status = np.concatenate([np.asarray(p[3], dtype=object) for p in parts])
    nr = len(r_inf)
    in_cr = np.isin(r_status, ["CR", "CRi"])
    responses = pd.DataFrame(
        {
            "patient_id": r_pid,
            "infusion_id": r_inf,
            "assessment_date": _dates(r_day),
            "method": "marrow_morphology",
            "status": r_status,
            "mrd_negative": np.where(in_cr, np.where(rng.random(nr) < 0.85, "true", "false"), ""),
            "mrd_pct": np.where(in_cr, "0", ""),
            "marrow_blasts_pct": np.where(
                in_cr, rng.uniform(0, 4.9, nr).round(1), rng.uniform(5, 90, nr).round(1)
            ),
        }
    ).sort_values(["patient_id", "assessment_date"], kind="stable")

    # ---- toxicities
    tox_parts = []
    for kind, p_any, probs in (
        ("CRS", 0.8, [0.45, 0.30, 0.20, 0.05]),
        ("ICANS", 0.25, [0.4, 0.3, 0.2, 0.1]),
    ):
        has = rng.random(n_inf) < (p_any if kind == "ICANS" else np.where(inf_no == 1, 0.8, 0.65))
        idx = np.flatnonzero(has)
        g = rng.choice([1, 2, 3, 4], len(idx), p=probs)
        onset = inf_day[idx] + (
            rng.integers(1, 8, len(idx)) if kind == "CRS" else rng.integers(3, 11, len(idx))
        )
        pat_idx = np.searchsorted(pid, inf_pid[idx])
        lim = last_contact[pat_idx]
        ok = onset <= lim
        idx, g, onset, lim = idx[ok], g[ok], onset[ok], lim[ok]
        k = len(idx)
        resolution = np.minimum(onset + rng.integers(2, 11, k), lim)
        rec = g + (rng.random(k) < mismatch_rate)
        rec = np.minimum(rec, 4)
        df = pd.DataFrame(
            {
                "patient_id": inf_pid[idx],
                "infusion_id": inf_id[idx],
                "toxicity": kind,
                "onset_date": _dates(onset),
                "resolution_date": _dates(resolution),
                "grade": rec,
            }
        )
        if kind == "CRS":
            df["max_temperature_c"] = rng.uniform(38.1, 40.5, k).round(1)
            hyp_or_oxy = rng.random(k) < 0.5
            df["hypotension"] = np.select(
                [g == 1, (g == 2) & hyp_or_oxy, g == 2, (g == 3) & hyp_or_oxy, g == 3, g == 4],
                [
                    "none",
                    "no_vasopressor",
                    "none",
                    "one_vasopressor",
                    "none",
                    "multiple_vasopressors",
                ],
                "none",
            )
            df["oxygen"] = np.select(
                [g == 1, (g == 2) & ~hyp_or_oxy, (g == 3) & ~hyp_or_oxy, g == 4],
                ["none", "low_flow", "high_flow", "none"],
                "none",
            )
            df["tocilizumab"] = np.where(g >= 2, "true", "false")
            df["steroids"] = np.where(g >= 3, "true", "false")
        else:
            df["ice_score"] = np.select(
                [g == 1, g == 2, g == 3],
                [rng.integers(7, 10, k), rng.integers(3, 7, k), rng.integers(0, 3, k)],
                0,
            )
            df["consciousness"] = np.where(g == 4, "unarousable", "normal")
            df["seizure"] = "none"
            df["steroids"] = np.where(g >= 2, "true", "false")
        df["fatal"] = "false"
        tox_parts.append(df)
    toxicities = pd.concat(tox_parts, ignore_index=True)

    # ---- transplants, relapses, therapies, deaths
    tp_pid = np.concatenate([pid[prior], pid[hsct_date < NA_DAY]])
    tp_day = np.concatenate([prior_date[prior], hsct_date[hsct_date < NA_DAY]])
    k = len(tp_pid)
    transplants = pd.DataFrame(
        {
            "patient_id": tp_pid,
            "transplant_date": _dates(tp_day),
            "transplant_type": "allo",
            "donor_type": rng.choice(
                ["matched_sibling", "matched_unrelated", "haploidentical"], k, p=[0.3, 0.3, 0.4]
            ),
            "conditioning": rng.choice(["myeloablative", "reduced_intensity"], k, p=[0.7, 0.3]),
            "conditioning_regimen": "",
        }
    ).sort_values(["patient_id", "transplant_date"], kind="stable")
    r1 = rel1 < NA_DAY
    r2 = rel2 < NA_DAY
    rel_type2 = np.where(responder2, "morphologic", "progression")
    relapses = pd.DataFrame(
        {
            "patient_id": np.concatenate([pid[r1], pid[r2]]),
            "relapse_date": _dates(np.concatenate([rel1[r1], rel2[r2]])),
            "relapse_type": np.concatenate([rel1_type[r1], rel_type2[r2]]),
            "cd19_status": rng.choice(
                ["positive", "negative"], int(r1.sum() + r2.sum()), p=[0.7, 0.3]
            ),
            "site": "",
        }
    ).sort_values(["patient_id", "relapse_date"], kind="stable")
    t = ther_date < NA_DAY
    therapies = pd.DataFrame(
        {
            "patient_id": pid[t],
            "start_date": _dates(ther_date[t]),
            "therapy_type": rng.choice(
                ["chemotherapy", "blinatumomab", "inotuzumab"], int(t.sum())
            ),
            "regimen": "",
        }
    )
    relapsed_any = r1
    deaths = pd.DataFrame(
        {
            "patient_id": pid[dead],
            "death_date": _dates(death[dead]),
            "cause": np.where(
                relapsed_any[dead],
                "relapse_or_progression",
                rng.choice(["infection", "other", "gvhd"], int(dead.sum())),
            ),
        }
    )
    return {
        "patients": patients,
        "infusions": infusions.sort_values(["patient_id", "infusion_number"], kind="stable"),
        "responses": responses,
        "toxicities": toxicities.sort_values(["patient_id", "onset_date"], kind="stable"),
        "transplants": transplants,
        "relapses": relapses,
        "therapies": therapies,
        "deaths": deaths,
    }


def write_registry(folder: str | Path, n_patients: int, seed: int = 0, **kwargs) -> dict[str, int]:
    """Write a synthetic registry as ``<entity>.csv`` files; return the row count per entity."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    frames = generate_registry(n_patients, seed, **kwargs)
    counts = {}
    for name, df in frames.items():
        df.to_csv(out / f"{name}.csv", index=False)
        counts[name] = len(df)
    return counts
