"""Where a row is in words: nearest named street (not the alley's own), nearest house number."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from pipeline.addresses import nearest_house_number, nearest_street

CRS = "EPSG:32648"


def _edges():
    return gpd.GeoDataFrame(
        {"name": ["Phố Hàng Bột", "Ngõ 5", None, ["Phố Tôn Đức Thắng", "QL1"]]},
        geometry=[
            shapely.LineString([(0, 0), (100, 0)]),  # y = 0
            shapely.LineString([(50, 0), (50, 60)]),  # the alley, x = 50
            shapely.LineString([(0, 5), (100, 5)]),  # unnamed, nearest to everything near y = 5
            shapely.LineString([(0, 200), (100, 200)]),  # y = 200, a list of names (OSMnx)
        ],
        crs=CRS,
    )


def test_nearest_named_street_skips_unnamed_ways_and_the_alleys_own_name():
    pts = np.array([shapely.Point(20, 6), shapely.Point(50, 30), shapely.Point(10, 190),
                    shapely.Point(500, 500)])  # fmt: skip
    got = nearest_street(pts, _edges(), max_m=50)
    assert got.tolist() == ["Phố Hàng Bột", "Ngõ 5", "Phố Tôn Đức Thắng", ""]
    own = np.array(["Ngõ 5", "Ngõ 5", None, None], dtype=object)
    got = nearest_street(pts, _edges(), max_m=50, exclude=own)
    assert got.tolist() == ["Phố Hàng Bột", "Phố Hàng Bột", "Phố Tôn Đức Thắng", ""]
    assert nearest_street(pts, None, max_m=50).tolist() == ["", "", "", ""]


def test_nearest_house_number_with_its_street_when_tagged():
    b = gpd.GeoDataFrame(
        {"addr:housenumber": ["12", None, "14B"], "addr:street": ["Phố Hàng Bột", None, None]},
        geometry=[
            shapely.box(0, 10, 10, 20),
            shapely.box(20, 10, 30, 20),
            shapely.box(60, 10, 70, 20),
        ],
        crs=CRS,
    ).rename(columns={"addr:housenumber": "housenumber", "addr:street": "addr_street"})
    pts = np.array([shapely.Point(24, 25), shapely.Point(66, 25), shapely.Point(500, 0)])
    assert nearest_house_number(pts, b, max_m=50).tolist() == ["12 Phố Hàng Bột", "14B", ""]
    assert nearest_house_number(pts, b.drop(columns="housenumber"), max_m=50).tolist() == [
        "",
        "",
        "",
    ]


def test_points_searched_in_chunks_find_what_one_search_finds(monkeypatch):
    """Streets and house numbers found for chunks of points in threads: the same answers."""
    rng = np.random.default_rng(3)
    pts = shapely.points(rng.uniform(-20, 120, size=(40, 2)) * [1, 2])
    own = np.array(["Ngõ 5", None, "Phố Hàng Bột", None] * 10, dtype=object)
    b = gpd.GeoDataFrame(
        {"housenumber": [str(i) for i in range(30)], "addr_street": ["Phố X", None] * 15},
        geometry=shapely.points(rng.uniform(0, 200, size=(30, 2))), crs=CRS,
    )  # fmt: skip
    whole = (nearest_street(pts, _edges(), max_m=50, exclude=own),
             nearest_house_number(pts, b, max_m=40))  # fmt: skip
    monkeypatch.setattr("pipeline.addresses.POINTS_PER_THREAD", 3)
    monkeypatch.setenv("FIREGAP_THREADS", "4")
    split = (nearest_street(pts, _edges(), max_m=50, exclude=own),
             nearest_house_number(pts, b, max_m=40))  # fmt: skip
    assert [a.tolist() for a in split] == [a.tolist() for a in whole]
    assert (whole[0] != "").any()
    assert (whole[1] != "").any()


def test_nearest_street_is_the_nearest_not_own_name_near_and_far():
    """Points settled by the short first search and points searched again: both exact."""
    rng = np.random.default_rng(7)
    starts = rng.uniform(0, 400, size=(60, 2))
    lines = [shapely.LineString([s, s + rng.uniform(-30, 30, size=2)]) for s in starts]
    edges = gpd.GeoDataFrame({"name": [f"Phố {i % 13}" for i in range(60)]}, geometry=lines,
                             crs=CRS)  # fmt: skip
    pts = shapely.points(rng.uniform(-20, 420, size=(300, 2)))
    own = np.array([f"Phố {i % 13}" if i % 3 else None for i in range(300)], dtype=object)
    got = nearest_street(pts, edges, max_m=40, exclude=own)
    dist = shapely.distance(pts[:, None], np.asarray(lines)[None, :])
    names = edges["name"].to_numpy()
    dist[names[None, :] == own[:, None]] = np.inf
    best = dist.argmin(axis=1)
    want = np.where(dist.min(axis=1) <= 40, names[best], "")
    assert got.tolist() == want.tolist()
    near = dist.min(axis=1)
    assert (near < 10).any()
    assert ((near > 10) & (near <= 40)).any()
