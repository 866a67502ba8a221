"""Layer 5: the typed study specification (TOML) and the runner that executes it."""
