"""Stage ``network``: truck status of every street, the truck network, deep buildings, alleys.

``run`` reads as its steps: :func:`street_access` (width evidence and the truck rule),
:func:`main_truck_network` (components; stations snapped to the main one), dead ends,
:func:`deep_buildings` (hose distances, with optimistic and pessimistic re-runs that make a
building's status ``uncertain`` where it depends on streets of uncertain width), and
:func:`alleys` (runs, who is behind them, fire points).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline import contracts
from pipeline.access import WIDTH_CLASSES, classify_edges, truck_min_width_m, urban_edges
from pipeline.alleys import (
    BEHIND_COLUMNS,
    alley_edges,
    alley_runs,
    alley_table,
    behind_sums,
    fire_point_candidates,
    fire_point_needs,
    multilines,
    rank_alleys,
)
from pipeline.building_snap import snap_table
from pipeline.hose import (
    BuildingHose,
    DirectAccess,
    HoseNetwork,
    NearLines,
    building_hose,
    direct_access_runs,
    frontage_snap,
    hose_network,
    truck_nodes,
)
from pipeline.measured import match_measured_widths, read_measured_widths
from pipeline.osm_tags import base_highway
from pipeline.parallel import (
    blocks,
    built_tree,
    map_chunks,
    points_on_surface,
    ready_tree,
    release_freed_memory,
)
from pipeline.routing import Snap, edge_arrays, snap_to_edges
from pipeline.tables import AuthorityTable, read_authority_file, rejects_frame
from pipeline.topology import Topology, street_degree, undirected_twins
from pipeline.truck_network import (
    JUNCTION_DEGREE,
    TruckNetwork,
    find_dead_ends,
    reachable_share,
    snap_to_main,
    truck_components,
)
from pipeline.wards import ward_columns, ward_rows
from pipeline.widths import estimate_widths

if TYPE_CHECKING:
    from collections.abc import Callable

    from scipy import sparse

    from pipeline.config import AccessConfig, ProvinceConfig
    from pipeline.hose import PathTree
    from pipeline.stage import StageContext

logger = logging.getLogger(__name__)

#: Node ``highway`` values that give a truck room to turn (when ingest keeps node tags).
TURNING_NODES = frozenset({"turning_circle", "turning_loop"})
#: Road classes that are alleys only when their own evidence says "not passable".
MAIN_ROADS = ("motorway", "trunk", "primary", "secondary", "tertiary")
#: Deep-building status: deep or not whatever the uncertain streets turn out to be, or it
#: depends on them (a field check decides).
DEEP_STATUSES: tuple[str, ...] = ("deep", "not_deep", "uncertain")


def load_fire_points(cfg: AccessConfig, crs: str) -> tuple[np.ndarray, list[AuthorityTable]]:
    """Public fire-fighting points (điểm chữa cháy công cộng) from the authority files."""
    tables = [
        read_authority_file(f, crs=crs, what="public fire points").finish()
        for f in cfg.public_fire_points_files
    ]
    frames = [t.rows.geometry.to_numpy() for t in tables]
    return (np.concatenate(frames) if frames else np.empty(0, dtype=object)), tables


def load_measured_widths(edges: gpd.GeoDataFrame, cfg: AccessConfig, crs: str) -> pd.DataFrame:
    """Surveyed widths per edge from ``access.measured_widths_files`` (``None`` without)."""
    if not cfg.measured_widths_files:
        return None  # type: ignore[return-value]
    surveys = pd.concat(
        [read_measured_widths(f, crs=crs) for f in cfg.measured_widths_files], ignore_index=True
    )
    table = match_measured_widths(
        edges, gpd.GeoDataFrame(surveys, crs=crs), match_m=cfg.measured_match_m
    )
    logger.info(
        "network: %s survey rows measure %s edges",
        f"{len(surveys):,}",
        f"{int(table['width_m'].notna().sum()):,}",
    )
    return table


@dataclass(frozen=True)
class Inputs:
    """What the stage reads."""

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    ward_note: str
    fire_points: np.ndarray
    fire_point_tables: list[AuthorityTable]


def _side_by_side(*tasks: Callable[[], Any]) -> list[Any]:
    """Run independent tasks in the thread pool (:func:`pipeline.parallel.map_chunks`).

    Returns
    -------
    list
        Their results, in order.
    """
    parts = map_chunks(lambda a, b: [task() for task in tasks[a:b]], len(tasks), min_chunk=1)
    return [result for part in parts for result in part]


def read_inputs(ctx: StageContext) -> Inputs:
    """Read the ingest graph, buildings, stations and wards, and the authority files."""
    crs = ctx.config.crs
    # the graph and the footprints side by side (Parquet and WKB decoding release the GIL)
    graph, buildings = _side_by_side(
        lambda: contracts.read_graph(ctx.paths),
        lambda: contracts.read_table(ctx.paths, contracts.BUILDINGS, ("floor_area_m2",), crs=crs),
    )
    nodes, edges = graph
    wards, ward_note = contracts.read_wards(ctx.paths, crs)
    fire_points, fire_point_tables = load_fire_points(ctx.config.access, crs)
    return Inputs(
        nodes=nodes,
        edges=edges,
        buildings=buildings,
        stations=contracts.read_table(ctx.paths, contracts.STATIONS, crs=crs),
        wards=wards,
        ward_note=ward_note,
        fire_points=fire_points,
        fire_point_tables=fire_point_tables,
    )


def street_access(
    inp: Inputs,
    cfg: AccessConfig,
    *,
    crs: str,
    progress: bool = False,
    twins: tuple[np.ndarray, np.ndarray] | None = None,
    building_tree: shapely.STRtree | None = None,
) -> pd.DataFrame:
    """Width evidence and the truck rule for every edge.

    Returns
    -------
    pandas.DataFrame
        Indexed like the edges: the columns of :func:`pipeline.widths.estimate_widths` and of
        :func:`pipeline.access.classify_edges`, plus ``urban_width_rule``, ``ward_id`` and
        ``ward`` (of the edge's midpoint). ``twins``: the edges'
        :func:`pipeline.topology.undirected_twins`, when already known; ``building_tree``:
        ``STRtree`` of the footprints, when already built.
    """
    edges = inp.edges
    measured = load_measured_widths(edges, cfg, crs)
    widths = estimate_widths(
        edges, inp.buildings, cfg, measured=measured, progress=progress, twins=twins,
        building_tree=building_tree,
    )  # fmt: skip
    mid = shapely.line_interpolate_point(edges.geometry.to_numpy(), 0.5, normalized=True)
    rows = ward_rows(mid, inp.wards)
    ward_type = np.full(len(edges), None, dtype=object)
    ward_type[rows >= 0] = inp.wards["ward_type"].to_numpy(dtype=object)[rows[rows >= 0]]
    urban = urban_edges(ward_type, cfg)
    classes = classify_edges(edges, widths, cfg, urban=urban)
    out = widths.join(classes)
    out["urban_width_rule"] = urban
    for col, values in ward_columns(mid, inp.wards, rows=rows).items():
        out[col] = values
    return out


@dataclass(frozen=True)
class TruckNet:
    """The main truck network, the stations on it and how much of it they reach."""

    net: TruckNetwork
    stations: gpd.GeoDataFrame
    reachable_share: float
    note: str


def main_truck_network(
    topo: Topology,
    inp: Inputs,
    truck_ok: np.ndarray,
    config: ProvinceConfig,
) -> TruckNet:
    """Pick the main truck network, snap the stations to it and measure their reach.

    Returns
    -------
    TruckNet
        ``stations`` gains ``snap_m``, ``connected``, ``nearest_truck_m``,
        ``nearest_component_km`` and ``snap_note`` (see
        :func:`pipeline.truck_network.snap_to_main`); ``reachable_share`` is the share of
        truck km the existing stations can drive to, and ``note`` says in plain words when it
        is below ``access.min_reachable_truck_share``.
    """
    cfg = config.access
    net = truck_components(topo, truck_ok, min_km=cfg.main_network_min_km.value)
    stations = inp.stations.to_crs(config.crs) if len(inp.stations) else inp.stations
    snap = snap_to_main(
        stations.geometry.to_numpy(),
        inp.edges,
        net,
        max_distance_m=config.response.station_snap_max_m,
    )
    stations = gpd.GeoDataFrame(
        stations.reset_index().join(snap.table()), geometry="geometry", crs=config.crs
    )
    existing = (stations["status"] == "existing").to_numpy() & (snap.edge >= 0)
    e = snap.edge[existing]
    forward = None
    if config.response.follow_oneway:
        forward = ~(inp.edges["oneway"].to_numpy(bool) & inp.edges["reversed"].to_numpy(bool))
    share = reachable_share(
        topo, truck_ok, np.concatenate([topo.u[e], topo.v[e]]), forward_ok=forward
    )
    n_existing = int((stations["status"] == "existing").sum())
    note = ""
    if n_existing == 0:
        note = (
            "No existing fire station is known (OSM has none and no authority file gives one): "
            "response times cannot be computed; add the stations to the province config."
        )
    elif share < cfg.min_reachable_truck_share.value:
        note = (
            f"The {n_existing} existing station(s) reach only {share:.0%} of the truck street "
            "network: check the stations' positions (snap distances in network/stations) and "
            "the streets around them."
        )
    for name, row in stations[stations["snap_note"] != "main"].iterrows():
        del name
        logger.warning(
            "network: station %r: %s (nearest truck street %.0f m away, on a %.2f km piece)",
            row.get("name"),
            "its nearest truck street is a fragment; snapped to the main network "
            f"{row['snap_m']:.0f} m away"
            if row["snap_note"] == "fragment_skipped"
            else f"no main truck street within {config.response.station_snap_max_m:g} m",
            row["nearest_truck_m"],
            row["nearest_component_km"],
        )
    if note:
        logger.warning("network: %s", note)
    return TruckNet(net=net, stations=stations, reachable_share=share, note=note)


@dataclass(frozen=True)
class DeepBuildings:
    """Per building: hose reach under the assumed widths, and how sure that is."""

    hose: BuildingHose
    deep: np.ndarray
    status: np.ndarray
    snap: Snap
    cost: np.ndarray
    mouth_of_node: np.ndarray
    tree: PathTree


def _scenario_hose(
    topo: Topology,
    graph: sparse.csr_matrix,
    inp: Inputs,
    access: pd.DataFrame,
    *,
    connected: np.ndarray,
    snap: Snap,
    direct: DirectAccess,
    cfg: AccessConfig,
    obstacle_tree: shapely.STRtree | None = None,
    node_near: NearLines | None = None,
    line_keep: np.ndarray | None = None,
) -> tuple[BuildingHose, HoseNetwork]:
    geoms = inp.edges.geometry.to_numpy()
    width = access["width_m"].to_numpy(dtype=float)
    truck_first = topo.first[connected[topo.first]]
    hose = hose_network(
        topo,
        graph,
        node_geoms=inp.nodes.geometry.to_numpy(),
        truck_lines=geoms[truck_first],
        truck_connected=connected,
        obstacles=inp.buildings.geometry.to_numpy(),
        width_m=width,
        cfg=cfg,
        obstacle_tree=obstacle_tree,
        node_near=node_near,
        line_keep=line_keep,
    )
    b = building_hose(
        snap,
        hose,
        topo,
        truck_connected=connected,
        direct=direct,
        truck_line_width_m=width[truck_first],
        width_m=width,
    )
    return b, hose


def deep_buildings(
    topo: Topology,
    graph: sparse.csr_matrix,
    inp: Inputs,
    access: pd.DataFrame,
    *,
    connected: np.ndarray,
    cfg: AccessConfig,
    building_tree: shapely.STRtree | None = None,
) -> DeepBuildings:
    """Hose distance from the truck network to every building, and its ``deep_status``.

    The assumed run uses the routing's truck streets. Two more runs bound it: optimistic
    (every uncertain street passable) and pessimistic (only streets passable on their low
    width). A building deep in the optimistic run is ``deep``; one within reach in the
    pessimistic run is ``not_deep``; any other is ``uncertain``. ``building_tree`` is the
    ``STRtree`` of the footprints when the caller has it.
    """
    bgeoms = inp.buildings.geometry.to_numpy()
    geoms = inp.edges.geometry.to_numpy()
    raw = snap_to_edges(bgeoms, inp.edges[["geometry"]].iloc[topo.first])
    raw = replace(raw, edge=np.where(raw.edge >= 0, topo.first[raw.edge], -1))
    snap = frontage_snap(raw, bgeoms, geoms, tolerance_m=cfg.frontage_tolerance_m)
    snap = replace(snap, runner_up_m=raw.runner_up_m)  # for network/building_snap
    reach = cfg.hose_reach_from_truck_road_m.value
    status = access["truck_status"].to_numpy()
    blocked = access["blocked"].to_numpy(dtype=bool)
    min_km = cfg.main_network_min_km.value

    runs_ok = (connected, ~blocked & (status != "not_passable"), ~blocked & (status == "passable"))
    conns = [truck_components(topo, ok, min_km=min_km).main for ok in runs_ok]
    # One search for the streets near each building serves the three runs (each keeps its own
    # truck streets), and one index of the footprints serves every straight-link test.
    in_any = np.logical_or.reduce([c[topo.first] for c in conns])
    pool = topo.first[in_any]
    # A footprint off the run's truck streets may link straight to one (and an alley node to
    # one): only those off them in some run are searched, and the links the runs share are
    # drawn and tested once.
    on_truck_edge = [(snap.edge >= 0) & c[np.maximum(snap.edge, 0)] for c in conns]
    near = NearLines.find(
        bgeoms, geoms[pool], cfg.direct_access_max_m,
        rows=np.flatnonzero(~np.logical_and.reduce(on_truck_edge)),
    )  # fmt: skip
    node_near = NearLines.find(
        inp.nodes.geometry.to_numpy(), geoms[pool], cfg.node_direct_access_m,
        rows=np.flatnonzero(~np.logical_and.reduce([truck_nodes(topo, c) for c in conns])),
    )  # fmt: skip
    obstacle_tree = built_tree(bgeoms) if building_tree is None else ready_tree(building_tree)
    directs = direct_access_runs(
        bgeoms,
        near,
        [
            (np.flatnonzero(~on_edge), c[pool])
            for on_edge, c in zip(on_truck_edge, conns, strict=True)
        ],
        cfg=cfg,
        obstacle_tree=obstacle_tree,
    )
    del near

    def run(conn: np.ndarray, direct: DirectAccess) -> tuple[BuildingHose, HoseNetwork]:
        return _scenario_hose(
            topo, graph, inp, access, connected=conn, snap=snap, direct=direct, cfg=cfg,
            obstacle_tree=obstacle_tree, node_near=node_near, line_keep=conn[pool],
        )  # fmt: skip

    (assumed, hose), (optimistic, _), (pessimistic, _) = (
        run(c, d) for c, d in zip(conns, directs, strict=True)
    )
    deep = assumed.deep(reach)
    deep_opt, deep_pess = optimistic.deep(reach), pessimistic.deep(reach)
    deep_status = np.where(
        deep_opt & deep_pess, "deep", np.where(~deep_opt & ~deep_pess, "not_deep", "uncertain")
    )
    return DeepBuildings(
        hose=assumed,
        deep=deep,
        status=deep_status,
        snap=snap,
        cost=hose.cost,
        mouth_of_node=hose.mouth_of_node,
        tree=hose.tree,
    )


#: Footprints placed in their ward at a time by :func:`building_wards` (bounds the points held).
_WARD_POINTS_PER_BLOCK = 262_144


def building_wards(inp: Inputs) -> dict[str, np.ndarray]:
    """Ward of each building's point on surface (:func:`pipeline.wards.ward_columns`).

    The points are made and placed a block of footprints at a time, then dropped: the same
    wards as one call (each point's ward depends on it alone), without holding a point per
    building.
    """
    geoms = inp.buildings.geometry.to_numpy()
    rows = [
        ward_rows(points_on_surface(geoms[a:b]), inp.wards)
        for a, b in blocks(0, len(geoms), _WARD_POINTS_PER_BLOCK)
    ]
    return ward_columns(geoms, inp.wards, rows=np.concatenate(rows))


def deep_table(
    inp: Inputs,
    deep: DeepBuildings,
    run_of_edge: np.ndarray,
    *,
    wards: dict[str, np.ndarray] | None = None,
) -> gpd.GeoDataFrame:
    """Build the ``deep_buildings`` artifact: one row per building.

    ``wards`` is :func:`building_wards` when the caller has it.
    """
    b = deep.hose
    on_path = (deep.snap.edge >= 0) & ~b.direct & ~b.on_truck_edge
    alley_id = np.where(on_path, run_of_edge[np.maximum(deep.snap.edge, 0)], -1)
    if wards is None:
        wards = building_wards(inp)
    return gpd.GeoDataFrame(
        {
            "hose_distance_m": np.where(np.isfinite(b.distance_m), b.distance_m, np.nan),
            "deep": deep.deep,
            "deep_status": deep.status,
            "reachable": np.isfinite(b.distance_m),
            "bottleneck_width_m": np.where(np.isfinite(b.bottleneck_m), b.bottleneck_m, np.nan),
            "alley_id": alley_id,
            **wards,
            "floor_area_m2": inp.buildings["floor_area_m2"].to_numpy(dtype=float),
        },
        index=inp.buildings.index,
        geometry=inp.buildings.geometry.to_numpy(),
        crs=inp.buildings.crs,
    )


def alleys(
    topo: Topology,
    inp: Inputs,
    access: pd.DataFrame,
    *,
    connected: np.ndarray,
    deep: DeepBuildings,
    cfg: AccessConfig,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Alley runs with who is behind them, fire-point needs and ranks.

    Returns
    -------
    alleys, run_of_edge
        The ``alleys`` artifact and the run of each directed edge (-1 off alleys).
    """
    base = base_highway(inp.edges["highway"])
    is_alley = alley_edges(
        width_m=access["width_m"].to_numpy(dtype=float),
        width_high_m=access["width_high_m"].to_numpy(dtype=float),
        need_m=access["truck_min_width_m"].to_numpy(dtype=float),
        on_truck_network=connected,
        hose_path=base.isin(cfg.hose_path_highways).to_numpy(dtype=bool),
        main_road=base.isin(MAIN_ROADS).to_numpy(dtype=bool),
    )
    vehicle = ~base.isin(cfg.hose_path_highways).to_numpy(dtype=bool)
    junction = street_degree(topo, vehicle[topo.first]) >= JUNCTION_DEGREE
    on_truck = np.zeros(topo.n_nodes, dtype=bool)
    on_truck[topo.u[connected]] = True
    on_truck[topo.v[connected]] = True
    run_of_edge, n_runs = alley_runs(
        topo,
        alley_edge=is_alley,
        on_truck=on_truck,
        junction=junction,
        names=inp.edges["name"].to_numpy(dtype=object),
    )
    b = deep.hose
    floor = np.nan_to_num(inp.buildings["floor_area_m2"].to_numpy(dtype=float))
    weights = np.column_stack([np.ones(len(floor)), deep.deep, floor, floor * deep.deep])
    behind = behind_sums(
        deep.tree,
        run_of_edge,
        n_runs,
        end_node=b.end_node,
        building_edge=deep.snap.edge,
        on_path=(deep.snap.edge >= 0) & ~b.direct & ~b.on_truck_edge,
        weights=weights,
    )
    assert weights.shape[1] == len(BEHIND_COLUMNS)  # noqa: S101 - the columns name the weights
    table = alley_table(
        topo,
        inp.edges,
        access,
        run_of_edge,
        n_runs,
        cost=deep.cost,
        mouth_of_node=deep.mouth_of_node,
        behind=behind,
        node_ids=inp.nodes.index.to_numpy(),
    )
    node_points = pd.Series(inp.nodes.geometry.to_numpy(), index=inp.nodes.index)
    attach = node_points.reindex(table["attach_node"].to_numpy()).to_numpy()
    where = np.where(pd.isna(attach), shapely.point_on_surface(table.geometry.to_numpy()), attach)
    for col, values in ward_columns(where, inp.wards).items():
        table[col] = values
    table = fire_point_needs(
        table,
        edges=inp.edges,
        run_of_edge=run_of_edge,
        node_points=node_points,
        fire_points=inp.fire_points,
        cfg=cfg,
    )
    return rank_alleys(table), run_of_edge


def dead_end_table(
    topo: Topology,
    inp: Inputs,
    *,
    truck_ok: np.ndarray,
    connected: np.ndarray,
    cfg: AccessConfig,
) -> gpd.GeoDataFrame:
    """Find dead-end truck runs longer than ``dead_end_max_length_m`` with no turning area."""
    nodes = inp.nodes
    turning = np.zeros(topo.n_nodes, dtype=bool)
    if "highway" in nodes.columns:
        turning = nodes["highway"].astype("string").isin(TURNING_NODES).to_numpy(dtype=bool)
    dead, members = find_dead_ends(
        topo, truck_ok, connected, turning=turning, max_length_m=cfg.dead_end_max_length_m.value
    )
    ids = nodes.index.to_numpy()
    pts = nodes.geometry.to_numpy()[dead["dead_end_node"].to_numpy()]
    return gpd.GeoDataFrame(
        {
            "dead_end_node": ids[dead["dead_end_node"].to_numpy()],
            "junction_node": np.where(
                dead["junction_node"] >= 0, ids[dead["junction_node"].clip(lower=0)], -1
            ),
            "length_m": dead["length_m"].to_numpy(),
            "has_turning_area": dead["has_turning_area"].to_numpy(),
            "truck_connected": dead["truck_connected"].to_numpy(),
            "flagged": dead["flagged"].to_numpy(),
            **ward_columns(pts, inp.wards),
        },
        geometry=multilines(
            inp.edges.geometry.to_numpy()[members["edge"].to_numpy()],
            members["row"].to_numpy(),
            len(dead),
        ),
        crs=inp.edges.crs,
    )


def _write_lanes(
    ctx: StageContext, *lanes: list[tuple[contracts.Artifact, Callable[[], pd.DataFrame]]]
) -> None:
    """Write each lane's tables in order, the lanes side by side (:func:`_side_by_side`).

    A table is made (its callable called) just before it is written and dropped after.
    """

    def write(lane: list[tuple[contracts.Artifact, Callable[[], pd.DataFrame]]]) -> None:
        for art, make in lane:
            contracts.write_table(ctx, art, make())

    _side_by_side(*(lambda lane=lane: write(lane) for lane in lanes))


def _clock() -> tuple[float, float]:
    """Wall and CPU (all threads) seconds now."""
    return time.perf_counter(), time.process_time()


def _timed(label: str, t0: tuple[float, float], text: str) -> tuple[float, float]:
    wall, cpu = (now - then for now, then in zip(_clock(), t0, strict=True))
    logger.info("network: %s: %s (%.1f s, CPU %.1f s)", label, text, wall, cpu)
    release_freed_memory()
    return _clock()


def run(ctx: StageContext) -> dict[str, Any]:
    """Run the network stage: truck status, truck network, dead ends, deep buildings, alleys."""
    config = ctx.config
    cfg = config.access
    t0 = _clock()
    t_start = t0[0]
    inp = read_inputs(ctx)
    rejects_frame(inp.fire_point_tables).to_csv(
        ctx.output("rejects"), index=False, encoding="utf-8"
    )
    t0 = _timed(
        "read",
        t0,
        f"{len(inp.edges):,} edges, {len(inp.buildings):,} buildings, "
        f"{len(inp.stations)} stations, {len(inp.wards)} ward(s), "
        f"{len(inp.fire_points)} fire points",
    )

    codes, first = undirected_twins(inp.edges.geometry.to_numpy())
    # one index of the footprints serves the corridor widths and the hose's straight links
    building_tree = built_tree(inp.buildings.geometry.to_numpy())
    access = street_access(
        inp, cfg, crs=config.crs, progress=ctx.progress, twins=(codes, first),
        building_tree=building_tree,
    )  # fmt: skip
    status_counts = access.loc[~inp.edges["reversed"].to_numpy(), "truck_status"].value_counts()
    t0 = _timed("truck status", t0, f"streets {status_counts.to_dict()}")

    arr = edge_arrays(inp.nodes, inp.edges, "length")
    topo = Topology(arr.u, arr.v, arr.weight, codes, first, arr.n_nodes)
    truck_ok = access["truck_ok"].to_numpy(dtype=bool)
    tnet = main_truck_network(topo, inp, truck_ok, config)
    connected = tnet.net.main
    t0 = _timed(
        "truck network",
        t0,
        f"{tnet.net.n_components:,} truck components, main network {tnet.net.main_km:.1f} km; "
        f"{int((tnet.stations['snap_note'] == 'main').sum())} of {len(tnet.stations)} stations "
        f"on it directly; stations reach {tnet.reachable_share:.0%} of the truck km",
    )

    dead = dead_end_table(topo, inp, truck_ok=truck_ok, connected=connected, cfg=cfg)
    t0 = _timed(
        "dead ends",
        t0,
        f"{len(dead):,} runs, {int(dead['flagged'].sum()):,} longer than "
        f"{cfg.dead_end_max_length_m.value:.0f} m without a turning area",
    )

    deep = deep_buildings(
        topo, arr.csr(), inp, access, connected=connected, cfg=cfg, building_tree=building_tree
    )
    del building_tree
    reach = cfg.hose_reach_from_truck_road_m.value
    t0 = _timed(
        "deep buildings",
        t0,
        f"{int(deep.deep.sum()):,} of {len(deep.deep):,} beyond {reach:.0f} m of hose "
        f"(deep for sure {int((deep.status == 'deep').sum()):,}, uncertain "
        f"{int((deep.status == 'uncertain').sum()):,})",
    )

    # the buildings' wards (GEOS, chunked) next to the alley runs (mostly NumPy and pandas)
    (alley_gdf, run_of_edge), b_wards = _side_by_side(
        partial(alleys, topo, inp, access, connected=connected, deep=deep, cfg=cfg),
        partial(building_wards, inp),
    )
    deep_b = deep_table(inp, deep, run_of_edge, wards=b_wards)
    del b_wards
    candidates = fire_point_candidates(
        alley_gdf, pd.Series(inp.nodes.geometry.to_numpy(), index=inp.nodes.index)
    )
    t0 = _timed(
        "alleys",
        t0,
        f"{len(alley_gdf):,} alley runs, {int(alley_gdf['to_widen'].sum()):,} to widen, "
        f"{int(alley_gdf['field_check'].sum()):,} to check in the field, "
        f"{len(candidates):,} fire-point sites",
    )

    # One copy of the edge table with its new columns (the summaries read columns only).
    out_edges = inp.edges.join(access).reset_index()
    del access
    out_edges["truck_connected"] = connected
    out_edges["truck_component_km"] = tnet.net.component_km
    out_edges["alley_id"] = run_of_edge
    ward_tables: list[gpd.GeoDataFrame] = []

    def wards_table() -> gpd.GeoDataFrame:
        ward_tables.append(
            ward_summary(
                inp.wards, out_edges, deep_b=deep_b, alleys=alley_gdf, dead=dead,
                candidates=candidates,
            )
        )  # fmt: skip
        return ward_tables[-1]

    # two lanes of writes side by side, each table written one row group at a time (WKB,
    # Arrow and compression release the GIL); the snap table and the ward sums (which only
    # read the other tables) are made when their turn comes
    _write_lanes(
        ctx,
        [
            (contracts.DEEP_BUILDINGS, lambda: deep_b),
            (contracts.ALLEYS, lambda: alley_gdf),
            (contracts.DEAD_ENDS, lambda: dead),
            (contracts.FIRE_POINTS, lambda: candidates),
            (contracts.NETWORK_STATIONS, lambda: tnet.stations),
        ],
        [
            (contracts.EDGES, lambda: out_edges),
            (
                contracts.BUILDING_SNAP,
                lambda: snap_table(inp.buildings.index, inp.edges, codes, deep.snap),
            ),
            (contracts.NETWORK_WARDS, wards_table),
        ],
    )
    (ward_table,) = ward_tables
    summary = network_summary(
        edges=out_edges,
        deep_b=deep_b,
        alleys=alley_gdf,
        dead=dead,
        candidates=candidates,
        tnet=tnet,
        cfg=cfg,
    )
    summary.update(
        wards=len(ward_table),
        ward_note=inp.ward_note,
        authority_files=[t.stats() for t in inp.fire_point_tables],
        seconds=round(time.perf_counter() - t_start, 2),
    )
    contracts.write_summary(ctx, contracts.NETWORK_SUMMARY, summary)
    _timed("wards", t0, f"{len(ward_table)} ward(s): {inp.ward_note}")
    return summary


def _ward_keys(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``frame["ward_id"]`` factorized: a code per row (-1 without a ward) and the ids."""
    codes, ids = pd.factorize(frame["ward_id"].to_numpy())
    return codes, np.asarray(ids, dtype=object)


def ward_summary(
    wards: gpd.GeoDataFrame,
    edges: pd.DataFrame,
    *,
    deep_b: gpd.GeoDataFrame,
    alleys: gpd.GeoDataFrame,
    dead: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """Sum per ward (keyed by ``ward_id``): km by truck status, deep buildings, alleys...

    Also dead ends and fire-point sites.
    """
    fwd = edges[~edges["reversed"].to_numpy()]
    km = fwd["length"] / 1000

    def by_ward(values: pd.Series | np.ndarray, keys: tuple[np.ndarray, np.ndarray]) -> pd.Series:
        codes, names = keys  # rows without a ward (code -1) count nowhere
        sums = pd.Series(np.asarray(values, dtype=float)).groupby(codes).sum()
        sums = sums[sums.index >= 0]
        return pd.Series(sums.to_numpy(), index=names[sums.index.to_numpy()])

    # each table's ward ids factorized once (its sums group by the codes)
    fw, bw, aw = _ward_keys(fwd), _ward_keys(deep_b), _ward_keys(alleys)
    table = pd.DataFrame(index=pd.Index(wards["ward_id"].astype(str).unique(), name="ward_id"))
    table["street_km"] = by_ward(km, fw)
    table["truck_km"] = by_ward(km * fwd["truck_ok"], fw)
    table["truck_connected_km"] = by_ward(km * fwd["truck_connected"], fw)
    for status in ("passable", "not_passable", "uncertain"):
        table[f"{status}_km"] = by_ward(km * (fwd["truck_status"] == status), fw)
    for cls in WIDTH_CLASSES[1:]:
        table[f"{cls}_km"] = by_ward(km * (fwd["width_class"] == cls), fw)
    table["n_buildings"] = by_ward(np.ones(len(deep_b)), bw)
    table["n_deep_buildings"] = by_ward(deep_b["deep"], bw)
    table["n_deep_uncertain"] = by_ward(deep_b["deep_status"] == "uncertain", bw)
    table["deep_floor_area_m2"] = by_ward(deep_b["floor_area_m2"].fillna(0) * deep_b["deep"], bw)
    table["n_alleys"] = by_ward(np.ones(len(alleys)), aw)
    table["n_alleys_to_widen"] = by_ward(alleys["to_widen"], aw)
    table["n_alleys_field_check"] = by_ward(alleys["field_check"], aw)
    table["n_dead_ends_flagged"] = by_ward(dead["flagged"], _ward_keys(dead))
    table["n_fire_point_candidates"] = by_ward(np.ones(len(candidates)), _ward_keys(candidates))
    table = table.fillna(0)
    table["deep_share"] = table["n_deep_buildings"] / table["n_buildings"].where(
        table["n_buildings"] > 0
    )
    table["truck_share"] = table["truck_connected_km"] / table["street_km"].where(
        table["street_km"] > 0
    )
    meta = wards.assign(ward_id=wards["ward_id"].astype(str)).drop_duplicates("ward_id")
    meta = meta.set_index("ward_id")
    out = gpd.GeoDataFrame(
        table.join(meta[["name", "ward_type", "approximate"]]).reset_index(),
        geometry=meta.geometry.reindex(table.index).to_numpy(),
        crs=wards.crs,
    )
    out = out.rename(columns={"name": "ward"})
    int_cols = [c for c in out.columns if c.startswith("n_")]
    out[int_cols] = out[int_cols].astype(np.int64)
    # as the summary: km to the metre, shares to 0.01 % (what the report shows, unchanged)
    km_cols = [c for c in out.columns if c.endswith("_km")]
    out[km_cols] = out[km_cols].round(3)
    out[["deep_share", "truck_share"]] = out[["deep_share", "truck_share"]].round(4)
    return out


def _counts(values: pd.Series, weights: pd.Series) -> dict[str, dict[str, float]]:
    n = values.value_counts()
    km = weights.groupby(values.to_numpy()).sum() / 1000
    total = max(len(values), 1)
    total_km = max(float(weights.sum()) / 1000, 1e-9)
    return {
        str(k): {
            "edges": int(n[k]),
            "share": round(int(n[k]) / total, 4),
            "km": round(float(km[k]), 3),
            "km_share": round(float(km[k]) / total_km, 4),
        }
        for k in n.index
    }


def network_summary(
    *,
    edges: pd.DataFrame,
    deep_b: gpd.GeoDataFrame,
    alleys: gpd.GeoDataFrame,
    dead: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    tnet: TruckNet,
    cfg: AccessConfig,
) -> dict[str, Any]:
    """Count for the manifest and the report (undirected streets: each street once)."""
    fwd = edges[~edges["reversed"].to_numpy()]
    reasons = fwd.loc[fwd["blocked"], "block_reason"].str.split(";").explode()
    isolated = fwd["truck_ok"] & ~fwd["truck_connected"]
    stations = tnet.stations
    return {
        "streets": len(fwd),
        "street_km": round(float(fwd["length"].sum()) / 1000, 3),
        "truck_min_width_m": float(truck_min_width_m(cfg)),
        "urban_width_rule_streets": int(fwd["urban_width_rule"].sum()),
        "width_source": _counts(fwd["width_source"], fwd["length"]),
        "truck_status": _counts(fwd["truck_status"], fwd["length"]),
        "width_class": _counts(fwd["width_class"], fwd["length"]),
        "blocked": int(fwd["blocked"].sum()),
        "blocked_by_reason": reasons.value_counts().to_dict(),
        "truck_ok": int(fwd["truck_ok"].sum()),
        "truck_km": round(float(fwd.loc[fwd["truck_ok"], "length"].sum()) / 1000, 3),
        # the main truck network: what the ward table's truck_share counts
        "truck_connected_km": round(
            float(fwd.loc[fwd["truck_connected"], "length"].sum()) / 1000, 3
        ),
        "truck_connected": int(fwd["truck_connected"].sum()),
        "main_network_km": round(tnet.net.main_km, 3),
        "truck_isolated": int(isolated.sum()),
        "truck_isolated_km": round(float(fwd.loc[isolated, "length"].sum()) / 1000, 3),
        "truck_components": tnet.net.n_components,
        "stations": len(stations),
        "stations_used": int(((stations["status"] == "existing") & stations["connected"]).sum()),
        "stations_unconnected": int((~stations["connected"]).sum()),
        "stations_off_fragment": int((stations["snap_note"] == "fragment_skipped").sum()),
        "truck_km_reachable_share": round(tnet.reachable_share, 4),
        "station_note": tnet.note,
        "buildings": len(deep_b),
        "deep_buildings": int(deep_b["deep"].sum()),
        "deep_status": deep_b["deep_status"].value_counts().to_dict(),
        "unreachable_buildings": int((~deep_b["reachable"]).sum()),
        "hose_reach_m": cfg.hose_reach_from_truck_road_m.value,
        "alleys": len(alleys),
        "alleys_to_widen": int(alleys["to_widen"].sum()),
        "alleys_field_check": int(alleys["field_check"].sum()),
        "deep_alleys": int((alleys["depth_m"] > cfg.deep_alley_fire_point_m.value).sum()),
        "alleys_with_fire_point": int(alleys["has_fire_point"].sum()),
        "fire_point_candidates": len(candidates),
        "dead_ends": len(dead),
        "dead_ends_flagged": int(dead["flagged"].sum()),
        "dead_end_max_length_m": cfg.dead_end_max_length_m.value,
    }
