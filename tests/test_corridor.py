"""Building corridors: cross-sections between footprints, vectorised and against a loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import corridor
from pipeline.corridor import gap_sections, gap_widths, gap_widths_loop_baseline
from pipeline.topology import undirected_twins
from tests.osm_fixtures import row_houses

GAP = {"step_m": 5.0, "search_m": 15.0, "quantile": 0.1}


def test_gap_width_of_a_two_metre_alley():
    line = shapely.LineString([(0, 0), (0, 80)])
    houses = row_houses(2.0, 0, 80)
    out = gap_widths([line], houses, **GAP)
    assert out["n_samples"].iloc[0] == 16
    assert out["n_both_sides"].iloc[0] == 16
    assert out["gap_width_m"].iloc[0] == pytest.approx(2.0, abs=1e-9)


def test_gap_width_needs_houses_on_both_sides_and_takes_the_bottleneck():
    line = shapely.LineString([(0, 0), (0, 100)])
    one_side = row_houses(4.0, 0, 100)[:20]  # east side only
    assert np.isnan(gap_widths([line], one_side, **GAP)["gap_width_m"].iloc[0])
    # 6 m apart, with one pinch of 2.5 m over 10 m: a low quantile finds the pinch.
    houses = np.concatenate([row_houses(6.0, 0, 100), [shapely.box(-3, 40, -1.25, 50)]])
    got = gap_widths([line], houses, step_m=5, search_m=15, quantile=0.0)["gap_width_m"]
    assert got.iloc[0] == pytest.approx(4.25)  # 3 m east + 1.25 m west
    # A house beyond the search distance is not seen.
    far = row_houses(40.0, 0, 100)
    assert np.isnan(gap_widths([line], far, **GAP)["gap_width_m"].iloc[0])


def test_gap_width_ignores_a_footprint_the_street_runs_through():
    line = shapely.LineString([(0, 0), (0, 20)])
    houses = np.concatenate([row_houses(3.0, 0, 20), [shapely.box(-1, 8, 1, 12)]])
    out = gap_widths([line], houses, step_m=5, search_m=15, quantile=0.0)
    assert out["gap_width_m"].iloc[0] == pytest.approx(3.0)


@pytest.mark.parametrize("angle", [30.0, 135.0])
def test_cross_sections_follow_the_line_direction(angle):
    # The same 3 m alley, rotated: the cross-sections turn with it.
    line = shapely.affinity.rotate(shapely.LineString([(0, 0), (0, 60)]), angle, origin=(0, 0))
    houses = [shapely.affinity.rotate(h, angle, origin=(0, 0)) for h in row_houses(3.0, 0, 60)]
    out = gap_widths([line], houses, **GAP)
    assert out["gap_width_m"].iloc[0] == pytest.approx(3.0, abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 25), st.floats(0.0, 0.5))
def test_vectorised_matches_loop_baseline(seed, n_lines, q):
    rng = np.random.default_rng(seed)
    c = rng.uniform(0, 300, (60, 2))
    size = rng.uniform(3, 15, (60, 2))
    houses = shapely.box(c[:, 0], c[:, 1], c[:, 0] + size[:, 0], c[:, 1] + size[:, 1])
    s = rng.uniform(0, 300, (n_lines, 2))
    mid = s + rng.uniform(-40, 40, (n_lines, 2))
    e = mid + rng.uniform(-40, 40, (n_lines, 2))
    lines = shapely.linestrings(np.stack([s, mid, e], axis=1))
    kw = {"step_m": 4.0, "search_m": 12.0, "quantile": q}
    fast = gap_widths(lines, houses, chunk_samples=37, **kw)
    slow = gap_widths_loop_baseline(lines, houses, **kw)
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, atol=1e-9)


def test_wall_blocks_do_not_change_the_widths(monkeypatch):
    rng = np.random.default_rng(7)
    c = rng.uniform(0, 300, (200, 2))
    size = rng.uniform(3, 15, (200, 2))
    houses = shapely.box(c[:, 0], c[:, 1], c[:, 0] + size[:, 0], c[:, 1] + size[:, 1])
    s = rng.uniform(0, 300, (30, 2))
    lines = shapely.linestrings(np.stack([s, s + rng.uniform(-80, 80, (30, 2))], axis=1))
    kw = {"step_m": 3.0, "search_m": 12.0}
    _, whole = gap_sections(lines, houses, **kw)
    assert np.isfinite(whole).sum() > 20  # the case has gaps to measure
    monkeypatch.setattr(corridor, "_WALLS_PER_BLOCK", 7)  # many blocks, some of one footprint
    _, blocks = gap_sections(lines, houses, **kw)
    np.testing.assert_array_equal(whole, blocks)


def _walls_by_loop(polygons):
    """Each footprint's walls, ring by ring, vertex by vertex (the reference)."""
    owner, start, vec = [], [], []
    for i, poly in enumerate(polygons):
        parts = [] if poly is None or poly.is_empty else list(getattr(poly, "geoms", [poly]))
        for part in parts:
            for ring in [part.exterior, *part.interiors]:
                xy = np.asarray(ring.coords)
                owner += [i] * (len(xy) - 1)
                start += list(xy[:-1])
                vec += list(xy[1:] - xy[:-1])
    return np.asarray(owner), np.asarray(start).reshape(-1, 2), np.asarray(vec).reshape(-1, 2)


@pytest.mark.parametrize("block", [100_000, 3])
def test_walls_of_every_kind_of_footprint_follow_their_rings(monkeypatch, block):
    square = [(0, 0), (10, 0), (10, 10), (0, 10)]
    hole = [(2, 2), (4, 2), (4, 4), (2, 4)]
    corner_hole = [(0, 0), (3, 1), (1, 3)]  # touches the shell at the shell's first vertex
    polygons = np.array(
        [
            shapely.Polygon(square),
            shapely.Polygon(square, [hole]),
            shapely.Polygon(square, [corner_hole]),
            shapely.MultiPolygon([shapely.Polygon(square)]),
            shapely.MultiPolygon([shapely.Polygon(square, [hole])]),
            shapely.MultiPolygon([shapely.box(20, 20, 25, 25), shapely.box(30, 30, 31, 33)]),
            None,
            shapely.Polygon(),
            shapely.Polygon([(0, 0), (0, 0), (5, 0), (5, 5)]),  # first vertex repeated
            shapely.box(50, 50, 60, 55),
        ],
        dtype=object,
    )
    monkeypatch.setattr(corridor, "_FOOTPRINTS_PER_BLOCK", block)
    walls = corridor._Walls.of(polygons)
    owner, start, vec = _walls_by_loop(polygons)
    np.testing.assert_array_equal(walls.ptr, np.r_[0, np.cumsum(np.bincount(owner, minlength=10))])
    np.testing.assert_array_equal(walls.start, start)
    np.testing.assert_array_equal(walls.vec, vec)


def test_undirected_twins_pair_a_line_with_its_reverse():
    a = shapely.LineString([(0, 0), (1, 1), (2, 0)])
    codes, first = undirected_twins(
        np.array([a, shapely.reverse(a), shapely.LineString([(5, 5), (6, 6)])])
    )
    assert codes.tolist() == [0, 0, 1]
    assert first.tolist() == [0, 2]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_side_test_drops_only_footprints_no_section_crosses(monkeypatch, seed):
    """With and without the one-side envelope test, every cross-section is the same.

    UTM-sized coordinates, an axis-aligned grid of houses whose walls and corners lie exactly
    on sample lines (touching cases), and rotated houses.
    """
    rng = np.random.default_rng(seed)
    x0, y0 = 585_000.0, 2_330_000.0
    gx, gy = np.meshgrid(np.arange(0, 200, 10.0), np.arange(0, 200, 10.0))
    grid = shapely.box(gx.ravel() + x0, gy.ravel() + y0, gx.ravel() + x0 + 6, gy.ravel() + y0 + 6)
    origin = np.array([x0, y0])
    c = rng.uniform(0, 200, (80, 2)) + origin
    rotated = [
        shapely.Polygon(
            np.array([(-3, -2), (3, -2), (3, 2), (-3, 2)])
            @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
            + xy
        )
        for a, xy in zip(rng.uniform(0, np.pi, len(c)), c, strict=True)
    ]
    houses = np.r_[grid, rotated]
    ends = [((x0 + x, y0), (x0 + x, y0 + 200)) for x in (8.0, 23.0, 61.5)]
    ends += [((x0, y0 + y), (x0 + 200, y0 + y)) for y in (8.0, 40.0)]
    ends += [tuple(map(tuple, rng.uniform(0, 200, (2, 2)) + origin)) for _ in range(12)]
    lines = shapely.linestrings(np.array(ends, dtype=float))
    kw = {"step_m": 2.5, "search_m": 15.0}
    line_idx, widths = gap_sections(lines, houses, **kw)
    monkeypatch.setattr(corridor, "_SIDE_MARGIN", np.inf)  # the test keeps every footprint
    all_idx, all_widths = gap_sections(lines, houses, **kw)
    np.testing.assert_array_equal(line_idx, all_idx)
    np.testing.assert_array_equal(widths, all_widths)
    assert np.isfinite(widths).sum() > 20
