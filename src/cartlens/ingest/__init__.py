"""Layer 2: readers, validation rules and the transactional import into the DuckDB store.

Public API: :func:`import_registry`, :func:`validate_registry`, :func:`open_store`,
:func:`init_store`, :func:`export_registry`, :func:`read_source`, :data:`RULES`.
"""

from cartlens.ingest.readers import read_source
from cartlens.ingest.rules import RULES
from cartlens.ingest.store import (
    DEFAULT_STORE,
    SCHEMA_VERSION,
    ImportReport,
    export_registry,
    import_registry,
    init_store,
    open_store,
    store_summary,
    validate_registry,
)

__all__ = [
    "DEFAULT_STORE",
    "RULES",
    "SCHEMA_VERSION",
    "ImportReport",
    "export_registry",
    "import_registry",
    "init_store",
    "open_store",
    "read_source",
    "store_summary",
    "validate_registry",
]
