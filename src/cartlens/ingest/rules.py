"""Validation rules: stable ids, severities and documented meanings.

A rule id never changes meaning once released; new rules get new ids. ``error`` findings block
the import (nothing is written); ``warning`` findings are reported and stored with the import.
Every finding names the file, the data row (1-based, header excluded; for a workbook, the data
row of the sheet), the column, the value as written, the rule and its severity.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Severity = Literal["error", "warning"]


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    meaning: str


_RULES = (
    Rule(
        "R000",
        "error",
        "unreadable file",
        "The file or sheet cannot be read as a table "
        "(not UTF-8 text, ragged rows, duplicate or empty column names, corrupt workbook).",
    ),
    Rule("R001", "error", "required value missing", "A required field is empty."),
    Rule(
        "R002",
        "error",
        "required column or file missing",
        "A required column is absent from an entity file, or patients/infusions are absent.",
    ),
    Rule(
        "R003",
        "warning",
        "unknown column or file",
        "A column (or file/sheet) that the data model does not define; it is ignored.",
    ),
    Rule("R010", "error", "not an integer", "An integer field holds something else."),
    Rule(
        "R011",
        "error",
        "not a number",
        "A numeric field holds something that is not a "
        "finite number (decimal point '.', optional exponent).",
    ),
    Rule("R012", "error", "not an ISO date", "A date field is not a valid YYYY-MM-DD date."),
    Rule(
        "R013", "error", "not a boolean", "A boolean field is not one of true/false/yes/no/y/n/1/0."
    ),
    Rule(
        "R014",
        "error",
        "invalid identifier",
        "An identifier is not 1-64 characters of letters, digits, '_', '-' or '.' (ids must "
        "be pseudonymous codes).",
    ),
    Rule(
        "R020",
        "error",
        "not in the controlled vocabulary",
        "An enumerated field holds a value outside its vocabulary.",
    ),
    Rule(
        "R021",
        "error",
        "impossible value",
        "A number outside its possible range (blasts and MRD 0-100 %, grades 0-5, ICE 0-10, "
        "dose >= 0, age 0-120, ...).",
    ),
    Rule(
        "R022",
        "warning",
        "implausible value",
        "A number outside its plausible range (dose outside 1e4-1e9 cells/kg, temperature "
        "outside 34-43 °C, age over 100, ...).",
    ),
    Rule("R030", "error", "unknown patient", "A patient_id that is not in patients."),
    Rule(
        "R031",
        "error",
        "unknown infusion",
        "An infusion_id that is not in infusions, or that belongs to another patient.",
    ),
    Rule("R032", "error", "duplicate key", "Two rows of an entity share its key."),
    Rule("R033", "warning", "patient without infusion", "A patient with no CAR-T infusion."),
    Rule(
        "R040",
        "error",
        "date before diagnosis",
        "An infusion, response, toxicity, relapse, transplant, therapy, laboratory value, "
        "infection, IEC-HS episode, second malignancy or death dated before the patient's "
        "diagnosis.",
    ),
    Rule(
        "R041",
        "error",
        "before its infusion",
        "A response assessment, toxicity, infection or IEC-HS onset dated before the infusion it "
        "belongs to.",
    ),
    Rule(
        "R042",
        "error",
        "after death",
        "An event dated after the patient's death (including last contact after death).",
    ),
    Rule(
        "R043",
        "error",
        "last contact before last event",
        "The last contact date is before the patient's last recorded event.",
    ),
    Rule("R044", "error", "future date", "A date after the day of the import."),
    Rule(
        "R045",
        "error",
        "resolution before onset",
        "A toxicity's, infection's or IEC-HS episode's resolution date is before its onset date "
        "(or a therapy's end_date before its start_date).",
    ),
    Rule(
        "R046",
        "error",
        "infusion numbering",
        "A patient's infusion_number values are not 1, 2, ... in date order, or course_number "
        "does not start at 1 and rise by at most one with each infusion.",
    ),
    Rule(
        "R047",
        "error",
        "vital status inconsistent",
        "last_contact_status is 'dead' without a row in deaths, or a death is recorded while "
        "last_contact_status is not 'dead'.",
    ),
    Rule(
        "R048",
        "error",
        "prior HSCT not before first infusion",
        "prior_allo_hsct_date is on or after the patient's first infusion, or given while "
        "prior_allo_hsct is false.",
    ),
    Rule(
        "R050",
        "error",
        "re-infusion without a reason",
        "The first infusion of a course after the first (course_number > 1) has no "
        "reinfusion_reason.",
    ),
    Rule(
        "R051",
        "warning",
        "reason on a first course",
        "A reinfusion_reason is given for an infusion of course 1.",
    ),
    Rule(
        "R060",
        "warning",
        "ASTCT grade inconsistent with components",
        "The recorded grade differs from the ASTCT 2019 grade cartlens computes from the raw "
        "components (the computed grade is given in the message).",
    ),
    Rule(
        "R061",
        "error",
        "legacy grade incomplete",
        "legacy_grade without legacy_scale or legacy_scale without legacy_grade.",
    ),
    Rule(
        "R062",
        "warning",
        "age unknown or inconsistent",
        "Neither birth_year nor age_at_diagnosis is given, or they disagree by more than one "
        "year, or the age derived from birth_year is outside 0-100.",
    ),
    Rule(
        "R063",
        "warning",
        "ICAHT grade inconsistent with the ANC series",
        "A recorded ICAHT_early / ICAHT_late grade (toxicities) differs from the EHA/EBMT 2023 "
        "grade cartlens computes from the infusion's ANC values in labs (the computed grade and "
        "its durations are given in the message).",
    ),
    Rule(
        "R064",
        "error",
        "IEC-HS grade and fatal disagree",
        "An IEC-HS episode is fatal but not grade 5, or grade 5 but not fatal.",
    ),
    Rule(
        "R080",
        "error",
        "unit not accepted for the analyte",
        "A laboratory value's unit is not one of the units accepted for its analyte (for "
        "example mg/L for an ANC).",
    ),
    Rule(
        "R081",
        "error",
        "impossible laboratory value",
        "A laboratory value outside its possible range in the canonical unit (a percentage "
        "over 100).",
    ),
    Rule(
        "R082",
        "warning",
        "implausible laboratory value",
        "A laboratory value outside its plausible range in the canonical unit (ANC over 100 "
        "x 10^9/L, haemoglobin outside 2-25 g/dL, ...; often a wrong unit).",
    ),
    Rule(
        "R083",
        "warning",
        "T-cell malignancy without CAR status",
        "A second malignancy of type t_cell has no car_status (testing the tumour for the CAR "
        "transgene is requested since the 2024 FDA boxed warning).",
    ),
    Rule(
        "R084",
        "warning",
        "therapy lines out of order",
        "A patient's line_number values (therapies) do not rise with start_date, or repeat.",
    ),
)

RULES: dict[str, Rule] = {r.id: r for r in _RULES}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]


def render_rules() -> str:
    """Markdown section of ``docs/data-model.md`` listing every rule."""
    lines = [
        "## Validation rules",
        "",
        "Every finding names `file`, `row` (1-based data row, header excluded; for a workbook "
        "the data row of the sheet), `column`, `value` (as written), `rule`, `severity` and "
        "`message`. Errors block the import and nothing is written; warnings are reported and "
        "stored in the store's `findings` table with the import id.",
        "",
        "| rule | severity | title | meaning |",
        "|---|---|---|---|",
    ]
    for r in _RULES:
        lines.append(f"| {r.id} | {r.severity} | {r.title} | {r.meaning.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
