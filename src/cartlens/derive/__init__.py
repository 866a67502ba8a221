"""Layer 3: courses, per-infusion tables, endpoints, time-varying exposure (SQL in DuckDB)."""
