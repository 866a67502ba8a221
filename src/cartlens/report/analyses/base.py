"""What every analysis renderer shares: the render context and the registry.

The report half of an analysis type is one module in :mod:`cartlens.report.analyses` that
calls :func:`register` with

* ``section``: the report section the analysis goes to unless its spec names one;
* ``render(a, r)``: fills ``rc.block`` (tables, figures, text) from the
  :class:`~cartlens.study.runner.AnalysisResult` ``a``, never recomputing a statistic;
* ``methods(analyses, r)`` (optional): the methods sentence for all analyses of the type.

:func:`cartlens.report.html.build_context` iterates over the analyses of the run and looks
their renderer up in :data:`RENDERERS`; nothing dispatches on the type name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from cartlens.report.format import Formatter


@dataclasses.dataclass
class RenderContext:
    """Per-analysis state handed to a renderer."""

    fmt: Formatter
    figs: Any  # cartlens.report.html._Figures
    study: dict
    cohorts: dict
    block: dict = dataclasses.field(default_factory=dict)

    def clabel(self, name: str) -> str:
        return self.cohorts.get(name, {}).get("label", name)

    def vlabel(self, name: str) -> str:
        """A variable's label from the study's ``[variables]`` (else its name)."""
        v = (self.study.get("variables") or {}).get(name) or {}
        return v.get("label") or name

    def table(self, head: list, rows: list, *, name: str = "", notes: list | None = None) -> dict:
        t = {"head": head, "rows": rows, "name": name, "notes": list(notes or [])}
        self.block["tables"].append(t)
        return t

    def figure(self, fid: str, title: str, make: Callable[[], Any]) -> dict:
        item = self.figs.add(fid, title, make)
        self.block["figures"].append(item)
        return item

    def text(self, line: str) -> None:
        self.block["text"].append(line)


Render = Callable[[Any, RenderContext], None]
Methods = Callable[[list, RenderContext], str]


@dataclasses.dataclass(frozen=True)
class Renderer:
    type: str
    section: str
    render: Render
    methods: Methods | None = None


ENDPOINT_NAMES = {
    "os": "OS",
    "pfs": "PFS",
    "efs": "EFS",
    "rfs": "RFS",
    "dor": "DOR",
    "bca_loss": "loss of B-cell aplasia",
    "car_loss": "loss of CAR-T persistence",
}

#: analysis type -> :class:`Renderer`
RENDERERS: dict[str, Renderer] = {}


def register(type_: str, *, section: str, render: Render, methods: Methods | None = None):
    RENDERERS[type_] = Renderer(type=type_, section=section, render=render, methods=methods)
    return RENDERERS[type_]


def cp(fmt: Formatter, x: Any, n: Any) -> str:
    """'x (p%)' with small-cell suppression."""
    if n is None:
        return f"{fmt.count(x)} (-)"
    return f"{fmt.count(x)} ({fmt.pct(x, n)})"


def join(items: list[str]) -> str:
    """'a, b and c'."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
