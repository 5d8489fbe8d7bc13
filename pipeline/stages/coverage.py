"""Stage ``coverage``: truck response times, isochrones, dense unreached areas, scenarios."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from pipeline import contracts
from pipeline.building_snap import read_prior
from pipeline.density import M2_PER_HA, building_cells, building_points, density_grid
from pipeline.footprint_reread import read_footprints, write_with_footprints
from pipeline.hose import frontage_snap
from pipeline.isochrones import (
    Reach,
    StreetArrays,
    edge_travel_time_s,
    edge_twins,
    isochrone_polygons,
    reach_from_sources,
    split_at_points,
    warn_unsnapped,
    write_street_arrays,
)
from pipeline.parallel import Background, release_freed_memory
from pipeline.routing import EdgeArrays, Snap, snap_by_street, snap_to_edges
from pipeline.siting import greedy_mclp, pick_gains
from pipeline.wards import ward_rows

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipeline.config import ProvinceConfig
    from pipeline.stage import StageContext

logger = logging.getLogger(__name__)

#: The graph edges' columns the stage routes with (``maxspeed`` when tagged).
ROUTED_COLUMNS = ("highway", "maxspeed", "oneway", "reversed", "length", "geometry")

#: Scenario names, in report order: today, with the provincial plan, with suggested sites.
EXISTING, PLANNED, SUGGESTED = "existing", "with_planned", "with_suggested"
#: A snapped spot this close to an edge's end node is at the node.
_AT_NODE_M = 1e-6
#: Matrix entries expanded at once to the demand spots when building the siting matrix
#: (bounds memory).
_SITING_CELLS = 20_000_000
#: Dijkstra rows x nodes computed at once for the siting matrix (see :func:`_times_to_ends`).
_DIJKSTRA_CELLS = 2_000_000


# --- the drivable network ------------------------------------------------------------------


def drivable_edges(
    ctx: StageContext, nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Edges a fire truck drives: the main truck network, one-way streets kept unless configured.

    Reads ``network/edges.parquet`` (``truck_ok`` and ``truck_connected``, see
    :func:`pipeline.contracts.truck_flags`); a missing artifact or column is an error.
    """
    config = ctx.config
    ok = contracts.truck_flags(ctx.paths, edges)
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


def point_times(
    reach: Reach,
    snap: Snap,
    arr: EdgeArrays,
    seconds_per_m: np.ndarray,
    *,
    two_way: np.ndarray | None = None,
) -> PointTimes:
    """Time to each snapped point along its edge (the walk off it not counted).

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
    two_way
        Boolean per drivable edge: the street may also be driven ``v -> u``. A point on a
        one-way edge is reached only from its ``u`` end (never by reversing from ``v``); by
        default every edge is two-way.

    Returns
    -------
    PointTimes
    """
    e = np.maximum(snap.edge, 0)
    rate = seconds_per_m[e]
    ok = snap.edge >= 0
    via_u = np.where(ok, reach.cost[arr.u[e]] + snap.to_u_m * rate, np.inf)
    via_v = np.where(ok, reach.cost[arr.v[e]] + snap.to_v_m * rate, np.inf)
    if two_way is not None:
        # On a one-way edge the end node is only the point itself (nothing to reverse over).
        via_v = np.where(two_way[e] | (snap.to_v_m <= _AT_NODE_M), via_v, np.inf)
    t = np.fmin(via_u, via_v)
    station = np.where(via_u <= via_v, reach.nearest[arr.u[e]], reach.nearest[arr.v[e]])
    station = np.where(np.isfinite(t), station, -1)
    return PointTimes(t, station)


def snap_to_reached(
    points: np.ndarray,
    snap: Snap,
    drive: gpd.GeoDataFrame,
    reached: np.ndarray,
    *,
    stranded: np.ndarray,
    max_distance_m: float,
) -> Snap:
    """Move points whose snapped spot no truck reaches to the nearest reached edge.

    Parameters
    ----------
    points
        The geometries snapped.
    snap
        Their snap to the nearest drivable edge.
    drive
        The drivable edges.
    reached
        Boolean per drivable edge: a truck of the scenario can get onto it.
    stranded
        Boolean per point: no truck reaches its spot (see :func:`point_times`).
    max_distance_m
        The hose reach: farther reached edges do not count.

    Returns
    -------
    Snap
        The same snap where the spot is reached (or no reached edge is within reach), else
        the nearest reached edge's.
    """
    redo = np.flatnonzero((snap.edge >= 0) & stranded)
    allowed = np.flatnonzero(reached)
    if len(redo) == 0 or len(allowed) == 0:
        return snap
    again = snap_to_edges(points[redo], drive.iloc[allowed], max_distance_m=max_distance_m)
    found = again.edge >= 0
    edge, gap, to_u, to_v = (a.copy() for a in (snap.edge, snap.gap_m, snap.to_u_m, snap.to_v_m))
    rows = redo[found]
    edge[rows] = allowed[again.edge[found]]
    gap[rows], to_u[rows], to_v[rows] = again.gap_m[found], again.to_u_m[found], again.to_v_m[found]
    return Snap(edge, gap, to_u, to_v)


def cell_times(
    cell_of_building: np.ndarray,
    building_time_s: np.ndarray,
    floor_area_m2: np.ndarray,
    cells_index: pd.Index,
) -> np.ndarray:
    """Each cell's response time from its buildings: the floor-area-weighted median.

    Parameters
    ----------
    cell_of_building
        Cell id of each building.
    building_time_s
        Each building's time (``inf`` where no truck street is within hose reach).
    floor_area_m2
        Each building's floor area (the weight).
    cells_index
        The cells' ids.

    Returns
    -------
    numpy.ndarray
        Per cell, the time within which half its floor area is reached (``inf`` when less
        than half ever is; ``NaN`` for cells without buildings). A cell is judged by its
        buildings, not by its centre: a street passing the centre does not cover houses that
        stand beyond hose reach of it.
    """
    w = np.maximum(np.nan_to_num(floor_area_m2), 1e-9)
    frame = pd.DataFrame({"cell": cell_of_building, "t": building_time_s, "w": w})
    frame = frame.sort_values(["cell", "t"], kind="stable")
    cum = frame.groupby("cell")["w"].cumsum()
    total = frame.groupby("cell")["w"].transform("sum")
    median = frame[cum >= total / 2].drop_duplicates("cell").set_index("cell")["t"]
    return median.reindex(cells_index).to_numpy(dtype=float)


# --- siting --------------------------------------------------------------------------------


def _times_to_ends(
    graph: sparse.csr_matrix, candidates: np.ndarray, ends: np.ndarray, target_s: float
) -> sparse.csr_matrix:
    """Driving time from each candidate to each end node within ``target_s``, as a sparse matrix.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``len(ends) x len(candidates)``; an entry is the time, absent beyond the target (and
        at 0 s, where the candidate is the end node itself: the caller adds those).

    Notes
    -----
    Bounded Dijkstras from batches of candidates, each batch's dense ``batch x nodes`` block
    near 16 MB (:data:`_DIJKSTRA_CELLS`): small enough for the allocator to hand one block's
    memory to the next (a larger block is mapped afresh each time, and its page faults cost
    more than the search). Only the finite, non-zero times at the end nodes are kept.
    """
    n = graph.shape[0]
    end_col = np.full(n, -1, dtype=np.int64)
    end_col[ends] = np.arange(len(ends))
    batch = max(1, _DIJKSTRA_CELLS // max(n, 1))
    rows, cols, times = [], [], []
    for start in range(0, len(candidates), batch):
        dist = csgraph.dijkstra(
            graph, directed=True, indices=candidates[start : start + batch], limit=target_s
        ).ravel()
        hit = np.flatnonzero(np.isfinite(dist) & (dist != 0.0))
        col = end_col[hit % n]
        at_end = col >= 0
        hit = hit[at_end]
        rows.append(start + hit // n)
        cols.append(col[at_end])
        times.append(dist[hit])
        del dist
    return sparse.csr_matrix(
        (np.concatenate(times), (np.concatenate(cols), np.concatenate(rows))),
        shape=(len(ends), len(candidates)),
    )


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
    One bounded Dijkstra (``limit`` = target) per candidate, in batches: a province has a few
    thousand candidates (:func:`thin_candidates`) but hundreds of thousands of demand edge
    ends, so searching from the candidates is the cheap direction. Each batch keeps only its
    times to the demand ends (a sparse ``ends x candidates`` matrix is assembled from them),
    then every demand point is reached through either end of its edge.
    """
    n_demand = len(snap.edge)
    ok = np.flatnonzero(snap.edge >= 0)
    e = snap.edge[ok]
    rate = seconds_per_m[e]
    ends = np.concatenate([arr.u[e], arr.v[e]])
    offsets = np.concatenate([snap.to_u_m[ok] * rate, snap.to_v_m[ok] * rate])
    owner = np.concatenate([ok, ok])
    uniq, inv = np.unique(ends, return_inverse=True)
    if len(uniq) == 0 or len(candidates) == 0:
        return sparse.csr_matrix((len(candidates), n_demand), dtype=bool)
    by_end = _times_to_ends(graph, candidates, uniq, target_s)
    # Expand to the demand ends in chunks: one row per end would hold every candidate within
    # the target (tens of GB at province scale); only the hits are kept.
    at_end = pd.Index(candidates).get_indexer(ends)
    r_parts, c_parts = [], []
    per_row = max(1, by_end.nnz // max(by_end.shape[0], 1))
    chunk = max(1, _SITING_CELLS // per_row)
    for start in range(0, len(inv), chunk):
        rows = slice(start, start + chunk)
        part = by_end[inv[rows]].tocoo()
        hit = part.data + offsets[rows][part.row] <= target_s
        r_parts.append(part.col[hit])
        c_parts.append(owner[rows][part.row[hit]])
    # A candidate at the end node itself is reached at cost 0, which sparse storage drops.
    own = (at_end >= 0) & (offsets <= target_s)
    r = np.concatenate([*r_parts, at_end[own]])
    c = np.concatenate([*c_parts, owner[own]])
    m = sparse.csr_matrix((np.ones(len(r), dtype=bool), (r, c)), shape=(len(candidates), n_demand))
    m.sum_duplicates()
    return m


# --- stage ---------------------------------------------------------------------------------


def _scenario_stations(stations: gpd.GeoDataFrame) -> dict[str, np.ndarray]:
    status = stations["status"].astype(str).to_numpy()
    return {EXISTING: status == "existing", PLANNED: np.isin(status, ["existing", "planned"])}


def _service_area(  # noqa: PLR0917 - private helper, arrays in one order
    graph_m: sparse.csr_matrix,
    arr: EdgeArrays,
    lines: np.ndarray,
    twin: np.ndarray,
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
        twin=twin,
    )[0]


@dataclass
class Network:
    """The drivable network of the stage, with the stations split into it."""

    nodes: gpd.GeoDataFrame
    drive: gpd.GeoDataFrame
    arr: EdgeArrays
    graph: sparse.csr_matrix
    seconds_per_m: np.ndarray
    two_way: np.ndarray
    station_pos: np.ndarray
    twin: np.ndarray
    #: Positions of the drivable edges cut at a station (pieces of a street, not whole ones).
    pieces: np.ndarray

    @cached_property
    def node_xy(self) -> np.ndarray:
        """Coordinates of the nodes, in the order of ``arr.node_ids``."""
        xy: np.ndarray = self.nodes[["x", "y"]].reindex(self.arr.node_ids).to_numpy(dtype=float)
        return xy

    def street_arrays(self) -> StreetArrays:
        """Return the drivable network as arrays, as saved for the isochrones."""
        lines = shapely.get_coordinates(self.drive.geometry.to_numpy(), return_index=True)
        return StreetArrays(self.arr, lines, self.twin, self.graph, self.node_xy)


def drivable_network(ctx: StageContext, stations: gpd.GeoDataFrame) -> Network:
    """Read the graph, keep the main truck network and split its edges at the stations."""
    resp = ctx.config.response
    # Only the columns routing uses: the graph's other tags would stay in memory all stage.
    nodes = contracts.read_table(ctx.paths, contracts.GRAPH_NODES, ("x", "y", "street_count"))
    attrs = tuple(c for c in ROUTED_COLUMNS if c != "geometry")
    edges = contracts.read_table(ctx.paths, contracts.GRAPH_EDGES, attrs)
    edges = edges[[c for c in ROUTED_COLUMNS if c in edges.columns]]
    drive = drivable_edges(ctx, nodes, edges)
    del edges
    whole = drive.index
    nodes, drive, st_node = split_at_points(
        nodes, drive, stations.geometry.to_numpy(), max_distance_m=resp.station_snap_max_m
    )
    warn_unsnapped(stations["name"].to_numpy(), st_node, resp.station_snap_max_m)
    arr = street_arrays(nodes, drive, drive["travel_time"].to_numpy())
    lengths = drive["length"].to_numpy(dtype=float)
    twin = edge_twins(arr.u, arr.v, drive.geometry.to_numpy())
    return Network(
        nodes=nodes,
        drive=drive,
        arr=arr,
        graph=arr.csr(),
        seconds_per_m=arr.weight / np.maximum(lengths, 1e-9),
        two_way=twin >= 0,
        station_pos=pd.Index(arr.node_ids).get_indexer(st_node),
        twin=twin,
        pieces=np.flatnonzero(~drive.index.isin(whole)),
    )


@dataclass
class Demand:
    """Buildings and density cells, and where each building meets the drivable network.

    The footprints (most of the stage's memory at a province's size) are held apart from the
    building table: after the snaps only those of the buildings re-snapped in a scenario are
    kept (:meth:`keep_asked_footprints`); the rest are read again where needed.
    """

    buildings: pd.DataFrame
    cells: gpd.GeoDataFrame
    building_snap: Snap
    cell_snap: Snap
    cell_of_building: np.ndarray
    hose_m: float
    geoms: np.ndarray
    reread: Callable[[], np.ndarray]
    asked: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def footprints(self, rows: np.ndarray) -> np.ndarray:
        """Return the footprints, present at least where ``rows`` (boolean) is true."""
        self.asked = rows.copy() if len(self.asked) != len(rows) else self.asked | rows
        if shapely.is_missing(self.geoms[rows]).any():
            logger.debug("coverage: reading the building footprints again")
            self.geoms = self.reread()
        return self.geoms

    def keep_asked_footprints(self) -> None:
        """Drop the footprints no scenario asked for so far (they are read again if asked)."""
        if len(self.asked) != len(self.geoms):
            self.asked = np.zeros(len(self.geoms), dtype=bool)
        kept = self.geoms.copy()
        kept[~self.asked] = None
        self.geoms = kept


def demand(ctx: StageContext, net: Network, wards: gpd.GeoDataFrame) -> Demand:
    """Snap the buildings to the drivable streets within hose reach; build the density grid."""
    config = ctx.config
    buildings = contracts.read_table(
        ctx.paths, contracts.BUILDINGS, ("footprint_m2", "levels", "floor_area_m2"), crs=config.crs
    )
    boundary = contracts.read_table(ctx.paths, contracts.BOUNDARY, (), crs=config.crs)
    b_geoms = buildings.geometry.to_numpy()
    # Each building placed once (grid cell, ward) at its point on surface.
    points = building_points(b_geoms)
    at_points = buildings.set_geometry(points, crs=buildings.crs)
    cells = density_grid(at_points, wards, config.density, bounds=tuple(boundary.total_bounds))
    hose_m = config.access.hose_reach_from_truck_road_m.value
    cell_of = building_cells(at_points, config.density.cell_size_m)
    del at_points
    b_ward = ward_rows(points, wards)
    del points
    buildings["ward_id"] = np.where(
        b_ward >= 0, wards["ward_id"].to_numpy()[np.maximum(b_ward, 0)], None
    )
    # A house fronting a street is reached at the near end of its frontage (as in network).
    # The network stage's snap to all streets settles most houses (snap_by_street).
    lines = net.drive.geometry.to_numpy()
    prior, prior_line = read_prior(ctx.paths, buildings.index, net.drive.index)
    b_snap = frontage_snap(
        snap_by_street(b_geoms, lines, prior, prior_line, max_distance_m=hose_m, loose=net.pieces),
        b_geoms,
        lines,
        tolerance_m=config.access.frontage_tolerance_m,
    )
    buildings["gap_to_truck_street_m"] = b_snap.gap_m
    # Cells without buildings (people from a raster only) are judged at their centre.
    c_reach_m = hose_m + config.density.cell_size_m * np.sqrt(0.5)
    c_snap = snap_to_edges(
        shapely.centroid(cells.geometry.to_numpy()), net.drive, max_distance_m=c_reach_m
    )
    table = pd.DataFrame(buildings.drop(columns=buildings.geometry.name))
    reread = partial(read_footprints, ctx.paths, config.crs, table.index)
    return Demand(table, cells, b_snap, c_snap, cell_of, hose_m, b_geoms.copy(), reread)


def scenario_times(
    name: str,
    net: Network,
    dem: Demand,
    src_pos: np.ndarray,
    src_ids: np.ndarray,
) -> Reach:
    """Time one scenario: nodes, buildings (through reached streets), cells (by buildings).

    Writes ``time_s_<name>`` and ``station_<name>`` into ``dem.buildings`` and ``dem.cells``.
    """
    reach = reach_from_sources(net.graph, src_pos)
    ids = np.r_[src_ids, -1]  # position -1 (unreached) maps to -1
    nearest = ids[np.where(reach.nearest >= 0, reach.nearest, len(src_ids))]
    reach = Reach(reach.cost, nearest)
    arr = net.arr
    reached = np.isfinite(reach.cost[arr.u]) | (net.two_way & np.isfinite(reach.cost[arr.v]))
    first = point_times(reach, dem.building_snap, arr, net.seconds_per_m, two_way=net.two_way)
    stranded = ~np.isfinite(first.time_s)
    b_snap = snap_to_reached(
        dem.footprints(stranded & (dem.building_snap.edge >= 0)), dem.building_snap, net.drive,
        reached, stranded=stranded, max_distance_m=dem.hose_m,
    )  # fmt: skip
    pt = point_times(reach, b_snap, arr, net.seconds_per_m, two_way=net.two_way)
    dem.buildings[f"time_s_{name}"] = pt.time_s
    dem.buildings[f"station_{name}"] = pt.station
    c_pt = point_times(reach, dem.cell_snap, arr, net.seconds_per_m, two_way=net.two_way)
    by_buildings = cell_times(
        dem.cell_of_building,
        pt.time_s,
        dem.buildings["floor_area_m2"].to_numpy(dtype=float),
        dem.cells.index,
    )
    has_b = np.isfinite(by_buildings) | np.isin(dem.cells.index, dem.cell_of_building)
    dem.cells[f"time_s_{name}"] = np.where(has_b, by_buildings, c_pt.time_s)
    # The station of a cell: the one reaching most of its floor area first (its median house).
    dem.cells[f"station_{name}"] = _cell_station(dem, pt, has_b, c_pt)
    return reach


def copy_scenario(dem: Demand, source: str, name: str) -> None:
    """Give scenario ``name`` the times and stations of ``source`` (the same stations)."""
    for frame in (dem.buildings, dem.cells):
        for col in ("time_s", "station"):
            frame[f"{col}_{name}"] = frame[f"{col}_{source}"].to_numpy(copy=True)


def _cell_station(dem: Demand, pt: PointTimes, has_b: np.ndarray, c_pt: PointTimes) -> np.ndarray:
    frame = pd.DataFrame({"cell": dem.cell_of_building, "station": pt.station, "t": pt.time_s})
    first = frame.sort_values("t", kind="stable").drop_duplicates("cell").set_index("cell")
    by_b = first["station"].reindex(dem.cells.index).fillna(-1).to_numpy(dtype=np.int64)
    return np.where(has_b, by_b, c_pt.station)


@dataclass
class Siting:
    """New station sites (greedy MCLP) for the dense demand today's stations leave out."""

    sites: gpd.GeoDataFrame
    positions: np.ndarray
    gains: np.ndarray
    info: dict[str, Any]


def thin_candidates(
    candidates: np.ndarray, xy: np.ndarray, street_count: np.ndarray, spacing_m: float
) -> np.ndarray:
    """Keep one candidate junction per ``spacing_m`` square: the one with the most streets.

    A suggested station site is a place to look for a lot, not a lot: one junction per square
    is enough to choose among, and the siting matrix shrinks with the square of the spacing
    (58,395 junctions of a province become a few thousand). Ties go to the first junction.

    Parameters
    ----------
    candidates
        Candidate node positions.
    xy
        Their coordinates (project CRS, metres).
    street_count
        Their number of streets.
    spacing_m
        Side of the squares; 0 keeps every candidate.

    Returns
    -------
    numpy.ndarray
        The kept candidates, in their original order.
    """
    if spacing_m <= 0 or len(candidates) == 0:
        return candidates
    gx = np.floor(xy[:, 0] / spacing_m).astype(np.int64)
    gy = np.floor(xy[:, 1] / spacing_m).astype(np.int64)
    order = np.lexsort((np.arange(len(candidates)), -street_count, gy, gx))
    first = np.r_[True, (np.diff(gx[order]) != 0) | (np.diff(gy[order]) != 0)]
    keep: np.ndarray = candidates[np.sort(order[first])]
    return keep


def demand_units(snap: Snap, need: np.ndarray, step_m: float) -> tuple[np.ndarray, Snap]:
    """Group the demand buildings by street edge and position along it into demand spots.

    Buildings snapped to the same edge within the same ``step_m`` stretch share one spot at
    their mean position: the siting matrix then has one column per spot instead of per
    building (a province has a million buildings on a few hundred thousand stretches), and a
    spot's time differs from its buildings' by at most ``step_m / 2`` of driving.

    Parameters
    ----------
    snap
        Every building's spot on the drivable network.
    need
        Buildings that are demand; unsnapped ones can never be reached and are left out.
    step_m
        Length of the stretches.

    Returns
    -------
    unit, spots
        Per building its spot (-1: none), and the spots as a :class:`Snap`.
    """
    rows = np.flatnonzero(need & (snap.edge >= 0))
    unit = np.full(len(snap.edge), -1, dtype=np.int64)
    if not len(rows):
        parts = (snap.edge, snap.gap_m, snap.to_u_m, snap.to_v_m)
        return unit, Snap(*(np.empty(0, dtype=a.dtype) for a in parts))
    stretch = np.floor(snap.to_u_m[rows] / step_m).astype(np.int64)
    key = snap.edge[rows].astype(np.int64) * (int(stretch.max()) + 1) + stretch
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    unit[rows] = inv
    n = np.bincount(inv).astype(float)

    def mean(values: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.bincount(inv, weights=values[rows]) / n
        return out

    spots = Snap(snap.edge[rows][first], mean(snap.gap_m), mean(snap.to_u_m), mean(snap.to_v_m))
    return unit, spots


def _unit_sums(unit: np.ndarray, values: np.ndarray, n_units: int) -> np.ndarray:
    """Sum a per-building value over each demand spot (buildings without one left out)."""
    has = unit >= 0
    out: np.ndarray = np.bincount(unit[has], weights=np.nan_to_num(values[has]), minlength=n_units)
    return out


def siting(
    ctx: StageContext, net: Network, dem: Demand, weight_col: str, target_s: float
) -> Siting:
    """Choose new station sites covering the most dense demand beyond the target today.

    Demand points are the buildings of dense cells that today's stations do not reach within
    the target; each carries its cell's weight (people, else floor area) in proportion to its
    floor area. Candidates are truck-network junctions. Each site carries what it newly
    brings within the target: ``added_buildings``, ``added_floor_area_m2``,
    ``added_population`` (NaN without population data) and ``added_dense_ha`` (its buildings'
    floor-area shares of their cells' areas).
    """
    resp = ctx.config.response
    cells, b = dem.cells, dem.buildings
    cell_w = pd.Series(np.where(cells["dense"], cells[weight_col].fillna(0.0), 0.0), cells.index)
    fa = b["floor_area_m2"].to_numpy(dtype=float)
    cell_fa = pd.Series(fa).groupby(dem.cell_of_building).sum()
    share = fa / cell_fa.reindex(dem.cell_of_building).to_numpy()
    b_weight = cell_w.reindex(dem.cell_of_building).to_numpy() * np.nan_to_num(share)
    need = (b_weight > 0) & ~(b[f"time_s_{EXISTING}"].to_numpy() <= target_s)
    used = np.zeros(net.arr.n_nodes, dtype=bool)
    used[net.arr.u] = True
    street_count = net.nodes["street_count"].reindex(net.arr.node_ids).to_numpy()
    candidates = np.flatnonzero(used & (street_count >= resp.candidate_min_street_count))
    candidates = thin_candidates(
        candidates, net.node_xy[candidates], street_count[candidates], resp.candidate_spacing_m
    )
    chosen, gains = np.empty(0, dtype=np.int64), np.empty(0)
    # What each new site brings within the target (the buildings it newly covers, in order).
    cell_ha = ctx.config.density.cell_size_m**2 / M2_PER_HA
    people = cells["population"].to_numpy(dtype=float)
    b_people = pd.Series(people, cells.index).reindex(dem.cell_of_building).to_numpy() * share
    per_building = {
        "added_buildings": np.ones(len(fa)),
        "added_floor_area_m2": np.nan_to_num(fa),
        "added_population": b_people,
        "added_dense_ha": cell_ha * np.nan_to_num(share),
    }
    added = {k: np.empty(0) for k in per_building}
    if need.any() and len(candidates) and resp.station_candidate_count > 0:
        unit, spots = demand_units(dem.building_snap, need, resp.siting_position_step_m)
        cov = coverage_matrix(
            net.graph, spots, net.arr, net.seconds_per_m, candidates=candidates, target_s=target_s
        )
        result = greedy_mclp(cov, _unit_sums(unit, b_weight, len(spots.edge)),
                             resp.station_candidate_count)  # fmt: skip
        chosen, gains = candidates[result.chosen], result.gains
        newly = pick_gains(cov, result.chosen).astype(float)
        added = {k: newly @ _unit_sums(unit, v, len(spots.edge)) for k, v in per_building.items()}
        if not np.isfinite(b_people[need]).all():
            added["added_population"] = np.full(len(chosen), np.nan)
    n = len(chosen)
    sites = gpd.GeoDataFrame(
        {"rank": np.arange(1, n + 1), "node": net.arr.node_ids[chosen], "gain": gains,
         "cumulative_gain": np.cumsum(gains), "weight": weight_col, **added},
        geometry=shapely.points(net.node_xy[chosen]) if n else [], crs=ctx.config.crs,
    )  # fmt: skip
    info = {
        "weight": weight_col,
        "candidates": len(candidates),
        "dense_uncovered_buildings": int(need.sum()),
        "dense_uncovered_weight": float(b_weight[need].sum()),
        "suggested_sites": n,
        "suggested_newly_covered_weight": float(gains.sum()),
    }
    return Siting(sites, chosen, gains, info)


def isochrone_layers(
    ctx: StageContext,
    net: Network,
    reaches: dict[str, Reach],
    sources: dict[str, np.ndarray],
    wards: gpd.GeoDataFrame,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Isochrone polygons per scenario and break, and the QCVN service areas."""
    resp = ctx.config.response
    breaks_s = [b * 60.0 for b in resp.isochrone_breaks_min]
    arr, lines = net.arr, net.drive.geometry.to_numpy()
    lengths = net.drive["length"].to_numpy(dtype=float)
    graph_m = EdgeArrays(arr.node_ids, arr.u, arr.v, lengths).csr()
    xy, twin = net.node_xy, net.twin
    iso_rows, sa_rows = [], []
    # A scenario with the same stations as an earlier one (no planned station) has its shapes.
    drawn: dict[bytes, tuple[list[shapely.Geometry], shapely.Geometry]] = {}
    for name, reach in reaches.items():
        src_pos = sources[name]
        key = np.asarray(src_pos, dtype=np.int64).tobytes()
        if key not in drawn:
            polys = isochrone_polygons(
                lines, reach.cost[arr.u], arr.weight, breaks_s,
                buffer_m=resp.isochrone_buffer_m.value, cell_m=resp.isochrone_cell_m, twin=twin,
            )  # fmt: skip
            radius = _station_radius(shapely.points(xy[src_pos]), wards, ctx.config)
            drawn[key] = polys, _service_area(
                graph_m, arr, lines, twin, lengths, src_pos, radius,
                resp.isochrone_buffer_m.value, resp.isochrone_cell_m,
            )  # fmt: skip
        polys, area = drawn[key]
        for b, poly in zip(resp.isochrone_breaks_min, polys, strict=True):
            iso_rows.append({"scenario": name, "break_min": b, "break_s": b * 60.0,
                             "area_km2": poly.area / 1e6, "geometry": poly})  # fmt: skip
        sa_rows.append({"scenario": name, "stations": len(src_pos),
                        "area_km2": area.area / 1e6, "geometry": area})  # fmt: skip
    crs = ctx.config.crs
    return (
        gpd.GeoDataFrame(iso_rows, geometry="geometry", crs=crs),
        gpd.GeoDataFrame(sa_rows, geometry="geometry", crs=crs),
    )


def _flags(dem: Demand, names: list[str], breaks_min: list[float], target_s: float) -> None:
    """``within_<break>min`` (today) and ``within_target_<scenario>`` on buildings and cells."""
    for frame in (dem.buildings, dem.cells):
        t_base = frame[f"time_s_{EXISTING}"].to_numpy()
        for b in breaks_min:
            frame[f"within_{b:g}min"] = t_base <= b * 60.0
        for name in names:
            frame[f"within_target_{name}"] = frame[f"time_s_{name}"].to_numpy() <= target_s
    dem.cells["unreached"] = ~dem.cells[f"within_target_{EXISTING}"]


def run(ctx: StageContext) -> dict[str, Any]:
    """Run the coverage stage: response times per scenario, isochrones, dense gaps, siting.

    Scenarios: ``existing`` (stations with status existing), ``with_planned`` (plus the
    planned ones) and ``with_suggested`` (existing plus the greedy MCLP sites, when any).
    Artifacts: ``node_times`` (``time_s_<scenario>``, ``station_<scenario>``: station_id or
    -1); ``isochrones`` (scenario, break_min, polygon); ``service_areas`` (QCVN 01:2021
    network radius per scenario); ``building_times`` and ``cells`` (times, nearest station,
    ``within_<break>min`` for today, ``within_target_<scenario>``; cells add floor area,
    population and ``dense``); ``dense_unreached`` (dense cells beyond the target today,
    ranked by people, else floor area); ``station_candidates`` (rank, node, gain);
    ``scenarios`` (totals and ``newly_covered_*`` deltas); ``coverage_wards``;
    ``drive_graph`` (the drivable network with the stations split in, as arrays: adjacency,
    node coordinates, edge vertices, see :func:`pipeline.isochrones.read_street_arrays`);
    summary.json.
    A building's time is the truck driving time to the nearest point of a street the
    scenario's trucks reach within hose reach (QCVN 06:2022/BXD §6.2.2.1), entering one-way
    streets only from their start; ``inf`` when there is none. A cell's time is that of its
    buildings (the floor-area-weighted median).
    """
    config = ctx.config
    resp = config.response
    target_s = resp.target_time_s.value
    t0 = time.perf_counter()
    stations = contracts.read_table(
        ctx.paths, contracts.STATIONS, ("name", "status"), crs=config.crs
    )
    net = drivable_network(ctx, stations)
    wards, _ = contracts.read_wards(ctx.paths, config.crs)
    logger.info(
        "coverage: %s directed edges on the truck network, %d of %d stations on them (%.1f s)",
        f"{len(net.drive):,}", int((net.station_pos >= 0).sum()), len(stations),
        time.perf_counter() - t0,
    )  # fmt: skip
    release_freed_memory()
    t1 = time.perf_counter()
    dem = demand(ctx, net, wards)
    release_freed_memory()
    logger.info(
        "coverage: %s buildings (%s within %.0f m of a truck street), %s cells (%.1f s)",
        f"{len(dem.buildings):,}", f"{int((dem.building_snap.edge >= 0).sum()):,}", dem.hose_m,
        f"{len(dem.cells):,}", time.perf_counter() - t1,
    )  # fmt: skip

    reaches: dict[str, Reach] = {}
    sources: dict[str, np.ndarray] = {}
    station_ids = stations.index.to_numpy(dtype=np.int64)
    n_truck_nodes = int(np.unique(np.r_[net.arr.u, net.arr.v]).size)

    source_ids: dict[str, np.ndarray] = {}

    def evaluate(name: str, src_pos: np.ndarray, src_ids: np.ndarray) -> None:
        t = time.perf_counter()
        same = [
            k for k in reaches
            if np.array_equal(sources[k], src_pos) and np.array_equal(source_ids[k], src_ids)
        ]  # fmt: skip
        if same:  # the same stations as an earlier scenario (no planned one): the same times
            reaches[name] = reaches[same[0]]
            copy_scenario(dem, same[0], name)
        else:
            reaches[name] = scenario_times(name, net, dem, src_pos, src_ids)
        release_freed_memory()
        sources[name] = src_pos
        source_ids[name] = src_ids
        cost = reaches[name].cost
        logger.info(
            "coverage: scenario %s: %d stations reach %s of %s nodes on truck streets, %s within "
            "the %.0f s target (%.2f s)",
            name, len(src_pos), f"{int(np.isfinite(cost).sum()):,}", f"{n_truck_nodes:,}",
            f"{int((cost <= target_s).sum()):,}", target_s, time.perf_counter() - t,
        )  # fmt: skip

    for name, mask in _scenario_stations(stations).items():
        use = mask & (net.station_pos >= 0)
        evaluate(name, net.station_pos[use], station_ids[use])
        # Every scenario has today's stations: it re-snaps at most today's re-snapped buildings.
        dem.keep_asked_footprints()
        release_freed_memory()

    t2 = time.perf_counter()
    weight_col = "population" if dem.cells["population"].notna().any() else "floor_area_m2"
    site = siting(ctx, net, dem, weight_col, target_s)
    release_freed_memory()
    site_ids = int(station_ids.max(initial=-1)) + 1 + np.arange(len(site.positions))
    site.sites.insert(1, "station_id", site_ids)
    if len(site.positions):
        base = sources[EXISTING]
        base_ids = station_ids[_scenario_stations(stations)[EXISTING] & (net.station_pos >= 0)]
        evaluate(SUGGESTED, np.r_[base, site.positions], np.r_[base_ids, site_ids])
    logger.info(
        "coverage: siting among %s candidate nodes for %s dense buildings beyond the target: "
        "%d sites, %s %s newly covered (%.1f s)",
        f"{site.info['candidates']:,}", f"{site.info['dense_uncovered_buildings']:,}",
        len(site.positions), f"{site.gains.sum():,.0f}", weight_col, time.perf_counter() - t2,
    )  # fmt: skip

    _flags(dem, list(reaches), resp.isochrone_breaks_min, target_s)
    summary = _write_outputs(ctx, net, dem, reaches, sources, site, wards, weight_col)
    logger.info(
        "coverage: %s dense cells, %s dense and beyond %.0f s today, %s after the plan",
        f"{summary['dense_cells']:,}", f"{summary['dense_unreached_cells']:,}", target_s,
        f"{summary['scenarios'][PLANNED]['dense_unreached_cells']:,}",
    )  # fmt: skip
    return summary


def _write_outputs(  # noqa: PLR0917 - the stage's results, written in one place
    ctx: StageContext,
    net: Network,
    dem: Demand,
    reaches: dict[str, Reach],
    sources: dict[str, np.ndarray],
    site: Siting,
    wards: gpd.GeoDataFrame,
    weight_col: str,
) -> dict[str, Any]:
    """Draw the isochrones and write every artifact; return the summary (written last).

    The tables are written in the background while the isochrones are drawn, the building
    table first (the longest write: its footprints are copied from the buildings table).
    """
    dem.geoms = np.empty(0, dtype=object)  # the output copies them, never decoded again
    release_freed_memory()
    with Background() as writes:
        writes.submit(write_with_footprints, ctx, contracts.BUILDING_TIMES, _building_times(dem))
        summary = _write_tables(ctx, net, dem, reaches, sources, site, wards, weight_col, writes)
        t0 = time.perf_counter()
        isochrones, service_areas = isochrone_layers(ctx, net, reaches, sources, wards)
        logger.info(
            "coverage: %d isochrone polygons, %d service areas (%.1f s)",
            len(isochrones), len(service_areas), time.perf_counter() - t0,
        )  # fmt: skip
        writes.submit(contracts.write_table, ctx, contracts.ISOCHRONES, isochrones)
        writes.submit(contracts.write_table, ctx, contracts.SERVICE_AREAS, service_areas)
    contracts.write_summary(ctx, contracts.COVERAGE_SUMMARY, summary)
    return summary


def _building_times(dem: Demand) -> pd.DataFrame:
    """Return the columns of ``building_times`` (its footprints are added as it is written)."""
    buildings = dem.buildings
    keep_b = ["footprint_m2", "levels", "floor_area_m2", "ward_id", "gap_to_truck_street_m",
              *[c for c in buildings.columns if c.startswith(("time_s_", "station_", "within_"))]
              ]  # fmt: skip
    return buildings[[c for c in keep_b if c in buildings.columns]]


def _write_tables(  # noqa: PLR0917 - the stage's results, written in one place
    ctx: StageContext,
    net: Network,
    dem: Demand,
    reaches: dict[str, Reach],
    sources: dict[str, np.ndarray],
    site: Siting,
    wards: gpd.GeoDataFrame,
    weight_col: str,
    writes: Background,
) -> dict[str, Any]:
    """Build the stage's tables (all but isochrones and building times) and its summary.

    The tables go to ``writes`` (written in the background) once everything read from them
    here is computed; the summary is returned for the caller to write last.
    """
    config = ctx.config
    target_s = config.response.target_time_s.value
    cells, buildings = dem.cells, dem.buildings
    dense_unreached = cells[cells["dense"] & cells["unreached"]].copy()
    dense_unreached = dense_unreached.sort_values(
        [weight_col, f"time_s_{EXISTING}"], ascending=False
    )
    dense_unreached["rank"] = np.arange(1, len(dense_unreached) + 1)
    counts = {name: len(src) for name, src in sources.items()}
    scen = scenario_table(buildings, cells, list(reaches), counts, target_s)
    ward_table = ward_totals(buildings, cells, wards, list(reaches), target_s)
    node_times = gpd.GeoDataFrame(
        {"osmid": net.arr.node_ids}, geometry=shapely.points(net.node_xy), crs=config.crs
    )
    for name, reach in reaches.items():
        node_times[f"time_s_{name}"] = reach.cost
        node_times[f"station_{name}"] = reach.nearest
    stations = contracts.read_table(ctx.paths, contracts.STATIONS, ("status",), geometry="none")
    n_planned = int((stations["status"] == "planned").sum())
    demand_w = np.where(cells["dense"], cells[weight_col].fillna(0.0), 0.0)
    need = (demand_w > 0) & ~(cells[f"time_s_{EXISTING}"].to_numpy() <= target_s)
    by_planned = need & (cells[f"time_s_{PLANNED}"].to_numpy() <= target_s)
    summary = _summary(
        buildings, cells, dense_unreached, scen, config.response.isochrone_breaks_min,
        weight_col, len(net.drive),
    )  # fmt: skip
    summary["target_time_s"] = target_s  # the target applied (the report reads it here)
    summary["siting"] = {
        **site.info,
        "dense_uncovered_cells": int(need.sum()),
        "planned_stations": n_planned,
        "planned_newly_covered_weight": float(demand_w[by_planned].sum()),
        "suggested_same_count_newly_covered_weight": float(site.gains[:n_planned].sum()),
    }
    outputs = {
        contracts.NODE_TIMES: node_times, contracts.CELLS: cells,
        contracts.DENSE_UNREACHED: dense_unreached, contracts.STATION_SITES: site.sites,
        contracts.SCENARIOS: scen, contracts.COVERAGE_WARDS: ward_table,
    }  # fmt: skip
    for art, frame in outputs.items():
        writes.submit(contracts.write_table, ctx, art, frame)
    writes.submit(write_street_arrays, ctx.output("drive_graph"), net.street_arrays())
    return summary


def _station_radius(
    points: np.ndarray, wards: gpd.GeoDataFrame, config: ProvinceConfig
) -> np.ndarray:
    """QCVN 01:2021/BXD §2.6.13 service radius per station: urban wards 3 km, elsewhere 5 km."""
    pos = ward_rows(points, wards)
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
        totals of today's stations, ``median_time_s`` (today's median response time of its
        buildings; ``inf`` when fewer than half of them are reached, NaN without buildings)
        and ``<total>_<scenario>`` for the other scenarios.
    """
    out = wards.rename(columns={"population": "ward_population"}).set_index("ward_id")
    times = pd.Series(buildings[f"time_s_{EXISTING}"].to_numpy(dtype=float)).fillna(np.inf)
    median = times.groupby(buildings["ward_id"].to_numpy()).median()
    for name in names:
        b, c = _indicators(buildings, cells, name, target_s)
        per = b.groupby("ward_id").sum().join(c.groupby("ward_id").sum(min_count=1), how="outer")
        per = per.reindex(out.index)
        if name != EXISTING:
            kept = [col for col in per.columns if "within" in col or "unreached" in col]
            per = per[kept].add_suffix(f"_{name}")
        out = out.join(per)
        if name == EXISTING:
            out["median_time_s"] = median.reindex(out.index)
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
