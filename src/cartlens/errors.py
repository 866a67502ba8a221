"""Typed errors and warnings shared by every layer.

Errors name what is wrong (column, value, rule) so that a user can act on them; the command
line turns :class:`InputError` into exit status 2. Warnings flag statistically dangerous input
(separation, sparse cells, immortal time, ...) and always come with a defined result.
"""

from __future__ import annotations


class CartlensError(Exception):
    """Base class of all errors raised deliberately by cartlens."""


class InputError(CartlensError, ValueError):
    """Bad input: names the column (or field) and the problem.

    Parameters
    ----------
    message : str
        What is wrong, in words a user can act on.
    column : str, optional
        The column, field or key concerned.
    """

    def __init__(self, message: str, *, column: str | None = None) -> None:
        self.column = column
        super().__init__(f"column '{column}': {message}" if column else message)


class ConvergenceError(CartlensError, RuntimeError):
    """An iterative fit failed in a way that leaves no defined result."""


class StatisticalWarning(UserWarning):
    """Base class: the result is defined but the input makes it questionable."""


class ConvergenceWarning(StatisticalWarning):
    """An iterative fit stopped before meeting its convergence criterion."""


class SeparationWarning(StatisticalWarning):
    """Monotone likelihood / (quasi-)complete separation: a coefficient diverges."""


class CollinearityWarning(StatisticalWarning):
    """Covariates are (nearly) linearly dependent; redundant terms were dropped."""


class SparseDataWarning(StatisticalWarning):
    """Too few observations or events (small expected counts, zero events in a group...)."""


class NoEventsWarning(SparseDataWarning):
    """There are no events, so the estimate is degenerate (e.g. S(t) = 1 throughout)."""


class PairedDataWarning(StatisticalWarning):
    """Overlapping subjects were treated as independent groups."""


class ImmortalTimeWarning(StatisticalWarning):
    """Groups are defined by an event dated after the analysis' time zero.

    Remedies: a landmark analysis, a Cox model with the exposure as a time-dependent
    covariate, the Mantel-Byar test, or Simon-Makuch curves.
    """


class BalanceWarning(StatisticalWarning):
    """Covariate balance after adjustment misses its stated threshold."""


class OverlapWarning(StatisticalWarning):
    """Propensity scores of the groups hardly overlap (positivity in doubt)."""
