"""Bulk geometry steps of the reader and of ingest, checked on hand-made rings and polygons."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from pipeline import osm_read
from pipeline.stages import ingest

if TYPE_CHECKING:
    import pytest


def test_ring_order_starts_lowest_and_turns_counter_clockwise() -> None:
    # Ring 0: a clockwise unit square starting at (1, 1); ring 1: a counter-clockwise
    # triangle whose two least-x vertices tie on x (the lower y wins), starting elsewhere.
    ring0 = [(1, 1), (1, 0), (0, 0), (0, 1), (1, 1)]
    ring1 = [(3, 0), (4, 2), (2, 1), (2, 0.5), (3, 0)]
    xy = np.array(ring0 + ring1, dtype=float)
    n = np.array([5, 5])
    src = osm_read._ring_order(xy[:, 0], xy[:, 1], n, ccw=True)
    out = [tuple(p) for p in xy[src]]
    assert out[:5] == [(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]  # rotated, then reversed
    assert out[5:] == [(2, 0.5), (3, 0), (4, 2), (2, 1), (2, 0.5)]  # rotated only
    rotated = osm_read._ring_order(xy[:, 0], xy[:, 1], n, ccw=False)
    assert [tuple(p) for p in xy[rotated][:5]] == [(0, 0), (0, 1), (1, 1), (1, 0), (0, 0)]


def test_projection_in_chunks_equals_to_crs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "_PROJECT_CHUNK", 2)  # 7 rows: 4 chunks, the last one short
    rng = np.random.default_rng(3)
    centres = np.column_stack([105.8 + rng.random(7) * 0.1, 21.0 + rng.random(7) * 0.1])
    geoms = [shapely.Point(x, y).buffer(0.001 * (i + 1), quad_segs=i + 1)
             for i, (x, y) in enumerate(centres)]  # fmt: skip
    gdf = gpd.GeoDataFrame({"k": np.arange(7)}, geometry=geoms, crs="EPSG:4326")
    expected = gdf.to_crs("EPSG:32648")
    ingest._to_crs_in_place(gdf, "EPSG:32648")
    assert gdf.crs == expected.crs
    assert shapely.equals_identical(gdf.geometry.to_numpy(), expected.geometry.to_numpy()).all()
    assert gdf["k"].tolist() == list(range(7))
