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


def swimmer_figure(
    patients: Sequence[dict], *, time_unit: str = "months", title: str = "", note: str = ""
):
    """One bar per patient from CART1 to death or last contact, with the course's events.

    ``note`` (e.g. that the patients are a seeded selection of a larger cohort) is printed
    under the axis.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    apply_style()
    n = len(patients)
    fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.2 * n))
    ends = [p["end"] or 0.0 for p in patients]
    ax.barh(
        range(n),
        ends,
        color=["#BBD7EA" if p["cart2_cr"] else "#E8E8E8" for p in patients],
        height=0.6,
        edgecolor="#777777",
        lw=0.4,
    )
    # one artist per marker kind (cheaper to draw than one per event)
    points: dict[tuple[str, str, float, int], tuple[list, list]] = {}

    def put(key, x, y):
        xs, ys = points.setdefault(key, ([], []))
        xs.append(x)
        ys.append(y)

    alive_x, alive_y = [], []
    for i, p in enumerate(patients):
        for ev in p["events"]:
            if ev["t"] is None:
                continue
            if ev["kind"] == "response":
                cr = ev.get("value") in ("CR", "CRi")
                put(("o", "#009E73" if cr else "#CC79A7", 4.0, 3), ev["t"], i)
            elif ev["kind"] in _MARK:
                m, c, _ = _MARK[ev["kind"]]
                put((m, c, 6.0 if m == "*" else 4.5, 4), ev["t"], i)
        if p["dead"]:
            put(("s", "#000000", 4.0, 4), ends[i], i)
        else:
            alive_x.append(ends[i])
            alive_y.append(i)
    for (m, c, ms, z), (xs, ys) in points.items():
        ax.plot(xs, ys, ls="none", marker=m, ms=ms, color=c, zorder=z)
    if alive_x:
        ax.quiver(
            alive_x,
            alive_y,
            [1.2] * len(alive_x),
            [0] * len(alive_x),
            angles="xy",
            scale_units="xy",
            scale=1,
            width=0.003,
            headwidth=4,
            color="#333333",
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
    if note:
        fig.text(0.01, 0.005, note, fontsize=6.5, ha="left", va="bottom")
    _labels = [p["patient_id"] for p in patients]
    _w = fig.get_figwidth()
    _left = min(0.55, (0.2 + 0.062 * max((len(x) for x in _labels), default=4)) / _w)
    fig.subplots_adjust(left=_left, right=0.97, top=0.95, bottom=0.08)
    return fig
