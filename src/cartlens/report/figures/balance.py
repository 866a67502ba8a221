"""Balance figures: the Love plot and the propensity-score overlap plot.

Both are drawn from results only (:class:`~cartlens.stats.balance.BalanceResult`,
:class:`~cartlens.stats.propensity.PropensityResult`, optional weights) and return a
matplotlib ``Figure`` in the cartlens style.

References
----------
Ahmed A, Husain A, Love TE, et al. Heart failure, chronic diuretic use, and increase in
mortality and hospitalization: an observational study using propensity score methods.
Eur Heart J 2006;27:1431-1439 (the "Love plot").
Austin PC, Stuart EA. Stat Med 2015;34:3661-3679.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cartlens.report.style import apply_style, color

__all__ = ["love_plot", "ps_overlap_plot"]


def love_plot(
    balance: Any,
    *,
    absolute: bool = True,
    include_distance: bool = False,
    title: str = "",
    labels: dict[str, str] | None = None,
):
    """Love plot: SMD of each covariate before and after adjustment, with the threshold.

    Parameters
    ----------
    balance : BalanceResult
    absolute : bool
        Plot |SMD| (default) or the signed SMD (then the threshold is drawn on both sides).
    include_distance : bool
        Include the propensity-score ("distance") row.
    title : str
    labels : dict, optional
        Display names of covariates.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    apply_style()
    rows = [r for r in balance.rows if include_distance or r.get("counted", True)]
    labels = labels or {}
    names = [labels.get(r["covariate"], r["covariate"]) for r in rows]
    before = np.array([r["smd_before"] for r in rows], dtype=float)
    after = np.array([r.get("smd_after", np.nan) for r in rows], dtype=float)
    if absolute:
        before, after = np.abs(before), np.abs(after)
    fig, ax = plt.subplots(figsize=(5.5, 0.9 + 0.3 * max(1, len(rows))))
    ys = np.arange(len(rows))
    ax.plot(before, ys, "o", mfc="white", color=color(0), label="before", ms=5)
    if balance.adjusted:
        ax.plot(after, ys, "o", color=color(1), label="after", ms=5)
        for y, b, a in zip(ys, before, after):
            ax.plot([b, a], [y, y], color="#bbbbbb", lw=0.8, zorder=0)
    thr = balance.threshold
    ax.axvline(thr, color="#555555", ls="--", lw=0.8)
    if not absolute:
        ax.axvline(-thr, color="#555555", ls="--", lw=0.8)
        ax.axvline(0.0, color="#999999", lw=0.6)
    ax.set_yticks(ys, names)
    ax.invert_yaxis()
    what = "|SMD|" if absolute else "SMD"
    ax.set_xlabel(f"{what} (denominator: {balance.denominator}; threshold {thr:g})")
    if absolute:
        ax.set_xlim(left=0)
    verdict = "balanced" if balance.balanced else f"not balanced: {', '.join(balance.failing)}"
    ax.set_title(title or f"Covariate balance ({verdict})", loc="left")
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def ps_overlap_plot(
    ps: Any,
    treat: Any = None,
    *,
    weights: Any = None,
    bins: int = 30,
    labels: tuple[str, str] = ("control", "treated"),
    title: str = "",
):
    """Propensity-score distributions by group (mirrored histograms), optionally weighted.

    Parameters
    ----------
    ps : PropensityResult or array-like
        A fitted propensity model (its ``ps`` and ``treat`` are used) or the scores.
    treat : array-like of 0/1, optional
        Needed when ``ps`` is an array.
    weights : array-like, optional
        Draw the weighted distribution as a step outline over the unweighted bars.
    bins : int
    labels : (str, str)
        Names of the control and treated groups.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if hasattr(ps, "ps") and hasattr(ps, "treat"):
        treat = ps.treat if treat is None else treat
        ps = ps.ps
    ps = np.asarray(ps, dtype=float)
    t = np.asarray(treat) == 1
    apply_style()
    edges = np.linspace(0.0, 1.0, bins + 1)
    lo, hi = float(ps.min()), float(ps.max())
    if hi - lo < 0.5:
        pad = 0.05 * max(hi - lo, 1e-3)
        edges = np.linspace(max(0.0, lo - pad), min(1.0, hi + pad), bins + 1)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    h1, _ = np.histogram(ps[t], bins=edges)
    h0, _ = np.histogram(ps[~t], bins=edges)
    width = np.diff(edges)
    ax.bar(edges[:-1], h1, width=width, align="edge", color=color(1), alpha=0.6, label=labels[1])
    ax.bar(edges[:-1], -h0, width=width, align="edge", color=color(0), alpha=0.6, label=labels[0])
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        w1, _ = np.histogram(ps[t], bins=edges, weights=w[t])
        w0, _ = np.histogram(ps[~t], bins=edges, weights=w[~t])
        ax.stairs(w1, edges, color=color(1), lw=1.2, label=f"{labels[1]} (weighted)")
        ax.stairs(-w0, edges, color=color(0), lw=1.2, label=f"{labels[0]} (weighted)")
    ax.axhline(0.0, color="#555555", lw=0.6)
    ticks = ax.get_yticks()
    ax.set_yticks(ticks, [f"{abs(v):g}" for v in ticks])
    ax.set_xlabel("Propensity score")
    ax.set_ylabel("Count (treated up, control down)")
    ax.set_title(title or "Propensity-score overlap", loc="left")
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig
