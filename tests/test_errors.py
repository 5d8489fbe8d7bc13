"""Bad input: one clear line naming the file and the problem, exit code 2, no outputs left."""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main
from tests.osm_fixtures import TOWN_BOUNDS, boundary_geojson, town


def _run(project, slug, capsys):
    rc = main(["ingest", "--province", slug, "--root", str(project.root), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err


def _no_outputs(project, slug):
    out = project.outputs(slug)
    leftovers = list((out / "ingest").glob("*")) if (out / "ingest").exists() else []
    assert leftovers == []
    assert not (out / "manifest.json").exists() or "ingest" not in json.loads(
        (out / "manifest.json").read_text()
    )


def _error_line(err):
    lines = [ln for ln in err if ln.startswith("firegap: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in "\n".join(err)
    return lines[0]


def _bad_osm(project, tmp_path, town_boundary, content: bytes | None, name="bad.osm.pbf"):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    project.province("bad", {"osm": {"file": str(path)}, "boundary": {"file": str(town_boundary)}})
    return path


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (None, "missing.osm.pbf", "OSM file not found"),
        (b"", "empty.osm.pbf", "OSM file is empty"),
        (b"\x00\x00\x00\x0dnot a pbf at all" * 50, "corrupt.osm.pbf", "corrupt or unreadable"),
        (b"<osm><node id=", "broken.osm", "corrupt or unreadable"),
        (b'{"elements": 5}', "bad.json", "not an Overpass API response"),
        (b"{nope", "worse.json", "not valid Overpass JSON"),
        (b"x", "data.shp", "unknown OSM format"),
    ],
)
def test_bad_osm_file(project, tmp_path, town_boundary, capsys, content, name, expected):
    path = _bad_osm(project, tmp_path, town_boundary, content, name)
    rc, err = _run(project, "bad", capsys)
    assert rc == 2
    line = _error_line(err)
    assert str(path) in line
    assert expected in line
    _no_outputs(project, "bad")


def test_truncated_pbf(project, tmp_path, town_boundary, capsys):
    good = town().write(tmp_path / "good.osm.pbf").read_bytes()
    path = _bad_osm(project, tmp_path, town_boundary, good[: len(good) // 2], "cut.osm.pbf")
    rc, err = _run(project, "bad", capsys)
    assert rc == 2
    assert "corrupt or unreadable" in _error_line(err)
    assert str(path) in _error_line(err)
    _no_outputs(project, "bad")


def _geojson(path, geometry, crs=None):
    fc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": geometry}],
    }
    if crs:
        fc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(fc))
    return path


@pytest.mark.parametrize(
    ("geometry", "crs", "expected"),
    [
        # UTM metres in a file that (by GeoJSON's rule) says WGS84.
        ({"type": "Polygon", "coordinates": [[[590000, 2340000], [590300, 2340000],
                                              [590300, 2340200], [590000, 2340000]]]},
         None, "wrong CRS"),
        ({"type": "LineString", "coordinates": [[106.0, 21.1], [106.1, 21.2]]}, None,
         "boundary has no polygon"),
        # A valid polygon, declared in UTM 48N, 500 km away from the data.
        ({"type": "Polygon", "coordinates": [[[90000, 2340000], [90300, 2340000],
                                              [90300, 2340200], [90000, 2340000]]]},
         "urn:ogc:def:crs:EPSG::32648", "does not overlap the OSM data"),
    ],
)  # fmt: skip
def test_bad_boundary(project, town_pbf, tmp_path, capsys, geometry, crs, expected):
    bpath = _geojson(tmp_path / "b.geojson", geometry, crs)
    project.province("bad", {"osm": {"file": str(town_pbf)}, "boundary": {"file": str(bpath)}})
    rc, err = _run(project, "bad", capsys)
    assert rc == 2
    line = _error_line(err)
    assert expected in line
    assert str(bpath) in line
    _no_outputs(project, "bad")


def test_missing_boundary_file(project, town_pbf, tmp_path, capsys):
    project.province(
        "bad", {"osm": {"file": str(town_pbf)}, "boundary": {"file": str(tmp_path / "no.geojson")}}
    )
    rc, err = _run(project, "bad", capsys)
    assert rc == 2
    assert "no.geojson: file not found" in _error_line(err)
    _no_outputs(project, "bad")


def test_empty_boundary_layer(project, town_pbf, tmp_path, capsys):
    bpath = tmp_path / "empty.geojson"
    bpath.write_text('{"type": "FeatureCollection", "features": []}')
    project.province("bad", {"osm": {"file": str(town_pbf)}, "boundary": {"file": str(bpath)}})
    rc, err = _run(project, "bad", capsys)
    assert rc == 2
    assert "the layer has no features" in _error_line(err)


def test_unknown_province(project, capsys):
    rc, err = _run(project, "atlantis", capsys)
    assert rc == 2
    line = _error_line(err)
    assert "unknown province 'atlantis'" in line
    assert "atlantis.yaml" in line


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"acess": {}}, "unknown key 'acess' (did you mean 'access'?)"),
        ({"access": {"dead_end_max_lenght_m": {"value": 1, "unit": "m", "source": "x"}}},
         "unknown key 'access.dead_end_max_lenght_m' (did you mean 'dead_end_max_length_m'?)"),
        ({"crs": "EPSG:4326"}, "not a projected CRS"),
        ({"access": {"truck_min_width_m": {"value": "wide", "unit": "m", "source": "x"}}},
         "key 'access.truck_min_width_m.value'"),
        ({"response": {"isochrone_breaks_min": [8, 4]}}, "increasing order"),
    ],
)  # fmt: skip
def test_bad_config(project, town_pbf, town_boundary, capsys, overrides, expected):
    project.province(
        "bad",
        {"osm": {"file": str(town_pbf)}, "boundary": {"file": str(town_boundary)}, **overrides},
    )
    rc, err = _run(project, "bad", capsys)
    assert rc == 2
    line = _error_line(err)
    assert expected in line
    assert "bad.yaml" in line
    _no_outputs(project, "bad")


def test_missing_config_key(project, town_pbf, town_boundary, capsys):
    path = project.root / "data" / "provinces" / "bad.yaml"
    path.write_text(f"osm: {{file: {town_pbf}}}\n", encoding="utf-8")
    rc, err = _run(project, "bad", capsys)
    assert rc == 2
    assert "missing key 'name'" in _error_line(err)


def test_malformed_yaml(project, capsys):
    (project.root / "data" / "provinces" / "bad.yaml").write_text("name: {vi: [\n")
    rc, err = _run(project, "bad", capsys)
    assert rc == 2
    assert "not valid YAML" in _error_line(err)


def test_failed_rerun_removes_stale_outputs(town_project, tmp_path, capsys):
    assert _run(town_project, "town", capsys)[0] == 0
    assert (town_project.outputs("town") / "ingest" / "buildings.parquet").exists()
    # The OSM file is replaced by a corrupt one: the old outputs must not look current.
    (tmp_path / "town.osm.pbf").write_bytes(b"garbage" * 100)
    rc, _ = _run(town_project, "town", capsys)
    assert rc == 2
    _no_outputs(town_project, "town")


def _station_file_run(town_project, tmp_path, capsys, text):
    csv = tmp_path / "st.csv"
    csv.write_text(text, encoding="utf-8")
    boundary_geojson(tmp_path / "boundary.geojson", *TOWN_BOUNDS)
    town_project.province(
        "town",
        {"osm": {"file": str(tmp_path / "town.osm.pbf")},
         "boundary": {"file": str(tmp_path / "boundary.geojson")},
         "stations": {"files": [str(csv)]}},
    )  # fmt: skip
    rc, err = _run(town_project, "town", capsys)
    return csv, rc, err


def test_bad_station_rows_are_a_warning_naming_the_file(town_project, tmp_path, capsys):
    from tests.osm_fixtures import lonlat

    lon, lat = lonlat(150, 50)
    csv, rc, err = _station_file_run(
        town_project, tmp_path, capsys,
        f"name,status,lat,lon\nA,existing,abc,106.0\nB,existing,95,106.0\nC,existing,{lat},{lon}\n",
    )  # fmt: skip
    assert rc == 0
    warning = next(ln for ln in err if "WARNING" in ln and str(csv) in ln)
    assert "2 of 3 stations rows skipped (line 2: coordinates are not numbers; " in warning
    assert "line 3: coordinates out of range for lon/lat" in warning


def test_station_file_with_no_usable_row_is_an_error(town_project, tmp_path, capsys):
    csv, rc, err = _station_file_run(
        town_project,
        tmp_path,
        capsys,
        "name,status,lat,lon\nA,existing,abc,106.0\nB,existing,95,106.0\n",
    )
    assert rc == 2
    line = _error_line(err)
    assert str(csv) in line
    assert "no usable row among 2 (stations)" in line
    assert "first at line 2" in line
    _no_outputs(town_project, "town")
