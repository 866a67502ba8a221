"""Generate ``docs/data-model.md``: entities, validation rules and derived columns.

Run ``python -m cartlens.derive.docs > docs/data-model.md`` after changing the schema, the
rules or the derived columns; ``tests/model/test_docs.py`` fails while the file is out of date.
"""

from __future__ import annotations

from cartlens.model.docs import render_model


def render_data_model() -> str:
    """The whole of ``docs/data-model.md``."""
    parts = [render_model()]
    from cartlens.ingest.docs import render_sources
    from cartlens.ingest.rules import render_rules

    parts.append(render_sources())
    parts.append(render_rules())
    from cartlens.derive.columns import render_derived

    parts.append(render_derived())
    from cartlens.derive.followup import render_followup

    parts.append(render_followup())
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover
    print(render_data_model(), end="")
