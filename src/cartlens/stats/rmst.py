"""Restricted mean survival time (RMST) of two groups: difference and ratio, as ``survRM2``.

:func:`rmst2` follows ``survRM2::rmst2(time, status, arm, tau)`` (unadjusted analysis):

* per group, RMST(tau) = the area under the Kaplan-Meier curve on [0, tau] with the variance
  ``sum_{t_i <= tau} A(t_i, tau)^2 d_i / (n_i (n_i - d_i))`` (A = area from t_i to tau; R's
  ``print(survfit(...), rmean = tau)``, :func:`cartlens.stats.km.rmst`), and the restricted
  mean time lost RMTL = tau - RMST with the same variance;
* the difference RMST_1 - RMST_0 with SE sqrt(V_1 + V_0), a normal CI and two-sided P;
* the ratio RMST_1 / RMST_0 on the log scale (delta method: SE^2 = V_1 / RMST_1^2 +
  V_0 / RMST_0^2), CI exp(log ratio +/- z SE), P from the log ratio; likewise RMTL_1 / RMTL_0.

tau. By default (``tau=None``) the smaller of the two groups' largest observed times, as
survRM2. A chosen tau may be larger only where every group's curve is defined up to tau: a
group whose largest time is below tau must end with an event (its curve is then 0 from there
on); a group ending with a censoring (at ties, censoring counts) bounds tau by its largest
time - survRM2's four cases in one rule. tau never exceeds the largest time overall.

survRM2 is not on CRAN's Debian mirror here; the formulas are those of the package and of
the papers below, and each group's RMST and SE are checked against survival's
``print(fit, rmean = tau)``.

References
----------
Uno H, Claggett B, Tian L, et al. Moving beyond the hazard ratio in quantifying the
between-group difference in survival analysis. J Clin Oncol 2014;32:2380-2385.
Tian L, Zhao L, Wei LJ. Predicting the restricted mean event time with the subject's baseline
covariates in survival analysis. Biostatistics 2014;15:222-233.
Royston P, Parmar MKB. Restricted mean survival time: an alternative to the hazard ratio for
the design and analysis of randomized trials with a time-to-event outcome. BMC Med Res
Methodol 2013;13:152.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.stats import norm

from cartlens.errors import InputError, SparseDataWarning
from cartlens.results import Result


@dataclasses.dataclass(frozen=True, eq=False)
class RMSTComparison(Result):
    """RMST and RMTL of two groups at ``tau`` with their difference and ratios.

    Attributes
    ----------
    groups : (reference, comparison)
        Group labels; contrasts are comparison vs reference (survRM2's arm 1 vs arm 0).
    tau, tau_rule : float, str
        The truncation time and how it was chosen.
    per_group : tuple of dict
        ``group``, ``n``, ``events``, ``rmst``, ``rmst_se``, ``rmst_lower``, ``rmst_upper``,
        ``rmtl``, ``rmtl_se``, ``rmtl_lower``, ``rmtl_upper``, ``max_time``.
    difference, ratio, rmtl_ratio : dict
        ``estimate``, ``se`` (of the estimate; of the log for the ratios), ``lower``,
        ``upper``, ``p``, ``note`` (why a ratio is undefined, else empty).
    """

    groups: tuple
    tau: float
    tau_rule: str
    per_group: tuple
    difference: dict
    ratio: dict
    rmtl_ratio: dict
    conf_level: float
    n: int
    method: str


def _ratio(a: float, va: float, b: float, vb: float, z: float, what: str) -> dict:
    if a <= 0 or b <= 0:
        note = f"the {what} ratio is undefined: a group's {what} is 0 at tau"
        warnings.warn(note, SparseDataWarning, stacklevel=3)
        nan = math.nan
        return {"estimate": nan, "se": nan, "lower": nan, "upper": nan, "p": nan, "note": note}
    est = math.log(a) - math.log(b)
    se = math.sqrt(va / a**2 + vb / b**2)
    p = float(2 * norm.sf(abs(est) / se)) if se > 0 else math.nan
    return {
        "estimate": math.exp(est),
        "se": se,
        "lower": math.exp(est - z * se),
        "upper": math.exp(est + z * se),
        "p": p,
        "note": "",
    }


def rmst2(
    time: Any,
    event: Any,
    group: Any,
    *,
    tau: float | None = None,
    reference: Any = None,
    conf_level: float = 0.95,
    names: Mapping[str, str] | None = None,
) -> RMSTComparison:
    """RMST of two groups, their difference and ratio, as ``survRM2::rmst2``.

    Parameters
    ----------
    time, event : array_like
        Follow-up times and 0/1 events.
    group : array_like
        Exactly two distinct labels.
    tau : float, optional
        Truncation time (default: the smaller of the groups' largest times; see the module
        docstring for the allowed range).
    reference : optional
        The reference group (survRM2's arm 0); default the first label in sorted order.
    conf_level : float
    names : mapping, optional
        Names for error messages (keys ``time``, ``event``, ``group``).

    Returns
    -------
    RMSTComparison

    References
    ----------
    See the module docstring. R: ``survRM2::rmst2(time, status, arm, tau)``; per group
    ``print(survfit(Surv(time, status) ~ arm), rmean = tau)``.
    """
    from cartlens.stats._surv import check_survival_input
    from cartlens.stats.km import kaplan_meier, rmst

    names = dict(names or {})
    g_name = names.get("group", "group")
    t, e, _, _ = check_survival_input(
        time, event, names={k: v for k, v in names.items() if k in ("time", "event")}
    )
    g = np.asarray(group, dtype=object)
    if g.shape != t.shape:
        raise InputError(f"must have one value per time ({t.size})", column=g_name)
    labels = sorted(set(g.tolist()), key=lambda v: (str(type(v)), v))
    if len(labels) != 2:
        raise InputError(
            f"RMST comparison needs exactly two groups, found {len(labels)}: "
            + ", ".join(map(repr, labels[:10])),
            column=g_name,
        )
    if reference is not None:
        hits = [v for v in labels if v == reference or str(v) == str(reference)]
        if not hits:
            raise InputError(
                f"reference {reference!r} is not one of the groups {labels}", column="reference"
            )
        labels = [hits[0]] + [v for v in labels if v is not hits[0]]
    if not (0 < conf_level < 1):
        raise InputError(f"must be in (0, 1), got {conf_level!r}", column="conf_level")
    ends = []
    for lab in labels:
        sel = g == lab
        tmax = float(t[sel].max())
        last_event = bool(e[sel][t[sel] == tmax].min() == 1)  # ties: censoring counts
        ends.append((tmax, last_event))
    tau_default = min(te[0] for te in ends)
    limit = min([te[0] for te in ends if not te[1]] + [max(te[0] for te in ends)])
    if tau is None:
        tau_v = tau_default
        rule = "default: the smaller of the two groups' largest observed times (survRM2)"
    else:
        tau_v = float(tau)
        if not math.isfinite(tau_v) or tau_v <= 0:
            raise InputError(f"must be a finite time > 0, got {tau!r}", column="tau")
        if tau_v > limit:
            raise InputError(
                f"tau = {tau_v:g} is beyond the time up to which both curves are estimated; "
                f"it must be <= {limit:g} (a group whose follow-up ends with a censoring "
                "bounds tau by its largest time)",
                column="tau",
            )
        rule = "given"
    km = kaplan_meier(t, e, group=g, conf_level=conf_level)
    z = float(norm.ppf(1 - (1 - conf_level) / 2))
    rows = []
    for lab, (tmax, _) in zip(labels, ends, strict=True):
        r = rmst(km.curve(lab), tau_v)
        rmtl = tau_v - r.rmst
        rows.append(
            {
                "group": lab,
                "n": int((g == lab).sum()),
                "events": int(e[g == lab].sum()),
                "rmst": r.rmst,
                "rmst_se": r.se,
                "rmst_lower": r.rmst - z * r.se,
                "rmst_upper": r.rmst + z * r.se,
                "rmtl": rmtl,
                "rmtl_se": r.se,
                "rmtl_lower": rmtl - z * r.se,
                "rmtl_upper": rmtl + z * r.se,
                "max_time": tmax,
            }
        )
    r0, r1 = rows
    v0, v1 = r0["rmst_se"] ** 2, r1["rmst_se"] ** 2
    diff = r1["rmst"] - r0["rmst"]
    se = math.sqrt(v0 + v1)
    difference = {
        "estimate": diff,
        "se": se,
        "lower": diff - z * se,
        "upper": diff + z * se,
        "p": float(2 * norm.sf(abs(diff) / se)) if se > 0 else math.nan,
    }
    return RMSTComparison(
        groups=tuple(labels),
        tau=tau_v,
        tau_rule=rule,
        per_group=tuple(rows),
        difference=difference,
        ratio=_ratio(r1["rmst"], v1, r0["rmst"], v0, z, "RMST"),
        rmtl_ratio=_ratio(r1["rmtl"], v1, r0["rmtl"], v0, z, "RMTL"),
        conf_level=float(conf_level),
        n=int(t.size),
        method="RMST difference and ratios (survRM2 unadjusted analysis)",
    )
