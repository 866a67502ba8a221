"""``cartlens stats`` event columns (issue 10, point 9): 0/code as given, 1/2 as R's Surv
(1 censored, 2 event) with a note, any other coding refused naming the values."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from cartlens.cli.apps import app
from cartlens.cli.main import _load_commands
from conftest import REFERENCE, load_reference

_load_commands()
RUNNER = CliRunner()
LUNG = REFERENCE / "data" / "lung.csv"


def km(path, *extra):
    res = RUNNER.invoke(
        app,
        [
            "stats",
            "km",
            "--data",
            str(path),
            "--time",
            "time",
            "--event",
            "status",
            "--group",
            "sex",
            *extra,
            "--json",
        ],
    )
    return res


def test_lung_status_1_2_reads_as_r_surv_with_a_note():
    """R: survfit(Surv(time, status) ~ sex, data = lung) - status 1 censored, 2 dead; the
    reference was made with status == 2, the same fit."""
    ref = load_reference("lung")["km"]["by_sex"]["groups"]
    res = km(LUNG)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    notes = [w for w in out.get("warnings", []) if w.startswith("EventCodingNote")]
    assert len(notes) == 1 and "1 = censored, 2 = event" in notes[0] and "'status'" in notes[0]
    events = {str(g["group"]): g["events"] for g in out["groups"]}
    assert events == {"1": ref["sex=1"]["events"], "2": ref["sex=2"]["events"]}
    medians = {str(g["group"]): g["median"] for g in out["groups"]}
    assert medians["1"] == ref["sex=1"]["median"]["log"]["median"]
    # the same numbers as naming the event code, which gives no note
    explicit = km(LUNG, "--event-code", "2")
    assert explicit.exit_code == 0
    e = json.loads(explicit.stdout)
    assert e["groups"] == out["groups"]
    assert not any(w.startswith("EventCodingNote") for w in e.get("warnings", []))


def _recoded(tmp_path, fn):
    with open(LUNG, newline="") as f:
        rows = list(csv.DictReader(f))
    for i, r in enumerate(rows):
        r["status"] = fn(i, r["status"])
    p = tmp_path / "lung.csv"
    with open(p, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return p


@pytest.mark.parametrize(
    ("fn", "extra", "needles"),
    [
        (lambda i, s: "3" if i == 7 else s, (), ("'3'", "'status'")),  # 1/2/3
        (lambda i, s: {"1": "alive", "2": "dead"}[s], (), ("'alive'", "'dead'")),
        (lambda i, s: {"1": "0", "2": "1"}[s], ("--event-code", "2"), ("'1'", "'2'")),
        (lambda i, s: s, ("--event-code", "dead"), ("'1'", "'2'", "'dead'")),
    ],
)
def test_other_codings_are_refused_naming_the_values(tmp_path, fn, extra, needles):
    res = km(_recoded(tmp_path, fn), *extra)
    assert res.exit_code == 2 and "Traceback" not in res.output
    for n in needles:
        assert n in res.stderr


def test_zero_one_and_true_false_are_read_as_given(tmp_path):
    zero_one = km(_recoded(tmp_path, lambda i, s: {"1": "0", "2": "1"}[s]))
    logical = km(
        _recoded(tmp_path, lambda i, s: {"1": "FALSE", "2": "TRUE"}[s]), "--event-code", "TRUE"
    )
    r12 = km(LUNG)
    for res in (zero_one, logical):
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        assert not any(w.startswith("EventCodingNote") for w in out.get("warnings", []))
        assert out["groups"] == json.loads(r12.stdout)["groups"]
