"""Network reach of water sources: hand-computed distances and properties on random grids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from scipy.sparse import csgraph

from pipeline.config import SourceFile, WaterConfig, load_config
from pipeline.paths import PROJECT_ROOT
from pipeline.siting import greedy_mclp
from pipeline.tables import rejects_frame
from pipeline.water_reach import (
    Spots,
    candidate_coverage,
    segments_from_edges,
    snap_points,
    source_envelope,
    spots_at_points,
    spots_near_bodies,
)
from pipeline.water_sources import file_sources, merge_duplicates

CRS = "EPSG:32648"
X0, Y0 = 590_000.0, 2_340_000.0


def graph(points: dict[int, tuple[float, float]], streets: list[tuple[int, int]], truck=None):
    """Nodes and both-direction edges (as the ingest stage writes them) in town metres."""
    nodes = pd.DataFrame(
        {"x": [X0 + p[0] for p in points.values()], "y": [Y0 + p[1] for p in points.values()]},
        index=pd.Index(list(points), name="osmid"),
    )
    rows = []
    for i, (a, b) in enumerate(streets):
        line = shapely.LineString([(X0 + points[a][0], Y0 + points[a][1]),
                                   (X0 + points[b][0], Y0 + points[b][1])])  # fmt: skip
        ok = True if truck is None else truck[i]
        rows.append((a, b, 0, line.length, False, ok, line))
        rows.append((b, a, 0, line.length, True, ok, shapely.reverse(line)))
    df = pd.DataFrame(rows, columns=["u", "v", "key", "length", "reversed", "truck", "geometry"])
    edges = gpd.GeoDataFrame(df, geometry="geometry", crs=CRS).set_index(["u", "v", "key"])
    segs, _ = segments_from_edges(nodes, edges, edges["truck"].to_numpy())
    return segs


def pt(x, y):
    return shapely.Point(X0 + x, Y0 + y)


# The U of the issue: A(0,0) - B(0,-45) - C(90,-45) - D(90,0); A and D are 90 m apart.
U_POINTS = {1: (0, 0), 2: (0, -45), 3: (90, -45), 4: (90, 0)}
U_STREETS = [(1, 2), (2, 3), (3, 4)]


def test_building_180_m_along_streets_but_90_m_away_is_not_covered():
    segs = graph(U_POINTS, U_STREETS)
    spots = spots_at_points(np.array([pt(0, 1)]), segs, mask=segs.truck, max_distance_m=5)
    env = source_envelope(segs, spots)
    building = shapely.box(X0 + 89, Y0 + 0.0, X0 + 91, Y0 + 2)  # touches D
    seg, along, gap = snap_points(np.array([building]), segs)
    cost, src = env.at(seg, along)
    assert cost[0] + gap[0] == pytest.approx(180)
    assert shapely.distance(pt(0, 1), building) == pytest.approx(89.0, abs=0.01)
    assert not cost[0] + gap[0] <= 150
    assert src[0] == 0


def test_same_street_distance_is_direct():
    segs = graph(U_POINTS, U_STREETS)
    # hydrant 30 m down A-B; building 3 m west of the street, 10 m below A: 20 m along + 3 m
    spots = spots_at_points(np.array([pt(1, -30)]), segs, mask=segs.truck, max_distance_m=5)
    env = source_envelope(segs, spots)
    seg, along, gap = snap_points(np.array([pt(-3, -10)]), segs)
    cost, _ = env.at(seg, along)
    assert cost[0] + gap[0] == pytest.approx(23)


def test_segment_worst_and_covered_length():
    segs = graph(U_POINTS, U_STREETS)
    spots = spots_at_points(np.array([pt(0, 0)]), segs, mask=segs.truck, max_distance_m=5)
    worst, covered = source_envelope(segs, spots).segment_stats(150)
    # A-B: 0..45; B-C: 45..135 (worst 135, all in reach); C-D: 135..180, 15 m in reach
    assert worst == pytest.approx([45, 135, 180])
    assert covered == pytest.approx([45, 90, 15])
    worst_none, covered_none = source_envelope(segs, Spots.empty()).segment_stats(150)
    assert np.isinf(worst_none).all()
    assert (covered_none == 0).all()


def test_pond_without_road_is_ignored_and_river_has_many_access_points():
    pts = {1: (0, 0), 2: (100, 0), 3: (200, 0), 4: (200, 100)}
    segs = graph(pts, [(1, 2), (2, 3), (3, 4)], truck=[True, True, False])
    pond_far = shapely.box(X0 + 50, Y0 + 200, X0 + 80, Y0 + 230)
    pond_alley = shapely.box(X0 + 205, Y0 + 40, X0 + 230, Y0 + 60)  # 5 m from a non-truck street
    river = shapely.LineString([(X0 - 10, Y0 - 10), (X0 + 210, Y0 - 10)])
    spots = spots_near_bodies(
        np.array([pond_far, pond_alley, river]), segs, mask=segs.truck, distance_m=20
    )
    assert sorted(spots.source.tolist()) == [2, 2]  # the river, from both truck streets
    assert set(spots.seg.tolist()) == {0, 1}


def test_spots_carry_their_starting_cost():
    segs = graph(U_POINTS, U_STREETS)
    spots = spots_at_points(np.array([pt(0, 0)]), segs, mask=segs.truck, max_distance_m=5)
    env = source_envelope(segs, spots.with_cost(100))
    worst, covered = env.segment_stats(150)
    assert worst[0] == pytest.approx(145)
    assert covered[0] == pytest.approx(45)
    assert covered[1] == pytest.approx(5)


def _brute_point_cost(segs, spots, seg, along):
    """Least network distance from any spot to a point on a segment (all-pairs node distances)."""
    dist = csgraph.dijkstra(segs.csr(), directed=True)
    best = np.full(len(seg), np.inf)
    for s_seg, s_t in zip(spots.seg, spots.along_m, strict=True):
        s_ends = [(segs.u[s_seg], s_t), (segs.v[s_seg], segs.length_m[s_seg] - s_t)]
        for q, (q_seg, q_t) in enumerate(zip(seg, along, strict=True)):
            q_ends = [(segs.u[q_seg], q_t), (segs.v[q_seg], segs.length_m[q_seg] - q_t)]
            d = min(a + dist[n, m] + b for n, a in s_ends for m, b in q_ends)
            if s_seg == q_seg:
                d = min(d, abs(s_t - q_t))
            best[q] = min(best[q], d)
    return best


@st.composite
def grids(draw):
    """A random grid town: nodes on a jittered lattice, a random subset of lattice streets."""
    nx_, ny_ = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    step = draw(st.floats(40, 120))
    pts = {}
    for i in range(nx_):
        for j in range(ny_):
            jitter = draw(st.tuples(st.floats(-10, 10), st.floats(-10, 10)))
            pts[i * ny_ + j + 1] = (i * step + jitter[0], j * step + jitter[1])
    streets = [(a, a + 1) for a in pts if (a - 1) % ny_ != ny_ - 1]
    streets += [(a, a + ny_) for a in pts if a + ny_ in pts]
    keep = draw(st.lists(st.booleans(), min_size=len(streets), max_size=len(streets)))
    streets = [s for s, k in zip(streets, keep, strict=True) if k] or streets[:1]
    return pts, streets, step


@settings(max_examples=25, deadline=None)
@given(grids(), st.data())
def test_envelope_matches_brute_force(town, data):
    pts, streets, step = town
    segs = graph(pts, streets)
    n = len(segs)
    k = data.draw(st.integers(1, 3))
    s_seg = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)))
    s_frac = np.array(data.draw(st.lists(st.floats(0, 1), min_size=k, max_size=k)))
    spots = Spots(s_seg, s_frac * segs.length_m[s_seg], np.arange(k), np.zeros(k))
    q_seg = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=5, max_size=5)))
    q_frac = np.array(data.draw(st.lists(st.floats(0, 1), min_size=5, max_size=5)))
    q_along = q_frac * segs.length_m[q_seg]
    env = source_envelope(segs, spots)
    cost, _ = env.at(q_seg, q_along)
    assert cost == pytest.approx(_brute_point_cost(segs, spots, q_seg, q_along), abs=1e-6)
    # worst cost per segment: never below any sampled point's cost, and reached by some point
    worst, covered = env.segment_stats(step)
    t = np.linspace(0, 1, 201)
    all_seg = np.repeat(np.arange(n), len(t))
    samples, _ = env.at(all_seg, np.tile(t, n) * segs.length_m[all_seg])
    per_seg = samples.reshape(n, len(t))
    finite = np.isfinite(worst)
    assert (per_seg.max(axis=1)[finite] <= worst[finite] + 1e-6).all()
    assert (per_seg.max(axis=1)[finite] >= worst[finite] - segs.length_m[finite] / 200 - 1e-6).all()
    share = (per_seg <= step).mean(axis=1)
    assert share * segs.length_m == pytest.approx(covered, abs=float(segs.length_m.max()) / 100)


@settings(max_examples=20, deadline=None)
@given(grids(), st.floats(20, 150), st.floats(15, 200))
def test_tiled_coverage_equals_one_search(town, reach, tile):
    pts, streets, _ = town
    segs = graph(pts, streets)
    rng = np.random.default_rng(len(streets))
    m = 12
    d_seg = rng.integers(0, len(segs), m)
    d_along = rng.random(m) * segs.length_m[d_seg]
    d_gap = rng.random(m) * 10
    cands = np.arange(len(segs.node_ids))
    tiled = candidate_coverage(
        segs, cands, d_seg, d_along, d_gap, reach_m=reach, tile_m=tile
    ).toarray()
    dist = csgraph.dijkstra(segs.csr(), directed=True, indices=cands)
    via_u = dist[:, segs.u[d_seg]] + d_along + d_gap
    via_v = dist[:, segs.v[d_seg]] + segs.length_m[d_seg] - d_along + d_gap
    assert (tiled == (np.minimum(via_u, via_v) <= reach)).all()
    # the greedy picks reach at least 1 - 1/e of the best pair of sites (brute force)
    w = rng.random(m) + 0.1
    best = max(
        (w * (tiled[i] | tiled[j])).sum() for i in range(len(cands)) for j in range(len(cands))
    )
    assert greedy_mclp(tiled, w, 2).total >= (1 - 1 / np.e) * best - 1e-9


def test_merge_duplicates_keeps_the_first_row_of_each_kind():
    geoms = [pt(0, 0), pt(3, 0), pt(6, 0), pt(3, 1), pt(50, 0)]
    sources = gpd.GeoDataFrame(
        {
            "source_id": ["file:a.csv:2", "osm:n1", "osm:n2", "osm:n3", "osm:n4"],
            "kind": ["hydrant", "hydrant", "hydrant", "water_tank", "hydrant"],
            "origin": ["file", "osm", "osm", "osm", "osm"],
            "file": ["a.csv", None, None, None, None],
            "line": pd.array([2, None, None, None, None], dtype="Int64"),
            "osm_id": [None, "n1", "n2", "n3", "n4"],
        },
        geometry=geoms,
        crs=CRS,
    )
    kept, rejects = merge_duplicates(sources, distance_m=5)
    # n1 is 3 m from the file's hydrant, n2 3 m from n1 (chained); the tank is another kind
    assert kept["source_id"].tolist() == ["file:a.csv:2", "osm:n3", "osm:n4"]
    assert kept["merged"].tolist() == [2, 0, 0]
    assert rejects["file"].tolist() == ["OSM", "OSM"]
    assert rejects["reason"].iloc[1].startswith("duplicate OSM n2: within 6.0 m of file:a.csv:2")


def _water_config() -> WaterConfig:
    return load_config("ha_noi", root=PROJECT_ROOT).water


def test_vn2000_csv_and_xlsx_sources(tmp_path):
    to_vn = Transformer.from_crs(CRS, "EPSG:9210", always_xy=True)
    x, y = to_vn.transform(X0 + 10, Y0 + 20)
    csv = tmp_path / "vn2000.csv"
    csv.write_text(f"x,y,loai\n{x:.3f},{y:.3f},Trụ nước\n{x:.3f},{y:.3f},\n", encoding="utf-8")
    xlsx = tmp_path / "ao.xlsx"
    pd.DataFrame({"lat": [pt(0, 0).y], "lon": [pt(0, 0).x], "kind": ["ao"]}).to_excel(xlsx)
    boundary = shapely.box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500)
    files = [
        SourceFile(path=str(csv), crs="EPSG:9210", type_column="loai"),
        SourceFile(path=str(xlsx), crs=CRS, x_column="lon", y_column="lat", default_type="pond"),
    ]
    sources, tables = file_sources(files, crs=CRS, boundary=boundary, config=_water_config())
    rejects = rejects_frame(tables)
    assert sources["kind"].tolist() == ["hydrant", "pond"]
    assert shapely.distance(sources.geometry.iloc[0], pt(10, 20)) < 0.01
    assert rejects.to_dict(orient="records") == [
        {"file": "vn2000.csv", "line": 3,
         "reason": "missing type (fill the type column or set default_type)"},
    ]  # fmt: skip


def test_geojson_sources_keep_ponds_drawn_as_areas(tmp_path):
    import json

    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)

    def ll(x, y):
        return list(to_ll.transform(X0 + x, Y0 + y))

    ring = [ll(0, 0), ll(30, 0), ll(30, 30), ll(0, 30), ll(0, 0)]
    feats = [
        {"type": "Feature", "properties": {"loai": "trụ nước"},
         "geometry": {"type": "Point", "coordinates": ll(5, 5)}},
        {"type": "Feature", "properties": {"loai": "ao"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}},
        {"type": "Feature", "properties": {"loai": "ao"}, "geometry": None},
        {"type": "Feature", "properties": {"loai": "hồ"},
         "geometry": {"type": "Point", "coordinates": ll(9000, 9000)}},
    ]  # fmt: skip
    path = tmp_path / "nguon_nuoc.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    boundary = shapely.box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500)
    spec = SourceFile(path=str(path), type_column="loai")
    sources, tables = file_sources([spec], crs=CRS, boundary=boundary, config=_water_config())
    rejects = rejects_frame(tables)
    assert sources["kind"].tolist() == ["hydrant", "pond"]
    assert sources.geometry.iloc[1].area == pytest.approx(900, rel=1e-2)
    assert rejects[["line", "reason"]].to_dict(orient="records") == [
        {"line": 3, "reason": "no geometry"},
        {"line": 4, "reason": "outside the province boundary"},
    ]
