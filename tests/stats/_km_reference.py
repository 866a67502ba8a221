"""Loaders for the R reference data used by the Kaplan-Meier / log-rank / follow-up tests.

Each analysis in ``tests/data/reference/<dataset>.json`` names its data and endpoint in its
``r_call``; the functions here rebuild exactly those inputs from the CSV copies.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE = Path(__file__).parents[1] / "data" / "reference"


def load(name: str) -> dict:
    with open(REFERENCE / f"{name}.json") as f:
        return json.load(f)


def lung() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "lung.csv")
    d["dead"] = (d["status"] == 2).astype(int)
    d["cens"] = (d["status"] == 1).astype(int)
    return d


def veteran() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "veteran.csv")
    d["cens"] = (d["status"] == 0).astype(int)
    return d


def jasa1() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / "jasa1.csv")


def jasa1_subj() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "derived" / "jasa1_per_patient.csv")
    d["cens"] = (d["dead"] == 0).astype(int)
    return d


def mgus2() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "mgus2.csv")
    d["cens"] = (d["death"] == 0).astype(int)
    # cut(age, c(-Inf, 60, 70, 80, Inf), right = FALSE)
    d["agegrp"] = np.searchsorted([60, 70, 80], d["age"].to_numpy(), side="right")
    return d


# (dataset, block name) -> (data loader, time column, event column, entry column, group column)
KM_CASES = {
    ("lung", "by_sex"): (lung, "time", "dead", None, "sex"),
    ("lung", "by_ph_ecog"): (lung, "time", "dead", None, "ph.ecog"),
    ("lung", "overall"): (lung, "time", "dead", None, None),
    ("veteran", "by_trt"): (veteran, "time", "status", None, "trt"),
    ("veteran", "by_celltype"): (veteran, "time", "status", None, "celltype"),
    ("veteran", "overall"): (veteran, "time", "status", None, None),
    ("heart", "overall_per_patient"): (jasa1_subj, "futime", "dead", None, None),
    ("heart", "by_surgery_per_patient"): (jasa1_subj, "futime", "dead", None, "surgery"),
    ("heart", "overall_counting_process"): (jasa1, "stop", "event", "start", None),
    ("heart", "simon_makuch_by_transplant"): (jasa1, "stop", "event", "start", "transplant"),
    ("mgus2", "os_by_sex"): (mgus2, "futime", "death", None, "sex"),
    ("mgus2", "os_overall"): (mgus2, "futime", "death", None, None),
}

STEP_CASES = {
    ("lung", "km_steps_overall"): (lung, "time", "dead", None),
    ("veteran", "km_steps_overall"): (veteran, "time", "status", None),
    ("heart", "km_steps_overall"): (jasa1_subj, "futime", "dead", None),
    ("heart", "km_steps_overall_counting_process"): (jasa1, "stop", "event", "start"),
    ("mgus2", "km_steps_overall"): (mgus2, "futime", "death", None),
}

FOLLOWUP_CASES = {
    ("lung", "overall"): (lung, "time", "dead", None),
    ("lung", "by_sex"): (lung, "time", "dead", "sex"),
    ("veteran", "overall"): (veteran, "time", "status", None),
    ("veteran", "by_trt"): (veteran, "time", "status", "trt"),
    ("heart", "overall"): (jasa1_subj, "futime", "dead", None),
    ("mgus2", "overall"): (mgus2, "futime", "death", None),
    ("mgus2", "by_sex"): (mgus2, "futime", "death", "sex"),
}

# (dataset, block) -> (loader, time, event, group, strata)
LOGRANK_CASES = {
    ("lung", "sex_rho0"): (lung, "time", "dead", "sex", None),
    ("lung", "sex_rho1"): (lung, "time", "dead", "sex", None),
    ("lung", "sex_stratified_ph_ecog_rho0"): (lung, "time", "dead", "sex", "ph.ecog"),
    ("lung", "sex_stratified_ph_ecog_rho1"): (lung, "time", "dead", "sex", "ph.ecog"),
    ("lung", "ph_ecog_rho0"): (lung, "time", "dead", "ph.ecog", None),
    ("veteran", "trt_rho0"): (veteran, "time", "status", "trt", None),
    ("veteran", "trt_rho1"): (veteran, "time", "status", "trt", None),
    ("veteran", "trt_stratified_celltype_rho0"): (veteran, "time", "status", "trt", "celltype"),
    ("veteran", "trt_stratified_celltype_rho1"): (veteran, "time", "status", "trt", "celltype"),
    ("veteran", "celltype_rho0"): (veteran, "time", "status", "celltype", None),
    ("veteran", "celltype_rho1"): (veteran, "time", "status", "celltype", None),
    ("heart", "surgery_rho0"): (jasa1_subj, "futime", "dead", "surgery", None),
    ("heart", "surgery_rho1"): (jasa1_subj, "futime", "dead", "surgery", None),
    ("mgus2", "os_sex_rho0"): (mgus2, "futime", "death", "sex", None),
    ("mgus2", "os_sex_rho1"): (mgus2, "futime", "death", "sex", None),
    ("mgus2", "os_sex_stratified_agegrp_rho0"): (mgus2, "futime", "death", "sex", "agegrp"),
    ("mgus2", "os_sex_stratified_agegrp_rho1"): (mgus2, "futime", "death", "sex", "agegrp"),
}


def label_value(label: str):
    """R stratum label 'sex=1' -> the value as it appears in the data (1, 'F', ...)."""
    if label == "all":
        return None
    v = label.split("=", 1)[1]
    try:
        f = float(v)
        return int(f) if f.is_integer() else f
    except ValueError:
        return v


def as_float(v) -> float:
    return math.nan if v is None else float(v)


def arr(values) -> np.ndarray:
    return np.array([as_float(v) for v in values], dtype=float)


def assert_close(got, want, rtol: float = 1e-6, atol: float = 1e-12, what: str = "") -> None:
    """Compare arrays where JSON null (R NA) must be NaN on our side."""
    g = np.atleast_1d(np.asarray(got, dtype=float))
    w = np.atleast_1d(
        arr(want)
        if isinstance(want, list | tuple)
        else np.asarray(as_float(want) if not isinstance(want, np.ndarray) else want, dtype=float)
    )
    assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
    g = np.where(np.isfinite(g), g, np.nan)  # JSON null is R's NA, NaN or +/-Inf
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    assert (nan_g == nan_w).all(), f"{what}: NA pattern differs: got {g}, want {w}"
    ok = np.abs(g[~nan_g] - w[~nan_w]) <= atol + rtol * np.abs(w[~nan_w])
    assert ok.all(), f"{what}: got {g[~nan_g][~ok]}, want {w[~nan_w][~ok]}"
