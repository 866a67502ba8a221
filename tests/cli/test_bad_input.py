"""Acceptance audit: every ``cartlens stats`` command on bad input.

The issues' rule (statistical core, competing risks, adjustment): bad input gives either

* exit status 2 with ``error: ...`` on stderr naming the column (as written in the CSV) and
  the problem, nothing on stdout and no traceback, or
* exit status 0 with a *typed* warning (a :class:`cartlens.errors.StatisticalWarning`
  subclass, printed as ``warning: <Class>: ...`` and listed under ``"warnings"``) and a
  defined JSON result (no ``NaN``/``Infinity`` literals); the table output must work too.

Never exit status 1, never a traceback. The CSV columns have deliberately distinctive names
(``os_days``, ``died``, ``arm``...) so that a message naming an internal argument
(``'time'``, ``'X'``) instead of the user's column is caught.

Most cases run in-process through typer's ``CliRunner`` (fast); a few run the real console
entry point in a subprocess. Known defects are ``xfail(strict=True)`` with the exact defect
as reason, so that a fix shows up as XPASS and the marker must go.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from cartlens import errors
from cartlens.cli.apps import app
from cartlens.cli.main import _load_commands

_load_commands()
RUNNER = CliRunner()

COLUMNS = (
    "id",
    "os_days",
    "died",
    "arm",
    "age",
    "age2",
    "entry",
    "wt",
    "hsct",
    "resp",
    "status",
    "tx_day",
)
TREATED = (1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1)
RESPONSE = (1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0)


def base_rows() -> list[dict]:
    """Twelve patients with tied times, censoring, two arms and two competing causes."""
    rows = []
    for i in range(12):
        t = 3 + 2 * i + i % 3
        rows.append(
            {
                "id": f"p{i + 1:02d}",
                "os_days": t,
                "died": int(i % 3 != 0),
                "arm": "a" if i % 2 == 0 else "b",
                "age": 40 + (i * 7) % 11 + i,
                "age2": 2 * (40 + (i * 7) % 11 + i),
                "entry": 0,
                "wt": 1 + i % 2,
                "hsct": TREATED[i],
                "resp": RESPONSE[i],
                "status": 0 if i % 3 == 0 else (1 if i % 2 else 2),
                "tx_day": t / 2 if i % 4 == 0 else "",
            }
        )
    return rows


def write_csv(path, rows: list[dict]) -> str:
    lines = [",".join(COLUMNS)]
    lines += [",".join(str(r[c]) for c in COLUMNS) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


# ---- scenarios: functions of the base rows ---------------------------------------------


def _set(i: int, **kw):
    def f(rows):
        rows[i].update(kw)
        return rows

    return f


def _all(**kw):
    def f(rows):
        for r in rows:
            r.update(kw)
        return rows

    return f


def _where(pred, **kw):
    def f(rows):
        for r in rows:
            if pred(r):
                r.update(kw)
        return rows

    return f


def _separated(rows):
    """Events only where age2 is high; age2 (the covariate) separates the outcome."""
    for i, r in enumerate(rows):
        r["age2"] = 1 if r["died"] else 0
        r["resp"] = r["died"]
        r["hsct"] = r["died"]
        r["status"] = 1 if r["died"] else 0
        r["os_days"] = (2 if r["died"] else 50) + i
    return rows


def _collinear(rows):
    for r in rows:
        r["age2"] = 2 * r["age"] + 1
    return rows


def _empty_group(rows):
    """Every row of arm 'b' has a missing time, so arm 'b' is empty once they are dropped."""
    for r in rows:
        if r["arm"] == "b":
            r["os_days"] = ""
    return rows


def _no_rows(rows):
    return []


SCENARIOS = {
    "ok": lambda rows: rows,
    "negative_time": _set(3, os_days=-4),
    "nan_time": _set(3, os_days="NaN"),
    "inf_time": _set(3, os_days="inf"),
    "text_time": _set(3, os_days="abc"),
    "start_eq_stop": _set(3, entry=9),
    "start_gt_stop": _set(3, entry=14),
    "all_censored": _all(died=0, status=0),
    "one_group": _all(arm="a"),
    "empty_group": _empty_group,
    "one_subject": lambda rows: rows[1:2],
    "no_rows": _no_rows,
    "separated": _separated,
    "collinear": _collinear,
    "constant_covariate": _all(age2=7),
    "text_covariate_value": _set(2, age2="high"),
    "weights_zero": _all(wt=0),
    "weights_negative": _set(2, wt=-1),
    "weights_text": _set(2, wt="heavy"),
    "treatment_three_values": _set(2, hsct=2),
    "treatment_one_value": _all(hsct=1),
    "cause_text": _set(4, status="relapse"),
    "outcome_three_values": _set(2, resp="PR"),
    "outcome_text": lambda rows: [{**r, "resp": "yes" if r["resp"] else "no"} for r in rows],
}

# ---- expected outcomes ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Err:
    """Exit 2; stderr names every needle (the CSV column and/or the problem)."""

    needles: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Warn:
    """Exit 0 with at least one warning of (a subclass of) each named warning class."""

    classes: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ErrOrWarn:
    """Either a clean error naming the needles or a result with a typed warning."""

    needles: tuple[str, ...]
    classes: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Ok:
    """Exit 0 with a defined result (the documented contract covers this input)."""


def err(*needles: str) -> Err:
    return Err(needles)


def warn(*classes: str) -> Warn:
    return Warn(classes)


# ---- running and checking ---------------------------------------------------------------

SURV = ["--time", "os_days", "--event", "died"]
ARGS = {
    "km": [*SURV, "--group", "arm"],
    "km-weights": [*SURV, "--weights", "wt"],
    "km-start": [*SURV, "--start", "entry"],
    "logrank": [*SURV, "--group", "arm"],
    "logrank-start": [*SURV, "--group", "arm", "--start", "entry"],
    "followup": [*SURV, "--group", "arm"],
    "cox": [*SURV, "--formula", "age2"],
    "cox-two": [*SURV, "--formula", "age + age2"],
    "cox-weights": [*SURV, "--formula", "age", "--weights", "wt"],
    "cox-start": [*SURV, "--formula", "age", "--start", "entry"],
    "zph": [*SURV, "--formula", "age2"],
    "zph-two": [*SURV, "--formula", "age + age2"],
    "cif": ["--time", "os_days", "--event", "status", "--group", "arm"],
    "cif-causes": ["--time", "os_days", "--event", "status", "--causes", "1,2"],
    "finegray": ["--time", "os_days", "--event", "status", "--cause", "1", "--formula", "age2"],
    "finegray-two": [
        *["--time", "os_days", "--event", "status", "--cause", "1"],
        *["--formula", "age + age2"],
    ],
    "landmark": [*SURV, "--landmark", "2", "--exposure-time", "tx_day"],
    "bootstrap": [*SURV, "--group", "arm", "--n-boot", "40", "--seed", "1"],
    "bootstrap-cox": [*SURV, "--formula", "age2", "--n-boot", "40", "--seed", "1"],
    "permutation-logrank": [*SURV, "--group", "arm", "--n-perm", "50", "--seed", "1"],
    "compare": ["--group", "arm", "--outcome", "resp"],
    "paired": ["--first", "resp", "--second", "died"],
    "logistic": ["--formula", "resp ~ age2"],
    "logistic-two": ["--formula", "resp ~ age + age2"],
    "ps": ["--treatment", "hsct", "--formula", "age2"],
    "ps-two": ["--treatment", "hsct", "--formula", "age + age2"],
    "match": ["--treatment", "hsct", "--formula", "age2"],
    "match-two": ["--treatment", "hsct", "--formula", "age + age2"],
    # issue 12: r x c Fisher, Hodges-Lehmann, RMST, adjusted curves, multiple imputation
    "fisher": ["--rows", "arm", "--cols", "resp"],
    "wilcox": ["--value", "age2", "--group", "arm"],
    "rmst": [*SURV, "--group", "arm"],
    "adjusted": [
        *[*SURV, "--treatment", "hsct", "--formula", "age", "--times", "5,10"],
        *["--n-boot", "20", "--seed", "1"],
    ],
    "adjusted-iptw": [
        *[*SURV, "--treatment", "hsct", "--formula", "age", "--times", "5,10"],
        *["--n-boot", "20", "--seed", "1", "--method", "iptw"],
    ],
    "adjusted-cif": [
        *["--time", "os_days", "--event", "status", "--treatment", "hsct", "--formula", "age"],
        *["--times", "5,10", "--method", "iptw", "--cause", "1", "--n-boot", "20", "--seed", "1"],
    ],
    "adjusted-cif-gformula": [
        *["--time", "os_days", "--event", "status", "--treatment", "hsct", "--formula", "age"],
        *["--times", "5,10", "--cause", "1", "--n-boot", "20", "--seed", "1"],
    ],
    "mi": [
        *[*SURV, "--model", "cox", "--formula", "age + age2"],
        *["--m", "2", "--maxit", "2", "--seed", "1"],
    ],
    "landmark-times": [*SURV, "--landmark", "2", "--exposure-time", "tx_day", "--times", "2,5"],
}


def command(variant: str) -> str:
    name = variant
    for suffix in (
        *("-gformula", "-weights", "-start", "-two", "-cox", "-causes", "-iptw", "-cif"),
        "-times",
    ):
        name = name.removesuffix(suffix)
    return name


def invoke(args: list[str]):
    return RUNNER.invoke(app, ["stats", *args])


def _reject_constant(text: str):
    raise AssertionError(f"JSON contains the non-standard literal {text}")


def strict_json(text: str) -> dict:
    """Parse JSON, refusing NaN / Infinity literals."""
    return json.loads(text, parse_constant=_reject_constant)


def _describe(res) -> str:
    exc = res.exception
    kind = "" if exc is None or isinstance(exc, SystemExit) else f" exception={exc!r}"
    return f"exit={res.exit_code}{kind}\nstdout={res.stdout[-800:]}\nstderr={res.stderr[-800:]}"


def _no_crash(res) -> None:
    assert res.exit_code in (0, 2), _describe(res)
    assert res.exception is None or isinstance(res.exception, SystemExit), _describe(res)
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, _describe(res)


def _warning_classes(payload: dict) -> list[type]:
    out = []
    for text in payload.get("warnings", []):
        name = text.split(":", 1)[0]
        cls = getattr(errors, name, None)
        assert isinstance(cls, type) and issubclass(cls, errors.StatisticalWarning), (
            f"warning {text!r} is not a typed cartlens StatisticalWarning"
        )
        out.append(cls)
    return out


def check_error(res, needles) -> None:
    _no_crash(res)
    assert res.exit_code == 2, _describe(res)
    assert res.stderr.startswith("error: "), _describe(res)
    assert res.stdout.strip() == "", _describe(res)
    assert "\x1b[" not in res.stderr, f"terminal escape codes in the error\n{_describe(res)}"
    for needle in needles:  # a tuple of alternatives: any one of them
        options = needle if isinstance(needle, tuple) else (needle,)
        assert any(o in res.stderr for o in options), f"{needle!r} not named\n{_describe(res)}"


def check_result(res, classes, args) -> dict:
    _no_crash(res)
    assert res.exit_code == 0, _describe(res)
    payload = strict_json(res.stdout)
    found = _warning_classes(payload)
    for name in classes:
        want = getattr(errors, name)
        assert any(issubclass(c, want) for c in found), f"no {name}\n{_describe(res)}"
        assert f"warning: {name}" in res.stderr or any(
            f"warning: {c.__name__}" in res.stderr for c in found if issubclass(c, want)
        ), _describe(res)
    table = invoke(args)  # the table output must cope with the same degenerate result
    _no_crash(table)
    assert table.exit_code == 0, _describe(table)
    return payload


def check(expect, args: list[str]) -> None:
    res = invoke([*args, "--json"])
    if isinstance(expect, Err):
        check_error(res, expect.needles)
    elif isinstance(expect, Warn):
        check_result(res, expect.classes, args)
    elif isinstance(expect, Ok):
        check_result(res, (), args)
    elif res.exit_code == 2:
        check_error(res, expect.needles)
    else:
        check_result(res, expect.classes, args)


def xfail(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


def case(variant, scenario, expect, *marks, extra=(), tag=""):
    name = f"{variant}-{scenario}{tag}"
    return pytest.param(variant, scenario, expect, list(extra), id=name, marks=marks)


# ---- the audit matrix -------------------------------------------------------------------

TIME_COMMANDS = (
    "km",
    "logrank",
    "followup",
    "cox",
    "zph",
    "cif",
    "finegray",
    "landmark",
    "bootstrap",
    "permutation-logrank",
    "rmst",
    "adjusted",
    "adjusted-cif",
    "adjusted-cif-gformula",
    "mi",
    "landmark-times",
)

TIME_CASES = []
_TIME_NEEDLES = {
    "negative_time": "-4",
    "nan_time": "NaN",
    "inf_time": "inf",
    "text_time": "abc",
}
for _cmd in TIME_COMMANDS:
    for _scen, _value in _TIME_NEEDLES.items():
        TIME_CASES.append(case(_cmd, _scen, err("'os_days'", _value)))


@pytest.mark.parametrize("variant, scenario, expect, extra", TIME_CASES)
def test_bad_times(tmp_path, variant, scenario, expect, extra):
    """Negative, NaN, infinite or non-numeric times: exit 2 naming the column and value."""
    path = write_csv(tmp_path / "d.csv", SCENARIOS[scenario](base_rows()))
    check(expect, [command(variant), "--data", path, *ARGS[variant], *extra])


NO_EVENTS = ("NoEventsWarning",)
SEPARATION = ("SeparationWarning",)
COLLINEARITY = ("CollinearityWarning",)

MATRIX = [
    # (start, stop] with start >= stop
    case("km-start", "start_eq_stop", err("'entry'")),
    case("km-start", "start_gt_stop", err("'entry'")),
    case("logrank-start", "start_gt_stop", err("'entry'")),
    case("cox-start", "start_eq_stop", err("'entry'")),
    case("cox-start", "start_gt_stop", err("'entry'")),
    # all censored / zero events
    case("km", "all_censored", warn("NoEventsWarning")),
    case("km-weights", "all_censored", warn("NoEventsWarning")),
    case("logrank", "all_censored", ErrOrWarn(("'died'",), NO_EVENTS)),
    case("followup", "all_censored", Ok()),  # every row is a reverse-KM "event"
    case("cox", "all_censored", ErrOrWarn(("no events",), NO_EVENTS)),
    case("zph", "all_censored", ErrOrWarn(("no events",), NO_EVENTS)),
    case("cif", "all_censored", warn("NoEventsWarning")),
    case("finegray", "all_censored", ErrOrWarn(("'status'", "no events"), NO_EVENTS)),
    case("bootstrap", "all_censored", warn("NoEventsWarning")),
    case("bootstrap-cox", "all_censored", ErrOrWarn(("no events",), NO_EVENTS)),
    case("permutation-logrank", "all_censored", ErrOrWarn(("no events",), NO_EVENTS)),
    case("landmark", "all_censored", Ok()),
    # a --event-code that never occurs: the 1s are neither the code nor 0 (issue 10, point 9)
    case("km", "ok", err("'died'", "'1'", "'9'"), extra=["--event-code", "9"]),
    case("cox", "ok", err("'died'", "'1'", "'9'"), extra=["--event-code", "9"]),
    # one group / an empty group (all its rows dropped for a missing time)
    case("logrank", "one_group", err("'arm'")),
    case("logrank", "empty_group", err("'arm'")),
    case(
        "logrank",
        "one_group",
        err("'arm'", "'a'"),
        tag="-label",
    ),
    case("permutation-logrank", "one_group", err("'arm'")),
    case("permutation-logrank", "empty_group", err("'arm'")),
    case("compare", "one_group", err("'arm'", "'a'")),
    case("km", "empty_group", Ok()),
    case("cif", "one_group", Ok()),
    case("bootstrap", "one_group", Ok()),
    # one subject
    case("km", "one_subject", Ok()),
    case("logrank", "one_subject", err("'arm'")),
    case("followup", "one_subject", Ok()),
    case("cox", "one_subject", err("2 rows")),
    case("zph", "one_subject", err("2 rows")),
    case("cif", "one_subject", Ok()),
    case(
        "finegray",
        "one_subject",
        ErrOrWarn(("'age2'",), NO_EVENTS),
    ),
    case("landmark", "one_subject", Ok()),
    case("bootstrap", "one_subject", Ok()),
    case("bootstrap-cox", "one_subject", ErrOrWarn(("'age2'",), NO_EVENTS)),
    case("compare", "one_subject", err("'arm'")),
    case("logistic", "one_subject", err("'resp'")),
    case("ps", "one_subject", err("'hsct'")),
    case("match", "one_subject", err("'hsct'")),
    # a CSV with a header and no rows
    *[
        case(v, "no_rows", err("no ", "rows"))
        for v in ("km", "logrank", "followup", "cox", "zph", "cif", "landmark", "bootstrap")
    ],
    case("finegray", "no_rows", err("no rows")),
    case("ps", "no_rows", err("no ", "rows")),
    case("match", "no_rows", err("no ", "rows")),
    case("compare", "no_rows", err("no rows")),
    case("paired", "no_rows", err("no rows")),
    case("logistic", "no_rows", err("'resp'")),
    # separated covariate (monotone likelihood)
    case("cox", "separated", warn("SeparationWarning")),
    case("zph", "separated", ErrOrWarn(("'age2'",), SEPARATION)),
    case("logistic", "separated", warn("SeparationWarning")),
    case(
        "finegray",
        "separated",
        warn("SeparationWarning"),
    ),
    case(
        "ps",
        "separated",
        warn("SeparationWarning"),
    ),
    case("match", "separated", ErrOrWarn(("caliper",), SEPARATION)),
    # collinear covariates
    case("cox-two", "collinear", warn("CollinearityWarning")),
    case("zph-two", "collinear", warn("CollinearityWarning")),
    case("logistic-two", "collinear", warn("CollinearityWarning")),
    case(
        "finegray-two",
        "collinear",
        ErrOrWarn(("'age2'",), COLLINEARITY),
    ),
    case("ps-two", "collinear", ErrOrWarn(("age2", "collinear"), COLLINEARITY)),
    case("match-two", "collinear", ErrOrWarn(("age2", "collinear"), COLLINEARITY)),
    case(
        "bootstrap-cox",
        "collinear",
        ErrOrWarn(("'age2'",), COLLINEARITY),
        extra=["--formula", "age + age2"],
    ),
    # a covariate with one value
    case("cox", "constant_covariate", ErrOrWarn(("'age2'",), COLLINEARITY)),
    case("cox-two", "constant_covariate", warn("CollinearityWarning")),
    case("logistic", "constant_covariate", ErrOrWarn(("'age2'",), COLLINEARITY)),
    case(
        "finegray",
        "constant_covariate",
        ErrOrWarn(("'age2'",), COLLINEARITY),
    ),
    case("ps", "constant_covariate", err("'age2'")),
    case("match", "constant_covariate", err("'age2'")),
    case("bootstrap-cox", "constant_covariate", ErrOrWarn(("'age2'",), COLLINEARITY)),
    # a text value in a numeric covariate: the column becomes a factor (documented)
    case("cox", "text_covariate_value", warn("CollinearityWarning")),
    # (age2 becomes a factor of singleton levels: the PS separates, nothing is in the caliper)
    case("match", "text_covariate_value", ErrOrWarn((("'age2'", "caliper"),), SEPARATION)),
    # weights
    case("km-weights", "weights_zero", ErrOrWarn(("'wt'",), ("StatisticalWarning",))),
    case("km-weights", "weights_negative", err("'wt'")),
    case("km-weights", "weights_text", err("'wt'", "heavy")),
    case("cox-weights", "weights_zero", err("'wt'")),
    case("cox-weights", "weights_negative", err("'wt'")),
    case("cox-weights", "weights_text", err("'wt'", "heavy")),
    # treatment for ps / match
    case("ps", "treatment_three_values", err("'hsct'")),
    case("match", "treatment_three_values", err("'hsct'")),
    case("ps", "treatment_one_value", err("'hsct'")),
    case("match", "treatment_one_value", err("'hsct'")),
    # a binary outcome with a third value, or an --outcome-code that matches none of its
    # values: an error naming the column and the values found (issue 12, point 7)
    case("compare", "outcome_three_values", err("'resp'", "'0', '1', 'PR'")),
    case("logistic", "outcome_three_values", err("'resp'", "'0', '1', 'PR'")),
    case("paired", "outcome_three_values", err("'resp'", "'0', '1', 'PR'")),
    case("compare", "outcome_text", err("'resp'", "--outcome-code '1'", "'no', 'yes'")),
    case("compare", "outcome_text", Ok(), extra=["--outcome-code", "yes"], tag="-code"),
    case("logistic", "outcome_text", err("'resp'", "'no', 'yes'")),
    case(
        "logistic",
        "outcome_three_values",
        err("'resp'", "'0', '1', 'PR'"),
        extra=["--outcome-code", "1"],
        tag="-code",
    ),
    # issue 12's commands on degenerate data
    case("fisher", "one_group", err("'arm'", "'a'")),
    case("fisher", "no_rows", err("no rows")),
    case("fisher", "ok", Ok(), extra=["--simulate", "--seed", "3"], tag="-simulate"),
    case("wilcox", "one_group", err("'arm'")),
    case("wilcox", "no_rows", err("no rows")),
    case("wilcox", "text_covariate_value", err("'age2'", "high")),
    case("rmst", "one_group", err("'arm'", "two groups")),
    case("rmst", "all_censored", warn("SparseDataWarning")),
    case("rmst", "no_rows", err("no ", "rows")),
    case("adjusted", "all_censored", err("'died'", "no events")),
    case("adjusted", "treatment_one_value", err("'hsct'")),
    case("adjusted-iptw", "treatment_three_values", err("'hsct'", "binary")),
    case("adjusted", "no_rows", err("rows")),
    case("adjusted-cif", "cause_text", err("'status'", "relapse")),
    case("adjusted-cif", "ok", err("cause 9"), extra=["--cause", "9"], tag="-cause9"),
    case("adjusted-cif-gformula", "ok", Ok()),
    case("adjusted-cif-gformula", "cause_text", err("'status'", "relapse")),
    case("adjusted-cif-gformula", "ok", err("cause 9"), extra=["--cause", "9"], tag="-cause9"),
    case("adjusted-cif-gformula", "all_censored", err("cause 1")),
    # g-formula CIFs take any number of treatment levels
    case("adjusted-cif-gformula", "treatment_three_values", Ok()),
    case("mi", "no_rows", err("no ", "rows")),
    # age2 becomes a factor of singleton levels: a term not estimable in an imputation
    case("mi", "text_covariate_value", err("age2[")),
    case("landmark-times", "ok", Ok()),
    # competing-risk status codes (0 = censored, any other number = a cause)
    case("cif", "cause_text", err("'status'", "relapse")),
    case("finegray", "cause_text", err("'status'", "relapse")),
    case("cif-causes", "ok", err("3"), extra=["--causes", "1,3"]),
    # a covariate that is constant within every stratum carries no information
    case(
        "cox",
        "ok",
        ErrOrWarn(("'arm'",), COLLINEARITY),
        extra=["--formula", "arm", "--strata", "arm"],
    ),
    # bad option values
    case(
        "cif",
        "ok",
        err("rho"),
        extra=["--rho", "nan"],
    ),
    case(
        "finegray",
        "ok",
        err("--cencode"),
        extra=["--cencode", "abc"],
    ),
    case(
        "cox",
        "ok",
        err("formula"),
        extra=["--formula", "age2 +"],
        tag="-no-ansi",
    ),
]

OPTION_ERRORS = [
    ("km", ["--times", "abc"], "--times"),
    ("km", ["--conf-level", "1.5"], ("conf_level", "--conf-level")),
    ("km", ["--conf-type", "logit"], "--conf-type"),
    ("logrank", ["--rho", "nan"], "rho"),
    ("logrank", ["--pairwise", "tukey"], "--pairwise"),
    ("followup", ["--conf-type", "x"], "--conf-type"),
    ("cox", ["--ties", "exact"], "--ties"),
    ("cox", ["--formula", ""], "formula"),
    ("cif", ["--times", "x"], "--times"),
    ("cif", ["--conf-type", "weird"], ("conf_type", "--conf-type")),
    ("finegray", ["--cause", "abc"], "--cause"),
    ("finegray", ["--cause", "9"], "9"),
    ("landmark", ["--landmark", "abc"], "--landmark"),
    ("landmark", ["--landmark", "-3"], "landmark"),
    ("bootstrap", ["--n-boot", "0"], ("n_boot", "--n-boot")),
    ("bootstrap", ["--conf-level", "2"], ("conf_level", "--conf-level")),
    ("bootstrap", ["--ci", "x"], ("ci", "--ci")),
    ("permutation-logrank", ["--statistic", "foo"], ("statistic", "--statistic")),
    ("compare", ["--test", "foo"], ("force", "--test")),
    ("compare", ["--conf-level", "3"], ("conf_level", "--conf-level")),
    ("logistic", ["--ci", "foo"], ("ci", "--ci")),
    ("ps", ["--estimand", "xyz"], "estimand"),
    ("ps", ["--trim", "0.9,0.1"], "trim"),
    ("ps", ["--truncate", "a,b"], "--truncate"),
    ("ps", ["--treated", "7"], "'hsct'"),
    ("match", ["--ratio", "0"], "ratio"),
    ("match", ["--caliper", "-1"], "caliper"),
    ("match", ["--scale", "foo"], "scale"),
    ("match", ["--m-order", "foo"], "m_order"),
    ("match", ["--exact", "no_such_col"], "no_such_col"),
    ("match", ["--ties", "foo"], "ties"),
    ("match", ["--ties", "matchit", "--replace"], "ties"),
    ("fisher", ["--alternative", "foo"], "alternative"),
    ("fisher", ["--B", "0"], "--B"),
    ("fisher", ["--conf-level", "2"], "--conf-level"),
    ("wilcox", ["--conf-level", "2"], "conf_level"),
    ("wilcox", ["--alternative", "up"], "alternative"),
    ("wilcox", ["--reference", "zz"], "--reference"),
    ("rmst", ["--tau", "-5"], "tau"),
    ("rmst", ["--tau", "99999"], "tau"),
    ("rmst", ["--reference", "zz"], "reference"),
    ("rmst", ["--conf-level", "1"], "conf_level"),
    ("adjusted", ["--method", "foo"], "method"),
    ("adjusted", ["--n-boot", "5"], "'B'"),
    ("adjusted", ["--times", "x"], "--times"),
    ("adjusted", ["--times", "-1"], "times"),
    ("adjusted-cif", ["--method", "foo"], "method"),
    ("adjusted-cif-gformula", ["--cause", "x"], "--cause"),
    ("adjusted-cif", ["--cause", "x"], "--cause"),
    ("mi", ["--model", "foo"], "--model"),
    ("mi", ["--m", "1"], "'m'"),
    ("mi", ["--maxit", "0"], "maxit"),
    ("mi", ["--impute", "no_such_col"], "no_such_col"),
    ("landmark", ["--times", "abc"], "--times"),
    ("landmark", ["--times", "-2"], "times"),
]


@pytest.mark.parametrize(
    "variant, extra, needle",
    OPTION_ERRORS,
    ids=[f"{v}{''.join(x[:1])}={x[1] if len(x) > 1 else ''}" for v, x, _ in OPTION_ERRORS],
)
def test_bad_option_values(tmp_path, variant, extra, needle):
    """A bad option value is exit 2 naming the option (as --flag or as its argument name)."""
    path = write_csv(tmp_path / "d.csv", base_rows())
    args = [*ARGS[variant], *extra]
    if "--formula" in extra:
        i = args.index("--formula")
        del args[i : i + 2]
    check(err(needle), [command(variant), "--data", path, *args])


EVALUE_CASES = [
    pytest.param(["--estimate", "-1"], err("estimate"), id="negative-ratio"),
    pytest.param(["--estimate", "nan"], err("estimate"), id="nan"),
    pytest.param(["--estimate", "2", "--lower", "3"], err("lower"), id="limit-wrong-side"),
    pytest.param(["--estimate", "2", "--measure", "foo"], err("measure"), id="measure"),
    pytest.param(["--estimate", "2", "--measure", "or"], err("rare"), id="or-needs-rare"),
    pytest.param(["--estimate", "2", "--true", "0"], err("true"), id="true-zero"),
    pytest.param(
        ["--estimate", "0.5", "--measure", "smd", "--se", "-1"],
        err("se"),
        id="negative-se",
    ),
]


FISHER_TABLE_CASES = [
    pytest.param(["--table", "1,2;3"], err("--table", "same number"), id="ragged"),
    pytest.param(["--table", "1,x;3,4"], err("--table"), id="text"),
    pytest.param(["--table", "1,-2;3,4"], err("negative"), id="negative"),
    pytest.param(["--table", "0,0;0,0"], err("empty"), id="all-zero"),
    pytest.param(["--table", "1,2,3"], err("2 rows"), id="one-row"),
    pytest.param(["--table", "1,2;3,4", "--rows", "arm"], err("--data"), id="rows-without-data"),
    pytest.param(
        ["--table", "9,1,0;0,9,1", "--alternative", "less"], err("2 x 2"), id="one-sided-rxc"
    ),
    pytest.param([], err("--table"), id="nothing"),
]


@pytest.mark.parametrize("args, expect", FISHER_TABLE_CASES)
def test_fisher_table_bad_input(args, expect):
    """``cartlens stats fisher --table`` without a data file."""
    check(expect, ["fisher", *args])


@pytest.mark.parametrize("args, expect", EVALUE_CASES)
def test_evalue_bad_input(args, expect):
    """``cartlens stats evalue`` takes no data file; its numbers are checked the same way."""
    check(expect, ["evalue", *args])


@pytest.mark.parametrize("variant, scenario, expect, extra", MATRIX)
def test_bad_input_matrix(tmp_path, variant, scenario, expect, extra):
    path = write_csv(tmp_path / "d.csv", SCENARIOS[scenario](base_rows()))
    args = [*ARGS[variant], *extra]
    if "--formula" in extra:  # an extra --formula replaces the variant's
        i = args.index("--formula")
        del args[i : i + 2]
    check(expect, [command(variant), "--data", path, *args])


# ---- every command: a missing data file and a column that does not exist ----------------

ALL_VARIANTS = (
    "km",
    "logrank",
    "followup",
    "cox",
    "zph",
    "cif",
    "finegray",
    "landmark",
    "bootstrap",
    "permutation-logrank",
    "compare",
    "paired",
    "logistic",
    "ps",
    "match",
    "fisher",
    "wilcox",
    "rmst",
    "adjusted",
    "mi",
)
NO_DATA_COMMANDS = ("evalue",)  # audited by test_evalue_bad_input


def test_every_stats_command_is_audited():
    """A new ``cartlens stats`` command must be added to this audit."""
    from cartlens.cli.apps import stats_app

    names = {c.name or c.callback.__name__ for c in stats_app.registered_commands}
    assert names == {*ALL_VARIANTS, *NO_DATA_COMMANDS}


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_missing_data_file(tmp_path, variant):
    path = str(tmp_path / "nowhere.csv")
    check(err("nowhere.csv", "does not exist"), [command(variant), "--data", path, *ARGS[variant]])


# For each command, the option whose column is replaced by one that does not exist.
MISSING_COLUMN = {
    "km": ["--group"],
    "logrank": ["--time"],
    "followup": ["--event"],
    "cox": ["--formula"],
    "zph": ["--time"],
    "cif": ["--event"],
    "finegray": ["--formula"],
    "landmark": ["--exposure-time"],
    "bootstrap": ["--group"],
    "permutation-logrank": ["--group"],
    "compare": ["--outcome"],
    "paired": ["--second"],
    "logistic": ["--formula"],
    "ps": ["--formula", "--treatment"],
    "match": ["--formula"],
    "fisher": ["--rows", "--cols"],
    "wilcox": ["--value", "--group"],
    "rmst": ["--group", "--time"],
    "adjusted": ["--formula", "--treatment"],
    "mi": ["--formula", "--time"],
}


@pytest.mark.parametrize(
    "variant, option",
    [(v, o) for v, opts in MISSING_COLUMN.items() for o in opts],
)
def test_column_that_does_not_exist(tmp_path, variant, option):
    path = write_csv(tmp_path / "d.csv", base_rows())
    args = list(ARGS[variant])
    i = args.index(option)
    if option == "--formula":
        lhs = args[i + 1].split("~")[0] + "~ " if "~" in args[i + 1] else ""
        args[i + 1] = lhs + "age + no_such_col"
    else:
        args[i + 1] = "no_such_col"
    check(err("no_such_col"), [command(variant), "--data", path, *args])


# ---- documented contracts for "unknown" event values -------------------------------------


def test_km_other_event_values_are_refused(tmp_path):
    """Issue 10 (replacing issue 2's "any other value is a censoring"): a value that is
    neither --event-code nor 0 is an error naming it, never a silent censoring."""
    rows = base_rows()
    rows[4]["died"] = "dead"  # row 4 was an event
    path = write_csv(tmp_path / "d.csv", rows)
    check(err("'died'", "'dead'"), ["km", "--data", path, *SURV])


def test_cif_cause_codes_are_taken_as_given(tmp_path):
    """Issue 3: status 0 = censored, any other value a cause (as cmprsk::cuminc); --causes
    restricts the allowed codes and an unlisted code is an error naming it."""
    rows = base_rows()
    rows[4]["status"] = 7
    path = write_csv(tmp_path / "d.csv", rows)
    args = ["cif", "--data", path, "--time", "os_days", "--event", "status"]
    payload = check_result(invoke([*args, "--json"]), (), args)
    assert {g["cause"] for g in payload["groups"]} == {1, 2, 7}
    check(err("7"), [*args, "--causes", "1,2"])


def test_weights_all_zero_km_is_not_silent(tmp_path):
    """Issue 6: all weights zero -> a clear error or a typed warning (never silent NaN)."""
    path = write_csv(tmp_path / "d.csv", SCENARIOS["weights_zero"](base_rows()))
    res = invoke(["km", "--data", path, *ARGS["km-weights"], "--json"])
    _no_crash(res)
    if res.exit_code == 0:
        payload = strict_json(res.stdout)
        assert _warning_classes(payload), "all-zero weights gave a result without a warning"
    else:
        assert "'wt'" in res.stderr


# ---- a few runs of the real console entry point -----------------------------------------


def _subprocess(args: list[str]):
    return subprocess.run(
        [sys.executable, "-m", "cartlens.cli.main", "stats", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_subprocess_missing_file_exit_2(tmp_path):
    proc = _subprocess(["km", "--data", str(tmp_path / "nowhere.csv"), *SURV])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and "nowhere.csv" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_subprocess_bad_time_exit_2(tmp_path):
    path = write_csv(tmp_path / "d.csv", SCENARIOS["text_time"](base_rows()))
    proc = _subprocess(["cox", "--data", path, *ARGS["cox"], "--json"])
    assert proc.returncode == 2, proc.stderr
    assert "'os_days'" in proc.stderr and "abc" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_subprocess_typed_warning_exit_0(tmp_path):
    path = write_csv(tmp_path / "d.csv", SCENARIOS["all_censored"](base_rows()))
    proc = _subprocess(["km", "--data", path, *ARGS["km"], "--json"])
    assert proc.returncode == 0, proc.stderr
    assert "warning: NoEventsWarning" in proc.stderr and "Traceback" not in proc.stderr
    payload = strict_json(proc.stdout)
    assert all(g["median"] is None for g in payload["groups"])
    assert any(w.startswith("NoEventsWarning") for w in payload["warnings"])


def test_subprocess_unknown_option_is_a_usage_error(tmp_path):
    """Click's own usage errors also exit 2 (never 1)."""
    path = write_csv(tmp_path / "d.csv", base_rows())
    proc = _subprocess(["km", "--data", path, *SURV, "--no-such-option", "1"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


# ---- the Python API: the same rules without the command line --------------------------


def _api_cases():
    import pandas as pd

    from cartlens.stats.adjusted import adjusted_survival
    from cartlens.stats.competing import cuminc
    from cartlens.stats.concordance import concordance
    from cartlens.stats.cox import coxph
    from cartlens.stats.finegray import finegray
    from cartlens.stats.followup import median_followup
    from cartlens.stats.imputation import mice, rubin_pool
    from cartlens.stats.km import kaplan_meier
    from cartlens.stats.logrank import logrank_test
    from cartlens.stats.nonparametric import mann_whitney
    from cartlens.stats.propensity import propensity_score_arrays
    from cartlens.stats.rmst import rmst2
    from cartlens.stats.tables import fisher_test
    from cartlens.stats.weighting import iptw_weights

    t = np.array([3, 6, 9, 9, 12, 15, 15, 18, 21, 21, 24, 27.0])
    e = np.array([0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1])
    g = np.arange(12) % 2
    x = np.array([5, 1, 4, 2, 8, 3, 9, 7, 6, 0, 11, 10.0])
    neg = np.r_[-1.0, t[1:]]
    nan = np.r_[np.nan, t[1:]]
    status = np.where(e == 1, 1 + g, 0)
    X1 = x.reshape(-1, 1)
    return [
        ("km-event-2", lambda: kaplan_meier(t, 2 * e), "event"),
        ("km-event-half", lambda: kaplan_meier(t, 0.5 * e), "event"),
        ("km-nan-time", lambda: kaplan_meier(nan, e), "time"),
        ("km-negative-time", lambda: kaplan_meier(neg, e), "time"),
        ("km-length-mismatch", lambda: kaplan_meier(t[:-1], e), "event"),
        ("km-empty", lambda: kaplan_meier([], []), "time"),
        (
            "km-nan-weight",
            lambda: kaplan_meier(t, e, weights=np.r_[np.nan, np.ones(11)]),
            "weights",
        ),
        ("km-nan-group", lambda: kaplan_meier(t, e, group=np.r_[np.nan, g[1:]]), "group"),
        ("km-start-eq-stop", lambda: kaplan_meier(t, e, entry=t), "entry"),
        ("km-text-time", lambda: kaplan_meier(["a"] * 12, e), "time"),
        (
            "km-weights-zero",
            lambda: kaplan_meier(t, e, weights=np.zeros(12)),
            errors.NoEventsWarning,
        ),
        ("logrank-one-group", lambda: logrank_test(t, e, np.zeros(12)), "group"),
        ("logrank-event-2", lambda: logrank_test(t, 2 * e, g), "event"),
        ("followup-negative-time", lambda: median_followup(neg, e), "time"),
        ("cox-nan-x", lambda: coxph(t, e, np.r_[np.nan, x[1:]]), "x1"),
        ("cox-x-length", lambda: coxph(t, e, x[:-1]), "X"),
        ("cox-event-2", lambda: coxph(t, 2 * e, x), "event"),
        ("cox-negative-time", lambda: coxph(neg, e, x), "time"),
        ("cox-weights-zero", lambda: coxph(t, e, x, weights=np.zeros(12)), "weights"),
        ("cox-no-events", lambda: coxph(t, 0 * e, x), "event"),
        ("cox-nan-stratum", lambda: coxph(t, e, x, strata=np.r_[np.nan, g[1:]]), "strata"),
        ("cox-text-x", lambda: coxph(t, e, np.array(["a"] * 12)), "x1"),
        ("cuminc-nan-time", lambda: cuminc(nan, status), "time"),
        ("cuminc-negative-time", lambda: cuminc(neg, status), "time"),
        ("cuminc-length", lambda: cuminc(t[:-1], status), "event"),
        (
            "finegray-nan-x",
            lambda: finegray(t, status, np.r_[np.nan, x[1:]].reshape(-1, 1), failcode=1),
            "X",
        ),
        ("finegray-negative-time", lambda: finegray(neg, status, X1, failcode=1), "time"),
        ("ps-three-values", lambda: propensity_score_arrays(np.r_[2, g[1:]], X1), "treatment"),
        ("ps-constant", lambda: propensity_score_arrays(g, np.ones((12, 1))), "x1"),
        ("iptw-nan-ps", lambda: iptw_weights(np.r_[np.nan, np.full(11, 0.5)], g), "ps"),
        ("concordance-nan-x", lambda: concordance(t, e, np.r_[np.nan, x[1:]]), "x"),
        ("concordance-event-2", lambda: concordance(t, 2 * e, x), "event"),
        # issue 12's functions
        (
            "fisher-rxc-one-sided",
            lambda: fisher_test([[1, 2, 3], [3, 2, 1]], alternative="less"),
            "alternative",
        ),
        (
            "fisher-rxc-seed",
            lambda: fisher_test([[1, 2, 3], [3, 2, 1]], simulate_p_value=True, seed=-1),
            "seed",
        ),
        ("rmst2-three-groups", lambda: rmst2(t, e, np.arange(12) % 3), "group"),
        ("rmst2-negative-time", lambda: rmst2(neg, e, g), "time"),
        ("rmst2-tau", lambda: rmst2(t, e, g, tau=1000), "tau"),
        (
            "hl-conf-level",
            lambda: mann_whitney(x[:6], x[6:], conf_int=True, conf_level=2),
            "conf_level",
        ),
        ("pool-one-imputation", lambda: rubin_pool([[1.0]], [[1.0]]), "m"),
        ("mice-m-1", lambda: mice(pd.DataFrame({"a": [1.0, np.nan, 2, 3]}), m=1), "m"),
        (
            "adjusted-method",
            lambda: adjusted_survival(
                pd.DataFrame({"t": t, "e": e, "g": g, "x": x}),
                time="t",
                event="e",
                treatment="g",
                formula="x",
                times=[5],
                method="nope",
            ),
            "method",
        ),
    ]


def _api_params():
    out = []
    for c in _api_cases():
        out.append(c if isinstance(c, type(pytest.param(0))) else pytest.param(*c, id=c[0]))
    return out


@pytest.mark.parametrize("name, call, expect", _api_params())
def test_python_api_bad_input(name, call, expect):
    """The functions behind the commands: InputError naming the argument (``.column``), or a
    typed warning with a result - never a bare numpy/pandas exception or a silent NaN."""
    import warnings

    if isinstance(expect, str):
        with warnings.catch_warnings(action="ignore"), pytest.raises(errors.InputError) as exc:
            call()
        assert exc.value.column == expect, str(exc.value)
    else:
        with pytest.warns(expect):
            result = call()
        strict_json(json.dumps(result.to_dict(), allow_nan=False))
