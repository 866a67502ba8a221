"""Laboratory analytes of the ``labs`` entity: allowed units, conversion to one canonical unit per
measure, and the possible / plausible ranges checked by rules R080-R082.

A value is stored as written (``value``, ``unit``); everything downstream (ICAHT grading, B-cell
aplasia, CAR-T persistence) uses the value converted to the canonical unit of its measure
(:func:`canonical_sql` gives the conversion as SQL, :func:`to_canonical` in Python). The CD19+
B-cell count may be given as an absolute count or as a percentage of lymphocytes; these are two
measures that are never converted into each other.
"""

from __future__ import annotations

import dataclasses

from cartlens.model.vocab import LabAnalyte, LabUnit


@dataclasses.dataclass(frozen=True)
class LabUnitSpec:
    """One accepted unit of an analyte: factor to the canonical unit and the ranges there."""

    unit: str
    canonical: str
    factor: float
    max: float | None = None  # possible (R081), in the canonical unit
    soft_min: float | None = None  # plausible (R082), in the canonical unit
    soft_max: float | None = None


def _counts(soft_max: float) -> tuple[LabUnitSpec, ...]:
    return (
        LabUnitSpec(LabUnit.GIGA_PER_L, LabUnit.GIGA_PER_L, 1.0, soft_max=soft_max),
        LabUnitSpec(LabUnit.CELLS_PER_UL, LabUnit.GIGA_PER_L, 1e-3, soft_max=soft_max),
    )


_PCT = LabUnitSpec(LabUnit.PERCENT, LabUnit.PERCENT, 1.0, max=100.0)

#: analyte -> accepted units (the first one's canonical unit is the analyte's main measure).
LAB_UNITS: dict[str, tuple[LabUnitSpec, ...]] = {
    LabAnalyte.ANC: _counts(100.0),
    LabAnalyte.PLATELETS: _counts(2000.0),
    LabAnalyte.LYMPHOCYTES: _counts(500.0),
    LabAnalyte.HAEMOGLOBIN: (
        LabUnitSpec(LabUnit.G_PER_DL, LabUnit.G_PER_DL, 1.0, soft_min=2.0, soft_max=25.0),
        LabUnitSpec(LabUnit.G_PER_L, LabUnit.G_PER_DL, 0.1, soft_min=2.0, soft_max=25.0),
    ),
    LabAnalyte.CD19_B_CELLS: (
        LabUnitSpec(LabUnit.CELLS_PER_UL, LabUnit.CELLS_PER_UL, 1.0, soft_max=5000.0),
        LabUnitSpec(LabUnit.GIGA_PER_L, LabUnit.CELLS_PER_UL, 1000.0, soft_max=5000.0),
        _PCT,
    ),
    LabAnalyte.IGG: (
        LabUnitSpec(LabUnit.G_PER_L, LabUnit.G_PER_L, 1.0, soft_max=60.0),
        LabUnitSpec(LabUnit.MG_PER_DL, LabUnit.G_PER_L, 0.01, soft_max=60.0),
        LabUnitSpec(LabUnit.G_PER_DL, LabUnit.G_PER_L, 10.0, soft_max=60.0),
    ),
    LabAnalyte.FERRITIN: (
        LabUnitSpec(LabUnit.UG_PER_L, LabUnit.UG_PER_L, 1.0, soft_max=500000.0),
        LabUnitSpec(LabUnit.NG_PER_ML, LabUnit.UG_PER_L, 1.0, soft_max=500000.0),
    ),
    LabAnalyte.CRP: (
        LabUnitSpec(LabUnit.MG_PER_L, LabUnit.MG_PER_L, 1.0, soft_max=700.0),
        LabUnitSpec(LabUnit.MG_PER_DL, LabUnit.MG_PER_L, 10.0, soft_max=700.0),
    ),
    LabAnalyte.CAR_TRANSGENE: (
        LabUnitSpec(LabUnit.COPIES_PER_UG_DNA, LabUnit.COPIES_PER_UG_DNA, 1.0, soft_max=1e7),
    ),
    LabAnalyte.CAR_POSITIVE_PCT: (_PCT,),
}


def unit_spec(analyte: str, unit: str) -> LabUnitSpec | None:
    """The spec of ``unit`` for ``analyte`` (None: not an accepted unit)."""
    for u in LAB_UNITS.get(analyte, ()):
        if u.unit == unit:
            return u
    return None


def to_canonical(analyte: str, unit: str, value: float) -> tuple[float, str]:
    """``value`` in the canonical unit of its measure, and that unit.

    >>> to_canonical("anc", "cells/uL", 450.0)
    (0.45, '10^9/L')
    """
    spec = unit_spec(analyte, unit)
    if spec is None:
        raise KeyError(f"unit '{unit}' is not accepted for {analyte}")
    return value * spec.factor, str(spec.canonical)


def _lit(v: str) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def _case(expr_of) -> str:
    whens = " ".join(
        f"WHEN analyte = {_lit(a)} AND unit = {_lit(u.unit)} THEN {expr_of(u)}"
        for a, units in LAB_UNITS.items()
        for u in units
    )
    return f"CASE {whens} END"


def canonical_sql() -> tuple[str, str]:
    """SQL expressions (over columns ``analyte``, ``unit``, ``value``) giving the value in the
    canonical unit and that unit (NULL for a unit the analyte does not accept)."""
    return (
        _case(lambda u: f"value * {u.factor!r}"),
        _case(lambda u: _lit(u.canonical)),
    )


def range_sql(which: str) -> str:
    """SQL expression: the canonical-unit limit ``which`` (``max``, ``soft_min``, ``soft_max``)
    of each row's (analyte, unit), NULL where there is none."""
    return _case(
        lambda u: "CAST(NULL AS DOUBLE)" if getattr(u, which) is None else repr(getattr(u, which))
    )


def render_units() -> str:
    """Markdown table of the accepted units (for ``docs/data-model.md``)."""
    lines = [
        "### Laboratory units (`labs.csv`)",
        "",
        "Each value is converted to the canonical unit of its measure; ranges are in that unit "
        "(R081: impossible, error; R082: implausible, warning).",
        "",
        "| analyte | unit | canonical unit | factor | possible max | plausible range |",
        "|---|---|---|---|---|---|",
    ]
    for a, units in LAB_UNITS.items():
        for u in units:
            lo = "" if u.soft_min is None else f"{u.soft_min:g}"
            hi = "" if u.soft_max is None else f"{u.soft_max:g}"
            plaus = f"{lo}..{hi}" if (lo or hi) else ""
            mx = "" if u.max is None else f"{u.max:g}"
            lines.append(
                f"| `{a}` | `{u.unit}` | `{u.canonical}` | {u.factor:g} | {mx} | {plaus} |"
            )
    return "\n".join(lines) + "\n"
