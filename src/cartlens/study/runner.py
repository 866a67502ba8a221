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
import math
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
# helpers
# --------------------------------------------------------------------------------------------


def _label(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _require(df: pd.DataFrame, cols: list[str], where: str, lines: dict, loc: tuple) -> None:
    for c in cols:
        if c not in df.columns:
            raise SpecError(
                f"column '{c}' does not exist (columns: {', '.join(map(str, df.columns))})",
                key=where,
                line=lines.get(loc) or lines.get(loc[:2]),
            )


def _bool01(s: pd.Series) -> np.ndarray:
    return s.astype(float).to_numpy()


def _time_scale(study: Study) -> float:
    unit = study.presentation.time_unit
    return {"days": 1.0, "months": study.presentation.month_days, "years": 365.25}[unit]


def _numeric_design(df: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, list[str]]:
    X = []
    names = []
    for c in cols:
        s = df[c]
        if s.dtype == object and not s.dropna().map(lambda v: isinstance(v, bool)).all():
            levels = sorted(s.dropna().unique(), key=str)
            for lv in levels[1:]:
                X.append((s == lv).astype(float).where(s.notna()).to_numpy())
                names.append(f"{c}[{lv}]")
        else:
            X.append(pd.to_numeric(s.astype(float), errors="coerce").to_numpy())
            names.append(c)
    return np.column_stack(X), names


# --------------------------------------------------------------------------------------------
# analyses
# --------------------------------------------------------------------------------------------


def _proportion(a, study, cohorts, ctx):
    from cartlens.stats.proportions import binom_ci

    p = study.presentation
    summary, rows, results = {}, [], {}
    for c in a.cohorts:
        df = cohorts[c]
        _require(df, [a.outcome], f"analyses.{a.id}.outcome", ctx["lines"], ctx["loc"])
        v = df[a.outcome].dropna().astype(bool)
        x, n = int(v.sum()), int(len(v))
        if n == 0:
            from cartlens.errors import SparseDataWarning

            warnings.warn(
                f"cohort '{c}' has no row with a value of '{a.outcome}' (0 evaluable); "
                "its proportion is undefined",
                SparseDataWarning,
                stacklevel=2,
            )
            summary.update({f"{c}.x": 0, f"{c}.n": 0, f"{c}.pct": None})
            summary.update({f"{c}.lower": None, f"{c}.upper": None})
            rows.append(
                {
                    "cohort": c,
                    "label": study.cohorts[c].label or c,
                    "x": 0,
                    "n": 0,
                    "estimate": None,
                    "lower": None,
                    "upper": None,
                }
            )
            continue
        r = binom_ci(x, n, p.ci_method, conf_level=p.conf_level)
        results[c] = r
        summary.update({f"{c}.x": x, f"{c}.n": n, f"{c}.pct": 100 * x / n})
        summary.update({f"{c}.lower": r.lower, f"{c}.upper": r.upper})
        rows.append(
            {
                "cohort": c,
                "label": study.cohorts[c].label or c,
                "x": x,
                "n": n,
                "estimate": r.estimate,
                "lower": r.lower,
                "upper": r.upper,
            }
        )
    return summary, {"rows": rows, "method": p.ci_method, "conf_level": p.conf_level}, results


def _compare(a, study, cohorts, ctx):
    from cartlens.stats.tables import chisq_test, compare_proportions, fisher_test

    c1, c2 = a.cohorts
    d1, d2 = cohorts[c1], cohorts[c2]
    for d in (d1, d2):
        _require(d, [a.outcome], f"analyses.{a.id}.outcome", ctx["lines"], ctx["loc"])
    v1 = d1[a.outcome].dropna().astype(bool)
    v2 = d2[a.outcome].dropna().astype(bool)
    x1, n1, x2, n2 = int(v1.sum()), len(v1), int(v2.sum()), len(v2)
    overlap = len(set(d1["patient_id"]) & set(d2["patient_id"]))
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
    results: dict[str, Result] = {}
    if a.test == "chisq":
        r = chisq_test(table, correct=a.correct)
        results["test"] = r
        p, stat, method = r.p_value, r.statistic, r.method
    elif a.test == "fisher":
        r = fisher_test(table)
        results["test"] = r
        p, stat, method = r.p_value, None, "Fisher's exact test"
    else:
        r = compare_proportions(x1, n1, x2, n2, correct=a.correct, overlapping=overlap > 0)
        results["test"] = r
        p = getattr(r, "p_value", None)
        stat, method = getattr(r, "statistic", None), getattr(r, "test", "auto")
    if overlap:
        from cartlens.errors import PairedDataWarning

        warnings.warn(
            f"{overlap} patients are in both '{c1}' and '{c2}'; the test treats the groups as "
            "independent, which they are not (see the paired McNemar analysis)",
            PairedDataWarning,
            stacklevel=2,
        )
    fisher = fisher_test(table)
    results["fisher"] = fisher
    summary = {
        "p": p,
        "statistic": stat,
        "x1": x1,
        "n1": n1,
        "x2": x2,
        "n2": n2,
        "pct1": 100 * x1 / n1,
        "pct2": 100 * x2 / n2,
        "overlap": overlap,
        "p_fisher": fisher.p_value,
    }
    if a.test == "chisq" and not a.correct:
        method = f"{method} without continuity correction"
    details = {"method": method, "table": table.tolist(), "labels": [c1, c2]}
    return summary, details, results


def _paired(a, study, cohorts, ctx):
    from cartlens.stats.tables import mcnemar_test

    c1, c2 = a.cohorts
    d1 = cohorts[c1][[a.pair_by, a.outcome]].dropna()
    d2 = cohorts[c2][[a.pair_by, a.outcome]].dropna()
    m = d1.merge(d2, on=a.pair_by, suffixes=("_1", "_2"))
    y1 = m[f"{a.outcome}_1"].astype(bool).to_numpy()
    y2 = m[f"{a.outcome}_2"].astype(bool).to_numpy()
    table = np.array([[np.sum(y1 & y2), np.sum(y1 & ~y2)], [np.sum(~y1 & y2), np.sum(~y1 & ~y2)]])
    r = mcnemar_test(table, correct=False, exact=a.exact)
    r_asym = mcnemar_test(table, correct=True)
    summary = {
        "n_pairs": int(len(m)),
        "both": int(table[0, 0]),
        "first_only": int(table[0, 1]),
        "second_only": int(table[1, 0]),
        "neither": int(table[1, 1]),
        "p": r.p_value,
        "p_chisq_corrected": r_asym.p_value,
        "pct1": 100 * y1.mean() if len(m) else None,
        "pct2": 100 * y2.mean() if len(m) else None,
    }
    details = {"table": table.tolist(), "labels": [c1, c2], "method": r.method}
    return summary, details, {"mcnemar": r, "mcnemar_corrected": r_asym}


def _grades(a, study, cohorts, ctx):
    col = f"{a.toxicity}_grade"
    severe = study.endpoints.severe_grade
    summary, rows = {}, []
    for c in a.cohorts:
        g = cohorts[c][col].fillna(0).astype(int)
        n = len(g)
        counts = {k: int((g == k).sum()) for k in range(0, a.max_grade + 1)}
        summary[f"{c}.n"] = n
        for k, v in counts.items():
            summary[f"{c}.grade_{k}"] = v
        summary[f"{c}.any"] = int((g >= 1).sum())
        summary[f"{c}.severe"] = int((g >= severe).sum())
        rows.append(
            {
                "cohort": c,
                "label": study.cohorts[c].label or c,
                "n": n,
                "counts": counts,
                "any": int((g >= 1).sum()),
                "severe": int((g >= severe).sum()),
            }
        )
    return summary, {"rows": rows, "severe_grade": severe, "toxicity": a.toxicity}, {}


def _km(a, study, cohorts, ctx):
    from cartlens.stats.km import kaplan_meier
    from cartlens.stats.logrank import logrank_test

    df = cohorts[a.cohort]
    scale = _time_scale(study)
    if a.by:
        _require(df, [a.by], f"analyses.{a.id}.by", ctx["lines"], ctx["loc"])
        df = df[df[a.by].notna()]
        if a.groups is not None:
            df = df[df[a.by].map(_label).isin([_label(g) for g in a.groups])]
    t = df[f"{a.endpoint}_days"].to_numpy(dtype=float) / scale
    e = df[f"{a.endpoint}_event"].to_numpy(dtype=int)
    grp = df[a.by].map(_label).to_numpy() if a.by else None
    p = study.presentation
    km = kaplan_meier(t, e, group=grp, conf_type=p.km_conf_type, conf_level=p.conf_level)
    results: dict[str, Result] = {"km": km}
    summary: dict[str, Any] = {"n": int(len(df)), "events": int(e.sum())}
    curves = []
    for cv in km.curves:
        g = "all" if cv.group is None else _label(cv.group)
        suffix = "" if cv.group is None else f".{g}"
        med = None if cv.median is None or not math.isfinite(cv.median) else float(cv.median)
        summary[f"median{suffix}"] = med
        summary[f"median_lower{suffix}"] = cv.median_lower
        summary[f"median_upper{suffix}"] = cv.median_upper
        summary[f"n{suffix}" if suffix else "n_curve"] = int(cv.n)
        summary[f"events{suffix}" if suffix else "events_curve"] = int(cv.events)
        mask = slice(None) if grp is None else (grp == g)
        tt = t[mask]
        risk = [int(np.sum(tt >= x)) for x in p.risk_table_times]
        curves.append(
            {
                "group": g,
                "label": a.labels.get(g, study.cohorts[a.cohort].label if g == "all" else g),
                "n": int(cv.n),
                "events": int(cv.events),
                "median": med,
                "median_lower": cv.median_lower,
                "median_upper": cv.median_upper,
                "at_risk": risk,
            }
        )
    if a.by and len(km.curves) > 1:
        lr = logrank_test(t, e, grp)
        results["logrank"] = lr
        summary["logrank"] = lr.p
    for g1, g2 in a.logrank_pairs:
        l1, l2 = _label(g1), _label(g2)
        m = np.isin(grp, [l1, l2])
        lr = logrank_test(t[m], e[m], grp[m])
        results[f"logrank {l1}|{l2}"] = lr
        summary[f"logrank.{l1}|{l2}"] = lr.p
    details = {
        "curves": curves,
        "endpoint": a.endpoint,
        "time_unit": p.time_unit,
        "risk_times": p.risk_table_times,
        "pairs": [[_label(x), _label(y)] for x, y in a.logrank_pairs],
    }
    return summary, details, results


def _cox(a, study, cohorts, ctx):
    from cartlens.stats.cox import coxph

    df = cohorts[a.cohort]
    _require(df, a.covariates, f"analyses.{a.id}.covariates", ctx["lines"], ctx["loc"])
    scale = _time_scale(study)
    d = df[[f"{a.endpoint}_days", f"{a.endpoint}_event", *a.covariates]].dropna()
    t = d[f"{a.endpoint}_days"].to_numpy(dtype=float) / scale
    e = d[f"{a.endpoint}_event"].to_numpy(dtype=int)
    rows, results, summary = [], {}, {"n": int(len(d)), "events": int(e.sum())}
    models = []
    if a.univariable:
        models += [("univariable", [c]) for c in a.covariates]
    if a.multivariable and len(a.covariates) > 1:
        models.append(("multivariable", list(a.covariates)))
    for kind, cols in models:
        X, names = _numeric_design(d, cols)
        try:
            r = coxph(t, e, X, names=names, ties=a.ties, firth=a.firth)
        except CartlensError as exc:
            rows.append({"model": kind, "term": ", ".join(cols), "error": str(exc)})
            continue
        results[f"{kind}:{'+'.join(cols)}"] = r
        for row in r.terms_table():
            rows.append({"model": kind, **row})
            summary[f"{kind}.{row['term']}.hr"] = row.get("hr")
            summary[f"{kind}.{row['term']}.p"] = row.get("p")
    return summary, {"rows": rows, "endpoint": a.endpoint}, results


def _logistic(a, study, cohorts, ctx):
    from cartlens.stats import logistic as lg

    df = cohorts[a.cohort]
    _require(df, [a.outcome, *a.covariates], f"analyses.{a.id}", ctx["lines"], ctx["loc"])
    d = df[[a.outcome, *a.covariates]].dropna().copy()
    for c in [a.outcome, *a.covariates]:
        if d[c].map(lambda v: isinstance(v, bool | np.bool_)).all():
            d[c] = d[c].astype(int)
    rows, results = [], {}
    summary: dict[str, Any] = {"n": int(len(d)), "events": int(d[a.outcome].sum())}
    models = []
    if a.univariable:
        models += [("univariable", [c]) for c in a.covariates]
    if a.multivariable and len(a.covariates) > 1:
        models.append(("multivariable", list(a.covariates)))
    y = d[a.outcome].astype(float).to_numpy()
    for kind, cols in models:
        formula = f"{a.outcome} ~ " + " + ".join(cols)
        Xc, names = _numeric_design(d, cols)
        X = np.column_stack([np.ones(len(d)), Xc])
        names = ["(Intercept)", *names]
        kw = {"firth": a.firth, "outcome": a.outcome, "formula": formula}
        try:
            try:
                r = lg.fit_logistic_arrays(X, y, names, **kw)
            except ValueError as exc:
                if isinstance(exc, CartlensError):
                    raise
                # the profile-likelihood interval could not be bracketed: Wald instead
                r = lg.fit_logistic_arrays(X, y, names, ci="wald", **kw)
                warnings.warn(
                    f"{kind} model {formula}: profile-likelihood CI failed ({exc}); "
                    "Wald CI and P shown",
                    StatisticalWarning,
                    stacklevel=2,
                )
        except CartlensError as exc:
            rows.append({"model": kind, "term": ", ".join(cols), "error": str(exc)})
            continue
        results[f"{kind}:{'+'.join(cols)}"] = r
        for i, term in enumerate(r.terms):
            if term in ("(Intercept)", "Intercept"):
                continue
            row = {
                "model": kind,
                "term": term,
                "or": float(r.odds_ratio[i]),
                "lower": float(r.lower[i]),
                "upper": float(r.upper[i]),
                "p": float(r.p[i]),
            }
            rows.append(row)
            summary[f"{kind}.{term}.or"] = row["or"]
            summary[f"{kind}.{term}.p"] = row["p"]
    return (
        summary,
        {"rows": rows, "firth": a.firth, "ci_method": getattr(r, "ci_method", "")},
        results,
    )


def _competing(a, study, cohorts, ctx):
    """Relapse vs non-relapse mortality (derive layer's ``crisk_*``): cuminc and Gray's test."""
    from cartlens.stats.competing import cuminc, numbers_at_risk

    df = cohorts[a.cohort]
    if a.by:
        _require(df, [a.by], f"analyses.{a.id}.by", ctx["lines"], ctx["loc"])
        df = df[df[a.by].notna()]
    scale = _time_scale(study)
    t = df["crisk_days"].to_numpy(dtype=float) / scale
    e = df["crisk_event"].to_numpy(dtype=int)
    grp = df[a.by].map(_label).to_numpy() if a.by else None
    res = cuminc(t, e, group=grp, cencode=0)
    causes = {1: "relapse", 2: "non-relapse mortality"}
    summary: dict[str, Any] = {"n": int(len(df))}
    rows = []
    for item in res.summary(a.times):
        g = "all" if item["group"] is None else _label(item["group"])
        cause = causes.get(int(item["cause"]), str(item["cause"]))
        for at in item["at"]:
            key = f"{g}.{cause}.{_label(at['time'])}"
            summary[key] = at["estimate"]
            rows.append(
                {
                    "group": a.labels.get(g, g),
                    "cause": cause,
                    "time": at["time"],
                    "estimate": at["estimate"],
                    "lower": at["lower"],
                    "upper": at["upper"],
                }
            )
    for gt in res.gray_test:
        summary[f"gray.{causes.get(int(gt.cause), gt.cause)}"] = gt.p
    at_risk = numbers_at_risk(t, study.presentation.risk_table_times, group=grp)
    details = {
        "rows": rows,
        "at_risk": {_label(k) if k is not None else "all": v for k, v in at_risk.items()},
        "causes": {str(k): v for k, v in causes.items()},
        "risk_times": study.presentation.risk_table_times,
        "time_unit": study.presentation.time_unit,
        "labels": a.labels,
    }
    return summary, details, {"cuminc": res}


def _swimmer(a, study, cohorts, ctx):
    """Each patient's course from CART1; above ``a.max_patients`` a seeded random selection."""
    df = cohorts[a.cohort].drop_duplicates("patient_id")
    n_cohort = len(df)
    selection = None
    if n_cohort > a.max_patients:
        rng = np.random.default_rng(a.seed)
        keep = np.sort(rng.choice(n_cohort, size=a.max_patients, replace=False))
        df = df.iloc[keep]
        selection = {
            "shown": int(a.max_patients),
            "of": int(n_cohort),
            "seed": int(a.seed),
            "note": (
                f"{a.max_patients} of {n_cohort} patients shown: a random selection "
                f"(seed {a.seed}); swimmer plots show at most max_patients = {a.max_patients}"
            ),
        }
    tables = ctx["tables"]
    inf = ctx["frames"]["infusions"]
    pids = set(df["patient_id"])

    def by_patient(t: pd.DataFrame) -> dict:
        if t.empty or "patient_id" not in t:
            return {}
        t = t[t["patient_id"].isin(pids)]
        return {k: g for k, g in t.groupby("patient_id", sort=False)}

    courses_by = by_patient(inf.sort_values("course_number", kind="stable"))
    tx_by = by_patient(tables["transplants"])
    rel_by = by_patient(tables["relapses"])
    scale = _time_scale(study)
    rows = []
    for pid, cart2_cr, hsct_before in zip(df["patient_id"], df["cr"], df["hsct_before"]):
        courses = courses_by[pid]
        c1 = courses.iloc[0]
        t0 = c1["infusion_date"]

        def day(x, t0=t0):
            return None if pd.isna(x) else float((x - t0).days) / scale

        events = []
        for c in courses.itertuples(index=False):
            events.append({"t": day(c.infusion_date), "kind": c.course})
            if c.best_response is not None and not pd.isna(c.best_response):
                resp_day = c.infusion_date + pd.Timedelta(days=study.endpoints.response_day)
                events.append(
                    {"t": day(resp_day), "kind": "response", "value": str(c.best_response)}
                )
        if pid in tx_by:
            for d in tx_by[pid]["transplant_date"]:
                events.append({"t": day(d), "kind": "HSCT"})
        if pid in rel_by:
            for d in rel_by[pid]["relapse_date"]:
                events.append({"t": day(d), "kind": "relapse"})
        end = day(c1["last_contact_date"])
        rows.append(
            {
                "patient_id": pid,
                "end": end,
                "dead": bool(c1["dead"]),
                "cart2_cr": bool(cart2_cr is True),
                "hsct_before": bool(hsct_before),
                "events": sorted(events, key=lambda e: (e["t"] is None, e["t"])),
            }
        )
    rows.sort(key=lambda r: -(r["end"] or 0))
    details = {"patients": rows, "time_unit": study.presentation.time_unit}
    if selection:
        details["selection"] = selection
    return {"n": len(rows), "n_cohort": n_cohort}, details, {}


def _time_dependent(a, study, cohorts, ctx):
    """Naive ever/never comparison beside immortal-time-safe analyses of a dated exposure.

    Uses engineer E's tools: the immortal-time guard, (start, stop] splitting at the
    exposure, a time-dependent Cox model, the Mantel-Byar test, Simon-Makuch curves and a
    landmark analysis.
    """
    from cartlens.stats.cox import coxph
    from cartlens.stats.immortal import check_immortal_time
    from cartlens.stats.landmark import landmark_analysis
    from cartlens.stats.timedep import mantel_byar_test, simon_makuch, split_at_exposure

    df = cohorts[a.cohort]
    _require(df, [a.exposure_day], f"analyses.{a.id}.exposure_day", ctx["lines"], ctx["loc"])
    scale = _time_scale(study)
    p = study.presentation
    td = df[f"{a.endpoint}_days"].to_numpy(dtype=float)
    ev = df[f"{a.endpoint}_event"].to_numpy(dtype=int)
    xd = df[a.exposure_day].to_numpy(dtype=float)
    xd = np.where(xd < td, xd, np.nan)  # an exposure after the end of follow-up is none
    exposed = ~np.isnan(xd)
    summary: dict[str, Any] = {"n": int(len(df)), "exposed": int(exposed.sum())}
    results: dict[str, Result] = {}
    # the guard: warns (ImmortalTimeWarning) that ever/never groups are immortal-time biased
    results["immortal_check"] = check_immortal_time(0.0, xd, exposure=a.exposure_day)
    naive = coxph(td / scale, ev, exposed.astype(float)[:, None], names=["exposed_ever"])
    results["naive_cox"] = naive
    summary["naive.hr"] = float(naive.hr[0])
    summary["naive.lower"] = float(naive.hr_lower[0])
    summary["naive.upper"] = float(naive.hr_upper[0])
    summary["naive.p"] = float(naive.p[0])
    summary["immortal_person_time"] = float(np.nansum(xd) / scale)
    # time-dependent Cox on (start, stop] rows split at the exposure
    sp = split_at_exposure(td / scale, ev, xd / scale)
    tdc = coxph(
        sp["stop"],
        sp["event"].astype(int),
        sp["exposure"].astype(float)[:, None],
        entry=sp["start"],
        names=["exposed_time_dependent"],
    )
    results["time_dependent_cox"] = tdc
    summary["td.hr"] = float(tdc.hr[0])
    summary["td.lower"] = float(tdc.hr_lower[0])
    summary["td.upper"] = float(tdc.hr_upper[0])
    summary["td.p"] = float(tdc.p[0])
    mb = mantel_byar_test(sp["start"], sp["stop"], sp["event"], sp["exposure"], id=sp["id"])
    results["mantel_byar"] = mb
    summary["mantel_byar.p"] = float(mb.p)
    sm = simon_makuch(sp["start"], sp["stop"], sp["event"], sp["exposure"], id=sp["id"])
    results["simon_makuch"] = sm
    # landmark
    L = a.landmark_days
    lm = landmark_analysis(
        td / scale, ev, xd / scale, L / scale, labels=("no HSCT by landmark", "HSCT by landmark")
    )
    results["landmark"] = lm
    summary["landmark.days"] = L
    summary["landmark.n"] = int(lm.n_at_landmark)
    summary["landmark.excluded"] = int(lm.n_excluded)
    summary["landmark.p"] = lm.p
    lt = lg = None
    if lm.km is not None and len(lm.km.curves) > 1:
        keep = td > L
        lt = (td[keep] - L) / scale
        le = ev[keep]
        lexp = (exposed & (xd <= L))[keep].astype(float)
        summary["landmark.exposed"] = int(lexp.sum())
        lcox = coxph(lt, le, lexp[:, None], names=["exposed_by_landmark"])
        results["landmark_cox"] = lcox
        summary["landmark.hr"] = float(lcox.hr[0])
        summary["landmark.lower"] = float(lcox.hr_lower[0])
        summary["landmark.upper"] = float(lcox.hr_upper[0])
        lg = np.where(lexp == 1, "HSCT by landmark", "no HSCT by landmark")
    curves = []
    if lm.km is not None:
        for cv in lm.km.curves:
            sel = lg == str(cv.group) if lg is not None else slice(None)
            tt = lt[sel] if lt is not None else np.asarray([])
            curves.append(
                {
                    "group": str(cv.group),
                    "label": str(cv.group),
                    "n": int(cv.n),
                    "events": int(cv.events),
                    "median": _finite(cv.median),
                    "median_lower": _finite(cv.median_lower),
                    "median_upper": _finite(cv.median_upper),
                    "at_risk": [int(np.sum(tt >= x)) for x in p.risk_table_times],
                }
            )
    sm_curves = []
    for cv in sm.curves:
        g = int(cv.group)
        sm_curves.append(
            {
                "group": str(g),
                "label": "after allo-HSCT" if g == 1 else "before / without allo-HSCT",
                "n": int(cv.n),
                "events": int(cv.events),
                "median": _finite(cv.median),
                # at risk at x: start < x <= stop (at x = 0: the rows that start there)
                "at_risk": [
                    int(
                        np.sum(
                            ((sp["start"] < x) | ((x == 0) & (sp["start"] == 0)))
                            & (sp["stop"] >= x)
                            & (sp["exposure"] == g)
                        )
                    )
                    for x in p.risk_table_times
                ],
            }
        )
    details = {
        "landmark_curves": curves,
        "simon_makuch_curves": sm_curves,
        "risk_times": p.risk_table_times,
        "time_unit": p.time_unit,
        "exposure": a.exposure_day,
    }
    return summary, details, results


def _finite(v: Any) -> float | None:
    return None if v is None or not math.isfinite(float(v)) else float(v)


def _adjusted(a, study, cohorts, ctx):
    from cartlens.stats.propensity import propensity_score_arrays
    from cartlens.stats.weighting import iptw_weights, weighted_cox

    df = cohorts[a.cohort]
    _require(df, [a.treatment, *a.covariates], f"analyses.{a.id}", ctx["lines"], ctx["loc"])
    d = df[df[a.treatment].isin([a.treated, a.control])].copy()
    d["_treat"] = (d[a.treatment] == a.treated).astype(int)
    d = d.dropna(subset=[*a.covariates, f"{a.endpoint}_days"])
    scale = _time_scale(study)
    t = d[f"{a.endpoint}_days"].to_numpy(dtype=float) / scale
    e = d[f"{a.endpoint}_event"].to_numpy(dtype=int)
    results: dict[str, Result] = {}
    summary: dict[str, Any] = {
        "n": int(len(d)),
        "n_treated": int(d["_treat"].sum()),
        "n_control": int((1 - d["_treat"]).sum()),
    }
    if a.method == "restriction":
        from cartlens.stats.cox import coxph

        r = coxph(t, e, d["_treat"].to_numpy(float)[:, None], names=["treated"])
    elif a.method == "multivariable":
        from cartlens.stats.cox import coxph

        X, names = _numeric_design(d, ["_treat", *a.covariates])
        r = coxph(t, e, X, names=["treated", *names[1:]])
    elif a.method == "matching":
        from cartlens.stats.matching import match_nearest, matched_cox

        Xc, names = _numeric_design(d, list(a.covariates))
        ps = propensity_score_arrays(d["_treat"].to_numpy(), Xc, names=names, firth=True)
        results["propensity"] = ps
        m = match_nearest(ps.ps, d["_treat"].to_numpy(), ids=d["patient_id"].to_numpy())
        results["match"] = m
        summary["n_matched"] = int(np.sum(m.matched))
        r = matched_cox(t, e, m)
    else:
        Xc, names = _numeric_design(d, list(a.covariates))
        ps = propensity_score_arrays(d["_treat"].to_numpy(), Xc, names=names, firth=True)
        results["propensity"] = ps
        w = iptw_weights(ps.ps, d["_treat"].to_numpy(), stabilize=True)
        results["weights"] = w
        weights = np.asarray(getattr(w, "weights", w))
        r = weighted_cox(t, e, d["_treat"].to_numpy(), weights)
        try:
            from cartlens.stats.balance import balance_table

            bal = balance_table(d[a.covariates], d["_treat"].to_numpy(), weights)
            results["balance"] = bal
        except Exception as exc:  # noqa: BLE001 - balance is a diagnostic
            summary["balance_error"] = str(exc)
    results["cox"] = r
    hr = getattr(r, "hr", None)
    if hr is not None:
        summary["hr"] = float(np.asarray(hr)[0])
        summary["lower"] = float(np.asarray(r.hr_lower)[0])
        summary["upper"] = float(np.asarray(r.hr_upper)[0])
        summary["p"] = float(np.asarray(r.p)[0])
    return summary, {"method": a.method, "covariates": a.covariates}, results


def _descriptive(a, study, cohorts, ctx):
    from cartlens.stats.nonparametric import kruskal_wallis, mann_whitney
    from cartlens.stats.tables import chisq_test, fisher_test

    df = cohorts[a.cohort]
    _require(
        df, [*a.variables, *([a.by] if a.by else [])], f"analyses.{a.id}", ctx["lines"], ctx["loc"]
    )
    groups = sorted(df[a.by].dropna().unique(), key=_label) if a.by else [None]
    gl = [_label(g) for g in groups] if a.by else ["all"]
    summary: dict[str, Any] = {"n": int(len(df))}
    for g, lab in zip(groups, gl):
        if a.by:
            summary[f"n.{lab}"] = int((df[a.by] == g).sum())
    rows = []
    for v in a.variables:
        s = df[v]
        cat = (
            v in a.categorical
            or s.dtype == object
            and not pd.api.types.is_numeric_dtype(s.dropna())
        )
        if cat:
            levels = sorted(s.dropna().map(_label).unique())
            cells = []
            for lv in levels:
                row = {"variable": v, "level": lv, "cells": []}
                for g in groups:
                    sg = df[s.notna() & ((df[a.by] == g) if a.by else True)][v].map(_label)
                    k = int((sg == lv).sum())
                    row["cells"].append(
                        {"n": k, "denom": len(sg), "pct": 100 * k / len(sg) if len(sg) else None}
                    )
                cells.append(row)
            test, p = None, None
            if a.by and len(groups) > 1 and len(levels) > 1:
                tab = np.array([[c["n"] for c in r["cells"]] for r in cells]).T
                chi = chisq_test(tab, correct=False)
                if chi.min_expected < 5 and tab.shape == (2, 2):
                    p, test = fisher_test(tab).p_value, "Fisher's exact test (expected count < 5)"
                else:
                    p, test = (
                        chi.p_value,
                        "Pearson chi-square"
                        + (" (expected count < 5)" if chi.min_expected < 5 else ""),
                    )
            rows.append(
                {"variable": v, "kind": "categorical", "levels": cells, "test": test, "p": p}
            )
            summary[f"{v}.p"] = p
        else:
            x = pd.to_numeric(s.astype(float), errors="coerce")
            cells = []
            samples = []
            for g in groups:
                xs = x[(df[a.by] == g) if a.by else slice(None)].dropna().to_numpy()
                samples.append(xs)
                if len(xs):
                    q1, med, q3 = np.percentile(xs, [25, 50, 75])
                    cells.append({"median": med, "q1": q1, "q3": q3, "n": len(xs)})
                else:
                    cells.append({"median": None, "q1": None, "q3": None, "n": 0})
            test, p = None, None
            if a.by and len(groups) == 2 and all(len(s_) for s_ in samples):
                p, test = mann_whitney(samples[0], samples[1]).p_value, "Wilcoxon rank-sum"
            elif a.by and len(groups) > 2:
                vals = np.concatenate(samples)
                gg = np.concatenate([[i] * len(s_) for i, s_ in enumerate(samples)])
                p, test = kruskal_wallis(vals, gg).p_value, "Kruskal-Wallis"
            rows.append({"variable": v, "kind": "numeric", "cells": cells, "test": test, "p": p})
            summary[f"{v}.p"] = p
    return summary, {"rows": rows, "groups": gl, "by": a.by, "labels": a.labels}, {}


RUNNERS: dict[str, Callable] = {
    "descriptive": _descriptive,
    "proportion": _proportion,
    "compare_proportions": _compare,
    "paired_proportions": _paired,
    "grade_distribution": _grades,
    "km": _km,
    "cox": _cox,
    "logistic": _logistic,
    "swimmer": _swimmer,
    "competing_risks": _competing,
    "time_dependent": _time_dependent,
    "adjusted": _adjusted,
}


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
    engine: str = "duckdb",
    spark_master: str | None = None,
) -> StudyRun:
    """Execute ``study`` on the registry (a cartlens store or a folder of entity CSVs).

    ``engine``: where the derive SQL runs, ``"duckdb"`` (the store) or ``"spark"`` (on
    ``spark_master``, default ``local[2]``; see :mod:`cartlens.derive.engines`).
    """
    from cartlens.derive.engines import start_engine
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
        say("deriving the analysis frames" + (f" on {engine}" if engine != "duckdb" else ""))
        eng = start_engine(engine, store=store, master=spark_master)
        tables, frames = frames_from_store(
            store, study.endpoints, study.presentation.month_days, engine=eng
        )
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
    ctx_base = {"tables": tables, "frames": frames, "lines": lines}
    out: list[AnalysisResult] = []
    all_warnings: list[str] = []
    for i, a in enumerate(study.analyses):
        say(f"analysis {i + 1}/{len(study.analyses)}: {a.id}")
        ctx = {**ctx_base, "loc": ("analyses", i)}
        fn = RUNNERS[a.type]
        names = tuple([a.cohort] if hasattr(a, "cohort") else getattr(a, "cohorts", []))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status, note = "ok", ""
            try:
                summary, details, results = fn(a, study, cohorts, ctx)
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
