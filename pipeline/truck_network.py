"""The main truck network: its components, points snapped to it, its reach from the stations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.routing import multi_source_dijkstra, snap_to_edges
from pipeline.topology import Topology, chain_labels, components, street_degree

if TYPE_CHECKING:
    import geopandas as gpd

#: A junction joins three or more streets.
JUNCTION_DEGREE = 3
#: How a point met the truck network (``snap_note``): on the main network; its nearest truck
#: street was a fragment, so it went to the main network; or no main truck street within reach.
SNAP_NOTES: tuple[str, ...] = ("main", "fragment_skipped", "unconnected")


@dataclass(frozen=True)
class TruckNetwork:
    """Truck components per directed edge, and which of them make up the main network."""

    component: np.ndarray
    component_km: np.ndarray
    main: np.ndarray
    n_components: int
    main_km: float


def truck_components(topo: Topology, truck_ok: np.ndarray, *, min_km: float) -> TruckNetwork:
    """Split the truck streets into connected components and pick the main network.

    Parameters
    ----------
    topo
        The street graph.
    truck_ok
        Boolean per directed edge: a truck can use it.
    min_km
        A component at least this long is part of the main network; the largest one always is.

    Returns
    -------
    TruckNetwork
        ``component`` (-1 off the truck streets) and ``component_km`` per edge (each street
        counted once), ``main`` per edge, and the number of truck components.

    Notes
    -----
    Components are taken without regard to one-way streets: a fragment is a piece of truck
    street that no truck street joins to the rest (a courtyard road, a driveway behind a
    narrow gate, a mapping gap), whatever its direction. A station, hydrant or water point
    snapped to such a fragment would make it the "network" and wreck every later figure.
    """
    labels = components(topo.n_nodes, topo.u[truck_ok], topo.v[truck_ok])
    street = topo.first[truck_ok[topo.first]]
    km = (
        np.bincount(labels[topo.u[street]], weights=topo.length[street], minlength=topo.n_nodes)
        / 1000
    )
    component = np.where(truck_ok, labels[topo.u], -1)
    component_km = np.where(truck_ok, km[labels[topo.u]], 0.0)
    used = np.unique(labels[topo.u[street]])
    main_labels = used[km[used] >= min_km]
    if len(used) and not len(main_labels):
        main_labels = np.array([used[np.argmax(km[used])]])
    elif len(used):
        main_labels = np.union1d(main_labels, [used[np.argmax(km[used])]])
    main = truck_ok & np.isin(labels[topo.u], main_labels)
    return TruckNetwork(component, component_km, main, len(used), float(km[main_labels].sum()))


@dataclass(frozen=True)
class PointSnap:
    """Where points meet the main truck network, and what their nearest truck street was."""

    edge: np.ndarray
    snap_m: np.ndarray
    to_u_m: np.ndarray
    to_v_m: np.ndarray
    nearest_truck_m: np.ndarray
    nearest_component_km: np.ndarray
    note: np.ndarray

    def table(self) -> pd.DataFrame:
        """Return the per-point columns written with the points: ``snap_m``, ``connected``..."""
        return pd.DataFrame(
            {
                "snap_m": np.where(np.isfinite(self.snap_m), self.snap_m, np.nan),
                "connected": self.edge >= 0,
                "nearest_truck_m": np.where(
                    np.isfinite(self.nearest_truck_m), self.nearest_truck_m, np.nan
                ),
                "nearest_component_km": self.nearest_component_km,
                "snap_note": self.note,
            }
        )


def snap_to_main(
    points: np.ndarray,
    edges: gpd.GeoDataFrame,
    net: TruckNetwork,
    *,
    max_distance_m: float,
) -> PointSnap:
    """Snap points to the nearest edge of the main truck network within ``max_distance_m``.

    Parameters
    ----------
    points
        Shapely points (stations, hydrants, water points) in the edges' CRS.
    edges
        The graph's directed edges (``net`` is aligned with them).
    net
        From :func:`truck_components`.
    max_distance_m
        Points farther than this from the main network stay unconnected.

    Returns
    -------
    PointSnap
        ``edge`` a row of ``edges`` on the main network (-1 where unconnected), the gap
        ``snap_m`` and the distances along the edge to its ends; the nearest truck street of
        any component (``nearest_truck_m``, ``nearest_component_km``) and a ``note`` in
        :data:`SNAP_NOTES`, so that a station whose nearest truck street is a fragment is
        reported, not silently trusted.
    """
    n = len(points)
    main_idx = np.flatnonzero(net.main)
    any_idx = np.flatnonzero(net.component >= 0)
    snap = snap_to_edges(points, edges.iloc[main_idx], max_distance_m=max_distance_m)
    ok = snap.edge >= 0
    edge = np.full(n, -1, dtype=np.int64)
    edge[ok] = main_idx[snap.edge[ok]]
    near = snap_to_edges(points, edges.iloc[any_idx], max_distance_m=max_distance_m)
    near_ok = near.edge >= 0
    near_km = np.zeros(n)
    near_km[near_ok] = net.component_km[any_idx[near.edge[near_ok]]]
    on_fragment = near_ok & ~net.main[any_idx[np.maximum(near.edge, 0)]]
    note = np.where(ok, np.where(on_fragment, "fragment_skipped", "main"), "unconnected")
    return PointSnap(
        edge=edge,
        snap_m=snap.gap_m,
        to_u_m=snap.to_u_m,
        to_v_m=snap.to_v_m,
        nearest_truck_m=near.gap_m,
        nearest_component_km=near_km,
        note=note.astype(object),
    )


def reachable_share(
    topo: Topology,
    truck_ok: np.ndarray,
    source_nodes: np.ndarray,
    *,
    forward_ok: np.ndarray | None = None,
) -> float:
    """Share of the truck km a truck can drive to from the sources (stations).

    Parameters
    ----------
    topo
        The street graph.
    truck_ok
        Boolean per directed edge.
    source_nodes
        Node positions the trucks start from (both ends of each station's street).
    forward_ok
        Boolean per directed edge: the direction may be driven (one-way streets); all by
        default.

    Returns
    -------
    float
        Truck km whose street has a reached end, over all truck km (0 without sources).
    """
    streets = topo.first[truck_ok[topo.first]]
    total = float(topo.length[streets].sum())
    if total == 0 or len(source_nodes) == 0:
        return 0.0
    drive = truck_ok if forward_ok is None else truck_ok & forward_ok
    graph = sparse.csr_matrix(
        (np.maximum(topo.length[drive], 1e-9), (topo.u[drive], topo.v[drive])),
        shape=(topo.n_nodes, topo.n_nodes),
    )
    cost, _ = multi_source_dijkstra(graph, np.unique(source_nodes))
    reached = np.isfinite(cost[topo.u[streets]]) | np.isfinite(cost[topo.v[streets]])
    return float(topo.length[streets][reached].sum()) / total


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
    degree = street_degree(topo, uniq)
    junction = degree >= JUNCTION_DEGREE
    labels = chain_labels(topo, uniq, junction)
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
