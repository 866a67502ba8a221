"""Cumulative incidence by group: one panel per cause, one curve per group, a risk table.

As ggsurvfit's ``ggcuminc``: step curves with pointwise CI bands (Gray's variance, the
``cuminc`` interval), y axis "Cumulative incidence", the legend above the panels, Gray's test
in the panel, and below them a number-at-risk table whose rows are labelled with the group
names in the curves' colours, at the same breaks as the x axis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cartlens.report.figures.km import risk_table
from cartlens.report.style import apply_style, color


def cif_groups_figure(
    cuminc: Any,
    *,
    groups: Sequence[Any],
    group_labels: Mapping[Any, str],
    cause_labels: Mapping[Any, str],
    at_risk: Mapping[Any, Sequence[int]],
    risk_times: Sequence[float],
    pvalues: Mapping[Any, str] | None = None,
    time_unit: str = "months",
    count_format=str,
):
    """Figure from a :class:`~cartlens.stats.competing.CumincResult`.

    ``groups`` gives the order (declared levels); ``at_risk[group]`` the numbers at risk at
    ``risk_times``; ``pvalues[cause]`` a line such as "Gray's test P = 0.03".
    """
    import matplotlib.pyplot as plt

    apply_style()
    causes = list(cuminc.causes)
    k = len(groups)
    labels = [str(group_labels.get(g, g)) for g in groups]
    longest = max((len(s) for s in labels), default=4)
    left = min(0.35, max(0.1, 0.05 + 0.0095 * longest))
    fig = plt.figure(figsize=(6.9 if len(causes) <= 2 else 9.0, 3.6 + 0.22 * k))
    gs = fig.add_gridspec(2, len(causes), height_ratios=[4.0, 0.45 + 0.22 * k], hspace=0.35)
    ticks = [float(x) for x in risk_times]
    tmax = max([c.max_time for c in cuminc.curves] + ticks)
    xmax = tmax * 1.02 if tmax > 0 else 1.0
    handles = []
    for ci, cause in enumerate(causes):
        ax = fig.add_subplot(gs[0, ci])
        for gi, g in enumerate(groups):
            try:
                c = cuminc.curve(g, cause)
            except KeyError:
                continue
            t = np.r_[0.0, np.asarray(c.time, float), c.max_time]
            y = np.r_[0.0, np.asarray(c.estimate, float)]
            y = np.r_[y, y[-1]]
            lo = np.r_[0.0, np.nan_to_num(np.asarray(c.lower, float), nan=0.0)]
            hi = np.r_[0.0, np.nan_to_num(np.asarray(c.upper, float), nan=1.0)]
            lo, hi = np.r_[lo, lo[-1]], np.r_[hi, hi[-1]]
            (h,) = ax.step(t, y, where="post", color=color(gi), lw=1.5, label=labels[gi])
            ax.fill_between(t, lo, hi, step="post", color=color(gi), alpha=0.12, lw=0)
            if ci == 0:
                handles.append(h)
        ax.set_xlim(0, xmax)
        ax.set_ylim(0, 1)
        ax.set_xticks([x for x in ticks if x <= xmax])
        ax.set_xlabel(f"Time ({time_unit})")
        if ci == 0:
            ax.set_ylabel("Cumulative incidence")
        ax.set_title(str(cause_labels.get(cause, cause)), loc="left", fontsize=9)
        if pvalues and pvalues.get(cause):
            ax.text(0.02, 0.97, pvalues[cause], transform=ax.transAxes, va="top", fontsize=8)
        tab = fig.add_subplot(gs[1, ci], sharex=ax)
        risk_table(
            fig,
            tab,
            [at_risk.get(g, []) for g in groups],
            ticks=ticks,
            xmax=xmax,
            labels=labels if ci == 0 else None,
            heading="Number at risk" if ci == 0 else "",
            count_format=count_format,
            fontsize=7,
        )
    if k > 1:
        fig.legend(
            handles,
            labels,
            loc="upper left",
            bbox_to_anchor=(0.01, 0.995),
            ncol=min(k, 4),
            frameon=False,
            fontsize=8,
        )
    top = 1 - (0.55 if k > 1 else 0.2) / fig.get_size_inches()[1]
    fig.subplots_adjust(left=left, right=0.98, top=top, bottom=0.06, wspace=0.25)
    return fig
