"""Alleys as a planner means them: runs of narrow vehicle streets off the truck network.

An alley run is a stretch of vehicle street that trucks cannot use, split at junctions (where
a named ngõ meets its ngách, the ngõ continues and the ngách is a run of its own). For each run
the buildings *behind* it are those whose hose path from the truck network passes through it:
widening it (and the runs before it) brings trucks to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.routing import snap_to_edges
from pipeline.topology import Topology, components

if TYPE_CHECKING:
    from pipeline.config import AccessConfig
    from pipeline.hose import PathTree

#: Worst first: a run is as passable as its narrowest street.
_STATUS_ORDER = {"not_passable": 0, "uncertain": 1, "passable": 2}
#: Per-building quantities summed along the hose paths (see :func:`behind_sums`).
BEHIND_COLUMNS: tuple[str, ...] = (
    "n_buildings_behind",
    "n_deep_behind",
    "floor_area_behind_m2",
    "deep_floor_area_behind_m2",
)


def alley_edges(
    *,
    width_m: np.ndarray,
    width_high_m: np.ndarray,
    need_m: np.ndarray,
    on_truck_network: np.ndarray,
    hose_path: np.ndarray,
    main_road: np.ndarray,
) -> np.ndarray:
    """Tell which directed edges are alley streets: vehicle streets too narrow for trucks.

    Parameters
    ----------
    width_m, width_high_m
        Width estimate and the high end of its interval, per edge.
    need_m
        The truck width that applies to each edge.
    on_truck_network
        Boolean per edge: part of the (main) truck network.
    hose_path
        Boolean per edge: a footway, path, steps... (a hose path, never a vehicle alley).
    main_road
        Boolean per edge: trunk / primary / secondary / tertiary (and links).

    Returns
    -------
    numpy.ndarray
        Off the truck network, not a hose path, and narrower than a truck needs by the
        estimate; a main road only when even the high end of its interval is too narrow (its
        own evidence says "not passable"). A wide street closed to vehicles by a sign or a
        low bridge is not an alley: no widening would open it.
    """
    narrow = width_m < need_m
    narrow &= ~main_road | (width_high_m < need_m)
    return np.asarray(narrow & ~on_truck_network & ~hose_path, dtype=bool)


def alley_runs(
    topo: Topology,
    *,
    alley_edge: np.ndarray,
    on_truck: np.ndarray,
    junction: np.ndarray,
    names: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Split alley streets into planner-sized runs.

    Parameters
    ----------
    topo
        The street graph.
    alley_edge
        Boolean per directed edge (both directions of a street agree).
    on_truck
        Boolean per node: on the truck network (a run ends there).
    junction
        Boolean per node: three or more vehicle streets meet there.
    names
        Street name per directed edge (``None`` where unnamed).

    Returns
    -------
    run_of_edge, n_runs
        Run number per directed edge (-1 off alleys), and the number of runs.

    Notes
    -----
    Runs continue through nodes where only two streets meet. At a junction, streets of the
    same name continue into each other (a ngõ passing the mouths of its ngách); every other
    street starts a run of its own. At the truck network every run ends.
    """
    first = topo.first[alley_edge[topo.first]]
    m = len(first)
    if m == 0:
        return np.full(len(topo.u), -1, dtype=np.int64), 0
    name = pd.Series(names[first], dtype=object).fillna("").astype(str).str.strip().to_numpy()

    def vertex(nodes: np.ndarray) -> np.ndarray:
        keys = np.where(
            on_truck[nodes] | (junction[nodes] & (name == "")),
            "p" + np.arange(m).astype(str),
            np.where(junction[nodes], nodes.astype(str) + "|" + name, nodes.astype(str)),
        )
        return keys.astype(object)

    a, b = vertex(topo.u[first]), vertex(topo.v[first])
    codes, _ = pd.factorize(np.concatenate([a, b]))
    labels = components(int(codes.max()) + 1, codes[:m], codes[m:])
    run_codes, _ = pd.factorize(labels[codes[:m]])
    street_run = np.full(len(topo.first), -1, dtype=np.int64)
    street_run[alley_edge[topo.first]] = run_codes
    return street_run[topo.codes], int(run_codes.max()) + 1


def subtree_sums(parent: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum node weights over every node's subtree of a forest.

    Parameters
    ----------
    parent
        Per node, its parent (a root is its own).
    weights
        ``(n_nodes, k)`` weights.

    Returns
    -------
    numpy.ndarray
        ``(n_nodes, k)``: each node's own weight plus its descendants'.

    Notes
    -----
    Nodes are folded into their parents level by level, deepest first (levels are hop
    counts found by pointer jumping), so each level is one vectorised ``add.at``.
    """
    out = np.array(weights, dtype=float, copy=True)
    depth = hop_depth(parent)
    order = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[order], np.arange(int(depth.max(initial=0)) + 2))
    for level in range(int(depth.max(initial=0)), 0, -1):
        idx = order[bounds[level] : bounds[level + 1]]
        np.add.at(out, parent[idx], out[idx])
    return out


def hop_depth(parent: np.ndarray) -> np.ndarray:
    """Count the edges from each node up to its root (pointer jumping, ``log2(depth)`` rounds)."""
    n = len(parent)
    dist = (parent != np.arange(n)).astype(np.int64)
    anc = parent.copy()
    while True:
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            return np.asarray(dist)
        dist = dist + dist[anc]
        anc = nxt


@dataclass(frozen=True)
class Behind:
    """Per alley run: what is on it and behind it, and where it hangs off."""

    on_run: np.ndarray
    behind: np.ndarray
    top_parent: np.ndarray
    parent_run: np.ndarray


def behind_sums(
    tree: PathTree,
    run_of_edge: np.ndarray,
    n_runs: int,
    *,
    end_node: np.ndarray,
    building_edge: np.ndarray,
    on_path: np.ndarray,
    weights: np.ndarray,
) -> Behind:
    """Sum building weights on each alley run and behind it (through it on the hose path).

    Parameters
    ----------
    tree
        The hose network's shortest-path tree.
    run_of_edge
        Run per directed edge (-1 off alleys), from :func:`alley_runs`.
    n_runs
        Number of runs.
    end_node
        Per building, the node its hose path leaves the street graph at (-1 unreached).
    building_edge
        Per building, the edge it is snapped to (-1 none).
    on_path
        Per building: reached along the streets (not fronting a truck street, not linked to
        one straight, not unreachable).
    weights
        ``(n_buildings, k)`` quantities to sum (count, deep count, floor area...).

    Returns
    -------
    Behind
        ``on_run`` and ``behind`` are ``(n_runs, k)``: buildings snapped to the run, and
        buildings whose path passes through it or who stand on it. ``top_parent`` is the node
        each run hangs off (-1 if never reached) and ``parent_run`` the run that node is
        reached through (-1 at the truck network).
    """
    n_nodes = len(tree.parent)
    k = weights.shape[1]
    node_w = np.zeros((n_nodes, k))
    on = on_path & (end_node >= 0)
    np.add.at(node_w, end_node[on], weights[on])
    below = subtree_sums(tree.parent, node_w)
    node_run = np.where(tree.parent_edge >= 0, run_of_edge[np.maximum(tree.parent_edge, 0)], -1)
    node_run[tree.parent_edge < 0] = -1
    parent_run = node_run[tree.parent]
    parent_run[tree.parent_edge < 0] = -1
    top = (node_run >= 0) & (parent_run != node_run)
    behind = np.zeros((n_runs, k))
    np.add.at(behind, node_run[top], below[top])
    b_run = np.where(on & (building_edge >= 0), run_of_edge[np.maximum(building_edge, 0)], -1)
    on_run = np.zeros((n_runs, k))
    has = b_run >= 0
    np.add.at(on_run, b_run[has], weights[has])
    # Standing on a run but reached from outside it (at its mouth, or from its far end).
    outside = has & (node_run[np.maximum(end_node, 0)] != b_run)
    np.add.at(behind, b_run[outside], weights[outside])
    top_nodes = np.flatnonzero(top)
    first_top = pd.Series(top_nodes).groupby(node_run[top_nodes]).first()
    top_parent = np.full(n_runs, -1, dtype=np.int64)
    top_parent[first_top.index.to_numpy()] = tree.parent[first_top.to_numpy()]
    parent_of_run = np.full(n_runs, -1, dtype=np.int64)
    parent_of_run[first_top.index.to_numpy()] = parent_run[first_top.to_numpy()]
    return Behind(on_run=on_run, behind=behind, top_parent=top_parent, parent_run=parent_of_run)


def mode_by(groups: np.ndarray, values: np.ndarray) -> pd.Series:
    """Return the most frequent value per group (ties: the smallest), with no loop per group."""
    df = pd.DataFrame({"g": groups, "v": values}).dropna()
    if df.empty:
        return pd.Series(dtype=object)
    counts = df.value_counts(["g", "v"]).reset_index(name="n")
    counts = counts.sort_values(["g", "n", "v"], ascending=[True, False, True])
    return counts.drop_duplicates("g").set_index("g")["v"]


def multilines(geoms: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Join lines into one MultiLineString per group ``0..n-1`` (``None`` for empty groups)."""
    order = np.argsort(groups, kind="stable")
    out = np.full(n, None, dtype=object)
    if len(order):
        lines = shapely.multilinestrings(geoms[order], indices=groups[order])
        out[np.unique(groups[order])] = lines
    return out


def path_sums(parent: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per node of a forest, ``values`` summed over the node and all its ancestors.

    Parameters
    ----------
    parent
        Per node, its parent (-1 at roots).
    values
        One number per node.

    Returns
    -------
    numpy.ndarray

    Notes
    -----
    Pointer jumping: each round adds the sum of the next stretch of ancestors and doubles the
    stretch, so ``log2(depth)`` vectorised rounds.
    """
    acc = np.asarray(values, dtype=float).copy()
    jump = np.asarray(parent, dtype=np.int64).copy()
    while (jump >= 0).any():
        has = jump >= 0
        step = np.where(has, acc[np.maximum(jump, 0)], 0.0)
        nxt = np.where(has, jump[np.maximum(jump, 0)], -1)
        acc, jump = acc + step, nxt
    return acc


def _worst_status(run: np.ndarray, status: np.ndarray, n_runs: int) -> np.ndarray:
    rank = pd.Series(status).map(_STATUS_ORDER).to_numpy(dtype=np.int64)
    worst = np.full(n_runs, 2, dtype=np.int64)
    np.minimum.at(worst, run, rank)
    return np.array(list(_STATUS_ORDER))[worst]


def alley_table(
    topo: Topology,
    edges: gpd.GeoDataFrame,
    access: pd.DataFrame,
    run_of_edge: np.ndarray,
    n_runs: int,
    *,
    cost: np.ndarray,
    mouth_of_node: np.ndarray,
    behind: Behind,
    node_ids: np.ndarray,
) -> gpd.GeoDataFrame:
    """One row per alley run: its name, size, narrowest point, status and who is behind it.

    Parameters
    ----------
    topo
        The street graph.
    edges
        The directed edges (``name``, ``highway``, geometry).
    access
        Per edge: ``width_m``, ``width_low_m``, ``width_high_m``, ``width_evidence``,
        ``width_confidence``, ``truck_min_width_m``, ``truck_status`` and
        ``truck_status_reason``.
    run_of_edge, n_runs
        From :func:`alley_runs`.
    cost
        Per node, the hose distance from the truck network.
    mouth_of_node
        Per node, the truck-network node its hose path starts at.
    behind
        From :func:`behind_sums`, with the weights of :data:`BEHIND_COLUMNS`.
    node_ids
        OSM node id per node position.

    Returns
    -------
    geopandas.GeoDataFrame
        ``alley_id``, ``name``, ``highway``, ``length_m``, ``depth_m``, ``min_width_m`` (the
        estimate at the narrowest street) with its ``min_width_low_m``/``min_width_high_m``,
        ``width_evidence`` and ``width_confidence``, ``truck_min_width_m``,
        ``width_shortfall_m``, ``truck_status`` (the worst of its streets) and
        ``truck_status_reason``, ``n_buildings`` (on the run), :data:`BEHIND_COLUMNS`,
        ``parent_alley_id``, ``attach_node`` (where it hangs off), ``mouth_node`` (the truck
        node its branch starts at), ``narrow_path_m`` (not-passable length from the truck
        network to its far end), ``to_widen`` and ``field_check``; MultiLineString geometry.
    """
    ids = np.arange(n_runs)
    ue = topo.first[run_of_edge[topo.first] >= 0]
    run = run_of_edge[ue]
    frame = access.iloc[ue].reset_index(drop=True)
    length = np.bincount(run, weights=topo.length[ue], minlength=n_runs)
    narrowest = frame.assign(run=run).sort_values(["run", "width_m"], kind="stable")
    narrowest = narrowest.drop_duplicates("run").set_index("run").reindex(ids)
    status = _worst_status(run, frame["truck_status"].to_numpy(), n_runs)
    worst_rows = frame.assign(run=run, rank=frame["truck_status"].map(_STATUS_ORDER))
    worst_rows = worst_rows.sort_values(["run", "rank", "width_m"], kind="stable")
    reason = worst_rows.drop_duplicates("run").set_index("run")["truck_status_reason"]
    need = pd.Series(frame["truck_min_width_m"].to_numpy()).groupby(run).max().reindex(ids)
    ends = np.concatenate([topo.u[ue], topo.v[ue]])
    runs2 = np.concatenate([run, run])
    finite = np.isfinite(cost[ends])
    depth = pd.Series(cost[ends][finite]).groupby(runs2[finite]).max().reindex(ids).to_numpy()
    attach = behind.top_parent
    mouth = np.where(attach >= 0, mouth_of_node[np.maximum(attach, 0)], -1)
    narrow_own = np.where(status == "not_passable", length, 0.0)
    narrow_path = path_sums(behind.parent_run, narrow_own)
    min_width = narrowest["width_m"].to_numpy(dtype=float)
    table = pd.DataFrame(
        {
            "alley_id": ids,
            "name": mode_by(run, edges["name"].to_numpy()[ue]).reindex(ids).to_numpy(),
            "highway": mode_by(run, edges["highway"].to_numpy()[ue]).reindex(ids).to_numpy(),
            "length_m": length,
            "depth_m": depth,
            "min_width_m": min_width,
            "min_width_low_m": narrowest["width_low_m"].to_numpy(dtype=float),
            "min_width_high_m": narrowest["width_high_m"].to_numpy(dtype=float),
            "width_evidence": narrowest["width_evidence"].to_numpy(),
            "width_confidence": narrowest["width_confidence"].to_numpy(dtype=float),
            "truck_min_width_m": need.to_numpy(dtype=float),
            "width_shortfall_m": np.maximum(need.to_numpy(dtype=float) - min_width, 0.0),
            "truck_status": status,
            "truck_status_reason": reason.reindex(ids).fillna("").to_numpy(),
            "n_buildings": behind.on_run[:, 0].astype(np.int64),
        }
    )
    for j, col in enumerate(BEHIND_COLUMNS):
        values = behind.behind[:, j]
        table[col] = values.astype(np.int64) if col.startswith("n_") else values
    with_behind = table["n_buildings_behind"].to_numpy() > 0
    widen_reason = table["truck_status_reason"].str.contains("width", regex=False).to_numpy()
    table["parent_alley_id"] = behind.parent_run
    table["attach_node"] = np.where(attach >= 0, node_ids[np.maximum(attach, 0)], -1)
    table["mouth_node"] = np.where(mouth >= 0, node_ids[np.maximum(mouth, 0)], -1)
    table["narrow_path_m"] = narrow_path
    table["to_widen"] = (status == "not_passable") & widen_reason & with_behind
    table["field_check"] = (status == "uncertain") & with_behind
    geometry = multilines(edges.geometry.to_numpy()[ue], run, n_runs)
    return gpd.GeoDataFrame(table, geometry=geometry, crs=edges.crs)


def rank_alleys(alleys: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rank the runs to widen and the runs to check in the field, most people served first.

    Adds ``priority_rank`` (1.. among ``to_widen`` rows, 0 elsewhere) and ``check_rank``
    (1.. among ``field_check`` rows), ordered by deep buildings behind, their floor area,
    buildings behind, then depth.
    """
    out = alleys.copy()
    keys = ["n_deep_behind", "deep_floor_area_behind_m2", "n_buildings_behind", "depth_m"]
    for flag, col in (("to_widen", "priority_rank"), ("field_check", "check_rank")):
        chosen = out[out[flag]].sort_values(keys, ascending=False, kind="stable").index
        out[col] = 0
        out.loc[chosen, col] = np.arange(1, len(chosen) + 1)
    return out


def fire_point_needs(
    alleys: gpd.GeoDataFrame,
    *,
    edges: gpd.GeoDataFrame,
    run_of_edge: np.ndarray,
    node_points: pd.Series,
    fire_points: np.ndarray,
    cfg: AccessConfig,
) -> gpd.GeoDataFrame:
    """Mark alley runs served by a public fire point and those that need one.

    A fire point within ``fire_point_snap_m`` of a run's streets or of its branch's mouth
    serves every run of that branch (the runs entered from the same truck-network node). A
    branch deeper than ``deep_alley_fire_point_m`` with no fire point needs one.

    Returns
    -------
    geopandas.GeoDataFrame
        ``alleys`` with ``has_fire_point`` and ``needs_fire_point``.
    """
    out = alleys.copy()
    n = len(out)
    has = np.zeros(n, dtype=bool)
    mouth = out["mouth_node"].to_numpy()
    if len(fire_points) and n:
        fp = snap_to_edges(fire_points, edges, max_distance_m=cfg.fire_point_snap_m)
        hit = run_of_edge[fp.edge[fp.edge >= 0]]
        has[hit[hit >= 0]] = True
        known = mouth >= 0
        mouth_pts = node_points.reindex(mouth[known]).to_numpy()
        m_idx, _ = shapely.STRtree(fire_points).query(
            mouth_pts, predicate="dwithin", distance=cfg.fire_point_snap_m
        )
        has[np.flatnonzero(known)[m_idx]] = True
    served_mouths = set(mouth[has & (mouth >= 0)].tolist())
    branch_served = np.isin(mouth, list(served_mouths)) & (mouth >= 0)
    out["has_fire_point"] = has | branch_served
    out["needs_fire_point"] = (
        (out["depth_m"].to_numpy() > cfg.deep_alley_fire_point_m.value)
        & ~out["has_fire_point"].to_numpy()
        & (out["n_buildings_behind"].to_numpy() > 0)
    )
    return out


def fire_point_candidates(alleys: gpd.GeoDataFrame, node_points: pd.Series) -> gpd.GeoDataFrame:
    """One public fire-point site per branch mouth whose alleys need one, most served first.

    Parameters
    ----------
    alleys
        From :func:`fire_point_needs`.
    node_points
        Node points indexed by OSM node id.

    Returns
    -------
    geopandas.GeoDataFrame
        ``rank``, ``mouth_node``, ``alley_id`` (the deepest run of the branch), ``name``,
        ``depth_m``, ``n_alleys``, ``n_buildings``, ``n_deep_buildings``, ``floor_area_m2``,
        ``ward`` / ``ward_id`` where the alleys have them; points at the mouths.
    """
    want = alleys[alleys["needs_fire_point"] & (alleys["mouth_node"] >= 0)]
    # The entrance runs (hanging off the truck network) carry everything behind the branch.
    entrances = alleys[(alleys["parent_alley_id"] < 0) & (alleys["mouth_node"] >= 0)]
    per_mouth = entrances.groupby("mouth_node").agg(
        n_buildings=("n_buildings_behind", "sum"),
        n_deep_buildings=("n_deep_behind", "sum"),
        floor_area_m2=("floor_area_behind_m2", "sum"),
    )
    deepest = want.sort_values("depth_m", ascending=False, kind="stable").drop_duplicates(
        "mouth_node"
    )
    extra = [c for c in ("ward", "ward_id") if c in deepest.columns]
    table = deepest[["mouth_node", "alley_id", "name", "depth_m", *extra]].set_index("mouth_node")
    table["n_alleys"] = alleys.groupby("mouth_node").size().reindex(table.index)
    table = table.join(per_mouth).fillna({"n_buildings": 0, "n_deep_buildings": 0,
                                          "floor_area_m2": 0.0})  # fmt: skip
    table = table.reset_index().sort_values(
        ["n_deep_buildings", "n_buildings", "floor_area_m2"], ascending=False, kind="stable"
    )
    table[["n_buildings", "n_deep_buildings", "n_alleys"]] = table[
        ["n_buildings", "n_deep_buildings", "n_alleys"]
    ].astype(np.int64)
    pts = node_points.reindex(table["mouth_node"].to_numpy()).to_numpy()
    out = gpd.GeoDataFrame(table.reset_index(drop=True), geometry=pts, crs=alleys.crs)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out
