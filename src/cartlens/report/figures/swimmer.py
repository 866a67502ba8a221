"""Swimmer plot: each patient's course from CART1 to death or last contact."""

from __future__ import annotations

from collections.abc import Sequence

from cartlens.report.style import apply_style

_MARK = {
    "CART1": ("^", "#0072B2", "CART1"),
    "CART2": ("D", "#D55E00", "CART2"),
    "HSCT": ("*", "#009E73", "allo-HSCT"),
    "relapse": ("x", "#000000", "relapse / progression"),
}


def swimmer_figure(patients: Sequence[dict], *, time_unit: str = "months", title: str = ""):
    """One bar per patient from CART1 to death or last contact, with the course's events."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    apply_style()
    n = len(patients)
    fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.2 * n))
    for i, p in enumerate(patients):
        end = p["end"] or 0.0
        ax.barh(
            i,
            end,
            color="#BBD7EA" if p["cart2_cr"] else "#E8E8E8",
            height=0.6,
            edgecolor="#777777",
            lw=0.4,
        )
        for ev in p["events"]:
            if ev["t"] is None:
                continue
            if ev["kind"] == "response":
                cr = ev.get("value") in ("CR", "CRi")
                ax.plot(ev["t"], i, "o", ms=4, color="#009E73" if cr else "#CC79A7", zorder=3)
            elif ev["kind"] in _MARK:
                m, c, _ = _MARK[ev["kind"]]
                ax.plot(ev["t"], i, m, ms=6 if m == "*" else 4.5, color=c, zorder=4)
        if p["dead"]:
            ax.plot(end, i, "s", ms=4, color="#000000", zorder=4)
        else:
            ax.annotate(
                "",
                xy=(end + 1.2, i),
                xytext=(end, i),
                arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 0.9},
            )
    ax.set_yticks(range(n), [p["patient_id"] for p in patients], fontsize=6.5)
    ax.invert_yaxis()
    ax.set_xlabel(f"Time from CART1 ({time_unit})")
    handles = [
        Line2D([], [], marker=m, ls="none", color=c, label=lab) for m, c, lab in _MARK.values()
    ]
    handles += [
        Line2D([], [], marker="o", ls="none", color="#009E73", label="CR/CRi"),
        Line2D([], [], marker="o", ls="none", color="#CC79A7", label="no CR"),
        Line2D([], [], marker="s", ls="none", color="#000000", label="death"),
        Line2D([], [], marker=r"$\rightarrow$", ls="none", color="#333333", label="alive"),
    ]
    ax.legend(handles=handles, ncols=4, loc="lower right", fontsize=7)
    if title:
        ax.set_title(title + " (blue bar: CR after CART2)", loc="left")
    _labels = [p["patient_id"] for p in patients]
    _w = fig.get_figwidth()
    _left = min(0.55, (0.2 + 0.062 * max((len(x) for x in _labels), default=4)) / _w)
    fig.subplots_adjust(left=_left, right=0.97, top=0.95, bottom=0.08)
    return fig
