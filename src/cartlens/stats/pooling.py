"""Many centres, no shared rows: small-count suppression, pooled estimates, distributed Cox.

A site shares only aggregates (:mod:`cartlens.stats.aggregate`):

* **count tables** per endpoint, with cells of fewer than ``k`` records (0 < n < k)
  suppressed (:func:`suppress_counts`). With suppression off (``k`` = 0 or 1) the pooled
  KM, log-rank, cumulative incidence and Gray's test are exactly those of the concatenated
  records. With suppression on, a withheld cell is absent from every risk set, so those
  estimates are approximations; what stays exact is stated in ``docs/architecture.md``
  ("Many centres"): each site's total records and, per cause, events of the retained cells,
  plus the number withheld, and everything when no cell was withheld.
* **Cox rounds** (distributed Newton): the coordinator sends beta (and a pooled centre and
  the pooled event times); each site returns its risk-set sums at those times
  (:func:`cartlens.stats.aggregate.cox_risk_set_sums` with ``at``); the coordinator adds
  them (:func:`~cartlens.stats.aggregate.combine_risk_set_sums`), takes ``coxph``'s Newton
  step and sends the next beta. :class:`~cartlens.stats.aggregate.CoxRounds` holds that
  state (the same iteration as :func:`~cartlens.stats.aggregate.cox_newton`); it round-trips to JSON
  for file-based rounds and drives the in-process simulation
  (:func:`simulate_distributed_cox`). Cox sums are not subject to ``k``: they are sums
  over risk sets, and a site that cannot share them must not take part.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from cartlens.errors import InputError
from cartlens.results import Result
from cartlens.stats.aggregate import (
    CoxAggregateResult,
    CoxRiskSetSums,
    CoxRounds,
    SurvivalCounts,
    _pair_key,
    cox_risk_set_sums,
)

__all__ = [
    "SuppressionReport",
    "suppress_counts",
    "CoxRounds",
    "site_event_summary",
    "simulate_distributed_cox",
]


@dataclasses.dataclass(frozen=True)
class SuppressionReport(Result):
    """What :func:`suppress_counts` withheld: ``k``, cells and records withheld, records kept."""

    k: int
    cells_withheld: int
    records_withheld: int
    records_kept: int


def suppress_counts(counts: SurvivalCounts, k: int) -> tuple[SurvivalCounts, SuppressionReport]:
    """Withhold every cell with 0 < n < ``k`` (``k`` <= 1: nothing is withheld)."""
    if k < 0 or int(k) != k:
        raise InputError(f"must be a non-negative integer; got {k!r}", column="k")
    small = (counts.count > 0) & (counts.count < k)
    kept = SurvivalCounts(
        stratum=counts.stratum[~small],
        group=counts.group[~small],
        time=counts.time[~small],
        status=counts.status[~small],
        count=counts.count[~small],
    )
    rep = SuppressionReport(
        k=int(k),
        cells_withheld=int(small.sum()),
        records_withheld=int(counts.count[small].sum()),
        records_kept=int(kept.count.sum()),
    )
    return kept, rep


# --------------------------------------------------------------------------------------------
# distributed Newton for Cox
# --------------------------------------------------------------------------------------------
def site_event_summary(time: Any, event: Any, X: Any, *, strata: Any = None) -> dict:
    """A site's first message: records, covariate sums (for the pooled centre) and its
    (stratum, event time) pairs (the pooled risk sets are evaluated at their union)."""
    t = np.asarray(time, dtype=float)
    d = np.asarray(event, dtype=float)
    x = np.asarray(X, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    s = np.full(t.size, None, dtype=object) if strata is None else np.asarray(strata, object)
    ev = d == 1
    pairs = sorted(
        {(None if v is None else str(v), float(tt)) for v, tt in zip(s[ev], t[ev])}, key=_pair_key
    )
    return {"n": int(t.size), "x_sum": x.sum(axis=0).tolist(), "event_times": pairs}


def sums_to_json(s: CoxRiskSetSums) -> str:
    """A site's reply (its risk-set sums at the requested beta) as JSON."""
    d = {f.name: getattr(s, f.name) for f in dataclasses.fields(s)}
    return json.dumps({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()})


def sums_from_json(text: str) -> CoxRiskSetSums:
    d = json.loads(text)
    arrays = {"stratum": object}
    out = {}
    for f in dataclasses.fields(CoxRiskSetSums):
        v = d[f.name]
        if f.name in ("n", "events"):
            out[f.name] = int(v)
        else:
            out[f.name] = np.array(v, dtype=arrays.get(f.name, float))
    return CoxRiskSetSums(**out)


def simulate_distributed_cox(
    sites: Sequence[tuple[Any, Any, Any]],
    *,
    strata: Sequence[Any] | None = None,
    ties: str = "efron",
    eps: float = 1e-9,
    iter_max: int = 20,
    terms: Sequence[str] | None = None,
) -> tuple[CoxAggregateResult, int]:
    """Run the rounds in one process: ``sites`` are (time, event, X) of each site (never
    concatenated); returns the fit and the number of rounds (messages to each site)."""
    st = list(strata) if strata is not None else [None] * len(sites)
    summaries = [site_event_summary(t, e, x, strata=s) for (t, e, x), s in zip(sites, st)]
    rounds = CoxRounds.start(summaries, ties=ties, eps=eps, iter_max=iter_max, terms=terms)
    n_rounds = 0
    while not rounds.done:
        req = rounds.request()
        at = [tuple(a) for a in req["at"]]
        replies = [
            cox_risk_set_sums(t, e, x, req["beta"], strata=s, center=req["center"], at=at)
            for (t, e, x), s in zip(sites, st)
        ]
        # as over files: every reply crosses a JSON boundary
        rounds.update([sums_from_json(sums_to_json(r)) for r in replies])
        n_rounds += 1
    return rounds.result(), n_rounds
