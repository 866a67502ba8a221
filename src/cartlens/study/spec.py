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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cartlens.derive.settings import EndpointRules
from cartlens.errors import InputError

#: The bundled reference study (Xu et al. 2023, run on the demo registry).
REFERENCE_STUDY = Path(__file__).parent / "reference_study.toml"

FRAMES = ("infusions", "salvage")
OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null")


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


class Cohort(_Model):
    """Rows of a derived frame that meet every condition (and those of ``parent``)."""

    label: str = ""
    frame: Literal["infusions", "salvage"] = "infusions"
    parent: str | None = None
    flow_from: str | None = None
    where: dict[str, Scalar | list[Scalar] | Condition] = Field(default_factory=dict)


class _Analysis(_Model):
    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    title: str = ""
    section: str = ""


class DescriptiveAnalysis(_Analysis):
    type: Literal["descriptive"]
    cohort: str
    by: str | None = None
    variables: list[str]
    categorical: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class ProportionAnalysis(_Analysis):
    type: Literal["proportion"]
    cohorts: list[str] = Field(min_length=1)
    outcome: str


class CompareProportions(_Analysis):
    type: Literal["compare_proportions"]
    cohorts: tuple[str, str]
    outcome: str
    test: Literal["chisq", "fisher", "auto"] = "chisq"
    correct: bool = False


class PairedProportions(_Analysis):
    type: Literal["paired_proportions"]
    cohorts: tuple[str, str]
    outcome: str
    pair_by: str = "patient_id"
    exact: bool = True


class GradeDistribution(_Analysis):
    type: Literal["grade_distribution"]
    cohorts: list[str] = Field(min_length=1)
    toxicity: Literal["crs", "icans"]
    max_grade: int = Field(5, ge=1, le=5)


class KMAnalysis(_Analysis):
    type: Literal["km"]
    cohort: str
    endpoint: Literal["pfs", "os"]
    by: str | None = None
    groups: list[Scalar] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    logrank_pairs: list[tuple[Scalar, Scalar]] = Field(default_factory=list)


class CoxAnalysis(_Analysis):
    type: Literal["cox"]
    cohort: str
    endpoint: Literal["pfs", "os"]
    covariates: list[str] = Field(min_length=1)
    univariable: bool = True
    multivariable: bool = True
    firth: bool = False
    ties: Literal["efron", "breslow"] = "efron"


class LogisticAnalysis(_Analysis):
    type: Literal["logistic"]
    cohort: str
    outcome: str
    covariates: list[str] = Field(min_length=1)
    univariable: bool = True
    multivariable: bool = True
    firth: bool = True


class CompetingRisksAnalysis(_Analysis):
    """Cumulative incidence of relapse and of non-relapse mortality (competing events)."""

    type: Literal["competing_risks"]
    cohort: str
    by: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    times: list[float] = Field(default_factory=lambda: [6.0, 12.0])


class SwimmerAnalysis(_Analysis):
    """One bar per patient; cohorts above ``max_patients`` show a seeded random selection."""

    type: Literal["swimmer"]
    cohort: str
    max_patients: int = Field(60, ge=1)
    seed: int = 20231


class TimeDependentAnalysis(_Analysis):
    """Exposure dated after time zero: landmark and time-dependent Cox (immortal-time safe)."""

    type: Literal["time_dependent"]
    cohort: str
    endpoint: Literal["pfs", "os"] = "os"
    exposure_day: str
    landmark_days: float = Field(180, gt=0)


class AdjustedComparison(_Analysis):
    type: Literal["adjusted"]
    cohort: str
    treatment: str
    treated: Scalar
    control: Scalar
    endpoint: Literal["pfs", "os"] = "os"
    method: Literal["restriction", "multivariable", "iptw", "matching"] = "iptw"
    covariates: list[str] = Field(default_factory=list)


Analysis = Annotated[
    DescriptiveAnalysis
    | ProportionAnalysis
    | CompareProportions
    | PairedProportions
    | GradeDistribution
    | KMAnalysis
    | CoxAnalysis
    | LogisticAnalysis
    | SwimmerAnalysis
    | CompetingRisksAnalysis
    | TimeDependentAnalysis
    | AdjustedComparison,
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
    cohorts: dict[str, Cohort] = Field(min_length=1)
    analyses: list[Analysis] = Field(min_length=1)
    replication: dict[str, ReplicationTarget] = Field(default_factory=dict)

    @field_validator("cohorts")
    @classmethod
    def _names(cls, v: dict[str, Cohort]) -> dict[str, Cohort]:
        for name in v:
            if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", name):
                raise ValueError(f"cohort name '{name}' must be letters, digits and _")
        return v

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
            names = [a.cohort] if hasattr(a, "cohort") else list(getattr(a, "cohorts", []))
            for n in names:
                if n not in self.cohorts:
                    field = "cohort" if hasattr(a, "cohort") else "cohorts"
                    raise _RefError(f"analyses[{i}].{field}", f"unknown cohort '{n}'")
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
    out = ""
    for p in loc:
        if isinstance(p, int):
            out += f"[{p}]"
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
            raise SpecError(str(ctx_exc), key=ctx_exc.key, line=_line_for(loc, lines)) from None
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
