"""The demo report: sections, the methods paragraph from the settings, figures beside it."""

from __future__ import annotations

import re


def test_methods_state_the_settings_used(demo_run):
    html = (demo_run / "report.html").read_text()
    methods = html[html.index('id="methods"') :]
    for phrase in (
        "day 21 and day 35",
        "1 month = 30.4375 days",
        "exact Clopper-Pearson",
        "without continuity correction",
        "ASTCT 2019",
        "never at transplant",
        "McNemar",
        "time-dependent covariate",
        "cartlens ",
    ):
        assert phrase in methods, phrase


def test_every_inline_figure_is_also_saved_as_svg_and_png(demo_run):
    html = (demo_run / "report.html").read_text()
    ids = re.findall(r'<figure class="figure" id="fig-([A-Za-z0-9_]+)"', html)
    assert len(ids) >= 12
    for fid in ids:
        assert (demo_run / "figures" / f"{fid}.svg").stat().st_size > 0, fid
        assert (demo_run / "figures" / f"{fid}.png").stat().st_size > 0, fid


def test_report_shows_what_the_study_did_not_do(demo_run):
    html = (demo_run / "report.html").read_text()
    section = html[html.index('id="not_done"') : html.index('id="replication"')]
    assert "McNemar" in section
    assert "independent" in section
    assert "Time-dependent Cox" in section and "Landmark" in section
    assert "Mantel-Byar" in section
    assert "ImmortalTimeWarning" in html
    assert "reproducibility" in html and "SHA-256" in html


def test_small_cell_suppression_applies_to_tables_and_figures(tmp_path):
    import json

    from cartlens.report.pipeline import run_to_directory
    from cartlens.study.demo_data import DEMO_REGISTRY_DIR
    from cartlens.study.spec import REFERENCE_STUDY

    text = REFERENCE_STUDY.read_text().replace(
        "small_cell_threshold = 0", "small_cell_threshold = 5"
    )
    study = tmp_path / "study.toml"
    study.write_text(text)
    out = tmp_path / "out"
    run_to_directory(study, DEMO_REGISTRY_DIR, out)
    html = (out / "report.html").read_text()
    assert "&lt;5 (-)" in html  # e.g. 1 ICANS after CART2, and no percentage beside it
    assert "&lt;5" in (out / "figures" / "km_adjusted_os.svg").read_text()  # numbers at risk
    # results.json keeps the exact numbers
    assert json.loads((out / "results.json").read_text())["replication"]["cart2_icans"] == 1
