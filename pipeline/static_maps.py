"""Static map images for the printed report (matplotlib): streets by class, gaps, sites, scale."""

from __future__ import annotations

import base64
import functools
import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib as mpl

mpl.use("Agg")
import numpy as np
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.transforms import ScaledTranslation
from PIL import Image

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
#: zlib level of the PNG images (1: fast; the PDF engine re-compresses them anyway).
PNG_LEVEL = 1


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


def _segments(geoms: np.ndarray, *, joined: bool = True) -> list[np.ndarray]:
    """Return the line parts of ``geoms`` as vertex arrays (x, y) for a LineCollection.

    ``joined``: ONE array, the parts split by a NaN row, which matplotlib draws as one path
    (a move to the next part at each NaN) instead of one path per street segment, whose cost
    grew with the number of segments (hundreds of thousands in a province); for opaque
    lines. Translucent lines need one array per part: within one path, overlapping parts
    are painted once, not one over the other.
    """
    parts = shapely.get_parts(geoms[~shapely.is_empty(geoms)])
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    if not len(parts):
        return []
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    starts = np.flatnonzero(np.diff(idx)) + 1
    if not joined:
        return np.split(coords, starts)
    return [np.insert(coords, starts, np.nan, axis=0)]


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


#: One legend line: the keyword arguments of its :class:`~matplotlib.lines.Line2D` handle,
#: sorted (hashable: the legend images are cached by their lines).
LegendEntry = tuple[tuple[str, object], ...]
Handles = list[LegendEntry]


def _entry(**style: object) -> LegendEntry:
    """Return a legend line: ``label`` and the handle's style (color, lw, ls, marker, alpha)."""
    return tuple(sorted(style.items()))


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
        ax.add_collection(lines, autolim=False)
        label = t(f"class_{c}", lang, truck=truck)
        handles.append(_entry(color=STATIC_COLOURS[c], lw=2, label=label))


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
        handles.append(_entry(marker=marker, ls="", color=STATIC_COLOURS[colour],
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
            handles.append(_entry(marker="o", ls="", color=colour,
                                  label=t(SITE_KEYS[name], lang)))  # fmt: skip
        else:
            ax.add_collection(LineCollection(_segments(geoms, joined=False), colors=colour,
                                             linewidths=4,
                                             alpha=0.45, zorder=2.5), autolim=False)  # fmt: skip
            pts = shapely.get_coordinates(
                shapely.line_interpolate_point(geoms, 0.5, normalized=True)
            )
            title = "list_alleys" if name == "alleys_to_widen" else "list_field_check"
            handles.append(_entry(color=colour, lw=4, alpha=0.6, label=t(title, lang)))
        if layers.label_rows:
            _labels(ax, pts[: layers.label_rows], df["id"].to_numpy()[: layers.label_rows])


def _labels(ax: Axes, pts: np.ndarray, ids: np.ndarray) -> None:
    """Write each row's id 3 points up and right of its point, for the points in the axes.

    Plain texts placed like ``ax.annotate(id, xy, xytext=(3, 3), textcoords="offset
    points")``, which draws only when ``xy`` is in the axes (its ``annotation_clip``); an
    annotation costs several times a text to lay out and to measure.
    """
    offset = ax.transData + ScaledTranslation(3 / 72, 3 / 72, ax.figure.dpi_scale_trans)
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    for (x, y), rid in zip(pts, ids, strict=True):
        if x0 <= x <= x1 and y0 <= y <= y1:
            ax.text(x, y, str(rid), fontsize=6, transform=offset, zorder=8)


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


#: Legend text size (points) and the gaps matplotlib leaves around a legend and a saved figure.
LEGEND_FONT_PT = 7
LEGEND_AXES_PAD = 0.5  # legend.borderaxespad, in font sizes
SAVE_PAD_IN = 0.1  # savefig.pad_inches


@functools.lru_cache(maxsize=64)
def _legend_image(entries: tuple[LegendEntry, ...], dpi: float) -> tuple[np.ndarray, float, float]:
    """Return the legend of ``entries``: its RGBA image, and its width and height in pixels.

    The image is the legend's box, transparent around the text; width and height are
    fractional, as matplotlib places the box.

    The wards of a province share a handful of legends: each is drawn once (text is most of
    the cost of a small map) and pasted beside every map that has it.
    """
    fig = Figure(figsize=(8.0, 0.25 * len(entries) + 1.0), dpi=dpi)
    fig.patch.set_alpha(0.0)
    canvas = FigureCanvasAgg(fig)
    handles = [Line2D([], [], **dict(e)) for e in entries]  # type: ignore[arg-type]
    legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, 1.0),
                        borderaxespad=0.0, fontsize=LEGEND_FONT_PT, frameon=False)  # fmt: skip
    canvas.draw()  # type: ignore[no-untyped-call]
    box = legend.get_window_extent()
    rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    image = rgba[: int(np.ceil(box.height)), : int(np.ceil(box.width))].copy()
    return image, float(box.width), float(box.height)


def _paste(out: np.ndarray, image: np.ndarray, row: int, col: int, *, blend: bool) -> None:
    """Put the RGBA ``image`` on the RGB ``out`` with its top left at (row, col).

    ``blend``: alpha-blend it (a legend, transparent around its text); else copy its colours
    (an opaque figure).
    """
    h, w = image.shape[:2]
    r0, c0 = max(row, 0), max(col, 0)
    r1, c1 = min(row + h, out.shape[0]), min(col + w, out.shape[1])
    if r0 >= r1 or c0 >= c1:
        return
    src = image[r0 - row : r1 - row, c0 - col : c1 - col]
    if not blend:
        out[r0:r1, c0:c1] = src[..., :3]
        return
    alpha = src[..., 3:].astype(np.float32) / 255.0
    dst = out[r0:r1, c0:c1].astype(np.float32)
    out[r0:r1, c0:c1] = np.rint(src[..., :3] * alpha + dst * (1.0 - alpha)).astype(np.uint8)


def _compose(fig: Figure, ax: Axes, entries: Handles, dpi: float) -> np.ndarray:
    """Return the RGB image of the drawn ``fig`` cut to its content, the legend beside ``ax``.

    The legend goes where ``ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))`` puts it,
    and the image is cut like ``savefig(bbox_inches="tight")`` (its content and a margin of
    :data:`SAVE_PAD_IN`), so the figure is drawn once, not twice.
    """
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)  # noqa: S101 - set by draw_map
    height = canvas.get_width_height()[1]
    renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
    x0, y0, x1, y1 = (np.asarray(fig.get_tightbbox(renderer).extents) * dpi).tolist()
    legend = _legend_image(tuple(entries), dpi) if entries else None
    if legend is not None:
        pad = LEGEND_AXES_PAD * LEGEND_FONT_PT * dpi / 72
        lx, ly = ax.bbox.x0 + 1.01 * ax.bbox.width + pad, ax.bbox.y1 - pad
        x0, x1 = min(x0, lx), max(x1, lx + legend[1])
        y0, y1 = min(y0, ly - legend[2]), max(y1, ly)
    margin = SAVE_PAD_IN * dpi
    x0, y0, x1, y1 = x0 - margin, y0 - margin, x1 + margin, y1 + margin
    out = np.full((int(y1 - y0), int(x1 - x0), 3), 255, dtype=np.uint8)
    left, top = round(x0), round(y1)
    figure = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    _paste(out, figure, top - height, -left, blend=False)
    if legend is not None:
        _paste(out, legend[0], top - round(ly), round(lx) - left, blend=True)
    return out


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
    fig = Figure(figsize=(size_in, size_in * 0.8), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    # limits first: the id labels are written only for the points inside them
    x0, y0, x1, y1 = _extent(layers)
    pad = max(x1 - x0, y1 - y0) * 0.03 + 1.0
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    handles: Handles = []
    _streets(ax, layers, lang, handles)
    outline = layers.outline[~shapely.is_empty(layers.outline)]
    if len(outline):
        ax.add_collection(LineCollection(_segments(shapely.boundary(outline)),
                                         colors=STATIC_COLOURS["ward"], linewidths=0.8,
                                         linestyles="--", zorder=2), autolim=False)  # fmt: skip
        key = "layer_wards_approximate" if layers.approximate else "layer_wards"
        handles.append(_entry(color=STATIC_COLOURS["ward"], ls="--", label=t(key, lang)))
    _points(ax, layers, lang, handles)
    _lists(ax, layers, lang, handles)
    ax.set_xticks([])
    ax.set_yticks([])
    _scale_bar(ax, x0 - pad, y0 - pad / 2, x1 + pad, lang)
    fig.canvas.draw()
    image = _compose(fig, ax, handles, dpi)
    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, format="png", dpi=(dpi, dpi), compress_level=PNG_LEVEL)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
