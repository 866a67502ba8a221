"""Median follow-up by the reverse Kaplan-Meier method.

The censoring indicator is reversed (a censoring becomes the "event", an event a censoring)
and the Kaplan-Meier median of that curve is the median potential follow-up: the time a
patient would have been followed had the event not occurred. The median and its CI use
exactly the rules of :mod:`cartlens.stats.km` (R's ``summary(survfit(Surv(time, status ==
0) ~ group))$table``, midpoint rule included).

References
----------
Schemper M, Smith TL. A note on quantifying follow-up in studies of failure time. Control
Clin Trials 1996;17:343-346.

Therneau TM. survival 3.5-3, ``survfit``.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from cartlens.errors import NoEventsWarning
from cartlens.results import Result
from cartlens.stats._surv import check_survival_input
from cartlens.stats.km import KMResult, kaplan_meier

__all__ = ["FollowupResult", "median_followup"]


@dataclasses.dataclass(frozen=True, eq=False)
class FollowupResult(Result):
    """Median follow-up per group by reverse Kaplan-Meier.

    Attributes
    ----------
    groups : tuple of dict
        Per group (sorted; ``None`` for one curve): ``group``, ``n``, ``censored`` (the
        reverse-KM "events"), ``median``, ``median_lower``, ``median_upper`` (NaN when not
        reached), and ``min`` / ``max`` observed follow-up.
    conf_type, conf_level : str, float
    fit : KMResult
        The reverse Kaplan-Meier fit itself (curves of the censoring distribution).
    """

    groups: tuple[dict, ...]
    conf_type: str
    conf_level: float
    fit: KMResult
    method: str = "reverse Kaplan-Meier"


def median_followup(
    time: Any,
    event: Any,
    *,
    group: Any = None,
    entry: Any = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
    names: dict | None = None,
) -> FollowupResult:
    """Median follow-up by reverse Kaplan-Meier.

    Parameters
    ----------
    time, event : array_like
        Follow-up time and the *event* indicator of the analysis (1 = event, 0 = censored);
        it is reversed internally.
    group : array_like, optional
        Group labels: one median per group.
    entry : array_like, optional
        Entry times for left-truncated data.
    conf_type : {"log", "log-log", "plain"}
    conf_level : float

    Returns
    -------
    FollowupResult

    Warns
    -----
    NoEventsWarning
        When a group has no censored observation (everyone had the event): the reverse KM
        stays at 1 and the median follow-up is not reached.

    References
    ----------
    Schemper M, Smith TL. Control Clin Trials 1996;17:343-346.
    """
    t, e, en, _ = check_survival_input(time, event, entry, None, names=names)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NoEventsWarning)
        fit = kaplan_meier(
            t,
            1 - e,
            entry=en,
            group=group,
            conf_type=conf_type,
            conf_level=conf_level,
            names=names,
        )
    for w in caught:
        if issubclass(w.category, NoEventsWarning):
            warnings.warn(
                "no censored observations"
                + ("" if group is None else " in some group")
                + ": the reverse Kaplan-Meier stays at 1 and the median follow-up is not "
                "reached",
                NoEventsWarning,
                stacklevel=2,
            )
        else:
            warnings.warn(w.message, w.category, stacklevel=2)
    rows = []
    for c in fit.curves:
        rows.append(
            {
                "group": c.group,
                "n": c.n,
                "censored": int(round(c.events)),
                "median": c.median,
                "median_lower": c.median_lower,
                "median_upper": c.median_upper,
                "min": float(np.min(c.time)),
                "max": float(np.max(c.time)),
            }
        )
    return FollowupResult(tuple(rows), conf_type, conf_level, fit)
