"""ICAHT (immune effector cell-associated haematotoxicity) grade from the ANC series.

EHA/EBMT consensus grading (Rejeski et al. [1]_), computed from an infusion's absolute
neutrophil counts (ANC, 10^9/L; 0.5 x 10^9/L = 500/uL) as the ASTCT grades are computed from
their components (:mod:`cartlens.model.astct`); a recorded grade is kept and compared (rule R063,
:func:`cartlens.model.astct.grade_mismatch`).

Early ICAHT (day 0 to +30)
--------------------------
=================  =========  ==========  ===========  =========
                   grade 1    grade 2     grade 3      grade 4
=================  =========  ==========  ===========  =========
ANC <= 500/uL      1-6 days   7-13 days   14-30 days   > 30 days
ANC <= 100/uL                             >= 7 days    >= 14 days
=================  =========  ==========  ===========  =========

The grade is the higher of the two rows; no day with ANC <= 500/uL is grade 0.

Late ICAHT (after day +30)
--------------------------
ANC <= 1500/uL grade 1, <= 1000/uL grade 2, <= 500/uL grade 3, <= 100/uL grade 4, when the
neutropenia is not transient: cartlens requires at least two values at or below the threshold
after day +30 ("two or more laboratory tests", as the consensus and the T-ICAHT extension [2]_
state). No value after day +30: not assessable (``None``).

How durations are counted (stated here because sparse registries need a rule)
----------------------------------------------------------------------------
* Values are taken per day (the lowest of a day). Between samples the last value is carried
  forward day by day; nothing is carried beyond the last sample, and days before the first
  sample are not counted (a value on or before day 0 is carried into day 0).
* The count is cumulative (the days below the threshold, not one episode), and a rise above
  the threshold lasting less than 3 days between two neutropenic days ("non-stable count
  recovery") is counted as neutropenic, as the consensus [1]_ and [2]_ describe.
* The early window is day 0 to day +30; a neutropenic stretch still running on day +30 is
  counted to its end, so a neutropenia from day 0 that has not recovered by day +30 lasts
  "> 30 days" (grade 4).
* Follow-up is censored at ``censor_day`` (disease progression, a later line of therapy or
  death, as in [2]_): later values are ignored.

ANC recovery (CIBMTR)
---------------------
The first of three consecutive values (on different days) with ANC >= 0.5 x 10^9/L, counted
only after the nadir (the lowest ANC from day 0 to day +30) as the CIBMTR forms instruct [3]_.
A patient whose nadir is >= 0.5 x 10^9/L was never neutropenic (no recovery date).

References
----------
.. [1] Rejeski K, Subklewe M, Aljurf M, et al. Immune effector cell-associated hematotoxicity:
   EHA/EBMT consensus grading and best practice recommendations. Blood. 2023;142(10):865-877.
   doi:10.1182/blood.2023020578 (accepted version: https://discovery.ucl.ac.uk/id/eprint/10172207/)
.. [2] T-ICAHT grading, Table 1 and notes: "the cumulative length beneath the respective
   threshold is calculated, censoring at the time of disease progression, subsequent line of
   therapy, or death. Days of nonstable count recovery (<3 days) are counted to the cumulative
   total"; late grading needs "two or more laboratory tests". http://www.ash-sap.org/view-large/12809257
.. [3] CIBMTR Forms Instruction Manual, "ANC recovery": "ANC >= 0.5 x 10^9/L for three consecutive
   laboratory values obtained on different days ... the date of the first of three"; "do not
   begin counting ... until the ANC has dropped to the lowest level (nadir)".
   https://www.manula.com/manuals/cibmtr/fim/1/en/topic/anc-recovery
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

#: ANC thresholds (10^9/L) of early ICAHT.
ANC_500 = 0.5
ANC_100 = 0.1
#: Last day of the early window.
EARLY_END_DAY = 30
#: A rise above the threshold shorter than this (days) is not a recovery.
STABLE_DAYS = 3
#: Late ICAHT: (grade, ANC threshold in 10^9/L), most severe first.
LATE_THRESHOLDS = ((4, 0.1), (3, 0.5), (2, 1.0), (1, 1.5))
#: Values at or below a late threshold needed for that grade.
LATE_MIN_VALUES = 2
#: CIBMTR ANC recovery: this many consecutive values >= RECOVERY_ANC.
RECOVERY_VALUES = 3
RECOVERY_ANC = 0.5


def early_icaht_grade(days_le_500: int, days_le_100: int) -> int:
    """Early ICAHT grade from the days with ANC <= 500/uL and <= 100/uL (table above).

    >>> early_icaht_grade(10, 0), early_icaht_grade(10, 7)
    (2, 3)
    """
    if days_le_100 > days_le_500:
        raise ValueError("days with ANC <= 100/uL cannot exceed days with ANC <= 500/uL")
    g500 = (
        0
        if days_le_500 <= 0
        else 1
        if days_le_500 < 7
        else 2
        if days_le_500 < 14
        else 3
        if days_le_500 <= 30
        else 4
    )
    g100 = 4 if days_le_100 >= 14 else 3 if days_le_100 >= 7 else 0
    return max(g500, g100)


def late_icaht_grade(anc_after_day30) -> int | None:
    """Late ICAHT grade from the ANC values (10^9/L, one per day) after day +30."""
    a = np.asarray(anc_after_day30, dtype=float)
    if a.size == 0:
        return None
    for grade, thr in LATE_THRESHOLDS:
        if np.count_nonzero(a <= thr) >= LATE_MIN_VALUES:
            return grade
    return 0


def _per_day(day, anc) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(day, dtype=np.int64)
    a = np.asarray(anc, dtype=float)
    keep = ~np.isnan(a)
    d, a = d[keep], a[keep]
    if d.size == 0:
        return d, a
    order = np.lexsort((a, d))
    d, a = d[order], a[order]
    first = np.r_[True, d[1:] != d[:-1]]  # lowest value of each day comes first
    return d[first], a[first]


def _fill_blips(state: np.ndarray) -> np.ndarray:
    """Count runs of non-neutropenic days shorter than STABLE_DAYS between neutropenic days."""
    s = state.copy()
    n = s.size
    i = 0
    while i < n:
        if s[i]:
            i += 1
            continue
        j = i
        while j < n and not state[j]:
            j += 1
        if i > 0 and j < n and (j - i) < STABLE_DAYS:
            s[i:j] = True
        i = j
    return s


def neutropenia_days(day, anc, threshold: float, *, censor_day: int | None = None) -> int | None:
    """Days of the early window (see the module docstring) with ANC <= ``threshold``.

    ``None`` when there is no value on or before day +30 (within follow-up).
    """
    d, a = _per_day(day, anc)
    if censor_day is not None:
        keep = d <= censor_day
        d, a = d[keep], a[keep]
    if d.size == 0 or d[0] > EARLY_END_DAY:
        return None
    start = max(0, int(d[0]))
    stop = int(d[-1])
    if stop < start:  # only values before day 0: nothing to count
        return 0
    grid = np.arange(start, stop + 1)
    idx = np.searchsorted(d, grid, side="right") - 1
    state = _fill_blips(a[idx] <= threshold)
    end = min(EARLY_END_DAY, stop)
    in_window = grid <= end
    if end == EARLY_END_DAY and state[grid == EARLY_END_DAY].any():
        k = int(np.nonzero(grid == EARLY_END_DAY)[0][0])
        while k + 1 < grid.size and state[k + 1]:
            k += 1
        in_window = grid <= grid[k]
    return int(np.count_nonzero(state & in_window))


def anc_recovery_day(day, anc) -> int | None:
    """CIBMTR ANC recovery day (first of three consecutive values >= 0.5 after the nadir)."""
    d, a = _per_day(day, anc)
    keep = d >= 0
    d, a = d[keep], a[keep]
    early = d <= EARLY_END_DAY
    if not early.any():
        return None
    nadir = int(np.argmin(np.where(early, a, np.inf)))
    if a[nadir] >= RECOVERY_ANC:
        return None
    ok = a >= RECOVERY_ANC
    for i in range(nadir + 1, d.size - RECOVERY_VALUES + 1):
        if ok[i : i + RECOVERY_VALUES].all():
            return int(d[i])
    return None


@dataclasses.dataclass(frozen=True)
class Icaht:
    """ICAHT components and grades of one infusion (None: not assessable)."""

    days_anc_le_500: int | None
    days_anc_le_100: int | None
    early_grade: int | None
    late_grade: int | None
    nadir_anc: float | None
    neutropenic: bool | None
    recovery_day: int | None


def icaht(day, anc, *, censor_day: int | None = None) -> Icaht:
    """ICAHT of one infusion from its ANC series.

    Parameters
    ----------
    day : array of int
        Days from the infusion (day 0) of each value.
    anc : array of float
        ANC in 10^9/L.
    censor_day : int, optional
        Day of progression, a later line of therapy or death: later values are ignored.

    Examples
    --------
    ANC <= 0.5 from day 2 to day 11 (10 days) with two of them <= 0.1, recovered from day 12:

    >>> r = icaht([0, 2, 5, 6, 12, 13, 14, 60], [2.0, 0.4, 0.05, 0.3, 0.6, 0.9, 1.2, 1.8])
    >>> r.days_anc_le_500, r.days_anc_le_100, r.early_grade, r.recovery_day, r.late_grade
    (10, 1, 2, 12, 0)
    """
    d, a = _per_day(day, anc)
    if censor_day is not None:
        keep = d <= censor_day
        d, a = d[keep], a[keep]
    d500 = neutropenia_days(d, a, ANC_500)
    d100 = neutropenia_days(d, a, ANC_100)
    early = None if d500 is None else early_icaht_grade(d500, d100 or 0)
    late_vals = a[d > EARLY_END_DAY]
    late = late_icaht_grade(late_vals)
    window = (d >= 0) & (d <= EARLY_END_DAY)
    nadir = float(a[window].min()) if window.any() else None
    return Icaht(
        days_anc_le_500=d500,
        days_anc_le_100=d100,
        early_grade=early,
        late_grade=late,
        nadir_anc=nadir,
        neutropenic=None if nadir is None else nadir < RECOVERY_ANC,
        recovery_day=anc_recovery_day(d, a),
    )


ICAHT_COLUMNS = [f.name for f in dataclasses.fields(Icaht)]


def icaht_table(df: pd.DataFrame, censor: pd.Series | None = None) -> pd.DataFrame:
    """ICAHT of every infusion of a long ANC frame.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``infusion_id``, ``day`` (days from the infusion) and ``anc`` (10^9/L).
    censor : pandas.Series, optional
        Censoring day per infusion (index: infusion_id; NaN: none).

    Returns
    -------
    pandas.DataFrame
        One row per infusion present in ``df``: ``infusion_id`` and :class:`Icaht`'s fields
        (nullable integers).
    """
    rows = []
    if not df.empty:
        s = df.sort_values(["infusion_id", "day"], kind="stable")
        ids = s["infusion_id"].to_numpy()
        day = s["day"].to_numpy(dtype=np.int64)
        anc = s["anc"].to_numpy(dtype=float)
        cuts = np.r_[0, np.nonzero(ids[1:] != ids[:-1])[0] + 1, ids.size]
        cmap = {} if censor is None else censor.dropna().to_dict()
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
            iid = ids[lo]
            c = cmap.get(iid)
            r = icaht(day[lo:hi], anc[lo:hi], censor_day=None if c is None else int(c))
            rows.append({"infusion_id": iid, **dataclasses.asdict(r)})
    out = pd.DataFrame(rows, columns=["infusion_id", *ICAHT_COLUMNS])
    for c in ("days_anc_le_500", "days_anc_le_100", "early_grade", "late_grade", "recovery_day"):
        out[c] = pd.array(out[c], dtype="Int64")
    out["nadir_anc"] = pd.to_numeric(out["nadir_anc"]).astype(float)
    out["neutropenic"] = pd.array(out["neutropenic"], dtype="boolean")
    return out
