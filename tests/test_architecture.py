"""The layer rule of docs/architecture.md: a layer imports only from the layers before it.

Layers in order: model, ingest, derive, stats, study, report, api, cli. ``cartlens.results`` and
``cartlens.errors`` (and the package root) are foundations every layer may use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "cartlens"
LAYERS = ["model", "ingest", "derive", "stats", "study", "report", "api", "cli"]
FOUNDATIONS = {"results", "errors", ""}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return [(ln, n) for ln, n in out if n == "cartlens" or n.startswith("cartlens.")]


def _layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_earlier_layers(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1]) | FOUNDATIONS
    bad = []
    for path in sorted((SRC / layer).rglob("*.py")):
        for line, name in _imports(path):
            target = _layer_of(name)
            if target not in allowed:
                bad.append(f"{path.relative_to(SRC)}:{line} imports {name}")
    assert not bad, "layer rule broken:\n" + "\n".join(bad)


def test_foundations_import_no_layer():
    for name in ("results.py", "errors.py"):
        for line, mod in _imports(SRC / name):
            assert _layer_of(mod) in FOUNDATIONS, f"{name}:{line} imports {mod}"


def test_package_root_imports_no_layer_eagerly():
    """``import cartlens`` stays fast: the root reaches the API only through ``__getattr__``."""
    tree = ast.parse((SRC / "__init__.py").read_text())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert not top, "cartlens/__init__.py imports at module level"
