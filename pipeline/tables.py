"""Authority files as planners write them (CSV, XLSX, GeoJSON, GPKG): one reader, row by row.

Every authority file (fire stations, water sources, public fire points, commune tables, measured
widths) goes through :func:`read_authority_file`: the encoding (UTF-8 with or without BOM, UTF-16,
Windows-1258), the delimiter (``,`` ``;`` tab ``|``), a title row above the header, headers in
Vietnamese or English with or without diacritics, decimal commas, degrees-minutes-seconds and
VN-2000 x/y are recognised without configuration. Rows that cannot be used are kept with their
line number and the reason, so the caller writes them to a rejects CSV.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from pipeline._errors import ConfigError, InputDataError, MissingInputError
from pipeline.osm_tags import parse_length_m
from pipeline.paths import resolve_input
from pipeline.table_cells import (
    COORDINATE_COLUMNS,
    DATE_COLUMNS,
    NORTHING_MIN,
    NUMERIC_COLUMNS,
    RawTable,
    canonical_column,
    fold,
    parse_date,
    parse_degrees,
    parse_number,
    parse_osm_id,
    read_raw_table,
    resolve_crs,
)

if TYPE_CHECKING:
    from pathlib import Path

    from shapely.geometry.base import BaseGeometry

    from pipeline.config import SourceFile

logger = logging.getLogger(__name__)

REJECT_COLUMNS = ["file", "line", "reason"]

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


def _columns(raw: RawTable, spec: SourceFile, path: Path) -> dict[str, str]:
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
    raw: RawTable, cols: dict[str, str], spec: SourceFile, path: Path
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
        if ok.any() and (x[ok] > NORTHING_MIN).all() and (y[ok] < NORTHING_MIN).all():
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
    raw: RawTable, geometry: str, crs: str, reasons: np.ndarray
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
    raw: RawTable, column: str, src: CRS, *, geometry: str, crs: str, reasons: np.ndarray
) -> tuple[np.ndarray, str]:
    text = raw.cells[column].fillna("").astype(str).str.strip()
    blank = (text == "").to_numpy()
    geoms = shapely.from_wkt(text.where(~blank).to_numpy(), on_invalid="ignore")
    _flag(reasons, ~blank & pd.isna(geoms), "geometry is not valid WKT")
    if geometry != "optional":
        _flag(reasons, blank, "no geometry")
    return gpd.GeoSeries(geoms, crs=src).to_crs(crs).to_numpy(), "WKT geometries"


def _point_geometries(
    raw: RawTable,
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
    raw: RawTable, cols: dict[str, str], required: tuple[str, ...], path: Path, reasons: np.ndarray
) -> pd.DataFrame:
    """Return the cells under canonical names; numbers, dates, OSM ids parsed; required checked."""
    frame = raw.cells.rename(columns={h: c for c, h in cols.items() if c not in COORDINATE_COLUMNS})
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
        *(
            (c, parse_length_m if c == "width_m" else parse_number, f"{c} is not a number")
            for c in NUMERIC_COLUMNS
        ),
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
    raw = read_raw_table(path, spec.layer)
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
