"""Building footprints beyond OSM: Google Open Buildings (CSV) and Microsoft (GeoJSON lines)."""

from __future__ import annotations

import gzip
import json
import logging
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline._errors import InputDataError, MissingInputError
from pipeline.boundary import read_vector
from pipeline.paths import resolve_input

if TYPE_CHECKING:
    from pathlib import Path

    from shapely.geometry.base import BaseGeometry

    from pipeline.config import SourceFile

logger = logging.getLogger(__name__)

LINE_SUFFIXES = (".geojsonl", ".geojsons", ".geojsonseq", ".jsonl", ".ldjson", ".ndjson")


def _open_text(path: Path) -> Any:  # noqa: ANN401 - a text file object
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _first_char(path: Path) -> str:
    try:
        with _open_text(path) as fh:
            return str(fh.read(1))
    except (OSError, UnicodeDecodeError) as e:
        msg = f"{path}: cannot read ({e})"
        raise InputDataError(msg) from e


def _read_geojson_lines(path: Path) -> gpd.GeoDataFrame:
    """Microsoft Global ML Building Footprints: one GeoJSON Feature per line."""
    geoms: list[str] = []
    height: list[float] = []
    confidence: list[float] = []
    with _open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                feature = json.loads(text)
                geoms.append(json.dumps(feature["geometry"]))
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                msg = f"{path}: line {number} is not a GeoJSON feature ({e})"
                raise InputDataError(msg) from e
            props = feature.get("properties") or {}
            h = props.get("height")
            height.append(float(h) if isinstance(h, int | float) and h > 0 else np.nan)
            c = props.get("confidence")
            confidence.append(float(c) if isinstance(c, int | float) and c >= 0 else np.nan)
    return gpd.GeoDataFrame(
        {"height_m": height, "confidence": confidence},
        geometry=shapely.from_geojson(geoms),
        crs="EPSG:4326",
    )


def _read_google_csv(path: Path) -> gpd.GeoDataFrame:
    """Google Open Buildings: CSV with a WKT ``geometry`` column and a ``confidence`` column."""
    try:
        df = pd.read_csv(path, usecols=lambda c: c in {"geometry", "confidence"})
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as e:
        msg = f"{path}: cannot read as a Google Open Buildings CSV ({e})"
        raise InputDataError(msg) from e
    if "geometry" not in df.columns:
        msg = f"{path}: no 'geometry' column with WKT polygons (Google Open Buildings format)"
        raise InputDataError(msg)
    try:
        geoms = shapely.from_wkt(df["geometry"].to_numpy())
    except shapely.errors.GEOSException as e:
        msg = f"{path}: a geometry is not valid WKT ({e})"
        raise InputDataError(msg) from e
    conf = df["confidence"] if "confidence" in df.columns else np.nan
    return gpd.GeoDataFrame(
        {"height_m": np.nan, "confidence": conf}, geometry=geoms, crs="EPSG:4326"
    )


def read_footprints(source: SourceFile) -> gpd.GeoDataFrame:
    """Read one footprint file into polygons with ``height_m`` and ``confidence``.

    Parameters
    ----------
    source
        ``buildings.extra_files`` entry: a Google Open Buildings CSV (WKT ``geometry``,
        ``confidence``), a Microsoft Global ML Building Footprints file (GeoJSON lines, also as
        ``.csv.gz`` as Microsoft ships it; ``height`` of -1 means unknown), or any vector file.

    Returns
    -------
    geopandas.GeoDataFrame
        In the file's CRS.
    """
    path = resolve_input(source.path)
    if not path.exists():
        msg = f"{path}: building footprint file not found (buildings.extra_files)"
        raise MissingInputError(msg)
    name = path.name.lower()
    stem_suffix = name.removesuffix(".gz")
    if stem_suffix.endswith(LINE_SUFFIXES) or (
        stem_suffix.endswith(".csv") and _first_char(path) == "{"
    ):
        gdf = _read_geojson_lines(path)
    elif stem_suffix.endswith(".csv"):
        gdf = _read_google_csv(path)
    else:
        gdf = read_vector(str(path), layer=source.layer)
        gdf = gdf.assign(
            height_m=pd.to_numeric(gdf.get("height", np.nan), errors="coerce"),
            confidence=pd.to_numeric(gdf.get("confidence", np.nan), errors="coerce"),
        )[["height_m", "confidence", "geometry"]]
    if gdf.empty:
        msg = f"{path}: no building footprints in the file"
        raise InputDataError(msg)
    return gdf


def merge_footprints(
    osm: gpd.GeoDataFrame,
    sources: list[SourceFile],
    boundary: BaseGeometry,
    *,
    crs: str,
    min_confidence: float,
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Add footprints from other datasets where OSM has no building.

    Parameters
    ----------
    osm
        OSM buildings (project CRS), kept as they are.
    sources
        Extra footprint files, in priority order.
    boundary
        Province polygon (project CRS); footprints whose inside point is outside are dropped.
    crs
        Project CRS.
    min_confidence
        Footprints with a lower ``confidence`` are dropped (missing confidence is kept).

    Returns
    -------
    buildings, counts
        ``buildings`` has a ``source`` column (``osm`` or the file name) and ``height_m``;
        ``counts`` how many each file added.
    """
    frames = [osm.assign(source="osm")]
    counts: dict[str, int] = {}
    shapely.prepare(boundary)
    for source in sources:
        path = resolve_input(source.path)
        extra = read_footprints(source).to_crs(crs)
        geoms = extra.geometry.to_numpy()
        polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])  # Polygon, MultiPolygon
        confident = ~(extra["confidence"].to_numpy(dtype=float) < min_confidence)
        keep = polygonal & confident
        keep[keep] = shapely.contains(boundary, shapely.point_on_surface(geoms[keep]))
        taken = pd.concat(frames, ignore_index=True).geometry.to_numpy()
        if len(taken) and keep.any():
            tree = shapely.STRtree(taken)
            hits, _ = tree.query(geoms[keep], predicate="intersects")
            overlapping = np.zeros(int(keep.sum()), dtype=bool)
            overlapping[hits] = True
            keep[np.flatnonzero(keep)[overlapping]] = False
        added = extra[keep].assign(source=path.name, building="yes")
        counts[path.name] = len(added)
        logger.info(
            "footprints: %s: %s of %s added (%s below confidence %.2f, the rest overlap "
            "buildings already taken or lie outside)",
            path.name,
            f"{len(added):,}",
            f"{len(extra):,}",
            f"{int((~confident).sum()):,}",
            min_confidence,
        )
        frames.append(added)
    return pd.concat(frames, ignore_index=True), counts
