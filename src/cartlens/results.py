"""Frozen, serialisable results.

Every analysis returns a frozen dataclass deriving from :class:`Result`. ``to_dict()`` gives a
JSON-safe dict (NaN and infinities become ``None``; numpy scalars and arrays become Python
numbers and lists); ``to_frame()`` gives one long, tidy frame in the shared schema
``TIDY_COLUMNS`` (the "analysis results data" idea of gtsummary's ARD), which is what tables,
figures and reports consume.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from cartlens import __version__

#: Columns of every tidy results frame.
TIDY_COLUMNS = ("analysis", "group", "term", "cause", "time", "stat", "value")
_LABEL_KEYS = ("group", "term", "cause", "time")


def json_safe(obj: Any) -> Any:
    """Convert ``obj`` recursively into JSON-safe Python objects.

    NaN, +inf and -inf become ``None``; numpy scalars become Python scalars; arrays and
    tuples become lists; dataclasses and :class:`Result` objects become dicts.
    """
    if isinstance(obj, Result):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: json_safe(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return [json_safe(v) for v in obj.tolist()]
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        f = float(obj)
        return None if (math.isnan(f) or math.isinf(f)) else f
    if obj is None or isinstance(obj, str | int):
        return obj
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


def tidy_rows(analysis: str, data: Any, labels: dict | None = None) -> list[dict]:
    """Flatten a JSON-safe structure into tidy rows.

    Dicts inside lists that carry ``group``/``term``/``cause``/``time`` keys label every
    scalar beneath them; every other scalar becomes a row with ``stat`` = its dotted key path.
    """
    labels = dict(labels or {})
    rows: list[dict] = []

    def walk(node: Any, path: str, lab: dict) -> None:
        if isinstance(node, Mapping):
            lab = dict(lab)
            for k in _LABEL_KEYS:
                if k in node and not isinstance(node[k], Mapping | list):
                    lab[k] = node[k]
            for k, v in node.items():
                if k in _LABEL_KEYS and k in lab and lab[k] is v:
                    continue
                walk(v, f"{path}.{k}" if path else str(k), lab)
        elif isinstance(node, list):
            if node and all(not isinstance(v, Mapping | list) for v in node):
                for i, v in enumerate(node):
                    rows.append({**lab, "stat": f"{path}[{i}]", "value": v})
            else:
                for v in node:
                    walk(v, path, lab)
        else:
            rows.append({**lab, "stat": path, "value": node})

    walk(data, "", labels)
    out = []
    for r in rows:
        full = {c: r.get(c) for c in TIDY_COLUMNS}
        full["analysis"] = analysis
        out.append(full)
    return out


@dataclasses.dataclass(frozen=True)
class Result:
    """Base of all results: frozen, JSON-serialisable, tidy-convertible.

    Subclasses are frozen dataclasses. ``settings`` records how the result was made and
    ``software`` the cartlens version.
    """

    def to_dict(self) -> dict:
        """JSON-safe dict of every field (NaN/inf -> None)."""
        d = {f.name: json_safe(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return d

    def to_frame(self):
        """One long tidy frame with columns :data:`TIDY_COLUMNS`."""
        import pandas as pd

        return pd.DataFrame(
            tidy_rows(type(self).__name__, self.to_dict()), columns=list(TIDY_COLUMNS)
        )

    @property
    def software(self) -> str:
        return f"cartlens {__version__}"
