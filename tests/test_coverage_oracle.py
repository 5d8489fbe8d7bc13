"""Building times against an independent NetworkX recount: one-way streets, parallel edges and
parts no truck reaches (random graphs)."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.coverage import point_times, snap_to_reached
from pipeline.isochrones import edge_twins, reach_from_sources
from pipeline.routing import EdgeArrays, snap_to_edges

HOSE_M = 60.0


def random_city(seed: int):
    """A jittered 5 x 5 grid: random one-way streets, some doubled by a bent parallel street,
    some streets missing (so parts are cut off), and random points to time."""
    rng = np.random.default_rng(seed)
    k = 5
    xy = np.array([(i * 100.0, j * 100.0) for j in range(k) for i in range(k)])
    xy += rng.uniform(-15, 15, xy.shape)
    rows = []  # (u, v, line, speed in m/s: one per street, both directions)
    for a in range(k * k):
        for b in (a + 1, a + k):
            if (b == a + 1 and b % k == 0) or b >= k * k or rng.random() < 0.2:
                continue
            line = shapely.LineString([xy[a], xy[b]])
            one_way = rng.random() < 0.3
            mps = rng.uniform(2.0, 10.0)
            rows.append((a, b, line, mps))
            if one_way and rng.random() < 0.5:
                rows[-1] = (b, a, shapely.reverse(line), mps)  # one-way the other way round
            elif not one_way:
                rows.append((b, a, shapely.reverse(line), mps))
            if rng.random() < 0.15:  # a parallel street, bent, one way only
                mid = (xy[a] + xy[b]) / 2 + rng.uniform(-20, 20, 2)
                rows.append((a, b, shapely.LineString([xy[a], mid, xy[b]]), rng.uniform(2, 10)))
    u = np.array([r[0] for r in rows])
    v = np.array([r[1] for r in rows])
    lines = np.array([r[2] for r in rows], dtype=object)
    speed = np.array([r[3] for r in rows])
    points = shapely.points(rng.uniform(-30, 430, (40, 2)))
    sources = rng.choice(k * k, size=2, replace=False)
    return xy, u, v, lines, speed, points, sources


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_building_times_match_networkx(seed):
    xy, u, v, lines, speed, points, sources = random_city(seed)
    n = len(xy)
    lengths = shapely.length(lines)
    seconds = lengths / speed
    arr = EdgeArrays(np.arange(n), u, v, seconds)
    drive = gpd.GeoDataFrame(geometry=lines, crs="EPSG:32648")
    reach = reach_from_sources(arr.csr(), sources)
    two_way = edge_twins(u, v, lines) >= 0
    reached = np.isfinite(reach.cost[u]) | (two_way & np.isfinite(reach.cost[v]))
    snap = snap_to_reached(
        points,
        snap_to_edges(points, drive, max_distance_m=HOSE_M),
        drive,
        reached,
        max_distance_m=HOSE_M,
    )
    got = point_times(reach, snap, arr, 1.0 / speed, two_way=two_way).time_s

    # The oracle: NetworkX times on a MultiDiGraph; each point goes to the nearest street a
    # truck reaches (within hose reach), entered at its start, or at its end when the street
    # is two-way (or the point is that end node); geometry by brute force.
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(n))
    for i in range(len(u)):
        g.add_edge(int(u[i]), int(v[i]), time=float(seconds[i]))
    times = nx.multi_source_dijkstra_path_length(g, {int(s) for s in sources}, weight="time")
    node_t = np.array([times.get(i, np.inf) for i in range(n)])
    reverse = {
        (int(a), int(b), round(float(ln), 6)) for a, b, ln in zip(u, v, lengths, strict=True)
    }
    want = np.full(len(points), np.inf)
    for p_i, p in enumerate(points):
        best_d, best = np.inf, None
        for e in range(len(u)):
            two = (int(v[e]), int(u[e]), round(float(lengths[e]), 6)) in reverse
            if not (np.isfinite(node_t[u[e]]) or (two and np.isfinite(node_t[v[e]]))):
                continue
            d = lines[e].distance(p)
            if d <= HOSE_M and d < best_d - 1e-9:
                best_d, best = d, e
        if best is None:
            continue
        along = lines[best].project(p)
        t_u = node_t[u[best]] + along / speed[best]
        two = (int(v[best]), int(u[best]), round(float(lengths[best]), 6)) in reverse
        at_end = lengths[best] - along <= 1e-6
        t_v = node_t[v[best]] + (lengths[best] - along) / speed[best] if two or at_end else np.inf
        want[p_i] = min(t_u, t_v)
    # Ties between equally near parallel streets can pick either; compare where unambiguous.
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-6, atol=1e-6)
