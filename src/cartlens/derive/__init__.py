"""Layer 3: per-infusion analysis tables, endpoints and counting-process exposure.

The derivations are SQL (DuckDB dialect, :mod:`cartlens.derive.sql`) run inside the store;
:class:`DeriveSettings` holds the event definitions and censoring rules and travels with every
derived frame (``df.attrs["derive_settings"]``).
"""

from cartlens.derive.followup import FollowupSettings, followup_table
from cartlens.derive.settings import DeriveSettings
from cartlens.derive.tables import exposure_intervals, infusion_table, materialize, table_settings

__all__ = [
    "DeriveSettings",
    "FollowupSettings",
    "followup_table",
    "exposure_intervals",
    "infusion_table",
    "materialize",
    "table_settings",
]
