"""``glm_logistic``: logistic regression (``glm(family = binomial)``, ``logistf``) with R's
formula on a DataFrame; :func:`cartlens.stats.logistic.logistic_regression` underneath."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np

from cartlens.api.base import Fit, Printed, call_text, user_warnings
from cartlens.api.frame import column_model
from cartlens.api.text import Table, format_pval, format_real, stars


def glm_table(terms, coef, se, z, p, *, z_name: str = "z value") -> Table:
    """``summary.glm``'s coefficient table (estimates and SEs formatted together)."""
    joint = format_real([v for c in (coef, se) for v in c], 4)
    k = len(terms)
    zf = format_real([round(float(v), 3) if np.isfinite(v) else v for v in z], 4)
    pf = format_pval(list(p), 3)
    rows = [[joint[i], joint[k + i], zf[i], pf[i], stars(p[i])] for i in range(k)]
    return Table(
        ["Estimate", "Std. Error", z_name, "Pr(>|z|)", ""], rows, list(terms), align="rrrrl"
    )


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class GlmLogistic(Fit):
    """A logistic regression: ``result`` is a :class:`~cartlens.stats.logistic.LogisticResult`."""

    data_used: Any = dataclasses.field(default=None, repr=False)
    rhs: str = ""

    def printed(self) -> Printed:
        r = self.result
        t1 = glm_table(r.terms, r.coef, r.se, r.z, r.p)
        lvl = f"{100 * r.conf_level:g}%"
        cols = [format_real(list(c), 4) for c in (r.odds_ratio, r.lower, r.upper)]
        t2 = Table(
            ["OR", f"lower {lvl}", f"upper {lvl}"],
            [[c[i] for c in cols] for i in range(len(r.terms))],
            list(r.terms),
        )
        ci = {"profile": "profile (penalised) likelihood", "wald": "Wald"}.get(
            r.ci_method, r.ci_method
        )
        lines = [
            f"CI and P: {ci}" + ("; Firth's penalised likelihood (logistf)" if r.firth else ""),
            f"    Null deviance: {format_real([r.null_deviance], 5)[0]}  on {r.n - 1}  degrees "
            "of freedom",
            f"Residual deviance: {format_real([r.deviance], 5)[0]}  on "
            f"{r.n - int(np.sum(np.isfinite(r.coef)))}  degrees of freedom",
            f"AIC: {format_real([r.aic], 5)[0]}",
            f"n = {r.n}, events = {r.events}"
            + (
                f"  ({r.n_dropped_missing} observations deleted due to missingness)"
                if r.n_dropped_missing
                else ""
            ),
        ]
        if r.separation:
            lines.append("Separation detected for: " + ", ".join(r.separated_terms))
        import pandas as pd

        return Printed(
            self.call,
            (t1, t2),
            lines=tuple(lines),
            head=("Coefficients:",),
            frame=pd.DataFrame(r.terms_table()),
        )

    def plot(self, *, title: str = ""):
        """The report's forest plot of the odds ratios (intercept left out)."""
        from cartlens.api.forest import forest_rows
        from cartlens.report.figures.forest import forest_figure

        d, y = self.data_used, self.data_used[self.outcome].astype(float).to_numpy()
        rows = forest_rows(self.result.terms_table(), "or", self.rhs, d, y)
        model = "multivariable" if len(self.result.terms) > 2 else "univariable"
        return forest_figure(rows, measure="or", title=title, model=model)


@user_warnings
def glm_logistic(
    data, formula: str, *, firth: bool = False, ci: str | None = None, conf_level: float = 0.95
) -> GlmLogistic:
    """Logistic regression ``"cr ~ age + sex"``, as ``glm(formula, family = binomial)``, or with
    ``firth=True`` as ``logistf::logistf(formula)`` (profile penalised-likelihood CIs).

    The outcome is 0/1 or logical; factors use treatment contrasts (first level reference).

    References
    ----------
    Firth D. Biometrika 1993;80:27-38. Heinze G, Schemper M. Stat Med 2002;21:2409-2419.
    """
    from cartlens.stats.logistic import logistic_regression

    outcome, pf = column_model(data, formula, "an outcome", "logistic model")
    lhs = outcome if re.fullmatch(r"[A-Za-z_][\w]*", outcome) else f"`{outcome}`"
    res = logistic_regression(f"{lhs} ~ {pf.rhs}", data, firth=firth, ci=ci, conf_level=conf_level)
    res = dataclasses.replace(res, formula=formula)
    fun = "logistf" if firth else "glm"
    call = call_text(fun, formula, family=None if firth else "binomial")
    used = data.dropna(subset=list(dict.fromkeys([outcome, *pf.variables])))
    return GlmLogistic(
        result=res,
        call=call.replace('family = "binomial"', "family = binomial"),
        data_used=used,
        rhs=pf.rhs,
    )
