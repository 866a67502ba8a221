"""The one place where figure styling lives.

Every figure function takes results and returns a matplotlib ``Figure``; it calls
:func:`apply_style` (or uses :func:`new_figure`) and picks colours from :data:`PALETTE`.
The backend is forced to ``Agg`` so that figures render without a display.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

#: Colour-blind-safe palette (Okabe-Ito), in the order groups are drawn.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "svg.fonttype": "none",
    "svg.hashsalt": "cartlens",
}


def apply_style() -> None:
    """Apply cartlens' rcParams globally."""
    plt.rcParams.update(RC)


def color(i: int) -> str:
    """The i-th palette colour (cycling)."""
    return PALETTE[i % len(PALETTE)]


def new_figure(width: float = 6.0, height: float = 4.0, **kwargs):
    """A styled figure and axes (``plt.subplots`` with cartlens' style)."""
    apply_style()
    return plt.subplots(figsize=(width, height), **kwargs)
