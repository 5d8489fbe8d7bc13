"""Stage ``coverage``: truck response times, isochrones, dense unreached areas, scenarios."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from pipeline._io import read_geoparquet, write_json, write_parquet
from pipeline.density import (
    M2_PER_HA,
    WARD_COLUMNS,
    assign_wards,
    build_cells,
    raster_population,
    whole_province_ward,
)
from pipeline.graph import read_graph_layers
from pipeline.isochrones import (
    Reach,
    edge_travel_time_s,
    edge_twins,
    isochrone_polygons,
    reach_from_sources,
    split_at_points,
    warn_unsnapped,
)
from pipeline.paths import ARTIFACTS, resolve_input
from pipeline.routing import EdgeArrays, Snap, point_costs, snap_to_edges
from pipeline.siting import greedy_mclp
from pipeline.truck_network import read_truck_flags

if TYPE_CHECKING:
    from pipeline.config import ProvinceConfig
    from pipeline.stage import StageContext

logger = logging.getLogger(__name__)

#: Scenario names, in report order: today, with the provincial plan, with suggested sites.
EXISTING, PLANNED, SUGGESTED = "existing", "with_planned", "with_suggested"
#: Dijkstra rows x nodes computed at once when building the siting matrix (bounds memory).
_SITING_CELLS = 20_000_000


# --- the drivable network ------------------------------------------------------------------


def drivable_edges(
    ctx: StageContext, nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Edges a fire truck drives: the main truck network, one-way streets kept unless configured.

    Reads ``network/edges.parquet`` (``truck_ok`` and ``truck_connected``, see
    :func:`pipeline.truck_network.read_truck_flags`); a missing artifact or column is an error.
    """
    config = ctx.config
    ok = read_truck_flags(ctx.input("network", "edges"), edges)
    if config.response.follow_oneway:
        ok &= ~(edges["oneway"].to_numpy(dtype=bool) & edges["reversed"].to_numpy(dtype=bool))
    d = edges[ok].copy()
    d["travel_time"] = edge_travel_time_s(
        d,
        config.response.speed_scenarios_kph[config.response.speed_scenario],
        turn_delay_s=config.response.turn_delay_s,
        street_count=nodes["street_count"],
    )
    return d


def street_arrays(nodes: pd.DataFrame, edges: pd.DataFrame, weight: np.ndarray) -> EdgeArrays:
    """:class:`~pipeline.routing.EdgeArrays` of ``edges`` (vectorised node lookup)."""
    index = pd.Index(nodes.index.to_numpy())
    u = index.get_indexer(edges.index.get_level_values(0))
    v = index.get_indexer(edges.index.get_level_values(1))
    return EdgeArrays(node_ids=index.to_numpy(), u=u, v=v, weight=np.asarray(weight, float))


# --- points on the network -----------------------------------------------------------------


@dataclass(frozen=True)
class PointTimes:
    """Travel time to points snapped on drivable edges, and the station that reaches each."""

    time_s: np.ndarray
    station: np.ndarray


def point_times(reach: Reach, snap: Snap, arr: EdgeArrays, seconds_per_m: np.ndarray
                ) -> PointTimes:  # fmt: skip
    """Time to each snapped point through either end of its edge (the walk off it not counted).

    Parameters
    ----------
    reach
        Node times.
    snap
        Points snapped to the drivable edges (metres along the edge).
    arr
        The drivable edges as arrays.
    seconds_per_m
        Travel seconds per metre of each drivable edge.

    Returns
    -------
    PointTimes
    """
    e = np.maximum(snap.edge, 0)
    rate = seconds_per_m[e]
    timed = Snap(snap.edge, snap.gap_m, snap.to_u_m * rate, snap.to_v_m * rate)
    t = point_costs(reach.cost, timed, arr.u, arr.v, gap_weight=0.0)
    via_u = reach.cost[arr.u[e]] + timed.to_u_m
    via_v = reach.cost[arr.v[e]] + timed.to_v_m
    station = np.where(via_u <= via_v, reach.nearest[arr.u[e]], reach.nearest[arr.v[e]])
    station = np.where(np.isfinite(t), station, -1)
    return PointTimes(t, station)


# --- siting --------------------------------------------------------------------------------


def coverage_matrix(
    graph: sparse.csr_matrix,
    snap: Snap,
    arr: EdgeArrays,
    seconds_per_m: np.ndarray,
    *,
    candidates: np.ndarray,
    target_s: float,
) -> sparse.csr_matrix:
    """Which candidate node reaches which snapped demand point within ``target_s``.

    Parameters
    ----------
    graph
        Drivable directed adjacency (seconds).
    snap
        Demand points snapped to the drivable edges (unsnapped rows are never covered).
    arr
        Drivable edges as arrays.
    seconds_per_m
        Travel seconds per metre of each drivable edge.
    candidates
        Candidate node positions.
    target_s
        Response-time target.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``candidates x demand`` boolean.

    Notes
    -----
    One bounded Dijkstra on the reversed graph per batch of demand edge ends (``limit`` =
    target): the cost is set by the number of demand points, not of candidates.
    """
    n_demand = len(snap.edge)
    ok = np.flatnonzero(snap.edge >= 0)
    e = snap.edge[ok]
    rate = seconds_per_m[e]
    ends = np.concatenate([arr.u[e], arr.v[e]])
    offsets = np.concatenate([snap.to_u_m[ok] * rate, snap.to_v_m[ok] * rate])
    owner = np.concatenate([ok, ok])
    # One bounded Dijkstra per distinct end node (demand points share edges), in batches sized
    # so a dense batch x nodes block stays near 160 MB.
    uniq, inv = np.unique(ends, return_inverse=True)
    if len(uniq) == 0:
        return sparse.csr_matrix((len(candidates), n_demand), dtype=bool)
    reverse = graph.T.tocsr()
    batch = max(1, _SITING_CELLS // max(graph.shape[0], 1))
    blocks = []
    for start in range(0, len(uniq), batch):
        dist = csgraph.dijkstra(
            reverse, directed=True, indices=uniq[start : start + batch], limit=target_s
        )[:, candidates]
        dist[~np.isfinite(dist)] = 0.0  # sparse zero: not reached
        blocks.append(sparse.csr_matrix(dist))
    per_end = sparse.vstack(blocks, format="csr").tocsr()[inv].tocoo()
    hit = per_end.data + offsets[per_end.row] <= target_s
    # A candidate at the end node itself is reached at cost 0, which sparse storage drops.
    at_end = pd.Index(candidates).get_indexer(ends)
    own = (at_end >= 0) & (offsets <= target_s)
    r = np.concatenate([per_end.col[hit], at_end[own]])
    c = np.concatenate([owner[per_end.row[hit]], owner[own]])
    m = sparse.csr_matrix((np.ones(len(r), dtype=bool), (r, c)), shape=(len(candidates), n_demand))
    m.sum_duplicates()
    return m


# --- stage ---------------------------------------------------------------------------------


def _read_wards(ctx: StageContext, boundary: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Ward polygons from ``ingest/wards``; without any, the whole province as one ward."""
    config = ctx.config
    rel = ARTIFACTS["ingest"].get("wards")
    if rel is not None and ctx.input("ingest", "wards").exists():
        wards = read_geoparquet(ctx.input("ingest", "wards")).to_crs(config.crs)
        if not wards.empty:
            for col, default in (("ward_type", ""), ("population", np.nan), ("approximate", False)):
                if col not in wards.columns:
                    wards[col] = default
            wards["ward_id"] = wards["ward_id"].astype(str)
            return wards[[*WARD_COLUMNS, "geometry"]].reset_index(drop=True)
    return whole_province_ward(boundary.geometry.iloc[0], config.name.vi, config.crs)


def _scenario_stations(stations: gpd.GeoDataFrame) -> dict[str, np.ndarray]:
    status = stations["status"].astype(str).to_numpy()
    return {EXISTING: status == "existing", PLANNED: np.isin(status, ["existing", "planned"])}


def _service_area(  # noqa: PLR0917 - private helper, arrays in one order
    graph_m: sparse.csr_matrix,
    arr: EdgeArrays,
    lines: np.ndarray,
    lengths: np.ndarray,
    sources: np.ndarray,
    radius_m: np.ndarray,
    buffer_m: float,
    cell_m: float,
) -> shapely.Geometry:
    """Land within ``buffer_m`` of streets within each station's network radius (one pass).

    Each station starts with an offset of ``max(radius) - radius``, so one bounded Dijkstra
    with the largest radius answers every station's own radius.
    """
    if len(sources) == 0:
        return shapely.Polygon()
    r_max = float(radius_m.max())
    reach = reach_from_sources(graph_m, sources, r_max - radius_m, limit=r_max)
    return isochrone_polygons(
        lines,
        reach.cost[arr.u],
        lengths,
        [r_max],
        buffer_m=buffer_m,
        cell_m=cell_m,
        twin=edge_twins(arr.u, arr.v, lines),
    )[0]


def run(ctx: StageContext) -> dict[str, Any]:  # noqa: C901, PLR0915 - one stage, steps in order
    """Run the coverage stage: response times per scenario, isochrones, dense gaps, siting.

    Scenarios: ``existing`` (stations with status existing), ``with_planned`` (plus the
    planned ones) and ``with_suggested`` (existing plus the greedy MCLP sites, when any).
    Artifacts: ``node_times`` (``time_s_<scenario>``, ``station_<scenario>``: station_id or
    -1); ``isochrones`` (scenario, break_min, polygon); ``service_areas`` (QCVN 01:2021
    network radius per scenario); ``building_times`` and ``cells`` (times, nearest station,
    ``within_<break>min`` for today, ``within_target_<scenario>``; cells add floor area,
    population and ``dense``); ``dense_unreached`` (dense cells beyond the target today,
    ranked by people, else floor area); ``station_candidates`` (rank, node, gain);
    ``scenarios`` (totals and ``newly_covered_*`` deltas); ``coverage_wards``; summary.json.
    Times are truck driving seconds to the street point nearest each building (``inf`` when
    no truck street is within the hose reach, QCVN 06:2022/BXD §6.2.2.1).
    """
    config = ctx.config
    resp, access = config.response, config.access
    target_s = resp.target_time_s.value
    breaks_s = [b * 60.0 for b in resp.isochrone_breaks_min]
    hose_m = access.hose_reach_from_truck_road_m.value

    t0 = time.perf_counter()
    nodes, edges = read_graph_layers(
        ctx.input("ingest", "graph_nodes"), ctx.input("ingest", "graph_edges")
    )
    stations = read_geoparquet(ctx.input("ingest", "stations")).to_crs(config.crs)
    buildings = read_geoparquet(ctx.input("ingest", "buildings")).to_crs(config.crs)
    boundary = read_geoparquet(ctx.input("ingest", "boundary")).to_crs(config.crs)
    drive = drivable_edges(ctx, nodes, edges)
    # Stations become nodes of the drivable network (their edges split where they stand).
    nodes, drive, st_node = split_at_points(
        nodes, drive, stations.geometry.to_numpy(), max_distance_m=resp.station_snap_max_m
    )
    warn_unsnapped(stations["name"].to_numpy(), st_node, resp.station_snap_max_m)
    arr = street_arrays(nodes, drive, drive["travel_time"].to_numpy())
    graph = arr.csr()
    lines = drive.geometry.to_numpy()
    lengths = drive["length"].to_numpy(dtype=float)
    sec_per_m = arr.weight / np.maximum(lengths, 1e-9)
    graph_m = EdgeArrays(arr.node_ids, arr.u, arr.v, lengths).csr()
    st_pos = pd.Index(arr.node_ids).get_indexer(st_node)
    logger.info(
        "coverage: %s of %s directed edges drivable by truck, %d of %d stations on them (%.1f s)",
        f"{len(drive):,}", f"{len(edges):,}", int((st_pos >= 0).sum()), len(stations),
        time.perf_counter() - t0,
    )  # fmt: skip
    wards = _read_wards(ctx, boundary)

    # Density grid.
    t1 = time.perf_counter()
    raster_people = None
    if config.density.population_raster:
        raster_people = raster_population(
            resolve_input(config.density.population_raster), crs=config.crs,
            cell_m=config.density.cell_size_m,
            bounds=tuple(boundary.total_bounds),
        )  # fmt: skip
    cells = build_cells(buildings, wards, config.density, raster_people=raster_people)

    # Snap buildings and cells once; times per scenario below.
    b_snap = snap_to_edges(buildings.geometry.to_numpy(), drive, max_distance_m=hose_m)
    c_reach_m = hose_m + config.density.cell_size_m * np.sqrt(0.5)
    c_snap = snap_to_edges(shapely.centroid(cells.geometry.to_numpy()), drive,
                           max_distance_m=c_reach_m)  # fmt: skip
    b_ward = assign_wards(shapely.point_on_surface(buildings.geometry.to_numpy()), wards)
    logger.info(
        "coverage: %s buildings (%s within %.0f m of a truck street), %s cells (%.1f s)",
        f"{len(buildings):,}", f"{int((b_snap.edge >= 0).sum()):,}", hose_m, f"{len(cells):,}",
        time.perf_counter() - t1,
    )  # fmt: skip

    reaches: dict[str, Reach] = {}
    sources: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def evaluate(name: str, src_pos: np.ndarray, src_ids: np.ndarray) -> None:
        t = time.perf_counter()
        reach = reach_from_sources(graph, src_pos)
        ids = np.r_[src_ids, -1]  # position -1 (unreached) maps to -1
        nearest = ids[np.where(reach.nearest >= 0, reach.nearest, len(src_ids))]
        reach = Reach(reach.cost, nearest)
        reaches[name], sources[name] = reach, (src_pos, src_ids)
        for frame, snap in ((buildings, b_snap), (cells, c_snap)):
            pt = point_times(reach, snap, arr, sec_per_m)
            frame[f"time_s_{name}"] = pt.time_s
            frame[f"station_{name}"] = pt.station
        logger.info(
            "coverage: scenario %s: %d stations, %s of %s nodes reachable at all, %s within "
            "the %.0f s target (%.2f s)",
            name, len(src_pos), f"{int(np.isfinite(reach.cost).sum()):,}",
            f"{len(reach.cost):,}", f"{int((reach.cost <= target_s).sum()):,}", target_s,
            time.perf_counter() - t,
        )  # fmt: skip

    station_ids = stations.index.to_numpy(dtype=np.int64)
    for name, mask in _scenario_stations(stations).items():
        use = mask & (st_pos >= 0)
        evaluate(name, st_pos[use], station_ids[use])

    # Siting: new sites covering the most dense demand left uncovered by existing stations.
    t2 = time.perf_counter()
    weight_col = "population" if cells["population"].notna().any() else "floor_area_m2"
    demand_w = np.where(cells["dense"], cells[weight_col].fillna(0.0), 0.0)
    need = (demand_w > 0) & ~(cells[f"time_s_{EXISTING}"].to_numpy() <= target_s)
    used = np.zeros(arr.n_nodes, dtype=bool)
    used[arr.u] = True
    street_count = nodes["street_count"].reindex(arr.node_ids).to_numpy()
    candidates = np.flatnonzero(used & (street_count >= resp.candidate_min_street_count))
    suggested = np.empty(0, dtype=np.int64)
    gains = np.empty(0)
    if need.any() and len(candidates) and resp.station_candidate_count > 0:
        sub = Snap(*(a[need] for a in (c_snap.edge, c_snap.gap_m, c_snap.to_u_m, c_snap.to_v_m)))
        cov = coverage_matrix(graph, sub, arr, sec_per_m, candidates=candidates, target_s=target_s)
        result = greedy_mclp(cov, demand_w[need], resp.station_candidate_count)
        suggested, gains = candidates[result.chosen], result.gains
    n_sug = len(suggested)
    site_ids = int(station_ids.max(initial=-1)) + 1 + np.arange(n_sug)
    xy = nodes[["x", "y"]].reindex(arr.node_ids).to_numpy()
    station_candidates = gpd.GeoDataFrame(
        {"rank": np.arange(1, n_sug + 1), "station_id": site_ids,
         "node": arr.node_ids[suggested], "gain": gains, "cumulative_gain": np.cumsum(gains),
         "weight": weight_col},
        geometry=shapely.points(xy[suggested]) if n_sug else [], crs=config.crs,
    )  # fmt: skip
    if n_sug:
        base_pos, base_ids = sources[EXISTING]
        evaluate(SUGGESTED, np.r_[base_pos, suggested], np.r_[base_ids, site_ids])
    logger.info(
        "coverage: siting among %s candidate nodes for %s dense uncovered cells: %d sites, "
        "%s %s newly covered (%.1f s)",
        f"{len(candidates):,}", f"{int(need.sum()):,}", n_sug, f"{gains.sum():,.0f}", weight_col,
        time.perf_counter() - t2,
    )  # fmt: skip

    # Isochrones and QCVN service areas per scenario.
    t3 = time.perf_counter()
    iso_rows, sa_rows = [], []
    twin = edge_twins(arr.u, arr.v, lines)
    for name, reach in reaches.items():
        polys = isochrone_polygons(
            lines, reach.cost[arr.u], arr.weight, breaks_s,
            buffer_m=resp.isochrone_buffer_m.value, cell_m=resp.isochrone_cell_m, twin=twin,
        )  # fmt: skip
        for b, poly in zip(resp.isochrone_breaks_min, polys, strict=True):
            iso_rows.append({"scenario": name, "break_min": b, "break_s": b * 60.0,
                             "area_km2": poly.area / 1e6, "geometry": poly})  # fmt: skip
        src_pos = sources[name][0]
        radius = _station_radius(shapely.points(xy[src_pos]), wards, config)
        area = _service_area(graph_m, arr, lines, lengths, src_pos, radius,
                             resp.isochrone_buffer_m.value, resp.isochrone_cell_m)  # fmt: skip
        sa_rows.append({"scenario": name, "stations": len(src_pos),
                        "area_km2": area.area / 1e6, "geometry": area})  # fmt: skip
    isochrones = gpd.GeoDataFrame(iso_rows, geometry="geometry", crs=config.crs)
    service_areas = gpd.GeoDataFrame(sa_rows, geometry="geometry", crs=config.crs)
    logger.info(
        "coverage: %d isochrone polygons, %d service areas (%.1f s)",
        len(isochrones), len(service_areas), time.perf_counter() - t3,
    )  # fmt: skip

    # Flags, dense unreached, tables.
    for frame in (buildings, cells):
        t_base = frame[f"time_s_{EXISTING}"].to_numpy()
        for b in resp.isochrone_breaks_min:
            frame[f"within_{b:g}min"] = t_base <= b * 60.0
        for name in reaches:
            frame[f"within_target_{name}"] = frame[f"time_s_{name}"].to_numpy() <= target_s
    cells["unreached"] = ~cells[f"within_target_{EXISTING}"]
    dense_unreached = cells[cells["dense"] & cells["unreached"]].copy()
    dense_unreached = dense_unreached.sort_values(
        [weight_col, f"time_s_{EXISTING}"], ascending=False
    )
    dense_unreached["rank"] = np.arange(1, len(dense_unreached) + 1)
    b_ward_id = np.where(b_ward >= 0, wards["ward_id"].to_numpy()[np.maximum(b_ward, 0)], None)
    buildings["ward_id"] = b_ward_id
    buildings["gap_to_truck_street_m"] = b_snap.gap_m
    counts = {name: len(src[0]) for name, src in sources.items()}
    scen = scenario_table(buildings, cells, list(reaches), counts, target_s)
    ward_table = ward_totals(buildings, cells, wards, list(reaches), target_s)

    node_times = gpd.GeoDataFrame(
        {"osmid": arr.node_ids}, geometry=shapely.points(xy), crs=config.crs
    )
    for name, reach in reaches.items():
        node_times[f"time_s_{name}"] = reach.cost
        node_times[f"station_{name}"] = reach.nearest
    keep_b = ["footprint_m2", "levels", "floor_area_m2", "ward_id", "gap_to_truck_street_m",
              *[c for c in buildings.columns if c.startswith(("time_s_", "station_", "within_"))],
              "geometry"]  # fmt: skip
    building_times = buildings[[c for c in keep_b if c in buildings.columns]]

    outputs = {
        "node_times": node_times, "isochrones": isochrones, "service_areas": service_areas,
        "building_times": building_times, "cells": cells, "dense_unreached": dense_unreached,
        "station_candidates": station_candidates, "scenarios": scen,
        "coverage_wards": ward_table,
    }  # fmt: skip
    for key, frame in outputs.items():
        write_parquet(frame, ctx.output(key))
    n_planned = int((stations["status"] == "planned").sum())
    by_planned = need & (cells[f"time_s_{PLANNED}"].to_numpy() <= target_s)
    siting = {
        "weight": weight_col,
        "candidates": len(candidates),
        "dense_uncovered_cells": int(need.sum()),
        "dense_uncovered_weight": float(demand_w[need].sum()),
        "planned_stations": n_planned,
        "planned_newly_covered_weight": float(demand_w[by_planned].sum()),
        "suggested_sites": n_sug,
        "suggested_newly_covered_weight": float(gains.sum()),
        "suggested_same_count_newly_covered_weight": float(gains[:n_planned].sum()),
    }
    summary = _summary(
        buildings, cells, dense_unreached, scen, resp.isochrone_breaks_min, weight_col, len(drive)
    )
    summary["siting"] = siting
    write_json(summary, ctx.output("coverage_summary"))
    logger.info(
        "coverage: %s dense cells, %s dense and beyond %.0f s today, %s after the plan",
        f"{summary['dense_cells']:,}", f"{summary['dense_unreached_cells']:,}", target_s,
        f"{summary['scenarios'][PLANNED]['dense_unreached_cells']:,}",
    )  # fmt: skip
    return summary


def _station_radius(
    points: np.ndarray, wards: gpd.GeoDataFrame, config: ProvinceConfig
) -> np.ndarray:
    """QCVN 01:2021/BXD §2.6.13 service radius per station: urban wards 3 km, elsewhere 5 km."""
    pos = assign_wards(points, wards)
    types = wards["ward_type"].astype(str).to_numpy()
    urban = (pos >= 0) & np.isin(types[np.maximum(pos, 0)], config.density.urban_ward_types)
    resp = config.response
    return np.where(
        urban, resp.station_service_radius_urban_m.value, resp.station_service_radius_rural_m.value
    )


def _indicators(
    buildings: pd.DataFrame, cells: pd.DataFrame, name: str, target_s: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per building and per cell, what each adds to the totals of scenario ``name``."""
    bw = buildings[f"time_s_{name}"].to_numpy() <= target_s
    fa = buildings["floor_area_m2"].to_numpy(dtype=float)
    b = pd.DataFrame(
        {"ward_id": buildings["ward_id"].to_numpy(), "buildings": 1,
         "buildings_within_target": bw.astype(int), "floor_area_m2": fa,
         "floor_area_within_target_m2": np.where(bw, fa, 0.0)}
    )  # fmt: skip
    cw = cells[f"time_s_{name}"].to_numpy() <= target_s
    dense = cells["dense"].to_numpy(dtype=bool)
    pop = cells["population"].to_numpy(dtype=float)
    gap = dense & ~cw
    c = pd.DataFrame(
        {"ward_id": cells["ward_id"].to_numpy(), "population": pop,
         "population_within_target": np.where(cw, pop, 0.0), "dense_cells": dense.astype(int),
         "dense_unreached_cells": gap.astype(int),
         "dense_unreached_ha": np.where(gap, cells.geometry.area.to_numpy() / M2_PER_HA, 0.0),
         "dense_unreached_population": np.where(gap, pop, 0.0)}
    )  # fmt: skip
    return b, c


def _totals(buildings: pd.DataFrame, cells: pd.DataFrame, name: str, target_s: float
            ) -> dict[str, float]:  # fmt: skip
    b, c = _indicators(buildings, cells, name, target_s)
    sums = pd.concat([b.drop(columns="ward_id").sum(), c.drop(columns="ward_id").sum()])
    out = {k: (int(v) if k.endswith(("buildings", "cells", "target")) and "population" not in k
               else float(v)) for k, v in sums.items()}  # fmt: skip
    if not cells["population"].notna().any():
        for k in out:
            if "population" in k:
                out[k] = float("nan")
    return out


def scenario_table(
    buildings: pd.DataFrame,
    cells: pd.DataFrame,
    names: list[str],
    station_counts: dict[str, int],
    target_s: float,
) -> pd.DataFrame:
    """Totals per scenario and their change against today's stations.

    Returns
    -------
    pandas.DataFrame
        One row per scenario; ``newly_covered_*`` columns are the before/after deltas.
    """
    rows = []
    for name in names:
        row = {"scenario": name, "stations": station_counts[name],
               **_totals(buildings, cells, name, target_s)}  # fmt: skip
        rows.append(row)
    table = pd.DataFrame(rows).set_index("scenario")
    base = table.loc[EXISTING]
    table["newly_covered_population"] = (
        table["population_within_target"] - base["population_within_target"]
    )
    table["newly_covered_floor_area_m2"] = (
        table["floor_area_within_target_m2"] - base["floor_area_within_target_m2"]
    )
    table["newly_covered_dense_ha"] = base["dense_unreached_ha"] - table["dense_unreached_ha"]
    return table.reset_index()


def ward_totals(
    buildings: pd.DataFrame,
    cells: pd.DataFrame,
    wards: gpd.GeoDataFrame,
    names: list[str],
    target_s: float,
) -> gpd.GeoDataFrame:
    """Per ward: buildings, floor area, people, and what is within the target per scenario.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per ward: its own columns (``population`` renamed ``ward_population``), the
        totals of today's stations, and ``<total>_<scenario>`` for the other scenarios.
    """
    out = wards.rename(columns={"population": "ward_population"}).set_index("ward_id")
    for name in names:
        b, c = _indicators(buildings, cells, name, target_s)
        per = b.groupby("ward_id").sum().join(c.groupby("ward_id").sum(min_count=1), how="outer")
        per = per.reindex(out.index)
        if name != EXISTING:
            kept = [col for col in per.columns if "within" in col or "unreached" in col]
            per = per[kept].add_suffix(f"_{name}")
        out = out.join(per)
    return out.reset_index()


def _summary(  # noqa: PLR0917 - private helper
    buildings: pd.DataFrame,
    cells: pd.DataFrame,
    dense_unreached: pd.DataFrame,
    scen: pd.DataFrame,
    breaks_min: list[float],
    weight_col: str,
    drivable: int,
) -> dict[str, Any]:
    fa = buildings["floor_area_m2"].to_numpy(dtype=float)
    within = {}
    for b in breaks_min:
        flag = buildings[f"within_{b:g}min"].to_numpy()
        within[f"{b:g}"] = {
            "buildings_share": float(flag.mean()) if len(flag) else 0.0,
            "floor_area_share": float(fa[flag].sum() / fa.sum()) if fa.sum() > 0 else 0.0,
        }
    worst = dense_unreached.head(10)
    cols = ["rank", "ward_id", "floor_area_m2", "population", f"time_s_{EXISTING}"]
    centre = shapely.get_coordinates(shapely.centroid(worst.geometry.to_numpy()))
    worst_rows = worst[cols].assign(x=centre[:, 0], y=centre[:, 1]).reset_index()
    return {
        "drivable_edges": drivable,
        "buildings": len(buildings),
        "cells": len(cells),
        "dense_cells": int(cells["dense"].sum()),
        "dense_unreached_cells": len(dense_unreached),
        "demand_weight": weight_col,
        "within_break_existing": within,
        "worst_dense_unreached": [
            {k: _json_number(v) for k, v in r.items()} for r in worst_rows.to_dict("records")
        ],
        "scenarios": {
            r["scenario"]: {k: _json_number(v) for k, v in r.items() if k != "scenario"}
            for r in scen.to_dict(orient="records")
        },
    }


def _json_number(v: Any) -> Any:  # noqa: ANN401 - any table value
    """NaN and infinities become ``None`` (JSON has no NaN)."""
    if isinstance(v, float | np.floating) and not np.isfinite(v):
        return None
    return v.item() if isinstance(v, np.generic) else v
