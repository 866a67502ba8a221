"""Resampling: bootstrap confidence intervals and permutation tests, batched.

Bootstrap replicates are drawn once as an integer count matrix of shape ``(n_boot, n)``
(row b says how often each original row was drawn in replicate b; a multinomial draw). Every
statistic is then computed for many replicates per vectorised pass by the kernels in
:mod:`cartlens.stats._batched`, reusing the sort order of the original data. Each replicate
equals the scalar estimator (``kaplan_meier``, ``coxph``) applied to the explicitly
resampled rows.

Reproducibility: pass ``seed=`` (an int or a :class:`numpy.random.Generator`). The counts
depend only on ``n``, ``n_boot``, the strata and the seed, so analyses run with the same seed
share the same replicates (also across statistics: :func:`bootstrap_counts` gives them to you,
and every function accepts ``counts=``). Without a seed, a fresh one is drawn and recorded in
the result (``seed``), so any run can be repeated.

Functions
---------
* :func:`bootstrap_counts` - the replicate count matrix.
* :func:`bootstrap_km_median` - KM median (or other quantile) per group and, for two groups,
  the difference of medians.
* :func:`bootstrap_km_survival` - KM survival S(t) at given times per group and difference.
* :func:`bootstrap_cox` - Cox coefficients / hazard ratios (Efron or Breslow ties).
* :func:`bootstrap_proportion_difference` - difference of two proportions.
* :func:`bootstrap` - any statistic of the resampled rows (a Python loop; slower).
* :func:`permutation_logrank` - exact or Monte Carlo permutation log-rank test.

Confidence intervals: ``"percentile"`` (default), ``"basic"`` and ``"bca"``, with the
order-statistic interpolation of R's ``boot.ci`` (``norm.inter``). BCa takes its acceleration
from the jackknife (Efron & Tibshirani 1993, 14.15); R's ``boot.ci`` estimates the influence
values by regression on the resampling frequencies by default, so BCa limits differ slightly
from R's. Unlike ``boot``, replicates at +/- infinity (a median not reached) are kept and
sorted to the ends rather than dropped.

References
----------
Efron B, Tibshirani RJ (1993). An Introduction to the Bootstrap. Chapman & Hall.
Davison AC, Hinkley DV (1997). Bootstrap Methods and their Application. Cambridge University
Press (R package ``boot``: ``boot.ci``).
Phipson B, Smyth GK (2010). Permutation p-values should never be zero. Stat Appl Genet Mol
Biol 9:39.
Heinze G, Gnant M, Schemper M (2003). Exact log-rank tests for unequal follow-up.
Biometrics 59:1151-1157.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from cartlens.errors import ConvergenceWarning, InputError, NoEventsWarning, SparseDataWarning
from cartlens.results import Result, json_safe
from cartlens.stats import _batched

CI_METHODS = ("percentile", "basic", "bca")

#: counts are drawn in chunks of this many cells (rows x n), so memory stays bounded and the
#: draw depends only on n, n_boot, strata and the seed.
_DRAW_CELLS = 1 << 22
#: kernels process at most this many (replicate x row x width) cells per pass (small chunks
#: stay in cache: ~130 replicates of n = 200 with 3 covariates run 4x faster than 1000).
_KERNEL_CELLS = 1 << 18
#: BCa needs n jackknife fits; refuse above this n.
_BCA_MAX_N = 5000


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BootstrapTerm(Result):
    """One bootstrapped quantity.

    ``estimate`` is the statistic on the original data; ``bias`` = mean(replicates) -
    estimate and ``se`` = SD of the replicates (both over finite replicates); ``lower`` /
    ``upper`` the interval of the result's ``ci_method``. ``n_valid`` counts finite
    replicates, ``n_infinite`` those at +/- infinity (for example a median that is not reached,
    which sorts above every finite value), ``n_undefined`` those with no value (NaN).
    For Cox terms ``hr``, ``hr_lower``, ``hr_upper`` are exp() of the estimate and limits.
    """

    term: str
    estimate: float
    bias: float
    se: float
    lower: float
    upper: float
    n_valid: int
    n_infinite: int
    n_undefined: int
    hr: float | None = None
    hr_lower: float | None = None
    hr_upper: float | None = None


@dataclasses.dataclass(frozen=True)
class BootstrapResult(Result):
    """Bootstrap estimates, SEs and confidence intervals of one or more quantities.

    ``replicates`` (shape ``(n_boot, len(terms))``) holds every replicate's value; it is left
    out of :meth:`to_dict` unless asked for. :meth:`ci` recomputes intervals with another
    method or level from the stored replicates.
    """

    statistic: str
    terms: tuple[BootstrapTerm, ...]
    ci_method: str
    conf_level: float
    n_boot: int
    seed: int | None
    resampling: str
    n: int
    events: int | None
    n_failed: int
    settings: dict
    replicates: np.ndarray = dataclasses.field(repr=False)
    jackknife: np.ndarray | None = dataclasses.field(default=None, repr=False)

    def term(self, name: str) -> BootstrapTerm:
        """The :class:`BootstrapTerm` called ``name``."""
        for t in self.terms:
            if t.term == name:
                return t
        raise KeyError(f"no term {name!r}; terms are {[t.term for t in self.terms]}")

    def ci(self, method: str | None = None, conf_level: float | None = None) -> dict:
        """``{term: (lower, upper)}`` for ``method`` / ``conf_level`` (default: the result's)."""
        method = _check_ci_method(method or self.ci_method)
        level = _check_conf_level(self.conf_level if conf_level is None else conf_level)
        if method == "bca" and self.jackknife is None:
            raise InputError(
                "BCa needs jackknife values: rerun with ci_method='bca'", column="ci_method"
            )
        out = {}
        for j, t in enumerate(self.terms):
            jk = None if self.jackknife is None else self.jackknife[:, j]
            out[t.term] = _interval(self.replicates[:, j], t.estimate, method, level, jk)
        return out

    def to_dict(self, include_replicates: bool = False) -> dict:
        d = {}
        for f in dataclasses.fields(self):
            if f.name in ("replicates", "jackknife") and not include_replicates:
                continue
            d[f.name] = json_safe(getattr(self, f.name))
        return d


@dataclasses.dataclass(frozen=True)
class PermutationResult(Result):
    """A permutation test.

    ``p`` is the permutation p-value: with ``exact`` the share of all distinct relabelings
    (the observed one included) whose statistic is at least the observed one; otherwise the
    Monte Carlo estimate ``(1 + #{T* >= T}) / (1 + n_permutations)`` (never 0).
    ``p_asymptotic`` is the chi-square p-value of the observed statistic.
    """

    test: str
    statistic: str
    observed: float
    df: int
    p: float
    p_asymptotic: float
    exact: bool
    n_permutations: int
    n_extreme: int
    groups: tuple[dict, ...]
    n: int
    events: int
    seed: int | None
    settings: dict


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def _as_1d(x: Any, name: str, n: int | None = None) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise InputError(f"must be one-dimensional, got shape {a.shape}", column=name)
    if n is not None and a.size != n:
        raise InputError(f"has {a.size} values but time has {n}", column=name)
    return a


def _check_time_event(time: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _as_1d(time, "time")
    try:
        t = t.astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError("must be numeric", column="time") from exc
    if t.size == 0:
        raise InputError("no observations", column="time")
    bad = ~np.isfinite(t)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"missing or infinite value at row {i} ({t[i]})", column="time")
    if (t < 0).any():
        i = int(np.flatnonzero(t < 0)[0])
        raise InputError(f"negative time at row {i} ({t[i]})", column="time")
    e = _as_1d(event, "event", t.size)
    try:
        ef = e.astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError("must be 0/1 (or boolean)", column="event") from exc
    bad = ~np.isin(ef, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"must be 0/1, found {e[i]!r} at row {i}", column="event")
    return t, ef.astype(np.int8)


def _check_X(X: Any, n: int, names: Sequence[str] | None) -> tuple[np.ndarray, tuple[str, ...]]:
    if hasattr(X, "columns") and names is None:
        names = [str(c) for c in X.columns]
    a = np.asarray(X)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise InputError(f"must be a 2-D matrix, got shape {a.shape}", column="X")
    if a.shape[0] != n:
        raise InputError(f"has {a.shape[0]} rows but time has {n}", column="X")
    try:
        a = a.astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError("covariates must be numeric", column="X") from exc
    if not np.isfinite(a).all():
        r, c = np.argwhere(~np.isfinite(a))[0]
        raise InputError(f"missing or infinite value at row {r}, column {c}", column="X")
    if names is None:
        names = [f"x{j + 1}" for j in range(a.shape[1])]
    names = tuple(str(s) for s in names)
    if len(names) != a.shape[1]:
        raise InputError(f"{len(names)} names for {a.shape[1]} columns", column="names")
    return a, names


def _check_n_boot(n_boot: int) -> int:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise InputError(f"must be a positive integer, got {n_boot!r}", column="n_boot")
    return int(n_boot)


def _check_conf_level(level: float) -> float:
    if not (isinstance(level, int | float) and 0.0 < float(level) < 1.0):
        raise InputError(f"must be in (0, 1), got {level!r}", column="conf_level")
    return float(level)


def _check_ci_method(method: str) -> str:
    if method not in CI_METHODS:
        raise InputError(f"must be one of {CI_METHODS}, got {method!r}", column="ci_method")
    return method


def _group_codes(group: Any, n: int, name: str = "group") -> tuple[list, np.ndarray]:
    g = _as_1d(group, name, n)
    if g.dtype.kind == "f" and np.isnan(g).any():
        raise InputError(f"missing value at row {int(np.flatnonzero(np.isnan(g))[0])}", column=name)
    if g.dtype == object and any(v is None for v in g):
        raise InputError("missing value (None)", column=name)
    levels, codes = np.unique(g, return_inverse=True)
    return levels.tolist(), codes.astype(np.intp)


def _levels_codes(group: Any, n: int) -> tuple[list, np.ndarray]:
    """``([None], zeros)`` without a group, else :func:`_group_codes`."""
    if group is None:
        return [None], np.zeros(n, dtype=np.intp)
    return _group_codes(group, n)


def _resolve_seed(seed: int | np.random.Generator | None) -> tuple[np.random.Generator, int | None]:
    if isinstance(seed, np.random.Generator):
        return seed, None
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(
            f"must be a non-negative integer or a Generator, got {seed!r}", column="seed"
        )
    return np.random.default_rng(int(seed)), int(seed)


# ---------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _progress(total: int, enabled: bool | None, description: str, heavy: bool) -> Iterator:
    """Yield ``advance(k)``; show a rich bar when asked, or on a terminal for long runs."""
    show = bool(enabled) if enabled is not None else (heavy and sys.stderr.isatty())
    if not show:
        yield lambda k: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda k: bar.advance(task, k)


# ---------------------------------------------------------------------------------------------
# Replicate counts
# ---------------------------------------------------------------------------------------------


def _units(
    n: int, strata_codes: np.ndarray | None, cluster_codes: np.ndarray | None
) -> tuple[list[np.ndarray], np.ndarray | None, int]:
    """Resampling units (rows, or clusters of rows) grouped by stratum.

    Returns the unit indices of each stratum, the unit of each row (None: units are rows)
    and the number of units. A cluster must lie within one stratum.
    """
    if cluster_codes is None:
        n_units, unit_strata, unit_of_row = n, strata_codes, None
    else:
        n_units = int(cluster_codes.max()) + 1
        unit_of_row = cluster_codes
        unit_strata = None
        if strata_codes is not None:
            unit_strata = np.full(n_units, -1, dtype=np.intp)
            unit_strata[cluster_codes] = strata_codes
            if (unit_strata[cluster_codes] != strata_codes).any():
                i = int(np.flatnonzero(unit_strata[cluster_codes] != strata_codes)[0])
                raise InputError(
                    f"the cluster of row {i} has rows in more than one stratum",
                    column="cluster",
                )
    if unit_strata is None:
        members = [np.arange(n_units)]
    else:
        members = [np.flatnonzero(unit_strata == s) for s in range(int(unit_strata.max()) + 1)]
        members = [m for m in members if m.size]
    return members, unit_of_row, n_units


def _iter_counts(
    n: int,
    n_boot: int,
    rng: np.random.Generator,
    strata_codes: np.ndarray | None,
    cluster_codes: np.ndarray | None = None,
    ids: Any = None,
) -> Iterator[np.ndarray]:
    rank = None
    if ids is not None and cluster_codes is None:
        # draw in the order of the ids (row i is unit rank[i]), so that the same ids in any
        # row order receive the same counts
        rank = _id_rank(ids, n)
        order = np.empty(n, dtype=np.intp)
        order[rank] = np.arange(n)
        if strata_codes is not None:
            strata_codes = strata_codes[order]
    members, unit_of_row, n_units = _units(n, strata_codes, cluster_codes)
    if rank is not None:
        unit_of_row = rank
    chunk = max(1, _DRAW_CELLS // max(n, n_units, 1))

    def gen() -> Iterator[np.ndarray]:
        done = 0
        while done < n_boot:
            b = min(chunk, n_boot - done)
            out = np.zeros((b, n_units), dtype=np.int32)
            for m in members:
                out[:, m] = rng.multinomial(m.size, np.full(m.size, 1.0 / m.size), size=b)
            yield out if unit_of_row is None else out[:, unit_of_row]
            done += b

    return gen()


def _id_rank(ids: Any, n: int) -> np.ndarray:
    """Rank (0..n-1) of each row's id; the ids must be unique."""
    uid = np.asarray(ids)
    if uid.shape != (n,):
        raise InputError(f"has {uid.size} values, expected {n}", column="ids")
    order = np.argsort(uid, kind="stable")
    if n > 1 and np.any(uid[order][1:] == uid[order][:-1]):
        raise InputError("must be unique", column="ids")
    rank = np.empty(n, dtype=np.intp)
    rank[order] = np.arange(n)
    return rank


def bootstrap_counts(
    n: int,
    n_boot: int,
    *,
    seed: int | np.random.Generator | None = None,
    strata: Any = None,
    cluster: Any = None,
    ids: Any = None,
) -> np.ndarray:
    """Bootstrap replicates as a ``(n_boot, n)`` matrix of draw counts.

    Row b is a multinomial draw of n rows with equal probabilities: ``counts[b, i]`` is how
    often row i appears in replicate b (``np.repeat(np.arange(n), counts[b])`` lists the
    resampled rows). With ``strata`` each stratum is resampled separately and keeps its size.
    With ``cluster`` whole clusters (e.g. patients with several treatment courses) are
    resampled: every row of a cluster drawn k times gets count k.

    Parameters
    ----------
    n : int
        Number of original rows.
    n_boot : int
        Number of replicates.
    seed : int or numpy.random.Generator, optional
        Same seed, same counts (the functions below draw exactly these for the same seed).
    strata : array-like, shape (n,), optional
        Stratum of each row.
    cluster : array-like, shape (n,), optional
        Cluster of each row; clusters are the resampling units (each within one stratum).
    ids : array-like, shape (n,), optional
        Unique row identifiers. Counts are drawn in the order of the ids (default: the row
        position), so the same rows with the same ids in any order get the same counts and
        every statistic of them the same replicates. Clusters are drawn in the order of
        their labels already.

    Returns
    -------
    ndarray of int32, shape (n_boot, n)

    References
    ----------
    Efron B, Tibshirani RJ (1993). An Introduction to the Bootstrap, ch. 6.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InputError(f"must be a positive integer, got {n!r}", column="n")
    n_boot = _check_n_boot(n_boot)
    rng, _ = _resolve_seed(seed)
    codes = None if strata is None else _group_codes(strata, int(n), "strata")[1]
    ccodes = None if cluster is None else _group_codes(cluster, int(n), "cluster")[1]
    chunks = _iter_counts(int(n), n_boot, rng, codes, ccodes, ids)
    return np.concatenate(list(chunks), axis=0)


def _counts_source(
    n: int,
    n_boot: int | None,
    seed: Any,
    strata_codes: np.ndarray | None,
    counts: np.ndarray | None,
    cluster: Any = None,
    ids: Any = None,
) -> tuple[Iterator[np.ndarray], int, int | None]:
    """Chunks of counts: either drawn here (seeded) or the caller's ``counts``."""
    if counts is not None:
        c = np.asarray(counts)
        if c.ndim != 2 or c.shape[1] != n:
            raise InputError(f"must have shape (n_boot, {n}), got {c.shape}", column="counts")
        if c.dtype.kind not in "iu" or (c < 0).any():
            raise InputError("must be non-negative integers", column="counts")
        chunk = max(1, _DRAW_CELLS // n)
        return (c[i : i + chunk] for i in range(0, c.shape[0], chunk)), c.shape[0], None
    n_boot = _check_n_boot(1000 if n_boot is None else n_boot)
    rng, used = _resolve_seed(seed)
    ccodes = None if cluster is None else _group_codes(cluster, n, "cluster")[1]
    return _iter_counts(n, n_boot, rng, strata_codes, ccodes, ids), n_boot, used


def _kernel_chunks(c: np.ndarray, width: int) -> Iterator[np.ndarray]:
    cells = max(1, c.shape[1] * width)
    # small chunks stay in cache; for large n take a few replicates per pass anyway (Python
    # overhead per pass), as long as a pass holds at most 2**24 cells (128 MB of floats)
    step = max(1, _KERNEL_CELLS // cells, min(8, (1 << 24) // cells))
    for i in range(0, c.shape[0], step):
        yield c[i : i + step]


def _replicates(
    source: Iterator[np.ndarray],
    total: int,
    progress: bool | None,
    description: str,
    heavy: bool,
    stat: Callable[[np.ndarray], np.ndarray],
    width: int | None = None,
) -> np.ndarray:
    """Stack ``stat(counts)`` over the drawn chunks (split by :func:`_kernel_chunks` when
    ``width`` is given), advancing the progress bar by each piece's replicates."""
    reps = []
    with _progress(total, progress, description, heavy) as advance:
        for chunk in source:
            for c in (chunk,) if width is None else _kernel_chunks(chunk, width):
                reps.append(stat(c))
                advance(c.shape[0])
    return np.concatenate(reps, axis=0)


# ---------------------------------------------------------------------------------------------
# Confidence intervals (R boot.ci conventions)
# ---------------------------------------------------------------------------------------------


def _norm_inter(t: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Order-statistic quantiles interpolated on the normal scale (R ``boot:::norm.inter``).

    Unlike R, infinite replicates are kept (sorted to the ends), so a limit that falls on them
    is infinite; NaN replicates are dropped.
    """
    t = np.sort(t[~np.isnan(t)])
    R = t.size
    out = np.full(alpha.shape, np.nan)
    if R == 0:
        return out
    for i, a in enumerate(alpha):
        if not 0.0 < a < 1.0:
            continue
        rk = (R + 1) * a
        k = int(math.floor(rk + 1e-10 * rk))
        if abs(k - rk) <= 1e-10 * rk and 1 <= k <= R:
            out[i] = t[k - 1]
        elif k <= 0:
            out[i] = t[0]
        elif k >= R:
            out[i] = t[R - 1]
        else:
            z = sps.norm.ppf(a)
            z1 = sps.norm.ppf(k / (R + 1))
            z2 = sps.norm.ppf((k + 1) / (R + 1))
            lo, hi = t[k - 1], t[k]
            if np.isinf(lo) or np.isinf(hi):
                out[i] = lo if lo == hi else (hi if np.isinf(hi) else lo)
            else:
                out[i] = lo + (z - z1) / (z2 - z1) * (hi - lo)
    return out


def _interval(
    t: np.ndarray, t0: float, method: str, level: float, jack: np.ndarray | None
) -> tuple[float, float]:
    alpha = np.array([(1 - level) / 2, (1 + level) / 2])
    if not np.isfinite(t0):
        return (math.nan, math.nan)
    if method == "percentile":
        q = _norm_inter(t, alpha)
        return float(q[0]), float(q[1])
    if method == "basic":
        q = _norm_inter(t, alpha[::-1])
        return float(2 * t0 - q[0]), float(2 * t0 - q[1])
    # BCa (boot:::bca.ci), acceleration from the jackknife
    tt = t[~np.isnan(t)]
    if tt.size == 0 or jack is None:
        return (math.nan, math.nan)
    share = float(np.mean(tt < t0))
    if share <= 0.0 or share >= 1.0:
        return (math.nan, math.nan)
    w = sps.norm.ppf(share)
    jf = jack[np.isfinite(jack)]
    if jf.size < 2:
        return (math.nan, math.nan)
    L = (jf.size - 1) * (jf.mean() - jf)
    ss = float(np.sum(L**2))
    a = float(np.sum(L**3) / (6 * ss**1.5)) if ss > 0 else 0.0
    z = sps.norm.ppf(alpha)
    adj = sps.norm.cdf(w + (w + z) / (1 - a * (w + z)))
    q = _norm_inter(t, adj)
    return float(q[0]), float(q[1])


def _summarise(
    name: str,
    t0: float,
    reps: np.ndarray,
    method: str,
    level: float,
    jack: np.ndarray | None,
    exp: bool = False,
) -> BootstrapTerm:
    fin = np.isfinite(reps)
    n_inf = int(np.isinf(reps).sum())
    n_nan = int(np.isnan(reps).sum())
    if fin.sum() >= 1:
        bias = float(reps[fin].mean() - t0) if np.isfinite(t0) else math.nan
    else:
        bias = math.nan
    se = float(reps[fin].std(ddof=1)) if fin.sum() >= 2 else math.nan
    lo, hi = _interval(reps, t0, method, level, jack)
    extra = {}
    if exp:
        extra = dict(hr=math.exp(t0), hr_lower=math.exp(lo), hr_upper=math.exp(hi))
    return BootstrapTerm(
        term=name,
        estimate=float(t0),
        bias=bias,
        se=se,
        lower=lo,
        upper=hi,
        n_valid=int(fin.sum()),
        n_infinite=n_inf,
        n_undefined=n_nan,
        **extra,
    )


def _finish(
    *,
    statistic: str,
    names: Sequence[str],
    est: np.ndarray,
    reps: np.ndarray,
    jack: np.ndarray | None,
    method: str,
    level: float,
    seed: int | None,
    resampling: str,
    n: int,
    events: int | None,
    n_failed: int,
    settings: dict,
    exp: bool = False,
    stacklevel: int = 3,
) -> BootstrapResult:
    terms = tuple(
        _summarise(
            nm,
            float(est[j]),
            reps[:, j],
            method,
            level,
            None if jack is None else jack[:, j],
            exp=exp,
        )
        for j, nm in enumerate(names)
    )
    undefined = [t.term for t in terms if t.n_undefined]
    if undefined:
        warnings.warn(
            f"bootstrap: some replicates have no value for {undefined} "
            f"(counts {[t.n_undefined for t in terms if t.n_undefined]} of {reps.shape[0]}); "
            "they are left out of the intervals",
            SparseDataWarning,
            stacklevel=stacklevel,
        )
    return BootstrapResult(
        statistic=statistic,
        terms=terms,
        ci_method=method,
        conf_level=level,
        n_boot=int(reps.shape[0]),
        seed=seed,
        resampling=resampling,
        n=int(n),
        events=events,
        n_failed=int(n_failed),
        settings=settings,
        replicates=reps,
        jackknife=jack,
    )


def _jackknife_counts(n: int, cluster: Any = None) -> np.ndarray:
    """Leave-one-out counts: one row per left-out row (or cluster, when given)."""
    codes = None if cluster is None else _group_codes(cluster, n, "cluster")[1]
    units = n if codes is None else int(codes.max()) + 1
    if units > _BCA_MAX_N:
        raise InputError(
            f"BCa needs {units} jackknife fits; use ci_method='percentile' above "
            f"{_BCA_MAX_N} resampling units",
            column="ci_method",
        )
    if codes is None:
        return (1 - np.eye(n, dtype=np.int32)).astype(np.int32)
    return (codes[None, :] != np.arange(units)[:, None]).astype(np.int32)


def _resampling_label(strata: bool, cluster: Any, what: str = "stratified") -> str:
    base = what if strata else "ordinary"
    return base if cluster is None else f"{base}, by cluster"


# ---------------------------------------------------------------------------------------------
# Kaplan-Meier median
# ---------------------------------------------------------------------------------------------


def _km_stats(
    t: np.ndarray, e: np.ndarray, codes: np.ndarray, k: int, counts: np.ndarray, p: float
) -> np.ndarray:
    """(B, k [+1]) quantile per group (+ difference second - first when k == 2)."""
    cols = []
    for g in range(k):
        m = codes == g
        q = _batched.km_quantile_batched(t[m], e[m], counts[:, m], p=p)
        present = counts[:, m].sum(axis=1) > 0
        # not reached (some rows, S(t) stays above 1 - p): +inf; no rows: undefined
        q = np.where(np.isnan(q) & present, np.inf, q)
        q = np.where(present, q, np.nan)
        cols.append(q)
    if k == 2:
        with np.errstate(invalid="ignore"):
            cols.append(cols[1] - cols[0])
    return np.stack(cols, axis=1)


def _km_bootstrap(
    stat: Callable[[np.ndarray], np.ndarray],
    e: np.ndarray,
    codes: np.ndarray,
    *,
    stratified: bool,
    n_boot: int,
    seed: int | np.random.Generator | None,
    counts: np.ndarray | None,
    cluster: Any,
    progress: bool | None,
    description: str,
    ids: Any = None,
    method: str,
    level: float,
    statistic: str,
    names: list[str],
    settings: dict,
) -> BootstrapResult:
    """Bootstrap a Kaplan-Meier statistic ``stat(counts)``: draw (stratified by the group codes
    when ``stratified``), estimate on the data, replicates, BCa jackknife, result."""
    n = e.size
    strata = codes if stratified else None
    source, B, used_seed = _counts_source(n, n_boot, seed, strata, counts, cluster, ids)
    est = stat(np.ones((1, n), dtype=np.int32))[0]
    reps = _replicates(source, B, progress, description, B * n >= 50_000_000, stat, width=1)
    jack = stat(_jackknife_counts(n, cluster)) if method == "bca" else None
    return _finish(
        statistic=statistic,
        names=names,
        est=est,
        reps=reps,
        jack=jack,
        method=method,
        level=level,
        seed=used_seed,
        resampling=_resampling_label(strata is not None, cluster, "stratified by group"),
        n=n,
        events=int(e.sum()),
        n_failed=int(np.isnan(reps).any(axis=1).sum()),
        settings=settings,
        stacklevel=4,  # the warning points at the public function's caller
    )


def bootstrap_km_median(
    time: Any,
    event: Any,
    group: Any = None,
    *,
    n_boot: int = 1000,
    seed: int | np.random.Generator | None = None,
    conf_level: float = 0.95,
    ci_method: str = "percentile",
    stratify: bool = True,
    p: float = 0.5,
    cluster: Any = None,
    counts: np.ndarray | None = None,
    progress: bool | None = None,
    ids: Any = None,
) -> BootstrapResult:
    """Bootstrap CIs of the Kaplan-Meier median survival per group and their difference.

    Parameters
    ----------
    time, event : array-like, shape (n,)
        Follow-up time (>= 0) and 0/1 event indicator.
    group : array-like, shape (n,), optional
        Group of each row; groups are taken in sorted order. With two groups a term
        ``"median[b] - median[a]"`` (second minus first) is added.
    n_boot : int
        Number of replicates (default 1000).
    seed : int or Generator, optional
        Seed of the replicate draw (recorded in the result).
    conf_level : float
        Confidence level (default 0.95).
    ci_method : {"percentile", "basic", "bca"}
        Interval type (R ``boot.ci`` conventions; BCa with jackknife acceleration).
    stratify : bool
        Resample within groups, keeping the group sizes (default). With ``False`` rows are
        resampled from the whole sample (a group may then shrink or vanish in a replicate;
        such replicates are undefined for that group and left out with a warning).
    p : float
        Quantile probability (0.5: median; 0.25: first quartile of the event-time
        distribution, as ``quantile(survfit, 0.25)``).
    cluster : array-like, shape (n,), optional
        Resample whole clusters (e.g. patients with several treatment courses) instead of
        rows; BCa then leaves out one cluster at a time.
    counts : ndarray, shape (n_boot, n), optional
        Use these replicate counts (e.g. from :func:`bootstrap_counts`) instead of drawing.
    progress : bool, optional
        Show a progress bar (default: only on a terminal for long runs).
    ids : array-like, optional
        Unique row identifiers: replicates are drawn in their order (default: row position),
        so the same rows with the same ids and seed give the same result in any row order.

    Returns
    -------
    BootstrapResult
        Terms ``"median[<group>]"`` (``"median"`` without groups; ``"q<p>"`` for p != 0.5).
        A replicate whose median is not reached counts as +infinity (so an upper limit can be
        infinite: "not reached"); R's ``boot`` would drop it instead.

    Notes
    -----
    Each replicate's median equals ``kaplan_meier(...)`` on the resampled rows, with the
    median rule of R's ``survfit`` (midpoint where S(t) = 0.5 exactly).

    References
    ----------
    Efron B (1981). Censored data and the bootstrap. JASA 76:312-319.
    Efron B, Tibshirani RJ (1993). An Introduction to the Bootstrap. Chapman & Hall.
    """
    t, e = _check_time_event(time, event)
    n = t.size
    levels, codes = _levels_codes(group, n)
    k = len(levels)
    level = _check_conf_level(conf_level)
    method = _check_ci_method(ci_method)
    if not 0.0 < float(p) < 1.0:
        raise InputError(f"must be in (0, 1), got {p!r}", column="p")
    if e.sum() == 0:
        warnings.warn(
            "bootstrap_km_median: no events, so no median is reached",
            NoEventsWarning,
            stacklevel=2,
        )
    stem = "median" if p == 0.5 else f"q{p:g}"
    names = [stem if lv is None else f"{stem}[{lv}]" for lv in levels]
    if k == 2:
        names.append(f"{names[1]} - {names[0]}")
    return _km_bootstrap(
        lambda c: _km_stats(t, e, codes, k, c, p),
        e,
        codes,
        stratified=stratify and group is not None,
        n_boot=n_boot,
        seed=seed,
        counts=counts,
        cluster=cluster,
        progress=progress,
        description="bootstrap KM median",
        ids=ids,
        method=method,
        level=level,
        statistic="km_median" if p == 0.5 else "km_quantile",
        names=names,
        settings={
            "groups": levels,
            "p": float(p),
            "stratify": bool(stratify),
            "counts_given": counts is not None,
            "not_reached": "+inf",
        },
    )


def _km_surv_stats(
    t: np.ndarray, e: np.ndarray, codes: np.ndarray, k: int, counts: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """(B, k * len(at) [+ len(at)]): S(at) per group (+ second - first when k == 2)."""
    cols = []
    for g in range(k):
        m = codes == g
        cols.append(_batched.km_survival_batched(t[m], e[m], counts[:, m], at))
    if k == 2:
        cols.append(cols[1] - cols[0])
    return np.concatenate(cols, axis=1)


def bootstrap_km_survival(
    time: Any,
    event: Any,
    group: Any = None,
    *,
    times: Sequence[float],
    n_boot: int = 1000,
    seed: int | np.random.Generator | None = None,
    conf_level: float = 0.95,
    ci_method: str = "percentile",
    stratify: bool = True,
    cluster: Any = None,
    counts: np.ndarray | None = None,
    progress: bool | None = None,
    ids: Any = None,
) -> BootstrapResult:
    """Bootstrap CIs of Kaplan-Meier survival S(t) at given times, per group and difference.

    Parameters
    ----------
    time, event, group
        As in :func:`bootstrap_km_median`.
    times : sequence of float
        Landmark times (e.g. 365 for one-year survival).
    n_boot, seed, conf_level, ci_method, stratify, cluster, counts, progress
        As in :func:`bootstrap_km_median`.

    Returns
    -------
    BootstrapResult
        Terms ``"S(<t>)[<group>]"`` (``"S(<t>)"`` without groups) and, for two groups,
        ``"S(<t>)[b] - S(<t>)[a]"``. Each replicate's value is the product-limit estimate on
        the resampled rows, held constant after its last observation (as R's
        ``summary(survfit(...), times = t, extend = TRUE)``).

    References
    ----------
    Efron B (1981). Censored data and the bootstrap. JASA 76:312-319.
    Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations.
    JASA 53:457-481.
    """
    t, e = _check_time_event(time, event)
    n = t.size
    levels, codes = _levels_codes(group, n)
    k = len(levels)
    try:
        at = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError) as exc:
        raise InputError("must be numbers", column="times") from exc
    if at.size == 0 or at.ndim != 1 or not np.isfinite(at).all() or (at < 0).any():
        raise InputError("must be one or more finite, non-negative times", column="times")
    level = _check_conf_level(conf_level)
    method = _check_ci_method(ci_method)
    names = []
    for lv in levels:
        names += [f"S({a:g})" if lv is None else f"S({a:g})[{lv}]" for a in at]
    if k == 2:
        names += [f"S({a:g})[{levels[1]}] - S({a:g})[{levels[0]}]" for a in at]
    return _km_bootstrap(
        lambda c: _km_surv_stats(t, e, codes, k, c, at),
        e,
        codes,
        stratified=stratify and group is not None,
        n_boot=n_boot,
        seed=seed,
        counts=counts,
        cluster=cluster,
        progress=progress,
        description="bootstrap KM survival",
        ids=ids,
        method=method,
        level=level,
        statistic="km_survival",
        names=names,
        settings={
            "groups": levels,
            "times": at.tolist(),
            "stratify": bool(stratify),
            "counts_given": counts is not None,
            "extend": True,
        },
    )


# ---------------------------------------------------------------------------------------------
# Cox
# ---------------------------------------------------------------------------------------------


def bootstrap_cox(
    time: Any,
    event: Any,
    X: Any,
    *,
    names: Sequence[str] | None = None,
    ties: str = "efron",
    n_boot: int = 1000,
    seed: int | np.random.Generator | None = None,
    conf_level: float = 0.95,
    ci_method: str = "percentile",
    strata: Any = None,
    cluster: Any = None,
    counts: np.ndarray | None = None,
    progress: bool | None = None,
    ids: Any = None,
) -> BootstrapResult:
    """Bootstrap CIs of Cox regression coefficients (log hazard ratios) and hazard ratios.

    Every replicate is fitted by a vectorised Newton-Raphson over all replicates at once;
    each equals ``coxph`` on the resampled rows (duplicated rows are tied, and Efron's
    correction is applied over all the tied copies).

    Parameters
    ----------
    time, event : array-like, shape (n,)
        Follow-up time and 0/1 event indicator (right-censored data).
    X : array-like, shape (n, p) or DataFrame
        Numeric covariates (code categorical variables as indicators first).
    names : sequence of str, optional
        Term names (default: the DataFrame's columns, or x1..xp).
    ties : {"efron", "breslow"}
        Tie handling, as ``coxph(ties=)`` (default Efron).
    n_boot, seed, conf_level, ci_method, cluster, counts, progress
        As in :func:`bootstrap_km_median`.
    strata : array-like, optional
        Resample within these strata (resampling design only; the model is not stratified).

    Returns
    -------
    BootstrapResult
        One term per covariate on the log-HR scale, with ``hr``, ``hr_lower``,
        ``hr_upper`` = exp(). A term that is not estimable in a replicate (for example
        a covariate constant there) is undefined in it (NaN, as R's ``NA``; the other terms
        are fitted without it, as ``coxph`` does); replicates without events are undefined
        altogether. Undefined values are left out with a :class:`SparseDataWarning`.
        Replicates that do not converge (monotone likelihood) keep their last iterate and
        raise a :class:`ConvergenceWarning`.

    References
    ----------
    Cox DR (1972). Regression models and life-tables. JRSS-B 34:187-220.
    Efron B (1977). The efficiency of Cox's likelihood function for censored data.
    JASA 72:557-565.
    Davison AC, Hinkley DV (1997). Bootstrap Methods and their Application, section 7.3.
    """
    t, e = _check_time_event(time, event)
    n = t.size
    Xa, term_names = _check_X(X, n, names)
    if ties not in ("efron", "breslow"):
        raise InputError(f"must be 'efron' or 'breslow', got {ties!r}", column="ties")
    level = _check_conf_level(conf_level)
    method = _check_ci_method(ci_method)
    if e.sum() == 0:
        raise InputError("no events: a Cox model cannot be fitted", column="event")
    codes = None if strata is None else _group_codes(strata, n, "strata")[1]
    kernel = _batched.CoxBatch(t, e, Xa, ties=ties)
    full = kernel.fit(np.ones((1, n), dtype=np.int32))
    if full.singular[0] or not np.all(np.isfinite(full.coef)):
        bad = [term_names[j] for j in np.flatnonzero(full.aliased[0] | ~np.isfinite(full.coef[0]))]
        bad = bad or list(term_names)
        raise InputError(
            "is not estimable on the full data: constant, or collinear with the other "
            f"covariates (singular information matrix; not estimable: {', '.join(bad)})",
            column=bad[0],
        )
    if not full.converged[0]:
        warnings.warn(
            "bootstrap_cox: the fit on the full data did not converge (monotone likelihood?)",
            ConvergenceWarning,
            stacklevel=2,
        )
    est = full.coef[0]
    source, B, used_seed = _counts_source(n, n_boot, seed, codes, counts, cluster, ids)
    p = Xa.shape[1]
    width = 1 + p + p * (p + 1) // 2
    nonconv = 0

    def run(c: np.ndarray) -> np.ndarray:
        nonlocal nonconv
        fit = kernel.fit(c, init=est)
        coef = fit.coef.copy()  # NaN for aliased terms (R: NA)
        bad = (fit.events == 0) | np.isinf(coef).any(axis=1)
        coef[bad] = np.nan
        nonconv += int((~fit.converged & ~bad).sum())
        return coef

    reps = _replicates(
        source, B, progress, "bootstrap Cox", B * n * width >= 20_000_000, run, width=width
    )
    jack = None
    if method == "bca":
        jack = np.concatenate(
            [run(c) for c in _kernel_chunks(_jackknife_counts(n, cluster), width)]
        )
    if nonconv:
        warnings.warn(
            f"bootstrap_cox: {nonconv} of {B} replicates did not converge "
            "(monotone likelihood: a coefficient diverges); their last iterate is used",
            ConvergenceWarning,
            stacklevel=2,
        )
    return _finish(
        statistic="cox",
        names=term_names,
        est=est,
        reps=reps,
        jack=jack,
        method=method,
        level=level,
        seed=used_seed,
        resampling=_resampling_label(codes is not None, cluster),
        n=n,
        events=int(e.sum()),
        n_failed=int(np.isnan(reps).any(axis=1).sum()),
        settings={
            "ties": ties,
            "counts_given": counts is not None,
            "n_nonconverged": nonconv,
            "loglik": float(full.loglik[0]),
        },
        exp=True,
    )


# ---------------------------------------------------------------------------------------------
# Proportions
# ---------------------------------------------------------------------------------------------


def bootstrap_proportion_difference(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    *,
    n_boot: int = 1000,
    seed: int | np.random.Generator | None = None,
    conf_level: float = 0.95,
    ci_method: str = "percentile",
    counts: np.ndarray | None = None,
    progress: bool | None = None,
) -> BootstrapResult:
    """Bootstrap CI of the difference of two proportions, ``x1/n1 - x2/n2``.

    Each group is resampled separately (its size is fixed), from rows ordered as
    ``x1`` successes then ``n1 - x1`` failures in group 1, then the same for group 2.

    Returns
    -------
    BootstrapResult
        Terms ``"p1"``, ``"p2"`` and ``"p1 - p2"``.

    References
    ----------
    Efron B, Tibshirani RJ (1993). An Introduction to the Bootstrap, ch. 13.
    """
    vals = {}
    for nm, v in (("x1", x1), ("n1", n1), ("x2", x2), ("n2", n2)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise InputError(f"must be a non-negative integer, got {v!r}", column=nm)
        vals[nm] = int(v)
    for x, m, nm in (("x1", "n1", "n1"), ("x2", "n2", "n2")):
        if vals[m] == 0:
            raise InputError("group is empty", column=nm)
        if vals[x] > vals[m]:
            raise InputError(f"{x} = {vals[x]} exceeds {m} = {vals[m]}", column=x)
    level = _check_conf_level(conf_level)
    method = _check_ci_method(ci_method)
    a, b = vals["n1"], vals["n2"]
    y = np.r_[
        np.ones(vals["x1"]), np.zeros(a - vals["x1"]), np.ones(vals["x2"]), np.zeros(b - vals["x2"])
    ]
    codes = np.r_[np.zeros(a, dtype=np.intp), np.ones(b, dtype=np.intp)]
    n = a + b

    def stat(c: np.ndarray) -> np.ndarray:
        p1 = c[:, :a] @ y[:a] / np.maximum(c[:, :a].sum(axis=1), 1)
        p2 = c[:, a:] @ y[a:] / np.maximum(c[:, a:].sum(axis=1), 1)
        return np.stack([p1, p2, p1 - p2], axis=1)

    source, B, used_seed = _counts_source(n, n_boot, seed, codes, counts)
    reps = _replicates(source, B, progress, "bootstrap proportions", B * n >= 50_000_000, stat)
    est = stat(np.ones((1, n), dtype=np.int32))[0]
    jack = stat(_jackknife_counts(n)) if method == "bca" else None
    return _finish(
        statistic="proportion_difference",
        names=["p1", "p2", "p1 - p2"],
        est=est,
        reps=reps,
        jack=jack,
        method=method,
        level=level,
        seed=used_seed,
        resampling="stratified by group",
        n=n,
        events=vals["x1"] + vals["x2"],
        n_failed=0,
        settings={**vals, "counts_given": counts is not None},
    )


# ---------------------------------------------------------------------------------------------
# Any statistic
# ---------------------------------------------------------------------------------------------


def bootstrap(
    statistic: Callable[[np.ndarray], Any],
    n: int,
    *,
    names: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int | np.random.Generator | None = None,
    conf_level: float = 0.95,
    ci_method: str = "percentile",
    strata: Any = None,
    cluster: Any = None,
    counts: np.ndarray | None = None,
    progress: bool | None = None,
    ids: Any = None,
) -> BootstrapResult:
    """Bootstrap any statistic of the rows (one Python call per replicate).

    Parameters
    ----------
    statistic : callable
        ``statistic(rows)`` gets an integer array of row indices (the original data are
        ``rows = np.arange(n)``; a replicate repeats row i ``counts[b, i]`` times, in
        increasing order) and returns a number or a 1-D array of numbers.
    n : int
        Number of rows.
    names : sequence of str, optional
        Names of the statistic's values (default ``stat1``, ``stat2``, ...).
    n_boot, seed, conf_level, ci_method, strata, cluster, counts, progress
        As in :func:`bootstrap_counts` / :func:`bootstrap_km_median`.

    Returns
    -------
    BootstrapResult

    Notes
    -----
    Uses the same replicates as the batched functions for the same seed and strata. Prefer
    those (:func:`bootstrap_cox`, :func:`bootstrap_km_median`) where they apply: they are
    one to two orders of magnitude faster.

    References
    ----------
    Efron B, Tibshirani RJ (1993). An Introduction to the Bootstrap. Chapman & Hall.
    """
    if not callable(statistic):
        raise InputError("must be callable", column="statistic")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InputError(f"must be a positive integer, got {n!r}", column="n")
    n = int(n)
    level = _check_conf_level(conf_level)
    method = _check_ci_method(ci_method)
    codes = None if strata is None else _group_codes(strata, n, "strata")[1]

    def call(rows: np.ndarray) -> np.ndarray:
        v = np.atleast_1d(np.asarray(statistic(rows), dtype=float))
        if v.ndim != 1:
            raise InputError("must return a number or a 1-D array", column="statistic")
        return v

    est = call(np.arange(n))
    k = est.size
    names = [f"stat{j + 1}" for j in range(k)] if names is None else [str(s) for s in names]
    if len(names) != k:
        raise InputError(f"{len(names)} names for {k} values", column="names")
    source, B, used_seed = _counts_source(n, n_boot, seed, codes, counts, cluster, ids)
    reps = np.empty((B, k))
    idx = np.arange(n)
    b = 0
    with _progress(B, progress, "bootstrap", B >= 200) as advance:
        for chunk in source:
            for row in chunk:
                v = call(np.repeat(idx, row))
                if v.size != k:
                    raise InputError(
                        f"returned {v.size} values in a replicate, {k} on the data",
                        column="statistic",
                    )
                reps[b] = v
                b += 1
            advance(chunk.shape[0])
    jack = None
    if method == "bca":
        jc = _jackknife_counts(n, cluster)
        jack = np.stack([call(np.repeat(idx, row)) for row in jc])
    return _finish(
        statistic="custom",
        names=names,
        est=est,
        reps=reps,
        jack=jack,
        method=method,
        level=level,
        seed=used_seed,
        resampling=_resampling_label(codes is not None, cluster),
        n=n,
        events=None,
        n_failed=int(np.isnan(reps).any(axis=1).sum()),
        settings={"counts_given": counts is not None},
    )


# ---------------------------------------------------------------------------------------------
# Permutation log-rank
# ---------------------------------------------------------------------------------------------


def _n_relabelings(sizes: Sequence[int]) -> int:
    total = math.factorial(sum(sizes))
    for s in sizes:
        total //= math.factorial(s)
    return total


def _enumerate_labelings(sizes: Sequence[int]) -> np.ndarray:
    """All distinct assignments of labels 0..k-1 with the given group sizes, (N, n) int8."""
    n = sum(sizes)
    out: list[np.ndarray] = []

    def rec(free: tuple[int, ...], g: int, lab: np.ndarray) -> None:
        if g == len(sizes) - 1:
            lab = lab.copy()
            lab[list(free)] = g
            out.append(lab)
            return
        for chosen in itertools.combinations(free, sizes[g]):
            lab2 = lab.copy()
            lab2[list(chosen)] = g
            rest = tuple(i for i in free if i not in set(chosen))
            rec(rest, g + 1, lab2)

    rec(tuple(range(n)), 0, np.zeros(n, dtype=np.int8))
    return np.stack(out)


def permutation_logrank(
    time: Any,
    event: Any,
    group: Any,
    *,
    statistic: str = "chisq",
    exact: bool | None = None,
    max_exact: int = 20_000,
    n_perm: int = 10_000,
    seed: int | np.random.Generator | None = None,
    progress: bool | None = None,
) -> PermutationResult:
    """Permutation log-rank test: exact for small groups, Monte Carlo otherwise.

    Under the null hypothesis of equal survival the group labels are exchangeable; the
    p-value is the share of relabelings (group sizes fixed) whose statistic is at least the
    observed one.

    Parameters
    ----------
    time, event : array-like, shape (n,)
        Follow-up time and 0/1 event indicator.
    group : array-like, shape (n,)
        Group of each row (two or more groups).
    statistic : {"chisq", "score"}
        ``"chisq"``: the ``survdiff`` chi-square (variance recomputed for each relabeling).
        ``"score"``: the quadratic form of O - E with its *permutation* covariance (fixed
        over relabelings; for two groups this orders relabelings by |O - E|, the
        conditional test of Heinze et al. 2003; R's ``coin::logrank_test`` uses the same
        form, but its default scores for tied times differ from survdiff's, so the two
        agree only without ties - not checked against coin, which is not installed here).
    exact : bool, optional
        Enumerate all distinct relabelings. Default: when their number is at most
        ``max_exact``.
    max_exact : int
        Largest number of relabelings enumerated automatically (default 20,000).
    n_perm : int
        Monte Carlo relabelings when not exact (default 10,000).
    seed : int or Generator, optional
        Seed of the Monte Carlo relabelings (recorded).
    progress : bool, optional
        Progress bar (default: on a terminal for long runs).

    Returns
    -------
    PermutationResult

    Notes
    -----
    A relabeling whose log-rank variance matrix is singular (a group never at risk beside
    another at a death time) gets chi-square 0 with two groups and the generalised-inverse
    quadratic form with more; R's ``survdiff`` stops with an error there.

    References
    ----------
    Heinze G, Gnant M, Schemper M (2003). Exact log-rank tests for unequal follow-up.
    Biometrics 59:1151-1157.
    Phipson B, Smyth GK (2010). Permutation p-values should never be zero. Stat Appl Genet
    Mol Biol 9:39.
    """
    t, e = _check_time_event(time, event)
    n = t.size
    levels, codes = _group_codes(group, n)
    k = len(levels)
    if k < 2:
        raise InputError("needs at least two groups, found one", column="group")
    if statistic not in ("chisq", "score"):
        raise InputError(f"must be 'chisq' or 'score', got {statistic!r}", column="statistic")
    if e.sum() == 0:
        raise InputError("no events: the log-rank test is undefined", column="event")
    if isinstance(max_exact, bool) or not isinstance(max_exact, int) or max_exact < 1:
        raise InputError(f"must be a positive integer, got {max_exact!r}", column="max_exact")
    sizes = [int((codes == g).sum()) for g in range(k)]
    n_total = _n_relabelings(sizes)
    if exact is None:
        exact = n_total <= max_exact
    elif exact and n_total > 10 * max_exact and n_total > 1_000_000:
        raise InputError(
            f"{n_total} relabelings are too many to enumerate; use exact=False", column="exact"
        )
    prep = _batched.logrank_prepare(t, e)

    # permutation covariance of O - E (for the "score" statistic)
    a = prep.score
    va = float(np.sum((a - a.mean()) ** 2)) / (n - 1) if n > 1 else 0.0
    w = np.array(sizes, dtype=float)
    perm_cov = va * (np.diag(w) - np.outer(w, w) / n)
    cov_inv = np.linalg.pinv(perm_cov[1:, 1:]) if k > 1 else None

    def stat(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        oe, var, chisq = _batched.logrank_batched(prep, labels, k)
        if statistic == "chisq":
            return chisq, oe
        u = oe[:, 1:]
        return np.einsum("pi,ij,pj->p", u, cov_inv, u), oe

    obs_arr, oe_obs = stat(codes[None, :])
    obs = float(obs_arr[0])
    tol = 1e-7 * max(1.0, abs(obs))
    n_ge = 0
    used_seed = None
    cells = max(1, (1 << 22) // max(1, n * k))
    if exact:
        labs = _enumerate_labelings(sizes)
        count = labs.shape[0]
        with _progress(count, progress, "exact permutation", count * n >= 20_000_000) as adv:
            for i in range(0, count, cells):
                s, _ = stat(labs[i : i + cells])
                n_ge += int((s >= obs - tol).sum())
                adv(min(cells, count - i))
        p = n_ge / count
    else:
        if isinstance(n_perm, bool) or not isinstance(n_perm, int) or n_perm < 1:
            raise InputError(f"must be a positive integer, got {n_perm!r}", column="n_perm")
        rng, used_seed = _resolve_seed(seed)
        count = n_perm
        with _progress(count, progress, "permutation", count * n >= 20_000_000) as adv:
            done = 0
            while done < count:
                b = min(cells, count - done)
                labs = rng.permuted(np.broadcast_to(codes, (b, n)), axis=1)
                s, _ = stat(labs)
                n_ge += int((s >= obs - tol).sum())
                done += b
                adv(b)
        p = (1 + n_ge) / (1 + count)
    df = k - 1
    observed = np.bincount(codes, weights=e.astype(float), minlength=k)
    groups = tuple(
        {
            "group": levels[g],
            "n": sizes[g],
            "observed": float(observed[g]),
            "expected": float(observed[g] - oe_obs[0, g]),
            "o_minus_e": float(oe_obs[0, g]),
        }
        for g in range(k)
    )
    return PermutationResult(
        test="permutation log-rank",
        statistic=statistic,
        observed=obs,
        df=df,
        p=float(p),
        p_asymptotic=float(sps.chi2.sf(obs, df)),
        exact=bool(exact),
        n_permutations=int(count),
        n_extreme=int(n_ge),
        groups=groups,
        n=n,
        events=int(e.sum()),
        seed=used_seed,
        settings={"max_exact": max_exact, "n_relabelings": n_total, "tolerance": tol},
    )
