"""The derivations as SQL text in one dialect (DuckDB), transpilable by sqlglot.

Each builder returns one ``SELECT`` over the store's entity tables (``patients``,
``infusions``, ``responses``, ``toxicities``, ``transplants``, ``relapses``, ``therapies``,
``deaths``). The settings are written into the text as literals, so the same statement runs
unchanged on any engine sqlglot can target (``sqlglot.transpile(sql, read="duckdb",
write="spark")``); ``tests/derive/test_sql.py`` checks that for Spark.

Conventions: day 0 is the infusion date; an event on the infusion day itself belongs to what came
before (relapses, transplants and therapies count only when dated strictly after the
infusion); times are whole days from the infusion; ``*_months`` = days / ``month_days``.
"""

from __future__ import annotations

from cartlens.derive.settings import DeriveSettings

RESPONSE_RANK = ("CR", "CRi", "PR", "SD", "NR", "PD", "relapse")

#: Endpoints of :func:`exposure_sql`: (time column, event column).
ENDPOINTS = {
    "os": ("os_days", "os_event"),
    "pfs": ("pfs_days", "pfs_event"),
    "efs": ("efs_days", "efs_event"),
    "rfs": ("rfs_days", "rfs_event"),
    "relapse_nrm": ("crisk_days", "crisk_event"),
}


#: CTEs ``ha``, ``nc`` and ``th``: per infusion, the first allo-HSCT (``hsct_after_date``), the
#: start of the next CAR-T course (``next_cart_date``) and the first other therapy
#: (``therapy_after_date``) dated after it.
LATER_TREATMENTS = """ha AS (
    SELECT i.infusion_id, min(t.transplant_date) AS hsct_after_date
    FROM infusions i JOIN transplants t ON t.patient_id = i.patient_id
        AND t.transplant_type = 'allo' AND t.transplant_date > i.infusion_date
    GROUP BY i.infusion_id
), nc AS (
    SELECT i.infusion_id, min(j.infusion_date) AS next_cart_date
    FROM infusions i JOIN infusions j ON j.patient_id = i.patient_id
        AND j.course_number > i.course_number AND j.infusion_date > i.infusion_date
    GROUP BY i.infusion_id
), th AS (
    SELECT i.infusion_id, min(t.start_date) AS therapy_after_date
    FROM infusions i JOIN therapies t ON t.patient_id = i.patient_id
        AND t.start_date > i.infusion_date
    GROUP BY i.infusion_id
)"""


def _lit(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _days(a: str, b: str) -> str:
    return f"date_diff('day', {a}, {b})"


def _least(parts: list[str]) -> str:
    parts = [p for p in parts if p]
    if not parts:
        return "CAST(NULL AS DATE)"
    if len(parts) == 1:
        return parts[0]
    return f"least({', '.join(parts)})"


def _endpoint(name: str, event_date: str, end: str, censor: str, origin: str = "infusion_date"):
    """Time (days) and 0/1 event: event if dated on or before the censoring date."""
    hit = f"({event_date} IS NOT NULL AND ({censor} IS NULL OR {event_date} <= {censor}))"
    stop = f"CASE WHEN {hit} THEN {event_date} ELSE {_least([end, censor])} END"
    return (
        f"{_days(origin, stop)} AS {name}_days",
        f"CASE WHEN {hit} THEN 1 ELSE 0 END AS {name}_event",
    )


def censor_dates(s: DeriveSettings) -> list[str]:
    """The date columns (of :data:`LATER_TREATMENTS`) the settings censor follow-up at."""
    censors = []
    if s.censor_at_hsct:
        censors.append("hsct_after_date")
    if s.censor_at_next_cart:
        censors.append("next_cart_date")
    if s.censor_at_new_therapy:
        censors.append("therapy_after_date")
    return censors


def infusion_sql(settings: DeriveSettings | None = None) -> str:
    """One row per infusion: covariates, response, toxicity, endpoints (see docs)."""
    s = settings or DeriveSettings()
    lo, hi = s.window
    crset = ("CR", "CRi") if s.cri_counts_as_cr else ("CR",)
    crlist = ", ".join(_lit(x) for x in crset)
    rank = (
        "CASE r.status "
        + " ".join(f"WHEN {_lit(x)} THEN {i}" for i, x in enumerate(RESPONSE_RANK, start=1))
        + " END"
    )
    is_cr = f"r.status IN ({crlist})" + (
        " AND r.mrd_negative = TRUE" if s.require_mrd_negative else ""
    )
    grade = {
        "recorded": "grade",
        "computed": "astct_grade",
        "recorded_then_computed": "coalesce(grade, astct_grade)",
        "computed_then_recorded": "coalesce(astct_grade, grade)",
    }[s.grade_source]
    mrd_filter = "" if s.mrd_relapse_is_event else " AND r.relapse_type <> 'mrd'"
    cens = _least(censor_dates(s))
    nonresp_day = {
        "not_event": None,
        "time_zero": "infusion_date",
        "assessment": "first_assessment_date",
    }[s.nonresponder_pfs]
    nr_pfs = f"CASE WHEN nonresponse THEN {nonresp_day} END" if nonresp_day else None
    efs_day = "infusion_date" if s.efs_nonresponse == "time_zero" else "first_assessment_date"
    nr_efs = f"CASE WHEN nonresponse THEN {efs_day} END"
    end = "fu_end_date"
    os_t, os_e = _endpoint("os", "death_date", end, cens if s.censor_os else "CAST(NULL AS DATE)")
    pfs_t, pfs_e = _endpoint("pfs", _least(["relapse_date", "death_date", nr_pfs]), end, cens)
    efs_t, efs_e = _endpoint("efs", _least(["relapse_date", "death_date", nr_efs]), end, cens)
    rfs_t, rfs_e = _endpoint("rfs", _least(["relapse_date", "death_date"]), end, cens)
    dor_t, dor_e = _endpoint(
        "dor", _least(["relapse_date", "death_date"]), end, cens, origin="remission_date"
    )
    crisk_first = _least(["relapse_date", "death_date"])
    crisk_hit = f"({crisk_first} IS NOT NULL AND ({cens} IS NULL OR {crisk_first} <= {cens}))"
    crisk_stop = f"CASE WHEN {crisk_hit} THEN {crisk_first} ELSE {_least([end, cens])} END"
    md = repr(float(s.month_days))
    sev = int(s.severe_grade)

    return f"""
WITH inf AS (
    SELECT i.*, row_number() OVER (PARTITION BY i.patient_id, i.course_number
        ORDER BY i.infusion_date, i.infusion_number) = 1 AS is_course_start
    FROM infusions i
), dth AS (
    SELECT patient_id, min(death_date) AS death_date, arg_min(cause, death_date) AS death_cause
    FROM deaths GROUP BY patient_id
), allo AS (
    SELECT patient_id, transplant_date AS d FROM transplants WHERE transplant_type = 'allo'
), prior_allo AS (
    SELECT patient_id, d FROM allo
    UNION ALL
    SELECT patient_id, prior_allo_hsct_date AS d FROM patients
    WHERE prior_allo_hsct_date IS NOT NULL
), hb AS (
    SELECT i.infusion_id, max(a.d) AS prior_hsct_date
    FROM infusions i JOIN prior_allo a ON a.patient_id = i.patient_id AND a.d < i.infusion_date
    GROUP BY i.infusion_id
), {LATER_TREATMENTS}, rl AS (
    SELECT i.infusion_id, min(r.relapse_date) AS relapse_date,
        arg_min(r.relapse_type, r.relapse_date) AS relapse_type
    FROM infusions i JOIN relapses r ON r.patient_id = i.patient_id
        AND r.relapse_date > i.infusion_date{mrd_filter}
    GROUP BY i.infusion_id
), rs AS (
    SELECT r.infusion_id, r.assessment_date, r.status, r.mrd_negative,
        {rank} AS rk, ({is_cr}) AS is_cr,
        (r.status IN ({crlist}) AND r.mrd_negative = TRUE) AS is_mrdneg_cr
    FROM responses r JOIN infusions i ON i.infusion_id = r.infusion_id
    WHERE r.status <> 'NE'
        AND {_days("i.infusion_date", "r.assessment_date")} BETWEEN {lo} AND {hi}
), best AS (
    SELECT infusion_id, count(*) AS n_assessments, arg_min(status, rk) AS best_response,
        bool_or(is_cr) AS cr, bool_or(is_mrdneg_cr) AS mrd_negative_cr,
        min(CASE WHEN is_cr THEN assessment_date END) AS remission_date,
        min(assessment_date) AS first_assessment_date
    FROM rs GROUP BY infusion_id
), tx AS (
    SELECT infusion_id,
        max(CASE WHEN toxicity = 'CRS' THEN g END) AS crs_max_grade,
        max(CASE WHEN toxicity = 'ICANS' THEN g END) AS icans_max_grade,
        sum(CASE WHEN toxicity = 'CRS' THEN 1 ELSE 0 END) AS n_crs_episodes,
        sum(CASE WHEN toxicity = 'ICANS' THEN 1 ELSE 0 END) AS n_icans_episodes,
        min(CASE WHEN toxicity = 'CRS' THEN onset_date END) AS crs_onset_date,
        min(CASE WHEN toxicity = 'ICANS' THEN onset_date END) AS icans_onset_date
    FROM (SELECT *, {grade} AS g FROM toxicities) t GROUP BY infusion_id
), b AS (
    SELECT i.infusion_id, i.patient_id, i.infusion_date, i.infusion_number, i.course_number,
        i.is_course_start, i.product, i.target_antigen, i.scfv_origin, i.costim_domain,
        i.dose_cells_per_kg, i.lymphodepletion, i.bridging_therapy, i.marrow_blasts_pct,
        i.mrd_pct, i.extramedullary_disease, i.cd19_status, i.reinfusion_reason,
        p.sex, p.birth_year, p.age_at_diagnosis, p.diagnosis_date, p.disease,
        p.cytogenetic_risk, p.ph_positive, p.tp53_mutated, p.kmt2a_rearranged,
        p.prior_therapy_lines, p.last_contact_date, p.last_contact_status,
        d.death_date, d.death_cause, hb.prior_hsct_date, ha.hsct_after_date, nc.next_cart_date,
        th.therapy_after_date, rl.relapse_date, rl.relapse_type,
        best.n_assessments, best.best_response, best.remission_date, best.first_assessment_date,
        coalesce(best.cr, FALSE) AS cr, coalesce(best.mrd_negative_cr, FALSE) AS mrd_negative_cr,
        best.infusion_id IS NOT NULL AS evaluable,
        (best.infusion_id IS NOT NULL AND NOT coalesce(best.cr, FALSE)) AS nonresponse,
        tx.crs_max_grade, tx.icans_max_grade, tx.n_crs_episodes, tx.n_icans_episodes,
        tx.crs_onset_date, tx.icans_onset_date,
        coalesce(d.death_date, p.last_contact_date) AS fu_end_date
    FROM inf i
    JOIN patients p ON p.patient_id = i.patient_id
    LEFT JOIN dth d ON d.patient_id = i.patient_id
    LEFT JOIN hb ON hb.infusion_id = i.infusion_id
    LEFT JOIN ha ON ha.infusion_id = i.infusion_id
    LEFT JOIN nc ON nc.infusion_id = i.infusion_id
    LEFT JOIN th ON th.infusion_id = i.infusion_id
    LEFT JOIN rl ON rl.infusion_id = i.infusion_id
    LEFT JOIN best ON best.infusion_id = i.infusion_id
    LEFT JOIN tx ON tx.infusion_id = i.infusion_id
), e AS (
    SELECT b.*,
        {os_t}, {os_e},
        {pfs_t}, {pfs_e},
        {efs_t}, {efs_e},
        CASE WHEN cr THEN {rfs_t.replace(" AS rfs_days", " END AS rfs_days")},
        CASE WHEN cr THEN {rfs_e.replace(" AS rfs_event", " END AS rfs_event")},
        CASE WHEN cr THEN greatest(0, {dor_t.replace(" AS dor_days", ")  END AS dor_days")},
        CASE WHEN cr THEN {dor_e.replace(" AS dor_event", " END AS dor_event")},
        {_days("infusion_date", crisk_stop)} AS crisk_days,
        CASE WHEN NOT {crisk_hit} THEN 0
             WHEN relapse_date IS NOT NULL AND relapse_date <= {crisk_first} THEN 1
             ELSE 2 END AS crisk_event,
        {_days("infusion_date", "fu_end_date")} AS followup_days
    FROM b
)
SELECT infusion_id, patient_id, infusion_date, infusion_number, course_number,
    is_course_start, product, target_antigen, scfv_origin, costim_domain, dose_cells_per_kg,
    lymphodepletion, bridging_therapy, marrow_blasts_pct, mrd_pct, extramedullary_disease,
    cd19_status, reinfusion_reason,
    sex, birth_year, diagnosis_date, disease, cytogenetic_risk, ph_positive, tp53_mutated,
    kmt2a_rearranged, prior_therapy_lines,
    CASE WHEN age_at_diagnosis IS NOT NULL
        THEN age_at_diagnosis + {_days("diagnosis_date", "infusion_date")} / 365.25
        ELSE CAST(year(infusion_date) - birth_year AS DOUBLE) END AS age_at_infusion,
    {_days("diagnosis_date", "infusion_date")} AS days_from_diagnosis,
    prior_hsct_date IS NOT NULL AS prior_allo_hsct,
    {_days("prior_hsct_date", "infusion_date")} AS days_since_prior_hsct,
    evaluable, n_assessments, best_response, cr, mrd_negative_cr, nonresponse,
    remission_date, {_days("infusion_date", "remission_date")} AS remission_day,
    coalesce(crs_max_grade, 0) AS crs_max_grade, coalesce(crs_max_grade, 0) >= 1 AS crs_any,
    coalesce(crs_max_grade, 0) >= {sev} AS crs_severe,
    coalesce(icans_max_grade, 0) AS icans_max_grade,
    coalesce(icans_max_grade, 0) >= 1 AS icans_any,
    coalesce(icans_max_grade, 0) >= {sev} AS icans_severe,
    coalesce(n_crs_episodes, 0) AS n_crs_episodes,
    coalesce(n_icans_episodes, 0) AS n_icans_episodes,
    {_days("infusion_date", "crs_onset_date")} AS crs_onset_day,
    {_days("infusion_date", "icans_onset_date")} AS icans_onset_day,
    relapse_date, relapse_type, death_date, death_cause, last_contact_date,
    last_contact_status,
    hsct_after_date IS NOT NULL AS hsct_after,
    {_days("infusion_date", "hsct_after_date")} AS hsct_after_days,
    next_cart_date IS NOT NULL AS next_cart,
    {_days("infusion_date", "next_cart_date")} AS next_cart_days,
    {_days("infusion_date", "therapy_after_date")} AS therapy_after_days,
    os_days, os_event, pfs_days, pfs_event, efs_days, efs_event, rfs_days, rfs_event,
    dor_days, dor_event, crisk_days, crisk_event, followup_days,
    os_days / {md} AS os_months, pfs_days / {md} AS pfs_months, efs_days / {md} AS efs_months,
    rfs_days / {md} AS rfs_months, dor_days / {md} AS dor_months,
    crisk_days / {md} AS crisk_months, followup_days / {md} AS followup_months
FROM e
ORDER BY patient_id, infusion_number
"""


def exposure_sql(
    settings: DeriveSettings | None = None, endpoint: str = "os", *, followup=None
) -> str:
    """Counting-process (start, stop] rows per infusion for the time-varying exposures.

    From each infusion's day 0 to the end of the endpoint's follow-up, follow-up is split at a
    later allo-HSCT (``hsct`` switches 0 -> 1) and at the next CAR-T course (``next_cart``
    switches 0 -> 1); the endpoint's event sits on the last interval. A switch on the last day
    of follow-up has no interval of its own; infusions with zero follow-up have no rows.

    With ``followup`` (a :class:`cartlens.derive.followup.FollowupSettings`) follow-up is also
    split at the loss of B-cell aplasia (``bca_lost`` switches 0 -> 1 on the first
    non-aplastic CD19+ B-cell value after the onset of aplasia).
    """
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}")
    t, ev = ENDPOINTS[endpoint]
    base = infusion_sql(settings).replace("ORDER BY patient_id, infusion_number", "")
    tb, bca_cut, bca_col = "", "", ""
    if followup is not None:
        from cartlens.derive.followup import followup_sql

        fu = followup_sql(settings, followup).replace(
            "ORDER BY patient_id, course_number, infusion_id", ""
        )
        base = (
            f"SELECT d0.*, f0.bca_loss_day FROM ({base}) d0 LEFT JOIN (SELECT infusion_id, "
            f"bca_loss_day FROM ({fu}) f1) f0 ON f0.infusion_id = d0.infusion_id"
        )
        tb = ", bca_loss_day AS tb"
        bca_cut = "\n    UNION SELECT infusion_id, tb AS t FROM e WHERE tb > 0 AND tb < t_end"
        bca_col = (
            ",\n    CASE WHEN e.tb IS NOT NULL AND e.tb <= iv.tstart THEN 1 ELSE 0 END AS bca_lost"
        )
    return f"""
WITH d AS ({base}),
e AS (
    SELECT infusion_id, patient_id, course_number, {t} AS t_end, {ev} AS status,
        hsct_after_days AS th, next_cart_days AS tc{tb}
    FROM d WHERE {t} IS NOT NULL AND {t} > 0
), cuts AS (
    SELECT infusion_id, 0 AS t FROM e
    UNION SELECT infusion_id, th AS t FROM e WHERE th > 0 AND th < t_end
    UNION SELECT infusion_id, tc AS t FROM e WHERE tc > 0 AND tc < t_end{bca_cut}
    UNION SELECT infusion_id, t_end AS t FROM e
), iv AS (
    SELECT infusion_id, t AS tstart, lead(t) OVER (PARTITION BY infusion_id ORDER BY t) AS tstop
    FROM cuts
)
SELECT iv.infusion_id, e.patient_id, e.course_number, iv.tstart, iv.tstop,
    CASE WHEN iv.tstop = e.t_end THEN e.status ELSE 0 END AS event,
    CASE WHEN e.th IS NOT NULL AND e.th <= iv.tstart THEN 1 ELSE 0 END AS hsct,
    CASE WHEN e.tc IS NOT NULL AND e.tc <= iv.tstart THEN 1 ELSE 0 END AS next_cart{bca_col}
FROM iv JOIN e ON e.infusion_id = iv.infusion_id
WHERE iv.tstop IS NOT NULL
ORDER BY e.patient_id, e.course_number, iv.infusion_id, iv.tstart
"""
