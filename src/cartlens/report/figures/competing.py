"""Figures for competing risks and time-dependent exposure (results -> matplotlib Figure).

* :func:`cif_figure`: stacked cumulative incidence curves (one panel per group) with numbers
  at risk, from :class:`cartlens.stats.competing.CumincResult`;
* :func:`simon_makuch_figure`: Simon-Makuch curves from the KM fit of
  :func:`cartlens.stats.timedep.simon_makuch` (numbers at risk move between the curves);
* :func:`landmark_figure`: one KM panel per landmark from
  :class:`cartlens.stats.landmark.LandmarkSeries`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cartlens.report.style import apply_style, color


def _step_at(times: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Right-continuous step function (0 before the first time) evaluated on ``grid``."""
    pos = np.searchsorted(times, grid, side="right") - 1
    return np.where(pos >= 0, values[np.maximum(pos, 0)] if values.size else 0.0, 0.0)


def cif_figure(
    cuminc: Any,
    *,
    at_risk: Mapping[Any, Sequence[int]] | None = None,
    risk_times: Sequence[float] = (),
    cause_labels: Mapping[Any, str] | None = None,
    group_labels: Mapping[Any, str] | None = None,
    time_unit: str = "months",
    title: str = "",
    stacked: bool = True,
):
    """Stacked cumulative incidence curves, one panel per group.

    Parameters
    ----------
    cuminc : CumincResult
        From :func:`cartlens.stats.competing.cuminc`.
    at_risk : mapping group -> counts, optional
        Numbers at risk (event-free, under follow-up) at ``risk_times`` per group, e.g. from
        :func:`cartlens.stats.competing.numbers_at_risk`.
    cause_labels, group_labels : mapping, optional
        Display names of causes and groups.
    stacked : bool
        Stack the causes (their sum is 1 - the all-cause KM); False draws them as lines.
    """
    import matplotlib.pyplot as plt

    apply_style()
    groups = list(cuminc.groups)
    ng = len(groups)
    with_table = bool(at_risk) and len(risk_times) > 0
    fig = plt.figure(figsize=(4.2 * ng + 0.8, 4.4 if with_table else 3.8))
    gs = fig.add_gridspec(
        2 if with_table else 1, ng, height_ratios=[4.0, 0.6] if with_table else [1.0]
    )
    tmax = max((c.max_time for c in cuminc.curves), default=1.0)
    for gi, g in enumerate(groups):
        ax = fig.add_subplot(gs[0, gi])
        curves = [c for c in cuminc.curves if c.group == g]
        gmax = max((c.max_time for c in curves), default=tmax)
        grid = np.unique(np.concatenate([[0.0]] + [c.time for c in curves] + [[gmax]]))
        base = np.zeros(grid.size)
        for ci, c in enumerate(curves):
            y = _step_at(c.time, c.estimate, grid)
            lab = (cause_labels or {}).get(c.cause, f"cause {c.cause}")
            if stacked:
                ax.fill_between(
                    grid, base, base + y, step="post", color=color(ci), alpha=0.55, lw=0, label=lab
                )
                base = base + y
                ax.step(grid, base, where="post", color=color(ci), lw=1.0)
            else:
                ax.step(grid, y, where="post", color=color(ci), lw=1.6, label=lab)
        ax.set_xlim(0, tmax)
        ax.set_ylim(0, 1)
        ax.set_xlabel(f"Time ({time_unit})")
        if gi == 0:
            ax.set_ylabel("Cumulative incidence" + (" (stacked)" if stacked else ""))
            ax.legend(loc="upper left")
        name = "All" if g is None else (group_labels or {}).get(g, str(g))
        ax.set_title(f"{title} {name}".strip(), loc="left")
        if with_table:
            tab = fig.add_subplot(gs[1, gi], sharex=ax)
            tab.axis("off")
            tab.set_title("Number at risk", loc="left", fontsize=8, pad=2)
            for x, n in zip(risk_times, (at_risk or {}).get(g, []), strict=False):
                if x <= tmax:
                    tab.text(x, 0.5, str(n), ha="center", va="center", fontsize=8)
    fig.tight_layout()
    return fig


def _km_panel(ax, km, labels: Mapping[Any, str] | None, risk_times: Sequence[float], tab=None):
    for i, c in enumerate(km.curves):
        t = np.r_[c.start_time if np.isfinite(c.start_time) else 0.0, np.asarray(c.time, float)]
        s = np.r_[1.0, np.asarray(c.surv, float)]
        lab = (labels or {}).get(c.group, str(c.group))
        ax.step(t, s, where="post", color=color(i), lw=1.6, label=f"{lab} (n={int(c.n)})")
        cens = np.asarray(c.n_censor) > 0
        ax.plot(
            np.asarray(c.time)[cens],
            np.asarray(c.surv)[cens],
            ls="none",
            marker="|",
            ms=6,
            color=color(i),
        )
        if tab is not None and len(risk_times):
            nr = c.survival_at(list(risk_times)).n_risk
            for x, n in zip(risk_times, nr, strict=True):
                tab.text(x, i, f"{n:g}", ha="center", va="center", fontsize=8, color=color(i))
    ax.set_ylim(0, 1.03)
    ax.legend(loc="upper right")


def simon_makuch_figure(
    km: Any,
    *,
    labels: Mapping[Any, str] | None = None,
    risk_times: Sequence[float] = (),
    time_unit: str = "days",
    title: str = "Simon-Makuch",
):
    """Simon-Makuch curves with numbers at risk (subjects move between curves)."""
    import matplotlib.pyplot as plt

    apply_style()
    k = len(km.curves)
    fig = plt.figure(figsize=(6.4, 4.2 + 0.22 * k))
    gs = fig.add_gridspec(2, 1, height_ratios=[4.0, 0.45 + 0.25 * k], hspace=0.32)
    ax = fig.add_subplot(gs[0])
    tab = fig.add_subplot(gs[1], sharex=ax)
    tab.set_ylim(-0.5, k - 0.5)
    tab.invert_yaxis()
    tab.axis("off")
    tab.set_title("Number at risk", loc="left", fontsize=8, pad=2)
    _km_panel(ax, km, labels or {0: "unexposed", 1: "exposed"}, risk_times, tab)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"Time ({time_unit})")
    ax.set_ylabel("Survival probability")
    ax.set_title(title, loc="left")
    return fig


def landmark_figure(
    series: Any,
    *,
    risk_times: Sequence[float] = (),
    time_unit: str = "days",
):
    """One Kaplan-Meier panel per landmark (time from the landmark), with log-rank p."""
    import matplotlib.pyplot as plt

    apply_style()
    results = [r for r in series.results if r.km is not None]
    n = max(len(results), 1)
    fig = plt.figure(figsize=(4.0 * n + 0.6, 4.4))
    gs = fig.add_gridspec(2, n, height_ratios=[4.0, 0.7], hspace=0.35)
    for i, r in enumerate(results):
        ax = fig.add_subplot(gs[0, i])
        tab = fig.add_subplot(gs[1, i], sharex=ax)
        tab.set_ylim(-0.5, len(r.km.curves) - 0.5)
        tab.invert_yaxis()
        tab.axis("off")
        tab.set_title("Number at risk", loc="left", fontsize=8, pad=2)
        _km_panel(ax, r.km, None, risk_times, tab)
        ax.set_xlim(left=0)
        ax.set_xlabel(f"Time from landmark ({time_unit})")
        if i == 0:
            ax.set_ylabel("Survival probability")
        p = "n/a" if not np.isfinite(r.p) else f"{r.p:.3g}"
        ax.set_title(f"Landmark {r.landmark:g} (n={r.n_at_landmark}); log-rank p = {p}", loc="left")
    return fig


def cif_band_figure(
    cuminc: Any,
    cause: Any,
    *,
    at_risk: Mapping[Any, Sequence[int]] | None = None,
    risk_times: Sequence[float] = (),
    cause_label: str | None = None,
    group_labels: Mapping[Any, str] | None = None,
    time_unit: str = "months",
    title: str = "",
):
    """Cumulative incidence of one cause by group, each curve with its pointwise CI band,
    and a risk table with one labelled row per group.

    Parameters
    ----------
    cuminc : CumincResult
        From :func:`cartlens.stats.competing.cuminc`; the bands are its ``lower``/``upper``
        (Gray's variance, ``conf_type`` of the fit), stated in the y label.
    cause : object
        The cause to draw.
    at_risk : mapping group -> counts, optional
        Numbers event-free and under follow-up at ``risk_times`` (e.g.
        :func:`cartlens.stats.competing.numbers_at_risk`); drawn only with ``risk_times``.
    cause_label, group_labels : optional
        Display names.
    """
    import matplotlib.pyplot as plt

    apply_style()
    curves = [c for c in cuminc.curves if c.cause == cause]
    if not curves:
        from cartlens.errors import InputError

        causes = sorted({c.cause for c in cuminc.curves}, key=str)
        raise InputError(f"cause {cause!r} is not among the causes {causes}", column="cause")
    k = len(curves)
    with_table = bool(at_risk) and len(risk_times) > 0
    fig = plt.figure(figsize=(6.8, 4.2 + (0.3 + 0.22 * k if with_table else 0.0)))
    gs = fig.add_gridspec(
        2 if with_table else 1,
        1,
        height_ratios=[4.0, 0.45 + 0.25 * k] if with_table else [1.0],
        hspace=0.35,
    )
    ax = fig.add_subplot(gs[0])
    tmax = max(c.max_time for c in curves)
    names = []
    for i, c in enumerate(curves):
        grid = np.unique(np.concatenate([[0.0], c.time, [c.max_time]]))
        est = _step_at(c.time, c.estimate, grid)
        lo = _step_at(c.time, np.nan_to_num(c.lower, nan=0.0), grid)
        hi = _step_at(c.time, np.nan_to_num(c.upper, nan=0.0), grid)
        name = "All" if c.group is None else (group_labels or {}).get(c.group, str(c.group))
        names.append(name)
        ax.fill_between(grid, lo, hi, step="post", color=color(i), alpha=0.18, lw=0)
        ax.step(grid, est, where="post", color=color(i), lw=1.6, label=f"{name} (n={c.n})")
    ax.set_xlim(0, tmax)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"Time ({time_unit})")
    level = f"{curves[0].conf_level:.0%}"
    ax.set_ylabel(
        f"Cumulative incidence of {cause_label or f'cause {cause}'}\n"
        f"({level} CI, {curves[0].conf_type}, Gray's variance)"
    )
    ax.legend(loc="upper left", frameon=False)
    if title:
        ax.set_title(title, loc="left")
    if with_table:
        tab = fig.add_subplot(gs[1], sharex=ax)
        tab.set_ylim(-0.5, k - 0.5)
        tab.invert_yaxis()
        tab.set_yticks(range(k), names, fontsize=8)
        tab.tick_params(axis="x", labelbottom=False, length=0)
        tab.tick_params(axis="y", length=0, pad=16)
        for side in ("top", "right", "bottom", "left"):
            tab.spines[side].set_visible(False)
        tab.set_title("Number at risk", loc="left", fontsize=8, pad=2)
        for i, c in enumerate(curves):
            for x, n in zip(risk_times, (at_risk or {}).get(c.group, []), strict=False):
                if x <= tmax:
                    tab.text(x, i, str(n), ha="center", va="center", fontsize=8, color=color(i))
    fig.subplots_adjust(left=0.16)
    return fig
