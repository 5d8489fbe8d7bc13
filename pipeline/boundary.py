"""The province boundary: read, check and project it (file, OSM admin area, or data hull)."""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import box

from pipeline._errors import ConfigError, InputDataError, MissingInputError
from pipeline.paths import resolve_input

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from pipeline.config import BoundaryConfig
    from pipeline.osm_read import OsmLayers

logger = logging.getLogger(__name__)

_POLYGONAL = ("Polygon", "MultiPolygon")


def read_vector(path_text: str, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file (GeoJSON, GPKG, shapefile...) with errors that name the file.

    Parameters
    ----------
    path_text
        Path from a config, relative to the project root or absolute.
    layer
        Layer of a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    path = resolve_input(path_text)
    if not path.exists():
        msg = f"{path}: file not found (set in the province config)"
        raise MissingInputError(msg)
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as e:
        msg = f"{path}: cannot read as a vector file ({e})"
        raise InputDataError(msg) from e
    if gdf.empty:
        msg = f"{path}: the layer has no features"
        raise InputDataError(msg)
    if gdf.crs is None:
        msg = f"{path}: the file has no CRS; write it with one (GeoJSON is WGS84 / EPSG:4326)"
        raise InputDataError(msg)
    if gdf.crs.is_geographic:
        minx, miny, maxx, maxy = gdf.total_bounds
        if min(minx, miny) < -180 or maxx > 180 or maxy > 90 or miny < -90:  # noqa: PLR2004
            msg = (
                f"{path}: wrong CRS: it says {gdf.crs.to_string()} (degrees) but the coordinates "
                f"({minx:.0f}, {miny:.0f} .. {maxx:.0f}, {maxy:.0f}) are not longitude/latitude"
            )
            raise InputDataError(msg)
    return gdf


def _polygon_from_file(cfg: BoundaryConfig, crs: str) -> BaseGeometry:
    assert cfg.file is not None  # noqa: S101 - checked by the caller
    gdf = read_vector(cfg.file, layer=cfg.layer)
    path = resolve_input(cfg.file)
    if cfg.field is not None:
        if cfg.field not in gdf.columns:
            fields = ", ".join(c for c in gdf.columns if c != "geometry")
            msg = f"{path}: boundary.field {cfg.field!r} is not a column (columns: {fields})"
            raise ConfigError(msg)
        values = gdf[cfg.field].astype(str).map(_nfc)
        selected = gdf[values == _nfc(str(cfg.value))]
        if selected.empty:
            close = difflib.get_close_matches(_nfc(str(cfg.value)), values.unique().tolist(), n=3)
            hint = f" (close: {', '.join(close)})" if close else ""
            msg = f"{path}: no feature has {cfg.field} = {cfg.value!r}{hint}"
            raise InputDataError(msg)
        gdf = selected
    polygonal = gdf.geom_type.isin(_POLYGONAL)
    if not polygonal.any():
        kinds = ", ".join(sorted(set(gdf.geom_type.dropna())))
        msg = f"{path}: boundary has no polygon (geometry types: {kinds or 'none'})"
        raise InputDataError(msg)
    gdf = gdf[polygonal].to_crs(crs)
    geoms = gdf.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        logger.warning("boundary: %s: repaired %d invalid polygon(s)", path, int(invalid.sum()))
        geoms = shapely.make_valid(geoms)
    polygon = shapely.union_all(geoms)
    polygon = _polygonal_part(polygon)
    if polygon.is_empty or polygon.area == 0:
        msg = f"{path}: boundary polygon is empty after repair"
        raise InputDataError(msg)
    return polygon


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _polygonal_part(geom: BaseGeometry) -> BaseGeometry:
    if geom.geom_type in _POLYGONAL:
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in _POLYGONAL]
    return shapely.union_all(parts) if parts else shapely.Polygon()


#: Vietnamese unit words that OSM names start with ("Tỉnh Bắc Ninh", "Phường Bắc Giang").
UNIT_PREFIXES = (
    "thành phố", "thị trấn", "thị xã", "đặc khu", "phường", "quận", "huyện", "tỉnh", "xã",
)  # fmt: skip


def split_unit_name(name: object) -> tuple[str, str]:
    """Split ``"Phường Bắc Giang"`` into ``("phường", "Bắc Giang")``; ``("", name)`` otherwise."""
    text = _nfc(str(name or ""))
    lower = text.lower()
    for prefix in UNIT_PREFIXES:
        if lower.startswith(prefix + " ") and len(text) > len(prefix) + 1:
            return prefix, text[len(prefix) + 1 :].strip()
    return "", text


def name_key(name: object) -> str:
    """Compare names without unit word, case, diacritics: "Tỉnh Bắc Ninh" ~ "Bac Ninh Province"."""
    text = unicodedata.normalize("NFKD", split_unit_name(name)[1].lower().replace("đ", "d"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    words = re.sub(r"[^0-9a-z]+", " ", text).split()
    while words and words[-1] in {"province", "city", "ward", "commune"}:
        words.pop()
    return " ".join(words)


@dataclass(frozen=True)
class OsmBoundary:
    """The OSM administrative area chosen as the province boundary."""

    polygon: BaseGeometry
    osm_id: str
    name: str
    admin_level: float | None


def select_osm_boundary(admin: gpd.GeoDataFrame, cfg: BoundaryConfig) -> OsmBoundary | None:
    """Return the administrative area the config names (relation id, or name and level).

    Parameters
    ----------
    admin
        Administrative areas (``osm_id``, ``name``, ``name_en``, ``admin_level``), any CRS.
    cfg
        ``boundary.osm_relation`` or ``boundary.osm_name`` (matched without the unit word,
        case or diacritics), narrowed by ``boundary.osm_admin_level``.

    Returns
    -------
    OsmBoundary or None
        In ``admin``'s CRS; the largest when several match (logged). ``None`` when none does.
    """
    if admin.empty:
        return None
    sel = np.ones(len(admin), dtype=bool)
    if cfg.osm_relation is not None:
        sel &= (admin["osm_id"].astype(str) == f"r{cfg.osm_relation}").to_numpy()
    if cfg.osm_admin_level is not None:
        sel &= (admin["admin_level"] == cfg.osm_admin_level).to_numpy()
    if cfg.osm_name is not None:
        wanted = name_key(cfg.osm_name)
        names = np.zeros(len(admin), dtype=bool)
        for col in ("name", "name_en", "name_vi"):
            if col in admin.columns:
                names |= (admin[col].map(name_key) == wanted).to_numpy()
        sel &= names
    if not sel.any():
        return None
    found = admin[sel]
    geoms = found.geometry.to_numpy()
    if len(found) > 1:
        logger.warning(
            "boundary: %d OSM administrative areas match (%s); using the largest",
            len(found),
            ", ".join(found["osm_id"].astype(str)),
        )
    best = int(np.argmax(shapely.area(geoms)))
    row = found.iloc[best]
    level = row.get("admin_level")
    return OsmBoundary(
        polygon=_polygonal_part(geoms[best]),
        osm_id=str(row["osm_id"]),
        name=str(row.get("name") or ""),
        admin_level=None if level is None or pd.isna(level) else float(level),
    )


def _iou(a: BaseGeometry, b: BaseGeometry) -> float:
    union = shapely.union(a, b).area
    return float(shapely.intersection(a, b).area / union) if union > 0 else 0.0


@dataclass(frozen=True)
class Boundary:
    """The province polygon in the project CRS, where it came from, and its OSM level if any."""

    polygon: BaseGeometry
    source: str
    admin_level: float | None = None


def resolve_boundary(
    cfg: BoundaryConfig, admin: gpd.GeoDataFrame, *, crs: str, what: str = "the OSM data"
) -> Boundary | None:
    """Return the boundary the config asks for from ``admin`` areas and/or ``boundary.file``.

    The OSM relation (when ``osm_name`` / ``osm_relation`` is set and ``admin`` holds it) wins;
    ``file`` serves when the relation is absent or disagrees with it (IoU below
    ``osm_min_iou``: an extract from before a merger, or the wrong relation). ``None`` when the
    config names neither.

    Raises
    ------
    InputDataError
        The OSM relation is asked for, absent, and there is no file to fall back on.
    """
    wants_osm = cfg.osm_name is not None or cfg.osm_relation is not None
    if not wants_osm and cfg.osm_admin_level is not None and cfg.file is None:
        wants_osm = True  # the old form: the only area of that level
    file_polygon = _polygon_from_file(cfg, crs) if cfg.file is not None else None
    file_label = str(resolve_input(cfg.file)) if cfg.file is not None else ""
    if wants_osm:
        found = select_osm_boundary(admin, cfg)
        asked = (
            f"relation {cfg.osm_relation}"
            if cfg.osm_relation is not None
            else f"name {cfg.osm_name!r}"
            if cfg.osm_name is not None
            else ""
        ) + (f" admin_level={cfg.osm_admin_level}" if cfg.osm_admin_level is not None else "")
        if found is not None:
            polygon = gpd.GeoSeries([found.polygon], crs=admin.crs).to_crs(crs).iloc[0]
            label = f"OSM administrative area {found.osm_id} {found.name!r}"
            if file_polygon is None:
                return Boundary(polygon, label, found.admin_level)
            iou = _iou(polygon, file_polygon)
            if iou >= cfg.osm_min_iou:
                logger.info("boundary: %s agrees with %s (IoU %.2f)", label, file_label, iou)
                return Boundary(polygon, label, found.admin_level)
            logger.warning(
                "boundary: %s (%.0f km²) overlaps %s (%.0f km²) by IoU %.2f only (below %.2f): "
                "the OSM data may predate the current units; using the file",
                label,
                polygon.area / 1e6,
                file_label,
                file_polygon.area / 1e6,
                iou,
                cfg.osm_min_iou,
            )
            return Boundary(file_polygon, file_label)
        if file_polygon is None:
            levels = sorted(set(admin["admin_level"].dropna().astype(int))) if len(admin) else []
            msg = (
                f"boundary: no OSM administrative area with {asked.strip()} in {what} "
                f"({len(admin)} administrative areas, levels {levels}); set boundary.file to a "
                "boundary polygon, or check the name"
            )
            raise InputDataError(msg)
        logger.warning(
            "boundary: %s holds no administrative area with %s; using %s",
            what,
            asked.strip(),
            file_label,
        )
    if file_polygon is not None:
        return Boundary(file_polygon, file_label)
    return None


def load_boundary(cfg: BoundaryConfig, layers: OsmLayers, *, crs: str) -> Boundary:
    """Return the province polygon in ``crs`` and check that it overlaps the OSM data.

    Parameters
    ----------
    cfg
        The config's ``boundary`` section (see :func:`resolve_boundary`).
    layers
        The raw OSM layers (admin areas, the data-hull fallback and the overlap check).
    crs
        The province's projected CRS.

    Returns
    -------
    Boundary

    Raises
    ------
    InputDataError
        Missing or unreadable file, no polygon, wrong CRS, or no overlap with the OSM data.
    """
    found = resolve_boundary(cfg, layers.admin, crs=crs)
    if found is None:
        if layers.node_extent is None:
            msg = "boundary: none configured and the OSM data has no streets to take a hull from"
            raise InputDataError(msg)
        hull = gpd.GeoSeries([box(*layers.node_extent)], crs="EPSG:4326").to_crs(crs)
        found = Boundary(hull.iloc[0], "extent of the OSM data (no boundary configured)")
        logger.warning("boundary: none configured; using the %s", found.source)
    polygon = found.polygon
    if layers.node_extent is not None:
        extent = gpd.GeoSeries([box(*layers.node_extent)], crs="EPSG:4326").to_crs(crs).iloc[0]
        if not polygon.intersects(extent):
            msg = (
                f"{found.source}: the boundary does not overlap the OSM data (wrong CRS, wrong "
                f"file or wrong province?): boundary bounds {np.round(polygon.bounds, 0).tolist()}"
                f", data bounds {np.round(extent.bounds, 0).tolist()} in {crs}"
            )
            raise InputDataError(msg)
    logger.info("boundary: %s, %.1f km²", found.source, polygon.area / 1e6)
    return found
