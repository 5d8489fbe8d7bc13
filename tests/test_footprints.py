"""Google Open Buildings / Microsoft footprints merged into the OSM buildings."""

from __future__ import annotations

import gzip
import json

import geopandas as gpd
import pytest

from pipeline.config import load_config
from pipeline.paths import ProvincePaths
from pipeline.stage import run_pipeline
from tests.osm_fixtures import lonlat


def _ring(x0, y0, x1, y1):
    return [lonlat(x0, y0), lonlat(x1, y0), lonlat(x1, y1), lonlat(x0, y1), lonlat(x0, y0)]


def _wkt(x0, y0, x1, y1):
    return "POLYGON((" + ", ".join(f"{x} {y}" for x, y in _ring(x0, y0, x1, y1)) + "))"


def _ms_line(x0, y0, x1, y1, height):
    return json.dumps(
        {
            "type": "Feature",
            "properties": {"height": height, "confidence": 0.9},
            "geometry": {"type": "Polygon", "coordinates": [_ring(x0, y0, x1, y1)]},
        }
    )


def test_google_and_microsoft_footprints(town_project, tmp_path):
    google = tmp_path / "open_buildings.csv"
    google.write_text(
        "latitude,longitude,area_in_meters,confidence,geometry,full_plus_code\n"
        f'0,0,100,0.91,"{_wkt(150, 40, 160, 50)}",X\n'  # new: kept
        f'0,0,100,0.95,"{_wkt(25, 15, 35, 25)}",X\n'  # inside the OSM 5-storey house: dropped
        f'0,0,100,0.40,"{_wkt(60, 40, 70, 50)}",X\n'  # low confidence: dropped
        f'0,0,100,0.99,"{_wkt(5000, 40, 5010, 50)}",X\n',  # outside the province: dropped
        encoding="utf-8",
    )
    ms = tmp_path / "vietnam.csv.gz"  # Microsoft ships GeoJSON lines as .csv.gz
    with gzip.open(ms, "wt", encoding="utf-8") as fh:
        fh.write(_ms_line(170, 40, 180, 50, 9.9) + "\n")  # new, 9.9 m tall: 3 storeys
        fh.write(_ms_line(151, 41, 159, 49, -1) + "\n")  # overlaps the Google one: dropped
    town_project.province(
        "town",
        {
            "osm": {"file": str(tmp_path / "town.osm.pbf")},
            "boundary": {"file": str(tmp_path / "boundary.geojson")},
            "buildings": {"extra_files": [{"path": str(google)}, {"path": str(ms)}]},
        },
    )
    paths = ProvincePaths("town", town_project.root)
    entry = run_pipeline("ingest", load_config("town", root=town_project.root), paths)["ingest"]
    assert entry["summary"]["footprints_added"] == {"open_buildings.csv": 1, "vietnam.csv.gz": 1}
    b = gpd.read_parquet(paths.artifact("ingest", "buildings"))
    assert len(b) == 4 + 2
    g = b[b["source"] == "open_buildings.csv"].iloc[0]
    assert g["footprint_m2"] == pytest.approx(100, rel=1e-3)
    assert g["levels"] == 2
    assert g["levels_source"] == "default"
    m = b[b["source"] == "vietnam.csv.gz"].iloc[0]
    assert m["levels"] == 3
    assert m["floor_area_m2"] == pytest.approx(300, rel=1e-3)


def test_bad_footprint_file_names_file_and_line(town_project, tmp_path):
    bad = tmp_path / "broken.geojsonl"
    bad.write_text(_ms_line(0, 0, 1, 1, 3) + "\nnot json\n", encoding="utf-8")
    town_project.province(
        "town",
        {
            "osm": {"file": str(tmp_path / "town.osm.pbf")},
            "boundary": {"file": str(tmp_path / "boundary.geojson")},
            "buildings": {"extra_files": [{"path": str(bad)}]},
        },
    )
    from pipeline._errors import InputDataError

    with pytest.raises(InputDataError, match=r"broken.geojsonl: line 2 is not a GeoJSON feature"):
        run_pipeline(
            "ingest",
            load_config("town", root=town_project.root),
            ProvincePaths("town", town_project.root),
        )
    assert not (town_project.outputs("town") / "ingest" / "buildings.parquet").exists()
