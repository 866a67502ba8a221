"""``survfit`` and ``survdiff`` on a DataFrame with R's formula.

``survfit(df, "Surv(time, status) ~ sex")`` is :func:`cartlens.stats.km.kaplan_meier` on the
model frame (one curve per stratum, strata in factor-level order, labelled ``sex=1`` as R
does); ``survdiff`` is :func:`cartlens.stats.logrank.logrank_test`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cartlens.api.base import Fit, Printed, call_text, user_warnings
from cartlens.api.formula import FormulaError
from cartlens.api.frame import Groups, ModelFrame, groups_of, model_frame
from cartlens.api.text import Table, format_real, pretty, signif


def _strata_only(mf: ModelFrame, fun: str) -> tuple[str, ...]:
    """The right-hand side of survfit / survdiff: plain columns or factor(x) only."""
    pf = mf.formula
    for t in pf.terms:
        bare = t.strip().strip("`")
        if bare not in pf.variables and not (t.startswith("factor(") or t.startswith("C(")):
            raise FormulaError(pf.text, t, f"is not a grouping column; {fun}() takes groups only")
    return pf.variables


def nice_breaks(tmax: float, n: int = 5) -> list[float]:
    """Breaks of R's ``pretty(c(0, tmax), n)`` that lie within the follow-up."""
    return [t for t in pretty(0.0, tmax, n) if t <= tmax] if tmax > 0 else [0.0]


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Survfit(Fit):
    """A Kaplan-Meier fit (``survfit``): ``result`` is a :class:`~cartlens.stats.km.KMResult`."""

    groups: Groups = None
    frame: ModelFrame = dataclasses.field(default=None, repr=False)

    def labels(self) -> list[str]:
        """The strata names of the curves (``sex=1``), in order."""
        if not self.groups.variables:
            return ["all"] * len(self.result.curves)
        return [self.groups.labels[int(c.group)] for c in self.result.curves]

    def curve(self, stratum: Any = None):
        """The :class:`~cartlens.stats.km.KMCurve` of ``stratum`` (``"sex=2"`` or the level)."""
        labs = self.labels()
        if stratum is None and len(labs) == 1:
            return self.result.curves[0]
        for c, lab in zip(self.result.curves, labs):
            lv = self.groups.levels[int(c.group)] if self.groups.variables else ()
            if stratum == lab or (
                len(lv) == 1 and (stratum == lv[0] or str(stratum) == str(lv[0]))
            ):
                return c
        raise KeyError(f"no stratum {stratum!r}; strata are {labs}")

    def printed(self) -> Printed:
        res = self.result
        pct = f"{res.conf_level:g}"
        curves = res.curves
        # print.survfit: records, n.max, n.start; n.max and n.start become "n" when equal,
        # and records is dropped when it equals that
        cols = ["records", "n.max", "n.start", "events", "median", f"{pct}LCL", f"{pct}UCL"]
        vals = [
            [c.n for c in curves],
            [c.n_max for c in curves],
            [c.n_start for c in curves],
            [c.events for c in curves],
            [c.median for c in curves],
            [c.median_lower for c in curves],
            [c.median_upper for c in curves],
        ]
        if vals[1] == vals[2]:
            del cols[1], vals[1]
            cols[1] = "n"
        if vals[0] == vals[1]:
            del cols[0], vals[0]
        fmt = [format_real(v, 3) for v in vals]
        rows = [[f[i] for f in fmt] for i in range(len(curves))]
        names = self.labels() if self.groups.variables else ["[1,]"]
        head = ()
        if self.frame.n_dropped:
            head = (
                f"   {self.frame.n_dropped} observation"
                f"{'s' if self.frame.n_dropped > 1 else ''} deleted due to missingness",
            )
        frame = _frame(names, cols, vals)
        return Printed(
            self.call, (Table(cols, rows, names),), head=head, frame=frame, inline_call=True
        )

    def summary(self, times: Sequence[float] | None = None, *, extend: bool = False) -> Printed:
        """``summary(fit, times = times, extend = extend)``: the curve at each event time, or at
        ``times``, one table per stratum."""
        from cartlens.stats.km import survival_at

        res = self.result
        pct = f"{100 * res.conf_level:g}%"
        cols = [
            "time",
            "n.risk",
            "n.event",
            "survival",
            "std.err",
            f"lower {pct} CI",
            f"upper {pct} CI",
        ]
        tables, frames = [], []
        for c, lab in zip(res.curves, self.labels()):
            if times is None:
                sel = np.asarray(c.n_event) > 0
                data = [
                    c.time[sel],
                    c.n_risk[sel],
                    c.n_event[sel],
                    c.surv[sel],
                    c.std_err[sel],
                    c.lower[sel],
                    c.upper[sel],
                ]
            else:
                a = survival_at(c, times, extend=extend)
                data = [a.time, a.n_risk, a.n_event, a.surv, a.std_err, a.lower, a.upper]
            fmt = [format_real(list(d), 3) for d in data]
            rows = [[f[i] for f in fmt] for i in range(len(data[0]))]
            cap = "" if not self.groups.variables else f"                {lab} "
            tables.append(Table(cols, rows, [""] * len(rows), caption=cap))
            import pandas as pd

            fr = pd.DataFrame(dict(zip(cols, [np.asarray(d, float) for d in data])))
            fr.insert(0, "strata", lab)
            frames.append(fr)
        import pandas as pd

        return Printed(
            self.call, tuple(tables), frame=pd.concat(frames, ignore_index=True), inline_call=True
        )

    def plot(
        self,
        *,
        risk_times: Sequence[float] | None = None,
        pval: bool = True,
        endpoint: str = "Survival",
        time_unit: str = "",
        title: str = "",
        labels: dict | None = None,
    ):
        """The report's Kaplan-Meier figure (:func:`cartlens.report.figures.km.km_figure`):
        curves with CI bands and censor marks, medians, the log-rank P (``pval``) and the
        number at risk at ``risk_times`` (default: round breaks over the follow-up)."""
        from cartlens.report.figures.km import km_figure
        from cartlens.stats.km import survival_at

        res = self.result
        tmax = max((float(np.max(c.time)) for c in res.curves if len(c.time)), default=1.0)
        rt = list(risk_times) if risk_times is not None else nice_breaks(tmax)
        names = self.labels()
        shown = []
        for c, lab in zip(res.curves, names):
            text = self.groups.display(c.group)
            shown.append((labels or {}).get(lab, (labels or {}).get(text, text)))
        curves = [
            {
                "label": lab,
                "median": None if not math.isfinite(c.median) else float(c.median),
                "at_risk": [int(round(v)) for v in survival_at(c, rt).n_risk],
            }
            for c, lab in zip(res.curves, shown)
        ]
        pv: list[str] = []
        if pval and len(res.curves) > 1 and not self.frame.formula.cluster:
            try:
                test = survdiff(self.frame.data, self.frame.formula.text)
                pv = [f"Log-rank P = {_p_text(test.result.p)}"]
            except Exception:  # noqa: BLE001 - the figure never fails for its annotation
                pv = []
        unit = time_unit or "time"
        return km_figure(
            res,
            curves,
            title=title,
            endpoint=endpoint,
            time_unit=unit,
            risk_times=rt,
            pvalues=pv,
        )


def _p_text(p: float) -> str:
    if not math.isfinite(p):
        return "NA"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _frame(names, cols, vals):
    import pandas as pd

    fr = pd.DataFrame({c: np.asarray(v, dtype=float) for c, v in zip(cols, vals)})
    fr.insert(0, "strata", names)
    return fr


@user_warnings
def survfit(
    data,
    formula: str,
    *,
    weights: Any = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
    robust: bool | None = None,
) -> Survfit:
    """Kaplan-Meier curves, as R's ``survfit(formula, data)``.

    Parameters
    ----------
    data : pandas.DataFrame
    formula : str
        ``"Surv(time, status) ~ group"``, ``"Surv(start, stop, event) ~ 1"``; several
        grouping columns are crossed (``~ sex + ph.ecog``); ``+ cluster(id)`` gives the
        robust variance clustered on ``id``. The event may be 0/1, 1/2 or logical, or an
        expression such as ``status == 2``.
    weights : str or array_like, optional
        Case weights (a column name or one value per row).
    conf_type : {"log", "log-log", "plain"}
    conf_level : float
    robust : bool, optional
        As :func:`cartlens.stats.km.kaplan_meier`.

    Returns
    -------
    Survfit
        ``print`` shows n, events, median and its CI per stratum; ``summary(times=)``,
        ``plot()``, ``to_frame()``.

    References
    ----------
    Kaplan EL, Meier P. J Am Stat Assoc 1958;53:457-481. R: ``survival::survfit``.
    """
    from cartlens.stats.km import kaplan_meier

    mf = model_frame(data, formula, weights=weights)
    variables = _strata_only(mf, "survfit")
    g = groups_of(mf.data, list(variables))
    cl = mf.formula.cluster
    res = kaplan_meier(
        mf.time,
        mf.event,
        entry=mf.start,
        weights=mf.weights,
        group=g.codes if variables else None,
        conf_type=conf_type,
        conf_level=conf_level,
        robust=robust,
        cluster=None if not cl else mf.data[cl[0]].to_numpy(),
        names={"time": "time", "event": "event"},
    )
    call = call_text("survfit", formula, conf_type=None if conf_type == "log" else conf_type)
    return Survfit(result=res, call=call, groups=g, frame=mf)


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Survdiff(Fit):
    """A log-rank test (``survdiff``): ``result`` is a
    :class:`~cartlens.stats.logrank.LogrankResult`."""

    groups: Groups = None
    frame: ModelFrame = dataclasses.field(default=None, repr=False)

    def printed(self) -> Printed:
        res = self.result
        gs = res.groups
        o = [g["observed"] for g in gs]
        e = [g["expected"] for g in gs]
        v = np.diag(np.asarray(res.var, dtype=float)) if np.size(res.var) else [math.nan] * len(gs)
        cols = ["N", "Observed", "Expected", "(O-E)^2/E", "(O-E)^2/V"]
        vals = [
            [g["n"] for g in gs],
            o,
            e,
            [(a - b) ** 2 / b if b else math.nan for a, b in zip(o, e)],
            [(a - b) ** 2 / vv if vv else math.nan for a, b, vv in zip(o, e, v)],
        ]
        fmt = [format_real(x, 3) for x in vals]
        names = [self.groups.labels[int(_code(g["group"]))] for g in gs]
        rows = [[f[i] for f in fmt] for i in range(len(gs))]
        line = (
            f" Chisq= {format_real([round(res.chisq, 1)], 7)[0]}  on {res.df} degrees of "
            f"freedom, p= {signif(res.p, 1)} "
        )
        return Printed(
            self.call, (Table(cols, rows, names),), lines=(line,), frame=_frame(names, cols, vals)
        )


def _code(g: Any) -> int:
    return int(float(g))


@user_warnings
def survdiff(data, formula: str, *, rho: float = 0.0) -> Survdiff:
    """Log-rank (``rho = 0``) or Fleming-Harrington test, as R's ``survdiff(formula, data)``.

    ``"Surv(time, status) ~ group + strata(centre)"``: O, E and V summed over strata.
    Left-truncated data ``Surv(start, stop, event)`` are allowed.

    References
    ----------
    Mantel N. Cancer Chemother Rep 1966;50:163-170. R: ``survival::survdiff``.
    """
    from cartlens.stats.logrank import logrank_test

    mf = model_frame(data, formula)
    variables = _strata_only(mf, "survdiff")
    if not variables:
        raise FormulaError(formula, "~", "needs a grouping column to compare (survdiff)")
    g = groups_of(mf.data, list(variables))
    st = mf.formula.strata
    sg = groups_of(mf.data, list(st)) if st else None
    res = logrank_test(
        mf.time,
        mf.event,
        g.codes,
        strata=None if sg is None else sg.codes,
        rho=rho,
        entry=mf.start,
        labels=g.labels,
    )
    return Survdiff(
        result=res, call=call_text("survdiff", formula, rho=rho or None), groups=g, frame=mf
    )
