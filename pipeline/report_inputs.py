"""Upstream tables of the report stage: what it reads through the contracts, ward figures.

The report reads every stage table through :mod:`pipeline.contracts` (:data:`INPUTS`) and
shows the stages' own ward figures (:data:`STAGE_WARD_FIGURES`) and thresholds
(:func:`pipeline.contracts.applied_thresholds`); it computes only what no stage owns: people
per building and the ward ranking by people at risk, which combines the network, water and
coverage flags.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from pipeline import contracts
from pipeline._errors import InputDataError
from pipeline.contracts import Applied, Geometry, anchor_points, read_wards
from pipeline.risk import COMPONENTS, people_per_building, ward_risk
from pipeline.wards import WHOLE_PROVINCE, ward_ids

if TYPE_CHECKING:
    from pipeline.config import ProvinceConfig
    from pipeline.i18n import Language
    from pipeline.paths import ProvincePaths

logger = logging.getLogger(__name__)

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
    """An upstream table the report reads (:mod:`pipeline.contracts`) and how.

    ``columns``: the contract's columns read (``None``: all); ``rename``: contract name ->
    the report's name (for example today's response time ``time_s_existing`` -> ``time_s``);
    ``geometry`` and ``geometry_if`` as in :func:`pipeline.contracts.read_table`: per-building
    tables are read without shapes or as anchor points, so the report never holds a
    province's building polygons. ``index``: the contract's row key is kept as the index
    ("keep"), made a column ("column") or dropped ("drop"). ``present``: only the rows where
    these columns are set are read.
    """

    art: contracts.Artifact
    columns: tuple[str, ...] | None = None
    rename: dict[str, str] = field(default_factory=dict)
    geometry: Geometry = "full"
    geometry_if: tuple[tuple[str, tuple[object, ...]], ...] = ()
    index: Literal["keep", "column", "drop"] = "keep"
    present: tuple[str, ...] = ()


#: Every upstream table the report uses, and the columns it relies on.
INPUTS: dict[str, Input] = {
    # Every building's floor area (people per building), without shapes ...
    "buildings": Input(contracts.BUILDINGS, ("floor_area_m2",), geometry="none"),
    # ... and, as anchor points, only the buildings with a house number (the shortlists'
    # addresses): about a fifth of them.
    "addresses": Input(
        contracts.BUILDINGS,
        ("addr:housenumber", "addr:street"),
        {"addr:housenumber": "housenumber", "addr:street": "addr_street"},
        geometry="anchor",
        present=("addr:housenumber",),
    ),
    "stations": Input(contracts.STATIONS, ("name", "status")),
    "graph_nodes": Input(contracts.GRAPH_NODES, (), index="column"),
    "edges": Input(
        contracts.EDGES,
        (
            "width_class",
            "width_m",
            "width_low_m",
            "width_high_m",
            "width_source",
            "width_evidence",
            "width_confidence",
            "truck_min_width_m",
            "truck_status",
            "truck_status_reason",
            "highway",
            "name",
            "reversed",
            "blocked",
            "length",
            "ward_id",
        ),
        index="drop",
    ),
    "alleys": Input(contracts.ALLEYS, (*ALLEY_COLUMNS, "ward_id")),
    "deep_buildings": Input(
        contracts.DEEP_BUILDINGS,
        (
            "deep",
            "deep_status",
            "hose_distance_m",
            "bottleneck_width_m",
            "floor_area_m2",
            "ward_id",
        ),
        # drawn on the maps: beyond hose reach, and uncertain (field check)
        geometry_if=(("deep_status", ("deep", "uncertain")),),
    ),
    "fire_points": Input(
        contracts.FIRE_POINTS,
        ("rank", "mouth_node", "alley_id", "name", "depth_m", "n_deep_buildings", "ward_id"),
    ),
    "water_sources": Input(contracts.SOURCES, ("kind", "usable", "reason", "reach_m", "ward_id")),
    "water_reach": Input(
        contracts.REACH, ("u", "v", "key", "kind", "reach_m", "from_m", "to_m", "length_m")
    ),
    "building_water": Input(
        contracts.BUILDING_WATER, ("covered", "ward_id"), geometry="none", index="column"
    ),
    "hydrants": Input(
        contracts.HYDRANTS,
        ("rank", "node_id", "added_buildings", "added_floor_area_m2", "ward_id"),
    ),
    "isochrones": Input(contracts.ISOCHRONES, ("break_min", "scenario"), {"break_min": "minutes"}),
    "building_times": Input(
        contracts.BUILDING_TIMES,
        ("time_s_existing", "ward_id"),
        # today's stations (the coverage stage's "existing" scenario)
        {"time_s_existing": "time_s"},
        geometry="none",
        index="column",
    ),
    "dense_unreached": Input(
        contracts.DENSE_UNREACHED,
        ("floor_area_m2", "population", "time_s_existing", "ward_id"),
        {"time_s_existing": "time_s"},
    ),
    "station_sites": Input(
        contracts.STATION_SITES,
        (
            "rank",
            "station_id",
            "node",
            "added_buildings",
            "added_floor_area_m2",
            "added_population",
            "added_dense_ha",
        ),
        {"node": "node_id"},
    ),
    "scenarios": Input(contracts.SCENARIOS, geometry="none"),
    # The stages' own ward figures: the report shows these, it does not recompute them.
    "network_wards": Input(
        contracts.NETWORK_WARDS,
        (
            "ward_id",
            "street_km",
            "truck_connected_km",
            "truck_share",
            "n_buildings",
            "n_alleys",
            "n_alleys_to_widen",
            "n_alleys_field_check",
        ),
        geometry="none",
    ),
    "water_wards": Input(
        contracts.WATER_WARDS,
        ("ward_id", "buildings", "buildings_without_water"),
        geometry="none",
    ),
    "coverage_wards": Input(
        contracts.COVERAGE_WARDS, ("ward_id", "buildings", "median_time_s"), geometry="none"
    ),
}


def read_input(paths: ProvincePaths, key: str, crs: str) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read one upstream table of :data:`INPUTS` through its contract, renamed for the report.

    Raises
    ------
    MissingInputError, StaleInputError, InputDataError
        From :func:`pipeline.contracts.read_table`: one line naming the file and the stage
        to rerun.
    """
    spec = INPUTS[key]
    df = contracts.read_table(
        paths,
        spec.art,
        spec.columns,
        geometry=spec.geometry,
        geometry_if=spec.geometry_if,
        present=spec.present,
        crs=crs,
    )
    if spec.index != "keep" and spec.art.index:
        df = df.reset_index(drop=spec.index == "drop")
    return df.rename(columns=spec.rename)


def _slug(value: object) -> str:
    text = unicodedata.normalize("NFKD", str(value).replace("đ", "d").replace("Đ", "D"))
    text = text.encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "ward"


def load_wards(paths: ProvincePaths, config: ProvinceConfig, lang: Language) -> gpd.GeoDataFrame:
    """Return the ward layer (:func:`pipeline.contracts.read_wards`) with each ward's map file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ward_id (str), name, ward_type, population, area_km2, approximate, map_file.
        The one unit of a province without wards is named in the report's language.
    """
    wards, _ = read_wards(paths, config.crs)
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
    df: gpd.GeoDataFrame | pd.DataFrame,
    wards: gpd.GeoDataFrame,
    building_ward: pd.Series,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Give a layer ``ward_id`` and the ward's name (``ward``).

    The stage's own ``ward_id`` when its table has one (one ward per row, decided once by
    the stage); else by building (``building_ward``), else by where the row lies.
    """
    # Freshly read frames, not shared: tagged in place (no copy of a province's rows).
    if "ward_id" in df.columns:
        df["ward_id"] = df["ward_id"].astype(object).where(df["ward_id"].notna(), None)
    elif "building_id" in df.columns or df.index.name == "building_id":
        ids = df["building_id"] if "building_id" in df.columns else df.index.to_series()
        df["ward_id"] = ids.map(building_ward).to_numpy()
    elif isinstance(df, gpd.GeoDataFrame):
        df["ward_id"] = assign_wards(df, wards).to_numpy()
    else:
        df["ward_id"] = None
    df["ward"] = df["ward_id"].map(wards.set_index("ward_id")["name"])
    return df


def building_risk(
    data: dict[str, Any], wards: gpd.GeoDataFrame, config: ProvinceConfig, applied: Applied
) -> pd.DataFrame:
    """Return one row per building: ward, floor area, estimated people and the risk flags.

    Returns
    -------
    pandas.DataFrame
        Indexed by building id: ``ward_id`` (the network stage's), ``floor_area_m2``,
        ``people`` and the :data:`pipeline.risk.COMPONENTS` flags: beyond hose reach (the
        network stage's ``deep_status == "deep"``), without water (the water stage's
        ``covered``), beyond the target time the coverage stage applied.
    """
    b = data["buildings"]
    if len(b) == 0:
        return pd.DataFrame(columns=["ward_id", "floor_area_m2", "people", *COMPONENTS])
    ids = pd.Index(np.asarray(b.index), name="building_id")
    out = pd.DataFrame(
        {"ward_id": b["ward_id"].to_numpy(),
         "floor_area_m2": b["floor_area_m2"].to_numpy(dtype=float)},
        index=ids,
    )  # fmt: skip
    out["people"] = people_per_building(
        out["floor_area_m2"],
        out["ward_id"],
        wards.set_index("ward_id")["population"],
        floor_area_per_person_m2=config.report.floor_area_per_person_m2.value,
    )
    deep = data["deep_buildings"]
    flag = (deep["deep_status"].astype(str) == "deep").set_axis(deep.index)
    out["beyond_hose"] = flag.reindex(ids).fillna(value=False).astype(object)
    bw = data["building_water"].set_index("building_id")
    dry = ~bw["covered"].fillna(value=False).astype(bool)
    out["without_water"] = dry.reindex(ids)
    bt = data["building_times"].set_index("building_id")
    ts = bt["time_s"].astype(float).replace([np.inf, -np.inf], np.nan)
    late = ts.isna() | (ts > applied.target_time_s)
    out["beyond_time"] = late.reindex(ids)
    return out


def people_rate(buildings: pd.DataFrame) -> pd.Series:
    """Return estimated people per m² of floor area by ward id (from :func:`building_risk`)."""
    by = buildings.groupby("ward_id")[["people", "floor_area_m2"]].sum()
    return (by["people"] / by["floor_area_m2"].where(by["floor_area_m2"] > 0)).fillna(0.0)


#: The report's ward figures taken from a stage's ward table: report name -> (input, column).
STAGE_WARD_FIGURES: dict[str, tuple[str, str]] = {
    "buildings": ("network_wards", "n_buildings"),
    "street_km": ("network_wards", "street_km"),
    "truck_km": ("network_wards", "truck_connected_km"),
    "truck_share": ("network_wards", "truck_share"),
    "n_alleys": ("network_wards", "n_alleys"),
    "n_alleys_to_widen": ("network_wards", "n_alleys_to_widen"),
    "n_field_check": ("network_wards", "n_alleys_field_check"),
    "buildings_without_water": ("water_wards", "buildings_without_water"),
    "median_time_s": ("coverage_wards", "median_time_s"),
}


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
        ``wards`` plus ward_code, the stages' own ward figures (:data:`STAGE_WARD_FIGURES`,
        joined on ``ward_id``; ``median_time_min`` from the coverage stage's median time, NaN
        when fewer than half of a ward's buildings are reached), and the report's own: people,
        people_beyond_hose, people_without_water, people_beyond_time, people_at_risk,
        risk_share, risk_rank.
    """
    w = wards.set_index("ward_id", drop=False)
    idx = w.index
    whole = w["ward_type"].astype(str) == WHOLE_PROVINCE
    w["ward_code"] = w["ward_id"].where(~whole, "")
    for col, (key, src) in STAGE_WARD_FIGURES.items():
        table = data[key].set_index("ward_id")[src]
        w[col] = table.reindex(idx)
    minutes = w.pop("median_time_s").astype(float).replace(np.inf, np.nan) / 60
    w["median_time_min"] = minutes.round(1)
    risk = ward_risk(buildings, idx)
    for col in risk.columns:
        w[col] = risk[col]
    people_cols = [c for c in risk.columns if c.startswith("people")]
    w[people_cols] = w[people_cols].astype(float).round(0)
    w["risk_share"] = w["risk_share"].astype(float).round(4)
    w["area_km2"] = w["area_km2"].astype(float).round(3)
    return w.reset_index(drop=True)


def load_data(
    paths: ProvincePaths, config: ProvinceConfig, wards: gpd.GeoDataFrame
) -> dict[str, Any]:
    """Read every input of :data:`INPUTS` and tag its rows with their ward.

    A building's ward is the one the network stage gave it (``deep_buildings.ward_id``), so
    the report's per-building figures add up in the same wards as the stages' ward tables.
    """
    data = {k: read_input(paths, k, config.crs) for k in INPUTS}
    deep = data["deep_buildings"]
    bward = pd.Series(deep["ward_id"].to_numpy(), index=deep.index)
    b = data["buildings"]
    b["ward_id"] = bward.reindex(b.index).to_numpy()
    lost = b["ward_id"].isna()
    if lost.any():
        msg = (
            f"{contracts.DEEP_BUILDINGS.path(paths)}: {int(lost.sum())} building(s) of "
            f"ingest/buildings missing; rerun the network stage "
            f"(make network PROVINCE={paths.province} FORCE=1)"
        )
        raise InputDataError(msg)
    tables = ("scenarios", "graph_nodes", "addresses", "network_wards", "water_wards",
              "coverage_wards")  # fmt: skip
    for key, df in data.items():
        if key not in tables:
            data[key] = _with_ward(df, wards, bward)
    iso = data["isochrones"]
    wanted = config.report.isochrone_scenario or "existing"
    chosen = iso[iso["scenario"].astype(str) == wanted]
    if len(iso):
        data["isochrones"] = (
            chosen if len(chosen) else iso[iso["scenario"] == iso["scenario"].iloc[0]]
        )
    return data


def drawn_deep(df: pd.DataFrame) -> pd.DataFrame:
    """Return the deep-building rows the maps draw: beyond hose reach or uncertain."""
    return df[df["deep_status"].isin(["deep", "uncertain"]).to_numpy()]


def deep_only(df: pd.DataFrame) -> pd.DataFrame:
    """Return the buildings beyond hose reach (the network stage's ``deep``)."""
    return df[df["deep"].astype(bool).to_numpy()]


def shown_rows(data: dict[str, Any]) -> None:
    """Keep of the per-building tables only what the report shows after the ward figures.

    Deep buildings: those drawn (:func:`drawn_deep`) or beyond hose reach
    (:func:`deep_only`), in their order; building times: ``time_s`` (report.html's
    histogram). ``data`` is the stage's own :func:`load_data` dict, changed in place.
    """
    deep = data["deep_buildings"]
    keep = (
        deep["deep"].astype(bool).to_numpy()
        | deep["deep_status"].isin(["deep", "uncertain"]).to_numpy()
    )
    data["deep_buildings"] = deep[keep]
    bt = data.get("building_times")
    if bt is not None:
        data["building_times"] = bt[["time_s"]]
