"""Formula -> design matrix with R's treatment coding and cartlens' term names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cartlens.errors import InputError
from cartlens.stats.formula import design, design_matrix, r_style_name


@pytest.fixture
def df():
    return pd.DataFrame(
        {
            "age": [50.0, 60, 70, np.nan, 55, 65],
            "sex": ["M", "F", "M", "F", "F", "M"],
            "grade": [1, 2, 3, 1, 2, 3],
            "ph.ecog": [0.0, 1, 2, 1, 0, 1],
        }
    )


def test_numeric_and_factor_names_and_reference_level(df):
    """R: model.matrix(~ age + sex + factor(grade))[, -1] -> age, sexM, grade2, grade3."""
    X, names, kept = design_matrix("age + sex + C(grade)", df)
    assert names == ("age", "sex[M]", "grade[2]", "grade[3]")
    assert kept.tolist() == [True, True, True, False, True, True]
    np.testing.assert_array_equal(X[:, 1], [1, 0, 1, 0, 1])  # F (sorted first) is reference
    np.testing.assert_array_equal(X[:, 2], [0, 1, 0, 1, 0])


def test_interactions_and_star(df):
    d = design("age * sex", df)
    assert d.names == ("age", "sex[M]", "age:sex[M]")
    np.testing.assert_allclose(d.X[:, 2], d.X[:, 0] * d.X[:, 1])
    assert d.n_dropped == 1
    assert d.term_columns == {"age": (0,), "sex": (1,), "age:sex": (2,)}


def test_dotted_column_names_and_intercept(df):
    X, names, _ = design_matrix("`ph.ecog` + age", df, intercept=True)
    assert names == ("Intercept", "ph.ecog", "age")
    X2, names2, _ = design_matrix("ph.ecog + age", df)
    assert names2 == ("ph.ecog", "age")
    np.testing.assert_array_equal(X[:, 1:], X2)


def test_categorical_level_order_is_kept(df):
    df = df.assign(sex=pd.Categorical(df["sex"], ["M", "F"]))
    _, names, _ = design_matrix("sex", df)
    assert names == ("sex[F]",)


def test_factor_is_one_term(df):
    d = design("C(grade) + age", df)
    assert d.term_columns["C(grade)"] == (0, 1)


def test_r_style_name():
    assert r_style_name("C(celltype)[T.smallcell]") == "celltype[smallcell]"
    assert r_style_name("C(x, contr.treatment(base='b'))[T.a]") == "x[a]"
    assert r_style_name("C(`ph.ecog`)[T.1.0]") == "ph.ecog[1]"


@pytest.mark.parametrize(
    "formula, column",
    [("age + nosuch", "nosuch"), ("", "formula"), ("y ~ age", "formula"), ("age +", "formula")],
)
def test_bad_formula_is_input_error(df, formula, column):
    with pytest.raises(InputError) as err:
        design(formula, df)
    assert err.value.column == column
