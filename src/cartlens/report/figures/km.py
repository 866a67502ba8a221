"""Kaplan-Meier curves with CI bands, censor marks, medians and a number-at-risk table."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from cartlens.report.style import apply_style, color


def _fmt(v: float | None, decimals: int) -> str:
    return "NR" if v is None or not math.isfinite(v) else f"{v:.{decimals}f}"


def risk_table(
    fig,
    tab,
    rows: Sequence[Sequence[int]],
    *,
    ticks: Sequence[float],
    xmax: float,
    labels: Sequence[str] | None,
    heading: str = "Number at risk",
    count_format=str,
    fontsize: float = 8,
) -> None:
    """Counts under a panel at ``ticks``, one row per group in its curve's colour, the
    group names at the figure's left edge (``labels=None``: counts only)."""
    from matplotlib.transforms import blended_transform_factory

    k = len(rows)
    tab.set_ylim(-0.5, k - 0.5)
    tab.invert_yaxis()
    tab.axis("off")
    if heading:
        tab.set_title(heading, loc="left", fontsize=8, pad=2)
    names = blended_transform_factory(fig.transFigure, tab.transData)
    for i, counts in enumerate(rows):
        if labels is not None:
            tab.text(
                0.01,
                i,
                labels[i],
                transform=names,
                ha="left",
                va="center",
                fontsize=8,
                color=color(i),
            )
        for x, n in zip(ticks, counts):
            if x <= xmax:
                tab.text(
                    x,
                    i,
                    count_format(n),
                    ha="center",
                    va="center",
                    fontsize=fontsize,
                    color=color(i),
                )


def _empty_corner(curves, xmax: float) -> tuple[float, float, str, str]:
    """Axes position of the corner (lower left, upper right, lower right) with the fewest
    curve points, for the test results."""
    xs = np.linspace(0, xmax, 120)
    pts = []
    for c in curves:
        t = np.r_[0.0, np.asarray(c.time, dtype=float)]
        s = np.r_[1.0, np.asarray(c.surv, dtype=float)]
        i = np.searchsorted(t, xs, side="right") - 1
        keep = xs <= (t[-1] if len(t) else 0)
        pts.append(np.column_stack([xs[keep] / xmax, s[i[keep]] / 1.03]))
    p = np.vstack(pts) if pts else np.zeros((0, 2))
    corners = [
        ((0.02, 0.03, "left", "bottom"), (0.0, 0.45, 0.0, 0.28)),
        ((0.98, 0.97, "right", "top"), (0.55, 1.0, 0.72, 1.0)),
        ((0.98, 0.03, "right", "bottom"), (0.55, 1.0, 0.0, 0.28)),
    ]
    best = min(
        corners,
        key=lambda c: int(
            np.sum(
                (p[:, 0] >= c[1][0])
                & (p[:, 0] <= c[1][1])
                & (p[:, 1] >= c[1][2])
                & (p[:, 1] <= c[1][3])
            )
        ),
    )
    return best[0]


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
    cumulative_events: bool = False,
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
    cumulative_events : bool
        Add a second table with the cumulative number of events (``events_at`` per curve).
    """
    import matplotlib.pyplot as plt

    apply_style()
    k = len(km.curves)
    tables = [("Number at risk", "at_risk")]
    if cumulative_events:
        tables.append(("Cumulative events", "events_at"))
    labels = [str(info["label"]) for info in curves]
    longest = max((len(s) for s in labels), default=4)
    left = min(0.45, max(0.11, 0.04 + 0.0095 * longest))
    rows_guess = k if k > 2 else 1
    fig = plt.figure(figsize=(6.9, 4.0 + 0.22 * k * len(tables) + 0.18 * rows_guess))
    ratios = [4.0] + [0.45 + 0.22 * k] * len(tables)
    gs = fig.add_gridspec(1 + len(tables), 1, height_ratios=ratios, hspace=0.34)
    ax = fig.add_subplot(gs[0])
    tabs = [fig.add_subplot(gs[i + 1], sharex=ax) for i in range(len(tables))]
    tmax = max(float(np.max(c.time)) if len(c.time) else 0.0 for c in km.curves)
    ticks = [float(x) for x in risk_times]
    end = max([tmax] + ticks)
    xmax = end * 1.02 if end > 0 else 1.0
    for i, (c, info) in enumerate(zip(km.curves, curves)):
        col = color(i)
        t = np.r_[0.0, np.asarray(c.time, dtype=float)]
        s = np.r_[1.0, np.asarray(c.surv, dtype=float)]
        lo = np.r_[1.0, np.nan_to_num(np.asarray(c.lower, dtype=float), nan=0.0)]
        hi = np.r_[1.0, np.nan_to_num(np.asarray(c.upper, dtype=float), nan=1.0)]
        n_text = count_format(int(c.n))
        label = f"{info['label']} (n={n_text}, median {_fmt(info.get('median'), decimals)})"
        ax.step(t, s, where="post", color=col, lw=1.6, label=label)
        ax.fill_between(t, lo, hi, step="post", color=col, alpha=0.12, lw=0)
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
    # the legend above the panel, outside the curves (survminer's legend = "top")
    handles, leg_labels = ax.get_legend_handles_labels()
    ncol = 2 if k > 1 and max(len(s) for s in leg_labels) <= 40 else 1
    n_leg_rows = math.ceil(k / ncol)
    title_h = 0.05 if title else 0.0
    fig.legend(
        handles,
        leg_labels,
        loc="upper left",
        bbox_to_anchor=(0.01, 0.995 - title_h),
        ncol=ncol,
        frameon=False,
        fontsize=8,
    )
    if title:
        fig.suptitle(title, x=0.01, y=0.995, ha="left", va="top", fontsize=10)
    if pvalues:
        x, y, ha, va = _empty_corner(km.curves, xmax)
        ax.text(
            x,
            y,
            "\n".join(pvalues),
            transform=ax.transAxes,
            fontsize=8,
            va=va,
            ha=ha,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5},
        )
    plt.setp(ax.get_xticklabels(), visible=True)
    ax.set_xticks([x for x in ticks if x <= xmax])
    ax.set_xlabel(f"Time ({time_unit})")
    for tab, (heading, key) in zip(tabs, tables):
        risk_table(
            fig,
            tab,
            [info.get(key, []) for info in curves],
            ticks=ticks,
            xmax=xmax,
            labels=labels,
            heading=heading,
            count_format=count_format,
        )
    height = fig.get_size_inches()[1]
    top = 0.99 - title_h - (0.2 * n_leg_rows + 0.08) / height
    fig.subplots_adjust(left=left, right=0.97, top=top, bottom=0.05)
    return fig
