"""Building times against an independent NetworkX recount: one-way streets, parallel edges and
parts no truck reaches (random graphs)."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.isochrones import edge_twins, reach_from_sources
from pipeline.routing import EdgeArrays, snap_to_edges
from pipeline.stages.coverage import point_times, snap_to_reached

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
    first_snap = snap_to_edges(points, drive, max_distance_m=HOSE_M)
    first = point_times(reach, first_snap, arr, 1.0 / speed, two_way=two_way).time_s
    snap = snap_to_reached(
        points, first_snap, drive, reached, stranded=~np.isfinite(first), max_distance_m=HOSE_M
    )
    got = point_times(reach, snap, arr, 1.0 / speed, two_way=two_way).time_s

    # The oracle: NetworkX times on a MultiDiGraph; each point is timed on its nearest street
    # when a truck reaches its spot there, else on the nearest street a truck reaches (within
    # hose reach); a street is entered at its start, or at its end when it is two-way (or the
    # spot is that end node); geometry by brute force.
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(n))
    for i in range(len(u)):
        g.add_edge(int(u[i]), int(v[i]), time=float(seconds[i]))
    times = nx.multi_source_dijkstra_path_length(g, {int(s) for s in sources}, weight="time")
    node_t = np.array([times.get(i, np.inf) for i in range(n)])
    reverse = {
        (int(a), int(b), round(float(ln), 6)) for a, b, ln in zip(u, v, lengths, strict=True)
    }

    def time_on(e, p):
        along = lines[e].project(p)
        t_u = node_t[u[e]] + along / speed[e]
        two = (int(v[e]), int(u[e]), round(float(lengths[e]), 6)) in reverse
        at_end = lengths[e] - along <= 1e-6
        t_v = node_t[v[e]] + (lengths[e] - along) / speed[e] if two or at_end else np.inf
        return min(t_u, t_v)

    def nearest(p, keep):
        d = np.array([lines[e].distance(p) if keep[e] else np.inf for e in range(len(u))])
        return np.flatnonzero((d <= HOSE_M) & (d <= d.min() + 1e-6))  # ties: any of them

    two_way_o = np.array(
        [(int(v[e]), int(u[e]), round(float(lengths[e]), 6)) in reverse for e in range(len(u))]
    )
    reached_o = np.isfinite(node_t[u]) | (two_way_o & np.isfinite(node_t[v]))
    everything = np.ones(len(u), dtype=bool)
    for p_i, p in enumerate(points):
        acceptable = set()
        for e in nearest(p, everything):
            t = time_on(e, p)
            if np.isfinite(t):
                acceptable.add(round(t, 6))
            else:  # no truck reaches that spot: the nearest street a truck reaches instead
                acceptable |= {round(time_on(r, p), 6) for r in nearest(p, reached_o)} or {np.inf}
        acceptable = acceptable or {np.inf}
        assert any(np.isclose(got[p_i], a, rtol=1e-6, atol=1e-5) or got[p_i] == a
                   for a in acceptable), (p_i, got[p_i], acceptable)  # fmt: skip
