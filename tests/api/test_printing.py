"""``print(fit)`` shows what R prints: the committed output of R itself
(``tests/data/reference/make_print.R`` -> ``tests/data/reference/print/*.txt``) is compared
line by line with cartlens' text after the call (R's call names its data frame)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cartlens as cl
from cartlens.api.text import format_pval, format_real, signif

REF = Path(__file__).parents[1] / "data" / "reference"


def lung() -> pd.DataFrame:
    return pd.read_csv(REF / "data" / "lung.csv")


def jasa1() -> pd.DataFrame:
    return pd.read_csv(REF / "data" / "jasa1.csv")


def mgus2() -> pd.DataFrame:
    d = pd.read_csv(REF / "data" / "mgus2.csv")
    d["etime"] = np.where(d["pstat"] == 0, d["futime"], d["ptime"])
    d["event"] = np.where(d["pstat"] == 0, 2 * d["death"], 1)
    return d


def body(text: str) -> list[str]:
    """Lines after the call (up to the first blank line), right-stripped, trailing blanks
    and R's significance legend dropped."""
    lines = [x.rstrip() for x in text.splitlines()]
    call = next((i for i, x in enumerate(lines[:3]) if x.startswith("Call:")), None)
    start = lines.index("", call) + 1 if call is not None else 0
    out = [x for x in lines[start:] if not x.startswith("Signif. codes") and x != "---"]
    while out and not out[-1]:
        out.pop()
    return out


def r_output(name: str) -> list[str]:
    return body((REF / "print" / f"{name}.txt").read_text(encoding="utf-8"))


def _coxph():
    return cl.coxph(lung(), "Surv(time, status) ~ sex + age + ph.ecog")


CASES = {
    "lung_survfit_sex": lambda: cl.survfit(lung(), "Surv(time, status) ~ sex"),
    "lung_survfit_ecog": lambda: cl.survfit(lung(), "Surv(time, status) ~ ph.ecog"),
    "lung_survfit_overall": lambda: cl.survfit(lung(), "Surv(time, status) ~ 1"),
    "lung_survfit_sex_summary": lambda: cl.survfit(lung(), "Surv(time, status) ~ sex").summary(
        times=[180, 365, 540, 730]
    ),
    "lung_survfit_sex_summary_all": lambda: cl.survfit(
        lung(), "Surv(time, status) ~ sex"
    ).summary(),
    "mgus2_cuminc_sex": lambda: cl.cuminc(mgus2(), "Hist(etime, event) ~ sex"),
    "mgus2_crr": lambda: cl.crr(
        mgus2().assign(sexM=lambda d: (d["sex"] == "M").astype(int)),
        "Hist(etime, event) ~ sexM + age",
    ),
    "lung_survdiff_sex": lambda: cl.survdiff(lung(), "Surv(time, status) ~ sex"),
    "lung_coxph": _coxph,
    "lung_coxph_robust": lambda: cl.coxph(
        lung(), "Surv(time, status) ~ sex + age + ph.ecog", robust=True
    ),
    "lung_cox_zph": lambda: cl.cox_zph(_coxph()),
    "lung_coxph_strata": lambda: cl.coxph(
        lung(), "Surv(time, status) ~ age + ph.ecog + strata(sex)"
    ),
    "jasa1_survfit_counting": lambda: cl.survfit(jasa1(), "Surv(start, stop, event) ~ surgery"),
    "jasa1_coxph_cluster": lambda: cl.coxph(
        jasa1(), "Surv(start, stop, event) ~ age + surgery + transplant + cluster(id)"
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_print_matches_r(name):
    ours = body(str(CASES[name]()))
    assert ours == r_output(name)


def test_coxph_summary_matches_r():
    """summary.coxph: the coefficient and hazard-ratio tables and the test lines as R prints
    them; R's stars column is padded with blanks, the legend line is left out."""
    ours = body(str(_coxph().summary()))
    want = r_output("lung_coxph_summary")
    assert [x.rstrip() for x in ours] == [x.rstrip() for x in want]


def _block(lines: list[str], start: str, stop) -> list[str]:
    i = lines.index(start) + 1
    out = []
    for x in lines[i:]:
        if stop(x):
            break
        out.append(x.rstrip())
    return out


def test_glm_coefficients_match_summary_glm():
    """The coefficient table of ``summary(glm(female ~ age + ph.ecog, family = binomial))``."""
    d = lung().dropna(subset=["ph.ecog"])
    d["female"] = (d["sex"] == 2).astype(int)
    ours = str(cl.glm_logistic(d, "female ~ age + ph.ecog")).splitlines()
    want = (REF / "print" / "lung_glm.txt").read_text(encoding="utf-8").splitlines()
    assert _block(ours, "Coefficients:", lambda x: not x.strip()) == _block(
        want, "Coefficients:", lambda x: x.startswith("---")
    )


def test_format_real_follows_r():
    # format(c(0.5754, 1.7378, 0.989, 1.0297), digits = 4); format(c(270, 212, 310), digits = 3)
    assert format_real([0.5754, 1.7378, 0.989, 1.0297], 4) == [
        "0.5754",
        "1.7378",
        "0.9890",
        "1.0297",
    ]
    assert format_real([270.0, 212, 310], 3) == ["270", "212", "310"]
    # format(c(4.599589, 12.5), digits = 3); format(c(1e-10, 1)) switches to scientific
    assert format_real([4.599589, 12.5], 3) == [" 4.6", "12.5"]
    assert format_real([1e-10, 1.0], 7) == ["1e-10", "1e+00"]
    assert format_real([float("nan"), 1.5], 3) == [" NA", "1.5"]


def test_format_pval_follows_r():
    # format.pval(c(0.000986, 0.232416, 4.45e-05), digits = 3)
    assert format_pval([0.000986, 0.232416, 4.45e-05], 3) == ["0.000986", "0.232416", "4.45e-05"]
    # format.pval(c(0.0477, 0.00785, 1e-300, 0.23179, 4.8e-13), digits = 3)
    assert format_pval([0.0477, 0.00785, 1e-300, 0.23179, 4.8e-13], 3) == [
        "0.04770",
        "0.00785",
        "< 2e-16",
        "0.23179",
        "4.8e-13",
    ]
    assert signif(0.0013111, 1) == "0.001"


def test_html_is_a_table_with_the_printed_numbers():
    fit = _coxph()
    html = fit._repr_html_()
    assert html.count("<table") == 1 and ">exp(coef)</th>" in html
    assert "-0.552612" in html and "ph.ecog" in html
    s = cl.survfit(lung(), "Surv(time, status) ~ sex")
    h = s._repr_html_()
    assert "sex=1" in h and "<td" in h and ">270<" in h
    assert "<table" in s.summary(times=[180])._repr_html_()


def test_to_frame_stays_the_tidy_frame():
    from cartlens.results import TIDY_COLUMNS

    fit = _coxph()
    fr = fit.to_frame()
    assert tuple(fr.columns) == TIDY_COLUMNS
    assert fr.equals(fit.result.to_frame())
    km = cl.survfit(lung(), "Surv(time, status) ~ sex")
    assert tuple(km.to_frame().columns) == TIDY_COLUMNS
    assert km.summary(times=[180]).to_frame()["survival"].round(3).tolist() == [0.644, 0.842]


def test_attributes_are_the_results():
    fit = _coxph()
    assert fit.coef is fit.result.coef and fit.terms == ("sex", "age", "ph.ecog")
    with pytest.raises(AttributeError):
        fit.no_such_field  # noqa: B018


def test_warnings_point_at_the_callers_line():
    from cartlens.errors import NoEventsWarning

    d = lung()
    d["none"] = 0
    with pytest.warns(NoEventsWarning) as rec:
        cl.survfit(d, "Surv(time, none) ~ 1")
    assert rec[0].filename == __file__
