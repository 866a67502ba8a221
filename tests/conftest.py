"""Shared fixtures: paths to the project's own copies of the R reference data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests: in CI (CI=true) a derandomised profile, so every run draws the same cases and
# a failure can be reproduced; locally the random search (and its example database) stays.
settings.register_profile(
    "ci", derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
settings.register_profile("dev", print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev")
)

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE


def load_reference(name: str) -> dict:
    """Load ``tests/data/reference/<name>.json`` (made by R; see the README there)."""
    with open(REFERENCE / f"{name}.json") as f:
        return json.load(f)
