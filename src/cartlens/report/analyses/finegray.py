"""Rendering of the ``finegray`` analysis: regression table, forest plot, methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register
from cartlens.report.analyses.model_table import missing_sentence, render_model


def render(a, rc: RenderContext) -> None:
    render_model(a, rc, "hr", name="sHR")


def methods(analyses: list, rc: RenderContext) -> str:
    return (
        "Subdistribution hazard ratios (sHR) come from Fine-Gray models (cmprsk::crr) with "
        "the other cause as the competing event."
    ) + missing_sentence(analyses)


register("finegray", methods=methods, section="risk", render=render)
