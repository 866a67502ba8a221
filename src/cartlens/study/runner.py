"""Run a study specification on a registry: frames -> cohorts -> analyses -> results.

:func:`run_study` returns a frozen :class:`StudyRun`; :func:`write_results` writes
``results.json`` (every analysis in the tidy schema, the specification, the software version,
input hashes and the ``replication`` object). Statistical warnings raised by an analysis are
kept with it (and shown in the report); a study that names a column that does not exist, or a
cohort that turns out empty, is a :class:`~cartlens.study.spec.SpecError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cartlens import __version__
from cartlens.errors import CartlensError, InputError, StatisticalWarning
from cartlens.ingest.readers import file_sha256
from cartlens.results import Result, json_safe
from cartlens.study.analyses import REGISTRY, Context
from cartlens.study.spec import Condition, SpecError, Study, key_lines, load_study

# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class AnalysisResult(Result):
    """One analysis of the study.

    ``summary`` holds the scalars the report and the replication table quote (keys such as
    ``cart2.x`` or ``median.true``); ``details`` holds JSON-safe rows for tables and figures;
    ``results`` the statistical results themselves (frozen :class:`Result` objects).
    """

    id: str
    type: str
    title: str
    section: str
    cohorts: tuple[str, ...]
    status: str
    summary: dict
    details: dict
    results: dict
    warnings: tuple[str, ...]
    note: str = ""
    #: study columns the analysis read (the report's methods mention only what was used)
    columns: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, eq=False)
class StudyRun(Result):
    """Everything one run of a study produced."""

    study: dict
    cohorts: dict
    analyses: tuple[AnalysisResult, ...]
    replication: dict
    replication_table: tuple[dict, ...]
    inputs: dict
    software_version: str
    warnings: tuple[str, ...]

    def analysis(self, analysis_id: str) -> AnalysisResult:
        for a in self.analyses:
            if a.id == analysis_id:
                return a
        raise KeyError(analysis_id)


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------


def input_hashes(registry: Path, spec_text: str) -> dict:
    files = {}
    if registry.is_dir():
        for f in sorted(registry.glob("*.csv")):
            files[f.name] = file_sha256(f)
    else:
        files[registry.name] = file_sha256(registry)
    combined = hashlib.sha256("".join(f"{k}:{v}\n" for k, v in files.items()).encode()).hexdigest()
    return {
        "registry": str(registry),
        "registry_files": files,
        "registry_sha256": combined,
        "spec_sha256": hashlib.sha256(spec_text.encode("utf-8")).hexdigest(),
    }


def _ensure_store(registry: Path, tmp: Path, say: Callable[[str], None]) -> Path:
    """A cartlens store for ``registry``: itself, or a folder imported into ``tmp``.

    Importing validates the folder with the registry's rules; errors stop the run.
    """
    if not registry.exists():
        raise InputError(f"registry '{registry}' does not exist", column="--registry")
    if not registry.is_dir():
        say(f"reading the store {registry}")
        return registry
    from cartlens.ingest.store import import_registry

    say(f"validating and importing the registry folder {registry}")
    store = tmp / "registry.duckdb"
    rep = import_registry(registry, store)
    if not rep.ok:
        errs = rep.errors.head(5)
        lines = "; ".join(
            f"{r.file} row {r.row} column {r.column}: {r.message}" for r in errs.itertuples()
        )
        raise InputError(f"registry '{registry}' has {rep.n_errors} validation errors: {lines}")
    return store


# --------------------------------------------------------------------------------------------
# cohorts
# --------------------------------------------------------------------------------------------


def _cond_mask(series: pd.Series, cond: Any) -> pd.Series:
    if not isinstance(cond, Condition):
        cond = Condition(op="in", value=cond) if isinstance(cond, list) else Condition(value=cond)
    op, val = cond.op, cond.value
    if op == "is_null":
        return series.isna()
    if op == "not_null":
        return series.notna()
    if op in ("in", "not_in"):
        vals = val if isinstance(val, list) else [val]
        m = series.isin(vals)
        return m if op == "in" else ~m & series.notna()
    s = series
    ops: dict[str, Callable] = {
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    try:
        out = ops[op](s, val)
    except TypeError as exc:
        raise ValueError(f"cannot compare with {val!r}: {exc}") from None
    return out.fillna(False).astype(bool)


def build_cohorts(study: Study, frames: dict[str, pd.DataFrame], lines: dict) -> dict:
    """Apply each cohort's filters (and its parents'); return ``{name: DataFrame}``."""
    out: dict[str, pd.DataFrame] = {}

    def build(name: str) -> pd.DataFrame:
        if name in out:
            return out[name]
        c = study.cohorts[name]
        base = build(c.parent) if c.parent else frames[c.frame]
        mask = pd.Series(True, index=base.index)
        for col, cond in c.where.items():
            key = f"cohorts.{name}.where.{col}"
            if col not in base.columns:
                raise SpecError(
                    f"column '{col}' does not exist in the '{c.frame}' frame (columns: "
                    f"{', '.join(map(str, base.columns))})",
                    key=key,
                    line=lines.get(("cohorts", name, "where", col))
                    or lines.get(("cohorts", name, "where"))
                    or lines.get(("cohorts", name)),
                )
            try:
                mask &= _cond_mask(base[col], cond)
            except ValueError as exc:
                raise SpecError(str(exc), key=key, line=lines.get(("cohorts", name))) from None
        df = base[mask]
        if df.empty:
            raise SpecError(
                f"cohort '{name}' is empty: no row of the '{c.frame}' frame meets its filters",
                key=f"cohorts.{name}",
                line=lines.get(("cohorts", name)),
            )
        out[name] = df
        return df

    for name in study.cohorts:
        build(name)
    return out


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------


def _round_to(v: Any, decimals: int | None) -> Any:
    if v is None or decimals is None:
        return v
    return round(float(v), decimals)


def run_study(
    study: Study | str | Path,
    registry: str | Path,
    *,
    spec_text: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> StudyRun:
    """Execute ``study`` on the registry (a cartlens store or a folder of entity CSVs)."""
    from cartlens.study.frames import frames_from_store

    say = progress or (lambda _m: None)
    if not isinstance(study, Study):
        path = Path(study)
        spec_text = path.read_text(encoding="utf-8") if path.exists() else None
        study = load_study(path)
    text = spec_text or ""
    lines = key_lines(text) if text else {}
    registry = Path(registry)
    with tempfile.TemporaryDirectory(prefix="cartlens-run-") as tmp:
        store = _ensure_store(registry, Path(tmp), say)
        say("deriving the analysis frames")
        tables, frames = frames_from_store(
            store, study.endpoints, study.presentation.month_days, followup=study.followup
        )
    if study.variables:
        from cartlens.study.variables import apply_variables

        frames = apply_variables(study.variables, frames, lines)
    cohorts = build_cohorts(study, frames, lines)
    cohort_info = {
        name: {
            "label": c.label or name,
            "frame": c.frame,
            "parent": c.parent,
            "where": json_safe(
                {k: (v.model_dump() if isinstance(v, Condition) else v) for k, v in c.where.items()}
            ),
            "n": int(len(cohorts[name])),
            "patients": int(cohorts[name]["patient_id"].nunique()),
        }
        for name, c in study.cohorts.items()
    }
    out: list[AnalysisResult] = []
    all_warnings: list[str] = []
    for i, a in enumerate(study.analyses):
        say(f"analysis {i + 1}/{len(study.analyses)}: {a.id}")
        ctx = Context(study, cohorts, tables, frames, lines, ("analyses", i))
        fn = REGISTRY[a.type].run
        names = a.cohort_names()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status, note = "ok", ""
            try:
                summary, details, results = fn(a, ctx)
            except SpecError:
                raise
            except (ImportError, AttributeError) as exc:
                status, note = (
                    "unavailable",
                    f"needs a statistics function not yet available: {exc}",
                )
                summary, details, results = {}, {}, {}
            except (CartlensError, ValueError, np.linalg.LinAlgError) as exc:
                status, note = "failed", f"{type(exc).__name__}: {exc}"
                summary, details, results = {}, {}, {}
        texts = []
        for w in caught:
            if issubclass(w.category, StatisticalWarning):
                texts.append(f"{w.category.__name__}: {w.message}")
        texts = list(dict.fromkeys(texts))
        all_warnings += [f"{a.id}: {t}" for t in texts]
        out.append(
            AnalysisResult(
                id=a.id,
                type=a.type,
                title=a.title or a.id,
                section=a.section,
                cohorts=names,
                status=status,
                summary=json_safe(summary),
                details=json_safe(details),
                results=results,
                warnings=tuple(texts),
                note=note,
                columns=tuple(a.columns_used()),
            )
        )
    by_id = {a.id: a for a in out}
    replication: dict[str, Any] = {}
    rep_rows = []
    for key, t in study.replication.items():
        value = by_id[t.analysis].summary.get(t.stat)
        if isinstance(value, float) and float(value).is_integer() and t.decimals is None:
            value = int(value)
        replication[key] = value
        shown = _round_to(value, t.decimals)
        pub = None if t.published == "NR" else t.published
        if t.published == "NR" or pub is None:
            match = value is None
        elif t.decimals is not None:
            match = shown is not None and abs(shown - pub) < 10 ** (-t.decimals) / 2
        else:
            match = value == pub
        rep_rows.append(
            {
                "key": key,
                "figure": t.figure,
                "label": t.label or key,
                "published": t.published,
                "cartlens": value,
                "cartlens_rounded": shown,
                "decimals": t.decimals,
                "match": bool(match),
                "analysis": t.analysis,
                "stat": t.stat,
            }
        )
    return StudyRun(
        study=json_safe(study.model_dump(mode="json")),
        cohorts=cohort_info,
        analyses=tuple(out),
        replication=replication,
        replication_table=tuple(rep_rows),
        inputs=input_hashes(registry, text),
        software_version=f"cartlens {__version__}",
        warnings=tuple(all_warnings),
    )


def results_document(run: StudyRun) -> dict:
    """The JSON document written as ``results.json``."""
    import platform

    from cartlens.results import tidy_rows

    tidy: list[dict] = []
    analyses = []
    for a in run.analyses:
        d = a.to_dict()  # JSON-safe once; the tidy rows are built from the same dict
        analyses.append(d)
        tidy.extend(tidy_rows(a.id, d))
    return {
        "software": run.software_version,
        "python": platform.python_version(),
        "study": run.study,
        "inputs": json_safe(run.inputs),
        "cohorts": json_safe(run.cohorts),
        "replication": json_safe(run.replication),
        "replication_table": json_safe(list(run.replication_table)),
        "warnings": list(run.warnings),
        "analyses": analyses,
        "tidy": tidy,
    }


def write_results(run: StudyRun, path: str | Path) -> Path:
    p = Path(path)
    text = json.dumps(results_document(run), allow_nan=False, separators=(",", ":"))
    p.write_text(text, encoding="utf-8")
    return p


__all__ = [
    "AnalysisResult",
    "StudyRun",
    "build_cohorts",
    "run_study",
    "results_document",
    "write_results",
]
