"""Report charts: the response-time histogram counts the unreachable buildings in a bar."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from pipeline.charts import time_histogram, time_histogram_figure


def test_unreachable_buildings_get_their_own_bar():
    times = pd.Series([60.0, 120.0, 125.0, 600.0, np.nan, np.inf, np.nan])
    fig = time_histogram_figure(times, 240, "t", "n", unreachable_label="Unreachable")
    ax, ax_u = fig.axes
    assert sum(p.get_height() for p in ax.patches) == 4  # the reachable ones, in minutes
    assert max(p.get_x() + p.get_width() for p in ax.patches) == pytest.approx(10.0)
    (bar,) = ax_u.patches
    assert bar.get_height() == 3
    assert [x.get_text() for x in ax_u.get_xticklabels()] == ["Unreachable"]
    assert "3\n(43%)" in [a.get_text() for a in ax_u.texts]
    assert ax.lines[0].get_xdata()[0] == pytest.approx(4.0)  # the target, in minutes
    plt.close(fig)


def test_everything_reachable_still_draws_an_empty_bar():
    fig = time_histogram_figure(pd.Series([30.0, 90.0]), 240, "t", "n", unreachable_label="U")
    assert fig.axes[1].patches[0].get_height() == 0
    plt.close(fig)
    uri = time_histogram(pd.Series([], dtype=float), 240, "t", "n", unreachable_label="U")
    assert uri.startswith("data:image/png;base64,")
