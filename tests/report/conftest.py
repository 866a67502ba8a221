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


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "multi_product"


def example_run_dir(tmp_path_factory) -> Path:
    """Import the SYNTHETIC multi-product REDCap example and run its study, once per session."""
    from cartlens.ingest.store import import_registry
    from cartlens.report.pipeline import run_to_directory

    base = tmp_path_factory.getbasetemp()
    out = base / "cartlens-example-run"
    if not (out / "report.html").exists():
        store = base / "example.duckdb"
        rc = EXAMPLE / "redcap"
        rep = import_registry(
            rc / "export.csv",
            store,
            mapping=rc / "mapping.toml",
            dictionary=rc / "dictionary.csv",
            mode="replace",
        )
        assert rep.ok, rep.errors.head()
        run_to_directory(EXAMPLE / "study.toml", store, out)
    return out


@pytest.fixture(scope="session")
def example_run(tmp_path_factory) -> Path:
    return example_run_dir(tmp_path_factory)
