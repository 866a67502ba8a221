"""Documentation of the derived columns (rendered into ``docs/data-model.md``)."""

from __future__ import annotations

from cartlens.derive.settings import DeriveSettings

#: (column, meaning) of :func:`cartlens.derive.infusion_table`, in output order groups.
INFUSION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("infusion_id ... reinfusion_reason", "the infusion's own fields (see `infusions.csv`)"),
    ("is_course_start", "first infusion of its course (split doses after it are False)"),
    ("sex ... prior_therapy_lines", "the patient's fields (see `patients.csv`)"),
    (
        "age_at_infusion",
        "years: age_at_diagnosis + days from diagnosis / 365.25, else infusion year - birth_year",
    ),
    ("days_from_diagnosis", "days from diagnosis to the infusion"),
    (
        "prior_allo_hsct",
        "an allo-HSCT (transplants or patients.prior_allo_hsct_date) dated before the infusion",
    ),
    ("days_since_prior_hsct", "days from the latest such HSCT to the infusion"),
    ("evaluable", "at least one assessment (status other than NE) in the response window"),
    ("n_assessments", "assessments in the window"),
    ("best_response", "best status in the window (CR > CRi > PR > SD > NR > PD > relapse)"),
    (
        "cr",
        "a CR (or CRi when cri_counts_as_cr; MRD-negative only when require_mrd_negative) "
        "in the window",
    ),
    ("mrd_negative_cr", "an MRD-negative CR/CRi in the window"),
    ("nonresponse", "evaluable and not cr"),
    ("remission_date, remission_day", "first qualifying CR/CRi assessment in the window"),
    (
        "crs_max_grade, icans_max_grade",
        "maximum grade over the infusion's episodes (0: none), from grade_source",
    ),
    ("crs_any, icans_any", "grade >= 1"),
    ("crs_severe, icans_severe", "grade >= severe_grade (default 3)"),
    ("n_crs_episodes, n_icans_episodes", "episodes recorded"),
    ("crs_onset_day, icans_onset_day", "day of the first episode's onset"),
    ("relapse_date, relapse_type", "first relapse/progression after the infusion"),
    ("death_date, death_cause", "the patient's death"),
    ("last_contact_date, last_contact_status", "the patient's last contact"),
    ("hsct_after, hsct_after_days", "a later allo-HSCT and its day"),
    ("next_cart, next_cart_days", "the start of the next CAR-T course and its day"),
    ("therapy_after_days", "day of the first other therapy after the infusion"),
    (
        "os_days, os_event",
        "overall survival: death from any cause (never censored unless censor_os)",
    ),
    (
        "pfs_days, pfs_event",
        "progression-free survival: relapse/progression or death; "
        "non-responders per nonresponder_pfs",
    ),
    (
        "efs_days, efs_event",
        "event-free survival: as PFS, with non-response an event per efs_nonresponse",
    ),
    (
        "rfs_days, rfs_event",
        "relapse-free (leukaemia-free) survival from the infusion, "
        "responders (cr) only; relapse or death",
    ),
    ("dor_days, dor_event", "duration of remission from remission_date, responders only"),
    (
        "crisk_days, crisk_event",
        "relapse and non-relapse mortality as competing events: "
        "0 censored, 1 relapse/progression, 2 death without prior relapse",
    ),
    ("followup_days", "days to death or last contact"),
    ("*_months", "the times above / month_days"),
)

EXPOSURE_COLUMNS = (
    ("infusion_id, patient_id, course_number", "the infusion (time origin)"),
    ("tstart, tstop", "interval (tstart, tstop] in days from the infusion"),
    ("event", "the endpoint's status on the last interval, else 0"),
    ("hsct", "1 from the day of a later allo-HSCT on"),
    ("next_cart", "1 from the start of the next CAR-T course on"),
    ("bca_lost", "with followup settings: 1 from the loss of B-cell aplasia on"),
)


def render_derived() -> str:
    s = DeriveSettings()
    lines = [
        "## Derived data",
        "",
        "`cartlens.derive.infusion_table(store, settings)` returns one row per infusion "
        "(SQL in DuckDB, `cartlens.derive.sql`); `exposure_intervals(store, settings, "
        "endpoint=...)` the counting-process rows. Time origin (day 0) is the infusion date; "
        "relapses, transplants and therapies count when dated strictly after it. An event "
        "dated on the censoring date counts as an event. The settings (`DeriveSettings`) "
        'travel with the frame in `df.attrs["derive_settings"]`.',
        "",
        "### Settings (`DeriveSettings`) and defaults",
        "",
        "| setting | default |",
        "|---|---|",
    ]
    for k, v in s.model_dump().items():
        lines.append(f"| `{k}` | `{v}` |")
    lines += ["", "### `infusion_table` columns", "", "| column | meaning |", "|---|---|"]
    lines += [f"| `{c}` | {m} |" for c, m in INFUSION_COLUMNS]
    lines += ["", "### `exposure_intervals` columns", "", "| column | meaning |", "|---|---|"]
    lines += [f"| `{c}` | {m} |" for c, m in EXPOSURE_COLUMNS]
    return "\n".join(lines) + "\n"
