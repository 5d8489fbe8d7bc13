"""Width inference: tag parsing, lanes, building-gap cross-sections, precedence of sources."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import load_config
from pipeline.paths import PROJECT_ROOT
from pipeline.widths import (
    estimate_widths,
    gap_widths,
    gap_widths_loop_baseline,
    is_alley_name,
    parse_lanes,
    parse_length_m,
    undirected_twins,
)

GAP = {"step_m": 5.0, "search_m": 15.0, "quantile": 0.1}


@pytest.fixture(scope="module")
def access():
    return load_config("ha_noi", root=PROJECT_ROOT).access


@pytest.mark.parametrize(
    ("raw", "metres"),
    [
        ("3", 3.0), ("3m", 3.0), ("3 m", 3.0), ("3,5", 3.5), ("3.5 m", 3.5), ("2-3", 2.0),
        ("2 - 3m", 2.0), ("3;4", 3.0), ("350 cm", 3.5), ("12'", 12 * 0.3048),
        ("10 ft", 3.048), ("~2.8m", 2.8), ("khoảng 4m", 4.0), (".5", 0.5),
        ("narrow", np.nan), ("", np.nan), (None, np.nan), ("0", np.nan), ("-2", 2.0),
    ],
)  # fmt: skip
def test_parse_length(raw, metres):
    got = parse_length_m(pd.Series([raw], dtype=object)).iloc[0]
    if np.isnan(metres):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(metres)


def test_parse_lanes_and_alley_names():
    lanes = parse_lanes(pd.Series(["2", "2;3", "x", None, "0"], dtype=object))
    assert lanes.iloc[:2].tolist() == [2.0, 2.0]
    assert lanes.iloc[2:].isna().all()
    names = pd.Series(["Ngõ 119 Trung Kính", "ngách 5/12", "Hẻm 3", "Phố Huế", None])
    assert is_alley_name(names, ["Ngõ", "Ngách", "Hẻm"]).tolist() == [1, 1, 1, 0, 0]


def _row_houses(x_gap_m, y0, y1, *, depth=9.0, frontage=4.0, spacing=5.0, x_mid=0.0):
    """Boxes on both sides of the line x = x_mid, leaving ``x_gap_m`` between the fronts."""
    ys = np.arange(y0, y1 - frontage + 1e-9, spacing) + 0.5
    half = x_gap_m / 2
    east = shapely.box(x_mid + half, ys, x_mid + half + depth, ys + frontage)
    west = shapely.box(x_mid - half - depth, ys, x_mid - half, ys + frontage)
    return np.concatenate([east, west])


def test_gap_width_of_a_two_metre_alley():
    line = shapely.LineString([(0, 0), (0, 80)])
    houses = _row_houses(2.0, 0, 80)
    out = gap_widths([line], houses, **GAP)
    assert out["n_samples"].iloc[0] == 16
    assert out["n_both_sides"].iloc[0] == 16
    assert out["gap_width_m"].iloc[0] == pytest.approx(2.0, abs=1e-9)


def test_gap_width_needs_houses_on_both_sides_and_takes_the_bottleneck():
    line = shapely.LineString([(0, 0), (0, 100)])
    one_side = _row_houses(4.0, 0, 100)[:20]  # east side only
    assert np.isnan(gap_widths([line], one_side, **GAP)["gap_width_m"].iloc[0])
    # 6 m apart, with one pinch of 2.5 m over 10 m: a low quantile finds the pinch.
    houses = np.concatenate([_row_houses(6.0, 0, 100), [shapely.box(-3, 40, -1.25, 50)]])
    got = gap_widths([line], houses, step_m=5, search_m=15, quantile=0.0)["gap_width_m"]
    assert got.iloc[0] == pytest.approx(4.25)  # 3 m east + 1.25 m west
    # A house beyond the search distance is not seen.
    far = _row_houses(40.0, 0, 100)
    assert np.isnan(gap_widths([line], far, **GAP)["gap_width_m"].iloc[0])


def test_gap_width_ignores_a_footprint_the_street_runs_through():
    line = shapely.LineString([(0, 0), (0, 20)])
    houses = np.concatenate([_row_houses(3.0, 0, 20), [shapely.box(-1, 8, 1, 12)]])
    out = gap_widths([line], houses, step_m=5, search_m=15, quantile=0.0)
    assert out["gap_width_m"].iloc[0] == pytest.approx(3.0)


@pytest.mark.parametrize("angle", [30.0, 135.0])
def test_cross_sections_follow_the_line_direction(angle):
    # The same 3 m alley, rotated: the cross-sections turn with it.
    line = shapely.affinity.rotate(shapely.LineString([(0, 0), (0, 60)]), angle, origin=(0, 0))
    houses = [shapely.affinity.rotate(h, angle, origin=(0, 0)) for h in _row_houses(3.0, 0, 60)]
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


def test_undirected_twins_pair_a_line_with_its_reverse():
    a = shapely.LineString([(0, 0), (1, 1), (2, 0)])
    codes, first = undirected_twins(
        np.array([a, shapely.reverse(a), shapely.LineString([(5, 5), (6, 6)])])
    )
    assert codes.tolist() == [0, 0, 1]
    assert first.tolist() == [0, 2]


def _edges(rows, crs="EPSG:32648"):
    cols = ["highway", "name", "width", "est_width", "maxwidth", "lanes", "geometry"]
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), crs=crs)


def test_precedence_tag_then_gap_caps_then_defaults(access):
    alley = shapely.LineString([(0, 0), (0, 80)])
    street = shapely.LineString([(100, 0), (100, 80)])
    lonely = shapely.LineString([(300, 0), (300, 80)])
    houses = np.concatenate([_row_houses(2.0, 0, 80), _row_houses(6.0, 0, 80, x_mid=100)])
    b = gpd.GeoDataFrame(geometry=houses, crs="EPSG:32648")
    edges = _edges([
        ("service", "Ngõ 5", None, None, None, None, alley),  # gap 2.0 caps the name default
        ("service", None, None, None, None, None, street),  # gap 6.0 replaces the 3.0 default
        ("primary", None, None, None, None, "2", alley),  # lanes 2 x 3 m capped by the gap
        ("residential", None, "5 m", None, None, None, alley),  # the tag wins over the gap
        ("service", "Ngõ 7", None, None, None, None, lonely),  # no houses: the name default
        ("footway", "Ngõ 9", None, None, None, None, lonely),  # 1.5 m footway stays 1.5 m
        ("tertiary", None, None, None, None, None, lonely),  # the highway default
    ])  # fmt: skip
    out = estimate_widths(edges, b, access)
    assert out["width_source"].tolist() == [
        "building_gap", "building_gap", "building_gap", "tag", "name_default",
        "highway_default", "highway_default",
    ]  # fmt: skip
    np.testing.assert_allclose(out["width_m"], [2.0, 6.0, 2.0, 5.0, 2.5, 1.5, 6.0])
    assert out["gap_width_m"].iloc[3] == pytest.approx(2.0)  # measured, though the tag won
    assert np.isnan(out["gap_width_m"].iloc[4])
    assert out["width_confidence"].between(0, 1).all()
    assert out["width_confidence"].iloc[3] > out["width_confidence"].iloc[4]


def test_gap_only_caps_when_replacing_defaults_is_off(access):
    street = shapely.LineString([(100, 0), (100, 80)])
    b = gpd.GeoDataFrame(geometry=_row_houses(6.0, 0, 80, x_mid=100), crs="EPSG:32648")
    edges = _edges([("service", None, None, None, None, None, street)])
    out = estimate_widths(edges, b, access.model_copy(update={"gap_replaces_default": False}))
    assert out["width_source"].iloc[0] == "highway_default"
    assert out["width_m"].iloc[0] == pytest.approx(3.0)
