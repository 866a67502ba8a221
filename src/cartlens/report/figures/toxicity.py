"""Stacked bar chart of toxicity grades (worst grade per patient), one bar per cohort."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cartlens.report.style import apply_style

GRADE_COLOURS = ("#FDE0C5", "#F6A96C", "#E4572E", "#A4161A", "#4A0D0D")


def grade_bar_figure(rows: Sequence[dict], *, title: str = "", toxicity: str = "CRS"):
    """Stacked bars: percentage of patients by worst grade (1-5), one bar per cohort."""
    import matplotlib.pyplot as plt

    apply_style()
    fig, ax = plt.subplots(figsize=(6.4, 1.1 + 0.55 * len(rows)))
    labels = [f"{r['label']} (n={r['n']})" for r in rows]
    y = np.arange(len(rows))
    left = np.zeros(len(rows))
    for g in range(1, 6):
        pct = np.array(
            [
                100 * int(r["counts"].get(str(g), r["counts"].get(g, 0))) / r["n"]
                if r["n"]
                else 0.0
                for r in rows
            ]
        )
        if not pct.any():
            continue
        ax.barh(y, pct, left=left, color=GRADE_COLOURS[g - 1], label=f"grade {g}", height=0.55)
        for yi, (lft, p) in enumerate(zip(left, pct)):
            if p >= 6:
                ax.text(lft + p / 2, yi, f"{p:.0f}%", ha="center", va="center", fontsize=7)
        left += pct
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"Patients with {toxicity} (%)")
    if title:
        fig.suptitle(title, x=0.02, ha="left", fontsize=10)
    handles, names = ax.get_legend_handles_labels()
    fig.legend(
        handles,
        names,
        ncols=len(names),
        loc="upper right",
        bbox_to_anchor=(0.97, 0.93 if title else 0.99),
    )
    _labels = labels
    _w = fig.get_figwidth()
    _left = min(0.55, (0.2 + 0.062 * max((len(x) for x in _labels), default=4)) / _w)
    fig.subplots_adjust(left=_left, right=0.97, top=0.72 if title else 0.8, bottom=0.22)
    return fig
