"""Love plot and PS-overlap plot render from results."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from cartlens.report.figures.balance import love_plot, ps_overlap_plot
from cartlens.stats.balance import balance_table
from cartlens.stats.propensity import propensity_score
from cartlens.stats.weighting import iptw_weights

REFERENCE = Path(__file__).parents[1] / "data" / "reference"


@pytest.fixture(scope="module")
def lung():
    df = pd.read_csv(REFERENCE / "data" / "lung.csv")
    df = df.loc[df["ph.ecog"].notna()].reset_index(drop=True)
    df["female"] = (df["sex"] == 2).astype(int)
    fit = propensity_score("female ~ age + ph.ecog", df)
    w = iptw_weights(fit.ps, fit.treat, stabilize=True).weights
    return df, fit, w


def _check(fig, tmp_path, name):
    assert fig.axes and any(ax.lines or ax.patches for ax in fig.axes)
    for ext in ("svg", "png"):
        out = tmp_path / f"{name}.{ext}"
        fig.savefig(out)
        assert out.stat().st_size > 1000
    plt.close(fig)


def test_love_plot(lung, tmp_path):
    df, fit, w = lung
    bal = balance_table(df[["age", "ph.ecog"]], fit.treat, w, distance=fit.ps)
    fig = love_plot(bal)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["age", "ph.ecog"]
    assert any(np.allclose(line.get_xdata(), 0.1) for line in ax.lines)  # threshold line
    _check(fig, tmp_path, "love")
    signed = love_plot(bal, absolute=False, include_distance=True, labels={"age": "Age"})
    assert "Age" in [t.get_text() for t in signed.axes[0].get_yticklabels()]
    _check(signed, tmp_path, "love_signed")


def test_love_plot_unadjusted(lung, tmp_path):
    df, fit, _ = lung
    bal = balance_table(df[["age", "ph.ecog"]], fit.treat)
    _check(love_plot(bal), tmp_path, "love_unadj")


def test_ps_overlap_plot(lung, tmp_path):
    _, fit, w = lung
    _check(ps_overlap_plot(fit), tmp_path, "overlap")
    _check(ps_overlap_plot(fit.ps, fit.treat, weights=w, bins=20), tmp_path, "overlap_w")
