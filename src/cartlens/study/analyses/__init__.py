"""One module per analysis type (spec model + computation), registered by type.

Importing this package imports every module in it, so :data:`REGISTRY` holds every type.
See :mod:`cartlens.study.analyses.base` for what a module defines.
"""

from __future__ import annotations

import importlib
import pkgutil

from cartlens.study.analyses.base import REGISTRY, AnalysisSpec, AnalysisType, Context, register

_SKIP = {"base", "design"}

for _m in pkgutil.iter_modules(__path__):
    if _m.name not in _SKIP and not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["REGISTRY", "AnalysisSpec", "AnalysisType", "Context", "register"]
