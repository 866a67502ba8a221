"""Number formatting for tables and text, including small-cell suppression (one place).

A count below the presentation's ``small_cell_threshold`` (and above zero) is shown as
``<k``; percentages derived from it are hidden too. Numbers themselves are never changed:
``results.json`` always carries the exact values.
"""

from __future__ import annotations

import math
from typing import Any


class Formatter:
    """Formats numbers according to a study's ``[presentation]`` settings."""

    def __init__(self, presentation: dict) -> None:
        self.p = presentation
        self.decimals = int(presentation.get("decimals", 1))
        self.p_decimals = int(presentation.get("p_decimals", 3))
        self.threshold = int(presentation.get("small_cell_threshold", 0))

    def suppressed(self, n: Any) -> bool:
        return self.threshold > 0 and n is not None and 0 < int(n) < self.threshold

    def count(self, n: Any) -> str:
        if n is None:
            return "-"
        return f"<{self.threshold}" if self.suppressed(n) else str(int(n))

    def num(self, v: Any, decimals: int | None = None) -> str:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return "-"
        d = self.decimals if decimals is None else decimals
        return f"{float(v):.{d}f}"

    def median(self, v: Any) -> str:
        return "NR" if v is None or (isinstance(v, float) and not math.isfinite(v)) else self.num(v)

    def pct(self, x: Any, n: Any) -> str:
        if n in (None, 0) or x is None:
            return "-"
        if self.suppressed(x):
            return "-"
        return f"{100 * float(x) / float(n):.{self.decimals}f}%"

    def count_pct(self, x: Any, n: Any) -> str:
        return f"{self.count(x)}/{self.count(n)} ({self.pct(x, n)})"

    def pvalue(self, p: Any) -> str:
        if p is None or (isinstance(p, float) and not math.isfinite(p)):
            return "-"
        floor = 10 ** (-self.p_decimals)
        if p < floor:
            return f"<{floor:.{self.p_decimals}f}"
        return f"{p:.{self.p_decimals}f}"

    def ratio(self, est: Any, lo: Any, hi: Any) -> str:
        if est is None:
            return "-"
        return f"{self.num(est, 2)} ({self.num(lo, 2)}-{self.num(hi, 2)})"

    def ci(self, lo: Any, hi: Any, scale: float = 100.0) -> str:
        if lo is None or hi is None:
            return "-"
        return f"{scale * lo:.{self.decimals}f}-{scale * hi:.{self.decimals}f}"
