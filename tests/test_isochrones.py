"""Truck travel times, the one-pass station reach, and isochrone polygons, against hand values."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline._errors import InputDataError
from pipeline.isochrones import (
    CostGrid,
    edge_speed_kph,
    edge_travel_time_s,
    graph_arrays,
    isochrone_polygons,
    isochrones,
    isochrones_baseline_osmnx,
    node_positions,
    octagon_min_filter,
    parse_maxspeed_kph,
    reach_from_sources,
    sample_edges,
    split_at_points,
)
from pipeline.routing import snap_to_edges
from pipeline.stages.coverage import point_times, street_arrays

CRS = "EPSG:32648"
SPEEDS = {"primary": 36.0, "residential": 18.0, "default": 9.0}  # 10, 5 and 2.5 m/s


def _table(pairs, xy):
    """Both directions of each (u, v, highway[, maxspeed]) street; straight geometries."""
    nodes = gpd.GeoDataFrame(
        {"x": [p[0] for p in xy.values()], "y": [p[1] for p in xy.values()], "street_count": 0},
        index=pd.Index(list(xy), name="osmid"),
        geometry=shapely.points(list(xy.values())),
        crs=CRS,
    )
    rows = []
    for u, v, hw, *rest in pairs:
        for a, b in ((u, v), (v, u)):
            rows.append(
                {
                    "u": a,
                    "v": b,
                    "key": 0,
                    "highway": hw,
                    "maxspeed": rest[0] if rest else None,
                    "geometry": shapely.LineString([xy[a], xy[b]]),
                }
            )
    edges = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS).set_index(["u", "v", "key"])
    edges["length"] = edges.geometry.length
    counts = pd.Series(edges.index.get_level_values("u")).value_counts()
    nodes["street_count"] = counts.reindex(nodes.index, fill_value=0).to_numpy()
    return nodes, edges


def _two_station_town():
    """A(0,0) -1000 m primary- B(1000,0) -500 m residential- C(1500,0) -300 m track- D(1800,0).

    Stations: S1 at x=200 on A-B, S2 at x=1800 (node D).
    """
    xy = {1: (0.0, 0.0), 2: (1000.0, 0.0), 3: (1500.0, 0.0), 4: (1800.0, 0.0)}
    return _table([(1, 2, "primary"), (2, 3, "residential"), (3, 4, "track")], xy)


def test_speeds_by_class_and_maxspeed():
    edges = pd.DataFrame(
        {
            "highway": ["primary", "primary_link", "residential", "track", "primary"],
            "maxspeed": [None, None, "30", None, "10 mph"],
        }
    )
    kph = edge_speed_kph(edges, SPEEDS)
    np.testing.assert_allclose(kph, [36, 36, 18, 9, 16.09344])
    assert parse_maxspeed_kph(pd.Series(["50;30", "walk", None])).iloc[0] == 50
    with pytest.raises(InputDataError, match="no truck speed for highway=track"):
        edge_speed_kph(edges, {"primary": 30, "residential": 20})


def test_turn_delay_only_into_junctions():
    nodes, edges = _table(
        [(1, 2, "primary"), (2, 3, "primary"), (2, 4, "primary")],
        {1: (0, 0), 2: (100, 0), 3: (200, 0), 4: (100, 100)},
    )
    t = edge_travel_time_s(edges, SPEEDS, turn_delay_s=7, street_count=nodes["street_count"])
    assert t[(1, 2, 0)] == pytest.approx(10 + 7)  # 100 m at 10 m/s into the junction
    assert t[(2, 1, 0)] == pytest.approx(10)


def test_two_stations_times_to_the_second():
    nodes, edges = _two_station_town()
    edges["travel_time"] = edge_travel_time_s(edges, SPEEDS)
    stations = shapely.points([(200.0, 30.0), (1800.0, 0.0)])
    nodes2, edges2, st_node = split_at_points(nodes, edges, stations, max_distance_m=100)
    assert st_node[1] == 4  # at node D: no split
    assert len(edges2) == len(edges) + 2  # A-B cut in two, both directions
    assert (len(edges), len(nodes)) == (6, 4)  # inputs unchanged
    arr = street_arrays(nodes2, edges2, edges2["travel_time"].to_numpy())
    src = pd.Index(arr.node_ids).get_indexer(st_node)
    reach = reach_from_sources(arr.csr(), src)
    # By hand: A = 200 m / 10 = 20 s; B = 800 / 10 = 80 s (S1); C = 300 / 2.5 = 120 s from S2
    # vs 80 + 500 / 5 = 180 s from S1; D = 0 (S2).
    cost = pd.Series(reach.cost, index=arr.node_ids)
    np.testing.assert_allclose(cost.loc[[1, 2, 3, 4]], [20, 80, 120, 0], atol=0.5)
    assert pd.Series(reach.nearest, index=arr.node_ids).loc[[1, 2, 3, 4]].tolist() == [0, 0, 1, 1]
    sec_per_m = arr.weight / edges2["length"].to_numpy()
    # 40 m off the residential street at x=1250: via B 80 + 50 = 130 s, via C 120 + 50 = 170 s;
    # 10 m off the primary at x=260, on S1's own edge: 60 m from S1 = 6 s.
    pts = shapely.points([(1250.0, 40.0), (260.0, -10.0)])
    pt = point_times(reach, snap_to_edges(pts, edges2), arr, sec_per_m)
    np.testing.assert_allclose(pt.time_s, [130, 6], atol=0.5)
    assert pt.station.tolist() == [0, 0]


def _jittered_grid(rng, n=5):
    """An n x n grid of two-way residential streets, 100 m apart, x jittered by up to 20 m."""
    xy = {i: (float(i % n) * 100 + rng.uniform(-20, 20), float(i // n) * 100) for i in range(n * n)}
    pairs = [
        (i, j, "residential")
        for i in xy
        for j in (i + 1, i + n)
        if j < n * n and (j == i + n or j % n)
    ]
    return _table(pairs, xy)


@settings(max_examples=15, deadline=None)
@given(st.integers(3, 7), st.integers(0, 10_000), st.integers(1, 4))
def test_adding_a_station_never_increases_any_time(n, seed, extra):
    rng = np.random.default_rng(seed)
    xy = {i: (float(i % n) * 100, float(i // n) * 100) for i in range(n * n)}
    pairs = [
        (i, j, rng.choice(["primary", "residential", "track"]))
        for i in xy
        for j in (i + 1, i + n)
        if j < n * n and (j == i + n or j % n)
    ]
    nodes, edges = _table(pairs, xy)
    edges["travel_time"] = edge_travel_time_s(edges, SPEEDS)
    pts = shapely.points(rng.uniform(0, (n - 1) * 100, size=(1 + extra, 2)))

    nodes2, edges2, st_node = split_at_points(nodes, edges, pts, max_distance_m=1000)
    arr = street_arrays(nodes2, edges2, edges2["travel_time"].to_numpy())
    src = pd.Index(arr.node_ids).get_indexer(st_node)
    base = reach_from_sources(arr.csr(), src[:1]).cost
    more = reach_from_sources(arr.csr(), src).cost
    assert (more <= base + 1e-9).all()


def test_sample_edges_costs_along_the_line():
    line = shapely.LineString([(0, 0), (30, 0), (30, 40)])  # 70 m
    xy, cost = sample_edges(np.array([line]), np.array([100.0]), np.array([70.0]), 10.0)
    # 1 s per metre from cost 100 at the start.
    along = np.where(xy[:, 1] == 0, xy[:, 0], 30 + xy[:, 1])
    np.testing.assert_allclose(cost, 100 + along)
    assert cost.max() == pytest.approx(170)
    assert np.diff(xy, axis=0).__abs__().max() <= 10 + 1e-9


def test_partial_edge_is_cut_where_the_break_falls():
    lines = np.array([shapely.LineString([(0, 0), (1000, 0)])])
    (poly,) = isochrone_polygons(
        lines, np.array([0.0]), np.array([1000.0]), [300.0], buffer_m=60, cell_m=10
    )
    assert poly.contains(shapely.Point(250, 0))
    assert poly.contains(shapely.Point(100, 50))
    assert not poly.contains(shapely.Point(400, 0))  # 300 m + 60 m buffer (+ one cell)
    assert not poly.contains(shapely.Point(100, 80))


def test_isochrones_do_not_swallow_unreached_land():
    """A U of streets: the convex hull covers the block inside it; buffered streets do not."""
    xy = {1: (0.0, 0.0), 2: (1000.0, 0.0), 3: (1000.0, 800.0), 4: (0.0, 800.0)}
    nodes, edges = _table([(1, 2, "primary"), (2, 3, "primary"), (3, 4, "primary")], xy)
    edges["travel_time"] = edge_travel_time_s(edges, SPEEDS)
    G = nx.MultiDiGraph(crs=CRS)
    for n, row in nodes.iterrows():
        G.add_node(n, x=row.x, y=row.y)
    for (u, v, k), row in edges.iterrows():
        G.add_edge(u, v, k, travel_time=row.travel_time, geometry=row.geometry)
    breaks = [100.0, 190.0]  # 1000 m, then 1900 m at 10 m/s
    ours = isochrones(G, [1], breaks, buffer_m=60, cell_m=10)
    hull = isochrones_baseline_osmnx(G, [1], breaks)
    inside_block = shapely.Point(600, 300)
    assert hull[1].contains(inside_block)
    assert not ours[1].contains(inside_block)
    assert ours[1].contains(shapely.Point(1000, 500))
    assert ours[1].contains(shapely.Point(950, 830))
    assert not ours[1].contains(shapely.Point(50, 800))  # not yet reached at 1900 m
    assert ours[0].area <= ours[1].area
    assert ours[1].buffer(1e-6).contains(ours[0])
    # The same result from the pre-converted graph.
    again = isochrones(graph_arrays(G), [1], breaks, buffer_m=60, cell_m=10)
    assert again[1].equals(ours[1])


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.floats(30, 200), st.floats(0, 300))
def test_isochrones_nested(seed, b1, extra):
    rng = np.random.default_rng(seed)
    nodes, edges = _jittered_grid(rng)
    edges["travel_time"] = edge_travel_time_s(edges, SPEEDS)
    arr = street_arrays(nodes, edges, edges["travel_time"].to_numpy())
    src = np.array([int(rng.integers(25))])
    reach = reach_from_sources(arr.csr(), src)
    p1, p2 = isochrone_polygons(
        edges.geometry.to_numpy(),
        reach.cost[arr.u],
        arr.weight,
        [b1, b1 + extra],
        buffer_m=30,
        cell_m=10,
    )
    assert p2.buffer(1e-6).contains(p1)


@pytest.mark.parametrize("radius", [1, 2, 5, 6])
def test_octagon_filter_is_close_to_a_disc(radius):
    grid = np.full((31, 31), 9, dtype=np.uint8)
    grid[15, 15] = 0
    out = octagon_min_filter(grid, radius)
    yy, xx = np.mgrid[-15:16, -15:16]
    d = np.hypot(xx, yy)
    reached = out == 0
    assert reached[15, 15 + radius]  # exact along the axes
    assert not reached[15, 15 + radius + 1]
    assert reached[d <= radius * 0.9].all()  # never much smaller than the disc
    assert not reached[d > radius * 1.1 + 0.5].any()  # nor much larger
    assert (out[~reached] == 9).all()


def test_edge_twins_pairs_reverse_edges_once():
    from pipeline.isochrones import edge_twins

    u = np.array([0, 1, 1, 2, 0, 0])
    v = np.array([1, 0, 2, 1, 1, 2])
    xs = {0: 0.0, 1: 100.0, 2: 250.0}
    coords = np.array([[xs[a], 0.0] for pair in zip(u, v, strict=True) for a in pair])
    which = np.repeat(np.arange(len(u)), 2)
    twin = edge_twins(u, v, (coords, which))
    # 0<->1 pair once (edge 4 is a parallel 0->1 without its own way back); 1<->2 pair; 0->2 none.
    assert twin.tolist() == [1, 0, 3, 2, -1, -1]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(60, 400))
def test_twin_sampling_gives_the_same_isochrones(seed, b1):
    from pipeline.isochrones import edge_twins

    rng = np.random.default_rng(seed)
    nodes, edges = _jittered_grid(rng)
    edges["travel_time"] = edge_travel_time_s(edges, SPEEDS) * rng.uniform(0.5, 2, len(edges))
    arr = street_arrays(nodes, edges, edges["travel_time"].to_numpy())
    src = rng.choice(25, 2, replace=False)
    reach = reach_from_sources(arr.csr(), src)
    lines = edges.geometry.to_numpy()
    twin = edge_twins(arr.u, arr.v, lines)
    assert (twin >= 0).all()
    plain = isochrone_polygons(
        lines, reach.cost[arr.u], arr.weight, [b1, b1 + 200], buffer_m=30, cell_m=10
    )
    paired = isochrone_polygons(
        lines, reach.cost[arr.u], arr.weight, [b1, b1 + 200], buffer_m=30, cell_m=10, twin=twin
    )
    for a, b in zip(plain, paired, strict=True):
        assert a.symmetric_difference(b).area < 0.02 * max(a.area, 1.0)


def _cells_polygon(classes, k, cell_m, x0, y0):
    """Independent reference: the union of one square per cell of class <= k."""
    rows, cols = np.nonzero(classes <= k)
    boxes = shapely.box(x0 + cols * cell_m, y0 - (rows + 1) * cell_m,
                        x0 + (cols + 1) * cell_m, y0 - rows * cell_m)  # fmt: skip
    return shapely.union_all(boxes)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), shape=st.tuples(st.integers(1, 14), st.integers(1, 14)))
def test_grid_polygons_are_the_cells_of_each_break(seed, shape):
    """Each break's polygon covers exactly its cells, is valid (diagonal touches included)."""
    classes = np.random.default_rng(seed).integers(0, 4, size=shape).astype(np.uint8)
    grid = CostGrid(classes, 1000.0, 2000.0, 20.0)
    polys = grid.polygons(3)
    for k, poly in enumerate(polys):
        want = _cells_polygon(classes, k, 20.0, 1000.0, 2000.0)
        assert shapely.is_valid(poly)
        assert poly.area == pytest.approx(float((classes <= k).sum()) * 400.0)
        assert shapely.equals(poly, want) or (poly.is_empty and want.is_empty)


def test_grid_polygons_keep_holes_and_diagonal_pieces():
    """A ring of cells keeps its hole; cells touching at a corner stay two valid pieces."""
    ring = np.ones((5, 5), np.uint8)
    ring[1:4, 1:4] = 0
    ring[2, 2] = 1  # an island inside the hole
    ring[1, 1] = 1  # touches the ring's inner corner
    (poly,) = CostGrid(ring, 0.0, 100.0, 10.0).polygons(1)
    assert shapely.is_valid(poly)
    assert poly.area == pytest.approx(float((ring == 0).sum()) * 100.0)
    diagonal = np.array([[0, 1], [1, 0]], np.uint8)
    (two,) = CostGrid(diagonal, 0.0, 20.0, 10.0).polygons(1)
    assert two.geom_type == "MultiPolygon"
    assert len(two.geoms) == 2
    assert shapely.is_valid(two)


def test_unknown_station_node_is_an_error():
    ids = np.array([10, 20, 30], dtype=np.int64)
    assert node_positions(ids, [30, 10]).tolist() == [2, 0]
    with pytest.raises(InputDataError, match=r"station node.* 99 not in the graph"):
        node_positions(ids, [10, 99])
    many = np.arange(200, dtype=np.int64) * 3
    assert node_positions(many, list(many[::-1][:100])).tolist() == list(range(199, 99, -1))
