"""The adjusted-curves figure renders from :class:`cartlens.stats.adjusted.AdjustedCurves`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cartlens.report.figures.adjusted import adjusted_curves_figure
from cartlens.stats.adjusted import adjusted_survival

DATA = Path(__file__).parents[1] / "data" / "reference" / "data"


def test_adjusted_curves_figure_has_curves_cis_and_two_risk_rows_per_level(tmp_path):
    d = pd.read_csv(DATA / "lung.csv")
    d = d[d["ph.ecog"].notna()].assign(dead=lambda x: (x.status == 2).astype(int))
    r = adjusted_survival(
        d,
        time="time",
        event="dead",
        treatment="sex",
        formula="age + ph.ecog",
        times=[180, 365],
        method="iptw",
        B=20,
        seed=1,
        risk_times=[0, 400, 800],
    )
    fig = adjusted_curves_figure(r, labels={1: "male", 2: "female"}, time_unit="days")
    ax, tab = fig.axes
    assert [h.get_label() for h in ax.get_legend_handles_labels()[0]] == ["male", "female"]
    assert len(ax.containers) == 2  # one set of CI bars per level
    assert [t.get_text() for t in tab.get_yticklabels()] == [
        "male",
        "male, weighted",
        "female",
        "female, weighted",
    ]
    unweighted = [t.get_text() for t in tab.texts[:3]]
    assert unweighted == [f"{n:.0f}" for n in r.risk_table[0]["n_risk"]]
    assert "bootstrap CI" in ax.get_ylabel()
    out = tmp_path / "adj.svg"
    fig.savefig(out)
    assert out.stat().st_size > 1000
