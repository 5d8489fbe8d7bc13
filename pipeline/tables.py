"""Authority files as planners write them (CSV, XLSX, GeoJSON, GPKG): one reader, row by row.

Every authority file (fire stations, water sources, public fire points, commune tables, measured
widths) goes through :func:`read_authority_file`: the encoding (UTF-8 with or without BOM, UTF-16,
Windows-1258), the delimiter (``,`` ``;`` tab ``|``), a title row above the header, headers in
Vietnamese or English with or without diacritics, decimal commas, degrees-minutes-seconds and
VN-2000 x/y are recognised without configuration. Rows that cannot be used are kept with their
line number and the reason, so the caller writes them to a rejects CSV.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from pipeline._errors import ConfigError, InputDataError, MissingInputError
from pipeline.boundary import read_vector
from pipeline.paths import resolve_input

if TYPE_CHECKING:
    from pathlib import Path

    from shapely.geometry.base import BaseGeometry

    from pipeline.config import SourceFile

logger = logging.getLogger(__name__)

REJECT_COLUMNS = ["file", "line", "reason"]

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
_COORDINATE_COLUMNS = ("lat", "lon", "x", "y", "coords", "wkt")

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

#: Northings of Viet Nam (VN-2000, metres) are above this, eastings of its zones below it.
_NORTHING_MIN = 800_000.0
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
        degrees = int(m.group(1))
        minutes_value = float(f"0.{m.group(3)}") * 60 if m.group(3) else float(m.group(2) or 0)
        name = f"VN-2000 / TM-3 {degrees}-{round(minutes_value):02d}"
        try:
            return CRS.from_user_input(name)
        except CRSError:
            from pyproj.crs import ProjectedCRS  # noqa: PLC0415 - rare path
            from pyproj.crs.coordinate_operation import (  # noqa: PLC0415
                TransverseMercatorConversion,
            )

            return ProjectedCRS(
                name=name,
                conversion=TransverseMercatorConversion(
                    latitude_natural_origin=0,
                    longitude_natural_origin=degrees + minutes_value / 60,
                    false_easting=500_000,
                    false_northing=0,
                    scale_factor_natural_origin=0.9999,
                ),
                geodetic_crs=CRS.from_epsg(4756),
            )
    try:
        return CRS.from_user_input(text)
    except CRSError as e:
        where = f"{path}: " if path else ""
        msg = (
            f"{where}unknown CRS {text!r} for its coordinates (use an EPSG code, or a VN-2000 "
            "zone such as 'VN-2000 / TM-3 105-30')"
        )
        raise ConfigError(msg) from e


# --------------------------------------------------------------------------- raw cells


@dataclass
class _Raw:
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


def _from_rows(rows: list[list[str]], line_of: list[int], path: Path) -> _Raw:
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
    return _Raw(header, cells, np.asarray(line_of[h + 1 :], dtype=np.int64), note=note)


def _read_csv(path: Path) -> _Raw:
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


def _read_xlsx(path: Path, sheet: str | None) -> _Raw:
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
        first: _Raw | None = None
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


def _read_raw(path: Path, layer: str | None) -> _Raw:
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
    return _Raw(
        header,
        cells,
        np.arange(1, len(gdf) + 1, dtype=np.int64),
        geoms=gdf.geometry.to_numpy(),
        crs=gdf.crs,
    )


# --------------------------------------------------------------------------- the table


@dataclass
class AuthorityTable:
    """The usable rows of one authority file and the rejected ones, with line numbers.

    ``rows`` holds canonical columns (``name``, ``status``, ``type``, ``id``, ``osm_id``,
    ``width_m``, ``date``, ``population``...) where the file has them, the file's other columns
    under their own headers, ``source_file``, ``source_line`` and the geometry in the project
    CRS (``None`` for a row without one when geometry is optional). For a vector file the
    "line" is the feature number (1 = first feature). ``rejects`` has ``file, line, reason``.
    """

    path: Path
    what: str
    rows: gpd.GeoDataFrame
    rejects: pd.DataFrame
    n_rows: int
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def file(self) -> str:
        """The file's name as rejects and summaries show it."""
        return self.path.name

    def reject(self, mask: np.ndarray | pd.Series, reason: str | np.ndarray | pd.Series) -> int:
        """Move the rows where ``mask`` holds to the rejects with ``reason``; return how many."""
        bad = np.asarray(mask, dtype=bool)
        if not bad.any():
            return 0
        why = reason if isinstance(reason, str) else np.asarray(reason, dtype=object)[bad]
        self.rejects = pd.concat(
            [
                self.rejects,
                pd.DataFrame(
                    {
                        "file": self.file,
                        "line": self.rows["source_line"].to_numpy()[bad],
                        "reason": why,
                    },
                    columns=REJECT_COLUMNS,
                ),
            ],
            ignore_index=True,
        )
        self.rows = self.rows[~bad]
        return int(bad.sum())

    def reject_outside(self, boundary: BaseGeometry) -> int:
        """Reject rows whose geometry (a point on its surface) lies outside ``boundary``."""
        geoms = self.rows.geometry.to_numpy()
        has = ~pd.isna(geoms)
        shapely.prepare(boundary)
        inside = np.ones(len(geoms), dtype=bool)
        inside[has] = shapely.contains(boundary, shapely.point_on_surface(geoms[has]))
        return self.reject(~inside, "outside the province boundary")

    def stats(self) -> dict[str, Any]:
        """Rows read, used and skipped (with the reasons counted), for stage summaries."""
        return {
            "file": self.file,
            "what": self.what,
            "rows": self.n_rows,
            "used": len(self.rows),
            "skipped": len(self.rejects),
            "skipped_by_reason": self.rejects["reason"].value_counts().to_dict(),
        }

    def finish(self) -> AuthorityTable:
        """Log the result (a WARNING naming the file when rows were skipped); refuse no usable row.

        Raises
        ------
        InputDataError
            The file has no usable row: the message counts the reasons.
        """
        n_bad, n = len(self.rejects), self.n_rows
        if not len(self.rows):
            reasons = "; ".join(
                f"{c} x {r}" for r, c in self.rejects["reason"].value_counts().head(3).items()
            )
            msg = (
                f"{self.path}: no usable row among {n} ({self.what}): {reasons or 'no data rows'}"
                f"{'; first at line ' + str(self.rejects['line'].iloc[0]) if n_bad else ''}"
            )
            raise InputDataError(msg)
        if n_bad:
            first = self.rejects.sort_values("line", kind="stable").head(3)
            examples = "; ".join(
                f"line {ln}: {r}" for ln, r in zip(first["line"], first["reason"], strict=True)
            )
            logger.warning(
                "%s: %d of %d %s rows skipped (%s%s); all are listed in the rejects CSV",
                self.path,
                n_bad,
                n,
                self.what,
                examples,
                "; ..." if n_bad > len(first) else "",
            )
        logger.info("%s: %d of %d %s rows used", self.file, len(self.rows), n, self.what)
        return self


def _columns(raw: _Raw, spec: SourceFile, path: Path) -> dict[str, str]:
    """Canonical name -> header, detected, then overridden by the file's config entry."""
    found: dict[str, str] = {}
    for header in raw.header:
        canon = canonical_column(header)
        if canon is not None and canon not in found:
            found[canon] = header
    overrides = {
        **spec.columns,
        **{
            k: v
            for k, v in (("x", spec.x_column), ("y", spec.y_column), ("type", spec.type_column))
            if v is not None
        },
    }
    by_fold = {fold(h): h for h in raw.header}
    for canon, header in overrides.items():
        actual = header if header in raw.header else by_fold.get(fold(header))
        if actual is None:
            msg = (
                f"{path}: column {header!r} (for {canon}) not found; columns: "
                f"{', '.join(raw.header)}"
            )
            raise ConfigError(msg)
        found[canon] = actual
    if spec.x_column is not None and spec.y_column is not None:
        for k in ("lat", "lon", "coords", "wkt"):
            found.pop(k, None)
    return found


def _looks_like_degrees(x: pd.Series, y: pd.Series) -> bool:
    ok = x.notna() & y.notna()
    return bool(ok.any() and ((x[ok].abs() <= 180) & (y[ok].abs() <= 90)).mean() > 0.5)  # noqa: PLR2004


def _coordinates(
    raw: _Raw, cols: dict[str, str], spec: SourceFile, path: Path
) -> tuple[np.ndarray, np.ndarray, CRS | None, str]:
    """Return x, y (NaN where missing), their CRS, and what was read (for the log)."""
    n = len(raw.cells)

    def cell(header: str) -> pd.Series:
        return raw.cells[header]

    src = resolve_crs(spec.crs, path)
    explicit = spec.x_column is not None and spec.y_column is not None
    if not explicit and "lat" in cols and "lon" in cols:
        lat, lon = parse_degrees(cell(cols["lat"])), parse_degrees(cell(cols["lon"]))
        ok = lat.notna() & lon.notna()
        if ok.any() and ((lat[ok].abs() > 90) & (lon[ok].abs() <= 90)).all():  # noqa: PLR2004
            logger.warning(
                "%s: latitude and longitude columns are swapped; read the other way", path
            )
            lat, lon = lon, lat
        geo = src if src.is_geographic else CRS.from_epsg(4326)
        return lon.to_numpy(float), lat.to_numpy(float), geo, "lat/lon"
    if "x" in cols and "y" in cols:
        x, y = parse_number(cell(cols["x"])), parse_number(cell(cols["y"]))
        if explicit:
            return x.to_numpy(float), y.to_numpy(float), src, f"{cols['x']}/{cols['y']}"
        if _looks_like_degrees(x, y):
            geo = src if src.is_geographic else CRS.from_epsg(4326)
            return x.to_numpy(float), y.to_numpy(float), geo, "x/y as lon/lat degrees"
        if src.is_geographic:
            msg = (
                f"{path}: x/y are metres (VN-2000?) but no zone is given: set this file's crs, "
                "e.g. files: [{path: ..., crs: 'VN-2000 / TM-3 105-30'}] (the province's "
                "central meridian)"
            )
            raise ConfigError(msg)
        ok = x.notna() & y.notna()
        if ok.any() and (x[ok] > _NORTHING_MIN).all() and (y[ok] < _NORTHING_MIN).all():
            logger.info("%s: X is the northing (VN-2000 convention): read as y", path)
            x, y = y, x
        return x.to_numpy(float), y.to_numpy(float), src, f"x/y in {src.name}"
    if "coords" in cols:
        pair = (
            cell(cols["coords"])
            .fillna("")
            .str.extract(r"^\s*\(?\s*(-?\d+(?:\.\d+)?)\s*[,;\s]\s*(-?\d+(?:\.\d+)?)\s*\)?\s*$")
        )
        a = pd.to_numeric(pair[0], errors="coerce")
        b = pd.to_numeric(pair[1], errors="coerce")
        lat_first = ~((a.abs() > 90) & (b.abs() <= 90))  # noqa: PLR2004 - "lat, lon" as maps copy it
        lon = b.where(lat_first, a)
        lat = a.where(lat_first, b)
        return lon.to_numpy(float), lat.to_numpy(float), CRS.from_epsg(4326), "lat, lon pairs"
    return np.full(n, np.nan), np.full(n, np.nan), None, ""


def _flag(reasons: np.ndarray, mask: np.ndarray, reason: str | np.ndarray) -> None:
    """Give ``reason`` to the rows in ``mask`` that have none yet (the first reason wins)."""
    todo = np.asarray(mask, dtype=bool) & (reasons == "")
    reasons[todo] = reason if isinstance(reason, str) else np.asarray(reason, dtype=object)[todo]


def _vector_geometries(
    raw: _Raw, geometry: str, crs: str, reasons: np.ndarray
) -> tuple[np.ndarray, str]:
    geoms = np.asarray(raw.geoms, dtype=object)
    missing = pd.isna(geoms) | shapely.is_empty(geoms)
    kinds = [0, 1, 3, 4, 5, 6] if geometry != "point" else [0]
    wrong = ~missing & ~np.isin(shapely.get_type_id(geoms), kinds)
    _flag(reasons, wrong, "geometry is not a point" if geometry == "point" else "bad geometry")
    if geometry != "optional":
        _flag(reasons, missing, "no geometry")
    geoms[missing | wrong] = None
    return gpd.GeoSeries(geoms, crs=raw.crs).to_crs(crs).to_numpy(), "geometries"


def _wkt_geometries(
    raw: _Raw, column: str, src: CRS, *, geometry: str, crs: str, reasons: np.ndarray
) -> tuple[np.ndarray, str]:
    text = raw.cells[column].fillna("").astype(str).str.strip()
    blank = (text == "").to_numpy()
    geoms = shapely.from_wkt(text.where(~blank).to_numpy(), on_invalid="ignore")
    _flag(reasons, ~blank & pd.isna(geoms), "geometry is not valid WKT")
    if geometry != "optional":
        _flag(reasons, blank, "no geometry")
    return gpd.GeoSeries(geoms, crs=src).to_crs(crs).to_numpy(), "WKT geometries"


def _point_geometries(
    raw: _Raw,
    cols: dict[str, str],
    spec: SourceFile,
    path: Path,
    *,
    geometry: str,
    crs: str,
    reasons: np.ndarray,
) -> tuple[np.ndarray, str]:
    x, y, src, how = _coordinates(raw, cols, spec, path)
    out = np.full(len(raw.cells), None, dtype=object)
    if src is None:
        if geometry != "optional":
            msg = (
                f"{path}: no coordinate columns (looked for vĩ độ/kinh độ, lat/lon, x/y, tọa độ; "
                f"columns: {', '.join(raw.header)}); name them in the config (x_column, y_column)"
            )
            raise InputDataError(msg)
        return out, "no coordinates"
    have = ~np.isnan(x) & ~np.isnan(y)
    xy_cols = [cols[k] for k in ("lat", "lon", "x", "y", "coords") if k in cols]
    filled = raw.cells[xy_cols].fillna("").astype(str).apply(lambda s: s.str.strip() != "")
    all_blank = ~filled.any(axis=1).to_numpy()
    some_blank = ~filled.all(axis=1).to_numpy()
    _flag(
        reasons,
        (all_blank & (geometry != "optional")) | (~all_blank & some_blank),
        "no coordinates",
    )
    _flag(reasons, ~have & ~all_blank, "coordinates are not numbers")
    if src.is_geographic:
        out_of_range = have & ((np.abs(x) > 180) | (np.abs(y) > 90))  # noqa: PLR2004
        _flag(reasons, out_of_range, "coordinates out of range for lon/lat")
        have &= ~out_of_range
    out[have] = gpd.GeoSeries(shapely.points(x[have], y[have]), crs=src).to_crs(crs).to_numpy()
    return out, how


def _canonical_frame(
    raw: _Raw, cols: dict[str, str], required: tuple[str, ...], path: Path, reasons: np.ndarray
) -> pd.DataFrame:
    """Return the cells under canonical names; numbers, dates, OSM ids parsed; required checked."""
    frame = raw.cells.rename(
        columns={h: c for c, h in cols.items() if c not in _COORDINATE_COLUMNS}
    )
    frame = frame.loc[:, ~frame.columns.duplicated()].copy()
    for c in required:
        if c not in frame.columns:
            msg = (
                f"{path}: no {c} column (columns: {', '.join(raw.header)}); "
                f"name it in the config (columns: {{{c}: <header>}})"
            )
            raise InputDataError(msg)
        _flag(
            reasons, (frame[c].fillna("").astype(str).str.strip() == "").to_numpy(), f"missing {c}"
        )
    parsers = (
        *((c, parse_number, f"{c} is not a number") for c in NUMERIC_COLUMNS),
        *((c, parse_date, f"{c} is not a date (dd/mm/yyyy)") for c in DATE_COLUMNS),
    )
    for c, parse, problem in parsers:
        if c in frame.columns:
            text = frame[c].fillna("").astype(str)
            value = parse(text)
            if c in required:
                _flag(reasons, ((text.str.strip() != "") & value.isna()).to_numpy(), problem)
            frame[c] = value.to_numpy()
    if "osm_id" in frame.columns:
        frame["osm_id"] = parse_osm_id(frame["osm_id"]).to_numpy()
    return frame


def read_authority_file(
    spec: SourceFile,
    *,
    crs: str,
    what: str,
    geometry: Literal["point", "any", "optional"] = "point",
    required: tuple[str, ...] = (),
) -> AuthorityTable:
    """Read an authority file; keep its usable rows and list the others with their lines.

    Parameters
    ----------
    spec
        The file's config entry (``files: [path]`` is ``SourceFile(path=...)``): ``crs`` of
        x/y columns (an EPSG code or a VN-2000 zone), optional ``layer`` (sheet or layer),
        ``columns`` (canonical name -> header) and ``x_column`` / ``y_column`` /
        ``type_column`` overrides. Without overrides the columns are recognised by their
        headers (:data:`COLUMN_ALIASES`).
    crs
        The project CRS the geometries are returned in.
    what
        What the file holds, for messages and summaries (``"stations"``, ``"water sources"``).
    geometry
        ``"point"``: every row needs a point; ``"any"``: lines and polygons of vector files
        (and WKT) are kept too; ``"optional"``: rows without coordinates keep a ``None``
        geometry but need an ``id`` or ``osm_id`` instead (measured widths keyed by way).
    required
        Canonical columns every usable row must fill (a missing column is an error). Numeric
        ones (:data:`NUMERIC_COLUMNS`) must parse as numbers, dates as dates.

    Returns
    -------
    AuthorityTable
        Call :meth:`AuthorityTable.finish` once the caller's own checks are done.

    Raises
    ------
    MissingInputError, InputDataError, ConfigError
        Missing or unreadable file, no coordinate column, a configured column that is not
        there, x/y in metres with no zone.
    """
    path = resolve_input(spec.path)
    if not path.exists():
        msg = f"{path}: file not found (set in the province config)"
        raise MissingInputError(msg)
    raw = _read_raw(path, spec.layer)
    cols = _columns(raw, spec, path)
    n = len(raw.cells)
    reasons = np.full(n, "", dtype=object)
    has_xy = {"lat", "lon"} <= cols.keys() or {"x", "y"} <= cols.keys() or "coords" in cols
    if raw.geoms is not None:
        out, how = _vector_geometries(raw, geometry, crs, reasons)
    elif "wkt" in cols and not has_xy:
        src = resolve_crs(spec.crs, path)
        out, how = _wkt_geometries(
            raw, cols["wkt"], src, geometry=geometry, crs=crs, reasons=reasons
        )
    else:
        out, how = _point_geometries(
            raw, cols, spec, path, geometry=geometry, crs=crs, reasons=reasons
        )
    frame = _canonical_frame(raw, cols, required, path, reasons)
    if geometry == "optional":
        keyed = np.zeros(n, dtype=bool)
        for k in ("id", "osm_id"):
            if k in frame.columns:
                keyed |= (frame[k].notna() & (frame[k].astype(str).str.strip() != "")).to_numpy()
        _flag(reasons, pd.isna(out) & ~keyed, "no coordinates and no id")
    frame["source_file"] = path.name
    frame["source_line"] = raw.lines
    good = reasons == ""
    rows = gpd.GeoDataFrame(frame[good].reset_index(drop=True), geometry=list(out[good]), crs=crs)
    rejects = pd.DataFrame(
        {"file": path.name, "line": raw.lines[~good], "reason": reasons[~good]},
        columns=REJECT_COLUMNS,
    )
    logger.info(
        "%s: %d %s rows (%s%s; columns %s)",
        path.name,
        n,
        what,
        how,
        f", {raw.note}" if raw.note else "",
        ", ".join(f"{c}={h!r}" for c, h in cols.items()) or "none recognised",
    )
    return AuthorityTable(path=path, what=what, rows=rows, rejects=rejects, n_rows=n, columns=cols)


def rejects_frame(tables: list[AuthorityTable], *extra: pd.DataFrame) -> pd.DataFrame:
    """Return the rejected rows of ``tables`` and of ``extra`` frames as one frame."""
    frames = [t.rejects for t in tables] + [e for e in extra if len(e)]
    if not frames or not any(len(f) for f in frames):
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
    else:
        out = pd.concat([f for f in frames if len(f)], ignore_index=True)
    out["line"] = out["line"].astype("Int64")
    return out.reset_index(drop=True)
