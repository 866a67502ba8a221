"""Write demo_followup.csv: the follow-up endpoints of the bundled SYNTHETIC demo registry, as
``cartlens.derive.followup_table`` derives them (the input of make_followup.R).

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


def demo_followup():
    from cartlens.derive import followup_table
    from cartlens.ingest import import_registry
    from cartlens.study.demo_data import DEMO_REGISTRY_DIR

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "demo.duckdb"
        rep = import_registry(DEMO_REGISTRY_DIR, store, today=dt.date(2024, 1, 1))
        assert rep.ok
        return followup_table(store)[COLUMNS]


if __name__ == "__main__":
    demo_followup().to_csv(Path(__file__).parent / "demo_followup.csv", index=False)
