"""``tbl_summary`` (gtsummary's layout and tests) and ``fit.plot()`` (the report's figures)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cartlens as cl
from cartlens.stats.nonparametric import mann_whitney
from cartlens.stats.tables import chisq_test, fisher_test

DATA = Path(__file__).parents[1] / "data" / "reference" / "data"


def lung() -> pd.DataFrame:
    d = pd.read_csv(DATA / "lung.csv")
    d["sex"] = pd.Categorical(d["sex"].map({1: "male", 2: "female"}), ["male", "female"])
    d["dead"] = d["status"] == 2
    return d


def _rows(t, variable):
    return [r for r in t.rows if r["variable"] == variable]


def test_tbl_summary_layout_counts_and_tests():
    d = lung()
    t = cl.tbl_summary(
        d, by="sex", include=["age", "ph.ecog", "dead", "wt.loss"], label={"age": "Age, years"}
    )
    assert t.columns == ("Overall", "male", "female") and t.column_n == (228, 138, 90)
    age = _rows(t, "age")
    assert (
        len(age) == 1
        and age[0]["label"] == "Age, years"
        and age[0]["test"] == "Wilcoxon rank sum test"
    )
    m, f = d.loc[d.sex == "male", "age"], d.loc[d.sex == "female", "age"]
    assert age[0]["p"] == pytest.approx(mann_whitney(m, f).p_value, rel=1e-12)
    assert age[0]["cells"][1]["median"] == pytest.approx(np.quantile(m, 0.5))
    # ph.ecog: integer with 4 values -> categorical, levels sorted, one Unknown row
    ecog = _rows(t, "ph.ecog")
    assert [r["level"] for r in ecog] == [None, 0.0, 1.0, 2.0, 3.0, "Unknown"]
    assert ecog[-1]["cells"][0]["n"] == 1
    # percentages use the known values as denominator
    lvl1 = ecog[2]["cells"][0]
    assert lvl1["N"] == 227 and lvl1["pct"] == pytest.approx(100 * 113 / 227)
    # dead: logical -> one row with the TRUE count; 2 x 2 with large counts -> chi-square
    dead = _rows(t, "dead")
    assert (
        len(dead) == 1
        and dead[0]["cells"][0]["n"] == 165
        and dead[0]["test"] == "Pearson's chi-squared test"
    )
    tab = pd.crosstab(d["sex"], d["dead"]).to_numpy()
    assert dead[0]["p"] == pytest.approx(chisq_test(tab, correct=False).p_value, rel=1e-12)
    text = str(t)
    assert text.splitlines()[0].split() == [
        "Characteristic",
        "Overall",
        "male",
        "female",
        "p-value",
    ]
    assert "    Unknown" in text and "¹ Wilcoxon rank sum test" in text
    assert "<table" in t._repr_html_() and "N = 138" in t._repr_html_()
    fr = t.to_frame()
    assert set(fr["stat"]) >= {"median", "q1", "q3", "n", "N", "pct", "p.value"}


def test_tbl_summary_fisher_for_sparse_2x2_and_level_order():
    d = pd.DataFrame(
        {
            "arm": pd.Categorical(["b"] * 6 + ["a"] * 6, ["b", "a"]),
            "cr": [True] * 5 + [False] + [True] + [False] * 5,
            "grade": pd.Categorical(["hi", "lo"] * 6, ["lo", "hi"]),
        }
    )
    t = cl.tbl_summary(d, by="arm")
    assert t.columns == ("Overall", "b", "a")
    cr = _rows(t, "cr")[0]
    assert cr["test"] == "Fisher's exact test"
    tab = pd.crosstab(d["arm"], d["cr"]).to_numpy()
    assert cr["p"] == pytest.approx(fisher_test(tab).p_value, rel=1e-12)
    assert [r["level"] for r in _rows(t, "grade")] == [None, "lo", "hi"]
    # a logical variable nobody has shows 0 (0%), not the FALSE count
    d["none"] = False
    row = _rows(cl.tbl_summary(d, by="arm", include=["none"]), "none")[0]
    assert [c["n"] for c in row["cells"]] == [0, 0, 0] and row["p"] is None
    assert "Fisher's exact test" in str(t)


def test_tbl_summary_sparse_rxc_and_untestable_variables():
    """A sparse 2 x 3 table gets Fisher's exact test (the report's rule, rxc_test); a
    variable with a single observed level cannot be tested: a dash and a note saying why."""
    d = pd.DataFrame(
        {
            "arm": ["a"] * 6 + ["b"] * 6,
            "ld": ["cy", "flu", "flu_cy", "flu_cy", "flu_cy", "flu_cy"] * 2,
            "emd": ["no"] * 12,
        }
    )
    t = cl.tbl_summary(d, by="arm")
    row = _rows(t, "ld")[0]
    assert row["test"] == "Fisher's exact test"
    tab = pd.crosstab(d["arm"], d["ld"]).to_numpy()
    assert row["p"] == pytest.approx(fisher_test(tab).p_value, rel=1e-12)
    emd = _rows(t, "emd")[0]
    assert emd["p"] is None and emd["test"] is None
    assert any(n.startswith("emd: cannot be tested") for n in t.notes)
    assert "—" in str(t)


def test_survfit_plot_is_the_report_figure_with_its_risk_table():
    import matplotlib.figure

    from cartlens.stats.km import survival_at

    fit = cl.survfit(lung(), "Surv(time, status) ~ sex")
    fig = fit.plot(risk_times=[0, 250, 500, 750], time_unit="days")
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    panel, table = fig.axes
    assert panel.get_xlabel() == "Time (days)"
    assert any("Log-rank P = 0.001" in t.get_text() for t in panel.texts)
    shown = [t.get_text() for t in table.texts if t.get_text().isdigit()]
    assert {"male", "female"} <= {t.get_text() for t in table.texts}  # rows named by group
    want = [str(int(v)) for c in fit.curves for v in survival_at(c, [0, 250, 500, 750]).n_risk]
    assert shown == want
    leg = panel.get_legend() or fig.legends[0]
    legend = [t.get_text() for t in leg.get_texts()]
    assert legend[0].startswith("male (n=138, median 270")


def test_other_plots_are_the_report_figures():
    import matplotlib.figure

    d = lung()
    cox = cl.coxph(d, "Surv(time, status) ~ sex + age + ph.ecog")
    f = cox.plot()
    assert isinstance(f, matplotlib.figure.Figure)
    texts = [t.get_text() for t in f.axes[0].texts]
    # the report's forest rows: sex as a header, male the reference, female with its HR
    assert texts[:4] == ["sex", "male", "137 (111)", "Reference"]
    hr = cox.hr[cox.terms.index("sex[female]")]
    assert f"{hr:.2f} (" in texts[texts.index("female") + 2]
    d["event"] = np.where(d["status"] == 2, np.where(d["age"] > 65, 2, 1), 0)
    ci = cl.cuminc(d, "Hist(time, event) ~ sex")
    g = ci.plot(cause_labels={1: "death at 65 or younger", 2: "death after 65"})
    assert [a.get_title(loc="left") for a in g.axes if a.get_ylabel() or a.get_xlabel()] == [
        "male",
        "female",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d["female"] = (d["sex"] == "female").astype(int)
        w = cl.weight(d.dropna(subset=["ph.ecog"]), "female ~ age + ph.ecog")
    assert isinstance(w.plot(), matplotlib.figure.Figure)
    assert "Balance Measures" in str(w) and "<table" in w._repr_html_()
