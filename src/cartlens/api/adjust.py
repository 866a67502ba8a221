"""Propensity scores, matching and weighting on a DataFrame (``glm``, MatchIt, WeightIt +
cobalt): thin wrappers over :mod:`cartlens.stats.propensity`, :mod:`~cartlens.stats.matching`,
:mod:`~cartlens.stats.weighting` and :mod:`~cartlens.stats.balance`.

``propensity(df, "treated ~ age + sex")`` fits the score; ``match(df, "treated ~ age + sex",
caliper=0.2)`` is ``matchit(method = "nearest")``; ``weight(df, "treated ~ age + sex",
estimand="ate")`` is ``weightit(method = "glm")`` with cobalt's ``bal.tab``. ``.data()`` returns
the rows to analyse with their ``weights`` (as ``match.data()``), ready for
``coxph(..., weights="weights", robust=True)`` or ``survfit(..., weights="weights")``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from cartlens.api.base import Fit, Printed, user_warnings
from cartlens.api.frame import column_model
from cartlens.api.glm import glm_table
from cartlens.api.text import Table, format_real


def _split(data, formula: str) -> tuple[str, str]:
    treatment, pf = column_model(data, formula, "the treatment", "propensity model")
    return treatment, pf.rhs


def _balance_table(bal, adjusted: bool) -> Table:
    rows, names = [], []
    for r in bal.rows:
        names.append(r["covariate"])
        cells = ["Binary" if r.get("binary") else "Contin.", _f4(r["smd_before"])]
        if adjusted:
            cells += [_f4(r.get("smd_after")), "Balanced" if r.get("pass") else "Not Balanced"]
        rows.append(cells)
    cols = ["Type", "Diff.Un"] + (
        ["Diff.Adj", f"M.Threshold(<{bal.threshold:g})"] if adjusted else []
    )
    return Table(cols, rows, names, caption="Balance Measures", align="lrrl"[: len(cols)])


def _f4(x) -> str:
    """cobalt's display: 4 decimals."""
    return "NA" if x is None or not np.isfinite(x) else f"{x:.4f}"


def _balance_frame(bal):
    import pandas as pd

    return pd.DataFrame(list(bal.rows))


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Propensity(Fit):
    """A propensity-score model: ``result`` is a
    :class:`~cartlens.stats.propensity.PropensityResult`."""

    data_used: Any = dataclasses.field(default=None, repr=False)

    def printed(self) -> Printed:
        r = self.result
        t = glm_table(r.terms, r.coef, r.se, r.z, r.p)
        s = r.summary()
        lines = (
            f"n = {r.n} (treated {r.n_treated}, control {r.n_control}); method {r.method}"
            + (
                f"; {r.n_dropped_missing} rows with missing values dropped"
                if r.n_dropped_missing
                else ""
            ),
            f"Propensity score: range {format_real([s['min'], s['max']], 3)[0]}-"
            f"{format_real([s['min'], s['max']], 3)[1]}, mean treated "
            f"{format_real([s['mean_treated']], 3)[0]}, mean control "
            f"{format_real([s['mean_control']], 3)[0]}",
        )
        import pandas as pd

        return Printed(self.call, (t,), lines=lines, frame=pd.DataFrame(r.terms_table()))

    def data(self):
        """The rows used, with a ``ps`` column."""
        out = self.data_used.copy()
        out["ps"] = self.result.ps
        return out

    def plot(self, *, labels: tuple[str, str] = ("control", "treated"), title: str = ""):
        """The report's propensity-score overlap figure."""
        from cartlens.report.figures.balance import ps_overlap_plot

        return ps_overlap_plot(self.result, labels=labels, title=title)


@user_warnings
def propensity(data, formula: str, *, treated: Any = None, firth: bool = False) -> Propensity:
    """Propensity score by logistic regression, as ``glm(treat ~ x, family = binomial)``
    (``firth=True``: ``logistf``). ``treated`` names the treated value when the column is
    not 0/1 or logical.

    References
    ----------
    Rosenbaum PR, Rubin DB. Biometrika 1983;70:41-55.
    """
    from cartlens.stats.propensity import propensity_score

    treatment, rhs = _split(data, formula)
    res = propensity_score(f"{rhs}", data, treatment=treatment, treated=treated, firth=firth)
    used = data.iloc[res.rows]
    return Propensity(
        result=res, call=f"glm(formula = {formula}, family = binomial, data = data)", data_used=used
    )


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Matched(Fit):
    """A matched sample (``matchit``): ``result`` is a
    :class:`~cartlens.stats.matching.MatchResult` and ``ps`` the propensity fit."""

    ps: Any = None
    data_used: Any = dataclasses.field(default=None, repr=False)

    def printed(self) -> Printed:
        m = self.result
        order = ["All", "Matched", "Unmatched", "Discarded"]
        nn = m.nn
        rows = [[str(int(nn[k]["control"])), str(int(nn[k]["treated"]))] for k in order if k in nn]
        t1 = Table(
            ["Control", "Treated"], rows, [k for k in order if k in nn], caption="Sample Sizes"
        )
        t2 = _balance_table(m.balance, True)
        lines = (
            f"Nearest-neighbour matching 1:{m.ratio} on the {m.scale} propensity score"
            + (f", caliper {m.caliper:g} SD" if m.caliper else "")
            + (", with replacement" if m.replace else ", without replacement"),
        )
        return Printed(self.call, (t1, t2), lines=lines, frame=_balance_frame(m.balance))

    def data(self):
        """The matched rows with ``subclass`` and ``weights`` (``match.data()``)."""
        from cartlens.stats.matching import matched_data

        return matched_data(self.data_used, self.result)

    def plot(self, *, title: str = ""):
        """The report's Love plot of the SMDs before and after matching."""
        from cartlens.report.figures.balance import love_plot

        return love_plot(self.result.balance, title=title)


@user_warnings
def match(
    data,
    formula: str,
    *,
    treated: Any = None,
    ratio: int = 1,
    caliper: float | None = 0.2,
    replace: bool = False,
    firth: bool = False,
    exact: list[str] | None = None,
    id: str | None = None,
    seed: int | None = None,
    m_order: str = "largest",
    scale: str = "ps",
) -> Matched:
    """Greedy nearest-neighbour propensity matching, as ``MatchIt::matchit(formula, data,
    method = "nearest", distance = "glm", caliper = 0.2, ratio = 1)`` (ATT) with balance as
    ``summary(m)``. As MatchIt's ``distance = "glm"``, the caliper (in SDs) and the
    distances are on the propensity-score scale by default; ``scale="logit"`` matches on the
    logit of the score (Austin 2011).

    References
    ----------
    Ho DE, Imai K, King G, Stuart EA. J Stat Softw 2011;42(8). Austin PC. Pharm Stat
    2011;10:150-161.
    """
    from cartlens.stats.matching import propensity_match

    treatment, rhs = _split(data, formula)
    ps, m = propensity_match(
        rhs,
        data.reset_index(drop=True),
        treatment=treatment,
        treated=treated,
        firth=firth,
        ratio=ratio,
        replace=replace,
        caliper=caliper,
        exact=exact,
        id_column=id,
        seed=seed,
        m_order=m_order,
        scale=scale,
    )
    used = data.iloc[ps.rows]
    call = (
        f'matchit(formula = {formula}, data = data, method = "nearest", ratio = {ratio}, '
        f"caliper = {caliper})"
    )
    return Matched(result=m, call=call, ps=ps, data_used=used)


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Weighted(Fit):
    """IPT weights (``weightit``): ``result`` is a
    :class:`~cartlens.stats.weighting.WeightsResult`; ``ps`` the propensity fit and
    ``balance`` the :class:`~cartlens.stats.balance.BalanceResult`."""

    ps: Any = None
    balance: Any = None
    data_used: Any = dataclasses.field(default=None, repr=False)

    def printed(self) -> Printed:
        w = self.result
        s = w.summary
        cols = ["Min", "Max", "Mean", "ESS"]
        rows, names = [], []
        for g in ("treated", "control"):
            vals = [s[g]["min"], s[g]["max"], s[g]["mean"], s[g]["ess"]]
            rows.append(format_real(vals, 4))
            names.append(g)
        t1 = Table(cols, rows, names, caption="Summary of weights")
        t2 = _balance_table(self.balance, True)
        lines = (
            f"Estimand: {w.estimand.upper()}; "
            + ("stabilized; " if w.stabilized else "")
            + f"{w.n_trimmed} trimmed, {w.n_truncated} truncated",
        )
        return Printed(self.call, (t1, t2), lines=lines, frame=_balance_frame(self.balance))

    def data(self):
        """The rows used with their ``weights`` column (for weighted Cox / KM)."""
        out = self.data_used.copy()
        out["weights"] = self.result.weights
        return out

    def plot(self, *, title: str = ""):
        """The report's Love plot (SMDs before and after weighting)."""
        from cartlens.report.figures.balance import love_plot

        return love_plot(self.balance, title=title)


@user_warnings
def weight(
    data,
    formula: str,
    *,
    estimand: str = "ate",
    treated: Any = None,
    stabilize: bool = False,
    trim: tuple[float, float] | None = None,
    truncate: tuple[float, float] | None = None,
    firth: bool = False,
    threshold: float = 0.1,
) -> Weighted:
    """Inverse-probability-of-treatment weights from a logistic propensity model, as
    ``WeightIt::weightit(formula, data, method = "glm", estimand = "ATE")``, with balance as
    ``cobalt::bal.tab`` (SMD before and after, ``threshold``).

    References
    ----------
    Austin PC, Stuart EA. Stat Med 2015;34:3661-3679.
    """
    from cartlens.stats.balance import balance_table
    from cartlens.stats.propensity import _design, propensity_score
    from cartlens.stats.weighting import iptw_weights

    treatment, rhs = _split(data, formula)
    ps = propensity_score(rhs, data, treatment=treatment, treated=treated, firth=firth)
    w = iptw_weights(
        ps.ps, ps.treat, estimand=estimand, stabilize=stabilize, trim=trim, truncate=truncate
    )
    used = data.iloc[ps.rows]
    _, X, names, _, _ = _design(used.reset_index(drop=True), treatment, rhs)
    covs = {nm: X[:, j] for j, nm in enumerate(names) if nm != "Intercept"}
    bal = balance_table(covs, ps.treat, w.weights, estimand=estimand, threshold=threshold)
    est = estimand.upper()
    call = f'weightit(formula = {formula}, data = data, method = "glm", estimand = "{est}")'
    return Weighted(result=w, call=call, ps=ps, balance=bal, data_used=used)
