"""The typed study specification: a TOML file validated by pydantic.

A study names its **cohorts** (filters on the columns of the derived analysis frames), its
**endpoints** (response window, PFS events, censoring), the **analyses** to run on them, how
to **present** numbers, and optionally the **replication** targets (published values beside
which the report puts cartlens' own). Unknown keys and bad values are errors that name the
key and its line in the file (:class:`SpecError`, exit status 2 on the command line).
The full reference is ``docs/study-spec.md``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, ValidationError, field_validator, model_validator

from cartlens.derive.followup import FollowupSettings
from cartlens.derive.settings import EndpointRules
from cartlens.study.analyses import REGISTRY
from cartlens.study.analyses.adjusted import AdjustedComparison
from cartlens.study.analyses.base import AnalysisSpec, Condition, Scalar, SpecError, _Model
from cartlens.study.analyses.compare_proportions import CompareProportions
from cartlens.study.analyses.competing_risks import CompetingRisksAnalysis
from cartlens.study.analyses.cox import CoxAnalysis
from cartlens.study.analyses.descriptive import DescriptiveAnalysis
from cartlens.study.analyses.grade_distribution import GradeDistribution
from cartlens.study.analyses.km import KMAnalysis
from cartlens.study.analyses.logistic import LogisticAnalysis
from cartlens.study.analyses.paired_proportions import PairedProportions
from cartlens.study.analyses.proportion import ProportionAnalysis
from cartlens.study.analyses.swimmer import SwimmerAnalysis
from cartlens.study.analyses.time_dependent import TimeDependentAnalysis
from cartlens.study.variables import Variable

#: The bundled reference study (Xu et al. 2023, run on the demo registry).
REFERENCE_STUDY = Path(__file__).parent / "reference_study.toml"

FRAMES = ("infusions", "salvage")
OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null")


class StudyInfo(_Model):
    title: str
    description: str = ""
    reference: str = ""
    synthetic_note: str = ""


class Presentation(_Model):
    """How numbers are shown (never how they are computed)."""

    time_unit: Literal["days", "months", "years"] = "months"
    month_days: float = Field(30.4375, gt=0)
    decimals: int = Field(1, ge=0, le=6)
    p_decimals: int = Field(3, ge=1, le=6)
    ci_method: Literal["clopper-pearson", "wilson", "wilson-cc"] = "clopper-pearson"
    conf_level: float = Field(0.95, gt=0, lt=1)
    km_conf_type: Literal["log", "log-log", "plain"] = "log"
    small_cell_threshold: int = Field(0, ge=0)
    risk_table_times: list[float] = Field(default_factory=lambda: [0, 6, 12, 18, 24, 30, 36])


class Endpoints(EndpointRules):
    """How response, toxicity and time-to-event endpoints are derived.

    The fields are those of :class:`cartlens.derive.settings.DeriveSettings` (the registry's
    derive layer computes the per-infusion table with them) plus the grading scale, which is
    stated in the report. The salvage frame applies the same rules.
    """

    grading: Literal["ASTCT 2019"] = "ASTCT 2019"

    @property
    def responder_status(self) -> tuple[str, ...]:
        return ("CR", "CRi") if self.cri_counts_as_cr else ("CR",)

    def derive_settings(self, month_days: float = 30.4375):
        """The equivalent :class:`~cartlens.derive.settings.DeriveSettings`."""
        from cartlens.derive.settings import DeriveSettings

        fields = self.model_dump(exclude={"grading"})
        return DeriveSettings(**fields, month_days=month_days)


class Section(_Model):
    """A report section: its heading and an optional introductory paragraph."""

    title: str
    text: str = ""


class Cohort(_Model):
    """Rows of a derived frame that meet every condition (and those of ``parent``)."""

    label: str = ""
    frame: Literal["infusions", "salvage"] = "infusions"
    parent: str | None = None
    flow_from: str | None = None
    where: dict[str, Scalar | list[Scalar] | Condition] = Field(default_factory=dict)


#: one ``[[analyses]]`` entry: the union of every registered analysis type's spec model
Analysis = Annotated[
    Union[tuple(t.spec for t in REGISTRY.values())],  # noqa: UP007 - built at run time
    Field(discriminator="type"),
]


class ReplicationTarget(_Model):
    """One published figure: where cartlens' value comes from, and the published value."""

    analysis: str
    stat: str
    published: float | Literal["NR"] | None = None
    label: str = ""
    figure: str = ""
    decimals: int | None = None


class Study(_Model):
    study: StudyInfo
    presentation: Presentation = Presentation()
    endpoints: Endpoints = Endpoints()
    #: definitions of the follow-up endpoints (B-cell aplasia thresholds, CAR-T detection
    #: limit, severe infection, whether an allo-HSCT is a next treatment)
    followup: FollowupSettings = FollowupSettings()
    variables: dict[str, Variable] = Field(default_factory=dict)
    cohorts: dict[str, Cohort] = Field(min_length=1)
    analyses: list[Analysis] = Field(min_length=1)
    replication: dict[str, ReplicationTarget] = Field(default_factory=dict)
    #: report sections in the order given; an analysis names one with ``section``
    sections: dict[str, Section] = Field(default_factory=dict)

    @field_validator("cohorts", "variables", "sections")
    @classmethod
    def _names(cls, v: dict, info) -> dict:
        for name in v:
            if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", name):
                what = info.field_name[:-1]
                raise ValueError(f"{what} name '{name}' must be letters, digits and _")
        return v

    def variable(self, name: str) -> Variable:
        """The declared variable, else an empty description (type inferred from the data)."""
        return self.variables.get(name) or Variable()

    def variable_label(self, name: str) -> str:
        """The variable's label with its unit (``Age, years``), else the column name."""
        v = self.variables.get(name)
        if v is None or not v.label:
            return name
        return f"{v.label}, {v.unit}" if v.unit else v.label

    @model_validator(mode="after")
    def _references(self) -> Study:
        for name, c in self.cohorts.items():
            if c.flow_from is not None and c.flow_from not in self.cohorts:
                raise _RefError(f"cohorts.{name}.flow_from", f"unknown cohort '{c.flow_from}'")
            if c.parent is not None:
                if c.parent not in self.cohorts:
                    raise _RefError(f"cohorts.{name}.parent", f"unknown cohort '{c.parent}'")
                if self.cohorts[c.parent].frame != c.frame:
                    raise _RefError(
                        f"cohorts.{name}.parent",
                        f"parent '{c.parent}' is on frame '{self.cohorts[c.parent].frame}', "
                        f"not '{c.frame}'",
                    )
        seen: set[str] = set()
        for i, a in enumerate(self.analyses):
            if a.id in seen:
                raise _RefError(f"analyses[{i}].id", f"duplicate analysis id '{a.id}'")
            seen.add(a.id)
            for n in a.cohort_names():
                if n not in self.cohorts:
                    raise _RefError(f"analyses[{i}].{a.cohort_field}", f"unknown cohort '{n}'")
        if self.sections:
            for i, a in enumerate(self.analyses):
                if a.section and a.section not in self.sections:
                    raise _RefError(
                        f"analyses[{i}].section",
                        f"unknown section '{a.section}' (sections: {', '.join(self.sections)})",
                    )
        for key, t in self.replication.items():
            if t.analysis not in seen:
                raise _RefError(
                    f"replication.{key}.analysis", f"unknown analysis id '{t.analysis}'"
                )
        return self

    def cohort_chain(self, name: str) -> list[str]:
        """The cohort and its ancestors, root first."""
        chain = [name]
        while self.cohorts[chain[-1]].parent:
            chain.append(self.cohorts[chain[-1]].parent)  # type: ignore[arg-type]
        return chain[::-1]


class _RefError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


# --------------------------------------------------------------------------------------------
# loading with line numbers
# --------------------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(
    r"^\s*((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*="
)


def _split_key(k: str) -> list[str]:
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+", k)
    return [p.strip("\"'") for p in parts]


def key_lines(text: str) -> dict[tuple, int]:
    """Map every key path (tuple of keys and array indices) to its 1-based line number."""
    lines: dict[tuple, int] = {}
    arrays: dict[tuple, int] = {}
    table: tuple = ()
    for no, raw in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(raw)
        if m and not _ASSIGN.match(raw):
            path = tuple(_split_key(m.group(2)))
            if m.group(1) == "[[":
                arrays[path] = arrays.get(path, -1) + 1
                table = (*path, arrays[path])
            else:
                # a sub-table of the latest array element
                resolved: tuple = ()
                for p in path:
                    resolved = (*resolved, p)
                    if resolved in arrays:
                        resolved = (*resolved, arrays[resolved])
                table = resolved
            lines.setdefault(table, no)
            continue
        m = _ASSIGN.match(raw)
        if m:
            path = (*table, *_split_key(m.group(1)))
            lines.setdefault(path, no)
            # inline-table keys on the same line: { a = 1, b = 2 }
            rest = raw[m.end() :]
            for sub in re.finditer(r"[{,]\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=", rest):
                lines.setdefault((*path, sub.group(1).strip('"')), no)
    return lines


def _line_for(loc: tuple, lines: dict[tuple, int]) -> int | None:
    loc = tuple(loc)
    for n in range(len(loc), 0, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _dotted(loc: tuple) -> str:
    """``analyses[1].cohort``: analyses (and every array) are numbered from 1 in messages."""
    out = ""
    for p in loc:
        if isinstance(p, int):
            out += f"[{p + 1}]"
        else:
            out += ("." if out else "") + str(p)
    return out


def _clean_loc(loc: tuple, data: Any) -> tuple:
    """Drop pydantic's union-member tags from a location (keep real keys and indices)."""
    out: list = []
    node = data
    for p in loc:
        if isinstance(node, list) and isinstance(p, int):
            out.append(p)
            node = node[p] if p < len(node) else None
        elif isinstance(node, dict) and p in node:
            out.append(p)
            node = node[p]
        elif isinstance(node, dict) and p == node.get("type"):
            continue  # the discriminator tag of a union member
        elif isinstance(node, dict) or node is None:
            # a missing or unknown key: keep it (it names the problem), stop descending
            if isinstance(p, str) and (
                "[" in p or p in {"str", "int", "float", "bool", "Condition", "list[...]"}
            ):
                continue
            out.append(p)
            node = None
        # else: a tag (e.g. the discriminator value) - skip
    return tuple(out)


def _parse_loc(key: str) -> tuple:
    out: list = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", key):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(out)


def parse_study(text: str, *, source: str = "<study>") -> Study:
    """Validate TOML text into a :class:`Study`; errors name key and line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise SpecError(
            f"{source} is not valid TOML: {exc}", line=int(m.group(1)) if m else None
        ) from None
    lines = key_lines(text)
    try:
        return Study.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        ctx_exc = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_exc, _RefError):
            loc = _parse_loc(ctx_exc.key)
            raise SpecError(str(ctx_exc), key=_dotted(loc), line=_line_for(loc, lines)) from None
        loc = _clean_loc(tuple(err["loc"]), data)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not part of the study specification; check the spelling)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif "input" in err and not isinstance(err["input"], dict | list):
            msg = f"{msg} (got {err['input']!r})"
        n = len(exc.errors())
        if n > 1:
            msg += f" [and {n - 1} more problem{'s' if n > 2 else ''}]"
        raise SpecError(msg, key=_dotted(loc), line=_line_for(loc, lines)) from None


def load_study(path: str | Path) -> Study:
    """Read and validate a study TOML file."""
    p = Path(path)
    if not p.exists():
        raise SpecError(f"study file '{p}' does not exist")
    return parse_study(p.read_text(encoding="utf-8"), source=str(p))


__all__ = [
    "REFERENCE_STUDY",
    "AdjustedComparison",
    "Analysis",
    "AnalysisSpec",
    "CompareProportions",
    "CompetingRisksAnalysis",
    "Condition",
    "CoxAnalysis",
    "DescriptiveAnalysis",
    "GradeDistribution",
    "KMAnalysis",
    "LogisticAnalysis",
    "PairedProportions",
    "ProportionAnalysis",
    "Scalar",
    "SpecError",
    "Study",
    "SwimmerAnalysis",
    "TimeDependentAnalysis",
    "key_lines",
    "load_study",
    "parse_study",
]
