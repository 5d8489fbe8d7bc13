"""Shortest paths on the street graph with ``scipy.sparse.csgraph``: one multi-source pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from pipeline._errors import ValidationError
from pipeline.parallel import blocks, map_chunks, ready_tree

if TYPE_CHECKING:
    import geopandas as gpd


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
    #: A lower bound on the distance to the second nearest edge (equal to ``gap_m`` when
    #: unknown or tied); ``None`` when not computed.
    runner_up_m: np.ndarray | None = None


#: Distances closer than this (m) count as equal when a snap is reused on other lines: far
#: above the rounding of a distance to a reversed or re-read line, far below any real gap.
SAME_DISTANCE_M = 1e-6


#: Search radii (m) tried in turn by :func:`nearest_lines` before the general nearest query;
#: they change only how fast the answer comes, never the answer.
_NEAR_ROUNDS_M = (4.0, 16.0, 64.0)
#: Distances (pairs) and nearest queries (geometries) per thread chunk at least.
_CHUNK_PAIRS = 200_000
_CHUNK_QUERIES = 20_000


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``shapely.distance(a, b)`` in chunks over the thread pool (same values)."""
    parts = map_chunks(
        lambda s, e: shapely.distance(a[s:e], b[s:e]), len(a), min_chunk=_CHUNK_PAIRS
    )
    return np.concatenate(parts) if len(parts) > 1 else np.asarray(parts[0], dtype=float)


def query_nearest(
    tree: shapely.STRtree, geoms: np.ndarray, max_distance_m: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest tree geometry of each geometry, in chunks over the thread pool.

    Returns
    -------
    geom, line, distance
        One match per geometry within reach (positions in ``geoms``, ascending): among tree
        geometries at the very same nearest distance, the lowest tree position (the rule of
        :func:`nearest_of_pairs`), not whichever the tree happens to visit first.
    """
    ready_tree(tree)  # built before the threads query it

    def part(start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        (p, ln), d = tree.query_nearest(
            geoms[start:stop], max_distance=max_distance_m, return_distance=True,
            all_matches=True,
        )  # fmt: skip
        order = np.lexsort((ln, d, p))
        p, ln, d = p[order], ln[order], d[order]
        pick, _ = nearest_of_pairs(p, d)
        return p[pick] + start, ln[pick], d[pick]

    parts = map_chunks(part, len(geoms), min_chunk=_CHUNK_QUERIES)
    return (
        np.concatenate([x[0] for x in parts]),
        np.concatenate([x[1] for x in parts]),
        np.concatenate([x[2] for x in parts]),
    )


def pairs_within(
    geoms: np.ndarray, tree: shapely.STRtree, distance_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (geometry, tree geometry) pair at most ``distance_m`` apart, with its distance.

    Returns
    -------
    geom, item, distance
        Sorted by geometry, then distance, then item.

    Notes
    -----
    The candidates come from the envelopes grown by ``distance_m`` (two geometries that close
    have envelopes that close), then one vectorised distance per candidate: several times
    faster than ``query(predicate="dwithin")`` or ``query_nearest`` on footprints.
    """
    b = shapely.bounds(geoms).reshape(-1, 4)
    boxes = shapely.box(b[:, 0] - distance_m, b[:, 1] - distance_m,
                        b[:, 2] + distance_m, b[:, 3] + distance_m)  # fmt: skip
    g, item = tree.query(boxes)
    d = distances(geoms[g], tree.geometries[item])
    ok = d <= distance_m
    g, item, d = g[ok], item[ok], d[ok]
    order = np.lexsort((item, d, g))
    return g[order], item[order], d[order]


def nearest_of_pairs(geom: np.ndarray, distance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pick each geometry's nearest pair among pairs sorted by geometry, distance, then item.

    Returns
    -------
    pick, tied
        Boolean per pair: the geometry's nearest pair (of several at the very same distance,
        the one with the lowest item: a fixed rule, whatever the index's inner order); and
        the geometries whose two nearest pairs are at the same distance.
    """
    if len(geom) == 0:
        return np.zeros(0, dtype=bool), np.empty(0, dtype=geom.dtype)
    first = np.r_[True, geom[1:] != geom[:-1]]
    tie = np.r_[False, (geom[1:] == geom[:-1]) & (distance[1:] == distance[:-1])]
    return first, np.unique(geom[tie])


def nearest_lines(
    geoms: np.ndarray,
    tree: shapely.STRtree,
    *,
    max_distance_m: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest tree geometry of each geometry (of equally near ones, the lowest position).

    Parameters
    ----------
    geoms
        Shapely geometries (missing or empty ones get no match).
    tree
        Index of the lines searched.
    max_distance_m
        Geometries farther than this from every line get no match.

    Returns
    -------
    geom, line, distance
        Ascending geometry positions, line positions in the tree, distances: the match of
        ``tree.query_nearest(geoms, max_distance=max_distance_m, return_distance=True,
        all_matches=True)`` with the lowest line position.

    Notes
    -----
    Footprints mostly lie a few metres from a street: a search within 4, then 16, then 64 m
    (:func:`pairs_within`) settles almost all of them; the rest go through
    :func:`query_nearest`. Ties (a house facing a junction is equally near to every street
    that meets there) take the lowest line position, so the answer never depends on the
    tree's inner order, and a tie costs no second search.
    """
    g, line, dist, _ = nearest_lines_runner_up(geoms, tree, max_distance_m=max_distance_m)
    return g, line, dist


def nearest_lines_runner_up(
    geoms: np.ndarray,
    tree: shapely.STRtree,
    *,
    max_distance_m: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`nearest_lines`, with a lower bound on each match's second nearest distance.

    Returns
    -------
    geom, line, distance, runner_up
        As :func:`nearest_lines`; ``runner_up`` the distance to the second nearest line, or
        the search radius when no other line is within it (a lower bound), or ``distance``
        itself for ties and for matches settled by :func:`query_nearest` (unknown).
    """
    geoms = np.asarray(geoms, dtype=object)
    cap = np.inf if max_distance_m is None else float(max_distance_m)
    todo = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for radius in _NEAR_ROUNDS_M:
        if len(todo) == 0:
            break
        r = min(radius, cap)
        g, ln, d = pairs_within(geoms[todo], tree, r)
        pick, _ = nearest_of_pairs(g, d)
        nxt = np.flatnonzero(pick) + 1
        has_second = nxt < len(g)
        has_second[has_second] = g[nxt[has_second]] == g[pick][has_second]
        second = np.full(len(nxt), r)
        second[has_second] = d[nxt[has_second]]  # a tie: its own distance
        found.append((todo[g[pick]], ln[pick], d[pick], second))
        settled = np.zeros(len(todo), dtype=bool)
        settled[g] = True
        todo = todo[~settled]
        if r >= cap:  # nothing else within reach
            todo = todo[:0]
    if len(todo):
        p, ln, d = query_nearest(tree, geoms[todo], max_distance_m)
        found.append((todo[p], ln, d, d))
    if not found:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0)
    g = np.concatenate([f[0] for f in found]).astype(np.int64)
    order = np.argsort(g, kind="stable")
    line = np.concatenate([f[1] for f in found]).astype(np.int64)
    dist = np.concatenate([f[2] for f in found]).astype(float)
    second = np.concatenate([f[3] for f in found]).astype(float)
    return g[order], line[order], dist[order], second[order]


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
        edge from the snapped spot to the edge's first / last vertex; ``runner_up_m`` as
        :func:`nearest_lines_runner_up` (``inf`` where unsnapped).
    """
    lines = edges.geometry.to_numpy()
    n = len(points)
    snap = _unsnapped(n)
    if n == 0 or len(lines) == 0:
        return snap
    pt_idx, ln_idx, dists, second = nearest_lines_runner_up(
        np.asarray(points), shapely.STRtree(lines), max_distance_m=max_distance_m
    )
    assert snap.runner_up_m is not None  # noqa: S101 - set by _unsnapped
    snap.runner_up_m[pt_idx] = second
    _fill(snap, pt_idx, np.asarray(points)[pt_idx], lines, ln_idx, dists)
    return snap


def _unsnapped(n: int) -> Snap:
    """Return a snap of ``n`` points, none on an edge yet."""
    return Snap(
        np.full(n, -1, dtype=np.int64), np.full(n, np.inf), np.full(n, np.inf),
        np.full(n, np.inf), np.full(n, np.inf),
    )  # fmt: skip


def _fill(  # noqa: PLR0917 - private helper, arrays in one order
    snap: Snap, rows: np.ndarray, geoms: np.ndarray, lines: np.ndarray, line: np.ndarray,
    gap: np.ndarray,
) -> None:  # fmt: skip
    """Write the edge, gap and along-edge distances of ``rows`` (``geoms`` snapped to ``line``)."""
    snap.edge[rows] = line
    snap.gap_m[rows] = gap
    hit_lines = lines[line]

    def spots(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        part = hit_lines[start:stop]
        nearest_on_line = shapely.shortest_line(geoms[start:stop], part)
        along = shapely.line_locate_point(part, shapely.get_point(nearest_on_line, -1))
        return along, shapely.length(part) - along

    parts = map_chunks(spots, len(rows), min_chunk=_CHUNK_QUERIES)
    snap.to_u_m[rows] = np.concatenate([p[0] for p in parts])
    snap.to_v_m[rows] = np.concatenate([p[1] for p in parts])


def snap_by_street(
    geoms: np.ndarray,
    lines: np.ndarray,
    prior: Snap,
    prior_line: np.ndarray,
    *,
    max_distance_m: float | None = None,
    loose: np.ndarray | None = None,
) -> Snap:
    """:func:`snap_to_edges` on ``lines``, reusing a snap of the same geometries to all streets.

    Parameters
    ----------
    geoms
        The geometries (building footprints).
    lines
        The lines to snap to: whole streets of the prior snap (either direction, any subset),
        plus possibly pieces of streets (``loose``).
    prior
        The snap of ``geoms`` to all streets (with ``runner_up_m``): the network stage's.
    prior_line
        Per geometry, a position in ``lines`` of its prior nearest street (either direction),
        ``-1`` when that street is not among ``lines`` (whole).
    max_distance_m
        As in :func:`snap_to_edges`.
    loose
        Positions of lines that are pieces of streets (not whole streets): checked directly.

    Returns
    -------
    Snap
        Exactly ``snap_to_edges(geoms, lines, max_distance_m=...)`` (``runner_up_m`` unset).

    Notes
    -----
    A geometry whose prior nearest street is nearer than every other street by more than
    :data:`SAME_DISTANCE_M` has, among ``lines``, the copies of that street as its only
    candidates (every other line is a street at least that much farther, or a piece of one):
    the nearest copy wins (of copies at the same distance, the lowest position), as the
    search would pick it. Geometries farther than
    ``max_distance_m`` from every street are farther from every line. The rest (ties, near
    ties, streets missing from ``lines``) are snapped again with :func:`snap_to_edges`.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    out = _unsnapped(n)
    out = Snap(out.edge, out.gap_m, out.to_u_m, out.to_v_m)
    if n == 0 or len(lines) == 0:
        return out
    gap = prior.gap_m
    second = prior.runner_up_m if prior.runner_up_m is not None else gap
    cap = np.inf if max_distance_m is None else float(max_distance_m)
    beyond = np.isfinite(gap) & (gap > cap + SAME_DISTANCE_M)
    clear = (prior.edge >= 0) & (second - gap > SAME_DISTANCE_M) & (gap <= cap - SAME_DISTANCE_M)
    clear &= prior_line >= 0
    if loose is not None and len(loose) and clear.any():
        # a piece of a street nearer than the runner-up: leave the geometry to the search
        rows = np.flatnonzero(clear)
        reach = float(np.max(second[rows])) + SAME_DISTANCE_M
        g, _, d = pairs_within(geoms[rows], shapely.STRtree(lines[loose]), reach)
        near = d <= second[rows[g]] + SAME_DISTANCE_M
        clear[rows[g[near]]] = False
    rows = np.flatnonzero(clear)
    copies = Copies.of(lines)
    pair_row, pair_line = copies.expand(np.arange(len(rows)), copies.code[prior_line[rows]])
    d = distances(geoms[rows[pair_row]], lines[pair_line])
    srt = np.lexsort((pair_line, d, pair_row))
    pr, pl, d = pair_row[srt], pair_line[srt], d[srt]
    pick, _ = nearest_of_pairs(pr, d)  # copies at the same distance: the lowest position
    redo = np.ones(n, dtype=bool)
    redo[rows] = False
    redo[beyond] = False
    redo &= ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    redo_rows = np.flatnonzero(redo)
    g, ln, dist = nearest_copies(geoms[redo_rows], lines, copies, max_distance_m=max_distance_m)
    ok = np.r_[rows[pr[pick]], redo_rows[g]]
    _fill(out, ok, geoms[ok], lines, np.r_[pl[pick], ln], np.r_[d[pick], dist])
    return out


@dataclass(frozen=True)
class Copies:
    """Lines grouped by street: copies of one street (both directions, duplicates) share a code.

    ``code`` per line; ``rep`` the first line of each code; ``order``, ``start`` and ``count``
    list the lines of each code (``order[start[c] : start[c] + count[c]]``, ascending).
    """

    code: np.ndarray
    rep: np.ndarray
    order: np.ndarray
    start: np.ndarray
    count: np.ndarray

    @classmethod
    def of(cls, lines: np.ndarray) -> Copies:
        """Group ``lines`` by their normalised geometry (the same street drawn either way)."""
        code, uniques = pd.factorize(shapely.to_wkb(shapely.normalize(lines)))
        code = np.asarray(code, dtype=np.int64)
        order = np.argsort(code, kind="stable")
        start = np.searchsorted(code[order], np.arange(len(uniques)))
        count = np.bincount(code, minlength=len(uniques))
        return cls(code, order[start], order, start, count)

    def expand(self, row: np.ndarray, code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (row, line) pair for (row, code) pairs: one per copy of the code's street."""
        k = self.count[code]
        pair_row = np.repeat(row, k)
        offset = np.arange(len(pair_row)) - np.repeat(np.cumsum(k) - k, k)
        return pair_row, self.order[np.repeat(self.start[code], k) + offset]


@dataclass(frozen=True)
class _Segments:
    """The straight pieces of lines: each piece's envelope and the line it belongs to."""

    box: np.ndarray
    line: np.ndarray

    @classmethod
    def of(cls, lines: np.ndarray) -> _Segments:
        xy, owner = shapely.get_coordinates(lines, return_index=True)
        at = np.flatnonzero(owner[1:] == owner[:-1])
        x0, y0, x1, y1 = xy[at, 0], xy[at, 1], xy[at + 1, 0], xy[at + 1, 1]
        box = np.column_stack(
            [np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1), np.maximum(y0, y1)]
        )
        return cls(box, owner[at].astype(np.int64))

    def tree(self, grow: float) -> shapely.STRtree:
        """Return an index of the pieces' envelopes grown by ``grow``, built (safe to share)."""
        b = self.box
        return ready_tree(
            shapely.STRtree(
                shapely.box(b[:, 0] - grow, b[:, 1] - grow, b[:, 2] + grow, b[:, 3] + grow)
            )
        )


def _first_of_runs(keys: np.ndarray) -> np.ndarray:
    """Boolean: the first element of each run of equal consecutive ``keys``."""
    return np.r_[True, keys[1:] != keys[:-1]] if len(keys) else np.zeros(0, dtype=bool)


def _nearest_within(  # noqa: PLR0917 - private helper, arrays in one order
    geoms: np.ndarray,
    lines: np.ndarray,
    copies: Copies,
    pieces: _Segments,
    tree: shapely.STRtree,
    radius_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the nearest line within ``radius_m`` of each geometry (see nearest_copies)."""
    eps = SAME_DISTANCE_M
    g, s = tree.query(geoms)
    order = np.argsort(g, kind="stable")
    g, s = g[order], s[order]
    gb = shapely.bounds(geoms).reshape(-1, 4)[g]
    pb = pieces.box[s]
    dx = np.maximum(np.maximum(pb[:, 0] - gb[:, 2], gb[:, 0] - pb[:, 2]), 0.0)
    dy = np.maximum(np.maximum(pb[:, 1] - gb[:, 3], gb[:, 1] - pb[:, 3]), 0.0)
    lb = np.hypot(dx, dy)  # a lower bound of the distance to the piece's line
    del gb, pb, dx, dy
    keep = lb <= radius_m + eps
    g, c, lb = g[keep], pieces.line[s[keep]], lb[keep]
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    if len(g) == 0:
        return empty
    # An upper bound per geometry: its distance to the street of its lowest bound.
    starts = np.flatnonzero(_first_of_runs(g))
    counts = np.diff(np.r_[starts, len(g)])
    low = np.repeat(np.minimum.reduceat(lb, starts), counts)
    at_low = np.flatnonzero(lb == low)
    probe = at_low[_first_of_runs(g[at_low])]
    rep = lines[copies.rep]
    upper = shapely.distance(geoms[g[probe]], rep[c[probe]])
    bound = np.repeat(np.minimum(upper, radius_m), counts)
    # Every street whose bound is within that: one of them is the nearest.
    pick = lb <= bound + eps
    key = np.unique(g[pick].astype(np.int64) * len(rep) + c[pick])
    kg, kc = key // len(rep), key % len(rep)
    kd = shapely.distance(geoms[kg], rep[kc])
    # Copies of the streets about as near as the nearest, measured exactly.
    near = kd <= radius_m + eps
    kg, kc, kd = kg[near], kc[near], kd[near]
    srt = np.lexsort((kd, kg))
    kg, kc, kd = kg[srt], kc[srt], kd[srt]
    first = _first_of_runs(kg)
    best = kd[first][np.cumsum(first) - 1]
    close = kd <= best + eps
    pg, pl = copies.expand(kg[close], kc[close])
    pd_ = shapely.distance(geoms[pg], lines[pl])
    within = pd_ <= radius_m
    pg, pl, pd_ = pg[within], pl[within], pd_[within]
    srt = np.lexsort((pl, pd_, pg))
    pg, pl, pd_ = pg[srt], pl[srt], pd_[srt]
    chosen, _ = nearest_of_pairs(pg, pd_)
    return pg[chosen], pl[chosen], pd_[chosen]


#: Geometries per block of :func:`nearest_copies` (bounds the pairs held at once).
_NEAREST_BLOCK = 50_000


def _nearest_round(  # noqa: PLR0917 - private helper, arrays in one order
    geoms: np.ndarray,
    rows: np.ndarray,
    lines: np.ndarray,
    copies: Copies,
    pieces: _Segments,
    radius_m: float,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`_nearest_within` of ``geoms[rows]`` in blocks over the thread pool."""
    tree = pieces.tree(radius_m + SAME_DISTANCE_M)  # a superset of the pieces within reach

    def part(start: int, stop: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        out = []
        for a, b in blocks(start, stop, _NEAREST_BLOCK):
            g, ln, d = _nearest_within(geoms[rows[a:b]], lines, copies, pieces, tree, radius_m)
            out.append((rows[a:b][g], ln, d))
        return out

    chunks = map_chunks(part, len(rows), min_chunk=_NEAREST_BLOCK)
    return [h for chunk in chunks for h in chunk]


def nearest_copies(
    geoms: np.ndarray,
    lines: np.ndarray,
    copies: Copies,
    *,
    max_distance_m: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`nearest_lines` on ``lines``, measuring few streets, each once for all its copies.

    Parameters
    ----------
    geoms
        Shapely geometries (missing or empty ones get no match).
    lines
        The lines searched.
    copies
        ``Copies.of(lines)``.
    max_distance_m
        Geometries farther than this from every line get no match.

    Returns
    -------
    geom, line, distance
        The same as ``nearest_lines(geoms, STRtree(lines), max_distance_m=...)``: the nearest
        line within reach, of equally near ones the lowest position.

    Notes
    -----
    Within a radius (``max_distance_m`` itself when it is at most 64 m, else the rounds of
    :func:`nearest_lines`, then :func:`query_nearest`), every straight piece of a street
    whose envelope comes within the radius of the geometry's envelope gives a lower bound of
    the distance (envelope to envelope). The street with the lowest bound is measured: an
    upper bound of the nearest distance; only streets whose bound is within it can be the
    nearest, and they are measured, one copy per street (a street drawn both ways is two
    lines). Copies of a street are the same points, their distances differ by rounding only:
    the copies of every street within :data:`SAME_DISTANCE_M` of the nearest are measured
    exactly and the nearest line chosen among them. Geometries in blocks over the thread pool.
    """
    geoms = np.asarray(geoms, dtype=object)
    cap = np.inf if max_distance_m is None else float(max_distance_m)
    todo = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pieces = _Segments.of(lines[copies.rep])
    radii = (cap,) if cap <= _NEAR_ROUNDS_M[-1] else _NEAR_ROUNDS_M
    for radius in radii:
        if len(todo) == 0 or len(pieces.line) == 0:
            break
        r = min(radius, cap)
        hits = _nearest_round(geoms, todo, lines, copies, pieces, r)
        found.extend(hits)
        settled = np.zeros(len(geoms), dtype=bool)
        for h in hits:
            settled[h[0]] = True
        todo = todo[~settled[todo]]
        if r >= cap:  # nothing else within reach
            todo = todo[:0]
    if len(todo):
        p, ln, d = query_nearest(shapely.STRtree(lines), geoms[todo], max_distance_m)
        found.append((todo[p], ln, d))
    if not found:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    g = np.concatenate([f[0] for f in found]).astype(np.int64)
    order = np.argsort(g, kind="stable")
    line = np.concatenate([f[1] for f in found]).astype(np.int64)
    dist = np.concatenate([f[2] for f in found]).astype(float)
    return g[order], line[order], dist[order]


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
