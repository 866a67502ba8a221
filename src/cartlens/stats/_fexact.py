"""Fisher's exact test for r x c tables: exact network algorithm and Monte Carlo.

Private helpers of :func:`cartlens.stats.tables.fisher_test`.

Exact p-value
-------------
Given the margins, a table has probability ``exp(C0 + v)`` with
``C0 = sum log R_i! + sum log C_j! - log N!`` and ``v = -sum log x_ij!``. The p-value is the
total probability of the tables with ``v <= v_obs + tol``, where ``tol = 3.45254e-7`` is the
tolerance R's FEXACT uses on this log scale (R compares "path lengths" with it), so tables
whose probability ties with the observed one up to a relative ``3.45e-7`` count as "as
extreme".

The tables are enumerated as paths through a network (Mehta and Patel 1983): stage ``k`` has
filled columns ``1..k``; a node is the multiset of the remaining row sums (the sub-problem is
symmetric in the rows, so sorted row sums identify it). Each node keeps its distinct "past"
values ``v`` of the filled columns with their multiplicities. For a node, bounds on the
largest and smallest "future" value of any completion decide, for every past value at once,
whether all completions count (their total mass has the closed form
``M! / (prod m_i! prod c_j!)``), none do, or the node must be expanded. The bounds come from
relaxing the problem column by column and row by row (each column's cells only bounded by the
remaining row sums): ``sum log x!`` is Schur-convex, so its minimum over one column is the
most even filling and its maximum the greedy filling of the largest rows. Work grows with the
number of distinct nodes and past values, not with the number of tables.

Monte Carlo
-----------
As R's ``simulate.p.value``: ``B`` tables with the observed margins are drawn (the
conditional distribution, here cell by cell from the hypergeometric distributions it
factorises into, vectorised over the replicates) and
``p = (1 + #{v_b <= v_obs / (1 + 64 eps)}) / (B + 1)``. R's random stream cannot be
reproduced, so simulated p-values agree with R's only within Monte Carlo error; the seed makes
cartlens' own value reproducible.

References
----------
Mehta CR, Patel NR. A network algorithm for performing Fisher's exact test in r x c
contingency tables. J Am Stat Assoc 1983;78:427-434.
Mehta CR, Patel NR. Algorithm 643: FEXACT. ACM Trans Math Softw 1986;12:154-161.
Joe H. Extreme probabilities for contingency tables under row and column independence with
application to Fisher's exact test. Commun Stat Theory Methods 1988;17:3677-3685.
Patefield WM. Algorithm AS 159: an efficient method of generating random r x c tables with
given row and column totals. Appl Stat 1981;30:91-97.
Hope ACA. A simplified Monte Carlo significance test procedure. J R Stat Soc B 1968;30:582-598.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from cartlens.errors import InputError

#: R's FEXACT tolerance on the log-probability scale ("square root of the smallest relative
#: spacing"); tables with log P <= log P_obs + TOL count as at least as extreme.
FEXACT_TOL = 3.45254e-7
#: Past values closer than this (log scale) are merged into one entry of a node.
_MERGE = 1e-9
#: Work limit (past values carried through the network, in all and per stage) before the
#: exact test gives up (it bounds the memory to a few hundred MB).
MAX_WORK = 4_000_000


def _even_min(total: int, caps: np.ndarray, lf: np.ndarray) -> float:
    """min sum log x_i! subject to sum x_i = total, 0 <= x_i <= caps (most even filling)."""
    caps = np.sort(caps)
    t, n, acc = int(total), caps.size, 0.0
    for i, cap in enumerate(caps):
        left = n - i
        if cap * left <= t:  # this cell (and smaller ones) are full
            acc += lf[cap]
            t -= int(cap)
        else:
            q, r = divmod(t, left)
            return acc + (left - r) * lf[q] + r * lf[q + 1]
    return acc


def _greedy_max(total: int, caps: np.ndarray, lf: np.ndarray) -> float:
    """max sum log x_i! subject to sum x_i = total, 0 <= x_i <= caps (fill largest first)."""
    t, acc = int(total), 0.0
    for cap in np.sort(caps)[::-1]:
        if t <= 0:
            break
        take = min(int(cap), t)
        acc += lf[take]
        t -= take
    return acc


def _bounds(rows: np.ndarray, cols: np.ndarray, lf: np.ndarray) -> tuple[float, float]:
    """(upper bound of the largest, lower bound of the smallest) future value
    ``-sum log x!`` over the tables with row sums ``rows`` and column sums ``cols``."""
    lo_col = sum(_even_min(c, rows, lf) for c in cols)
    lo_row = sum(_even_min(r, cols, lf) for r in rows)
    hi_col = sum(_greedy_max(c, rows, lf) for c in cols)
    hi_row = sum(_greedy_max(r, cols, lf) for r in rows)
    return -max(lo_col, lo_row), -min(hi_col, hi_row)


def _compositions(total: int, caps: np.ndarray) -> np.ndarray:
    """All integer vectors x with sum x = total and 0 <= x <= caps, one per row."""
    n = caps.size
    suffix = np.concatenate([np.cumsum(caps[::-1])[::-1], [0]])
    out = np.zeros((1, 0), dtype=np.int64)
    used = np.zeros(1, dtype=np.int64)
    for i in range(n):
        left = total - used
        lo = np.maximum(0, left - suffix[i + 1])
        hi = np.minimum(caps[i], left)
        counts = hi - lo + 1
        rep = np.repeat(np.arange(out.shape[0]), counts)
        offs = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        val = lo[rep] + offs
        out = np.column_stack([out[rep], val])
        used = used[rep] + val
    return out


def _prepare(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Drop empty rows/columns; orient so that the rows are the shorter side."""
    x = x[x.sum(axis=1) > 0][:, x.sum(axis=0) > 0].astype(np.int64)
    if x.shape[0] > x.shape[1]:
        x = x.T
    return x, x.sum(axis=1), x.sum(axis=0), gammaln(np.arange(int(x.sum()) + 2) + 1.0)


def _decode(codes: np.ndarray, r: int, base: int) -> np.ndarray:
    out = np.empty((codes.size, r), dtype=np.int64)
    c = codes.copy()
    for i in range(r):
        c, out[:, i] = np.divmod(c, base)
    return out


def _encode(rows: np.ndarray, base: int) -> np.ndarray:
    """Sorted row sums -> one int64 per node (mixed radix)."""
    rows = np.sort(rows, axis=-1)
    w = base ** np.arange(rows.shape[-1], dtype=np.int64)
    return rows @ w


def fisher_exact_rxc(table: np.ndarray, *, max_work: int = MAX_WORK) -> float:
    """Exact two-sided p-value of Fisher's test for an r x c table (R's FEXACT rule).

    Raises
    ------
    InputError
        When the network would need more than ``max_work`` past values (use the Monte Carlo
        p-value then, as R asks for a larger workspace or ``simulate.p.value = TRUE``).
    """
    x, rows, cols, lf = _prepare(np.asarray(table))
    if x.shape[0] < 2 or x.shape[1] < 2:
        return 1.0
    n = int(x.sum())
    r = rows.size
    base = n + 1
    too_large = InputError(
        f"is too large for the exact network algorithm here (more than {max_work} partial "
        "tables); use the Monte Carlo p-value (simulate_p_value=True, --simulate in the CLI)",
        column="table",
    )
    if base**r >= 2**62:
        raise too_large
    threshold = -float(lf[x].sum()) + FEXACT_TOL
    c0 = float(lf[rows].sum() + lf[cols].sum() - lf[n])
    cols = np.sort(cols)[::-1]  # the largest column first: most merging afterwards
    k_last = cols.size - 1
    suffix_lf = np.concatenate([np.cumsum(lf[cols][::-1])[::-1], [0.0]])
    codes = _encode(rows[None, :], base)
    pasts, freqs = np.zeros(1), np.ones(1)
    pre = 0.0
    work = 0
    for k in range(cols.size):
        # merge equal (node, past value) entries
        grid = np.round(pasts / _MERGE).astype(np.int64)
        order = np.lexsort((grid, codes))
        codes, grid, pasts, freqs = codes[order], grid[order], pasts[order], freqs[order]
        new = np.ones(codes.size, dtype=bool)
        new[1:] = (codes[1:] != codes[:-1]) | (grid[1:] != grid[:-1])
        starts = np.flatnonzero(new)
        freqs = np.add.reduceat(freqs, starts)
        codes, pasts = codes[starts], pasts[starts]
        work += pasts.size
        if work > max_work:
            raise too_large
        ucodes, first, g = np.unique(codes, return_index=True, return_inverse=True)
        g = np.asarray(g).ravel()
        urows = _decode(ucodes, r, base)
        if k == k_last:
            v = -lf[urows].sum(axis=1)[g]
            sel = pasts + v <= threshold
            pre += float(np.sum(freqs[sel] * np.exp(c0 + pasts[sel] + v[sel])))
            break
        rest = cols[k:]
        log_mass = lf[urows.sum(axis=1)] - lf[urows].sum(axis=1) - suffix_lf[k]
        hi = np.empty(ucodes.size)
        lo = np.empty(ucodes.size)
        for u in range(ucodes.size):
            hi[u], lo[u] = _bounds(urows[u], rest, lf)
        all_in = pasts + hi[g] <= threshold
        if all_in.any():
            pre += float(np.sum(freqs[all_in] * np.exp(c0 + pasts[all_in] + log_mass[g[all_in]])))
        open_ = ~all_in & (pasts + lo[g] <= threshold)
        if not open_.any():
            break
        idx = np.flatnonzero(open_)
        og = g[idx]
        bounds = np.searchsorted(og, np.arange(ucodes.size + 1))  # og is sorted
        nc, npast, nfreq = [], [], []
        size = 0
        for u in np.unique(og):
            e = idx[bounds[u] : bounds[u + 1]]
            kids = _compositions(int(cols[k]), urows[u])
            d = -lf[kids].sum(axis=1)
            size += e.size * d.size
            if size > max_work:
                raise too_large
            ck = _encode(urows[u][None, :] - kids, base)
            nc.append(np.tile(ck, e.size))
            npast.append((pasts[e][:, None] + d[None, :]).ravel())
            nfreq.append(np.repeat(freqs[e], d.size))
        codes = np.concatenate(nc)
        pasts = np.concatenate(npast)
        freqs = np.concatenate(nfreq)
    return float(min(1.0, max(0.0, pre)))


def fisher_simulated(
    table: np.ndarray, B: int, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    """Monte Carlo p-value as R's ``fisher.test(simulate.p.value = TRUE, B = B)``.

    Returns ``(p, statistics)``, the statistics ``-sum log x!`` of the ``B`` simulated tables.
    """
    x, _, _, lf = _prepare(np.asarray(table))
    rows, cols = x.sum(axis=1), x.sum(axis=0)
    stat = -float(lf[x].sum())
    row_left = np.tile(rows, (B, 1)).astype(np.int64)
    sim = np.zeros(B)
    col_left = np.tile(cols, (B, 1)).astype(np.int64)
    for j in range(cols.size - 1):
        # column j takes cells row by row: x_ij | the rest ~ hypergeometric
        need = col_left[:, j].copy()
        for i in range(rows.size):
            others = row_left[:, i + 1 :].sum(axis=1)
            if i == rows.size - 1:
                cell = need
            else:
                cell = rng.hypergeometric(row_left[:, i], others, need)
            sim -= lf[cell]
            row_left[:, i] -= cell
            need = need - cell
    sim -= lf[row_left].sum(axis=1)  # the last column is what is left of each row
    almost_one = 1 + 64 * np.finfo(float).eps
    p = (1 + int(np.sum(sim <= stat / almost_one))) / (B + 1)
    return p, sim
