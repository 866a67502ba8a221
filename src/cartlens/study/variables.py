"""Study variables: labels, types, level order, and derived columns without ``eval``.

A ``[variables.<name>]`` table describes a column of the analysis frames (its label, unit,
type and level order; the first level is the reference in models) or derives a new one:

* ``cut = { column = "age", breaks = [0, 40, 65, 120], labels = ["<40", "40-64", ">=65"] }``
  as R's ``cut`` (intervals ``(a, b]`` unless ``right = false``);
* ``expr = "log10(dose_cells_per_kg)"``: a small expression language - numbers, strings,
  ``true``/``false``, column names, ``+ - * / ** %``, comparisons (``== != < <= > >=``,
  ``in [..]``, ``not in [..]``), ``and``/``or``/``not`` (three-valued: missing stays missing)
  and the functions ``log``, ``log10``, ``exp``, ``sqrt``, ``abs``, ``is_null``, ``not_null``.
  The text is parsed with :mod:`ast` and evaluated by this module's own walker over a
  whitelist of node types; nothing is handed to Python's ``eval``.

Variables are computed on every frame that has their source columns, in the order they are
declared (a variable may use an earlier one), before the cohorts are built, so they work in
cohort filters, ``by``, covariates, Table 1 rows and figure labels.
"""

from __future__ import annotations

import ast
import math
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from cartlens.study.analyses.base import Scalar, SpecError, _Model, label

FUNCTIONS = ("log", "log10", "exp", "sqrt", "abs", "is_null", "not_null")


class Cut(_Model):
    """``cut(column, breaks, labels, right)`` as in R."""

    column: str
    breaks: list[float] = Field(min_length=2)
    labels: list[str] | None = None
    right: bool = True
    include_lowest: bool = False

    @model_validator(mode="after")
    def _check(self) -> Cut:
        if any(b >= c for b, c in zip(self.breaks, self.breaks[1:])):
            raise ValueError("breaks must increase strictly")
        if self.labels is not None and len(self.labels) != len(self.breaks) - 1:
            raise ValueError(
                f"{len(self.breaks) - 1} intervals need {len(self.breaks) - 1} labels, "
                f"got {len(self.labels)}"
            )
        return self

    def interval_labels(self) -> list[str]:
        if self.labels is not None:
            return list(self.labels)

        def f(x: float) -> str:
            return ("-Inf" if x < 0 else "Inf") if math.isinf(x) else f"{x:g}"

        b = self.breaks
        if self.right:
            return [f"({f(lo)},{f(hi)}]" for lo, hi in zip(b, b[1:])]
        return [f"[{f(lo)},{f(hi)})" for lo, hi in zip(b, b[1:])]


class Variable(_Model):
    """One ``[variables.<name>]`` table."""

    label: str = ""
    unit: str = ""
    type: Literal["continuous", "categorical", "binary"] | None = None
    levels: list[Scalar] | None = None
    level_labels: dict[str, str] = Field(default_factory=dict)
    cut: Cut | None = None
    expr: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Variable:
        if self.cut is not None and self.expr is not None:
            raise ValueError("give either 'cut' or 'expr', not both")
        if self.expr is not None:
            parse_expression(self.expr)  # syntax errors at load time
        if self.levels is not None and len({label(v) for v in self.levels}) != len(self.levels):
            raise ValueError("levels must be distinct")
        return self

    def kind(self, series: pd.Series | None = None) -> str:
        """``continuous``, ``categorical`` or ``binary`` (declared, else from the values)."""
        if self.type:
            return self.type
        if self.cut is not None or self.levels is not None:
            return "categorical"
        return infer_kind(series) if series is not None else "continuous"

    def level_order(self) -> list[str] | None:
        if self.cut is not None and self.levels is None:
            return self.cut.interval_labels()
        return None if self.levels is None else [label(v) for v in self.levels]

    def level_label(self, level: Any) -> str:
        k = label(level)
        return self.level_labels.get(k, {"true": "Yes", "false": "No"}.get(k, k))


def infer_kind(series: pd.Series) -> str:
    """``binary`` for booleans, ``categorical`` for text, else ``continuous``."""
    s = series.dropna()
    if len(s) and s.map(lambda v: isinstance(v, bool | np.bool_)).all():
        return "binary"
    if pd.api.types.is_bool_dtype(series.dtype):
        return "binary"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "continuous"
    num = pd.to_numeric(s, errors="coerce")
    if len(s) and num.notna().all():
        return "continuous"
    # mostly numbers with a stray text value: a continuous variable with a bad value (the
    # analysis names it), not a factor with a level per number
    if len(s) and num.notna().mean() >= 0.8 and num.nunique() > 10:
        return "continuous"
    return "categorical"


# --------------------------------------------------------------------------------------------
# the expression language
# --------------------------------------------------------------------------------------------

_BIN = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: np.power,
    ast.Mod: np.mod,
}
_CMP = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}


def parse_expression(text: str) -> ast.Expression:
    """Parse and check ``text``; a :class:`ValueError` names what is not allowed."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"expression '{text}' is not valid: {exc.msg}") from None
    for node in ast.walk(tree):
        ok = isinstance(
            node,
            ast.Expression
            | ast.BinOp
            | ast.UnaryOp
            | ast.BoolOp
            | ast.Compare
            | ast.Name
            | ast.Constant
            | ast.List
            | ast.Tuple
            | ast.Call
            | ast.Load
            | ast.operator
            | ast.unaryop
            | ast.boolop
            | ast.cmpop,
        )
        if isinstance(node, ast.operator) and type(node) not in _BIN:
            ok = False
        if isinstance(node, ast.unaryop) and not isinstance(node, ast.USub | ast.UAdd | ast.Not):
            ok = False
        if isinstance(node, ast.Call):
            ok = (
                isinstance(node.func, ast.Name)
                and node.func.id in FUNCTIONS
                and len(node.args) == 1
                and not node.keywords
            )
            if not ok:
                name = getattr(node.func, "id", ast.unparse(node.func))
                raise ValueError(
                    f"expression '{text}': function '{name}' is not one of "
                    f"{', '.join(FUNCTIONS)} (one argument each)"
                )
        if not ok:
            what = ast.unparse(node) if hasattr(node, "lineno") else type(node).__name__
            raise ValueError(
                f"expression '{text}': '{what}' is not allowed (arithmetic, comparisons, "
                f"and/or/not, {', '.join(FUNCTIONS)})"
            )
    return tree


_BOOLS = {"true": True, "True": True, "false": False, "False": False}


def expression_columns(text: str) -> list[str]:
    """Column names an expression reads."""
    tree = parse_expression(text)
    names = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name)]
    return [n for n in dict.fromkeys(names) if n not in FUNCTIONS and n not in _BOOLS]


def _na(s: pd.Series) -> np.ndarray:
    return s.isna().to_numpy()


def _as_bool(v: pd.Series) -> pd.Series:
    return v.astype(object).map(lambda x: None if x is None or x is pd.NA else bool(x))


def evaluate(text: str, df: pd.DataFrame) -> pd.Series:
    """The expression on every row of ``df``; missing inputs give missing results."""
    tree = parse_expression(text)
    idx = df.index

    def const(v: Any) -> pd.Series:
        return pd.Series([v] * len(idx), index=idx, dtype=object)

    def num(s: pd.Series) -> pd.Series:
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            return s.astype(float)
        out = pd.to_numeric(
            s.map(lambda v: float(v) if isinstance(v, bool) else v), errors="coerce"
        )
        bad = out.isna() & s.notna()
        if bad.any():
            raise ValueError(f"expression '{text}': value {s[bad].iloc[0]!r} is not a number")
        return out.astype(float)

    def kleene(a: pd.Series, b: pd.Series, op: str) -> pd.Series:
        x = a.astype("boolean")
        y = b.astype("boolean")
        return _as_bool(x & y if op == "and" else x | y)

    def walk(n: ast.AST) -> pd.Series:
        if isinstance(n, ast.Expression):
            return walk(n.body)
        if isinstance(n, ast.Constant):
            return const(n.value)
        if isinstance(n, ast.Name):
            if n.id in _BOOLS:
                return const(_BOOLS[n.id])
            if n.id not in df.columns:
                raise KeyError(n.id)
            return df[n.id]
        if isinstance(n, ast.BinOp):
            a, b = num(walk(n.left)), num(walk(n.right))
            with np.errstate(all="ignore"):
                out = pd.Series(_BIN[type(n.op)](a.to_numpy(), b.to_numpy()), index=idx)
            return out.where(np.isfinite(out), np.nan)
        if isinstance(n, ast.UnaryOp):
            v = walk(n.operand)
            if isinstance(n.op, ast.Not):
                return _as_bool(~v.astype("boolean"))
            v = num(v)
            return -v if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.BoolOp):
            out = walk(n.values[0])
            for v in n.values[1:]:
                out = kleene(out, walk(v), "and" if isinstance(n.op, ast.And) else "or")
            return out
        if isinstance(n, ast.Compare):
            left = walk(n.left)
            result: pd.Series | None = None
            for op, right_node in zip(n.ops, n.comparators):
                if isinstance(op, ast.In | ast.NotIn):
                    if not isinstance(right_node, ast.List | ast.Tuple):
                        raise ValueError(f"expression '{text}': 'in' needs a list [a, b, ...]")
                    if not all(isinstance(e, ast.Constant) for e in right_node.elts):
                        raise ValueError(f"expression '{text}': 'in' needs a list of constants")
                    keys = [label(e.value) for e in right_node.elts]
                    m = left.map(label).isin(keys)
                    r = m if isinstance(op, ast.In) else ~m
                    r = _as_bool(r).where(left.notna(), None)
                    right = None
                else:
                    right = walk(right_node)
                    na = _na(left) | _na(right)
                    lv, rv = left, right
                    if not isinstance(op, ast.Eq | ast.NotEq) or (
                        pd.api.types.is_numeric_dtype(left.dtype)
                        or pd.api.types.is_numeric_dtype(right.dtype)
                    ):
                        try:
                            lv, rv = num(left), num(right)
                        except ValueError:
                            lv, rv = left.astype(object), right.astype(object)
                    try:
                        r = _CMP[type(op)](lv, rv)
                    except TypeError as exc:
                        raise ValueError(f"expression '{text}': {exc}") from None
                    r = _as_bool(r.astype(bool)).where(~na, None)
                result = r if result is None else kleene(result, r, "and")
                if right is not None:
                    left = right
            return result  # type: ignore[return-value]
        if isinstance(n, ast.Call):
            f = n.func.id  # type: ignore[attr-defined]
            v = walk(n.args[0])
            if f == "is_null":
                return _as_bool(v.isna())
            if f == "not_null":
                return _as_bool(v.notna())
            x = num(v).to_numpy()
            with np.errstate(all="ignore"):
                out = {
                    "log": np.log,
                    "log10": np.log10,
                    "exp": np.exp,
                    "sqrt": np.sqrt,
                    "abs": np.abs,
                }[f](x)
            out = pd.Series(out, index=idx)
            return out.where(np.isfinite(out), np.nan)
        raise ValueError(f"expression '{text}': cannot evaluate {ast.dump(n)}")  # pragma: no cover

    out = walk(tree)
    if out.dtype == object and out.dropna().map(lambda v: isinstance(v, float | int)).all():
        if not out.dropna().map(lambda v: isinstance(v, bool)).any():
            out = pd.to_numeric(out, errors="coerce")
    return out


def cut_values(c: Cut, s: pd.Series) -> pd.Series:
    """R's ``cut``: the interval label of each value (missing outside the breaks)."""
    x = pd.to_numeric(s, errors="coerce")
    labels = c.interval_labels()
    res = pd.cut(x, bins=c.breaks, labels=labels, right=c.right, include_lowest=c.include_lowest)
    return res.astype(object).where(res.notna(), None)


# --------------------------------------------------------------------------------------------
# applying the variables to the frames
# --------------------------------------------------------------------------------------------


def source_columns(v: Variable) -> list[str]:
    if v.cut is not None:
        return [v.cut.column]
    if v.expr is not None:
        return expression_columns(v.expr)
    return []


def apply_variables(
    variables: dict[str, Variable], frames: dict[str, pd.DataFrame], lines: dict
) -> dict[str, pd.DataFrame]:
    """Frames with the derived variables added and declared levels checked."""
    out = {k: f.copy() for k, f in frames.items()}
    for name, v in variables.items():
        key = f"variables.{name}"
        line = lines.get(("variables", name))
        src = source_columns(v)
        found = False
        for fname, df in out.items():
            if df.empty and not len(df.columns):
                continue
            if v.cut is None and v.expr is None:
                if name not in df.columns:
                    continue
            elif any(c not in df.columns for c in src):
                continue
            found = True
            try:
                if v.cut is not None:
                    df[name] = cut_values(v.cut, df[v.cut.column])
                elif v.expr is not None:
                    df[name] = evaluate(v.expr, df).to_numpy()
            except (ValueError, KeyError) as exc:
                raise SpecError(str(exc), key=key, line=line) from None
            order = v.level_order()
            if order is not None:
                seen = {label(x) for x in df[name].dropna().unique()}
                extra = sorted(seen - set(order))
                if extra:
                    raise SpecError(
                        f"frame '{fname}' has value '{extra[0]}' in column '{name}' that is not "
                        f"one of the declared levels ({', '.join(order)})",
                        key=f"{key}.levels",
                        line=lines.get(("variables", name, "levels")) or line,
                    )
        if not found:
            cols = ", ".join(src) if src else name
            raise SpecError(
                f"no analysis frame has the column(s) {cols} this variable needs",
                key=key,
                line=line,
            )
    return out
