"""Model formulas -> design matrices (formulaic), with R's coding conventions.

``design_matrix("age + sex + C(celltype) + age:sex", data)`` returns ``(X, names, kept)``.

Conventions (as R's ``model.matrix`` with treatment contrasts):

* Categorical variables - text columns, pandas categoricals, booleans or anything wrapped in
  ``C(...)`` - use treatment (dummy) coding with the **first level as reference**. Levels are
  sorted (text sorts alphabetically, numbers numerically) unless the column is a pandas
  ``Categorical``, whose category order is kept (like an R factor's level order). A different
  reference: ``C(x, contr.treatment(base="b"))`` or ``C(x, levels=[...])``.
* Even without an intercept (Cox models) the coding is the full-rank treatment coding that
  R's ``coxph`` uses: the intercept is built and then dropped.
* Term names:

  - a plain numeric column: its name (``age``, ``ph.ecog``);
  - a level of a categorical: ``variable[level]``, for example ``celltype[smallcell]`` for
    ``C(celltype)`` or a text column ``celltype`` (R writes ``celltypesmallcell``);
  - interactions join their parts with ``:`` (``sex[M]:age``); ``a*b`` expands to
    ``a + b + a:b``;
  - any other expression keeps formulaic's name (``np.log(age)``).

* Rows with a missing value in any variable the formula uses (and in ``extra_columns``) are
  dropped; ``kept`` is the boolean mask of rows used and ``n_dropped`` their count.

References
----------
Wilkinson GN, Rogers CE. Symbolic description of factorial models for analysis of variance.
Applied Statistics 1973;22:392-399.
Chambers JM, Hastie TJ. Statistical Models in S. Wadsworth, 1992 (chapter 2).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from cartlens.errors import InputError

_C_WRAP = re.compile(r"C\(\s*([A-Za-z_.][\w.]*)\s*(?:,[^()]*(?:\([^()]*\)[^()]*)*)?\)\[")
_T_LEVEL = re.compile(r"\[T\.")


_INT_LEVEL = re.compile(r"\[(-?\d+)\.0\]")
_STRINGS = re.compile(r"\"[^\"]*\"|'[^']*'")
_TOKEN = re.compile(r"`([^`]+)`|([A-Za-z_.][\w.]*)(\s*[(=])?")
_KNOWN = {"C", "np", "True", "False", "None", "contr", "I"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def r_style_name(name: str) -> str:
    """Turn formulaic's column name into cartlens' R-like name (see module docstring)."""
    out = name.replace("`", "")
    out = _C_WRAP.sub(r"\1[", out)
    out = _T_LEVEL.sub("[", out)
    return _INT_LEVEL.sub(r"[\1]", out)


def _prepare_formula(formula: str, columns: list[str]) -> tuple[str, list[str]]:
    """Back-quote column names that are not Python identifiers (``ph.ecog``) and list the
    data columns the formula uses; an unknown variable is an :class:`InputError`."""
    colset = set(columns)
    bare = _STRINGS.sub('""', formula)
    used: list[str] = []
    for m in _TOKEN.finditer(bare):
        quoted, ident, call = m.groups()
        name = quoted if quoted is not None else ident
        if quoted is None and call is not None:
            continue  # a function (C(, np.log() or a keyword argument (base=)
        if name in colset:
            used.append(name)
        elif quoted is not None or name.split(".")[0] not in _KNOWN:
            if re.fullmatch(r"[\d.]+", name):
                continue
            raise InputError("does not exist in the data", column=name)
    out = formula
    for c in sorted(set(used), key=len, reverse=True):
        if not c.isidentifier():
            out = re.sub(r"(?<![\w.`])" + re.escape(c) + r"(?![\w.`])", f"`{c}`", out)
    return out, used


@dataclasses.dataclass(frozen=True)
class Design:
    """A design matrix with its bookkeeping.

    Attributes
    ----------
    X : ndarray (n_kept, p)
    names : tuple of str
        Column names (see the module docstring).
    kept : ndarray of bool
        Rows of the input used (no missing value).
    n_dropped : int
    term_columns : dict
        Formula term (as written, e.g. ``C(celltype)``) -> tuple of column indices; a
        multi-level factor is one term (used by ``cox_zph(terms=True)``).
    """

    X: np.ndarray
    names: tuple
    kept: np.ndarray
    n_dropped: int
    term_columns: dict


def design(formula: str, data, *, intercept: bool = False, extra_columns=()) -> Design:
    """Build the design matrix of ``formula`` on ``data`` (a pandas DataFrame).

    Parameters
    ----------
    formula : str
        Right-hand side, e.g. ``"age + sex + C(celltype) + age:sex"`` (a ``y ~`` part is
        not allowed).
    data : pandas.DataFrame
    intercept : bool
        Keep the intercept column (named ``Intercept``).
    extra_columns : sequence of str
        Further columns whose missing values also drop a row (time, event, ...).

    References
    ----------
    Chambers JM, Hastie TJ. Statistical Models in S. Wadsworth, 1992.
    """
    import formulaic
    import pandas as pd

    if not isinstance(formula, str) or not formula.strip():
        raise InputError("is empty", column="formula")
    if "~" in formula:
        raise InputError("give only the right-hand side (no '~')", column="formula")
    formula, names_used = _prepare_formula(formula, [str(c) for c in data.columns])
    used = list(dict.fromkeys(names_used + [c for c in extra_columns if c is not None]))
    kept = data[used].notna().all(axis=1).to_numpy() if used else np.ones(len(data), bool)
    sub = data.loc[kept]
    if len(sub) == 0:
        raise InputError("no rows left after dropping missing values", column="formula")
    try:
        mm = formulaic.model_matrix(formula, sub, na_action="raise")
    except Exception as exc:
        text = _ANSI.sub("", str(exc)).replace("⧛", "").replace("⧚", "")
        raise InputError(f"cannot be evaluated: {text}", column="formula") from exc
    spec = mm.model_spec
    colnames = list(mm.columns)
    X = np.asarray(mm, dtype=float)
    term_columns: dict = {}
    for term, idx in spec.term_indices.items():
        term_columns[str(term).replace("`", "")] = tuple(int(i) for i in idx)
    if not intercept and "Intercept" in colnames:
        j = colnames.index("Intercept")
        X = np.delete(X, j, axis=1)
        colnames.pop(j)
        term_columns = {
            t: tuple(i - (i > j) for i in idx if i != j)
            for t, idx in term_columns.items()
            if t != "1"
        }
    names = tuple(r_style_name(c) for c in colnames)
    del pd
    return Design(
        X=X, names=names, kept=kept, n_dropped=int((~kept).sum()), term_columns=term_columns
    )


def design_matrix(formula: str, data, intercept: bool = False):
    """``(X, names, kept_row_mask)`` for ``formula`` on ``data``; see :func:`design`."""
    d = design(formula, data, intercept=intercept)
    return d.X, d.names, d.kept
