"""Multi-source shortest paths and snapping, against hand-computed values."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.routing import (
    edge_arrays,
    multi_source_dijkstra,
    nearest_lines,
    point_costs,
    snap_to_edges,
)


def _line_graph():
    """0 --100-- 1 --50-- 2 --200-- 3, both directions; plus a one-way 3 -> 0 of 10."""
    xs = [0.0, 100.0, 150.0, 350.0]
    nodes = pd.DataFrame({"x": xs, "y": 0.0}, index=pd.Index([10, 11, 12, 13], name="osmid"))
    pairs = [(10, 11, 100), (11, 12, 50), (12, 13, 200)]
    rows = []
    for u, v, w in pairs:
        rows += [(u, v, 0, w), (v, u, 0, w)]
    rows.append((13, 10, 0, 10))
    edges = pd.DataFrame(rows, columns=["u", "v", "key", "length"]).set_index(["u", "v", "key"])
    return nodes, edges


def test_multi_source_costs_and_nearest():
    nodes, edges = _line_graph()
    arr = edge_arrays(nodes, edges, "length")
    cost, nearest = multi_source_dijkstra(arr.csr(), np.array([0, 3]))
    # Node 2 (x=150): 150 from node 0, 200 from node 3 -> source 0. Node 0 from 3 via one-way: 10.
    np.testing.assert_allclose(cost, [0, 100, 150, 0])
    assert nearest.tolist() == [0, 0, 0, 1]


def test_source_costs_offset_and_limit():
    nodes, edges = _line_graph()
    arr = edge_arrays(nodes, edges, "length")
    cost, nearest = multi_source_dijkstra(
        arr.csr(), np.array([1]), source_costs=np.array([25.0]), limit=200
    )
    np.testing.assert_allclose(cost[:3], [125, 25, 75])
    assert np.isinf(cost[3])  # 25 + 50 + 200 > limit
    assert nearest.tolist() == [0, 0, 0, -1]


def test_mask_removes_edges():
    nodes, edges = _line_graph()
    arr = edge_arrays(nodes, edges, "length")
    keep = ~((arr.u == 1) & (arr.v == 2)) & ~((arr.u == 2) & (arr.v == 1))
    cost, _ = multi_source_dijkstra(arr.csr(keep), np.array([0]))
    assert np.isinf(cost[2])
    assert np.isinf(cost[3])


def test_snap_and_point_costs():
    nodes, edges = _line_graph()
    geoms = [
        shapely.LineString([(nodes.loc[u, "x"], 0), (nodes.loc[v, "x"], 0)])
        for u, v, _ in edges.index
    ]
    gedges = gpd.GeoDataFrame(edges, geometry=geoms, crs="EPSG:32648")
    arr = edge_arrays(nodes, edges, "length")
    cost, _ = multi_source_dijkstra(arr.csr(), np.array([0]))
    pts = shapely.points([(130.0, 20.0), (5000.0, 0.0)])
    snap = snap_to_edges(pts, gedges, max_distance_m=100)
    assert snap.edge[1] == -1
    assert snap.gap_m[0] == pytest.approx(20)
    pc = point_costs(cost, snap, arr.u, arr.v)
    assert pc[0] == pytest.approx(130 + 20)
    assert np.isinf(pc[1])


@settings(max_examples=30, deadline=None)
@given(
    st.integers(3, 8), st.integers(0, 10_000), st.lists(st.integers(0, 63), min_size=1, max_size=4)
)
def test_adding_a_source_never_increases_cost(n, seed, extra):
    rng = np.random.default_rng(seed)
    ids = np.arange(n * n)
    nodes = pd.DataFrame({"x": ids % n, "y": ids // n}, index=pd.Index(ids, name="osmid"))
    rows = []
    for i in ids:
        for j in (i + 1, i + n):
            if (j < n * n) and (j == i + n or j % n):
                w = float(rng.uniform(1, 100))
                rows += [(i, j, 0, w), (j, i, 0, w)]
    edges = pd.DataFrame(rows, columns=["u", "v", "key", "w"]).set_index(["u", "v", "key"])
    arr = edge_arrays(nodes, edges, "w")
    g = arr.csr()
    base, _ = multi_source_dijkstra(g, np.array([0]))
    more, _ = multi_source_dijkstra(g, np.array([0, *[e % (n * n) for e in extra]]))
    assert (more <= base + 1e-9).all()


@pytest.mark.parametrize("max_distance_m", [None, 3.0, 30.0, 500.0])
def test_nearest_lines_is_the_nearest_query(max_distance_m):
    rng = np.random.default_rng(7)
    # Streets cut at every junction of a 50 m grid (equal distances at corners) and diagonals.
    ends = [((x, y), (x + 50, y)) for x in range(0, 300, 50) for y in range(0, 300, 50)]
    ends += [((x, y), (x, y + 50)) for x in range(0, 300, 50) for y in range(0, 300, 50)]
    ends += [
        ((x, y), (x + 40 + rng.uniform(0, 5), y + 40)) for x, y in rng.uniform(0, 250, (20, 2))
    ]
    lines = shapely.linestrings(np.array(ends, dtype=float))
    # Houses near and far (up to 400 m out: beyond every search round), corner cases, points.
    centres = np.r_[rng.uniform(-400, 700, (400, 2)), [(25, 25), (50, 10), (10, 50), (100, 100)]]
    houses = shapely.buffer(shapely.points(centres), rng.uniform(1, 6, len(centres)), quad_segs=1)
    geoms = np.r_[houses, shapely.points(rng.uniform(-50, 350, (100, 2))), [None, shapely.Point()]]
    tree = shapely.STRtree(lines)
    (p, ln), d = tree.query_nearest(
        geoms, max_distance=max_distance_m, return_distance=True, all_matches=False
    )
    g, line, dist = nearest_lines(geoms, tree, max_distance_m=max_distance_m)
    assert g.tolist() == p.tolist()
    assert line.tolist() == ln.tolist()
    np.testing.assert_array_equal(dist, d)
    assert len(g) > 0
