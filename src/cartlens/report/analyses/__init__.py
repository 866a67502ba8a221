"""One renderer module per analysis type (tables, figures, methods sentence), by type.

Importing this package imports every module in it, so :data:`RENDERERS` holds every type.
See :mod:`cartlens.report.analyses.base`.
"""

from __future__ import annotations

import importlib
import pkgutil

from cartlens.report.analyses.base import RENDERERS, RenderContext, Renderer, register

for _m in pkgutil.iter_modules(__path__):
    if _m.name != "base" and not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["RENDERERS", "RenderContext", "Renderer", "register"]
