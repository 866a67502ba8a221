"""Make the SYNTHETIC multi-product example registry as a REDCap flat export.

Every patient and every value here is invented. The registry starts from cartlens' seeded
synthetic generator (``cartlens.ingest.synthetic``) and is then given four commercial-style
products across four diseases (with their target antigens and co-stimulatory domains),
bridging therapies, causes of death and missing values (cytogenetic risk, bridging, marrow
blasts). It is written the way a centre's REDCap project exports it: ``export.csv`` (raw
values; one row per record plus one row per instance of each repeating instrument),
``dictionary.csv`` (the data dictionary, with coded choices for sex, disease and product) and
``mapping.toml`` (which REDCap field is which cartlens field).

Run ``python examples/multi_product/make_example.py`` to regenerate the files (the output is
the same for the same seed). ``study.toml`` beside them is the example study.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20261204
N_PATIENTS = 160

# product -> (disease choices with probabilities, target antigen, costim domain, scFv origin)
PRODUCTS = {
    "tisa-cel": ((["B-ALL", "DLBCL"], [0.5, 0.5]), "CD19", "4-1BB", "murine"),
    "axi-cel": ((["DLBCL"], [1.0]), "CD19", "CD28", "murine"),
    "brexu-cel": ((["MCL", "B-ALL"], [0.7, 0.3]), "CD19", "CD28", "murine"),
    "cilta-cel": ((["MM"], [1.0]), "BCMA", "4-1BB", "human"),
}
PRODUCT_CODES = {"1": "tisa-cel", "2": "axi-cel", "3": "brexu-cel", "4": "cilta-cel"}
DISEASE_CODES = {"1": "B-ALL", "2": "DLBCL", "3": "MCL", "4": "MM"}
SEX_CODES = {"1": "male", "2": "female"}

#: entity -> (REDCap instrument, field prefix); "" = the record's own (non-repeating) row
INSTRUMENTS = {
    "patients": ("", ""),
    "deaths": ("", "death_"),
    "infusions": ("car_t_infusion", "inf_"),
    "responses": ("response", "resp_"),
    "toxicities": ("toxicity", "tox_"),
    "relapses": ("relapse", "rel_"),
    "transplants": ("transplant", "tx_"),
    "therapies": ("therapy", "ther_"),
}
CODED = {("patients", "sex"): SEX_CODES, ("patients", "disease"): DISEASE_CODES}
CODED_INF = {"product": PRODUCT_CODES}


def registry() -> dict[str, pd.DataFrame]:
    """The entity tables (cartlens data model) of the example."""
    from cartlens.ingest.synthetic import generate_registry

    reg = generate_registry(N_PATIENTS, seed=SEED, mismatch_rate=0.0)
    rng = np.random.default_rng(SEED + 1)
    pats = reg["patients"].copy()
    inf = reg["infusions"].copy()
    names = list(PRODUCTS)
    product = rng.choice(names, len(pats), p=[0.3, 0.3, 0.2, 0.2])
    disease = np.array(
        [rng.choice(PRODUCTS[p][0][0], p=PRODUCTS[p][0][1]) for p in product], dtype=object
    )
    pats["disease"] = disease
    ph = pats["ph_positive"].where(pats["disease"] == "B-ALL", "")
    pats["ph_positive"] = ph
    risk = pats["cytogenetic_risk"].astype(object)
    risk[rng.random(len(pats)) < 0.15] = ""  # not recorded
    pats["cytogenetic_risk"] = risk
    by_pid = dict(zip(pats["patient_id"], product))
    p_inf = inf["patient_id"].map(by_pid)
    inf["product"] = p_inf
    inf["target_antigen"] = p_inf.map(lambda p: PRODUCTS[p][1])
    inf["costim_domain"] = p_inf.map(lambda p: PRODUCTS[p][2])
    inf["scfv_origin"] = p_inf.map(lambda p: PRODUCTS[p][3])
    inf["cd19_status"] = np.where(inf["target_antigen"] == "CD19", "positive", "")
    bridging = rng.choice(
        ["none", "chemotherapy", "radiotherapy", "polatuzumab", ""], len(inf),
        p=[0.3, 0.3, 0.15, 0.15, 0.1],
    )
    inf["bridging_therapy"] = np.where(bridging == "none", "", bridging)
    blasts = inf["marrow_blasts_pct"].astype(float)
    lymphoma = inf["patient_id"].map(dict(zip(pats["patient_id"], pats["disease"]))) != "B-ALL"
    blasts = np.where(lymphoma, np.nan, blasts)
    blasts[rng.random(len(inf)) < 0.1] = np.nan
    inf["marrow_blasts_pct"] = [("" if np.isnan(b) else f"{b:.1f}") for b in blasts]
    reg["patients"] = pats
    reg["infusions"] = inf
    deaths = reg["deaths"].copy()
    if len(deaths):
        cause = rng.choice(
            ["relapse_or_progression", "infection", "crs", "other", "unknown"],
            len(deaths),
            p=[0.6, 0.2, 0.05, 0.1, 0.05],
        )
        deaths["cause"] = cause
        reg["deaths"] = deaths
    return reg


def to_redcap(reg: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, list[dict], str]:
    """``(export, dictionary rows, mapping TOML)`` of the entity tables."""
    rows: list[dict] = []
    fields: dict[str, dict] = {"record_id": {"form": "demographics", "type": "text", "label": "Record ID", "choices": ""}}
    mapping = [
        "# SYNTHETIC example: how this REDCap project maps onto the cartlens data model.",
        "# (docs/data-model.md describes the mapping keys.)",
        "",
    ]

    def field(name, form, entity, col):
        choices = CODED.get((entity, col)) or (CODED_INF.get(col) if entity == "infusions" else None)
        fields.setdefault(
            name,
            {
                "form": form or "demographics",
                "type": "radio" if choices else "text",
                "label": col.replace("_", " "),
                "choices": " | ".join(f"{k}, {v}" for k, v in choices.items()) if choices else "",
            },
        )
        return choices

    records = list(reg["patients"]["patient_id"])
    base = {pid: {"record_id": pid, "redcap_repeat_instrument": "", "redcap_repeat_instance": ""} for pid in records}
    for entity, (instrument, prefix) in INSTRUMENTS.items():
        df = reg.get(entity)
        if df is None or df.empty:
            continue
        cols = [c for c in df.columns if c != "patient_id"]
        mapping.append(f"[entities.{entity}]")
        mapping.append(f'instrument = "{instrument}"')
        if entity == "deaths":
            mapping.append('require = "death_date"')
        mapping.append(f"[entities.{entity}.fields]")
        mapping.append('patient_id = "record_id"')
        for c in cols:
            name = f"{prefix}{c}" if not (entity == "deaths" and c.startswith("death_")) else c
            field(name, instrument or ("death" if entity == "deaths" else "demographics"), entity, c)
            mapping.append(f'{c} = "{name}"')
        mapping.append("")
        if not instrument:
            for r in df.to_dict("records"):
                rec = base[r["patient_id"]]
                for c in cols:
                    name = f"{prefix}{c}" if not (entity == "deaths" and c.startswith("death_")) else c
                    codes = CODED.get((entity, c))
                    v = "" if pd.isna(r[c]) else str(r[c])
                    if codes and v:
                        v = {lab: k for k, lab in codes.items()}[v]
                    rec[name] = v
            continue
        counter: dict[str, int] = {}
        for r in df.to_dict("records"):
            pid = r["patient_id"]
            counter[pid] = counter.get(pid, 0) + 1
            row = {"record_id": pid, "redcap_repeat_instrument": instrument, "redcap_repeat_instance": str(counter[pid])}
            for c in cols:
                name = f"{prefix}{c}"
                v = "" if pd.isna(r[c]) else str(r[c])
                codes = CODED_INF.get(c) if entity == "infusions" else None
                if codes and v:
                    v = {lab: k for k, lab in codes.items()}[v]
                row[name] = v
            rows.append(row)
    export = pd.DataFrame([base[p] for p in records] + rows).fillna("")
    order = ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance"]
    export = export[order + [c for c in export.columns if c not in order]]
    dictionary = [
        {
            "Variable / Field Name": k,
            "Form Name": v["form"],
            "Section Header": "",
            "Field Type": v["type"],
            "Field Label": v["label"],
            "Choices, Calculations, OR Slider Labels": v["choices"],
        }
        for k, v in fields.items()
    ]
    return export, dictionary, "\n".join(mapping)


def main() -> None:
    reg = registry()
    export, dictionary, mapping = to_redcap(reg)
    out = HERE / "redcap"
    out.mkdir(exist_ok=True)
    export.to_csv(out / "export.csv", index=False)
    with (out / "dictionary.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(dictionary[0]))
        w.writeheader()
        w.writerows(dictionary)
    (out / "mapping.toml").write_text(mapping + "\n", encoding="utf-8")
    print(f"{len(reg['patients'])} patients, {len(reg['infusions'])} infusions -> {out}")


if __name__ == "__main__":
    main()
