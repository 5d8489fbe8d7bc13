"""Built density on a square grid: floor area per hectare, population, and dense cells."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from pipeline._errors import InputDataError, MissingInputError
from pipeline.parallel import map_chunks
from pipeline.paths import resolve_input
from pipeline.wards import ward_rows

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.config import DensityConfig

logger = logging.getLogger(__name__)

#: Square metres per hectare.
M2_PER_HA = 10_000.0
#: Cell ids pack the column and row of a cell: ``col * CELL_ROW_SPAN + row``.
CELL_ROW_SPAN = 1 << 32


#: Footprints per thread chunk at least when placing buildings.
_CHUNK_FOOTPRINTS = 50_000


def building_points(geoms: np.ndarray) -> np.ndarray:
    """Return the point each building counts at: its point on surface (over the thread pool).

    The grid (:func:`build_cells`, :func:`building_cells`) and the wards place a building
    there; a frame whose geometry is already these points is placed the same way (the point
    on surface of a point is the point), so a stage computes them once.
    """
    geoms = np.asarray(geoms, dtype=object)
    parts = map_chunks(
        lambda a, b: shapely.point_on_surface(geoms[a:b]), len(geoms), min_chunk=_CHUNK_FOOTPRINTS
    )
    return np.concatenate(parts) if len(parts) > 1 else np.asarray(parts[0], dtype=object)


def _placed_at(geoms: np.ndarray) -> np.ndarray:
    """Return each geometry's point on surface; points (and missing ones) are their own.

    A frame already at :func:`building_points` skips the GEOS pass: the point on surface of
    a point is that point, of a missing geometry a missing one.
    """
    geoms = np.asarray(geoms, dtype=object)
    if np.isin(shapely.get_type_id(geoms), (-1, 0)).all():
        return geoms
    return np.asarray(shapely.point_on_surface(geoms), dtype=object)


def cell_ids(xy: np.ndarray, cell_m: float) -> np.ndarray:
    """Return the id of the grid cell holding each point (grid aligned on the CRS origin).

    Parameters
    ----------
    xy
        ``(n, 2)`` projected coordinates.
    cell_m
        Cell size.

    Returns
    -------
    numpy.ndarray
        int64 ids, ``col * 2**32 + row`` with ``col = floor(x / cell_m)``.
    """
    col = np.floor(xy[:, 0] / cell_m).astype(np.int64)
    row = np.floor(xy[:, 1] / cell_m).astype(np.int64)
    return col * CELL_ROW_SPAN + row


def cell_squares(ids: np.ndarray, cell_m: float) -> np.ndarray:
    """Return the square polygon of each cell id."""
    col, row = np.divmod(np.asarray(ids, dtype=np.int64), CELL_ROW_SPAN)
    x0, y0 = col * cell_m, row * cell_m
    return np.asarray(shapely.box(x0, y0, x0 + cell_m, y0 + cell_m), dtype=object)


def raster_population(
    path: Path, *, crs: str, cell_m: float, bounds: tuple[float, float, float, float]
) -> pd.Series:
    """Sum a population-count raster (WorldPop style) into grid cells.

    Parameters
    ----------
    path
        GeoTIFF of people per pixel.
    crs
        Project CRS of the grid.
    cell_m
        Grid cell size.
    bounds
        ``(minx, miny, maxx, maxy)`` in ``crs``: only this window is read.

    Returns
    -------
    pandas.Series
        People per cell id (cells with people only). Each pixel's count goes to the cell
        holding its centre: totals are kept exactly, which bilinear resampling would not do.
    """
    import rasterio  # noqa: PLC0415 - heavy import, only when a raster is configured
    from rasterio.windows import Window  # noqa: PLC0415

    if not path.exists():
        msg = f"{path}: population raster not found; fix density.population_raster"
        raise MissingInputError(msg)
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as e:
        msg = f"{path}: cannot read as a raster ({e}); give a GeoTIFF of people per pixel"
        raise InputDataError(msg) from e
    with src:
        if src.crs is None:
            msg = f"{path}: the raster has no CRS; set one (e.g. gdal_edit.py -a_srs EPSG:4326)"
            raise InputDataError(msg)
        t = src.transform
        if t.b != 0 or t.d != 0:
            msg = f"{path}: rotated rasters are not supported; warp it north-up first"
            raise InputDataError(msg)
        to_raster = pyproj.Transformer.from_crs(crs, src.crs, always_xy=True)
        left, bottom, right, top = to_raster.transform_bounds(*bounds)
        c0, c1 = sorted(((left - t.c) / t.a, (right - t.c) / t.a))
        r0, r1 = sorted(((top - t.f) / t.e, (bottom - t.f) / t.e))
        c0, r0 = max(0, int(np.floor(c0))), max(0, int(np.floor(r0)))
        c1, r1 = min(src.width, int(np.ceil(c1))), min(src.height, int(np.ceil(r1)))
        window = Window(c0, r0, max(0, c1 - c0), max(0, r1 - r0))
        data = src.read(1, window=window, masked=True).astype(float)
    values = np.ma.filled(data, 0.0)
    rows, cols = np.nonzero(values > 0)
    xs = t.c + t.a * (cols + c0 + 0.5)
    ys = t.f + t.e * (rows + r0 + 0.5)
    back = pyproj.Transformer.from_crs(src.crs, crs, always_xy=True)
    x, y = back.transform(np.asarray(xs), np.asarray(ys))
    ids = cell_ids(np.column_stack([x, y]), cell_m)
    people = pd.Series(values[rows, cols]).groupby(ids).sum()
    people.index.name = "cell_id"
    logger.info(
        "density: raster %s, %s people in %s pixels", path.name, f"{people.sum():,.0f}", len(rows)
    )
    return people


def build_cells(
    buildings: gpd.GeoDataFrame,
    wards: gpd.GeoDataFrame,
    config: DensityConfig,
    *,
    raster_people: pd.Series | None = None,
) -> gpd.GeoDataFrame:
    """Grid cells with floor area, population and the dense flag.

    Parameters
    ----------
    buildings
        With ``floor_area_m2`` and ``footprint_m2`` (projected CRS).
    wards
        :func:`pipeline.wards.read_wards`; ``population`` NaN where unknown.
    config
        The ``density`` section.
    raster_people
        People per cell id (from :func:`raster_population`); when given it is the population.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``cell_id`` with ``ward_id, buildings, footprint_m2, floor_area_m2,
        floor_area_m2_per_ha, population, population_per_ha, dense``.

    Notes
    -----
    Without a raster, each ward's population is spread over its cells in proportion to their
    floor area (dasymetric mapping). Where OSM maps only some buildings, people crowd into the
    mapped ones; a raster or a fuller footprint file avoids that.
    """
    t0 = time.perf_counter()
    cell_m = config.cell_size_m
    crs = buildings.crs
    centres = _placed_at(buildings.geometry.to_numpy())
    ids = cell_ids(shapely.get_coordinates(centres), cell_m) if len(centres) else np.empty(0, int)
    per = pd.DataFrame(
        {"cell_id": ids, "buildings": 1,
         "footprint_m2": buildings["footprint_m2"].to_numpy(dtype=float),
         "floor_area_m2": buildings["floor_area_m2"].to_numpy(dtype=float)}
    ).groupby("cell_id").sum()  # fmt: skip
    if raster_people is not None:
        per = per.reindex(per.index.union(raster_people.index), fill_value=0)
    per.index.name = "cell_id"
    squares = cell_squares(per.index.to_numpy(), cell_m)
    cells = gpd.GeoDataFrame(per, geometry=squares, crs=crs)
    ward_pos = ward_rows(shapely.centroid(squares), wards)
    cells["ward_id"] = np.where(
        ward_pos >= 0, wards["ward_id"].to_numpy()[np.maximum(ward_pos, 0)], None
    )
    ha = cell_m**2 / M2_PER_HA
    cells["floor_area_m2_per_ha"] = cells["floor_area_m2"] / ha
    if raster_people is not None:
        cells["population"] = raster_people.reindex(cells.index, fill_value=0.0).to_numpy()
    else:
        ward_pop = pd.Series(wards["population"].to_numpy(float), index=wards["ward_id"])
        ward_floor = cells.groupby("ward_id")["floor_area_m2"].sum()
        share = cells["floor_area_m2"] / cells["ward_id"].map(ward_floor)
        cells["population"] = (share * cells["ward_id"].map(ward_pop)).astype(float)
        unplaced = ward_pop[
            ward_pop.notna() & ~ward_pop.index.isin(ward_floor[ward_floor > 0].index)
        ]
        if len(unplaced):
            logger.warning(
                "density: %d ward(s) with %s people have no mapped buildings; "
                "their people are not placed on the grid",
                len(unplaced), f"{unplaced.sum():,.0f}",
            )  # fmt: skip
    cells["population_per_ha"] = cells["population"] / ha
    dense = cells["floor_area_m2_per_ha"] >= config.dense_floor_area_m2_per_ha.value
    dense |= (cells["population_per_ha"] >= config.dense_population_per_ha.value).fillna(
        value=False
    )
    cells["dense"] = dense.to_numpy(dtype=bool)
    logger.info(
        "density: %s cells of %.0f m, %s dense (%.1f s)",
        f"{len(cells):,}", cell_m, f"{int(cells['dense'].sum()):,}", time.perf_counter() - t0,
    )  # fmt: skip
    return cells


def building_cells(buildings: gpd.GeoDataFrame, cell_m: float) -> np.ndarray:
    """Return the grid cell of each building (of its representative point)."""
    centres = _placed_at(buildings.geometry.to_numpy())
    if len(centres) == 0:
        return np.empty(0, dtype=np.int64)
    return cell_ids(shapely.get_coordinates(centres), cell_m)


def density_grid(
    buildings: gpd.GeoDataFrame,
    wards: gpd.GeoDataFrame,
    config: DensityConfig,
    *,
    bounds: tuple[float, float, float, float],
) -> gpd.GeoDataFrame:
    """Return the one density grid of the province (water and coverage both use it).

    The population comes from ``density.population_raster`` when configured, else from the
    wards' populations spread over their buildings (see :func:`build_cells`).
    """
    raster_people = None
    if config.population_raster:
        raster_people = raster_population(
            resolve_input(config.population_raster),
            crs=str(buildings.crs),
            cell_m=config.cell_size_m,
            bounds=bounds,
        )
    return build_cells(buildings, wards, config, raster_people=raster_people)


def building_people(
    cells: pd.DataFrame, building_cell: np.ndarray, floor_area_m2: np.ndarray
) -> np.ndarray:
    """Spread each cell's population over its buildings in proportion to their floor area.

    Returns
    -------
    numpy.ndarray
        People per building (``NaN`` where the cell's population is unknown); a cell's
        buildings add up to its population.
    """
    floor = np.nan_to_num(np.asarray(floor_area_m2, dtype=float))
    cell_floor = pd.Series(floor).groupby(building_cell).sum()
    share = floor / cell_floor.reindex(building_cell).to_numpy()
    people = cells["population"].reindex(building_cell).to_numpy(dtype=float)
    return np.asarray(people * np.nan_to_num(share))
