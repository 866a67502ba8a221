"""A session-wide run of the reference study on the bundled demo registry (shared by tests)."""

from __future__ import annotations

from pathlib import Path

import pytest


def demo_run_dir(tmp_path_factory) -> Path:
    """Run the bundled study on the bundled registry once per session; return the folder."""
    from cartlens.report.pipeline import run_to_directory
    from cartlens.study.demo_data import DEMO_REGISTRY_DIR
    from cartlens.study.spec import REFERENCE_STUDY

    out = tmp_path_factory.getbasetemp() / "cartlens-demo-run"
    if not (out / "report.html").exists():
        run_to_directory(REFERENCE_STUDY, DEMO_REGISTRY_DIR, out)
    return out


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    return demo_run_dir(tmp_path_factory)


def example_run_dir(tmp_path_factory) -> Path:
    """Import the SYNTHETIC multi-product REDCap example and run its study, once per session."""
    from cartlens.report.pipeline import run_to_directory
    from example_registry import EXAMPLE, import_example

    base = tmp_path_factory.getbasetemp()
    out = base / "cartlens-example-run"
    if not (out / "report.html").exists():
        store = import_example(base / "example.duckdb")
        run_to_directory(EXAMPLE / "study.toml", store, out)
    return out


@pytest.fixture(scope="session")
def example_run(tmp_path_factory) -> Path:
    return example_run_dir(tmp_path_factory)
