"""The SYNTHETIC multi-product example (examples/multi_product), imported into a store."""

from __future__ import annotations

from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "multi_product"


def import_example(store: Path) -> Path:
    """Import the example's REDCap export (with its mapping and dictionary) into ``store``."""
    from cartlens.ingest.store import import_registry

    rc = EXAMPLE / "redcap"
    rep = import_registry(
        rc / "export.csv",
        store,
        mapping=rc / "mapping.toml",
        dictionary=rc / "dictionary.csv",
        mode="replace",
    )
    assert rep.ok, rep.errors.head()
    return store
