"""docs/data-model.md is generated from the schema and must be in sync with it."""

from __future__ import annotations

from pathlib import Path

from cartlens.derive.docs import render_data_model
from cartlens.model import ENTITIES

DOC = Path(__file__).parents[2] / "docs" / "data-model.md"


def test_data_model_doc_in_sync():
    """Regenerate with: python -m cartlens.derive.docs > docs/data-model.md"""
    assert DOC.read_text() == render_data_model()


def test_every_field_documented():
    text = DOC.read_text()
    for e in ENTITIES:
        assert f"`{e.file_name}`" in text
        for f in e.fields:
            assert f"| `{f.name}` |" in text


def test_enum_fields_have_vocab_and_examples_valid():
    for e in ENTITIES:
        assert set(e.key) <= set(e.columns)
        for f in e.fields:
            assert (f.kind == "enum") == (f.vocab is not None), f.name
            if f.vocab is not None:
                assert f.example in f.allowed, (e.name, f.name)
