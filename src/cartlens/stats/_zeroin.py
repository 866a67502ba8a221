"""R's ``uniroot`` root finder (``R_zeroin2``, Brent's method) for results that must match R
where R stops at its own tolerance.

Some R results are the root of a step function found by ``uniroot(..., tol = 1e-4)`` (for
example the Hodges-Lehmann estimate and interval of ``wilcox.test`` in its normal
approximation): any point within the tolerance of the jump is "a root", and which one R
reports depends on the iterates of its algorithm. Following the same iterates from the same
bracket gives R's number, not merely a number within R's tolerance.

References
----------
Brent RP. Algorithms for Minimization without Derivatives. Prentice-Hall, 1973, chapter 4.
R Core Team. ``src/library/stats/src/zeroin.c`` (``R_zeroin2``), used by ``uniroot``.
"""

from __future__ import annotations

from collections.abc import Callable

_EPS = 2.220446049250313e-16


def zeroin2(
    f: Callable[[float], float],
    ax: float,
    bx: float,
    fa: float,
    fb: float,
    tol: float,
    maxit: int = 1000,
) -> float:
    """Root of ``f`` in [ax, bx] given f(ax) = fa and f(bx) = fb of opposite signs, as R's
    ``uniroot(f, c(ax, bx), f.lower = fa, f.upper = fb, tol = tol, maxiter = maxit)$root``."""
    a, b = ax, bx
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxit + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b
