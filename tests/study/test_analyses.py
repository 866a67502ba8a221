"""Analysis modules on small frames: Table 1 edge cases, models with factors, k groups."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cartlens.errors import SparseDataWarning
from cartlens.study.analyses import REGISTRY, Context
from cartlens.study.spec import parse_study

BASE = """\
[study]
title = "t"

[variables.product]
label = "Product"
levels = ["B", "A", "C"]

[variables.risk]
label = "Risk"

[cohorts.all]
where = {}

"""


def frame(n: int = 90, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    product = np.array(["A", "B", "C"] * (n // 3), dtype=object)
    t = rng.exponential(300, n).round() + 1
    return pd.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(n)],
            "product": product,
            "age": rng.uniform(20, 80, n).round(1),
            "sex": rng.choice(["female", "male"], n),
            # risk is never known in product C, sometimes missing elsewhere
            "risk": np.where(product == "C", None, rng.choice(["low", "high", None], n)),
            "one_level": "x",
            "os_days": t,
            "os_event": (rng.random(n) < 0.7).astype(int),
            "cr": rng.random(n) < 0.5,
        }
    )


def run(analysis_toml: str, df: pd.DataFrame):
    study = parse_study(BASE + analysis_toml)
    a = study.analyses[0]
    ctx = Context(study, {"all": df}, {}, {"infusions": df}, {}, ("analyses", 0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = REGISTRY[a.type].run(a, ctx)
    return out, [str(w.message) for w in caught if issubclass(w.category, SparseDataWarning)]


TABLE1 = """
[[analyses]]
id = "t1"
type = "descriptive"
cohort = "all"
by = "product"
variables = ["age", "sex", "risk", "one_level"]
"""


def test_table1_never_fails_and_names_the_variable():
    (summary, details, _), warned = run(TABLE1, frame())
    cols = [c["label"] for c in details["columns"]]
    assert cols == ["Overall", "B", "A", "C"]  # the declared level order
    rows = {r["variable"]: r for r in details["rows"]}
    risk = rows["risk"]
    # all-missing in group C: tested across B and A, with a note; Unknown counts every column
    assert risk["p"] is not None and "no known value in group(s) C" in risk["note"]
    assert risk["unknown"][3] == 30 and risk["unknown"][0] == sum(risk["unknown"][1:])
    denoms = {c["denom"] for c in risk["levels"][0]["cells"][1:3]}
    assert all(d < 30 for d in denoms)  # percentages of the known values
    one = rows["one_level"]
    assert one.get("p") is None and "cannot be tested" in one["note"]
    assert any("one_level" in w for w in warned) and any("risk" in w for w in warned)
    assert rows["age"]["test"] == "Kruskal-Wallis rank-sum test"
    assert summary["age.p"] == rows["age"]["p"]


COX = """
[[analyses]]
id = "cox"
type = "cox"
cohort = "all"
endpoint = "os"
covariates = ["age", "product", "C(sex)", "sex:age"]
"""


def test_cox_factor_uses_the_declared_reference_and_reports_layout():
    from cartlens.stats.cox import coxph

    df = frame()
    (summary, details, _), _ = run(COX, df)
    mv = {r["term"]: r for r in details["rows"] if r["model"] == "multivariable"}
    assert set(mv) == {"age", "product[A]", "product[C]", "sex[male]", "sex[male]:age"}
    # the same model by hand: B is the reference, as declared
    male = (df["sex"] == "male").to_numpy(float)
    X = np.column_stack(
        [df["age"], df["product"] == "A", df["product"] == "C", male, male * df["age"]]
    ).astype(float)
    r = coxph(df["os_days"] / 30.4375, df["os_event"], X)
    np.testing.assert_allclose([mv[k]["coef"] for k in mv], r.coef, rtol=1e-10)
    layout = [(x["label"], x["kind"]) for x in details["layout"]]
    assert layout[:5] == [
        ("age", "term"),
        ("Product", "header"),
        ("B", "reference"),
        ("A", "term"),
        ("C", "term"),
    ]
    ref = next(x for x in details["layout"] if x["kind"] == "reference")
    assert ref["n"] == 30 and ref["events"] == int(df.loc[df["product"] == "B", "os_event"].sum())
    assert set(details["models"]["multivariable"]["zph"]) == {"age", "product", "C(sex)", "sex:age"}


def test_a_level_without_events_is_not_estimable_with_the_reason():
    df = frame()
    df.loc[df["product"] == "C", "os_event"] = 0
    (_, details, _), _ = run(COX.replace('"age", "product", "C(sex)", "sex:age"', '"product"'), df)
    row = next(r for r in details["rows"] if r["term"] == "product[C]")
    assert row["not_estimable"] == "no events in this group"


def test_few_events_per_variable_warn():
    df = frame(30)
    df["os_event"] = 0
    df.loc[:5, "os_event"] = 1
    _, warned = run(COX, df)
    assert any("events per variable" in w for w in warned)


def test_a_text_covariate_that_is_not_a_factor_says_how_to_declare_it():
    from cartlens.study.spec import SpecError

    df = frame()
    df["age"] = df["age"].astype(object)
    df.loc[3, "age"] = "unknown"
    with pytest.raises(SpecError, match="not a number"):
        run(COX, df)


PROPORTION = """
[[analyses]]
id = "p"
type = "proportion"
cohorts = ["all"]
outcome = "cr"
by = "product"
test = "chisq"
"""


def test_proportion_by_k_groups_with_a_test():
    df = frame()
    (summary, details, _), _ = run(PROPORTION, df)
    from cartlens.stats.tables import chisq_test

    tab = [[int(g["cr"].sum()), int((~g["cr"]).sum())] for _, g in df.groupby("product")]
    assert summary["all.p"] == pytest.approx(chisq_test(np.array(tab), correct=False).p_value)
    assert [r["group"] for r in details["rows"]] == ["B", "A", "C"]
    assert summary["all.A.n"] == 30


def test_pairwise_proportions_are_holm_adjusted_pair_tests():
    from cartlens.stats.logrank import p_adjust
    from cartlens.stats.tables import chisq_test

    df = frame()
    (summary, _, _), _ = run(PROPORTION + "pairwise = true\n", df)
    order = ["B", "A", "C"]
    tab = {g: [int(x["cr"].sum()), int((~x["cr"]).sum())] for g, x in df.groupby("product")}
    pairs = [(order[i], order[j]) for i in range(3) for j in range(i + 1, 3)]
    raw = [chisq_test(np.array([tab[a], tab[b]]), correct=False).p_value for a, b in pairs]
    want = p_adjust(raw, "holm")
    got = [summary[f"all.pairwise.{a}|{b}"] for a, b in pairs]
    np.testing.assert_allclose(got, want, rtol=1e-12)
