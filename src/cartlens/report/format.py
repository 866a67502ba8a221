"""Number formatting for tables and text, including small-cell suppression (one place).

A count below the presentation's ``small_cell_threshold`` (and above zero) is shown as
``<k``; percentages derived from it are hidden too. Numbers themselves are never changed:
``results.json`` always carries the exact values.
"""

from __future__ import annotations

import math
from typing import Any

NOT_ESTIMABLE = "not estimable"


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


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
        if not _finite(est):
            return NOT_ESTIMABLE
        return f"{self.num(est, 2)} ({self.interval(lo, hi, 2)})"

    def ci(self, lo: Any, hi: Any, scale: float = 100.0) -> str:
        """A proportion's interval in percent, ``"12.3, 45.6"`` (``"not estimable"``)."""
        if not (_finite(lo) and _finite(hi)):
            return NOT_ESTIMABLE
        return f"{scale * lo:.{self.decimals}f}, {scale * hi:.{self.decimals}f}"

    def interval(self, lo: Any, hi: Any, decimals: int | None = None, *, upper_nr=False) -> str:
        """``"lo, hi"``; a missing limit is ``NR`` for a median's upper limit (not reached)
        and makes the interval "not estimable" otherwise - never a bare dash pair."""
        if upper_nr:
            if not _finite(lo):
                return "NR" if not _finite(hi) else f"NR, {self.num(hi, decimals)}"
            return f"{self.num(lo, decimals)}, {self.num(hi, decimals) if _finite(hi) else 'NR'}"
        if not (_finite(lo) and _finite(hi)):
            return NOT_ESTIMABLE
        return f"{self.num(lo, decimals)}, {self.num(hi, decimals)}"

    def estimate(self, v: Any, decimals: int | None = None) -> str:
        """A ratio or other estimate; infinite or missing is "not estimable"."""
        return self.num(v, decimals) if _finite(v) else NOT_ESTIMABLE
