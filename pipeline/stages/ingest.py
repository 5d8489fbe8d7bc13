"""Stage ``ingest``: OSM file (or download) -> clipped GeoParquet layers + street graph."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from pipeline import contracts
from pipeline._errors import ConfigError, MissingInputError, NoDataError
from pipeline._validate import check_graph_layers
from pipeline.boundary import load_boundary
from pipeline.download import fetch_extract
from pipeline.footprints import merge_footprints
from pipeline.graph import build_edges, clip_edges
from pipeline.osm_extract import clipped_extract, describe, should_clip
from pipeline.osm_read import read_osm
from pipeline.osm_tags import parse_length_m, parse_number
from pipeline.parallel import Background, map_chunks, points_on_surface
from pipeline.paths import resolve_input
from pipeline.table_cells import STATUS_ALIASES, STATUS_HINT, fold, parse_status
from pipeline.tables import AuthorityTable, read_authority_file, rejects_frame
from pipeline.wards import build_wards, commune_table

if TYPE_CHECKING:
    from pathlib import Path

    from shapely.geometry.base import BaseGeometry

    from pipeline.boundary import Boundary
    from pipeline.config import BuildingsConfig, ProvinceConfig, SourceFile, StationsConfig
    from pipeline.osm_extract import OsmDataInfo
    from pipeline.osm_read import OsmLayers
    from pipeline.stage import StageContext

logger = logging.getLogger(__name__)


def osm_source(config: ProvinceConfig) -> Path | None:
    """Return the configured local OSM file, or ``None`` for the online path."""
    return resolve_input(config.osm.file) if config.osm.file else None


def _within(gdf: gpd.GeoDataFrame, boundary: BaseGeometry) -> np.ndarray:
    """Which rows lie in the boundary: points directly, areas by a point on their surface."""
    geoms = gdf.geometry.to_numpy()
    if len(geoms) == 0:
        return np.zeros(0, dtype=bool)
    points = points_on_surface(geoms)  # in threads; the containment test in one call
    shapely.prepare(boundary)
    inside: np.ndarray = shapely.contains(boundary, points)
    return inside


#: Rows projected at once by :func:`_to_crs_in_place` (bounds the geometries held twice).
_PROJECT_CHUNK = 100_000


def _projected_xy(geoms: np.ndarray, src: Any, crs: str) -> np.ndarray:  # noqa: ANN401 - CRS
    """Return the coordinates of ``geoms`` projected as geopandas' ``to_crs`` projects them."""
    xy = shapely.get_coordinates(geoms)
    x, y = pyproj.Transformer.from_crs(src, crs, always_xy=True).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def _to_crs_in_place(gdf: gpd.GeoDataFrame, crs: str) -> None:
    """Project ``gdf`` in place: coordinates in threads, geometries replaced chunk by chunk.

    The same geometries as ``gdf.to_crs(crs)`` (each point is projected on its own), but the
    old geometries are replaced a chunk at a time, never all held twice (1.4 M buildings at
    province scale). pyproj releases the GIL, so the coordinates are projected on every core;
    the geometries are rebuilt on the main thread, where the memory just freed is reused.
    """
    values = gdf.geometry.array
    if len(values) <= _PROJECT_CHUNK or bool(shapely.has_z(values.to_numpy()).any()):
        gdf.to_crs(crs, inplace=True)
        return
    src = gdf.crs
    parts = map_chunks(lambda a, b: _projected_xy(values[a:b].to_numpy(), src, crs), len(values),
                       min_chunk=_PROJECT_CHUNK)  # fmt: skip
    xy = np.concatenate(parts)
    del parts
    ends = np.cumsum(shapely.get_num_coordinates(values.to_numpy()))
    for start in range(0, len(values), _PROJECT_CHUNK):
        old = values[start : start + _PROJECT_CHUNK].to_numpy()
        first = int(ends[start - 1]) if start else 0
        new = shapely.set_coordinates(old.copy(), xy[first : int(ends[start + len(old) - 1])])
        values[start : start + len(old)] = new
    gdf.set_crs(crs, allow_override=True, inplace=True)


def _clip(gdf: gpd.GeoDataFrame, boundary: BaseGeometry, crs: str, how: str) -> gpd.GeoDataFrame:
    """Return the rows in the boundary, in ``crs``; ``gdf`` is projected in place.

    In place: the stage never holds the raw layer's geometries twice (1.4 M buildings).
    """
    _to_crs_in_place(gdf, crs)
    if how == "inside":
        keep = _within(gdf, boundary)
    else:
        shapely.prepare(boundary)
        keep = shapely.intersects(boundary, gdf.geometry.to_numpy())
    return gdf[keep].reset_index(drop=True)


def _levels(buildings: gpd.GeoDataFrame, cfg: BuildingsConfig) -> pd.DataFrame:
    """Parse ``building:levels`` and ``height``; fill levels from height, then the default."""
    levels = parse_number(buildings["building:levels"])
    levels[~(levels > 0)] = np.nan
    height = parse_length_m(buildings["height"])
    from_height = pd.Series(
        np.maximum(1, np.round(height.to_numpy() / cfg.storey_height_m.value)), index=height.index
    )
    source = np.where(levels.notna(), "tag", np.where(height.notna(), "height", "default"))
    filled = levels.fillna(from_height).fillna(cfg.default_levels.value)
    return pd.DataFrame(
        {"levels": filled.astype(float), "levels_source": source, "height_m": height},
        index=buildings.index,
    )


def _buildings(
    raw: gpd.GeoDataFrame, cfg: BuildingsConfig, boundary: BaseGeometry, crs: str
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """OSM buildings with levels and floor area, plus footprints from other datasets."""
    b = raw.join(_levels(raw, cfg))
    b = b.rename(columns={"building:levels": "levels_tag", "height": "height_tag"})
    b, added = merge_footprints(
        b, cfg.extra_files, boundary, crs=crs, min_confidence=cfg.extra_min_confidence
    )
    extra = (b["source"] != "osm").to_numpy()
    if extra.any():
        height = b.loc[extra, "height_m"].astype(float)
        from_height = np.maximum(1, np.round(height / cfg.storey_height_m.value))
        b.loc[extra, "levels"] = from_height.fillna(cfg.default_levels.value).to_numpy()
        b.loc[extra, "levels_source"] = np.where(height.notna(), "height", "default")
    b["footprint_m2"] = shapely.area(b.geometry.to_numpy())
    b["floor_area_m2"] = b["footprint_m2"] * b["levels"]
    b.index = pd.RangeIndex(len(b), name="building_id")
    return b, added


def _station_file(spec: SourceFile, crs: str, boundary: BaseGeometry) -> AuthorityTable:
    """One authority list of stations: status read as planners write it, rows outside rejected."""
    table = read_authority_file(spec, crs=crs, what="stations")
    if "status" in table.rows.columns:
        raw = table.rows["status"].fillna("").astype(str).str.strip()
        if spec.default_status is not None:
            raw = raw.mask(raw == "", spec.default_status)
        status = parse_status(raw)
        reason = np.where(
            raw == "",
            f"missing status (write {STATUS_HINT})",
            "unknown status '" + raw + f"' (write {STATUS_HINT})",
        )
        table.rows["status"] = status.to_numpy()
        table.reject(status.isna().to_numpy(), reason)
    else:
        default = STATUS_ALIASES.get(fold(spec.default_status or "existing"))
        if default is None:
            msg = (
                f"{table.path}: default_status {spec.default_status!r} is not one of {STATUS_HINT}"
            )
            raise ConfigError(msg)
        logger.info("%s: no status column: every station is %s", table.file, default)
        table.rows["status"] = default
    table.reject_outside(boundary)
    return table.finish()


def _stations(
    osm: gpd.GeoDataFrame, cfg: StationsConfig, boundary: BaseGeometry, crs: str
) -> tuple[gpd.GeoDataFrame, list[AuthorityTable]]:
    """OSM stations (status ``existing``) plus the authority's lists, inside the boundary."""
    frames = []
    if cfg.from_osm and len(osm):
        o = osm.to_crs(crs)
        inside = _within(o, boundary)
        if (~inside).any():
            logger.info(
                "ingest: %d OSM station(s) outside the boundary left out", int((~inside).sum())
            )
        o = o[inside]
        frames.append(
            gpd.GeoDataFrame(
                {
                    "name": o["name"].fillna("").to_numpy(),
                    "status": "existing",
                    "source": "osm",
                    "source_id": o["osm_id"].to_numpy(),
                },
                geometry=o.geometry.to_numpy(),
                crs=crs,
            )
        )
    tables = [_station_file(spec, crs, boundary) for spec in cfg.files]
    for table in tables:
        rows = table.rows
        frames.append(
            gpd.GeoDataFrame(
                {
                    "name": rows["name"].fillna("").to_numpy() if "name" in rows else "",
                    "status": rows["status"].to_numpy(),
                    "source": rows["source_file"].to_numpy(),
                    "source_id": rows["source_line"].astype(str).to_numpy(),
                },
                geometry=rows.geometry.to_numpy(),
                crs=crs,
            )
        )
    if not frames:
        stations = gpd.GeoDataFrame(
            {"name": [], "status": [], "source": [], "source_id": []}, geometry=[], crs=crs
        )
    else:
        stations = pd.concat(frames, ignore_index=True)
    stations = stations.reset_index(drop=True)
    stations.index.name = "station_id"
    if not len(stations):
        logger.warning(
            "ingest: no fire station: neither the OSM data nor an authority file gives one "
            "inside the boundary; response times cannot be computed (add stations.files)"
        )
    return stations, tables


@dataclass
class Source:
    """The OSM data read for the province: the file, what was read, the boundary found."""

    src: Path
    read_from: Path
    info: OsmDataInfo
    layers: OsmLayers
    found: Boundary


def read_source(ctx: StageContext) -> Source:
    """Find (or download) the OSM file, clip it to the province when worth it, read it."""
    config = ctx.config
    src = osm_source(config)
    downloaded = src is None
    if src is None:
        src = fetch_extract(config.osm, ctx.paths.raw_cache, progress=ctx.progress)
    elif not src.exists():
        msg = f"{src}: OSM file not found"
        raise MissingInputError(msg)
    info = describe(src, scan_max_mb=config.osm.date_scan_max_mb)
    logger.info("%s", info.line())
    read_from = src
    if should_clip(config.osm, src, downloaded=downloaded):
        read_from = clipped_extract(
            src, osm_cfg=config.osm, boundary_cfg=config.boundary, crs=config.crs,
            cache_dir=ctx.paths.clip_cache,
        )  # fmt: skip
    layers = read_osm(read_from, progress=ctx.progress)
    found = load_boundary(config.boundary, layers, crs=config.crs)
    return Source(src=src, read_from=read_from, info=info, layers=layers, found=found)


def street_graph(
    source: Source, config: ProvinceConfig
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return the street graph (nodes, directed edges) clipped to the boundary."""
    layers, boundary = source.layers, source.found.polygon
    t0 = time.perf_counter()
    nodes, edges = build_edges(
        layers.streets, layers.street_refs, layers.street_lonlat, crs=config.crs
    )
    nodes, edges = clip_edges(nodes, edges, boundary)
    # Node tags as OSMnx keeps them: turning circles matter for dead ends (QCVN 06:2022 §6.2.5).
    nodes["highway"] = pd.Series(layers.node_highway, dtype=object).reindex(nodes.index).to_numpy()
    if edges.empty:
        msg = (
            f"{source.src}: no streets inside the boundary; is it the right file for {config.slug}?"
        )
        raise NoDataError(msg)
    check_graph_layers(nodes, edges)
    logger.info(
        "ingest: graph %s nodes, %s edges, %.0f km of street (%.1f s)",
        f"{len(nodes):,}",
        f"{len(edges):,}",
        edges.loc[~edges["reversed"], "length"].sum() / 1000,
        time.perf_counter() - t0,
    )
    return nodes, edges


def street_ways(layers: OsmLayers, edges: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """Return the OSM street ways with a part in the graph, as lines in the project CRS."""
    street_ids = set(edges["osmid"].unique().tolist())
    streets = layers.streets[layers.streets["osmid"].isin(street_ids)]
    way_geoms = gpd.GeoSeries(
        shapely.linestrings(
            np.concatenate(layers.street_lonlat),
            indices=np.repeat(
                np.arange(len(layers.street_refs)), [len(r) for r in layers.street_refs]
            ),
        ),
        crs="EPSG:4326",
    )
    streets = gpd.GeoDataFrame(
        streets, geometry=way_geoms.iloc[streets.index].to_numpy(), crs="EPSG:4326"
    ).to_crs(crs)
    return streets.reset_index(drop=True)


@dataclass
class Areas:
    """The province's layers besides the streets, clipped to it, with the authority files."""

    buildings: gpd.GeoDataFrame
    footprints_added: dict[str, int]
    water_points: gpd.GeoDataFrame
    water_bodies: gpd.GeoDataFrame
    admin: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    wards_info: dict[str, Any]
    stations: gpd.GeoDataFrame
    station_tables: list[AuthorityTable]
    rejects: pd.DataFrame


def province_layers(source: Source, config: ProvinceConfig) -> Areas:
    """Clip buildings, water, admin areas to the province; build its wards and stations."""
    layers, boundary, crs = source.layers, source.found.polygon, config.crs
    buildings, footprints_added = _buildings(
        _clip(layers.buildings, boundary, crs, "inside"), config.buildings, boundary, crs
    )
    admin = _clip(layers.admin, boundary, crs, "intersects")
    communes = commune_table(config.wards, crs)
    wards, wards_info = build_wards(
        config, admin, boundary, province_level=source.found.admin_level, table=communes
    )
    stations, station_tables = _stations(layers.stations, config.stations, boundary, crs)
    return Areas(
        buildings=buildings,
        footprints_added=footprints_added,
        water_points=_clip(layers.water_points, boundary, crs, "inside"),
        water_bodies=_clip(layers.water_bodies, boundary, crs, "intersects"),
        admin=admin,
        wards=wards,
        wards_info=wards_info,
        stations=stations,
        station_tables=station_tables,
        rejects=rejects_frame([*station_tables, *([communes] if communes is not None else [])]),
    )


def ingest_summary(
    source: Source,
    streets: gpd.GeoDataFrame,
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    areas: Areas,
) -> dict[str, Any]:
    """Return the stage's summary: the OSM file, counts of every layer, authority files."""
    src, read_from, layers, a = source.src, source.read_from, source.layers, areas
    return {
        "source": str(src),
        **source.info.summary(),
        "osm_clip": read_from.name if read_from != src else None,
        "osm_clip_bytes": read_from.stat().st_size if read_from != src else None,
        "boundary_source": source.found.source,
        "boundary_km2": round(source.found.polygon.area / 1e6, 3),
        "streets": len(streets),
        "buildings": len(a.buildings),
        "buildings_by_source": a.buildings["source"].value_counts().to_dict(),
        "footprints_added": a.footprints_added,
        "stations": len(a.stations),
        "stations_by_status": a.stations["status"].value_counts().to_dict(),
        "water_points": len(a.water_points),
        "water_points_by_kind": a.water_points["emergency"].value_counts().to_dict(),
        "water_bodies": len(a.water_bodies),
        "admin_areas": len(a.admin),
        "wards": len(a.wards),
        "wards_approximate": bool(a.wards["approximate"].any()),
        "wards_source": a.wards_info,
        "graph_nodes": len(nodes),
        "graph_edges": len(edges),
        "street_km": round(float(edges.loc[~edges["reversed"], "length"].sum()) / 1000, 3),
        "skipped": layers.skipped,
        "partial_street_ways": layers.partial,
        "osm_read_s": layers.read_s,
        "osm_read_cpu_s": layers.read_cpu_s,
        "osm_objects_kept": layers.objects_kept,
        "station_rejects": rejects_frame(a.station_tables).to_dict(orient="records"),
        "authority_files": [t.stats() for t in a.station_tables]
        + ([a.wards_info["table"]] if "table" in a.wards_info else []),
        "rejected_rows": len(a.rejects),
    }


def run(ctx: StageContext) -> dict[str, Any]:
    """Run the ingest stage: read OSM, clip to the boundary, write layers and the graph.

    Each table is written in a background thread (:class:`pipeline.parallel.Background`) as
    soon as it is ready, while the next one is built: the graph while the streets and the
    province layers are clipped, those while the wards are joined.
    """
    config = ctx.config
    with Background() as writes:
        source = read_source(ctx)
        nodes, edges = street_graph(source, config)
        writes.submit(contracts.write_table, ctx, contracts.GRAPH_NODES, nodes.reset_index())
        writes.submit(contracts.write_table, ctx, contracts.GRAPH_EDGES, edges.reset_index())
        streets = street_ways(source.layers, edges, config.crs)
        writes.submit(contracts.write_table, ctx, contracts.STREETS, streets)
        areas = province_layers(source, config)
        source.layers.release()  # the raw layers are clipped copies now: not held while writing
        boundary_gdf = gpd.GeoDataFrame(
            {"name_vi": [config.name.vi], "name_en": [config.name.en]},
            geometry=[source.found.polygon],
            crs=config.crs,
        )
        outputs = {
            contracts.BOUNDARY: boundary_gdf,
            contracts.BUILDINGS: areas.buildings,
            contracts.STATIONS: areas.stations,
            contracts.WATER_POINTS: areas.water_points,
            contracts.WATER_BODIES: areas.water_bodies,
            contracts.ADMIN: areas.admin,
            contracts.WARDS: areas.wards,
        }
        for art, gdf in outputs.items():
            writes.submit(contracts.write_table, ctx, art, gdf)
    summary = ingest_summary(source, streets, nodes, edges, areas)
    areas.rejects.to_csv(ctx.output("rejects"), index=False, encoding="utf-8")
    contracts.write_summary(ctx, contracts.INGEST_SUMMARY, summary)
    logger.info(
        "ingest: %s streets, %s buildings, %s stations, %s water points, %s water bodies, "
        "%s admin areas",
        *(
            f"{summary[k]:,}"
            for k in ("streets", "buildings", "stations", "water_points", "water_bodies",
                      "admin_areas")
        ),
    )  # fmt: skip
    return summary
