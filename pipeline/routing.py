"""Shortest paths on the street graph with ``scipy.sparse.csgraph``: one multi-source pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from pipeline._errors import ValidationError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd


@dataclass(frozen=True)
class EdgeArrays:
    """The graph as arrays: edge ends as node positions ``0..n-1``, and a weight per edge."""

    node_ids: np.ndarray
    u: np.ndarray
    v: np.ndarray
    weight: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    def csr(self, mask: np.ndarray | None = None) -> sparse.csr_matrix:
        """Return the directed weighted adjacency matrix (parallel edges: the smallest weight).

        Parameters
        ----------
        mask
            Boolean per edge: only these edges are kept (for example truck-usable ones).

        Returns
        -------
        scipy.sparse.csr_matrix
        """
        u, v, w = self.u, self.v, self.weight
        if mask is not None:
            u, v, w = u[mask], v[mask], w[mask]
        ok = np.isfinite(w)
        u, v, w = u[ok], v[ok], w[ok]
        order = np.lexsort((w, v, u))
        u, v, w = u[order], v[order], w[order]
        first = np.r_[True, (u[1:] != u[:-1]) | (v[1:] != v[:-1])]
        # csgraph treats explicit zeros as missing edges: use a tiny positive weight instead.
        w = np.maximum(w[first], 1e-9)
        return sparse.csr_matrix((w, (u[first], v[first])), shape=(self.n_nodes, self.n_nodes))


def edge_arrays(nodes: pd.DataFrame, edges: pd.DataFrame, weight: np.ndarray | str) -> EdgeArrays:
    """Return :class:`EdgeArrays` for node/edge tables indexed like OSMnx's GeoDataFrames.

    Parameters
    ----------
    nodes
        Indexed by node id.
    edges
        Indexed by ``(u, v, key)``.
    weight
        An edge column name, or an array aligned with ``edges``.

    Returns
    -------
    EdgeArrays
    """
    node_ids = nodes.index.to_numpy()
    u = nodes.index.get_indexer(edges.index.get_level_values(0)).astype(np.int64)
    v = nodes.index.get_indexer(edges.index.get_level_values(1)).astype(np.int64)
    if (u < 0).any() or (v < 0).any():
        msg = "an edge ends at a node that is not in the node table"
        raise ValidationError(msg)
    w = (
        edges[weight].to_numpy(dtype=float)
        if isinstance(weight, str)
        else np.asarray(weight, float)
    )
    return EdgeArrays(node_ids=node_ids, u=u, v=v, weight=w)


def multi_source_dijkstra(
    graph: sparse.csr_matrix,
    sources: np.ndarray,
    *,
    source_costs: np.ndarray | None = None,
    limit: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """Cost from the nearest source to every node, and which source that is, in one pass.

    Parameters
    ----------
    graph
        ``n x n`` directed adjacency (from :meth:`EdgeArrays.csr`).
    sources
        Source node positions (repeats allowed: one entry per source).
    source_costs
        Cost already spent to reach each source's node (for example the distance from a
        hydrant to the graph node it is snapped to); zeros by default.
    limit
        Stop expanding beyond this cost (nodes beyond get ``inf``).

    Returns
    -------
    cost, nearest
        ``cost[i]`` the least cost to node ``i`` (``inf`` if unreached); ``nearest[i]`` the
        index into ``sources`` of the source that reaches it first (``-1`` if unreached).

    Notes
    -----
    Sources with costs are joined to their nodes through one virtual node each, so one
    ``scipy.sparse.csgraph.dijkstra(min_only=True)`` call serves them all.
    """
    n = graph.shape[0]
    sources = np.asarray(sources, dtype=np.int64)
    k = len(sources)
    if k == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    costs = np.zeros(k) if source_costs is None else np.asarray(source_costs, dtype=float)
    virtual = sparse.csr_matrix((np.maximum(costs, 1e-9), (np.arange(k), sources)), shape=(k, n))
    full = sparse.bmat([[graph, None], [virtual, None]], format="csr")
    full = sparse.csr_matrix(full, shape=(n + k, n + k))
    dist, _, origin = csgraph.dijkstra(
        full,
        directed=True,
        indices=np.arange(n, n + k),
        min_only=True,
        return_predecessors=True,
        limit=limit,
    )
    cost = np.where(dist[:n] < 1e-6, 0.0, dist[:n])  # noqa: PLR2004 - undo the epsilon weights
    nearest = np.where(np.isfinite(cost), origin[:n] - n, -1).astype(np.int64)
    return cost, nearest


@dataclass(frozen=True)
class Snap:
    """Where points meet the network: nearest edge, gap to it, and distance to its two ends."""

    edge: np.ndarray
    gap_m: np.ndarray
    to_u_m: np.ndarray
    to_v_m: np.ndarray


def snap_to_edges(
    points: np.ndarray,
    edges: gpd.GeoDataFrame,
    *,
    max_distance_m: float | None = None,
) -> Snap:
    """Snap each point to its nearest edge (STRtree), with the along-edge distances to its ends.

    Parameters
    ----------
    points
        Shapely geometries (points, or polygons: their nearest point is used).
    edges
        Edge GeoDataFrame (LineStrings in the same projected CRS).
    max_distance_m
        Points farther than this from every edge get ``edge = -1`` and ``inf`` distances.

    Returns
    -------
    Snap
        ``edge`` is a row position in ``edges``; ``to_u_m``/``to_v_m`` are distances along the
        edge from the snapped spot to the edge's first / last vertex.
    """
    lines = edges.geometry.to_numpy()
    n = len(points)
    edge = np.full(n, -1, dtype=np.int64)
    gap = np.full(n, np.inf)
    to_u = np.full(n, np.inf)
    to_v = np.full(n, np.inf)
    if n == 0 or len(lines) == 0:
        return Snap(edge, gap, to_u, to_v)
    tree = shapely.STRtree(lines)
    (pt_idx, ln_idx), dists = tree.query_nearest(
        points, max_distance=max_distance_m, return_distance=True, all_matches=False
    )
    edge[pt_idx] = ln_idx
    gap[pt_idx] = dists
    geoms = np.asarray(points)[pt_idx]
    hit_lines = lines[ln_idx]
    nearest_on_line = shapely.shortest_line(geoms, hit_lines)
    spot = shapely.get_point(nearest_on_line, -1)
    along = shapely.line_locate_point(hit_lines, spot)
    length = shapely.length(hit_lines)
    to_u[pt_idx] = along
    to_v[pt_idx] = length - along
    return Snap(edge, gap, to_u, to_v)


def point_costs(
    node_cost: np.ndarray,
    snap: Snap,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    *,
    gap_weight: float = 1.0,
) -> np.ndarray:
    """Cost from the nearest source to each snapped point, through either end of its edge.

    Parameters
    ----------
    node_cost
        Per node position, from :func:`multi_source_dijkstra` (in metres, for distance).
    snap
        From :func:`snap_to_edges`.
    edge_u, edge_v
        Node positions of each edge's ends (``EdgeArrays.u``/``.v`` of the snapped edges' table).
    gap_weight
        Multiplier on the point-to-edge gap (1 for metres walked; 0 to ignore it).

    Returns
    -------
    numpy.ndarray
        ``inf`` where the point is not snapped or neither end is reached.
    """
    out = np.full(len(snap.edge), np.inf)
    ok = snap.edge >= 0
    e = snap.edge[ok]
    via_u = node_cost[edge_u[e]] + snap.to_u_m[ok]
    via_v = node_cost[edge_v[e]] + snap.to_v_m[ok]
    out[ok] = np.minimum(via_u, via_v) + gap_weight * snap.gap_m[ok]
    return out
