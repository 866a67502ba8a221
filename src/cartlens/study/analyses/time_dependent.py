"""The ``time_dependent`` analysis: its spec and its computation."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from cartlens.results import Result
from cartlens.study.analyses.base import (
    AnalysisSpec,
    Context,
    Endpoint,
    finite,
    register,
    risk_times_for,
)


class TimeDependentAnalysis(AnalysisSpec):
    """Exposure dated after time zero: landmark and time-dependent Cox (immortal-time safe)."""

    type: Literal["time_dependent"]
    cohort: str
    endpoint: Endpoint = "os"
    exposure_day: str
    landmark_days: float = Field(180, gt=0)
    #: days since the landmark at which S(t) of each group is reported (none by default)
    landmark_times_days: list[float] = Field(default_factory=list)
    #: the exposure's name in labels ("HSCT" gives "HSCT by landmark"); default: the label
    #: of the ``exposure_day`` variable, else "exposure"
    exposure_label: str = ""

    def columns_used(self) -> tuple[str, ...]:
        return (self.exposure_day, f"{self.endpoint}_days", f"{self.endpoint}_event")


def run(a: TimeDependentAnalysis, ctx: Context) -> tuple[dict, dict, dict]:
    """Naive ever/never comparison beside immortal-time-safe analyses of a dated exposure.

    Uses engineer E's tools: the immortal-time guard, (start, stop] splitting at the
    exposure, a time-dependent Cox model, the Mantel-Byar test, Simon-Makuch curves and a
    landmark analysis.
    """
    study, cohorts = ctx.study, ctx.cohorts
    from cartlens.stats.cox import coxph
    from cartlens.stats.immortal import check_immortal_time
    from cartlens.stats.landmark import landmark_analysis
    from cartlens.stats.timedep import mantel_byar_test, simon_makuch, split_at_exposure

    df = cohorts[a.cohort]
    ctx.require(df, [a.exposure_day], f"analyses.{a.id}.exposure_day")
    ctx.require(df, [f"{a.endpoint}_days"], f"analyses.{a.id}.endpoint")
    name = a.exposure_label or (
        ctx.variable_label(a.exposure_day) if a.exposure_day in ctx.study.variables else "exposure"
    )
    by_lm, not_by_lm = f"{name} by landmark", f"no {name} by landmark"
    scale = ctx.time_scale
    p = study.presentation
    td = df[f"{a.endpoint}_days"].to_numpy(dtype=float)
    ev = df[f"{a.endpoint}_event"].to_numpy(dtype=int)
    xd = df[a.exposure_day].to_numpy(dtype=float)
    xd = np.where(xd < td, xd, np.nan)  # an exposure after the end of follow-up is none
    exposed = ~np.isnan(xd)
    summary: dict[str, Any] = {"n": int(len(df)), "exposed": int(exposed.sum())}
    results: dict[str, Result] = {}
    # the guard: warns (ImmortalTimeWarning) that ever/never groups are immortal-time biased
    results["immortal_check"] = check_immortal_time(0.0, xd, exposure=a.exposure_day)
    naive = coxph(td / scale, ev, exposed.astype(float)[:, None], names=["exposed_ever"])
    results["naive_cox"] = naive
    summary["naive.hr"] = float(naive.hr[0])
    summary["naive.lower"] = float(naive.hr_lower[0])
    summary["naive.upper"] = float(naive.hr_upper[0])
    summary["naive.p"] = float(naive.p[0])
    summary["immortal_person_time"] = float(np.nansum(xd) / scale)
    # time-dependent Cox on (start, stop] rows split at the exposure
    sp = split_at_exposure(td / scale, ev, xd / scale)
    tdc = coxph(
        sp["stop"],
        sp["event"].astype(int),
        sp["exposure"].astype(float)[:, None],
        entry=sp["start"],
        names=["exposed_time_dependent"],
    )
    results["time_dependent_cox"] = tdc
    summary["td.hr"] = float(tdc.hr[0])
    summary["td.lower"] = float(tdc.hr_lower[0])
    summary["td.upper"] = float(tdc.hr_upper[0])
    summary["td.p"] = float(tdc.p[0])
    mb = mantel_byar_test(sp["start"], sp["stop"], sp["event"], sp["exposure"], id=sp["id"])
    results["mantel_byar"] = mb
    summary["mantel_byar.p"] = float(mb.p)
    sm = simon_makuch(sp["start"], sp["stop"], sp["event"], sp["exposure"], id=sp["id"])
    results["simon_makuch"] = sm
    # landmark
    L = a.landmark_days
    lm = landmark_analysis(
        td / scale,
        ev,
        xd / scale,
        L / scale,
        labels=(not_by_lm, by_lm),
        times=[x / scale for x in a.landmark_times_days] or None,
    )
    for row in lm.survival:
        summary[f"landmark.surv.{row['group']}.{row['time'] * scale:g}"] = row["surv"]
    results["landmark"] = lm
    summary["landmark.days"] = L
    summary["landmark.n"] = int(lm.n_at_landmark)
    summary["landmark.excluded"] = int(lm.n_excluded)
    summary["landmark.p"] = lm.p
    lt = lg = None
    if lm.km is not None and len(lm.km.curves) > 1:
        keep = td > L
        lt = (td[keep] - L) / scale
        le = ev[keep]
        lexp = (exposed & (xd <= L))[keep].astype(float)
        summary["landmark.exposed"] = int(lexp.sum())
        lcox = coxph(lt, le, lexp[:, None], names=["exposed_by_landmark"])
        results["landmark_cox"] = lcox
        summary["landmark.hr"] = float(lcox.hr[0])
        summary["landmark.lower"] = float(lcox.hr_lower[0])
        summary["landmark.upper"] = float(lcox.hr_upper[0])
        lg = np.where(lexp == 1, by_lm, not_by_lm)
    times = risk_times_for(p.risk_table_times, float(np.nanmax(td)) / scale if len(td) else 0.0)
    curves = []
    if lm.km is not None:
        for cv in lm.km.curves:
            sel = lg == str(cv.group) if lg is not None else slice(None)
            tt = lt[sel] if lt is not None else np.asarray([])
            curves.append(
                {
                    "group": str(cv.group),
                    "label": str(cv.group),
                    "n": int(cv.n),
                    "events": int(cv.events),
                    "median": finite(cv.median),
                    "median_lower": finite(cv.median_lower),
                    "median_upper": finite(cv.median_upper),
                    "at_risk": [int(np.sum(tt >= x)) for x in times],
                }
            )
    sm_curves = []
    for cv in sm.curves:
        g = int(cv.group)
        sm_curves.append(
            {
                "group": str(g),
                "label": f"after {name}" if g == 1 else f"before / without {name}",
                "n": int(cv.n),
                "events": int(cv.events),
                "median": finite(cv.median),
                # at risk at x: start < x <= stop (at x = 0: the rows that start there)
                "at_risk": [
                    int(
                        np.sum(
                            ((sp["start"] < x) | ((x == 0) & (sp["start"] == 0)))
                            & (sp["stop"] >= x)
                            & (sp["exposure"] == g)
                        )
                    )
                    for x in times
                ],
            }
        )
    details = {
        "landmark_curves": curves,
        "simon_makuch_curves": sm_curves,
        "risk_times": times,
        "exposure_label": name,
        "endpoint": a.endpoint,
        "time_unit": p.time_unit,
        "exposure": a.exposure_day,
        "landmark_survival": [{**row, "time_days": row["time"] * scale} for row in lm.survival],
    }
    return summary, details, results


register(TimeDependentAnalysis, run)
