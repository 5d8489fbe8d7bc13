"""The province boundary: read, check and project it (file, OSM admin area, or data hull)."""

from __future__ import annotations

import difflib
import logging
import unicodedata
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
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


def _polygon_from_osm(cfg: BoundaryConfig, layers: OsmLayers, crs: str) -> BaseGeometry:
    admin = layers.admin
    sel = np.ones(len(admin), dtype=bool)
    if cfg.osm_admin_level is not None:
        sel &= (admin["admin_level"] == cfg.osm_admin_level).to_numpy()
    if cfg.osm_name is not None:
        sel &= (admin["name"] == cfg.osm_name).to_numpy()
    if not sel.any():
        msg = (
            f"boundary: no administrative boundary with admin_level={cfg.osm_admin_level} "
            f"name={cfg.osm_name!r} in the OSM data ({len(admin)} admin areas present)"
        )
        raise InputDataError(msg)
    return _polygonal_part(shapely.union_all(admin[sel].to_crs(crs).geometry.to_numpy()))


def load_boundary(cfg: BoundaryConfig, layers: OsmLayers, *, crs: str) -> BaseGeometry:
    """Return the province polygon in ``crs`` and check that it overlaps the OSM data.

    Parameters
    ----------
    cfg
        The config's ``boundary`` section.
    layers
        The raw OSM layers (for an OSM admin boundary, the data-hull fallback and the check).
    crs
        The province's projected CRS.

    Returns
    -------
    shapely Polygon or MultiPolygon

    Raises
    ------
    InputDataError
        Missing or unreadable file, no polygon, wrong CRS, or no overlap with the OSM data.
    """
    if cfg.file is not None:
        polygon = _polygon_from_file(cfg, crs)
        source = str(resolve_input(cfg.file))
    elif cfg.osm_admin_level is not None or cfg.osm_name is not None:
        polygon = _polygon_from_osm(cfg, layers, crs)
        source = "OSM administrative boundary"
    else:
        if layers.node_extent is None:
            msg = "boundary: none configured and the OSM data has no streets to take a hull from"
            raise InputDataError(msg)
        hull = gpd.GeoSeries([box(*layers.node_extent)], crs="EPSG:4326").to_crs(crs)
        polygon = hull.iloc[0]
        source = "extent of the OSM data (no boundary configured)"
        logger.warning("boundary: none configured; using the %s", source)
    if layers.node_extent is not None:
        extent = gpd.GeoSeries([box(*layers.node_extent)], crs="EPSG:4326").to_crs(crs).iloc[0]
        if not polygon.intersects(extent):
            msg = (
                f"{source}: the boundary does not overlap the OSM data (wrong CRS, wrong file "
                f"or wrong province?): boundary bounds {np.round(polygon.bounds, 0).tolist()}, "
                f"data bounds {np.round(extent.bounds, 0).tolist()} in {crs}"
            )
            raise InputDataError(msg)
    logger.info("boundary: %s, %.1f km²", source, polygon.area / 1e6)
    return polygon
