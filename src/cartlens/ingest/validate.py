"""Stage a source in DuckDB and validate it with set-based SQL (no per-row Python).

Staging creates, in a (usually in-memory) DuckDB connection, one table ``raw_<entity>`` per
entity (every data-model column as trimmed text, ``NULL`` for missing, plus ``_row``, the 1-based
data row) and one table ``typed_<entity>`` with the values converted to their types (``NULL``
where conversion failed). The rules of :mod:`cartlens.ingest.rules` are SQL queries over these
tables returning findings; :func:`validate_source` runs them all and returns one frame.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import pandas as pd

from cartlens.ingest.readers import MISSING_TOKENS, RegistrySource, reader_finding
from cartlens.ingest.rules import RULES
from cartlens.model.schema import ENTITIES, ID_PATTERN, EntitySpec, FieldSpec
from cartlens.model.vocab import FALSE_TOKENS, TRUE_TOKENS

FINDING_COLUMNS = ["file", "row", "column", "value", "rule", "severity", "message"]
REQUIRED_ENTITIES = ("patients", "infusions")
NUMBER_PATTERN = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"

#: Event dates per entity (entity, date column) used by the date-order rules.
EVENT_DATES = (
    ("infusions", "infusion_date"),
    ("responses", "assessment_date"),
    ("toxicities", "onset_date"),
    ("transplants", "transplant_date"),
    ("relapses", "relapse_date"),
    ("therapies", "start_date"),
    ("deaths", "death_date"),
    ("labs", "sample_date"),
    ("infections", "onset_date"),
    ("iec_hs", "onset_date"),
    ("second_malignancies", "diagnosis_date"),
)


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str | None) -> str:
    """SQL string literal."""
    if text is None:
        return "NULL"
    return "'" + str(text).replace("'", "''") + "'"


def typed_expr(f: FieldSpec, col: str) -> str:
    """SQL converting the text column ``col`` to the field's type (NULL when invalid)."""
    c = col
    if f.kind == "integer":
        return (
            f"CASE WHEN regexp_full_match({c}, '[+-]?[0-9]{{1,15}}(\\.0*)?') "
            f"THEN CAST(CAST({c} AS DOUBLE) AS BIGINT) END"
        )
    if f.kind == "number":
        return (
            f"CASE WHEN regexp_full_match({c}, {lit(NUMBER_PATTERN)})"
            f" AND isfinite(TRY_CAST({c} AS DOUBLE)) THEN TRY_CAST({c} AS DOUBLE) END"
        )
    if f.kind == "date":
        return (
            f"CASE WHEN regexp_full_match({c}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
            f"THEN TRY_CAST({c} AS DATE) END"
        )
    if f.kind == "boolean":
        t = ", ".join(lit(x) for x in TRUE_TOKENS)
        fa = ", ".join(lit(x) for x in FALSE_TOKENS)
        return f"CASE WHEN lower({c}) IN ({t}) THEN TRUE WHEN lower({c}) IN ({fa}) THEN FALSE END"
    if f.kind == "enum":
        allowed = ", ".join(lit(a) for a in f.allowed or ())
        return f"CASE WHEN {c} IN ({allowed}) THEN {c} END"
    if f.kind == "id":
        return f"CASE WHEN regexp_full_match({c}, {lit(ID_PATTERN[1:-1])}) THEN {c} END"
    return c


@dataclasses.dataclass
class Staged:
    """What staging produced: the entities present and the reader/structure findings."""

    entities: tuple[str, ...]
    labels: dict[str, str]
    column_labels: dict[str, dict[str, str]]
    findings: list[dict]
    counts: dict[str, int]
    columns: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


def _clean(col: str) -> str:
    toks = ", ".join(lit(t) for t in MISSING_TOKENS)
    return f"CASE WHEN trim({col}) IN ({toks}) THEN NULL ELSE trim({col}) END"


def stage(con: duckdb.DuckDBPyConnection, source: RegistrySource) -> Staged:
    """Create ``raw_<entity>`` and ``typed_<entity>`` tables for every entity of the model.

    Entities absent from the source get empty tables (so that every rule can run).
    """
    findings = list(source.findings)
    labels: dict[str, str] = {}
    col_labels: dict[str, dict[str, str]] = {}
    present = []
    columns: dict[str, tuple[str, ...]] = {}
    for e in ENTITIES:
        table = source.tables.get(e.name)
        if table is None:
            labels[e.name] = e.file_name
            if e.name in REQUIRED_ENTITIES:
                findings.append(
                    reader_finding(
                        e.file_name,
                        f"the required entity '{e.name}' is missing from the source",
                        rule="R002",
                    )
                )
        else:
            labels[e.name] = table.label
            col_labels[e.name] = table.column_labels
            columns[e.name] = tuple(h for h in table.header if h in e.columns)
            header = list(table.header)
            for h in header:
                if h not in e.columns:
                    findings.append(
                        reader_finding(
                            table.label,
                            f"column '{h}' is not a field of {e.name}; ignored",
                            rule="R003",
                            severity="warning",
                            column=h,
                        )
                    )
            for f in e.fields:
                if f.name not in header and f.required:
                    findings.append(
                        reader_finding(
                            table.label,
                            f"required column '{f.name}' is missing",
                            rule="R002",
                            column=f.name,
                        )
                    )
            try:
                if table.csv_path is not None:
                    colspec = "{" + ", ".join(f"{lit(h)}: 'VARCHAR'" for h in header) + "}"
                    _create_stage(
                        con,
                        e,
                        header,
                        f"SELECT * FROM read_csv({lit(str(table.csv_path))}, columns={colspec}, "
                        "header=true, auto_detect=false, delim=',', quote='\"', escape='\"', "
                        "strict_mode=true, null_padding=false, encoding='utf-8')",
                    )
                else:
                    frame = table.frame
                    assert frame is not None
                    con.register("_frame", frame)
                    _create_stage(con, e, header, "SELECT * FROM _frame", cast=True)
                    con.unregister("_frame")
                present.append(e.name)
            except duckdb.Error as exc:
                msg = str(exc).split("\n")[0]
                findings.append(reader_finding(table.label, f"cannot read the file: {msg}"))
                _create_stage(con, e, [], None)
                columns[e.name] = ()
        if table is None:
            _create_stage(con, e, [], None)
    counts = {
        e.name: con.execute(f"SELECT count(*) FROM {q('stg_' + e.name)}").fetchall()[0][0]
        for e in ENTITIES
    }
    return Staged(tuple(present), labels, col_labels, findings, counts, columns)


def needs_raw(f: FieldSpec) -> bool:
    """Whether the staged table keeps the text of a field beside its converted value."""
    return f.kind != "string"


def raw_name(f: FieldSpec) -> str:
    return f.name + "__raw" if needs_raw(f) else f.name


def _create_stage(
    con: duckdb.DuckDBPyConnection,
    e: EntitySpec,
    header: list[str],
    source_sql: str | None,
    *,
    cast: bool = False,
) -> None:
    """``stg_<entity>`` in one pass over the source: every field converted, and, as
    ``<field>__raw``, the cleaned text of a non-string field where its conversion failed (NULL
    elsewhere); views ``typed_<entity>``, ``raw_<entity>`` (text) and ``chk_<entity>``.

    The data row number is the table's ``rowid`` + 1 (a CSV is read in file order and DuckDB
    preserves insertion order) or, for frames, their ``_row`` column (kept as ``_src_row``).
    """
    stg = q("stg_" + e.name)
    inner = []
    for f in e.fields:
        if f.name in header:
            col = f"CAST({q(f.name)} AS VARCHAR)" if cast else q(f.name)
            inner.append(f"{_clean(col)} AS {q(f.name)}")
        else:
            inner.append(f"CAST(NULL AS VARCHAR) AS {q(f.name)}")
    middle = []
    outer = []
    for f in e.fields:
        if needs_raw(f):
            middle.append(f"{q(f.name)} AS {q(f.name + '__text')}")
            middle.append(f"{typed_expr(f, q(f.name))} AS {q(f.name)}")
            outer.append(q(f.name))
            # the text is kept only where conversion failed (mostly NULL: cheap to store)
            outer.append(
                f"CASE WHEN {q(f.name + '__text')} IS NOT NULL AND {q(f.name)} IS NULL "
                f"THEN {q(f.name + '__text')} END AS {q(raw_name(f))}"
            )
        else:
            middle.append(q(f.name))
            outer.append(q(f.name))
    if cast:
        inner.append("CAST(_row AS BIGINT) AS _src_row")
        middle.append("_src_row")
        outer.append("_src_row")
    if source_sql is None:
        src = f"(SELECT {', '.join(inner)} LIMIT 0)"
    else:
        src = f"(SELECT {', '.join(inner)} FROM ({source_sql}))"
    src = f"(SELECT {', '.join(middle)} FROM {src})"
    con.execute(f"CREATE OR REPLACE TABLE {stg} AS SELECT {', '.join(outer)} FROM {src}")
    row = "_src_row" if cast else "rowid + 1"
    typed_cols = ", ".join(q(f.name) for f in e.fields)
    raw_cols = ", ".join(
        (f"coalesce({q(raw_name(f))}, CAST({q(f.name)} AS VARCHAR))" if needs_raw(f) else q(f.name))
        + f" AS {q(f.name)}"
        for f in e.fields
    )
    con.execute(
        f"CREATE OR REPLACE VIEW {q('typed_' + e.name)} AS SELECT {row} AS _row, {typed_cols} "
        f"FROM {stg}"
    )
    con.execute(
        f"CREATE OR REPLACE VIEW {q('raw_' + e.name)} AS SELECT {row} AS _row, {raw_cols} "
        f"FROM {stg}"
    )
    con.execute(
        f"CREATE OR REPLACE VIEW {q('chk_' + e.name)} AS SELECT {row} AS _row, * FROM {stg}"
    )


# --------------------------------------------------------------------------------------------
# rule queries


def _finding_sql(
    entity: str,
    label: str,
    rule_id: str,
    column: str | None,
    value_sql: str,
    message_sql: str,
    from_sql: str,
    where: str,
    row_sql: str = "_row",
) -> str:
    sev = RULES[rule_id].severity
    return (
        f"SELECT {lit(label)} AS file, CAST({row_sql} AS BIGINT) AS row, {lit(column)} AS "
        f'"column", CAST({value_sql} AS VARCHAR) AS value, {lit(rule_id)} AS rule, '
        f"{lit(sev)} AS severity, CAST({message_sql} AS VARCHAR) AS message "
        f"FROM {from_sql} WHERE {where}"
    )


def field_rule_queries(
    e: EntitySpec, label: str, colmap: dict[str, str], present: tuple[str, ...] | None = None
) -> list[str]:
    """R001, R010-R014, R020-R022 for the fields of an entity (only ``present`` columns: an
    absent required column is one R002 finding, not one R001 per row)."""
    out = []
    raw = q("chk_" + e.name)
    for f in e.fields:
        if present is not None and f.name not in present:
            continue
        c = q(raw_name(f))
        typed = q(f.name)
        shown = colmap.get(f.name, f.name)
        if f.required:
            out.append(
                _finding_sql(
                    e.name,
                    label,
                    "R001",
                    shown,
                    "NULL",
                    lit(f"'{shown}' is required"),
                    raw,
                    f"{typed} IS NULL AND {c} IS NULL",
                )
            )
        rule_by_kind = {
            "integer": ("R010", "is not an integer"),
            "number": ("R011", "is not a number"),
            "date": ("R012", "is not a date in the form YYYY-MM-DD"),
            "boolean": ("R013", "is not a boolean (true/false, yes/no, 1/0)"),
            "id": ("R014", "is not a pseudonymous id (1-64 letters, digits, _ - .)"),
            "enum": ("R020", "is not one of: " + ", ".join(f.allowed or ())),
        }
        if f.kind in rule_by_kind:
            rid, text = rule_by_kind[f.kind]
            out.append(
                _finding_sql(
                    e.name,
                    label,
                    rid,
                    shown,
                    c,
                    f"'''' || {c} || ''' ' || {lit(text)}",
                    raw,
                    f"{c} IS NOT NULL AND {typed} IS NULL",
                )
            )
        if f.kind in ("integer", "number"):
            v = typed
            unit = f" {f.unit}" if f.unit else ""
            for rid, lo, hi in (("R021", f.min, f.max), ("R022", f.soft_min, f.soft_max)):
                conds = []
                if lo is not None:
                    conds.append(f"{v} < {lo!r}")
                if hi is not None:
                    conds.append(f"{v} > {hi!r}")
                if not conds:
                    continue
                rng = f"{'' if lo is None else f'{lo:g}'}..{'' if hi is None else f'{hi:g}'}"
                word = "possible" if rid == "R021" else "plausible"
                msg = f"{shown} is outside the {word} range {rng}{unit}"
                out.append(
                    _finding_sql(e.name, label, rid, shown, c, lit(msg), raw, " OR ".join(conds))
                )
    return out


def cross_rule_queries(labels: dict[str, str], today: dt.date) -> list[str]:
    """Rules between rows and entities (R030-R062, except R060 which needs Python)."""
    L = labels
    out: list[str] = []
    t = lambda n: q("typed_" + n)  # noqa: E731
    # R030 unknown patient / R031 unknown infusion
    for e in ENTITIES:
        if e.name == "patients":
            continue
        out.append(
            _finding_sql(
                e.name,
                L[e.name],
                "R030",
                "patient_id",
                "c.patient_id",
                "'patient ''' || c.patient_id || ''' is not in patients'",
                f"{t(e.name)} c ANTI JOIN {t('patients')} p USING (patient_id)",
                "c.patient_id IS NOT NULL",
                row_sql="c._row",
            )
        )
        if "infusion_id" in e.columns and e.name != "infusions":
            out.append(
                _finding_sql(
                    e.name,
                    L[e.name],
                    "R031",
                    "infusion_id",
                    "c.infusion_id",
                    "CASE WHEN i.infusion_id IS NULL THEN 'infusion ''' || c.infusion_id || "
                    "''' is not in infusions' ELSE 'infusion ''' || c.infusion_id || "
                    "''' belongs to patient ''' || i.patient_id || '''' END",
                    f"{t(e.name)} c LEFT JOIN (SELECT DISTINCT infusion_id, patient_id FROM "
                    f"{t('infusions')}) i USING (infusion_id)",
                    "c.infusion_id IS NOT NULL AND (i.infusion_id IS NULL OR "
                    "(c.patient_id IS NOT NULL AND i.patient_id <> c.patient_id))",
                    row_sql="c._row",
                )
            )
    # R032 duplicates
    for e in ENTITIES:
        keys = ", ".join(q(k) for k in e.key)
        shown = " || ', ' || ".join(
            f"'{k}=' || coalesce(CAST({q(k)} AS VARCHAR), '')" for k in e.key
        )
        out.append(
            _finding_sql(
                e.name,
                L[e.name],
                "R032",
                ",".join(e.key),
                shown,
                f"'duplicate key (' || {shown} || '): first in row ' || CAST(_first AS VARCHAR)",
                # candidates by a hash of the key (one integer to group on), then exact
                f"(SELECT t.*, d._first FROM {t(e.name)} t JOIN (SELECT {keys}, min(_row) AS "
                f"_first FROM {t(e.name)} WHERE hash({keys}) IN (SELECT h FROM (SELECT "
                f"hash({keys}) AS h FROM {t(e.name)}) GROUP BY h HAVING count(*) > 1) AND "
                + " AND ".join(f"{q(k)} IS NOT NULL" for k in e.key)
                + f" GROUP BY {keys} HAVING count(*) > 1) d USING ({keys}))",
                "_row > _first",
            )
        )
    # R033 patient without infusion
    out.append(
        _finding_sql(
            "patients",
            L["patients"],
            "R033",
            "patient_id",
            "p.patient_id",
            "'patient ''' || p.patient_id || ''' has no infusion'",
            f"{t('patients')} p ANTI JOIN {t('infusions')} i USING (patient_id)",
            "p.patient_id IS NOT NULL",
            row_sql="p._row",
        )
    )
    # R040 before diagnosis
    for ent, col in (*EVENT_DATES, ("patients", "prior_allo_hsct_date")):
        if ent == "patients":
            src = f"(SELECT *, diagnosis_date AS _dx FROM {t('patients')}) c"
            dx = "c._dx"
        else:
            src = (
                f"{t(ent)} c JOIN (SELECT patient_id, min(diagnosis_date) AS _dx FROM "
                f"{t('patients')} GROUP BY patient_id) p USING (patient_id)"
            )
            dx = "p._dx"
        out.append(
            _finding_sql(
                ent,
                L[ent],
                "R040",
                col,
                f"c.{q(col)}",
                f"'{col} ' || CAST(c.{q(col)} AS VARCHAR) || ' is before the diagnosis date ' || "
                f"CAST({dx} AS VARCHAR)",
                src,
                f"c.{q(col)} < {dx}",
                row_sql="c._row",
            )
        )
    # R041 before its infusion
    for ent, col in (("responses", "assessment_date"), ("toxicities", "onset_date")):
        out.append(
            _finding_sql(
                ent,
                L[ent],
                "R041",
                col,
                f"c.{col}",
                f"'{col} ' || CAST(c.{col} AS VARCHAR) || ' is before infusion ' || "
                "c.infusion_id || ' on ' || CAST(i.infusion_date AS VARCHAR)",
                f"{t(ent)} c JOIN (SELECT infusion_id, min(infusion_date) AS infusion_date FROM "
                f"{t('infusions')} GROUP BY infusion_id) i USING (infusion_id)",
                f"c.{col} < i.infusion_date",
                row_sql="c._row",
            )
        )
    # R042 after death, R044 future dates
    death = (
        f"(SELECT patient_id, min(death_date) AS _death FROM {t('deaths')} GROUP BY patient_id) d"
    )
    dated = [
        *EVENT_DATES,
        ("patients", "last_contact_date"),
        ("patients", "diagnosis_date"),
        ("toxicities", "resolution_date"),
        ("patients", "prior_allo_hsct_date"),
    ]
    for ent, col in dated:
        if ent != "deaths" and col != "resolution_date":
            out.append(
                _finding_sql(
                    ent,
                    L[ent],
                    "R042",
                    col,
                    f"c.{col}",
                    f"'{col} ' || CAST(c.{col} AS VARCHAR) || ' is after the death on ' || "
                    "CAST(d._death AS VARCHAR)",
                    f"{t(ent)} c JOIN {death} USING (patient_id)",
                    f"c.{col} > d._death",
                    row_sql="c._row",
                )
            )
        out.append(
            _finding_sql(
                ent,
                L[ent],
                "R044",
                col,
                f"c.{col}",
                f"'{col} ' || CAST(c.{col} AS VARCHAR) || ' is in the future'",
                f"{t(ent)} c",
                f"c.{col} > DATE {lit(today.isoformat())}",
                row_sql="c._row",
            )
        )
    # R043 last contact before last event
    events = " UNION ALL ".join(
        f"SELECT patient_id, max({col}) AS d, {lit(ent + '.' + col)} AS what FROM {t(ent)} "
        "GROUP BY patient_id"
        for ent, col in EVENT_DATES
    )
    out.append(
        _finding_sql(
            "patients",
            L["patients"],
            "R043",
            "last_contact_date",
            "p.last_contact_date",
            "'last_contact_date ' || CAST(p.last_contact_date AS VARCHAR) || ' is before the "
            "last recorded event (' || e.what || ' on ' || CAST(e.d AS VARCHAR) || ')'",
            f"{t('patients')} p JOIN (SELECT patient_id, arg_max(what, d) AS what, max(d) AS d "
            f"FROM ({events}) WHERE d IS NOT NULL GROUP BY patient_id) e USING (patient_id)",
            "p.last_contact_date < e.d",
            row_sql="p._row",
        )
    )
    # R045 resolution before onset
    out.append(
        _finding_sql(
            "toxicities",
            L["toxicities"],
            "R045",
            "resolution_date",
            "resolution_date",
            "'resolution_date ' || CAST(resolution_date AS VARCHAR) || ' is before onset_date ' "
            "|| CAST(onset_date AS VARCHAR)",
            t("toxicities"),
            "resolution_date < onset_date",
        )
    )
    # R046 infusion numbering
    out.append(
        _finding_sql(
            "infusions",
            L["infusions"],
            "R046",
            "infusion_number",
            "infusion_number",
            "'infusion_number ' || CAST(infusion_number AS VARCHAR) || ' should be ' || "
            "CAST(_expected AS VARCHAR) || ' (infusions of patient ''' || patient_id || "
            "''' numbered 1, 2, ... in date order)'",
            f"(SELECT *, row_number() OVER (PARTITION BY patient_id ORDER BY infusion_date, "
            f"infusion_number) AS _expected FROM {t('infusions')} WHERE patient_id IS NOT NULL "
            "AND infusion_date IS NOT NULL AND infusion_number IS NOT NULL)",
            "infusion_number <> _expected",
        )
    )
    out.append(
        _finding_sql(
            "infusions",
            L["infusions"],
            "R046",
            "course_number",
            "course_number",
            "'course_number ' || CAST(course_number AS VARCHAR) || CASE WHEN _prev IS NULL THEN "
            "' of the first infusion should be 1' ELSE ' after course ' || CAST(_prev AS VARCHAR) "
            "|| ' should be ' || CAST(_prev AS VARCHAR) || ' or ' || "
            "CAST(_prev + 1 AS VARCHAR) END",
            f"(SELECT *, lag(course_number) OVER (PARTITION BY patient_id ORDER BY infusion_date, "
            f"infusion_number) AS _prev FROM {t('infusions')} WHERE patient_id IS NOT NULL AND "
            "infusion_date IS NOT NULL AND course_number IS NOT NULL)",
            "(_prev IS NULL AND course_number <> 1) OR (_prev IS NOT NULL AND "
            "course_number - _prev NOT IN (0, 1))",
        )
    )
    # R047 vital status
    out.append(
        _finding_sql(
            "patients",
            L["patients"],
            "R047",
            "last_contact_status",
            "p.last_contact_status",
            "CASE WHEN p.last_contact_status = 'dead' THEN 'status is dead but deaths has no row "
            "for ''' || p.patient_id || '''' ELSE 'a death is recorded for ''' || p.patient_id "
            "|| ''' but the status is ' || p.last_contact_status END",
            f"{t('patients')} p LEFT JOIN (SELECT DISTINCT patient_id, TRUE AS _dead FROM "
            f"{t('deaths')}) d USING (patient_id)",
            "p.last_contact_status IS NOT NULL AND ((p.last_contact_status = 'dead') <> "
            "coalesce(d._dead, FALSE))",
            row_sql="p._row",
        )
    )
    # R048 prior HSCT
    out.append(
        _finding_sql(
            "patients",
            L["patients"],
            "R048",
            "prior_allo_hsct_date",
            "p.prior_allo_hsct_date",
            "CASE WHEN p.prior_allo_hsct = FALSE THEN 'prior_allo_hsct_date given but "
            "prior_allo_hsct is false' ELSE 'prior_allo_hsct_date ' || "
            "CAST(p.prior_allo_hsct_date AS VARCHAR) || ' is not before the first infusion on ' "
            "|| CAST(i._first AS VARCHAR) END",
            f"{t('patients')} p LEFT JOIN (SELECT patient_id, min(infusion_date) AS _first FROM "
            f"{t('infusions')} GROUP BY patient_id) i USING (patient_id)",
            "p.prior_allo_hsct_date IS NOT NULL AND (p.prior_allo_hsct = FALSE OR "
            "p.prior_allo_hsct_date >= i._first)",
            row_sql="p._row",
        )
    )
    # R050 / R051 re-infusion reason
    out.append(
        _finding_sql(
            "infusions",
            L["infusions"],
            "R050",
            "reinfusion_reason",
            "reinfusion_reason",
            "'infusion ''' || infusion_id || ''' starts course ' || CAST(course_number AS "
            "VARCHAR) || ' but has no reinfusion_reason'",
            f"(SELECT *, row_number() OVER (PARTITION BY patient_id, course_number ORDER BY "
            f"infusion_date, infusion_number) AS _k FROM {t('infusions')})",
            "course_number > 1 AND _k = 1 AND reinfusion_reason IS NULL",
        )
    )
    out.append(
        _finding_sql(
            "infusions",
            L["infusions"],
            "R051",
            "reinfusion_reason",
            "reinfusion_reason",
            "'reinfusion_reason given for an infusion of course 1'",
            t("infusions"),
            "course_number = 1 AND reinfusion_reason IS NOT NULL",
        )
    )
    # R061 legacy grade pairing
    out.append(
        _finding_sql(
            "toxicities",
            L["toxicities"],
            "R061",
            "legacy_grade",
            "coalesce(CAST(legacy_grade AS VARCHAR), legacy_scale)",
            "CASE WHEN legacy_scale IS NULL THEN 'legacy_grade needs legacy_scale' ELSE "
            "'legacy_scale needs legacy_grade' END",
            q("raw_toxicities"),
            "(legacy_grade IS NULL) <> (legacy_scale IS NULL)",
        )
    )
    # R062 age
    out.append(
        _finding_sql(
            "patients",
            L["patients"],
            "R062",
            "birth_year",
            "coalesce(CAST(birth_year AS VARCHAR), CAST(age_at_diagnosis AS VARCHAR))",
            "CASE WHEN birth_year IS NULL AND age_at_diagnosis IS NULL THEN 'neither birth_year "
            "nor age_at_diagnosis is given' WHEN age_at_diagnosis IS NULL OR birth_year IS NULL "
            "THEN 'age at diagnosis from birth_year is ' || CAST(year(diagnosis_date) - "
            "birth_year AS VARCHAR) ELSE 'birth_year gives age ' || CAST(year(diagnosis_date) - "
            "birth_year AS VARCHAR) || ' at diagnosis but age_at_diagnosis is ' || "
            "CAST(age_at_diagnosis AS VARCHAR) END",
            t("patients"),
            "(birth_year IS NULL AND age_at_diagnosis IS NULL) OR (birth_year IS NOT NULL AND "
            "diagnosis_date IS NOT NULL AND ((year(diagnosis_date) - birth_year) NOT BETWEEN 0 "
            "AND 100 OR (age_at_diagnosis IS NOT NULL AND abs(year(diagnosis_date) - birth_year "
            "- age_at_diagnosis) > 1)))",
        )
    )
    return out


def astct_findings(con: duckdb.DuckDBPyConnection, label: str) -> str:
    """R060 as SQL over ``_astct`` (made by :func:`stage_astct`)."""
    return _finding_sql(
        "toxicities",
        label,
        "R060",
        "grade",
        "t.grade",
        "'recorded ' || t.toxicity || ' grade ' || CAST(t.grade AS VARCHAR) || ' but the ASTCT "
        "2019 components give grade ' || CAST(a.astct_grade AS VARCHAR)",
        "typed_toxicities t JOIN _astct a ON a._row = t._row",
        "t.grade IS NOT NULL AND a.astct_grade IS NOT NULL AND t.grade <> a.astct_grade",
        row_sql="t._row",
    )


def stage_astct(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``_astct(_row, astct_grade)``: the ASTCT grade computed for each toxicity row."""
    con.register("_astct_frame", computed_astct(con))
    con.execute(
        "CREATE OR REPLACE TABLE _astct AS SELECT CAST(_row AS BIGINT) AS _row, "
        "CAST(astct_grade AS BIGINT) AS astct_grade FROM _astct_frame"
    )
    con.unregister("_astct_frame")


def computed_astct(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """``_row`` and ``astct_grade`` of every staged toxicity row."""
    from cartlens.model.astct import astct_grades

    df = con.execute(f"SELECT * FROM {q('typed_toxicities')}").df()
    return pd.DataFrame({"_row": df["_row"].astype("int64"), "astct_grade": astct_grades(df)})


def run_rules(
    con: duckdb.DuckDBPyConnection, staged: Staged, *, today: dt.date | None = None
) -> pd.DataFrame:
    """Every rule over the staged tables: one findings frame (sorted by file, row, rule)."""
    today = today or dt.date.today()
    queries = []
    for e in ENTITIES:
        if staged.counts.get(e.name, 0) == 0:
            continue
        queries += field_rule_queries(
            e,
            staged.labels[e.name],
            staged.column_labels.get(e.name, {}),
            staged.columns.get(e.name, ()),
        )
    queries += cross_rule_queries(staged.labels, today)
    stage_astct(con)
    queries.append(astct_findings(con, staged.labels["toxicities"]))
    from cartlens.ingest.followup import followup_rule_queries

    queries += followup_rule_queries(con, staged.labels, today)
    frames = [pd.DataFrame(staged.findings, columns=FINDING_COLUMNS)]
    sql = " UNION ALL ".join(f"({s})" for s in queries)
    frames.append(con.execute(sql).df())
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    out = pd.concat(frames, ignore_index=True)[FINDING_COLUMNS]
    out["row"] = pd.array(out["row"], dtype="Int64")
    out = out.sort_values(["file", "row", "rule", "column"], na_position="first", kind="stable")
    return out.reset_index(drop=True)


def no_progress_bar(con) -> None:
    """Turn DuckDB's progress bar off. Inside Jupyter without ``ipywidgets`` DuckDB refuses to
    change the setting (and shows no bar anyway), so that refusal is ignored."""
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:
        pass


def validate_source(
    source: RegistrySource,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    today: dt.date | None = None,
) -> tuple[pd.DataFrame, Staged, duckdb.DuckDBPyConnection]:
    """Stage ``source`` (in ``con`` or a new in-memory connection) and run every rule."""
    con = con or duckdb.connect()
    no_progress_bar(con)
    staged = stage(con, source)
    findings = run_rules(con, staged, today=today)
    return findings, staged, con
