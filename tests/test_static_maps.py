"""Static maps of the printed report: one pass of matplotlib, the legend drawn once and pasted."""

from __future__ import annotations

import base64
import io

import geopandas as gpd
import numpy as np
import pytest
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from pipeline import static_maps
from pipeline.static_maps import StaticLayers, _compose, _entry, _labels, _segments, draw_map

CRS = "EPSG:32648"


def _figure() -> tuple[Figure, object]:
    fig = Figure(figsize=(4.0, 3.2), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 80)
    ax.set_aspect("equal")
    ax.add_collection(LineCollection([[(5, 5), (95, 75)], [(5, 75), (95, 5)]], colors="#1971c2"))
    ax.scatter([50], [40], s=45, c="#d62728")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig, ax


ENTRIES = [
    _entry(color="#1971c2", lw=2, label="Xe chữa cháy vào được (≥ 3,5 m)"),
    _entry(color="#333", ls="--", label="Ranh giới phường/xã"),
    _entry(marker="o", ls="", color="#d62728", label="Điểm chữa cháy công cộng"),
    _entry(color="#e64980", lw=4, alpha=0.6, label="Ngõ cần mở rộng"),
]


def test_composed_map_matches_matplotlibs_own_legend_and_tight_crop():
    # The reference: the legend drawn on the figure and the figure saved with a tight crop.
    fig, ax = _figure()
    ax.legend(handles=[Line2D([], [], **dict(e)) for e in ENTRIES], loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)  # fmt: skip
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    ref = np.asarray(Image.open(buf).convert("RGB"), dtype=int)
    fig, ax = _figure()
    fig.canvas.draw()
    out = _compose(fig, ax, ENTRIES, 80).astype(int)
    assert abs(out.shape[0] - ref.shape[0]) <= 1
    assert abs(out.shape[1] - ref.shape[1]) <= 1
    h, w = min(out.shape[0], ref.shape[0]), min(out.shape[1], ref.shape[1])
    # the same pixels but for antialiasing: matplotlib's crop shifts the figure by a fraction
    # of a pixel, the composed image by whole pixels
    differ = np.abs(out[:h, :w] - ref[:h, :w]).sum(axis=2) > 60
    assert differ.mean() < 0.03
    # the legend is there, as much ink as matplotlib's, right of the axes
    col = int(ax.bbox.x1) + 10
    ink_out = (765 - out[:, col:].sum(axis=2)).sum()
    ink_ref = (765 - ref[:, col:].sum(axis=2)).sum()
    assert ink_out > 765 * 200
    assert ink_out == pytest.approx(ink_ref, rel=0.03)


def test_legend_is_drawn_once_per_set_of_entries():
    static_maps._legend_image.cache_clear()
    for _ in range(3):
        fig, ax = _figure()
        fig.canvas.draw()
        _compose(fig, ax, ENTRIES, 80)
    info = static_maps._legend_image.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_joined_segments_keep_every_part_and_split_them_by_nan():
    geoms = np.array([
        shapely.LineString([(0, 0), (1, 0), (2, 1)]),
        shapely.MultiLineString([[(5, 5), (6, 6)], [(7, 7), (8, 9)]]),
        shapely.LineString(),
        shapely.Point(3, 3),
    ], dtype=object)  # fmt: skip
    (joined,) = _segments(geoms)
    gaps = np.isnan(joined[:, 0])
    assert gaps.sum() == 2  # 3 line parts
    assert np.array_equal(joined[~gaps], shapely.get_coordinates(geoms[:2]))
    parts = _segments(geoms, joined=False)
    assert [len(p) for p in parts] == [3, 2, 2]
    assert _segments(np.array([shapely.Point(0, 0)], dtype=object)) == []


def test_labels_only_for_points_in_the_map():
    fig, ax = _figure()
    pts = np.array([[10.0, 10.0], [99.0, 79.0], [150.0, 40.0], [50.0, -5.0]])
    _labels(ax, pts, np.array(["AL-1", "AL-2", "AL-3", "AL-4"], dtype=object))
    assert [x.get_text() for x in ax.texts] == ["AL-1", "AL-2"]
    # 3 points up and right of the point, like an annotation with xytext=(3, 3) offset points
    fig.canvas.draw()
    x, y = ax.texts[0].get_transform().transform((10.0, 10.0))
    px, py = ax.transData.transform((10.0, 10.0))
    assert (x - px, y - py) == pytest.approx((3 * 80 / 72, 3 * 80 / 72))


def test_draw_map_is_a_png_with_its_layers():
    edges = gpd.GeoDataFrame(
        {"width_class": ["truck", "hose_only"], "width_m": [6.0, 1.5]},
        geometry=[shapely.LineString([(0, 0), (900, 0)]), shapely.LineString([(0, 0), (0, 700)])],
        crs=CRS,
    )
    alleys = gpd.GeoDataFrame(
        {"id": ["AL-001"]}, geometry=[shapely.LineString([(0, 0), (0, 700)])], crs=CRS
    )
    layers = StaticLayers(
        outline=np.array([shapely.box(-50, -50, 950, 750)], dtype=object),
        edges=edges,
        lists={"alleys_to_widen": alleys},
        label_rows=5,
        truck_min_width_m=3.5,
    )
    uri = draw_map(layers, "vi", size_in=4.0, dpi=80)
    assert uri.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert image.format == "PNG"
    assert image.width > 4.0 * 80  # the map and its legend beside it
    rgb = np.asarray(image.convert("RGB"), dtype=int)
    truck = tuple(int(static_maps.STATIC_COLOURS["truck"][i : i + 2], 16) for i in (1, 3, 5))
    assert (np.abs(rgb - truck).sum(axis=2) < 30).sum() > 50  # the truck street is drawn
