"""Layer 2: readers, validation rules and the transactional import into the DuckDB store."""
