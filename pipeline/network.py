"""Stage ``network``: truck classes, truck network, dead ends, deep-alley buildings, alleys."""

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
from pipeline.graph import read_graph_layers
from pipeline.paths import ARTIFACTS
from pipeline.routing import (
    Snap,
    edge_arrays,
    multi_source_dijkstra,
    point_costs,
    snap_to_edges,
)
from pipeline.tables import AuthorityTable, read_authority_file, rejects_frame
from pipeline.wards import assign_ward
from pipeline.widths import estimate_widths, parse_length_m, undirected_twins

if TYPE_CHECKING:
    from pipeline.config import AccessConfig
    from pipeline.stage import StageContext

logger = logging.getLogger(__name__)

WIDTH_CLASSES: tuple[str, ...] = ("truck", "small_vehicle", "hose_only")
#: Node ``highway`` values that give a truck room to turn (when ingest keeps node tags).
TURNING_NODES = frozenset({"turning_circle", "turning_loop"})
_TIE_M = 1e-6
#: A link this close to a footprint grazes it (coordinates carry ~mm noise from lon/lat).
_GRAZE_M = 0.05


def truck_min_width_m(cfg: AccessConfig) -> float:
    """Return the width a truck street needs: 3.5 m, or 4 m in renovated urban areas."""
    if cfg.use_urban_renovated_width:
        return max(cfg.truck_min_width_m.value, cfg.urban_renovated_min_width_m.value)
    return cfg.truck_min_width_m.value


def urban_edges(ward_type: np.ndarray, cfg: AccessConfig) -> np.ndarray:
    """Tell which edges the renovated-urban width applies to (by their ward's type).

    Parameters
    ----------
    ward_type
        Per edge, the type of its ward (``"phường"``, ``"xã"``...; ``None`` outside wards).
    cfg
        The ``access`` config section.

    Returns
    -------
    numpy.ndarray
        Boolean per edge: all ``True`` with ``use_urban_renovated_width`` and no
        ``urban_renovated_ward_types``; only edges in wards of those types otherwise; all
        ``False`` without ``use_urban_renovated_width``.
    """
    if not cfg.use_urban_renovated_width:
        return np.zeros(len(ward_type), dtype=bool)
    if not cfg.urban_renovated_ward_types:
        return np.ones(len(ward_type), dtype=bool)
    return np.isin(ward_type.astype(str), cfg.urban_renovated_ward_types)


def classify_edges(
    edges: pd.DataFrame,
    width_m: pd.Series,
    cfg: AccessConfig,
    *,
    urban: np.ndarray | None = None,
) -> pd.DataFrame:
    """Class each edge by width and find what blocks a truck.

    Parameters
    ----------
    edges
        Graph edges with ``highway``, ``access``, ``motor_vehicle`` and ``maxheight`` tags.
    width_m
        Estimated width per edge (indexed like ``edges``).
    cfg
        The ``access`` config section.
    urban
        Boolean per edge: the renovated-urban width applies (see :func:`urban_edges`); by
        default it applies everywhere when ``use_urban_renovated_width`` is set.

    Returns
    -------
    pandas.DataFrame
        ``width_class`` in {"truck", "small_vehicle", "hose_only"}, ``blocked`` (bool),
        ``block_reason`` ("" if none; several joined by ";") and ``truck_ok``.

    Notes
    -----
    Truck street: width >= 3.5 m (QCVN 06:2022/BXD §6.2.1.1), >= 4 m where the config marks
    the area as existing urban (QCVN 01:2021/BXD §2.7.6). Small vehicle: width >= small fire
    vehicle width + margin. Blocks: clear height below 4.5 m (§6.2.1.3), ``access`` or
    ``motor_vehicle`` in the blocked values, ``highway`` in the blocked classes.
    """
    w = width_m.to_numpy(dtype=float)
    small_min = cfg.small_fire_vehicle_width_m.value + cfg.small_vehicle_margin_m.value
    if urban is None:
        urban = np.full(len(w), cfg.use_urban_renovated_width)
    base = cfg.truck_min_width_m.value
    truck_min = np.where(urban, max(base, cfg.urban_renovated_min_width_m.value), base)
    width_class = np.select(
        [w >= truck_min, w >= small_min], ["truck", "small_vehicle"], "hose_only"
    )
    height = parse_length_m(edges["maxheight"]).to_numpy()
    blocked_values = {v.lower() for v in cfg.blocked_access_values}
    checks = [
        (height < cfg.truck_min_clear_height_m.value, "maxheight"),
        (_lower(edges, "access").isin(blocked_values).to_numpy(), "access"),
        (_lower(edges, "motor_vehicle").isin(blocked_values).to_numpy(), "motor_vehicle"),
        (_lower(edges, "highway").isin(cfg.blocked_highways).to_numpy(), "highway"),
    ]
    reason = np.full(len(edges), "", dtype=object)
    for mask, label in checks:
        reason = np.where(mask, np.where(reason == "", label, reason + ";" + label), reason)
    blocked = reason != ""
    return pd.DataFrame(
        {
            "width_class": width_class,
            "blocked": blocked,
            "block_reason": reason,
            "truck_ok": (width_class == "truck") & ~blocked,
        },
        index=edges.index,
    )


def _lower(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series("", index=df.index, dtype="string")
    return df[col].astype("string").str.strip().str.lower().fillna("")


@dataclass(frozen=True)
class Topology:
    """Edge ends as node positions, and the undirected street each directed edge belongs to."""

    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    codes: np.ndarray
    first: np.ndarray
    n_nodes: int


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    graph = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)).tocsr()
    return np.asarray(csgraph.connected_components(graph, directed=False)[1])


def truck_connectivity(
    topo: Topology,
    truck_ok: np.ndarray,
    station_nodes: np.ndarray,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Which truck edges are joined to a fire station through truck edges.

    Parameters
    ----------
    topo
        The graph's :class:`Topology`.
    truck_ok
        Boolean per directed edge.
    station_nodes
        Node positions of the stations' nearest truck edges (empty: no station).

    Returns
    -------
    truck_connected, info
        Boolean per edge; ``info`` says which rule chose the network (stations or the largest
        component) and how many truck components there are.
    """
    labels = _components(topo.n_nodes, topo.u[truck_ok], topo.v[truck_ok])
    truck_len = np.bincount(
        labels[topo.u[truck_ok]], weights=topo.length[truck_ok], minlength=topo.n_nodes
    )
    n_comp = len(np.unique(labels[topo.u[truck_ok]]))
    if len(station_nodes):
        keep = np.unique(labels[station_nodes])
        rule = "stations"
    elif truck_ok.any():
        keep = np.array([int(np.argmax(truck_len))])
        rule = "largest_component"
    else:
        keep = np.array([], dtype=np.int64)
        rule = "none"
    connected = truck_ok & np.isin(labels[topo.u], keep)
    return connected, {"rule": rule, "truck_components": n_comp}


def _chain_labels(topo: Topology, mask_unique: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """Label runs of undirected edges that meet only at nodes not in ``cut``.

    Each edge end at a cut node gets its own private vertex, so runs end there.
    """
    idx = topo.first[mask_unique]
    m = len(idx)
    a = np.where(cut[topo.u[idx]], topo.n_nodes + np.arange(m), topo.u[idx])
    b = np.where(cut[topo.v[idx]], topo.n_nodes + np.arange(m), topo.v[idx])
    labels = _components(topo.n_nodes + m, a, b)
    return labels[a]


def find_dead_ends(
    topo: Topology,
    truck_ok: np.ndarray,
    truck_connected: np.ndarray,
    *,
    turning: np.ndarray,
    max_length_m: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dead-end truck streets: runs from a truck dead end back to the last truck junction.

    Parameters
    ----------
    topo
        The graph's :class:`Topology`.
    truck_ok, truck_connected
        Boolean per directed edge.
    turning
        Boolean per node: a turning area is known there.
    max_length_m
        Longest dead end allowed without a turning area.

    Returns
    -------
    runs, members
        ``runs``: one row per dead-end run, with ``dead_end_node`` and ``junction_node``
        (node positions; -1 if the run joins no junction), ``length_m``,
        ``has_turning_area``, ``truck_connected`` and ``flagged``. ``members``: ``row`` (of
        ``runs``) and ``edge`` (the first directed edge of each undirected street in it).

    Notes
    -----
    QCVN 06:2022/BXD §6.2.5: a dead-end fire-truck road longer than 46 m needs a turning area
    (12 x 12 m, a 10 m circle, a 7 m triangle or 5 x 20 m). Node degrees count distinct truck
    neighbours; a self-loop (a turning loop drawn as a closed way) counts twice.
    """
    uniq = truck_ok[topo.first]
    idx = topo.first[uniq]
    a, b = topo.u[idx], topo.v[idx]
    pairs = np.unique(np.column_stack([np.minimum(a, b), np.maximum(a, b)]), axis=0)
    loops = pairs[:, 0] == pairs[:, 1]
    degree = np.bincount(pairs[~loops].ravel(), minlength=topo.n_nodes)
    degree += 2 * np.bincount(pairs[loops, 0], minlength=topo.n_nodes)
    junction = degree >= 3  # noqa: PLR2004 - a junction joins three or more streets
    labels = _chain_labels(topo, uniq, junction)
    chain = pd.DataFrame({"label": labels, "edge": idx, "a": a, "b": b, "len": topo.length[idx]})
    ends = pd.concat(
        [
            chain[["label", "a"]].rename(columns={"a": "node"}),
            chain[["label", "b"]].rename(columns={"b": "node"}),
        ]
    )
    dead = ends[degree[ends["node"].to_numpy()] == 1].drop_duplicates("label")
    junc = ends[junction[ends["node"].to_numpy()]].drop_duplicates("label")
    grouped = chain.groupby("label")
    out = pd.DataFrame({"dead_end_node": dead.set_index("label")["node"]})
    out["junction_node"] = junc.set_index("label")["node"].reindex(out.index).fillna(-1)
    out["junction_node"] = out["junction_node"].astype(np.int64)
    out["length_m"] = grouped["len"].sum().reindex(out.index)
    out["has_turning_area"] = turning[out["dead_end_node"].to_numpy()]
    out["truck_connected"] = truck_connected[grouped["edge"].first().reindex(out.index)]
    out["flagged"] = (out["length_m"] > max_length_m) & ~out["has_turning_area"]
    row = pd.Series(np.arange(len(out)), index=out.index)
    members = chain[chain["label"].isin(out.index)]
    members = pd.DataFrame(
        {"row": row.reindex(members["label"]).to_numpy(), "edge": members["edge"].to_numpy()}
    )
    return out.reset_index(drop=True), members


def alley_labels(
    topo: Topology,
    *,
    alley_edge: np.ndarray,
    on_truck: np.ndarray,
    cost: np.ndarray,
    mouth_of_node: np.ndarray,
    head: np.ndarray,
) -> np.ndarray:
    """Split the non-truck streets into alleys, one per branch off the truck network.

    Parameters
    ----------
    topo
        The graph's :class:`Topology`.
    alley_edge
        Boolean per directed edge: not on the truck network.
    on_truck
        Boolean per node: on the truck network.
    cost
        Per node, the walking distance from the truck network.
    mouth_of_node
        Per node, the truck-network node it is reached from (-1 if unreached).
    head
        Per node, its branch head (:attr:`PathTree.head`).

    Returns
    -------
    numpy.ndarray
        Alley number ``0..k-1`` of each undirected alley street (in the order of
        ``topo.first[alley_edge[topo.first]]``).

    Notes
    -----
    A street belongs to the branch its deeper end is reached through: the first street
    walked from the truck network (the alley's entrance). Shortest paths form a tree, so each
    alley is connected; two alleys leaving one junction stay apart. It is what a
    construction department would widen from that entrance. Runs that no truck reaches are
    grouped by connected component instead.
    """
    idx = topo.first[alley_edge[topo.first]]
    a, b = topo.u[idx], topo.v[idx]
    deeper = np.where(cost[a] >= cost[b], a, b)
    reached = mouth_of_node[deeper] >= 0
    component = _chain_labels(topo, alley_edge[topo.first], on_truck)
    key = np.where(reached, head[deeper], -1 - component)
    codes, _ = pd.factorize(key)
    return codes


def bottleneck_to_sources(
    topo: Topology,
    cost: np.ndarray,
    width_m: np.ndarray,
    *,
    is_source: np.ndarray | None = None,
) -> np.ndarray:
    """Narrowest edge on each node's shortest path from the sources (see :func:`path_tree`)."""
    return path_tree(topo, cost, width_m, is_source=is_source).bottleneck_m


@dataclass(frozen=True)
class PathTree:
    """Per node: the narrowest edge on its shortest path, and its branch head below the root."""

    bottleneck_m: np.ndarray
    head: np.ndarray


def path_tree(
    topo: Topology,
    cost: np.ndarray,
    width_m: np.ndarray,
    *,
    is_source: np.ndarray | None = None,
    max_iter: int = 64,
) -> PathTree:
    """Read the shortest-path tree off the costs: bottleneck widths and branch heads.

    Parameters
    ----------
    topo
        The graph's :class:`Topology`.
    cost
        Per node, the shortest distance from the sources (0 at sources, ``inf`` unreached).
    width_m
        Per directed edge.
    is_source
        Boolean per node: a source (a root of the tree, even with a start cost); by default
        the nodes at cost 0.
    max_iter
        Bound on pointer-jumping rounds (each halves the remaining depth).

    Returns
    -------
    PathTree
        ``bottleneck_m``: ``inf`` at sources, ``NaN`` where unreached. ``head``: the first
        node after the source on the node's path (a source, or an unreached node, is its own).

    Notes
    -----
    The shortest-path tree is read off the costs (an edge ``u -> v`` is a tree edge when
    ``cost[u] + length = cost[v]``; among ties the widest wins). The minimum over each path
    is then found by pointer jumping: about ``log2(depth)`` vectorised rounds.
    """
    n = topo.n_nodes
    cu, cv = cost[topo.u], cost[topo.v]
    reached = np.isfinite(cv) & np.isfinite(cu)
    gap = np.full(len(cu), np.inf)
    gap[reached] = np.abs(cu[reached] + topo.length[reached] - cv[reached])
    tree = reached & (cu < cv) & (gap <= _TIE_M * np.maximum(1.0, cv))
    cand = np.flatnonzero(tree)
    cand = cand[np.lexsort((-width_m[cand], topo.v[cand]))]
    child, first = np.unique(topo.v[cand], return_index=True)
    parent = np.arange(n)
    bott = np.where(np.isfinite(cost), np.inf, np.nan)
    parent[child] = topo.u[cand[first]]
    bott[child] = width_m[cand[first]]
    orphan = np.isfinite(cost) & ((cost > 0) if is_source is None else ~is_source)
    orphan[child] = False
    bott[orphan] = np.nan  # reached, but no tree edge found within the tolerance
    root = parent == np.arange(n)
    # Each node's branch head: the node right below its root (a root is its own head).
    head = np.where(root[parent], np.arange(n), parent)
    for _ in range(max_iter):
        grand = parent[parent]
        bott = np.minimum(bott, bott[parent])
        if np.array_equal(grand, parent):
            break
        parent = grand
    for _ in range(max_iter):
        nxt = head[head]
        if np.array_equal(nxt, head):
            break
        head = nxt
    return PathTree(bottleneck_m=bott, head=head)


def frontage_snap(
    snap: Snap, polygons: np.ndarray, lines: np.ndarray, *, tolerance_m: float
) -> Snap:
    """Widen each footprint's access spot to its whole frontage on the snapped edge.

    Parameters
    ----------
    snap
        From :func:`pipeline.routing.snap_to_edges` (one nearest spot per footprint).
    polygons
        The footprints snapped.
    lines
        The edge geometries ``snap.edge`` indexes.
    tolerance_m
        Footprint vertices at most this much farther from the edge than its nearest point
        count as frontage.

    Returns
    -------
    Snap
        The same edges and gaps; ``to_u_m``/``to_v_m`` measured to the frontage's nearer end
        on each side, so a row house parallel to an alley is reached at its near corner
        (the nearest point of a parallel wall is otherwise an arbitrary one of its corners).
    """
    ok = np.flatnonzero(snap.edge >= 0)
    if len(ok) == 0:
        return snap
    coords, owner = shapely.get_coordinates(polygons[ok], return_index=True)
    line = lines[snap.edge[ok]][owner]
    pts = shapely.points(coords)
    near = shapely.distance(pts, line) <= snap.gap_m[ok][owner] + tolerance_m
    along = shapely.line_locate_point(line[near], pts[near])
    lo = snap.to_u_m.copy()
    hi = snap.to_v_m.copy()
    length = shapely.length(lines[snap.edge[ok]])
    lo_ok = lo[ok]
    np.minimum.at(lo_ok, owner[near], along)
    hi_ok = hi[ok]
    np.minimum.at(hi_ok, owner[near], length[owner[near]] - along)
    lo[ok], hi[ok] = lo_ok, hi_ok
    return Snap(snap.edge, snap.gap_m, lo, hi)


def direct_truck_access(
    geoms: np.ndarray,
    truck_lines: np.ndarray,
    *,
    obstacles: np.ndarray | None = None,
    self_index: np.ndarray | None = None,
    max_distance_m: float,
    trim_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Gap from each geometry straight to the nearest truck street, when nothing is between.

    Parameters
    ----------
    geoms
        Building footprints, or alley nodes.
    truck_lines
        Truck-network street lines (one per street).
    obstacles
        Footprints that block a straight link; by default ``geoms`` themselves (each one
        ignoring itself).
    self_index
        Per geometry, its own position in ``obstacles`` (ignored as an obstacle), -1 if none.
    max_distance_m
        Longest straight gap considered.
    trim_m
        Length of the link's start left out of the obstacle test.

    Returns
    -------
    gap_m, line
        Per footprint: the gap (``inf`` if beyond ``max_distance_m`` or if the straight link
        crosses another footprint) and the position of the street in ``truck_lines``
        (-1 where none).

    Notes
    -----
    This lets a building set back from a main road, whose nearest mapped way is a sidewalk
    footway, front the road it faces, and an alley opening onto a sidewalk start at the road;
    the link must not cross another building, so a house behind a street-front row still
    counts through its alley.
    """
    polygons = geoms
    n = len(polygons)
    if obstacles is None:
        obstacles, self_index = geoms, np.arange(n)
    elif self_index is None:
        self_index = np.full(n, -1, dtype=np.int64)
    gap = np.full(n, np.inf)
    line = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(truck_lines) == 0:
        return gap, line
    tree = shapely.STRtree(truck_lines)
    (p_idx, l_idx), d = tree.query_nearest(
        polygons, max_distance=max_distance_m, return_distance=True, all_matches=False
    )
    ends = shapely.get_coordinates(shapely.shortest_line(polygons[p_idx], truck_lines[l_idx]))
    start, stop = ends[0::2], ends[1::2]
    # Leave the footprint's own corner out, so a neighbour sharing that corner is no obstacle;
    # a link grazing another footprint's wall is blocked.
    frac = np.minimum(1.0, trim_m / np.maximum(d, 1e-9))[:, None]
    links = shapely.linestrings(np.stack([start + (stop - start) * frac, stop], axis=1))
    obstructed = np.zeros(len(p_idx), dtype=bool)
    if len(obstacles):
        tree = shapely.STRtree(obstacles)
        link_idx, b_idx = tree.query(links, predicate="dwithin", distance=_GRAZE_M)
        obstructed[link_idx[b_idx != self_index[p_idx[link_idx]]]] = True
    gap[p_idx[~obstructed]] = d[~obstructed]
    line[p_idx[~obstructed]] = l_idx[~obstructed]
    return gap, line


def _ward_index(points: np.ndarray, wards: gpd.GeoDataFrame) -> np.ndarray:
    """Return the row of the ward each point falls in (-1 outside every ward)."""
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or wards.empty:
        return out
    pt, ward = shapely.STRtree(wards.geometry.to_numpy()).query(points, predicate="within")
    pt_first, pos = np.unique(pt, return_index=True)
    out[pt_first] = ward[pos]
    return out


def _ward_of(points: np.ndarray, wards: gpd.GeoDataFrame) -> np.ndarray:
    """Return the ward name of each point (``None`` outside every ward)."""
    return assign_ward(gpd.GeoSeries(points, crs=wards.crs), wards).to_numpy()


def load_wards(ctx: StageContext) -> tuple[gpd.GeoDataFrame, str]:
    """Ward polygons from ingest, or the whole province as one ward.

    Returns
    -------
    wards, note
        ``wards`` has ``name``, ``ward_type``, ``approximate`` and polygons; ``note`` says
        where they came from (for the summary and the log).
    """
    crs = ctx.config.crs
    rel = ARTIFACTS["ingest"].get("wards")
    path = ctx.paths.outputs / rel if rel else None
    if path is not None and path.exists():
        wards = read_geoparquet(path)
        if not wards.empty:
            wards = wards.to_crs(crs)
            if "approximate" not in wards.columns:
                wards["approximate"] = False
            if "ward_type" not in wards.columns:
                wards["ward_type"] = None
            approx = bool(wards["approximate"].any())
            whole = len(wards) == 1 and str(wards["ward_type"].iloc[0]) == "province"
            if whole:
                note = "no ward layer: the whole province is one unit"
            elif approx:
                note = "wards are Voronoi cells around commune centroids (no ward polygons)"
            else:
                note = "ward polygons from ingest"
            return wards[["name", "ward_type", "approximate", "geometry"]], note
    boundary = read_geoparquet(ctx.input("ingest", "boundary")).to_crs(crs)
    wards = gpd.GeoDataFrame(
        {"name": [ctx.config.name.vi], "ward_type": [None], "approximate": [True]},
        geometry=boundary.geometry.to_numpy()[:1],
        crs=crs,
    )
    return wards, "no ward layer: the whole province is one ward"


def load_fire_points(cfg: AccessConfig, crs: str) -> tuple[np.ndarray, list[AuthorityTable]]:
    """Public fire-fighting points (điểm chữa cháy công cộng) from the authority files."""
    tables = [
        read_authority_file(f, crs=crs, what="public fire points").finish()
        for f in cfg.public_fire_points_files
    ]
    frames = [t.rows.geometry.to_numpy() for t in tables]
    return (np.concatenate(frames) if frames else np.empty(0, dtype=object)), tables


def _timed(label: str, t0: float, text: str) -> float:
    logger.info("network: %s: %s (%.1f s)", label, text, time.perf_counter() - t0)
    return time.perf_counter()


def _multilines(geoms: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    order = np.argsort(groups, kind="stable")
    out = np.full(n, None, dtype=object)
    if len(order):
        lines = shapely.multilinestrings(geoms[order], indices=groups[order])
        out[np.unique(groups[order])] = lines
    return out


def run(ctx: StageContext) -> dict[str, Any]:  # noqa: PLR0915 - one pass, step by step
    """Run the network stage: widths, classes, truck network, dead ends, deep buildings, alleys."""
    cfg = ctx.config.access
    crs = ctx.config.crs
    t0 = t_start = time.perf_counter()
    nodes, edges = read_graph_layers(
        ctx.input("ingest", "graph_nodes"), ctx.input("ingest", "graph_edges")
    )
    buildings = read_geoparquet(ctx.input("ingest", "buildings"))
    stations = read_geoparquet(ctx.input("ingest", "stations"))
    wards, ward_note = load_wards(ctx)
    fire_points, fire_point_tables = load_fire_points(cfg, crs)
    rejects_frame(fire_point_tables).to_csv(ctx.output("rejects"), index=False, encoding="utf-8")
    t0 = _timed(
        "read",
        t0,
        f"{len(edges):,} edges, {len(buildings):,} buildings, "
        f"{len(stations)} stations, {len(wards)} ward(s), {len(fire_points)} fire points",
    )

    widths = estimate_widths(edges, buildings, cfg, progress=ctx.progress)
    geoms = edges.geometry.to_numpy()
    mid = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    ward_pos = _ward_index(mid, wards)
    edge_ward_type = np.full(len(edges), None, dtype=object)
    inside = ward_pos >= 0
    edge_ward_type[inside] = wards["ward_type"].to_numpy(dtype=object)[ward_pos[inside]]
    urban = urban_edges(edge_ward_type, cfg)
    classes = classify_edges(edges, widths["width_m"], cfg, urban=urban)
    narrow = int((classes["width_class"] != "truck").sum())
    t0 = _timed(
        "widths",
        t0,
        f"{narrow:,} edges below truck width ({int(urban.sum()):,} under the "
        f"{cfg.urban_renovated_min_width_m.value:g} m urban rule), "
        f"{int(classes['blocked'].sum()):,} blocked",
    )

    arr = edge_arrays(nodes, edges, "length")
    codes, first = undirected_twins(geoms)
    topo = Topology(arr.u, arr.v, arr.weight, codes, first, arr.n_nodes)
    truck_ok = classes["truck_ok"].to_numpy()
    existing = stations[stations["status"] == "existing"] if len(stations) else stations
    station_nodes = np.empty(0, dtype=np.int64)
    truck_idx = np.flatnonzero(truck_ok)
    if len(existing) and len(truck_idx):
        snap = snap_to_edges(existing.geometry.to_numpy(), edges.iloc[truck_idx])
        station_nodes = arr.u[truck_idx[snap.edge[snap.edge >= 0]]]
    truck_connected, conn = truck_connectivity(topo, truck_ok, station_nodes)
    if conn["rule"] == "largest_component":
        logger.warning(
            "network: no existing fire station: the truck network is the largest truck "
            "component (%d components); add stations to the config for a real answer",
            conn["truck_components"],
        )
    t0 = _timed(
        "truck network",
        t0,
        f"{int(truck_ok.sum()):,} truck edges, "
        f"{int(truck_connected.sum()):,} connected ({conn['rule']})",
    )

    turning = np.zeros(topo.n_nodes, dtype=bool)
    turning_known = "highway" in nodes.columns
    if turning_known:
        turning = nodes["highway"].astype("string").isin(TURNING_NODES).to_numpy(dtype=bool)
    dead, dead_members = find_dead_ends(
        topo,
        truck_ok,
        truck_connected,
        turning=turning,
        max_length_m=cfg.dead_end_max_length_m.value,
    )
    t0 = _timed(
        "dead ends",
        t0,
        f"{len(dead):,} runs, {int(dead['flagged'].sum()):,} longer "
        f"than {cfg.dead_end_max_length_m.value:.0f} m without a turning area",
    )

    # Walking (hose-laying) distance from the truck network over every street and alley.
    on_truck = np.zeros(topo.n_nodes, dtype=bool)
    on_truck[arr.u[truck_connected]] = True
    on_truck[arr.v[truck_connected]] = True
    truck_first = first[truck_connected[first]]
    bgeoms = buildings.geometry.to_numpy()
    off = np.flatnonzero(~on_truck)
    node_gap, _ = direct_truck_access(
        nodes.geometry.to_numpy()[off],
        geoms[truck_first],
        obstacles=bgeoms,
        max_distance_m=cfg.node_direct_access_m,
        trim_m=0.0,
    )
    near = np.isfinite(node_gap)
    sources = np.concatenate([np.flatnonzero(on_truck), off[near]])
    source_cost = np.concatenate([np.zeros(int(on_truck.sum())), node_gap[near]])
    cost, nearest = multi_source_dijkstra(arr.csr(), sources, source_costs=source_cost)
    mouth_of_node = np.where(nearest >= 0, sources[np.maximum(nearest, 0)], -1)
    width_arr = widths["width_m"].to_numpy(dtype=float)
    is_source = np.zeros(topo.n_nodes, dtype=bool)
    is_source[sources] = True
    tree = path_tree(topo, cost, width_arr, is_source=is_source)
    bott_node = tree.bottleneck_m
    t0 = _timed(
        "hose distances",
        t0,
        f"{int(near.sum()):,} alley nodes within {cfg.node_direct_access_m:.0f} m of a truck "
        f"street start a hose run there; {int(np.isfinite(cost).sum()):,} nodes reached",
    )

    alley_edge = ~truck_connected
    alley_codes = alley_labels(
        topo,
        alley_edge=alley_edge,
        on_truck=on_truck,
        cost=cost,
        mouth_of_node=mouth_of_node,
        head=tree.head,
    )
    alley_of_street = np.full(len(first), -1, dtype=np.int64)
    alley_of_street[alley_edge[first]] = alley_codes
    alley_id = alley_of_street[codes]
    n_alleys = int(alley_codes.max()) + 1 if len(alley_codes) else 0

    # Snap to one direction of each street (twins share a geometry), then back to edge rows.
    raw = snap_to_edges(bgeoms, edges.iloc[first])
    raw = Snap(np.where(raw.edge >= 0, first[raw.edge], -1), raw.gap_m, raw.to_u_m, raw.to_v_m)
    snap = frontage_snap(raw, bgeoms, geoms, tolerance_m=cfg.frontage_tolerance_m)
    t0 = _timed("snap", t0, f"{int((snap.edge >= 0).sum()):,} buildings snapped to a street")
    dist = point_costs(cost, snap, arr.u, arr.v)
    e = np.maximum(snap.edge, 0)
    on_truck_edge = (snap.edge >= 0) & truck_connected[e]
    # Only buildings not already on a truck street can gain from a straight link to one.
    others = np.flatnonzero(~on_truck_edge)
    direct_gap = np.full(len(bgeoms), np.inf)
    direct_edge = np.full(len(bgeoms), -1, dtype=np.int64)
    direct_gap[others], direct_edge[others] = direct_truck_access(
        bgeoms[others],
        geoms[truck_first],
        obstacles=bgeoms,
        self_index=others,
        max_distance_m=cfg.direct_access_max_m,
        trim_m=cfg.frontage_tolerance_m,
    )
    direct = ~on_truck_edge & (direct_gap <= dist)
    dist = np.where(on_truck_edge, snap.gap_m, np.fmin(dist, direct_gap))
    via_u = cost[arr.u[e]] + snap.to_u_m <= cost[arr.v[e]] + snap.to_v_m
    end = np.where(via_u, arr.u[e], arr.v[e])
    bottleneck = np.where(on_truck_edge, width_arr[e], np.fmin(width_arr[e], bott_node[end]))
    bottleneck[direct] = width_arr[truck_first[direct_edge[direct]]]
    reach = cfg.hose_reach_from_truck_road_m.value
    b_alley = np.where((snap.edge >= 0) & ~direct, alley_id[e], -1)
    b_mouth = np.where(on_truck_edge | direct | (snap.edge < 0), -1, mouth_of_node[end])
    deep_b = gpd.GeoDataFrame(
        {
            "hose_distance_m": np.where(np.isfinite(dist), dist, np.nan),
            "deep": ~(dist <= reach),
            "reachable": np.isfinite(dist),
            "bottleneck_width_m": np.where(np.isfinite(bottleneck), bottleneck, np.nan),
            "alley_id": b_alley,
            "ward": _ward_of(shapely.point_on_surface(bgeoms), wards),
            "floor_area_m2": buildings["floor_area_m2"].to_numpy(dtype=float),
        },
        index=buildings.index,
        geometry=bgeoms,
        crs=crs,
    )
    t0 = _timed(
        "deep buildings",
        t0,
        f"{int(deep_b['deep'].sum()):,} of {len(deep_b):,} "
        f"beyond {reach:.0f} m of hose from the truck network",
    )

    alleys = _alleys(
        topo=topo,
        edges=edges,
        widths=widths,
        cost=cost,
        mouth_of_node=mouth_of_node,
        alley_id=alley_id,
        n_alleys=n_alleys,
        deep_b=deep_b,
        b_mouth=b_mouth,
        nodes=nodes,
        fire_points=fire_points,
        cfg=cfg,
        wards=wards,
    )
    candidates = _candidates(alleys, nodes)
    n_deep_alleys = int((alleys["depth_m"] > cfg.deep_alley_fire_point_m.value).sum())
    t0 = _timed(
        "alleys",
        t0,
        f"{n_alleys:,} alleys, {n_deep_alleys:,} deeper than "
        f"{cfg.deep_alley_fire_point_m.value:.0f} m, {len(candidates):,} fire-point "
        "candidates",
    )

    out_edges = edges.join(widths).join(classes)
    out_edges["truck_connected"] = truck_connected
    out_edges["alley_id"] = alley_id
    edge_ward = np.full(len(edges), None, dtype=object)
    edge_ward[inside] = wards["name"].to_numpy(dtype=object)[ward_pos[inside]]
    out_edges["ward"] = edge_ward
    out_edges["urban_width_rule"] = urban
    node_pts = nodes.geometry.to_numpy()
    dead_gdf = gpd.GeoDataFrame(
        {
            "dead_end_node": nodes.index.to_numpy()[dead["dead_end_node"].to_numpy()],
            "junction_node": np.where(
                dead["junction_node"] >= 0,
                nodes.index.to_numpy()[dead["junction_node"].clip(lower=0)],
                -1,
            ),
            "length_m": dead["length_m"].to_numpy(),
            "has_turning_area": dead["has_turning_area"],
            "truck_connected": dead["truck_connected"].to_numpy(),
            "flagged": dead["flagged"],
            "ward": _ward_of(node_pts[dead["dead_end_node"].to_numpy()], wards),
        },
        geometry=_multilines(
            geoms[dead_members["edge"].to_numpy()], dead_members["row"].to_numpy(), len(dead)
        ),
        crs=crs,
    )
    ward_table = _ward_summary(
        wards=wards,
        edges=out_edges,
        deep_b=deep_b,
        alleys=alleys,
        dead=dead_gdf,
        candidates=candidates,
        cfg=cfg,
    )
    t0 = _timed("wards", t0, f"{len(ward_table)} ward(s): {ward_note}")

    write_parquet(out_edges.reset_index(), ctx.output("edges"))
    write_parquet(deep_b, ctx.output("deep_buildings"))
    write_parquet(alleys, ctx.output("alleys"))
    write_parquet(dead_gdf, ctx.output("dead_ends"))
    write_parquet(candidates, ctx.output("fire_point_candidates"))
    write_parquet(ward_table, ctx.output("wards"))
    summary = _summary(
        edges=out_edges,
        deep_b=deep_b,
        alleys=alleys,
        dead=dead_gdf,
        candidates=candidates,
        conn=conn,
        cfg=cfg,
    )
    summary.update(
        wards=len(ward_table),
        ward_note=ward_note,
        turning_areas=(
            "from graph node tags"
            if turning_known
            else "unknown: ingest keeps no turning_circle node tags; every dead end is "
            "treated as having none"
        ),
        stations_used=len(existing),
        authority_files=[t.stats() for t in fire_point_tables],
        seconds=round(time.perf_counter() - t_start, 2),
    )
    write_json(summary, ctx.output("network_summary"))
    return summary


def _mode_by(groups: np.ndarray, values: np.ndarray) -> pd.Series:
    """Return the most frequent value per group (ties: the smallest), with no loop per group."""
    df = pd.DataFrame({"g": groups, "v": values}).dropna()
    if df.empty:
        return pd.Series(dtype=object)
    counts = df.value_counts(["g", "v"]).reset_index(name="n")
    counts = counts.sort_values(["g", "n", "v"], ascending=[True, False, True])
    return counts.drop_duplicates("g").set_index("g")["v"]


def _alleys(
    *,
    topo: Topology,
    edges: gpd.GeoDataFrame,
    widths: pd.DataFrame,
    cost: np.ndarray,
    mouth_of_node: np.ndarray,
    alley_id: np.ndarray,
    n_alleys: int,
    deep_b: gpd.GeoDataFrame,
    b_mouth: np.ndarray,
    nodes: gpd.GeoDataFrame,
    fire_points: np.ndarray,
    cfg: AccessConfig,
    wards: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """One row per alley: a maximal run of non-truck streets hanging off the truck network."""
    crs = edges.crs
    ids = np.arange(n_alleys)
    ue = topo.first[alley_id[topo.first] >= 0]
    aid = alley_id[ue]
    length = np.bincount(aid, weights=topo.length[ue], minlength=n_alleys)
    min_width = (
        pd.Series(widths["width_m"].to_numpy()[ue]).groupby(aid).min().reindex(ids).to_numpy()
    )
    names = _mode_by(aid, edges["name"].to_numpy()[ue]).reindex(ids)
    a2 = np.concatenate([aid, aid])
    n2 = np.concatenate([topo.u[ue], topo.v[ue]])
    c2 = cost[n2]
    fin = np.isfinite(c2)
    depth = pd.Series(c2[fin]).groupby(a2[fin]).max().reindex(ids).to_numpy()
    in_alley = deep_b["alley_id"].to_numpy()
    has_b = in_alley >= 0
    mouth = _mode_by(in_alley[has_b & (b_mouth >= 0)], b_mouth[has_b & (b_mouth >= 0)])
    node_mouth = mouth_of_node[n2]
    mouth = mouth.combine_first(_mode_by(a2[node_mouth >= 0], node_mouth[node_mouth >= 0]))
    mouth_pos = mouth.reindex(ids).fillna(-1).to_numpy(dtype=np.int64)
    deep = deep_b["deep"].to_numpy()
    floor = deep_b["floor_area_m2"].to_numpy(dtype=float)
    n_b = np.bincount(in_alley[has_b], minlength=n_alleys)
    n_deep = np.bincount(in_alley[has_b & deep], minlength=n_alleys)
    fa = np.bincount(in_alley[has_b], weights=np.nan_to_num(floor[has_b]), minlength=n_alleys)
    fa_deep = np.bincount(
        in_alley[has_b & deep], weights=np.nan_to_num(floor[has_b & deep]), minlength=n_alleys
    )
    node_ids = nodes.index.to_numpy()
    node_pts = nodes.geometry.to_numpy()
    has_mouth = mouth_pos >= 0
    mouth_pts = np.where(has_mouth, node_pts[np.maximum(mouth_pos, 0)], None)
    has_fp = np.zeros(n_alleys, dtype=bool)
    if len(fire_points) and n_alleys:
        fp = snap_to_edges(fire_points, edges, max_distance_m=cfg.fire_point_snap_m)
        hit = alley_id[fp.edge[fp.edge >= 0]]
        has_fp[hit[hit >= 0]] = True
        tree = shapely.STRtree(fire_points)
        m_idx, _ = tree.query(
            mouth_pts[has_mouth], predicate="dwithin", distance=cfg.fire_point_snap_m
        )
        has_fp[np.flatnonzero(has_mouth)[m_idx]] = True
    geometry = _multilines(edges.geometry.to_numpy()[ue], aid, n_alleys)
    where = np.where(has_mouth, mouth_pts, shapely.point_on_surface(geometry))
    deep_alley = depth > cfg.deep_alley_fire_point_m.value
    alleys = gpd.GeoDataFrame(
        {
            "alley_id": ids,
            "name": names.to_numpy(),
            "length_m": length,
            "depth_m": depth,
            "min_width_m": min_width,
            "n_buildings": n_b,
            "n_deep_buildings": n_deep,
            "floor_area_m2": fa,
            "deep_floor_area_m2": fa_deep,
            "ward": _ward_of(where, wards),
            "has_fire_point": has_fp,
            "needs_fire_point": deep_alley & ~has_fp,
            "mouth_node": np.where(has_mouth, node_ids[np.maximum(mouth_pos, 0)], -1),
        },
        geometry=geometry,
        crs=crs,
    )
    order = alleys.sort_values(
        ["needs_fire_point", "n_deep_buildings", "floor_area_m2", "depth_m"],
        ascending=False,
        kind="stable",
    ).index
    alleys["priority_rank"] = 0
    alleys.loc[order, "priority_rank"] = np.arange(1, len(order) + 1)
    alleys.index.name = None
    return alleys


def _candidates(alleys: gpd.GeoDataFrame, nodes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Public fire-point candidates at the mouths of deep alleys that have none."""
    want = alleys[alleys["needs_fire_point"] & (alleys["mouth_node"] >= 0)]
    want = want.sort_values(["n_buildings", "floor_area_m2"], ascending=False, kind="stable")
    pts = nodes.geometry.reindex(want["mouth_node"].to_numpy()).to_numpy()
    cols = [
        "alley_id",
        "name",
        "depth_m",
        "n_buildings",
        "n_deep_buildings",
        "floor_area_m2",
        "mouth_node",
        "ward",
    ]
    out = gpd.GeoDataFrame(want[cols].reset_index(drop=True), geometry=pts, crs=alleys.crs)
    out.insert(1, "rank", np.arange(1, len(out) + 1))
    return out


def _ward_summary(
    *,
    wards: gpd.GeoDataFrame,
    edges: pd.DataFrame,
    deep_b: gpd.GeoDataFrame,
    alleys: gpd.GeoDataFrame,
    dead: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    cfg: AccessConfig,
) -> gpd.GeoDataFrame:
    """Per ward: street and truck length, deep buildings, alleys, dead ends, candidates."""
    fwd = edges[~edges["reversed"].to_numpy()]
    km = fwd["length"] / 1000

    def by_ward(values: pd.Series, wards_col: pd.Series) -> pd.Series:
        return values.groupby(wards_col.to_numpy()).sum()

    table = pd.DataFrame(index=pd.Index(wards["name"].unique(), name="ward"))
    table["street_km"] = by_ward(km, fwd["ward"])
    table["truck_km"] = by_ward(km * fwd["truck_ok"], fwd["ward"])
    table["truck_connected_km"] = by_ward(km * fwd["truck_connected"], fwd["ward"])
    for cls in WIDTH_CLASSES[1:]:
        table[f"{cls}_km"] = by_ward(km * (fwd["width_class"] == cls), fwd["ward"])
    ones = pd.Series(1, index=deep_b.index)
    table["n_buildings"] = by_ward(ones, deep_b["ward"])
    table["n_deep_buildings"] = by_ward(deep_b["deep"].astype(int), deep_b["ward"])
    table["deep_floor_area_m2"] = by_ward(
        deep_b["floor_area_m2"].fillna(0) * deep_b["deep"], deep_b["ward"]
    )
    table["n_alleys"] = by_ward(pd.Series(1, index=alleys.index), alleys["ward"])
    table["n_deep_alleys"] = by_ward(
        (alleys["depth_m"] > cfg.deep_alley_fire_point_m.value).astype(int), alleys["ward"]
    )
    table["n_dead_ends_flagged"] = by_ward(dead["flagged"].astype(int), dead["ward"])
    table["n_fire_point_candidates"] = by_ward(
        pd.Series(1, index=candidates.index), candidates["ward"]
    )
    table = table.fillna(0)
    table["deep_share"] = table["n_deep_buildings"] / table["n_buildings"].where(
        table["n_buildings"] > 0
    )
    table["truck_share"] = table["truck_connected_km"] / table["street_km"].where(
        table["street_km"] > 0
    )
    meta = wards.drop_duplicates("name").set_index("name")
    out = gpd.GeoDataFrame(
        table.join(meta[["ward_type", "approximate"]]).reset_index(),
        geometry=meta.geometry.reindex(table.index).to_numpy(),
        crs=wards.crs,
    )
    int_cols = [c for c in out.columns if c.startswith("n_")]
    out[int_cols] = out[int_cols].astype(np.int64)
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


def _summary(
    *,
    edges: pd.DataFrame,
    deep_b: gpd.GeoDataFrame,
    alleys: gpd.GeoDataFrame,
    dead: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    conn: dict[str, Any],
    cfg: AccessConfig,
) -> dict[str, Any]:
    """Count for the manifest and the report (undirected streets: each street once)."""
    fwd = edges[~edges["reversed"].to_numpy()]
    reasons = fwd.loc[fwd["blocked"], "block_reason"].str.split(";").explode()
    isolated = fwd["truck_ok"] & ~fwd["truck_connected"]
    return {
        "streets": len(fwd),
        "street_km": round(float(fwd["length"].sum()) / 1000, 3),
        "truck_min_width_m": truck_min_width_m(cfg),
        "urban_width_rule_streets": int(fwd["urban_width_rule"].sum()),
        "width_source": _counts(fwd["width_source"], fwd["length"]),
        "width_class": _counts(fwd["width_class"], fwd["length"]),
        "blocked": int(fwd["blocked"].sum()),
        "blocked_by_reason": reasons.value_counts().to_dict(),
        "truck_ok": int(fwd["truck_ok"].sum()),
        "truck_connected": int(fwd["truck_connected"].sum()),
        "truck_isolated": int(isolated.sum()),
        "truck_isolated_km": round(float(fwd.loc[isolated, "length"].sum()) / 1000, 3),
        "truck_network_rule": conn["rule"],
        "truck_components": conn["truck_components"],
        "buildings": len(deep_b),
        "deep_buildings": int(deep_b["deep"].sum()),
        "unreachable_buildings": int((~deep_b["reachable"]).sum()),
        "hose_reach_m": cfg.hose_reach_from_truck_road_m.value,
        "alleys": len(alleys),
        "deep_alleys": int((alleys["depth_m"] > cfg.deep_alley_fire_point_m.value).sum()),
        "alleys_with_fire_point": int(alleys["has_fire_point"].sum()),
        "fire_point_candidates": len(candidates),
        "dead_ends": len(dead),
        "dead_ends_flagged": int(dead["flagged"].sum()),
        "dead_end_max_length_m": cfg.dead_end_max_length_m.value,
    }
