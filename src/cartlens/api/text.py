"""R-like printing of numbers and tables, as text (``print``) and HTML (notebook cells).

:func:`format_real` follows R's ``format(x, digits = d)`` (``formatReal``): one common number
of decimals for a column, the fewest that show every value with ``d`` significant digits
(trailing zeros dropped), switching to scientific notation when that is narrower, as R does
with ``scipen = 0``. :func:`format_pval` follows ``format.pval``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

_EPS = 2.220446049250313e-16


def _decimals(x: float, digits: int) -> int:
    """Decimals needed to show ``x`` with ``digits`` significant digits (zeros dropped)."""
    if x == 0 or not math.isfinite(x):
        return 0
    e = math.floor(math.log10(abs(x)))
    s = f"{abs(x):.{max(0, digits - 1 - e)}f}"
    # rounding may carry into a new digit (9.9996 -> 10.000): recompute from the string
    if "." not in s:
        return 0
    return len(s.split(".")[1].rstrip("0"))


def _sig_needed(x: float, digits: int) -> int:
    """Significant digits (<= ``digits``) needed to show ``x`` to ``digits`` digits."""
    if x == 0 or not math.isfinite(x):
        return 1
    mant = f"{abs(x):.{digits - 1}e}".split("e")[0].replace(".", "").rstrip("0")
    return max(1, len(mant))


def _sci(x: float, digits: int, strip: bool = True) -> str:
    if x == 0:
        return "0" + ("." + "0" * (digits - 1) if digits > 1 and not strip else "") + "e+00"
    m = f"{x:.{digits - 1}e}"
    mant, ex = m.split("e")
    if strip and "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    sign = "-" if int(ex) < 0 else "+"
    return f"{mant}e{sign}{abs(int(ex)):02d}"


def _special(x: Any) -> str | None:
    if x is None:
        return "NA"
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(f):
        return "NA"
    if math.isinf(f):
        return "Inf" if f > 0 else "-Inf"
    return None


def format_real(values: Sequence[Any], digits: int = 7) -> list[str]:
    """Format numbers together as R's ``format(x, digits = digits)``; NA/NaN print ``NA``."""
    vals = [v for v in values if _special(v) is None]
    if not vals:
        return [_special(v) or "" for v in values]
    fl = [float(v) for v in vals]
    rgt = min(15, max(_decimals(x, digits) for x in fl))
    fixed = [f"{x:.{rgt}f}" for x in fl]
    mant = max(_sig_needed(x, digits) for x in fl)  # R: one mantissa length for all
    sci = [_sci(x, mant, strip=False) for x in fl]
    big = max(abs(x) for x in fl)
    if big and (max(map(len, fixed)) > max(map(len, sci))):
        out = iter(sci)
    else:
        out = iter(fixed)
    cells = [_special(v) or next(out) for v in values]
    width = max(map(len, cells))
    return [c.rjust(width) for c in cells]  # R pads to a common width


def format_pval(p: Sequence[Any], digits: int = 3) -> list[str]:
    """R's ``format.pval(p, digits)``: values with exponent >= -3 (or -4 when ``digits > 1``)
    formatted together, the smaller ones together, and ``< 2e-16`` below machine epsilon."""
    out: list[str | None] = [_special(v) for v in p]
    ok = [i for i in range(len(p)) if out[i] is None]
    is0 = [i for i in ok if float(p[i]) < _EPS]
    rest = [i for i in ok if i not in is0]

    def expo(v: float) -> int:
        return math.floor(math.log10(v if v > 0 else 1e-50))

    fixp = [i for i in rest if expo(float(p[i])) >= -3 or (expo(float(p[i])) == -4 and digits > 1)]
    small = [i for i in rest if i not in fixp]
    for grp in (fixp, small):
        for i, s in zip(grp, format_real([float(p[i]) for i in grp], digits)):
            out[i] = s
    if is0:
        d = max(1, digits - 2)
        sep = "" if d == 1 else " "
        if rest:
            nc = max(len(out[i] or "") for i in rest)
            if d > 1 and d + 6 > nc:
                d = max(1, nc - 7)
            sep = "" if d == 1 and nc <= 6 else " "
        for i in is0:
            out[i] = "<" + sep + _sci(_EPS, d)
    return [s or "" for s in out]


def pretty(lo: float, hi: float, n: int = 5) -> list[float]:
    """R's ``pretty(c(lo, hi), n)``: about ``n`` intervals of 1, 2, 5 or 10 times a power of
    ten covering [lo, hi] (R_pretty with its default biases h = 1.5, h5 = 0.5 + 1.5 h)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [float(lo)]
    h, h5 = 1.5, 0.5 + 1.5 * 1.5
    cell = (hi - lo) / n
    base = 10 ** math.floor(math.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    ns = math.floor(lo / unit + 1e-7)
    nu = math.ceil(hi / unit - 1e-7)
    return [float(round(k * unit, 12)) for k in range(ns, nu + 1)]


def signif(x: Any, digits: int) -> str:
    """``format(signif(x, digits))`` for one number."""
    sp = _special(x)
    if sp is not None:
        return sp
    f = float(x)
    if f == 0:
        return "0"
    r = float(f"{f:.{digits - 1}e}")
    return format_real([r], 15)[0]


def stars(p: Any) -> str:
    """R's significance stars."""
    if _special(p) is not None:
        return ""
    f = float(p)
    return "***" if f < 0.001 else "**" if f < 0.01 else "*" if f < 0.05 else "." if f < 0.1 else ""


class Table:
    """A small table with row names, printed as R prints a matrix and rendered as HTML.

    Parameters
    ----------
    columns : sequence of str
        Column headers.
    rows : sequence of sequence of str
        Formatted cells.
    rownames : sequence of str, optional
    caption : str
        HTML caption (and a text line above the table).
    notes : sequence of str
        Lines printed after the table (footnotes in HTML).
    align : str
        ``"r"`` (numbers, as R) or one letter per column.
    indent : sequence of bool
        Rows whose name is indented (factor levels under their variable).
    corner : str
        Header of the row-name column (HTML).
    title : str
        HTML caption when it should differ from the text one.
    """

    def __init__(
        self,
        columns,
        rows,
        rownames=None,
        *,
        caption="",
        notes=(),
        align="r",
        indent=(),
        corner="",
        title="",
    ):
        self.columns = [str(c) for c in columns]
        self.rows = [[str(c) for c in r] for r in rows]
        self.rownames = None if rownames is None else [str(r) for r in rownames]
        self.caption = caption
        self.notes = list(notes)
        self.align = align if len(align) == len(self.columns) else "r" * len(self.columns)
        self.indent = list(indent) or [False] * len(self.rows)
        self.corner = corner
        self.title = title

    def text(self) -> str:
        names = self.rownames or [""] * len(self.rows)
        names = [("    " if ind else "") + n for n, ind in zip(names, self.indent)]
        nw = max([len(n) for n in names] + [0])
        widths = [
            max([len(c)] + [len(r[j]) for r in self.rows]) for j, c in enumerate(self.columns)
        ]

        def line(name: str, cells: Sequence[str]) -> str:
            parts = [name.ljust(nw)] if self.rownames is not None else []
            for j, c in enumerate(cells):
                parts.append(c.ljust(widths[j]) if self.align[j] == "l" else c.rjust(widths[j]))
            return " ".join(parts).rstrip()

        out = [self.caption] if self.caption else []
        out.append(line("", self.columns))
        out += [line(n, r) for n, r in zip(names, self.rows)]
        out += self.notes
        return "\n".join(out)

    def html(self) -> str:
        """The table as HTML. Alignment and indentation are inline styles, so that a
        notebook's own table CSS (JupyterLab right-aligns every cell) does not override them."""
        e = html.escape
        left, right = "text-align:left", "text-align:right"
        shown = (self.title or self.caption).strip()
        cap = f"<caption>{e(shown)}</caption>" if shown else ""
        head = "".join(
            f'<th style="{left if a == "l" else right}">{e(c)}</th>'
            for c, a in zip(self.columns, self.align)
        )
        names = self.rownames is not None and any(self.rownames)
        if names:
            head = f'<th style="{left}">{e(self.corner)}</th>' + head
        body = []
        for i, r in enumerate(self.rows):
            cells = "".join(
                f'<td style="{left if self.align[j] == "l" else right}">{e(c)}</td>'
                for j, c in enumerate(r)
            )
            if names:
                pad = "padding-left:2em;" if self.indent[i] else ""
                cells = (
                    f'<th style="{left};{pad}font-weight:normal">{e(self.rownames[i])}</th>' + cells
                )
            body.append(f"<tr>{cells}</tr>")
        notes = "".join(f"<p>{e(n)}</p>" for n in self.notes if n.strip())
        return (
            f'<table class="cartlens">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
            + (f'<div class="cartlens-notes">{notes}</div>' if notes else "")
        )


CSS = (
    "<style>"
    "table.cartlens{border-collapse:collapse;font-family:-apple-system,'Segoe UI',Helvetica,"
    "Arial,sans-serif;font-size:13px;margin:4px 0 2px 0}"
    "table.cartlens caption{caption-side:top;text-align:left;font-weight:600;padding:0 0 4px 0}"
    "table.cartlens thead th{border-top:2px solid #333;border-bottom:1px solid #333;"
    "padding:3px 10px;text-align:right;font-weight:600}"
    "table.cartlens thead th.corner{text-align:left}"
    "table.cartlens tbody th{text-align:left;font-weight:normal;padding:2px 10px}"
    "table.cartlens tbody th.lvl{padding-left:26px}"
    "table.cartlens td{padding:2px 10px;font-variant-numeric:tabular-nums}"
    "table.cartlens td.r{text-align:right}table.cartlens td.l{text-align:left}"
    "table.cartlens tbody tr:last-child td,table.cartlens tbody tr:last-child th"
    "{border-bottom:2px solid #333}"
    ".cartlens-notes p{margin:1px 0;font-size:12px;color:#444;"
    "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif}"
    ".cartlens-call{font-family:monospace;font-size:12px;color:#555;margin:0 0 4px 0}"
    "</style>"
)


def html_block(call: str, tables: Sequence[Table], lines: Sequence[str] = ()) -> str:
    """A notebook cell's HTML: the call, the tables and the text lines below them."""
    e = html.escape
    parts = [CSS, '<div class="cartlens-result">']
    if call:
        parts.append(f'<p class="cartlens-call">{e(call)}</p>')
    parts += [t.html() for t in tables]
    extra = "".join(f"<p>{e(x)}</p>" for x in lines if x.strip())
    if extra:
        parts.append(f'<div class="cartlens-notes">{extra}</div>')
    parts.append("</div>")
    return "".join(parts)
