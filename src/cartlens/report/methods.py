"""The methods paragraph, generated from the settings a run actually used."""

from __future__ import annotations


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


_CI = {
    "clopper-pearson": "exact Clopper-Pearson",
    "wilson": "Wilson score",
    "wilson-cc": "Wilson score with continuity correction",
}


def methods_text(study: dict, analyses: list, software: str) -> list[str]:
    """Paragraphs of the methods section (plain text) for the study dict and its analyses."""
    pres = study["presentation"]
    ep = study["endpoints"]
    lo = max(0, ep["response_day"] - ep["response_tolerance"])
    hi = ep["response_day"] + ep["response_tolerance"]
    responders = ["CR", "CRi"] if ep["cri_counts_as_cr"] else ["CR"]
    relapse_types = ["morphologic", "extramedullary"] + (
        ["MRD"] if ep["mrd_relapse_is_event"] else []
    )
    types = {a.type for a in analyses if a.status == "ok"}
    paras = []
    paras.append(
        f"Response was the best disease status assessed between day {lo} and day {hi} after "
        f"each infusion (day {ep['response_day']} +/- {ep['response_tolerance']}); "
        f"{_join(responders)} counted as complete remission (CR)"
        + (" only when MRD-negative" if ep.get("require_mrd_negative") else "")
        + ". Infusions without an assessment in that window were not evaluable. Cytokine "
        f"release syndrome (CRS) and neurotoxicity (ICANS) were graded by the {ep['grading']} "
        f"consensus criteria (grade source: {ep['grade_source'].replace('_', ' ')}); severe "
        f"means grade >= {ep['severe_grade']}; the worst grade per infusion was analysed."
    )
    nonresp = {
        "not_event": "a non-responder's event is the documented progression",
        "time_zero": "non-response counts as an event at day 0",
        "assessment": "non-response counts as an event at the response assessment",
    }[ep["nonresponder_pfs"]]
    censor = [
        w
        for flag, w in (
            ("censor_at_hsct", "a later allo-HSCT"),
            ("censor_at_next_cart", "the next CAR-T course"),
            ("censor_at_new_therapy", "a new anti-leukaemic therapy"),
        )
        if ep.get(flag)
    ]
    paras.append(
        "Time origin was the infusion analysed (for salvage comparisons, the start of the "
        "salvage treatment). Overall survival (OS) counted deaths from any cause and was censored "
        "at the last contact"
        + ("" if ep.get("censor_os") else ", never at transplant")
        + ". Progression-free survival (PFS) counted "
        f"{_join(relapse_types)} relapse, progression or death, whichever came first ({nonresp})"
        + (f", censored at {_join(censor)}" if censor else "")
        + f". Times are reported in {pres['time_unit']}"
        + (f" (1 month = {pres['month_days']} days)" if pres["time_unit"] == "months" else "")
        + "."
    )
    tests = []
    for a in analyses:
        if a.type == "compare_proportions" and a.status == "ok":
            tests.append(a.details.get("method", ""))
    tests = list(dict.fromkeys(t for t in tests if t))
    s = (
        f"Proportions are given with {_CI.get(pres['ci_method'], pres['ci_method'])} "
        f"{100 * pres['conf_level']:.0f}% confidence intervals. "
    )
    if tests:
        s += (
            f"Proportions were compared between infusions with {_join(tests)}, as in the "
            "published study, which treats CART1 and CART2 as independent groups; because every "
            "CART2 patient also had CART1, the paired comparison (McNemar's test on the "
            "patients with both) is reported as well, with Fisher's exact test for reference. "
        )
    if "descriptive" in types:
        s += (
            "Baseline characteristics are medians (interquartile range) compared with the "
            "Wilcoxon rank-sum test, and counts (%) compared with Pearson's chi-square test "
            "(Fisher's exact test for 2x2 tables with an expected count below 5). "
        )
    paras.append(s)
    s = ""
    if "km" in types:
        s += (
            f"Survival was estimated by the Kaplan-Meier method with {pres['km_conf_type']}-"
            "transformed pointwise confidence intervals (Greenwood variance); medians follow R's "
            "survfit rule and 'NR' means not reached. Groups were compared with the log-rank "
            "test. "
        )
    if "cox" in types:
        s += "Hazard ratios come from Cox proportional-hazards models (Efron ties). "
    if "logistic" in types:
        firth = any(
            getattr(a, "details", {}).get("firth") for a in analyses if a.type == "logistic"
        )
        s += (
            "Odds ratios for response come from "
            + ("Firth's penalised-likelihood " if firth else "")
            + "logistic regression, univariable and multivariable. "
        )
    if "time_dependent" in types:
        s += (
            "Because allo-HSCT happens after the time origin, its association with survival was "
            "also estimated without immortal-time bias: with HSCT as a time-dependent covariate "
            "in a Cox model, and by a landmark analysis. "
        )
    if "adjusted" in types:
        s += (
            "Adjusted comparisons used stabilised inverse-probability-of-treatment weights from "
            "a Firth logistic propensity model with a weighted Cox model (robust variance). "
        )
    if s:
        paras.append(s.strip())
    thr = int(pres.get("small_cell_threshold", 0))
    paras.append(
        f"All statistics were computed with {software} (Python), whose estimators are tested "
        "against R's survival and stats packages. P values are two-sided"
        + (f"; counts below {thr} are suppressed in tables" if thr else "")
        + "."
    )
    return paras
