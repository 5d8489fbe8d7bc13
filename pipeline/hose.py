"""Hose-laying distance from the truck network to every building, along streets and alleys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

from pipeline.parallel import blocks, built_tree, map_chunks
from pipeline.routing import (
    Snap,
    multi_source_dijkstra,
    nearest_lines,
    nearest_of_pairs,
    pairs_within,
    point_costs,
)

if TYPE_CHECKING:
    from scipy import sparse

    from pipeline.config import AccessConfig
    from pipeline.topology import Topology

_TIE_M = 1e-6
#: Footprints handled at a time by the bulk steps (bounds their temporaries at province scale).
_FOOTPRINTS_PER_BLOCK = 100_000
#: Slack (m) on a distance lower bound computed in NumPy, against rounding.
_ENVELOPE_MARGIN_M = 1e-6
#: Points measured at a time by :func:`point_line_distances` (bounds its temporaries).
_POINTS_PER_BLOCK = 32_768
#: A link this close to a footprint grazes it (coordinates carry ~mm noise from lon/lat).
_GRAZE_M = 0.05


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
    """The shortest-path tree: per node its parent, the tree edge into it, bottleneck and head."""

    bottleneck_m: np.ndarray
    head: np.ndarray
    parent: np.ndarray
    parent_edge: np.ndarray


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
        ``parent``: the previous node on the path (a root is its own); ``parent_edge``: the
        directed edge from it (-1 at roots).

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
    parent_edge = np.full(n, -1, dtype=np.int64)
    bott = np.where(np.isfinite(cost), np.inf, np.nan)
    parent[child] = topo.u[cand[first]]
    parent_edge[child] = cand[first]
    tree_parent = parent.copy()
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
    return PathTree(bottleneck_m=bott, head=head, parent=tree_parent, parent_edge=parent_edge)


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

    def ends(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        parts = [
            _frontage_ends(snap, ok[a:b], polygons, lines, tolerance_m=tolerance_m)
            for a, b in blocks(start, stop, _FOOTPRINTS_PER_BLOCK)
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    chunks = map_chunks(ends, len(ok), min_chunk=_FOOTPRINTS_PER_BLOCK)
    lo = snap.to_u_m.copy()
    hi = snap.to_v_m.copy()
    lo[ok] = np.concatenate([c[0] for c in chunks])
    hi[ok] = np.concatenate([c[1] for c in chunks])
    return Snap(snap.edge, snap.gap_m, lo, hi)


def _frontage_ends(
    snap: Snap, rows: np.ndarray, polygons: np.ndarray, lines: np.ndarray, *, tolerance_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """``to_u_m``/``to_v_m`` of the snapped footprints ``rows`` measured to their frontage.

    A ring's closing vertex repeats its first one, so each footprint's last vertex is left
    out; so is a vertex whose distance to the edge's envelope alone exceeds the frontage
    threshold (a lower bound of its distance to the edge, with a margin for rounding).
    """
    coords, owner = shapely.get_coordinates(polygons[rows], return_index=True)
    keep = np.r_[owner[1:] == owner[:-1], False]
    edge_lines = lines[snap.edge[rows]]
    limit = snap.gap_m[rows] + tolerance_m
    box = shapely.bounds(edge_lines)[owner]
    zero = np.zeros(len(owner))
    out_x = np.maximum(np.maximum(box[:, 0] - coords[:, 0], coords[:, 0] - box[:, 2]), zero)
    out_y = np.maximum(np.maximum(box[:, 1] - coords[:, 1], coords[:, 1] - box[:, 3]), zero)
    keep &= np.hypot(out_x, out_y) <= limit[owner] + _ENVELOPE_MARGIN_M
    coords, owner = coords[keep], owner[keep]
    near = point_line_distances(coords, edge_lines, owner) <= limit[owner]
    along = locate_points(coords[near], edge_lines, owner[near])
    length = shapely.length(edge_lines)
    lo = snap.to_u_m[rows]
    np.minimum.at(lo, owner[near], along)
    hi = snap.to_v_m[rows]
    np.minimum.at(hi, owner[near], length[owner[near]] - along)
    return lo, hi


def point_line_distances(xy: np.ndarray, lines: np.ndarray, line_of: np.ndarray) -> np.ndarray:
    """Return ``shapely.distance(shapely.points(xy), lines[line_of])`` with the same values.

    Parameters
    ----------
    xy
        Point coordinates, ``(n, 2)``.
    lines
        LineStrings.
    line_of
        Per point, its line's position in ``lines``.

    Returns
    -------
    numpy.ndarray
        Per point, the distance to its line.

    Notes
    -----
    GEOS measures a point to a line as the least ``Distance::pointToSegment`` over the line's
    segments; that is done here in NumPy, operation for operation (:func:`_point_to_segment`),
    without making a Shapely point per vertex. Points of lines with fewer than two vertices
    (none in a street graph) are measured by GEOS.
    """
    out = np.empty(len(xy))
    if len(xy) == 0:
        return out
    line_xy, counts, start = _vertices(lines)
    n_seg = np.maximum(counts - 1, 0)[line_of]
    odd = n_seg == 0
    if odd.any():
        out[odd] = shapely.distance(shapely.points(xy[odd]), lines[line_of[odd]])
    every = np.flatnonzero(~odd)
    for a in range(0, len(every), _POINTS_PER_BLOCK):  # bounds the temporaries
        rows = every[a : a + _POINTS_PER_BLOCK]
        per = n_seg[rows]
        first = np.cumsum(per) - per
        point = np.repeat(rows, per)
        seg = start[line_of[point]] + np.arange(len(point)) - np.repeat(first, per)
        d = _point_to_segment(xy[point], line_xy[seg], line_xy[seg + 1])
        out[rows] = np.minimum.reduceat(d, first)
    return out


def locate_points(xy: np.ndarray, lines: np.ndarray, line_of: np.ndarray) -> np.ndarray:
    """Return ``shapely.line_locate_point(lines[line_of], shapely.points(xy))``, same values.

    Parameters
    ----------
    xy
        Point coordinates, ``(n, 2)``.
    lines
        LineStrings.
    line_of
        Per point, its line's position in ``lines``.

    Returns
    -------
    numpy.ndarray
        Per point, the distance along its line to the point's projection.

    Notes
    -----
    On a line of one segment, GEOS (``LengthIndexOfPoint``) gives the segment's projection
    factor of the point (0 at the start vertex, 1 at the end vertex), clamped to [0, 1],
    times its length; that is done here in NumPy, operation for operation. Points on longer
    lines are located by GEOS.
    """
    out = np.empty(len(xy))
    if len(xy) == 0:
        return out
    line_xy, counts, start = _vertices(lines)
    one = (counts == 2)[line_of]  # noqa: PLR2004 - two vertices: one segment
    if (~one).any():
        out[~one] = shapely.line_locate_point(lines[line_of[~one]], shapely.points(xy[~one]))
    p = xy[one]
    a = line_xy[start[line_of[one]]]
    b = line_xy[start[line_of[one]] + 1]
    dx, dy = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = ((p[:, 0] - a[:, 0]) * dx + (p[:, 1] - a[:, 1]) * dy) / len2
    at_a = (p[:, 0] == a[:, 0]) & (p[:, 1] == a[:, 1])
    at_b = ~at_a & (p[:, 0] == b[:, 0]) & (p[:, 1] == b[:, 1])
    factor = np.where(at_a, 0.0, np.where(at_b, 1.0, factor))
    length = np.sqrt(
        (a[:, 0] - b[:, 0]) * (a[:, 0] - b[:, 0]) + (a[:, 1] - b[:, 1]) * (a[:, 1] - b[:, 1])
    )
    out[one] = np.where(factor <= 0.0, 0.0, np.where(factor <= 1.0, factor * length, length))
    return out


def _vertices(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return every vertex of ``lines`` as (x, y) rows, and per line its count and first row."""
    line_xy, vertex_line = shapely.get_coordinates(lines, return_index=True)
    counts = np.bincount(vertex_line, minlength=len(lines))
    return line_xy, counts, np.cumsum(counts) - counts


def _point_to_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """GEOS ``Distance::pointToSegment(p, A, B)`` of rows of (x, y), operation for operation."""
    px, py, ax, ay, bx, by = p[:, 0], p[:, 1], a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    len2 = (bx - ax) * (bx - ax) + (by - ay) * (by - ay)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / len2
        s = ((ay - py) * (bx - ax) - (ax - px) * (by - ay)) / len2
        perp = np.abs(s) * np.sqrt(len2)
    to_a = np.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    to_b = np.sqrt((px - bx) * (px - bx) + (py - by) * (py - by))
    out = np.where(r <= 0.0, to_a, np.where(r >= 1.0, to_b, perp))
    return np.asarray(np.where((ax == bx) & (ay == by), to_a, out), dtype=float)


@dataclass(frozen=True)
class NearLines:
    """Every (geometry, line) pair within ``max_distance_m``, found by one spatial query.

    Runs that each want the nearest line among a different subset of the same lines (the
    truck network of each width scenario) share it: see :meth:`nearest`.
    """

    geoms: np.ndarray
    lines: np.ndarray
    max_distance_m: float
    pair_geom: np.ndarray
    pair_line: np.ndarray
    pair_m: np.ndarray

    @classmethod
    def find(
        cls,
        geoms: np.ndarray,
        lines: np.ndarray,
        max_distance_m: float,
        *,
        rows: np.ndarray | None = None,
    ) -> NearLines:
        """Query the pairs once (sorted by geometry, then distance, then line).

        ``rows`` (ascending positions in ``geoms``) limits the search to the geometries that
        :meth:`nearest` will be asked about (all by default). The geometries are searched in
        blocks of consecutive ones (over the thread pool); the pairs come out in the same
        order as from one search.
        """
        tree = built_tree(lines)
        searched = np.arange(len(geoms)) if rows is None else np.asarray(rows, dtype=np.int64)

        def find(start: int, stop: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
            out = []
            for a, b in blocks(start, stop, _FOOTPRINTS_PER_BLOCK):
                g, ln, d = pairs_within(geoms[searched[a:b]], tree, max_distance_m)
                out.append((searched[a:b][g].astype(np.int32), ln.astype(np.int32), d))
            return out

        chunks = map_chunks(find, len(searched), min_chunk=_FOOTPRINTS_PER_BLOCK)
        parts = [p for chunk in chunks for p in chunk]
        g, ln, d = (np.concatenate([p[k] for p in parts]) for k in range(3))
        return cls(geoms, lines, max_distance_m, g, ln, d)

    def nearest(
        self, rows: np.ndarray, line_keep: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest kept line within reach of each geometry of ``rows``.

        Parameters
        ----------
        rows
            Positions of the geometries asked about (among those searched by :meth:`find`).
        line_keep
            Boolean per line: the lines searched.

        Returns
        -------
        row, line, distance
            As :func:`pipeline.routing.nearest_lines` on ``lines[line_keep]`` within
            ``max_distance_m``: positions in ``rows`` (ascending) and in
            ``lines[line_keep]``; of lines equally near, the lowest position.
        """
        where = np.full(len(self.geoms), -1, dtype=np.int64)
        where[rows] = np.arange(len(rows))
        m = (where[self.pair_geom] >= 0) & line_keep[self.pair_line]
        g, ln, d = self.pair_geom[m], self.pair_line[m], self.pair_m[m]
        pick, _ = nearest_of_pairs(g, d)
        sub = np.cumsum(line_keep) - 1
        row, line, dist = where[g[pick]], sub[ln[pick]], d[pick]
        order = np.argsort(row, kind="stable")
        return row[order], line[order].astype(np.int64), dist[order]


def direct_truck_access(
    geoms: np.ndarray,
    truck_lines: np.ndarray,
    *,
    obstacles: np.ndarray | None = None,
    self_index: np.ndarray | None = None,
    max_distance_m: float,
    trim_m: float,
    nearest: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    obstacle_tree: shapely.STRtree | None = None,
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
    nearest
        The nearest truck street of each geometry within ``max_distance_m``, already found
        (``(geometry, line), distance`` as from :meth:`NearLines.nearest`); searched here
        when None.
    obstacle_tree
        ``STRtree(obstacles)``, already built (built here when None).

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
    if nearest is None:
        p_idx, l_idx, d = nearest_lines(
            polygons, shapely.STRtree(truck_lines), max_distance_m=max_distance_m
        )
    else:
        p_idx, l_idx, d = nearest
    obstructed = np.zeros(len(p_idx), dtype=bool)
    if len(obstacles):
        tree = shapely.STRtree(obstacles) if obstacle_tree is None else obstacle_tree
        obstructed = blocked_links(
            polygons[p_idx], truck_lines[l_idx], d, tree=tree, self_index=self_index[p_idx],
            trim_m=trim_m,
        )  # fmt: skip
    gap[p_idx[~obstructed]] = d[~obstructed]
    line[p_idx[~obstructed]] = l_idx[~obstructed]
    return gap, line


def blocked_links(
    geoms: np.ndarray,
    lines: np.ndarray,
    distance_m: np.ndarray,
    *,
    tree: shapely.STRtree,
    self_index: np.ndarray,
    trim_m: float,
) -> np.ndarray:
    """Whether the straight link from each geometry to its line crosses an obstacle.

    Parameters
    ----------
    geoms, lines, distance_m
        Pairs: a geometry, its line and the distance between them.
    tree
        ``STRtree`` of the obstacles (footprints).
    self_index
        Per pair, the geometry's own position in the tree (never its own obstacle), or -1.
    trim_m
        Length of the link's start left out of the test.

    Returns
    -------
    numpy.ndarray
        Boolean per pair. The pairs are linked in blocks (over the thread pool).
    """

    def blocked(start: int, stop: int) -> np.ndarray:
        out = [
            _blocked_block(
                geoms[a:b],
                lines[a:b],
                distance_m[a:b],
                tree=tree,
                self_index=self_index[a:b],
                trim_m=trim_m,
            )
            for a, b in blocks(start, stop, _FOOTPRINTS_PER_BLOCK)
        ]
        return np.concatenate(out)

    return np.concatenate(map_chunks(blocked, len(geoms), min_chunk=_FOOTPRINTS_PER_BLOCK))


def _blocked_block(
    geoms: np.ndarray,
    lines: np.ndarray,
    d: np.ndarray,
    *,
    tree: shapely.STRtree,
    self_index: np.ndarray,
    trim_m: float,
) -> np.ndarray:
    obstructed = np.zeros(len(geoms), dtype=bool)
    if len(geoms) == 0:
        return obstructed
    ends = shapely.get_coordinates(shapely.shortest_line(geoms, lines))
    start, stop = ends[0::2], ends[1::2]
    # Leave the footprint's own corner out, so a neighbour sharing that corner is no obstacle;
    # a link grazing another footprint's wall is blocked.
    frac = np.minimum(1.0, trim_m / np.maximum(d, 1e-9))[:, None]
    links = shapely.linestrings(np.stack([start + (stop - start) * frac, stop], axis=1))
    link_idx, b_idx = tree.query(links, predicate="dwithin", distance=_GRAZE_M)
    obstructed[link_idx[b_idx != self_index[link_idx]]] = True
    return obstructed


@dataclass(frozen=True)
class HoseNetwork:
    """Walking distance from the truck network over every street and alley, and its tree."""

    cost: np.ndarray
    mouth_of_node: np.ndarray
    on_truck: np.ndarray
    tree: PathTree


def truck_nodes(topo: Topology, truck_connected: np.ndarray) -> np.ndarray:
    """Boolean per node: an end of an edge of the truck network (where hoses start)."""
    on_truck = np.zeros(topo.n_nodes, dtype=bool)
    on_truck[topo.u[truck_connected]] = True
    on_truck[topo.v[truck_connected]] = True
    return on_truck


def hose_network(
    topo: Topology,
    graph: sparse.csr_matrix,
    *,
    node_geoms: np.ndarray,
    truck_lines: np.ndarray,
    truck_connected: np.ndarray,
    obstacles: np.ndarray,
    width_m: np.ndarray,
    cfg: AccessConfig,
    obstacle_tree: shapely.STRtree | None = None,
    node_near: NearLines | None = None,
    line_keep: np.ndarray | None = None,
) -> HoseNetwork:
    """Walk from the truck network to every node of the street graph (one Dijkstra).

    Parameters
    ----------
    topo
        The street graph.
    graph
        Its directed adjacency with lengths (both directions of every street).
    node_geoms
        Node points.
    truck_lines
        One line per street of the truck network.
    truck_connected
        Boolean per directed edge: on the truck network.
    obstacles
        Building footprints (block straight links from alley nodes to a truck street).
    width_m
        Width estimate per directed edge (for the bottleneck on each path).
    cfg
        The ``access`` section (``node_direct_access_m``).
    obstacle_tree
        ``STRtree(obstacles)`` when already built.
    node_near, line_keep
        Pairs of ``node_geoms`` within ``node_direct_access_m`` of a pool of lines (see
        :class:`NearLines`) of which ``truck_lines`` is ``node_near.lines[line_keep]``:
        replace the search for each node's nearest truck street (runs that differ only in
        their truck streets share one search).

    Returns
    -------
    HoseNetwork
        ``cost`` per node (m, ``inf`` unreached), the truck node each is reached from
        (``mouth_of_node``, -1 unreached), ``on_truck`` per node and the shortest-path tree.

    Notes
    -----
    Hoses start at every node of the truck network, and at alley nodes within
    ``node_direct_access_m`` of a truck street with nothing between (alleys that open onto
    a separately mapped sidewalk), at the cost of that straight gap.
    """
    on_truck = truck_nodes(topo, truck_connected)
    off = np.flatnonzero(~on_truck)
    node_nearest = None
    if node_near is not None and line_keep is not None:
        node_nearest = node_near.nearest(off, line_keep)
    node_gap, _ = direct_truck_access(
        node_geoms[off],
        truck_lines,
        obstacles=obstacles,
        max_distance_m=cfg.node_direct_access_m,
        trim_m=0.0,
        nearest=node_nearest,
        obstacle_tree=obstacle_tree,
    )
    near = np.isfinite(node_gap)
    sources = np.concatenate([np.flatnonzero(on_truck), off[near]])
    source_cost = np.concatenate([np.zeros(int(on_truck.sum())), node_gap[near]])
    cost, nearest = multi_source_dijkstra(graph, sources, source_costs=source_cost)
    # No truck street at all (a scenario with nothing passable): every node is unreached.
    mouth_of_node = (
        np.where(nearest >= 0, sources[np.maximum(nearest, 0)], -1)
        if len(sources)
        else np.full(topo.n_nodes, -1, dtype=np.int64)
    )
    is_source = np.zeros(topo.n_nodes, dtype=bool)
    is_source[sources] = True
    tree = path_tree(topo, cost, width_m, is_source=is_source)
    return HoseNetwork(cost=cost, mouth_of_node=mouth_of_node, on_truck=on_truck, tree=tree)


@dataclass(frozen=True)
class DirectAccess:
    """Per building: the straight gap to the nearest truck street, and that street's line."""

    gap_m: np.ndarray
    line: np.ndarray


@dataclass(frozen=True)
class BuildingHose:
    """Per building: hose distance, its access node and edge, and how it is reached."""

    distance_m: np.ndarray
    end_node: np.ndarray
    on_truck_edge: np.ndarray
    direct: np.ndarray
    bottleneck_m: np.ndarray

    def deep(self, reach_m: float) -> np.ndarray:
        """Boolean per building: beyond ``reach_m`` of hose (or unreachable)."""
        return np.asarray(~(self.distance_m <= reach_m))


def direct_access_to(
    bgeoms: np.ndarray,
    truck_lines: np.ndarray,
    *,
    candidates: np.ndarray,
    cfg: AccessConfig,
    near: NearLines | None = None,
    line_keep: np.ndarray | None = None,
    obstacle_tree: shapely.STRtree | None = None,
) -> DirectAccess:
    """Link the ``candidates`` buildings straight to ``truck_lines`` (others get ``inf``).

    See :func:`direct_truck_access`. ``near`` (pairs of ``bgeoms`` within
    ``direct_access_max_m`` of a pool of lines, see :class:`NearLines`) with ``line_keep``
    (``truck_lines`` is ``near.lines[line_keep]``) replaces the nearest-street search;
    ``obstacle_tree`` is ``STRtree(bgeoms)`` when given.
    """
    gap = np.full(len(bgeoms), np.inf)
    line = np.full(len(bgeoms), -1, dtype=np.int64)
    nearest = None
    if near is not None and line_keep is not None:
        nearest = near.nearest(candidates, line_keep)
    gap[candidates], line[candidates] = direct_truck_access(
        bgeoms[candidates],
        truck_lines,
        obstacles=bgeoms,
        self_index=candidates,
        max_distance_m=cfg.direct_access_max_m,
        trim_m=cfg.frontage_tolerance_m,
        nearest=nearest,
        obstacle_tree=obstacle_tree,
    )
    return DirectAccess(gap, line)


def direct_access_runs(
    bgeoms: np.ndarray,
    near: NearLines,
    runs: list[tuple[np.ndarray, np.ndarray]],
    *,
    cfg: AccessConfig,
    obstacle_tree: shapely.STRtree,
) -> list[DirectAccess]:
    """:func:`direct_access_to` for several runs at once, each link tested once.

    Parameters
    ----------
    bgeoms
        Footprints (``near.geoms``).
    near
        Pairs of ``bgeoms`` within ``direct_access_max_m`` of a pool of lines.
    runs
        Per run, ``(candidates, line_keep)``: the footprints linked and the pool lines that
        are the run's truck streets.
    cfg
        The ``access`` section (``frontage_tolerance_m``).
    obstacle_tree
        ``STRtree(bgeoms)``.

    Returns
    -------
    list of DirectAccess
        One per run, equal to ``direct_access_to(bgeoms, near.lines[line_keep],
        candidates=candidates, cfg=cfg, near=near, line_keep=line_keep, ...)``: a footprint
        whose nearest truck street (and its distance) is the same in several runs has its
        straight link drawn and tested against the other footprints once.
    """
    found = []
    for candidates, line_keep in runs:
        row, line, d = near.nearest(candidates, line_keep)
        found.append((candidates[row], np.flatnonzero(line_keep)[line], d, line))
    b_all = np.concatenate([f[0] for f in found]).astype(np.int64)
    line_all = np.concatenate([f[1] for f in found]).astype(np.int64)
    d_all = np.concatenate([f[2] for f in found])
    # one link per distinct (footprint, line, distance)
    order = np.lexsort((d_all.view(np.int64), b_all * len(near.lines) + line_all))
    new = np.ones(len(order), dtype=bool)
    new[1:] = (
        (np.diff(b_all[order]) != 0)
        | (np.diff(line_all[order]) != 0)
        | (np.diff(d_all.view(np.int64)[order]) != 0)
    )
    first = order[new]
    group = np.empty(len(order), dtype=np.int64)
    group[order] = np.cumsum(new) - 1
    blocked = blocked_links(
        bgeoms[b_all[first]], near.lines[line_all[first]], d_all[first],
        tree=obstacle_tree, self_index=b_all[first], trim_m=cfg.frontage_tolerance_m,
    )[group]  # fmt: skip
    out = []
    start = 0
    for b, _, d, line in found:
        ok = ~blocked[start : start + len(b)]
        start += len(b)
        gap = np.full(len(bgeoms), np.inf)
        link_line = np.full(len(bgeoms), -1, dtype=np.int64)
        gap[b[ok]] = d[ok]
        link_line[b[ok]] = line[ok]
        out.append(DirectAccess(gap, link_line))
    return out


def building_hose(
    snap: Snap,
    hose: HoseNetwork,
    topo: Topology,
    *,
    truck_connected: np.ndarray,
    direct: DirectAccess,
    truck_line_width_m: np.ndarray,
    width_m: np.ndarray,
) -> BuildingHose:
    """Hose distance from the truck network to each building's access spot.

    Parameters
    ----------
    snap
        Each footprint's access spot on its nearest street (see :func:`frontage_snap`).
    hose
        From :func:`hose_network`.
    topo
        The street graph.
    truck_connected
        Boolean per directed edge: on the truck network.
    direct
        Straight links to truck streets (:func:`direct_access_to`); a link counts where it is
        shorter than the walk.
    truck_line_width_m
        Width of each line ``direct.line`` indexes.
    width_m
        Width per directed edge.

    Returns
    -------
    BuildingHose
        A building on a truck street is as far as its gap to the centreline; otherwise the
        walk along its street to the nearer reached end plus the gap, or the straight link.
    """
    dist = point_costs(hose.cost, snap, topo.u, topo.v)
    e = np.maximum(snap.edge, 0)
    on_truck_edge = (snap.edge >= 0) & truck_connected[e]
    direct_gap = np.where(on_truck_edge, np.inf, direct.gap_m)
    # A building with neither a street path nor a straight link (both infinite) is not
    # "direct": it is unreached, and it has no truck line to take a width from.
    is_direct = ~on_truck_edge & np.isfinite(direct_gap) & (direct_gap <= dist)
    dist = np.where(on_truck_edge, snap.gap_m, np.fmin(dist, direct_gap))
    via_u = hose.cost[topo.u[e]] + snap.to_u_m <= hose.cost[topo.v[e]] + snap.to_v_m
    end = np.where(snap.edge >= 0, np.where(via_u, topo.u[e], topo.v[e]), -1)
    bott_node = hose.tree.bottleneck_m[np.maximum(end, 0)]
    bottleneck = np.where(on_truck_edge, width_m[e], np.fmin(width_m[e], bott_node))
    bottleneck[is_direct] = truck_line_width_m[direct.line[is_direct]]
    bottleneck[~np.isfinite(dist)] = np.nan  # no path, so no narrowest point on it
    return BuildingHose(
        distance_m=dist,
        end_node=end,
        on_truck_edge=on_truck_edge,
        direct=is_direct,
        bottleneck_m=bottleneck,
    )
