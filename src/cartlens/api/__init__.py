"""Layer 7: the notebook API - R's functions on a DataFrame with R's formula language.

``import cartlens as cl`` gives these functions at the top level (imported on first use, so
``import cartlens`` stays fast). Each is a thin wrapper over the array functions of
:mod:`cartlens.stats` and returns a result that prints as R prints it, renders as a table in a
notebook, plots itself with the report's figures and keeps the tidy ``to_frame()``. See
``docs/python-api.md`` for every function with its R counterpart.
"""

from __future__ import annotations

from cartlens.api.adjust import Matched, Propensity, Weighted, match, propensity, weight
from cartlens.api.competing import Crr, Cuminc, crr, cuminc
from cartlens.api.cox import Coxph, CoxZph, cox_zph, coxph
from cartlens.api.formula import FormulaError
from cartlens.api.glm import GlmLogistic, glm_logistic
from cartlens.api.survival import Survdiff, Survfit, survdiff, survfit
from cartlens.api.table1 import TblSummary, tbl_summary

__all__ = [
    "CoxZph",
    "Coxph",
    "Crr",
    "Cuminc",
    "FormulaError",
    "GlmLogistic",
    "Matched",
    "Propensity",
    "Survdiff",
    "Survfit",
    "TblSummary",
    "Weighted",
    "cox_zph",
    "coxph",
    "crr",
    "cuminc",
    "glm_logistic",
    "match",
    "propensity",
    "survdiff",
    "survfit",
    "tbl_summary",
    "weight",
]
