"""cartlens: CAR T-cell registry outcome analyses that match R.

Layers (each depends only on the ones before it): ``model`` -> ``ingest`` -> ``derive``
-> ``stats`` -> ``study`` -> ``report`` -> ``api`` -> ``cli``. ``results`` and ``errors`` are
shared foundations used by every layer.

``import cartlens as cl`` then ``cl.survfit(df, "Surv(time, status) ~ group")``: the functions
of the notebook API (:mod:`cartlens.api`) are imported on first use, so importing the package
costs nothing.
"""

__version__ = "0.1.0"

_API = (
    "survfit",
    "survdiff",
    "coxph",
    "cox_zph",
    "cuminc",
    "crr",
    "glm_logistic",
    "tbl_summary",
    "propensity",
    "match",
    "weight",
    "FormulaError",
)
_SUBMODULES = (
    "api",
    "cli",
    "derive",
    "errors",
    "ingest",
    "model",
    "report",
    "results",
    "stats",
    "study",
)


def __getattr__(name: str):
    import importlib

    if name in _API:
        return getattr(importlib.import_module("cartlens.api"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"cartlens.{name}")
    raise AttributeError(f"module 'cartlens' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API, *_SUBMODULES])
