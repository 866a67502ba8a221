"""Shared lung propensity-score set-up for the adjustment tests (lung.json -> propensity).

Used by test_propensity, test_weighting, test_matching and test_balance: the R reference
block, the covariates and the analysis data set of those R calls.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from conftest import load_reference

REFERENCE = Path(__file__).parents[1] / "data" / "reference"

PS = load_reference("lung")["propensity"]
COVS = ["age", "ph.ecog"]


def lung_ps() -> pd.DataFrame:
    """lung rows with non-missing ph.ecog; female = sex == 2; dead = status == 2 (n = 227)."""
    df = pd.read_csv(REFERENCE / "data" / "lung.csv")
    df = df.loc[df["ph.ecog"].notna()].reset_index(drop=True)
    df["female"] = (df["sex"] == 2).astype(int)
    df["dead"] = (df["status"] == 2).astype(int)
    return df
