"""Static map images for the printed report (matplotlib): streets by class, gaps, sites, scale."""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import shapely
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from pipeline.access import truck_widths_label
from pipeline.i18n import fmt_number, t

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes

    from pipeline.i18n import Language

logger = logging.getLogger(__name__)

#: Colours of the static maps (the interactive maps' palette).
STATIC_COLOURS: dict[str, str] = {
    "truck": "#1971c2",
    "small_vehicle": "#f08c00",
    "hose_only": "#e03131",
    "blocked": "#862e9c",
    "deep_building": "#ae3ec9",
    "water_usable": "#1098ad",
    "station": "#c92a2a",
    "alleys_to_widen": "#c2255c",
    "field_check": "#fab005",
    "fire_point_sites": "#2b8a3e",
    "hydrant_sites": "#0c8599",
    "station_sites": "#d6336c",
    "ward": "#343a40",
}
#: Site lists drawn as markers, with their legend key.
SITE_KEYS: dict[str, str] = {
    "fire_point_sites": "site_fire_point",
    "hydrant_sites": "site_hydrant",
    "station_sites": "site_station",
}
WIDTH_CLASSES: tuple[str, ...] = ("truck", "small_vehicle", "hose_only", "blocked")


@dataclass
class StaticLayers:
    """What one static map draws, in the project CRS (any layer may be None or empty)."""

    outline: np.ndarray
    approximate: bool = False
    edges: gpd.GeoDataFrame | None = None
    deep_buildings: gpd.GeoDataFrame | None = None
    water: gpd.GeoDataFrame | None = None
    stations: gpd.GeoDataFrame | None = None
    lists: dict[str, gpd.GeoDataFrame] | None = None
    #: Label this many rows of each list with their id (the rows printed beside the map).
    label_rows: int = 0
    truck_min_width_m: float = 3.5


def _segments(geoms: np.ndarray) -> list[np.ndarray]:
    """Return every line part as an array of (x, y) vertices (for a LineCollection)."""
    parts = shapely.get_parts(geoms[~shapely.is_empty(geoms)])
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    if not len(parts):
        return []
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    splits = np.flatnonzero(np.diff(idx)) + 1
    return np.split(coords, splits)


def _scale_bar(ax: Axes, x0: float, y0: float, x1: float, lang: Language) -> None:
    """Draw a metric scale bar of a round length in the lower left corner."""
    span = (x1 - x0) / 4
    nice = 10 ** np.floor(np.log10(span))
    length = max(n * nice for n in (1, 2, 5) if n * nice <= span)
    height = (x1 - x0) / 120
    left = x0 + (x1 - x0) / 30
    ax.add_patch(Rectangle((left, y0), length, height, color="#222", zorder=10))
    text = (
        f"{fmt_number(length / 1000, lang, 0 if length >= 1000 else 1)} km"  # noqa: PLR2004
        if length >= 1000  # noqa: PLR2004
        else f"{fmt_number(length, lang)} m"
    )
    ax.text(left + length / 2, y0 + 1.6 * height, text, ha="center", va="bottom", fontsize=7,
            zorder=10)  # fmt: skip


Handles = list[Patch | Line2D]


def _streets(ax: Axes, layers: StaticLayers, lang: Language, handles: Handles) -> None:
    e = layers.edges
    if e is None or not len(e):
        return
    cls = e["width_class"].astype(str).to_numpy()
    geoms = e.geometry.to_numpy()
    truck = truck_widths_label(e, layers.truck_min_width_m, lambda v: fmt_number(v, lang, 1))
    for c in WIDTH_CLASSES:
        sel = cls == c
        if not sel.any():
            continue
        lines = LineCollection(
            _segments(geoms[sel]), colors=STATIC_COLOURS[c],
            linewidths=1.1 if c == "truck" else 0.7, zorder=3,
        )  # fmt: skip
        ax.add_collection(lines)
        label = t(f"class_{c}", lang, truck=truck)
        handles.append(Line2D([], [], color=STATIC_COLOURS[c], lw=2, label=label))


def _points(ax: Axes, layers: StaticLayers, lang: Language, handles: Handles) -> None:
    """Deep buildings, usable water sources and stations."""
    kinds = (
        (layers.deep_buildings, "deep_building", "layer_deep_buildings", "o", 3),
        (layers.water, "water_usable", "water_usable", "s", 25),
        (layers.stations, "station", "layer_stations", "^", 60),
    )
    for df, colour, key, marker, size in kinds:
        if df is None or not len(df):
            continue
        pts = shapely.get_coordinates(shapely.centroid(df.geometry.to_numpy()))
        ax.scatter(pts[:, 0], pts[:, 1], s=size, marker=marker, c=STATIC_COLOURS[colour],
                   zorder=5, linewidths=0.5, edgecolors="white")  # fmt: skip
        handles.append(Line2D([], [], marker=marker, ls="", color=STATIC_COLOURS[colour],
                              label=t(key, lang)))  # fmt: skip


def _lists(ax: Axes, layers: StaticLayers, lang: Language, handles: Handles) -> None:
    """Shortlisted alleys (wide translucent lines) and sites (markers), ids beside them."""
    for name, df in (layers.lists or {}).items():
        if df is None or not len(df):
            continue
        colour = STATIC_COLOURS.get(name, "#000")
        geoms = df.geometry.to_numpy()
        if name in SITE_KEYS:
            pts = shapely.get_coordinates(shapely.point_on_surface(geoms))
            ax.scatter(pts[:, 0], pts[:, 1], s=45, marker="o", c=colour, edgecolors="white",
                       zorder=7)  # fmt: skip
            handles.append(Line2D([], [], marker="o", ls="", color=colour,
                                  label=t(SITE_KEYS[name], lang)))  # fmt: skip
        else:
            ax.add_collection(LineCollection(_segments(geoms), colors=colour, linewidths=4,
                                             alpha=0.45, zorder=2.5))  # fmt: skip
            pts = shapely.get_coordinates(
                shapely.line_interpolate_point(geoms, 0.5, normalized=True)
            )
            title = "list_alleys" if name == "alleys_to_widen" else "list_field_check"
            handles.append(Line2D([], [], color=colour, lw=4, alpha=0.6, label=t(title, lang)))
        if layers.label_rows:
            top = slice(0, layers.label_rows)
            for (x, y), rid in zip(pts[top], df["id"].to_numpy()[top], strict=True):
                ax.annotate(str(rid), (x, y), fontsize=6, xytext=(3, 3),
                            textcoords="offset points", zorder=8)  # fmt: skip


def _extent(layers: StaticLayers) -> tuple[float, float, float, float]:
    """Return the data's extent within the outline (not a whole province it covers part of)."""
    outline = layers.outline[~shapely.is_empty(layers.outline)]
    box = shapely.total_bounds(outline) if len(outline) else None
    if layers.edges is None or not len(layers.edges):
        if box is None:
            return 0.0, 0.0, 1.0, 1.0
        return float(box[0]), float(box[1]), float(box[2]), float(box[3])
    x0, y0, x1, y1 = layers.edges.total_bounds
    if box is not None:
        x0, y0, x1, y1 = max(x0, box[0]), max(y0, box[1]), min(x1, box[2]), min(y1, box[3])
    return float(x0), float(y0), float(x1), float(y1)


def draw_map(layers: StaticLayers, lang: Language, *, size_in: float = 7.0, dpi: int = 110) -> str:
    """Return a PNG data URI of a static map: outline, streets by class, gaps and sites.

    Parameters
    ----------
    layers
        What to draw.
    lang
        {"vi", "en"}: legend text.
    size_in
        Width of the image in inches (A4 text width is about 7 in).
    dpi
        Resolution.

    Returns
    -------
    str
        ``data:image/png;base64,...``
    """
    fig, ax = plt.subplots(figsize=(size_in, size_in * 0.8))
    handles: Handles = []
    _streets(ax, layers, lang, handles)
    outline = layers.outline[~shapely.is_empty(layers.outline)]
    if len(outline):
        ax.add_collection(LineCollection(_segments(shapely.boundary(outline)),
                                         colors=STATIC_COLOURS["ward"], linewidths=0.8,
                                         linestyles="--", zorder=2))  # fmt: skip
        key = "layer_wards_approximate" if layers.approximate else "layer_wards"
        handles.append(Line2D([], [], color=STATIC_COLOURS["ward"], ls="--", label=t(key, lang)))
    _points(ax, layers, lang, handles)
    _lists(ax, layers, lang, handles)
    x0, y0, x1, y1 = _extent(layers)
    pad = max(x1 - x0, y1 - y0) * 0.03 + 1.0
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    _scale_bar(ax, x0 - pad, y0 - pad / 2, x1 + pad, lang)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7,
                  frameon=False)  # fmt: skip
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
