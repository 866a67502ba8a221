"""Display rows of the report's forest plot from a fitted model (``fit.plot()``).

As the report's regression table: a factor is a header row, its reference level a row without
a marker and every other level a row with its ratio; a numeric covariate is one row. With the
model frame, each row also gets its N (events).
"""

from __future__ import annotations

import re

import numpy as np

from cartlens.api.frame import level_text, levels_of

_LEVEL = re.compile(r"^(?P<var>[^\[\]:]+)\[(?P<level>[^\]]*)\]$")


def forest_rows(
    table: list[dict], measure: str, rhs: str, data, event: np.ndarray | None = None
) -> list[dict]:
    """Rows for :func:`cartlens.report.figures.forest.forest_figure`.

    Parameters
    ----------
    table : list of dict
        The fit's ``terms_table()`` (``term``, ratio under ``measure`` or ``hr``, ``lower``,
        ``upper``, ``p``).
    rhs : str
        The model's right-hand side (formulaic syntax), to group a factor's dummies.
    data : DataFrame
        The rows the model used; ``event`` their 0/1 events (for N (events)).
    """
    from cartlens.report.format import Formatter
    from cartlens.stats.formula import design
    from cartlens.stats.zph import term_label

    fmt = Formatter({})
    by_name = {r["term"]: r for r in table}
    d = design(rhs, data)
    n = len(data)
    ev = None if event is None else np.asarray(event, dtype=float)

    def counts(mask) -> str:
        if ev is None:
            return ""
        return f"{int(mask.sum())} ({int(ev[mask].sum())})"

    def term_row(label: str, name: str, indent: int, mask) -> dict:
        r = by_name.get(name, {})
        est = r.get(measure, r.get("hr"))
        ok = est is not None and np.isfinite(est)
        return {
            "label": label,
            "indent": indent,
            "kind": "term",
            "est": est if ok else None,
            "lower": r.get("lower"),
            "upper": r.get("upper"),
            "text": fmt.ratio(est, r.get("lower"), r.get("upper")),
            "p": fmt.pvalue(r.get("p")),
            "n_events": counts(mask),
        }

    rows: list[dict] = []
    everyone = np.ones(n, dtype=bool)
    for term, idx in d.term_columns.items():
        names = [d.names[i] for i in idx]
        parts = [_LEVEL.match(nm) for nm in names]
        var = parts[0].group("var") if all(parts) else None
        if var is not None and all(p.group("var") == var for p in parts) and var in data:
            col = data[var]
            text = col.map(level_text)
            shown = [p.group("level") for p in parts]
            rows.append({"label": term_label(term), "indent": 0, "kind": "header"})
            for lv in levels_of(col):
                t = level_text(lv)
                mask = (text == t).to_numpy()
                if t not in shown:
                    rows.append(
                        {"label": t, "indent": 1, "kind": "reference", "n_events": counts(mask)}
                    )
                else:
                    rows.append(term_row(t, f"{var}[{t}]", 1, mask))
        else:
            for nm in names:
                rows.append(term_row(nm, nm, 0, everyone))
    return rows
