"""Kaplan-Meier curves with CI bands, censor marks, medians and a number-at-risk table."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from cartlens.report.style import apply_style, color


def _fmt(v: float | None, decimals: int) -> str:
    return "NR" if v is None or not math.isfinite(v) else f"{v:.{decimals}f}"


def km_figure(
    km,
    curves: Sequence[dict],
    *,
    title: str = "",
    endpoint: str = "OS",
    time_unit: str = "months",
    risk_times: Sequence[float] = (0, 6, 12, 18, 24),
    pvalues: Sequence[str] = (),
    decimals: int = 1,
    count_format=str,
):
    """Kaplan-Meier figure from a :class:`~cartlens.stats.km.KMResult`.

    Parameters
    ----------
    km : KMResult
        The fit (one curve per group).
    curves : list of dict
        Per curve (same order): ``label``, ``median`` and ``at_risk`` (numbers at risk at
        ``risk_times``), as the study runner records them.
    pvalues : list of str
        Lines of test results printed in the plot (e.g. ``"log-rank P = 0.014"``).
    count_format : callable
        Formats counts (n, numbers at risk), e.g. with small-cell suppression.
    """
    import matplotlib.pyplot as plt

    apply_style()
    k = len(km.curves)
    fig = plt.figure(figsize=(6.4, 4.2 + 0.22 * k))
    gs = fig.add_gridspec(2, 1, height_ratios=[4.0, 0.45 + 0.25 * k], hspace=0.32)
    ax = fig.add_subplot(gs[0])
    tab = fig.add_subplot(gs[1], sharex=ax)
    tmax = max(float(np.max(c.time)) if len(c.time) else 0.0 for c in km.curves)
    xmax = max([t for t in risk_times if t <= tmax * 1.05] + [tmax]) * 1.02
    for i, (c, info) in enumerate(zip(km.curves, curves)):
        col = color(i)
        t = np.r_[0.0, np.asarray(c.time, dtype=float)]
        s = np.r_[1.0, np.asarray(c.surv, dtype=float)]
        lo = np.r_[1.0, np.nan_to_num(np.asarray(c.lower, dtype=float), nan=0.0)]
        hi = np.r_[1.0, np.nan_to_num(np.asarray(c.upper, dtype=float), nan=1.0)]
        n_text = count_format(int(c.n))
        label = f"{info['label']} (n={n_text}, median {_fmt(info.get('median'), decimals)})"
        ax.step(t, s, where="post", color=col, lw=1.6, label=label)
        ax.fill_between(t, lo, hi, step="post", color=col, alpha=0.15, lw=0)
        cens = np.asarray(c.n_censor) > 0
        ax.plot(
            np.asarray(c.time)[cens],
            np.asarray(c.surv)[cens],
            ls="none",
            marker="|",
            ms=7,
            mew=1.2,
            color=col,
        )
        med = info.get("median")
        if med is not None and math.isfinite(med):
            ax.plot([med, med], [0, 0.5], ls=":", lw=0.9, color=col)
    ax.axhline(0.5, ls=":", lw=0.8, color="#777777")
    ax.set_ylim(0, 1.03)
    ax.set_xlim(0, xmax)
    ax.set_ylabel(f"{endpoint} probability")
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    if title:
        ax.set_title(title, loc="left")
    ax.legend(loc="upper right")
    if pvalues:
        ax.text(0.02, 0.04, "\n".join(pvalues), transform=ax.transAxes, fontsize=8, va="bottom")
    plt.setp(ax.get_xticklabels(), visible=True)
    ax.set_xticks([t for t in risk_times if t <= xmax])
    ax.set_xlabel(f"Time ({time_unit})")
    # number at risk
    tab.set_ylim(-0.5, k - 0.5)
    tab.invert_yaxis()
    tab.axis("off")
    tab.set_title("Number at risk", loc="left", fontsize=8, pad=2)
    for i, info in enumerate(curves):
        for x, n in zip(risk_times, info.get("at_risk", [])):
            if x <= xmax:
                tab.text(
                    x, i, count_format(n), ha="center", va="center", fontsize=8, color=color(i)
                )
    fig.subplots_adjust(left=0.11, right=0.97, top=0.93, bottom=0.06)
    return fig
