"""Stage ``ingest``: OSM file (or download) -> clipped GeoParquet layers + street graph."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline._errors import NoDataError
from pipeline._io import write_json, write_parquet
from pipeline._validate import check_graph_layers
from pipeline.boundary import load_boundary
from pipeline.download import fetch_extract
from pipeline.footprints import merge_footprints
from pipeline.graph import build_edges, clip_edges
from pipeline.osm_read import read_osm
from pipeline.paths import resolve_input
from pipeline.tables import REJECT_COLUMNS, read_point_table
from pipeline.wards import build_wards

if TYPE_CHECKING:
    from pathlib import Path

    from shapely.geometry.base import BaseGeometry

    from pipeline.config import BuildingsConfig, ProvinceConfig, StationsConfig
    from pipeline.stage import StageContext

logger = logging.getLogger(__name__)

STATION_STATUSES = ("existing", "planned")


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
    levels = pd.to_numeric(
        buildings["building:levels"]
        .astype("string")
        .str.replace(",", ".")
        .str.extract(r"^\s*(\d+(?:\.\d+)?)", expand=False),
        errors="coerce",
    )
    height = pd.to_numeric(
        buildings["height"]
        .astype("string")
        .str.replace(",", ".")
        .str.extract(r"^\s*(\d+(?:\.\d+)?)", expand=False),
        errors="coerce",
    )
    from_height = np.maximum(1, np.round(height / cfg.storey_height_m.value))
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


def _stations(
    osm: gpd.GeoDataFrame, cfg: StationsConfig, boundary: BaseGeometry, crs: str
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """OSM stations (status ``existing``) plus the authority's lists, inside the boundary."""
    frames = []
    rejects = [pd.DataFrame(columns=REJECT_COLUMNS)]
    if cfg.from_osm and len(osm):
        o = osm.to_crs(crs)
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
    for f in cfg.files:
        table = read_point_table(f, crs=crs)
        pts = table.points
        name_col = "name" if "name" in pts.columns else "name_vi" if "name_vi" in pts else None
        status = pts["status"].str.strip().str.lower() if "status" in pts else "existing"
        frame = gpd.GeoDataFrame(
            {
                "name": pts[name_col].to_numpy() if name_col else "",
                "status": status,
                "source": pts["source_file"],
                "source_id": pts["source_line"].astype(str),
            },
            geometry=pts.geometry.to_numpy(),
            crs=crs,
        )
        bad = ~frame["status"].isin(STATION_STATUSES)
        if bad.any():
            rejects.append(
                pd.DataFrame(
                    {
                        "file": f,
                        "line": pts.loc[bad, "source_line"].to_numpy(),
                        "reason": "status must be existing or planned",
                    }
                )
            )
        frames.append(frame[~bad])
        rejects.append(table.rejects)
    if not frames:
        stations = gpd.GeoDataFrame(
            {"name": [], "status": [], "source": [], "source_id": []}, geometry=[], crs=crs
        )
    else:
        stations = pd.concat(frames, ignore_index=True)
    inside = _within(stations, boundary)
    if (~inside).any():
        logger.warning("ingest: %d station(s) outside the boundary dropped", int((~inside).sum()))
    stations = stations[inside].reset_index(drop=True)
    stations.index.name = "station_id"
    return stations, pd.concat(rejects, ignore_index=True)


def run(ctx: StageContext) -> dict[str, Any]:
    """Run the ingest stage: read OSM, clip to the boundary, write layers and the graph."""
    config = ctx.config
    crs = config.crs
    src = osm_source(config)
    if src is None:
        src = fetch_extract(config.osm, ctx.paths.raw_cache, progress=ctx.progress)
    layers = read_osm(src, progress=ctx.progress)
    boundary = load_boundary(config.boundary, layers, crs=crs)

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
    wards = build_wards(config, admin, boundary)
    stations, station_rejects = _stations(layers.stations, config.stations, boundary, crs)
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
        "graph_nodes": len(nodes),
        "graph_edges": len(edges),
        "street_km": round(float(edges.loc[~edges["reversed"], "length"].sum()) / 1000, 3),
        "skipped": layers.skipped,
        "partial_street_ways": layers.partial,
        "osm_read_s": layers.read_s,
        "osm_read_cpu_s": layers.read_cpu_s,
        "osm_objects_kept": layers.objects_kept,
        "station_rejects": station_rejects.to_dict(orient="records"),
    }
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
