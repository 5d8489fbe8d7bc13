"""Ward risk score in [0, 1] from coverage, response time, alley access and water."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline._errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

logger = logging.getLogger(__name__)

#: The components of the score, as columns of the table :func:`ward_risk` reads.
COMPONENTS: tuple[str, ...] = ("unreached", "response_time", "alley_access", "water")


def time_score(time_s: np.ndarray | pd.Series, *, target_time_s: float) -> np.ndarray:
    """Return the response-time part of the risk: ``t / (t + target)``, 1 when unreached.

    Parameters
    ----------
    time_s
        Typical (median) response time, seconds; NaN or inf means no station reaches it.
    target_time_s
        The target time; a ward reached exactly at the target scores 0.5.

    Returns
    -------
    numpy.ndarray
        Values in [0, 1], non-decreasing in ``time_s``.
    """
    t = np.asarray(time_s, dtype=float)
    t = np.where(np.isnan(t), np.inf, np.maximum(t, 0.0))
    with np.errstate(invalid="ignore"):
        score = np.where(np.isinf(t), 1.0, t / (t + target_time_s))
    return np.clip(score, 0.0, 1.0)


def ward_risk(
    unreached_share: pd.Series,
    median_time_s: pd.Series,
    deep_share: pd.Series,
    water_uncovered_share: pd.Series,
    *,
    target_time_s: float,
    weights: Mapping[str, float],
) -> pd.Series:
    """Return each ward's risk score: a weighted mean of four shares, in [0, 1].

    Parameters
    ----------
    unreached_share
        Share of the ward's buildings beyond the target response time.
    median_time_s
        Median response time of the ward's buildings, seconds (NaN: unreached).
    deep_share
        Share of the ward's buildings beyond hose reach of a fire-truck street.
    water_uncovered_share
        Share of the ward's buildings beyond the reach of any usable water source.
    target_time_s
        Target response time (``response.target_time_s``).
    weights
        Weight of each component, keys :data:`COMPONENTS`; they need not sum to 1.

    Returns
    -------
    pandas.Series
        Indexed like ``unreached_share``, named ``risk``.

    Notes
    -----
    A component that is unknown for a ward (NaN: the stage did not run, or the ward has no
    buildings) is left out and the other weights are rescaled, so a missing input neither raises
    nor lowers the score. With every component unknown the score is NaN. Each component is in
    [0, 1] and the time component ``t / (t + target)`` grows with ``t``, so the score stays in
    [0, 1] and does not go down as response time grows.
    """
    unknown = sorted(set(weights) - set(COMPONENTS))
    if unknown or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        msg = (
            f"report.risk_weights: use non-negative weights for {', '.join(COMPONENTS)} "
            f"with a positive sum (got {dict(weights)})"
        )
        raise ConfigError(msg)
    index = unreached_share.index
    parts = pd.DataFrame(
        {
            "unreached": np.clip(unreached_share.to_numpy(dtype=float), 0, 1),
            "response_time": time_score(
                median_time_s.reindex(index).to_numpy(dtype=float), target_time_s=target_time_s
            ),
            "alley_access": np.clip(deep_share.reindex(index).to_numpy(dtype=float), 0, 1),
            "water": np.clip(water_uncovered_share.reindex(index).to_numpy(dtype=float), 0, 1),
        },
        index=index,
    )
    # A time is only "unknown" when the coverage stage gave no answer at all for the ward.
    no_time = median_time_s.reindex(index).isna() & parts["unreached"].isna()
    parts.loc[no_time.to_numpy(), "response_time"] = np.nan
    w = np.array([weights.get(c, 0.0) for c in COMPONENTS], dtype=float)
    values = parts[list(COMPONENTS)].to_numpy()
    known = ~np.isnan(values)
    wsum = (known * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(wsum > 0, np.nansum(values * w, axis=1) / wsum, np.nan)
    return pd.Series(np.clip(score, 0.0, 1.0), index=index, name="risk")
