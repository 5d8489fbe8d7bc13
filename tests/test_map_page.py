"""The map page in headless Chromium: hover, click, row-id links, zoom-dependent layers, timing."""

from __future__ import annotations

import time

import geopandas as gpd
import pytest
import shapely

from pipeline.browser import MAP_JS, chromium, chromium_paths, measure_map, page_errors
from pipeline.config import load_config
from pipeline.maps import MapData, build_layers, leaflet_assets, render_map

pytestmark = pytest.mark.browser

CRS = "EPSG:32648"
X0, Y0 = 590_000.0, 2_340_000.0


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    if chromium_paths() is None:
        pytest.skip(
            "chromium / chromedriver not installed (apt-get install chromium chromium-driver)"
        )
    config = load_config("ha_noi")
    assets = leaflet_assets(config)
    if assets is None:
        pytest.skip("Leaflet not vendored (run make vendor)")
    wards = gpd.GeoDataFrame(
        {"ward_id": ["W1"], "name": ["Phường Một"], "map_file": ["wards/W1.html"],
         "approximate": [True]},
        geometry=[shapely.box(X0, Y0, X0 + 3000, Y0 + 3000)], crs=CRS,
    )  # fmt: skip
    edges = gpd.GeoDataFrame(
        {"width_class": ["truck", "hose_only"], "width_m": [7.0, 2.0],
         "width_source": ["tag", "corridor"], "highway": ["primary", "service"],
         "name": ["Phố Dài", "Ngõ Hẹp"], "reversed": [False, False],
         "truck_status": ["passable", "not_passable"], "truck_min_width_m": [3.5, 3.5]},
        geometry=[shapely.LineString([(X0 + 500, Y0 + 1500), (X0 + 2500, Y0 + 1500)]),
                  shapely.LineString([(X0 + 1500, Y0 + 500), (X0 + 1500, Y0 + 1400)])],
        crs=CRS,
    )  # fmt: skip
    sites = gpd.GeoDataFrame(
        {"id": ["HY-001"], "kind": ["site_hydrant"], "why_html": ["<b>HY-001</b> ở đây"]},
        geometry=[shapely.Point(X0 + 2000, Y0 + 2500)], crs=CRS,
    )  # fmt: skip
    data = MapData(wards=wards, edges=edges, sites=sites, truck_min_width_m=3.5)
    bounds = tuple(gpd.GeoSeries([wards.geometry[0]], crs=CRS).to_crs(4326).total_bounds)
    out = tmp_path_factory.mktemp("page")
    files = {}
    for detail in ("ward", "province"):
        layers = build_layers(data, config, "en", detail=detail)
        page = render_map(layers, bounds, config, "en", title="Test", assets=assets)
        files[detail] = out / f"{detail}.html"
        files[detail].write_text(page, encoding="utf-8")
    return files, edges, sites


def _to_wgs(geom):
    return gpd.GeoSeries([geom], crs=CRS).to_crs(4326).iloc[0]


def _point_px(driver, lat, lon):
    return driver.execute_script(
        f"const p = {MAP_JS}.latLngToContainerPoint([arguments[0], arguments[1]]);"
        "return [p.x, p.y];",
        lat,
        lon,
    )


def _mouse(driver, x, y, kind="mousemove"):
    """Fire a real DOM mouse event on the map container (as the mouse would)."""
    driver.execute_script(
        f"const m = {MAP_JS}, c = m.getContainer(), r = c.getBoundingClientRect();"
        "c.dispatchEvent(new MouseEvent(arguments[2], {clientX: r.left + arguments[0],"
        " clientY: r.top + arguments[1], bubbles: true}));",
        x,
        y,
        kind,
    )
    time.sleep(0.15)


def _tooltip(driver):
    return driver.execute_script(
        "const t = document.querySelector('.leaflet-tooltip:not(.firegap-found)');"
        "return t ? t.textContent : null;"
    )


def test_hovering_a_street_shows_its_tooltip_and_clicking_a_ward_opens_its_map_there(pages):
    files, edges, _ = pages
    with chromium() as driver:
        driver.get(files["ward"].as_uri())
        time.sleep(0.3)
        mid = _to_wgs(edges.geometry[1].interpolate(0.5, normalized=True))
        driver.execute_script(f"{MAP_JS}.setView([arguments[0], arguments[1]], 17);", mid.y, mid.x)
        time.sleep(0.3)
        x, y = _point_px(driver, mid.y, mid.x)
        _mouse(driver, x + 2, y)  # 2 px beside the 2 px line: within the 4 px tolerance
        text = _tooltip(driver)
        assert text is not None
        assert "Ngõ Hẹp" in text
        assert "Width (m): 2.0" in text
        assert "Not passable for fire trucks" in text
        _mouse(driver, x + 60, y)  # off every street: inside the ward (its outline's tooltip)
        assert "Ngõ Hẹp" not in (_tooltip(driver) or "")
        assert "approximate boundary" in (_tooltip(driver) or "")
        assert page_errors(driver) == []
    with chromium() as driver:
        driver.get(files["province"].as_uri())
        time.sleep(0.3)
        centre = _to_wgs(shapely.Point(X0 + 1000, Y0 + 1000))
        driver.execute_script(
            f"{MAP_JS}.setView([arguments[0], arguments[1]], 14);", centre.y, centre.x
        )
        time.sleep(0.3)
        x, y = _point_px(driver, centre.y, centre.x)
        _mouse(driver, x, y, "click")
        href = driver.execute_script(
            "const a = document.querySelector('.leaflet-popup-content a');"
            "return a ? a.getAttribute('href') : null;"
        )
        assert href is not None
        assert href.startswith("wards/W1.html#16/")
        _, lat, lon = href.split("#")[1].split("/")
        # where the map was clicked (to a pixel: 1e-4 degree at zoom 14)
        assert float(lat) == pytest.approx(centre.y, abs=1e-4)
        assert float(lon) == pytest.approx(centre.x, abs=1e-4)


def test_a_row_id_in_the_address_rings_its_feature_without_reload(pages):
    files, _, sites = pages
    site = _to_wgs(sites.geometry[0])
    with chromium() as driver:
        driver.get(files["ward"].as_uri())
        time.sleep(0.3)
        found = driver.execute_script(f"return {MAP_JS}._firegap.highlighted;")
        assert found is None
        driver.execute_script(f"window.location.hash = '#18/{site.y:.6f}/{site.x:.6f}/HY-001';")
        time.sleep(0.6)
        view = driver.execute_script(
            f"const m = {MAP_JS}, c = m.getCenter(), h = m._firegap.highlighted;"
            "return [m.getZoom(), c.lat, c.lng, h && h.id, h && m.hasLayer(h.drawn[0]),"
            " document.querySelector('.firegap-found').textContent];"
        )
        assert view[:3] == pytest.approx([18, round(site.y, 6), round(site.x, 6)], abs=1e-6)
        assert view[3] == "HY-001"
        assert view[4]
        assert "HY-001" in view[5]
        # an unknown id moves the view and rings nothing, without an error
        driver.execute_script(f"window.location.hash = '#17/{site.y:.6f}/{site.x:.6f}/XX-999';")
        time.sleep(0.4)
        assert driver.execute_script(f"return {MAP_JS}._firegap.highlighted;") is None
        assert driver.execute_script(f"return {MAP_JS}.getZoom();") == 17
        assert page_errors(driver) == []


def test_province_streets_switch_from_cells_to_lines_at_the_detail_zoom(pages):
    files, _, _ = pages
    zoom = load_config("ha_noi").report.province_detail_zoom
    js = f"""
    const m = {MAP_JS};
    const layers = m._firegap.layers.filter(l => l.options.name === arguments[0]);
    return layers.map(l => [l.data.k, l.data.z0 === undefined ? null : l.data.z0,
                            l._canvas ? l._canvas.style.display : 'removed']);
    """
    with chromium() as driver:
        driver.get(files["province"].as_uri())
        time.sleep(0.3)
        shown = {}
        for z in (zoom - 1, zoom):
            driver.execute_script(f"{MAP_JS}.setZoom(arguments[0], {{animate: false}});", z)
            time.sleep(0.3)
            shown[z] = driver.execute_script(js, "Streets by width")
        cells = [d for k, _, d in shown[zoom - 1] if k == "poly"]
        narrow = [d for k, z0, d in shown[zoom - 1] if k == "line" and z0 == zoom]
        assert cells == [""]  # drawn
        assert narrow == ["none"]  # hidden below the detail zoom
        assert [d for k, _, d in shown[zoom] if k == "poly"] == ["none"]
        assert [d for k, z0, d in shown[zoom] if k == "line" and z0 == zoom] == [""]


def test_measure_map_gives_load_redraw_and_memory(pages):
    files, _, _ = pages
    with chromium() as driver:
        timing = measure_map(driver, files["ward"], steps=(1, -1), runs=2)
    assert timing.errors == []
    assert 0 < timing.load_s < 60
    assert set(timing.redraw_ms) == {f"zoom {timing.zoom + 1}", f"zoom {timing.zoom - 1}", "pan"}
    assert all(0 < v < 60_000 for v in timing.redraw_ms.values())
    assert timing.js_heap_mb > 0
    assert timing.size_mb == pytest.approx(files["ward"].stat().st_size / 1e6, abs=1e-3)


def test_bench_section_measures_each_datasets_maps(pages, tmp_path):
    from types import SimpleNamespace

    from tools.map_bench import browser_section

    files, _, _ = pages
    out = tmp_path / "outputs" / "town"
    (out / "wards").mkdir(parents=True)
    (out / "map.html").write_text(files["province"].read_text("utf-8"), "utf-8")
    (out / "wards" / "W1.html").write_text(files["ward"].read_text("utf-8"), "utf-8")
    (out / "wards" / "index.html").write_text("<html></html>", "utf-8")
    ds = SimpleNamespace(label="town", slug="town", root=tmp_path)
    name, data, markdown, ratios = browser_section([ds], runs=1)
    assert name == "browser"
    assert data["town"]["ward_maps"] == 1  # the index is not a map
    assert data["town"]["province"]["file"] == "map.html"
    assert data["town"]["largest_ward"]["file"] == "W1.html"
    assert data["town"]["province"]["errors"] == []
    assert "| town | province (map.html) |" in markdown
    assert ratios[0].startswith("town province map: ")
    assert "limit 5" in ratios[0]
