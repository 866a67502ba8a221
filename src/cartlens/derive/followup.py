"""Follow-up beyond CRS and ICANS: one row per infusion with ICAHT, B-cell aplasia, CAR-T
persistence, infections, IEC-HS, time to next treatment and second malignancies.

The endpoints are SQL in the DuckDB dialect (:func:`followup_sql`, transpiled to Spark by
``tests/derive/test_sql.py`` like the other derive SQL); the ICAHT grade is computed from the ANC
series in Python (:mod:`cartlens.model.icaht`, the same rows as rule R063 uses) and merged by
:func:`followup_table`.

Conventions (as in :mod:`cartlens.derive.sql`): day 0 is the infusion date; times are days from
it. Infections count from day 0 (an infusion-day fever is the infusion's); later treatments and
second malignancies count when dated strictly after the infusion. Competing-risk endpoints are
coded 0 censored, 1 the event, 2 death without the event (``cmprsk::cuminc`` coding).

Laboratory follow-up of an infusion (B cells, CAR-T) ends at the next CAR-T course or a later
allo-HSCT: a new course re-induces aplasia and donor B cells are not the patient's.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cartlens.derive.settings import DeriveSettings
from cartlens.derive.sql import LATER_TREATMENTS, censor_dates
from cartlens.model.labs import canonical_sql
from cartlens.model.vocab import InfectionSeverity

SEVERITY_RANK = {s.value: i for i, s in enumerate(InfectionSeverity, start=1)}

#: Competing-risk endpoints of :func:`followup_table`: (time column, 0/1/2 status column).
FOLLOWUP_ENDPOINTS = {
    "infection": ("infection_days", "infection_event"),
    "severe_infection": ("severe_infection_days", "severe_infection_event"),
    "next_treatment": ("ttnt_days", "ttnt_event"),
    "second_malignancy": ("spm_days", "spm_event"),
}


class FollowupSettings(BaseModel):
    """Definitions of the follow-up endpoints (travel with the frame as
    ``df.attrs["followup_settings"]``).

    Attributes
    ----------
    bca_cd19_pct_max : float
        A CD19+ B-cell value given in % of lymphocytes below this is B-cell aplasia (default
        1 %).
    bca_cd19_cells_max : float
        A CD19+ B-cell count (cells/uL) below this is B-cell aplasia (default 10 cells/uL).
        Published thresholds differ between protocols (1 % or 3 % of lymphocytes, 10-50
        cells/uL); set both to your protocol's.
    car_detection_min : float
        CAR-T cells are detectable when the transgene level (copies/ug DNA) or % CAR+ cells is
        above this (default 0: any positive value; set the assay's lower limit of
        quantification).
    severe_infection : str
        Lowest severity counted by the ``severe_infection`` endpoint (default ``severe``, CTCAE
        grade >= 3).
    ttnt_includes_hsct : bool
        A later allo-HSCT is a next treatment (default True; next CAR-T courses and other
        therapies always are).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bca_cd19_pct_max: float = Field(1.0, gt=0, le=100)
    bca_cd19_cells_max: float = Field(10.0, gt=0)
    car_detection_min: float = Field(0.0, ge=0)
    severe_infection: Literal["mild", "moderate", "severe", "life_threatening", "fatal"] = "severe"
    ttnt_includes_hsct: bool = True


def _days(a: str, b: str) -> str:
    return f"date_diff('day', {a}, {b})"


def _crisk(name: str, event_date: str) -> str:
    """``<name>_days`` and ``<name>_event`` (0/1/2) with death competing, ended at follow-up."""
    hit = f"({event_date} IS NOT NULL AND {event_date} <= fu_end_date)"
    died = "(death_date IS NOT NULL AND death_date <= fu_end_date)"
    stop = f"CASE WHEN {hit} THEN {event_date} ELSE fu_end_date END"
    return (
        f"{_days('infusion_date', stop)} AS {name}_days, "
        f"CASE WHEN {hit} THEN 1 WHEN {died} THEN 2 ELSE 0 END AS {name}_event"
    )


def _spell(p: str, src: str, n: str, on: str, off: str, last: str) -> str:
    """CTEs ``<p>on`` (``n`` values and ``on``, the first day ``flag`` holds), ``<p>off``
    (``off``, the first day after it without ``flag``: the end of the spell, an event) and
    ``<p>last`` (``last``, the last flagged day before ``off``: censoring when it never ends),
    over ``src(infusion_id, day, flag)``."""
    return f"""{p}on AS (
    SELECT infusion_id, count(*) AS {n}, min(CASE WHEN flag THEN day END) AS {on}
    FROM {src} GROUP BY infusion_id
), {p}off AS (
    SELECT s.infusion_id, min(s.day) AS {off}
    FROM {src} s JOIN {p}on o ON o.infusion_id = s.infusion_id AND s.day > o.{on}
    WHERE NOT s.flag GROUP BY s.infusion_id
), {p}last AS (
    SELECT s.infusion_id, max(s.day) AS {last}
    FROM {src} s LEFT JOIN {p}off x ON x.infusion_id = s.infusion_id
    WHERE s.flag AND (x.{off} IS NULL OR s.day < x.{off})
    GROUP BY s.infusion_id
)"""


def followup_sql(
    settings: DeriveSettings | None = None, followup: FollowupSettings | None = None
) -> str:
    """One row per infusion: the SQL part of :func:`followup_table` (everything but ICAHT)."""
    s = settings or DeriveSettings()
    f = followup or FollowupSettings()
    value, unit = canonical_sql()
    sev_rank = "CASE severity " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in SEVERITY_RANK.items())
    sev_rank += " END"
    severe = SEVERITY_RANK[f.severe_infection]
    # the infection endpoints are censored as the derive settings censor PFS (never at death)
    censors = censor_dates(s)
    inf_end = "fu_end_date" if not censors else f"least(fu_end_date, {', '.join(censors)})"
    next_tx = ["therapy_after_date", "next_cart_date"]
    if f.ttnt_includes_hsct:
        next_tx.append("hsct_after_date")
    return f"""
WITH inf AS (
    SELECT infusion_id, patient_id, infusion_date, course_number FROM infusions
), dth AS (
    SELECT patient_id, min(death_date) AS death_date FROM deaths GROUP BY patient_id
), base AS (
    SELECT i.*, d.death_date, coalesce(d.death_date, p.last_contact_date) AS fu_end_date
    FROM inf i JOIN patients p ON p.patient_id = i.patient_id
    LEFT JOIN dth d ON d.patient_id = i.patient_id
), {LATER_TREATMENTS}, b AS (
    SELECT base.*, nc.next_cart_date, ha.hsct_after_date, th.therapy_after_date,
        least(nc.next_cart_date, ha.hsct_after_date) AS lab_end_date
    FROM base LEFT JOIN nc ON nc.infusion_id = base.infusion_id
    LEFT JOIN ha ON ha.infusion_id = base.infusion_id
    LEFT JOIN th ON th.infusion_id = base.infusion_id
), lab AS (
    SELECT l.infusion_id, l.analyte, {_days("b.infusion_date", "l.sample_date")} AS day,
        l.v, l.cu
    FROM (SELECT infusion_id, analyte, sample_date, {value} AS v, {unit} AS cu FROM labs) l
    JOIN b ON b.infusion_id = l.infusion_id
    WHERE l.v IS NOT NULL AND l.sample_date > b.infusion_date
        AND (b.lab_end_date IS NULL OR l.sample_date < b.lab_end_date)
), bc AS (
    SELECT infusion_id, day, bool_and((cu = '%' AND v < {f.bca_cd19_pct_max!r})
        OR (cu = 'cells/uL' AND v < {f.bca_cd19_cells_max!r})) AS flag
    FROM lab WHERE analyte = 'cd19_b_cells' GROUP BY infusion_id, day
), {_spell("b", "bc", "n_cd19_samples", "bca_onset_day", "bca_loss_day", "bca_last_day")},
car AS (
    SELECT infusion_id, day, bool_or(v > {f.car_detection_min!r}) AS flag,
        max(CASE WHEN analyte = 'car_transgene' THEN v END) AS copies
    FROM lab WHERE analyte IN ('car_transgene', 'car_positive_pct') GROUP BY infusion_id, day
), {_spell("c", "car", "n_car_samples", "car_first_day", "car_loss_day", "car_last_day")},
cpk AS (
    SELECT infusion_id, max(copies) AS car_peak_copies, arg_max(day, copies) AS car_peak_day
    FROM car GROUP BY infusion_id
), ix AS (
    SELECT b.infusion_id, count(*) AS n_infections,
        sum(CASE WHEN {sev_rank} >= {severe} THEN 1 ELSE 0 END) AS n_severe_infections,
        min(x.onset_date) AS infection_date,
        arg_min(x.organism_class, x.onset_date) AS first_infection_class,
        min(CASE WHEN {sev_rank} >= {severe} THEN x.onset_date END) AS severe_infection_date
    FROM b JOIN infections x ON x.patient_id = b.patient_id
        AND x.onset_date >= b.infusion_date AND x.onset_date <= {inf_end}
    GROUP BY b.infusion_id
), hs AS (
    SELECT infusion_id, count(*) AS n_iec_hs, max(grade) AS iec_hs_max_grade,
        min(onset_date) AS iec_hs_onset_date, bool_or(coalesce(fatal, FALSE)) AS iec_hs_fatal
    FROM iec_hs GROUP BY infusion_id
), sm AS (
    SELECT b.infusion_id, min(m.diagnosis_date) AS spm_date,
        arg_min(m.malignancy_type, m.diagnosis_date) AS spm_type,
        bool_or(m.malignancy_type = 't_cell') AS t_cell_malignancy,
        bool_or(m.malignancy_type = 't_cell' AND m.car_status = 'positive')
            AS t_cell_malignancy_car_positive
    FROM b JOIN second_malignancies m ON m.patient_id = b.patient_id
        AND m.diagnosis_date > b.infusion_date
    GROUP BY b.infusion_id
), e AS (
    SELECT b.*, bon.n_cd19_samples, bon.bca_onset_day, boff.bca_loss_day, blast.bca_last_day,
        con.n_car_samples, con.car_first_day, cpk.car_peak_copies, cpk.car_peak_day,
        coff.car_loss_day, clast.car_last_day,
        ix.n_infections, ix.n_severe_infections, ix.first_infection_class,
        CASE WHEN ix.infection_date <= {inf_end} THEN ix.infection_date END AS infection_date,
        CASE WHEN ix.severe_infection_date <= {inf_end} THEN ix.severe_infection_date END
            AS severe_infection_date,
        {inf_end} AS infection_end_date,
        hs.n_iec_hs, hs.iec_hs_max_grade, hs.iec_hs_onset_date, hs.iec_hs_fatal,
        sm.spm_date, sm.spm_type, sm.t_cell_malignancy, sm.t_cell_malignancy_car_positive,
        least({", ".join(next_tx)}) AS next_treatment_date
    FROM b
    LEFT JOIN bon ON bon.infusion_id = b.infusion_id
    LEFT JOIN boff ON boff.infusion_id = b.infusion_id
    LEFT JOIN blast ON blast.infusion_id = b.infusion_id
    LEFT JOIN con ON con.infusion_id = b.infusion_id
    LEFT JOIN coff ON coff.infusion_id = b.infusion_id
    LEFT JOIN clast ON clast.infusion_id = b.infusion_id
    LEFT JOIN cpk ON cpk.infusion_id = b.infusion_id
    LEFT JOIN ix ON ix.infusion_id = b.infusion_id
    LEFT JOIN hs ON hs.infusion_id = b.infusion_id
    LEFT JOIN sm ON sm.infusion_id = b.infusion_id
)
SELECT infusion_id, patient_id, course_number,
    coalesce(n_cd19_samples, 0) AS n_cd19_samples,
    bca_onset_day IS NOT NULL AS bca, bca_onset_day, bca_loss_day,
    CASE WHEN bca_onset_day IS NOT NULL THEN coalesce(bca_loss_day, bca_last_day) END
        AS bca_loss_days,
    CASE WHEN bca_onset_day IS NULL THEN NULL WHEN bca_loss_day IS NOT NULL THEN 1 ELSE 0 END
        AS bca_loss_event,
    coalesce(bca_loss_day, bca_last_day) - bca_onset_day AS bca_duration_days,
    coalesce(n_car_samples, 0) AS n_car_samples,
    car_first_day IS NOT NULL AS car_detected, car_peak_copies, car_peak_day,
    car_loss_day,
    CASE WHEN car_first_day IS NOT NULL THEN coalesce(car_loss_day, car_last_day) END
        AS car_loss_days,
    CASE WHEN car_first_day IS NULL THEN NULL WHEN car_loss_day IS NOT NULL THEN 1 ELSE 0 END
        AS car_loss_event,
    coalesce(n_infections, 0) AS n_infections,
    coalesce(n_severe_infections, 0) AS n_severe_infections, first_infection_class,
    {_crisk("infection", "infection_date").replace("fu_end_date", "infection_end_date")},
    {
        _crisk("severe_infection", "severe_infection_date").replace(
            "fu_end_date", "infection_end_date"
        )
    },
    coalesce(n_iec_hs, 0) AS n_iec_hs, n_iec_hs IS NOT NULL AS iec_hs,
    coalesce(iec_hs_max_grade, 0) AS iec_hs_max_grade,
    {_days("infusion_date", "iec_hs_onset_date")} AS iec_hs_onset_day,
    coalesce(iec_hs_fatal, FALSE) AS iec_hs_fatal,
    {_crisk("ttnt", "next_treatment_date")},
    spm_type, coalesce(t_cell_malignancy, FALSE) AS t_cell_malignancy,
    coalesce(t_cell_malignancy_car_positive, FALSE) AS t_cell_malignancy_car_positive,
    {_crisk("spm", "spm_date")}
FROM e
ORDER BY patient_id, course_number, infusion_id
"""


def _recorded_icaht(con) -> pd.DataFrame:
    return con.execute(
        "SELECT infusion_id, max(CASE WHEN toxicity = 'ICAHT_early' THEN grade END) AS early, "
        "max(CASE WHEN toxicity = 'ICAHT_late' THEN grade END) AS late FROM toxicities "
        "WHERE toxicity IN ('ICAHT_early', 'ICAHT_late') GROUP BY infusion_id"
    ).df()


def _pick(recorded: pd.Series, computed: pd.Series, source: str) -> pd.Series:
    if source == "recorded":
        return recorded
    if source == "computed":
        return computed
    if source == "recorded_then_computed":
        return recorded.fillna(computed)
    return computed.fillna(recorded)


def followup_table(
    con_or_path,
    settings: DeriveSettings | None = None,
    followup: FollowupSettings | None = None,
) -> pd.DataFrame:
    """One row per infusion with the follow-up endpoints (columns in ``docs/data-model.md``,
    "Follow-up beyond CRS and ICANS").

    ICAHT: ``icaht_early_grade`` / ``icaht_late_grade`` follow ``settings.grade_source`` as the
    CRS/ICANS grades do; ``*_computed`` (from the ANC series, :mod:`cartlens.model.icaht`),
    ``*_recorded`` (toxicities rows ICAHT_early / ICAHT_late) and ``*_mismatch`` are kept.
    """
    from cartlens.derive.tables import _connect
    from cartlens.ingest.followup import computed_icaht
    from cartlens.model.astct import grade_mismatch

    s = settings or DeriveSettings()
    f = followup or FollowupSettings()
    con, close = _connect(con_or_path)
    try:
        df = con.execute(followup_sql(s, f)).df()
        ic = computed_icaht(con, lambda n: n)
        rec = _recorded_icaht(con)
    finally:
        if close:
            con.close()
    ic = ic.set_index("infusion_id").reindex(df["infusion_id"])
    rec = rec.set_index("infusion_id").reindex(df["infusion_id"])
    for phase in ("early", "late"):
        comp = pd.array(ic[f"{phase}_grade"].to_numpy(), dtype="Int64")
        recd = pd.array(pd.to_numeric(rec[phase]).to_numpy(), dtype="Int64")
        comp_s = pd.Series(comp, index=df.index)
        rec_s = pd.Series(recd, index=df.index)
        df[f"icaht_{phase}_computed"] = comp_s
        df[f"icaht_{phase}_recorded"] = rec_s
        df[f"icaht_{phase}_grade"] = _pick(rec_s, comp_s, s.grade_source)
        df[f"icaht_{phase}_mismatch"] = grade_mismatch(rec_s, comp_s).to_numpy()
    df["days_anc_le_500"] = pd.array(ic["days_anc_le_500"].to_numpy(), dtype="Int64")
    df["days_anc_le_100"] = pd.array(ic["days_anc_le_100"].to_numpy(), dtype="Int64")
    df["anc_recovery_day"] = pd.array(ic["recovery_day"].to_numpy(), dtype="Int64")
    df["severe_icaht"] = (df["icaht_early_grade"].fillna(0) >= 3).to_numpy(dtype=bool)
    md = float(s.month_days)
    for t, _e in FOLLOWUP_ENDPOINTS.values():
        df[t.replace("_days", "_months")] = df[t] / md
    df.attrs["derive_settings"] = s.model_dump()
    df.attrs["followup_settings"] = f.model_dump()
    df.attrs["derived"] = "followup_table"
    return df


#: (column, meaning) of :func:`followup_table`.
FOLLOWUP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("infusion_id, patient_id, course_number", "the infusion (time origin, day 0)"),
    (
        "icaht_early_grade, icaht_late_grade",
        "EHA/EBMT 2023 ICAHT grade per grade_source (recorded toxicities row ICAHT_early / "
        "ICAHT_late, or computed from the ANC series)",
    ),
    ("icaht_*_computed, icaht_*_recorded", "the two grades; NULL when not assessable / absent"),
    ("icaht_*_mismatch", "both known and different (rule R063)"),
    ("days_anc_le_500, days_anc_le_100", "early-window days with ANC <= 500 and <= 100 /uL"),
    ("anc_recovery_day", "CIBMTR ANC recovery: first of three values >= 0.5 x 10^9/L"),
    ("severe_icaht", "early ICAHT grade >= 3"),
    ("n_cd19_samples", "CD19+ B-cell values after day 0 in the infusion's lab follow-up"),
    ("bca, bca_onset_day", "B-cell aplasia (below bca_cd19_pct_max / bca_cd19_cells_max)"),
    ("bca_loss_day", "first non-aplastic value after the onset (loss of B-cell aplasia)"),
    (
        "bca_loss_days, bca_loss_event",
        "loss of aplasia as an event from day 0 (censored at the last aplastic value)",
    ),
    ("bca_duration_days", "days from onset to loss (or to the last aplastic value)"),
    ("n_car_samples, car_detected", "CAR transgene / % CAR+ values and any above the limit"),
    ("car_peak_copies, car_peak_day", "highest transgene level (copies/ug DNA) and its day"),
    (
        "car_loss_day, car_loss_days, car_loss_event",
        "first undetectable value after detection; CAR-T persistence as the time to that "
        "loss (censored at the last detectable value)",
    ),
    ("n_infections, n_severe_infections", "infections from day 0 in the infection follow-up"),
    ("first_infection_class", "organism class of the first infection"),
    (
        "infection_days, infection_event",
        "first infection (0 censored, 1 infection, 2 death without infection); censored as "
        "the derive settings censor PFS",
    ),
    ("severe_infection_days, severe_infection_event", "as above, severity >= severe_infection"),
    ("n_iec_hs, iec_hs, iec_hs_max_grade, iec_hs_onset_day, iec_hs_fatal", "IEC-HS episodes"),
    (
        "ttnt_days, ttnt_event",
        "time to next treatment: other therapy, next CAR-T course or (ttnt_includes_hsct) "
        "allo-HSCT; 2 death without one",
    ),
    ("spm_type, t_cell_malignancy, t_cell_malignancy_car_positive", "second malignancies"),
    ("spm_days, spm_event", "first second malignancy after day 0; 2 death without one"),
    ("*_months", "infection, severe_infection, ttnt and spm times / month_days"),
)


def render_followup() -> str:
    """Markdown section of ``docs/data-model.md`` for :func:`followup_table`."""
    lines = [
        "### `followup_table` columns (follow-up beyond CRS and ICANS)",
        "",
        "`cartlens.derive.followup_table(store, settings, followup)` returns one row per "
        "infusion. Laboratory follow-up of an infusion ends at the next CAR-T course or a later "
        "allo-HSCT; infections count from day 0, later treatments and second malignancies when "
        "dated after it. `exposure_intervals(..., followup=FollowupSettings())` adds the "
        "time-varying `bca_lost` (0 -> 1 at the loss of B-cell aplasia).",
        "",
        "| setting (`FollowupSettings`) | default |",
        "|---|---|",
    ]
    for k, v in FollowupSettings().model_dump().items():
        lines.append(f"| `{k}` | `{v}` |")
    lines += ["", "| column | meaning |", "|---|---|"]
    lines += [f"| `{c}` | {m} |" for c, m in FOLLOWUP_COLUMNS]
    return "\n".join(lines) + "\n"
