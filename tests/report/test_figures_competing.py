"""Competing-risks / time-dependent exposure figures render."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartlens.errors import InputError
from cartlens.report.figures.competing import (
    cif_band_figure,
    cif_figure,
    landmark_figure,
    simon_makuch_figure,
)
from cartlens.stats.competing import cuminc, numbers_at_risk
from cartlens.stats.landmark import landmark_series
from cartlens.stats.timedep import simon_makuch

# the R reference copies (tests/data/reference); defined here rather than imported from
# conftest, whose module name is ambiguous when several test folders have one
REFERENCE = Path(__file__).parents[1] / "data" / "reference"


@pytest.fixture(scope="module")
def mgus2():
    d = pd.read_csv(REFERENCE / "data" / "mgus2.csv")
    et = np.where(d.pstat == 0, d.futime, d.ptime).astype(float)
    ev = np.where(d.pstat == 0, 2 * d.death, 1)
    return et, ev, d.sex.to_numpy()


def _check(fig, tmp_path, name):
    assert fig.axes and any(ax.lines or ax.collections for ax in fig.axes)
    for ext in ("svg", "png"):
        out = tmp_path / f"{name}.{ext}"
        fig.savefig(out)
        assert out.stat().st_size > 1000


def test_cif_figure(mgus2, tmp_path):
    et, ev, sex = mgus2
    res = cuminc(et, ev, group=sex)
    times = [0, 100, 200, 300]
    risk = numbers_at_risk(et, times, group=sex)
    assert risk["F"][0] == (sex == "F").sum()
    fig = cif_figure(res, at_risk=risk, risk_times=times, cause_labels={1: "PCM", 2: "death"})
    assert len(fig.axes) == 4
    _check(fig, tmp_path, "cif")
    _check(cif_figure(cuminc(et, ev), stacked=False), tmp_path, "cif_lines")


def test_simon_makuch_and_landmark_figures(tmp_path):
    j = pd.read_csv(REFERENCE / "data" / "jasa1.csv")
    km = simon_makuch(j.start, j.stop, j.event, j.transplant)
    _check(simon_makuch_figure(km, risk_times=[0, 100, 200, 300]), tmp_path, "sm")
    p = pd.read_csv(REFERENCE / "derived" / "jasa1_per_patient.csv")
    p["tx"] = p["id"].map(j[j.transplant == 1].groupby("id")["start"].min())
    series = landmark_series(p.futime, p.dead, p.tx, [30, 90])
    fig = landmark_figure(series, risk_times=[0, 200, 400])
    _check(fig, tmp_path, "landmark")


def test_cif_band_figure_draws_a_band_per_group_and_a_labelled_risk_table(mgus2, tmp_path):
    et, ev, sex = mgus2
    res = cuminc(et, ev, group=sex)
    times = [0, 100, 200, 300]
    risk = numbers_at_risk(et, times, group=sex)
    fig = cif_band_figure(res, 1, at_risk=risk, risk_times=times, cause_label="PCM")
    ax, tab = fig.axes
    assert len(ax.collections) == 2  # one CI band per group
    assert len(ax.lines) == 2
    assert [t.get_text() for t in tab.get_yticklabels()] == ["F", "M"]
    shown = [t.get_text() for t in tab.texts]
    assert shown[:4] == [str(n) for n in risk["F"]]
    assert "Gray's variance" in ax.get_ylabel()
    _check(fig, tmp_path, "cif_band")
    with pytest.raises(InputError, match="cause 7"):
        cif_band_figure(res, 7)
