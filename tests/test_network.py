"""Stage ``network`` on a generated town with known geometry, and its building blocks."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import sparse

from pipeline import contracts, hose
from pipeline.config import WIDTH_SOURCES, load_config
from pipeline.hose import (
    DirectAccess,
    NearLines,
    bottleneck_to_sources,
    direct_access_runs,
    direct_access_to,
    direct_truck_access,
    locate_points,
    point_line_distances,
)
from pipeline.paths import ProvincePaths
from pipeline.routing import multi_source_dijkstra
from pipeline.stage import run_pipeline, run_stage
from pipeline.stages import network as network_stage
from pipeline.topology import Topology
from pipeline.truck_network import find_dead_ends, truck_components
from pipeline.wards import ward_columns
from tests.conftest import SHARED_DATA, Project, write_stand_in
from tests.nearest_oracle import lowest_nearest
from tests.osm_fixtures import X0, Y0, OsmBuilder, boundary_geojson, lonlat

#: The alley Ngõ 12 runs from B(200, 0) north to (200, 80) between row houses 2.0 m apart.
ALLEY_X, ALLEY_LEN = 200.0, 80.0


def network_town(*, station: bool = True) -> OsmBuilder:
    """A ring of truck streets with an alley, two truck spurs and an island (metres)::

        G(0,200)------tertiary------H(400,200)
          |                           |  service, houses 6 m apart (a truck street)
          |            N(200,80)      |
          | tertiary     | Ngõ 12:    |
          |              | 2 m alley  |
        A(0,0)--D(100,0)--B(200,0)--E(300,0)--C(400,0)   primary, lanes=2
                  |          | Ngõ 13 |
            (100,-60) width=5    (300,-40) width=5         truck dead ends: 60 m, 40 m

    Also: a 5 m island street (600..700, 0) joined to nothing; a blocked tertiary
    (maxheight 3.5) G -> (-100, 200); a fire station node at (10, -10).
    """
    b = OsmBuilder()
    A, D, B = b.node(0, 0, nid=1), b.node(100, 0, nid=2), b.node(200, 0, nid=3)
    E, C = b.node(300, 0, nid=4), b.node(400, 0, nid=5)
    H, G, N = b.node(400, 200, nid=6), b.node(0, 200, nid=7), b.node(200, 80, nid=8)
    b.way([A, D, B, E, C], {"highway": "primary", "name": "Đường Lý Thái Tổ", "lanes": "2"})
    b.way([C, H], {"highway": "service", "name": "Phố Sáu Mét"})
    b.way([H, G], {"highway": "tertiary"})
    b.way([G, A], {"highway": "tertiary"})
    b.way([B, N], {"highway": "service", "service": "alley", "name": "Ngõ 12"})
    b.way([B, b.node(200, -30, nid=14)], {"highway": "service", "name": "Ngõ 13"})
    b.way([D, b.node(100, -60, nid=9)], {"highway": "residential", "width": "5"})
    b.way([E, b.node(300, -40, nid=10)], {"highway": "residential", "width": "5"})
    b.way(
        [b.node(600, 0, nid=11), b.node(700, 0, nid=12)], {"highway": "residential", "width": "5"}
    )
    b.way([G, b.node(-100, 200, nid=13)], {"highway": "tertiary", "maxheight": "3.5"})
    # Row houses: 4 m frontage every 5 m, 9 m deep, 2.0 m apart along the alley ...
    for k in range(16):
        y = 5 * k + 0.5
        b.rect(ALLEY_X + 1, y, ALLEY_X + 10, y + 4, {"building": "house"})
        b.rect(ALLEY_X - 10, y, ALLEY_X - 1, y + 4, {"building": "house"})
    # ... one across the alley's end, 0.5 m beyond it (80.5 m down) ...
    b.rect(ALLEY_X - 3, ALLEY_LEN + 0.5, ALLEY_X + 3, ALLEY_LEN + 6, {"building": "yes"})
    # ... and 6 m apart along the service street C-H.
    for k in range(4, 36):
        y = 5 * k + 0.5
        b.rect(403, y, 412, y + 4, {"building": "house"})
        b.rect(388, y, 397, y + 4, {"building": "house"})
    if station:
        b.node(10, -10, {"amenity": "fire_station", "name": "Đội PCCC số 1"})
    return b


BOUNDS = (-150.0, -100.0, 750.0, 250.0)


def _project(project, tmp_path, *, station=True, slug="net", access=None):
    pbf = network_town(station=station).write(tmp_path / f"{slug}.osm.pbf")
    boundary = boundary_geojson(tmp_path / f"{slug}_boundary.geojson", *BOUNDS)
    overrides = {"osm": {"file": str(pbf)}, "boundary": {"file": str(boundary)}}
    if access:
        overrides["access"] = access
    project.province(slug, overrides)
    return ProvincePaths(slug, project.root)


def _run(project, paths):
    result = run_pipeline("network", load_config(paths.province, root=project.root), paths)
    return result["network"]["summary"]


def _read(paths, name):
    return gpd.read_parquet(paths.artifact("network", name))


@pytest.fixture(scope="module")
def town_run(tmp_path_factory):
    """One run of the stage on the network town (shared by the read-only tests)."""
    tmp = tmp_path_factory.mktemp("net")
    project = Project(tmp / "project")
    paths = _project(project, tmp)
    return paths, _run(project, paths)


def _edge(edges, u, v):
    rows = edges[(edges["u"] == u) & (edges["v"] == v)]
    assert len(rows) == 1, (u, v)
    return rows.iloc[0]


def test_two_metre_alley_is_measured_and_hose_only(town_run):
    paths, _ = town_run
    edges = _read(paths, "edges")
    for u, v in ((3, 8), (8, 3)):
        alley = _edge(edges, u, v)
        assert alley["width_source"] == "corridor"
        assert alley["width_m"] == pytest.approx(2.0, abs=0.3)
        assert alley["width_high_m"] == pytest.approx(2.0, abs=0.3)
        assert alley["width_class"] == "hose_only"
        assert alley["truck_status"] == "not_passable"
        assert alley["truck_status_reason"] == "width"
        assert not alley["truck_ok"]
        assert alley["alley_id"] >= 0


def test_six_metre_street_between_houses_is_a_truck_street(town_run):
    paths, _ = town_run
    street = _edge(_read(paths, "edges"), 5, 6)
    assert street["corridor_m"] == pytest.approx(6.0, abs=0.3)
    assert street["width_source"] == "corridor"  # raised from the 3.5 m service prior
    assert street["truck_status"] == "passable"
    assert street["width_class"] == "truck"
    assert street["truck_connected"]
    assert street["alley_id"] == -1


def test_classes_blocks_and_connectivity(town_run):
    paths, summary = town_run
    edges = _read(paths, "edges")
    blocked = _edge(edges, 7, 13)
    assert blocked["blocked"]
    assert blocked["block_reason"] == "maxheight"
    assert not blocked["truck_ok"]
    island = _edge(edges, 11, 12)
    assert island["truck_ok"]
    assert not island["truck_connected"]  # a 100 m fragment is not the network
    assert island["truck_component_km"] == pytest.approx(0.1, abs=1e-4)
    assert summary["truck_isolated"] == 1
    assert summary["stations_used"] == 1
    primary = _edge(edges, 1, 2)
    assert primary["width_source"] == "lanes"
    assert primary["width_m"] == pytest.approx(2 * 3.25 + 1.0)
    assert primary["truck_status"] == "passable"
    assert set(edges["width_source"]) <= set(WIDTH_SOURCES)
    assert set(edges["truck_status"]) <= {"passable", "not_passable", "uncertain"}
    assert (edges["truck_connected"] <= edges["truck_ok"]).all()
    stations = _read(paths, "stations")
    assert stations["snap_note"].tolist() == ["main"]
    assert stations["snap_m"].iloc[0] == pytest.approx(10, abs=0.01)
    # Twin directions agree on everything measured.
    for col in ("width_m", "width_high_m", "truck_status", "alley_id", "truck_connected"):
        fwd = edges[~edges["reversed"]].set_index(["u", "v"])[col].sort_index()
        bwd = edges[edges["reversed"]].set_index(["v", "u"])[col]
        bwd.index.names = ["u", "v"]
        pd.testing.assert_series_equal(fwd, bwd.sort_index(), check_names=False)


def test_dead_ends_60_flagged_40_not(town_run):
    paths, summary = town_run
    dead = _read(paths, "dead_ends").set_index("dead_end_node")
    assert len(dead[~dead["truck_connected"]]) == 1  # the island: one run, counted once
    assert dead.loc[9, "length_m"] == pytest.approx(60, abs=0.1)
    assert dead.loc[9, "junction_node"] == 2
    assert dead.loc[9, "flagged"]
    assert dead.loc[10, "length_m"] == pytest.approx(40, abs=0.1)
    assert not dead.loc[10, "flagged"]
    assert dead.loc[9, "geometry"].length == pytest.approx(60, abs=0.1)
    # The ring has no dead end.
    connected = dead[dead["truck_connected"]]
    assert set(connected.index) == {9, 10}
    assert summary["dead_ends_flagged"] == int(dead["flagged"].sum())


def test_deep_buildings_80_m_flagged_30_m_not(town_run):
    paths, _ = town_run
    b = _read(paths, "deep_buildings")
    assert b.index.name == "building_id"
    c = shapely.centroid(b.geometry.to_numpy())
    x, y = shapely.get_x(c) - X0, shapely.get_y(c) - Y0
    end = b[(np.abs(x - ALLEY_X) < 1) & (y > ALLEY_LEN)].iloc[0]
    assert end["hose_distance_m"] == pytest.approx(80, abs=2)
    assert end["deep"]
    assert end["bottleneck_width_m"] == pytest.approx(2.0, abs=0.3)
    alley_id = end["alley_id"]
    assert alley_id >= 0
    at30 = b[(x > ALLEY_X) & (x < ALLEY_X + 10) & (np.abs(y - 32.5) < 1)].iloc[0]
    assert 29 <= at30["hose_distance_m"] <= 35
    assert not at30["deep"]
    assert at30["alley_id"] == alley_id
    # Houses along the 6 m truck street are as far as the gap to its centreline.
    six = b[(x > 400) & (x < 420)]
    np.testing.assert_allclose(six["hose_distance_m"], 3.0, atol=0.05)
    assert not six["deep"].any()
    assert (six["alley_id"] == -1).all()
    along_alley = b[(np.abs(x - ALLEY_X) < 12) & (y < ALLEY_LEN)]
    assert along_alley.loc[along_alley.geometry.centroid.y - Y0 > 63, "deep"].all()
    assert not along_alley.loc[along_alley.geometry.centroid.y - Y0 < 55, "deep"].any()


def test_alley_table_and_fire_point_candidate(town_run):
    paths, summary = town_run
    alleys = _read(paths, "alleys")
    b = _read(paths, "deep_buildings")
    alley = alleys[alleys["name"] == "Ngõ 12"].iloc[0]
    assert alley["length_m"] == pytest.approx(80, abs=0.1)
    assert alley["depth_m"] == pytest.approx(80, abs=0.1)
    assert alley["min_width_m"] == pytest.approx(2.0, abs=0.3)
    assert alley["width_shortfall_m"] == pytest.approx(3.5 - alley["min_width_m"])
    assert alley["truck_status"] == "not_passable"
    assert alley["n_buildings"] == 31  # 32 row houses + the end one - the 2 facing the primary
    on_it = b[b["alley_id"] == alley["alley_id"]]
    assert alley["n_buildings_behind"] == len(on_it) == 31
    assert alley["n_deep_behind"] == int(on_it["deep"].sum()) > 0
    assert alley["floor_area_behind_m2"] == pytest.approx(on_it["floor_area_m2"].sum())
    assert alley["mouth_node"] == alley["attach_node"] == 3
    assert alley["parent_alley_id"] == -1
    assert alley["to_widen"]
    assert not alley["field_check"]
    assert alley["priority_rank"] == 1
    # The alley on the other side of the same junction is another alley; no one lives behind
    # it (and its width is only a guess from its name): in neither list.
    other = alleys[alleys["name"] == "Ngõ 13"].iloc[0]
    assert other["alley_id"] != alley["alley_id"]
    assert other["length_m"] == pytest.approx(30, abs=0.1)
    assert other["truck_status"] == "uncertain"
    assert other["n_buildings_behind"] == 0
    assert not other["to_widen"]
    assert not other["field_check"]
    # Main roads are never alleys here: their own evidence says passable.
    assert not alleys["highway"].isin(["primary", "tertiary"]).any()
    assert not alley["has_fire_point"]
    assert alley.geometry.geom_type == "MultiLineString"
    cand = _read(paths, "fire_point_candidates")
    assert len(cand) == summary["fire_point_candidates"] == 1  # one per branch mouth
    top = cand.iloc[0]
    assert (top["alley_id"], top["rank"], top["mouth_node"]) == (alley["alley_id"], 1, 3)
    assert top["n_buildings"] == 31
    assert top.geometry.distance(shapely.Point(X0 + 200, Y0)) < 0.05
    wards = _read(paths, "wards")
    assert len(wards) == 1
    assert wards["n_buildings"].sum() == len(b)
    assert wards["n_deep_buildings"].sum() == b["deep"].sum() == summary["deep_buildings"]


def test_fire_point_at_the_mouth_serves_the_alley(project, tmp_path):
    csv = tmp_path / "fire_points.csv"
    lon, lat = lonlat(203, 2)
    csv.write_text(f"name,lon,lat\nĐiểm CC ngõ 12,{lon},{lat}\n", encoding="utf-8")
    paths = _project(project, tmp_path, access={"public_fire_points_files": [{"path": str(csv)}]})
    summary = _run(project, paths)
    alleys = _read(paths, "alleys")
    assert alleys.loc[alleys["name"] == "Ngõ 12", "has_fire_point"].item()
    cand = _read(paths, "fire_point_candidates")
    assert "Ngõ 12" not in set(cand["name"])
    assert summary["alleys_with_fire_point"] >= 1


def test_no_station_still_finds_the_network_and_says_so(project, tmp_path, caplog):
    paths = _project(project, tmp_path, station=False, slug="nostation")
    summary = _run(project, paths)
    assert summary["stations_used"] == 0
    assert summary["truck_km_reachable_share"] == 0
    assert "No existing fire station" in summary["station_note"]
    assert "No existing fire station" in caplog.text
    edges = _read(paths, "edges")
    assert _edge(edges, 5, 6)["truck_connected"]
    assert not _edge(edges, 11, 12)["truck_connected"]


def test_wards_from_the_ingest_layer(project, tmp_path):
    paths = _project(project, tmp_path, slug="wards")
    config = load_config("wards", root=project.root)
    run_pipeline("ingest", config, paths)
    wards = gpd.GeoDataFrame(
        {"ward_id": [1, 2], "name": ["Phường Tây", "Xã Đông"], "ward_type": ["phường", "xã"],
         "population": [np.nan, 1000.0], "area_km2": [0.1, 0.1], "approximate": [False, False]},
        geometry=[shapely.box(X0 - 200, Y0 - 200, X0 + 250, Y0 + 300),
                  shapely.box(X0 + 250, Y0 - 200, X0 + 800, Y0 + 300)],
        crs="EPSG:32648",
    )  # fmt: skip
    write_stand_in(paths, contracts.WARDS, wards)
    run_stage("network", config, paths)
    table = _read(paths, "wards").set_index("ward")
    assert list(table.index) == ["Phường Tây", "Xã Đông"]
    assert table["ward_id"].tolist() == ["1", "2"]
    alleys = _read(paths, "alleys")
    assert alleys.loc[alleys["name"] == "Ngõ 12", "ward"].item() == "Phường Tây"
    assert alleys.loc[alleys["name"] == "Ngõ 12", "ward_id"].item() == "1"
    b = _read(paths, "deep_buildings")
    assert table["n_buildings"].sum() == len(b)
    assert table.loc["Phường Tây", "n_deep_buildings"] == b["deep"].sum()
    assert table.loc["Xã Đông", "n_deep_buildings"] == 0
    assert table.loc["Xã Đông", "ward_type"] == "xã"
    edges = _read(paths, "edges")
    assert set(edges["ward"]) == {"Phường Tây", "Xã Đông"}


def _path_topology(lengths):
    """Nodes 0..n on a line, edges i <-> i+1 with the given lengths, both directions."""
    n = len(lengths)
    u = np.concatenate([np.arange(n), np.arange(1, n + 1)])
    v = np.concatenate([np.arange(1, n + 1), np.arange(n)])
    length = np.concatenate([lengths, lengths]).astype(float)
    codes = np.concatenate([np.arange(n), np.arange(n)])
    return Topology(u, v, length, codes, np.arange(n), n + 1)


def test_bottleneck_is_the_narrowest_edge_on_the_path():
    topo = _path_topology([10, 20, 30, 40, 50])
    widths = np.tile([5.0, 2.0, 4.0, 1.5, 3.0], 2)
    g = sparse.csr_matrix((topo.length, (topo.u, topo.v)), shape=(6, 6))
    cost, _ = multi_source_dijkstra(g, np.array([0]))
    got = bottleneck_to_sources(topo, cost, widths)
    np.testing.assert_allclose(got, [np.inf, 5.0, 2.0, 2.0, 1.5, 1.5])


def test_dead_end_of_a_path_without_junction_is_counted_once():
    topo = _path_topology([30, 30])
    ok = np.ones(4, dtype=bool)
    runs, members = find_dead_ends(topo, ok, ok, turning=np.zeros(3, dtype=bool), max_length_m=46)
    assert len(runs) == 1
    assert runs["length_m"].item() == pytest.approx(60)
    assert runs["junction_node"].item() == -1
    assert sorted(members["edge"]) == [0, 1]
    runs, _ = find_dead_ends(topo, ok, ok, turning=np.ones(3, dtype=bool), max_length_m=46)
    assert not runs["flagged"].item()


def test_main_network_is_every_long_component_and_the_largest():
    topo = _path_topology([1000, 10, 3000, 10, 500])
    ok = np.array([True, False, True, False, True] * 2)
    net = truck_components(topo, ok, min_km=0.8)
    assert net.main.tolist() == [True, False, True, False, False] * 2
    assert net.n_components == 3
    assert net.main_km == pytest.approx(4.0)
    np.testing.assert_allclose(net.component_km[:5], [1.0, 0, 3.0, 0, 0.5])
    # With a threshold above every component, the largest one is still the network.
    only = truck_components(topo, ok, min_km=100).main
    assert only.tolist() == [False, False, True, False, False] * 2


@pytest.mark.shared_data
def test_real_hanoi_sample(project):
    """The real ODbL Hà Nội sample: the stage runs and its numbers hang together."""
    src = SHARED_DATA / "hanoi_osm_sample" / "map.osm"
    project.province("hn", {"osm": {"file": str(src)}})
    paths = ProvincePaths("hn", project.root)
    s = _run(project, paths)
    assert s["buildings"] == 497
    assert s["stations_used"] == 0  # no stations in the sample itself
    assert sum(v["edges"] for v in s["width_source"].values()) == s["streets"]
    assert s["width_source"]["corridor"]["edges"] > 0
    assert 0 < s["deep_buildings"] < s["buildings"]
    edges = _read(paths, "edges")
    assert edges["width_m"].notna().all()
    alleys = _read(paths, "alleys")
    named = alleys["name"].fillna("").str.match(r"^(Ngõ|Ngách)")
    assert named.sum() > 10


def test_direct_access_needs_a_clear_line_and_a_short_gap():
    street = np.array([shapely.LineString([(0, 0), (100, 0)])])
    school = shapely.box(10, 12, 30, 30)  # 12 m back from the street, nothing in between
    behind = shapely.box(50, 14, 60, 24)  # behind a street-front house
    front = shapely.box(48, 2, 62, 12)
    far = shapely.box(80, 25, 90, 35)  # 25 m back: beyond the 20 m limit
    gap, line = direct_truck_access(
        np.array([school, behind, front, far]), street, max_distance_m=20, trim_m=1
    )
    np.testing.assert_allclose(gap, [12, np.inf, 2, np.inf])
    assert line.tolist() == [0, -1, 0, -1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shared_near_lines_give_the_nearest_query_of_each_subset(seed):
    rng = np.random.default_rng(seed)
    # A grid of streets cut at every junction (ties at the corners) and jittered diagonals.
    ends = [((x, y), (x + 50, y)) for x in range(0, 300, 50) for y in range(0, 300, 50)]
    ends += [((x, y), (x, y + 50)) for x in range(0, 300, 50) for y in range(0, 300, 50)]
    ends += [
        ((x, y), (x + 40 + rng.uniform(0, 5), y + 40)) for x, y in rng.uniform(0, 250, (20, 2))
    ]
    lines = shapely.linestrings(np.array(ends, dtype=float))
    centres = np.r_[rng.uniform(-10, 310, (300, 2)), [(25, 25), (50, 10), (10, 50)]]
    houses = shapely.buffer(shapely.points(centres), rng.uniform(2, 6, len(centres)), quad_segs=1)
    near = NearLines.find(houses, lines, 20.0)
    assert near.pair_m.max() <= 20
    for _ in range(4):
        keep = rng.random(len(lines)) < 0.6
        rows = np.flatnonzero(rng.random(len(houses)) < 0.7)
        p, ln, d = lowest_nearest(lines[keep], houses[rows], 20.0)
        row, line, dist = near.nearest(rows, keep)
        assert row.tolist() == p.tolist()
        assert line.tolist() == ln.tolist()
        np.testing.assert_array_equal(dist, d)
    empty = near.nearest(np.arange(0), np.ones(len(lines), dtype=bool))
    assert all(len(a) == 0 for a in empty)
    # Searching only the geometries asked about gives the same answers for them.
    rows = np.flatnonzero(rng.random(len(houses)) < 0.5)
    some = NearLines.find(houses, lines, 20.0, rows=rows)
    assert np.isin(some.pair_geom, rows).all()
    keep = rng.random(len(lines)) < 0.6
    for got, want in zip(some.nearest(rows, keep), near.nearest(rows, keep), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", [0, 1])
def test_direct_access_runs_equal_one_run_at_a_time(seed):
    rng = np.random.default_rng(seed)
    ends = [((x, y), (x + 60, y)) for x in range(0, 300, 60) for y in range(0, 300, 60)]
    ends += [((x, y), (x, y + 60)) for x in range(0, 300, 60) for y in range(0, 300, 60)]
    lines = shapely.linestrings(np.array(ends, dtype=float))
    corner = rng.uniform(-10, 300, (400, 2))
    size = rng.uniform(4, 12, (400, 2))
    houses = shapely.box(*corner.T, *(corner + size).T)
    near = NearLines.find(houses, lines, 20.0)
    tree = shapely.STRtree(houses)
    cfg = load_config("synth").access
    runs = []
    for share in (0.9, 0.6, 0.3, 0.0):  # nested truck networks, the last one empty
        keep = rng.random(len(lines)) < share
        runs.append((np.flatnonzero(rng.random(len(houses)) < 0.8), keep))
    got = direct_access_runs(houses, near, runs, cfg=cfg, obstacle_tree=tree)
    linked = 0
    for (candidates, keep), run in zip(runs, got, strict=True):
        want = direct_access_to(
            houses, lines[keep], candidates=candidates, cfg=cfg, near=near, line_keep=keep,
            obstacle_tree=tree,
        )  # fmt: skip
        assert isinstance(run, DirectAccess)
        np.testing.assert_array_equal(run.gap_m, want.gap_m)
        np.testing.assert_array_equal(run.line, want.line)
        linked += int(np.isfinite(want.gap_m).sum())
    assert linked > 50  # the case does draw links
    assert np.isinf(got[-1].gap_m).all()


def test_direct_access_of_alley_nodes_is_blocked_by_footprints():
    street = np.array([shapely.LineString([(0, 0), (100, 0)])])
    nodes = shapely.points([(10, 8), (50, 8), (90, 30)])
    houses = np.array([shapely.box(45, 2, 55, 6)])
    gap, _ = direct_truck_access(nodes, street, obstacles=houses, max_distance_m=12, trim_m=0)
    np.testing.assert_allclose(gap, [8, np.inf, np.inf])


def uncertain_town() -> OsmBuilder:
    """A primary street with a plain service road (3.5 m prior: uncertain) and a named alley.

    A(0,0)--------------B(200,0)---------C(400,0)   primary, lanes=2
                          |  service, no tags, 150 m: house S at its end
        Ngõ 3 (service=alley) from A... no: from C north, 150 m, house N at its end
    """
    b = OsmBuilder()
    A, B, C = b.node(0, 0, nid=1), b.node(200, 0, nid=2), b.node(400, 0, nid=3)
    b.way([A, B, C], {"highway": "primary", "lanes": "2"})
    b.way([B, b.node(200, 150, nid=4)], {"highway": "service"})
    b.way([C, b.node(400, 150, nid=5)], {"highway": "service", "service": "alley",
                                          "name": "Ngõ 3"})  # fmt: skip
    b.rect(195, 151, 205, 161, {"building": "house"})  # S, 151 m down the service road
    b.rect(395, 151, 405, 161, {"building": "house"})  # N, 151 m down the alley
    b.rect(90, 3, 110, 13, {"building": "house"})  # on the primary
    return b


def test_deep_status_says_when_it_depends_on_an_uncertain_street(project, tmp_path):
    pbf = uncertain_town().write(tmp_path / "u.osm.pbf")
    boundary = boundary_geojson(tmp_path / "u.geojson", -50, -50, 450, 200)
    project.province("unc", {"osm": {"file": str(pbf)}, "boundary": {"file": str(boundary)}})
    paths = ProvincePaths("unc", project.root)
    _run(project, paths)
    edges = _read(paths, "edges")
    service = _edge(edges, 2, 4)
    assert service["truck_status"] == "uncertain"  # [2.5, 3.5, 6] around 3.5 m
    assert service["truck_ok"]  # routing assumes the 3.5 m estimate
    assert _edge(edges, 3, 5)["truck_status"] == "uncertain"  # the alley prior [1.2, 3.5]
    b = _read(paths, "deep_buildings")
    x = shapely.get_x(shapely.centroid(b.geometry.to_numpy())) - X0
    by_x = b.assign(x=np.round(x)).set_index("x")
    # S: within reach if the service road takes trucks, 151 m of hose if not.
    assert not by_x.loc[200, "deep"]
    assert by_x.loc[200, "deep_status"] == "uncertain"
    # N: beyond reach unless the alley (at most 3.5 m) takes trucks: uncertain too.
    assert by_x.loc[400, "deep"]
    assert by_x.loc[400, "deep_status"] == "uncertain"
    assert by_x.loc[100, "deep_status"] == "not_deep"


def test_surveyed_widths_decide(project, tmp_path):
    """A field survey keyed by way id, and one by a point, settle both uncertain streets."""
    pbf = uncertain_town().write(tmp_path / "u.osm.pbf")
    boundary = boundary_geojson(tmp_path / "u.geojson", -50, -50, 450, 200)
    service_way = next(w for w, (_, tags) in uncertain_town().ways.items()
                       if tags == {"highway": "service"})  # fmt: skip
    by_id = tmp_path / "survey.csv"
    by_id.write_text(f'osm_id,bề rộng,ngày đo\nw{service_way},"2,4",2026-05-01\n,,\n', "utf-8")
    lon, lat = lonlat(401, 80)
    by_point = tmp_path / "survey2.csv"
    by_point.write_text(f"lon,lat,width_m,survey_date\n{lon},{lat},5.0,2026-05-02\n", "utf-8")
    project.province(
        "sv",
        {"osm": {"file": str(pbf)}, "boundary": {"file": str(boundary)},
         "access": {"measured_widths_files": [{"path": str(by_id)}, {"path": str(by_point)}]}},
    )  # fmt: skip
    paths = ProvincePaths("sv", project.root)
    _run(project, paths)
    edges = _read(paths, "edges")
    service, alley = _edge(edges, 2, 4), _edge(edges, 3, 5)
    assert service["width_source"] == alley["width_source"] == "measured"
    assert service["width_m"] == pytest.approx(2.4)
    assert service["truck_status"] == "not_passable"
    assert "measured=2.40 m (2026-05-01)" in service["width_evidence"]
    assert alley["width_m"] == pytest.approx(5.0)
    assert alley["truck_status"] == "passable"
    b = _read(paths, "deep_buildings")
    assert set(b["deep_status"]) == {"deep", "not_deep"}  # nothing left to guess


def test_validate_hides_the_width_tags_and_measures_the_error(project, tmp_path):
    from pipeline.validate import run_validation

    paths = _project(project, tmp_path, slug="val")
    s = run_validation(load_config("val", root=project.root), paths)
    # Three residential streets are tagged width=5; hidden, the residential prior says 4.0 m.
    assert s["tagged_streets"] == 3
    prior = s["tagged"]["errors"]["class_prior"]
    assert prior["n"] == 3
    assert prior["mae_m"] == pytest.approx(1.0)
    assert prior["bias_m"] == pytest.approx(-1.0)
    assert prior["within_1m"] == 1.0
    assert prior["in_interval"] == 1.0  # 5 m lies in the residential [3, 7]
    c = s["tagged"]["confusion"]
    # Truth: 5 m >= 3.5 m, passable; predicted: [3, 7] straddles 3.5 m, uncertain.
    assert c["matrix"]["passable"] == {"passable": 0, "uncertain": 3, "not_passable": 0}
    assert c["precision_not_passable"] is None
    # The primary's lanes=2 is the proxy truth: 2 x 3.25 + 1 = 7.5 m against the 7.5 m prior.
    assert s["lanes_proxy_streets"] >= 1
    assert s["lanes_proxy"]["errors"]["class_prior"]["mae_m"] == pytest.approx(0.0)
    folder = project.root / "outputs" / "validate" / "val" / "val"
    assert {p.name for p in folder.iterdir()} == {"summary.json", "report.md", "streets.csv"}
    assert "Precision of 'not passable'" in (folder / "report.md").read_text("utf-8")


def test_a_town_without_any_passable_street_is_judged_not_crashed(project, tmp_path):
    """Nothing is surely passable: the pessimistic scenario has no truck street at all."""
    b = OsmBuilder()
    b.line([(0, 0), (120, 0)], {"highway": "service", "service": "alley", "name": "Ngõ 1"})
    b.line([(120, 0), (120, 90)], {"highway": "footway"})
    b.rect(20, 3, 30, 12, {"building": "house"})  # beside the alley
    b.rect(300, 300, 310, 310, {"building": "house"})  # 250 m from any street
    pbf = b.write(tmp_path / "narrow.osm.pbf")
    boundary = boundary_geojson(tmp_path / "narrow.geojson", -50, -50, 400, 400)
    project.province("narrow", {"osm": {"file": str(pbf)}, "boundary": {"file": str(boundary)}})
    paths = ProvincePaths("narrow", project.root)
    summary = _run(project, paths)
    edges = _read(paths, "edges")
    assert not (edges["truck_status"] == "passable").any()
    deep = _read(paths, "deep_buildings")
    x = shapely.get_x(shapely.centroid(deep.geometry.to_numpy())) - X0
    far = deep[np.round(x) == 305].iloc[0]
    assert not far["reachable"]
    assert far["deep"]
    # no path, so no narrowest point on it (it used to take some truck line's width)
    assert np.isnan(far["bottleneck_width_m"])
    assert summary["buildings"] == 2


def _lines_and_points(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Streets of 1-3 segments (some of zero length) in UTM-sized coordinates, and points.

    The points: random ones near each line, the lines' own vertices, and points on a
    segment's extension (projection factors below 0 and above 1).
    """
    rng = np.random.default_rng(seed)
    x0, y0 = 585_000.0, 2_330_000.0
    lines, pts, line_of = [], [], []
    for k in range(60):
        n = int(rng.integers(2, 5))
        xy = rng.uniform(0, 80, (n, 2)).round(rng.integers(0, 4)) + np.array([x0, y0])
        if k % 7 == 0:
            xy[1] = xy[0]  # a zero-length segment
        lines.append(shapely.linestrings(xy))
        near = xy[rng.integers(0, n, 6)] + rng.normal(0, 5, (6, 2))
        ext = xy[0] + (xy[-1] - xy[0]) * np.array([[-0.5], [1.5], [0.0], [1.0]])
        for p in (*near, *xy, *ext):
            pts.append(p)
            line_of.append(k)
    return np.array(lines), np.array(pts), np.array(line_of)


@pytest.mark.parametrize(("seed", "block"), [(0, 32_768), (1, 7), (2, 32_768)])
def test_point_line_distances_are_geos_distances(monkeypatch, seed, block):
    monkeypatch.setattr(hose, "_POINTS_PER_BLOCK", block)
    lines, xy, line_of = _lines_and_points(seed)
    want = shapely.distance(shapely.points(xy), lines[line_of])
    np.testing.assert_array_equal(point_line_distances(xy, lines, line_of), want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_locate_points_is_geos_line_locate_point(seed):
    lines, xy, line_of = _lines_and_points(seed)
    want = shapely.line_locate_point(lines[line_of], shapely.points(xy))
    np.testing.assert_array_equal(locate_points(xy, lines, line_of), want)


@pytest.mark.parametrize("block", [1, 7, 262_144])
def test_building_wards_in_blocks_are_the_wards_of_one_call(monkeypatch, block):
    rng = np.random.default_rng(5)
    x0, y0 = 585_000.0, 2_330_000.0
    # overlapping wards (the first row wins), a gap between them (the nearest wins)
    wards = gpd.GeoDataFrame(
        {"ward_id": ["1", "2", "3"], "name": ["A", "B", "C"]},
        geometry=[shapely.box(x0, y0, x0 + 100, y0 + 100),
                  shapely.box(x0 + 80, y0, x0 + 200, y0 + 100),
                  shapely.box(x0 + 250, y0, x0 + 300, y0 + 100)],
        crs="EPSG:32648",
    )  # fmt: skip
    xy = rng.uniform(0, 320, (40, 2)) + np.array([x0, y0])
    footprints = shapely.buffer(shapely.points(xy), 2.0, quad_segs=2)
    footprints[3] = None  # a missing footprint has no ward
    buildings = gpd.GeoDataFrame(geometry=footprints, crs="EPSG:32648")
    inp = network_stage.Inputs(
        nodes=None, edges=None, buildings=buildings, stations=None, wards=wards,
        ward_note="", fire_points=np.empty(0, dtype=object), fire_point_tables=[],
    )  # fmt: skip
    monkeypatch.setattr(network_stage, "_WARD_POINTS_PER_BLOCK", block)
    got = network_stage.building_wards(inp)
    want = ward_columns(shapely.point_on_surface(footprints), wards)
    assert set(got) == {"ward_id", "ward"}
    for col in ("ward_id", "ward"):
        assert got[col].tolist() == want[col].tolist()
    assert got["ward"][3] is None
    assert {"A", "B", "C"} <= set(got["ward"][~pd.isna(got["ward"])])
