"""The methods paragraph, generated from the settings a run actually used."""

from __future__ import annotations


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def analysis_methods(study: dict, analyses: list) -> str:
    """One sentence per analysis type the run used (in order of first use), from its renderer."""
    from cartlens.report.analyses import RENDERERS, RenderContext
    from cartlens.report.format import Formatter

    ok = [a for a in analyses if a.status == "ok"]
    r = RenderContext(fmt=Formatter(study["presentation"]), figs=None, study=study, cohorts={})
    by_type: dict[str, list] = {}
    for a in ok:
        by_type.setdefault(a.type, []).append(a)
    out = []
    for typ, group in by_type.items():
        rend = RENDERERS[typ]
        s = rend.methods(group, r) if rend.methods is not None else ""
        if s:
            out.append(s)
    return " ".join(out)


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
    paras.append(analysis_methods(study, analyses))
    thr = int(pres.get("small_cell_threshold", 0))
    paras.append(
        f"All statistics were computed with {software} (Python), whose estimators are tested "
        "against R's survival and stats packages. P values are two-sided"
        + (f"; counts below {thr} are suppressed in tables" if thr else "")
        + "."
    )
    return paras
