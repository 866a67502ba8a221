"""Rendering of the ``cox`` analysis: regression table, forest plot, methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register
from cartlens.report.analyses.model_table import missing_sentence, render_model


def render(a, rc: RenderContext) -> None:
    render_model(a, rc, "hr", ph=True)


def methods(analyses: list, rc: RenderContext) -> str:
    ties = {a.details.get("ties", "efron") for a in analyses}
    s = (
        "Hazard ratios come from Cox proportional-hazards models "
        f"({' and '.join(sorted(ties)).capitalize()} ties), univariable and multivariable, "
        "with treatment contrasts for categorical covariates (the first level is the "
        "reference); proportional hazards were checked with the Grambsch-Therneau test."
    )
    return s + missing_sentence(analyses)


register("cox", methods=methods, section="risk", render=render)
