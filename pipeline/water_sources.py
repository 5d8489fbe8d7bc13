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
from pipeline.tables import REJECT_COLUMNS, read_point_table

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


def _file_types(points: pd.DataFrame, spec: SourceFile, path: str) -> pd.Series:
    """Return each row's raw type: the type column, else the file's default type, else blank."""
    if spec.type_column is not None:
        if spec.type_column not in points.columns:
            columns = ", ".join(map(str, points.columns))
            msg = (
                f"{path}: type column {spec.type_column!r} not found (columns: {columns}); "
                "fix water.files[].type_column in the province config"
            )
            raise ConfigError(msg)
        raw = points[spec.type_column].astype(str).str.strip()
        raw = raw.mask(raw.isin(["", "nan", "None"]), "")
    else:
        raw = pd.Series("", index=points.index)
    return raw.mask(raw == "", spec.default_type or "")


def file_sources(
    files: list[SourceFile],
    *,
    crs: str,
    boundary: BaseGeometry,
    config: WaterConfig,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read authority files of water sources; keep good rows, list bad ones with their lines.

    Parameters
    ----------
    files
        From ``water.files`` in the province config (CSV lon/lat or VN-2000 x/y with its EPSG
        code, GeoJSON, GeoPackage, XLSX).
    crs
        The project CRS.
    boundary
        The province polygon: rows outside it are rejected.
    config
        The ``water`` config (type aliases, counted kinds).

    Returns
    -------
    sources, rejects
        Sources as :func:`osm_sources` gives them (``origin`` is ``"file"``); rejects with
        ``file, line, reason``.
    """
    kinds = set(known_kinds(config))
    aliases = {str(k).strip().lower(): v for k, v in config.type_aliases.items()}
    frames = [_empty(crs)]
    rejects = [pd.DataFrame(columns=REJECT_COLUMNS)]
    for spec in files:
        table = read_point_table(
            spec.path,
            crs=crs,
            source_crs=spec.crs,
            x_column=spec.x_column,
            y_column=spec.y_column,
            layer=spec.layer,
            areas=True,
        )
        rejects.append(table.rejects)
        pts = table.points
        raw = _file_types(pts, spec, spec.path)
        key = raw.str.strip().str.lower()
        kind = key.map(aliases).fillna(key.where(key.isin(kinds)))
        reason = pd.Series("", index=pts.index, dtype=object)
        reason[raw == ""] = "missing type (fill the type column or set default_type)"
        unknown = (raw != "") & kind.isna()
        reason[unknown] = (
            "unknown type '" + raw[unknown] + "' (add it to water.type_aliases in the config)"
        )
        shapely.prepare(boundary)
        outside = ~shapely.contains(boundary, shapely.point_on_surface(pts.geometry.to_numpy()))
        reason[outside & (reason == "")] = "outside the province boundary"
        bad = (reason != "").to_numpy()
        file_name = str(pts["source_file"].iloc[0]) if len(pts) else spec.path
        rejects.append(
            pd.DataFrame(
                {
                    "file": file_name,
                    "line": pts["source_line"].to_numpy()[bad],
                    "reason": reason.to_numpy()[bad],
                }
            )
        )
        good = pts[~bad]
        name_col = next((c for c in ("name", "ten", "tên") if c in good.columns), None)
        frames.append(
            gpd.GeoDataFrame(
                {
                    "source_id": "file:"
                    + good["source_file"].astype(str)
                    + ":"
                    + good["source_line"].astype(str),
                    "kind": kind[~bad].to_numpy(),
                    "origin": "file",
                    "name": good[name_col].to_numpy() if name_col else None,
                    "file": good["source_file"].to_numpy(),
                    "line": pd.array(good["source_line"].to_numpy(), dtype="Int64"),
                    "osm_id": None,
                },
                geometry=good.geometry.to_numpy(),
                crs=crs,
            )
        )
        logger.info(
            "water: %s: %d source rows kept, %d rejected",
            file_name,
            len(good),
            int(bad.sum()) + len(table.rejects),
        )
    sources = pd.concat(frames, ignore_index=True)
    rejects_df = pd.concat(rejects, ignore_index=True)
    rejects_df["line"] = rejects_df["line"].astype("Int64")
    return sources, rejects_df


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
