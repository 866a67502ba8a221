"""Row-wise products whose value depends only on the row, never on where the row sits.

A BLAS matrix-vector product ``X @ beta`` accumulates each row's terms in an order that
depends on the kernel's blocking (and hence on the row's position and the processor), so two
identical covariate rows can receive linear predictors that differ in the last bit. Anything
later compared for equality (ties in the linear predictor for the concordance, tied propensity
scores in matching, tied weights) would then depend on row order and machine.

The rule (``docs/architecture.md``): every per-row quantity that is later compared for
equality is computed here, by accumulating column by column with elementwise operations.
Each elementwise multiply and add is correctly rounded on its own, so a row's value is the
same function of its own entries wherever it sits: identical rows give bit-identical results,
as R's own row-by-row loops do. The cost is ``p`` passes over ``n`` values, O(n p), the same as
the product it replaces.
"""

from __future__ import annotations

import numpy as np

__all__ = ["canonical_order", "linear_predictor", "linear_predictor_t"]


def linear_predictor(X: np.ndarray, beta: np.ndarray, offset=None) -> np.ndarray:
    """``X @ beta (+ offset)`` for ``X`` of shape (n, p), computed column by column.

    Parameters
    ----------
    X : ndarray, shape (n, p)
    beta : ndarray, shape (p,)
    offset : array_like or scalar, optional
        Added first (``offset + x_1 b_1 + ... + x_p b_p``).

    Returns
    -------
    ndarray, shape (n,)
        Each element depends only on its own row of ``X``: identical rows give identical
        values (bit for bit), independent of row order and BLAS kernel.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    return _accumulate((X[:, j] for j in range(X.shape[1])), beta, X.shape[0], offset)


def linear_predictor_t(XT: np.ndarray, beta: np.ndarray, offset=None) -> np.ndarray:
    """As :func:`linear_predictor` for the transposed design ``XT`` of shape (p, n)."""
    XT = np.asarray(XT, dtype=float)
    return _accumulate(iter(XT), beta, XT.shape[1], offset)


def _accumulate(columns, beta, n: int, offset) -> np.ndarray:
    beta = np.asarray(beta, dtype=float).ravel()
    if offset is None:
        eta = np.zeros(n)
    else:
        eta = np.array(np.broadcast_to(np.asarray(offset, dtype=float), (n,)), dtype=float)
    tmp = np.empty(n)
    for col, b in zip(columns, beta, strict=True):
        np.multiply(col, b, out=tmp)
        eta += tmp
    return eta


def canonical_order(*columns) -> np.ndarray:
    """A row permutation that depends only on the rows' contents, not on their order.

    Sums over rows (cross-products in a model fit) depend on the order they are accumulated
    in, in the last bits. Fitting on the rows sorted by this permutation makes the fit
    bit-identical for the same rows in any order, so that quantities computed from it and
    compared later (propensity scores and the matches made on them) do not depend on row order.

    The rows are sorted by a fixed projection of their values (computed by
    :func:`linear_predictor`, so bit-identical for identical rows): one O(n log n) sort. Rows
    whose keys tie but whose values differ (possible only by coincidence) are put in
    lexicographic order instead. Identical rows may stay in any order: they are
    interchangeable.
    """
    cols = [np.asarray(c, dtype=float).reshape(len(c), -1) for c in columns]
    M = np.column_stack(cols) if len(cols) > 1 else cols[0]
    k = M.shape[1]
    direction = np.random.default_rng(0x5EED).uniform(0.5, 1.5, k) * np.sqrt(np.arange(2, k + 2))
    key = linear_predictor(M, direction)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    same = ks[1:] == ks[:-1]
    if same.any():
        Ms = M[order]
        clash = same & np.any(Ms[1:] != Ms[:-1], axis=1)
        if clash.any():
            order = np.lexsort(M.T[::-1])
    return order
