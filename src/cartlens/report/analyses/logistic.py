"""Rendering of the ``logistic`` analysis: regression table, forest plot, methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register
from cartlens.report.analyses.model_table import missing_sentence, render_model


def render(a, rc: RenderContext) -> None:
    render_model(a, rc, "or")


def methods(analyses: list, rc: RenderContext) -> str:
    firth = any(a.details.get("firth") for a in analyses)
    return (
        "Odds ratios come from "
        + ("Firth's penalised-likelihood " if firth else "")
        + "logistic regression, univariable and multivariable."
        + missing_sentence(analyses)
    )


register("logistic", methods=methods, section="risk", render=render)
