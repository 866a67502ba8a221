"""In-process ``cartlens stats`` invocations for the command-line tests.

Every command module is loaded once (as the console script does), then typer's CliRunner
calls the real application: ``run`` gives the click Result, ``run_json`` adds ``--json``,
requires exit status 0 and parses stdout.
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cartlens.cli.apps import app
from cartlens.cli.main import _load_commands

_load_commands()
RUNNER = CliRunner()


def run(*args: str):
    """``cartlens stats ARGS`` in process."""
    return RUNNER.invoke(app, ["stats", *args])


def run_json(*args: str) -> dict:
    """``cartlens stats ARGS --json``; the command must succeed."""
    res = run(*args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)
