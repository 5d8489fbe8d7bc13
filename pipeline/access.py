"""The one truck rule: which streets a fire truck can use, from width evidence and restrictions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.osm_tags import base_highway, normalised_text, parse_length_m

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipeline.config import AccessConfig

#: Truck status of a street: passable, not passable, or uncertain (a field check is needed).
TRUCK_STATUSES: tuple[str, ...] = ("passable", "not_passable", "uncertain")
#: Width classes by the width estimate (maps and summaries).
WIDTH_CLASSES: tuple[str, ...] = ("truck", "small_vehicle", "hose_only")
#: Columns of :func:`classify_edges`.
ACCESS_COLUMNS: tuple[str, ...] = (
    "truck_min_width_m",
    "width_class",
    "blocked",
    "block_reason",
    "truck_status",
    "truck_status_reason",
    "truck_ok",
)


def truck_min_width_m(cfg: AccessConfig, urban: np.ndarray | None = None) -> np.ndarray | float:
    """Return the clear width a truck street needs: 3.5 m, or 4 m where the urban rule applies.

    Parameters
    ----------
    cfg
        The ``access`` section.
    urban
        Boolean per edge (see :func:`urban_edges`); ``None`` gives the province-wide value
        (the strictest one applied anywhere).

    Returns
    -------
    numpy.ndarray or float
        Per edge, or one number.

    Notes
    -----
    QCVN 06:2022/BXD §6.2.1.1: a fire-truck road has a clear carriageway of at least 3.5 m;
    QCVN 01:2021/BXD §2.7.6: roads in existing (renovated) urban areas at least 4 m.
    """
    base = cfg.truck_min_width_m.value
    urban_min = max(base, cfg.urban_renovated_min_width_m.value)
    if urban is None:
        return urban_min if cfg.use_urban_renovated_width else base
    return np.where(urban, urban_min, base)


def truck_widths_label(
    edges: pd.DataFrame | None,
    fallback_m: float,
    fmt: Callable[[float], str] = "{:g}".format,
) -> str:
    """Return the truck width threshold(s) applied, as the network stage recorded them per street.

    ``"4"``, or ``"3.5 / 4"`` where the urban renovation rule applies to part of the area
    (``edges``: ``network/edges`` rows with ``truck_min_width_m``); ``fallback_m`` (the
    network summary's value) when there is no street. ``fmt`` writes one number. Every
    legend (interactive maps, printed maps, the width chart) says it this way.
    """
    if (
        edges is not None
        and "truck_min_width_m" in edges
        and edges["truck_min_width_m"].notna().any()
    ):
        values = sorted(set(np.round(edges["truck_min_width_m"].dropna().to_numpy(float), 2)))
        return " / ".join(fmt(float(v)) for v in values)
    return fmt(float(fallback_m))


def urban_edges(ward_type: np.ndarray, cfg: AccessConfig) -> np.ndarray:
    """Tell which edges the renovated-urban width applies to (by their ward's type).

    Parameters
    ----------
    ward_type
        Per edge, the type of its ward (``"phường"``, ``"xã"``...; ``None`` outside wards).
    cfg
        The ``access`` config section.

    Returns
    -------
    numpy.ndarray
        Boolean per edge: all ``True`` with ``use_urban_renovated_width`` and no
        ``urban_renovated_ward_types``; only edges in wards of those types otherwise; all
        ``False`` without ``use_urban_renovated_width``.
    """
    if not cfg.use_urban_renovated_width:
        return np.zeros(len(ward_type), dtype=bool)
    if not cfg.urban_renovated_ward_types:
        return np.ones(len(ward_type), dtype=bool)
    return np.isin(ward_type.astype(str), cfg.urban_renovated_ward_types)


def _lower(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series("", index=df.index, dtype="string")
    return normalised_text(df[col]).fillna("")


def truck_blocks(edges: pd.DataFrame, cfg: AccessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Find what stops a truck whatever the street's width.

    Parameters
    ----------
    edges
        With ``highway`` and optionally ``maxheight``, ``maxwidth``, ``maxwidth:physical``,
        ``emergency`` and the access keys of ``cfg.blocked_access_keys``.
    cfg
        The ``access`` section.

    Returns
    -------
    blocked, reason
        Boolean per edge, and the reasons (``"maxheight"``, ``"maxwidth"``, ``"access"``,
        ``"motor_vehicle"``, ``"highway"``...; several joined by ``";"``; ``""`` if none).

    Notes
    -----
    Clear height below 4.5 m (QCVN 06:2022/BXD §6.2.1.3); ``maxwidth`` or
    ``maxwidth:physical`` below the fire engine's width (a vehicle limit, not the street's
    width); an access key set to a blocked value unless ``emergency=yes/designated``; a
    ``highway`` class no vehicle can use (steps).
    """
    n = len(edges)
    checks: dict[str, np.ndarray] = {}

    def check(label: str, mask: np.ndarray) -> None:
        checks[label] = checks.get(label, np.zeros(n, dtype=bool)) | mask

    if "maxheight" in edges.columns:
        height = parse_length_m(edges["maxheight"]).to_numpy()
        check("maxheight", height < cfg.truck_min_clear_height_m.value)
    for tag in ("maxwidth", "maxwidth:physical"):
        if tag in edges.columns:
            check("maxwidth", parse_length_m(edges[tag]).to_numpy() < cfg.fire_engine_width_m.value)
    blocked_values = {v.lower() for v in cfg.blocked_access_values}
    emergency_ok = _lower(edges, "emergency").isin(cfg.emergency_access_values).to_numpy()
    for key in cfg.blocked_access_keys:
        check(key, _lower(edges, key).isin(blocked_values).to_numpy(dtype=bool) & ~emergency_ok)
    check("highway", base_highway(edges["highway"]).isin(cfg.blocked_highways).to_numpy(bool))
    reason = np.full(n, "", dtype=object)
    for label, mask in checks.items():
        reason = np.where(mask, np.where(reason == "", label, reason + ";" + label), reason)
    return reason != "", reason


def classify_edges(
    edges: pd.DataFrame,
    widths: pd.DataFrame,
    cfg: AccessConfig,
    *,
    urban: np.ndarray | None = None,
) -> pd.DataFrame:
    """Apply the truck rule: status from the width interval, blocks, and the width class.

    Parameters
    ----------
    edges
        Graph edges with ``highway`` and the restriction tags (see :func:`truck_blocks`).
    widths
        From :func:`pipeline.widths.estimate_widths`, indexed like ``edges``: ``width_m``,
        ``width_low_m``, ``width_high_m``.
    cfg
        The ``access`` config section.
    urban
        Boolean per edge: the renovated-urban width applies (see :func:`urban_edges`); by
        default it applies everywhere when ``use_urban_renovated_width`` is set.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``edges``, with :data:`ACCESS_COLUMNS`: ``truck_min_width_m`` (the
        threshold applied), ``width_class`` in :data:`WIDTH_CLASSES` (by the estimate),
        ``blocked`` and ``block_reason``, ``truck_status`` in :data:`TRUCK_STATUSES`,
        ``truck_status_reason`` (``"width"`` or the block reasons; ``""`` when passable) and
        ``truck_ok``: what routing assumes (the estimate reaches the threshold, nothing blocks).

    Notes
    -----
    Passable when the interval's low end reaches the threshold, not passable when its high
    end stays below it (or a restriction blocks the street), uncertain otherwise: a field
    check is needed before a planner relies on the street either way.
    """
    n = len(edges)
    if urban is None:
        urban = np.full(n, cfg.use_urban_renovated_width)
    need = np.asarray(truck_min_width_m(cfg, urban), dtype=float)
    est = widths["width_m"].to_numpy(dtype=float)
    low = widths["width_low_m"].to_numpy(dtype=float)
    high = widths["width_high_m"].to_numpy(dtype=float)
    small_min = cfg.small_fire_vehicle_width_m.value + cfg.small_vehicle_margin_m.value
    width_class = np.select(
        [est >= need, est >= small_min], ["truck", "small_vehicle"], "hose_only"
    )
    blocked, block_reason = truck_blocks(edges, cfg)
    status = np.select(
        [blocked | (high < need), low >= need], ["not_passable", "passable"], "uncertain"
    )
    status_reason = np.where(blocked, block_reason, np.where(status == "passable", "", "width"))
    return pd.DataFrame(
        {
            "truck_min_width_m": need,
            "width_class": width_class,
            "blocked": blocked,
            "block_reason": block_reason,
            "truck_status": status,
            "truck_status_reason": status_reason,
            "truck_ok": (est >= need) & ~blocked,
        },
        index=edges.index,
    )
