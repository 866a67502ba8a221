"""One name for a factor term in every command: ``var[level]`` (README, "Model terms").

Before, the same level was ``grp[B]`` in ``cox``, ``C(grp)[B]`` in ``logistic`` and
``C(grp)[T.B]`` in ``ps`` and ``match``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cli_runner import run_json


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    rng = np.random.default_rng(7)
    n = 160
    df = pd.DataFrame(
        {
            "time": rng.exponential(10, n).round(2) + 0.1,
            "status": rng.integers(0, 2, n),
            "grp": rng.choice(["A", "B", "C"], n),
            "age": rng.normal(60, 10, n).round(1),
            "treat": rng.integers(0, 2, n),
            "resp": rng.integers(0, 2, n),
        }
    )
    path = tmp_path_factory.mktemp("names") / "d.csv"
    df.to_csv(path, index=False)
    return str(path)


def _terms(rows) -> list[str]:
    return [r["term"] for r in rows]


@pytest.mark.parametrize("rhs", ["age + C(grp)", "age + grp"])
def test_every_model_command_names_levels_var_level(csv, rhs):
    cox = _terms(
        run_json("cox", "--data", csv, "--time", "time", "--event", "status", "--formula", rhs)[
            "terms"
        ]
    )
    logit = _terms(run_json("logistic", "--data", csv, "--formula", f"resp ~ {rhs}")["terms"])
    ps = run_json("ps", "--data", csv, "--treatment", "treat", "--formula", rhs)
    match = run_json("match", "--data", csv, "--treatment", "treat", "--formula", rhs)
    assert cox == ["age", "grp[B]", "grp[C]"]
    assert logit == ["(Intercept)", "age", "grp[B]", "grp[C]"]
    for out in (ps, match):
        assert _terms(out["ps_model"]["terms"]) == ["Intercept", "age", "grp[B]", "grp[C]"]
        assert {"grp[B]", "grp[C]"} <= set(out["smd_before"])


def test_interaction_names_join_var_level_parts(csv):
    logit = _terms(run_json("logistic", "--data", csv, "--formula", "resp ~ age * C(grp)")["terms"])
    assert "age:grp[B]" in logit and "age:grp[C]" in logit
    assert not [t for t in logit if "C(" in t or "[T." in t]
