"""Shared fixtures: paths to the project's own copies of the R reference data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE


def load_reference(name: str) -> dict:
    """Load ``tests/data/reference/<name>.json`` (made by R; see the README there)."""
    with open(REFERENCE / f"{name}.json") as f:
        return json.load(f)
