"""E-values: how strong unmeasured confounding would have to be to explain an estimate away.

The E-value of a risk ratio RR (>= 1; take 1/RR below 1) is ``RR + sqrt(RR (RR - 1))``: the
minimum strength of association, on the risk-ratio scale, that an unmeasured confounder would
need with both the treatment and the outcome, conditional on the measured covariates, to move
the estimate to the null. For a confidence interval the E-value is that of the limit closest
to the null, and 1 when the interval contains the null.

Other measures are first put on the risk-ratio scale (VanderWeele & Ding 2017, Table 2):

* odds ratio, rare outcome (< 15% at the end of follow-up): RR ~ OR; common outcome:
  RR ~ sqrt(OR);
* hazard ratio, rare outcome: RR ~ HR; common outcome:
  RR ~ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR));
* standardised mean difference d of a continuous outcome (with its SE):
  RR ~ exp(0.91 d), CI exp(0.91 d -+ 1.78 SE);
* risk difference: not supported (it needs the group risks; use the risk ratio).

``true`` moves the reference from the null (1) to another value: the E-value is then that of
RR / true (for RR > true), as the R package EValue does.

References
----------
VanderWeele TJ, Ding P. Sensitivity analysis in observational research: introducing the
E-value. Ann Intern Med 2017;167:268-274.
Ding P, VanderWeele TJ. Sensitivity analysis without assumptions. Epidemiology
2016;27:368-377.
VanderWeele TJ. Optimal approximate conversions of odds ratios and hazard ratios to risk
ratios. Biometrics 2020;76:746-752.
Mathur MB, Ding P, Riddell CA, VanderWeele TJ. Web site and R package for computing E-values.
Epidemiology 2018;29:e45-e47.
"""

from __future__ import annotations

import dataclasses
import math

from cartlens.errors import InputError
from cartlens.results import Result

__all__ = ["EValueResult", "evalue", "evalue_rr", "to_risk_ratio", "MEASURES"]

MEASURES = ("rr", "or", "hr", "smd")


@dataclasses.dataclass(frozen=True)
class EValueResult(Result):
    """E-values of an estimate and of its confidence limit closest to the null.

    Attributes
    ----------
    measure : str
        ``rr``, ``or``, ``hr`` or ``smd``.
    rare : bool or None
        The rare-outcome assumption used for OR/HR conversions.
    estimate, lower, upper : float
        As given (lower/upper NaN when not given).
    rr, rr_lower, rr_upper : float
        On the risk-ratio scale.
    true : float
        The reference value (1 = null).
    evalue : float
        E-value of the point estimate.
    evalue_ci : float
        E-value of the confidence limit closest to ``true`` (1 when the interval contains
        it; NaN when no interval was given).
    limit_used : str or None
        ``"lower"`` or ``"upper"``: the limit the CI E-value is for.
    """

    measure: str
    rare: bool | None
    estimate: float
    lower: float
    upper: float
    rr: float
    rr_lower: float
    rr_upper: float
    true: float
    evalue: float
    evalue_ci: float
    limit_used: str | None

    def sentence(self) -> str:
        """A one-line interpretation."""
        ci = (
            ""
            if math.isnan(self.evalue_ci)
            else f"; to move the confidence interval to include {self.true:g}, "
            f"{self.evalue_ci:.2f}-fold"
        )
        return (
            f"An unmeasured confounder associated with both treatment and outcome by a risk "
            f"ratio of {self.evalue:.2f}-fold each, above and beyond the measured covariates, "
            f"could explain away the estimate{ci}, but weaker confounding could not."
        )


def evalue_rr(rr: float) -> float:
    """E-value of a risk ratio: ``RR + sqrt(RR (RR - 1))`` after taking 1/RR when RR < 1.

    References
    ----------
    VanderWeele TJ, Ding P. Ann Intern Med 2017;167:268-274.
    """
    rr = float(rr)
    if not (rr > 0 and math.isfinite(rr)):
        raise InputError(f"must be a positive finite ratio, got {rr}", column="estimate")
    if rr < 1:
        rr = 1.0 / rr
    return rr + math.sqrt(rr * (rr - 1.0))


def to_risk_ratio(value: float, measure: str, *, rare: bool | None = None) -> float:
    """Approximate risk ratio of an odds ratio, hazard ratio or risk ratio (see module)."""
    measure = measure.lower()
    v = float(value)
    if measure == "rr":
        return v
    if measure in ("or", "hr"):
        if rare is None:
            raise InputError(
                "say whether the outcome is rare (< 15% by the end of follow-up): rare=True "
                "or rare=False",
                column="rare",
            )
        if rare:
            return v
        if measure == "or":
            return math.sqrt(v)
        return (1.0 - 0.5 ** math.sqrt(v)) / (1.0 - 0.5 ** math.sqrt(1.0 / v))
    if measure == "smd":
        return math.exp(0.91 * v)
    raise InputError(f"must be one of {', '.join(MEASURES)}, not '{measure}'", column="measure")


def evalue(
    estimate: float,
    lower: float | None = None,
    upper: float | None = None,
    *,
    measure: str = "rr",
    rare: bool | None = None,
    se: float | None = None,
    true: float = 1.0,
) -> EValueResult:
    """E-value of an estimate and its confidence interval.

    Parameters
    ----------
    estimate : float
        RR, OR or HR (> 0), or a standardised mean difference (``measure="smd"``).
    lower, upper : float, optional
        Confidence limits on the same scale.
    measure : {"rr", "or", "hr", "smd"}
    rare : bool, optional
        Required for OR and HR: whether the outcome is rare (< 15%).
    se : float, optional
        Standard error of an SMD (its CI is then exp(0.91 d -+ 1.78 se)).
    true : float
        Reference value on the RR scale (default 1, the null).

    Returns
    -------
    EValueResult

    References
    ----------
    VanderWeele TJ, Ding P. Ann Intern Med 2017;167:268-274.

    Examples
    --------
    >>> round(evalue(3.9, 1.8, 8.7).evalue, 2), round(evalue(3.9, 1.8, 8.7).evalue_ci, 2)
    (7.26, 3.0)
    """
    measure = str(measure).lower()
    if measure not in MEASURES:
        raise InputError(f"must be one of {', '.join(MEASURES)}, not '{measure}'", column="measure")
    nan = float("nan")
    if measure != "smd":
        for nm, v in (("estimate", estimate), ("lower", lower), ("upper", upper)):
            if v is not None and not (float(v) > 0 and math.isfinite(float(v))):
                raise InputError(f"must be a positive finite ratio, got {v}", column=nm)
    if lower is not None and upper is not None and not float(lower) <= float(upper):
        raise InputError("the lower limit exceeds the upper limit", column="lower")
    for nm, v in (("lower", lower), ("upper", upper)):
        if v is None:
            continue
        if (
            nm == "lower"
            and float(v) > float(estimate)
            or nm == "upper"
            and float(v) < float(estimate)
        ):
            raise InputError(f"the {nm} limit lies on the wrong side of the estimate", column=nm)
    if not (true > 0 and math.isfinite(true)):
        raise InputError("must be a positive ratio", column="true")
    if se is not None:
        try:
            se_f = float(se)
        except (TypeError, ValueError):
            raise InputError(f"must be a positive finite number, got {se!r}", column="se") from None
        if not (se_f > 0 and math.isfinite(se_f)):
            raise InputError(
                f"a standard error must be a positive finite number, got {se_f:g}", column="se"
            )
    rr = to_risk_ratio(estimate, measure, rare=rare)
    if measure == "smd" and se is not None:
        if lower is not None or upper is not None:
            raise InputError("give either se or lower/upper for an SMD", column="se")
        rr_lo = math.exp(0.91 * float(estimate) - 1.78 * float(se))
        rr_hi = math.exp(0.91 * float(estimate) + 1.78 * float(se))
    else:
        rr_lo = nan if lower is None else to_risk_ratio(lower, measure, rare=rare)
        rr_hi = nan if upper is None else to_risk_ratio(upper, measure, rare=rare)

    def ev(x: float) -> float:
        ratio = x / true
        return 1.0 if ratio == 1.0 else evalue_rr(ratio)

    e_point = ev(rr)
    limit: str | None = None
    if math.isnan(rr_lo) and math.isnan(rr_hi):
        e_ci = nan
    elif rr > true:
        limit = "lower"
        e_ci = nan if math.isnan(rr_lo) else (1.0 if rr_lo <= true else ev(rr_lo))
    elif rr < true:
        limit = "upper"
        e_ci = nan if math.isnan(rr_hi) else (1.0 if rr_hi >= true else ev(rr_hi))
    else:
        e_ci = 1.0
    return EValueResult(
        measure=measure,
        rare=rare,
        estimate=float(estimate),
        lower=nan if lower is None else float(lower),
        upper=nan if upper is None else float(upper),
        rr=float(rr),
        rr_lower=float(rr_lo),
        rr_upper=float(rr_hi),
        true=float(true),
        evalue=float(e_point),
        evalue_ci=float(e_ci),
        limit_used=limit,
    )
