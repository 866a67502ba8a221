"""[variables]: labels, level order, cut and the safe expression language (no eval)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cartlens.study.runner import build_cohorts
from cartlens.study.spec import SpecError, parse_study
from cartlens.study.variables import Cut, apply_variables, evaluate, parse_expression

STUDY = """\
[study]
title = "t"

[variables.age_group]
label = "Age group"
cut.column = "age"
cut.breaks = [0, 40, 65, 120]
cut.labels = ["<40", "40-64", ">=65"]
cut.right = false

[variables.older_high]
expr = "age >= 65 and dose > 1e6"

[variables.sex]
label = "Sex"
levels = ["female", "male"]

[cohorts.old]
where = { age_group = ">=65" }

[[analyses]]
id = "p"
type = "proportion"
cohorts = ["old"]
outcome = "cr"
"""


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d", "e"],
            "age": [12.0, 40.0, 64.9, 65.0, np.nan],
            "dose": [2e6, 5e5, 2e6, 2e6, 1e7],
            "sex": ["male", "female", "female", None, "male"],
            "cr": [True, False, None, True, False],
        }
    )


def test_cut_follows_r_and_variables_work_in_cohort_filters():
    study = parse_study(STUDY)
    frames = apply_variables(study.variables, {"infusions": frame()}, {})
    df = frames["infusions"]
    # cut(age, c(0, 40, 65, 120), right = FALSE): [0,40) [40,65) [65,120)
    assert df["age_group"].tolist() == ["<40", "40-64", "40-64", ">=65", None]
    assert df["older_high"].tolist() == [False, False, False, True, None]
    cohorts = build_cohorts(study, frames, {})
    assert cohorts["old"]["patient_id"].tolist() == ["d"]
    assert study.variable_label("age_group") == "Age group"
    assert study.variable("sex").level_order() == ["female", "male"]


def test_cut_default_labels_are_rs():
    c = Cut(column="x", breaks=[0, 10, float("inf")])
    assert c.interval_labels() == ["(0,10]", "(10,Inf]"]
    with pytest.raises(ValueError, match="increase"):
        Cut(column="x", breaks=[0, 0])


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        ("log10(dose)", [np.log10(2e6), np.log10(5e5), np.log10(2e6), np.log10(2e6), 7.0]),
        ("age / 10 + 1", [2.2, 5.0, 7.49, 7.5, None]),
        ("is_null(age)", [False, False, False, False, True]),
        ("sex == 'female' or age < 20", [True, True, True, None, None]),
        ("not (sex in ['male'])", [False, True, True, None, False]),
        ("age > 30 and is_null(sex)", [False, False, False, True, False]),
    ],
)
def test_expressions(expr, want):
    got = evaluate(expr, frame()).tolist()
    for g, w in zip(got, want):
        if w is None:
            assert g is None or (isinstance(g, float) and np.isnan(g)), (expr, got)
        elif isinstance(w, bool):
            assert g is w, (expr, got)
        else:
            assert g == pytest.approx(w), (expr, got)


@pytest.mark.parametrize(
    "bad",
    [
        "__import__('os').system('true')",
        "eval('1')",
        "age.real",
        "[x for x in age]",
        "lambda: 1",
        "age if age else 1",
        "open('f')",
    ],
)
def test_expressions_refuse_anything_but_the_small_language(bad):
    with pytest.raises(ValueError, match="not allowed|not one of"):
        parse_expression(bad)


def test_bad_expression_names_key_and_line():
    text = STUDY.replace('expr = "age >= 65 and dose > 1e6"', 'expr = "age >= "')
    with pytest.raises(SpecError) as e:
        parse_study(text)
    assert e.value.key.startswith("variables.older_high") and e.value.line == 11


def test_undeclared_level_and_missing_column_are_spec_errors():
    study = parse_study(STUDY.replace('levels = ["female", "male"]', 'levels = ["f", "m"]'))
    with pytest.raises(SpecError) as e:
        apply_variables(study.variables, {"infusions": frame()}, {})
    assert e.value.key == "variables.sex.levels" and "female" in str(e.value)
    study = parse_study(STUDY.replace('cut.column = "age"', 'cut.column = "age_years"'))
    with pytest.raises(SpecError) as e:
        apply_variables(study.variables, {"infusions": frame()}, {})
    assert e.value.key == "variables.age_group" and "age_years" in str(e.value)


def test_unknown_key_in_a_variable_or_section_names_key_and_line():
    with pytest.raises(SpecError) as e:
        parse_study(STUDY.replace('label = "Sex"', 'lable = "Sex"'))
    assert e.value.key == "variables.sex.lable" and e.value.line == 15
    text = STUDY.replace("[[analyses]]", '[sections.main]\ntitle = "Main"\n\n[[analyses]]')
    with pytest.raises(SpecError) as e:
        parse_study(text + 'section = "other"\n')
    assert e.value.key == "analyses[1].section" and "unknown section" in str(e.value)
