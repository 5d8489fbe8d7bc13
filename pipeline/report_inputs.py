"""Upstream artifacts of the report stage: the column registry, ward polygons, ward figures."""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import shapely
from pyproj import CRS

from pipeline._errors import InputDataError, MissingInputError
from pipeline.paths import ARTIFACTS
from pipeline.risk import COMPONENTS, people_per_building, ward_risk
from pipeline.shortlists import (
    anchor_points,
)
from pipeline.wards import WHOLE_PROVINCE, read_wards, ward_ids

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.config import ProvinceConfig
    from pipeline.i18n import Language
    from pipeline.paths import ProvincePaths

logger = logging.getLogger(__name__)

#: ``ward_type`` of the one unit standing for the whole province when no ward layer exists.


#: Columns of ``network/alleys`` the shortlists use (the issue 11 contract).
ALLEY_COLUMNS: tuple[str, ...] = (
    "alley_id",
    "name",
    "length_m",
    "depth_m",
    "min_width_m",
    "min_width_low_m",
    "min_width_high_m",
    "truck_min_width_m",
    "width_shortfall_m",
    "truck_status",
    "width_evidence",
    "width_confidence",
    "n_buildings_behind",
    "n_deep_behind",
    "floor_area_behind_m2",
    "deep_floor_area_behind_m2",
    "parent_alley_id",
    "mouth_node",
    "has_fire_point",
    "needs_fire_point",
    "to_widen",
    "field_check",
)


@dataclass(frozen=True)
class Input:
    """An upstream artifact the report reads and the columns it relies on.

    ``columns`` maps each column name used here to the names accepted upstream (first found
    wins, renamed to the key); ``required`` columns must be present, the others are optional.
    When ``columns`` is given, only those columns (and the index) are read. ``geometry``:
    "full" keeps the shapes, "anchor" keeps one point per row (a polygon's inner point, a
    line's midpoint), "none" reads no geometry; with ``geometry_if`` (``(column, values)``
    rules) only the rows matching a rule whose column exists keep their shape, the others get
    none. Per-building tables are read this way, so the report never holds a province's
    building polygons.
    """

    stage: str
    name: str
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    geometry: Literal["full", "anchor", "none"] = "full"
    geometry_if: tuple[tuple[str, tuple[object, ...]], ...] = ()


#: Every upstream artifact and column the report uses: the one place to adjust at merge time.
INPUTS: dict[str, Input] = {
    "boundary": Input("ingest", "boundary"),
    "wards": Input(
        "ingest",
        "wards",
        {
            "ward_id": ("ward_id", "code"),
            "name": ("name", "name_vi"),
            "ward_type": ("ward_type", "type"),
            "population": ("population", "population_2025"),
            "area_km2": ("area_km2",),
            "approximate": ("approximate",),
        },
        ("ward_id",),
    ),
    "buildings": Input(
        "ingest",
        "buildings",
        {
            "floor_area_m2": ("floor_area_m2",),
            "housenumber": ("addr:housenumber", "addr_housenumber", "housenumber"),
            "addr_street": ("addr:street", "addr_street"),
        },
        geometry="anchor",
    ),
    "stations": Input("ingest", "stations", {"name": ("name",), "status": ("status",)}),
    "graph_nodes": Input("ingest", "graph_nodes", {"osmid": ("osmid",)}, ("osmid",)),
    "edges": Input(
        "network",
        "edges",
        {
            "width_class": ("width_class",),
            "width_m": ("width_m",),
            "width_low_m": ("width_low_m",),
            "width_high_m": ("width_high_m",),
            "width_source": ("width_source",),
            "width_evidence": ("width_evidence",),
            "width_confidence": ("width_confidence",),
            "truck_status": ("truck_status",),
            "truck_status_reason": ("truck_status_reason",),
            "highway": ("highway",),
            "name": ("name",),
            "reversed": ("reversed",),
            "blocked": ("blocked",),
            "length": ("length", "length_m"),
        },
        ("width_class",),
    ),
    "alleys": Input(
        "network",
        "alleys",
        {c: (c,) for c in ALLEY_COLUMNS},
        ALLEY_COLUMNS,
    ),
    "deep_buildings": Input(
        "network",
        "deep_buildings",
        {
            "deep": ("deep",),
            "deep_status": ("deep_status",),
            "hose_distance_m": ("hose_distance_m",),
            "bottleneck_width_m": ("bottleneck_width_m",),
            "floor_area_m2": ("floor_area_m2",),
        },
        # drawn on the maps: beyond hose reach, and uncertain (field check)
        geometry_if=(("deep_status", ("deep", "uncertain")), ("deep", (True,))),
    ),
    "fire_points": Input(
        "network",
        "fire_point_candidates",
        {
            c: (c,)
            for c in ("rank", "mouth_node", "alley_id", "name", "depth_m", "n_deep_buildings")
        },
        ("mouth_node", "alley_id", "n_deep_buildings"),
    ),
    "water_sources": Input(
        "water",
        "sources",
        {"kind": ("kind",), "usable": ("usable",), "reason": ("reason",), "reach_m": ("reach_m",)},
    ),
    "water_reach": Input(
        "water",
        "reach",
        {c: (c,) for c in ("u", "v", "key", "kind", "reach_m", "from_m", "to_m", "length_m")},
        ("kind",),
    ),
    "building_water": Input(
        "water",
        "building_water",
        {"covered": ("covered",), "building_id": ("building_id",)},
        ("covered",),
        geometry="none",
    ),
    "hydrants": Input(
        "water",
        "hydrant_candidates",
        {
            "rank": ("rank",),
            "node_id": ("node_id", "node"),
            "added_buildings": ("added_buildings", "n_buildings", "buildings_added"),
            "added_floor_area_m2": ("added_floor_area_m2", "floor_area_m2", "floor_area_added_m2"),
        },
    ),
    "isochrones": Input(
        "coverage",
        "isochrones",
        {"minutes": ("minutes", "break_min", "time_min"), "scenario": ("scenario",)},
        ("minutes",),
    ),
    "building_times": Input(
        "coverage",
        "building_times",
        {
            # today's stations (the coverage stage's "existing" scenario)
            "time_s": ("time_s", "time_s_existing", "response_time_s", "travel_time_s"),
            "building_id": ("building_id",),
        },
        ("time_s",),
        geometry="none",
    ),
    "dense_unreached": Input(
        "coverage",
        "dense_unreached",
        {
            "floor_area_m2": ("floor_area_m2",),
            "population": ("population",),
            "time_s": ("time_s", "time_s_existing", "response_time_s"),
        },
    ),
    "station_sites": Input(
        "coverage",
        "station_candidates",
        {
            "rank": ("rank",),
            "station_id": ("station_id",),
            "node_id": ("node", "node_id"),
            "added_buildings": ("added_buildings",),
            "added_floor_area_m2": ("added_floor_area_m2",),
            "added_population": ("added_population",),
            "added_dense_ha": ("added_dense_ha",),
        },
    ),
    "scenarios": Input("coverage", "scenarios"),
}


def artifact_path(paths: ProvincePaths, spec: Input) -> Path:
    """Return the path of an :data:`INPUTS` artifact (the ARTIFACTS entry, else the contract's)."""
    rel = ARTIFACTS.get(spec.stage, {}).get(spec.name, f"{spec.stage}/{spec.name}.parquet")
    return paths.outputs / rel


def stage_available(stage: str) -> bool:
    """Return whether a stage's module exists in this version."""
    return importlib.util.find_spec(f"pipeline.{stage}") is not None


def read_input(paths: ProvincePaths, key: str, crs: str) -> gpd.GeoDataFrame | pd.DataFrame | None:
    """Read one upstream artifact of :data:`INPUTS`, its columns renamed to the report's names.

    Parameters
    ----------
    paths
        The province's paths.
    key
        A key of :data:`INPUTS`.
    crs
        The project CRS; a layer in another CRS is an error.

    Returns
    -------
    GeoDataFrame, DataFrame or None
        ``None`` when the file is absent because its stage is not in this version (or, for the
        ward layer, not made yet).

    Raises
    ------
    MissingInputError
        The stage exists but its artifact does not (run ``make analyze`` first).
    InputDataError
        The file is unreadable, in another CRS, or lacks a required column.
    """
    spec = INPUTS[key]
    path = artifact_path(paths, spec)
    if not path.exists():
        if stage_available(spec.stage) and spec.name in ARTIFACTS.get(spec.stage, {}):
            msg = f"{path}: not found; run the {spec.stage} stage first (make analyze)"
            raise MissingInputError(msg)
        logger.warning("report: %s not found (stage %s not run); left out", path, spec.stage)
        return None
    try:
        df = _read_parquet(path, spec)
    except InputDataError:
        raise
    except Exception as e:
        msg = f"{path}: cannot read as Parquet ({type(e).__name__}: {e})"
        raise InputDataError(msg) from e
    if isinstance(df, gpd.GeoDataFrame) and df.crs is not None and not df.crs.equals(crs):
        msg = f"{path}: CRS {df.crs.to_string()} is not the project CRS {crs}; rerun its stage"
        raise InputDataError(msg)
    if df.index.name in {a for names in spec.columns.values() for a in names}:
        df = df.reset_index()
    renames = {}
    for col, names in spec.columns.items():
        found = next((n for n in names if n in df.columns), None)
        if found is None and col in spec.required:
            msg = (
                f"{path}: required column {col!r} missing (accepted: {', '.join(names)}; "
                f"found: {', '.join(map(str, df.columns))}); rerun the {spec.stage} stage"
            )
            raise InputDataError(msg)
        if found is not None and found != col:
            renames[found] = col
    return df.rename(columns=renames)


#: Rows whose geometry is decoded at a time when only an anchor point (or some rows) is kept.
GEOMETRY_CHUNK = 200_000


def _geo_meta(schema: Any) -> tuple[str | None, CRS | None]:  # noqa: ANN401 - a pyarrow schema
    """Return the primary geometry column and its CRS from GeoParquet metadata."""
    raw = (schema.metadata or {}).get(b"geo")
    if raw is None:
        return None, None
    geo = json.loads(raw)
    col = geo.get("primary_column")
    crs = geo.get("columns", {}).get(col, {}).get("crs")
    return col, (CRS.from_user_input(crs) if crs is not None else None)


def _geometry_rows(
    frame: pd.DataFrame, rules: tuple[tuple[str, tuple[object, ...]], ...]
) -> np.ndarray:
    """Rows keeping their shape: the first rule whose column exists decides (all without one)."""
    for col, values in rules:
        if col in frame.columns:
            return frame[col].isin(list(values)).to_numpy()
    return np.ones(len(frame), bool)


def _read_parquet(path: Path, spec: Input) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read the columns ``spec`` names (all when it names none) with the geometry it asks for."""
    schema = pq.read_schema(path)
    geom_col, file_crs = _geo_meta(schema)
    pandas_meta = json.loads((schema.metadata or {}).get(b"pandas", b"{}"))
    index_cols = [c for c in pandas_meta.get("index_columns", []) if isinstance(c, str)]
    if spec.columns:
        wanted = {n for names in spec.columns.values() for n in names}
        wanted.update(col for col, _ in spec.geometry_if)
        cols = [c for c in schema.names if c in wanted or c in index_cols]
    else:
        cols = [c for c in schema.names if c != geom_col]
    if geom_col is None:
        return pd.read_parquet(path, columns=cols or None)
    if spec.geometry == "full" and not spec.geometry_if:
        return gpd.read_parquet(path, columns=[*cols, geom_col])
    table = pq.read_table(path, columns=[*cols, geom_col] if spec.geometry != "none" else cols)
    frame = (
        table.drop_columns([geom_col]).to_pandas()
        if geom_col in table.column_names
        else (table.to_pandas())
    )
    if spec.geometry == "none":
        return frame
    wkb = table.column(geom_col)
    del table
    keep = _geometry_rows(frame, spec.geometry_if)
    geoms = np.full(len(frame), None, dtype=object)
    for start in range(0, len(frame), GEOMETRY_CHUNK):
        stop = min(start + GEOMETRY_CHUNK, len(frame))
        rows = np.flatnonzero(keep[start:stop]) + start
        if not len(rows):
            continue
        chunk = shapely.from_wkb(wkb.slice(start, stop - start).to_numpy(zero_copy_only=False))
        chunk = chunk[rows - start]
        geoms[rows] = (
            anchor_points(gpd.GeoDataFrame(geometry=chunk)) if spec.geometry == "anchor" else chunk
        )
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=file_crs)


def _slug(value: object) -> str:
    text = unicodedata.normalize("NFKD", str(value).replace("đ", "d").replace("Đ", "D"))
    text = text.encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "ward"


def load_wards(paths: ProvincePaths, config: ProvinceConfig, lang: Language) -> gpd.GeoDataFrame:
    """Return the ward layer (:func:`pipeline.wards.read_wards`) with each ward's map file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ward_id (str), name, ward_type, population, area_km2, approximate, map_file.
        The one unit of a province without wards is named in the report's language.
    """
    wards, _ = read_wards(artifact_path(paths, INPUTS["wards"]), config.crs)
    whole = wards["ward_type"].astype(str) == WHOLE_PROVINCE
    wards.loc[whole, "name"] = config.name.vi if lang == "vi" else config.name.en
    slugs = wards["ward_id"].map(_slug)
    dup = slugs.duplicated(keep=False)
    slugs[dup] = slugs[dup] + "_" + wards.index[dup].astype(str)
    wards["map_file"] = "wards/" + slugs + ".html"
    return wards


def assign_wards(gdf: gpd.GeoDataFrame, wards: gpd.GeoDataFrame) -> pd.Series:
    """Return the ward id of each row: the ward holding its anchor point, else the nearest.

    See :func:`pipeline.wards.ward_ids` (rows without geometry get ``None``).
    """
    if len(gdf) == 0:
        return pd.Series([], index=gdf.index, dtype=object)
    return pd.Series(ward_ids(anchor_points(gdf), wards), index=gdf.index)


def _with_ward(
    df: gpd.GeoDataFrame | pd.DataFrame | None,
    wards: gpd.GeoDataFrame,
    building_ward: pd.Series | None,
) -> gpd.GeoDataFrame | pd.DataFrame | None:
    """Add ``ward_id`` (and the ward's name as ``ward``) to a layer, spatially or by building."""
    if df is None:
        return None
    # Freshly read frames, not shared: tagged in place (no copy of a province's rows).
    by_building = building_ward is not None and (
        "building_id" in df.columns or df.index.name == "building_id"
    )
    if by_building and building_ward is not None:
        ids = df["building_id"] if "building_id" in df.columns else pd.Series(df.index, df.index)
        df["ward_id"] = ids.map(building_ward).to_numpy()
    elif isinstance(df, gpd.GeoDataFrame):
        df["ward_id"] = assign_wards(df, wards).to_numpy()
    elif building_ward is not None:
        df["ward_id"] = pd.Series(df.index, df.index).map(building_ward).to_numpy()
    else:
        df["ward_id"] = None
    df["ward"] = df["ward_id"].map(wards.set_index("ward_id")["name"])
    return df


def building_risk(
    data: dict[str, Any], wards: gpd.GeoDataFrame, config: ProvinceConfig
) -> pd.DataFrame:
    """Return one row per building: ward, floor area, estimated people and the risk flags.

    Returns
    -------
    pandas.DataFrame
        Indexed by building id: ``ward_id``, ``floor_area_m2``, ``people`` and the
        :data:`pipeline.risk.COMPONENTS` flags (NaN where the stage behind a flag did not run).
    """
    b = data["buildings"]
    if b is None or len(b) == 0:
        return pd.DataFrame(columns=["ward_id", "floor_area_m2", "people", *COMPONENTS])
    ids = b["building_id"] if "building_id" in b.columns else pd.Series(b.index, b.index)
    fa = b["floor_area_m2"] if "floor_area_m2" in b.columns else pd.Series(np.nan, b.index)
    out = pd.DataFrame(
        {"ward_id": b["ward_id"].to_numpy(), "floor_area_m2": fa.to_numpy(dtype=float)},
        index=pd.Index(np.asarray(ids), name="building_id"),
    )
    out["people"] = people_per_building(
        out["floor_area_m2"],
        out["ward_id"],
        wards.set_index("ward_id")["population"],
        floor_area_per_person_m2=config.report.floor_area_per_person_m2.value,
    )
    deep = data["deep_buildings"]
    if deep is not None:
        ids = deep["building_id"] if "building_id" in deep.columns else deep.index.to_series()
        if "deep_status" in deep.columns:
            flag = deep["deep_status"].astype(str) == "deep"
        else:
            flag = deep["deep"].astype(bool)
        flags = pd.Series(flag.to_numpy(), index=np.asarray(ids))
        out["beyond_hose"] = flags.reindex(out.index).fillna(value=False).astype(object)
    bw = data["building_water"]
    if bw is not None:
        ids = bw["building_id"] if "building_id" in bw.columns else bw.index.to_series()
        dry = ~bw["covered"].fillna(value=False).astype(bool)
        out["without_water"] = pd.Series(dry.to_numpy(), index=np.asarray(ids)).reindex(out.index)
    bt = data["building_times"]
    if bt is not None:
        ids = bt["building_id"] if "building_id" in bt.columns else bt.index.to_series()
        ts = bt["time_s"].astype(float).replace([np.inf, -np.inf], np.nan)
        late = ts.isna() | (ts > config.response.target_time_s.value)
        out["beyond_time"] = pd.Series(late.to_numpy(), index=np.asarray(ids)).reindex(out.index)
    return out


def people_rate(buildings: pd.DataFrame) -> pd.Series:
    """Return estimated people per m² of floor area by ward id (from :func:`building_risk`)."""
    by = buildings.groupby("ward_id")[["people", "floor_area_m2"]].sum()
    return (by["people"] / by["floor_area_m2"].where(by["floor_area_m2"] > 0)).fillna(0.0)


def ward_table(
    data: dict[str, Any], wards: gpd.GeoDataFrame, buildings: pd.DataFrame
) -> gpd.GeoDataFrame:
    """Return the wards with their key figures and their rank by people at risk.

    Parameters
    ----------
    data
        :func:`load_data`.
    wards
        :func:`load_wards`.
    buildings
        :func:`building_risk`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``wards`` plus ward_code, buildings, street_km, truck_km, truck_share, n_alleys,
        people, people_beyond_hose, people_without_water, people_beyond_time,
        people_at_risk, risk_share, risk_rank, median_time_min.
    """
    w = wards.set_index("ward_id", drop=False)
    idx = w.index
    nan = pd.Series(np.nan, index=idx)
    whole = w["ward_type"].astype(str) == WHOLE_PROVINCE
    w["ward_code"] = w["ward_id"].where(~whole, "")
    b = data["buildings"]
    n_b = b.groupby("ward_id").size().reindex(idx, fill_value=0) if b is not None else nan
    w["buildings"] = n_b
    edges = data["edges"]
    if edges is not None:
        e = edges[~edges["reversed"].astype(bool)] if "reversed" in edges else edges
        length = (
            e["length"]
            if "length" in e
            else pd.Series(shapely.length(e.geometry.to_numpy()), e.index)
        )
        km = (length / 1000).groupby(e["ward_id"]).sum().reindex(idx, fill_value=0.0)
        truck = (length / 1000).where(e["width_class"] == "truck", 0.0)
        truck_km = truck.groupby(e["ward_id"]).sum().reindex(idx, fill_value=0.0)
        w["street_km"], w["truck_km"] = km.round(3), truck_km
        w["truck_share"] = (truck_km / km.where(km > 0)).round(4)
    else:
        w["street_km"] = w["truck_km"] = w["truck_share"] = nan
    alleys = data["alleys"]
    w["n_alleys"] = (
        alleys.groupby("ward_id").size().reindex(idx, fill_value=0) if alleys is not None else nan
    )
    risk = ward_risk(buildings, idx)
    for col in risk.columns:
        w[col] = risk[col]
    bt = data["building_times"]
    if bt is not None and bt["ward_id"].notna().any():
        ts = bt["time_s"].astype(float).replace([np.inf, -np.inf], np.nan)
        med = ts.fillna(np.inf).groupby(bt["ward_id"]).median().reindex(idx)
        w["median_time_min"] = (med.replace(np.inf, np.nan) / 60).round(1)
    else:
        w["median_time_min"] = nan
    people_cols = [c for c in risk.columns if c.startswith("people")]
    w[people_cols] = w[people_cols].astype(float).round(0)
    w["risk_share"] = w["risk_share"].astype(float).round(4)
    w["area_km2"] = w["area_km2"].astype(float).round(3)
    return w.reset_index(drop=True)


def load_data(
    paths: ProvincePaths, config: ProvinceConfig, wards: gpd.GeoDataFrame
) -> dict[str, Any]:
    """Read every input of :data:`INPUTS` and tag its rows with their ward."""
    raw = {k: read_input(paths, k, config.crs) for k in INPUTS if k not in ("wards", "boundary")}
    buildings = raw["buildings"]
    bward = None
    if isinstance(buildings, gpd.GeoDataFrame):
        buildings = cast("gpd.GeoDataFrame", _with_ward(buildings, wards, None))
        ids = buildings.get("building_id", pd.Series(buildings.index, buildings.index))
        bward = pd.Series(buildings["ward_id"].to_numpy(), index=np.asarray(ids))
    data: dict[str, Any] = {"buildings": buildings}
    for key, df in raw.items():
        if key in ("buildings", "scenarios", "graph_nodes"):
            continue
        data[key] = _with_ward(df, wards, bward)
    data["scenarios"] = raw["scenarios"]
    data["graph_nodes"] = raw["graph_nodes"]
    iso = data["isochrones"]
    if iso is not None and "scenario" in iso.columns:
        wanted = config.report.isochrone_scenario or "existing"
        chosen = iso[iso["scenario"].astype(str) == wanted]
        data["isochrones"] = (
            chosen if len(chosen) else iso[iso["scenario"] == iso["scenario"].iloc[0]]
        )
    return data


def drawn_deep(df: Any) -> Any:  # noqa: ANN401 - a frame or None
    """Return the deep-building rows the maps draw: beyond hose reach or uncertain."""
    if df is None:
        return None
    if "deep_status" in df.columns:
        return df[df["deep_status"].isin(["deep", "uncertain"]).to_numpy()]
    return deep_only(df)


def deep_only(df: Any) -> Any:  # noqa: ANN401 - a frame or None
    """Return the rows flagged ``deep`` (all rows when there is no such column)."""
    if df is None or "deep" not in df.columns:
        return df
    return df[df["deep"].astype(bool)]
