"""ICAHT grading (EHA/EBMT 2023): one hand-checkable case per boundary of each grade, the
counting rules of the ANC series, and CIBMTR ANC recovery.

Series are written as {day: ANC in 10^9/L}; between samples the last value holds, so
``{0: 2.0, 3: 0.4, 10: 2.0}`` is neutropenic (<= 0.5) on days 3-9: 7 days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cartlens.model.icaht import (
    anc_recovery_day,
    early_icaht_grade,
    icaht,
    icaht_table,
    late_icaht_grade,
    neutropenia_days,
)


def _run(series: dict[int, float], **kw):
    days = sorted(series)
    return icaht(days, [series[d] for d in days], **kw)


# ---- early ICAHT: the grade table --------------------------------------------------------


@pytest.mark.parametrize(
    ("d500", "d100", "grade"),
    [
        (0, 0, 0),  # never <= 500/uL
        (1, 0, 1),  # grade 1 starts at 1 day
        (6, 0, 1),  # ... and ends at 6 days
        (7, 0, 2),  # grade 2: 7-13 days
        (13, 0, 2),
        (14, 0, 3),  # grade 3: 14-30 days
        (30, 0, 3),
        (31, 0, 4),  # grade 4: > 30 days
        (10, 6, 2),  # <= 100/uL for 6 days does not reach grade 3
        (10, 7, 3),  # <= 100/uL for >= 7 days: grade 3
        (13, 13, 3),
        (14, 14, 4),  # <= 100/uL for >= 14 days: grade 4 even though <= 500 gives 3
    ],
)
def test_early_grade_boundaries(d500, d100, grade):
    assert early_icaht_grade(d500, d100) == grade


def test_early_grade_refuses_impossible_durations():
    with pytest.raises(ValueError):
        early_icaht_grade(3, 5)


@pytest.mark.parametrize(
    ("last_day", "grade"),
    [(4, 1), (9, 1), (10, 2), (16, 2), (17, 3), (33, 3), (34, 4)],
)
def test_early_grade_from_series_at_each_boundary(last_day, grade):
    """ANC 0.4 from day 3 until ``last_day`` (2.0 from then on): last_day - 3 days below, i.e.
    1 (grade 1), 6 (1), 7 (2), 13 (2), 14 (3), 30 (3) and 31 (4). The last two run past day
    30 and are counted to their end."""
    r = _run({0: 2.0, 3: 0.4, last_day: 2.0, 60: 2.0})
    assert r.days_anc_le_500 == last_day - 3
    assert r.early_grade == grade


def test_grade_4_when_neutropenic_from_day_0_past_day_30():
    r = _run({0: 0.3, 45: 0.8, 50: 1.6, 51: 1.7})
    assert r.days_anc_le_500 == 45  # days 0-44, the stretch running on day 30 counts to its end
    assert r.early_grade == 4


def test_profound_neutropenia_component():
    # <= 0.1 on days 2-8 (7 days), <= 0.5 on days 2-11 (10 days): grade 3 through ANC <= 100
    r = _run({0: 1.0, 2: 0.05, 9: 0.3, 12: 0.9, 13: 1.0, 14: 1.1})
    assert (r.days_anc_le_500, r.days_anc_le_100, r.early_grade) == (10, 7, 3)
    # <= 0.1 for 6 days (2-7): stays grade 2
    r = _run({0: 1.0, 2: 0.05, 8: 0.3, 12: 0.9, 13: 1.0, 14: 1.1})
    assert (r.days_anc_le_100, r.early_grade) == (6, 2)


def test_threshold_is_inclusive():
    assert _run({0: 2.0, 5: 0.5, 6: 2.0}).days_anc_le_500 == 1
    assert _run({0: 2.0, 5: 0.51, 6: 2.0}).days_anc_le_500 == 0


# ---- the counting rules --------------------------------------------------------------------


def test_short_rise_is_not_a_recovery():
    """A rise above 0.5 for 2 days between neutropenic days counts as neutropenic (<3 days),
    a rise for 3 days does not."""
    two = _run({0: 2.0, 3: 0.4, 8: 0.7, 10: 0.4, 14: 2.0, 15: 2.0, 16: 2.0})
    assert two.days_anc_le_500 == 11  # days 3-13 including the 2-day rise (8, 9)
    three = _run({0: 2.0, 3: 0.4, 8: 0.7, 11: 0.4, 14: 2.0, 15: 2.0, 16: 2.0})
    assert three.days_anc_le_500 == 8  # days 3-7 and 11-13; the rise on 8-10 is a recovery


def test_durations_are_cumulative_over_the_window():
    r = _run({0: 2.0, 2: 0.3, 6: 2.0, 12: 2.0, 15: 0.3, 19: 2.0, 20: 2.0, 21: 2.0})
    assert r.days_anc_le_500 == 8  # 2-5 and 15-18


def test_nothing_carried_past_the_last_sample_or_before_the_first():
    # first sample on day 5: days 0-4 are unknown; last sample day 9: nothing after it
    assert neutropenia_days([5, 9], [0.2, 0.2], 0.5) == 5
    # a baseline sample before day 0 is carried into day 0
    assert neutropenia_days([-3, 2], [0.2, 2.0], 0.5) == 2


def test_censoring_ignores_later_values():
    s = {0: 0.3, 20: 0.3, 40: 2.0, 41: 2.0, 42: 2.0}
    assert _run(s).days_anc_le_500 == 40
    r = _run(s, censor_day=10)
    assert r.days_anc_le_500 == 1  # only the day-0 value survives: days 0..0
    assert r.late_grade is None


def test_no_values_is_not_assessable():
    r = icaht([], [])
    assert r.early_grade is None and r.late_grade is None and r.recovery_day is None
    assert _run({45: 0.3, 60: 0.2}).early_grade is None  # nothing in days 0-30


def test_worst_value_of_a_day_is_used():
    assert neutropenia_days([0, 3, 3, 4], [2.0, 2.0, 0.4, 2.0], 0.5) == 1


# ---- late ICAHT ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "grade"),
    [
        ([1.6, 1.6], 0),  # above 1500/uL
        ([1.5, 2.0], 0),  # one value is transient
        ([1.5, 1.5], 1),  # two values <= 1500/uL
        ([1.0, 1.0], 2),  # <= 1000/uL
        ([1.01, 1.0], 1),
        ([0.5, 0.5], 3),  # <= 500/uL
        ([0.51, 0.5], 2),
        ([0.1, 0.1], 4),  # <= 100/uL
        ([0.1, 0.11], 3),
        ([], None),  # no value after day 30
    ],
)
def test_late_grade_boundaries(values, grade):
    assert late_icaht_grade(values) == grade


def test_late_grade_uses_only_values_after_day_30():
    r = _run({0: 2.0, 20: 0.3, 30: 0.3, 31: 2.0, 32: 2.0, 33: 2.0, 50: 0.9, 70: 0.8})
    assert r.late_grade == 2


# ---- ANC recovery (CIBMTR) -----------------------------------------------------------------


def test_recovery_is_first_of_three_consecutive_values():
    days = [0, 4, 10, 11, 13, 14, 15]
    assert anc_recovery_day(days, [1.2, 0.1, 0.6, 0.4, 0.5, 0.7, 0.8]) == 13
    # only two consecutive values >= 0.5: not recovered yet
    assert anc_recovery_day([0, 4, 10, 11], [1.2, 0.1, 0.6, 0.5]) is None


def test_recovery_counts_only_after_the_nadir():
    # the values >= 0.5 on days 1-3 precede the nadir (day 5) and do not count
    assert anc_recovery_day([1, 2, 3, 5, 9, 10, 11], [0.9, 0.8, 0.6, 0.05, 0.5, 0.6, 0.7]) == 9


def test_never_neutropenic_has_no_recovery():
    r = _run({0: 1.0, 7: 0.6, 14: 0.9})
    assert r.neutropenic is False and r.recovery_day is None and r.early_grade == 0


# ---- table over infusions --------------------------------------------------------------------


def test_table_is_per_infusion_and_independent_of_row_order():
    rows = []
    for iid, s in {
        "A": {0: 0.3, 45: 0.8, 50: 1.6, 51: 1.7},
        "B": {0: 2.0, 3: 0.4, 10: 2.0, 11: 2.0, 12: 2.0, 13: 0.2},  # censored on day 12
    }.items():
        rows += [{"infusion_id": iid, "day": d, "anc": v} for d, v in s.items()]
    df = pd.DataFrame(rows)
    out = icaht_table(df, pd.Series({"A": np.nan, "B": 12.0}))
    shuffled = icaht_table(df.sample(frac=1, random_state=1), pd.Series({"B": 12.0}))
    pd.testing.assert_frame_equal(out, shuffled)
    a = out.set_index("infusion_id")
    assert a.loc["A", "early_grade"] == 4 and a.loc["B", "early_grade"] == 2
    assert a.loc["B", "recovery_day"] == 10 and a.loc["B", "days_anc_le_500"] == 7
