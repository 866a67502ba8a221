"""Landmark analysis of an exposure that happens after time zero.

At a landmark time ``L``: keep the subjects still alive and event-free (and under follow-up)
after ``L`` (``time > L``), fix each subject's exposure status at ``L`` (exposed when the
exposure happened at or before ``L``), and measure time from ``L``. Exposures after ``L``
are ignored (the subject stays in the unexposed group), which is what makes the comparison
free of immortal-time bias. Kaplan-Meier curves and medians come from
:func:`cartlens.stats.km.kaplan_meier`, the log-rank test from
:func:`cartlens.stats.logrank.logrank_test`.

:func:`landmark_series` runs several landmarks side by side.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cartlens.errors import InputError, SparseDataWarning
from cartlens.results import Result

GROUP_LABELS = ("unexposed", "exposed")


@dataclasses.dataclass(frozen=True, eq=False)
class LandmarkResult(Result):
    """One landmark analysis.

    Attributes
    ----------
    landmark : float
        The landmark time (on the original time scale).
    n_at_landmark, n_excluded : int
        Subjects kept (``time > landmark``) and excluded (event or censored by the landmark).
    events_before : int
        Events before or at the landmark (excluded subjects with an event).
    groups : tuple of dict
        Per exposure group: ``group``, ``n``, ``events``, ``median``, ``median_lower``,
        ``median_upper`` (times from the landmark).
    km : KMResult or None
        Kaplan-Meier fit by exposure status, on time since the landmark.
    logrank : LogrankResult or None
        Log-rank test (None when only one group remains).
    survival : tuple of dict
        With ``times``: per group and time since the landmark, ``group``, ``time``,
        ``n_risk``, ``surv``, ``std_err``, ``lower``, ``upper`` (``summary(fit, times =,
        extend = TRUE)`` on the landmark data).
    cox : dict or None
        Cox model (Efron ties) of exposed vs unexposed on the landmark data (time since the
        landmark): ``term``, ``coef``, ``se``, ``hr``, ``lower``, ``upper``, ``z``, ``p``
        (Wald), ``lr_p`` (likelihood ratio), ``n``, ``events``; None without two groups or
        without events.
    """

    landmark: float
    n_at_landmark: int
    n_excluded: int
    events_before: int
    groups: tuple
    km: Any
    logrank: Any
    chisq: float
    df: int
    p: float
    settings: dict
    survival: tuple = ()
    cox: dict | None = None

    def row(self) -> dict:
        """A flat dict for side-by-side tables."""
        out = {
            "landmark": self.landmark,
            "n": self.n_at_landmark,
            "excluded": self.n_excluded,
            "chisq": self.chisq,
            "p": self.p,
        }
        for g in self.groups:
            lab = g["group"]
            out[f"n_{lab}"] = g["n"]
            out[f"events_{lab}"] = g["events"]
            out[f"median_{lab}"] = g["median"]
        if self.cox is not None:
            out["hr"] = self.cox["hr"]
            out["hr_lower"] = self.cox["lower"]
            out["hr_upper"] = self.cox["upper"]
            out["hr_p"] = self.cox["p"]
        for s in self.survival:
            out[f"surv_{s['group']}_{s['time']:g}"] = s["surv"]
        return out


@dataclasses.dataclass(frozen=True, eq=False)
class LandmarkSeries(Result):
    """Several landmark analyses of the same data."""

    results: tuple

    def table(self) -> list[dict]:
        """One flat row per landmark (see :meth:`LandmarkResult.row`)."""
        return [r.row() for r in self.results]


def _arrays(
    time: Any, event: Any, exposure_time: Any, names: Mapping[str, str] | None = None
) -> tuple[np.ndarray, ...]:
    """Validated arrays; ``names`` (keys ``time``, ``event``, ``exposure_time``) are the names
    used in error messages, e.g. the CSV columns (default: the argument names)."""
    from cartlens.stats._surv import check_survival_input

    x_name = str((names or {}).get("exposure_time") or "exposure_time")
    sv_names = {k: v for k, v in (names or {}).items() if k in ("time", "event") and v}
    # the shared survival checks: finite, non-negative times, 0/1 events, equal lengths
    t, ev, _, _ = check_survival_input(time, event, names=sv_names)
    try:
        x = np.asarray(exposure_time, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"values must be numbers ({exc})", column=x_name) from None
    if x.ndim != 1 or x.size != t.size:
        raise InputError(
            f"must be one-dimensional with one value per time ({t.size})", column=x_name
        )
    bad = np.isinf(x) | (x < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"value {x[i]:g} at row {i + 1} is not a finite time >= 0 (leave it missing for "
            "never exposed)",
            column=x_name,
        )
    late = np.isfinite(x) & (x > t)
    if late.any():
        i = int(np.flatnonzero(late)[0])
        raise InputError(
            f"row {i + 1}: exposure at {x[i]:g} is after death or last follow-up ({t[i]:g})",
            column=x_name,
        )
    return t, ev.astype(int), x


def landmark_analysis(
    time: Any,
    event: Any,
    exposure_time: Any,
    landmark: float,
    *,
    labels: Sequence[str] = GROUP_LABELS,
    conf_type: str = "log",
    conf_level: float = 0.95,
    rho: float = 0.0,
    names: Mapping[str, str] | None = None,
    times: Sequence[float] | None = None,
    cox: bool = True,
) -> LandmarkResult:
    """Landmark analysis at ``landmark`` (times measured from time zero).

    Parameters
    ----------
    time : array_like
        Follow-up time from time zero (death/event or last contact).
    event : array_like
        1 = event at ``time``, 0 = censored.
    exposure_time : array_like
        Time of the exposure from time zero; NaN = never exposed.
    landmark : float
        Landmark time.
    labels : (str, str)
        Names of the unexposed and exposed groups.
    conf_type, conf_level : str, float
        Passed to :func:`cartlens.stats.km.kaplan_meier`.
    rho : float
        Fleming-Harrington exponent of the log-rank test (0 = log-rank).
    names : mapping, optional
        Names for error messages, keys ``time``, ``event``, ``exposure_time`` (e.g. the CSV
        column names); default the argument names.
    times : sequence of float, optional
        Times **since the landmark** at which to report S(t) per group with its CI (the
        conditional survival given event-free at the landmark).
    cox : bool
        Also fit the Cox model of exposure on the landmark data (hazard ratio exposed vs
        unexposed, as ``coxph(Surv(time - L, event) ~ exposed, subset = time > L)``).

    Returns
    -------
    LandmarkResult

    Warns
    -----
    SparseDataWarning
        When a group is empty at the landmark (no test).

    References
    ----------
    Anderson JR, Cain KC, Gelber RD. Analysis of survival by tumor response. J Clin Oncol
    1983;1:710-719.
    Dafni U. Landmark analysis at the 25-year landmark point. Circ Cardiovasc Qual Outcomes
    2011;4:363-371.
    """
    from cartlens.stats.km import kaplan_meier
    from cartlens.stats.logrank import logrank_test

    t, e, x = _arrays(time, event, exposure_time, names)
    L = float(landmark)
    if not math.isfinite(L) or L < 0:
        raise InputError("must be a finite time >= 0", column="landmark")
    keep = t > L
    exposed = np.isfinite(x) & (x <= L)
    tl = t[keep] - L
    el = e[keep]
    gl = np.where(exposed[keep], labels[1], labels[0])
    groups = []
    km = None
    lr = None
    chisq, df, p = math.nan, 0, math.nan
    if keep.sum() > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SparseDataWarning)
            km = kaplan_meier(tl, el, group=gl, conf_type=conf_type, conf_level=conf_level)
        for lab in labels:
            sel = gl == lab
            if not sel.any():
                groups.append(
                    {
                        "group": lab,
                        "n": 0,
                        "events": 0,
                        "median": math.nan,
                        "median_lower": math.nan,
                        "median_upper": math.nan,
                    }
                )
                continue
            c = km.curve(lab)
            groups.append(
                {
                    "group": lab,
                    "n": int(sel.sum()),
                    "events": int(el[sel].sum()),
                    "median": c.median,
                    "median_lower": c.median_lower,
                    "median_upper": c.median_upper,
                }
            )
    surv_rows: list[dict] = []
    if times is not None:
        tt = np.asarray(list(times), dtype=float)
        if tt.size == 0 or not np.all(np.isfinite(tt)) or np.any(tt < 0):
            raise InputError(
                "must be finite times >= 0 (measured from the landmark)", column="times"
            )
        if km is not None:
            for lab in labels:
                if not (gl == lab).any():
                    continue
                sa = km.curve(lab).survival_at(tt)
                for j, tv in enumerate(sa.time):
                    surv_rows.append(
                        {
                            "group": lab,
                            "time": float(tv),
                            "n_risk": float(sa.n_risk[j]),
                            "surv": float(sa.surv[j]),
                            "std_err": float(sa.std_err[j]),
                            "lower": float(sa.lower[j]),
                            "upper": float(sa.upper[j]),
                        }
                    )
    present = [g for g in groups if g["n"] > 0]
    cox_row = None
    if len(present) == 2:
        lr = logrank_test(tl, el, gl, rho=rho)
        chisq, df, p = lr.chisq, lr.df, lr.p
        if cox and el.sum() > 0:
            from cartlens.stats.cox import coxph

            x = (gl == labels[1]).astype(float)[:, None]
            fit = coxph(
                tl,
                el,
                x,
                names=[f"{labels[1]} vs {labels[0]}"],
                concordance=False,
                conf_level=conf_level,
            )
            cox_row = {
                **fit.terms_table()[0],
                "lr_p": float(fit.lr_test["p"]),
                "n": int(fit.n),
                "events": int(fit.events),
            }
    else:
        warnings.warn(
            f"landmark {L:g}: fewer than two exposure groups are at risk; no log-rank test",
            SparseDataWarning,
            stacklevel=2,
        )
    return LandmarkResult(
        landmark=L,
        n_at_landmark=int(keep.sum()),
        n_excluded=int((~keep).sum()),
        events_before=int(e[~keep].sum()),
        groups=tuple(groups),
        km=km,
        logrank=lr,
        chisq=chisq,
        df=df,
        p=p,
        survival=tuple(surv_rows),
        cox=cox_row,
        settings={
            "rule": "kept: time > landmark; exposed: exposure_time <= landmark",
            "labels": tuple(labels),
            "conf_type": conf_type,
            "conf_level": conf_level,
            "rho": rho,
        },
    )


def landmark_series(
    time: Any, event: Any, exposure_time: Any, landmarks: Sequence[float], **kwargs: Any
) -> LandmarkSeries:
    """:func:`landmark_analysis` at each of ``landmarks``, side by side."""
    if len(landmarks) == 0:
        raise InputError("give at least one landmark", column="landmarks")
    return LandmarkSeries(
        results=tuple(
            landmark_analysis(time, event, exposure_time, lm, **kwargs) for lm in landmarks
        )
    )
