"""R model formulas for the notebook API: ``Surv(time, status) ~ age + sex + strata(centre)``.

:func:`parse` splits an R formula into its response (``Surv(...)``, ``Hist(...)`` or a
column), its special terms (``strata()``, ``cluster()``) and the ordinary right-hand side,
which is translated into the formulaic syntax of :mod:`cartlens.stats.formula` (``factor(x)``
becomes ``C(x)``, ``relevel(x, ref = "b")`` becomes ``C(x, contr.treatment(base="b"))``,
``log(x)`` becomes ``np.log(x)``). Every problem is a :class:`FormulaError` naming the term.

:func:`surv_event` turns an event column into 0/1 following R's ``Surv()``: logical
(``TRUE``/``FALSE``), 0/1, or 1/2 (1 = censored, 2 = event; recognised, as R does, when the
largest value is 2). R turns any other value into ``NA`` with a warning; cartlens refuses it.

References
----------
Chambers JM, Hastie TJ. Statistical Models in S. Wadsworth, 1992 (chapter 2).
Therneau TM. survival 3.5: ``Surv``, ``strata``, ``cluster``. Gerds TA. prodlim: ``Hist``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np

from cartlens.errors import InputError

_IDENT = r"[A-Za-z_.][\w.]*"
_COMPARE = re.compile(rf"^\s*(`[^`]+`|{_IDENT})\s*(==|!=|>=|<=|>|<)\s*(.+?)\s*$")
#: R functions translated to numpy for formulaic.
_R_FUNS = {
    "log": "np.log",
    "log2": "np.log2",
    "log10": "np.log10",
    "exp": "np.exp",
    "sqrt": "np.sqrt",
}
_ALLOWED_FUNS = {
    "C",
    "I",
    "factor",
    "relevel",
    "np.log",
    "np.log2",
    "np.log10",
    "np.exp",
    "np.sqrt",
    *_R_FUNS,
}
_SPECIALS = {"strata", "cluster"}
_UNSUPPORTED = {
    "offset": "offsets are not supported",
    "tt": "time-transform terms (tt()) are not supported; build (start, stop] rows instead",
    "pspline": "penalised splines are not supported",
    "frailty": "frailty terms are not supported",
    "ns": "splines are not supported",
    "bs": "splines are not supported",
    "poly": "poly() is not supported",
}


class FormulaError(InputError):
    """A formula that cannot be used; names the term (``.term``) and the formula."""

    def __init__(self, formula: str, term: str, problem: str) -> None:
        self.term = term
        self.formula = formula
        super().__init__(f"formula '{formula}': term '{term}' {problem}")
        self.column = term


@dataclasses.dataclass(frozen=True)
class Response:
    """The left-hand side: ``kind`` is ``"Surv"``, ``"Hist"`` or ``"column"``; ``args`` the
    argument expressions as written (``time``, ``status == 2``)."""

    kind: str
    args: tuple[str, ...]
    text: str


@dataclasses.dataclass(frozen=True)
class ParsedFormula:
    """An R formula split into its parts.

    Attributes
    ----------
    text : str
        The formula as given.
    response : Response or None
    rhs : str
        The ordinary terms in formulaic syntax ("" when the model is ``~ 1``).
    terms : tuple of str
        The ordinary terms as written (R syntax).
    variables : tuple of str
        The data columns used by the ordinary terms, in order of appearance.
    strata, cluster : tuple of str
        Columns inside ``strata()`` / ``cluster()``.
    """

    text: str
    response: Response | None
    rhs: str
    terms: tuple[str, ...]
    variables: tuple[str, ...]
    strata: tuple[str, ...]
    cluster: tuple[str, ...]


def split_top(text: str, seps: str) -> list[str]:
    """Split ``text`` at the characters of ``seps`` that are outside brackets and quotes."""
    out, depth, cur, quote = [], 0, [], None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'`":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch in seps and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _balanced(formula: str, text: str) -> None:
    """Brackets must match; the error names the call whose bracket is left open."""
    opened: list[int] = []
    for i, ch in enumerate(text):
        if ch == "(":
            opened.append(i)
        elif ch == ")":
            if not opened:
                raise FormulaError(formula, text[: i + 1].strip(), "has a ')' without its '('")
            opened.pop()
    if opened:
        i = opened[0]
        m = re.search(rf"({_IDENT})?\s*$", text[:i])
        start = m.start() if m and m.group(1) else i
        raise FormulaError(formula, text[start:].strip(), "has an unclosed '('")


def _call(term: str) -> tuple[str, str] | None:
    """``name(args)`` -> (name, args) when the whole term is one call."""
    m = re.fullmatch(rf"\s*({_IDENT})\s*\((.*)\)\s*", term, flags=re.S)
    if not m:
        return None
    # the closing bracket must close the opening one: f(a) + g(b) is not one call
    depth = 0
    for ch in m.group(2):
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return None
    return m.group(1), m.group(2)


def _column(formula: str, term: str, text: str, columns: set[str]) -> str:
    name = text.strip()
    if name.startswith("`") and name.endswith("`"):
        name = name[1:-1]
    if not name:
        raise FormulaError(formula, term, "has an empty argument")
    if name not in columns:
        if re.fullmatch(_IDENT, name):
            raise FormulaError(formula, term, f"uses '{name}', which is not a column of the data")
        raise FormulaError(formula, term, f"has '{name}' where a column name is expected")
    return name


def _response(formula: str, lhs: str, columns: set[str]) -> Response | None:
    lhs = lhs.strip()
    if not lhs:
        return None
    call = _call(lhs)
    if call is None:
        return Response("column", (_column(formula, lhs, lhs, columns),), lhs)
    name, inner = call
    if name not in ("Surv", "Hist"):
        raise FormulaError(
            formula, lhs, "is not a response cartlens knows (Surv(), Hist() or a column)"
        )
    args = [a.strip() for a in split_top(inner, ",")]
    named = [a for a in args if re.match(rf"^{_IDENT}\s*=(?!=)", a)]
    if named:
        raise FormulaError(
            formula, lhs, f"has a named argument ({named[0]}); give the columns by position"
        )
    if name == "Surv" and len(args) not in (2, 3):
        raise FormulaError(formula, lhs, "needs Surv(time, event) or Surv(start, stop, event)")
    if name == "Hist" and len(args) != 2:
        raise FormulaError(formula, lhs, "needs Hist(time, cause)")
    for a in args:
        m = _COMPARE.match(a)
        _column(formula, lhs, m.group(1) if m else a, columns)
    return Response(name, tuple(args), lhs)


def _split_keep(term: str, seps: str) -> list[str]:
    """Split at top-level separators, keeping them: ``a:b*c`` -> ``[a, :, b, *, c]``."""
    out: list[str] = []
    pos = 0
    for part in split_top(term, seps):
        out.append(part.strip())
        pos += len(part)
        if pos < len(term):
            out.append(term[pos])
            pos += 1
    return out


def _translate_atom(formula: str, term: str, atom: str, columns: set[str], used: list[str]) -> str:
    if re.fullmatch(r"-?\s*[01]", atom):
        return atom
    if atom.startswith("`") or re.fullmatch(_IDENT, atom):
        used.append(_column(formula, term, atom, columns))
        return atom
    call = _call(atom)
    if call is None:
        raise FormulaError(
            formula, term, "cannot be read (expected a column, a call such as factor(x), or a:b)"
        )
    name, inner = call
    if name in _UNSUPPORTED:
        raise FormulaError(formula, term, _UNSUPPORTED[name])
    if name in _SPECIALS:
        raise FormulaError(formula, term, f"{name}() cannot be part of an interaction")
    if name not in _ALLOWED_FUNS:
        raise FormulaError(
            formula, term, f"uses the function {name}(), which cartlens does not know"
        )
    args = [a.strip() for a in split_top(inner, ",")]
    if name in ("factor", "relevel", "C"):
        col = _column(formula, term, args[0], columns)
        used.append(col)
        if name == "factor":
            if len(args) > 1:
                raise FormulaError(
                    formula,
                    term,
                    "factor() takes one column; set the levels with pandas Categorical",
                )
            return f"C({args[0]})"
        if name == "relevel":
            ref = [a for a in args[1:]]
            if len(ref) != 1:
                raise FormulaError(formula, term, 'needs relevel(x, ref = "level")')
            val = re.sub(r"^ref\s*=\s*", "", ref[0])
            return f"C({args[0]}, contr.treatment(base={val}))"
        return atom
    # log(x), I(x ** 2), np.log(x): check the columns it uses, translate R's names
    for tok in re.findall(rf"`[^`]+`|{_IDENT}", re.sub(r"\"[^\"]*\"|'[^']*'", "", inner)):
        bare = tok.strip("`")
        if bare in columns:
            used.append(bare)
        elif tok.startswith("`") or not (
            bare in _R_FUNS or bare.split(".")[0] == "np" or re.fullmatch(r"[\d.]+", bare)
        ):
            raise FormulaError(formula, term, f"uses '{bare}', which is not a column of the data")
    return _R_FUNS.get(name, name) + f"({inner})"


def parse(formula: str, columns) -> ParsedFormula:
    """Split an R formula on a frame with ``columns``; see the module docstring."""
    if not isinstance(formula, str) or not formula.strip():
        raise InputError("is empty; write e.g. 'Surv(time, status) ~ group'", column="formula")
    cols = {str(c) for c in columns}
    _balanced(formula, formula)
    parts = split_top(formula, "~")
    if len(parts) != 2:
        raise FormulaError(formula, formula.strip(), "needs exactly one '~' (response ~ terms)")
    lhs, rhs = parts
    response = _response(formula, lhs, cols)
    terms, out, used, strata, cluster = [], [], [], [], []
    raw = [t.strip() for t in split_top(rhs, "+")]
    if not rhs.strip():
        raise FormulaError(formula, "~", "has nothing after '~' (write '~ 1' for no covariates)")
    for i, t in enumerate(raw):
        if not t:
            if i == 0 and rhs.strip().startswith("+"):
                continue
            raise FormulaError(
                formula, rhs.strip(), "has an empty term (two '+' in a row or a trailing '+')"
            )
        call = _call(t)
        if call and call[0] in _SPECIALS:
            args = [a.strip() for a in split_top(call[1], ",")]
            target = strata if call[0] == "strata" else cluster
            if call[0] == "cluster" and len(args) != 1:
                raise FormulaError(formula, t, "needs exactly one column: cluster(id)")
            target += [_column(formula, t, a, cols) for a in args]
            continue
        if t in ("1", "0", "-1", "- 1"):
            if t != "1":
                out.append(t)
            continue
        pieces = [p.strip() for p in split_top(t, "-")]
        if len(pieces) > 1 and pieces[0] and all(p in ("1", "0") for p in pieces[1:]):
            t = pieces[0]
            out.append("- 1")
        pieces_ops = _split_keep(t, ":*")
        translated = [
            x if x in (":", "*") else _translate_atom(formula, t, x, cols, used) for x in pieces_ops
        ]
        terms.append(t)
        out.append("".join(translated))
    return ParsedFormula(
        text=formula,
        response=response,
        rhs=" + ".join(x for x in out if x not in ("- 1", "0", "-1"))
        + (" - 1" if any(x in ("- 1", "0", "-1") for x in out) else ""),
        terms=tuple(terms),
        variables=tuple(dict.fromkeys(used)),
        strata=tuple(strata),
        cluster=tuple(cluster),
    )


def evaluate_arg(data, expr: str) -> np.ndarray:
    """The values of a response argument: a column, or ``column <op> literal`` (``status == 2``)."""
    import pandas as pd

    m = _COMPARE.match(expr)
    if not m:
        return data[expr.strip().strip("`")]
    col, op, lit = m.group(1).strip("`"), m.group(2), m.group(3).strip()
    if re.fullmatch(r"\"[^\"]*\"|'[^']*'", lit):
        value: Any = lit[1:-1]
    elif lit in ("TRUE", "True"):
        value = True
    elif lit in ("FALSE", "False"):
        value = False
    else:
        try:
            value = float(lit)
        except ValueError:
            raise InputError(
                f"'{lit}' in '{expr}' is not a number or a quoted string", column=col
            ) from None
    s = data[col]
    res = {"==": s.eq, "!=": s.ne, ">": s.gt, ">=": s.ge, "<": s.lt, "<=": s.le}[op](value)
    return pd.Series(np.where(s.isna(), np.nan, res.astype(float)), index=data.index)


def surv_event(values, name: str) -> np.ndarray:
    """0/1 event indicator from R's codings (logical, 0/1, 1/2); NaN where missing.

    Raises
    ------
    InputError
        A factor / text event, or numbers outside the three codings (R would make them NA).
    """
    import pandas as pd

    s = pd.Series(values)
    if (
        isinstance(s.dtype, pd.CategoricalDtype)
        or s.dtype == object
        or pd.api.types.is_string_dtype(s)
    ):
        nonmiss = s.dropna()
        if len(nonmiss) and all(isinstance(v, bool | np.bool_) for v in nonmiss):
            s = s.astype("boolean")
        else:
            shown = ", ".join(map(repr, list(pd.unique(nonmiss))[:5]))
            raise InputError(
                f"must be logical (TRUE/FALSE) or numeric 0/1 or 1/2, as in R's Surv(); got "
                f"{shown}. For several event types use Hist(time, cause) with cuminc()/crr()",
                column=name,
            )
    if pd.api.types.is_bool_dtype(s):
        return s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    x = pd.to_numeric(s, errors="raise").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    ok = ~np.isnan(x)
    shifted = bool(ok.any() and np.nanmax(x) == 2)
    y = x - 1.0 if shifted else x
    bad = ok & (y != 0) & (y != 1)
    if bad.any():
        wrong = ", ".join(f"{v:g}" for v in np.unique(x[bad])[:5])
        why = (
            "the largest value is 2, so the coding is 1/2 (1 = censored, 2 = event) as in R, "
            f"and {wrong} is not part of it"
            if shifted
            else f"{wrong} is not an event code"
        )
        raise InputError(
            f"has event value(s) {wrong}: {why}; R's codings are 0/1 (0 = censored), "
            "1/2 (1 = censored, 2 = event) and TRUE/FALSE",
            column=name,
        )
    return y
