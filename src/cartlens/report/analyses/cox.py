"""Rendering of the ``cox`` analysis: regression table, forest plot, methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register
from cartlens.report.analyses.model_table import render_model


def render(a, rc: RenderContext) -> None:
    render_model(a, rc, "hr")


def methods(analyses: list, rc: RenderContext) -> str:
    return "Hazard ratios come from Cox proportional-hazards models (Efron ties)."


register("cox", methods=methods, section="risk", render=render)
