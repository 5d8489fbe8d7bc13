"""Multi-source shortest paths and snapping, against hand-computed values."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import routing
from pipeline.routing import (
    Copies,
    edge_arrays,
    multi_source_dijkstra,
    nearest_copies,
    nearest_lines,
    point_costs,
    snap_by_street,
    snap_to_edges,
)
from tests.nearest_oracle import lowest_nearest


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
def test_nearest_lines_is_the_nearest_query_lowest_position_on_ties(max_distance_m):
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
    p, ln, d = lowest_nearest(lines, geoms, max_distance_m)
    g, line, dist = nearest_lines(geoms, tree, max_distance_m=max_distance_m)
    assert g.tolist() == p.tolist()
    assert line.tolist() == ln.tolist()
    np.testing.assert_array_equal(dist, d)
    assert len(g) > 0


@pytest.mark.parametrize("max_distance_m", [None, 2.0, 30.0, 60.0, 500.0])
def test_nearest_copies_is_the_nearest_query_with_copies(max_distance_m):
    rng = np.random.default_rng(11)
    # A 50 m grid cut at junctions, bent and diagonal streets, a two-part street; then every
    # other street again reversed (both directions of a two-way street) and a few exact
    # duplicates: copies at the same distance must go to the lowest position.
    ends = [[(x, y), (x + 50, y)] for x in range(0, 300, 50) for y in range(0, 300, 50)]
    ends += [[(x, y), (x, y + 50)] for x in range(0, 300, 50) for y in range(0, 300, 50)]
    streets = list(shapely.linestrings(np.array(ends, dtype=float)))
    streets += [
        shapely.LineString([(x, y), (x + 30, y + 35), (x + 70, y + rng.uniform(-20, 20))])
        for x, y in rng.uniform(0, 250, (25, 2))
    ]
    streets.append(shapely.MultiLineString([[(400, 0), (400, 90)], [(420, 100), (500, 100)]]))
    lines = np.array(
        [*streets, *shapely.reverse(np.array(streets[::2])), *streets[5:9]], dtype=object
    )
    rng.shuffle(lines)
    centres = np.r_[rng.uniform(-400, 700, (500, 2)), [(25, 25), (50, 10), (10, 50), (100, 100)]]
    houses = shapely.buffer(shapely.points(centres), rng.uniform(1, 6, len(centres)), quad_segs=1)
    geoms = np.r_[houses, shapely.points(rng.uniform(-50, 350, (100, 2))), [None, shapely.Point()]]
    p, ln, d = lowest_nearest(lines, geoms, max_distance_m)
    g, line, dist = nearest_copies(geoms, lines, Copies.of(lines), max_distance_m=max_distance_m)
    assert g.tolist() == p.tolist()
    assert line.tolist() == ln.tolist()
    np.testing.assert_array_equal(dist, d)
    assert len(g) > 0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([None, 5.0, 25.0, 80.0]))
def test_nearest_copies_random_streets_match_the_exhaustive_query(seed, max_distance_m):
    """Random bent streets, many near one house (several bounds tie), copies reversed."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 25))
    starts = rng.uniform(0, 120, (n, 2))
    bends = starts + rng.uniform(-40, 40, (n, 2))
    ends = bends + rng.uniform(-40, 40, (n, 2))
    streets = list(shapely.linestrings(np.stack([starts, bends, ends], axis=1)))
    copies = shapely.reverse(np.array(streets[: n // 2 + 1], dtype=object))
    lines = np.array([*streets, *copies, *streets[:2]], dtype=object)
    lines = lines[rng.permutation(len(lines))]
    centres = rng.uniform(-30, 150, (60, 2))
    houses = shapely.buffer(shapely.points(centres), rng.uniform(0.5, 8, 60), quad_segs=1)
    geoms = np.r_[houses, shapely.points(rng.uniform(0, 120, (20, 2)))]
    p, ln, d = lowest_nearest(lines, geoms, max_distance_m)
    g, line, dist = nearest_copies(geoms, lines, Copies.of(lines), max_distance_m=max_distance_m)
    assert g.tolist() == p.tolist()
    assert line.tolist() == ln.tolist()
    np.testing.assert_array_equal(dist, d)


@pytest.mark.parametrize("max_distance_m", [None, 12.0])
def test_snap_by_street_is_the_snap_to_the_subset(max_distance_m):
    rng = np.random.default_rng(5)
    # Streets of a 40 m grid (junction ties), each street once; the subset snapped to holds both
    # directions of some streets (twin ties), one direction of others, and one street whole one
    # way and cut in two pieces the other way (coverage cuts the streets at stations).
    ends = [((x, y), (x + 40, y)) for x in range(0, 400, 40) for y in range(0, 400, 40)]
    ends += [((x, y), (x, y + 40)) for x in range(0, 400, 40) for y in range(0, 400, 40)]
    streets = shapely.linestrings(np.array(ends, dtype=float))
    pick = rng.random(len(streets))
    both, one = np.flatnonzero(pick < 0.4), np.flatnonzero((pick >= 0.4) & (pick < 0.7))
    cut = both[0]
    both = both[1:]
    x0, y0 = ends[cut][0]
    x1, y1 = ends[cut][1]
    mid = ((x0 + x1) / 2, (y0 + y1) / 2)
    pieces = shapely.linestrings([[ends[cut][0], mid], [mid, ends[cut][1]]])
    lines = np.r_[streets[both], shapely.reverse(streets[both]), streets[one], pieces]
    lines = np.r_[lines, shapely.reverse(streets[[cut]])]
    street_of_line = np.r_[both, both, one, [-1, -1], [cut]]
    order = rng.permutation(len(lines))
    lines, street_of_line = lines[order], street_of_line[order]
    loose = np.flatnonzero(street_of_line < 0)
    centres = rng.uniform(-30, 430, (1500, 2))
    centres[:40] = np.array(mid) + rng.uniform(-8, 8, (40, 2))  # around the cut street
    houses = shapely.buffer(shapely.points(centres), rng.uniform(1, 6, len(centres)), quad_segs=1)
    houses = np.r_[houses, shapely.points([(20.0, 5.0), (40.0, 40.0), (500.0, 500.0)])]

    prior = snap_to_edges(houses, gpd.GeoDataFrame(geometry=streets))
    line_of_street = np.full(len(streets), -1)
    line_of_street[street_of_line[street_of_line >= 0]] = np.flatnonzero(street_of_line >= 0)
    prior_line = np.where(prior.edge >= 0, line_of_street[np.maximum(prior.edge, 0)], -1)

    want = snap_to_edges(houses, gpd.GeoDataFrame(geometry=lines), max_distance_m=max_distance_m)
    got = snap_by_street(
        houses, lines, prior, prior_line, max_distance_m=max_distance_m, loose=loose
    )
    np.testing.assert_array_equal(got.edge, want.edge)
    np.testing.assert_array_equal(got.gap_m, want.gap_m)
    np.testing.assert_array_equal(got.to_u_m, want.to_u_m)
    np.testing.assert_array_equal(got.to_v_m, want.to_v_m)
    # The reuse is exercised: many houses have a clear nearest street, some a twin tie.
    assert prior.runner_up_m is not None
    clear = (prior.runner_up_m - prior.gap_m > 1e-6) & (prior_line >= 0)
    assert clear.sum() > 300
    assert (want.edge >= 0).sum() > 300


@pytest.mark.parametrize("threads", ["1", "3"])
def test_pairs_within_are_every_pair_that_close_sorted_whatever_the_chunks(monkeypatch, threads):
    """Distances in chunks over threads or in one piece: every pair within reach, in order."""
    monkeypatch.setenv("FIREGAP_THREADS", threads)
    monkeypatch.setattr(routing, "_CHUNK_PAIRS", 17)  # distances in several chunks
    rng = np.random.default_rng(5)
    ends = [((x, y), (x + 50, y)) for x in range(0, 200, 50) for y in range(0, 200, 50)]
    ends += [((x, y), (x + 30, y + 40)) for x, y in rng.uniform(0, 150, (15, 2))]
    lines = shapely.linestrings(np.array(ends, dtype=float))
    centres = rng.uniform(-20, 220, (120, 2))
    houses = shapely.buffer(shapely.points(centres), rng.uniform(1, 6, len(centres)), quad_segs=1)
    g, item, d = routing.pairs_within(houses, shapely.STRtree(lines), 8.0)
    every = shapely.distance(houses[:, None], lines[None, :])
    want_g, want_item = np.nonzero(every <= 8.0)
    want_d = every[want_g, want_item]
    order = np.lexsort((want_item, want_d, want_g))
    assert g.tolist() == want_g[order].tolist()
    assert item.tolist() == want_item[order].tolist()
    np.testing.assert_array_equal(d, want_d[order])
    assert len(g) > 50
