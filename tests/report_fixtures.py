"""Upstream artifacts of the reference town, hand-made to the stage contracts (report tests).

Used while the network, water and coverage stages are not in this branch: each writer skips a
stage whose module exists (the real stage's outputs are then used instead).

Wards (:func:`ward_geojson`, read by ingest): W1 "Phường Kinh Bắc" is x < 160 m, W2 "Xã Hòa
Long" is x >= 160 m (town metres).
Width classes: primary, residential, tertiary are truck streets; the alley C-E (80 m) and the
footway D-F are hose-only. Building b2 (205-215, 20-40) is deep, has no water and is reached in
700 s (target 600 s); the others are reached in 100, 300 and 50 s and have water.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline._io import write_parquet
from tests.osm_fixtures import CRS, TOWN_BOUNDS, X0, Y0

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.paths import ProvincePaths

SPLIT_X = 160.0
WIDTH_CLASS = {"primary": "truck", "residential": "truck", "tertiary": "truck",
               "service": "hose_only", "footway": "hose_only"}  # fmt: skip
WIDTH_M = {"primary": 6.0, "residential": 6.0, "tertiary": 6.0, "service": 2.5, "footway": 1.5}
TIMES_S = {"b0": 100.0, "b1": 300.0, "b2": 700.0, "b3": 50.0}


def _pt(x: float, y: float) -> shapely.Point:
    return shapely.Point(X0 + x, Y0 + y)


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def _gdf(data: dict, geoms: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(data, geometry=geoms, crs=CRS)


def _missing(stage: str) -> bool:
    return importlib.util.find_spec(f"pipeline.{stage}") is None


def building_keys(paths: ProvincePaths) -> pd.Series:
    """Map the ingest building ids to b0..b3 by position (x of the centroid, then y)."""
    b = gpd.read_parquet(paths.artifact("ingest", "buildings"))
    c = b.geometry.centroid
    rel = pd.DataFrame({"x": c.x - X0, "y": c.y - Y0}, index=b.index)
    key = np.select(
        [rel["x"] < 50, (rel["x"] > 100) & (rel["x"] < 150), rel["x"] > 200],
        ["b0", "b1", "b2"], "b3",
    )  # fmt: skip
    return pd.Series(key, index=b.index)


def ward_geojson(path: Path) -> Path:
    """Write the two wards as a WGS84 GeoJSON file (the ``wards.file`` config input)."""
    x0, y0, x1, y1 = TOWN_BOUNDS
    margin = 10.0  # beyond the boundary: ingest clips the wards to it
    wards = _gdf(
        {"code": ["W1", "W2"], "name": ["Phường Kinh Bắc", "Xã Hòa Long"],
         "type": ["phường", "xã"], "population_2025": [12000.0, np.nan]},
        [_box(x0 - margin, y0 - margin, SPLIT_X, y1 + margin),
         _box(SPLIT_X, y0 - margin, x1 + margin, y1 + margin)],
    )  # fmt: skip
    wards.to_crs(4326).to_file(path, driver="GeoJSON")
    return path


def write_upstream(paths: ProvincePaths) -> None:
    """Write network, water and coverage artifacts for the stages this branch lacks."""
    keys = building_keys(paths)
    bid = {k: int(i) for i, k in keys.items()}
    out = paths.outputs
    if _missing("network"):
        e = gpd.read_parquet(paths.artifact("ingest", "graph_edges"))
        e["width_class"] = e["highway"].map(WIDTH_CLASS)
        e["width_m"] = e["highway"].map(WIDTH_M)
        e["width_source"] = np.where(e["highway"] == "residential", "tag", "highway_default")
        e["truck_ok"] = e["width_class"] == "truck"
        e["blocked"] = False
        e["alley_id"] = np.where(e["highway"] == "service", 0, -1)
        write_parquet(e, out / "network/edges.parquet")
        write_parquet(
            _gdf({"alley_id": [0], "name": ["Ngõ 5"], "length_m": [80.0], "depth_m": [80.0],
                  "min_width_m": [2.5], "n_buildings": [1], "n_deep_buildings": [1],
                  "floor_area_m2": [600.0], "has_fire_point": [False], "priority": [1]},
                 [shapely.LineString([(X0 + 200, Y0), (X0 + 200, Y0 + 80)])]),
            out / "network/alleys.parquet",
        )  # fmt: skip
        write_parquet(
            _gdf({"building_id": [bid["b2"]], "hose_distance_m": [75.0], "deep": [True],
                  "bottleneck_width_m": [2.5], "alley_id": [0], "floor_area_m2": [600.0]},
                 [_box(205, 20, 215, 40)]),
            out / "network/deep_buildings.parquet",
        )  # fmt: skip
        write_parquet(
            _gdf({"alley_id": [0], "rank": [1], "n_buildings": [1], "floor_area_m2": [600.0]},
                 [_pt(200, 40)]),
            out / "network/fire_point_candidates.parquet",
        )  # fmt: skip
    if _missing("water"):
        wp = gpd.read_parquet(paths.artifact("ingest", "water_points"))
        src = gpd.GeoDataFrame(
            {"kind": wp["emergency"].to_numpy(), "origin": "osm", "usable": True, "reason": "",
             "reach_m": 200.0}, geometry=wp.geometry.to_numpy(), crs=CRS,
        )  # fmt: skip
        write_parquet(src, out / "water/sources.parquet")
        covered = pd.DataFrame(
            {
                "building_id": list(keys.index),
                "covered": [k != "b2" for k in keys],
                "water_distance_m": [400.0 if k == "b2" else 50.0 for k in keys],
            }
        )
        write_parquet(covered, out / "water/building_water.parquet")
        write_parquet(
            _gdf({"rank": [1, 2], "added_buildings": [1, 0], "added_floor_area_m2": [600.0, 0.0]},
                 [_pt(200, 60), _pt(0, 60)]),
            out / "water/hydrant_candidates.parquet",
        )  # fmt: skip
    if _missing("coverage"):
        st = _pt(10, -10)
        write_parquet(
            _gdf({"scenario": ["base", "base", "slow"], "minutes": [4.0, 8.0, 4.0]},
                 [st.buffer(120), st.buffer(260), st.buffer(80)]),
            out / "coverage/isochrones.parquet",
        )  # fmt: skip
        times = pd.DataFrame({"building_id": list(keys.index),
                              "time_s": [TIMES_S[k] for k in keys],
                              "ward_id": ["W2" if k == "b2" else "W1" for k in keys]})  # fmt: skip
        write_parquet(times, out / "coverage/building_times.parquet")
        write_parquet(
            _gdf({"floor_area_m2": [600.0], "population": [20.0], "time_s": [700.0]},
                 [_box(200, 0, 300, 100)]),
            out / "coverage/dense_unreached.parquet",
        )  # fmt: skip
        write_parquet(
            _gdf({"rank": [1], "added_buildings": [1], "added_floor_area_m2": [600.0]},
                 [_pt(220, 10)]),
            out / "coverage/station_candidates.parquet",
        )  # fmt: skip
        write_parquet(
            pd.DataFrame({"scenario": ["before", "after"], "buildings_within_target": [3, 4],
                          "share_within_target": [0.75, 1.0]}),
            out / "coverage/scenarios.parquet",
        )  # fmt: skip
