"""Matplotlib charts of the report, returned as PNG data URIs to embed in report.html."""

from __future__ import annotations

import base64
import io
import logging
from typing import TYPE_CHECKING

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

#: Wards shown at most in the risk bar chart.
MAX_BARS = 30


def _data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def risk_bars(people: pd.Series, title: str) -> str:
    """Return a horizontal bar chart of the wards with the most people at risk (index: names)."""
    top = people.dropna().sort_values(ascending=False).head(MAX_BARS)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(top) + 1.2))
    ax.barh([str(i) for i in top.index], top.to_numpy(), color="#e03131")
    ax.set_xlim(0, max(1.0, float(top.max()) * 1.05) if len(top) else 1.0)
    ax.set_title(title)
    return _data_uri(fig)


def width_class_bars(
    km_by_class: pd.Series, labels: dict[str, str], colours: dict[str, str], title: str
) -> str:
    """Return a bar chart of street length by width class (index: class keys)."""
    fig, ax = plt.subplots(figsize=(7, 3))
    keys = [str(k) for k in km_by_class.index]
    ax.bar(
        [labels.get(k, k) for k in keys], km_by_class.to_numpy(),
        color=[colours.get(k, "#868e96") for k in keys],
    )  # fmt: skip
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title(title)
    return _data_uri(fig)


def time_histogram(time_s: pd.Series, target_s: float, title: str, ylabel: str) -> str:
    """Return a histogram of response times in minutes, the target marked."""
    minutes = time_s.replace([np.inf, -np.inf], np.nan).dropna() / 60.0
    fig, ax = plt.subplots(figsize=(7, 3))
    if len(minutes):
        ax.hist(minutes, bins=30, color="#1971c2")
    ax.axvline(target_s / 60.0, color="#e03131", linestyle="--")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    return _data_uri(fig)
