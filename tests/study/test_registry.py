"""One module per analysis type: registered by type, no file dispatches on the type name."""

from __future__ import annotations

import re
from pathlib import Path

from cartlens.report.analyses import RENDERERS
from cartlens.study.analyses import REGISTRY, AnalysisSpec
from cartlens.study.spec import REFERENCE_STUDY, load_study

SRC = Path(__file__).resolve().parents[2] / "src" / "cartlens"
DISPATCH = re.compile(r"\.type\s*(==|!=|in\s*[\(\[\{])|\btype\s*==\s*\"")


def test_every_analysis_type_has_a_spec_a_run_and_a_renderer():
    assert len(REGISTRY) >= 12
    for name, t in REGISTRY.items():
        assert issubclass(t.spec, AnalysisSpec), name
        assert t.spec.model_fields["type"].annotation.__args__ == (name,)
        assert callable(t.run)
        assert name in RENDERERS, f"analysis type '{name}' has no renderer"
    assert set(RENDERERS) == set(REGISTRY)


def test_the_study_union_is_the_registry():
    study = load_study(REFERENCE_STUDY)
    for a in study.analyses:
        assert isinstance(a, REGISTRY[a.type].spec)


def test_no_file_of_the_study_or_report_layer_dispatches_on_the_analysis_type():
    bad = []
    for layer in ("study", "report"):
        for path in sorted((SRC / layer).rglob("*.py")):
            for no, line in enumerate(path.read_text().splitlines(), start=1):
                if DISPATCH.search(line):
                    bad.append(f"{path.relative_to(SRC)}:{no}: {line.strip()}")
    assert not bad, "\n".join(bad)
