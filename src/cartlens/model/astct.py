"""ASTCT 2019 consensus grading of CRS and ICANS from raw components.

The grade of an episode is the most severe grade reached by any of its components. cartlens
recomputes it from what the centre recorded and compares it with the recorded grade (rule
R060 warns on a mismatch). Legacy grades (Lee 2014, Penn, MSKCC, CARTOX, CTCAE) are kept as
(scale, grade) and never converted: the scales are not interchangeable.

CRS (adults and children)
-------------------------
Fever is a temperature >= 38.0 °C. Without fever there is no CRS (grade 0), unless the patient
has received tocilizumab or corticosteroids, which mask fever ("fever is no longer required to
grade subsequent CRS severity").

=====  ==============================================  ==========================================
grade  hypotension                                     hypoxia
=====  ==============================================  ==========================================
1      none                                            none
2      not requiring vasopressors                      low-flow nasal cannula (<= 6 L/min) or
                                                       blow-by
3      one vasopressor, with or without vasopressin    high-flow nasal cannula (> 6 L/min),
                                                       facemask, non-rebreather or Venturi mask
4      multiple vasopressors (excluding vasopressin)   positive pressure (CPAP, BiPAP,
                                                       intubation and mechanical ventilation)
5      death due to CRS
=====  ==============================================  ==========================================

ICANS
-----
Each component gives a grade; the episode's grade is the highest:

- ICE score (adults, children >= 12 y): 10 -> 0; 7-9 -> 1; 3-6 -> 2; 0-2 -> 3 (0 because the
  patient is unarousable -> 4 through the level of consciousness).
- CAPD score (children < 12 y): 0 -> 0; 1-8 -> 1; >= 9 -> 3; unable to perform -> 4.
- Depressed level of consciousness: awakens spontaneously -> 1; to voice -> 2; only to tactile
  stimulus -> 3; unarousable, needs vigorous or repetitive stimuli, stupor or coma -> 4.
- Seizure: any clinical seizure resolving rapidly, or non-convulsive seizure on EEG resolving
  with intervention -> 3; life-threatening prolonged (> 5 min) or repetitive seizures without
  return to baseline -> 4.
- Motor findings: deep focal motor weakness (hemiparesis, paraparesis) -> 4.
- Raised ICP / cerebral oedema: focal/local oedema on neuroimaging -> 3; diffuse oedema,
  decerebrate/decorticate posturing, cranial nerve VI palsy, papilloedema or Cushing's
  triad -> 4.
- Death due to ICANS -> 5.

A CAPD score of 1-8 maps to grade 1 (grades 1 and 2 share that band; the level of consciousness
separates them). An ICE score of 10 with no other finding is grade 0.

References
----------
.. [1] Lee DW, Santomasso BD, Locke FL, et al. ASTCT Consensus Grading for Cytokine Release
   Syndrome and Neurologic Toxicity Associated with Immune Effector Cells. Biol Blood Marrow
   Transplant. 2019;25(4):625-638. doi:10.1016/j.bbmt.2018.12.758
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cartlens.model.vocab import (
    CerebralOedema,
    Consciousness,
    Hypotension,
    MotorFinding,
    OxygenSupport,
    Seizure,
)

#: Fever threshold (°C).
FEVER_C = 38.0
#: Highest flow (L/min) that still counts as low-flow nasal cannula.
LOW_FLOW_MAX_L_MIN = 6.0

HYPOTENSION_GRADE = {
    Hypotension.NONE.value: 0,
    Hypotension.NO_VASOPRESSOR.value: 2,
    Hypotension.ONE_VASOPRESSOR.value: 3,
    Hypotension.MULTIPLE_VASOPRESSORS.value: 4,
}
OXYGEN_GRADE = {
    OxygenSupport.NONE.value: 0,
    OxygenSupport.LOW_FLOW.value: 2,
    OxygenSupport.HIGH_FLOW.value: 3,
    OxygenSupport.POSITIVE_PRESSURE.value: 4,
}
CONSCIOUSNESS_GRADE = {
    Consciousness.NORMAL.value: 0,
    Consciousness.AWAKENS_SPONTANEOUSLY.value: 1,
    Consciousness.AWAKENS_TO_VOICE.value: 2,
    Consciousness.AWAKENS_TO_TOUCH.value: 3,
    Consciousness.UNAROUSABLE.value: 4,
}
SEIZURE_GRADE = {
    Seizure.NONE.value: 0,
    Seizure.RESOLVED_RAPIDLY.value: 3,
    Seizure.PROLONGED_OR_REPETITIVE.value: 4,
}
MOTOR_GRADE = {MotorFinding.NONE.value: 0, MotorFinding.DEEP_FOCAL_WEAKNESS.value: 4}
OEDEMA_GRADE = {
    CerebralOedema.NONE.value: 0,
    CerebralOedema.FOCAL.value: 3,
    CerebralOedema.DIFFUSE.value: 4,
}


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def _mapped(df: pd.DataFrame, name: str, mapping: dict[str, int]) -> np.ndarray:
    """Grade of a categorical component as float (NaN: missing or not in the mapping)."""
    s = _col(df, name)
    return s.map(mapping).astype(float).to_numpy()


def _num(df: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(_col(df, name), errors="coerce").astype(float).to_numpy()


def _flag(df: pd.DataFrame, name: str) -> np.ndarray:
    s = _col(df, name)
    if s.dtype == bool:
        return s.to_numpy()
    try:
        return pd.array(s, dtype="boolean").fillna(False).to_numpy(dtype=bool)
    except (TypeError, ValueError):
        return np.array(
            [isinstance(v, bool | np.bool_ | int | np.integer) and bool(v) for v in s.tolist()],
            dtype=bool,
        )


def _rowmax(*arrays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise max ignoring NaN, and whether any component was present."""
    stack = np.vstack(arrays)
    present = ~np.isnan(stack)
    anyp = present.any(axis=0)
    filled = np.where(present, stack, -1.0)
    return filled.max(axis=0), anyp


def crs_grades(df: pd.DataFrame) -> pd.Series:
    """ASTCT 2019 CRS grade of each row (nullable ``Int64``; ``<NA>`` when not computable).

    Parameters
    ----------
    df : pandas.DataFrame
        Columns (any may be absent or missing): ``max_temperature_c`` (float, °C),
        ``hypotension`` (:class:`~cartlens.model.vocab.Hypotension` value), ``oxygen``
        (:class:`~cartlens.model.vocab.OxygenSupport` value), ``oxygen_flow_l_min`` (float),
        ``tocilizumab``, ``steroids``, ``fatal`` (booleans).

    Returns
    -------
    pandas.Series
        0-5, or ``<NA>`` when neither temperature nor any organ component was recorded, or when
        the temperature is missing and no fever-masking therapy was given.

    References
    ----------
    .. [1] Lee DW et al. Biol Blood Marrow Transplant 2019;25:625-638.
    """
    temp = _num(df, "max_temperature_c")
    hypo = _mapped(df, "hypotension", HYPOTENSION_GRADE)
    oxy = _mapped(df, "oxygen", OXYGEN_GRADE)
    flow = _num(df, "oxygen_flow_l_min")
    flow_grade = np.where(
        np.isnan(flow),
        np.nan,
        np.where(flow <= 0, 0.0, np.where(flow <= LOW_FLOW_MAX_L_MIN, 2.0, 3.0)),
    )
    masked = _flag(df, "tocilizumab") | _flag(df, "steroids")
    fatal = _flag(df, "fatal")
    organ, organ_present = _rowmax(hypo, oxy, flow_grade)
    fever = temp >= FEVER_C
    temp_known = ~np.isnan(temp)
    present = fever | masked  # CRS present (fever, or fever masked by treatment)
    grade = np.where(present, np.maximum(1.0, organ), 0.0)
    # Not computable: no temperature and no masking therapy (fever status unknown), or nothing.
    unknown = (~temp_known & ~masked) | (~temp_known & ~organ_present)
    grade = np.where(unknown, np.nan, grade)
    grade = np.where(fatal, 5.0, grade)
    return pd.Series(grade, index=df.index).astype("Int64")


def icans_grades(df: pd.DataFrame) -> pd.Series:
    """ASTCT 2019 ICANS grade of each row (nullable ``Int64``; ``<NA>`` when nothing recorded).

    Parameters
    ----------
    df : pandas.DataFrame
        Columns (any may be absent or missing): ``ice_score`` (0-10), ``capd_score`` (0-32),
        ``capd_unable`` (bool), ``consciousness``, ``seizure``, ``motor_findings``,
        ``cerebral_oedema`` (vocabulary values of :mod:`cartlens.model.vocab`), ``fatal``.

    Returns
    -------
    pandas.Series
        The most severe grade over the recorded components.

    References
    ----------
    .. [1] Lee DW et al. Biol Blood Marrow Transplant 2019;25:625-638.
    """
    ice = _num(df, "ice_score")
    ice_grade = np.select(
        [np.isnan(ice), ice >= 10, ice >= 7, ice >= 3], [np.nan, 0.0, 1.0, 2.0], default=3.0
    )
    capd = _num(df, "capd_score")
    capd_grade = np.select([np.isnan(capd), capd <= 0, capd <= 8], [np.nan, 0.0, 1.0], default=3.0)
    unable = _col(df, "capd_unable")
    unable_grade = np.where(
        unable.isna().to_numpy(), np.nan, np.where(_flag(df, "capd_unable"), 4.0, 0.0)
    )
    grade, present = _rowmax(
        ice_grade,
        capd_grade,
        unable_grade,
        _mapped(df, "consciousness", CONSCIOUSNESS_GRADE),
        _mapped(df, "seizure", SEIZURE_GRADE),
        _mapped(df, "motor_findings", MOTOR_GRADE),
        _mapped(df, "cerebral_oedema", OEDEMA_GRADE),
    )
    grade = np.where(present, grade, np.nan)
    grade = np.where(_flag(df, "fatal"), 5.0, grade)
    return pd.Series(grade, index=df.index).astype("Int64")


def astct_grades(df: pd.DataFrame) -> pd.Series:
    """Computed ASTCT grade of toxicity rows: CRS rows by :func:`crs_grades`, ICANS by
    :func:`icans_grades` (column ``toxicity``)."""
    tox = _col(df, "toxicity")
    out = pd.Series(pd.NA, index=df.index, dtype="Int64")
    crs = (tox == "CRS").to_numpy()
    icans = (tox == "ICANS").to_numpy()
    if crs.any():
        out[crs] = crs_grades(df.loc[crs])
    if icans.any():
        out[icans] = icans_grades(df.loc[icans])
    return out


def grade_mismatch(recorded: pd.Series, computed: pd.Series) -> pd.Series:
    """True where both grades are known and differ."""
    r = pd.to_numeric(recorded, errors="coerce")
    c = pd.to_numeric(computed, errors="coerce")
    return (r.notna() & c.notna() & (r != c)).astype(bool)


def _one(fn, **components) -> int | None:
    df = pd.DataFrame({k: [v] for k, v in components.items()})
    value = fn(df).iloc[0]
    return (
        None if value is pd.NA or (isinstance(value, float) and math.isnan(value)) else int(value)
    )


def crs_grade(
    max_temperature_c: float | None = None,
    hypotension: str | None = None,
    oxygen: str | None = None,
    oxygen_flow_l_min: float | None = None,
    *,
    tocilizumab: bool = False,
    steroids: bool = False,
    fatal: bool = False,
) -> int | None:
    """ASTCT 2019 CRS grade of one episode (see :func:`crs_grades`).

    Examples
    --------
    >>> crs_grade(39.1, "no_vasopressor", "none")
    2
    >>> crs_grade(38.5, "none", "high_flow")
    3
    """
    return _one(
        crs_grades,
        max_temperature_c=max_temperature_c,
        hypotension=hypotension,
        oxygen=oxygen,
        oxygen_flow_l_min=oxygen_flow_l_min,
        tocilizumab=tocilizumab,
        steroids=steroids,
        fatal=fatal,
    )


def icans_grade(
    ice_score: int | None = None,
    *,
    capd_score: int | None = None,
    capd_unable: bool | None = None,
    consciousness: str | None = None,
    seizure: str | None = None,
    motor_findings: str | None = None,
    cerebral_oedema: str | None = None,
    fatal: bool = False,
) -> int | None:
    """ASTCT 2019 ICANS grade of one episode (see :func:`icans_grades`).

    Examples
    --------
    >>> icans_grade(8)
    1
    >>> icans_grade(5, seizure="resolved_rapidly")
    3
    """
    return _one(
        icans_grades,
        ice_score=ice_score,
        capd_score=capd_score,
        capd_unable=capd_unable,
        consciousness=consciousness,
        seizure=seizure,
        motor_findings=motor_findings,
        cerebral_oedema=cerebral_oedema,
        fatal=fatal,
    )
