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


RESPONSE_COLUMNS = {"cr", "best_response", "response_evaluable", "nonresponse", "mrd_negative_cr"}


def _used(study: dict, analyses: list) -> set[str]:
    """Columns the study's analyses and cohort filters read."""
    cols = {c for a in analyses for c in getattr(a, "columns", ())}
    for c in (study.get("cohorts") or {}).values():
        cols |= set((c.get("where") or {}).keys())
    # a derived variable reads its sources
    for name, v in (study.get("variables") or {}).items():
        if name in cols:
            if v.get("cut"):
                cols.add(v["cut"]["column"])
    return cols


def methods_text(study: dict, analyses: list, software: str) -> list[str]:
    """Paragraphs of the methods section (plain text): only what the study's analyses used."""
    pres = study["presentation"]
    ep = study["endpoints"]
    used = _used(study, analyses)
    paras = []
    first = ""
    if used & RESPONSE_COLUMNS:
        lo = max(0, ep["response_day"] - ep["response_tolerance"])
        hi = ep["response_day"] + ep["response_tolerance"]
        responders = ["CR", "CRi"] if ep["cri_counts_as_cr"] else ["CR"]
        first += (
            f"Response was the best disease status assessed between day {lo} and day {hi} after "
            f"each infusion (day {ep['response_day']} +/- {ep['response_tolerance']}); "
            f"{_join(responders)} counted as complete remission (CR)"
            + (" only when MRD-negative" if ep.get("require_mrd_negative") else "")
            + ". Infusions without an assessment in that window were not evaluable. "
        )
    if any(c.startswith(("crs_", "icans_")) for c in used):
        first += (
            f"Cytokine release syndrome (CRS) and neurotoxicity (ICANS) were graded by the "
            f"{ep['grading']} consensus criteria (grade source: "
            f"{ep['grade_source'].replace('_', ' ')}); severe means grade >= "
            f"{ep['severe_grade']}; the worst grade per infusion was analysed."
        )
    if first:
        paras.append(first.strip())
    endpoints = [
        e
        for e in (
            "os",
            "pfs",
            "efs",
            "rfs",
            "dor",
            "crisk",
            "bca_loss",
            "car_loss",
            "infection",
            "severe_infection",
            "ttnt",
            "spm",
        )
        if f"{e}_days" in used
    ]
    if endpoints:
        paras.append(_time_to_event(ep, pres, endpoints, study.get("followup") or {}))
    s = analysis_methods(study, analyses)
    if s:
        paras.append(s)
    thr = int(pres.get("small_cell_threshold", 0))
    paras.append(
        f"All statistics were computed with {software} (Python), whose estimators are tested "
        "against R's survival and stats packages. P values are two-sided"
        + (f"; counts below {thr} are suppressed in tables" if thr else "")
        + "."
    )
    return paras


def _time_to_event(ep: dict, pres: dict, endpoints: list[str], followup: dict | None = None) -> str:
    relapse_types = ["morphologic", "extramedullary"] + (
        ["MRD"] if ep["mrd_relapse_is_event"] else []
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
    cens = f", censored at {_join(censor)}" if censor else ""
    s = (
        "Time origin was the infusion analysed (for salvage comparisons, the start of the "
        "salvage treatment)."
    )
    if "os" in endpoints:
        s += (
            " Overall survival (OS) counted deaths from any cause and was censored at the last "
            "contact" + ("" if ep.get("censor_os") else ", never at transplant") + "."
        )
    if "pfs" in endpoints:
        s += (
            f" Progression-free survival (PFS) counted {_join(relapse_types)} relapse, "
            f"progression or death, whichever came first ({nonresp}){cens}."
        )
    if "efs" in endpoints:
        efs = "day 0" if ep.get("efs_nonresponse", "time_zero") == "time_zero" else "the assessment"
        s += (
            " Event-free survival (EFS) counted relapse, progression or death, with "
            f"non-response as an event at {efs}{cens}."
        )
    if "rfs" in endpoints:
        s += (
            " Relapse-free survival (RFS) started at the infusion of responders (CR) and "
            f"counted relapse or death{cens}."
        )
    if "dor" in endpoints:
        s += (
            " Duration of remission (DOR) ran from the first qualifying remission to relapse "
            f"or death{cens}."
        )
    if "crisk" in endpoints:
        s += (
            " For competing risks, relapse or progression and death without prior relapse "
            "(non-relapse mortality) were competing events."
        )
    s += _followup_endpoints(endpoints, followup or {})
    s += f" Times are reported in {pres['time_unit']}" + (
        f" (1 month = {pres['month_days']} days)" if pres["time_unit"] == "months" else ""
    )
    return s + "."


def _followup_endpoints(endpoints: list[str], followup: dict) -> str:
    """Definitions of the follow-up endpoints used (:func:`cartlens.derive.followup_table`),
    with the study's ``[followup]`` settings."""
    from cartlens.derive.followup import FollowupSettings

    f = FollowupSettings(**followup)
    s = ""
    if "bca_loss" in endpoints:
        s += (
            " Loss of B-cell aplasia was the first CD19+ B-cell value at or above "
            f"{f.bca_cd19_pct_max:g}% of lymphocytes (or {f.bca_cd19_cells_max:g} cells/uL) "
            "after aplasia began, censored at the last aplastic value; laboratory follow-up "
            "ended at the next CAR-T course or allo-HSCT."
        )
    if "car_loss" in endpoints:
        s += (
            " Loss of CAR-T persistence was the first undetectable CAR transgene (or % CAR+ "
            "cells) value after detection, censored at the last detectable value."
        )
    named = [
        w
        for e, w in (
            ("infection", "the first infection"),
            ("severe_infection", f"the first infection of severity {f.severe_infection} or worse"),
            (
                "ttnt",
                "the next treatment (another therapy, the next CAR-T course"
                + (" or allo-HSCT)" if f.ttnt_includes_hsct else ")"),
            ),
            ("spm", "a second malignancy"),
        )
        if e in endpoints
    ]
    if named:
        s += (
            f" For the cumulative incidence of {_join(named)}, death without the event was the "
            "competing event."
        )
    return s
