"""Immortal-time guard: warn when groups are defined by an event after time zero.

If a comparison's groups are defined by an exposure (e.g. allo-HSCT) that happens *after* the
analysis' time zero (e.g. CAR-T infusion), exposed subjects are by construction alive and
event-free until their exposure: that "immortal" time biases a plain Kaplan-Meier / log-rank /
Cox comparison in favour of the exposed group. :func:`check_immortal_time` detects this and
raises :class:`cartlens.errors.ImmortalTimeWarning` naming the remedies:

* a landmark analysis (:func:`cartlens.stats.landmark.landmark_analysis`);
* a Cox model with the exposure as a time-dependent covariate
  (:func:`cartlens.stats.tmerge.tmerge` or :func:`cartlens.stats.timedep.split_at_exposure`,
  then :func:`cartlens.stats.cox.coxph` with ``entry=``);
* the Mantel-Byar test (:func:`cartlens.stats.timedep.mantel_byar_test`);
* Simon-Makuch curves (:func:`cartlens.stats.timedep.simon_makuch`).

Those functions handle the exposure correctly and do not warn.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np

from cartlens.errors import ImmortalTimeWarning, InputError
from cartlens.results import Result

REMEDIES = (
    "a landmark analysis (cartlens.stats.landmark.landmark_analysis)",
    "a Cox model with the exposure as a time-dependent covariate "
    "(tmerge / split_at_exposure, then coxph with entry=)",
    "the Mantel-Byar test (cartlens.stats.timedep.mantel_byar_test)",
    "Simon-Makuch curves (cartlens.stats.timedep.simon_makuch)",
)


@dataclasses.dataclass(frozen=True)
class ImmortalTimeCheck(Result):
    """Outcome of :func:`check_immortal_time`.

    ``delays`` summarise exposure time minus time zero among the exposed, in the input's
    units (days for dates).
    """

    exposure: str
    n: int
    n_exposed: int
    n_after_time_zero: int
    median_delay: float
    max_delay: float
    at_risk: bool
    remedies: tuple


def _as_times(x: Any, n: int | None, name: str) -> np.ndarray:
    """Float times; dates (numpy/pandas datetime) become days since the epoch."""
    import pandas as pd

    a = np.asarray(x)
    if a.dtype.kind in "OUSM" or isinstance(x, pd.Series | pd.Index) and a.dtype.kind == "M":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
                d = pd.to_datetime(pd.Series(np.atleast_1d(a)), errors="raise")
        except (ValueError, TypeError) as exc:
            if a.dtype.kind in "OUS":
                try:
                    return np.atleast_1d(a).astype(float)
                except ValueError:
                    pass
            raise InputError(f"must be numbers or dates ({exc})", column=name) from exc
        out = (d - pd.Timestamp(0)).dt.total_seconds().to_numpy() / 86400.0
        return out
    try:
        out = np.atleast_1d(a).astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"must be numbers or dates ({exc})", column=name) from exc
    return out


def check_immortal_time(
    time_zero: Any,
    exposure_time: Any,
    *,
    exposure: str = "exposure",
    time_zero_name: str = "time zero",
    warn: bool = True,
    stacklevel: int = 2,
) -> ImmortalTimeCheck:
    """Warn when a group-defining exposure is dated after the analysis' time zero.

    Parameters
    ----------
    time_zero : scalar or array_like
        Start of follow-up per subject (a number, or dates), or one value for all (e.g. 0
        when ``exposure_time`` is already measured from time zero).
    exposure_time : array_like
        Time (or date) of the exposure that defines the groups; missing (NaN/NaT/None) =
        never exposed.
    exposure : str
        Name of the exposure, used in the message (e.g. "allo-HSCT after CART1").
    time_zero_name : str
        Name of time zero, used in the message (e.g. "CART1 infusion").
    warn : bool
        Raise the warning (default); False only computes the check.

    Returns
    -------
    ImmortalTimeCheck

    Warns
    -----
    ImmortalTimeWarning
        When at least one exposed subject's exposure is after time zero.

    References
    ----------
    Suissa S. Immortal time bias in pharmaco-epidemiology. Am J Epidemiol 2008;167:492-499.
    Levesque LE, Hanley JA, Kezouh A, Suissa S. Problem of immortal time bias in cohort
    studies: example using statins for preventing progression of diabetes. BMJ 2010;340:b5087.
    """
    x = _as_times(exposure_time, None, "exposure_time")
    t0 = _as_times(time_zero, None, "time_zero")
    if t0.size == 1:
        t0 = np.full(x.size, t0[0])
    if t0.size != x.size:
        raise InputError(f"has {t0.size} values but exposure_time has {x.size}", column="time_zero")
    exposed = ~np.isnan(x)
    if np.isnan(t0[exposed]).any():
        i = int(np.flatnonzero(exposed & np.isnan(t0))[0])
        raise InputError(f"missing for exposed subject at row {i + 1}", column="time_zero")
    delay = x[exposed] - t0[exposed]
    after = delay > 0
    n_after = int(after.sum())
    med = float(np.median(delay[after])) if n_after else math.nan
    mx = float(delay.max()) if delay.size else math.nan
    res = ImmortalTimeCheck(
        exposure=exposure,
        n=int(x.size),
        n_exposed=int(exposed.sum()),
        n_after_time_zero=n_after,
        median_delay=med,
        max_delay=mx,
        at_risk=n_after > 0,
        remedies=REMEDIES,
    )
    if n_after and warn:
        warnings.warn(
            f"immortal-time bias: groups are defined by '{exposure}', which for {n_after} of "
            f"{res.n_exposed} exposed subjects happens after {time_zero_name} (median "
            f"{med:g}, up to {mx:g} time units later); exposed subjects cannot have an event "
            "before their exposure, so a plain group comparison favours them. Use "
            + "; ".join(REMEDIES)
            + ".",
            ImmortalTimeWarning,
            stacklevel=stacklevel,
        )
    return res
