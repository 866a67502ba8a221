"""Rules of the follow-up entities (labs, infections, IEC-HS, later therapy lines, second
malignancies): R041/R044/R045 over their dates, R063, R064, R080-R084.

Kept apart from :mod:`cartlens.ingest.validate` (which calls :func:`followup_rule_queries`
from :func:`~cartlens.ingest.validate.run_rules`) so the two change independently. The ANC series
and censoring day used by the ICAHT check come from :func:`icaht_inputs_sql`, which the derive
layer uses too, so validation and derivation grade ICAHT from the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb
import pandas as pd

from cartlens.model.labs import canonical_sql, range_sql

#: toxicities.toxicity value of a recorded ICAHT grade -> column of the computed grade.
ICAHT_RECORDED = {"ICAHT_early": "early_grade", "ICAHT_late": "late_grade"}


def icaht_inputs_sql(t: Callable[[str], str]) -> tuple[str, str]:
    """SQL for the ICAHT inputs: (ANC series, censoring day), over tables named by ``t``.

    ANC series: ``infusion_id, day, anc`` (days from the infusion, ANC in 10^9/L).
    Censoring day: ``infusion_id, censor_day`` -- the first relapse/progression, later therapy,
    allo-HSCT or CAR-T course dated after the infusion, or death (NULL: none).
    """
    value, unit = canonical_sql()
    anc = (
        f"SELECT l.infusion_id, date_diff('day', i.infusion_date, l.sample_date) AS day, "
        f"l.anc FROM (SELECT infusion_id, sample_date, {value} AS anc, {unit} AS cunit "
        f"FROM {t('labs')} WHERE analyte = 'anc') l "
        f"JOIN (SELECT infusion_id, min(infusion_date) AS infusion_date FROM "
        f"{t('infusions')} GROUP BY infusion_id) i ON i.infusion_id = l.infusion_id "
        "WHERE l.anc IS NOT NULL AND l.sample_date IS NOT NULL AND i.infusion_date IS NOT NULL"
    )
    ev = " UNION ALL ".join(
        [
            f"SELECT patient_id, relapse_date AS d FROM {t('relapses')}",
            f"SELECT patient_id, start_date AS d FROM {t('therapies')}",
            f"SELECT patient_id, transplant_date AS d FROM {t('transplants')} "
            "WHERE transplant_type = 'allo'",
            f"SELECT patient_id, death_date AS d FROM {t('deaths')}",
        ]
    )
    censor = (
        "SELECT infusion_id, min(dd) AS censor_day FROM ("
        "SELECT i.infusion_id, date_diff('day', i.infusion_date, e.d) AS dd "
        f"FROM {t('infusions')} i JOIN ({ev}) e ON e.patient_id = i.patient_id "
        "AND e.d > i.infusion_date "
        "UNION ALL SELECT i.infusion_id, date_diff('day', i.infusion_date, j.infusion_date) "
        f"FROM {t('infusions')} i JOIN {t('infusions')} j ON j.patient_id = i.patient_id "
        "AND j.course_number > i.course_number AND j.infusion_date > i.infusion_date"
        ") GROUP BY infusion_id"
    )
    return anc, censor


def computed_icaht(con: duckdb.DuckDBPyConnection, t: Callable[[str], str]) -> pd.DataFrame:
    """:func:`cartlens.model.icaht.icaht_table` of every infusion with ANC values."""
    from cartlens.model.icaht import icaht_table

    anc_sql, censor_sql = icaht_inputs_sql(t)
    anc = con.execute(anc_sql).df()
    censor = con.execute(censor_sql).df().set_index("infusion_id")["censor_day"]
    return icaht_table(anc, censor)


def _icaht_findings(con, label: str, prefix: str = "typed_") -> str | None:
    from cartlens.ingest.validate import _finding_sql, q

    grades = computed_icaht(con, lambda n: q(prefix + n))
    if grades.empty:
        return None
    frame = grades.astype({"early_grade": "float", "late_grade": "float"})
    frame = frame.astype(
        {"days_anc_le_500": "float", "days_anc_le_100": "float", "recovery_day": "float"}
    )
    # a registered frame, not a table: inside an import's transaction (the merged-store check)
    # nothing but the store may be written
    con.register("_icaht", frame)
    computed = "CASE WHEN t.toxicity = 'ICAHT_early' THEN a.early_grade ELSE a.late_grade END"
    return _finding_sql(
        "toxicities",
        label,
        "R063",
        "grade",
        "t.grade",
        "'recorded ' || t.toxicity || ' grade ' || CAST(t.grade AS VARCHAR) || ' but the ANC "
        "series gives grade ' || CAST(CAST(" + computed + " AS BIGINT) AS VARCHAR) || "
        "CASE WHEN t.toxicity = 'ICAHT_early' THEN ' (' || CAST(CAST(a.days_anc_le_500 AS "
        "BIGINT) AS VARCHAR) || ' days ANC <= 500/uL, ' || CAST(CAST(a.days_anc_le_100 AS "
        "BIGINT) AS VARCHAR) || ' days <= 100/uL)' ELSE '' END",
        f"{q(prefix + 'toxicities')} t JOIN _icaht a ON a.infusion_id = t.infusion_id",
        f"t.toxicity IN ('ICAHT_early', 'ICAHT_late') AND t.grade IS NOT NULL AND "
        f"({computed}) IS NOT NULL AND t.grade <> ({computed})",
        row_sql="t._row",
    )


def followup_rule_queries(
    con: duckdb.DuckDBPyConnection, labels: dict[str, str], today: dt.date, prefix: str = "typed_"
) -> list[str]:
    """Finding queries of the follow-up rules (the ICAHT grades are staged into ``_icaht``),
    over the staged tables (``typed_``) or the merged store of an import (``merged_``)."""
    from cartlens.ingest.validate import _finding_sql, lit, q

    L = labels
    t = lambda n: q(prefix + n)  # noqa: E731
    out: list[str] = []
    # R041 onset before its infusion
    for ent in ("infections", "iec_hs"):
        out.append(
            _finding_sql(
                ent,
                L[ent],
                "R041",
                "onset_date",
                "c.onset_date",
                "'onset_date ' || CAST(c.onset_date AS VARCHAR) || ' is before infusion ' || "
                "c.infusion_id || ' on ' || CAST(i.infusion_date AS VARCHAR)",
                f"{t(ent)} c JOIN (SELECT infusion_id, min(infusion_date) AS infusion_date FROM "
                f"{t('infusions')} GROUP BY infusion_id) i USING (infusion_id)",
                "c.onset_date < i.infusion_date",
                row_sql="c._row",
            )
        )
    # R045 end before start, R044 future end dates
    for ent, start, end in (
        ("infections", "onset_date", "resolution_date"),
        ("iec_hs", "onset_date", "resolution_date"),
        ("therapies", "start_date", "end_date"),
    ):
        out.append(
            _finding_sql(
                ent,
                L[ent],
                "R045",
                end,
                end,
                f"'{end} ' || CAST({end} AS VARCHAR) || ' is before {start} ' || "
                f"CAST({start} AS VARCHAR)",
                t(ent),
                f"{end} < {start}",
            )
        )
        out.append(
            _finding_sql(
                ent,
                L[ent],
                "R044",
                end,
                end,
                f"'{end} ' || CAST({end} AS VARCHAR) || ' is in the future'",
                t(ent),
                f"{end} > DATE {lit(today.isoformat())}",
            )
        )
    # R064 IEC-HS grade 5 <=> fatal
    out.append(
        _finding_sql(
            "iec_hs",
            L["iec_hs"],
            "R064",
            "grade",
            "grade",
            "CASE WHEN grade = 5 THEN 'grade 5 but fatal is not true' ELSE 'fatal but grade ' "
            "|| CAST(grade AS VARCHAR) || ' (a fatal episode is grade 5)' END",
            t("iec_hs"),
            "grade IS NOT NULL AND ((grade = 5) <> coalesce(fatal, FALSE))",
        )
    )
    # R080-R082 lab units and ranges (in the canonical unit)
    value, unit = canonical_sql()
    labs = (
        f"(SELECT *, {value} AS _cv, {unit} AS _cu, {range_sql('max')} AS _max, "
        f"{range_sql('soft_min')} AS _smin, {range_sql('soft_max')} AS _smax "
        f"FROM {t('labs')})"
    )
    out.append(
        _finding_sql(
            "labs",
            L["labs"],
            "R080",
            "unit",
            "unit",
            "'unit ' || unit || ' is not accepted for ' || analyte",
            labs,
            "analyte IS NOT NULL AND unit IS NOT NULL AND _cu IS NULL",
        )
    )
    shown = "CAST(_cv AS VARCHAR) || ' ' || _cu"
    out.append(
        _finding_sql(
            "labs",
            L["labs"],
            "R081",
            "value",
            "value",
            f"analyte || ' ' || {shown} || ' is above the possible maximum ' || "
            "CAST(_max AS VARCHAR)",
            labs,
            "_cv > _max",
        )
    )
    out.append(
        _finding_sql(
            "labs",
            L["labs"],
            "R082",
            "value",
            "value",
            f"analyte || ' ' || {shown} || ' is outside the plausible range ' || "
            "coalesce(CAST(_smin AS VARCHAR), '') || '..' || coalesce(CAST(_smax AS VARCHAR), "
            "'') || ' (check the unit)'",
            labs,
            "_cv < _smin OR _cv > _smax",
        )
    )
    # R083 T-cell malignancy without CAR status
    out.append(
        _finding_sql(
            "second_malignancies",
            L["second_malignancies"],
            "R083",
            "car_status",
            "NULL",
            "'T-cell malignancy diagnosed ' || CAST(diagnosis_date AS VARCHAR) || ' has no "
            "car_status (test the tumour for the CAR transgene)'",
            q("chk_second_malignancies"),
            "malignancy_type = 't_cell' AND car_status IS NULL AND car_status__raw IS NULL",
        )
    )
    # R084 therapy lines rise with the start date
    out.append(
        _finding_sql(
            "therapies",
            L["therapies"],
            "R084",
            "line_number",
            "line_number",
            "'line_number ' || CAST(line_number AS VARCHAR) || ' starting ' || "
            "CAST(start_date AS VARCHAR) || ' follows line ' || CAST(_prev AS VARCHAR) || "
            "' of patient ''' || patient_id || ''''",
            f"(SELECT *, lag(line_number) OVER (PARTITION BY patient_id ORDER BY start_date, "
            f"line_number) AS _prev FROM {t('therapies')} WHERE line_number IS NOT NULL AND "
            "start_date IS NOT NULL AND patient_id IS NOT NULL)",
            "_prev IS NOT NULL AND line_number <= _prev",
        )
    )
    icaht = _icaht_findings(con, L["toxicities"], prefix)
    if icaht is not None:
        out.append(icaht)
    return out
