"""``coxph`` and ``cox_zph`` on a DataFrame with R's formula.

``coxph(df, "Surv(start, stop, event) ~ age + sex + strata(centre) + cluster(id)")`` is
:func:`cartlens.stats.cox.coxph_formula` on the model frame: factors use treatment contrasts
with the first level (a ``Categorical``'s first category) as reference and terms named
``var[level]``; ``strata()`` columns are crossed into one stratum per combination;
``cluster(id)`` gives the robust (sandwich) variance clustered on ``id``, as R does.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from cartlens.api.base import Fit, Printed, call_text, user_warnings
from cartlens.api.formula import FormulaError
from cartlens.api.frame import EVENT, START, TIME, WEIGHTS, ModelFrame, groups_of, model_frame
from cartlens.api.text import Table, format_pval, format_real, signif, stars

_STRATA = ".strata"


def _deleted(n: int) -> tuple[str, ...]:
    if not n:
        return ()
    return (f"   ({n} observation{'s' if n > 1 else ''} deleted due to missingness)",)


def coef_rows(terms, coef, se, robust_se, z, p):
    """Formatted rows of R's coefficient table (``print.coxph``)."""
    cols = [coef, np.exp(coef), se] + ([robust_se] if robust_se is not None else [])
    joint = format_real([v for c in cols for v in c], 4)
    k = len(terms)
    blocks = [joint[i * k : (i + 1) * k] for i in range(len(cols))]
    zf = format_real([round(float(v), 3) if math.isfinite(v) else v for v in z], 4)
    pf = format_pval(list(p), 3)
    return [[*(b[i] for b in blocks), zf[i], pf[i]] for i in range(k)]


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Coxph(Fit):
    """A Cox model (``coxph``): ``result`` is a :class:`~cartlens.stats.cox.CoxResult`."""

    frame: ModelFrame = dataclasses.field(default=None, repr=False)
    settings: dict = dataclasses.field(default_factory=dict, repr=False)

    def _coef_table(self, with_stars: bool = False) -> Table:
        r = self.result
        rob = r.robust_se is not None
        cols = ["coef", "exp(coef)", "se(coef)"] + (["robust se"] if rob else [])
        cols += ["z", "Pr(>|z|)" if with_stars else "p"]
        rows = coef_rows(r.terms, r.coef, r.se, r.robust_se, r.z, r.p)
        if with_stars:
            cols.append("")
            rows = [[*row, stars(pv)] for row, pv in zip(rows, r.p)]
        return Table(
            cols, rows, list(r.terms), align="r" * (len(cols) - 1) + ("l" if with_stars else "r")
        )

    def printed(self) -> Printed:
        r = self.result
        lr = r.lr_test
        lines = (
            f"Likelihood ratio test={format_real([round(lr['stat'], 2)], 7)[0]}  on "
            f"{lr['df']} df, p={format_pval([lr['p']], 4)[0]}",
            f"n= {r.n}, number of events= {r.events} ",
            *_deleted(r.n_dropped_missing),
        )
        return Printed(self.call, (self._coef_table(),), lines=lines, frame=self.terms_frame())

    def summary(self) -> Printed:
        """``summary(fit)``: coefficients with stars, hazard ratios with CIs, the three tests
        and the concordance."""
        r = self.result
        head = (f"  n= {r.n}, number of events= {r.events} ", *_deleted(r.n_dropped_missing), "")
        lvl = f"{r.conf_level:g}".lstrip("0")
        cols = ["exp(coef)", "exp(-coef)", f"lower {lvl}", f"upper {lvl}"]
        vals = [r.hr, 1 / r.hr, r.hr_lower, r.hr_upper]
        joint = format_real([v for c in vals for v in c], 4)
        k = len(r.terms)
        rows = [[joint[j * k + i] for j in range(4)] for i in range(k)]
        hr = Table(cols, rows, list(r.terms))
        lines = []
        if r.concordance:
            c = r.concordance
            se = c.get("se")
            lines.append(
                f"Concordance= {signif(round(c['concordance'], 3), 3)}  "
                f"(se = {signif(round(se, 3), 3) if se is not None else 'NA'} )"
            )
        for name, t in (
            ("Likelihood ratio test", r.lr_test),
            ("Wald test            ", r.wald_test),
            ("Score (logrank) test ", r.score_test),
        ):
            lines.append(
                f"{name}= {format_real([round(t['stat'], 2)], 7)[0]}  on {t['df']} df,"
                f"   p={format_pval([float(signif(t['p'], 1))], 1)[0]}"
            )
        if r.robust_score_test:
            t = r.robust_score_test
            lines.append(
                f"Robust = {format_real([round(t['stat'], 2)], 7)[0]}  on {t['df']} df,"
                f"   p={format_pval([float(signif(t['p'], 1))], 1)[0]}"
            )
        lines.append("")
        lines.append("Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
        return Printed(
            self.call,
            (self._coef_table(True), hr),
            lines=tuple(lines),
            head=head,
            frame=self.terms_frame(),
        )

    def terms_frame(self):
        """One row per term: coef, se, HR and its CI, z, p (the numbers printed)."""
        import pandas as pd

        return pd.DataFrame(self.result.terms_table())

    def plot(self, *, title: str = ""):
        """The report's forest plot (:func:`cartlens.report.figures.forest.forest_figure`):
        factors as a header with the reference level and each level, N (events) per row."""
        from cartlens.api.forest import forest_rows
        from cartlens.report.figures.forest import forest_figure

        mf = self.frame
        rows = forest_rows(self.result.terms_table(), "hr", mf.formula.rhs, mf.data, mf.event)
        model = "multivariable" if len(self.result.terms) > 1 else "univariable"
        return forest_figure(rows, measure="hr", title=title, model=model)


def _response_columns(mf: ModelFrame) -> dict:
    """The model frame's time/event/start/weights columns as ``coxph_formula`` keywords."""
    return {
        "time": TIME,
        "event": EVENT,
        "start": START if START in mf.data else None,
        "weights": WEIGHTS if WEIGHTS in mf.data else None,
    }


def _strata_cluster(mf: ModelFrame) -> tuple[str | None, str | None]:
    pf = mf.formula
    strata = None
    if pf.strata:
        mf.data[_STRATA] = groups_of(mf.data, list(pf.strata)).codes
        strata = _STRATA
    if len(pf.cluster) > 1:
        raise FormulaError(pf.text, "cluster()", "may appear only once")
    return strata, (pf.cluster[0] if pf.cluster else None)


@user_warnings
def coxph(
    data,
    formula: str,
    *,
    ties: str = "efron",
    weights: Any = None,
    robust: bool = False,
    firth: bool = False,
    conf_level: float = 0.95,
) -> Coxph:
    """Cox proportional hazards model, as R's ``coxph(formula, data)``.

    Parameters
    ----------
    data : pandas.DataFrame
    formula : str
        ``"Surv(time, status) ~ age + sex"``, ``"Surv(start, stop, event) ~ x + strata(s) +
        cluster(id)"``; ``factor(x)``, ``relevel(x, ref = "b")``, ``a:b``, ``a*b``, ``log(x)``.
    ties : {"efron", "breslow"}
    weights : str or array_like, optional
        Case weights (column name or one per row).
    robust : bool
        Sandwich variance (implied by ``cluster()``).
    firth : bool
        Firth's penalised partial likelihood (``coxphf``).

    Returns
    -------
    Coxph
        ``print`` as ``print.coxph``, ``summary()`` as ``summary.coxph``, ``plot()`` the
        forest plot, ``to_frame()`` the tidy frame; attributes of the ``CoxResult``.

    References
    ----------
    Cox DR. J R Stat Soc B 1972;34:187-220. R: ``survival::coxph``.
    """
    from cartlens.stats.cox import coxph_formula

    mf = model_frame(data, formula, weights=weights)
    if not mf.formula.rhs.strip():
        raise FormulaError(formula, "~", "has no covariates; a Cox model needs at least one")
    strata, cluster = _strata_cluster(mf)
    res = coxph_formula(
        mf.formula.rhs,
        mf.data,
        **_response_columns(mf),
        strata=strata,
        cluster=cluster,
        robust=robust,
        ties=ties,
        firth=firth,
        conf_level=conf_level,
    )
    res = dataclasses.replace(res, n_dropped_missing=mf.n_dropped + res.n_dropped_missing)
    call = call_text(
        "coxph",
        formula,
        ties=None if ties == "efron" else ties,
        robust=robust or None,
        firth=firth or None,
    )
    return Coxph(
        result=res,
        call=call,
        frame=mf,
        settings={"ties": ties, "strata": strata, "cluster": cluster},
    )


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class CoxZph(Fit):
    """Tests of proportional hazards (``cox.zph``): ``result`` is a
    :class:`~cartlens.stats.zph.ZphResult`."""

    def printed(self) -> Printed:
        r = self.result
        rows = [*r.terms, {"term": "GLOBAL", **r.global_test}]
        ch = format_real([x["chisq"] for x in rows], 4)
        df = [f"{int(x['df'])}" for x in rows]
        p = format_real([float(signif(x["p"], 2)) for x in rows], 2)
        import pandas as pd

        frame = pd.DataFrame([{k: x.get(k) for k in ("term", "chisq", "df", "p")} for x in rows])
        return Printed(
            self.call,
            (Table(["chisq", "df", "p"], list(zip(ch, df, p)), [x["term"] for x in rows]),),
            frame=frame,
        )


@user_warnings
def cox_zph(fit: Coxph, *, transform: str = "km") -> CoxZph:
    """Score tests of proportional hazards, as R's ``cox.zph(fit, transform = "km")``; a
    factor is one term (its dummies tested together), as R does.

    References
    ----------
    Grambsch PM, Therneau TM. Biometrika 1994;81:515-526. R: ``survival::cox.zph``.
    """
    from cartlens.stats.zph import cox_zph_formula

    if not isinstance(fit, Coxph):
        from cartlens.errors import InputError

        raise InputError("must be a fit from cartlens.coxph()", column="fit")
    mf = fit.frame
    res = cox_zph_formula(
        mf.formula.rhs,
        mf.data,
        **_response_columns(mf),
        strata=fit.settings.get("strata"),
        ties=fit.settings.get("ties", "efron"),
        transform=transform,
    )
    return CoxZph(result=res, call=f'cox.zph(fit = {fit.call}, transform = "{transform}")')
