"""Cohort flow diagram drawn from the study's cohort hierarchy."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from cartlens.report.style import apply_style, color


def flow_figure(nodes: Sequence[dict], *, count_format=str):
    """Cohort flow diagram: boxes (label, n) in rows by depth, arrows from each box's parent.

    ``nodes``: dicts with ``name``, ``label``, ``n``, ``parent`` (a name or None), in the order
    the study defines them.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    apply_style()
    by = {nd["name"]: nd for nd in nodes}
    depth: dict[str, int] = {}

    def d(name: str) -> int:
        if name not in depth:
            par = by[name].get("parent")
            depth[name] = 0 if par is None or par not in by else d(par) + 1
        return depth[name]

    for nd in nodes:
        d(nd["name"])
    # order within rows: depth-first from the roots, in definition order
    children: dict[str | None, list[str]] = {}
    for nd in nodes:
        par = nd.get("parent") if nd.get("parent") in by else None
        children.setdefault(par, []).append(nd["name"])
    order: list[str] = []

    def walk(name: str) -> None:
        order.append(name)
        for c in children.get(name, []):
            walk(c)

    for r in children.get(None, []):
        walk(r)
    rows: dict[int, list[str]] = {}
    for name in order:
        rows.setdefault(depth[name], []).append(name)
    width = max(len(v) for v in rows.values())
    nrow = len(rows)
    fig, ax = plt.subplots(figsize=(max(6.5, 2.3 * width), 1.05 * nrow + 0.3))
    ax.set_xlim(0, width)
    ax.set_ylim(-nrow + 0.55, 0.45)
    ax.axis("off")
    pos: dict[str, tuple[float, float]] = {}
    # place children under their parents where possible
    for dep in sorted(rows):
        names = rows[dep]
        xs = []
        for name in names:
            par = by[name].get("parent")
            xs.append(pos[par][0] if par in pos else None)
        k = len(names)
        default = [(width / k) * (j + 0.5) for j in range(k)]
        placed = []
        for j, name in enumerate(names):
            x = default[j]
            placed.append(x)
            pos[name] = (x, -dep)
    for name, (x, y) in pos.items():
        nd = by[name]
        k = len(rows[depth[name]])
        bw = min(2.0, 0.92 * width / k)
        text = (
            textwrap.fill(str(nd["label"]), max(14, int(bw * 15)))
            + f"\nn = {count_format(nd['n'])}"
        )
        box = FancyBboxPatch(
            (x - bw / 2, y - 0.34),
            bw,
            0.68,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            fc="#EEF4FA",
            ec=color(0),
            lw=1.0,
        )
        ax.add_patch(box)
        ax.text(x, y, text, ha="center", va="center", fontsize=7.2, wrap=True)
        par = nd.get("parent")
        if par in pos:
            px, py = pos[par]
            ax.annotate(
                "",
                xy=(x, y + 0.34),
                xytext=(px, py - 0.34),
                arrowprops={"arrowstyle": "->", "color": "#555555", "lw": 0.9},
            )
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01)
    return fig
