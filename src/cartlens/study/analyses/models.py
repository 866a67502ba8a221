"""What the regression analyses (Cox, logistic, Fine-Gray) share.

Covariates are study variables: a continuous one enters as it is, a binary one (true/false)
as 0/1, a categorical one (text, a declared ``categorical`` variable, a ``cut``, or written
``C(name)``) with treatment contrasts whose reference is the first declared level (else the
first in sorted order), exactly as R's ``model.matrix``; ``a:b`` is an interaction. Each
covariate gets a univariable model (a categorical variable: all its levels in one model) and
all of them one multivariable model; every model uses its own complete cases, as separate
calls in R would. The ``layout`` rows of the details (label rows, reference levels, levels,
interactions) let the report put the univariable and multivariable columns side by side
(gtsummary's ``tbl_uvregression`` merged with ``tbl_regression``).

To add an option to every model analysis (for example how missing values are handled), add
the field to :class:`ModelSpec` and read it in :func:`run_models`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from cartlens.errors import CartlensError, SparseDataWarning
from cartlens.study.analyses.base import AnalysisSpec, Context, SpecError, label, natural_key

_PART = r"(?:C\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)|[A-Za-z_][A-Za-z0-9_]*)"
_TERM = re.compile(rf"^{_PART}(?:\s*:\s*{_PART})*$")
_C = re.compile(r"^C\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$")

#: events per variable below which a multivariable model gets a warning
MIN_EPV = 10


class ModelSpec(AnalysisSpec):
    """Keys of every regression analysis."""

    cohort: str
    covariates: list[str] = Field(min_length=1)
    univariable: bool = True
    multivariable: bool = True
    #: how missing covariate values are handled: each model's complete cases, or multiple
    #: imputation by chained equations (``imputations`` data sets, seeded) pooled with
    #: Rubin's rules, the fraction of missing information reported per term
    missing: Literal["complete_case", "multiple_imputation"] = "complete_case"
    imputations: int = Field(20, ge=2, le=200)
    imputation_seed: int = Field(20261204, ge=0)

    @field_validator("covariates")
    @classmethod
    def _terms(cls, v: list[str]) -> list[str]:
        for t in v:
            if not _TERM.match(t.strip()):
                raise ValueError(
                    f"covariate '{t}' is not a variable name, C(name) or an interaction a:b"
                )
        return [t.strip() for t in v]

    def columns_used(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for t in parse_terms(self.covariates) for p in t.parts))


@dataclasses.dataclass(frozen=True)
class Term:
    text: str
    parts: tuple[str, ...]
    forced_categorical: tuple[str, ...]

    @property
    def interaction(self) -> bool:
        return len(self.parts) > 1


def parse_terms(covariates: list[str]) -> list[Term]:
    out = []
    for c in covariates:
        parts, forced = [], []
        for p in c.split(":"):
            p = p.strip()
            m = _C.match(p)
            if m:
                parts.append(m.group(1))
                forced.append(m.group(1))
            else:
                parts.append(p)
        out.append(Term(text=c, parts=tuple(parts), forced_categorical=tuple(forced)))
    return out


@dataclasses.dataclass
class VarInfo:
    name: str
    kind: str  # continuous | binary | categorical
    levels: list[str]  # categorical: present levels, reference first
    label: str
    level_labels: dict[str, str]


def variable_infos(ctx: Context, df: pd.DataFrame, terms: list[Term]) -> dict[str, VarInfo]:
    forced = {p for t in terms for p in t.forced_categorical}
    infos: dict[str, VarInfo] = {}
    for t in terms:
        for name in t.parts:
            if name in infos:
                continue
            v = ctx.study.variable(name)
            s = df[name]
            kind = "categorical" if name in forced else v.kind(s)
            if kind == "binary" and not _is_boolish(s):
                kind = "categorical"  # two text levels: a factor with a reference level
            levels: list[str] = []
            if kind == "categorical":
                present = {label(x) for x in s.dropna().unique()}
                order = v.level_order() or sorted(present, key=natural_key)
                levels = [lv for lv in order if lv in present]
            infos[name] = VarInfo(
                name=name,
                kind=kind,
                levels=levels,
                label=ctx.variable_label(name),
                level_labels={lv: v.level_label(lv) for lv in levels},
            )
    return infos


def _is_boolish(s: pd.Series) -> bool:
    x = s.dropna()
    return bool(len(x)) and (
        x.map(lambda v: isinstance(v, bool | np.bool_)).all()
        or set(pd.to_numeric(x, errors="coerce").dropna().unique()) <= {0, 1}
        and pd.to_numeric(x, errors="coerce").notna().all()
    )


def model_frame(df: pd.DataFrame, infos: dict[str, VarInfo], extra: list[str]) -> pd.DataFrame:
    """The columns a model needs, typed for the formula (factors as text, binary as 0/1)."""
    out = pd.DataFrame(index=df.index)
    for c in extra:
        out[c] = df[c]
    for name, vi in infos.items():
        s = df[name]
        if vi.kind == "categorical":
            out[name] = s.map(lambda v: None if _missing(v) else label(v)).astype(object)
        elif vi.kind == "binary":
            out[name] = s.map(lambda v: np.nan if _missing(v) else float(v)).astype(float)
        else:
            x = pd.to_numeric(s, errors="coerce")
            bad = x.isna() & s.notna()
            if bad.any():
                raise InputErrorForVar(name, s[bad].iloc[0])
            out[name] = x.astype(float)
    return out


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


class InputErrorForVar(ValueError):
    def __init__(self, name: str, value: Any):
        self.name = name
        super().__init__(
            f"covariate '{name}' has the value {value!r}, which is not a number; declare it "
            f'categorical ([variables.{name}] type = "categorical") or write C({name})'
        )


def _part_formula(vi: VarInfo) -> str:
    if vi.kind == "categorical":
        return f"C({vi.name}, levels={vi.levels!r})"
    return vi.name


def term_formula(t: Term, infos: dict[str, VarInfo]) -> str:
    return ":".join(_part_formula(infos[p]) for p in t.parts)


def layout_rows(terms: list[Term], infos: dict[str, VarInfo]) -> list[dict]:
    """Display rows: one label row per variable, reference and other levels indented."""
    rows: list[dict] = []
    for t in terms:
        if not t.interaction:
            vi = infos[t.parts[0]]
            if vi.kind == "categorical":
                rows.append({"label": vi.label, "indent": 0, "kind": "header", "group": t.text})
                for j, lv in enumerate(vi.levels):
                    rows.append(
                        {
                            "label": vi.level_labels.get(lv, lv),
                            "indent": 1,
                            "kind": "reference" if j == 0 else "term",
                            "term": None if j == 0 else f"{vi.name}[{lv}]",
                            "group": t.text,
                        }
                    )
            else:
                rows.append(
                    {
                        "label": vi.label,
                        "indent": 0,
                        "kind": "term",
                        "term": vi.name,
                        "group": t.text,
                    }
                )
            continue
        # an interaction: one row per combination of non-reference levels
        combos: list[list[tuple[str, str]]] = [[]]
        for p in t.parts:
            vi = infos[p]
            opts = (
                [(f"{p}[{lv}]", vi.level_labels.get(lv, lv)) for lv in vi.levels[1:]]
                if vi.kind == "categorical"
                else [(p, vi.label)]
            )
            combos = [c + [o] for c in combos for o in opts]
        rows.append(
            {
                "label": " × ".join(infos[p].label for p in t.parts),
                "indent": 0,
                "kind": "header",
                "group": t.text,
            }
        )
        for c in combos:
            rows.append(
                {
                    "label": " × ".join(lab for _, lab in c),
                    "indent": 1,
                    "kind": "term",
                    "term": ":".join(n for n, _ in c),
                    "group": t.text,
                }
            )
    return rows


Fit = Callable[[np.ndarray, list[str], pd.DataFrame], tuple[Any, list[dict], dict]]


def run_models(
    a: ModelSpec,
    ctx: Context,
    df: pd.DataFrame,
    outcome_cols: list[str],
    fit: Fit,
    *,
    measure: str,
    events_of: Callable[[pd.DataFrame], int],
) -> tuple[dict, dict, dict]:
    """Fit the univariable and multivariable models; ``fit(X, names, frame)`` returns
    ``(result, term_rows, model_info)`` with term rows ``term, <measure>, lower, upper, p``."""
    from cartlens.stats.formula import design

    terms = parse_terms(a.covariates)
    cols = list(dict.fromkeys(p for t in terms for p in t.parts))
    ctx.require(df, cols, f"analyses.{a.id}.covariates")
    infos = variable_infos(ctx, df, terms)
    try:
        frame = model_frame(df, infos, outcome_cols)
    except InputErrorForVar as exc:
        raise SpecError(
            str(exc),
            key=f"analyses.{a.id}.covariates",
            line=ctx.lines.get((*ctx.loc, "covariates")) or ctx.lines.get(ctx.loc),
        ) from None
    models: list[tuple[str, list[Term]]] = []
    if a.univariable:
        models += [("univariable", [t]) for t in terms if not t.interaction]
    if a.multivariable and (len(terms) > 1 or not a.univariable):
        models.append(("multivariable", list(terms)))
    rows: list[dict] = []
    model_info: dict[str, dict] = {}
    results: dict = {}
    summary: dict[str, Any] = {}
    completed = None
    missing_info: dict[str, Any] = {"method": a.missing}
    if a.missing == "multiple_imputation":
        completed, missing_info = _impute(a, frame, outcome_cols, cols)
        results["imputation"] = missing_info.pop("result")
    for kind, ts in models:
        used = list(dict.fromkeys(p for t in ts for p in t.parts))
        sub = frame[[*outcome_cols, *used]].dropna()
        if completed is not None:
            sub = completed[0][[*outcome_cols, *used]]
        key = kind if kind == "multivariable" else f"univariable:{ts[0].text}"
        formula = " + ".join(term_formula(t, infos) for t in ts)
        info: dict[str, Any] = {
            "n": int(len(sub)),
            "events": int(events_of(sub)) if len(sub) else 0,
        }
        try:
            if len(sub) == 0:
                raise CartlensError("no patient has a value of every variable in this model")
            dz = design(formula, sub)
            X, names = dz.X, list(dz.names)
            if kind == "multivariable":
                info["parameters"] = len(names)
                epv = info["events"] / max(1, len(names))
                info["epv"] = epv
                if epv < MIN_EPV:
                    warnings.warn(
                        f"{a.id}: {info['events']} events for {len(names)} parameters in the "
                        f"multivariable model ({epv:.1f} events per variable, fewer than "
                        f"{MIN_EPV}); its estimates may be unstable",
                        SparseDataWarning,
                        stacklevel=2,
                    )
            r, trows, extra = fit(X, names, sub)
            info.update(extra)
            if completed is not None:
                r, trows = _pooled_fit(fit, formula, completed, outcome_cols, used, measure)
                info["imputations"] = len(completed)
        except (CartlensError, ValueError, np.linalg.LinAlgError) as exc:
            rows.append({"model": kind, "term": ", ".join(t.text for t in ts), "error": str(exc)})
            info["error"] = str(exc)
            model_info[key] = info
            continue
        model_info[key] = info
        results[f"{kind}:{'+'.join(t.text for t in ts)}"] = r
        for row in trows:
            row = {"model": kind, "n": info["n"], "events": info["events"], **row}
            reason = _not_estimable(row, measure, X, names, sub, events_of)
            if reason:
                row["not_estimable"] = reason
            rows.append(row)
            summary[f"{kind}.{row['term']}.{measure}"] = row.get(measure)
            summary[f"{kind}.{row['term']}.p"] = row.get("p")
    if "multivariable" in model_info and "n" in model_info["multivariable"]:
        summary["n"] = model_info["multivariable"]["n"]
        summary["events"] = model_info["multivariable"]["events"]
    else:
        summary["n"] = int(len(frame[outcome_cols].dropna()))
        summary["events"] = int(events_of(frame[outcome_cols].dropna()))
    layout = layout_rows(terms, infos)
    _add_counts(layout, terms, infos, frame, outcome_cols, events_of)
    details = {
        "rows": rows,
        "layout": layout,
        "models": model_info,
        "measure": measure,
        "univariable": a.univariable,
        "multivariable": "multivariable" in model_info,
        "missing": missing_info,
    }
    if completed is not None:
        for row in rows:
            if row.get("model") == "multivariable" and row.get("fmi") is not None:
                summary[f"multivariable.{row['term']}.fmi"] = row["fmi"]
    return summary, details, results


def _impute(a: ModelSpec, frame: pd.DataFrame, outcome_cols: list[str], cols: list[str]):
    """``imputations`` completed copies of the covariates (rows with an outcome only)."""
    from cartlens.stats.imputation import mice

    data = frame[[*outcome_cols, *cols]]
    data = data[data[outcome_cols].notna().all(axis=1)].reset_index(drop=True)
    imp = mice(data, m=a.imputations, seed=a.imputation_seed)
    info = {
        "method": "multiple_imputation",
        "imputations": imp.m,
        "iterations": imp.maxit,
        "seed": imp.seed,
        "imputed": {
            c: {"method": imp.methods[c], "n_missing": imp.n_missing[c]} for c in imp.columns
        },
        "n": int(len(data)),
        "description": imp.method,
        "result": imp,
    }
    return imp.datasets(), info


def _pooled_fit(fit, formula, completed, outcome_cols, used, measure):
    """Fit the model on every completed data set and pool with Rubin's rules."""
    from cartlens.stats.formula import design
    from cartlens.stats.imputation import pool_fits

    fits = []
    for d in completed:
        sub = d[[*outcome_cols, *used]]
        dz = design(formula, sub)
        fits.append(fit(dz.X, list(dz.names), sub)[0])
    pooled = pool_fits(fits)
    rows = []
    for t in pooled.terms:
        rows.append(
            {
                "term": t["term"],
                "coef": t["qbar"],
                "se": t["se"],
                measure: t["exp_estimate"],
                "lower": t["exp_lower"],
                "upper": t["exp_upper"],
                "p": t["p"],
                "df": t["df"],
                "fmi": t["fmi"],
            }
        )
    return pooled, rows


def _add_counts(layout, terms, infos, frame, outcome_cols, events_of) -> None:
    """N and events per display row: per level for factors, the model's for the others."""
    by_text = {t.text: t for t in terms}
    for row in layout:
        t = by_text[row["group"]]
        sub = frame[[*outcome_cols, *t.parts]].dropna()
        if t.interaction:
            continue
        vi = infos[t.parts[0]]
        if vi.kind == "categorical" and row["kind"] != "header":
            lv = (row["term"] or "")[len(vi.name) + 1 : -1] if row["term"] else vi.levels[0]
            sub = sub[sub[vi.name] == lv]
        row["n"] = int(len(sub))
        row["events"] = int(events_of(sub)) if len(sub) else 0


def _not_estimable(row, measure, X, names, sub, events_of) -> str:
    est, lo, hi = row.get(measure), row.get("lower"), row.get("upper")
    coef = row.get("coef")
    finite = all(v is not None and math.isfinite(v) for v in (est, lo, hi))
    if finite and (coef is None or abs(coef) < 15):
        return ""
    j = names.index(row["term"]) if row["term"] in names else None
    if j is not None:
        col = X[:, j]
        if set(np.unique(col)) <= {0.0, 1.0}:
            inside = sub[col == 1]
            ev = events_of(inside) if len(inside) else 0
            if ev == 0:
                return "no events in this group"
            if ev == len(inside):
                return "every patient in this group had the event"
    return "monotone likelihood: the estimate runs to 0 or infinity"
