"""Adjusted survival / cumulative incidence curves (results -> matplotlib Figure).

:func:`adjusted_curves_figure` draws :class:`cartlens.stats.adjusted.AdjustedCurves`: one
step curve per treatment level, its bootstrap CI as points with bars at the reported times
(the bootstrap gives intervals at those times only), and a risk table with two labelled rows
per level - unweighted and weighted numbers at risk (for the g-formula both are the
unweighted counts, as its label says).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cartlens.report.figures.competing import risk_table_axis
from cartlens.report.style import apply_style, color


def adjusted_curves_figure(
    curves: Any,
    *,
    labels: Mapping[Any, str] | None = None,
    time_unit: str = "months",
    title: str = "",
    ylabel: str | None = None,
):
    """The adjusted curves with CIs at the reported times and a two-row-per-level risk table."""
    import matplotlib.pyplot as plt

    apply_style()
    k = len(curves.curves)
    rows = 2 * k
    fig = plt.figure(figsize=(6.8, 4.4 + 0.2 * rows))
    gs = fig.add_gridspec(2, 1, height_ratios=[4.0, 0.4 + 0.22 * rows], hspace=0.35)
    ax = fig.add_subplot(gs[0])
    cif = "incidence" in curves.description
    names = []
    tmax = 0.0
    for i, c in enumerate(curves.curves):
        name = (labels or {}).get(c["level"], str(c["level"]))
        names.append(name)
        st = np.r_[0.0, np.asarray(c["step_time"], float)]
        sv = np.r_[0.0 if cif else 1.0, np.asarray(c["step_surv"], float)]
        tmax = max(tmax, float(st.max()) if st.size else 0.0)
        ax.step(st, sv, where="post", color=color(i), lw=1.6, label=name)
        t = np.asarray(c["time"], float)
        est = np.asarray(c["surv"], float)
        err = np.vstack([est - np.asarray(c["lower"]), np.asarray(c["upper"]) - est])
        ax.errorbar(t, est, yerr=np.maximum(err, 0), fmt="o", ms=3, color=color(i), capsize=3)
    ax.set_xlim(0, tmax if tmax > 0 else 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"Time ({time_unit})")
    what = "Cumulative incidence" if cif else "Survival probability"
    ax.set_ylabel(ylabel or f"Adjusted {what.lower()}\n({curves.conf_level:.0%} bootstrap CI)")
    ax.legend(loc="upper right" if not cif else "upper left", frameon=False)
    if title:
        ax.set_title(title, loc="left")
    ticks = [lab for name in names for lab in (name, f"{name}, weighted")]
    tab = risk_table_axis(fig.add_subplot(gs[1], sharex=ax), ticks)
    for i, rt in enumerate(curves.risk_table):
        for j, key in enumerate(("n_risk", "n_risk_weighted")):
            for x, n in zip(rt["time"], rt[key], strict=True):
                if x <= ax.get_xlim()[1]:
                    tab.text(
                        x,
                        2 * i + j,
                        f"{n:.0f}" if j == 0 else f"{n:.1f}",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color=color(i),
                    )
    fig.subplots_adjust(left=0.22)
    return fig
