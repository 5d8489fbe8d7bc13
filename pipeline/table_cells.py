"""Authority-file cells: headers recognised, values parsed, raw rows read with their lines.

Headers in Vietnamese or English, with or without diacritics (:data:`COLUMN_ALIASES`); numbers
with decimal commas and thousands marks, degrees-minutes-seconds, day-first dates, OSM way ids,
statuses (``hiện có`` / ``quy hoạch``...), VN-2000 zones by name; CSV in UTF-8 (with or without
BOM), UTF-16 or Windows-1258 with any common delimiter, XLSX with a title row above the header,
and any vector file. :mod:`pipeline.tables` builds the one authority-file reader on these.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyproj import CRS
from pyproj.exceptions import CRSError

from pipeline._errors import ConfigError, InputDataError
from pipeline.boundary import read_vector
from pipeline.vn2000 import tm3_crs

if TYPE_CHECKING:
    from pathlib import Path

#: Canonical column -> header spellings, folded (see :func:`fold`): lower case, no diacritics,
#: ``đ`` as ``d``, every other run of characters as ``_``. A unit in brackets is ignored.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "name", "name_vi", "ten", "ten_don_vi", "ten_doi", "ten_tram", "ten_co_so", "ten_diem",
        "ten_tru", "ten_nguon", "ten_nguon_nuoc", "ten_duong", "ten_xa", "ten_phuong_xa",
    ),
    "status": ("status", "trang_thai", "tinh_trang", "hien_trang"),
    "type": ("type", "kind", "loai", "loai_nguon", "loai_nguon_nuoc", "phan_loai", "loai_hinh"),
    "lat": ("lat", "latitude", "vi_do", "centroid_lat", "lat_wgs84", "vi_do_wgs84"),
    "lon": (
        "lon", "lng", "long", "longitude", "kinh_do", "centroid_lon", "lon_wgs84", "kinh_do_wgs84",
    ),
    "x": ("x", "toa_do_x", "x_vn2000", "x_vn_2000", "x_m"),
    "y": ("y", "toa_do_y", "y_vn2000", "y_vn_2000", "y_m"),
    "coords": ("toa_do", "coordinates", "coords", "lat_lon", "latlon", "lat_lng"),
    "wkt": ("wkt", "geometry", "geom", "hinh_hoc"),
    "osm_id": ("osm_id", "way_id", "osm_way_id", "ma_osm"),
    "id": ("id", "ma", "ma_so", "ma_duong", "code", "ma_xa", "ma_dvhc", "ref"),
    "width_m": (
        "width_m", "width", "be_rong", "be_rong_m", "chieu_rong", "chieu_rong_m", "rong",
        "do_rong", "be_rong_mat_duong", "be_rong_duong", "measured_width_m",
    ),
    "date": (
        "date", "survey_date", "ngay", "ngay_do", "ngay_khao_sat", "thoi_diem_do", "ngay_cap_nhat",
    ),
    "population": ("population", "population_2025", "dan_so", "dan_so_2025", "so_dan"),
    "area_km2": ("area_km2", "dien_tich", "dien_tich_km2"),
    "address": ("address", "dia_chi"),
}  # fmt: skip
_ALIAS = {alias: canon for canon, aliases in COLUMN_ALIASES.items() for alias in aliases}
#: Canonical columns read as numbers (decimal comma allowed) and as dates (day first).
NUMERIC_COLUMNS = ("width_m", "population", "area_km2")
DATE_COLUMNS = ("date",)
COORDINATE_COLUMNS = ("lat", "lon", "x", "y", "coords", "wkt")

#: Status spellings (folded) -> ``existing`` / ``planned``. Under construction counts as planned:
#: it is not there yet, so it belongs in the planned-station scenario.
STATUS_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ("existing", "active", "operating", "operational", "current", "in_service", "hien_co",
         "hien_huu", "da_co", "dang_hoat_dong", "hoat_dong", "da_xay_dung", "dang_su_dung"),
        "existing",
    ),
    **dict.fromkeys(
        ("planned", "proposed", "future", "under_construction", "construction", "quy_hoach",
         "theo_quy_hoach", "du_kien", "de_xuat", "dang_xay_dung", "chua_xay_dung", "se_xay_dung"),
        "planned",
    ),
}  # fmt: skip
STATUS_HINT = "hiện có / quy hoạch / đang xây dựng, or existing / planned"

#: Central meridians of the VN-2000 3° zones of Viet Nam's provinces (degrees east).
VN_MERIDIANS = (102.0, 110.0)
#: Northings of Viet Nam (VN-2000, metres) are above this, eastings of its zones below it.
NORTHING_MIN = 800_000.0
_HEADER_SEARCH_ROWS = 10
_TEXT_SAMPLE_LINES = 20


def fold(text: object) -> str:
    """Return a header or a value as a plain key: lower case, no diacritics, ``_`` separators.

    ``"Vĩ độ"`` -> ``"vi_do"``, ``"Trạng thái"`` -> ``"trang_thai"``, ``"Trụ nước"`` ->
    ``"tru_nuoc"``.
    """
    t = unicodedata.normalize("NFKD", str(text).strip().lower().replace("đ", "d"))
    t = "".join(c for c in t if not unicodedata.combining(c))
    return re.sub(r"[^0-9a-z]+", "_", t).strip("_")


def canonical_column(header: object) -> str | None:
    """Return the canonical name of a header (``"Kinh độ (°)"`` -> ``"lon"``), or ``None``."""
    text = str(header)
    for candidate in (text, re.sub(r"\(.*?\)|\[.*?\]", " ", text)):
        canon = _ALIAS.get(fold(candidate))
        if canon is not None:
            return canon
    return None


def parse_status(raw: pd.Series) -> pd.Series:
    """Return ``existing`` / ``planned`` for each status text (``hiện có``, ``quy hoạch``...).

    Unknown or blank texts give ``None``.
    """
    status = raw.fillna("").map(fold).map(STATUS_ALIASES).astype(object)
    return status.where(status.notna(), None)


def parse_number(raw: pd.Series) -> pd.Series:
    """Parse numbers as people type them: ``3,5``, ``3.5 m``, ``2.345.678,9``, ``1 234``.

    The last of ``.`` / ``,`` is the decimal mark when both occur; a lone ``,`` is one too.
    A unit after the number is ignored. Anything else gives NaN.
    """
    text = raw.fillna("").astype(str).str.strip().str.replace(r"[\s\u00a0\u202f]", "", regex=True)
    last_dot, last_comma = text.str.rfind("."), text.str.rfind(",")
    comma_decimal = (last_comma > last_dot) & ((last_dot >= 0) | (text.str.count(",") == 1))
    text = text.where(
        ~comma_decimal, text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    )
    text = text.where(comma_decimal, text.str.replace(",", "", regex=False))
    many_dots = text.str.count(r"\.") > 1
    text = text.where(~many_dots, text.str.replace(".", "", regex=False))
    number = text.str.extract(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[^\d]*$", expand=False)
    return pd.to_numeric(number, errors="coerce")


_DMS = re.compile(
    r"^\s*(?P<d>\d+(?:[.,]\d+)?)\s*[°º:d]\s*"
    r"(?:(?P<m>\d+(?:[.,]\d+)?)\s*['\u2032\u2019m:]\s*)?"
    r"(?:(?P<s>\d+(?:[.,]\d+)?)\s*(?:\"|\u2033|\u201d|''|s)?\s*)?"
    r"(?P<h>[NSEWnsewBĐĐTđt])?\s*$"
)


def parse_degrees(raw: pd.Series) -> pd.Series:
    """Parse decimal degrees or degrees-minutes-seconds (``21°10'30"``); S and W are negative."""
    value = parse_number(raw)
    text = raw.fillna("").astype(str)
    parts = text.str.extract(_DMS)
    dms = parts["d"].notna() & value.isna()
    if dms.any():
        d, m, s = (
            pd.to_numeric(parts[k].str.replace(",", ".", regex=False), errors="coerce").fillna(0)
            for k in ("d", "m", "s")
        )
        sign = np.where(parts["h"].fillna("").str.upper().isin(["S", "W"]), -1.0, 1.0)
        value = value.where(~dms, sign * (d + m / 60 + s / 3600))
    return value


def parse_date(raw: pd.Series) -> pd.Series:
    """Parse survey dates written day first (``15/03/2024``, ``15-3-2024``) or ISO."""
    text = raw.fillna("").astype(str).str.strip()
    iso = text.str.match(r"^\d{4}-\d{1,2}-\d{1,2}")
    out = pd.to_datetime(text.where(iso), errors="coerce", format="ISO8601")
    dayfirst = pd.to_datetime(
        text.where(~iso)
        .str.replace(r"[.\-]", "/", regex=True)
        .str.extract(r"^(\d{1,2}/\d{1,2}/\d{4})", expand=False),
        errors="coerce",
        format="%d/%m/%Y",
    )
    return out.fillna(dayfirst)


def parse_osm_id(raw: pd.Series) -> pd.Series:
    """Return OSM way ids from ``123``, ``w123``, ``way/123`` or an openstreetmap.org link."""
    digits = raw.fillna("").astype(str).str.extract(r"(\d+)\s*$", expand=False)
    return pd.to_numeric(digits, errors="coerce").astype("Int64")


def resolve_crs(text: str, path: Path | None = None) -> CRS:
    """Return a CRS from an EPSG code, a name, or a VN-2000 zone given by its central meridian.

    ``"EPSG:9209"``, ``"VN-2000 / TM-3 105-30"``, ``"VN-2000 105°30'"`` and ``"vn2000 105.5"``
    all give VN-2000 / TM-3 with central meridian 105°30' (k = 0.9999), as provinces publish it.

    Raises
    ------
    ConfigError
        Unknown CRS.
    """
    m = re.match(
        r"^\s*vn[-\s]?2000\D*?(\d{3})(?:\s*[°º:\-\s]\s*(\d{1,2})\s*['\u2032\u2019]?|[.,](\d+))?\s*$",
        text.strip().lower(),
    )
    if m:
        minutes = float(f"0.{m.group(3)}") * 60 if m.group(3) else float(m.group(2) or 0)
        meridian = int(m.group(1)) + minutes / 60
        if VN_MERIDIANS[0] <= meridian <= VN_MERIDIANS[1]:
            return tm3_crs(meridian)
    try:
        return CRS.from_user_input(text)
    except CRSError as e:
        where = f"{path}: " if path else ""
        msg = (
            f"{where}unknown CRS {text!r} for its coordinates (use an EPSG code, or a VN-2000 "
            "zone such as 'VN-2000 / TM-3 105-30')"
        )
        raise ConfigError(msg) from e


# --------------------------------------------------------------------------- raw rows


@dataclass
class RawTable:
    """Cells as text (header row found), the file line of each data row, or a vector layer."""

    header: list[str]
    cells: pd.DataFrame
    lines: np.ndarray
    geoms: np.ndarray | None = None
    crs: Any = None
    note: str = ""


def _decode(path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        candidates = [("utf-8-sig", data)]
    elif data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        candidates = [("utf-16", data)]
    else:
        candidates = [("utf-8", data), ("cp1258", data)]
    for encoding, blob in candidates:
        try:
            return unicodedata.normalize("NFC", blob.decode(encoding)), encoding
        except UnicodeDecodeError:
            continue
    msg = f"{path}: not UTF-8, UTF-16 or Windows-1258 text; save it as 'CSV UTF-8'"
    raise InputDataError(msg)


def _delimiter(text: str) -> str:
    """Pick the delimiter that splits the first lines into the most rows of one width (> 1)."""
    sample = [ln for ln in text.splitlines()[:_TEXT_SAMPLE_LINES] if ln.strip()]
    best, best_score = ",", (0, 0)
    for d in (",", ";", "\t", "|"):
        widths = [len(r) for r in csv.reader(sample, delimiter=d) if any(c.strip() for c in r)]
        widths = [w for w in widths if w > 1]
        if not widths:
            continue
        mode, count = Counter(widths).most_common(1)[0]
        if (count, mode) > best_score:
            best, best_score = d, (count, mode)
    return best


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:.15g}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return unicodedata.normalize("NFC", str(value)).strip()


def _header_row(rows: list[list[str]]) -> int:
    """Return the row (of the first few) naming the most known columns, else the first."""
    scores = [
        sum(canonical_column(c) is not None for c in row if c) for row in rows[:_HEADER_SEARCH_ROWS]
    ]
    return int(np.argmax(scores)) if scores and max(scores) > 0 else 0


def _from_rows(rows: list[list[str]], line_of: list[int], path: Path) -> RawTable:
    keep = [i for i, r in enumerate(rows) if any(c.strip() for c in r)]
    rows = [rows[i] for i in keep]
    line_of = [line_of[i] for i in keep]
    if not rows:
        msg = f"{path}: the file is empty"
        raise InputDataError(msg)
    h = _header_row(rows)
    header = [c.strip() for c in rows[h]]
    width = max(len(header), *(len(r) for r in rows[h + 1 :])) if len(rows) > h + 1 else len(header)
    header += [f"column_{i + 1}" for i in range(len(header), width)]
    header = [c or f"column_{i + 1}" for i, c in enumerate(header)]
    body = [r + [""] * (width - len(r)) for r in rows[h + 1 :]]
    cells = pd.DataFrame(body, columns=pd.Index(header), dtype=object)
    note = f"header on line {line_of[h]}" if h else ""
    return RawTable(header, cells, np.asarray(line_of[h + 1 :], dtype=np.int64), note=note)


def _read_csv(path: Path) -> RawTable:
    text, encoding = _decode(path)
    delimiter = _delimiter(text)
    rows: list[list[str]] = []
    line_of: list[int] = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    start = 1
    try:
        for row in reader:
            rows.append([c.strip() for c in row])
            line_of.append(start)
            start = reader.line_num + 1
    except csv.Error as e:
        msg = f"{path}: cannot read as CSV near line {reader.line_num} ({e})"
        raise InputDataError(msg) from e
    raw = _from_rows(rows, line_of, path)
    raw.note = ", ".join(
        n
        for n in (
            f"encoding {encoding}" if encoding not in ("utf-8", "utf-8-sig") else "",
            f"delimiter {delimiter!r}" if delimiter != "," else "",
            raw.note,
        )
        if n
    )
    return raw


def _read_xlsx(path: Path, sheet: str | None) -> RawTable:
    import openpyxl  # noqa: PLC0415 - only for workbooks
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as e:
        msg = f"{path}: cannot read as an Excel workbook ({type(e).__name__}: {e})"
        raise InputDataError(msg) from e
    try:
        if sheet is not None and sheet not in book.sheetnames:
            msg = f"{path}: no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})"
            raise ConfigError(msg)
        names = [sheet] if sheet is not None else list(book.sheetnames)
        first: RawTable | None = None
        for name in names:
            rows = [
                [_cell_text(v) for v in row]
                for row in book[name].iter_rows(min_row=1, values_only=True)
            ]
            if not any(any(rows_i) for rows_i in rows):
                continue
            raw = _from_rows(rows, list(range(1, len(rows) + 1)), path)
            raw.note = ", ".join(n for n in (f"sheet {name!r}", raw.note) if n)
            if any(canonical_column(c) for c in raw.header):
                return raw
            first = first or raw
    finally:
        book.close()
    if first is None:
        msg = f"{path}: the workbook has no rows"
        raise InputDataError(msg)
    return first


def read_raw_table(path: Path, layer: str | None) -> RawTable:
    """Return a file's rows as text with their line numbers (or a vector layer's features).

    CSV / TXT / TSV, XLSX (``layer``: the sheet), or any vector file GDAL reads (``layer``).
    """
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt", ".tsv"}:
        return _read_csv(path)
    if suffix in {".xlsx", ".xlsm"}:
        return _read_xlsx(path, layer)
    if suffix == ".xls":
        msg = f"{path}: Excel 97-2003 (.xls) is not read; save it as .xlsx or CSV UTF-8"
        raise InputDataError(msg)
    gdf = read_vector(str(path), layer=layer)
    header = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    cells = pd.DataFrame(
        {c: gdf[c].map(_cell_text) for c in header}, index=pd.RangeIndex(len(gdf)), dtype=object
    )
    return RawTable(
        header,
        cells,
        np.arange(1, len(gdf) + 1, dtype=np.int64),
        geoms=gdf.geometry.to_numpy(),
        crs=gdf.crs,
    )
