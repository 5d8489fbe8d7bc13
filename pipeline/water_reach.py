"""Network distance from water sources to every point of the streets, buildings and candidates."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from tqdm import tqdm

from pipeline._errors import ValidationError
from pipeline.routing import (
    EdgeArrays,
    Snap,
    multi_source_dijkstra,
    snap_by_street,
    snap_to_edges,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segments:
    """Street segments (one per street, not per direction) as arrays over node positions.

    Hoses are laid along any street in either direction, so distances use each segment both
    ways; ``truck`` marks segments a fire truck can use and reach from a station.
    """

    node_ids: np.ndarray
    node_xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    geometry: np.ndarray
    truck: np.ndarray

    def __len__(self) -> int:
        """Return the number of segments."""
        return len(self.u)

    def csr(self, mask: np.ndarray | None = None) -> sparse.csr_matrix:
        """Return the symmetric length-weighted adjacency (only ``mask`` segments if given)."""
        arrays = EdgeArrays(
            node_ids=self.node_ids,
            u=np.r_[self.u, self.v],
            v=np.r_[self.v, self.u],
            weight=np.r_[self.length_m, self.length_m],
        )
        return arrays.csr(None if mask is None else np.r_[mask, mask])

    def gdf(self, crs: object) -> gpd.GeoDataFrame:
        """Return the segments as a GeoDataFrame (row ``i`` is segment ``i``)."""
        return gpd.GeoDataFrame(geometry=self.geometry, crs=crs)


def segments_from_edges(
    nodes: pd.DataFrame, edges: gpd.GeoDataFrame, truck_edge: np.ndarray
) -> tuple[Segments, pd.Index]:
    """Return one segment per street (the forward edges) with a truck flag from either direction.

    Parameters
    ----------
    nodes
        Graph nodes indexed by node id, with ``x, y``.
    edges
        Directed edges indexed by ``(u, v, key)`` with ``length``, ``reversed`` and geometry;
        both directions of every street are present (as the ``ingest`` stage writes them).
    truck_edge
        Boolean per edge: usable by a fire truck and connected to the truck network.

    Returns
    -------
    segments, index
        The segments and the ``(u, v, key)`` index of the forward edge each one comes from.
    """
    truck_edge = np.asarray(truck_edge, dtype=bool)
    u_id = edges.index.get_level_values(0).to_numpy()
    v_id = edges.index.get_level_values(1).to_numpy()
    lo, hi = np.minimum(u_id, v_id), np.maximum(u_id, v_id)
    pair_truck = (
        pd.Series(truck_edge).groupby([lo, hi]).transform("any").to_numpy(dtype=bool)
        if len(edges)
        else truck_edge
    )
    forward = ~edges["reversed"].to_numpy(dtype=bool)
    node_index = pd.Index(nodes.index)
    u = node_index.get_indexer(u_id[forward])
    v = node_index.get_indexer(v_id[forward])
    if (u < 0).any() or (v < 0).any():
        msg = "graph edges: an edge ends at a node that is not in the node table"
        raise ValidationError(msg)
    segs = Segments(
        node_ids=node_index.to_numpy(),
        node_xy=nodes[["x", "y"]].to_numpy(dtype=float),
        u=u.astype(np.int64),
        v=v.astype(np.int64),
        length_m=edges["length"].to_numpy(dtype=float)[forward],
        geometry=edges.geometry.to_numpy()[forward],
        truck=pair_truck[forward],
    )
    return segs, edges.index[forward]


@dataclass(frozen=True)
class Spots:
    """Where sources meet the streets: segment, distance along it from its ``u`` end, source."""

    seg: np.ndarray
    along_m: np.ndarray
    source: np.ndarray
    cost: np.ndarray

    @classmethod
    def empty(cls) -> Spots:
        """Return no spots."""
        return cls(np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64), np.empty(0))

    @classmethod
    def concat(cls, parts: list[Spots]) -> Spots:
        """Return the spots of every part, in order."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.seg for p in parts]),
            np.concatenate([p.along_m for p in parts]),
            np.concatenate([p.source for p in parts]),
            np.concatenate([p.cost for p in parts]),
        )

    def subset(self, keep: np.ndarray) -> Spots:
        """Return the spots whose ``keep`` flag is set."""
        return Spots(self.seg[keep], self.along_m[keep], self.source[keep], self.cost[keep])

    def with_cost(self, cost: float) -> Spots:
        """Return the same spots, each starting at ``cost``."""
        return Spots(self.seg, self.along_m, self.source, np.full(len(self.seg), float(cost)))


def spots_at_points(
    points: np.ndarray, segs: Segments, *, mask: np.ndarray, max_distance_m: float
) -> Spots:
    """Snap each point to its nearest ``mask`` segment within ``max_distance_m``.

    Parameters
    ----------
    points
        Shapely points (``source`` of each spot is its position in this array).
    segs
        The street segments.
    mask
        Segments allowed (for example truck streets).
    max_distance_m
        Points farther than this from every allowed segment get no spot.

    Returns
    -------
    Spots
    """
    allowed = np.flatnonzero(mask)
    if len(points) == 0 or len(allowed) == 0:
        return Spots.empty()
    snap = snap_to_edges(
        np.asarray(points),
        gpd.GeoDataFrame(geometry=segs.geometry[allowed]),
        max_distance_m=max_distance_m,
    )
    ok = snap.edge >= 0
    idx = np.flatnonzero(ok)
    return Spots(allowed[snap.edge[ok]], snap.to_u_m[ok], idx, np.zeros(len(idx)))


def spots_near_bodies(
    bodies: np.ndarray, segs: Segments, *, mask: np.ndarray, distance_m: float
) -> Spots:
    """Return an access spot on every ``mask`` segment that comes within ``distance_m`` of a body.

    A river or a lake can be reached from many streets: each street that comes close enough to
    the bank gives the body one spot, at the street's point nearest the water.

    Parameters
    ----------
    bodies
        Shapely polygons or lines (``source`` of each spot is its position in this array).
    segs
        The street segments.
    mask
        Segments allowed (truck streets).
    distance_m
        Largest gap between the street and the bank.

    Returns
    -------
    Spots
    """
    allowed = np.flatnonzero(mask)
    if len(bodies) == 0 or len(allowed) == 0:
        return Spots.empty()
    lines = segs.geometry[allowed]
    tree = shapely.STRtree(lines)
    body_idx, line_idx = tree.query(np.asarray(bodies), predicate="dwithin", distance=distance_m)
    hit = lines[line_idx]
    on_street = shapely.get_point(shapely.shortest_line(hit, np.asarray(bodies)[body_idx]), 0)
    along = shapely.line_locate_point(hit, on_street)
    return Spots(
        allowed[line_idx],
        np.asarray(along, dtype=float),
        body_idx.astype(np.int64),
        np.zeros(len(body_idx)),
    )


@dataclass(frozen=True)
class Envelope:
    """Least network cost along every segment, as anchors (position, cost) sorted per segment.

    Between two neighbouring anchors the cost is ``min(c_i + (x - p_i), c_j + (p_j - x))``:
    anchors are each segment's two ends (the node costs) and the sources' spots on it.
    """

    seg: np.ndarray
    pos: np.ndarray
    cost: np.ndarray
    source: np.ndarray
    n_segments: int

    def at(self, seg: np.ndarray, along_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the least cost at points given by segment and distance from its ``u`` end.

        Parameters
        ----------
        seg
            Segment of each point (``-1``: not on the network, cost ``inf``).
        along_m
            Distance along the segment from its ``u`` end.

        Returns
        -------
        cost, source
            ``source`` is the source index behind the cost (``-1`` where unreached).
        """
        seg = np.asarray(seg, dtype=np.int64)
        cost = np.full(len(seg), np.inf)
        src = np.full(len(seg), -1, dtype=np.int64)
        ok = seg >= 0
        if not ok.any() or len(self.seg) == 0:
            return cost, src
        scale = float(self.pos.max(initial=0.0)) + 1.0
        keys = self.seg * scale + self.pos
        q = seg[ok] * scale + along_m[ok]
        right = np.searchsorted(keys, q, side="left")
        left = np.clip(right - 1, 0, len(keys) - 1)
        right = np.clip(right, 0, len(keys) - 1)
        via_left = np.where(
            self.seg[left] == seg[ok],
            self.cost[left] + np.abs(along_m[ok] - self.pos[left]),
            np.inf,
        )
        via_right = np.where(
            self.seg[right] == seg[ok],
            self.cost[right] + np.abs(self.pos[right] - along_m[ok]),
            np.inf,
        )
        pick_left = via_left <= via_right
        cost[ok] = np.minimum(via_left, via_right)
        src[ok] = np.where(pick_left, self.source[left], self.source[right])
        src[~np.isfinite(cost)] = -1
        return cost, src

    def segment_stats(self, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Return, per segment, the largest cost along it and the length within ``threshold``.

        Parameters
        ----------
        threshold
            Cost up to which a point counts as covered.

        Returns
        -------
        worst, covered_m
            ``worst`` is ``inf`` on segments no source reaches.
        """
        worst = np.full(self.n_segments, -np.inf)
        covered = np.zeros(self.n_segments)
        same = self.seg[1:] == self.seg[:-1]
        i = np.flatnonzero(same)
        ci, cj = self.cost[i], self.cost[i + 1]
        dp = self.pos[i + 1] - self.pos[i]
        both = np.isfinite(ci) & np.isfinite(cj)
        with np.errstate(invalid="ignore"):
            peak = np.where(both, (ci + cj + dp) / 2, np.fmin(ci, cj) + dp)
        reach = np.maximum(0.0, threshold - np.where(np.isfinite(ci), ci, np.inf))
        reach_j = np.maximum(0.0, threshold - np.where(np.isfinite(cj), cj, np.inf))
        part = np.minimum(dp, reach + reach_j)
        np.maximum.at(worst, self.seg[i], peak)
        np.add.at(covered, self.seg[i], part)
        worst[worst == -np.inf] = np.inf
        return worst, covered

    def reached(self, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the stretches of the segments within ``threshold``, merged per segment.

        Parameters
        ----------
        threshold
            Cost up to which a point counts as reached.

        Returns
        -------
        seg, start_m, end_m
            One row per maximal reached stretch, sorted by segment and start; positions are
            distances from the segment's ``u`` end (in the segments' ``length_m`` units).

        Notes
        -----
        Between two neighbouring anchors the cost is ``min(c_i + (x - p_i), c_j + (p_j - x))``,
        so the reached part is ``[p_i, p_i + (T - c_i)]`` and ``[p_j - (T - c_j), p_j]``
        clipped to ``[p_i, p_j]``: exact, and the same set :meth:`segment_stats` measures.
        """
        same = np.flatnonzero(self.seg[1:] == self.seg[:-1])
        seg, p_i, p_j = self.seg[same], self.pos[same], self.pos[same + 1]
        with np.errstate(invalid="ignore"):
            left = np.minimum(p_j, p_i + np.maximum(threshold - self.cost[same], 0.0))
            right = np.maximum(p_i, p_j - np.maximum(threshold - self.cost[same + 1], 0.0))
        ok_l = np.isfinite(self.cost[same]) & (self.cost[same] <= threshold) & (left > p_i)
        ok_r = np.isfinite(self.cost[same + 1]) & (self.cost[same + 1] <= threshold) & (right < p_j)
        s = np.r_[seg[ok_l], seg[ok_r]]
        a = np.r_[p_i[ok_l], right[ok_r]]
        b = np.r_[left[ok_l], p_j[ok_r]]
        if not len(s):
            return s.astype(np.int64), a.astype(float), b.astype(float)
        order = np.lexsort((a, s))
        s, a, b = s[order], a[order], b[order]
        reach = pd.Series(b).groupby(s).cummax().to_numpy()
        new = np.r_[True, (s[1:] != s[:-1]) | (a[1:] > reach[:-1] + 1e-9)]
        group = np.cumsum(new) - 1
        start = a[new]
        end = np.zeros(len(start))
        np.maximum.at(end, group, b)
        return s[new], start, end


def envelope(segs: Segments, node_cost: np.ndarray, node_src: np.ndarray, spots: Spots) -> Envelope:
    """Build the cost envelope of every segment from node costs and the sources' spots.

    Parameters
    ----------
    segs
        The street segments.
    node_cost, node_src
        Least cost and its source per node (from :func:`multi_source_dijkstra`, with sources
        already mapped to source indices).
    spots
        Source spots with their starting costs.

    Returns
    -------
    Envelope

    Notes
    -----
    Anchor costs are made consistent (no anchor costs more than a neighbour plus the distance
    between them) by a forward and a backward running minimum per segment, so the piecewise
    cost between neighbours is exact. An anchor lowered this way takes the source of no one
    (``-1``); with zero spot costs no anchor is ever lowered.
    """
    n = len(segs)
    seg = np.r_[np.arange(n), np.arange(n), spots.seg]
    pos = np.r_[np.zeros(n), segs.length_m, spots.along_m]
    cost = np.r_[node_cost[segs.u], node_cost[segs.v], spots.cost]
    src = np.r_[node_src[segs.u], node_src[segs.v], spots.source]
    order = np.lexsort((cost, pos, seg))
    seg, pos, cost, src = seg[order], pos[order], cost[order], src[order]
    fwd = pd.Series(cost - pos).groupby(seg).cummin().to_numpy() + pos
    once = np.minimum(cost, fwd)
    back = pd.Series((once + pos)[::-1]).groupby(seg[::-1]).cummin().to_numpy()[::-1]
    best = np.minimum(once, back - pos)
    lowered = best < cost - 1e-9
    src = np.where(lowered | ~np.isfinite(best), -1, src)
    return Envelope(seg, pos, best, src, n)


def source_envelope(segs: Segments, spots: Spots, *, mask: np.ndarray | None = None) -> Envelope:
    """Run one multi-source Dijkstra from the spots and return the cost envelope of every segment.

    Parameters
    ----------
    segs
        The street segments.
    spots
        Where the sources meet the streets.
    mask
        Segments the search may use (all by default).

    Returns
    -------
    Envelope
        Costs in metres along the streets; ``source`` indexes the sources behind the spots.
    """
    graph = segs.csr(mask)
    starts = np.r_[segs.u[spots.seg], segs.v[spots.seg]]
    offsets = np.r_[spots.along_m, segs.length_m[spots.seg] - spots.along_m]
    offsets = offsets + np.r_[spots.cost, spots.cost]
    node_cost, nearest = multi_source_dijkstra(graph, starts, source_costs=offsets)
    spot_src = np.r_[spots.source, spots.source]
    node_src = np.full(len(nearest), -1, dtype=np.int64)
    node_src[nearest >= 0] = spot_src[nearest[nearest >= 0]]
    if mask is not None:
        spots = spots.subset(mask[spots.seg])
    return envelope(segs, node_cost, node_src, spots)


def _row_entries(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the entries of CSR ``rows`` (in row order), and the row of each (0..)."""
    start = indptr[rows]
    count = indptr[rows + 1] - start
    owner = np.repeat(np.arange(len(rows)), count)
    first = np.cumsum(count) - count
    return np.arange(int(count.sum())) - first[owner] + start[owner], owner


def _distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` by sorting (cheaper than NumPy's hash on a tile's few thousand)."""
    values = np.sort(values)
    out: np.ndarray = values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values
    return out


def _local_graph(
    graph: sparse.csr_matrix, near: np.ndarray, local: np.ndarray
) -> sparse.csr_matrix:
    """Return the subgraph of ``graph`` on the nodes ``near`` (``local``: their new numbers)."""
    at, owner = _row_entries(graph.indptr, near)
    col = local[graph.indices[at]]
    keep = col >= 0
    indptr = np.r_[0, np.cumsum(np.bincount(owner[keep], minlength=len(near)))]
    return sparse.csr_matrix(
        (graph.data[at[keep]], col[keep], indptr), shape=(len(near), len(near))
    )


def candidate_coverage(
    segs: Segments,
    candidates: np.ndarray,
    demand_seg: np.ndarray,
    demand_along_m: np.ndarray,
    demand_gap_m: np.ndarray,
    *,
    reach_m: float,
    tile_m: float,
    progress: bool = False,
) -> sparse.csr_matrix:
    """Return which demand points each candidate node reaches within ``reach_m`` along the streets.

    Parameters
    ----------
    segs
        The street segments (all of them carry hoses).
    candidates
        Candidate node positions.
    demand_seg, demand_along_m, demand_gap_m
        Each demand point's segment, distance along it from ``u``, and gap to it.
    reach_m
        Largest network distance (plus gap) that counts as covered.
    tile_m
        Candidates are processed in square tiles of this size; each tile runs one bounded
        ``scipy.sparse.csgraph.dijkstra`` on the nodes within ``reach_m`` of the tile.
    progress
        Show a progress bar over tiles.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``len(candidates) x len(demand)`` boolean.

    Notes
    -----
    A path no longer than ``reach_m`` never leaves the disc of that radius around its start, so
    each tile's search on the nodes within ``reach_m`` of the tile's box is exact; memory stays
    bounded by one tile's candidates times its nearby nodes.
    """
    k, m = len(candidates), len(demand_seg)
    if k == 0 or m == 0:
        return sparse.csr_matrix((k, m), dtype=bool)
    graph = segs.csr()
    xy = segs.node_xy
    cxy = xy[candidates]
    tile = np.floor(cxy / tile_m).astype(np.int64)
    _, tile_id = np.unique(tile, axis=0, return_inverse=True)
    tile_id = tile_id.ravel()
    order = np.argsort(tile_id, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(tile_id[order]) != 0, True])
    by_x = np.argsort(xy[:, 0], kind="stable")
    sorted_x = xy[by_x, 0]
    ok = np.flatnonzero(demand_seg >= 0)
    d_u = segs.u[demand_seg[ok]]
    d_v = segs.v[demand_seg[ok]]
    to_u = demand_along_m[ok] + demand_gap_m[ok]
    to_v = segs.length_m[demand_seg[ok]] - demand_along_m[ok] + demand_gap_m[ok]
    # node -> demand points on a segment ending there (each tile reads only its own rows)
    incidence = sparse.csr_matrix(
        (np.ones(2 * len(ok), dtype=bool), (np.r_[d_u, d_v], np.tile(np.arange(len(ok)), 2))),
        shape=(len(xy), len(ok)),
    )
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    local = np.full(len(xy), -1, dtype=np.int64)
    for a, b in tqdm(
        itertools.pairwise(bounds),
        total=len(bounds) - 1,
        disable=not progress,
        desc="hydrant candidates",
    ):
        members = order[a:b]
        lo = cxy[members].min(axis=0) - reach_m
        hi = cxy[members].max(axis=0) + reach_m
        strip = by_x[np.searchsorted(sorted_x, lo[0]) : np.searchsorted(sorted_x, hi[0], "right")]
        near = strip[(xy[strip, 1] >= lo[1]) & (xy[strip, 1] <= hi[1])]
        local[near] = np.arange(len(near))
        sub = _local_graph(graph, near, local)
        dist = csgraph.dijkstra(
            sub, directed=True, indices=local[candidates[members]], limit=reach_m
        )
        dem = _distinct(incidence.indices[_row_entries(incidence.indptr, near)[0]])
        if len(dem):
            lu, lv = local[d_u[dem]], local[d_v[dem]]
            du = np.where(lu >= 0, dist[:, np.maximum(lu, 0)], np.inf)
            dv = np.where(lv >= 0, dist[:, np.maximum(lv, 0)], np.inf)
            reach = np.minimum(du + to_u[dem], dv + to_v[dem]) <= reach_m
            r, c = np.nonzero(reach)
            rows.append(members[r])
            cols.append(ok[dem[c]])
        local[near] = -1
    r_all = np.concatenate(rows) if rows else np.empty(0, np.int64)
    c_all = np.concatenate(cols) if cols else np.empty(0, np.int64)
    return sparse.csr_matrix(
        (np.ones(len(r_all), dtype=bool), (r_all, c_all)), shape=(k, m), dtype=bool
    )


def snap_points(
    geoms: np.ndarray, segs: Segments, prior: tuple[Snap, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Snap buildings (or any geometries) to their nearest segment.

    Parameters
    ----------
    geoms
        The geometries.
    segs
        The segments.
    prior
        The network stage's snap of the same geometries to all streets and each one's street
        among the segments (:func:`pipeline.building_snap.read_prior`): reused where it
        settles the answer (:func:`pipeline.routing.snap_by_street`), same result.

    Returns
    -------
    seg, along_m, gap_m
        ``seg = -1`` when there are no segments.
    """
    if prior is not None:
        snap = snap_by_street(np.asarray(geoms), segs.geometry, prior[0], prior[1])
        return snap.edge, snap.to_u_m, snap.gap_m
    snap = snap_to_edges(np.asarray(geoms), gpd.GeoDataFrame(geometry=segs.geometry))
    return snap.edge, snap.to_u_m, snap.gap_m


def line_substrings(geoms: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Return the part of each line between two distances along it (vectorised substring).

    Parameters
    ----------
    geoms
        LineStrings, one per stretch (repeat a line for several stretches of it).
    start, end
        Distances along each line, ``0 <= start <= end <= length``.

    Returns
    -------
    numpy.ndarray
        LineStrings from ``start`` to ``end`` with every vertex of the line in between.
    """
    geoms = np.asarray(geoms)
    if not len(geoms):
        return np.empty(0, dtype=object)
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    n = np.bincount(idx, minlength=len(geoms))
    first = np.r_[0, np.cumsum(n)[:-1]]
    step = np.r_[0.0, np.hypot(*np.diff(coords, axis=0).T)]
    step[first] = 0.0
    cum = np.cumsum(step)
    along = cum - np.repeat(cum[first], n)
    inside = (along > np.repeat(start, n)) & (along < np.repeat(end, n))
    a = shapely.get_coordinates(shapely.line_interpolate_point(geoms, start))
    b = shapely.get_coordinates(shapely.line_interpolate_point(geoms, end))
    key = np.r_[np.arange(len(geoms)), idx[inside], np.arange(len(geoms))]
    rank = np.r_[np.zeros(len(geoms)), np.ones(int(inside.sum())), np.full(len(geoms), 2.0)]
    pos = np.r_[np.arange(len(geoms)), np.flatnonzero(inside), np.arange(len(geoms))]
    xy = np.concatenate([a, coords[inside], b])
    order = np.lexsort((pos, rank, key))
    out: np.ndarray = shapely.linestrings(xy[order], indices=key[order])
    return out
