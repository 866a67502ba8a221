"""Median follow-up (reverse Kaplan-Meier) against R (tests/data/reference)."""

from __future__ import annotations

import numpy as np
import pytest
from _km_reference import FOLLOWUP_CASES, assert_close, label_value, load

from cartlens.errors import InputError, NoEventsWarning
from cartlens.stats.followup import median_followup

CONF = {"log": "log", "log_log": "log-log", "plain": "plain"}


@pytest.mark.parametrize("case", list(FOLLOWUP_CASES), ids=lambda c: f"{c[0]}-{c[1]}")
@pytest.mark.parametrize("conf", list(CONF))
def test_reverse_km_median_matches_survfit(case, conf):
    """``summary(survfit(Surv(time, <censored>) ~ group, conf.type = conf))$table``
    (``followup_reverse_km`` blocks): records, number censored, median follow-up and CI."""
    ds, name = case
    loader, time, event, group = FOLLOWUP_CASES[case]
    block = load(ds)["followup_reverse_km"][name]
    d = loader()
    res = median_followup(
        d[time], d[event], group=None if group is None else d[group], conf_type=CONF[conf]
    )
    got = {g["group"]: g for g in res.groups}
    assert len(got) == len(block["groups"])
    for label, want in block["groups"].items():
        g = got[label_value(label)]
        assert g["n"] == want["records"]
        assert g["censored"] == want["events"]
        m = want["median"][conf]
        assert_close(g["median"], m["median"], what=f"{label} median")
        assert_close(g["median_lower"], m["lower"], what=f"{label} lower")
        assert_close(g["median_upper"], m["upper"], what=f"{label} upper")


def test_hand_example():
    """Censored at 2, 4, 6, events at 1, 3, 5. Reverse KM: t=2, 5 at risk, 1 'event' -> 0.8;
    t=4, 3 at risk -> 0.8 * 2/3; t=6, 1 at risk -> 0. First value <= 0.5 is at 6."""
    res = median_followup([1, 2, 3, 4, 5, 6], [1, 0, 1, 0, 1, 0])
    c = res.fit.curve()
    np.testing.assert_allclose(c.surv[[1, 3, 5]], [0.8, 0.8 * 2 / 3, 0])
    assert res.groups[0]["median"] == 6
    assert res.groups[0]["censored"] == 3


def test_everyone_had_the_event_warns():
    with pytest.warns(NoEventsWarning):
        res = median_followup([1, 2, 3], [1, 1, 1])
    assert np.isnan(res.groups[0]["median"])
    assert res.to_dict()["groups"][0]["median"] is None


def test_bad_input():
    with pytest.raises(InputError) as exc:
        median_followup([1, 2], [1, 5])
    assert exc.value.column == "event"
