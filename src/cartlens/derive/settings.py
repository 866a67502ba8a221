"""Typed settings of the derived analysis data (event definitions, censoring, windows)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EndpointRules(BaseModel):
    """The endpoint rules shared by :class:`DeriveSettings` and the study specification's
    ``[endpoints]`` (:class:`cartlens.study.spec.Endpoints`); documented on
    :class:`DeriveSettings`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    response_day: int = Field(28, ge=0, le=3650)
    response_tolerance: int = Field(7, ge=0, le=3650)
    cri_counts_as_cr: bool = True
    require_mrd_negative: bool = False
    nonresponder_pfs: Literal["not_event", "time_zero", "assessment"] = "not_event"
    efs_nonresponse: Literal["time_zero", "assessment"] = "time_zero"
    mrd_relapse_is_event: bool = True
    censor_at_hsct: bool = False
    censor_at_next_cart: bool = False
    censor_at_new_therapy: bool = False
    censor_os: bool = False
    grade_source: Literal[
        "recorded_then_computed", "recorded", "computed", "computed_then_recorded"
    ] = "recorded_then_computed"
    severe_grade: int = Field(3, ge=1, le=5)

    @property
    def window(self) -> tuple[int, int]:
        """First and last day of the response window."""
        return (
            max(0, self.response_day - self.response_tolerance),
            self.response_day + self.response_tolerance,
        )


class DeriveSettings(EndpointRules):
    """How responses, toxicities and time-to-event endpoints are derived from the registry.

    Every derived table carries the settings that made it (``DataFrame.attrs["derive_settings"]``
    and the comment of a materialised table), and a study report states them in its methods.

    Attributes
    ----------
    response_day : int
        Target day of the response assessment (default 28).
    response_tolerance : int
        Half-width of the response window in days: assessments on days ``response_day -
        response_tolerance`` .. ``response_day + response_tolerance`` (default 28 ± 7, i.e. days
        21-35) count for the best response.
    cri_counts_as_cr : bool
        CRi (complete remission with incomplete count recovery) counts as CR for the response
        flag ``cr`` (default True: the usual "CR/CRi rate" in B-ALL).
    require_mrd_negative : bool
        A CR/CRi counts only when MRD-negative at that assessment (default False; the flag
        ``mrd_negative_cr`` is derived either way).
    nonresponder_pfs : {"not_event", "time_zero", "assessment"}
        Non-responders (evaluable, no CR/CRi in the window) in PFS: ``not_event`` (default): only
        a recorded relapse/progression or death is an event; ``time_zero``: an event at day 0;
        ``assessment``: an event on the date of their first assessment in the window.
    efs_nonresponse : {"time_zero", "assessment"}
        In EFS, non-response is an event (treatment failure) at day 0 (default, as in Park et
        al. NEJM 2018) or at the first assessment in the window.
    mrd_relapse_is_event : bool
        An MRD-only relapse (``relapse_type = mrd``) counts as relapse (default True).
    censor_at_hsct : bool
        Censor PFS, EFS, RFS, relapse/NRM and duration of remission at a later allo-HSCT
        (default False).
    censor_at_next_cart : bool
        Censor them at the start of the next CAR-T course (default False).
    censor_at_new_therapy : bool
        Censor them at the start of another anti-leukaemic therapy (default False).
    censor_os : bool
        Apply the three censoring rules to OS too (default False: OS is never censored at a
        transplant or later treatment).
    grade_source : {"recorded_then_computed", "recorded", "computed", "computed_then_recorded"}
        Which toxicity grade is used: the centre's recorded ASTCT grade, the grade cartlens
        computed from the components, or one with the other as fallback (default: recorded,
        else computed).
    severe_grade : int
        Grade from which a CRS/ICANS is severe (default 3).
    month_days : float
        Days per month for the ``*_months`` columns (default 30.4375 = 365.25 / 12).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    month_days: float = Field(30.4375, gt=0)
