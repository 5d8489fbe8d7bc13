"""Stage ``report``: risk maps, ward maps, ranked shortlists and the printable province report."""

from __future__ import annotations

import datetime as dt
import html
import importlib.util
import logging
import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from jinja2 import Environment

from pipeline import charts
from pipeline._errors import InputDataError, MissingInputError
from pipeline.i18n import MISSING, Language, check_language, column_label, t, yes_no
from pipeline.maps import (
    COLOURS,
    WIDTH_CLASSES,
    MapData,
    build_layers,
    leaflet_assets,
    render_map,
    write_map,
)
from pipeline.paths import ARTIFACTS, PROJECT_ROOT, resolve_input
from pipeline.risk import ward_risk
from pipeline.shortlists import (
    LISTS,
    anchor_points,
    finish_list,
    thresholds_table,
    write_csvs,
    write_gpkg,
    write_xlsx,
)

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.config import ProvinceConfig
    from pipeline.paths import ProvincePaths
    from pipeline.stage import StageContext

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Input:
    """An upstream artifact the report reads and the columns it relies on.

    ``columns`` maps each column name used here to the names accepted upstream (first found
    wins, renamed to the key); ``required`` columns must be present, the others are optional.
    """

    stage: str
    name: str
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    required: tuple[str, ...] = ()


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
    "buildings": Input("ingest", "buildings", {"floor_area_m2": ("floor_area_m2",)}),
    "stations": Input("ingest", "stations", {"name": ("name",), "status": ("status",)}),
    "edges": Input(
        "network",
        "edges",
        {
            "width_class": ("width_class",),
            "width_m": ("width_m",),
            "width_source": ("width_source",),
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
        {
            "alley_id": ("alley_id",),
            "name": ("name",),
            "length_m": ("length_m", "length"),
            "depth_m": ("depth_m",),
            "min_width_m": ("min_width_m", "width_m"),
            "n_buildings": ("n_buildings",),
            "n_deep_buildings": ("n_deep_buildings",),
            "floor_area_m2": ("floor_area_m2",),
            "has_fire_point": ("has_fire_point",),
            "priority": ("priority", "priority_rank", "rank"),
        },
    ),
    "deep_buildings": Input(
        "network",
        "deep_buildings",
        {
            "deep": ("deep",),
            "hose_distance_m": ("hose_distance_m",),
            "bottleneck_width_m": ("bottleneck_width_m",),
            "floor_area_m2": ("floor_area_m2",),
        },
    ),
    "fire_points": Input(
        "network",
        "fire_point_candidates",
        {
            "rank": ("rank",),
            "alley_id": ("alley_id",),
            "name": ("name",),
            "n_buildings": ("n_buildings", "added_buildings"),
            "floor_area_m2": ("floor_area_m2", "added_floor_area_m2"),
        },
    ),
    "water_sources": Input(
        "water",
        "sources",
        {"kind": ("kind",), "usable": ("usable",), "reason": ("reason",), "reach_m": ("reach_m",)},
    ),
    "building_water": Input(
        "water",
        "building_water",
        {"covered": ("covered",), "building_id": ("building_id",)},
        ("covered",),
    ),
    "hydrants": Input(
        "water",
        "hydrant_candidates",
        {
            "rank": ("rank",),
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
            "added_buildings": ("added_buildings", "n_buildings", "buildings_added"),
            # coverage's "gain" is in its demand weight (summary demand_weight: floor_area_m2
            # by default)
            "added_floor_area_m2": ("added_floor_area_m2", "floor_area_m2", "gain"),
        },
    ),
    "scenarios": Input("coverage", "scenarios"),
}

#: Summary files shown in the report's summary (missing ones are skipped).
SUMMARIES: tuple[tuple[str, str], ...] = (
    ("ingest", "ingest_summary"),
    ("network", "network_summary"),
    ("water", "water_summary"),
    ("coverage", "coverage_summary"),
)


def external_inputs(config: ProvinceConfig) -> list[Path]:
    """Files outside outputs/ the report reads: Leaflet (inlined into maps) and sources.csv.

    Fetching Leaflet after a run (``make vendor``) thus reruns the report.
    """
    dist = resolve_input(config.report.leaflet_dir) / "dist"
    return [dist / "leaflet.js", dist / "leaflet.css", PROJECT_ROOT / "data" / "sources.csv"]


def _artifact_path(paths: ProvincePaths, spec: Input) -> Path:
    rel = ARTIFACTS.get(spec.stage, {}).get(spec.name, f"{spec.stage}/{spec.name}.parquet")
    return paths.outputs / rel


def _stage_available(stage: str) -> bool:
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
    path = _artifact_path(paths, spec)
    if not path.exists():
        if _stage_available(spec.stage) and spec.name in ARTIFACTS.get(spec.stage, {}):
            msg = f"{path}: not found; run the {spec.stage} stage first (make analyze)"
            raise MissingInputError(msg)
        logger.warning("report: %s not found (stage %s not run); left out", path, spec.stage)
        return None
    try:
        df: gpd.GeoDataFrame | pd.DataFrame = gpd.read_parquet(path)
    except ValueError:
        df = pd.read_parquet(path)  # no geometry: a plain table
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


def _slug(value: object) -> str:
    text = unicodedata.normalize("NFKD", str(value).replace("đ", "d").replace("Đ", "D"))
    text = text.encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "ward"


def load_wards(paths: ProvincePaths, config: ProvinceConfig, lang: Language) -> gpd.GeoDataFrame:
    """Return the ward polygons; without a ward layer, one ward: the whole province.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ward_id (str), name, ward_type, population, area_km2, approximate, map_file.
    """
    wards = read_input(paths, "wards", config.crs)
    if wards is None or len(wards) == 0 or not isinstance(wards, gpd.GeoDataFrame):
        boundary = read_input(paths, "boundary", config.crs)
        if boundary is None or not isinstance(boundary, gpd.GeoDataFrame):
            msg = f"{_artifact_path(paths, INPUTS['boundary'])}: no boundary; run make analyze"
            raise MissingInputError(msg)
        wards = gpd.GeoDataFrame(
            {"ward_id": ["province"], "name": [config.name.vi if lang == "vi" else config.name.en]},
            geometry=[shapely.union_all(boundary.geometry.to_numpy())],
            crs=boundary.crs,
        )
    wards = wards.reset_index(drop=True)
    wards["ward_id"] = wards["ward_id"].astype(str)
    for col, default in (
        ("name", ""),
        ("ward_type", ""),
        ("population", np.nan),
        ("approximate", False),
    ):
        if col not in wards.columns:
            wards[col] = default
    wards["name"] = wards["name"].fillna(wards["ward_id"]).astype(str)
    area = shapely.area(wards.geometry.to_numpy()) / 1e6
    wards["area_km2"] = wards["area_km2"].fillna(pd.Series(area)) if "area_km2" in wards else area
    slugs = wards["ward_id"].map(_slug)
    dup = slugs.duplicated(keep=False)
    slugs[dup] = slugs[dup] + "_" + wards.index[dup].astype(str)
    wards["map_file"] = "wards/" + slugs + ".html"
    return wards


def assign_wards(gdf: gpd.GeoDataFrame, wards: gpd.GeoDataFrame) -> pd.Series:
    """Return the ward id of each row: the ward holding its anchor point (else the nearest).

    Parameters
    ----------
    gdf
        Rows in the project CRS (points, lines or polygons).
    wards
        :func:`load_wards`.

    Returns
    -------
    pandas.Series
        Indexed like ``gdf``.
    """
    if len(gdf) == 0:
        return pd.Series([], index=gdf.index, dtype=object)
    pts = anchor_points(gdf)
    tree = shapely.STRtree(wards.geometry.to_numpy())
    out = np.full(len(pts), -1, dtype=np.int64)
    src, dst = tree.query(pts, predicate="within")
    out[src[::-1]] = dst[::-1]  # first ward wins on shared edges
    missing = np.flatnonzero(out < 0)
    if len(missing):
        near = tree.query_nearest(pts[missing], return_distance=False)
        out[missing[near[0]]] = near[1]
    return pd.Series(wards["ward_id"].to_numpy()[out], index=gdf.index)


def _with_ward(
    df: gpd.GeoDataFrame | pd.DataFrame | None,
    wards: gpd.GeoDataFrame,
    building_ward: pd.Series | None,
) -> gpd.GeoDataFrame | pd.DataFrame | None:
    """Add ``ward_id`` (and the ward's name as ``ward``) to a layer, spatially or by building."""
    if df is None:
        return None
    df = df.copy()
    if isinstance(df, gpd.GeoDataFrame):
        df["ward_id"] = assign_wards(df, wards).to_numpy()
    elif building_ward is not None:
        ids = df["building_id"] if "building_id" in df.columns else pd.Series(df.index, df.index)
        df["ward_id"] = ids.map(building_ward).to_numpy()
    else:
        df["ward_id"] = None
    df["ward"] = df["ward_id"].map(wards.set_index("ward_id")["name"])
    return df


def ward_table(
    data: dict[str, Any], wards: gpd.GeoDataFrame, config: ProvinceConfig
) -> gpd.GeoDataFrame:
    """Return the wards with their key figures and risk score.

    Returns
    -------
    geopandas.GeoDataFrame
        ``wards`` plus buildings, street_km, truck_km, truck_share, n_alleys, deep_share,
        water_uncovered_share, unreached_share, median_time_s and risk.
    """
    w = wards.set_index("ward_id", drop=False)
    idx = w.index
    nan = pd.Series(np.nan, index=idx)
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
        w["street_km"], w["truck_km"] = km, truck_km
        w["truck_share"] = (truck_km / km.where(km > 0)).round(4)
    else:
        w["street_km"] = w["truck_km"] = w["truck_share"] = nan
    alleys = data["alleys"]
    w["n_alleys"] = (
        alleys.groupby("ward_id").size().reindex(idx, fill_value=0) if alleys is not None else nan
    )
    denom = n_b.where(n_b > 0)
    deep = data["deep_buildings"]
    if deep is not None:
        d = deep[deep["deep"].astype(bool)] if "deep" in deep else deep
        w["deep_share"] = (d.groupby("ward_id").size().reindex(idx, fill_value=0) / denom).clip(
            0, 1
        )
    else:
        w["deep_share"] = nan
    bw = data["building_water"]
    if bw is not None and bw["ward_id"].notna().any():
        unc = (~bw["covered"].fillna(value=False).astype(bool)).groupby(bw["ward_id"]).mean()
        w["water_uncovered_share"] = unc.reindex(idx)
    else:
        w["water_uncovered_share"] = nan
    bt = data["building_times"]
    target = config.response.target_time_s.value
    if bt is not None and bt["ward_id"].notna().any():
        ts = bt["time_s"].astype(float).replace([np.inf, -np.inf], np.nan)
        late = ts.isna() | (ts > target)
        w["unreached_share"] = late.groupby(bt["ward_id"]).mean().reindex(idx)
        med = ts.fillna(np.inf).groupby(bt["ward_id"]).median().reindex(idx)
        w["median_time_s"] = med.replace(np.inf, np.nan).round(1)
        has = bt.groupby("ward_id").size().reindex(idx, fill_value=0) > 0
        # A ward whose buildings no station reaches has an infinite median: risk component 1.
        time_for_risk = med.where(has)
    else:
        w["unreached_share"] = w["median_time_s"] = nan
        time_for_risk = nan
    w["risk"] = ward_risk(
        w["unreached_share"],
        time_for_risk,
        w["deep_share"],
        w["water_uncovered_share"],
        target_time_s=target,
        weights=config.report.risk_weights,
    ).round(4)
    for col in ("deep_share", "water_uncovered_share", "unreached_share"):
        w[col] = w[col].astype(float).round(4)
    w["street_km"] = w["street_km"].astype(float).round(3)
    w["area_km2"] = w["area_km2"].astype(float).round(3)
    return w.reset_index(drop=True)


def _sort(df: gpd.GeoDataFrame, by: list[tuple[str, bool]]) -> gpd.GeoDataFrame:
    """Sort by the first present column of ``by`` (name, ascending)."""
    for col, asc in by:
        if col in df.columns:
            return df.sort_values(col, ascending=asc, kind="stable", na_position="last")
    return df


def build_shortlists(
    data: dict[str, Any], wtable: gpd.GeoDataFrame, config: ProvinceConfig
) -> dict[str, gpd.GeoDataFrame]:
    """Return every shortlist of :data:`LISTS` that has an upstream source, ranked."""
    files = wtable.set_index("ward_id")["map_file"]
    rows = config.report.shortlist_rows
    specs = {s.name: s for s in LISTS}
    sources: dict[str, tuple[str, list[tuple[str, bool]]]] = {
        "alleys_to_widen": ("alleys", [("priority", True), ("floor_area_m2", False)]),
        "fire_point_sites": ("fire_points", [("rank", True), ("floor_area_m2", False)]),
        "hydrant_sites": ("hydrants", [("rank", True), ("added_floor_area_m2", False)]),
        "station_sites": ("station_sites", [("rank", True), ("added_floor_area_m2", False)]),
    }
    out = {}
    for name, (key, order) in sources.items():
        df = data[key]
        if df is None or not isinstance(df, gpd.GeoDataFrame):
            continue
        out[name] = finish_list(_sort(df, order), specs[name], ward_files=files, rows=rows)
    wards = wtable.rename(columns={"name": "ward"})
    wards = wards.sort_values(["risk", "ward"], ascending=[False, True], na_position="last")
    out["wards_by_risk"] = finish_list(
        gpd.GeoDataFrame(wards, geometry="geometry"),
        specs["wards_by_risk"],
        ward_files=files,
        rows=len(wards),
    )
    return out


def _why(row: pd.Series, kind: str, lang: Language, target_min: float) -> str:
    def num(col: str) -> str:
        v = row.get(col)
        return f"{float(v):,.0f}" if v is not None and pd.notna(v) else MISSING

    key = {
        "site_station": "why_station",
        "site_hydrant": "why_hydrant",
        "site_fire_point": "why_fire_point",
    }[kind]
    area_col = "floor_area_m2" if kind == "site_fire_point" else "added_floor_area_m2"
    bcol = "n_buildings" if kind == "site_fire_point" else "added_buildings"
    text = t(
        key,
        lang,
        rank=int(row["rank"]),
        buildings=num(bcol),
        area=num(area_col),
        target=f"{target_min:g}",
    )
    ward = f"<br>{html.escape(str(row['ward']))}" if pd.notna(row.get("ward")) else ""
    return (
        f"<b>{html.escape(str(row['id']))} · {html.escape(t(kind, lang))}</b><br>"
        f"{html.escape(text)}{ward}<br><small>{row['lat']}, {row['lon']}</small>"
    )


def site_layer(
    lists: dict[str, gpd.GeoDataFrame], config: ProvinceConfig, lang: Language
) -> gpd.GeoDataFrame:
    """Return the shortlisted sites as one point layer with kind, ward and a "why" popup."""
    kinds = {
        "station_sites": "site_station",
        "hydrant_sites": "site_hydrant",
        "fire_point_sites": "site_fire_point",
    }
    target_min = config.response.target_time_s.value / 60
    frames = []
    for name, kind in kinds.items():
        df = lists.get(name)
        if df is None or len(df) == 0:
            continue
        f = df.copy()
        f["kind"] = kind
        f["why_html"] = [_why(r, kind, lang, target_min) for _, r in f.iterrows()]
        frames.append(f[["id", "kind", "why_html", "map_link", "geometry"]])
    if not frames:
        return gpd.GeoDataFrame({"id": [], "kind": [], "why_html": []}, geometry=[], crs=config.crs)
    sites = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(sites, geometry=anchor_points(sites), crs=config.crs)


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
        if key in ("buildings", "scenarios"):
            continue
        data[key] = _with_ward(df, wards, bward)
    data["scenarios"] = raw["scenarios"]
    iso = data["isochrones"]
    if iso is not None and "scenario" in iso.columns:
        wanted = config.report.isochrone_scenario or "existing"
        chosen = iso[iso["scenario"].astype(str) == wanted]
        data["isochrones"] = (
            chosen if len(chosen) else iso[iso["scenario"] == iso["scenario"].iloc[0]]
        )
    return data


def _subset(df: Any, ward_id: str) -> Any:  # noqa: ANN401 - a frame or None
    if df is None or "ward_id" not in df.columns:
        return df
    return df[df["ward_id"] == ward_id]


def _view_bounds(
    area: Any,  # noqa: ANN401 - a shapely geometry
    layers: list[gpd.GeoDataFrame | None],
    crs: str,
) -> tuple[float, float, float, float]:
    """Return the WGS84 bounds a map opens on: the data's extent within ``area``, else ``area``.

    A province whose OSM extract covers only part of it (or a ward layer that is the whole
    province) then opens on the data, not on an empty outline.
    """
    boxes = [shapely.box(*df.total_bounds) for df in layers if df is not None and len(df) > 0]
    extent = shapely.intersection(shapely.union_all(boxes), area) if boxes else area
    if extent.is_empty:
        extent = area
    b = gpd.GeoSeries([shapely.box(*extent.bounds)], crs=crs).to_crs(4326).total_bounds
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


def render_maps(
    data: dict[str, Any],
    wtable: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    config: ProvinceConfig,
    lang: Language,
    *,
    map_path: Path,
    wards_dir: Path,
    assets: tuple[str, str] | None,
    progress: bool = False,
) -> dict[str, Any]:
    """Write the province map and one map per ward; return sizes and counts."""
    from tqdm import tqdm  # noqa: PLC0415

    truck = config.access.truck_min_width_m.value
    full = MapData(
        wards=wtable,
        edges=data["edges"],
        alleys=data["alleys"],
        deep_buildings=_deep_only(data["deep_buildings"]),
        water_sources=data["water_sources"],
        stations=data["stations"],
        isochrones=data["isochrones"],
        dense_unreached=data["dense_unreached"],
        sites=sites,
        truck_min_width_m=truck,
    )
    province_name = config.name.vi if lang == "vi" else config.name.en
    t0 = time.perf_counter()
    layers = build_layers(full, config, lang, detail="province")
    text = render_map(
        layers,
        _view_bounds(
            shapely.union_all(wtable.geometry.to_numpy()),
            [full.edges, full.deep_buildings],
            config.crs,
        ),
        config,
        lang,
        title=t("map_title", lang, name=province_name),
        assets=assets,
    )
    size_mb = write_map(text, map_path, max_mb=config.report.max_map_mb)
    logger.info(
        "report: province map %.2f MB, %s features (%.1f s)",
        size_mb,
        f"{sum(d.n_features for d in layers):,}",
        time.perf_counter() - t0,
    )
    t0 = time.perf_counter()
    sizes = []
    for _, ward in tqdm(wtable.iterrows(), total=len(wtable), disable=not progress, desc="wards"):
        wid, geom = ward["ward_id"], ward.geometry
        iso = full.isochrones
        if iso is not None and len(iso):
            near = iso[shapely.intersects(iso.geometry.to_numpy(), geom)]
            iso = near.set_geometry(shapely.intersection(near.geometry.to_numpy(), geom))
        ws = full.water_sources
        if ws is not None and len(ws):
            reach = ws["reach_m"].fillna(0).to_numpy(float) if "reach_m" in ws else 0.0
            ws = ws[shapely.dwithin(ws.geometry.to_numpy(), geom, reach)]
        one = MapData(
            wards=wtable[wtable["ward_id"] == wid],
            edges=_subset(full.edges, wid),
            alleys=_subset(full.alleys, wid),
            deep_buildings=_subset(full.deep_buildings, wid),
            water_sources=ws,
            stations=_subset(full.stations, wid),
            isochrones=iso,
            dense_unreached=_subset(full.dense_unreached, wid),
            sites=_subset(full.sites, wid),
            truck_min_width_m=truck,
        )
        wl = build_layers(one, config, lang, detail="ward")
        page = render_map(
            wl,
            _view_bounds(geom, [one.edges], config.crs),
            config,
            lang,
            title=str(ward["name"]),
            assets=assets,
        )
        sizes.append(write_map(page, wards_dir / ward["map_file"].removeprefix("wards/")))
    logger.info(
        "report: %d ward maps, %.1f MB in all, largest %.2f MB (%.1f s)",
        len(sizes),
        sum(sizes),
        max(sizes, default=0.0),
        time.perf_counter() - t0,
    )
    return {
        "map_mb": round(size_mb, 3),
        "ward_maps": len(sizes),
        "ward_maps_mb": round(sum(sizes), 3),
        "map_features": sum(d.n_features for d in layers),
    }


def _deep_only(df: Any) -> Any:  # noqa: ANN401 - a frame or None
    if df is None or "deep" not in df.columns:
        return df
    return df[df["deep"].astype(bool)]


_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

_PAGE_CSS = """
body {font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;}
h1 {font-size: 1.6em;} h2 {font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 1.6em;}
table {border-collapse: collapse; margin: 0.5em 0; font-size: 12.5px;}
th, td {border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top;}
td.n {text-align: right; font-variant-numeric: tabular-nums;}
th {background: #f1f3f5;} img {max-width: 100%;} .small {color: #666; font-size: 12px;}
@media print {body {margin: 0; max-width: none;} h2 {break-after: avoid;}
  table, img {break-inside: avoid;} a {color: inherit; text-decoration: none;}}
"""

_INDEX = _ENV.from_string(
    """<!DOCTYPE html><html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ title }}</title><style>{{ css }}</style></head><body>
<h1>{{ title }}</h1><p><a href="../map.html">{{ province_map }}</a> ·
<a href="../report.html">report.html</a></p>
<table><tr>{% for h in headers %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}<tr><td><a href="{{ row.href }}">{{ row.name }}</a></td>
{% for v in row["values"] %}<td class="n">{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table></body></html>
"""
)

_REPORT = _ENV.from_string(
    """<!DOCTYPE html><html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ title }}</title><style>{{ css }}</style></head><body>
<h1>{{ title }}</h1><p class="small">{{ generated }}</p>
<p>{% for href, label in outputs %}<a href="{{ href }}">{{ label }}</a>{% if not loop.last %}
 · {% endif %}{% endfor %}</p>
<h2>{{ h.summary }}</h2><table>
{% for label, value in summary %}<tr><th>{{ label }}</th><td class="n">{{ value }}</td></tr>
{% endfor %}</table>
<h2>{{ h.wards }}</h2><p class="small">{{ risk_note }}</p>
<table><tr>{% for x in ward_headers %}<th>{{ x }}</th>{% endfor %}</tr>
{% for row in ward_rows %}<tr>{% for v in row %}<td{% if not loop.first %} class="n"{% endif %}>
{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>
<h2>{{ h.charts }}</h2>{% for src in chart_uris %}<p><img src="{{ src }}" alt=""></p>{% endfor %}
<h2>{{ h.scenarios }}</h2>{% if scenario_headers %}<table><tr>
{% for x in scenario_headers %}<th>{{ x }}</th>{% endfor %}</tr>
{% for row in scenario_rows %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table>{% else %}<p>{{ no_scenarios }}</p>{% endif %}
<h2>{{ h.sources }}</h2><table>
{% for label, value, date in sources %}<tr><th>{{ label }}</th><td>{{ value }}</td>
<td>{{ date }}</td></tr>{% endfor %}</table>
<h2>{{ h.thresholds }}</h2><table><tr>{% for x in threshold_headers %}<th>{{ x }}</th>
{% endfor %}</tr>{% for row in threshold_rows %}<tr>{% for v in row %}<td>{{ v }}</td>
{% endfor %}</tr>{% endfor %}</table>
<h2>{{ h.limits }}</h2><ul>{% for x in limits %}<li>{{ x }}</li>{% endfor %}</ul>
</body></html>
"""
)

#: Ward figures shown in the index page and the report, in order.
WARD_FIGURES: tuple[str, ...] = (
    "ward_type",
    "population",
    "area_km2",
    "buildings",
    "street_km",
    "truck_share",
    "n_alleys",
    "deep_share",
    "water_uncovered_share",
    "unreached_share",
    "median_time_s",
    "risk",
)


#: Values at least this large are shown without decimals.
_NO_DECIMALS_FROM = 1000


def _number(value: float) -> str:
    return f"{value:,.1f}" if abs(value) < _NO_DECIMALS_FROM else f"{value:,.0f}"


def _cell(value: object, col: str, lang: Language) -> str:
    """Format one table value for people: shares as %, risk with 2 decimals, yes/no."""
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    if missing or not isinstance(value, (bool, np.bool_, int, np.integer, float, np.floating)):
        return MISSING if missing else str(value)
    if isinstance(value, (bool, np.bool_)):
        return yes_no(value, lang)
    if col.endswith("_share"):
        text = f"{float(value):.0%}"
    elif col == "risk":
        text = f"{float(value):.2f}"
    elif isinstance(value, (int, np.integer)):
        text = f"{int(value):,}"
    else:
        text = _number(float(value))
    return text


def write_index(wtable: gpd.GeoDataFrame, path: Path, province: str, lang: Language) -> None:
    """Write ``wards/index.html``: every ward with its key figures and a link to its map."""
    w = wtable.sort_values(["risk", "name"], ascending=[False, True], na_position="last")
    rows = [
        {
            "name": r["name"],
            "href": r["map_file"].removeprefix("wards/"),
            "values": [_cell(r[c], c, lang) for c in WARD_FIGURES],
        }
        for _, r in w.iterrows()
    ]
    path.write_text(
        _INDEX.render(
            lang=lang,
            css=_PAGE_CSS,
            title=t("index_title", lang, province=province),
            province_map=t("whole_province", lang),
            rows=rows,
            headers=[column_label("ward", lang)] + [column_label(c, lang) for c in WARD_FIGURES],
        ),
        encoding="utf-8",
    )


def _sources(
    config: ProvinceConfig, paths: ProvincePaths, lang: Language
) -> list[tuple[str, str, str]]:
    files: list[tuple[str, str | None]] = [
        (t("src_osm", lang), config.osm.file),
        ("boundary", config.boundary.file),
        ("density.communes_csv", config.density.communes_csv),
    ]
    files += [("stations.files", f) for f in config.stations.files]
    files += [("water.files", f.path) for f in config.water.files]
    files += [("buildings.extra_files", f.path) for f in config.buildings.extra_files]
    files += [
        ("access.public_fire_points_files", f.path) for f in config.access.public_fire_points_files
    ]
    out = []
    for label, f in files:
        if not f:
            continue
        p = resolve_input(f, paths.root)
        date = (
            dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC).date().isoformat()
            if p.exists()
            else MISSING
        )
        out.append((label, p.name, date))
    sources_csv = paths.root / "data" / "sources.csv"
    if sources_csv.exists():
        for _, r in pd.read_csv(sources_csv, dtype=str).fillna("").iterrows():
            out.append(
                (
                    r.get("dataset", ""),
                    r.get("url", "") or r.get("version", ""),
                    r.get("retrieved", ""),
                )
            )
    out.append(
        (t("src_config", lang), str(paths.config.name), dt.datetime.now(dt.UTC).date().isoformat())
    )
    return out


def write_report(
    path: Path,
    *,
    config: ProvinceConfig,
    paths: ProvincePaths,
    lang: Language,
    wtable: gpd.GeoDataFrame,
    data: dict[str, Any],
    summary: list[tuple[str, str]],
) -> None:
    """Write the printable ``report.html``: figures, ward table, charts, sources, thresholds."""
    province = config.name.vi if lang == "vi" else config.name.en
    w = wtable.sort_values(["risk", "name"], ascending=[False, True], na_position="last")
    uris = [charts.risk_bars(w.set_index("name")["risk"], t("chart_risk", lang))]
    edges = data["edges"]
    if edges is not None:
        e = edges[~edges["reversed"].astype(bool)] if "reversed" in edges else edges
        km = (e["length"] / 1000).groupby(e["width_class"]).sum()
        km = km.reindex([c for c in WIDTH_CLASSES if c in km.index])
        labels = {
            c: t(f"class_{c}", lang, truck=f"{config.access.truck_min_width_m.value:g}")
            for c in WIDTH_CLASSES
        }
        uris.append(charts.width_class_bars(km, labels, COLOURS, t("chart_width", lang)))
    bt = data["building_times"]
    if bt is not None:
        uris.append(
            charts.time_histogram(
                bt["time_s"].astype(float),
                config.response.target_time_s.value,
                t("chart_time", lang),
                t("chart_buildings", lang),
            )
        )
    scen = data["scenarios"]
    scen_headers: list[str] = []
    scen_rows: list[list[str]] = []
    if scen is not None and len(scen):
        s = pd.DataFrame(scen.drop(columns=[c for c in ("geometry",) if c in scen.columns]))
        scen_headers = [column_label(str(c), lang) for c in s.columns]
        scen_rows = [
            [_cell(v, str(c), lang) for c, v in zip(s.columns, r, strict=True)]
            for r in s.itertuples(index=False)
        ]
    thr = thresholds_table(config)
    names = {"unreached": "unreached_share", "response_time": "median_time_s",
             "alley_access": "deep_share", "water": "water_uncovered_share"}  # fmt: skip
    weights = "; ".join(
        f"{column_label(names.get(k, k), lang)} {v:g}"
        for k, v in config.report.risk_weights.items()
    )
    path.write_text(
        _REPORT.render(
            lang=lang,
            css=_PAGE_CSS,
            title=t("report_title", lang, province=province),
            generated=t("generated", lang, date=dt.datetime.now(dt.UTC).date().isoformat()),
            outputs=[
                ("map.html", "map.html"),
                ("wards/index.html", "wards/index.html"),
                ("shortlists.xlsx", "shortlists.xlsx"),
                ("shortlists.gpkg", "shortlists.gpkg"),
                ("shortlists/", "shortlists/*.csv"),
            ],
            h={
                k: t(f"sec_{k}", lang)
                for k in (
                    "summary",
                    "wards",
                    "charts",
                    "scenarios",
                    "sources",
                    "thresholds",
                    "limits",
                )
            },
            summary=summary,
            risk_note=t("risk_note", lang, weights=weights),
            ward_headers=[column_label("ward", lang)]
            + [column_label(c, lang) for c in WARD_FIGURES],
            ward_rows=[
                [r["name"]] + [_cell(r[c], c, lang) for c in WARD_FIGURES] for _, r in w.iterrows()
            ],
            chart_uris=uris,
            scenario_headers=scen_headers,
            scenario_rows=scen_rows,
            no_scenarios=t("stage_missing", lang, stage="coverage"),
            sources=_sources(config, paths, lang),
            threshold_headers=[column_label(c, lang) for c in ("key", "value", "unit", "source")],
            threshold_rows=[[r.key, f"{r.value:g}", r.unit, r.source] for r in thr.itertuples()],
            limits=[
                t(k, lang)
                for k in (
                    "limit_widths",
                    "limit_buildings",
                    "limit_speeds",
                    "limit_water",
                    "limit_wards",
                    "limit_stations",
                )
            ],
        ),
        encoding="utf-8",
    )


def _summary_rows(
    data: dict[str, Any], wtable: gpd.GeoDataFrame, config: ProvinceConfig, lang: Language
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    figures: dict[str, Any] = {"wards": len(wtable)}
    b = data["buildings"]
    figures["buildings"] = len(b) if b is not None else None
    e = data["edges"]
    if e is not None:
        e = e[~e["reversed"].astype(bool)] if "reversed" in e else e
        figures["street_km"] = round(float(e["length"].sum()) / 1000, 3)
        figures["truck_km"] = round(
            float(e.loc[e["width_class"] == "truck", "length"].sum()) / 1000, 3
        )
        figures["narrow_km"] = round(figures["street_km"] - figures["truck_km"], 3)
    if data["alleys"] is not None:
        figures["alleys"] = len(data["alleys"])
    d = _deep_only(data["deep_buildings"])
    if d is not None:
        figures["deep_buildings"] = len(d)
    ws = data["water_sources"]
    if ws is not None:
        figures["water_sources"] = (
            int(ws["usable"].astype(bool).sum()) if "usable" in ws else len(ws)
        )
    bw = data["building_water"]
    if bw is not None:
        figures["water_uncovered"] = int((~bw["covered"].fillna(value=False).astype(bool)).sum())
    if data["stations"] is not None:
        figures["stations"] = len(data["stations"])
    bt = data["building_times"]
    if bt is not None:
        ts = bt["time_s"].astype(float)
        figures["unreached"] = int((ts.isna() | (ts > config.response.target_time_s.value)).sum())
    if data["dense_unreached"] is not None:
        figures["dense_unreached"] = len(data["dense_unreached"])
    labels = {
        "street_km": "sum_street_km",
        "truck_km": "sum_truck_km",
        "narrow_km": "sum_narrow_km",
        "alleys": "sum_alleys",
        "buildings": "sum_buildings",
        "deep_buildings": "sum_deep_buildings",
        "water_sources": "sum_water_sources",
        "water_uncovered": "sum_water_uncovered",
        "stations": "sum_stations",
        "unreached": "sum_unreached",
        "dense_unreached": "sum_dense_unreached",
    }
    rows = [
        (t(labels[k], lang), _cell(v, k, lang))
        for k, v in figures.items()
        if k in labels and v is not None
    ]
    return rows, figures


def run(ctx: StageContext) -> dict[str, Any]:
    """Run the report stage: maps, ward maps and index, shortlists, report.html."""
    config, paths = ctx.config, ctx.paths
    lang = check_language(config.report.language)
    t0 = time.perf_counter()
    wards = load_wards(paths, config, lang)
    data = load_data(paths, config, wards)
    wtable = ward_table(data, wards, config)
    logger.info("report: %d wards, inputs read (%.1f s)", len(wtable), time.perf_counter() - t0)

    t0 = time.perf_counter()
    lists = build_shortlists(data, wtable, config)
    write_xlsx(lists, thresholds_table(config), ctx.output("shortlists_xlsx"), lang)
    write_gpkg(lists, ctx.output("shortlists_gpkg"))
    write_csvs(lists, ctx.output("shortlists_csv_dir"), lang)
    logger.info(
        "report: shortlists %s (%.1f s)",
        ", ".join(f"{k} {len(v)}" for k, v in lists.items()),
        time.perf_counter() - t0,
    )

    assets = leaflet_assets(config, paths.root)
    if assets is None:
        logger.warning(
            "report: Leaflet not found in %s; maps load it from a CDN and need internet "
            "(run make vendor)",
            config.report.leaflet_dir,
        )
    sites = site_layer(lists, config, lang)
    sites["ward_id"] = assign_wards(sites, wards).to_numpy() if len(sites) else []
    wards_dir = ctx.output("wards_dir")
    maps = render_maps(
        data,
        wtable,
        sites,
        config,
        lang,
        map_path=ctx.output("map"),
        wards_dir=wards_dir,
        assets=assets,
        progress=ctx.progress,
    )
    province = config.name.vi if lang == "vi" else config.name.en
    write_index(wtable, wards_dir / "index.html", province, lang)
    rows, figures = _summary_rows(data, wtable, config, lang)
    write_report(
        ctx.output("report"),
        config=config,
        paths=paths,
        lang=lang,
        wtable=wtable,
        data=data,
        summary=rows,
    )
    summary = {
        "language": lang,
        **figures,
        **maps,
        "shortlists": {k: len(v) for k, v in lists.items()},
        "max_risk": None if wtable["risk"].isna().all() else float(wtable["risk"].max()),
        "leaflet_inlined": assets is not None,
        "stages_missing": sorted(
            {s.stage for s in INPUTS.values() if not _stage_available(s.stage)}
        ),
    }
    logger.info(
        "report: map %.2f MB, %d ward maps, report.html written", maps["map_mb"], maps["ward_maps"]
    )
    return summary
