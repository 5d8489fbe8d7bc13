"""Ward / commune polygons: from a file, OSM admin areas, or Voronoi cells of commune centroids."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline._errors import ConfigError, InputDataError
from pipeline.boundary import read_vector
from pipeline.paths import resolve_input
from pipeline.tables import read_point_table

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from pipeline.config import ProvinceConfig, WardsConfig

logger = logging.getLogger(__name__)

WARD_COLUMNS = ["ward_id", "name", "ward_type", "population", "area_km2", "approximate"]


def _frame(
    ids: np.ndarray,
    names: np.ndarray,
    types: np.ndarray,
    population: np.ndarray,
    geoms: np.ndarray,
    *,
    crs: str,
    approximate: bool,
) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(
        {
            "ward_id": ids.astype(str),
            "name": names.astype(str),
            "ward_type": types.astype(str),
            "population": population.astype(float),
        },
        geometry=geoms,
        crs=crs,
    )
    gdf["area_km2"] = shapely.area(gdf.geometry.to_numpy()) / 1e6
    gdf["approximate"] = approximate
    gdf = gdf[~gdf.geometry.is_empty].reset_index(drop=True)
    return gdf[[*WARD_COLUMNS, "geometry"]]


def _column(df: pd.DataFrame, name: str, path: object, default: object = None) -> np.ndarray:
    if name in df.columns:
        return df[name].to_numpy()
    if default is not None:
        return np.full(len(df), default, dtype=object)
    msg = f"{path}: column {name!r} not found (set it under wards: in the province config)"
    raise ConfigError(msg)


def _from_file(cfg: WardsConfig, boundary: BaseGeometry, crs: str) -> gpd.GeoDataFrame:
    assert cfg.file is not None  # noqa: S101 - checked by the caller
    gdf = read_vector(cfg.file, layer=cfg.layer)
    path = resolve_input(cfg.file)
    gdf = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    if gdf.empty:
        msg = f"{path}: no ward polygons in the file"
        raise InputDataError(msg)
    gdf = gdf.to_crs(crs)
    geoms = shapely.intersection(shapely.make_valid(gdf.geometry.to_numpy()), boundary)
    pop = pd.to_numeric(
        pd.Series(_column(gdf, cfg.population_column, path, np.nan)), errors="coerce"
    ).to_numpy()
    return _frame(
        _column(gdf, cfg.id_column, path, "") if cfg.id_column in gdf else np.arange(len(gdf)),
        _column(gdf, cfg.name_column, path),
        _column(gdf, cfg.type_column, path, ""),
        pop,
        geoms,
        crs=crs,
        approximate=False,
    )


def _from_osm(
    admin: gpd.GeoDataFrame, level: int, boundary: BaseGeometry, crs: str
) -> gpd.GeoDataFrame:
    sel = admin[admin["admin_level"] == level]
    if sel.empty:
        levels = sorted(set(admin["admin_level"].dropna().astype(int)))
        msg = f"wards: no OSM admin areas at admin_level={level} (levels present: {levels})"
        raise InputDataError(msg)
    geoms = shapely.intersection(sel.to_crs(crs).geometry.to_numpy(), boundary)
    return _frame(
        sel["osm_id"].to_numpy(),
        sel["name"].fillna("").to_numpy(),
        np.full(len(sel), ""),
        np.full(len(sel), np.nan),
        geoms,
        crs=crs,
        approximate=False,
    )


def _from_centroids(cfg: WardsConfig, boundary: BaseGeometry, crs: str) -> gpd.GeoDataFrame:
    assert cfg.centroids_csv is not None  # noqa: S101 - checked by the caller
    table = read_point_table(
        cfg.centroids_csv,
        crs=crs,
        x_column=cfg.lon_column,
        y_column=cfg.lat_column,
        required=(cfg.name_column,),
    )
    pts = table.points
    path = resolve_input(cfg.centroids_csv)
    shapely.prepare(boundary)
    inside = shapely.contains(boundary, pts.geometry.to_numpy())
    if not inside.any():
        msg = f"{path}: no commune centroid lies inside the province boundary"
        raise InputDataError(msg)
    if (~inside).any():
        logger.warning("wards: %d centroid(s) outside the boundary dropped", int((~inside).sum()))
    pts = pts[inside]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(
            shapely.multipoints(pts.geometry.to_numpy()), extend_to=boundary, ordered=True
        )
    )
    cells = shapely.intersection(cells, boundary)
    pop = pd.to_numeric(
        pd.Series(_column(pts, cfg.population_column, path, np.nan)), errors="coerce"
    ).to_numpy()
    ids = _column(pts, cfg.id_column, path, "") if cfg.id_column in pts else np.arange(len(pts))
    logger.warning(
        "wards: only commune centroids are known (%s): ward polygons are approximate Voronoi "
        "cells, and per-ward figures near ward edges are approximate",
        path.name,
    )
    return _frame(
        ids,
        _column(pts, cfg.name_column, path),
        _column(pts, cfg.type_column, path, ""),
        pop,
        cells,
        crs=crs,
        approximate=True,
    )


def build_wards(
    config: ProvinceConfig, admin: gpd.GeoDataFrame, boundary: BaseGeometry
) -> gpd.GeoDataFrame:
    """Return the province's wards / communes as polygons in the project CRS.

    Parameters
    ----------
    config
        The province config (its ``wards`` section and ``name``).
    admin
        OSM administrative areas from the ingest stage (project CRS).
    boundary
        The province polygon (project CRS).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``ward_id, name, ward_type, population, area_km2, approximate, geometry``.
    """
    cfg, crs = config.wards, config.crs
    if cfg.file:
        wards = _from_file(cfg, boundary, crs)
        how = f"file {resolve_input(cfg.file).name}"
    elif cfg.osm_admin_level is not None:
        wards = _from_osm(admin, cfg.osm_admin_level, boundary, crs)
        how = f"OSM admin_level={cfg.osm_admin_level}"
    elif cfg.centroids_csv:
        wards = _from_centroids(cfg, boundary, crs)
        how = "Voronoi cells of commune centroids (approximate)"
    else:
        wards = _frame(
            np.array([config.slug]),
            np.array([config.name.vi]),
            np.array(["province"]),
            np.array([np.nan]),
            np.array([boundary]),
            crs=crs,
            approximate=True,
        )
        how = "none configured: the whole province as one unit"
    logger.info("wards: %d from %s", len(wards), how)
    return wards


def assign_ward(geoms: gpd.GeoSeries, wards: gpd.GeoDataFrame) -> pd.Series:
    """Return the name of the ward each geometry's representative point falls in (or None).

    Parameters
    ----------
    geoms
        Geometries in the wards' CRS.
    wards
        From :func:`build_wards`.

    Returns
    -------
    pandas.Series
        Indexed like ``geoms``.
    """
    out = pd.Series(None, index=geoms.index, dtype=object)
    if len(geoms) == 0 or wards.empty:
        return out
    pts = shapely.point_on_surface(geoms.to_numpy())
    tree = shapely.STRtree(wards.geometry.to_numpy())
    pt_idx, ward_idx = tree.query(pts, predicate="within")
    first = pd.Series(ward_idx, index=pt_idx).groupby(level=0).first()
    out.iloc[first.index.to_numpy()] = wards["name"].to_numpy()[first.to_numpy()]
    return out
