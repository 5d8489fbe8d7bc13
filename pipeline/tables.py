"""Authority point files (CSV, XLSX, GeoJSON, GPKG): read, validate row by row, report bad rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

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

logger = logging.getLogger(__name__)

X_NAMES = ("lon", "longitude", "lng", "x", "kinh_do", "kinh độ")
Y_NAMES = ("lat", "latitude", "y", "vi_do", "vĩ độ")
REJECT_COLUMNS = ["file", "line", "reason"]


@dataclass
class PointTable:
    """Good rows as points in the target CRS, and the bad rows with line numbers and reasons."""

    points: gpd.GeoDataFrame
    rejects: pd.DataFrame


def _pick(columns: pd.Index, wanted: str | None, names: tuple[str, ...], path: Path) -> str:
    if wanted is not None:
        if wanted not in columns:
            msg = f"{path}: column {wanted!r} not found (columns: {', '.join(map(str, columns))})"
            raise ConfigError(msg)
        return wanted
    lower = {str(c).strip().lower(): str(c) for c in columns}
    for name in names:
        if name in lower:
            return lower[name]
    msg = (
        f"{path}: no coordinate column; name one of {', '.join(names)} "
        "or set x_column / y_column in the config"
    )
    raise InputDataError(msg)


def _read_table(path: Path, layer: str | None) -> tuple[pd.DataFrame, int]:
    """Return the rows and the file line number of the first data row."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig"), 2
        if suffix in {".xlsx", ".xls"}:
            return pd.read_excel(path, dtype=str, sheet_name=layer or 0).fillna(""), 2
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        msg = f"{path}: cannot read the table ({e})"
        raise InputDataError(msg) from e
    gdf = read_vector(str(path), layer=layer)
    return gdf, 1


def _geometry_problems(geoms: np.ndarray, *, areas: bool) -> np.ndarray:
    """Return why each geometry cannot be a good row (``""`` when it can)."""
    kinds = [0, 1, 3, 4, 5, 6] if areas else [0]
    out = np.full(len(geoms), "", dtype=object)
    bad = pd.isna(geoms) | ~np.isin(shapely.get_type_id(geoms), kinds)
    out[bad] = "geometry is not a point, line or polygon" if areas else "geometry is not a point"
    if areas:
        out[pd.isna(geoms)] = "no geometry"
    out[~bad & shapely.is_empty(geoms)] = "empty geometry"
    return out


def read_point_table(
    path_text: str,
    *,
    crs: str,
    source_crs: str = "EPSG:4326",
    x_column: str | None = None,
    y_column: str | None = None,
    layer: str | None = None,
    required: tuple[str, ...] = (),
    areas: bool = False,
) -> PointTable:
    """Read an authority point file; keep the good rows and list the bad ones.

    Parameters
    ----------
    path_text
        CSV or XLSX with coordinate columns, or a GeoJSON / GPKG of points; relative to the
        project root or absolute.
    crs
        Target (projected) CRS.
    source_crs
        CRS of the coordinate columns: ``EPSG:4326`` for lon/lat, or a VN-2000 code
        (for example ``EPSG:9209``, VN-2000 / TM-3 105-30) for x/y.
    x_column, y_column
        Coordinate columns; found by common names when not given.
    layer
        Sheet or layer name.
    required
        Columns that must be non-blank in a good row.
    areas
        Keep lines and polygons of vector files too (for example ponds drawn as areas);
        by default only points are good rows.

    Returns
    -------
    PointTable
        ``points`` keeps the file's columns plus ``source_file`` and ``source_line``;
        ``rejects`` has ``file, line, reason``.
    """
    path = resolve_input(path_text)
    if not path.exists():
        msg = f"{path}: file not found (set in the province config)"
        raise MissingInputError(msg)
    try:
        src = CRS.from_user_input(source_crs)
    except CRSError as e:
        msg = f"{path}: unknown CRS {source_crs!r} for its coordinates"
        raise ConfigError(msg) from e
    df, first_line = _read_table(path, layer)
    lines = np.arange(len(df)) + first_line
    reasons = pd.Series("", index=df.index, dtype=object)
    if isinstance(df, gpd.GeoDataFrame):
        geoms = df.geometry.to_numpy()
        problems = _geometry_problems(geoms, areas=areas)
        bad = problems != ""
        reasons[bad] = problems[bad]
        frame = pd.DataFrame(df.drop(columns="geometry"))
        pts = gpd.GeoSeries(df.geometry, crs=df.crs)
        good_geom = ~bad
    else:
        xcol = _pick(df.columns, x_column, X_NAMES if src.is_geographic else ("x",), path)
        ycol = _pick(df.columns, y_column, Y_NAMES if src.is_geographic else ("y",), path)
        blank = (df[xcol].str.strip() == "") | (df[ycol].str.strip() == "")
        x = pd.to_numeric(df[xcol].str.replace(",", ".", regex=False), errors="coerce")
        y = pd.to_numeric(df[ycol].str.replace(",", ".", regex=False), errors="coerce")
        reasons[blank] = "no coordinates"
        reasons[~blank & (x.isna() | y.isna())] = "coordinates are not numbers"
        if src.is_geographic:
            out_of_range = x.notna() & y.notna() & ((x.abs() > 180) | (y.abs() > 90))  # noqa: PLR2004
            reasons[out_of_range & (reasons == "")] = "coordinates out of range for lon/lat"
        good_geom = (reasons == "").to_numpy()
        frame = df
        xy = np.column_stack([x.fillna(0).to_numpy(), y.fillna(0).to_numpy()])
        pts = gpd.GeoSeries(shapely.points(xy), crs=src)
    for col in required:
        if col not in frame.columns:
            msg = f"{path}: required column {col!r} is missing"
            raise InputDataError(msg)
        missing = frame[col].astype(str).str.strip().isin(["", "nan", "None"])
        reasons[missing & (reasons == "")] = f"missing {col}"
    good = (reasons == "").to_numpy() & good_geom
    points = gpd.GeoDataFrame(
        frame[good].copy(), geometry=pts[good].to_crs(crs).to_numpy(), crs=crs
    )
    points["source_file"] = path.name
    points["source_line"] = lines[good]
    rejects = pd.DataFrame(
        {"file": path.name, "line": lines[~good], "reason": reasons[~good].to_numpy()},
        columns=REJECT_COLUMNS,
    )
    if len(rejects):
        logger.warning(
            "%s: %d of %d rows rejected (first: line %d, %s)",
            path,
            len(rejects),
            len(df),
            rejects["line"].iloc[0],
            rejects["reason"].iloc[0],
        )
    return PointTable(points=points, rejects=rejects)
