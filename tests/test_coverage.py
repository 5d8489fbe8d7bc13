"""Stage ``coverage`` end to end on a generated town with hand-computed response times."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipeline._errors import InputDataError
from pipeline.config import load_config
from pipeline.isochrones import read_street_arrays
from pipeline.paths import ProvincePaths
from pipeline.routing import Snap, multi_source_dijkstra, snap_to_edges
from pipeline.stage import run_stage
from pipeline.stages import coverage as coverage_stage
from pipeline.stages.coverage import Demand, coverage_matrix, street_arrays
from tests.conftest import Project
from tests.osm_fixtures import X0, Y0, OsmBuilder, boundary_geojson, lonlat

#: 3 km/h: 0.8333 m/s, so 250 m take 300 s and 750 m take 900 s.
SPEED_KPH = 3.0
MPS = SPEED_KPH / 3.6


def coverage_town() -> OsmBuilder:
    """A 1 km main street (10 m wide) with a 2 m alley; two dense blocks and a house (metres)::

                           H house (490..510, 225..245) at the alley's end
                           |  Ngõ 7, width 2, 250 m
    A(0,0)================J(500,0)=================K(1000,0)   primary, width 10
      ^ station S1 (existing)              ^ S2 (planned) at x = 800
      dense block 1: (230..270, 20..60) x 4 storeys, cell [200, 300) x [0, 100)
      dense block 2: (730..770, 20..60) x 4 storeys, cell [700, 800) x [0, 100)
    """
    b = OsmBuilder()
    A, J, K = b.node(0, 0, nid=1), b.node(500, 0, nid=2), b.node(1000, 0, nid=3)
    H = b.node(500, 250, nid=4)
    b.way([A, J, K], {"highway": "primary", "name": "Đường Chính", "width": "10"}, wid=101)
    b.way([J, H], {"highway": "service", "service": "alley", "name": "Ngõ 7", "width": "2"},
          wid=102)  # fmt: skip
    b.rect(230, 20, 270, 60, {"building": "yes", "building:levels": "4"})
    b.rect(730, 20, 770, 60, {"building": "yes", "building:levels": "4"})
    b.rect(490, 225, 510, 245, {"building": "house"})
    return b


@pytest.fixture(scope="module")
def coverage_project(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("coverage")
    project = Project(tmp_path / "project")
    pbf = coverage_town().write(tmp_path / "cov.osm.pbf")
    boundary = boundary_geojson(tmp_path / "b.geojson", -100, -100, 1100, 400)
    stations = tmp_path / "stations.csv"
    (lon1, lat1), (lon2, lat2) = lonlat(0, 10), lonlat(800, 10)
    stations.write_text(
        "name,status,lat,lon\n"
        f"Đội 1,existing,{lat1},{lon1}\n"
        f"Đội 2 (quy hoạch),planned,{lat2},{lon2}\n",
        encoding="utf-8",
    )
    lon, lat = lonlat(500, 150)
    communes = tmp_path / "communes.csv"
    communes.write_text(
        "code,name,type,population_2025,centroid_lon,centroid_lat\n"
        f"00001,Phường Thử,phường,1000,{lon},{lat}\n",
        encoding="utf-8",
    )
    project.province(
        "cov",
        {
            "osm": {"file": str(pbf)},
            "boundary": {"file": str(boundary)},
            "stations": {"from_osm": False, "files": [str(stations)]},
            "wards": {"centroids_csv": str(communes)},
            "response": {
                "speed_scenario": "test",
                "speed_scenarios_kph": {"test": {"default": SPEED_KPH}},
                "target_time_s": {"value": 600, "unit": "s", "source": "test"},
                "isochrone_breaks_min": [5, 10, 20],
                "station_candidate_count": 2,
            },
        },
    )
    return project


@pytest.fixture(scope="module")
def coverage_run(coverage_project):
    paths = ProvincePaths("cov", coverage_project.root)
    config = load_config("cov", root=coverage_project.root)
    # Only the stages coverage reads (the water stage is not upstream of it).
    for stage in ("ingest", "network"):
        run_stage(stage, config, paths)
    return paths, run_stage("coverage", config, paths)


def _art(paths, name):
    return gpd.read_parquet(paths.artifact("coverage", name))


def test_node_times_hand_computed(coverage_run):
    paths, _ = coverage_run
    nt = _art(paths, "node_times").set_index("osmid")
    # Station 1 sits at A: J is 500 m away, K 1000 m. Station 2 (planned) is 200 m from K.
    assert nt.loc[1, "time_s_existing"] == pytest.approx(0, abs=0.5)
    assert nt.loc[2, "time_s_existing"] == pytest.approx(500 / MPS, abs=0.5)  # 600 s
    assert nt.loc[3, "time_s_existing"] == pytest.approx(1000 / MPS, abs=0.5)  # 1200 s
    assert nt.loc[3, "time_s_with_planned"] == pytest.approx(200 / MPS, abs=0.5)  # 240 s
    assert nt.loc[2, "time_s_with_planned"] == pytest.approx(300 / MPS, abs=0.5)  # 360 s
    assert nt.loc[3, "station_with_planned"] == 1
    # The node behind the 2 m alley is not reached by truck in any scenario.
    assert np.isinf(nt.loc[4, [c for c in nt.columns if c.startswith("time_s_")]]).all()
    assert nt.loc[4, "station_existing"] == -1
    # Adding stations never raises a time.
    assert (nt["time_s_with_planned"] <= nt["time_s_existing"] + 1e-9).all()


def test_drive_graph_artifact_routes_like_the_stage(coverage_run, tmp_path):
    paths, _ = coverage_run
    street = read_street_arrays(paths.artifact("coverage", "drive_graph"))
    nt = _art(paths, "node_times")
    arr = street.arrays
    assert np.array_equal(arr.node_ids, nt["osmid"].to_numpy())
    np.testing.assert_array_equal(street.node_xy, shapely.get_coordinates(nt.geometry.to_numpy()))
    # The saved adjacency is the one the stage routed on: same times from the same sources.
    t = nt["time_s_existing"].to_numpy()
    cost, _ = multi_source_dijkstra(street.graph, np.flatnonzero(t == 0))
    np.testing.assert_allclose(cost, t, atol=1e-6)
    assert np.array_equal(street.graph.toarray(), arr.csr().toarray())
    # Edge vertices: one run per edge, in edge order; twins are mutual.
    coords, which = street.lines
    assert len(coords) == len(which)
    assert np.array_equal(np.unique(which), np.arange(len(arr.u)))
    paired = street.twin >= 0
    assert paired.any()
    assert np.array_equal(street.twin[street.twin[paired]], np.flatnonzero(paired))
    bad = tmp_path / "bad.npz"
    np.savez(bad, node_ids=arr.node_ids)
    with pytest.raises(InputDataError, match="not a street-arrays file"):
        read_street_arrays(bad)


def test_dense_cells_flagged_at_the_target(coverage_run):
    paths, entry = coverage_run
    cells = _art(paths, "cells")
    near = cells[np.isclose(cells.geometry.centroid.x, X0 + 250)].iloc[0]
    far = cells[np.isclose(cells.geometry.centroid.x, X0 + 750)].iloc[0]
    assert near["dense"]
    assert far["dense"]
    assert near["floor_area_m2"] == pytest.approx(6400, rel=1e-3)
    # A cell's time is its buildings': each block fronts the street from x = 230 (730).
    assert near["time_s_existing"] == pytest.approx(230 / MPS, abs=0.5)  # 4.6 min
    assert far["time_s_existing"] == pytest.approx(730 / MPS, abs=0.5)  # 14.6 min
    assert near["within_target_existing"]
    assert not far["within_target_existing"]
    assert far["within_target_with_planned"]
    du = _art(paths, "dense_unreached")
    assert len(du) == 1
    assert du.geometry.centroid.x.iloc[0] == pytest.approx(X0 + 750)
    # Population spread by floor area: 1000 people x 6400 / (6400 + 6400 + 800) m².
    assert far["population"] == pytest.approx(1000 * 6400 / 13600, rel=1e-3)
    s = entry["summary"]
    assert s["dense_unreached_cells"] == 1
    # Block 1 is 230..270 m from station 1 (276..324 s): within 10 min, not all within 5.
    assert s["within_break_existing"]["10"]["buildings_share"] == pytest.approx(1 / 3)


def test_buildings_and_alley_house(coverage_run):
    paths, _ = coverage_run
    bt = _art(paths, "building_times")
    house = bt[bt["floor_area_m2"] < 1000].iloc[0]
    assert np.isinf(house["time_s_existing"])  # 225 m up a 2 m alley: beyond 60 m of hose
    assert house["gap_to_truck_street_m"] == np.inf or house["gap_to_truck_street_m"] > 60
    blocks = bt[bt["floor_area_m2"] > 1000].sort_values("time_s_existing")
    # The blocks' street frontage runs x = 230..270 and 730..770; station 2 stands at x = 800,
    # on the same street edge as block 2 (reached along that edge, not round its far end).
    t = blocks["time_s_existing"].to_numpy()
    assert 230 / MPS - 0.5 <= t[0] <= 270 / MPS + 0.5
    assert 730 / MPS - 0.5 <= t[1] <= 770 / MPS + 0.5
    t2 = blocks["time_s_with_planned"].to_numpy()[1]
    assert 30 / MPS - 0.5 <= t2 <= 70 / MPS + 0.5


def test_scenarios_siting_and_wards(coverage_run):
    paths, _ = coverage_run
    scen = pd.read_parquet(paths.artifact("coverage", "scenarios")).set_index("scenario")
    assert scen.loc["existing", "stations"] == 1
    assert scen.loc["with_planned", "stations"] == 2
    assert scen.loc["with_planned", "newly_covered_floor_area_m2"] == pytest.approx(6400, 1e-3)
    assert scen.loc["with_planned", "newly_covered_population"] == pytest.approx(470.6, 1e-3)
    assert scen.loc["with_planned", "newly_covered_dense_ha"] == pytest.approx(1.0)
    cand = _art(paths, "station_candidates")
    # One site covers the only dense unreached cell; nothing is left for a second.
    assert len(cand) == 1
    assert cand["gain"].iloc[0] == pytest.approx(470.6, rel=1e-3)
    # What the site brings: the one dense 100 m cell (1 ha), its people and floor area.
    assert cand["added_dense_ha"].iloc[0] == pytest.approx(1.0)
    assert cand["added_population"].iloc[0] == pytest.approx(470.6, rel=1e-3)
    assert cand["added_floor_area_m2"].iloc[0] == pytest.approx(6400, rel=1e-3)
    assert cand["added_buildings"].iloc[0] >= 1
    assert scen.loc["with_suggested", "dense_unreached_cells"] == 0
    siting = json.loads(paths.artifact("coverage", "coverage_summary").read_text("utf-8"))["siting"]
    assert siting["planned_newly_covered_weight"] == pytest.approx(470.6, rel=1e-3)
    assert siting["suggested_same_count_newly_covered_weight"] == pytest.approx(470.6, rel=1e-3)
    wards = _art(paths, "coverage_wards")
    assert len(wards) == 1
    assert wards["buildings"].iloc[0] == 3
    assert wards["dense_unreached_cells"].iloc[0] == 1
    assert wards["dense_unreached_cells_with_planned"].iloc[0] == 0
    iso = _art(paths, "isochrones")
    assert set(iso["scenario"]) == {"existing", "with_planned", "with_suggested"}
    e = iso[iso["scenario"] == "existing"].sort_values("break_min")
    assert e["area_km2"].is_monotonic_increasing
    pt = shapely.Point(X0 + 700, Y0)  # 840 s from station 1: inside 20 min, outside 10 min
    assert e.geometry.iloc[2].contains(pt)
    assert not e.geometry.iloc[1].contains(pt)
    sa = _art(paths, "service_areas").set_index("scenario")
    # The one ward is a phường: 3 km urban radius (QCVN 01:2021), the street is 1 km long.
    assert sa.loc["existing", "geometry"].contains(shapely.Point(X0 + 1000, Y0))
    summary = json.loads(paths.artifact("coverage", "coverage_summary").read_text("utf-8"))
    assert summary["worst_dense_unreached"][0]["rank"] == 1


def test_coverage_matrix_and_fallback_classes():
    xy = {1: (0.0, 0.0), 2: (100.0, 0.0), 3: (300.0, 0.0)}
    rows = []
    for a, b in ((1, 2), (2, 3)):
        for u, v in ((a, b), (b, a)):
            rows.append({"u": u, "v": v, "key": 0, "highway": "residential", "width": None,
                         "geometry": shapely.LineString([xy[u], xy[v]])})  # fmt: skip
    edges = gpd.GeoDataFrame(rows, crs="EPSG:32648").set_index(["u", "v", "key"])
    edges["length"] = edges.length
    nodes = pd.DataFrame(index=pd.Index(list(xy), name="osmid"))
    arr = street_arrays(nodes, edges, edges["length"].to_numpy())  # 1 s per metre
    snap = snap_to_edges(shapely.points([(250.0, 5.0), (20.0, 0.0)]), edges)
    cov = coverage_matrix(
        arr.csr(), snap, arr, np.ones(len(edges)), candidates=np.array([0, 1, 2]), target_s=160
    )
    # Demand 0 (x=250) is 250 / 150 / 50 s from nodes 1 / 2 / 3; demand 1 (x=20): 20 / 80 / 280.
    assert cov.toarray().tolist() == [[False, True], [True, True], [True, False]]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_coverage_matrix_is_every_candidate_time_within_the_target(seed):
    """Against an unbounded Dijkstra from every candidate: one-way streets, end-node spots."""
    rng = np.random.default_rng(seed)
    n = 8
    xy = {i: (100.0 * (i % n), 100.0 * (i // n)) for i in range(n * n)}
    rows = []
    for i in xy:
        for j in (i + 1, i + n):
            if j in xy and (j == i + n or j % n):
                two_way, forward = rng.random() < 0.7, rng.random() < 0.5
                ways = [(i, j), (j, i)] if two_way else [(i, j) if forward else (j, i)]
                line = {(u, v): shapely.LineString([xy[u], xy[v]]) for u, v in ways}
                rows += [{"u": u, "v": v, "key": 0, "geometry": g} for (u, v), g in line.items()]
    edges = gpd.GeoDataFrame(rows, crs="EPSG:32648").set_index(["u", "v", "key"])
    edges["length"] = edges.length
    nodes = pd.DataFrame(index=pd.Index(list(xy), name="osmid"))
    rate = rng.uniform(0.05, 0.2, len(edges))  # seconds per metre
    arr = street_arrays(nodes, edges, edges["length"].to_numpy() * rate)
    pts = shapely.points(rng.uniform(-20, 720, (300, 2)))
    snap = snap_to_edges(np.r_[pts, shapely.points([xy[9], xy[20]])], edges, max_distance_m=60)
    # candidates standing on demand edge ends too (nodes 9 and 20)
    candidates = np.unique(np.r_[rng.choice(n * n, 12, replace=False), [9, 20]])
    target = 60.0
    cov = coverage_matrix(
        arr.csr(), snap, arr, rate, candidates=candidates, target_s=target
    ).toarray()
    from scipy.sparse import csgraph

    dist = csgraph.dijkstra(arr.csr(), directed=True, indices=candidates)
    ok = snap.edge >= 0
    e = np.maximum(snap.edge, 0)
    via_u = dist[:, arr.u[e]] + snap.to_u_m * rate[e]
    via_v = dist[:, arr.v[e]] + snap.to_v_m * rate[e]
    expected = (np.minimum(via_u, via_v) <= target) & ok
    assert cov.tolist() == expected.tolist()
    assert 0 < cov.sum() < cov.size


@pytest.mark.parametrize("block_cells", [1, 150, 10_000])
def test_times_to_ends_are_the_dense_times_within_the_target(monkeypatch, block_cells):
    """Batched sparse times against one unbounded dense Dijkstra, whatever the batch size."""
    from scipy import sparse
    from scipy.sparse import csgraph

    monkeypatch.setattr(coverage_stage, "_DIJKSTRA_CELLS", block_cells)
    rng = np.random.default_rng(7)
    n = 60
    u, v = rng.integers(0, n, 240), rng.integers(0, n, 240)
    keep = u != v
    graph = sparse.csr_matrix((rng.uniform(1, 30, keep.sum()), (u[keep], v[keep])), shape=(n, n))
    candidates = np.unique(rng.choice(n, 17, replace=False))
    ends = np.unique(np.r_[rng.choice(n, 25, replace=False), candidates[:3]])
    target = 40.0
    got = coverage_stage._times_to_ends(graph, candidates, ends, target).toarray()
    dist = csgraph.dijkstra(graph, directed=True, indices=candidates)[:, ends].T
    expected = np.where((dist <= target) & (dist > 0), dist, 0.0)
    np.testing.assert_array_equal(got, expected)
    assert 0 < np.count_nonzero(got) < got.size


def test_no_station_suggests_sites(tmp_path):
    """Bắc Ninh's authority list has no coordinates: zero stations must still give answers."""
    project = Project(tmp_path / "project")
    pbf = coverage_town().write(tmp_path / "t.osm.pbf")
    boundary = boundary_geojson(tmp_path / "b.geojson", -100, -100, 1100, 400)
    project.province(
        "nost",
        {"osm": {"file": str(pbf)}, "boundary": {"file": str(boundary)},
         "stations": {"from_osm": False, "files": []}},
    )  # fmt: skip
    config, paths = load_config("nost", root=project.root), ProvincePaths("nost", project.root)
    for stage in ("ingest", "network"):
        run_stage(stage, config, paths)
    s = run_stage("coverage", config, paths)["summary"]
    assert s["scenarios"]["existing"]["stations"] == 0
    assert s["scenarios"]["existing"]["dense_unreached_cells"] == 2
    # One junction (J, x = 500) reaches both dense cells (250 m each way) within 10 min.
    assert s["siting"]["suggested_sites"] == 1
    assert s["scenarios"]["with_suggested"]["dense_unreached_cells"] == 0
    nt = gpd.read_parquet(paths.artifact("coverage", "node_times"))
    assert (nt["station_existing"] == -1).all()


def test_thin_candidates_keeps_the_busiest_junction_per_square():
    from pipeline.stages.coverage import thin_candidates

    cand = np.array([10, 11, 12, 13])
    xy = np.array([[10.0, 10.0], [400.0, 300.0], [600.0, 10.0], [20.0, 20.0]])
    streets = np.array([3, 4, 3, 3])
    # 10, 11 and 13 share the square [0, 500)^2: 11 has the most streets; 12 is alone.
    assert thin_candidates(cand, xy, streets, 500.0).tolist() == [11, 12]
    # a tie keeps the first
    assert thin_candidates(cand, xy, np.array([3, 3, 3, 3]), 500.0).tolist() == [10, 12]
    assert thin_candidates(cand, xy, streets, 0.0).tolist() == cand.tolist()


def test_demand_units_share_a_spot_per_street_stretch():
    from pipeline.routing import Snap
    from pipeline.stages.coverage import _unit_sums, demand_units

    snap = Snap(
        edge=np.array([0, 0, 0, 1, -1]),
        gap_m=np.array([1.0, 3.0, 2.0, 1.0, 0.0]),
        to_u_m=np.array([5.0, 20.0, 40.0, 5.0, 0.0]),
        to_v_m=np.array([95.0, 80.0, 60.0, 45.0, 0.0]),
    )
    need = np.array([True, True, True, True, True])
    unit, spots = demand_units(snap, need, 25.0)
    # 5 m and 20 m share the first 25 m of edge 0; 40 m is the next stretch; edge 1 apart;
    # the unsnapped building has no spot (it can never be reached).
    assert unit[0] == unit[1] != unit[2]
    assert len({unit[0], unit[2], unit[3]}) == 3
    assert unit[4] == -1
    assert spots.to_u_m[unit[0]] == pytest.approx(12.5)
    assert spots.to_v_m[unit[0]] == pytest.approx(87.5)
    assert _unit_sums(unit, np.array([1.0, 2.0, 4.0, 8.0, 16.0]), len(spots.edge))[
        unit[0]
    ] == pytest.approx(3.0)
    unit_no, _ = demand_units(snap, np.array([False, True, False, False, False]), 25.0)
    assert (unit_no >= 0).sum() == 1


def test_demand_keeps_only_the_footprints_asked_and_reads_the_rest_again():
    squares = shapely.box(np.arange(4.0), 0.0, np.arange(4.0) + 0.5, 0.5)
    reads = []

    def reread():
        reads.append(1)
        return squares.copy()

    snap = Snap(np.zeros(4, np.int64), *(np.zeros(4) for _ in range(3)))
    dem = Demand(pd.DataFrame(index=range(4)), gpd.GeoDataFrame(), snap, snap, np.zeros(4),
                 60.0, squares.copy(), reread)  # fmt: skip
    got = dem.footprints(np.array([False, True, False, False]))
    assert shapely.equals(got[1], squares[1])
    assert not reads
    dem.keep_asked_footprints()
    assert list(shapely.is_missing(dem.geoms)) == [True, False, True, True]
    assert not reads
    dem.footprints(np.array([False, True, False, False]))  # still held: no read
    assert not reads
    got = dem.footprints(np.array([False, False, True, False]))  # dropped: read again
    assert reads == [1]
    assert shapely.equals(got, squares).all()


def test_plan_without_planned_stations_is_today(tmp_path):
    """No planned station: the plan's times, stations and shapes are today's, not re-derived."""
    project = Project(tmp_path / "project")
    pbf = coverage_town().write(tmp_path / "t.osm.pbf")
    boundary = boundary_geojson(tmp_path / "b.geojson", -100, -100, 1100, 400)
    stations = tmp_path / "stations.csv"
    lon1, lat1 = lonlat(0, 10)
    stations.write_text(f"name,status,lat,lon\nĐội 1,existing,{lat1},{lon1}\n", encoding="utf-8")
    project.province(
        "today",
        {"osm": {"file": str(pbf)}, "boundary": {"file": str(boundary)},
         "stations": {"from_osm": False, "files": [str(stations)]},
         "response": {"speed_scenario": "test",
                      "speed_scenarios_kph": {"test": {"default": SPEED_KPH}}}},
    )  # fmt: skip
    config, paths = load_config("today", root=project.root), ProvincePaths("today", project.root)
    for stage in ("ingest", "network"):
        run_stage(stage, config, paths)
    run_stage("coverage", config, paths)
    nt = _art(paths, "node_times").set_index("osmid")
    assert nt.loc[3, "time_s_with_planned"] == pytest.approx(1000 / MPS, abs=0.5)  # from S1 only
    for name in ("node_times", "building_times", "cells"):
        frame = _art(paths, name)
        for col in ("time_s", "station"):
            np.testing.assert_array_equal(frame[f"{col}_with_planned"], frame[f"{col}_existing"])
    for name in ("isochrones", "service_areas"):
        frame = _art(paths, name)
        today = frame[frame["scenario"] == "existing"].geometry.to_numpy()
        plan = frame[frame["scenario"] == "with_planned"].geometry.to_numpy()
        assert not shapely.is_empty(today).any()
        assert shapely.equals(today, plan).all()
