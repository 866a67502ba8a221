"""Rendering of the ``swimmer`` analysis: tables, figures and methods sentence."""

from __future__ import annotations

from cartlens.report.analyses.base import RenderContext, register


def render(a, rc: RenderContext) -> None:
    d = a.details
    from cartlens.report.figures.swimmer import swimmer_figure

    rc.block["figures"].append(
        rc.figs.add(
            a.id,
            a.title,
            lambda d=d, t=a.title: swimmer_figure(d["patients"], time_unit=d["time_unit"], title=t),
        )
    )


def methods(analyses: list, rc: RenderContext) -> str:
    return ""


register("swimmer", methods=methods, section="survival", render=render)
