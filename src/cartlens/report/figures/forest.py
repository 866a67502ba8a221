"""Forest plot of hazard or odds ratios: labels, N (events), the plot, "HR (95% CI)" and p."""

from __future__ import annotations

import math
from collections.abc import Sequence

from cartlens.report.style import apply_style, color


def _ok(*vals) -> bool:
    return all(v is not None and math.isfinite(v) and v > 0 for v in vals)


def forest_limits(rows: Sequence[dict]) -> tuple[float, float]:
    """A log-axis range that holds every estimate and 1, at most 16-fold past the
    estimates on either side (CIs beyond it are clipped and drawn with an arrow)."""
    est = [r["est"] for r in rows if _ok(r.get("est"), r.get("lower"), r.get("upper"))]
    if not est:
        return 0.25, 4.0
    lo_e, hi_e = min([*est, 1.0]), max([*est, 1.0])
    lows = [r["lower"] for r in rows if _ok(r.get("est"), r.get("lower"), r.get("upper"))]
    highs = [r["upper"] for r in rows if _ok(r.get("est"), r.get("lower"), r.get("upper"))]
    lo = max(min(lows), lo_e / 16)
    hi = min(max(highs), hi_e * 16)
    lo, hi = lo / 1.15, hi * 1.15
    return lo, hi


def forest_figure(
    rows: Sequence[dict],
    *,
    measure: str = "hr",
    title: str = "",
    model: str = "",
):
    """Forest plot from display rows.

    Parameters
    ----------
    rows : list of dict
        In display order: ``label``, ``indent`` (0 or 1), ``kind`` (``header``,
        ``reference``, ``term``), and for terms ``est``, ``lower``, ``upper``, ``text``
        (the estimate and CI as printed, or "not estimable: reason"), ``p`` (printed),
        ``n_events`` (printed N and events).
    measure : {"hr", "or"}
    model : str
        Which model the estimates come from (shown in the header).
    """
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    apply_style()
    n = max(1, len(rows))
    height = 0.9 + 0.26 * n
    fig = plt.figure(figsize=(6.9, height))
    top = 1 - (0.45 + (0.25 if title else 0)) / height
    bottom = 0.45 / height
    ax = fig.add_axes([0.46, bottom, 0.26, top - bottom])
    lo, hi = forest_limits(rows)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(n - 0.5, -0.5)
    ax.axvline(1.0, color="#555555", lw=0.8, ls="--")
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    tr = blended_transform_factory(fig.transFigure, ax.transData)
    col = color(0)
    lab = {"hr": "HR", "or": "OR"}.get(measure, measure.upper())
    head_y = -0.5 - 0.25
    for x, text, ha in (
        (0.01, "Characteristic", "left"),
        (0.40, "N (events)", "right"),
        (0.74, f"{lab} (95% CI)", "left"),
        (0.985, "p", "right"),
    ):
        fig.text(x, top + 0.08 / height, text, ha=ha, va="bottom", fontsize=8, weight="bold")
    del head_y
    for i, r in enumerate(rows):
        indent = 0.025 * int(r.get("indent", 0))
        weight = "bold" if r.get("kind") == "header" or not r.get("indent") else "normal"
        ax.text(
            0.01 + indent,
            i,
            r["label"],
            transform=tr,
            ha="left",
            va="center",
            fontsize=8,
            weight=weight,
        )
        if r.get("n_events"):
            ax.text(0.40, i, r["n_events"], transform=tr, ha="right", va="center", fontsize=8)
        if r.get("kind") == "reference":
            ax.text(
                0.74,
                i,
                "Reference",
                transform=tr,
                ha="left",
                va="center",
                fontsize=8,
                color="#555555",
            )
            continue
        if r.get("kind") != "term":
            continue
        ax.text(0.74, i, r.get("text", ""), transform=tr, ha="left", va="center", fontsize=8)
        ax.text(0.985, i, r.get("p", ""), transform=tr, ha="right", va="center", fontsize=8)
        est, lw, up = r.get("est"), r.get("lower"), r.get("upper")
        if not _ok(est, lw, up):
            continue
        a, b = max(lw, lo), min(up, hi)
        ax.plot([a, b], [i, i], color=col, lw=1.3)
        if lw < lo:
            ax.annotate(
                "",
                xy=(lo, i),
                xytext=(lo * 1.6, i),
                arrowprops={"arrowstyle": "->", "color": col, "lw": 1.3},
            )
        if up > hi:
            ax.annotate(
                "",
                xy=(hi, i),
                xytext=(hi / 1.6, i),
                arrowprops={"arrowstyle": "->", "color": col, "lw": 1.3},
            )
        if lo <= est <= hi:
            ax.plot([est], [i], "s", color=col, ms=5)
    full = {"hr": "Hazard ratio", "or": "Odds ratio"}.get(measure, measure)
    ax.set_xlabel(f"{full}{' (' + model + ')' if model else ''}, log scale", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    from matplotlib.ticker import FuncFormatter, LogLocator

    subs = (1.0,) if hi / lo > 300 else (1.0, 2.0, 5.0)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_minor_locator(LogLocator(base=10, subs=()))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    if title:
        fig.suptitle(title, x=0.01, y=0.995, ha="left", va="top", fontsize=10)
    return fig
