"""Authority files as planners write them: one reader, headers and statuses detected."""

from __future__ import annotations

import json
import unicodedata

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from pipeline._errors import ConfigError, InputDataError
from pipeline.cli import main
from pipeline.config import SourceFile
from pipeline.table_cells import (
    canonical_column,
    parse_date,
    parse_degrees,
    parse_number,
    parse_status,
    resolve_crs,
)
from pipeline.tables import read_authority_file
from tests.osm_fixtures import CRS, X0, Y0, lonlat


def _read(path, **kw):
    spec = SourceFile(path=str(path), **kw.pop("spec", {}))
    return read_authority_file(spec, crs=CRS, what=kw.pop("what", "rows"), **kw)


def _xy(geoms):
    return [(round(g.x - X0, 2), round(g.y - Y0, 2)) for g in geoms]


# ------------------------------------------------------------------ small parsers


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("tên", "name"), ("Tên", "name"), ("ten", "name"), ("TÊN ĐƠN VỊ", "name"),
        ("trạng thái", "status"), ("Trang thai", "status"), ("Loại", "type"), ("loai", "type"),
        ("vĩ độ", "lat"), ("Vi do", "lat"), ("Vĩ độ (WGS84)", "lat"), ("kinh độ", "lon"),
        ("Kinh do (°)", "lon"), ("X", "x"), ("Tọa độ Y (m)", "y"), ("Chiều rộng (m)", "width_m"),
        ("mã đường", "id"), ("way_id", "osm_id"), ("Ngày đo", "date"), ("Dân số", "population"),
        ("ghi chú", None), ("STT", None),
    ],
)  # fmt: skip
def test_headers_recognised_with_or_without_diacritics(header, canonical):
    assert canonical_column(header) == canonical


def test_statuses_vietnamese_and_english():
    raw = pd.Series(["hiện có", "Hiện có ", "quy hoạch", "Quy hoach", "đang xây dựng",
                     "existing", "Planned", "under construction", "đóng cửa", ""])  # fmt: skip
    assert parse_status(raw).tolist() == [
        "existing", "existing", "planned", "planned", "planned",
        "existing", "planned", "planned", None, None,
    ]  # fmt: skip


def test_numbers_dates_and_degrees_as_people_type_them():
    assert parse_number(
        pd.Series(["3,5", "3.5 m", "2.345.678,9", "1 234", "1,234,567", "abc", ""])
    ).tolist() == pytest.approx([3.5, 3.5, 2345678.9, 1234, 1234567, np.nan, np.nan], nan_ok=True)
    assert parse_degrees(pd.Series(["21°10'30\"N", "106° 5' E", "21,5"])).tolist() == (
        pytest.approx([21.175, 106 + 5 / 60, 21.5])
    )
    dates = parse_date(pd.Series(["15/03/2024", "2024-03-15", "5.3.2024", "soon"]))
    assert dates.dt.strftime("%Y-%m-%d").fillna("").tolist() == [
        "2024-03-15", "2024-03-15", "2024-03-05", "",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "epsg", "lon_0"),
    [
        ("EPSG:9209", 9209, 105.5),
        ("VN-2000 / TM-3 105-30", 9209, 105.5),
        ("VN-2000 105°30'", 9209, 105.5),
        ("vn2000 105.5", 9209, 105.5),
        ("VN2000 107", 9214, 107.0),
        ("VN-2000 106-45", None, 106.75),  # no EPSG code: built from the VN-2000 datum
        ("VN-2000 / TM-3 zone 482", 5897, 105.0),  # EPSG's own name
    ],
)
def test_vn2000_zone_by_name_or_meridian(text, epsg, lon_0):
    crs = resolve_crs(text)
    assert crs.to_epsg() == epsg
    params = {p.name: p.value for p in crs.coordinate_operation.params}
    assert params["Longitude of natural origin"] == pytest.approx(lon_0)
    assert params["Scale factor at natural origin"] == pytest.approx(0.9999)
    assert crs.geodetic_crs.name == "VN-2000"


def test_unknown_crs_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown CRS 'UTM 99'"):
        resolve_crs("UTM 99")


# ------------------------------------------------------------------ whole files


_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def _cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows writes it: precomposed letters, combining tone marks."""
    out = []
    for ch in text:
        nfd = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in nfd if c in _TONES)
        base = unicodedata.normalize("NFC", "".join(c for c in nfd if c not in _TONES))
        out.append(base + tones)
    return "".join(out).encode("cp1258")


def _stations_csv(path, encoding="utf-8", delimiter=",", decimal="."):
    rows = [("tên", "trạng thái", "vĩ độ", "kinh độ")]
    for name, status, xy in (
        ("Đội PCCC Kinh Bắc", "hiện có", (10, 20)),
        ("Đội PCCC Từ Sơn", "quy hoạch", (150, 50)),
        ("Đội không tọa độ", "hiện có", None),
        ("Đội đang xây", "đang xây dựng", (100, 100)),
    ):
        lat = lon = ""
        if xy is not None:
            lon_, lat_ = lonlat(*xy)
            lat, lon = f"{lat_:.8f}".replace(".", decimal), f"{lon_:.8f}".replace(".", decimal)
        rows.append((name, status, lat, lon))
    text = "\n".join(delimiter.join(r) for r in rows) + "\n"
    path.write_bytes(_cp1258(text) if encoding == "cp1258" else text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("encoding", "delimiter", "decimal"),
    [("utf-8", ",", "."), ("utf-8-sig", ",", "."), ("cp1258", ";", ","), ("utf-16", "\t", ",")],
)
def test_station_csv_any_encoding_and_delimiter(tmp_path, encoding, delimiter, decimal):
    path = _stations_csv(tmp_path / "doi.csv", encoding, delimiter, decimal)
    table = _read(path, what="stations")
    assert table.rows["name"].tolist() == ["Đội PCCC Kinh Bắc", "Đội PCCC Từ Sơn", "Đội đang xây"]
    assert parse_status(table.rows["status"]).tolist() == ["existing", "planned", "planned"]
    assert _xy(table.rows.geometry) == [(10, 20), (150, 50), (100, 100)]
    assert table.rejects.to_dict(orient="records") == [
        {"file": "doi.csv", "line": 4, "reason": "no coordinates"}
    ]


def _hydrant_xlsx(path, *, title=True):
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Trụ nước"
    if title:
        ws.append(["DANH SÁCH TRỤ NƯỚC CHỮA CHÁY (số liệu 2025)"])
        ws.append([])
    ws.append(["STT", "Loại", "Vĩ độ", "Kinh độ", "Ghi chú"])
    for i, (kind, xy) in enumerate(
        [("Trụ nước", (50, 3)), ("Trụ nước", (150, 3)), ("Trụ nước", None), ("Bể nước", (5, 5))],
        start=1,
    ):
        lon, lat = lonlat(*xy) if xy else ("", "")
        ws.append([i, kind, lat, lon, ""])
    book.save(path)
    return path


def test_hydrant_xlsx_with_a_title_row(tmp_path):
    table = _read(_hydrant_xlsx(tmp_path / "tru_nuoc.xlsx"), what="water sources")
    assert table.columns["type"] == "Loại"
    assert table.rows["type"].tolist() == ["Trụ nước", "Trụ nước", "Bể nước"]
    assert _xy(table.rows.geometry) == [(50, 3), (150, 3), (5, 5)]
    # Excel row numbers: title on row 1, blank row 2, header on row 3, data from row 4.
    assert table.rows["source_line"].tolist() == [4, 5, 7]
    assert table.rejects[["line", "reason"]].to_dict(orient="records") == [
        {"line": 6, "reason": "no coordinates"}
    ]


def test_vn2000_xy_in_a_named_zone_x_as_northing(tmp_path):
    to_vn = Transformer.from_crs(CRS, "EPSG:9209", always_xy=True)
    e, n = to_vn.transform(X0 + 30, Y0 + 40)
    path = tmp_path / "diem_lay_nuoc.csv"
    # The VN-2000 convention: X is the northing, Y the easting; decimal commas, ';'.
    path.write_text(
        f"Tên;X;Y;Loại\nBến A;{n:.3f};{e:.3f};Bến lấy nước\n".replace(".", ","), encoding="utf-8"
    )
    table = _read(path, spec={"crs": "VN-2000 105-30"})
    assert _xy(table.rows.geometry) == [(30, 40)]


def test_xy_in_metres_without_a_zone_is_refused(tmp_path):
    path = tmp_path / "xy.csv"
    path.write_text("x,y\n2341000,556000\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"xy.csv: x/y are metres \(VN-2000\?\) but no zone"):
        _read(path)


def test_xy_in_degrees_and_coordinate_pairs(tmp_path):
    lon, lat = lonlat(10, 20)
    path = tmp_path / "pairs.csv"
    path.write_text(
        f'name,tọa độ\nA,"{lat:.8f}, {lon:.8f}"\nB,"{lon:.8f}, {lat:.8f}"\nC,nowhere\n', "utf-8"
    )
    table = _read(path)
    assert _xy(table.rows.geometry) == [(10, 20), (10, 20)]
    assert table.rejects["reason"].tolist() == ["coordinates are not numbers"]
    deg = tmp_path / "deg.csv"
    deg.write_text(f"x,y\n{lon:.8f},{lat:.8f}\n", encoding="utf-8")
    assert _xy(_read(deg).rows.geometry) == [(10, 20)]


def test_swapped_lat_lon_columns_are_read_the_other_way(tmp_path, caplog):
    lon, lat = lonlat(10, 20)
    path = tmp_path / "swapped.csv"
    path.write_text(f"vĩ độ,kinh độ\n{lon:.8f},{lat:.8f}\n", encoding="utf-8")
    assert _xy(_read(path).rows.geometry) == [(10, 20)]
    assert "swapped" in caplog.text


def test_geojson_and_geopackage_properties_detected(tmp_path):
    lon, lat = lonlat(10, 20)
    gdf = gpd.GeoDataFrame(
        {"Tên": ["Điểm 1", "Điểm 2"], "Trạng thái": ["hiện có", "quy hoạch"]},
        geometry=[shapely.Point(lon, lat), None],
        crs="EPSG:4326",
    )
    for path in (tmp_path / "diem.geojson", tmp_path / "diem.gpkg"):
        gdf.to_file(path)
        table = _read(path)
        assert table.rows["name"].tolist() == ["Điểm 1"]
        assert table.rows["status"].tolist() == ["hiện có"]
        assert _xy(table.rows.geometry) == [(10, 20)]
        assert table.rejects[["line", "reason"]].to_dict(orient="records") == [
            {"line": 2, "reason": "no geometry"}
        ]


def test_measured_widths_keyed_by_way_id_or_by_line(tmp_path):
    """The reader behind the measured-widths file: rows keyed by OSM way id, or WKT lines."""
    path = tmp_path / "be_rong.csv"
    a, b = lonlat(0, 0), lonlat(100, 0)
    path.write_text(
        "mã osm;chiều rộng (m);ngày đo;ghi chú\n"
        "w103;2,4;15/03/2024;đo bằng thước\n"
        "https://www.openstreetmap.org/way/102;6;2024-03-16;\n"
        ";3,1;16/03/2024;no id\n"
        "105;rộng;16/03/2024;\n"
        "w104;350 cm;17/03/2024;in centimetres\n"
        "w106;2-3 m;17/03/2024;a range: the narrow end\n",
        encoding="utf-8",
    )
    table = _read(
        path,
        geometry="optional",
        required=("width_m", "date"),
        spec={"columns": {"osm_id": "mã osm"}},
    )
    assert table.rows["osm_id"].tolist() == [103, 102, 104, 106]
    assert table.rows["width_m"].tolist() == [2.4, 6.0, 3.5, 2.0]
    assert table.rows["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-03-15", "2024-03-16", "2024-03-17", "2024-03-17",
    ]  # fmt: skip
    assert table.rows.geometry.isna().all()
    assert table.rejects[["line", "reason"]].to_dict(orient="records") == [
        {"line": 4, "reason": "no coordinates and no id"},
        {"line": 5, "reason": "width_m is not a number"},
    ]
    wkt = tmp_path / "be_rong_wkt.csv"
    wkt.write_text(
        f'wkt,width_m,date\n"LINESTRING ({a[0]} {a[1]}, {b[0]} {b[1]})",3.2,01/02/2025\n', "utf-8"
    )
    lines = _read(wkt, geometry="any", required=("width_m",))
    assert lines.rows.geometry.iloc[0].length == pytest.approx(100, abs=0.05)


def test_bad_files_are_one_clear_error(tmp_path):
    missing = tmp_path / "absent.csv"
    with pytest.raises(InputDataError, match=r"absent.csv: file not found"):
        _read(missing)
    nocoords = tmp_path / "nocoords.csv"
    nocoords.write_text("tên,địa chỉ\nA,Phố Huế\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"nocoords.csv: no coordinate columns .*tên, địa chỉ"):
        _read(nocoords)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x81\x8d\x8f\x90\x9d\xff\xfe\x00" * 10)
    with pytest.raises(InputDataError, match=r"binary.csv: not UTF-8"):
        _read(binary)
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputDataError, match=r"old.xls: Excel 97-2003 \(.xls\) is not read"):
        _read(old)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"empty.csv: the file is empty"):
        _read(empty)
    ok = tmp_path / "ok.csv"
    lon, lat = lonlat(0, 0)
    ok.write_text(f"lat,lon\n{lat},{lon}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"column 'kinh' \(for x\) not found; columns: lat, lon"):
        _read(ok, spec={"x_column": "kinh", "y_column": "lat"})


# ------------------------------------------------------------------ through the stages


def test_planner_files_with_no_extra_config(town_project, tmp_path, capsys):
    """Must show: a Vietnamese stations CSV and a hydrant XLSX given as ``files: [path]``."""
    stations = _stations_csv(tmp_path / "doi_pccc.csv")
    hydrants = _hydrant_xlsx(tmp_path / "tru_nuoc.xlsx")
    town_project.province(
        "town",
        {
            "osm": {"file": str(tmp_path / "town.osm.pbf")},
            "boundary": {"file": str(tmp_path / "boundary.geojson")},
            "stations": {"files": [str(stations)]},
            "water": {"files": [str(hydrants)]},
        },
    )
    rc = main(["water", "--province", "town", "--root", str(town_project.root), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 0, err
    out = town_project.outputs("town")
    st = gpd.read_parquet(out / "ingest" / "stations.parquet")
    from_file = st[st["source"] == "doi_pccc.csv"]
    assert from_file[["name", "status"]].to_numpy().tolist() == [
        ["Đội PCCC Kinh Bắc", "existing"],
        ["Đội PCCC Từ Sơn", "planned"],
        ["Đội đang xây", "planned"],
    ]
    ingest_rejects = pd.read_csv(out / "ingest" / "rejects.csv")
    assert ingest_rejects.to_dict(orient="records") == [
        {"file": "doi_pccc.csv", "line": 4, "reason": "no coordinates"}
    ]
    src = gpd.read_parquet(out / "water" / "sources.parquet")
    from_xlsx = src[src["origin"] == "file"].sort_values("line")
    assert from_xlsx[["kind", "line"]].to_numpy().tolist() == [
        ["hydrant", 4], ["hydrant", 5], ["water_tank", 7],
    ]  # fmt: skip
    water_rejects = pd.read_csv(out / "water" / "source_rejects.csv")
    row = water_rejects[water_rejects["file"] == "tru_nuoc.xlsx"]
    assert row[["line", "reason"]].to_dict(orient="records") == [
        {"line": 6, "reason": "no coordinates"}
    ]
    ingest = json.loads((out / "ingest" / "summary.json").read_text())
    water = json.loads((out / "water" / "summary.json").read_text())
    assert [(f["file"], f["rows"], f["used"], f["skipped"]) for f in ingest["authority_files"]] == [
        ("doi_pccc.csv", 4, 3, 1)
    ]
    assert [(f["file"], f["rows"], f["used"], f["skipped"]) for f in water["authority_files"]] == [
        ("tru_nuoc.xlsx", 4, 3, 1)
    ]
    warnings = [ln for ln in err.splitlines() if "WARNING" in ln]
    assert any(
        str(stations) in ln and "1 of 4 stations rows skipped (line 4" in ln for ln in warnings
    )
    assert any(str(hydrants) in ln and "1 of 4 water sources rows skipped" in ln for ln in warnings)


def test_water_file_without_a_type_says_how_to_fix(town_project, tmp_path, capsys):
    lon, lat = lonlat(50, 3)
    path = tmp_path / "hydrants.csv"
    path.write_text(f"lat,lon\n{lat},{lon}\n", encoding="utf-8")
    town_project.province(
        "town",
        {
            "osm": {"file": str(tmp_path / "town.osm.pbf")},
            "boundary": {"file": str(tmp_path / "boundary.geojson")},
            "water": {"files": [str(path)]},
        },
    )
    rc = main(["water", "--province", "town", "--root", str(town_project.root), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    line = next(ln for ln in err.splitlines() if ln.startswith("firegap: error:"))
    assert f"{path}: no type column (loại / type) and no default_type" in line
    town_project.province(
        "town",
        {
            "osm": {"file": str(tmp_path / "town.osm.pbf")},
            "boundary": {"file": str(tmp_path / "boundary.geojson")},
            "water": {"files": [{"path": str(path), "default_type": "trụ nước"}]},
        },
    )
    rc = main(["water", "--province", "town", "--root", str(town_project.root), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
