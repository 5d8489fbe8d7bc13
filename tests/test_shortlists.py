"""Shortlists: VN-2000 zone coordinates, ids, ranks and links, display, CSV / XLSX / GPKG."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from pipeline.config import Vn2000Zone, load_config
from pipeline.params import LABELS, SOURCES_VI, threshold_rows
from pipeline.shortlists import (
    HIDDEN_COLUMNS,
    LISTS,
    anchor_points,
    display_table,
    finish_list,
    thresholds_table,
    with_coordinates,
    write_csvs,
    write_gpkg,
    write_xlsx,
)
from pipeline.vn2000 import meridian_text, zone_crs, zone_label

CRS = "EPSG:32648"
SPEC = {s.name: s for s in LISTS}
HANOI = Vn2000Zone(meridian_deg=105.0, source="Thông tư 973/2001/TT-TCĐC")
# VN-2000 by its published 7 parameters (QĐ 05/2007/QĐ-BTNMT) on a TM-3 105°00' grid: an
# independent definition of the Hà Nội zone.
HANOI_PROJ4 = (
    "+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 "
    "+towgs84=-191.90441429,-39.30318279,-111.45032835,-0.00928836,0.01975479,-0.00427372,"
    "0.252906278 +units=m +no_defs"
)
WARDS = pd.DataFrame(
    {"ward_id": ["W1", "W2"], "name": ["Phường Kinh Bắc", "Xã Hòa Long"],
     "ward_code": ["09187", "09190"], "map_file": ["wards/W1.html", "wards/W2.html"]}
)  # fmt: skip


def _alleys():
    lines = [
        shapely.LineString([(590_000, 2_340_000), (590_100, 2_340_000)]),
        shapely.LineString([(590_200, 2_340_000), (590_200, 2_340_040)]),
        shapely.LineString([(590_300, 2_340_000), (590_300, 2_340_040)]),
    ]
    return gpd.GeoDataFrame(
        {"ward_id": ["W1", "W2", "W1"], "name": ["Ngõ 1", "Ngõ 2", "Ngõ 3"],
         "street": ["Phố A", "", "Phố B"], "length_m": [100.123456, 40.0, 40.0],
         "min_width_m": [1.987654, 1.5, 2.0], "confidence": [0.3, 0.8, 0.55],
         "reason": ["r1", "r2", "r3"], "alley_id": [7, 8, 9], "extra": [1, 2, 3]},
        geometry=lines, crs=CRS,
    )  # fmt: skip


def test_anchor_points_are_midpoints_inner_points_and_points():
    g = gpd.GeoDataFrame(
        geometry=[shapely.LineString([(0, 0), (10, 0), (10, 10)]), shapely.box(0, 0, 4, 2),
                  shapely.Point(3, 4)], crs=CRS,
    )  # fmt: skip
    pts = anchor_points(g)
    assert shapely.get_coordinates(pts).tolist() == [[10.0, 0.0], [2.0, 1.0], [3.0, 4.0]]


def test_zone_crs_uses_epsg_where_it_exists_and_builds_hanoi():
    bn = zone_crs(Vn2000Zone(meridian_deg=105.5, source="x"))
    assert bn.to_epsg() == 9209  # VN-2000 / TM-3 105-30
    assert zone_crs(HANOI).to_epsg() == 5897  # VN-2000 / TM-3 zone 482: 105°00'
    odd = zone_crs(Vn2000Zone(meridian_deg=103.5, source="x"))  # no EPSG code: built
    assert odd.to_epsg() is None
    assert odd.coordinate_operation.params[1].value == 103.5
    assert odd.coordinate_operation.params[2].value == pytest.approx(0.9999)
    assert zone_label(HANOI) == "VN-2000 TM-3 105°00\u2032"
    assert meridian_text(105.75) == "105°45\u2032"
    assert zone_crs(None).to_epsg() == 3405  # no zone: VN-2000 / UTM 48N


def test_coordinates_in_the_provinces_own_zone():
    table = with_coordinates(_alleys(), zone_crs(HANOI))
    lon, lat = Transformer.from_crs(CRS, 4326, always_xy=True).transform(590_050, 2_340_000)
    east, north = Transformer.from_crs(CRS, HANOI_PROJ4, always_xy=True).transform(
        590_050, 2_340_000
    )
    row = table.iloc[0]
    assert row["lon"] == pytest.approx(lon, abs=1e-6)
    assert row["lat"] == pytest.approx(lat, abs=1e-6)
    # X is the northing, Y the easting (Vietnamese survey practice).
    assert row["vn2000_x"] == pytest.approx(north, abs=1.5)
    assert row["vn2000_y"] == pytest.approx(east, abs=1.5)
    assert 2_000_000 < row["vn2000_x"] < 2_700_000
    # Scale 0.9999 on 105°E, not UTM's 0.9996: 100 m east in UTM is longer on the TM-3 grid.
    far = with_coordinates(
        gpd.GeoDataFrame(geometry=[shapely.Point(590_050 + 1000, 2_340_000)], crs=CRS),
        zone_crs(HANOI),
    ).iloc[0]
    assert far["vn2000_y"] - row["vn2000_y"] == pytest.approx(1000 * 0.9999 / 0.9996, abs=0.05)
    assert "geometry" not in table.columns


def test_finish_list_ids_ranks_ward_ranks_and_links():
    out = finish_list(_alleys(), SPEC["alleys_to_widen"], wards=WARDS, vn2000=zone_crs(HANOI))
    assert out["id"].tolist() == ["AL-001", "AL-002", "AL-003"]
    assert out["rank"].tolist() == [1, 2, 3]
    assert out["ward_rank"].tolist() == [1, 1, 2]  # W1, W2, W1
    assert out["ward"].tolist() == ["Phường Kinh Bắc", "Xã Hòa Long", "Phường Kinh Bắc"]
    assert out["ward_code"].tolist() == ["09187", "09190", "09187"]
    assert "extra" not in out.columns
    assert out["alley_id"].tolist() == [7, 8, 9]  # the maps join on it
    row = out.iloc[1]
    assert row["map_link"] == f"wards/W2.html#18/{row['lat']}/{row['lon']}/AL-002"
    assert row["length_m"] == 40.0
    assert out.iloc[0]["length_m"] == 100.12
    assert list(out.columns[:4]) == ["id", "rank", "ward_rank", "ward"]
    empty = finish_list(_alleys().iloc[:0], SPEC["station_sites"], wards=WARDS,
                        vn2000=zone_crs(HANOI))  # fmt: skip
    assert len(empty) == 0
    assert "map_link" in empty.columns


def test_display_table_has_no_codes_and_names_the_zone():
    out = finish_list(_alleys(), SPEC["alleys_to_widen"], wards=WARDS, vn2000=zone_crs(HANOI))
    out["field_check"] = [True, False, True]
    shown = display_table(out, "vi", zone=zone_label(HANOI))
    assert not set(HIDDEN_COLUMNS) & set(shown.columns)
    assert "X - hướng Bắc (VN-2000 TM-3 105°00\u2032, m)" in shown.columns
    assert shown["Độ tin cậy bề rộng (%)"].tolist() == [30.0, 80.0, 55.0]
    assert shown["Cần kiểm tra thực địa"].tolist() == ["Có", "Không", "Có"]
    english = display_table(out, "en", zone=zone_label(HANOI))
    assert "Y - easting (VN-2000 TM-3 105°00\u2032, m)" in english.columns


def test_thresholds_table_and_their_vietnamese_rendering():
    config = load_config("ha_noi")
    thr = thresholds_table(config).set_index("key")
    row = thr.loc["access.truck_min_width_m"]
    assert (row["value"], row["unit"]) == (3.5, "m")
    assert "QCVN 06:2022" in row["source"]
    assert (thr["source"].str.len() > 0).all()
    assert len(thr) >= 25
    # Every default threshold has a name and a Vietnamese source (a changed default source
    # without its translation fails here).
    assert set(thr.index) <= set(LABELS)
    assert set(thr["source"]) <= set(SOURCES_VI)
    vi = threshold_rows(thresholds_table(config), "vi").set_index("Tham số")
    target = vi.loc["Thời gian tiếp cận mục tiêu"]
    assert (target["Giá trị"], target["Đơn vị"]) == ("10", "phút")  # 600 s shown in minutes
    assert vi.loc["Bề rộng thông thủy tối thiểu của đường cho xe chữa cháy", "Giá trị"] == "3,50"
    assert "mục 6.2.1.1" in vi.loc["Bề rộng thông thủy tối thiểu của đường cho xe chữa cháy",
                                   "Nguồn"]  # fmt: skip


def test_writers_round_trip(tmp_path):
    full = finish_list(_alleys(), SPEC["alleys_to_widen"], wards=WARDS, vn2000=zone_crs(HANOI))
    empty = finish_list(_alleys().iloc[:0], SPEC["station_sites"], wards=WARDS,
                        vn2000=zone_crs(HANOI))  # fmt: skip
    lists = {"alleys_to_widen": full, "station_sites": empty}
    zone = zone_label(HANOI)
    files = write_csvs(lists, tmp_path / "csv", "vi", zone=zone, rows=2)
    names = sorted(p.name for p in files)
    assert names == ["alleys_to_widen.csv", "alleys_to_widen_by_ward.csv",
                     "station_sites.csv", "station_sites_by_ward.csv"]  # fmt: skip
    raw = (tmp_path / "csv" / "alleys_to_widen.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    top = pd.read_csv(tmp_path / "csv" / "alleys_to_widen.csv", encoding="utf-8-sig")
    assert top["Mã"].tolist() == ["AL-001", "AL-002"]  # the province top 2, not padded
    by_ward = pd.read_csv(tmp_path / "csv" / "alleys_to_widen_by_ward.csv", encoding="utf-8-sig")
    assert by_ward["Mã"].tolist() == ["AL-001", "AL-003", "AL-002"]
    assert "Bề rộng chỗ hẹp nhất (m)" in top.columns
    thr = threshold_rows(thresholds_table(load_config("ha_noi")), "en")
    write_xlsx(lists, thr, tmp_path / "s.xlsx", "en", zone=zone, rows=2)
    wb = openpyxl.load_workbook(tmp_path / "s.xlsx")
    assert wb.sheetnames == ["Alleys to widen", "Alleys to widen - by ward", "New station sites",
                             "New stations - by ward", "Thresholds and sources"]  # fmt: skip
    ws = wb["Alleys to widen"]
    assert ws["A1"].value == "ID"
    assert ws["A2"].value == "AL-001"
    assert ws.max_row == 3
    link_col = [c.value for c in ws[1]].index("Map link") + 1
    assert ws.cell(row=2, column=link_col).hyperlink.target.endswith("/AL-001")
    write_gpkg(lists, tmp_path / "s.gpkg.tmp")  # the runner's temporary name
    assert not list(tmp_path.glob("*.gpkg"))  # no stray scratch file left
    gpkg = (tmp_path / "s.gpkg.tmp").rename(tmp_path / "s.gpkg")
    layers = dict(pyogrio.list_layers(gpkg))
    assert set(layers) == {"alleys_to_widen", "station_sites"}
    back = gpd.read_file(gpkg, layer="alleys_to_widen")
    assert back.crs.to_epsg() == 32648
    assert back["name"].tolist() == ["Ngõ 1", "Ngõ 2", "Ngõ 3"]
    assert np.array_equal(back["alley_id"], [7, 8, 9])
