"""Rendering of the ``cumulative_incidence`` analysis (a follow-up event, death competing)."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register
from cartlens.report.analyses.competing_risks import render as _render_cif

NAMES = {
    "infection": "the first infection",
    "severe_infection": "the first severe infection",
    "next_treatment": "the next treatment (time to next treatment)",
    "second_malignancy": "a second malignancy",
}


def render(a, rc: RenderContext) -> None:
    """The table of cumulative incidences, Gray's test and the stacked CIF figure (the same
    layout as ``competing_risks``)."""
    _render_cif(a, rc)


def methods(analyses: list, rc: RenderContext) -> str:
    what = sorted({NAMES[a.details["endpoint"]] for a in analyses})
    listed = ", ".join(what[:-1]) + (" and " if len(what) > 1 else "") + what[-1]
    return (
        f"Cumulative incidences of {listed} were estimated with death without the event as a "
        "competing risk (Aalen-Johansen estimator with Gray's variance, as cmprsk::cuminc) "
        "and compared between groups with Gray's test."
    )


register("cumulative_incidence", methods=methods, section="safety", render=render)
