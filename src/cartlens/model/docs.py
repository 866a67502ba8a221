"""Markdown documentation of the data model, generated from :mod:`cartlens.model.schema`.

``docs/data-model.md`` is the output of :func:`cartlens.derive.docs.render_data_model` (which
adds the validation rules and the derived columns to the sections written here); a test keeps
the file in sync. Regenerate it with ``python -m cartlens.derive.docs > docs/data-model.md``.
"""

from __future__ import annotations

from cartlens.model import schema
from cartlens.model.vocab import VOCABULARIES

INTRO = """# Data model

A registry is a set of entity files: a folder with one CSV file per entity
(`patients.csv`, `infusions.csv`, ...), an Excel workbook with one sheet per entity (sheet name
= entity name), or a REDCap export read through a mapping file. Only `patients` and
`infusions` are required; a missing file of another entity means "no records".

Conventions:

- Identifiers are pseudonymous (for example `P0001`, `P0001-I1`): 1-64 characters from letters,
  digits, `_`, `-` and `.`. No names, record numbers or dates of birth: give `birth_year` or
  `age_at_diagnosis`.
- Dates are ISO 8601 calendar dates `YYYY-MM-DD`.
- Booleans: `true`/`false` (also `yes`/`no`, `y`/`n`, `1`/`0`, any case).
- Missing values: an empty cell or `NA`.
- Enumerated fields take exactly one of the listed values (case-sensitive, blanks trimmed).
- Last contact (date and vital status) lives on `patients`: one per patient, updated in place
  when the registry is re-imported. A patient with `last_contact_status = dead` has a row in
  `deaths` and the last contact date equals the date of death.
- Infusion numbering: `infusion_number` counts a patient's CAR-T infusions in date order;
  `course_number` counts courses: split doses share a course, a new course after failure or
  relapse (CART2) takes the next number and must state a `reinfusion_reason`.
- Toxicity grades: `grade` is the centre's ASTCT 2019 grade; cartlens recomputes the ASTCT
  grade from the raw components (see `cartlens.model.astct`) and warns (R060) when the two
  differ. A legacy grade is kept as (`legacy_scale`, `legacy_grade`) and never converted.
- Follow-up beyond CRS and ICANS: `labs` (blood counts, CD19+ B cells, IgG, ferritin, CRP,
  CAR-T persistence; the unit is stated on every row), `infections`, `iec_hs` (ASTCT 2023),
  later therapy lines (`therapies.line_number`), `second_malignancies`. A recorded ICAHT grade
  is a `toxicities` row `ICAHT_early` / `ICAHT_late`; cartlens computes ICAHT from the ANC
  series (`cartlens.model.icaht`, EHA/EBMT 2023) and warns (R063) when the two differ.
"""


def _cell(text: str | None) -> str:
    return "" if text is None else str(text).replace("|", "\\|")


def _limits(f: schema.FieldSpec) -> str:
    parts = []
    if f.min is not None or f.max is not None:
        lo = "" if f.min is None else f"{f.min:g}"
        hi = "" if f.max is None else f"{f.max:g}"
        parts.append(f"{lo}..{hi}")
    if f.soft_min is not None or f.soft_max is not None:
        lo = "" if f.soft_min is None else f"{f.soft_min:g}"
        hi = "" if f.soft_max is None else f"{f.soft_max:g}"
        parts.append(f"plausible {lo}..{hi}")
    return "; ".join(parts)


def render_entity(e: schema.EntitySpec) -> str:
    """Markdown section of one entity."""
    lines = [
        f"### `{e.file_name}` ({e.name})",
        "",
        e.description,
        "",
        f"Key: `{', '.join(e.key)}`.",
        "",
        "| field | type | unit | required | allowed values / range | description | example |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in e.fields:
        if f.vocab is not None:
            allowed = ", ".join(f"`{a}`" for a in f.allowed or ())
        else:
            allowed = _limits(f)
        if f.references:
            allowed = (allowed + "; " if allowed else "") + f"in `{f.references}`"
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{f.name}`",
                    f.kind,
                    _cell(f.unit),
                    "yes" if f.required else "",
                    _cell(allowed),
                    _cell(f.description),
                    f"`{_cell(f.example)}`",
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def render_vocabularies() -> str:
    """Markdown section listing every controlled vocabulary."""
    lines = ["## Controlled vocabularies", ""]
    for name, cls in VOCABULARIES.items():
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        values = ", ".join(f"`{m.value}`" for m in cls)
        lines.append(f"- **{name}** - {doc} {values}")
    return "\n".join(lines) + "\n"


def render_model() -> str:
    """Intro, every entity, and the vocabularies."""
    parts = [INTRO, "## Entities\n"]
    parts += [render_entity(e) for e in schema.ENTITIES]
    from cartlens.model.labs import render_units

    parts.append(render_units())
    parts.append(render_vocabularies())
    return "\n".join(parts)
