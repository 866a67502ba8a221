"""Numeric design matrices from study columns (shared by the model analyses)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def numeric_design(df: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, list[str]]:
    """Columns as numbers; a text column becomes 0/1 columns ``col[level]`` (first level
    alphabetically is the reference)."""
    X = []
    names = []
    for c in cols:
        s = df[c]
        if s.dtype == object and not s.dropna().map(lambda v: isinstance(v, bool)).all():
            levels = sorted(s.dropna().unique(), key=str)
            for lv in levels[1:]:
                X.append((s == lv).astype(float).where(s.notna()).to_numpy())
                names.append(f"{c}[{lv}]")
        else:
            X.append(pd.to_numeric(s.astype(float), errors="coerce").to_numpy())
            names.append(c)
    return np.column_stack(X), names
