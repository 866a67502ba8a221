"""Validation and sorting helpers shared by the survival estimators.

Every survival function in :mod:`cartlens.stats` checks its input here, so that bad input
always gives the same :class:`~cartlens.errors.InputError` naming the argument (or, when the
caller passes ``names``, the data column) and the problem: negative or missing times,
``entry >= time``, event values other than 0/1, negative or missing weights, and arrays of
different lengths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cartlens.errors import InputError

__all__ = ["check_survival_input", "check_groups", "group_codes"]

_DEFAULT_NAMES = {
    "time": "time",
    "event": "event",
    "entry": "entry",
    "weights": "weights",
    "group": "group",
    "strata": "strata",
    "cluster": "cluster",
}


def _name(names: Mapping[str, str] | None, key: str) -> str:
    if names and key in names and names[key] is not None:
        return str(names[key])
    return _DEFAULT_NAMES.get(key, key)


def _as_1d_float(x: Any, name: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"values must be numbers ({exc})", column=name) from None
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise InputError(f"must be one-dimensional, got shape {a.shape}", column=name)
    return a


def _desc(v: float) -> str:
    return "a missing value (NaN)" if v != v else str(v)


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def check_survival_input(
    time: Any,
    event: Any,
    entry: Any = None,
    weights: Any = None,
    *,
    names: Mapping[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Validate survival data and return clean arrays.

    Parameters
    ----------
    time : array_like
        Follow-up (exit, "stop") times; finite and >= 0.
    event : array_like
        Event indicator, 0 (censored) or 1 (event); booleans are accepted.
    entry : array_like, optional
        Entry ("start") times for left-truncated / counting-process data, ``(entry, time]``;
        finite, >= 0 and strictly smaller than ``time``.
    weights : array_like, optional
        Case weights; finite and >= 0.
    names : mapping, optional
        Names to use in error messages for the keys ``time``, ``event``, ``entry``,
        ``weights`` (for example the CSV column names).

    Returns
    -------
    time : ndarray of float64
    event : ndarray of int8 (0/1)
    entry : ndarray of float64 or None
    weights : ndarray of float64 or None

    Raises
    ------
    InputError
        Naming the argument (or column) and the problem.
    """
    t_name = _name(names, "time")
    e_name = _name(names, "event")
    t = _as_1d_float(time, t_name)
    n = t.shape[0]
    if n == 0:
        raise InputError("no observations (empty input)", column=t_name)
    _check_finite_nonnegative(t, "time", t_name)

    ev_raw = np.asarray(event)
    if ev_raw.ndim == 0:
        ev_raw = ev_raw.reshape(1)
    if ev_raw.ndim != 1:
        raise InputError(f"must be one-dimensional, got shape {ev_raw.shape}", column=e_name)
    _check_length(ev_raw, n, e_name, t_name)
    if ev_raw.dtype == np.bool_:
        ev = ev_raw.astype(np.int8)
    else:
        try:
            evf = ev_raw.astype(np.float64)
        except (TypeError, ValueError):
            raise InputError(
                "event indicator must be 0 (censored) or 1 (event); got non-numeric values",
                column=e_name,
            ) from None
        ok = (evf == 0) | (evf == 1)
        if not ok.all():
            i = _first_bad(~ok)
            raise InputError(
                f"event indicator must be 0 (censored) or 1 (event); got {ev_raw[i]!r} "
                f"at position {i + 1}",
                column=e_name,
            )
        ev = evf.astype(np.int8)

    en = None
    if entry is not None:
        s_name = _name(names, "entry")
        en = _as_1d_float(entry, s_name)
        _check_length(en, n, s_name, t_name)
        _check_finite_nonnegative(en, "entry time", s_name)
        bad = en >= t
        if bad.any():
            i = _first_bad(bad)
            raise InputError(
                f"entry (start) must be < {t_name} (stop); got start {en[i]} >= stop {t[i]} "
                f"at position {i + 1}",
                column=s_name,
            )

    w = None
    if weights is not None:
        w_name = _name(names, "weights")
        w = _as_1d_float(weights, w_name)
        _check_length(w, n, w_name, t_name)
        _check_finite_nonnegative(w, "weights", w_name)
    return t, ev, en, w


def _check_length(x: np.ndarray, n: int, name: str, t_name: str) -> None:
    """Raise :class:`InputError` unless ``x`` has one value per time."""
    if x.shape[0] != n:
        raise InputError(
            f"has {x.shape[0]} values but {t_name} has {n} (lengths must match)", column=name
        )


def _check_finite_nonnegative(x: np.ndarray, what: str, name: str) -> None:
    """Raise :class:`InputError` at the first value that is not finite, then at the first < 0."""
    bad = ~np.isfinite(x)
    if bad.any():
        i = _first_bad(bad)
        raise InputError(
            f"{what} must be finite, got {_desc(x[i])} at position {i + 1}", column=name
        )
    if (x < 0).any():
        i = _first_bad(x < 0)
        raise InputError(f"{what} must be >= 0, got {x[i]} at position {i + 1}", column=name)


def _is_missing_array(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "f":
        return np.isnan(a)
    if a.dtype.kind == "O":
        import pandas as pd  # object labels only: None, NaN, pd.NA, NaT

        return np.asarray(pd.isna(a), dtype=bool)
    return np.zeros(a.shape, dtype=bool)


def group_codes(values: Any, n: int, *, name: str = "group") -> tuple[list, np.ndarray]:
    """Sorted distinct levels and integer codes of a grouping variable.

    Parameters
    ----------
    values : array_like
        One label per observation (numbers, strings, booleans). Missing labels (None/NaN) are
        an error: drop such rows first.
    n : int
        Expected length.
    name : str
        Name used in error messages.

    Returns
    -------
    levels : list
        Distinct labels in sorted order, as Python scalars.
    codes : ndarray of intp
        Index into ``levels`` for each observation.
    """
    a = np.asarray(values)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise InputError(f"must be one-dimensional, got shape {a.shape}", column=name)
    if a.shape[0] != n:
        raise InputError(f"has {a.shape[0]} values but there are {n} times", column=name)
    miss = _is_missing_array(a)
    if miss.any():
        i = _first_bad(miss)
        raise InputError(
            f"missing group label at position {i + 1}; drop or recode missing values first",
            column=name,
        )
    if a.dtype.kind in "iub" and a.size and a.dtype.kind != "b":
        lo = int(a.min())
        hi = int(a.max())
        if hi - lo < 1_000_000:
            # fast path for small-integer codes: bincount instead of a sort
            present = np.flatnonzero(np.bincount(a - lo, minlength=hi - lo + 1))
            lookup = np.full(hi - lo + 1, -1, dtype=np.intp)
            lookup[present] = np.arange(present.size)
            codes = lookup[a - lo]
            return [int(v) + lo for v in present], codes
    try:
        levels, codes = np.unique(a, return_inverse=True)
    except TypeError:
        # mixed types: compare as text
        s = a.astype(str)
        levels, codes = np.unique(s, return_inverse=True)
    return [v.item() if hasattr(v, "item") else v for v in levels], codes.astype(np.intp)


def check_groups(levels: list, name: str = "group") -> None:
    """Raise if there are no groups at all (an empty input)."""
    if not levels:
        raise InputError("no groups (empty input)", column=name)


def time_codes(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct sorted times and, for every row, the index of its time among them.

    Integer-valued times with a moderate range (e.g. days) take an O(n) counting path with
    ``np.bincount`` - no sort at all; other times use ``np.unique``.

    Parameters
    ----------
    t : ndarray of float64
        Validated (finite) times.

    Returns
    -------
    utime : ndarray of float64
        Sorted distinct times.
    index : ndarray of intp
        ``utime[index] == t``.
    """
    n = t.size
    if n:
        lo = float(t.min())
        hi = float(t.max())
        span = hi - lo
        if span <= 4 * n + 1_000_000:
            off = (t - lo).astype(np.intp)
            if np.array_equal(off + lo, t):
                present = np.bincount(off, minlength=int(span) + 1) > 0
                lookup = np.cumsum(present) - 1
                utime = np.flatnonzero(present).astype(np.float64) + lo
                return utime, lookup[off]
    utime, index = np.unique(t, return_inverse=True)
    return utime, index.reshape(-1).astype(np.intp)
