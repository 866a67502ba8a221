"""Time-dependent exposure: Mantel-Byar test, Simon-Makuch curves, splitting at exposure.

* :func:`split_at_exposure`: one row per subject (time, event, exposure time) -> (start, stop]
  rows with a 0/1 exposure indicator (via :func:`cartlens.stats.tmerge.tmerge`).
* :func:`mantel_byar_test`: the score test of a time-varying 0/1 exposure, i.e.
  ``coxph(Surv(start, stop, event) ~ exposure)``'s score test. With Breslow ties (default) it
  is the Mantel-Byar test and has the closed form
  ``U = sum_t (d1_t - d_t n1_t / n_t)``, ``V = sum_t d_t (n1_t / n_t)(1 - n1_t / n_t)``,
  ``chi2 = U^2 / V``, where ``n_t`` / ``n1_t`` count the intervals at risk (start < t <= stop)
  overall / exposed. ``ties="efron"`` uses the Cox score test of
  :func:`cartlens.stats.cox.coxph`.
* :func:`simon_makuch`: Kaplan-Meier curves by the time-varying exposure on (start, stop] data,
  where subjects move from the unexposed to the exposed curve when exposed
  (``survfit(Surv(start, stop, event) ~ exposure)``).

A time-dependent Cox model is :func:`cartlens.stats.cox.coxph` with ``entry=start``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from scipy import stats as _st

from cartlens.errors import InputError
from cartlens.results import Result


@dataclasses.dataclass(frozen=True, eq=False)
class MantelByarResult(Result):
    """Score test of a time-varying exposure."""

    stat: float
    df: int
    p: float
    score: float
    variance: float
    observed_exposed: float
    expected_exposed: float
    n_intervals: int
    n_subjects: int | None
    events: int
    ties: str


def _cp_arrays(start: Any, stop: Any, event: Any, exposure: Any, id: Any = None):
    from cartlens.stats.tmerge import validate_intervals

    s = np.asarray(start, dtype=float)
    e = np.asarray(stop, dtype=float)
    ev = np.asarray(event, dtype=float)
    x = np.asarray(exposure, dtype=float)
    if not (s.shape == e.shape == ev.shape == x.shape) or s.ndim != 1:
        raise InputError("start, stop, event and exposure must have equal length", column="start")
    for name, a in (("event", ev), ("exposure", x)):
        if np.isnan(a).any() or not np.all(np.isin(a, (0.0, 1.0))):
            i = int(np.flatnonzero(np.isnan(a) | ~np.isin(a, (0.0, 1.0)))[0])
            raise InputError(f"value at row {i + 1} is not 0/1", column=name)
    ids = np.arange(s.size) if id is None else np.asarray(id)
    validate_intervals(ids, s, e)
    return s, e, ev, x


def mantel_byar_test(
    start: Any,
    stop: Any,
    event: Any,
    exposure: Any,
    *,
    id: Any = None,
    ties: str = "breslow",
) -> MantelByarResult:
    """Mantel-Byar test of a time-varying 0/1 exposure on (start, stop] data.

    Parameters
    ----------
    start, stop, event : array_like
        Counting-process rows: at risk on (start, stop], 1 = event at stop.
    exposure : array_like
        0/1 exposure status on the row's interval.
    id : array_like, optional
        Subject of each row; used to check that a subject's intervals do not overlap.
    ties : {"breslow", "efron"}
        "breslow" (default) is the Mantel-Byar test (closed form); "efron" is the score test
        of ``coxph(..., ties = "efron")``.

    Returns
    -------
    MantelByarResult

    References
    ----------
    Mantel N, Byar DP. Evaluation of response-time data involving transient states: an
    illustration using heart-transplant data. J Am Stat Assoc 1974;69:81-86.
    """
    s, e, ev, x = _cp_arrays(start, stop, event, exposure, id)
    if ties not in ("breslow", "efron"):
        raise InputError("must be 'breslow' or 'efron'", column="ties")
    evt = np.unique(e[ev == 1])
    if evt.size == 0:
        raise InputError("no events", column="event")
    # at risk at t: start < t <= stop.  n(t) = #(stop >= t) - #(start >= t)
    ss, es = np.sort(s), np.sort(e)
    xs_s, xs_e = np.sort(s[x == 1]), np.sort(e[x == 1])
    n = (e.size - np.searchsorted(es, evt, "left")) - (s.size - np.searchsorted(ss, evt, "left"))
    n1 = (xs_e.size - np.searchsorted(xs_e, evt, "left")) - (
        xs_s.size - np.searchsorted(xs_s, evt, "left")
    )
    k = np.searchsorted(evt, e[ev == 1])
    d = np.bincount(k, minlength=evt.size).astype(float)
    d1 = np.bincount(k, weights=x[ev == 1], minlength=evt.size)
    p1 = n1 / n
    U = float(np.sum(d1 - d * p1))
    obs = float(d1.sum())
    exp_ = float(np.sum(d * p1))
    if ties == "breslow":
        V = float(np.sum(d * p1 * (1 - p1)))
        stat = U * U / V if V > 0 else math.nan
        p = float(_st.chi2.sf(stat, 1)) if V > 0 else math.nan
    else:
        from cartlens.stats.cox import coxph

        fit = coxph(e, ev.astype(int), x[:, None], entry=s, ties="efron", names=["exposure"])
        stat, p = float(fit.score_test["stat"]), float(fit.score_test["p"])
        V = U * U / stat if stat > 0 else math.nan
    nsub = None if id is None else int(np.unique(np.asarray(id)).size)
    return MantelByarResult(
        stat=stat,
        df=1,
        p=p,
        score=U,
        variance=V,
        observed_exposed=obs,
        expected_exposed=exp_,
        n_intervals=int(s.size),
        n_subjects=nsub,
        events=int(ev.sum()),
        ties=ties,
    )


def split_at_exposure(time: Any, event: Any, exposure_time: Any, *, entry: float = 0.0) -> dict:
    """One row per subject -> (start, stop] rows split at the exposure time.

    Returns a dict of arrays ``id`` (row index of the subject, 0-based), ``start``, ``stop``,
    ``event``, ``exposure``. An exposure at or before ``entry`` makes the whole follow-up
    exposed; an exposure after ``time`` is an :class:`InputError`.
    """
    import pandas as pd

    from cartlens.stats.tmerge import tmerge

    t = np.asarray(time, dtype=float)
    subj = pd.DataFrame(
        {
            "id": np.arange(t.size),
            "time": t,
            "event": np.asarray(event, dtype=float),
            "exposure_time": np.asarray(exposure_time, dtype=float),
        }
    )
    res = tmerge(
        subj,
        id="id",
        futime="time",
        status="event",
        entry=entry,
        tdc={"exposure": "exposure_time"},
        start_name="start",
        stop_name="stop",
        keep=[],
    )
    d = res.data
    return {c: d[c].to_numpy() for c in ("id", "start", "stop", "event", "exposure")}


def simon_makuch(
    start: Any,
    stop: Any,
    event: Any,
    exposure: Any,
    *,
    id: Any = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
):
    """Simon-Makuch curves: KM by a time-varying exposure on (start, stop] data.

    Same as R's ``survfit(Surv(start, stop, event) ~ exposure)``: a subject contributes to
    the unexposed curve until exposed and to the exposed curve afterwards.

    Returns
    -------
    KMResult
        Curves for exposure 0 and 1 (from :func:`cartlens.stats.km.kaplan_meier`).

    References
    ----------
    Simon R, Makuch RW. A non-parametric graphical representation of the relationship
    between survival and the occurrence of an event: application to responder versus
    non-responder bias. Stat Med 1984;3:35-44.
    """
    from cartlens.stats.km import kaplan_meier

    s, e, ev, x = _cp_arrays(start, stop, event, exposure, id)
    return kaplan_meier(
        e, ev.astype(int), entry=s, group=x.astype(int), conf_type=conf_type, conf_level=conf_level
    )
