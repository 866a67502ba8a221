"""The study language's follow-up analyses (haematotoxicity, cumulative_incidence, the
bca_loss/car_loss endpoints) on the demo: the reference study's "Safety beyond CRS and ICANS"
section equals the derive layer's numbers computed directly."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from cartlens.derive import followup_table
from cartlens.ingest import import_registry
from cartlens.stats.competing import cif_at, cuminc
from cartlens.stats.km import kaplan_meier
from cartlens.study.demo_data import DEMO_REGISTRY_DIR
from cartlens.study.spec import SpecError, parse_study

MONTH = 30.4375


@pytest.fixture(scope="module")
def results(demo_run) -> dict:
    r = json.loads((demo_run / "results.json").read_text())
    a = r["analyses"]
    return {x["id"]: x for x in a} if isinstance(a, list) else a


@pytest.fixture(scope="module")
def cart1(tmp_path_factory):
    store = tmp_path_factory.mktemp("fu-study") / "demo.duckdb"
    assert import_registry(DEMO_REGISTRY_DIR, store, today=dt.date(2024, 1, 1)).ok
    t = followup_table(store)
    return t[t["course_number"] == 1].reset_index(drop=True)


def test_every_follow_up_analysis_ran(results):
    ids = [
        "icaht",
        "infection_cif",
        "severe_infection_cif",
        "bca",
        "bca_loss_km",
        "bca_loss_pfs",
        "car_persistence_km",
        "iec_hs",
        "ttnt_cif",
        "spm_cif",
        "t_cell_malignancy",
    ]
    for i in ids:
        assert results[i]["status"] == "ok", (i, results[i].get("error"))


def test_icaht_counts_equal_the_derived_grades(results, cart1):
    s = results["icaht"]["summary"]
    early = cart1["icaht_early_grade"].dropna().astype(int)
    for g in range(5):
        assert s[f"cart1.early.grade_{g}"] == int((early == g).sum())
    assert s["cart1.early.severe"] == int((early >= 3).sum())
    late = cart1["icaht_late_grade"].dropna()
    assert s["cart1.late.assessable"] == len(late)
    assert s["cart1.days_anc_le_500.median"] == float(np.median(cart1["days_anc_le_500"].dropna()))


@pytest.mark.parametrize(
    ("analysis", "prefix", "name", "times"),
    [
        ("severe_infection_cif", "severe_infection", "severe infection", [1, 3, 12]),
        ("ttnt_cif", "ttnt", "next treatment", [3, 12, 24]),
        ("spm_cif", "spm", "second malignancy", [12, 24, 36]),
    ],
)
def test_cumulative_incidences_equal_cuminc_of_the_derived_endpoint(
    results, cart1, analysis, prefix, name, times
):
    s = results[analysis]["summary"]
    res = cuminc(cart1[f"{prefix}_days"] / MONTH, cart1[f"{prefix}_event"])
    at = cif_at(res.curve(None, 1), times)["estimate"]
    comp = cif_at(res.curve(None, 2), times)["estimate"]
    for k, t in enumerate(times):
        assert s[f"all.{name}.{t}"] == pytest.approx(at[k], rel=1e-12)
        assert s[f"all.death without {name}.{t}"] == pytest.approx(comp[k], rel=1e-12)
    assert s["events"] == int((cart1[f"{prefix}_event"] == 1).sum())


def test_infection_by_severe_icaht_has_grays_test(results, cart1):
    s = results["infection_cif"]["summary"]
    res = cuminc(
        cart1["infection_days"] / MONTH, cart1["infection_event"], group=cart1["severe_icaht"]
    )
    gray = {g.cause: g.p for g in res.gray_test}
    assert s["gray.infection"] == pytest.approx(gray[1], rel=1e-12)
    at = cif_at(res.curve(True, 1), [12])["estimate"][0]
    assert s["true.infection.12"] == pytest.approx(at, rel=1e-12)


def test_loss_of_bca_and_car_persistence_km(results, cart1, tmp_path_factory):
    """KM of loss of B-cell aplasia in CART1 responders (``cart1_cr``: evaluable with CR/CRi,
    the derive layer's ``cr``) and of CAR-T persistence in all CART1 infusions."""
    from cartlens.derive import infusion_table

    store = tmp_path_factory.mktemp("fu-km") / "demo.duckdb"
    assert import_registry(DEMO_REGISTRY_DIR, store, today=dt.date(2024, 1, 1)).ok
    inf = infusion_table(store)
    cr = set(inf.loc[inf["cr"].astype(bool) & inf["evaluable"].astype(bool), "infusion_id"])
    resp = cart1[cart1["infusion_id"].isin(cr) & cart1["bca_loss_days"].notna()]
    fit = kaplan_meier(resp["bca_loss_days"] / MONTH, resp["bca_loss_event"])
    s = results["bca_loss_km"]["summary"]
    assert (s["n"], s["events"]) == (len(resp), int(resp["bca_loss_event"].sum()))
    assert s["median"] == pytest.approx(fit.curves[0].median, rel=1e-12)
    car = cart1[cart1["car_loss_days"].notna()]
    fit = kaplan_meier(car["car_loss_days"] / MONTH, car["car_loss_event"])
    assert results["car_persistence_km"]["summary"]["median"] == pytest.approx(
        fit.curves[0].median, rel=1e-12
    )


def test_report_has_the_section_and_its_methods(demo_run):
    html = (demo_run / "report.html").read_text()
    assert "<h2>Safety beyond CRS and ICANS</h2>" in html
    assert "EHA/EBMT consensus (Rejeski et al., Blood 2023)" in html
    assert "death without the event was the competing event" in html


def test_unknown_follow_up_endpoint_is_refused_with_its_key():
    text = """\
[study]
title = "t"

[cohorts.all]
where = {}

[[analyses]]
id = "x"
type = "cumulative_incidence"
cohort = "all"
endpoint = "infections"
"""
    with pytest.raises(SpecError) as e:
        parse_study(text)
    assert "endpoint" in str(e.value)


def test_followup_settings_in_the_study_file():
    from cartlens.report.methods import _followup_endpoints

    base = """\
[study]
title = "t"

[cohorts.all]
where = {}

[[analyses]]
id = "x"
type = "cumulative_incidence"
cohort = "all"
endpoint = "next_treatment"
"""
    s = parse_study(base + "\n[followup]\nbca_cd19_pct_max = 3\nttnt_includes_hsct = false\n")
    assert s.followup.bca_cd19_pct_max == 3 and not s.followup.ttnt_includes_hsct
    text = _followup_endpoints(["bca_loss", "ttnt"], s.model_dump(mode="json")["followup"])
    assert "3% of lymphocytes" in text and "allo-HSCT)" not in text
    with pytest.raises(SpecError) as e:
        parse_study(base + "\n[followup]\nbca_pct = 3\n")
    assert e.value.key == "followup.bca_pct"
