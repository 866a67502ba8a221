"""The behaviour every notebook result shares: R-like print, HTML, tidy frame, attributes.

A notebook result (:class:`Fit`) wraps one frozen :class:`cartlens.results.Result` (its
``result``) with what R's object also keeps: the call and the model frame. Attributes it does
not define itself are those of the result (``fit.coef``, ``fit.curves``), ``to_dict()`` and
``to_frame()`` are the result's, and ``print(fit)`` / ``fit._repr_html_()`` show the tables
that R's ``print`` method shows. Nothing is recomputed for display.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any

from cartlens.api.text import Table, html_block


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Printed:
    """Tables and lines, printed as text and rendered as HTML (e.g. ``fit.summary()``).

    ``frame`` holds the numbers shown, unformatted (``to_frame()``).
    """

    call: str
    tables: tuple[Table, ...]
    lines: tuple[str, ...] = ()
    frame: Any = None
    head: tuple[str, ...] = ()
    inline_call: bool = False
    gap: bool = True  # a blank line after each table (R's print methods differ)
    preface: tuple[str, ...] = ()  # lines before the call (summary.crr's title)

    def text(self) -> str:
        sep = " " if self.inline_call else "\n"
        parts = [*self.preface]
        parts += [f"Call:{sep}{self.call}\n"] if self.call else []
        parts += [*self.head]
        for t in self.tables:
            parts.append(t.text())
            if self.gap:
                parts.append("")
        if not self.gap:
            parts.append("")
        parts += self.lines
        return "\n".join(parts).rstrip() + "\n"

    def __repr__(self) -> str:
        return self.text()

    __str__ = __repr__

    def _repr_html_(self) -> str:
        return html_block(self.call, self.tables, [*self.preface, *self.head, *self.lines])

    def to_frame(self):
        """The numbers shown, as a pandas DataFrame."""
        return self.frame


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Fit:
    """Base of the notebook results (see the module docstring)."""

    result: Any
    call: str

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            res = object.__getattribute__(self, "result")
        except AttributeError:
            raise AttributeError(name) from None
        return getattr(res, name)

    # --- what subclasses provide -------------------------------------------------------
    def printed(self) -> Printed:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def summary(self, *args: Any, **kwargs: Any) -> Printed:
        """R's ``summary()``: by default what ``print`` shows."""
        return self.printed()

    # --- shared ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The result's JSON-safe dict."""
        return self.result.to_dict()

    def to_frame(self):
        """The result's tidy frame (``cartlens.results.TIDY_COLUMNS``)."""
        return self.result.to_frame()

    def __repr__(self) -> str:
        return self.printed().text()

    __str__ = __repr__

    def _repr_html_(self) -> str:
        return self.printed()._repr_html_()


def call_text(fun: str, formula: str, **kwargs: Any) -> str:
    """``fun(formula = ..., data = data, ...)`` as R prints a call."""
    extra = "".join(
        f", {k.replace('_', '.')} = {_r_value(v)}" for k, v in kwargs.items() if v is not None
    )
    return f"{fun}(formula = {formula}, data = data{extra})"


def _r_value(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def user_warnings(fn):
    """Re-issue the statistical warnings of a call from the caller's line (the notebook cell),
    not from the cartlens module that first raised them; they are issued even when the call
    then fails."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        error = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:  # re-raised below, after the warnings
                error = exc
        for w in caught:
            warnings.warn(w.message, w.category, stacklevel=2)
        if error is not None:
            raise error
        return result

    return wrapper
