"""Shortlists: coordinates in three systems, ids and links, CSV with BOM, XLSX and GPKG."""

from __future__ import annotations

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from pipeline.config import load_config
from pipeline.shortlists import (
    LISTS,
    anchor_points,
    finish_list,
    thresholds_table,
    with_coordinates,
    write_csvs,
    write_gpkg,
    write_xlsx,
)

CRS = "EPSG:32648"
SPEC = {s.name: s for s in LISTS}


def _alleys():
    lines = [
        shapely.LineString([(590_000, 2_340_000), (590_100, 2_340_000)]),
        shapely.LineString([(590_200, 2_340_000), (590_200, 2_340_040)]),
    ]
    return gpd.GeoDataFrame(
        {"ward_id": ["W1", "W9"], "ward": ["Phường Kinh Bắc", None], "name": ["Ngõ 1", "Ngõ 2"],
         "length_m": [100.0, 40.0], "min_width_m": [2.0, 1.5], "floor_area_m2": [900.0, 50.0],
         "extra": [1, 2]},
        geometry=lines, crs=CRS,
    )  # fmt: skip


def test_anchor_points_are_midpoints_inner_points_and_points():
    g = gpd.GeoDataFrame(
        geometry=[shapely.LineString([(0, 0), (10, 0), (10, 10)]), shapely.box(0, 0, 4, 2),
                  shapely.Point(3, 4)], crs=CRS,
    )  # fmt: skip
    pts = anchor_points(g)
    assert shapely.get_coordinates(pts).tolist() == [[10.0, 0.0], [2.0, 1.0], [3.0, 4.0]]


def test_coordinates_in_wgs84_utm_and_vn2000():
    table = with_coordinates(_alleys())
    lon, lat = Transformer.from_crs(CRS, 4326, always_xy=True).transform(590_050, 2_340_000)
    x, y = Transformer.from_crs(CRS, "EPSG:3405", always_xy=True).transform(590_050, 2_340_000)
    row = table.iloc[0]
    assert (row["x_utm"], row["y_utm"]) == (590_050.0, 2_340_000.0)
    assert row["lon"] == pytest.approx(lon, abs=1e-6)
    assert row["lat"] == pytest.approx(lat, abs=1e-6)
    assert row["x_vn2000"] == pytest.approx(x, abs=0.01)
    assert row["y_vn2000"] == pytest.approx(y, abs=0.01)
    # VN-2000 is a different datum: the two grids differ by tens of metres or more here.
    assert abs(row["x_vn2000"] - row["x_utm"]) + abs(row["y_vn2000"] - row["y_utm"]) > 10
    assert "geometry" not in table.columns


def test_finish_list_ranks_ids_links_and_keeps_only_its_columns():
    files = pd.Series({"W1": "wards/W1.html"})
    out = finish_list(_alleys(), SPEC["alleys_to_widen"], ward_files=files, rows=1)
    assert len(out) == 1
    assert out["id"].tolist() == ["AL-001"]
    assert out["rank"].tolist() == [1]
    assert "extra" not in out.columns
    assert list(out.columns[:2]) == ["id", "rank"]
    row = out.iloc[0]
    assert row["map_link"] == f"wards/W1.html#18/{row['lat']}/{row['lon']}"
    odd = _alleys().assign(length_m=[100.123456, 40.0], min_width_m=[1.987654, 1.5])
    rounded = finish_list(odd, SPEC["alleys_to_widen"], ward_files=files, rows=1).iloc[0]
    assert (rounded["length_m"], rounded["min_width_m"]) == (100.12, 1.99)
    both = finish_list(_alleys(), SPEC["alleys_to_widen"], ward_files=files, rows=5)
    assert both["map_link"].iloc[1].startswith("map.html#18/")  # ward without a map


def test_thresholds_table_has_every_threshold_with_its_source():
    thr = thresholds_table(load_config("ha_noi")).set_index("key")
    row = thr.loc["access.truck_min_width_m"]
    assert (row["value"], row["unit"]) == (3.5, "m")
    assert "QCVN 06:2022" in row["source"]
    assert thr.loc["response.target_time_s", "value"] == 600
    assert (thr["source"].str.len() > 0).all()
    assert len(thr) >= 25


def test_writers_round_trip(tmp_path):
    files = pd.Series({"W1": "wards/W1.html"})
    lists = {"alleys_to_widen": finish_list(_alleys(), SPEC["alleys_to_widen"],
                                            ward_files=files, rows=10),
             "station_sites": finish_list(_alleys().iloc[:0], SPEC["station_sites"],
                                          ward_files=files, rows=10)}  # fmt: skip
    thr = thresholds_table(load_config("ha_noi"))
    (csv,) = [p for p in write_csvs(lists, tmp_path / "csv", "vi") if "alleys" in p.name]
    raw = csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    assert "Bề rộng nhỏ nhất (m)" in raw.decode("utf-8-sig").splitlines()[0]
    write_xlsx(lists, thr, tmp_path / "s.xlsx", "en")
    wb = openpyxl.load_workbook(tmp_path / "s.xlsx")
    assert wb.sheetnames == ["Alleys to widen", "New station sites", "Thresholds and sources"]
    ws = wb["Alleys to widen"]
    assert ws["A1"].value == "ID"
    assert ws["A2"].value == "AL-001"
    link_col = [c.value for c in ws[1]].index("Map link") + 1
    assert ws.cell(row=2, column=link_col).hyperlink.target.startswith("wards/W1.html#18/")
    write_gpkg(lists, tmp_path / "s.gpkg.tmp")  # the runner's temporary name
    assert not list(tmp_path.glob("*.gpkg"))  # no stray scratch file left
    gpkg = (tmp_path / "s.gpkg.tmp").rename(tmp_path / "s.gpkg")
    layers = dict(pyogrio.list_layers(gpkg))
    assert set(layers) == {"alleys_to_widen", "station_sites"}
    back = gpd.read_file(gpkg, layer="alleys_to_widen")
    assert back.crs.to_epsg() == 32648
    assert back["name"].tolist() == ["Ngõ 1", "Ngõ 2"]
