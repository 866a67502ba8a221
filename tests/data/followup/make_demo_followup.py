"""Write demo_followup.csv (the follow-up endpoints of the bundled SYNTHETIC demo registry, as
``cartlens.derive.followup_table`` derives them) and demo_bca_intervals.csv (CART1's PFS
counting-process rows with the time-varying loss of B-cell aplasia), the inputs of
make_followup.R.

Run from the repository root:  .venv/bin/python tests/data/followup/make_demo_followup.py
then, in this folder:           Rscript make_followup.R
``tests/derive/test_followup_r.py`` fails when this CSV no longer equals a fresh derivation.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

COLUMNS = [
    "infusion_id",
    "course_number",
    "infection_days",
    "infection_event",
    "severe_infection_days",
    "severe_infection_event",
    "ttnt_days",
    "ttnt_event",
    "spm_days",
    "spm_event",
]


INTERVAL_COLUMNS = ["infusion_id", "tstart", "tstop", "event", "hsct", "bca_lost"]


def demo_followup():
    """(follow-up endpoints, PFS intervals of CART1 with time-varying bca_lost)."""
    from cartlens.derive import FollowupSettings, exposure_intervals, followup_table
    from cartlens.ingest import import_registry
    from cartlens.study.demo_data import DEMO_REGISTRY_DIR

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "demo.duckdb"
        rep = import_registry(DEMO_REGISTRY_DIR, store, today=dt.date(2024, 1, 1))
        assert rep.ok
        iv = exposure_intervals(store, endpoint="pfs", followup=FollowupSettings())
        iv = iv[iv["course_number"] == 1][INTERVAL_COLUMNS].reset_index(drop=True)
        return followup_table(store)[COLUMNS], iv


if __name__ == "__main__":
    here = Path(__file__).parent
    endpoints, intervals = demo_followup()
    endpoints.to_csv(here / "demo_followup.csv", index=False)
    intervals.to_csv(here / "demo_bca_intervals.csv", index=False)
