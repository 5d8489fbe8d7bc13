"""Stage ``ingest``: OSM file (or download) -> clipped GeoParquet layers + street graph."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline._errors import ConfigError, MissingInputError, NoDataError
from pipeline._io import write_json, write_parquet
from pipeline._validate import check_graph_layers
from pipeline.boundary import load_boundary
from pipeline.download import fetch_extract
from pipeline.footprints import merge_footprints
from pipeline.graph import build_edges, clip_edges
from pipeline.osm_extract import clipped_extract, describe, should_clip
from pipeline.osm_read import read_osm
from pipeline.osm_tags import parse_length_m, parse_number
from pipeline.paths import resolve_input
from pipeline.table_cells import STATUS_ALIASES, STATUS_HINT, fold, parse_status
from pipeline.tables import AuthorityTable, read_authority_file, rejects_frame
from pipeline.wards import build_wards, commune_table

if TYPE_CHECKING:
    from pathlib import Path

    from shapely.geometry.base import BaseGeometry

    from pipeline.config import BuildingsConfig, ProvinceConfig, SourceFile, StationsConfig
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
    shapely.prepare(boundary)
    inside: np.ndarray = shapely.contains(boundary, shapely.point_on_surface(geoms))
    return inside


def _clip(gdf: gpd.GeoDataFrame, boundary: BaseGeometry, crs: str, how: str) -> gpd.GeoDataFrame:
    gdf = gdf.to_crs(crs)
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


def run(ctx: StageContext) -> dict[str, Any]:
    """Run the ingest stage: read OSM, clip to the boundary, write layers and the graph."""
    config = ctx.config
    crs = config.crs
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
            src, osm_cfg=config.osm, boundary_cfg=config.boundary, crs=crs,
            cache_dir=ctx.paths.clip_cache,
        )  # fmt: skip
    layers = read_osm(read_from, progress=ctx.progress)
    found = load_boundary(config.boundary, layers, crs=crs)
    boundary = found.polygon

    t0 = time.perf_counter()
    nodes, edges = build_edges(layers.streets, layers.street_refs, layers.street_lonlat, crs=crs)
    nodes, edges = clip_edges(nodes, edges, boundary)
    # Node tags as OSMnx keeps them: turning circles matter for dead ends (QCVN 06:2022 §6.2.5).
    nodes["highway"] = pd.Series(layers.node_highway, dtype=object).reindex(nodes.index).to_numpy()
    if edges.empty:
        msg = f"{src}: no streets inside the boundary; is it the right file for {config.slug}?"
        raise NoDataError(msg)
    check_graph_layers(nodes, edges)
    logger.info(
        "ingest: graph %s nodes, %s edges, %.0f km of street (%.1f s)",
        f"{len(nodes):,}",
        f"{len(edges):,}",
        edges.loc[~edges["reversed"], "length"].sum() / 1000,
        time.perf_counter() - t0,
    )

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
    streets = streets.reset_index(drop=True)

    buildings, footprints_added = _buildings(
        _clip(layers.buildings, boundary, crs, "inside"), config.buildings, boundary, crs
    )
    water_points = _clip(layers.water_points, boundary, crs, "inside")
    water_bodies = _clip(layers.water_bodies, boundary, crs, "intersects")
    admin = _clip(layers.admin, boundary, crs, "intersects")
    communes = commune_table(config.wards, crs)
    wards, wards_info = build_wards(
        config, admin, boundary, province_level=found.admin_level, table=communes
    )
    stations, station_tables = _stations(layers.stations, config.stations, boundary, crs)
    rejects = rejects_frame([*station_tables, *([communes] if communes is not None else [])])
    boundary_gdf = gpd.GeoDataFrame(
        {"name_vi": [config.name.vi], "name_en": [config.name.en]}, geometry=[boundary], crs=crs
    )

    outputs = {
        "boundary": boundary_gdf,
        "streets": streets,
        "buildings": buildings,
        "stations": stations,
        "water_points": water_points,
        "water_bodies": water_bodies,
        "admin": admin,
        "wards": wards,
        "graph_nodes": nodes.reset_index(),
        "graph_edges": edges.reset_index(),
    }
    for name, gdf in outputs.items():
        write_parquet(gdf, ctx.output(name))
    summary = {
        "source": str(src),
        **info.summary(),
        "osm_clip": read_from.name if read_from != src else None,
        "osm_clip_bytes": read_from.stat().st_size if read_from != src else None,
        "boundary_source": found.source,
        "boundary_km2": round(boundary.area / 1e6, 3),
        "streets": len(streets),
        "buildings": len(buildings),
        "buildings_by_source": buildings["source"].value_counts().to_dict(),
        "footprints_added": footprints_added,
        "stations": len(stations),
        "stations_by_status": stations["status"].value_counts().to_dict(),
        "water_points": len(water_points),
        "water_points_by_kind": water_points["emergency"].value_counts().to_dict(),
        "water_bodies": len(water_bodies),
        "admin_areas": len(admin),
        "wards": len(wards),
        "wards_approximate": bool(wards["approximate"].any()),
        "wards_source": wards_info,
        "graph_nodes": len(nodes),
        "graph_edges": len(edges),
        "street_km": round(float(edges.loc[~edges["reversed"], "length"].sum()) / 1000, 3),
        "skipped": layers.skipped,
        "partial_street_ways": layers.partial,
        "osm_read_s": layers.read_s,
        "osm_read_cpu_s": layers.read_cpu_s,
        "osm_objects_kept": layers.objects_kept,
        "station_rejects": rejects_frame(station_tables).to_dict(orient="records"),
        "authority_files": [t.stats() for t in station_tables]
        + ([wards_info["table"]] if "table" in wards_info else []),
        "rejected_rows": len(rejects),
    }
    rejects.to_csv(ctx.output("rejects"), index=False, encoding="utf-8")
    write_json(summary, ctx.output("ingest_summary"))
    logger.info(
        "ingest: %s streets, %s buildings, %s stations, %s water points, %s water bodies, "
        "%s admin areas",
        *(
            f"{summary[k]:,}"
            for k in (
                "streets",
                "buildings",
                "stations",
                "water_points",
                "water_bodies",
                "admin_areas",
            )
        ),
    )
    return summary
