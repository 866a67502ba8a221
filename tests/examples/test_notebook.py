"""The example notebook runs end to end in a real Jupyter kernel (nbclient + ipykernel).

A kernel spec for this interpreter is written to a temporary ``JUPYTER_PATH``, so the kernel
is the test's own Python (the virtual environment with cartlens installed), whatever kernels
the machine has. Any error cell fails the test (nbclient raises ``CellExecutionError``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"
NOTEBOOK = EXAMPLES / "notebook-demo.ipynb"


@pytest.fixture
def kernel_name(tmp_path, monkeypatch) -> str:
    spec = tmp_path / "jupyter" / "kernels" / "cartlens-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "cartlens test",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "cartlens-test"


@pytest.mark.slow
def test_demo_notebook_executes_without_error(kernel_name, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(c.outputs for c in code), "commit the notebook without outputs"
    client = NotebookClient(
        nb, timeout=600, kernel_name=kernel_name, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError at the first error cell
    outputs = [o for c in code for o in c.outputs]
    assert all(c.execution_count for c in code)
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    png = [o for o in outputs if "image/png" in o.get("data", {})]
    text = "".join(o.get("text", "") for o in outputs)
    # Table 1, the fits' tables, and the KM / forest / CIF / Love / weighted-KM figures
    assert any("Characteristic" in h and "N = " in h for h in html)
    assert any("exp(coef)" in h for h in html)
    assert len(png) >= 5
    assert "imported: True - errors: 0" in text
    assert "cytogenetic_risk=favourable" in text
