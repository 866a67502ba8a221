"""Layer 7: the ``cartlens`` command (typer). Commands live in ``cartlens.cli.commands``."""
