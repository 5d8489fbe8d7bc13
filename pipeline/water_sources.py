"""Water sources for fire-fighting: OSM points and water bodies plus authority files, merged."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from pipeline._errors import ConfigError
from pipeline.table_cells import fold
from pipeline.tables import REJECT_COLUMNS, AuthorityTable, read_authority_file

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from pipeline.config import SourceFile, WaterConfig

logger = logging.getLogger(__name__)

#: The kind of a hydrant; every other kind is a static source (tank, suction point, pond, river).
HYDRANT = "hydrant"
#: OSM ``emergency=*`` values of water points -> source kinds.
OSM_POINT_KINDS: dict[str, str] = {
    "fire_hydrant": HYDRANT,
    "water_tank": "water_tank",
    "suction_point": "suction_point",
    "fire_water_pond": "fire_water_pond",
}
SOURCE_COLUMNS = ["source_id", "kind", "origin", "name", "file", "line", "osm_id"]


def known_kinds(config: WaterConfig) -> list[str]:
    """Return every source kind the stage understands (point kinds and counted water bodies)."""
    return sorted({*OSM_POINT_KINDS.values(), *config.natural_kinds})


def _empty(crs: str) -> gpd.GeoDataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in SOURCE_COLUMNS})
    frame["line"] = frame["line"].astype("Int64")
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def osm_sources(
    water_points: gpd.GeoDataFrame, water_bodies: gpd.GeoDataFrame, *, crs: str
) -> gpd.GeoDataFrame:
    """Return OSM water points and water bodies as source rows.

    Parameters
    ----------
    water_points
        The ``ingest`` stage's points with ``osm_id``, ``emergency`` and ``name``.
    water_bodies
        The ``ingest`` stage's ponds, lakes (polygons) and rivers, canals (lines) with ``kind``.
    crs
        The project CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`SOURCE_COLUMNS` and geometry; ``origin`` is ``"osm"``.
    """
    frames = []
    for gdf, kind in (
        (water_points, water_points.get("emergency", pd.Series(dtype=object)).map(OSM_POINT_KINDS)),
        (water_bodies, water_bodies.get("kind", pd.Series(dtype=object))),
    ):
        if gdf.empty:
            continue
        osm_id = gdf["osm_id"].astype(str).to_numpy()
        frames.append(
            gpd.GeoDataFrame(
                {
                    "source_id": np.char.add("osm:", osm_id.astype(str)),
                    "kind": kind.fillna("unknown").astype(str).to_numpy(),
                    "origin": "osm",
                    "name": gdf["name"].to_numpy() if "name" in gdf else None,
                    "file": None,
                    "line": pd.array([pd.NA] * len(gdf), dtype="Int64"),
                    "osm_id": osm_id,
                },
                geometry=gdf.to_crs(crs).geometry.to_numpy(),
                crs=crs,
            )
        )
    if not frames:
        return _empty(crs)
    return pd.concat(frames, ignore_index=True)


def _file_types(table: AuthorityTable, spec: SourceFile) -> pd.Series:
    """Return each row's raw type: the type column (found or configured), else the default."""
    rows = table.rows
    if "type" in rows.columns:
        raw = rows["type"].fillna("").astype(str).str.strip()
    elif spec.default_type is not None:
        raw = pd.Series("", index=rows.index)
    else:
        msg = (
            f"{table.path}: no type column (loại / type) and no default_type: add the column, "
            "or give the file's kind, e.g. water.files: [{path: ..., default_type: hydrant}]"
        )
        raise ConfigError(msg)
    filled: pd.Series = raw.mask(raw == "", spec.default_type or "")
    return filled


def file_sources(
    files: list[SourceFile],
    *,
    crs: str,
    boundary: BaseGeometry,
    config: WaterConfig,
) -> tuple[gpd.GeoDataFrame, list[AuthorityTable]]:
    """Read authority files of water sources; keep good rows, list bad ones with their lines.

    Parameters
    ----------
    files
        From ``water.files`` in the province config (any file :func:`read_authority_file`
        reads: CSV, XLSX, GeoJSON, GPKG; lon/lat or VN-2000 x/y; ponds may be areas).
    crs
        The project CRS.
    boundary
        The province polygon: rows outside it are rejected.
    config
        The ``water`` config (type aliases, counted kinds).

    Returns
    -------
    sources, tables
        Sources as :func:`osm_sources` gives them (``origin`` is ``"file"``), and each file's
        table (its rejects and counts).
    """
    kinds = set(known_kinds(config))
    aliases = {fold(k): v for k, v in config.type_aliases.items()}
    aliases.update({fold(k): k for k in kinds})
    frames = [_empty(crs)]
    tables = []
    for spec in files:
        table = read_authority_file(spec, crs=crs, what="water sources", geometry="any")
        raw = _file_types(table, spec)
        kind = raw.map(fold).map(aliases)
        table.rows["kind"] = kind.to_numpy()
        reason = np.where(
            raw == "",
            "missing type (fill the type column or set default_type)",
            "unknown type '" + raw + "' (add it to water.type_aliases in the config)",
        )
        table.reject(kind.isna().to_numpy(), reason)
        table.reject_outside(boundary)
        tables.append(table.finish())
        good = table.rows
        frames.append(
            gpd.GeoDataFrame(
                {
                    "source_id": "file:"
                    + good["source_file"].astype(str)
                    + ":"
                    + good["source_line"].astype(str),
                    "kind": good["kind"].to_numpy(),
                    "origin": "file",
                    "name": good["name"].to_numpy() if "name" in good.columns else None,
                    "file": good["source_file"].to_numpy(),
                    "line": pd.array(good["source_line"].to_numpy(), dtype="Int64"),
                    "osm_id": None,
                },
                geometry=good.geometry.to_numpy(),
                crs=crs,
            )
        )
    return pd.concat(frames, ignore_index=True), tables


def merge_duplicates(
    sources: gpd.GeoDataFrame, *, distance_m: float
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Merge point sources of the same kind that lie within ``distance_m`` of each other.

    Parameters
    ----------
    sources
        Source rows in priority order: the first row of a cluster is kept (authority files
        come before OSM, so the authority's row wins).
    distance_m
        Points of the same kind this close (chained) are one source.

    Returns
    -------
    kept, rejects
        ``kept`` has a ``merged`` column (how many rows each kept source absorbed); ``rejects``
        lists each dropped row (``file`` is ``"OSM"`` for OSM rows, with the OSM id in the
        reason) and the source it was merged into.
    """
    n = len(sources)
    geoms = sources.geometry.to_numpy()
    is_point = shapely.get_type_id(geoms) == 0
    idx = np.flatnonzero(is_point)
    keeper = np.arange(n)
    if len(idx) > 1:
        tree = shapely.STRtree(geoms[idx])
        a, b = tree.query(geoms[idx], predicate="dwithin", distance=distance_m)
        kinds = sources["kind"].to_numpy()[idx]
        same = (a < b) & (kinds[a] == kinds[b])
        graph = sparse.coo_matrix(
            (np.ones(same.sum()), (a[same], b[same])), shape=(len(idx), len(idx))
        )
        _, label = csgraph.connected_components(graph, directed=False)
        first = pd.Series(np.arange(len(idx))).groupby(label).transform("min").to_numpy()
        keeper[idx] = idx[first]
    dropped = keeper != np.arange(n)
    kept = sources[~dropped].copy()
    kept["merged"] = np.bincount(keeper[dropped], minlength=n)[~dropped]
    gone = sources[dropped]
    into = sources.iloc[keeper[dropped]]
    gap = shapely.distance(gone.geometry.to_numpy(), into.geometry.to_numpy())
    osm_note = np.where(
        gone["origin"].to_numpy() == "osm", " OSM " + gone["osm_id"].astype(str), ""
    )
    reasons = [
        f"duplicate{note}: within {g:.1f} m of {k}, merged into it"
        for note, g, k in zip(osm_note, gap, into["source_id"], strict=True)
    ]
    rejects = pd.DataFrame(
        {
            "file": gone["file"].fillna("OSM").to_numpy(),
            "line": pd.array(gone["line"].to_numpy(), dtype="Int64"),
            "reason": reasons,
        },
        columns=REJECT_COLUMNS,
    )
    if len(rejects):
        logger.info("water: %d duplicate source(s) merged (within %g m)", len(rejects), distance_m)
    return kept.reset_index(drop=True), rejects
