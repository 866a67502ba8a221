"""R's formula language in the notebook API: event codings, factor-level order, and error
messages that name the offending term."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cartlens as cl
from cartlens.api.formula import FormulaError, parse, surv_event
from cartlens.errors import InputError

DATA = Path(__file__).parents[1] / "data" / "reference" / "data"


def lung() -> pd.DataFrame:
    return pd.read_csv(DATA / "lung.csv")


# ------------------------------------------------------------------ event codings
def _codings():
    """lung's status (1 = censored, 2 = dead) in each of R's codings."""
    d = lung()
    dead = d["status"] == 2
    d["s12"] = d["status"]
    d["s01"] = dead.astype(int)
    d["slog"] = dead
    d["sflt"] = dead.astype(float)
    return d


@pytest.mark.parametrize("col", ["s12", "s01", "slog", "sflt", "status == 2"])
def test_every_event_coding_gives_the_same_fit(col):
    d = _codings()
    ref = cl.coxph(d, "Surv(time, s01) ~ sex + age")
    fit = cl.coxph(d, f"Surv(time, {col}) ~ sex + age")
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=1e-12)
    assert fit.events == 165
    km = cl.survfit(d, f"Surv(time, {col}) ~ sex")
    assert [c.events for c in km.curves] == [112, 53]


def test_logical_event_with_missing_values_drops_the_rows():
    d = _codings()
    d["slog"] = d["slog"].astype("boolean")
    d.loc[[0, 5], "slog"] = pd.NA
    km = cl.survfit(d, "Surv(time, slog) ~ 1")
    assert km.curves[0].n == 226 and km.frame.n_dropped == 2


@pytest.mark.parametrize(
    "values, wrong, shifted",
    [
        ([0, 1, 2, 1], "0", True),
        ([0, 2, 2, 0], "0", True),
        ([0, 1, 3], "3", False),
        ([1, 2, 3], "2, 3", False),
        ([0.5, 1], "0.5", False),
    ],
)
def test_invalid_event_codes_are_refused_naming_the_value(values, wrong, shifted):
    """R turns these into NA with a warning ("Invalid status value"); cartlens refuses them."""
    with pytest.raises(InputError) as exc:
        surv_event(pd.Series(values), "status")
    msg = str(exc.value)
    assert msg.startswith("column 'status': has event value(s) " + wrong + ":")
    assert ("coding is 1/2" in msg) is shifted


def test_text_event_is_refused_with_the_remedy():
    with pytest.raises(InputError, match="Hist"):
        surv_event(pd.Series(["dead", "alive"]), "vital")


# ------------------------------------------------------------------ factor-level order
def test_categorical_level_order_sets_reference_and_term_names():
    """As R's factor levels: the first category is the reference, terms are var[level]."""
    d = lung()
    d["sexf"] = pd.Categorical(d["sex"].map({1: "male", 2: "female"}), ["male", "female"])
    a = cl.coxph(d, "Surv(time, status) ~ sexf")
    assert a.terms == ("sexf[female]",)
    d["sexf"] = d["sexf"].cat.reorder_categories(["female", "male"])
    b = cl.coxph(d, "Surv(time, status) ~ sexf")
    assert b.terms == ("sexf[male]",)
    np.testing.assert_allclose(b.coef, -a.coef, rtol=1e-9)
    # text columns sort alphabetically, as R's factor() does
    d["sext"] = d["sexf"].astype(str)
    assert cl.coxph(d, "Surv(time, status) ~ sext").terms == ("sext[male]",)
    # relevel(x, ref = ) changes the reference
    r = cl.coxph(d, 'Surv(time, status) ~ relevel(sext, ref = "male")')
    np.testing.assert_allclose(r.coef, a.coef, rtol=1e-9)


def test_survfit_strata_follow_the_categories():
    d = lung()
    d["sexf"] = pd.Categorical(d["sex"].map({1: "male", 2: "female"}), ["male", "female"])
    km = cl.survfit(d, "Surv(time, status) ~ sexf")
    assert km.labels() == ["sexf=male", "sexf=female"]
    assert [c.n for c in km.curves] == [138, 90]
    d["sexf"] = d["sexf"].cat.reorder_categories(["female", "male"])
    km2 = cl.survfit(d, "Surv(time, status) ~ sexf")
    assert km2.labels() == ["sexf=female", "sexf=male"]
    assert [c.n for c in km2.curves] == [90, 138]
    assert km2.curve("male").median == km.curve("sexf=male").median == 270


def test_crossed_strata_first_variable_slowest():
    d = lung().dropna(subset=["ph.ecog"])
    d = d[d["ph.ecog"] < 2]
    km = cl.survfit(d, "Surv(time, status) ~ sex + ph.ecog")
    assert km.labels() == [
        "sex=1, ph.ecog=0",
        "sex=1, ph.ecog=1",
        "sex=2, ph.ecog=0",
        "sex=2, ph.ecog=1",
    ]
    total = sum(c.n for c in km.curves)
    assert total == len(d)


def test_factor_translates_to_treatment_coding():
    d = lung().dropna(subset=["ph.ecog"])
    fit = cl.coxph(d, "Surv(time, status) ~ factor(ph.ecog)")
    assert fit.terms == ("ph.ecog[1]", "ph.ecog[2]", "ph.ecog[3]")


def test_parse_splits_specials():
    pf = parse(
        "Surv(start, stop, event) ~ age + sex + strata(centre, arm) + cluster(id)",
        ["start", "stop", "event", "age", "sex", "centre", "arm", "id"],
    )
    assert pf.response.kind == "Surv" and pf.response.args == ("start", "stop", "event")
    assert pf.strata == ("centre", "arm") and pf.cluster == ("id",)
    assert pf.terms == ("age", "sex") and pf.rhs == "age + sex"
    pf = parse("y ~ log(age) + a:b + factor(g) - 1", ["y", "age", "a", "b", "g"])
    assert pf.rhs == "np.log(age) + a:b + C(g) - 1"
    assert pf.variables == ("age", "a", "b", "g")


# ------------------------------------------------------------------ malformed formulas
@pytest.mark.parametrize(
    "formula, term, words",
    [
        ("Surv(time, status) ~ sex + agee", "agee", "not a column"),
        ("Surv(time) ~ sex", "Surv(time)", "Surv(time, event)"),
        ("Surv(time, status ~ sex", "Surv(time, status ~ sex", "unclosed"),
        ("Surv(time, status) ~ sex + age)", "Surv(time, status) ~ sex + age)", "without its"),
        ("Surv(time, status) ~ sex + + age", "sex + + age", "empty term"),
        ("Surv(time, status) ~ sex + foo(age)", "foo(age)", "function foo()"),
        ("Surv(time, status) ~ sex + offset(age)", "offset(age)", "offsets"),
        ("Surv(time, status) ~ strata(sexx)", "strata(sexx)", "sexx"),
        ("Surv(time, status) ~ cluster(sex, age)", "cluster(sex, age)", "exactly one"),
        ("Surv(time, status) ~", "~", "nothing after"),
        ("Surv(time, status) sex", "Surv(time, status) sex", "'~'"),
        ("Srv(time, status) ~ sex", "Srv(time, status)", "not a response"),
        ("Surv(time, statuss) ~ sex", "Surv(time, statuss)", "statuss"),
        ("Surv(time, status) ~ sex:agee", "sex:agee", "agee"),
    ],
)
def test_malformed_formula_names_the_term(formula, term, words):
    with pytest.raises(FormulaError) as exc:
        cl.coxph(lung(), formula)
    assert exc.value.term == term
    msg = str(exc.value)
    assert f"term '{term}'" in msg and words in msg and formula in msg
    assert isinstance(exc.value, InputError)


def test_wrong_response_kind_is_named():
    with pytest.raises(FormulaError, match="Hist"):
        cl.cuminc(lung(), "Surv(time, status) ~ sex")
    with pytest.raises(FormulaError, match="outcome column"):
        cl.glm_logistic(lung(), "Surv(time, status) ~ sex")
    with pytest.raises(FormulaError, match="grouping column"):
        cl.survfit(lung(), "Surv(time, status) ~ log(age)")


def test_not_a_dataframe():
    with pytest.raises(InputError, match="DataFrame"):
        cl.survfit({"time": [1]}, "Surv(time, status) ~ 1")


def test_import_cartlens_is_lazy():
    import subprocess
    import sys

    code = (
        "import sys, cartlens; "
        "print(sorted(m for m in ('numpy', 'pandas', 'cartlens.api') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert "survfit" in dir(cl) and callable(cl.survfit)
    with pytest.raises(AttributeError):
        cl.no_such_function  # noqa: B018
