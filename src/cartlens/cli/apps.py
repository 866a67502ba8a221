"""The typer applications that command modules attach to.

Each module in :mod:`cartlens.cli.commands` imports the app it extends from here and
decorates its functions; :mod:`cartlens.cli.main` imports every such module. Heavy imports
(numpy, pandas, matplotlib) belong inside the command functions so that ``cartlens --help``
stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="cartlens",
    help="CAR T-cell registry outcome analyses that match R.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stats_app = typer.Typer(
    help="Statistics on any CSV (tables by default, JSON with --json).",
    no_args_is_help=True,
)
registry_app = typer.Typer(
    help="Create, import into, validate, summarise and export a registry store.",
    no_args_is_help=True,
)
app.add_typer(stats_app, name="stats")
app.add_typer(registry_app, name="registry")
