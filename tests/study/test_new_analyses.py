"""Issue 12 in studies: ``missing = "complete_case" | "multiple_imputation"`` in the model
analyses, and the ``rmst`` analysis type."""

from __future__ import annotations

import pytest

from cartlens.study.demo_data import DEMO_REGISTRY_DIR
from cartlens.study.runner import run_study
from cartlens.study.spec import SpecError, parse_study

STUDY = """\
[study]
title = "missing covariates"

[cohorts.all]
frame = "infusions"

[[analyses]]
id = "os_cox"
type = "cox"
cohort = "all"
endpoint = "os"
covariates = ["age", "cr"]
MISSING

[[analyses]]
id = "cr_logit"
type = "logistic"
cohort = "all"
outcome = "crs_any"
covariates = ["age", "cr"]
MISSING
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from cartlens.ingest.store import import_registry

    path = tmp_path_factory.mktemp("store") / "registry.duckdb"
    assert import_registry(DEMO_REGISTRY_DIR, path).ok
    return path


def _run(store, missing: str):
    text = STUDY.replace("MISSING", missing)
    return run_study(parse_study(text), store, spec_text=text)


def test_multiple_imputation_uses_every_patient_and_reports_fmi(store):
    from cartlens.report.analyses.cox import methods

    cc = _run(store, 'missing = "complete_case"').analysis("os_cox")
    mi = _run(store, 'missing = "multiple_imputation"\nimputations = 5').analysis("os_cox")
    assert cc.status == "ok" and mi.status == "ok", (cc.note, mi.note)
    n_cc = cc.details["models"]["multivariable"]["n"]
    n_mi = mi.details["models"]["multivariable"]["n"]
    assert n_mi > n_cc  # the 5 patients without a response assessment are kept
    info = mi.details["missing"]
    assert info["method"] == "multiple_imputation" and info["imputations"] == 5
    assert info["imputed"]["cr"]["n_missing"] == n_mi - n_cc
    rows = {r["term"]: r for r in mi.details["rows"] if r.get("model") == "multivariable"}
    assert 0 < rows["cr"]["fmi"] < 1 and rows["cr"]["df"] > 0
    assert rows["cr"]["lower"] < rows["cr"]["hr"] < rows["cr"]["upper"]
    assert mi.summary["multivariable.cr.fmi"] == rows["cr"]["fmi"]
    assert mi.details["models"]["multivariable"]["imputations"] == 5
    text = methods([mi], None)
    assert "multiply imputed by chained equations (5 imputed data sets" in text
    assert "largest fraction of missing information" in text
    assert "complete-case analysis" in methods([cc], None)
    again = _run(store, 'missing = "multiple_imputation"\nimputations = 5').analysis("os_cox")
    assert again.summary == mi.summary  # seeded


def test_multiple_imputation_report_has_an_fmi_column(store, tmp_path):
    from cartlens.report.pipeline import run_to_directory

    text = STUDY.replace("MISSING", 'missing = "multiple_imputation"\nimputations = 3')
    study_file = tmp_path / "mi.toml"
    study_file.write_text(text)
    run_to_directory(study_file, DEMO_REGISTRY_DIR, tmp_path / "out", png=False)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "FMI = fraction of missing information" in html and ">FMI<" in html
    assert "multiply imputed by chained equations" in html


def test_logistic_multiple_imputation(store):
    a = _run(store, 'missing = "multiple_imputation"\nimputations = 3').analysis("cr_logit")
    assert a.status == "ok", a.note
    rows = [r for r in a.details["rows"] if r.get("model") == "multivariable"]
    assert {r["term"] for r in rows} >= {"age", "cr"}
    assert all(r.get("fmi") is not None for r in rows)


def test_unknown_missing_method_is_a_spec_error():
    with pytest.raises(SpecError, match="missing"):
        parse_study(STUDY.replace("MISSING", 'missing = "drop"'))


RMST_STUDY = """\
[study]
title = "rmst"

[cohorts.salv]
frame = "salvage"
where.group = ["hsct_cart2", "nohsct_cart2"]

[[analyses]]
id = "os_rmst"
type = "rmst"
cohort = "salv"
endpoint = "os"
by = "group"
groups = ["nohsct_cart2", "hsct_cart2"]
TAU
"""


def test_rmst_analysis_matches_rmst2_and_renders(store, tmp_path):
    """The study's ``rmst`` type runs :func:`cartlens.stats.rmst.rmst2` on the cohort (the
    first listed group is the reference) and its report section renders."""
    from cartlens.report.pipeline import run_to_directory

    text = RMST_STUDY.replace("TAU", "")
    run = run_study(parse_study(text), store, spec_text=text)
    a = run.analysis("os_rmst")
    assert a.status == "ok", a.note
    r = a.results["rmst"]
    assert r.groups == ("nohsct_cart2", "hsct_cart2")
    assert a.summary["difference"] == r.difference["estimate"]
    g = {row["group"]: row for row in r.per_group}
    assert a.summary["rmst.hsct_cart2"] == g["hsct_cart2"]["rmst"]
    assert r.tau == min(row["max_time"] for row in r.per_group)  # survRM2's default tau
    assert a.details["tau_rule"].startswith("default")
    tau_run = run_study(
        parse_study(RMST_STUDY.replace("TAU", "tau_days = 180")),
        store,
        spec_text=RMST_STUDY.replace("TAU", "tau_days = 180"),
    ).analysis("os_rmst")
    assert tau_run.details["tau_rule"] == "given"
    study_file = tmp_path / "rmst.toml"
    study_file.write_text(text)
    out = tmp_path / "out"
    run_to_directory(study_file, DEMO_REGISTRY_DIR, out)
    html = (out / "report.html").read_text()
    assert "restricted mean survival time was" in html and "Restricted mean survival" in html


ADJ_STUDY = """\
[study]
title = "adjusted curves"

[cohorts.salv]
frame = "salvage"
where.group = ["hsct_cart2", "nohsct_cart2"]

[[analyses]]
id = "adj_os"
type = "adjusted_survival"
cohort = "salv"
endpoint = "os"
treatment = "group"
covariates = ["age"]
method = "METHOD"
times_days = [180, 365]
bootstrap = 30
"""


@pytest.mark.parametrize("method", ["gformula", "iptw"])
def test_adjusted_survival_analysis_and_report(store, tmp_path, method):
    from cartlens.report.pipeline import run_to_directory

    text = ADJ_STUDY.replace("METHOD", method)
    a = run_study(parse_study(text), store, spec_text=text).analysis("adj_os")
    assert a.status == "ok", a.note
    r = a.results["curves"]
    assert r.levels == ("hsct_cart2", "nohsct_cart2") and r.method == method
    assert set(a.summary) >= {"surv.hsct_cart2.180", "difference.nohsct_cart2.365.p"}
    for c in r.curves:
        assert all(lo <= s <= hi for lo, s, hi in zip(c["lower"], c["surv"], c["upper"]))
    if method == "iptw":
        assert "IPT weights" in r.weighted_label
    study_file = tmp_path / "adj.toml"
    study_file.write_text(text)
    run_to_directory(study_file, DEMO_REGISTRY_DIR, tmp_path / "out", png=False)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Covariate-adjusted survival curves were estimated" in html
    assert "bootstrap" in html and "minus" in html


def test_time_dependent_landmark_survival_times(store):
    text = """\
[study]
title = "landmark"

[cohorts.all]
frame = "infusions"

[[analyses]]
id = "td"
type = "time_dependent"
cohort = "all"
endpoint = "os"
exposure_day = "hsct_after_day"
landmark_days = 90
landmark_times_days = [180, 365]
"""
    a = run_study(parse_study(text), store, spec_text=text).analysis("td")
    assert a.status == "ok", a.note
    rows = a.details["landmark_survival"]
    assert {r["time_days"] for r in rows} == {180, 365}
    lm = a.results["landmark"]
    assert [r["surv"] for r in rows] == [r["surv"] for r in lm.survival]
    assert any(k.startswith("landmark.surv.") for k in a.summary)
    assert a.summary["landmark.hr"] == pytest.approx(lm.cox["hr"])  # the same landmark Cox


ACIF_STUDY = """\
[study]
title = "adjusted cumulative incidence"

[cohorts.all]
frame = "infusions"

[[analyses]]
id = "adj_rel"
type = "adjusted_survival"
cohort = "all"
treatment = "sex"
covariates = ["age"]
method = "METHOD"
cause = 1
times_days = [180, 365]
bootstrap = 25
"""


@pytest.mark.parametrize("method", ["gformula", "iptw"])
def test_adjusted_cumulative_incidence_analysis_equals_the_library(store, tmp_path, method):
    """``cause = 1`` gives the adjusted CIF of relapse on the relapse-vs-NRM endpoint: the
    same numbers as ``stats.adjusted.adjusted_cif`` on the cohort's rows, and a report."""
    import pandas as pd

    from cartlens.report.pipeline import run_to_directory
    from cartlens.stats.adjusted import adjusted_cif
    from cartlens.study.frames import frames_from_store

    text = ACIF_STUDY.replace("METHOD", method)
    study = parse_study(text)
    a = run_study(study, store, spec_text=text).analysis("adj_rel")
    assert a.status == "ok", a.note
    assert a.details["cause"] == "relapse"
    df = frames_from_store(store)[1]["infusions"]
    d = df[df["sex"].notna() & df["age"].notna()]
    scale = study.presentation.month_days if study.presentation.time_unit == "months" else 1.0
    work = pd.DataFrame(
        {
            "t": pd.to_numeric(d["crisk_days"]) / scale,
            "s": pd.to_numeric(d["crisk_event"]),
            "a": d["sex"].astype(str),
            "age": d["age"].to_numpy(),
        }
    )
    ref = adjusted_cif(
        work, time="t", status="s", treatment="a", formula="age", cause=1,
        times=[180 / scale, 365 / scale], method=method, B=25, seed=20261204,
    )  # fmt: skip
    for c in ref.curves:
        for tv, sv in zip(c["time"], c["surv"], strict=True):
            assert a.summary[f"cif.{c['level']}.{tv * scale:g}"] == pytest.approx(sv, rel=1e-9)
    study_file = tmp_path / "acif.toml"
    study_file.write_text(text)
    run_to_directory(study_file, DEMO_REGISTRY_DIR, tmp_path / "out", png=False)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "cumulative incidence of relapse" in html and "cause-specific Cox" in html
