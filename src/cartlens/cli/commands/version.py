"""``cartlens version``."""

from __future__ import annotations

from cartlens import __version__
from cartlens.cli.apps import app


@app.command()
def version() -> None:
    """Print the cartlens version."""
    print(f"cartlens {__version__}")
