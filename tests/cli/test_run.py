"""``cartlens run``: bad study files give a clear error, exit 2 and no output folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cartlens.study.demo_data import DEMO_REGISTRY_DIR
from cartlens.study.spec import REFERENCE_STUDY

REFERENCE_TEXT = REFERENCE_STUDY.read_text()


def _run(study: Path, out: Path, registry: Path = DEMO_REGISTRY_DIR):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cartlens.cli.main",
            "run",
            str(study),
            "--registry",
            str(registry),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("case", "old", "new", "expect"),
    [
        (
            "unknown key",
            "decimals = 1\n",
            "decimals = 1\ndecimal_places = 2\n",
            ["presentation.decimal_places", "unknown key"],
        ),
        (
            "wrong type",
            "month_days = 30.4375",
            'month_days = "thirty"',
            ["presentation.month_days", "thirty"],
        ),
        (
            "filter on a missing column",
            'where = { reason_group = "relapse" }',
            'where = { reinfusion_cause = "relapse" }',
            ["cohorts.cart2_relapse.where.reinfusion_cause", "does not exist"],
        ),
        (
            "empty cohort",
            "where = { hsct_before = true }",
            'where = { hsct_before = true, age = { op = ">", value = 200 } }',
            ["cohort 'posthsct_cart2' is empty"],
        ),
    ],
)
def test_bad_study_file(tmp_path, case, old, new, expect):
    assert old in REFERENCE_TEXT, case
    text = REFERENCE_TEXT.replace(old, new, 1)
    study = tmp_path / "study.toml"
    study.write_text(text)
    out = tmp_path / "out"
    res = _run(study, out)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    for e in expect:
        assert e in res.stderr, res.stderr
    needle = {
        "unknown key": "decimal_places",
        "empty cohort": "[cohorts.posthsct_cart2]",
    }.get(case, new)
    assert f"line {_line_of(text, needle)}" in res.stderr, res.stderr
    assert not out.exists()
    assert not any(p.name.startswith(".out.tmp") for p in tmp_path.iterdir())


def test_missing_registry_is_exit_2(tmp_path):
    res = _run(REFERENCE_STUDY, tmp_path / "out", registry=tmp_path / "nope")
    assert res.returncode == 2
    assert "does not exist" in res.stderr
    assert not (tmp_path / "out").exists()


def test_invalid_registry_folder_is_exit_2_naming_file_row_column(tmp_path):
    import shutil

    reg = tmp_path / "registry"
    shutil.copytree(DEMO_REGISTRY_DIR, reg)
    lines = (reg / "infusions.csv").read_text().splitlines()
    fields = lines[1].split(",")
    fields[2] = "2020-13-45"  # infusion_date of the first infusion
    lines[1] = ",".join(fields)
    (reg / "infusions.csv").write_text("\n".join(lines) + "\n")
    res = _run(REFERENCE_STUDY, tmp_path / "out", registry=reg)
    assert res.returncode == 2
    assert "infusions.csv row 1 column infusion_date" in res.stderr
    assert "2020-13-45" in res.stderr
    assert not (tmp_path / "out").exists()
