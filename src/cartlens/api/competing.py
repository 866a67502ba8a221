"""``cuminc`` and ``crr`` on a DataFrame: ``Hist(time, cause) ~ group`` (prodlim's response).

``cuminc(df, "Hist(time, cause) ~ group")`` (or ``cuminc(df, time=, cause=, group=)``) is
:func:`cartlens.stats.competing.cuminc` (``cmprsk::cuminc``, Gray's test); ``crr(df,
"Hist(time, cause) ~ age + sex", failcode=1)`` is :func:`cartlens.stats.finegray.
finegray_formula` (``cmprsk::crr``). The cause column holds ``cencode`` (default 0) for
censored rows and a cause code otherwise; ``strata()`` gives the strata of Gray's test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from cartlens.api.base import Fit, Printed, user_warnings
from cartlens.api.formula import FormulaError
from cartlens.api.frame import EVENT, TIME, Groups, ModelFrame, groups_of, level_text, model_frame
from cartlens.api.survival import nice_breaks
from cartlens.api.text import Table, format_real, pretty, signif


def _matrix(columns, values, rownames) -> Table:
    """R's ``print`` of a numeric matrix under ``options(digits = 3)``: each column on its own."""
    cols = [format_real(list(v), 3) for v in values]
    return Table(columns, [[c[i] for c in cols] for i in range(len(rownames))], list(rownames))


def _formula(formula: str | None, time: str | None, cause: str | None, group: str | None) -> str:
    if formula is not None:
        return formula
    if time is None or cause is None:
        from cartlens.errors import InputError

        raise InputError(
            "give a formula 'Hist(time, cause) ~ group' or time= and cause=", column="formula"
        )
    return f"Hist(`{time}`, `{cause}`) ~ " + (f"`{group}`" if group else "1")


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Cuminc(Fit):
    """Cumulative incidence (``cuminc``): ``result`` is a
    :class:`~cartlens.stats.competing.CumincResult`; groups are the codes of ``groups``."""

    groups: Groups = None
    frame: ModelFrame = dataclasses.field(default=None, repr=False)

    def group_level(self, g: Any) -> str:
        """The group as cmprsk names it: its level (``F``), ``1`` without groups."""
        if g is None or not self.groups.variables:
            return "1"
        return ", ".join(level_text(x) for x in self.groups.levels[int(g)])

    def group_label(self, g: Any) -> str:
        return "all" if g is None else self.groups.labels[int(g)]

    def to_frame(self):
        """The tidy frame with the groups as ``var=level``."""
        fr = self.result.to_frame()
        fr["group"] = [self.group_label(g) if g is not None and g == g else g for g in fr["group"]]
        return fr

    def printed(self, times: Sequence[float] | None = None) -> Printed:
        """As cmprsk's ``print.cuminc``: Gray's tests, then ``timepoints()`` at the inner
        breaks of ``pretty(c(0, max time), 5)`` (or at ``times``); columns formatted as R
        prints a matrix (7 significant digits, each column on its own)."""
        res = self.result
        tables = []
        if res.gray_test:
            gt = res.gray_test
            cols = [
                format_real([t.stat for t in gt]),
                format_real([t.p for t in gt]),
                format_real([t.df for t in gt]),
            ]
            rows = [[c[i] for c in cols] for i in range(len(gt))]
            names = [level_text(t.cause) for t in gt]
            tables.append(
                Table(["stat", "pv", "df"], rows, names, caption="Tests:", title="Gray's test")
            )
        tmax = max((c.max_time for c in res.curves), default=1.0)
        tt = list(times) if times is not None else pretty(0.0, tmax, 5)[1:-1]
        summ = res.summary(tt)
        names = [f"{self.group_level(s['group'])} {level_text(s['cause'])}" for s in summ]
        head = [format_real([t])[0].strip() for t in tt]
        caps = (
            ("estimate", "Estimates and Variances:\n$est", "Cumulative incidence (group, cause)"),
            ("variance", "\n$var", "Variance"),
        )
        for key, cap, title in caps:
            cols = [format_real([s["at"][j][key] for s in summ]) for j in range(len(tt))]
            rows = [[c[i] for c in cols] for i in range(len(summ))]
            tables.append(Table(head, rows, names, caption=cap, title=title))
        import pandas as pd

        frame = pd.DataFrame(
            [
                {"group": self.group_label(s["group"]), "cause": s["cause"], **a}
                for s in summ
                for a in s["at"]
            ]
        )
        return Printed(self.call, tuple(tables), frame=frame, gap=False)

    def summary(self, times: Sequence[float] | None = None) -> Printed:
        """Estimates and variances at ``times`` (as ``timepoints(fit, times)``)."""
        return self.printed(times)

    def plot(
        self,
        *,
        risk_times: Sequence[float] | None = None,
        cause_labels: dict | None = None,
        group_labels: dict | None = None,
        time_unit: str = "time",
        title: str = "",
        stacked: bool = True,
    ):
        """The report's cumulative-incidence figure (:func:`cartlens.report.figures.competing.
        cif_figure`): one panel per group, with the numbers at risk."""
        from cartlens.report.figures.competing import cif_figure
        from cartlens.stats.competing import numbers_at_risk

        res = self.result
        tmax = max((c.max_time for c in res.curves), default=1.0)
        rt = list(risk_times) if risk_times is not None else nice_breaks(tmax)
        grp = self.groups.codes if self.groups.variables else None
        at = numbers_at_risk(self.frame.time, rt, group=grp)
        shown = {g: self.groups.display(g) for g in res.groups}
        glab = {g: (group_labels or {}).get(t, t) for g, t in shown.items()}
        return cif_figure(
            res,
            at_risk=at,
            risk_times=rt,
            cause_labels=cause_labels,
            group_labels=glab,
            time_unit=time_unit,
            title=title,
            stacked=stacked,
        )


@user_warnings
def cuminc(
    data,
    formula: str | None = None,
    *,
    time: str | None = None,
    cause: str | None = None,
    group: str | None = None,
    cencode: Any = 0,
    rho: float = 0.0,
    conf_type: str = "log-log",
) -> Cuminc:
    """Cumulative incidence functions and Gray's test, as ``cmprsk::cuminc(ftime, fstatus,
    group, strata, cencode = 0)``.

    ``cuminc(df, "Hist(time, cause) ~ group + strata(s)")`` or ``cuminc(df, time="t",
    cause="c", group="g")``; groups in factor-level order.

    References
    ----------
    Gray RJ. Ann Stat 1988;16:1141-1154. R: ``cmprsk::cuminc``.
    """
    from cartlens.stats.competing import cuminc as _cuminc

    f = _formula(formula, time, cause, group)
    mf = model_frame(data, f, response=("Hist",), event="cause")
    pf = mf.formula
    for t in pf.terms:
        if t.strip("`") not in pf.variables:
            raise FormulaError(f, t, "is not a grouping column; cuminc() takes groups only")
    g = groups_of(mf.data, list(pf.variables))
    st = groups_of(mf.data, list(pf.strata)) if pf.strata else None
    res = _cuminc(
        mf.time,
        mf.data[EVENT].to_numpy(),
        group=g.codes if pf.variables else None,
        strata=None if st is None else st.codes,
        rho=rho,
        cencode=cencode,
        conf_type=conf_type,
    )
    return Cuminc(
        result=res,
        call=f"cuminc(formula = {f}, data = data, cencode = {cencode!r})",
        groups=g,
        frame=mf,
    )


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Crr(Fit):
    """A Fine-Gray model (``crr``): ``result`` is a
    :class:`~cartlens.stats.finegray.FineGrayResult`."""

    frame: ModelFrame = dataclasses.field(default=None, repr=False)

    def printed(self) -> Printed:
        """As cmprsk's ``summary.crr`` printed (3 significant digits per column, P to 2)."""
        r = self.result
        p2 = [float(signif(v, 2)) if np.isfinite(v) else v for v in r.p]
        cols = [r.coef, np.exp(r.coef), r.se, r.z, p2]
        t1 = _matrix(["coef", "exp(coef)", "se(coef)", "z", "p-value"], cols, r.terms)
        lo = f"{100 * (1 - r.conf_level) / 2:g}%"
        hi = f"{100 * (1 + r.conf_level) / 2:g}%"
        t2 = _matrix(
            ["exp(coef)", "exp(-coef)", lo, hi],
            [r.shr, 1 / r.shr, r.shr_lower, r.shr_upper],
            r.terms,
        )
        lr = r.lr_test
        lines = (
            f"Num. cases = {r.n}"
            + (f" ({r.n_dropped} cases omitted due to missing values)" if r.n_dropped else ""),
            f"Pseudo Log-likelihood = {signif(r.loglik, 3)} ",
            f"Pseudo likelihood ratio test = {format_real([round(lr['stat'], 2)])[0]}  on "
            f"{lr['df']} df,",
        )
        head = () if r.converged else ("crr converged: FALSE", "")
        import pandas as pd

        return Printed(
            self.call,
            (t1, t2),
            lines=lines,
            head=head,
            preface=("Competing Risks Regression", ""),
            frame=pd.DataFrame(r.terms_table()),
        )

    def plot(self, *, title: str = ""):
        """The report's forest plot of the subdistribution hazard ratios (N and events of
        the cause of interest per row)."""
        from cartlens.api.forest import forest_rows
        from cartlens.report.figures.forest import forest_figure

        mf, r = self.frame, self.result
        ev = (mf.data[EVENT] == r.failcode).to_numpy(dtype=float)
        rows = forest_rows(r.terms_table(), "hr", mf.formula.rhs, mf.data, ev)
        model = "multivariable" if len(r.terms) > 1 else "univariable"
        return forest_figure(rows, measure="hr", title=title, model=model)


@user_warnings
def crr(data, formula: str, *, failcode: Any = 1, cencode: Any = 0) -> Crr:
    """Fine-Gray subdistribution hazards model, as ``cmprsk::crr(ftime, fstatus, cov1,
    failcode, cencode)`` with the covariates from ``"Hist(time, cause) ~ age + sex"``.

    References
    ----------
    Fine JP, Gray RJ. J Am Stat Assoc 1999;94:496-509. R: ``cmprsk::crr``.
    """
    from cartlens.stats.finegray import finegray_formula

    mf = model_frame(data, formula, response=("Hist",), event="cause")
    if not mf.formula.rhs.strip():
        raise FormulaError(formula, "~", "has no covariates; crr() needs at least one")
    if mf.formula.strata or mf.formula.cluster:
        raise FormulaError(formula, "strata()/cluster()", "is not supported by crr()")
    res = finegray_formula(
        mf.formula.rhs, mf.data, time=TIME, status=EVENT, failcode=failcode, cencode=cencode
    )
    res = dataclasses.replace(res, n_dropped=res.n_dropped + mf.n_dropped)
    return Crr(
        frame=mf,
        result=res,
        call=f"crr(formula = {formula}, data = data, failcode = {failcode!r},"
        f" cencode = {cencode!r})",
    )


__all__ = ["Crr", "Cuminc", "crr", "cuminc"]
