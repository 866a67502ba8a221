"""Shared loaders for the Cox / cox.zph / concordance reference tests.

Each case rebuilds the R call quoted in the reference JSON (``r_call``) with
:func:`cartlens.stats.cox.coxph_formula` on the project's copy of the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from conftest import load_reference

DATA = Path(__file__).parents[1] / "data" / "reference" / "data"

# R coefficient names -> cartlens term names (factor levels as ``variable[level]``).
R_NAMES = {
    "celltypesmallcell": "celltype[smallcell]",
    "celltypeadeno": "celltype[adeno]",
    "celltypelarge": "celltype[large]",
    "sexM": "sex[M]",
}


def lung() -> pd.DataFrame:
    d = pd.read_csv(DATA / "lung.csv")
    d["dead"] = (d["status"] == 2).astype(int)
    return d


def lung_ps() -> pd.DataFrame:
    """lung rows with non-missing ph.ecog, with the stored propensity scores and weights."""
    ref = load_reference("lung")["propensity"]
    d = lung().dropna(subset=["ph.ecog"]).reset_index(drop=True)
    ps = np.asarray(ref["ps_model"]["ps_values"], dtype=float)
    a = (d["sex"] == 2).astype(float).to_numpy()
    d["female"] = a
    d["iptw"] = a / ps + (1 - a) / (1 - ps)
    d["sw"] = a * a.mean() / ps + (1 - a) * (1 - a.mean()) / (1 - ps)
    return d


def veteran() -> pd.DataFrame:
    d = pd.read_csv(DATA / "veteran.csv")
    # R's factor level order (squamous is the reference level)
    d["celltype"] = pd.Categorical(d["celltype"], ["squamous", "smallcell", "adeno", "large"])
    return d


def jasa1() -> pd.DataFrame:
    return pd.read_csv(DATA / "jasa1.csv")


def mgus2() -> pd.DataFrame:
    d = pd.read_csv(DATA / "mgus2.csv")
    d["etime"] = np.where(d["pstat"] == 0, d["futime"], d["ptime"])
    ev = np.where(d["pstat"] == 0, 2 * d["death"], 1)
    d["pcm"] = (ev == 1).astype(int)
    d["death_only"] = (ev == 2).astype(int)
    return d


# (dataset json, path to the block) -> (data loader, formula, coxph_formula keywords)
_LUNG3 = (lung, "sex + age + ph.ecog", {"time": "time", "event": "dead"})
_VET = (veteran, "trt + celltype + karno + age", {"time": "time", "event": "status"})
_HEART = (jasa1, "age + surgery + transplant", {"time": "stop", "event": "event", "start": "start"})
_MGUS = (mgus2, "sex + age", {"time": "futime", "event": "death"})

COX_CASES = {
    ("lung", "cox", "efron"): (*_LUNG3, {}),
    ("lung", "cox", "breslow"): (*_LUNG3, {"ties": "breslow"}),
    ("lung", "cox", "efron_robust"): (*_LUNG3, {"robust": True}),
    ("lung", "cox", "sex_only_efron"): (lung, "sex", {"time": "time", "event": "dead"}, {}),
    ("lung", "cox", "sex_only_breslow"): (
        lung,
        "sex",
        {"time": "time", "event": "dead"},
        {"ties": "breslow"},
    ),
    ("veteran", "cox", "efron"): (*_VET, {}),
    ("veteran", "cox", "breslow"): (*_VET, {"ties": "breslow"}),
    ("veteran", "cox", "efron_robust"): (*_VET, {"robust": True}),
    ("heart", "cox", "efron"): (*_HEART, {}),
    ("heart", "cox", "breslow"): (*_HEART, {"ties": "breslow"}),
    ("heart", "cox", "efron_robust_cluster_id"): (*_HEART, {"cluster": "id"}),
    ("heart", "mantel_byar_score_test", "breslow"): (
        jasa1,
        "transplant",
        _HEART[2],
        {"ties": "breslow"},
    ),
    ("heart", "mantel_byar_score_test", "efron"): (jasa1, "transplant", _HEART[2], {}),
    ("mgus2", "cox", "efron"): (*_MGUS, {}),
    ("mgus2", "cox", "breslow"): (*_MGUS, {"ties": "breslow"}),
    ("mgus2", "cox", "efron_robust"): (*_MGUS, {"robust": True}),
    ("mgus2", "cox", "cause_specific_pcm_efron"): (
        mgus2,
        "sex + age",
        {"time": "etime", "event": "pcm"},
        {},
    ),
    ("mgus2", "cox", "cause_specific_death_efron"): (
        mgus2,
        "sex + age",
        {"time": "etime", "event": "death_only"},
        {},
    ),
    ("lung", "propensity", "weighted_cox_sw"): (
        lung_ps,
        "female",
        {"time": "time", "event": "dead"},
        {"weights": "sw", "robust": True},
    ),
    ("lung", "propensity", "weighted_cox_iptw"): (
        lung_ps,
        "female",
        {"time": "time", "event": "dead"},
        {"weights": "iptw", "robust": True},
    ),
    ("lung", "propensity", "unweighted_cox"): (
        lung_ps,
        "female",
        {"time": "time", "event": "dead"},
        {},
    ),
}


def reference_block(case) -> dict:
    name, section, key = case
    return load_reference(name)[section][key]


def fit_case(case, **extra):
    from cartlens.stats.cox import coxph_formula

    loader, formula, cols, kw = COX_CASES[case]
    return coxph_formula(formula, loader(), **cols, **kw, **extra)


def case_id(case) -> str:
    return "-".join(case)
