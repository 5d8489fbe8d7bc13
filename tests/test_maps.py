"""Map rendering: drawn layers, province aggregation, rounding, self-contained Leaflet."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from pipeline.config import load_config
from pipeline.i18n import term
from pipeline.map_encode import encode_lines, tooltips
from pipeline.maps import (
    COLOURS,
    MapData,
    build_layers,
    leaflet_assets,
    render_map,
)

CRS = "EPSG:32648"
X0, Y0 = 590_000.0, 2_340_000.0


@pytest.fixture(scope="module")
def config():
    return load_config("ha_noi")


def _wards():
    return gpd.GeoDataFrame(
        {"ward_id": ["W1"], "name": ["Phường <Một>"], "map_file": ["wards/W1.html"]},
        geometry=[shapely.box(X0, Y0, X0 + 2000, Y0 + 2000)], crs=CRS,
    )  # fmt: skip


def _edges():
    fwd = [shapely.LineString([(X0, Y0), (X0 + 100.123456, Y0 + 0.5)]),
           shapely.LineString([(X0, Y0), (X0, Y0 + 80)]),
           shapely.LineString([(X0, Y0 + 80), (X0 + 50, Y0 + 80)])]  # fmt: skip
    geoms = fwd + [shapely.reverse(g) for g in fwd]
    return gpd.GeoDataFrame(
        {"width_class": ["truck", "hose_only", "truck"] * 2, "width_m": [7.0, 2.0, 4.0] * 2,
         "width_source": ["tag", "building_gap", "lanes"] * 2, "highway": ["primary"] * 6,
         "name": ["Phố A", "Ngõ 1", "Phố B"] * 2, "reversed": [False] * 3 + [True] * 3},
        geometry=geoms, crs=CRS,
    )  # fmt: skip


def _features(layer):
    return json.loads(layer.geojson)["features"]


def _by_key(layers):
    return {d.key: d for d in layers}


def test_ward_detail_draws_each_street_once_with_its_width_and_source(config):
    layers = _by_key(build_layers(MapData(wards=_wards(), edges=_edges()), config, "en",
                                  detail="ward"))  # fmt: skip
    feats = _features(layers["layer_streets"])
    assert len(feats) == 3  # reversed rows are not drawn
    colours = [f["properties"]["c"] for f in feats]
    assert colours == [COLOURS["truck"], COLOURS["hose_only"], COLOURS["truck"]]
    tip = feats[1]["properties"]["t"]
    assert "Ngõ 1" in tip
    assert "Width (m): 2.0" in tip
    assert term("building_gap", "en") in tip  # the width source in words, not its code
    # Coordinates are rounded to 6 decimals.
    coords = np.array(feats[0]["geometry"]["coordinates"])
    assert np.allclose(coords, np.round(coords, 6), atol=0, rtol=0)
    # Ward names are escaped in HTML.
    assert "Phường &lt;Một&gt;" in _features(layers["layer_wards"])[0]["properties"]["t"]


def test_province_detail_encodes_truck_streets_and_keeps_tooltips_on_the_rest(config):
    layers = _by_key(build_layers(MapData(wards=_wards(), edges=_edges()), config, "en",
                                  detail="province"))  # fmt: skip
    streets = layers["layer_streets"]
    feats = _features(streets)
    assert len(feats) == 1  # the one non-truck street keeps its tooltip
    assert feats[0]["properties"]["c"] == COLOURS["hose_only"]
    assert "t" in feats[0]["properties"]
    (group,) = json.loads(streets.encoded)
    assert group["c"] == COLOURS["truck"]
    assert group["n"] == [2, 2]  # two truck streets, 2 vertices each (simplified)
    assert streets.decimals == config.report.province_coordinate_decimals
    lines = decode_lines(group["s"], group["n"], streets.decimals)
    lon, lat = Transformer.from_crs(CRS, 4326, always_xy=True).transform(X0 + 50, Y0 + 80)
    assert lines[1][1] == pytest.approx([lat, lon], abs=1e-5)


def test_encode_lines_matches_googles_example():
    g = np.array([shapely.LineString([(-120.2, 38.5), (-120.95, 40.7), (-126.453, 43.252)]),
                  shapely.LineString([(0, 0), (0, 0)]), shapely.LineString()])  # fmt: skip
    text, counts = encode_lines(g, 5)
    assert text.startswith("_p~iF~ps|U_ulLnnqC_mqNvxq`@")
    assert counts == [3, 2]  # the empty line is dropped
    back = decode_lines(text, counts, 5)
    assert back[0][2] == pytest.approx([43.252, -126.453])
    assert back[1] == [[0.0, 0.0], [0.0, 0.0]]


def decode_lines(text, counts, decimals):
    """Python twin of the page's decoder (the JS in maps._GeoJsonLayer)."""
    values, i = [], 0
    while i < len(text):
        r = sh = 0
        while True:
            b = ord(text[i]) - 63
            i += 1
            r |= (b & 31) << sh
            sh += 5
            if b < 32:
                break
        values.append(~(r >> 1) if r & 1 else r >> 1)
    pts = np.cumsum(np.array(values).reshape(-1, 2), axis=0) / 10**decimals
    out, k = [], 0
    for n in counts:
        out.append(pts[k : k + n].tolist())
        k += n
    return out


def test_many_points_become_grid_counts_on_the_province_map(config):
    rng = np.random.default_rng(0)
    n = config.report.province_max_points + 1
    xy = rng.uniform(0, 1000, size=(n, 2)) + np.array([X0, Y0])
    boxes = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + 5, xy[:, 1] + 5)
    deep = gpd.GeoDataFrame({"deep": [True] * n, "hose_distance_m": 80.0}, geometry=boxes, crs=CRS)
    data = MapData(wards=_wards(), deep_buildings=deep)
    prov = _by_key(build_layers(data, config, "vi", detail="province"))["layer_deep_buildings"]
    cell = config.report.province_grid_m
    assert prov.n_features <= (1000 // cell + 2) ** 2
    (group,) = json.loads(prov.encoded)
    assert group["box"] == 1
    assert sum(group["k"]) == n  # every building counted once
    assert group["n"] == [2] * prov.n_features  # SW and NE corner of each cell
    assert "{n}" in group["label"]
    sw, ne = decode_lines(group["s"], group["n"], prov.decimals)[0]
    assert ne[0] > sw[0]
    assert ne[1] > sw[1]
    assert (ne[0] - sw[0]) * 111_000 == pytest.approx(cell, rel=0.02)  # a cell is ~250 m tall
    small = MapData(wards=_wards(), deep_buildings=deep.iloc[:10])
    ward = _by_key(build_layers(small, config, "vi", detail="ward"))["layer_deep_buildings"]
    assert ward.n_features == 10
    assert _features(ward)[0]["geometry"]["type"] == "Polygon"


def test_water_reach_circles_only_for_usable_sources(config):
    src = gpd.GeoDataFrame(
        {"kind": ["fire_hydrant", "pond"], "usable": [True, False], "reach_m": [200.0, 400.0]},
        geometry=[shapely.Point(X0, Y0), shapely.Point(X0 + 50, Y0)], crs=CRS,
    )  # fmt: skip
    layers = _by_key(build_layers(MapData(wards=_wards(), water_sources=src), config, "en",
                                  detail="ward"))  # fmt: skip
    assert layers["layer_water"].n_features == 2
    reach = _features(layers["layer_water_reach"])
    assert [f["properties"]["r"] for f in reach] == [200.0]


def test_render_is_self_contained_with_local_leaflet(config, tmp_path):
    dist = tmp_path / "leaflet" / "dist"
    (dist / "images").mkdir(parents=True)
    (dist / "leaflet.js").write_text("window.L_FAKE = 1; /* </script> */", encoding="utf-8")
    (dist / "leaflet.css").write_text(
        ".leaflet-control-layers-toggle {background-image: url(images/layers.png);}", "utf-8"
    )
    (dist / "images" / "layers.png").write_bytes(b"\x89PNG fake")
    cfg = config.model_copy(
        update={
            "report": config.report.model_copy(update={"leaflet_dir": str(tmp_path / "leaflet")})
        }
    )
    assets = leaflet_assets(cfg, tmp_path)
    assert assets is not None
    assert "url(data:image/png;base64," in assets[1]
    layers = build_layers(MapData(wards=_wards(), edges=_edges()), cfg, "vi", detail="ward")
    page = render_map(layers, (105.8, 21.0, 105.9, 21.1), cfg, "vi", title="Bản đồ", assets=assets)
    assert "window.L_FAKE = 1" in page
    assert "<\\/script>" in page  # the inlined JS cannot close its own tag
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+stylesheet", page)
    assert json.dumps("Bản đồ OSM") in page  # base maps in the layer control (JS-escaped)
    assert json.dumps("Ảnh vệ tinh") in page
    cdn = render_map(layers, (105.8, 21.0, 105.9, 21.1), cfg, "vi", title="x", assets=None)
    assert re.search(r'<script src="https://cdn\.jsdelivr\.net/npm/leaflet@1\.9\.4', cdn)
    empty = tmp_path / "none"
    cfg2 = cfg.model_copy(
        update={"report": cfg.report.model_copy(update={"leaflet_dir": str(empty)})}
    )
    assert leaflet_assets(cfg2, tmp_path) is None or (tmp_path / "cache").exists() is False


def test_tooltips_escape_names_and_show_missing_values():
    df = pd.DataFrame(
        {"name": ["Ngõ <5> & 7", None], "width_m": [2.345, np.nan], "n_buildings": [3, 4],
         "width_source": ["tag", None]}
    )  # fmt: skip
    tips = tooltips(df, ["width_m", "n_buildings", "width_source", "absent"], "en", "Alley")
    assert tips[0] == (
        "<b>Ngõ &lt;5&gt; &amp; 7</b><br>Width (m): 2.3<br>Buildings behind: 3<br>"
        "Width source: OSM width tag"
    )
    assert (
        tips[1]
        == "<b>Alley</b><br>Width (m): \u2013<br>Buildings behind: 4<br>Width source: \u2013"
    )
