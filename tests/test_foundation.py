"""The shared foundations: JSON safety and the tidy schema of results."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np

from cartlens.results import TIDY_COLUMNS, Result, json_safe


@dataclasses.dataclass(frozen=True)
class _Demo(Result):
    n: int
    estimate: float
    groups: tuple


def test_json_safe_turns_nan_and_inf_into_null():
    d = json_safe({"a": math.nan, "b": np.inf, "c": np.float64(1.5), "d": np.arange(2)})
    assert d == {"a": None, "b": None, "c": 1.5, "d": [0, 1]}
    json.dumps(d, allow_nan=False)


def test_result_to_frame_labels_groups_and_times():
    r = _Demo(n=3, estimate=math.nan, groups=({"group": "A", "at": [{"time": 1.0, "surv": 0.5}]},))
    df = r.to_frame()
    assert list(df.columns) == list(TIDY_COLUMNS)
    row = df[df["stat"] == "groups.at.surv"].iloc[0]
    assert (row["group"], row["time"], row["value"]) == ("A", 1.0, 0.5)
    assert df.loc[df["stat"] == "estimate", "value"].isna().all()
    with __import__("pytest").raises(dataclasses.FrozenInstanceError):
        r.n = 4  # type: ignore[misc]


def test_cli_version_runs():
    out = subprocess.run(
        [sys.executable, "-m", "cartlens.cli.main", "version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("cartlens ")
