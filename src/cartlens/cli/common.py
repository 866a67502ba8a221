"""Conventions shared by every command: CSV reading, missing values, errors, output.

* ``--data FILE``: a CSV file. Every column is read as text first, so that group labels are
  reported exactly as written; numeric columns are converted with :func:`numeric_column`.
* Missing values: empty fields and ``NA`` (R's ``write.csv`` writes NA as an empty field).
  Rows with a missing value in a used column are dropped and counted (``n_dropped_missing``).
* ``--event COL [--event-code VALUE]``: the value meaning "event" (default ``1``); every other
  non-missing value is a censoring.
* Errors: :class:`cartlens.errors.InputError` and other :class:`CartlensError` print
  ``error: ...`` on stderr and exit with status 2 - never a traceback.
* Output: a rich table by default; ``--json`` prints one JSON object (NaN -> null), to which
  the texts of any statistical warnings are added under ``"warnings"``.
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from cartlens.errors import CartlensError, InputError

MISSING_TOKENS = ("", "NA")

DataOpt = Annotated[str, typer.Option("--data", help="CSV file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def read_csv(path: str | Path):
    """Read a CSV with every column as text (missing: empty field or ``NA``)."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise InputError(f"data file '{p}' does not exist", column=None)
    try:
        df = pd.read_csv(
            p,
            dtype=str,
            keep_default_na=False,
            na_values=list(MISSING_TOKENS),
            skipinitialspace=False,
        )
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"data file '{p}' is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"data file '{p}' is not a readable CSV: {exc}") from exc
    df.columns = [str(c) for c in df.columns]
    return df


def require_columns(df, columns: Sequence[str | None], path: str | Path | None = None) -> None:
    """Raise :class:`InputError` naming the first column that does not exist."""
    for c in columns:
        if c is not None and c not in df.columns:
            where = f" in '{path}'" if path else ""
            raise InputError(
                f"does not exist{where} (columns are: {', '.join(map(str, df.columns))})", column=c
            )


def drop_missing(df, columns: Sequence[str | None]):
    """Drop rows with a missing value in any used column; return (frame, n_dropped)."""
    used = [c for c in columns if c is not None]
    keep = df[used].notna().all(axis=1)
    return df.loc[keep].reset_index(drop=True), int((~keep).sum())


NO_ROWS_LEFT = "no rows left after dropping rows with missing values"


def load_complete_rows(
    data: str | Path,
    columns: Sequence[str | None],
    *,
    empty_column: str,
    also_required: Sequence[str | None] = (),
    empty_message: str = NO_ROWS_LEFT,
):
    """Read ``data``, check the columns exist, drop rows with a missing value in ``columns``.

    ``also_required`` columns must exist but may have missing values. When no row is left,
    an :class:`InputError` with ``empty_message`` names ``empty_column``.
    Returns (frame, n_dropped).
    """
    df = read_csv(data)
    require_columns(df, [*columns, *also_required], data)
    df, n_dropped = drop_missing(df, columns)
    if len(df) == 0:
        raise InputError(empty_message, column=empty_column)
    return df, n_dropped


def load_survival_frame(
    data: str | Path,
    time: str,
    event: str,
    event_code: str = "1",
    others: Sequence[str | None] = (),
    *,
    also_required: Sequence[str | None] = (),
):
    """Complete rows of ``time``, ``event`` and ``others`` (see :func:`load_complete_rows`).

    Returns (frame as text, time as float, 0/1 event indicator, n_dropped).
    """
    df, n_dropped = load_complete_rows(
        data, [time, event, *others], empty_column=time, also_required=also_required
    )
    return df, numeric_column(df, time), event_indicator(df, event, event_code), n_dropped


def label_key(label: str):
    """Sort key: labels that look like numbers first, numerically; the others as text."""
    try:
        return (0, float(label), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(label))


def group_labels(df, column: str) -> list:
    """Distinct labels of a text column, exactly as written, in :func:`label_key` order."""
    return sorted(df[column].unique(), key=label_key)


def group_codes(df, column: str):
    """Labels (see :func:`group_labels`) and the integer code of each row."""
    import numpy as np

    labels = group_labels(df, column)
    index = {lab: i for i, lab in enumerate(labels)}
    return labels, df[column].map(index).to_numpy(dtype=np.intp)


def whole_number(x: float) -> int | float:
    """Whole numbers as int (counts, codes), others as float."""
    f = float(x)
    return int(f) if f.is_integer() else f


def numeric_column(df, column: str):
    """Column as float64; a non-numeric value is an :class:`InputError` naming row and value."""
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() & df[column].notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"value '{df[column].iloc[i]}' in data row {i + 1} is not a number", column=column
        )
    return values.to_numpy(dtype=float)


def numbers_if_numeric(values):
    """A text column as numbers when every non-missing value is a number, else ``None``."""
    import pandas as pd

    conv = pd.to_numeric(values, errors="coerce")
    return conv if bool((conv.notna() == values.notna()).all()) else None


_NO_VALUES = {"0", "0.0", "false", "no", "n"}


def event_indicator(df, column: str, code: str = "1", *, option: str | None = None):
    """0/1 event indicator: 1 where the column equals ``code`` (compared as text and number).

    For a survival event column (``option=None``) every other value is a censoring. With
    ``option`` (the command's option that sets ``code``, e.g. ``--outcome-code``) the column is
    a binary outcome: more than two distinct values, or a ``code`` that matches none of them
    (unless the only value is a "no" such as 0), is an :class:`InputError` naming the column,
    the values found and the option.
    """
    import numpy as np
    import pandas as pd

    raw = df[column].astype(str).str.strip()
    hit = raw == str(code).strip()
    try:
        num = float(code)
        as_num = pd.to_numeric(raw, errors="coerce")
        hit = hit | (as_num == num)
    except ValueError:
        pass
    if option is None:
        return hit.to_numpy().astype(np.int64)
    values = sorted(set(raw[df[column].notna().to_numpy()]), key=label_key)
    shown = ", ".join(repr(v) for v in values[:10]) + (", ..." if len(values) > 10 else "")
    if len(values) > 2:
        raise InputError(
            f"must be binary (event / no event, the event value set by {option}), but "
            f"{len(values)} values were found: {shown}; recode it to two values",
            column=column,
        )
    if not hit.any() and not (len(values) == 1 and values[0].lower() in _NO_VALUES):
        raise InputError(
            f"no row has the event value {option} {code!r}; values found: {shown}",
            column=column,
        )
    return hit.to_numpy().astype(np.int64)


def parse_floats(text: str | None, option: str) -> list[float] | None:
    """Parse ``"1,2,3"`` into floats; a bad element is an :class:`InputError` naming the option."""
    if text is None or text == "":
        return None
    out = []
    for part in text.split(","):
        try:
            out.append(float(part))
        except ValueError as exc:
            raise InputError(f"'{part}' is not a number", column=option) from exc
    return out


@contextlib.contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """Collect the user-facing warnings raised inside the block as strings.

    Every ``UserWarning`` counts, which includes cartlens' ``StatisticalWarning`` family.
    """
    texts: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield texts
    for w in caught:
        if issubclass(w.category, UserWarning):
            texts.append(f"{w.category.__name__}: {w.message}")


def run_command(compute: Callable[[], dict], as_json: bool, render: Callable[[dict], Any]) -> None:
    """Run ``compute``; print JSON or a table; map cartlens errors to exit 2."""
    from cartlens.results import json_safe

    try:
        with collect_warnings() as texts:
            payload = compute()
    except CartlensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    except (ValueError, KeyError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    for t in dict.fromkeys(texts):
        print(f"warning: {t}", file=sys.stderr)
    if texts:
        payload = {**payload, "warnings": list(dict.fromkeys(texts))}
    if as_json:
        print(json.dumps(json_safe(payload), indent=2, allow_nan=False))
    else:
        render(payload)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a rich table (numbers formatted to 4 significant digits)."""
    from rich.console import Console
    from rich.table import Table

    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    table = Table(title=title)
    for c in columns:
        table.add_column(str(c))
    for r in rows:
        table.add_row(*[fmt(v) for v in r])
    Console().print(table)
