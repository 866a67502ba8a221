"""Entry point of the ``cartlens`` console script."""

from __future__ import annotations

import importlib
import os
import pkgutil

# One BLAS thread unless the user asks for more (set before numpy is first imported). The
# matrices here are n x p with small p: memory-bound products that extra threads do not
# speed up, while on shared cores the threads' spinning made them up to 25x slower (the
# 100,000-patient reference study: 78 s with OpenBLAS's default threads, 50 s with one).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from cartlens.cli import commands  # noqa: E402
from cartlens.cli.apps import app  # noqa: E402


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
