"""Entry point of the ``cartlens`` console script."""

from __future__ import annotations

import importlib
import pkgutil

from cartlens.cli import commands
from cartlens.cli.apps import app


def _load_commands() -> None:
    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{commands.__name__}.{mod.name}")


def main() -> None:
    """Run the command line."""
    _load_commands()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
