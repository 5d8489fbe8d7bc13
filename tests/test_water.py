"""Stage ``water``: sources, reach along the streets, gaps, candidates (generated town + Hà Nội)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipeline.config import load_config
from pipeline.paths import ProvincePaths
from pipeline.stage import run_pipeline
from tests.conftest import SHARED_DATA, Project
from tests.osm_fixtures import X0, Y0, OsmBuilder, boundary_geojson, lonlat

NON_TRUCK = {"footway", "path", "steps", "pedestrian", "cycleway"}


def water_town() -> OsmBuilder:
    """A U-shaped street: the hydrant at A is 182 m along the streets from the building at D.

    ::

        A(0,0) hydrant           D(90,0)   building 2 m north of D
          |                        |
        B(0,-45) ------------- C(90,-45) ---- footway ---- (150,-45)  hydrant off the trucks
          |
        W(-200,-45) --- B   (pond 7 m from W; building 52 m from W)
          |
        Z(-200,-300)  (authority hydrant near its end, from the CSV)
    """
    b = OsmBuilder()
    A, B = b.node(0, 0, nid=1), b.node(0, -45, nid=2)
    C, D = b.node(90, -45, nid=3), b.node(90, 0, nid=4)
    W, Z = b.node(-200, -45, nid=5), b.node(-200, -300, nid=6)
    F = b.node(150, -45, nid=7)
    for u, v in ((A, B), (B, C), (C, D), (B, W), (W, Z)):
        b.way([u, v], {"highway": "residential"})
    b.way([C, F], {"highway": "footway"})
    b.node(0, 2, {"emergency": "fire_hydrant"}, nid=11)  # merged into the CSV's hydrant
    b.node(150, -43, {"emergency": "fire_hydrant"}, nid=12)  # only a footway nearby
    b.rect(88, 2, 92, 6, {"building": "yes"})  # D building: 4 x 4 m, 2 storeys
    tri = [b.node(45, -43), b.node(43, -40), b.node(47, -40)]
    b.way([*tri, tri[0]], {"building": "yes"})  # 2 m north of B-C, 45 m from B
    tri = [b.node(-150, -43), b.node(-152, -40), b.node(-148, -40)]
    b.way([*tri, tri[0]], {"building": "yes"})  # 2 m north of W-B, 50 m from W
    b.rect(-230, -40, -205, -20, {"natural": "water", "water": "pond"})  # 7.1 m from W
    b.rect(300, 300, 330, 330, {"natural": "water", "water": "pond"})  # no street near
    b.line([(-10, 10), (-10, -60)], {"waterway": "stream"})
    # An 8 x 8 m garden pond 5 m from W-Z: too small to count (natural_source_min_area_m2).
    b.rect(-195, -160, -187, -152, {"natural": "water", "water": "pond"})
    return b


def csv_rows() -> str:
    def ll(x, y):
        lon, lat = lonlat(x, y)
        return f"{lon:.8f},{lat:.8f}"

    rows = [
        "name,type,lon,lat",
        f"Trụ A,trụ nước,{ll(1, 3)}",  # line 2: duplicate of the OSM hydrant at (0, 2)
        f"Trụ Z,hydrant,{ll(-198, -290)}",  # line 3: good
        "Trụ trống,hydrant,,",  # line 4: no coordinates
        f"Trụ chữ,hydrant,abc,{ll(0, 0).split(',')[1]}",  # line 5: not a number
        f"Không loại,,{ll(-100, -47)}",  # line 6: no type
        f"Ngoài tỉnh,hydrant,{ll(5000, 5000)}",  # line 7: outside the boundary
        f"Lạ,giếng khoan,{ll(-100, -47)}",  # line 8: unknown type
        f"Đảo,hydrant,{ll(-100, -47).split(',')[1]},{ll(-100, -47).split(',')[0]}",  # 9: swapped
    ]
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def water_project(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("water")
    project = Project(tmp_path / "project")
    pbf = water_town().write(tmp_path / "water.osm.pbf")
    boundary = boundary_geojson(tmp_path / "b.geojson", -300, -400, 400, 400)
    csv = tmp_path / "hydrants.csv"
    csv.write_text(csv_rows(), encoding="utf-8")
    project.province(
        "wtown",
        {
            "osm": {"file": str(pbf)},
            "boundary": {"file": str(boundary)},
            "water": {
                "files": [{"path": str(csv), "type_column": "type"}],
                "hydrant_reach_m": {"value": 150, "unit": "m", "source": "test"},
                "natural_source_pump": "portable",
                "natural_source_reach_portable_m": {"value": 100, "unit": "m", "source": "test"},
            },
        },
    )
    paths = ProvincePaths("wtown", project.root)
    config = load_config("wtown", root=project.root)
    run_pipeline("water", config, paths)
    return paths


def test_reach_is_measured_along_the_streets(water_project):
    paths = water_project
    bw = gpd.read_parquet(paths.artifact("water", "building_water")).sort_index()
    d_bld, mid_bld, w_bld = bw.iloc[0], bw.iloc[1], bw.iloc[2]
    # 45 + 90 + 45 m along the U from the hydrant at A, plus the 2 m gap; 90 m in a straight line
    assert d_bld["hydrant_distance_m"] == pytest.approx(182, abs=0.05)
    assert not d_bld["covered"]
    assert d_bld["water_distance_m"] == pytest.approx(182, abs=0.05)
    # 45 m down A-B, 45 m along B-C, 2 m gap
    assert mid_bld["hydrant_distance_m"] == pytest.approx(92, abs=0.05)
    assert mid_bld["covered"]
    assert mid_bld["nearest_source_id"] == "file:hydrants.csv:2"
    # the pond's access spot is W; the building is 50 m along W-B and 2 m off it
    assert w_bld["natural_distance_m"] == pytest.approx(52, abs=0.05)
    assert w_bld["covered"]
    assert w_bld["nearest_source_kind"] == "pond"
    assert w_bld["hydrant_distance_m"] == pytest.approx(45 + 150 + 2, abs=0.05)


def test_reach_stretches_follow_the_streets(water_project):
    paths = water_project
    reach = gpd.read_parquet(paths.artifact("water", "reach"))
    street = gpd.read_parquet(paths.artifact("water", "street_water"))
    assert set(reach["kind"]) == {"hydrant", "natural"}
    # the hydrant at A reaches 150 m along the U: A-B (45 m), B-C (90 m), 15 m of C-D
    hyd = reach[reach["kind"] == "hydrant"].set_index(["u", "v"])
    assert hyd.loc[(3, 4), "length_m"] == pytest.approx(15, abs=0.1)
    assert hyd.loc[(3, 4), "from_m"] == pytest.approx(0, abs=0.1)
    assert hyd.loc[(2, 3), "length_m"] == pytest.approx(90, abs=0.1)
    # the drawn stretch is that part of the street: from C (90, -45) 15 m north
    c_to_d = hyd.loc[(3, 4), "geometry"]
    assert c_to_d.length == pytest.approx(15, abs=0.1)
    # every stretch lies on its street, and per street the union is the covered length
    by_edge = street.set_index(["u", "v", "key"])
    lines = by_edge.loc[list(zip(reach["u"], reach["v"], reach["key"], strict=True)), "geometry"]
    assert shapely.contains(shapely.buffer(lines.to_numpy(), 0.01), reach.geometry.to_numpy()).all()
    for key, group in reach.groupby(["u", "v", "key"]):
        ab = sorted(zip(group["from_m"], group["to_m"], strict=True))
        union, end = 0.0, -1.0
        for a, b in ab:
            union += max(0.0, b - max(a, end))
            end = max(end, b)
        assert union == pytest.approx(by_edge.loc[key, "covered_m"], abs=0.05)


def test_sources_usable_only_with_truck_access(water_project):
    src = gpd.read_parquet(water_project.artifact("water", "sources")).set_index("source_id")
    near_w, far = src.loc["osm:w5010"], src.loc["osm:w5011"]
    assert near_w["usable"]
    assert near_w["access_points"] == 2  # W-B and W-Z both pass 7.1 m from the bank
    assert near_w["reach_m"] == 100
    assert not far["usable"]
    assert far["reason"] == "no truck street within 20 m of the bank"
    assert not src.loc["osm:n12", "usable"]  # only a footway within 30 m
    assert src.loc["osm:n12", "reason"] == "no truck street within 30 m"
    assert not src.loc["osm:w5012", "usable"]
    assert "stream" in src.loc["osm:w5012", "reason"]
    assert src.loc["file:hydrants.csv:3", "usable"]
    assert "osm:n11" not in src.index  # merged into the CSV's hydrant
    garden = src.loc["osm:w5013"]
    assert garden["area_m2"] == pytest.approx(64, rel=0.01)
    assert not garden["usable"]
    assert "below 200 m²" in garden["reason"]
    assert src.loc["osm:w5010", "area_m2"] > 200
    assert src.loc["file:hydrants.csv:3", "snap_m"] == pytest.approx(2, abs=0.1)


def test_bad_rows_reported_with_line_numbers(water_project):
    rejects = pd.read_csv(water_project.artifact("water", "source_rejects"))
    assert list(rejects.columns) == ["file", "line", "reason"]
    rows = rejects[rejects["file"] == "hydrants.csv"]
    by_line = dict(zip(rows["line"].astype(int), rows["reason"], strict=True))
    assert by_line == {
        4: "no coordinates",
        5: "coordinates are not numbers",
        6: "missing type (fill the type column or set default_type)",
        7: "outside the province boundary",
        8: "unknown type 'giếng khoan' (add it to water.type_aliases in the config)",
        9: "coordinates out of range for lon/lat",
    }
    dup = rejects[rejects["file"] == "OSM"]
    assert len(dup) == 1
    assert (
        dup["reason"].iloc[0].startswith("duplicate OSM n11: within 1.4 m of file:hydrants.csv:2")
    )


def test_spacing_gaps_and_candidates(water_project):
    paths = water_project
    gaps = gpd.read_parquet(paths.artifact("water", "spacing_gaps"))
    bc = gaps[(gaps["u"] == 2) & (gaps["v"] == 3)].iloc[0]
    # B-C: hydrant distance 45 m at B, 135 m at C; within 75 m (half of 150) only its first 30 m
    assert bc["beyond_half_spacing_m"] == pytest.approx(60, abs=0.05)
    assert bc["hydrant_distance_max_m"] == pytest.approx(135, abs=0.05)
    assert not ((gaps["u"] == 1) & (gaps["v"] == 2)).any()  # A-B is 45 m from the hydrant at A
    cand = gpd.read_parquet(paths.artifact("water", "hydrant_candidates"))
    assert len(cand) == 1  # one site covers the one building without water; nothing else to gain
    assert cand["added_buildings"].iloc[0] == 1
    assert cand["added_floor_area_m2"].iloc[0] == pytest.approx(32, rel=2e-3)
    assert cand["node_id"].iloc[0] in {2, 3, 4}  # B (137 m), C (47 m) or D (2 m) reach it
    assert cand["cumulative_share"].iloc[0] == pytest.approx(1.0)
    s = json.loads(paths.artifact("water", "water_summary").read_text())
    assert s["buildings_without_water"] == 1
    assert s["usable_by_kind"] == {"hydrant": 2, "pond": 1}
    wards = gpd.read_parquet(paths.artifact("water", "water_wards"))
    assert len(wards) == 1
    assert wards["buildings_without_water"].iloc[0] == 1
    streets = gpd.read_parquet(paths.artifact("water", "street_water"))
    cd = streets[(streets["u"] == 3) & (streets["v"] == 4)].iloc[0]
    # C-D: 135 m at C, 180 m at D: within 150 m only its first 15 m
    assert cd["covered_m"] == pytest.approx(15, abs=0.05)
    assert cd["hydrant_distance_max_m"] == pytest.approx(180, abs=0.05)


@pytest.mark.shared_data
def test_ha_noi_sample(project):
    """The real Hà Nội sample: no hydrants, a few water bodies: almost nothing covered."""
    project.province(
        "hn",
        {
            "osm": {"file": str(SHARED_DATA / "hanoi_osm_sample" / "map.osm")},
            "boundary": {
                "file": str(SHARED_DATA / "vn_provinces_2025" / "diaphantinhvn_merged.geojson"),
                "field": "ten_tinh",
                "value": "TP Hà Nội",
            },
        },
    )
    paths = ProvincePaths("hn", project.root)
    config = load_config("hn", root=project.root)
    s = run_pipeline("water", config, paths)["water"]["summary"]
    assert s["buildings"] == 497
    assert s["sources_by_kind"].get("hydrant", 0) == 0
    assert s["usable_by_kind"].get("hydrant", 0) == 0
    bw = gpd.read_parquet(paths.artifact("water", "building_water"))
    assert bw["hydrant_distance_m"].isna().all()
    # what coverage there is comes from ponds and lakes a truck street passes (400 m reach)
    assert set(bw.loc[bw["covered"], "nearest_source_kind"]) <= set(config.water.natural_kinds)
    assert (bw.loc[bw["covered"], "natural_distance_m"] <= 400).all()
    assert s["share_buildings_without_water"] == pytest.approx((~bw["covered"]).mean(), abs=1e-4)
    assert 0 < s["hydrant_candidates"] <= config.water.candidate_count
    cand = gpd.read_parquet(paths.artifact("water", "hydrant_candidates"))
    assert (np.diff(cand["added_weight"]) <= 1e-9).all()  # greedy gains never grow
    assert cand["added_buildings"].sum() <= s["buildings_without_water"]


def test_dense_cells_and_population_weights():
    """The water gaps use the one density grid, and people spread over buildings by floor."""
    from pipeline.stages.water import Inputs, demand_weight, dense_without_water

    config = load_config("ha_noi")
    # 100 m cells, 5000 m2/ha: two buildings of 3000 m2 in one cell (one without water), one alone
    boxes = [(10, 10, 20, 40), (30, 30, 40, 60), (250, 10, 260, 40)]
    buildings = gpd.GeoDataFrame(
        {"floor_area_m2": [3000.0, 3000.0, 6000.0], "footprint_m2": [300.0] * 3},
        geometry=[shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in boxes],
        crs="EPSG:32648",
    )
    wards = gpd.GeoDataFrame(
        {"ward_id": ["a", "b"], "name": ["A", "B"], "ward_type": ["phường", "xã"],
         "population": [60.0, 30.0], "area_km2": [0.01, 0.01], "approximate": [False, False]},
        geometry=[shapely.box(X0, Y0, X0 + 200, Y0 + 100),
                  shapely.box(X0 + 200, Y0, X0 + 400, Y0 + 100)],
        crs="EPSG:32648",
    )  # fmt: skip
    inp = Inputs(
        boundary=shapely.box(X0, Y0, X0 + 400, Y0 + 100), bounds=(X0, Y0, X0 + 400, Y0 + 100),
        nodes=None, edges=None, truck=np.array([]), buildings=buildings, water_points=None,
        water_bodies=None, wards=wards,
    )  # fmt: skip
    table = pd.DataFrame({"floor_area_m2": buildings["floor_area_m2"],
                          "covered": [False, True, False]})  # fmt: skip
    cells = dense_without_water(inp, table, config.density)
    dense = cells[cells["dense"]]
    assert dense["floor_area_m2"].tolist() == [6000, 6000]
    assert dense["floor_area_without_water_m2"].tolist() == [3000, 6000]
    assert dense["without_water"].tolist() == [False, True]  # 3000 m2 without water < 5000
    assert dense["population_without_water"].tolist() == pytest.approx([30, 30])
    weight, kind = demand_weight(inp, cells, config)
    assert kind == "population"
    assert weight.tolist() == pytest.approx([30, 30, 30])  # ward people shared by floor area
    inp.wards.loc[1, "population"] = np.nan
    weight, kind = demand_weight(inp, dense_without_water(inp, table, config.density), config)
    assert kind == "floor_area"
    assert weight.tolist() == [3000, 3000, 6000]


def test_town_without_buildings_or_water(project, tmp_path):
    b = OsmBuilder()
    b.line([(0, 0), (100, 0), (100, 100)], {"highway": "residential"})
    pbf = b.write(tmp_path / "empty.osm.pbf")
    boundary = boundary_geojson(tmp_path / "b.geojson", -50, -50, 150, 150)
    project.province("empty", {"osm": {"file": str(pbf)}, "boundary": {"file": str(boundary)}})
    paths = ProvincePaths("empty", project.root)
    config = load_config("empty", root=project.root)
    s = run_pipeline("water", config, paths)["water"]["summary"]
    assert (s["sources"], s["buildings"], s["hydrant_candidates"]) == (0, 0, 0)
    assert s["spacing_gap_segments"] == 1  # one 200 m way, no hydrant: all of it is a gap
    assert s["street_km_without_water"] == pytest.approx(0.2, abs=1e-3)
    for name in ("sources", "building_water", "hydrant_candidates", "water_wards", "dense_gaps"):
        assert gpd.read_parquet(paths.artifact("water", name)).crs.to_epsg() == 32648
