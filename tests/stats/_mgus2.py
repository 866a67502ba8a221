"""Shared mgus2 competing-risks set-up for test_competing and test_finegray.

The R reference copies (tests/data/reference) are located here rather than imported from
conftest, whose module name is ambiguous when several test folders have one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE = Path(__file__).parents[1] / "data" / "reference"
DATA = Path(__file__).parents[1] / "data"


def load_reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text())


def mgus2_cr_frame() -> pd.DataFrame:
    """mgus2 with the cmprsk coding of the R reference: ``etime`` = time to progression, else
    to death/censoring; ``event`` = 1 progression, 2 death without progression, 0 censored."""
    d = pd.read_csv(REFERENCE / "data" / "mgus2.csv")
    d["etime"] = np.where(d.pstat == 0, d.futime, d.ptime).astype(float)
    d["event"] = np.where(d.pstat == 0, 2 * d.death, 1).astype(int)
    return d
