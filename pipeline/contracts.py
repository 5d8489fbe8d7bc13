"""Data contracts between the stages: every artifact a later stage or the report reads.

Each :class:`Artifact` (a table) or :class:`Summary` (a stage's ``summary.json``) names its
stage, its file (:data:`pipeline.paths.ARTIFACTS`) and the columns or keys its stage promises:
:func:`write_table` and :func:`write_summary` refuse to write an artifact without them and
stamp it with the stage's cache key. The readers fail loudly, in one line naming the file and
the stage to rerun, when an artifact is missing, stale (no manifest entry for its stage, or
written under another key than the manifest records) or lacks a column; they read only the
columns a caller asks for. Every stage and the report read their inputs here.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely

from pipeline._errors import InputDataError, MissingInputError, StaleInputError, ValidationError
from pipeline._io import read_json, write_json, write_parquet
from pipeline.parallel import release_freed_memory
from pipeline.wards import WARD_COLUMNS, WHOLE_PROVINCE

if TYPE_CHECKING:
    from pathlib import Path

    import geopandas as gpd
    import pandas as pd

    from pipeline.paths import ProvincePaths
    from pipeline.stage import StageContext

logger = logging.getLogger(__name__)

#: Key of the stamp (stage, artifact, cache key) in a table's Parquet metadata and a summary.
STAMP = "firegap"
#: How a reader returns geometry: the shapes, one anchor point per row, or none.
Geometry = Literal["full", "anchor", "none"]
#: Rows whose geometry is decoded at a time when only an anchor point (or some rows) is kept.
GEOMETRY_CHUNK = 200_000


@dataclass(frozen=True)
class Artifact:
    """A table one stage writes and later stages or the report read.

    ``columns`` are promised by the stage (checked when written; a reader asking for one the
    file lacks gets an error). ``optional`` columns may be absent: a reader asking for one
    gets it only when the file has it. ``index`` names the row key: restored on reading.
    """

    stage: str
    name: str
    columns: tuple[str, ...]
    index: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``<stage>/<name>``, as in messages."""
        return f"{self.stage}/{self.name}"

    def path(self, paths: ProvincePaths) -> Path:
        """Return the artifact's file."""
        return paths.artifact(self.stage, self.name)


@dataclass(frozen=True)
class Summary:
    """A stage's ``summary.json``: the keys later stages and the report read."""

    stage: str
    name: str
    keys: tuple[str, ...]

    def path(self, paths: ProvincePaths) -> Path:
        """Return the summary's file."""
        return paths.artifact(self.stage, self.name)


# --- ingest ----------------------------------------------------------------------------------

BOUNDARY = Artifact("ingest", "boundary", ("name_vi", "name_en"))
BUILDINGS = Artifact(
    "ingest",
    "buildings",
    ("osm_id", "building", "name", "levels", "levels_source", "height_m", "source",
     "footprint_m2", "floor_area_m2", "addr:housenumber", "addr:street"),
    index=("building_id",),
)  # fmt: skip
STATIONS = Artifact("ingest", "stations", ("name", "status", "source"), index=("station_id",))
WATER_POINTS = Artifact("ingest", "water_points", ("osm_id", "emergency", "name"))
WATER_BODIES = Artifact("ingest", "water_bodies", ("osm_id", "kind", "name"))
STREETS = Artifact("ingest", "streets", ("osmid", "highway", "name"))
ADMIN = Artifact("ingest", "admin", ("osm_id", "name", "admin_level"))
WARDS = Artifact("ingest", "wards", tuple(WARD_COLUMNS))
GRAPH_NODES = Artifact("ingest", "graph_nodes", ("x", "y", "street_count"), index=("osmid",))
GRAPH_EDGES = Artifact(
    "ingest",
    "graph_edges",
    ("osmid", "highway", "name", "oneway", "reversed", "length"),
    index=("u", "v", "key"),
    optional=("maxspeed",),
)
INGEST_SUMMARY = Summary(
    "ingest", "ingest_summary", ("osm_timestamp", "buildings", "stations", "authority_files")
)

# --- network ---------------------------------------------------------------------------------

#: Per directed edge: the width evidence, the truck rule applied and the truck network.
EDGES = Artifact(
    "network",
    "edges",
    ("highway", "name", "oneway", "reversed", "length", "width_m", "width_low_m",
     "width_high_m", "width_source", "width_evidence", "width_confidence",
     "truck_min_width_m", "width_class", "blocked", "block_reason", "truck_status",
     "truck_status_reason", "truck_ok", "urban_width_rule", "truck_connected",
     "truck_component_km", "alley_id", "ward_id", "ward"),
    index=("u", "v", "key"),
)  # fmt: skip
ALLEYS = Artifact(
    "network",
    "alleys",
    ("alley_id", "name", "highway", "length_m", "depth_m", "min_width_m", "min_width_low_m",
     "min_width_high_m", "width_evidence", "width_confidence", "truck_min_width_m",
     "width_shortfall_m", "truck_status", "truck_status_reason", "n_buildings",
     "n_buildings_behind", "n_deep_behind", "floor_area_behind_m2", "deep_floor_area_behind_m2",
     "parent_alley_id", "attach_node", "mouth_node", "to_widen", "field_check", "ward_id",
     "ward", "has_fire_point", "needs_fire_point", "priority_rank", "check_rank"),
)  # fmt: skip
DEEP_BUILDINGS = Artifact(
    "network",
    "deep_buildings",
    ("hose_distance_m", "deep", "deep_status", "reachable", "bottleneck_width_m", "alley_id",
     "ward_id", "ward", "floor_area_m2"),
    index=("building_id",),
)  # fmt: skip
#: Per building: its nearest street (forward edge), gap, frontage ends, next street's bound.
BUILDING_SNAP = Artifact(
    "network",
    "building_snap",
    ("u", "v", "key", "gap_m", "to_u_m", "to_v_m", "runner_up_m"),
    index=("building_id",),
)
FIRE_POINTS = Artifact(
    "network",
    "fire_point_candidates",
    ("rank", "mouth_node", "alley_id", "name", "depth_m", "ward_id", "ward", "n_alleys",
     "n_buildings", "n_deep_buildings", "floor_area_m2"),
)  # fmt: skip
DEAD_ENDS = Artifact(
    "network",
    "dead_ends",
    ("dead_end_node", "junction_node", "length_m", "has_turning_area", "truck_connected",
     "flagged", "ward_id", "ward"),
)  # fmt: skip
NETWORK_STATIONS = Artifact(
    "network",
    "stations",
    ("station_id", "name", "status", "snap_m", "connected", "nearest_truck_m",
     "nearest_component_km", "snap_note"),
)  # fmt: skip
#: Per ward (``ward_id``): km by truck status and width class, deep buildings, alleys.
NETWORK_WARDS = Artifact(
    "network",
    "wards",
    ("ward_id", "ward", "ward_type", "approximate", "street_km", "truck_km",
     "truck_connected_km", "passable_km", "not_passable_km", "uncertain_km",
     "small_vehicle_km", "hose_only_km", "n_buildings", "n_deep_buildings", "n_deep_uncertain",
     "deep_floor_area_m2", "n_alleys", "n_alleys_to_widen", "n_alleys_field_check",
     "n_dead_ends_flagged", "n_fire_point_candidates", "deep_share", "truck_share"),
)  # fmt: skip
NETWORK_SUMMARY = Summary(
    "network",
    "network_summary",
    ("street_km", "truck_min_width_m", "hose_reach_m", "truck_connected_km", "width_class",
     "alleys", "buildings", "deep_buildings", "station_note", "truck_km_reachable_share",
     "authority_files"),
)  # fmt: skip

# --- water -----------------------------------------------------------------------------------

SOURCES = Artifact(
    "water",
    "sources",
    ("source_id", "kind", "origin", "name", "usable", "reason", "reach_m", "access_points",
     "snap_m", "area_m2", "ward_id"),
)  # fmt: skip
BUILDING_WATER = Artifact(
    "water",
    "building_water",
    ("floor_area_m2", "hydrant_distance_m", "natural_distance_m", "water_distance_m",
     "nearest_source_id", "nearest_source_kind", "covered", "street_gap_m", "ward_id"),
    index=("building_id",),
)  # fmt: skip
STREET_WATER = Artifact(
    "water",
    "street_water",
    ("u", "v", "key", "truck", "length_m", "covered_m", "uncovered_m", "covered"),
)
REACH = Artifact(
    "water", "reach", ("u", "v", "key", "kind", "reach_m", "from_m", "to_m", "length_m")
)
SPACING_GAPS = Artifact(
    "water", "spacing_gaps", ("u", "v", "key", "length_m", "beyond_half_spacing_m")
)
HYDRANTS = Artifact(
    "water",
    "hydrant_candidates",
    ("rank", "node_id", "added_weight", "added_floor_area_m2", "added_buildings",
     "cumulative_share", "ward_id", "weight_kind"),
)  # fmt: skip
DENSE_GAPS = Artifact(
    "water", "dense_gaps", ("floor_area_m2", "floor_area_without_water_m2", "ward_id")
)
#: Per ward (``ward_id``): buildings, floor area and dense cells without water, sources.
WATER_WARDS = Artifact(
    "water",
    "water_wards",
    ("ward_id", "name", "population", "buildings", "buildings_without_water", "floor_area_m2",
     "floor_area_without_water_m2", "dense_cells", "dense_cells_without_water",
     "usable_hydrants", "usable_other_sources", "hydrant_candidates",
     "share_buildings_without_water", "share_floor_area_without_water",
     "population_without_water"),
)  # fmt: skip
WATER_SUMMARY = Summary(
    "water",
    "water_summary",
    (
        "sources",
        "usable_by_kind",
        "buildings",
        "buildings_without_water",
        "hydrant_reach_m",
        "natural_reach_m",
        "authority_files",
    ),
)

# --- coverage --------------------------------------------------------------------------------

#: Today's stations, the provincial plan and (when any) the suggested sites.
SCENARIO_COLUMNS: tuple[str, ...] = ("existing", "with_planned")
BUILDING_TIMES = Artifact(
    "coverage",
    "building_times",
    ("floor_area_m2", "ward_id", "gap_to_truck_street_m",
     *(f"{c}_{s}" for s in SCENARIO_COLUMNS for c in ("time_s", "station", "within_target"))),
    index=("building_id",),
    optional=("time_s_with_suggested", "station_with_suggested", "within_target_with_suggested"),
)  # fmt: skip
CELLS = Artifact(
    "coverage",
    "cells",
    ("ward_id", "buildings", "floor_area_m2", "population", "dense", "unreached",
     "time_s_existing", "time_s_with_planned"),
    index=("cell_id",),
)  # fmt: skip
NODE_TIMES = Artifact("coverage", "node_times", ("osmid", "time_s_existing", "station_existing"))
ISOCHRONES = Artifact("coverage", "isochrones", ("scenario", "break_min", "break_s", "area_km2"))
SERVICE_AREAS = Artifact("coverage", "service_areas", ("scenario", "stations", "area_km2"))
DENSE_UNREACHED = Artifact(
    "coverage",
    "dense_unreached",
    ("ward_id", "buildings", "floor_area_m2", "population", "time_s_existing", "rank"),
    index=("cell_id",),
)
STATION_SITES = Artifact(
    "coverage",
    "station_candidates",
    ("rank", "station_id", "node", "gain", "weight", "added_buildings", "added_floor_area_m2",
     "added_population", "added_dense_ha"),
)  # fmt: skip
SCENARIOS = Artifact(
    "coverage",
    "scenarios",
    ("scenario", "stations", "buildings", "buildings_within_target", "floor_area_m2",
     "floor_area_within_target_m2", "population", "population_within_target", "dense_cells",
     "dense_unreached_cells", "dense_unreached_ha", "newly_covered_population",
     "newly_covered_floor_area_m2", "newly_covered_dense_ha"),
)  # fmt: skip
#: Per ward (``ward_id``): buildings, people and dense cells within the target, per scenario.
COVERAGE_WARDS = Artifact(
    "coverage",
    "coverage_wards",
    ("ward_id", "name", "ward_type", "ward_population", "buildings", "buildings_within_target",
     "floor_area_m2", "floor_area_within_target_m2", "population", "population_within_target",
     "dense_cells", "dense_unreached_cells", "dense_unreached_ha", "median_time_s"),
)  # fmt: skip
COVERAGE_SUMMARY = Summary(
    "coverage", "coverage_summary", ("buildings", "dense_cells", "dense_unreached_cells",
                                     "scenarios", "target_time_s")
)  # fmt: skip

#: Every table of the contract, by ``(stage, name)``.
TABLES: dict[tuple[str, str], Artifact] = {
    (a.stage, a.name): a
    for a in (
        BOUNDARY, BUILDINGS, STATIONS, WATER_POINTS, WATER_BODIES, STREETS, ADMIN, WARDS,
        GRAPH_NODES, GRAPH_EDGES, EDGES, ALLEYS, DEEP_BUILDINGS, FIRE_POINTS, DEAD_ENDS,
        NETWORK_STATIONS, NETWORK_WARDS, SOURCES, BUILDING_WATER, STREET_WATER, REACH,
        SPACING_GAPS, HYDRANTS, DENSE_GAPS, WATER_WARDS, BUILDING_TIMES, CELLS, NODE_TIMES,
        ISOCHRONES, SERVICE_AREAS, DENSE_UNREACHED, STATION_SITES, SCENARIOS, COVERAGE_WARDS,
    )
}  # fmt: skip
#: Every summary of the contract, by stage.
SUMMARIES: dict[str, Summary] = {
    s.stage: s for s in (INGEST_SUMMARY, NETWORK_SUMMARY, WATER_SUMMARY, COVERAGE_SUMMARY)
}


# --- freshness -------------------------------------------------------------------------------


def _rerun(paths: ProvincePaths, stage: str) -> str:
    return f"make {stage} PROVINCE={paths.province} FORCE=1"


def _stamp(stage: str, name: str, key: str) -> dict[str, str]:
    return {"stage": stage, "artifact": name, "key": key}


def table_stamp(path: Path) -> dict[str, Any] | None:
    """Return the stamp a table was written with (its Parquet metadata), ``None`` without."""
    return _schema_stamp(pq.read_schema(path))


def _schema_stamp(schema: Any) -> dict[str, Any] | None:  # noqa: ANN401 - a pyarrow schema
    """Return the stamp in a Parquet schema's metadata, ``None`` without."""
    meta = schema.metadata or {}
    raw = meta.get(b"PANDAS_ATTRS")
    if raw is None:
        return None
    stamp = json.loads(raw).get(STAMP)
    return stamp if isinstance(stamp, dict) else None


def check_fresh(paths: ProvincePaths, stage: str, path: Path, stamp_key: str | None) -> None:
    """Raise unless ``path`` exists and was written under the key the manifest records.

    Parameters
    ----------
    paths
        The province's paths.
    stage
        The stage that writes the file.
    path
        The file.
    stamp_key
        The cache key the file was stamped with (``None``: none).

    Raises
    ------
    MissingInputError
        No such file.
    StaleInputError
        No manifest entry for the stage, no stamp, or another key than the manifest's.
    """
    manifest = read_json(paths.manifest) if paths.manifest.exists() else {}
    entry = manifest.get(stage)
    if entry is None:
        msg = (
            f"{path}: stale: manifest.json has no {stage} entry, so no finished {stage} stage "
            f"wrote it; rerun the {stage} stage ({_rerun(paths, stage)})"
        )
        raise StaleInputError(msg)
    if stamp_key is None:
        msg = (
            f"{path}: stale: no stage key in the file (written by hand or by an older version); "
            f"rerun the {stage} stage ({_rerun(paths, stage)})"
        )
        raise StaleInputError(msg)
    if stamp_key != entry.get("key"):
        msg = (
            f"{path}: stale: written by a {stage} run with key {stamp_key[:12]}, but "
            f"manifest.json records {str(entry.get('key'))[:12]}; rerun the {stage} stage "
            f"({_rerun(paths, stage)})"
        )
        raise StaleInputError(msg)


def _existing(paths: ProvincePaths, stage: str, path: Path) -> None:
    if not path.exists():
        msg = (
            f"{path}: not found; run the {stage} stage first "
            f"(make {stage} PROVINCE={paths.province})"
        )
        raise MissingInputError(msg)


# --- writers ---------------------------------------------------------------------------------


def write_table(ctx: StageContext, art: Artifact, frame: pd.DataFrame) -> None:
    """Write a stage's table, checked against its contract and stamped with the stage key.

    Raises
    ------
    ValidationError
        The frame lacks a column the contract promises (a bug of the stage, not of the data).
    """
    if art.stage != ctx.stage:
        msg = f"stage {ctx.stage} cannot write {art.label} (the {art.stage} stage's artifact)"
        raise ValidationError(msg)
    have = set(map(str, frame.columns)) | {str(n) for n in frame.index.names if n is not None}
    missing = [c for c in (*art.columns, *art.index) if c not in have]
    if missing:
        msg = f"stage {ctx.stage}: {art.label} lacks column(s) {', '.join(missing)} of its contract"
        raise ValidationError(msg)
    before = dict(frame.attrs)
    frame.attrs = {STAMP: _stamp(art.stage, art.name, ctx.key)}
    release_freed_memory()  # what the stage freed goes back before the write's row groups
    try:
        write_parquet(frame, ctx.output(art.name))  # one row group at a time: bounded memory
    finally:
        frame.attrs = before
    release_freed_memory()


def write_summary(ctx: StageContext, summ: Summary, summary: dict[str, Any]) -> None:
    """Write a stage's ``summary.json`` with its contract keys and the stage key stamped in it."""
    missing = [k for k in summ.keys if k not in summary]
    if missing:
        msg = f"stage {ctx.stage}: {summ.stage}/summary.json lacks key(s) {', '.join(missing)}"
        raise ValidationError(msg)
    write_json({**summary, STAMP: _stamp(summ.stage, summ.name, ctx.key)}, ctx.output(summ.name))


# --- readers ---------------------------------------------------------------------------------


def read_summary(paths: ProvincePaths, summ: Summary) -> dict[str, Any]:
    """Read a stage's summary: checked for freshness and for the contract's keys.

    Returns
    -------
    dict
        The summary without its stamp.
    """
    path = summ.path(paths)
    _existing(paths, summ.stage, path)
    data = read_json(path)
    stamp = data.pop(STAMP, None) if isinstance(data, dict) else None
    check_fresh(paths, summ.stage, path, stamp.get("key") if isinstance(stamp, dict) else None)
    missing = [k for k in summ.keys if k not in data]
    if missing:
        msg = (
            f"{path}: key(s) {', '.join(missing)} missing; rerun the {summ.stage} stage "
            f"({_rerun(paths, summ.stage)})"
        )
        raise InputDataError(msg)
    return dict(data)


def _geo_meta(schema: Any) -> tuple[str | None, str | None]:  # noqa: ANN401 - a pyarrow schema
    """Return the primary geometry column and its CRS (PROJJSON text) from GeoParquet metadata."""
    raw = (schema.metadata or {}).get(b"geo")
    if raw is None:
        return None, None
    geo = json.loads(raw)
    col = geo.get("primary_column")
    crs = geo.get("columns", {}).get(col, {}).get("crs")
    return col, (json.dumps(crs, sort_keys=True) if crs is not None else None)


@functools.lru_cache(maxsize=16)
def _parse_crs(projjson: str) -> Any:  # noqa: ANN401 - a pyproj CRS
    """Parse a file's CRS once per process (pyproj takes ~0.1 s per PROJJSON)."""
    from pyproj import CRS  # noqa: PLC0415 - only for GeoParquet

    return CRS.from_user_input(json.loads(projjson))


@functools.lru_cache(maxsize=16)
def _same_crs(projjson: str, crs: str) -> bool:
    """Whether a file's CRS is the project's ``crs`` (cached, as :func:`_parse_crs`)."""
    return bool(_parse_crs(projjson).equals(crs))


def anchor_points(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Return one point per row: the point itself, a line's midpoint, a polygon's inner point."""
    geoms = gdf.geometry.to_numpy()
    kind = shapely.get_type_id(geoms)
    out: np.ndarray = shapely.point_on_surface(geoms)
    lines = np.isin(kind, (1, 2, 5))
    if lines.any():
        out[lines] = shapely.line_interpolate_point(geoms[lines], 0.5, normalized=True)
    return out


def _geometry_rows(
    frame: pd.DataFrame, rules: tuple[tuple[str, tuple[object, ...]], ...]
) -> np.ndarray:
    """Rows keeping their shape: those matching any rule (all rows without rules)."""
    if not rules:
        return np.ones(len(frame), bool)
    keep = np.zeros(len(frame), bool)
    for col, values in rules:
        keep |= frame[col].isin(list(values)).to_numpy()
    return keep


def _to_read(art: Artifact, asked: tuple[str, ...] | None, names: list[str]) -> list[str] | None:
    """Return the file columns to read (``None``: all); an unknown name is a caller's bug."""
    if asked is None:
        return None
    unknown = [c for c in asked if c not in (*art.columns, *art.optional, *art.index)]
    if unknown:
        msg = f"{art.label}: {', '.join(unknown)} not in its contract (pipeline/contracts.py)"
        raise ValueError(msg)
    return [c for c in dict.fromkeys((*asked, *art.index)) if c in names or c not in art.optional]


def read_table(
    paths: ProvincePaths,
    art: Artifact,
    columns: tuple[str, ...] | None = None,
    *,
    geometry: Geometry = "full",
    geometry_if: tuple[tuple[str, tuple[object, ...]], ...] = (),
    present: tuple[str, ...] = (),
    crs: str | None = None,
) -> Any:  # noqa: ANN401 - a GeoDataFrame, or a DataFrame without geometry
    """Read a stage's table: fresh, with the columns asked for, indexed by its row key.

    Parameters
    ----------
    paths
        The province's paths.
    art
        The artifact.
    columns
        The columns to read (each in the contract; ``None``: every column of the file). A
        promised column the file lacks is an error; an optional one is left out.
    geometry
        "full": the shapes; "anchor": one point per row (:func:`anchor_points`); "none": a
        plain DataFrame.
    geometry_if
        ``(column, values)`` rules: only the rows matching one keep their shape (the columns
        are read for it).
    present
        Read only the rows where each of these columns is set (not null): filtered while
        reading, so the other rows are never decoded (the columns are read for it).
    crs
        The project CRS: a table in another CRS is an error.

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame

    Raises
    ------
    MissingInputError, StaleInputError, InputDataError
        One line naming the file and the stage to rerun.
    """
    path = art.path(paths)
    _existing(paths, art.stage, path)
    try:
        schema = pq.read_schema(path)
        stamp = _schema_stamp(schema)
    except Exception as e:
        msg = (
            f"{path}: cannot read as Parquet ({type(e).__name__}: {e}); rerun the {art.stage} "
            f"stage ({_rerun(paths, art.stage)})"
        )
        raise InputDataError(msg) from e
    check_fresh(paths, art.stage, path, stamp.get("key") if stamp else None)
    geom_col, file_crs = _geo_meta(schema)
    asked = None if columns is None else (*columns, *(c for c, _ in geometry_if), *present)
    cols = _to_read(art, asked, schema.names)
    missing = [c for c in cols or () if c not in schema.names]
    if missing:
        msg = (
            f"{path}: column(s) {', '.join(missing)} missing; rerun the {art.stage} stage "
            f"({_rerun(paths, art.stage)})"
        )
        raise InputDataError(msg)
    if crs is not None and file_crs is not None and not _same_crs(file_crs, crs):
        msg = (
            f"{path}: CRS {_parse_crs(file_crs).to_string()} is not the project CRS {crs}; "
            f"rerun the {art.stage} stage ({_rerun(paths, art.stage)})"
        )
        raise InputDataError(msg)
    draw = geom_col if geometry != "none" else None
    frame, wkb = _read(path, schema, cols, geom_col, draw=draw is not None, present=present)
    if draw is not None and wkb is not None:
        frame = _with_geometry(frame, wkb, geometry, geometry_if, file_crs)
    frame.attrs = {}
    keys = [c for c in art.index if c in frame.columns]
    return frame.set_index(keys) if keys else frame


def _read(
    path: Path,
    schema: Any,  # noqa: ANN401 - a pyarrow schema
    cols: list[str] | None,
    geom_col: str | None,
    *,
    draw: bool,
    present: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, Any]:
    """Read ``cols`` (all when ``None``) and the index as a pandas frame, the WKB apart.

    Only the rows where every ``present`` column is set are read (in file order).

    Returns
    -------
    frame, wkb
        The attributes, and the geometry column as an Arrow array (``None`` when not asked
        for or absent): it never becomes a pandas column of a million ``bytes`` objects.
    """
    if cols is None:
        names = [c for c in schema.names if draw or c != geom_col]
    else:
        meta = json.loads((schema.metadata or {}).get(b"pandas", b"{}"))
        index = [c for c in meta.get("index_columns", []) if isinstance(c, str)]
        extra = [geom_col] if draw and geom_col is not None else []
        wanted = {*cols, *index, *extra}
        names = [c for c in schema.names if c in wanted]
    where = None
    for col in present:
        term = pc.field(col).is_valid()
        where = term if where is None else where & term
    table = pq.read_table(path, columns=names, filters=where)
    wkb = None
    if geom_col is not None and geom_col in table.column_names:
        wkb = table.column(geom_col) if draw else None
        table = table.drop_columns([geom_col])
    # split_blocks: one block per column, no consolidation copy of the numeric columns.
    frame = table.to_pandas(split_blocks=True)
    return frame, wkb


def _with_geometry(
    frame: pd.DataFrame,
    wkb_column: Any,  # noqa: ANN401 - a pyarrow (chunked) binary array
    geometry: Geometry,
    rules: tuple[tuple[str, tuple[object, ...]], ...],
    crs: str | None,
) -> gpd.GeoDataFrame:
    """Decode the WKB column: every shape, the matching rows' shapes, or anchor points."""
    import geopandas as gpd  # noqa: PLC0415

    keep = _geometry_rows(frame, rules)
    geoms = np.full(len(frame), None, dtype=object)
    for start in range(0, len(frame), GEOMETRY_CHUNK):
        stop = min(start + GEOMETRY_CHUNK, len(frame))
        rows = np.flatnonzero(keep[start:stop])
        if not len(rows):
            continue
        # one chunk's WKB as Python bytes at a time, never the whole column's
        wkb = wkb_column.slice(start, stop - start).to_numpy(zero_copy_only=False)
        chunk = shapely.from_wkb(wkb[rows])
        geoms[rows + start] = (
            anchor_points(gpd.GeoDataFrame(geometry=chunk)) if geometry == "anchor" else chunk
        )
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=_parse_crs(crs) if crs else None)


# --- typed readers ---------------------------------------------------------------------------


def read_wards(paths: ProvincePaths, crs: str) -> tuple[gpd.GeoDataFrame, str]:
    """Read the ward layer the ingest stage wrote: the one ward reader of every stage.

    Returns
    -------
    wards, note
        :data:`pipeline.wards.WARD_COLUMNS` + polygons, ``ward_id`` as text, in ``crs``;
        ``note`` says in plain words what the units are (polygons, approximate Voronoi cells,
        or the whole province as one unit).

    Raises
    ------
    InputDataError
        An empty layer (besides the errors of :func:`read_table`).
    """
    wards = read_table(paths, WARDS, tuple(WARD_COLUMNS), crs=crs)
    if wards.empty:
        msg = f"{WARDS.path(paths)}: the ward layer is empty; rerun the ingest stage"
        raise InputDataError(msg)
    wards["ward_id"] = wards["ward_id"].astype(str)
    wards["name"] = wards["name"].fillna(wards["ward_id"]).astype(str)
    wards = wards[[*WARD_COLUMNS, "geometry"]].reset_index(drop=True)
    if len(wards) == 1 and str(wards["ward_type"].iloc[0]) == WHOLE_PROVINCE:
        note = "no ward layer: the whole province is one unit"
    elif bool(wards["approximate"].any()):
        note = "wards are Voronoi cells around commune centroids (no ward polygons)"
    else:
        note = "ward polygons"
    return wards, note


def read_graph(paths: ProvincePaths) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read the ingest street graph: nodes by ``osmid``, edges by ``(u, v, key)``, all tags."""
    return read_table(paths, GRAPH_NODES), read_table(paths, GRAPH_EDGES)


def truck_flags(paths: ProvincePaths, edges: pd.DataFrame) -> np.ndarray:
    """Return per ingest edge whether a fire truck can use it and is on the main truck network.

    Parameters
    ----------
    paths
        The province's paths (``network/edges``).
    edges
        The ingest edges, indexed by ``(u, v, key)``.

    Returns
    -------
    numpy.ndarray
        Boolean, aligned with ``edges``. An edge the network stage did not classify is an
        error: the two stages disagree on the graph (rerun the network stage).
    """
    net = read_table(paths, EDGES, ("truck_ok", "truck_connected"), geometry="none")
    ok = net["truck_ok"].astype(bool) & net["truck_connected"].astype(bool)
    aligned = ok.reindex(edges.index)
    if aligned.isna().any():
        msg = (
            f"{EDGES.path(paths)}: {int(aligned.isna().sum())} ingest edge(s) missing; "
            f"rerun the network stage ({_rerun(paths, 'network')})"
        )
        raise InputDataError(msg)
    out: np.ndarray = aligned.to_numpy(dtype=bool, copy=True)
    return out


@dataclass(frozen=True)
class Applied:
    """The thresholds the stages applied, as their summaries recorded them.

    The legends, the report's text, the shortlists' reasons and the thresholds table read
    them here, so they say what was used (Hà Nội's urban rule: trucks need 4 m, not 3.5 m).
    """

    truck_min_width_m: float
    hose_reach_m: float
    hydrant_reach_m: float
    natural_reach_m: float
    target_time_s: float

    def by_key(self) -> dict[str, float]:
        """Return the values by config key path (for :func:`pipeline.shortlists.thresholds_table`).

        The truck width is not among them: the config lists both rules (3.5 m, and 4 m in
        renovated urban areas) with their sources, and the summary names which one applied.
        """
        return {
            "access.hose_reach_from_truck_road_m": self.hose_reach_m,
            "water.hydrant_reach_m": self.hydrant_reach_m,
            "response.target_time_s": self.target_time_s,
        }


def applied_thresholds(paths: ProvincePaths) -> Applied:
    """Read :class:`Applied` from the network, water and coverage summaries."""
    net = read_summary(paths, NETWORK_SUMMARY)
    wat = read_summary(paths, WATER_SUMMARY)
    cov = read_summary(paths, COVERAGE_SUMMARY)
    return Applied(
        truck_min_width_m=float(net["truck_min_width_m"]),
        hose_reach_m=float(net["hose_reach_m"]),
        hydrant_reach_m=float(wat["hydrant_reach_m"]),
        natural_reach_m=float(wat["natural_reach_m"]),
        target_time_s=float(cov["target_time_s"]),
    )
