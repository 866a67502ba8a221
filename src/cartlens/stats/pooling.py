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
  step and sends the next beta. :class:`CoxRounds` holds that state; it round-trips to JSON
  for file-based rounds and drives the in-process simulation
  (:func:`simulate_distributed_cox`). Cox sums are not subject to ``k``: they are sums
  over risk sets, and a site that cannot share them must not take part.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cartlens.errors import InputError
from cartlens.results import Result
from cartlens.stats.aggregate import (
    CoxAggregateResult,
    CoxRiskSetSums,
    SurvivalCounts,
    combine_risk_set_sums,
    cox_partial_likelihood,
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


def _pair_key(pair):
    return ("" if pair[0] is None else str(pair[0]), pair[1])


@dataclasses.dataclass
class CoxRounds:
    """Coordinator state of the distributed Newton iteration (``coxph``'s ``coxfit6`` rule:
    a full step, halving when the log likelihood drops, stop when
    ``|1 - loglik_old / loglik| <= eps`` after a full step). ``beta_next`` is what the sites
    are asked to evaluate next; ``done`` once converged or out of iterations."""

    p: int
    center: list
    at: list
    ties: str = "efron"
    eps: float = 1e-9
    iter_max: int = 20
    terms: list = dataclasses.field(default_factory=list)
    round: int = 0
    beta: list = dataclasses.field(default_factory=list)
    beta_next: list = dataclasses.field(default_factory=list)
    oldlik: float | None = None
    loglik_null: float | None = None
    halving: bool = False
    done: bool = False
    converged: bool = False
    last: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def start(
        cls,
        summaries: Sequence[dict],
        *,
        ties: str = "efron",
        eps: float = 1e-9,
        iter_max: int = 20,
        terms: Sequence[str] | None = None,
    ) -> CoxRounds:
        """From the sites' :func:`site_event_summary` messages: pooled centre, union of
        event times, beta = 0."""
        if not summaries:
            raise InputError("no sites", column="sites")
        n = sum(s["n"] for s in summaries)
        p = len(summaries[0]["x_sum"])
        centre = (np.sum([s["x_sum"] for s in summaries], axis=0) / n).tolist()
        at = sorted({tuple(pr) for s in summaries for pr in s["event_times"]}, key=_pair_key)
        return cls(
            p=p,
            center=centre,
            at=[list(a) for a in at],
            ties=ties,
            eps=eps,
            iter_max=iter_max,
            terms=list(terms or (f"x{i}" for i in range(p))),
            beta=[0.0] * p,
            beta_next=[0.0] * p,
        )

    def request(self) -> dict:
        """What every site evaluates this round."""
        return {"round": self.round, "beta": self.beta_next, "center": self.center, "at": self.at}

    def update(self, site_sums: Sequence[CoxRiskSetSums]) -> None:
        """Add the sites' sums at ``beta_next`` and take the next Newton step."""
        from cartlens.stats.cox import _gchol_inverse

        if self.done:
            raise InputError("the iteration has finished", column="round")
        pooled = combine_risk_set_sums(site_sums)
        if not np.allclose(pooled.beta, self.beta_next, rtol=0, atol=0):
            raise InputError("sums were computed at another beta", column="beta")
        ll, u, imat = cox_partial_likelihood(pooled, self.ties)
        nb = np.asarray(self.beta_next, float)
        self.last = {
            "beta": nb.tolist(),
            "loglik": float(ll),
            "information": np.asarray(imat).tolist(),
            "n": pooled.n,
            "events": pooled.events,
        }
        if self.round == 0:
            self.loglik_null = self.oldlik = float(ll)
            self.beta = nb.tolist()
            if self.p == 0 or self.iter_max == 0:
                self.done = self.converged = True
            else:
                self.beta_next = (nb + _gchol_inverse(imat) @ u).tolist()
            self.round = 1
            return
        newlik = float(ll) if math.isfinite(ll) else -math.inf
        if math.isfinite(newlik) and abs(1 - self.oldlik / newlik) <= self.eps and not self.halving:
            self.done = self.converged = True
            return
        if self.round == self.iter_max:
            self.done = True
            return
        b = np.asarray(self.beta, float)
        if newlik < self.oldlik:
            self.halving = True
            self.beta_next = ((nb + b) / 2).tolist()
        else:
            self.halving = False
            self.oldlik = newlik
            self.beta = nb.tolist()
            self.beta_next = (nb + _gchol_inverse(imat) @ u).tolist()
        self.round += 1

    def result(self, conf_level: float = 0.95) -> CoxAggregateResult:
        """The fit at the last evaluated beta (call when ``done``)."""
        from scipy import stats as st

        from cartlens.stats.cox import _gchol_inverse

        if not self.last:
            raise InputError("no round has been evaluated", column="round")
        beta = np.asarray(self.last["beta"], float)
        var = _gchol_inverse(np.asarray(self.last["information"], float))
        se = np.sqrt(np.diag(var))
        z = st.norm.ppf(0.5 + conf_level / 2)
        lr = 2.0 * (self.last["loglik"] - self.loglik_null)
        return CoxAggregateResult(
            terms=tuple(self.terms),
            coef=beta,
            var=var,
            se=se,
            hr=np.exp(beta),
            lower=np.exp(beta - z * se),
            upper=np.exp(beta + z * se),
            p=2.0 * st.norm.sf(np.abs(beta / se)),
            loglik_null=float(self.loglik_null),
            loglik=float(self.last["loglik"]),
            lr_stat=float(lr),
            lr_p=float(st.chi2.sf(lr, self.p)),
            iterations=int(self.round),
            converged=bool(self.converged),
            ties=self.ties,
            n=int(self.last["n"]),
            events=int(self.last["events"]),
            conf_level=conf_level,
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> CoxRounds:
        return cls(**json.loads(text))


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
