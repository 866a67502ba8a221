"""Forest plot of hazard or odds ratios with confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from cartlens.report.style import apply_style, color


def forest_figure(rows: Sequence[dict], *, measure: str = "hr", title: str = ""):
    """Forest plot (log scale); rows carry model, term, the ratio, lower, upper and p."""
    import matplotlib.pyplot as plt

    apply_style()
    rows = [r for r in rows if r.get(measure) is not None and "error" not in r]
    fig, ax = plt.subplots(figsize=(6.0, 0.7 + 0.32 * max(1, len(rows))))
    ys = np.arange(len(rows))
    models = sorted({r["model"] for r in rows}, key=lambda m: m != "univariable")
    for i, r in enumerate(rows):
        est, lo, hi = r[measure], r["lower"], r["upper"]
        if not all(v is not None and math.isfinite(v) and v > 0 for v in (est, lo, hi)):
            continue
        col = color(models.index(r["model"]))
        ax.plot([lo, hi], [i, i], color=col, lw=1.4)
        ax.plot([est], [i], "s", color=col, ms=5)
    ax.axvline(1.0, color="#555555", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(ys, [f"{r['term']} ({r['model'][:5]}.)" for r in rows])
    ax.invert_yaxis()
    lab = {"hr": "Hazard ratio", "or": "Odds ratio"}.get(measure, measure)
    ax.set_xlabel(f"{lab} (95% CI, log scale)")
    if title:
        ax.set_title(title, loc="left")
    _labels = [f"{r['term']} ({r['model'][:5]}.)" for r in rows]
    _w = fig.get_figwidth()
    _left = min(0.55, (0.2 + 0.062 * max((len(x) for x in _labels), default=4)) / _w)
    fig.subplots_adjust(left=_left, right=0.97, top=0.9 if title else 0.97, bottom=0.12)
    return fig
