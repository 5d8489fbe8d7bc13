"""Ward / commune polygons: from a file, OSM admin areas, or Voronoi cells of commune centroids."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline._errors import ConfigError, InputDataError
from pipeline.boundary import read_vector, split_unit_name
from pipeline.config import SourceFile
from pipeline.paths import resolve_input
from pipeline.table_cells import fold
from pipeline.tables import AuthorityTable, read_authority_file

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from pipeline.config import ProvinceConfig, WardsConfig

logger = logging.getLogger(__name__)

WARD_COLUMNS = ["ward_id", "name", "ward_type", "population", "area_km2", "approximate"]
#: ``ward_type`` of the one unit standing for a province without wards.
WHOLE_PROVINCE = "province"


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
    id_col, name_col = cfg.id_column or "code", cfg.name_column or "name"
    pop_col, type_col = cfg.population_column or "population_2025", cfg.type_column or "type"
    pop = pd.to_numeric(pd.Series(_column(gdf, pop_col, path, np.nan)), errors="coerce").to_numpy()
    return _frame(
        _column(gdf, id_col, path, "") if id_col in gdf else np.arange(len(gdf)),
        _column(gdf, name_col, path),
        _column(gdf, type_col, path, ""),
        pop,
        geoms,
        crs=crs,
        approximate=False,
    )


def detect_ward_level(
    admin: gpd.GeoDataFrame, boundary: BaseGeometry, *, min_cover: float, above: float | None
) -> tuple[int | None, str]:
    """Return the finest OSM ``admin_level`` whose areas tile the province, and why.

    A level qualifies when at least two of its areas lie in the province (a point on their
    surface inside) and together they cover ``min_cover`` of its area; ``above`` (the
    province's own level) and coarser levels are not candidates.

    Parameters
    ----------
    admin
        OSM administrative areas in the project CRS (``admin_level`` column).
    boundary
        The province polygon, project CRS.
    min_cover
        Share of the province area the level must cover.
    above
        The province relation's level, when known.

    Returns
    -------
    level, note
        ``None`` when no level qualifies; the note lists each level's count and cover.
    """
    if admin.empty:
        return None, "the OSM data has no administrative areas"
    geoms = admin.geometry.to_numpy()
    shapely.prepare(boundary)
    inside = shapely.contains(boundary, shapely.point_on_surface(geoms))
    levels = admin["admin_level"].to_numpy(dtype=float)
    area = boundary.area
    notes, best = [], None
    for level in sorted(set(levels[inside & np.isfinite(levels)].astype(int).tolist())):
        if above is not None and level <= above:
            continue
        sel = inside & (levels == level)
        cover = shapely.intersection(shapely.union_all(geoms[sel]), boundary).area / area
        notes.append(f"level {level}: {int(sel.sum())} areas, {cover:.0%} of the province")
        if sel.sum() >= 2 and cover >= min_cover:  # noqa: PLR2004 - a tiling needs two parts
            best = level
    return best, "; ".join(notes) or "no administrative area inside the province"


def _from_osm(
    admin: gpd.GeoDataFrame, level: int, boundary: BaseGeometry, crs: str
) -> gpd.GeoDataFrame:
    sel = admin[admin["admin_level"] == level]
    shapely.prepare(boundary)
    sel = sel[shapely.contains(boundary, shapely.point_on_surface(sel.geometry.to_numpy()))]
    if sel.empty:
        levels = sorted(set(admin["admin_level"].dropna().astype(int)))
        msg = f"wards: no OSM admin areas at admin_level={level} (levels present: {levels})"
        raise InputDataError(msg)
    geoms = shapely.intersection(sel.to_crs(crs).geometry.to_numpy(), boundary)
    split = [split_unit_name(n) for n in sel["name"].fillna("")]
    ref = sel["ref"].fillna("").astype(str) if "ref" in sel.columns else pd.Series("", sel.index)
    ids = np.where(ref.str.strip() != "", ref, sel["osm_id"].astype(str))
    return _frame(
        ids,
        np.array([n for _, n in split], dtype=object),
        np.array([t for t, _ in split], dtype=object),
        np.full(len(sel), np.nan),
        geoms,
        crs=crs,
        approximate=False,
    )


def commune_table(cfg: WardsConfig, crs: str) -> AuthorityTable | None:
    """Read the commune table (code, name, type, population, centroid), if one is configured."""
    if not cfg.centroids_csv:
        return None
    columns = {
        canon: header
        for canon, header in (
            ("id", cfg.id_column),
            ("name", cfg.name_column),
            ("type", cfg.type_column),
            ("population", cfg.population_column),
            ("lon", cfg.lon_column),
            ("lat", cfg.lat_column),
        )
        if header is not None
    }
    spec = SourceFile(path=cfg.centroids_csv, columns=columns)
    return read_authority_file(spec, crs=crs, what="communes", required=("name",)).finish()


def _name_keys(names: pd.Series, types: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return the matching keys: the folded name with its type, and the folded name alone."""
    name = names.fillna("").map(lambda n: fold(split_unit_name(n)[1]))
    return name + "|" + types.fillna("").map(fold), name


def join_commune_table(
    wards: gpd.GeoDataFrame, table: AuthorityTable
) -> tuple[gpd.GeoDataFrame, int]:
    """Give OSM wards the commune table's code, type and population, matched by name.

    A name with its type (``phường`` / ``xã``) is matched first, then a name that is unique in
    both. Returns the wards and how many matched.
    """
    rows = table.rows
    types = rows["type"] if "type" in rows.columns else pd.Series("", index=rows.index)
    t_full, t_name = _name_keys(rows["name"], types)
    w_full, w_name = _name_keys(wards["name"], wards["ward_type"])
    pos = pd.Series(np.arange(len(rows)), index=t_full)
    pos = pos[~pos.index.duplicated(keep=False)]
    match = w_full.map(pos)
    unique_name = pd.Series(np.arange(len(rows)), index=t_name)
    unique_name = unique_name[~unique_name.index.duplicated(keep=False)]
    w_unique = ~w_name.duplicated(keep=False)
    match = match.fillna(w_name.where(w_unique).map(unique_name))
    hit = match.notna().to_numpy()
    idx = match[hit].astype(int).to_numpy()
    out = wards.copy()
    if "id" in rows.columns:
        out.loc[hit, "ward_id"] = rows["id"].astype(str).to_numpy()[idx]
    if "population" in rows.columns:
        out.loc[hit, "population"] = rows["population"].to_numpy(dtype=float)[idx]
    if "type" in rows.columns:
        out.loc[hit, "ward_type"] = rows["type"].astype(str).to_numpy()[idx]
    return out, int(hit.sum())


def _from_centroids(table: AuthorityTable, boundary: BaseGeometry, crs: str) -> gpd.GeoDataFrame:
    pts = table.rows
    shapely.prepare(boundary)
    inside = shapely.contains(boundary, pts.geometry.to_numpy())
    if not inside.any():
        msg = f"{table.path}: no commune centroid lies inside the province boundary"
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
    pop = (
        pts["population"].to_numpy(dtype=float)
        if "population" in pts.columns
        else np.full(len(pts), np.nan)
    )
    ids = pts["id"].to_numpy() if "id" in pts.columns else np.arange(len(pts))
    logger.warning(
        "wards: only commune centroids are known (%s): ward polygons are approximate Voronoi "
        "cells, and per-ward figures near ward edges are approximate",
        table.file,
    )
    return _frame(
        ids,
        pts["name"].to_numpy(),
        _column(pts, "type", table.path, ""),
        pop,
        cells,
        crs=crs,
        approximate=True,
    )


def _osm_wards(
    config: ProvinceConfig,
    admin: gpd.GeoDataFrame,
    boundary: BaseGeometry,
    table: AuthorityTable | None,
    province_level: float | None,
) -> tuple[gpd.GeoDataFrame | None, dict[str, Any]]:
    """Wards from OSM admin areas (configured or detected level), joined to the commune table."""
    cfg, crs = config.wards, config.crs
    level: int | None
    if cfg.osm_admin_level == "auto":
        level, note = detect_ward_level(
            admin, boundary, min_cover=cfg.osm_min_cover, above=province_level
        )
        if level is None:
            logger.info("wards: no OSM admin level tiles the province (%s)", note)
            return None, {}
        logger.info("wards: OSM admin_level %d detected (%s)", level, note)
    else:
        level = int(cfg.osm_admin_level) if cfg.osm_admin_level is not None else None
        if level is None:
            return None, {}
    wards = _from_osm(admin, level, boundary, crs)
    info: dict[str, Any] = {"source": f"OSM admin_level {level}", "osm_admin_level": level}
    if table is not None:
        wards, matched = join_commune_table(wards, table)
        info["matched_to_table"] = matched
        logger.info(
            "wards: %d of %d OSM areas matched by name to %s (%d rows): code, type, population",
            matched,
            len(wards),
            table.file,
            len(table.rows),
        )
        if matched < cfg.osm_min_matched * len(wards):
            logger.warning(
                "wards: only %d of %d OSM areas at admin_level %d match %s by name: the OSM "
                "data's units are not those of the table (older data?); using the table instead",
                matched,
                len(wards),
                level,
                table.file,
            )
            return None, {}
    return wards, info


def build_wards(
    config: ProvinceConfig,
    admin: gpd.GeoDataFrame,
    boundary: BaseGeometry,
    *,
    province_level: float | None = None,
    table: AuthorityTable | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Return the province's wards / communes as polygons in the project CRS, and their source.

    Taken from the first that gives some: a polygon ``wards.file``; OSM administrative areas at
    ``wards.osm_admin_level`` (``auto``: the finest level that tiles the province, see
    :func:`detect_ward_level`), with code, type and population from the commune table when
    one is configured (matched by name); Voronoi cells of the table's centroids (flagged
    approximate); the whole province as one unit.

    Parameters
    ----------
    config
        The province config (its ``wards`` section and ``name``).
    admin
        OSM administrative areas from the ingest stage (project CRS).
    boundary
        The province polygon (project CRS).
    province_level
        ``admin_level`` of the OSM relation the boundary came from, if it did.
    table
        The commune table, when the caller has read it (:func:`commune_table`); read here
        otherwise.

    Returns
    -------
    wards, info
        Columns ``ward_id, name, ward_type, population, area_km2, approximate, geometry``
        (``ward_id``: the commune code when known, else the OSM ``ref`` or id); ``info`` says
        where they came from, for the ingest summary.
    """
    cfg, crs = config.wards, config.crs
    if table is None:
        table = commune_table(cfg, crs)
    wards: gpd.GeoDataFrame | None = None
    info: dict[str, Any] = {}
    if cfg.file:
        wards = _from_file(cfg, boundary, crs)
        info = {"source": f"file {resolve_input(cfg.file).name}"}
    if wards is None:
        wards, info = _osm_wards(config, admin, boundary, table, province_level)
    if wards is None and table is not None:
        wards = _from_centroids(table, boundary, crs)
        info = {"source": f"Voronoi cells of the centroids in {table.file} (approximate)"}
    if wards is None:
        wards = _frame(
            np.array([config.slug]),
            np.array([config.name.vi]),
            np.array([WHOLE_PROVINCE]),
            np.array([np.nan]),
            np.array([boundary]),
            crs=crs,
            approximate=True,
        )
        info = {"source": "none: the whole province as one unit"}
    if table is not None:
        info["table"] = table.stats()
    logger.info("wards: %d from %s", len(wards), info["source"])
    return wards, info


def ward_rows(points: np.ndarray, wards: gpd.GeoDataFrame) -> np.ndarray:
    """Return the row of ``wards`` each point belongs to: the ward holding it, else the nearest.

    Parameters
    ----------
    points
        Shapely points (or any geometry: its representative point is not taken here; pass
        points) in the wards' CRS; missing geometries get -1.
    wards
        From :func:`read_wards`.

    Returns
    -------
    numpy.ndarray
        Row positions (-1 only for missing geometries or without wards). Where polygons
        overlap the first ward wins; a point on no ward (a sliver between Voronoi cells and the
        clipped boundary, a feature just outside) goes to the nearest one, so every feature of
        the province is counted in exactly one ward.
    """
    points = np.asarray(points, dtype=object)
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or wards.empty:
        return out
    ward_geoms = wards.geometry.to_numpy()
    # Each ward polygon is prepared once and tested against the points in its envelope
    # (``contains`` of the ward is ``within`` of the point); the lowest ward row wins.
    wd, pt = shapely.STRtree(points).query(ward_geoms, predicate="contains")
    first = np.full(len(points), len(ward_geoms), dtype=np.int64)
    np.minimum.at(first, pt, wd)
    found = first < len(ward_geoms)
    out[found] = first[found]
    left = np.flatnonzero((out < 0) & ~shapely.is_missing(points))
    if len(left):
        tree = shapely.STRtree(ward_geoms)
        p2, w2 = tree.query_nearest(points[left], all_matches=False)
        out[left[p2]] = w2
    return out


def ward_ids(points: np.ndarray, wards: gpd.GeoDataFrame) -> np.ndarray:
    """Return the ``ward_id`` of each point (see :func:`ward_rows`; ``None`` where none)."""
    return ward_columns(points, wards)["ward_id"]


def ward_columns(
    points: np.ndarray, wards: gpd.GeoDataFrame, *, rows: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Return ``ward_id`` and ``ward`` (the ward's name) of each point, for output tables.

    ``rows`` is :func:`ward_rows` of the points when the caller already has it.
    """
    if rows is None:
        rows = ward_rows(points, wards)
    inside = rows >= 0
    out = {}
    for col, key in (("ward_id", "ward_id"), ("ward", "name")):
        values = np.full(len(rows), None, dtype=object)
        values[inside] = wards[key].to_numpy(dtype=object)[rows[inside]]
        out[col] = values
    return out
