"""The model frame of a notebook call: rows used, the response, groups in factor-level order.

As R's ``model.frame`` with ``na.action = na.omit``: a row with a missing value in any variable
the formula uses (response, terms, ``strata()``, ``cluster()``, weights) is dropped and counted.
Levels follow the data: a pandas ``Categorical`` keeps its category order (as an R factor keeps
its levels), booleans are ``False, True``, numbers sort numerically and text alphabetically.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from cartlens.api.formula import ParsedFormula, evaluate_arg, parse, surv_event
from cartlens.errors import InputError

#: Names of the columns the model frame adds (they never clash with a user's column).
TIME, START, EVENT, WEIGHTS = ".time", ".start", ".event", ".weights"


def require_frame(data: Any):
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise InputError(f"must be a pandas DataFrame; got {type(data).__name__}", column="data")
    return data


def column_model(data, formula: str, what: str, model: str) -> tuple[str, ParsedFormula]:
    """``y ~ x + ...`` for a model with a column response (logistic, propensity): the response
    column and the parsed formula; ``strata()``/``cluster()`` and an empty right-hand side are
    refused, naming the term."""
    from cartlens.api.formula import FormulaError

    require_frame(data)
    pf = parse(formula, data.columns)
    if pf.response is None or pf.response.kind != "column":
        where = pf.response.text if pf.response else "~"
        raise FormulaError(formula, where, f"needs {what} column on the left of '~'")
    if pf.strata or pf.cluster:
        raise FormulaError(formula, "strata()/cluster()", f"is not allowed in a {model}")
    if not pf.rhs.strip():
        raise FormulaError(formula, "~", "has no covariates")
    return pf.response.args[0], pf


def levels_of(s) -> list:
    """The levels of a column in R's order (see the module docstring)."""
    import pandas as pd

    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.dropna().unique())
        return [c for c in s.cat.categories if c in present]
    vals = pd.unique(s.dropna())
    try:
        return sorted(vals)
    except TypeError:
        return sorted(vals, key=str)


def level_text(v: Any) -> str:
    """A level as R writes it (``1`` not ``1.0``; ``TRUE``/``FALSE``)."""
    if isinstance(v, bool | np.bool_):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


@dataclasses.dataclass(frozen=True)
class Groups:
    """Group (stratum) of each row: ``codes`` index into ``labels`` (R's ``var=level``)."""

    codes: np.ndarray
    labels: tuple[str, ...]
    levels: tuple[tuple, ...]
    variables: tuple[str, ...]

    @property
    def k(self) -> int:
        return len(self.labels)

    def display(self, code) -> str:
        """A figure's name for a group: its level(s) when they are text (``favourable``),
        else R's stratum label (``prior_allo_hsct=TRUE``), ``All`` without groups."""
        if code is None or not self.variables:
            return "All"
        lv = self.levels[int(code)]
        if all(isinstance(x, str) for x in lv):
            return ", ".join(lv)
        return self.labels[int(code)]


def groups_of(data, variables, *, names=None) -> Groups:
    """Cross-classify ``variables`` (first one varies slowest, as ``strata()``)."""
    n = len(data)
    if not variables:
        return Groups(np.zeros(n, np.intp), ("all",), ((),), ())
    per = []
    for v in variables:
        lv = levels_of(data[v])
        index = {x: i for i, x in enumerate(lv)}
        per.append((lv, data[v].map(index).to_numpy(dtype=np.intp)))
    code = np.zeros(n, dtype=np.int64)
    for lv, c in per:
        code = code * len(lv) + c
    present, inv = np.unique(code, return_inverse=True)
    labels, levels = [], []
    for p in present:
        combo = []
        rest = int(p)
        for lv, _ in reversed(per):
            combo.append(lv[rest % len(lv)])
            rest //= len(lv)
        combo.reverse()
        levels.append(tuple(combo))
        shown = names or variables
        labels.append(", ".join(f"{nm}={level_text(x)}" for nm, x in zip(shown, combo)))
    return Groups(inv.astype(np.intp), tuple(labels), tuple(levels), tuple(variables))


@dataclasses.dataclass(frozen=True)
class ModelFrame:
    """Rows used by a call, with the response in ``.time``/``.start``/``.event`` columns."""

    formula: ParsedFormula
    data: Any  # the kept rows (a copy) with the added columns
    n_dropped: int
    kept: np.ndarray

    @property
    def time(self) -> np.ndarray:
        return self.data[TIME].to_numpy(dtype=float)

    @property
    def event(self) -> np.ndarray:
        return self.data[EVENT].to_numpy(dtype=float)

    @property
    def start(self) -> np.ndarray | None:
        return self.data[START].to_numpy(dtype=float) if START in self.data else None

    @property
    def weights(self) -> np.ndarray | None:
        return self.data[WEIGHTS].to_numpy(dtype=float) if WEIGHTS in self.data else None


def model_frame(
    data,
    formula: str,
    *,
    response: tuple[str, ...] = ("Surv",),
    weights: Any = None,
    extra: tuple[str, ...] = (),
    event: str = "surv",
) -> ModelFrame:
    """Parse ``formula``, evaluate its response and drop incomplete rows.

    Parameters
    ----------
    response : tuple of str
        The response kinds allowed (``"Surv"``, ``"Hist"``, ``"column"``).
    weights : str or array_like, optional
        A column name or one weight per row of ``data``.
    event : {"surv", "cause"}
        ``"surv"`` codes the event as R's ``Surv()`` (0/1, 1/2, logical); ``"cause"`` keeps
        the values (competing risks).
    """
    import pandas as pd

    require_frame(data)
    pf = parse(formula, data.columns)
    r = pf.response
    if r is None or r.kind not in response:
        want = " or ".join(f"{k}(...)" if k != "column" else "a column" for k in response)
        from cartlens.api.formula import FormulaError

        raise FormulaError(formula, r.text if r else "~", f"needs {want} on the left of '~'")
    work = pd.DataFrame(index=data.index)
    if r.kind in ("Surv", "Hist"):
        args = list(r.args)
        if len(args) == 3:
            work[START] = pd.to_numeric(evaluate_arg(data, args[0]), errors="coerce")
        work[TIME] = _numeric(evaluate_arg(data, args[-2]), args[-2])
        ev = evaluate_arg(data, args[-1])
        work[EVENT] = surv_event(ev, args[-1]) if event == "surv" else ev
    if weights is not None:
        if isinstance(weights, str):
            if weights not in data.columns:
                raise InputError("does not exist in the data", column=weights)
            w = data[weights]
        else:
            w = np.asarray(weights, dtype=float)
            if w.shape != (len(data),):
                raise InputError(
                    f"must have one value per row ({len(data)}); got shape {w.shape}",
                    column="weights",
                )
        work[WEIGHTS] = pd.to_numeric(pd.Series(np.asarray(w), index=data.index), errors="coerce")
    used = list(dict.fromkeys([*pf.variables, *pf.strata, *pf.cluster, *extra]))
    for c in used:
        if c not in data.columns:
            raise InputError("does not exist in the data", column=c)
    kept = (work.notna().all(axis=1) & data[used].notna().all(axis=1)).to_numpy()
    if not kept.any():
        raise InputError(
            f"no complete rows for '{formula}' after dropping missing values", column="formula"
        )
    sub = data.loc[kept].copy()
    for c in work.columns:
        sub[c] = work.loc[kept, c].to_numpy()
    if START in sub and (sub[START] >= sub[TIME]).any():
        bad = int(np.flatnonzero((sub[START] >= sub[TIME]).to_numpy())[0])
        raise InputError(
            f"start must be before stop (first offending row {sub.index[bad]!r})",
            column=r.args[0],
        )
    return ModelFrame(formula=pf, data=sub, n_dropped=int((~kept).sum()), kept=kept)


def _numeric(s, name: str):
    import pandas as pd

    try:
        return pd.to_numeric(s, errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"must be numeric: {exc}", column=name) from None
