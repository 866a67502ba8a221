"""Nearest-neighbour propensity-score matching (greedy, 1:k, with or without replacement).

:func:`match_nearest` matches on arrays; :func:`propensity_match` fits the propensity model
from a formula, matches and reports balance as MatchIt's ``summary()`` does.

The distance
    ``scale="logit"`` (the default) matches on the logit of the propensity score and measures
    the caliper in SDs of the logit PS (Austin 2011; CohortMethod). ``scale="ps"`` matches on
    the propensity score itself with the caliper in SDs of the PS - MatchIt's behaviour for
    ``distance = "glm"`` (``std.caliper = TRUE``), used by the R reference. The SD is taken
    over all units (``sd()``, n - 1). ``caliper=None`` matches without a caliper.

The algorithm (greedy, as MatchIt's ``method = "nearest"``)
    Treated units are taken in ``m_order``: ``"largest"`` distance first (MatchIt's default),
    ``"smallest"``, ``"data"`` order, or ``"random"`` (needs ``seed`` for reproducibility).
    Each takes the nearest control still available within the caliper; with ``ratio = k`` this
    is repeated k times over the treated units, as MatchIt does, a treated unit without a
    control in one round being dropped from later rounds. Controls are kept sorted by distance
    and the next available one to the left and right of any position is found by two
    union-find ("next available") structures, so matching n units costs O(n log n) - no
    distance matrix. With replacement each treated unit takes its k nearest controls.
    ``exact`` variables split the data into strata that are matched separately.

Ties
    Units are ordered by (distance, id) where ``id`` is the row position unless ``ids`` are
    given; among equidistant controls the one with the smaller distance, then the smaller id,
    is taken (treated units with equal distance are taken in id order). Given
    ``ids`` (and ``seed`` for the random order) the result does not depend on row order.
    MatchIt breaks ties differently, so its pair identities can differ where distances tie;
    matched counts and balance do not (tied units share their covariates when the PS is a
    function of them). ``ties="matchit"`` follows MatchIt's rule instead (its
    ``nn_matchC_vec``): all units are put in one order by distance, ties in row order
    (``sort.list``), and a treated unit takes the nearest available control to its left or
    right in that order, the left one when both are equally far - so among tied controls the
    last one in row order before it, else the first after it. Rows, not ``ids``, then decide,
    as in MatchIt (without replacement only). Beware that MatchIt 4.5.1-4.5.3 ignore the
    caliper in this kind of matching (MatchIt issue #163): their matches are not caliper matches.

Weights
    As MatchIt (ATT): 1 for matched treated units; a control gets the sum over the treated
    units it is matched to of 1 / (their number of controls), rescaled so that the control
    weights sum to the number of matched controls; 0 for unmatched units.

References
----------
Austin PC. Optimal caliper widths for propensity-score matching when estimating differences
in means and differences in proportions in observational studies. Pharm Stat 2011;10:150-161.
Ho DE, Imai K, King G, Stuart EA. MatchIt: nonparametric preprocessing for parametric causal
inference. J Stat Softw 2011;42(8).
Rosenbaum PR, Rubin DB. Constructing a control group using multivariate matched sampling
methods that incorporate the propensity score. Am Stat 1985;39:33-38.
Schuemie MJ et al. CohortMethod: new-user cohort method with large scale propensity and
outcome models. R package (OHDSI).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from cartlens.errors import InputError
from cartlens.results import Result

__all__ = [
    "MatchResult",
    "match_nearest",
    "propensity_match",
    "matched_data",
    "matched_cox",
    "match_from_pairs",
    "std_pair_distance",
    "M_ORDERS",
    "SCALES",
]

M_ORDERS = ("largest", "smallest", "random", "data")
#: How equidistant controls are chosen: cartlens' (distance, id) rule or MatchIt's.
TIES = ("distance-id", "matchit")
SCALES = ("logit", "ps")


@dataclasses.dataclass(frozen=True)
class MatchResult(Result):
    """A matched sample.

    Attributes
    ----------
    pairs_treated, pairs_control : numpy.ndarray
        Row positions (0-based) of each matched (treated, control) pair; a treated unit
        appears k times with ``ratio = k``.
    pairs_subclass : numpy.ndarray
        Subclass (1-based) of each pair: one subclass per matched treated unit.
    pairs_distance : numpy.ndarray
        |distance difference| of each pair (on the matching scale).
    subclass : numpy.ndarray
        Per row: its subclass, or 0 when unmatched (without replacement only; with
        replacement a control may belong to several subclasses and this is 0 for controls).
    weights : numpy.ndarray
        MatchIt's matching weights (0 for unmatched rows).
    matched : numpy.ndarray of bool
    treat : numpy.ndarray
    distance : numpy.ndarray
        The distance measure used (logit PS or PS).
    nn : dict
        MatchIt's sample-size table: ``All``, ``All (ESS)``, ``Matched``, ``Matched (ESS)``,
        ``Unmatched``, ``Discarded``, each ``{"control", "treated"}``.
    caliper, caliper_width : float or None
        The caliper in SDs and its width on the matching scale.
    scale, m_order : str
    ratio : int
    replace : bool
    seed : int or None
    exact : tuple of str
        Names of the exact-matching variables.
    balance : BalanceResult or None
        Filled in by :func:`propensity_match`.
    """

    pairs_treated: np.ndarray
    pairs_control: np.ndarray
    pairs_subclass: np.ndarray
    pairs_distance: np.ndarray
    subclass: np.ndarray
    weights: np.ndarray
    matched: np.ndarray
    treat: np.ndarray
    distance: np.ndarray
    nn: dict
    caliper: float | None
    caliper_width: float | None
    scale: str
    m_order: str
    ratio: int
    replace: bool
    seed: int | None
    exact: tuple[str, ...]
    balance: Any = None

    @property
    def n_matched_treated(self) -> int:
        return int(self.nn["Matched"]["treated"])

    @property
    def n_matched_control(self) -> int:
        return int(self.nn["Matched"]["control"])


# --------------------------------------------------------------------------- core matching
def _greedy_without_replacement(
    cd: np.ndarray,
    td_ordered: np.ndarray,
    ratio: int,
    width: float,
) -> tuple[list[int], list[int], list[float]]:
    """Greedy nearest-available matching of treated (in the given order) to sorted controls.

    ``cd``: sorted control distances. ``td_ordered``: treated distances in matching order.
    Returns lists (treated order index, control sorted index, |difference|).
    """
    m = cd.size
    pos_all = np.searchsorted(cd, td_ordered, side="left").tolist()
    cdl = cd.tolist()
    tdl = td_ordered.tolist()
    gstart = np.searchsorted(cd, cd, side="left").tolist()
    # right[i]: smallest available index >= i (m = none); left[i]: 1 + largest available
    # index < i (0 = none). Path-halving union-find.
    right = list(range(m + 1))
    left = list(range(m + 1))
    out_t: list[int] = []
    out_c: list[int] = []
    out_d: list[float] = []
    active = list(range(len(tdl)))
    for _round in range(ratio):
        still: list[int] = []
        for k in active:
            p = pos_all[k]
            x = tdl[k]
            # find right
            r = p
            while right[r] != r:
                right[r] = right[right[r]]
                r = right[r]
            # find left (index l in 'left' space: control l - 1)
            li = p
            while left[li] != li:
                left[li] = left[left[li]]
                li = left[li]
            best = -1
            bd = 0.0
            if li > 0:
                # the first available control among those tied with control li - 1
                g = gstart[li - 1]
                while right[g] != g:
                    right[g] = right[right[g]]
                    g = right[g]
                best = g
                bd = x - cdl[best]
            if r < m:
                dr = cdl[r] - x
                if best < 0 or dr < bd:
                    best = r
                    bd = dr
            if best < 0 or bd > width:
                continue
            out_t.append(k)
            out_c.append(best)
            out_d.append(bd)
            still.append(k)
            right[best] = best + 1
            left[best + 1] = best
        active = still
        if not active:
            break
    return out_t, out_c, out_d


def _greedy_matchit(
    d: np.ndarray, controls: np.ndarray, tord: np.ndarray, ratio: int, width: float
) -> tuple[list[int], list[int], list[float]]:
    """MatchIt's greedy matching (``nn_matchC_vec``) on one stratum, without replacement.

    ``controls`` and ``tord`` are row indices (treated in matching order). All units of the
    stratum are ordered by distance with ties in row order; each treated unit takes the
    nearest available control to its left or right in that order (left on equal distance).
    Returns row indices (treated, control) and |difference|.
    """
    units = np.sort(np.concatenate([controls, tord]))
    pos = units[np.argsort(d[units], kind="stable")]  # sort.list(distance): ties by row
    m = pos.size
    rank = {int(u): i for i, u in enumerate(pos.tolist())}
    dl = d[pos].tolist()
    is_c = np.isin(pos, controls)
    # right[i]: smallest available position >= i (m = none); left[i]: 1 + largest available
    # position < i (0 = none); treated positions are never available
    right = list(range(m + 1))
    left = list(range(m + 1))
    for i in np.flatnonzero(~is_c).tolist():
        right[i] = i + 1
        left[i + 1] = i

    def find(arr: list[int], i: int) -> int:
        while arr[i] != i:
            arr[i] = arr[arr[i]]
            i = arr[i]
        return i

    out_t: list[int] = []
    out_c: list[int] = []
    out_d: list[float] = []
    active = tord.tolist()
    for _round in range(ratio):
        still = []
        for u in active:
            p = rank[u]
            x = dl[p]
            li = find(left, p)  # control position li - 1, 0 = none
            r = find(right, p + 1)
            cand_l = li - 1 if li > 0 and abs(x - dl[li - 1]) <= width else -1
            cand_r = r if r < m and abs(dl[r] - x) <= width else -1
            if cand_l >= 0 and cand_r >= 0:
                k = cand_l if abs(dl[cand_l] - x) <= abs(dl[cand_r] - x) else cand_r
            else:
                k = max(cand_l, cand_r)
            if k < 0:
                continue
            out_t.append(u)
            out_c.append(int(pos[k]))
            out_d.append(abs(dl[k] - x))
            still.append(u)
            right[k] = k + 1
            left[k + 1] = k
        active = still
        if not active:
            break
    return out_t, out_c, out_d


def _nearest_with_replacement(
    cd: np.ndarray, td: np.ndarray, ratio: int, width: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = cd.size
    pos = np.searchsorted(cd, td, side="left")
    if ratio == 1:
        li = np.clip(pos - 1, 0, m - 1)
        ri = np.clip(pos, 0, m - 1)
        dl = np.where(pos > 0, td - cd[li], np.inf)
        dr = np.where(pos < m, cd[ri] - td, np.inf)
        use_left = dl <= dr
        best = np.where(use_left, li, ri)
        bd = np.where(use_left, dl, dr)
        ok = bd <= width
        return np.flatnonzero(ok), best[ok], bd[ok]
    ts: list[int] = []
    cs: list[int] = []
    ds: list[float] = []
    cdl = cd.tolist()
    for k, (p, x) in enumerate(zip(pos.tolist(), td.tolist())):
        lo, hi = p - 1, p
        for _ in range(min(ratio, m)):
            dl = x - cdl[lo] if lo >= 0 else np.inf
            dr = cdl[hi] - x if hi < m else np.inf
            if dl <= dr:
                j, d = lo, dl
                lo -= 1
            else:
                j, d = hi, dr
                hi += 1
            if d > width:
                break
            ts.append(k)
            cs.append(j)
            ds.append(d)
    return np.asarray(ts, dtype=np.int64), np.asarray(cs, dtype=np.int64), np.asarray(ds)


def _strata(exact: Any, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    import pandas as pd

    if exact is None:
        return np.zeros(n, dtype=np.int64), ()
    if isinstance(exact, pd.DataFrame):
        names = tuple(str(c) for c in exact.columns)
        frame = exact
    elif isinstance(exact, dict):
        names = tuple(str(k) for k in exact)
        frame = pd.DataFrame({k: np.asarray(v) for k, v in exact.items()})
    else:
        arr = np.asarray(exact)
        arr = arr[:, None] if arr.ndim == 1 else arr
        names = tuple(f"exact{j + 1}" for j in range(arr.shape[1]))
        frame = pd.DataFrame(arr, columns=list(names))
    if len(frame) != n:
        raise InputError(f"has {len(frame)} rows, expected {n}", column="exact")
    if frame.isna().any().any():
        col = str(frame.columns[frame.isna().any().to_numpy()][0])
        raise InputError("has missing values; exact matching needs complete values", column=col)
    codes = frame.astype(str).agg("\x1f".join, axis=1) if frame.shape[1] > 1 else frame.iloc[:, 0]
    return pd.factorize(codes.astype(str), sort=True)[0].astype(np.int64), names


def match_nearest(
    ps: Any,
    treat: Any,
    *,
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = 0.2,
    scale: str = "logit",
    std_caliper: bool = True,
    exact: Any = None,
    m_order: str = "largest",
    seed: int | None = None,
    ids: Any = None,
    discard: str = "none",
    ties: str = "distance-id",
) -> MatchResult:
    """Greedy nearest-neighbour matching on the propensity score (see the module docstring).

    Parameters
    ----------
    ps : array-like
        Propensity scores in (0, 1).
    treat : array-like of 0/1
    ratio : int
        Controls per treated unit (1:k).
    replace : bool
        Match with replacement (a control may serve several treated units).
    caliper : float or None
        Caliper width in SDs of the distance (``std_caliper=True``) or in distance units.
    scale : {"logit", "ps"}
        Match on the logit PS (default; Austin 2011) or the PS (MatchIt's ``distance="glm"``).
    std_caliper : bool
        Whether ``caliper`` is in SD units.
    exact : DataFrame, mapping or array, optional
        Variables that must agree within a pair.
    m_order : {"largest", "smallest", "random", "data"}
        Order in which treated units are matched.
    seed : int, optional
        Seed of the random order (``m_order="random"``).
    ids : array-like, optional
        Unique unit identifiers used to break ties (default: row position). With ids the
        result does not depend on row order.
    discard : {"none", "treated", "control", "both"}
        As MatchIt: before matching, drop treated units whose PS lies outside the range of
        the controls' (``"treated"``), controls outside the treated range (``"control"``),
        or both. The caliper SD is then taken over the units kept.
    ties : {"distance-id", "matchit"}
        Which of equidistant controls a treated unit takes: cartlens' rule (the smaller
        distance, then the smaller id) or MatchIt's (see the module docstring).

    Returns
    -------
    MatchResult

    References
    ----------
    Ho DE, Imai K, King G, Stuart EA. J Stat Softw 2011;42(8). Austin PC. Pharm Stat
    2011;10:150-161.
    """
    ps = np.asarray(ps, dtype=float)
    a = np.asarray(treat)
    n = ps.size
    if ps.ndim != 1 or a.shape != ps.shape:
        raise InputError("ps and treatment must be 1-D arrays of equal length", column="ps")
    if not np.isin(a, (0, 1)).all():
        raise InputError("must be coded 0/1 for matching", column="treatment")
    a = a.astype(np.int64)
    if not (a == 1).any() or not (a == 0).any():
        raise InputError("needs both treated and control units", column="treatment")
    if not np.all(np.isfinite(ps)) or np.any((ps < 0) | (ps > 1)):
        raise InputError("propensity scores must be finite and in [0, 1]", column="ps")
    ratio = int(ratio)
    if ratio < 1:
        raise InputError("must be a positive integer", column="ratio")
    scale = str(scale).lower()
    if scale not in SCALES:
        raise InputError(f"must be one of {', '.join(SCALES)}", column="scale")
    m_order = str(m_order).lower()
    if m_order not in M_ORDERS:
        raise InputError(f"must be one of {', '.join(M_ORDERS)}", column="m_order")
    if ties not in TIES:
        raise InputError(f"must be one of {', '.join(TIES)}", column="ties")
    if ties == "matchit" and replace:
        raise InputError(
            "MatchIt's tie order is implemented for matching without replacement only",
            column="ties",
        )
    if scale == "logit":
        if np.any((ps <= 0) | (ps >= 1)):
            raise InputError(
                "propensity scores of exactly 0 or 1 have no logit (separation); use "
                "scale='ps' or firth=True",
                column="ps",
            )
        d = np.log(ps) - np.log1p(-ps)
    else:
        d = ps
    discard = str(discard).lower()
    if discard not in ("none", "treated", "control", "both"):
        raise InputError("must be none, treated, control or both", column="discard")
    t1 = a == 1
    discarded = np.zeros(n, dtype=bool)
    if discard in ("treated", "both"):
        discarded |= t1 & ((d < d[~t1].min()) | (d > d[~t1].max()))
    if discard in ("control", "both"):
        discarded |= ~t1 & ((d < d[t1].min()) | (d > d[t1].max()))
    if caliper is None:
        width = np.inf
    else:
        caliper = float(caliper)
        if not caliper > 0:
            raise InputError("must be positive (or None for no caliper)", column="caliper")
        width = caliper * float(np.std(d[~discarded], ddof=1)) if std_caliper else caliper
    uid = np.arange(n) if ids is None else np.asarray(ids)
    if uid.shape != (n,):
        raise InputError(f"has {uid.size} values, expected {n}", column="ids")
    if ids is not None and np.unique(uid).size != n:
        raise InputError("must be unique", column="ids")
    strata, exact_names = _strata(exact, n)

    # matching order of treated units
    t_idx = np.flatnonzero((a == 1) & ~discarded)
    id_rank = np.empty(n, dtype=np.int64)
    id_rank[np.argsort(uid, kind="stable")] = np.arange(n)
    if m_order == "largest":
        order = t_idx[np.lexsort((id_rank[t_idx], -d[t_idx]))]
    elif m_order == "smallest":
        order = t_idx[np.lexsort((id_rank[t_idx], d[t_idx]))]
    elif m_order == "data":
        order = t_idx if ids is None else t_idx[np.argsort(id_rank[t_idx], kind="stable")]
    else:
        by_id = t_idx[np.argsort(id_rank[t_idx], kind="stable")]
        order = by_id[np.random.default_rng(seed).permutation(by_id.size)]

    pt: list[np.ndarray] = []
    pc: list[np.ndarray] = []
    pd_: list[np.ndarray] = []
    # group both sides by stratum once (O(n log n) whatever the number of strata)
    c_all = np.flatnonzero((a == 0) & ~discarded)
    c_all = c_all[np.lexsort((id_rank[c_all], d[c_all], strata[c_all]))]
    t_all = order[np.argsort(strata[order], kind="stable")]  # keeps the matching order
    n_strata = int(strata.max()) + 1
    c_bounds = np.searchsorted(strata[c_all], np.arange(n_strata + 1), side="left")
    t_bounds = np.searchsorted(strata[t_all], np.arange(n_strata + 1), side="left")
    for s in range(n_strata):
        c_sorted = c_all[c_bounds[s] : c_bounds[s + 1]]
        tord = t_all[t_bounds[s] : t_bounds[s + 1]]
        if c_sorted.size == 0 or tord.size == 0:
            continue
        cd = d[c_sorted]
        if ties == "matchit":
            tk, ck, dk = _greedy_matchit(d, c_sorted, tord, ratio, width)
            pt.append(np.asarray(tk, dtype=np.int64))
            pc.append(np.asarray(ck, dtype=np.int64))
            pd_.append(np.asarray(dk, dtype=float))
            continue
        if replace:
            tk, ck, dk = _nearest_with_replacement(cd, d[tord], ratio, width)
        else:
            tk, ck, dk = _greedy_without_replacement(cd, d[tord], ratio, width)
        pt.append(tord[np.asarray(tk, dtype=np.int64)])
        pc.append(c_sorted[np.asarray(ck, dtype=np.int64)])
        pd_.append(np.asarray(dk, dtype=float))
    pairs_t = np.concatenate(pt) if pt else np.zeros(0, dtype=np.int64)
    pairs_c = np.concatenate(pc) if pc else np.zeros(0, dtype=np.int64)
    pairs_d = np.concatenate(pd_) if pd_ else np.zeros(0)

    pairs_t, pairs_c, pairs_d, pairs_sub, subclass, w, nn = _assemble(
        pairs_t, pairs_c, pairs_d, order, a, replace, discarded
    )
    matched = w > 0
    return MatchResult(
        pairs_treated=pairs_t,
        pairs_control=pairs_c,
        pairs_subclass=pairs_sub,
        pairs_distance=pairs_d,
        subclass=subclass,
        weights=w,
        matched=matched,
        treat=a,
        distance=d,
        nn=nn,
        caliper=None if caliper is None else float(caliper),
        caliper_width=None if caliper is None else float(width),
        scale=scale,
        m_order=m_order,
        ratio=ratio,
        replace=bool(replace),
        seed=seed,
        exact=exact_names,
    )


def _distinct(idx: np.ndarray, n: int) -> np.ndarray:
    """Sorted distinct values of row indices in 0..n-1 (faster than np.unique)."""
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return np.flatnonzero(mask)


def _assemble(pairs_t, pairs_c, pairs_d, order, a, replace, discarded=None):
    """Subclasses, MatchIt weights and the sample-size table from a list of pairs."""
    n = a.size
    if discarded is None:
        discarded = np.zeros(n, dtype=bool)
    rank_in_order = np.zeros(n, dtype=np.int64)
    rank_in_order[order] = np.arange(order.size)
    matched_t = _distinct(pairs_t, n)
    matched_t = matched_t[np.argsort(rank_in_order[matched_t], kind="stable")]
    sub_of = np.zeros(n, dtype=np.int64)
    sub_of[matched_t] = np.arange(1, matched_t.size + 1)
    pairs_sub = sub_of[pairs_t]
    srt = np.lexsort((pairs_c, pairs_sub))
    pairs_t, pairs_c, pairs_d, pairs_sub = pairs_t[srt], pairs_c[srt], pairs_d[srt], pairs_sub[srt]
    subclass = sub_of.copy()
    if not replace:
        subclass[pairs_c] = pairs_sub
    w = np.zeros(n)
    w[matched_t] = 1.0
    if pairs_t.size:
        k_per_t = np.bincount(pairs_t, minlength=n)
        np.add.at(w, pairs_c, 1.0 / k_per_t[pairs_t])
        cm = _distinct(pairs_c, n)
        w[cm] *= cm.size / w[cm].sum()
    matched = w > 0

    def ess(x: np.ndarray) -> float:
        s2 = float(np.sum(x * x))
        return float(x.sum() ** 2 / s2) if s2 > 0 else 0.0

    t = a == 1
    nn = {
        "All (ESS)": {"control": float((~t).sum()), "treated": float(t.sum())},
        "All": {"control": int((~t).sum()), "treated": int(t.sum())},
        "Matched (ESS)": {"control": ess(w[~t]), "treated": ess(w[t])},
        "Matched": {"control": int((matched & ~t).sum()), "treated": int((matched & t).sum())},
        "Unmatched": {
            "control": int((~matched & ~t & ~discarded).sum()),
            "treated": int((~matched & t & ~discarded).sum()),
        },
        "Discarded": {
            "control": int((discarded & ~t).sum()),
            "treated": int((discarded & t).sum()),
        },
    }
    return pairs_t, pairs_c, pairs_d, pairs_sub, subclass, w, nn


def match_from_pairs(
    treated_rows: Any,
    control_rows: Any,
    treat: Any,
    *,
    distance: Any = None,
    replace: bool = False,
) -> MatchResult:
    """A :class:`MatchResult` from given pairs (0-based rows), e.g. pairs made by MatchIt.

    Subclasses follow the order of the pairs' treated units; weights are MatchIt's.
    """
    a = np.asarray(treat).astype(np.int64)
    pt = np.asarray(treated_rows, dtype=np.int64)
    pc = np.asarray(control_rows, dtype=np.int64)
    if pt.shape != pc.shape:
        raise InputError("treated and control rows must pair up", column="pairs")
    if np.any(a[pt] != 1) or np.any(a[pc] != 0):
        raise InputError("a pair does not join a treated to a control unit", column="pairs")
    if not replace and np.unique(pc).size != pc.size:
        raise InputError("a control is used twice in a match without replacement", column="pairs")
    d = np.zeros(a.size) if distance is None else np.asarray(distance, dtype=float)
    first = np.unique(pt, return_index=True)
    order = np.r_[first[0][np.argsort(first[1])], np.setdiff1d(np.flatnonzero(a == 1), pt)]
    pdist = np.abs(d[pt] - d[pc])
    pairs_t, pairs_c, pairs_d, pairs_sub, subclass, w, nn = _assemble(
        pt, pc, pdist, order, a, replace
    )
    return MatchResult(
        pairs_treated=pairs_t,
        pairs_control=pairs_c,
        pairs_subclass=pairs_sub,
        pairs_distance=pairs_d,
        subclass=subclass,
        weights=w,
        matched=w > 0,
        treat=a,
        distance=d,
        nn=nn,
        caliper=None,
        caliper_width=None,
        scale="given",
        m_order="given",
        ratio=int(np.bincount(pt).max()) if pt.size else 0,
        replace=bool(replace),
        seed=None,
        exact=(),
    )


def std_pair_distance(x: Any, match: MatchResult) -> float:
    """Mean absolute within-pair difference of ``x``, standardised by the SD of the treated
    units in the full sample (MatchIt's ``Std. Pair Dist.``).

    Each (treated, control) pair is weighted by 1 / (number of controls of its treated
    unit), so every subclass counts once; for 1:1 matching this is the plain mean.
    """
    x = np.asarray(x, dtype=float)
    if match.pairs_treated.size == 0:
        return float("nan")
    t = match.treat == 1
    sd = float(np.std(x[t], ddof=1))
    k = np.bincount(match.pairs_treated, minlength=x.size)[match.pairs_treated]
    diff = np.abs(x[match.pairs_treated] - x[match.pairs_control])
    mean = float(np.sum(diff / k) / np.sum(1.0 / k))
    with np.errstate(divide="ignore", invalid="ignore"):
        return mean / sd if sd > 0 else (0.0 if mean == 0 else float("inf"))


def propensity_match(
    formula: str,
    data: Any,
    *,
    treatment: str | None = None,
    treated: Any = None,
    firth: bool = False,
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = 0.2,
    scale: str = "logit",
    exact: Sequence[str] | None = None,
    m_order: str = "largest",
    seed: int | None = None,
    id_column: str | None = None,
    threshold: float = 0.1,
    discard: str = "none",
    ties: str = "distance-id",
) -> tuple[Any, MatchResult]:
    """Fit the propensity model of ``formula``, match, and report balance (ATT).

    Balance is that of MatchIt's ``summary()``: means, SMDs standardised by the full-sample
    treated SD before and after matching, variance ratios and eCDF statistics, with the
    propensity score as the ``distance`` row (on the probability scale as MatchIt shows it).
    A :class:`~cartlens.errors.BalanceWarning` is issued when a covariate misses
    ``|SMD| < threshold`` after matching.

    Parameters
    ----------
    formula, data, treatment, treated, firth
        As :func:`cartlens.stats.propensity.propensity_score`.
    ratio, replace, caliper, scale, m_order, seed, discard, ties
        As :func:`match_nearest`.
    exact : sequence of str, optional
        Columns of ``data`` to match exactly on.
    id_column : str, optional
        Column of unique ids used to break ties (row-order independence).

    Returns
    -------
    (PropensityResult, MatchResult)
        Row positions in the match refer to the rows used by the PS model (``ps.rows``).

    References
    ----------
    Ho DE, Imai K, King G, Stuart EA. J Stat Softw 2011;42(8).
    """
    import pandas as pd

    from cartlens.stats.balance import balance_table
    from cartlens.stats.propensity import _design, _split_formula, propensity_score

    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    for col in [*(exact or []), *([id_column] if id_column else [])]:
        if col not in data.columns:
            raise InputError("does not exist in the data", column=col)
    # rows missing an exact-matching variable are dropped like rows missing a covariate
    keep = data[list(exact)].notna().all(axis=1).to_numpy() if exact else np.ones(len(data), bool)
    fit = propensity_score(
        formula,
        data.loc[keep].reset_index(drop=True),
        treatment=treatment,
        treated=treated,
        firth=firth,
    )
    if not keep.all():
        fit = dataclasses.replace(
            fit,
            rows=np.flatnonzero(keep)[fit.rows],
            n_dropped_missing=fit.n_dropped_missing + int((~keep).sum()),
        )
    used = data.iloc[fit.rows].reset_index(drop=True)
    ex = used[list(exact)] if exact else None
    ids = used[id_column].to_numpy() if id_column else None
    m = match_nearest(
        fit.ps,
        fit.treat,
        ratio=ratio,
        replace=replace,
        caliper=caliper,
        scale=scale,
        exact=ex,
        m_order=m_order,
        seed=seed,
        ids=ids,
        discard=discard,
        ties=ties,
    )
    _, X, names, _, _ = _design(used, _split_formula(formula, treatment)[0], fit.formula)
    covs = {nm: X[:, j] for j, nm in enumerate(names) if nm != "Intercept"}
    if m.n_matched_treated == 0:
        raise InputError(
            "no treated unit found a control within the caliper; widen the caliper or check "
            "the overlap of the propensity scores",
            column="caliper",
        )
    bal = balance_table(
        covs, fit.treat, m.weights, estimand="att", threshold=threshold, distance=fit.ps
    )
    values = {"distance": fit.ps, **covs}
    rows = tuple(
        {**r, "std_pair_dist": std_pair_distance(values[r["covariate"]], m)} for r in bal.rows
    )
    return fit, dataclasses.replace(m, balance=dataclasses.replace(bal, rows=rows))


def matched_data(data: Any, match: MatchResult, rows: Any = None):
    """The matched rows of ``data`` with ``subclass`` and ``weights`` columns (as MatchIt's
    ``match.data()``); ``rows`` maps match positions to rows of ``data`` (e.g. ``ps.rows``)."""
    import pandas as pd

    df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    pos = np.arange(match.treat.size) if rows is None else np.asarray(rows)
    keep = np.flatnonzero(match.matched)
    out = df.iloc[pos[keep]].copy()
    out["subclass"] = match.subclass[keep]
    out["weights"] = match.weights[keep]
    return out


def matched_cox(time: Any, event: Any, match: MatchResult, *, stratified: bool = False, **kw):
    """Cox model of the treatment in the matched sample.

    Without replacement: ``coxph(Surv(time, event) ~ treat + cluster(subclass))`` (robust SE
    clustered on pairs, Austin 2013) or, with ``stratified=True``, stratified on pairs
    (``strata(subclass)``). With replacement: weighted by the matching weights with robust SE
    clustered on units. ``time`` and ``event`` are in the order of the match's rows.

    References
    ----------
    Austin PC. The use of propensity score methods with survival or time-to-event outcomes:
    reporting measures of effect similar to those used in randomized experiments. Stat Med
    2014;33:1242-1258.
    """
    from cartlens.stats.cox import coxph

    keep = np.flatnonzero(match.matched)
    tm = np.asarray(time, dtype=float)[keep]
    ev = np.asarray(event)[keep]
    X = match.treat[keep].astype(float)[:, None]
    if match.replace:
        return coxph(
            tm, ev, X, weights=match.weights[keep], cluster=keep, robust=True, names=["treat"], **kw
        )
    sub = match.subclass[keep]
    if stratified:
        return coxph(tm, ev, X, strata=sub, names=["treat"], **kw)
    return coxph(tm, ev, X, cluster=sub, robust=True, names=["treat"], **kw)
