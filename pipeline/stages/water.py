"""Stage ``water``: hydrants and natural sources -> reach along the streets, gaps, new hydrants."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline import contracts
from pipeline._validate import check_graph_layers
from pipeline.building_snap import read_prior
from pipeline.density import (
    M2_PER_HA,
    building_cells,
    building_people,
    building_points,
    density_grid,
)
from pipeline.footprint_reread import write_with_footprints
from pipeline.parallel import Background, release_freed_memory
from pipeline.siting import greedy_mclp
from pipeline.tables import rejects_frame
from pipeline.wards import ward_rows
from pipeline.water_reach import (
    Segments,
    Spots,
    candidate_coverage,
    line_substrings,
    segments_from_edges,
    snap_points,
    source_envelope,
    spots_at_points,
    spots_near_bodies,
)
from pipeline.water_sources import (
    HYDRANT,
    OSM_POINT_KINDS,
    file_sources,
    merge_duplicates,
    osm_sources,
)

if TYPE_CHECKING:
    from pipeline.config import DensityConfig, ProvinceConfig, WaterConfig
    from pipeline.routing import Snap
    from pipeline.stage import StageContext

logger = logging.getLogger(__name__)


def natural_reach_m(config: WaterConfig) -> float:
    """Return the reach of a static source (tank, suction point, pond, river) with its pump."""
    if config.natural_source_pump == "portable":
        return config.natural_source_reach_portable_m.value
    return config.natural_source_reach_truck_m.value


def spacing_max_m(config: WaterConfig) -> float:
    """Return the largest hydrant spacing along truck streets (low-flow value if configured)."""
    if config.use_low_flow_spacing:
        return config.hydrant_spacing_low_flow_m.value
    return config.hydrant_spacing_max_m.value


def classify_sources(
    sources: gpd.GeoDataFrame, segs: Segments, config: WaterConfig
) -> tuple[gpd.GeoDataFrame, Spots, Spots]:
    """Decide which sources a fire truck can use and where each meets the truck streets.

    Parameters
    ----------
    sources
        From :mod:`pipeline.water_sources`.
    segs
        Street segments with their ``truck`` flag.
    config
        The ``water`` config.

    Returns
    -------
    sources, hydrant_spots, static_spots
        ``sources`` gains ``usable``, ``reason`` (why not), ``reach_m``, ``access_points``,
        ``snap_m`` (points) and ``area_m2`` (areas); spots index rows of ``sources``.

    Notes
    -----
    A hydrant, tank or suction point must lie within ``point_access_max_m`` of a truck street; a
    pond, lake, river or canal must have a truck street within ``natural_source_road_access_m``
    of its bank (TCVN 2622: a truck street to the bank), and every such street is an access
    point. A pond or lake smaller than ``natural_source_min_area_m2`` holds too little water
    (TCVN 2622: at least 0.5 m deep; 3 h of fire flow). The truck streets are those of the main
    truck network (``segs.truck``), so a point whose nearest truck street is a fragment is not
    counted through it; ``snap_m`` is each point's distance to that network. Other water kinds
    (streams, ditches, drains) are listed but not counted.
    """
    out = sources.copy()
    n = len(out)
    kind = out["kind"].astype(str).to_numpy()
    counted_kinds = {*OSM_POINT_KINDS.values(), *config.natural_kinds}
    counted = np.isin(kind, list(counted_kinds))
    geoms = out.geometry.to_numpy()
    is_point = shapely.get_type_id(geoms) == 0
    truck = segs.truck
    pt_idx = np.flatnonzero(counted & is_point)
    body_idx = np.flatnonzero(counted & ~is_point)
    pt_spots = spots_at_points(
        geoms[pt_idx], segs, mask=truck, max_distance_m=config.point_access_max_m.value
    )
    pt_spots = Spots(pt_spots.seg, pt_spots.along_m, pt_idx[pt_spots.source], pt_spots.cost)
    body_spots = spots_near_bodies(
        geoms[body_idx], segs, mask=truck, distance_m=config.natural_source_road_access_m.value
    )
    body_spots = Spots(
        body_spots.seg, body_spots.along_m, body_idx[body_spots.source], body_spots.cost
    )
    access = np.bincount(pt_spots.source, minlength=n) + np.bincount(body_spots.source, minlength=n)
    snap_m = np.full(n, np.nan)
    snap_m[pt_spots.source] = shapely.distance(geoms[pt_spots.source], segs.geometry[pt_spots.seg])
    area_m2 = np.where(is_point, np.nan, shapely.area(geoms))
    small = (
        counted & ~is_point & (area_m2 > 0) & (area_m2 < config.natural_source_min_area_m2.value)
    )
    reason = np.full(n, "", dtype=object)
    reason[~counted] = (
        "kind '" + kind[~counted].astype(object) + "' is not counted (water.natural_kinds)"
    )
    reason[counted & is_point & (access == 0)] = (
        f"no truck street within {config.point_access_max_m.value:g} m"
    )
    reason[counted & ~is_point & (access == 0)] = (
        f"no truck street within {config.natural_source_road_access_m.value:g} m of the bank"
    )
    reason[small] = (
        f"water area below {config.natural_source_min_area_m2.value:g} m² "
        "(water.natural_source_min_area_m2)"
    )
    out["usable"] = reason == ""
    out["reason"] = reason
    out["reach_m"] = np.where(
        kind == HYDRANT, config.hydrant_reach_m.value, natural_reach_m(config)
    )
    out["access_points"] = access
    out["snap_m"] = snap_m
    out["area_m2"] = area_m2
    spots = Spots.concat([pt_spots, body_spots])
    spots = spots.subset(~small[spots.source])
    is_hydrant = kind[spots.source] == HYDRANT
    return out, spots.subset(is_hydrant), spots.subset(~is_hydrant)


def _nan_inf(a: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(a), a, np.nan)


def building_water(
    buildings: gpd.GeoDataFrame,
    segs: Segments,
    sources: gpd.GeoDataFrame,
    *,
    hydrant_spots: Spots,
    static_spots: Spots,
    config: WaterConfig,
    prior: tuple[Snap, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return, per building, the network distance to water and whether it is within reach.

    Returns
    -------
    table, parts
        ``table`` has ``hydrant_distance_m``, ``natural_distance_m``, ``water_distance_m``
        (NaN: no source reachable), ``nearest_source_id``, ``nearest_source_kind``,
        ``covered``; ``parts`` holds the snap arrays and envelopes for later steps.
    """
    reach_h = config.hydrant_reach_m.value
    reach_s = natural_reach_m(config)
    env_h = source_envelope(segs, hydrant_spots)
    env_s = source_envelope(segs, static_spots)
    seg, along, gap = snap_points(buildings.geometry.to_numpy(), segs, prior)
    h, h_src = env_h.at(seg, along)
    s, s_src = env_s.at(seg, along)
    h, s = h + gap, s + gap
    covered = (h <= reach_h) | (s <= reach_s)
    use_h = (h <= reach_h) | ((s > reach_s) & (h <= s))
    src = np.where(use_h, h_src, s_src)
    ids = sources["source_id"].to_numpy(dtype=object)
    kinds = sources["kind"].to_numpy(dtype=object)
    table = pd.DataFrame(
        {
            "floor_area_m2": buildings["floor_area_m2"].to_numpy(dtype=float),
            "hydrant_distance_m": _nan_inf(h),
            "natural_distance_m": _nan_inf(s),
            "water_distance_m": _nan_inf(np.minimum(h, s)),
            "nearest_source_id": np.where(src >= 0, ids[np.maximum(src, 0)], None),
            "nearest_source_kind": np.where(src >= 0, kinds[np.maximum(src, 0)], None),
            "covered": covered,
            "street_gap_m": gap,
        },
        index=buildings.index,
    )
    return table, {"seg": seg, "along": along, "gap": gap, "env_h": env_h, "env_s": env_s}


def street_water(
    segs: Segments,
    index: pd.Index,
    edges: pd.DataFrame,
    *,
    parts: dict[str, Any],
    hydrant_spots: Spots,
    static_spots: Spots,
    config: WaterConfig,
) -> gpd.GeoDataFrame:
    """Return every street segment with its worst distance to water and its length in reach."""
    reach_h = config.hydrant_reach_m.value
    reach_s = natural_reach_m(config)
    top = max(reach_h, reach_s)
    # One search for both kinds: a hydrant starts at (top - its reach), so "within top" means
    # "within its own reach" for every source.
    both = Spots.concat(
        [hydrant_spots.with_cost(top - reach_h), static_spots.with_cost(top - reach_s)]
    )
    _, covered_m = source_envelope(segs, both).segment_stats(top)
    worst_h, _ = parts["env_h"].segment_stats(reach_h)
    worst_s, _ = parts["env_s"].segment_stats(reach_s)
    covered_m = np.minimum(covered_m, segs.length_m)
    fwd = edges.loc[index]
    out = gpd.GeoDataFrame(
        {
            "u": index.get_level_values(0),
            "v": index.get_level_values(1),
            "key": index.get_level_values(2),
            "name": fwd["name"].to_numpy() if "name" in fwd else None,
            "highway": fwd["highway"].to_numpy() if "highway" in fwd else None,
            "truck": segs.truck,
            "length_m": segs.length_m,
            "hydrant_distance_max_m": _nan_inf(worst_h),
            "natural_distance_max_m": _nan_inf(worst_s),
            "covered_m": covered_m,
            "uncovered_m": segs.length_m - covered_m,
        },
        geometry=segs.geometry,
        crs=edges.crs,
    )
    out["covered"] = out["uncovered_m"] <= 0
    return out


#: Source kinds of the reach stretches: hydrants, and every other usable source.
REACH_KINDS: tuple[str, str] = ("hydrant", "natural")


def reach_stretches(
    segs: Segments, index: pd.Index, *, parts: dict[str, Any], config: WaterConfig, crs: object
) -> gpd.GeoDataFrame:
    """Return the stretches of street within reach of water, along the streets, by source kind.

    Parameters
    ----------
    segs, index
        The street segments and the ``(u, v, key)`` of the forward edge of each.
    parts
        :func:`building_water`'s envelopes (``env_h`` hydrants, ``env_s`` other sources).
    config
        Water config: the hydrant and natural-source reaches.
    crs
        The project CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``u, v, key, kind`` ({"hydrant", "natural"}), ``reach_m`` (the reach that applies),
        ``from_m``, ``to_m`` (along the street from ``u``), ``length_m`` and the stretch as a
        LineString: what the maps draw as water reach.
    """
    frames = []
    for kind, env, reach in zip(
        REACH_KINDS,
        (parts["env_h"], parts["env_s"]),
        (config.hydrant_reach_m.value, natural_reach_m(config)),
        strict=True,
    ):
        seg, a, b = env.reached(reach)
        keep = b > a
        seg, a, b = seg[keep], a[keep], b[keep]
        geoms = segs.geometry[seg]
        # Positions are in graph lengths; the drawn line may be a little longer or shorter.
        scale = shapely.length(geoms) / np.where(segs.length_m[seg] > 0, segs.length_m[seg], 1.0)
        frames.append(
            gpd.GeoDataFrame(
                {
                    "u": index.get_level_values(0)[seg],
                    "v": index.get_level_values(1)[seg],
                    "key": index.get_level_values(2)[seg],
                    "kind": kind,
                    "reach_m": float(reach),
                    "from_m": a,
                    "to_m": b,
                    "length_m": b - a,
                },
                geometry=line_substrings(geoms, a * scale, b * scale),
                crs=crs,
            )
        )
    return pd.concat(frames, ignore_index=True)


def spacing_gaps(
    segs: Segments, street: gpd.GeoDataFrame, hydrant_spots: Spots, config: WaterConfig
) -> gpd.GeoDataFrame:
    """Return truck-street segments with stretches farther than half the spacing from a hydrant.

    Notes
    -----
    Hydrants at most ``s`` apart along a street leave no point of it more than ``s / 2`` from
    one (QCVN 01:2021/BXD §2.10.5, TCVN 2622:1995 §10.9: ``s`` = 150 m, or 120 m at low flow).
    Distances here run along truck streets only.
    """
    half = spacing_max_m(config) / 2
    env = source_envelope(segs, hydrant_spots, mask=segs.truck)
    worst, covered = env.segment_stats(half)
    beyond = segs.length_m - np.minimum(covered, segs.length_m)
    gap = segs.truck & (beyond > 0)
    out = street[["u", "v", "key", "name", "highway", "length_m", "geometry"]][gap].copy()
    out["hydrant_distance_max_m"] = _nan_inf(worst[gap])
    out["beyond_half_spacing_m"] = beyond[gap]
    return out.reset_index(drop=True)


def hydrant_candidates(
    segs: Segments,
    table: pd.DataFrame,
    parts: dict[str, Any],
    weight: np.ndarray,
    config: WaterConfig,
    *,
    progress: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rank new hydrant sites on truck-street nodes by the uncovered demand each adds (MCLP).

    Parameters
    ----------
    segs
        Street segments.
    table
        Per building: ``covered`` and ``floor_area_m2``.
    parts
        Building snap arrays from :func:`building_water`.
    weight
        Demand weight per building (floor area or people).
    config
        The ``water`` config (reach, number of sites, tile size).
    progress
        Show a progress bar.

    Returns
    -------
    ranked, info
        One row per pick: ``rank, node_pos, added_weight, added_floor_area_m2,
        added_buildings, cumulative_weight, cumulative_share``; ``info`` has counts.

    Notes
    -----
    Greedy MCLP (:func:`pipeline.siting.greedy_mclp`) reaches at least ``1 - 1/e`` of the
    optimal covered weight. Candidates are truck-street nodes within ``hydrant_reach_m`` (in a
    straight line, a lower bound of the street distance) of an uncovered building.
    """
    reach = config.hydrant_reach_m.value
    seg = parts["seg"]
    demand = np.flatnonzero(~table["covered"].to_numpy() & (seg >= 0) & (weight > 0))
    truck_nodes = np.unique(np.r_[segs.u[segs.truck], segs.v[segs.truck]])
    info: dict[str, Any] = {"demand_buildings": len(demand), "candidates": 0}
    if len(demand) == 0 or len(truck_nodes) == 0 or config.candidate_count == 0:
        return pd.DataFrame(), info
    u_xy = segs.node_xy[segs.u[seg[demand]]]
    cell = np.floor(u_xy / reach).astype(np.int64)
    big = np.int64(1 << 31)
    # the cells holding demand, each once (a million buildings sit in a few thousand cells)
    _, first = np.unique(cell[:, 0] * big + cell[:, 1], return_index=True)
    cell = cell[first]
    offsets = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
    near = (cell[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
    wanted = np.unique(near[:, 0] * big + near[:, 1])
    n_cell = np.floor(segs.node_xy[truck_nodes] / reach).astype(np.int64)
    cands = truck_nodes[np.isin(n_cell[:, 0] * big + n_cell[:, 1], wanted)]
    info["candidates"] = len(cands)
    t0 = time.perf_counter()
    cov = candidate_coverage(
        segs,
        cands,
        seg[demand],
        parts["along"][demand],
        parts["gap"][demand],
        reach_m=reach,
        tile_m=config.candidate_tile_m,
        progress=progress,
    )
    info["coverage_pairs"] = int(cov.nnz)
    info["coverage_s"] = round(time.perf_counter() - t0, 3)
    w = weight[demand]
    res = greedy_mclp(cov, w, config.candidate_count)
    floor = table["floor_area_m2"].to_numpy(dtype=float)[demand]
    done = np.zeros(len(demand), dtype=bool)
    rows = []
    for rank, (pick, gain) in enumerate(zip(res.chosen, res.gains, strict=True), start=1):
        cols = cov.indices[cov.indptr[pick] : cov.indptr[pick + 1]]
        new = cols[~done[cols]]
        done[new] = True
        rows.append((rank, cands[pick], gain, floor[new].sum(), len(new)))
    ranked = pd.DataFrame(
        rows,
        columns=["rank", "node_pos", "added_weight", "added_floor_area_m2", "added_buildings"],
    )
    ranked["cumulative_weight"] = ranked["added_weight"].cumsum()
    total = float(w.sum())
    ranked["cumulative_share"] = ranked["cumulative_weight"] / total if total > 0 else 0.0
    info["uncovered_weight"] = total
    reachable = np.bincount(cov.indices, minlength=cov.shape[1]) > 0  # (entries are all True)
    info["demand_out_of_reach_buildings"] = int((~reachable).sum())
    info["demand_out_of_reach_floor_area_m2"] = round(float(floor[~reachable].sum()), 1)
    return ranked, info


def ward_summary(
    wards: gpd.GeoDataFrame,
    table: pd.DataFrame,
    sources: gpd.GeoDataFrame,
    *,
    source_ward: np.ndarray,
    cells: pd.DataFrame,
    cell_ward: np.ndarray,
    candidate_ward: np.ndarray,
) -> gpd.GeoDataFrame:
    """Return one row per ward: buildings, floor area and dense cells without water, sources."""
    n = len(wards)
    row = table["ward_row"].to_numpy()
    unc = ~table["covered"].to_numpy()
    floor = table["floor_area_m2"].to_numpy(dtype=float)
    usable = sources["usable"].to_numpy(dtype=bool)
    hyd = sources["kind"].to_numpy() == HYDRANT
    out = gpd.GeoDataFrame(
        {
            "ward_id": wards["ward_id"].to_numpy(),
            "name": wards["name"].to_numpy() if "name" in wards else None,
            "population": wards["population"].to_numpy(dtype=float),
            "buildings": np.bincount(row, minlength=n),
            "buildings_without_water": np.bincount(row[unc], minlength=n),
            "floor_area_m2": np.bincount(row, weights=floor, minlength=n),
            "floor_area_without_water_m2": np.bincount(row[unc], weights=floor[unc], minlength=n),
            "dense_cells": np.bincount(cell_ward, minlength=n),
            "dense_cells_without_water": np.bincount(
                cell_ward[cells["without_water"].to_numpy(dtype=bool)], minlength=n
            ),
            "usable_hydrants": np.bincount(source_ward[usable & hyd], minlength=n),
            "usable_other_sources": np.bincount(source_ward[usable & ~hyd], minlength=n),
            "hydrant_candidates": np.bincount(candidate_ward, minlength=n),
        },
        geometry=wards.geometry.to_numpy(),
        crs=wards.crs,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share_buildings_without_water"] = out["buildings_without_water"] / out["buildings"]
        out["share_floor_area_without_water"] = (
            out["floor_area_without_water_m2"] / out["floor_area_m2"]
        )
    out["population_without_water"] = out["population"] * out["share_floor_area_without_water"]
    return out


#: The graph edges' columns the stage uses (with their geometry).
EDGE_COLUMNS = ("highway", "name", "reversed", "length")


@dataclass
class Inputs:
    """What the water stage reads."""

    boundary: shapely.Geometry
    bounds: tuple[float, float, float, float]
    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    truck: np.ndarray
    buildings: gpd.GeoDataFrame
    water_points: gpd.GeoDataFrame
    water_bodies: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame


def read_inputs(ctx: StageContext) -> Inputs:
    """Read the street graph with its truck flags, buildings, water layers and wards."""
    paths, crs = ctx.paths, ctx.config.crs
    boundary = contracts.read_table(paths, contracts.BOUNDARY, (), crs=crs)
    # Only the columns used: the graph's other tags would stay in memory all stage.
    nodes = contracts.read_table(paths, contracts.GRAPH_NODES, ("x", "y"))
    edges = contracts.read_table(paths, contracts.GRAPH_EDGES, EDGE_COLUMNS)
    check_graph_layers(nodes, edges)
    wards, _ = contracts.read_wards(paths, crs)
    return Inputs(
        boundary=boundary.geometry.union_all(),
        bounds=tuple(boundary.total_bounds),
        nodes=nodes,
        edges=edges,
        truck=contracts.truck_flags(paths, edges),
        buildings=contracts.read_table(
            paths, contracts.BUILDINGS, ("footprint_m2", "floor_area_m2"), crs=crs
        ),
        water_points=contracts.read_table(paths, contracts.WATER_POINTS, crs=crs),
        water_bodies=contracts.read_table(paths, contracts.WATER_BODIES, crs=crs),
        wards=wards,
    )


def collect_sources(
    inp: Inputs, config: ProvinceConfig
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Return the sources (authority rows first, duplicates merged), rejects, per-file counts."""
    crs = config.crs
    from_files, tables = file_sources(
        config.water.files, crs=crs, boundary=inp.boundary, config=config.water
    )
    from_osm = osm_sources(inp.water_points, inp.water_bodies, crs=crs)
    frames = [f for f in (from_files, from_osm) if len(f)]
    both = pd.concat(frames, ignore_index=True) if frames else from_osm
    sources, dup_rejects = merge_duplicates(both, distance_m=config.water.duplicate_merge_m.value)
    all_rejects = rejects_frame(tables, dup_rejects)
    all_rejects = all_rejects.sort_values(["file", "line"], kind="stable", na_position="last")
    return sources, all_rejects.reset_index(drop=True), [t.stats() for t in tables]


@dataclass
class Reach:
    """What the usable sources reach along the streets."""

    table: pd.DataFrame
    parts: dict[str, Any]
    street: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    stretches: gpd.GeoDataFrame


def water_reach(
    inp: Inputs,
    segs: Segments,
    seg_index: pd.Index,
    sources: gpd.GeoDataFrame,
    *,
    spots: tuple[Spots, Spots],
    config: ProvinceConfig,
    prior: tuple[Snap, np.ndarray] | None = None,
) -> Reach:
    """Find the buildings and streets within reach of water, spacing gaps, reached stretches.

    Once the buildings are snapped, ``inp.buildings`` keeps one point per building (its point
    on surface, where the density grid and the wards place it): the footprints are most of the
    stage's memory; the output copies them from the buildings table
    (:func:`pipeline.footprint_reread.write_with_footprints`).
    """
    wcfg = config.water
    hyd_spots, static_spots = spots
    table, parts = building_water(
        inp.buildings, segs, sources, hydrant_spots=hyd_spots, static_spots=static_spots,
        config=wcfg, prior=prior,
    )  # fmt: skip
    points = building_points(inp.buildings.geometry.to_numpy())
    inp.buildings = inp.buildings.set_geometry(points)
    release_freed_memory()
    street = street_water(
        segs, seg_index, inp.edges, parts=parts, hydrant_spots=hyd_spots,
        static_spots=static_spots, config=wcfg,
    )  # fmt: skip
    gaps = spacing_gaps(segs, street, hyd_spots, wcfg)
    stretches = reach_stretches(segs, seg_index, parts=parts, config=wcfg, crs=config.crs)
    table["ward_row"] = ward_rows(points, inp.wards)
    table["ward_id"] = inp.wards["ward_id"].to_numpy()[table["ward_row"].to_numpy()]
    return Reach(table, parts, street, gaps, stretches)


def dense_without_water(
    inp: Inputs, table: pd.DataFrame, density: DensityConfig
) -> gpd.GeoDataFrame:
    """Return the density grid (the one coverage uses) with what is out of reach of water.

    Returns
    -------
    geopandas.GeoDataFrame
        Every cell of :func:`pipeline.density.density_grid` with
        ``floor_area_without_water_m2``, ``population_without_water`` and ``without_water``:
        a dense cell whose floor area (or people) out of reach of water alone meets the
        density threshold.
    """
    cells = density_grid(inp.buildings, inp.wards, density, bounds=inp.bounds)
    b_cell = building_cells(inp.buildings, density.cell_size_m)
    dry = np.where(table["covered"].to_numpy(), 0.0, table["floor_area_m2"].to_numpy(float))
    dry_by_cell = pd.Series(np.nan_to_num(dry)).groupby(b_cell).sum()
    cells["floor_area_without_water_m2"] = dry_by_cell.reindex(cells.index, fill_value=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = cells["floor_area_without_water_m2"] / cells["floor_area_m2"]
    cells["population_without_water"] = cells["population"] * share.fillna(0.0)
    ha = density.cell_size_m**2 / M2_PER_HA
    floor_dry = (
        cells["floor_area_without_water_m2"] / ha >= density.dense_floor_area_m2_per_ha.value
    )
    people_dry = (
        cells["population_without_water"] / ha >= density.dense_population_per_ha.value
    ).fillna(value=False)
    cells["without_water"] = cells["dense"].to_numpy(bool) & (floor_dry | people_dry).to_numpy()
    return cells


def demand_weight(
    inp: Inputs, cells: pd.DataFrame, config: ProvinceConfig
) -> tuple[np.ndarray, str]:
    """Return the weight of each building in the hydrant siting, and which weight it is.

    People (the grid's population spread over its buildings by floor area) when every cell
    with buildings has a population, else floor area (``water.candidate_weight``).
    """
    floor = inp.buildings["floor_area_m2"].to_numpy(dtype=float)
    people = building_people(
        cells, building_cells(inp.buildings, config.density.cell_size_m), floor
    )
    has_pop = len(people) > 0 and bool(np.isfinite(people).all())
    mode = config.water.candidate_weight
    if mode == "auto":
        mode = "population" if has_pop else "floor_area"
    if mode == "population" and not has_pop:
        logger.warning("water: candidate_weight population, but a ward has none; using floor area")
        mode = "floor_area"
    weight = np.nan_to_num(people) if mode == "population" else np.nan_to_num(floor)
    return weight, mode


def candidate_sites(
    segs: Segments,
    reach: Reach,
    weight: np.ndarray,
    inp: Inputs,
    config: ProvinceConfig,
    *,
    progress: bool,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Rank new hydrant sites (:func:`hydrant_candidates`) and place them in their wards."""
    ranked, info = hydrant_candidates(
        segs, reach.table, reach.parts, weight, config.water, progress=progress
    )
    if len(ranked):
        node_pos = ranked["node_pos"].to_numpy()
        pts = shapely.points(segs.node_xy[node_pos])
        ward = ward_rows(pts, inp.wards)
        sites = gpd.GeoDataFrame(
            ranked.drop(columns="node_pos").assign(
                node_id=segs.node_ids[node_pos], ward_id=inp.wards["ward_id"].to_numpy()[ward]
            ),
            geometry=pts,
            crs=config.crs,
        )
    else:
        sites = gpd.GeoDataFrame(
            {c: [] for c in ("rank", "node_id", "added_weight", "added_floor_area_m2",
                             "added_buildings", "cumulative_weight", "cumulative_share",
                             "ward_id")},
            geometry=gpd.GeoSeries([], crs=config.crs),
            crs=config.crs,
        )  # fmt: skip
    return sites, info


def _timed(t0: float, text: str, *values: object) -> float:
    logger.info("water: %s (%.1f s)", text % values, time.perf_counter() - t0)
    return time.perf_counter()


def run(ctx: StageContext) -> dict[str, Any]:
    """Run the water stage: sources, reach along the streets, gaps, wards, hydrant candidates."""
    config = ctx.config
    t0 = t = time.perf_counter()
    inp = read_inputs(ctx)
    segs, seg_index = segments_from_edges(inp.nodes, inp.edges, inp.truck)
    t = _timed(t, "%s street segments, %s truck", f"{len(segs):,}", f"{int(segs.truck.sum()):,}")

    sources, rejects, file_stats = collect_sources(inp, config)
    sources, hyd_spots, static_spots = classify_sources(sources, segs, config.water)
    usable = sources["usable"].to_numpy(dtype=bool)
    hydrant = (sources["kind"] == HYDRANT).to_numpy()
    t = _timed(
        t, "%s sources (%s usable: %s hydrants, %s others), %s rejected rows",
        f"{len(sources):,}", f"{int(usable.sum()):,}", f"{int((usable & hydrant).sum()):,}",
        f"{int((usable & ~hydrant).sum()):,}", f"{len(rejects):,}",
    )  # fmt: skip

    release_freed_memory()
    prior = read_prior(ctx.paths, inp.buildings.index, seg_index)
    reach = water_reach(
        inp, segs, seg_index, sources, spots=(hyd_spots, static_spots), config=config,
        prior=prior,
    )  # fmt: skip
    t = _timed(
        t, "%s of %s buildings without water in reach, %.1f km of street uncovered, %s truck "
        "segments with hydrant spacing gaps",
        f"{int((~reach.table['covered']).sum()):,}", f"{len(reach.table):,}",
        reach.street["uncovered_m"].sum() / 1000, f"{len(reach.gaps):,}",
    )  # fmt: skip

    with Background() as writes:  # the outputs ready so far are written meanwhile
        # The building table first (the longest write): its footprints are copied from the
        # buildings table (never decoded) while the rest of the stage runs.
        writes.submit(
            write_with_footprints, ctx, contracts.BUILDING_WATER,
            reach.table.drop(columns=["ward_row"]),
        )  # fmt: skip
        source_ward = ward_rows(shapely.point_on_surface(sources.geometry.to_numpy()), inp.wards)
        writes.submit(
            contracts.write_table, ctx, contracts.SOURCES,
            sources.assign(ward_id=inp.wards["ward_id"].to_numpy()[source_ward]),
        )  # fmt: skip
        writes.submit(
            partial(rejects.to_csv, index=False, encoding="utf-8"), ctx.output("source_rejects")
        )
        writes.submit(contracts.write_table, ctx, contracts.STREET_WATER, reach.street)
        writes.submit(contracts.write_table, ctx, contracts.REACH, reach.stretches)
        writes.submit(contracts.write_table, ctx, contracts.SPACING_GAPS, reach.gaps)

        release_freed_memory()
        cells = dense_without_water(inp, reach.table, config.density)
        weight, weight_kind = demand_weight(inp, cells, config)
        candidates, cand_info = candidate_sites(
            segs, reach, weight, inp, config, progress=ctx.progress
        )
        candidates["weight_kind"] = weight_kind
        t = _timed(
            t, "%d hydrant candidates ranked from %s sites by %s", len(candidates),
            f"{cand_info['candidates']:,}", weight_kind,
        )  # fmt: skip

        release_freed_memory()
        dense = cells[cells["dense"].to_numpy(bool)]
        gaps_cells = dense[dense["without_water"].to_numpy(bool)].drop(columns="without_water")
        wards_out = ward_summary(
            inp.wards,
            reach.table,
            sources,
            source_ward=source_ward,
            cells=dense,
            cell_ward=ward_rows(shapely.centroid(dense.geometry.to_numpy()), inp.wards),
            candidate_ward=ward_rows(candidates.geometry.to_numpy(), inp.wards),
        )
        cand_info["dense_cells"] = len(dense)
        summary = _summary(
            sources, rejects, reach.table, street=reach.street, gaps=reach.gaps,
            candidates=candidates, dense=gaps_cells, cand_info=cand_info,
        )  # fmt: skip
        writes.submit(contracts.write_table, ctx, contracts.HYDRANTS, candidates)
        writes.submit(contracts.write_table, ctx, contracts.WATER_WARDS, wards_out)
        writes.submit(contracts.write_table, ctx, contracts.DENSE_GAPS, gaps_cells.reset_index())
    summary["weight_kind"] = weight_kind
    # the reaches applied: what the report's legend and reasons say
    summary["hydrant_reach_m"] = config.water.hydrant_reach_m.value
    summary["natural_reach_m"] = natural_reach_m(config.water)
    summary["authority_files"] = file_stats
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    contracts.write_summary(ctx, contracts.WATER_SUMMARY, summary)
    return summary


def _summary(
    sources: gpd.GeoDataFrame,
    rejects: pd.DataFrame,
    table: pd.DataFrame,
    *,
    street: gpd.GeoDataFrame,
    gaps: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    dense: gpd.GeoDataFrame,
    cand_info: dict[str, Any],
) -> dict[str, Any]:
    usable = sources["usable"].to_numpy(dtype=bool)
    n_b = len(table)
    unc = ~table["covered"].to_numpy()
    floor = table["floor_area_m2"].to_numpy(dtype=float)
    top = candidates.head(10)
    return {
        "sources": len(sources),
        "sources_by_kind": sources["kind"].value_counts().to_dict(),
        "usable_by_kind": sources.loc[usable, "kind"].value_counts().to_dict(),
        "unusable_by_reason": sources.loc[~usable, "reason"].value_counts().to_dict(),
        "rejected_rows": len(rejects),
        "buildings": n_b,
        "buildings_without_water": int(unc.sum()),
        "share_buildings_without_water": round(float(unc.mean()), 4) if n_b else None,
        "share_floor_area_without_water": round(float(floor[unc].sum() / floor.sum()), 4)
        if floor.sum() > 0
        else None,
        "street_km": round(float(street["length_m"].sum()) / 1000, 3),
        "street_km_without_water": round(float(street["uncovered_m"].sum()) / 1000, 3),
        "spacing_gap_segments": len(gaps),
        "spacing_gap_km": round(float(gaps["beyond_half_spacing_m"].sum()) / 1000, 3),
        "dense_cells": cand_info.get("dense_cells", 0),
        "dense_cells_without_water": len(dense),
        "candidate_sites_considered": cand_info.get("candidates", 0),
        "coverage_pairs": cand_info.get("coverage_pairs", 0),
        "buildings_no_candidate_reaches": cand_info.get("demand_out_of_reach_buildings", 0),
        "floor_area_no_candidate_reaches_m2": cand_info.get("demand_out_of_reach_floor_area_m2", 0),
        "hydrant_candidates": len(candidates),
        "candidates_cover_share": round(float(candidates["cumulative_share"].max()), 4)
        if len(candidates)
        else 0.0,
        "top_candidates": [
            {
                "rank": int(r["rank"]),
                "node_id": int(r["node_id"]),
                "added_floor_area_m2": round(float(r["added_floor_area_m2"]), 1),
                "added_buildings": int(r["added_buildings"]),
                "ward_id": str(r["ward_id"]),
            }
            for _, r in top.iterrows()
        ],
        "mclp_bound": "greedy: at least 1 - 1/e (63 %) of the optimal covered weight",
    }
