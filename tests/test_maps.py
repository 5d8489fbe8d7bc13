"""Map rendering: compact layers, province aggregation, rounding, self-contained Leaflet."""

from __future__ import annotations

import json
import re

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity
from pyproj import Transformer

from pipeline.config import load_config
from pipeline.i18n import describe_evidence, term
from pipeline.map_encode import encode_lines, encode_uints, pack_layer, spatial_order, tooltips
from pipeline.maps import (
    COLOURS,
    MapData,
    _tile_source,
    build_layers,
    leaflet_assets,
    ready_for_wards,
    render_map,
)

CRS = "EPSG:32648"
X0, Y0 = 590_000.0, 2_340_000.0


@pytest.fixture(scope="module")
def config():
    return load_config("ha_noi")


def _wards(approximate=False):
    return gpd.GeoDataFrame(
        {"ward_id": ["W1"], "name": ["Phường <Một>"], "map_file": ["wards/W1.html"],
         "approximate": [approximate]},
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


def _uints(s):
    """Python twin of the page's uints()."""
    if not isinstance(s, str):
        return list(s or [])
    out, i = [], 0
    while i < len(s):
        r = sh = 0
        while True:
            b = ord(s[i]) - 63
            i += 1
            r |= (b & 31) << sh
            sh += 5
            if b < 32:
                break
        out.append(r)
    return out


def decode_lines(text, counts, decimals):
    """Python twin of the page's decoder (static/firegap_map.js)."""
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


def _number(word):
    """Coded numbers come back as numbers (words stay words)."""
    try:
        return float(word) if "." in word else int(word)
    except ValueError:
        return word


def features(data):
    """Decode a packed layer (or each of a "multi" one) into plain feature dicts."""
    if isinstance(data, str):
        data = json.loads(data)
    if "multi" in data:
        return [f for d in data["multi"] for f in features(d)]
    kind = data["k"]
    counts = [1] * data.get("count", 0) if kind == "point" else _uints(data["n"])
    parts = decode_lines(data["s"], counts, data["d"]) if counts else []
    per = _uints(data["f"]) if "f" in data else [1] * len(parts)
    st = _uints(data["st"]) if "st" in data else [0] * len(per)
    out, k = [], 0
    for i, n_parts in enumerate(per):
        f = {"kind": kind, "parts": parts[k : k + n_parts], "style": data["styles"][st[i]],
             "z0": data.get("z0"), "z1": data.get("z1"), "values": {}}  # fmt: skip
        k += n_parts
        for col, vals in data.get("a", {}).items():
            words = data.get("v", {}).get(col)
            if words is not None:  # codes: 0 missing, k -> words[k - 1]
                code = _uints(vals)[i]
                f["values"][col] = _number(words[code - 1]) if code else None
            else:
                f["values"][col] = vals[i]
        f["tip"] = data.get("tip")
        f["pop"] = data["pop"][i] if "pop" in data else None
        f["id"] = data["id"][i] if "id" in data else None
        out.append(f)
    return out


def _by_key(layers):
    return {d.key: d for d in layers}


def test_ward_detail_draws_each_street_once_with_its_width_and_source(config):
    layers = _by_key(build_layers(MapData(wards=_wards(), edges=_edges()), config, "en",
                                  detail="ward"))  # fmt: skip
    feats = features(layers["layer_streets"].data)
    assert len(feats) == 3  # reversed rows are not drawn
    by_name = {f["values"]["name"]: f for f in feats}
    assert by_name["Phố A"]["style"]["c"] == COLOURS["truck"]
    assert by_name["Ngõ 1"]["style"]["c"] == COLOURS["hose_only"]
    narrow = by_name["Ngõ 1"]["values"]
    assert narrow["width_m"] == 2.0
    assert narrow["width_source"] == term("building_gap", "en")  # in words, not its code
    rows = [r[0] for r in by_name["Ngõ 1"]["tip"]["rows"]]
    assert rows == ["Width (m)", "Width source", "Road class"]  # the columns present
    # Coordinates are rounded to 6 decimals; Phố A ends 100.12 m east of its start.
    lon, lat = Transformer.from_crs(CRS, 4326, always_xy=True).transform(X0 + 100.123456, Y0 + 0.5)
    assert by_name["Phố A"]["parts"][0][1] == pytest.approx(
        [round(lat, 6), round(lon, 6)], abs=1e-9
    )
    # Ward names are escaped in HTML.
    (ward,) = features(layers["layer_wards"].data)
    assert ward["values"]["label"] == "Phường &lt;Một&gt;"


def _status_edges():
    """Three streets with the network stage's truck-access columns (issue 11)."""
    e = _edges().iloc[:3].copy()
    e["truck_status"] = ["passable", "not_passable", "uncertain"]
    e["truck_status_reason"] = ["", "width", "width"]
    e["width_low_m"] = [6.0, 1.5, 3.0]
    e["width_high_m"] = [8.0, 2.5, 5.0]
    e["width_evidence"] = ["lanes=2", "corridor=2.1 m", "class=residential"]
    e["width_confidence"] = [0.8, 0.6, 0.4]
    e["truck_min_width_m"] = [3.5, 4.0, 4.0]
    return e


def test_streets_show_the_three_truck_statuses_with_their_evidence(config):
    data = MapData(wards=_wards(), edges=_status_edges(), truck_min_width_m=9.9)
    layer = _by_key(build_layers(data, config, "en", detail="ward"))["layer_streets"]
    by_name = {f["values"]["name"]: f for f in features(layer.data)}
    assert by_name["Phố A"]["style"]["c"] == COLOURS["truck"]
    assert by_name["Ngõ 1"]["style"]["c"] == COLOURS["hose_only"]  # not passable: by width
    uncertain = by_name["Phố B"]
    assert uncertain["style"]["c"] == COLOURS["uncertain"]
    assert uncertain["style"]["dash"]  # a distinct, dashed style
    assert uncertain["values"]["truck_status"] == "Uncertain: field check needed"
    assert uncertain["values"]["width_low_m"] == 3.0
    assert uncertain["values"]["width_evidence"] == describe_evidence("class=residential", "en")
    labels = [label for _, label, _ in layer.legend]
    # the thresholds the network stage recorded per street, not the config's or a literal
    assert labels[0] == "Fire truck (≥ 3.5 / 4 m)"
    assert labels[1] == "Field check: may be narrower than 3.5 / 4 m"
    assert [swatch for _, _, swatch in layer.legend][:2] == ["line", "dash"]
    # a width-class street that something else stops is drawn as blocked
    blocked = _status_edges().assign(truck_status="not_passable")
    layer = _by_key(build_layers(MapData(wards=_wards(), edges=blocked), config, "en",
                                 detail="ward"))["layer_streets"]  # fmt: skip
    colours = {f["values"]["name"]: f["style"]["c"] for f in features(layer.data)}
    assert colours == {"Phố A": COLOURS["blocked"], "Ngõ 1": COLOURS["hose_only"],
                       "Phố B": COLOURS["blocked"]}  # fmt: skip


def test_alleys_to_widen_and_to_check_stand_out_and_only_they_reach_the_province_map(config):
    line = shapely.LineString([(X0, Y0), (X0, Y0 + 80)])
    alleys = gpd.GeoDataFrame(
        {"alley_id": [1, 2, 3], "name": ["Ngõ 1", "Ngõ 2", "Ngõ 3"],
         "to_widen": [True, False, False], "field_check": [False, True, False],
         "min_width_m": [2.0, 3.2, 5.0], "n_buildings_behind": [12, 3, 0]},
        geometry=[shapely.affinity.translate(line, dx) for dx in (0, 300, 600)], crs=CRS,
    )  # fmt: skip
    ids = pd.Series(["AL-007"], index=[1])  # the shortlist row of alley 1
    ward = _by_key(build_layers(MapData(wards=_wards(), alleys=alleys, alley_ids=ids), config,
                                "en", detail="ward"))["layer_alleys"]  # fmt: skip
    assert {f["values"]["name"]: f["id"] for f in features(ward.data)} == {
        "Ngõ 1": "AL-007", "Ngõ 2": None, "Ngõ 3": None}  # fmt: skip
    kinds = {f["values"]["name"]: f["style"]["c"] for f in features(ward.data)}
    assert kinds == {"Ngõ 1": COLOURS["alley"], "Ngõ 2": COLOURS["uncertain"],
                     "Ngõ 3": COLOURS["alley"]}  # fmt: skip
    opacity = {f["values"]["name"]: f["style"]["o"] for f in features(ward.data)}
    assert opacity["Ngõ 3"] < opacity["Ngõ 1"]
    prov = _by_key(build_layers(MapData(wards=_wards(), alleys=alleys), config, "en",
                                detail="province"))["layer_alleys"]  # fmt: skip
    lines = [f for f in features(prov.data) if f["kind"] == "line"]
    assert len(lines) == 2  # Ngõ 3 (nobody behind, passable) is on the ward map only
    cells = [f for f in features(prov.data) if f["kind"] == "poly"]
    assert sum(c["values"]["n"] for c in cells) == 2


def test_deep_and_uncertain_buildings(config):
    boxes = [shapely.box(X0 + i * 20, Y0, X0 + i * 20 + 8, Y0 + 8) for i in range(3)]
    deep = gpd.GeoDataFrame(
        {"deep_status": ["deep", "uncertain", "deep"], "hose_distance_m": [80.0, 58.0, 95.0]},
        geometry=boxes,
        crs=CRS,
    )
    ward = _by_key(build_layers(MapData(wards=_wards(), deep_buildings=deep), config, "en",
                                detail="ward"))["layer_deep_buildings"]  # fmt: skip
    colours = sorted(f["style"]["c"] for f in features(ward.data))
    assert colours == sorted([COLOURS["deep_building"]] * 2 + [COLOURS["uncertain"]])
    prov = _by_key(build_layers(MapData(wards=_wards(), deep_buildings=deep), config, "en",
                                detail="province"))["layer_deep_buildings"]  # fmt: skip
    assert prov.n_features == 2  # the province counts the buildings beyond hose reach


def test_province_streets_are_cells_then_chains_by_zoom(config):
    layers = _by_key(build_layers(MapData(wards=_wards(), edges=_edges()), config, "en",
                                  detail="province"))  # fmt: skip
    feats = features(layers["layer_streets"].data)
    zoom = config.report.province_detail_zoom
    cells = [f for f in feats if f["kind"] == "poly"]
    truck = [f for f in feats if f["kind"] == "line" and f["style"]["c"] == COLOURS["truck"]]
    narrow = [f for f in feats if f["kind"] == "line" and f["style"]["c"] != COLOURS["truck"]]
    # one 1 km cell holds all three streets: 230 m of street, 80 m of it too narrow (35 %)
    (cell,) = cells
    assert cell["z1"] == zoom - 1
    assert cell["values"]["street_km"] == pytest.approx(0.2, abs=0.05)
    assert cell["values"]["narrow_km"] == pytest.approx(0.1, abs=0.05)
    assert cell["values"]["narrow_share"] == 35
    # truck streets at every zoom, joined into one chain (A and B meet at the origin? no:
    # B starts 80 m north, so two chains); the narrow street only from the detail zoom
    assert all(f["z0"] is None for f in truck)
    assert sum(len(p) for f in truck for p in f["parts"]) == 4
    assert [f["z0"] for f in narrow] == [zoom]
    assert all(f["tip"] is None for f in truck + narrow)  # tooltips are on the ward maps


def test_encoders_match_googles_example_and_keep_small_counts_short():
    g = np.array([shapely.LineString([(-120.2, 38.5), (-120.95, 40.7), (-126.453, 43.252)]),
                  shapely.LineString([(0, 0), (0, 0)]), shapely.LineString()])  # fmt: skip
    text, counts = encode_lines(g, 5)
    assert text.startswith("_p~iF~ps|U_ulLnnqC_mqNvxq`@")
    assert counts == [3, 2]  # the empty line is dropped
    back = decode_lines(text, counts, 5)
    assert back[0][2] == pytest.approx([43.252, -126.453])
    assert back[1] == [[0.0, 0.0], [0.0, 0.0]]
    values = [0, 1, 2, 31, 32, 1000, 123456]
    encoded = encode_uints(values)
    assert len(encoded) == 4 + 2 + 2 + 4  # below 32: one character each
    assert _uints(encoded) == values
    with pytest.raises(ValueError, match="negative"):
        encode_uints([-1])


def test_features_are_stored_in_space_filling_order_with_their_own_attributes():
    rng = np.random.default_rng(1)
    lon = rng.uniform(105.0, 106.0, 300).round(5)
    lat = rng.uniform(21.0, 22.0, 300).round(5)
    pts = shapely.points(lon, lat)
    ids = [f"P-{i:03d}" for i in range(300)]
    text, n = pack_layer(pts, "point", decimals=5, styles=[{"c": "#000"}], ids=ids,
                         table=pd.DataFrame({"x": lon}), tip=None)  # fmt: skip
    assert n == 300
    decoded = features(text)
    by_id = {f["id"]: f["parts"][0][0] for f in decoded}
    for i in range(300):
        assert by_id[ids[i]] == pytest.approx([lat[i], lon[i]], abs=1e-9)
    order = spatial_order(pts)
    steps = np.hypot(np.diff(lon[order]), np.diff(lat[order])).mean()
    assert steps < np.hypot(np.diff(lon), np.diff(lat)).mean() / 3  # neighbours stay near


def test_many_points_become_grid_counts_on_the_province_map(config):
    rng = np.random.default_rng(0)
    n = config.report.province_max_points + 1
    xy = rng.uniform(0, 1000, size=(n, 2)) + np.array([X0, Y0])
    boxes = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + 5, xy[:, 1] + 5)
    deep = gpd.GeoDataFrame({"deep": [True] * n, "hose_distance_m": 80.0}, geometry=boxes, crs=CRS)
    data = MapData(wards=_wards(), deep_buildings=deep)
    prov = _by_key(build_layers(data, config, "vi", detail="province"))["layer_deep_buildings"]
    cell = config.report.province_grid_m
    cells = features(prov.data)
    assert len(cells) <= (1000 // cell + 2) ** 2
    assert sum(c["values"]["n"] for c in cells) == n  # every building counted once
    assert "{n}" in cells[0]["tip"]["h"]
    ring = np.array(cells[0]["parts"][0])
    assert (ring[:, 0].max() - ring[:, 0].min()) * 111_000 == pytest.approx(cell, rel=0.02)
    small = MapData(wards=_wards(), deep_buildings=deep.iloc[:10])
    ward = _by_key(build_layers(small, config, "vi", detail="ward"))["layer_deep_buildings"]
    assert ward.n_features == 10
    assert features(ward.data)[0]["kind"] == "poly"


def test_water_reach_is_drawn_as_the_stretches_reached_along_the_streets(config):
    # a hydrant reaches 60 m of the narrow street, a pond the same street from 40 m to 80 m
    # and all of Phố B
    reach = gpd.GeoDataFrame(
        {"u": [1, 1, 3], "v": [2, 2, 4], "key": 0, "kind": ["hydrant", "natural", "natural"],
         "reach_m": [200.0, 400.0, 400.0], "from_m": [0.0, 40.0, 0.0], "to_m": [60.0, 80, 50],
         "length_m": [60.0, 40.0, 50.0]},
        geometry=[shapely.LineString([(X0, Y0), (X0, Y0 + 60)]),
                  shapely.LineString([(X0, Y0 + 40), (X0, Y0 + 80)]),
                  shapely.LineString([(X0, Y0 + 80), (X0 + 50, Y0 + 80)])], crs=CRS,
    )  # fmt: skip
    data = MapData(wards=_wards(), edges=_edges(), water_reach=reach,
                   reach_m={"hydrant": 200.0, "natural": 400.0})  # fmt: skip
    ward = _by_key(build_layers(data, config, "en", detail="ward"))["layer_water_reach"]
    assert ward.show
    feats = features(ward.data)
    assert [f["kind"] for f in feats] == ["line"] * 3
    hyd = [f for f in feats if f["style"]["c"] == COLOURS["reach_hydrant"]]
    assert [f["values"]["label"] for f in hyd] == [
        "Streets within hydrant reach (200 m along the streets)"
    ]
    assert len(hyd[0]["parts"][0]) == 2  # the stretch itself, not a circle around a point
    prov = _by_key(build_layers(data, config, "en", detail="province"))["layer_water_reach"]
    assert not prov.show  # hidden on the province map, on in the layer control
    (cell,) = [f for f in features(prov.data) if f["kind"] == "poly"]
    # 80 m (the union of 0-60 and 40-80) + 50 m reached of the 230.1 m of street in the cell
    assert cell["values"]["reach_share"] == round(100 * 130 / 230.12)


def test_approximate_wards_are_drawn_and_labelled_as_such(config):
    layers = _by_key(build_layers(MapData(wards=_wards(approximate=True)), config, "en",
                                  detail="province"))  # fmt: skip
    wards = layers["layer_wards"]
    (ward,) = features(wards.data)
    assert ward["style"]["c"] == COLOURS["ward_approximate"]
    assert ward["style"]["dash"] == [1, 6]
    assert ward["values"]["label"] == "Phường &lt;Một&gt; (approximate boundary)"
    assert [label for _, label, _ in wards.legend] == [
        "Approximate boundary (Voronoi cell around the ward centre)"
    ]
    # the popup opens the ward map where the province map was clicked
    assert 'href="wards/W1.html{view}"' in ward["pop"]
    real = _by_key(build_layers(MapData(wards=_wards()), config, "en", detail="ward"))
    (ward,) = features(real["layer_wards"].data)
    assert ward["style"]["c"] == COLOURS["ward"]


def test_shortlist_rows_carry_their_ids(config):
    sites = gpd.GeoDataFrame(
        {"id": ["AL-001", "HY-001"], "kind": ["site_alley", "site_hydrant"],
         "why_html": ["<b>AL-001</b>", "<b>HY-001</b>"]},
        geometry=[shapely.LineString([(X0, Y0), (X0, Y0 + 80)]), shapely.Point(X0 + 5, Y0)],
        crs=CRS,
    )  # fmt: skip
    layer = _by_key(build_layers(MapData(wards=_wards(), sites=sites), config, "en",
                                 detail="ward"))["layer_shortlist"]  # fmt: skip
    feats = {f["id"]: f for f in features(layer.data)}
    assert feats["AL-001"]["kind"] == "line"
    assert feats["HY-001"]["kind"] == "point"
    assert feats["HY-001"]["pop"] == "<b>HY-001</b>"
    assert feats["AL-001"]["style"]["c"] == COLOURS["site_alley"]


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
    assert "L.FiregapLayer = L.Layer.extend" in page  # the layer script is inlined too
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


def test_the_text_scan_reads_the_compact_layers(config):
    from tests.text_scan import codes_in, map_text

    edges = _status_edges()
    edges["highway"] = ["primary", "service", "some_new_code"]  # a code without a translation
    layers = build_layers(MapData(wards=_wards(approximate=True), edges=edges), config, "vi",
                          detail="ward")  # fmt: skip
    page = render_map(layers, (105.8, 21.0, 105.9, 21.1), config, "vi", title="Phường",
                      assets=None)  # fmt: skip
    text = map_text(page)
    assert "Cần khảo sát thực địa" in text  # the legend (built by the page's script)
    assert "ranh giới gần đúng" in text  # a tooltip word
    assert "Đường theo bề rộng" in text  # a layer name
    assert codes_in(text) == {"some_new_code"}


def test_ward_layers_made_once_for_the_province_draw_the_same_data(config, monkeypatch):
    """Streets carrying their WGS84 geometry (made in threads) draw as if made on the spot."""
    rng = np.random.default_rng(7)
    n = 60
    starts = rng.uniform(0, 2000, size=(n, 2)) + np.array([X0, Y0])
    bends = zip(starts, rng.uniform(-40, 40, n), rng.uniform(5, 40, n), strict=True)
    lines = [shapely.LineString([(x, y), (x + dx, y + dy), (x, y + 2 * dy)])
             for (x, y), dx, dy in bends]  # fmt: skip
    edges = gpd.GeoDataFrame(
        {"width_class": ["truck", "hose_only"] * (n // 2), "name": [f"Phố {i}" for i in range(n)],
         "width_m": rng.uniform(2, 9, n).round(1), "reversed": [False, True, False] * (n // 3)},
        geometry=lines, crs=CRS,
    )  # fmt: skip
    monkeypatch.setattr("pipeline.map_encode.GEOMETRIES_PER_THREAD", 7)  # several chunks
    monkeypatch.setenv("FIREGAP_THREADS", "4")
    ready = ready_for_wards("edges", edges, config)
    assert ready is not None
    assert ready[ready["reversed"]].filter(like="_wgs84_").isna().all().all()  # not drawn
    half = np.arange(n) % 2 == 0  # a ward's rows
    plain = build_layers(MapData(wards=_wards(), edges=edges[half]), config, "vi", detail="ward")
    made = build_layers(MapData(wards=_wards(), edges=ready[half]), config, "vi", detail="ward")
    assert [d.data for d in made] == [d.data for d in plain]
    assert _by_key(made)["layer_streets"].n_features == int((half & ~edges["reversed"]).sum())


@pytest.mark.parametrize(
    "tiles",
    ["OpenStreetMap", "OpenTopoMap",
     "https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}"],
)  # fmt: skip
def test_tiles_looked_up_once_draw_as_folium_draws_the_name(tiles):
    """A provider resolved once (or a URL made a provider) gives the layer folium gave."""

    def script(source):
        m = folium.Map(tiles=None)
        folium.TileLayer(source, name="Nền", attr="© OSM", show=False).add_to(m)
        return re.sub(r"_[0-9a-f]{32}", "_ID", m.get_root().render())

    assert script(_tile_source(tiles)) == script(tiles)
    assert _tile_source(tiles) is _tile_source(tiles)
