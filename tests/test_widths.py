"""Street widths as evidence: priors, lanes, corridors, tags and surveys -> intervals."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import widths
from pipeline.config import load_config
from pipeline.paths import PROJECT_ROOT
from pipeline.widths import estimate_widths
from tests.osm_fixtures import row_houses


@pytest.fixture(scope="module")
def access():
    return load_config("ha_noi", root=PROJECT_ROOT).access


COLS = ["highway", "name", "service", "width", "est_width", "lanes", "sidewalk", "osmid"]


def _edges(rows, geoms, crs="EPSG:32648"):
    """Edges from tag dicts (missing tags are None), one geometry each, way ids 1..n."""
    frame = pd.DataFrame([{c: r.get(c) for c in COLS} for r in rows])
    frame["osmid"] = frame["osmid"].fillna(pd.Series(range(1, len(rows) + 1))).astype(int)
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs=crs)


LONELY = shapely.LineString([(300, 0), (300, 80)])  # no building anywhere near


def _estimate(access, rows, geoms=None, buildings=(), **kw):
    geoms = geoms if geoms is not None else [LONELY] * len(rows)
    b = gpd.GeoDataFrame(geometry=list(buildings), crs="EPSG:32648")
    return estimate_widths(_edges(rows, geoms), b, access, **kw)


def test_priors_links_unknown_classes_and_service_kinds(access):
    out = _estimate(access, [
        {"highway": "primary_link"}, {"highway": "primary"}, {"highway": "bus_guideway"},
        {"highway": "service"}, {"highway": "service", "service": "driveway"},
        {"highway": "service", "service": "parking_aisle"}, {"highway": "footway"},
    ])  # fmt: skip
    # A ramp takes its parent's prior, never the smallest value of the table.
    assert (
        out.iloc[0][["width_m", "width_low_m"]].tolist()
        == out.iloc[1][["width_m", "width_low_m"]].tolist()
    )
    assert out["width_source"].tolist() == [
        "class_prior", "class_prior", "unknown_prior", "class_prior", "service_prior",
        "service_prior", "class_prior",
    ]  # fmt: skip
    unknown = access.unknown_highway_prior_m
    assert tuple(out.iloc[2][["width_low_m", "width_m", "width_high_m"]]) == tuple(unknown)
    assert unknown[1] > min(v[1] for v in access.width_priors_m.values())
    assert out.iloc[4]["width_m"] < out.iloc[3]["width_m"] < out.iloc[5]["width_m"]
    assert (out["width_low_m"] <= out["width_m"]).all()
    assert (out["width_m"] <= out["width_high_m"]).all()
    assert "class=primary_link" in out.iloc[0]["width_evidence"]
    assert "service=driveway" in out.iloc[4]["width_evidence"]


def test_alley_names_are_a_prior_that_never_overrides_lanes_or_tags(access):
    out = _estimate(access, [
        {"highway": "service", "name": "Ngõ 5"},
        {"highway": "unclassified", "name": "Hẻm 12"},
        {"highway": "residential", "name": "Hẻm 3"},
        {"highway": "residential"},
        {"highway": "residential", "name": "Ngõ 7", "lanes": "2"},
        {"highway": "service", "name": "Ngõ 9", "width": "4.5"},
        {"highway": "footway", "name": "Ngõ 11"},
    ])  # fmt: skip
    name = access.alley_name_prior_m
    assert tuple(out.iloc[0][["width_low_m", "width_m", "width_high_m"]]) == tuple(name)
    assert out.iloc[1]["width_source"] == "name_prior"
    # On a residential way the name pulls the estimate halfway and widens the interval.
    res = access.width_priors_m["residential"]
    assert out.iloc[2]["width_m"] == pytest.approx((res[1] + name[1]) / 2)
    assert out.iloc[2]["width_low_m"] == name[0]
    assert out.iloc[2]["width_high_m"] == res[2]
    assert out.iloc[3]["width_m"] == res[1]
    assert out.iloc[4]["width_source"] == "lanes"
    assert out.iloc[5]["width_source"] == "tag"
    assert out.iloc[5]["width_m"] == pytest.approx(4.5)
    assert out.iloc[6]["width_m"] == access.width_priors_m["footway"][1]  # never widened


def test_one_lane_car_road_is_at_least_four_metres(access):
    out = _estimate(access, [{"highway": "primary", "lanes": "1"}, {"highway": "primary_link",
                                                                    "lanes": "1"}])  # fmt: skip
    edge = 2 * access.carriageway_edge_m.value
    assert (out["width_low_m"] == access.lane_width_min_m.value + edge).all()
    assert (out["width_low_m"] >= 4.0).all()
    assert (out["width_source"] == "lanes").all()


def test_tags_range_keeps_the_low_end_and_est_width_has_a_tolerance(access):
    out = _estimate(access, [{"highway": "service", "width": "3-5"},
                             {"highway": "service", "est_width": "4"}])  # fmt: skip
    assert out.iloc[0][["width_low_m", "width_m", "width_high_m"]].tolist() == [3.0, 3.0, 5.0]
    tol = access.est_width_tolerance_m.value
    assert out.iloc[1][["width_low_m", "width_m", "width_high_m"]].tolist() == [
        4 - tol,
        4.0,
        4 + tol,
    ]


def test_maxwidth_is_not_a_street_width(access):
    edges = _edges([{"highway": "residential"}], [LONELY])
    edges["maxwidth"] = "2.2"
    out = estimate_widths(edges, gpd.GeoDataFrame(geometry=[], crs=edges.crs), access)
    assert out["width_m"].iloc[0] == access.width_priors_m["residential"][1]
    assert "maxwidth" not in out["width_evidence"].iloc[0]


def test_a_narrow_corridor_caps_even_a_lanes_width(access):
    alley = shapely.LineString([(0, 0), (0, 80)])
    out = _estimate(
        access,
        [{"highway": "primary", "lanes": "2"}, {"highway": "service", "name": "Ngõ 5"}],
        [alley, alley],
        row_houses(2.0, 0, 80),
    )
    np.testing.assert_allclose(out["width_high_m"], 2.0)
    np.testing.assert_allclose(out["width_m"], 2.0)
    assert (out["width_source"] == "corridor").all()
    assert (out["corridor_sections"] == 16).all()
    assert "corridor=2.0 m (16 sections, 100%)" in out["width_evidence"].iloc[1]


def test_a_consistent_corridor_raises_an_alley_but_one_section_never_does(access):
    street = shapely.LineString([(100, 0), (100, 80)])
    six = row_houses(6.0, 0, 80, x_mid=100)
    out = _estimate(access, [{"highway": "service"}, {"highway": "tertiary", "sidewalk": "both"}],
                    [street, street], six)  # fmt: skip
    enc = access.corridor_encroachment_m.value
    assert out.iloc[0][["width_low_m", "width_m", "width_high_m"]].tolist() == pytest.approx(
        [6.0 - enc, 6.0, 6.0]
    )
    assert out.iloc[0]["width_source"] == "corridor"
    # On a street with sidewalks the corridor is only an upper bound.
    tertiary = access.width_priors_m["tertiary"]
    assert out.iloc[1]["width_m"] == tertiary[1]
    assert out.iloc[1]["width_high_m"] == pytest.approx(6.0)
    assert out.iloc[1]["width_source"] == "class_prior"
    # One pair of wide-set houses on a long alley: 1 section of 16, not evidence.
    lone = [shapely.box(103, 40, 110, 44), shapely.box(90, 40, 97, 44)]
    one = _estimate(access, [{"highway": "service", "name": "Ngõ 1"}], [street], lone)
    assert one["width_source"].iloc[0] == "name_prior"
    assert np.isnan(one["corridor_m"].iloc[0])
    assert one["gap_width_m"].iloc[0] == pytest.approx(6.0)  # measured, but not robust


def test_short_segments_pool_their_way_for_the_corridor(access):
    # One way split into 8 m pieces (2 sections each, fewer than corridor_min_sections).
    pieces = [shapely.LineString([(0, y), (0, y + 8)]) for y in range(0, 80, 8)]
    rows = [{"highway": "service", "name": "Ngõ 5", "osmid": 7}] * len(pieces)
    out = _estimate(access, rows, pieces, row_houses(2.5, 0, 80))
    np.testing.assert_allclose(out["corridor_m"], 2.5)
    np.testing.assert_allclose(out["width_high_m"], 2.5)


def test_surveyed_widths_override_everything(access):
    alley = shapely.LineString([(0, 0), (0, 80)])
    edges = _edges([{"highway": "primary", "lanes": "3"}, {"highway": "service"}], [alley, LONELY])
    measured = pd.DataFrame(
        {"width_m": [2.8, np.nan], "note": ["measured=2.80 m (2026-05-01)", ""]},
        index=edges.index,
    )
    b = gpd.GeoDataFrame(geometry=row_houses(2.0, 0, 80), crs=edges.crs)
    out = estimate_widths(edges, b, access, measured=measured)
    assert out.iloc[0][["width_low_m", "width_m", "width_high_m"]].tolist() == [2.8] * 3
    assert out.iloc[0]["width_source"] == "measured"
    assert out.iloc[0]["width_confidence"] == access.width_confidence["measured"]
    assert out.iloc[0]["width_evidence"].endswith("measured=2.80 m (2026-05-01)")
    assert out.iloc[1]["width_source"] == "class_prior"


def test_a_wide_corridor_shows_a_truck_fits_not_the_carriageway(access):
    street = shapely.LineString([(100, 0), (100, 80)])
    out = _estimate(
        access, [{"highway": "residential"}], [street], row_houses(16.0, 0, 80, x_mid=100)
    )
    top = access.corridor_raise_max_m.value
    assert out.iloc[0][["width_low_m", "width_m", "width_high_m"]].tolist() == pytest.approx(
        [top, top, 16.0]
    )
    assert out.iloc[0]["width_source"] == "corridor"


def test_evidence_joins_each_rows_notes_in_order_skipping_empty_and_missing():
    n = 4
    ev = widths._Evidence(
        est=np.zeros(n), low=np.zeros(n), high=np.zeros(n),
        source=np.full(n, "", dtype=object), notes=[],
    )  # fmt: skip
    ev.note(np.ones(n, dtype=bool), np.array(["a", "b", "c", "d"], dtype=object))
    ev.note(np.array([True, False, True, False]), "x")
    ev.note(np.ones(n, dtype=bool), np.array(["", None, np.nan, "z"], dtype=object))
    assert ev.evidence().tolist() == ["a; x", "b", "c; x", "d; z"]
    empty = widths._Evidence(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2, dtype=object), [])
    assert empty.evidence().tolist() == ["", ""]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["", None, "a", "b; c", "Ngõ 5", "x"]), min_size=5, max_size=5),
        min_size=1,
        max_size=6,
    )
)
def test_evidence_is_the_rows_non_empty_notes_joined_in_python(columns):
    """The column-wise join gives, row by row, ``"; ".join`` of the non-empty notes."""
    n = 5
    ev = widths._Evidence(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, dtype=object), [])
    for col in columns:
        ev.note(np.ones(n, dtype=bool), np.array(col, dtype=object))
    expected = ["; ".join(t for t in row if t) for row in zip(*columns, strict=True)]
    assert ev.evidence().tolist() == expected
    with pytest.MonkeyPatch.context() as mp:  # rows joined a block of two at a time
        mp.setattr(widths, "_EVIDENCE_ROWS_PER_BLOCK", 2)
        assert ev.evidence().tolist() == expected
