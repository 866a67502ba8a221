"""What every analysis type shares: the spec base class, the run context and the registry.

An analysis type is one module in :mod:`cartlens.study.analyses` that defines

* a pydantic spec model, a subclass of :class:`AnalysisSpec` with ``type: Literal["name"]``;
* ``run(spec, ctx) -> (summary, details, results)``: the computation, returning JSON-safe
  ``summary`` scalars, ``details`` rows and frozen :class:`~cartlens.results.Result` objects;

and registers both with :func:`register`. The study specification's ``[[analyses]]`` union,
the runner and the report iterate over :data:`REGISTRY`; nothing dispatches on the type name.
The report layer registers the rendering of the same type in :mod:`cartlens.report.analyses`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cartlens.errors import InputError


class SpecError(InputError):
    """A study file that cannot be used; names the key (dotted path) and its line."""

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None):
        self.key = key
        self.line = line
        where = ""
        if key:
            where = f"key '{key}'"
            if line:
                where += f" (line {line})"
            where += ": "
        super().__init__(f"study file: {where}{message}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Scalar = str | int | float | bool


class Condition(_Model):
    """One comparison ``column <op> value``."""

    op: Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null"] = "=="
    value: Scalar | list[Scalar] | None = None


class AnalysisSpec(_Model):
    """Keys every ``[[analyses]]`` entry has."""

    #: the name of the spec field that holds the cohort(s): ``cohort`` or ``cohorts``
    cohort_field: ClassVar[str] = "cohort"

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    title: str = ""
    section: str = ""

    def cohort_names(self) -> tuple[str, ...]:
        v = getattr(self, self.cohort_field, None)
        if v is None:
            return ()
        return (v,) if isinstance(v, str) else tuple(v)

    def columns_used(self) -> tuple[str, ...]:
        """Study variables this analysis reads (so derived variables can be computed)."""
        return ()


@dataclasses.dataclass(frozen=True)
class Context:
    """What an analysis's ``run`` gets besides its spec."""

    study: Any  # cartlens.study.spec.Study
    cohorts: dict[str, pd.DataFrame]
    tables: dict[str, pd.DataFrame]
    frames: dict[str, pd.DataFrame]
    lines: dict
    loc: tuple

    def require(self, df: pd.DataFrame, cols: list[str], where: str) -> None:
        """A :class:`SpecError` naming ``where`` and its line when a column is missing."""
        for c in cols:
            if c not in df.columns:
                raise SpecError(
                    f"column '{c}' does not exist (columns: {', '.join(map(str, df.columns))})",
                    key=where,
                    line=self.lines.get(self.loc) or self.lines.get(self.loc[:2]),
                )

    @property
    def time_scale(self) -> float:
        p = self.study.presentation
        return {"days": 1.0, "months": p.month_days, "years": 365.25}[p.time_unit]

    def variable_label(self, name: str) -> str:
        return self.study.variable_label(name)


Runner = Callable[[Any, Context], tuple[dict, dict, dict]]


@dataclasses.dataclass(frozen=True)
class AnalysisType:
    name: str
    spec: type[AnalysisSpec]
    run: Runner


#: type name -> :class:`AnalysisType`, in registration (module) order
REGISTRY: dict[str, AnalysisType] = {}


def register(spec: type[AnalysisSpec], run: Runner) -> AnalysisType:
    """Register an analysis type (called once at the bottom of its module)."""
    name = spec.model_fields["type"].annotation.__args__[0]  # Literal["name"]
    if name in REGISTRY and REGISTRY[name].spec is not spec:
        raise RuntimeError(f"analysis type '{name}' is registered twice")
    t = AnalysisType(name=name, spec=spec, run=run)
    REGISTRY[name] = t
    return t


# --------------------------------------------------------------------------------------------
# helpers shared by the analysis modules
# --------------------------------------------------------------------------------------------


def label(v: Any) -> str:
    """A group value as text (``true``/``false`` for booleans, ``3`` for ``3.0``)."""
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def natural_key(s: str):
    """Sort key: numeric text by its number, then other text alphabetically."""
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


def finite(v: Any) -> float | None:
    import math

    return None if v is None or not math.isfinite(float(v)) else float(v)


#: time-to-event endpoints of the derive layer (``<endpoint>_days``, ``<endpoint>_event``);
#: the salvage frame has ``os`` and ``pfs``; ``bca_loss`` (loss of B-cell aplasia) and
#: ``car_loss`` (loss of CAR-T persistence) come from :func:`cartlens.derive.followup_table`
Endpoint = Literal["os", "pfs", "efs", "rfs", "dor", "bca_loss", "car_loss"]

ENDPOINT_NAMES = {
    "os": "OS",
    "pfs": "PFS",
    "efs": "EFS",
    "rfs": "RFS",
    "dor": "duration of remission",
    "bca_loss": "loss of B-cell aplasia",
    "car_loss": "loss of CAR-T persistence",
}


def endpoint_arrays(ctx: Context, df: pd.DataFrame, endpoint: str, key: str):
    """``(time in the presentation unit, event 0/1)`` of ``endpoint``; rows with a missing
    time (e.g. RFS of a non-responder) are dropped. Returns ``(t, e, kept_mask)``."""
    cols = [f"{endpoint}_days", f"{endpoint}_event"]
    ctx.require(df, cols, key)
    t = pd.to_numeric(df[cols[0]], errors="coerce").to_numpy(dtype=float)
    e = pd.to_numeric(df[cols[1]], errors="coerce").to_numpy(dtype=float)
    keep = ~(np.isnan(t) | np.isnan(e))
    return t[keep] / ctx.time_scale, e[keep].astype(int), keep


def risk_times_for(times: list[float], tmax: float, max_ticks: int = 11) -> list[float]:
    """Risk-table times (and x-axis breaks) that cover the follow-up ``tmax``.

    The presentation's times when they already reach ``tmax``; else they are continued with
    their last step, or - when that would give more than ``max_ticks`` breaks - replaced by
    regular breaks from 0 at a multiple of that step (x2, 4, 5, 6, 8, 10, 12, ...).
    """
    out = [float(x) for x in times]
    if len(out) < 2 or not np.isfinite(tmax) or out[-1] >= tmax:
        return out
    step = out[-1] - out[-2]
    if step <= 0:
        return out
    ext = list(out)
    while ext[-1] < tmax:
        ext.append(ext[-1] + step)
    if len(ext) <= max_ticks:
        return ext
    for k in (2, 4, 5, 6, 8, 10, 12, 20, 24, 40, 50, 60, 100):
        s = step * k
        n = int(np.ceil(tmax / s))
        if n + 1 <= max_ticks:
            return [s * i for i in range(n + 1)]
    s = tmax / (max_ticks - 1)
    return [s * i for i in range(max_ticks)]


def group_levels(ctx: Context, name: str, values: pd.Series) -> list[str]:
    """The groups of ``name`` as text, in the declared level order (else sorted)."""
    present = {label(v) for v in values.dropna().unique()}
    order = ctx.study.variable(name).level_order()
    if order is not None:
        return [lv for lv in order if lv in present]
    return sorted(present, key=natural_key)


def group_label(ctx: Context, name: str, level: str, labels: dict | None = None) -> str:
    """An analysis's own ``labels`` for a group, else the variable's level label."""
    if labels and level in labels:
        return labels[level]
    return ctx.study.variable(name).level_label(level)


def cif_summary_rows(
    res: Any, times: list[float], causes: dict[int, str], group_name: Callable[[str], str]
) -> tuple[dict[str, Any], list[dict]]:
    """Summary entries (``<group>.<cause>.<time>`` and ``gray.<cause>``) and table rows of a
    :func:`cartlens.stats.competing.cuminc` result at ``times``; ``group_name`` gives a
    group's display name."""
    summary: dict[str, Any] = {}
    rows = []
    for item in res.summary(times):
        g = "all" if item["group"] is None else label(item["group"])
        cause = causes.get(int(item["cause"]), str(item["cause"]))
        for at in item["at"]:
            summary[f"{g}.{cause}.{label(at['time'])}"] = at["estimate"]
            rows.append(
                {
                    "group": group_name(g),
                    "cause": cause,
                    "time": at["time"],
                    "estimate": at["estimate"],
                    "lower": at["lower"],
                    "upper": at["upper"],
                }
            )
    for gt in res.gray_test:
        summary[f"gray.{causes.get(int(gt.cause), gt.cause)}"] = gt.p
    return summary, rows
