"""Truck travel times, one multi-source pass from the stations, and isochrone polygons."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from pipeline._errors import InputDataError
from pipeline.routing import EdgeArrays, multi_source_dijkstra, snap_to_edges

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    import networkx as nx

logger = logging.getLogger(__name__)

#: Node id given to points too far from every edge to be inserted.
NO_NODE = np.iinfo(np.int64).min

#: km/h per mile/h, for ``maxspeed`` tags given in mph.
_KPH_PER_MPH = 1.609344
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph)?", re.IGNORECASE)


def _first_tag(values: pd.Series) -> pd.Series:
    """First value of OSM tags that may hold ``a;b`` lists or Python lists.

    Worked out once per distinct value (a province's edges share a few dozen), unless the
    column holds lists (not hashable).
    """
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
    except TypeError:  # Python lists
        return _first_tag_each(values)
    if 2 * len(uniques) >= len(values):
        return _first_tag_each(values)
    return (
        _first_tag_each(pd.Series(uniques, dtype=values.dtype)).take(codes).set_axis(values.index)
    )


def _first_tag_each(values: pd.Series) -> pd.Series:
    s = values.map(lambda v: v[0] if isinstance(v, list | tuple | np.ndarray) and len(v) else v)
    return s.astype("string").str.split(";").str[0].str.strip()


def parse_maxspeed_kph(values: pd.Series) -> pd.Series:
    """Parse OSM ``maxspeed`` tags to km/h (``"30"``, ``"30 mph"``; anything else gives NaN).

    Parameters
    ----------
    values
        The ``maxspeed`` column.

    Returns
    -------
    pandas.Series
        Float km/h, indexed like ``values``.
    """
    first = _first_tag(values)
    codes, uniques = pd.factorize(first, use_na_sentinel=False)  # once per distinct value
    parts = pd.Series(uniques, dtype=first.dtype).str.extract(_NUMBER)
    kph = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float)
    mph = parts[1].notna().to_numpy()
    per_value = np.where(mph, kph * _KPH_PER_MPH, kph)
    return pd.Series(per_value[codes], index=values.index, dtype=float)


def edge_speed_kph(edges: pd.DataFrame, speeds_kph: Mapping[str, float]) -> pd.Series:
    """Truck speed per edge: the road class's speed, or a lower tagged ``maxspeed``.

    Parameters
    ----------
    edges
        With a ``highway`` column (and optionally ``maxspeed``).
    speeds_kph
        Speed by ``highway`` value; ``*_link`` roads take their main class's speed; the key
        ``"default"`` serves every other class.

    Returns
    -------
    pandas.Series
        km/h, indexed like ``edges``.

    Raises
    ------
    InputDataError
        When an edge's class has no speed and ``speeds_kph`` has no ``"default"``.
    """
    highway = _first_tag(edges["highway"]).str.removesuffix("_link")
    speed = highway.map(dict(speeds_kph)).astype(float)
    if "default" in speeds_kph:
        speed = speed.fillna(float(speeds_kph["default"]))
    if speed.isna().any():
        missing = sorted(set(highway[speed.isna()].fillna("<none>")))
        msg = f"no truck speed for highway={', '.join(missing)}; add them or a 'default' speed"
        raise InputDataError(msg)
    if "maxspeed" in edges.columns:
        cap = parse_maxspeed_kph(edges["maxspeed"])
        speed = speed.where(~(cap < speed), cap)
    return speed


def edge_travel_time_s(
    edges: pd.DataFrame,
    speeds_kph: Mapping[str, float],
    *,
    turn_delay_s: float = 0.0,
    street_count: pd.Series | None = None,
) -> pd.Series:
    """Truck travel time per directed edge, with an optional delay at the junction it enters.

    Parameters
    ----------
    edges
        Indexed by ``(u, v, key)`` with ``length`` (m), ``highway`` and optionally ``maxspeed``.
    speeds_kph
        See :func:`edge_speed_kph`.
    turn_delay_s
        Seconds added to every edge that ends at a junction (a node with 3 or more streets).
    street_count
        Streets per node id (the ingest stage's ``street_count``); needed for ``turn_delay_s``.

    Returns
    -------
    pandas.Series
        Seconds, indexed like ``edges``.
    """
    speed_mps = edge_speed_kph(edges, speeds_kph).to_numpy() / 3.6
    t = edges["length"].to_numpy(dtype=float) / speed_mps
    if turn_delay_s and street_count is not None:
        head = edges.index.get_level_values("v")
        junction = street_count.reindex(head).to_numpy(dtype=float) >= 3  # noqa: PLR2004
        t = t + np.where(junction, turn_delay_s, 0.0)
    return pd.Series(t, index=edges.index, name="travel_time")


@dataclass(frozen=True)
class Reach:
    """Result of one multi-source pass: cost per node and the source reaching it first."""

    cost: np.ndarray
    nearest: np.ndarray


def split_at_points(
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    points: np.ndarray,
    *,
    max_distance_m: float,
    cost_columns: Sequence[str] = ("travel_time",),
    snap_tolerance_m: float = 0.5,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, np.ndarray]:
    """Insert points (stations) as nodes into the edges they snap to, both directions.

    Parameters
    ----------
    nodes
        Indexed by node id, with ``x, y``.
    edges
        Indexed by ``(u, v, key)``, with ``length`` and LineStrings drawn from ``u`` to ``v``.
    points
        Shapely points in the same CRS.
    max_distance_m
        Points farther than this from every edge are not inserted.
    cost_columns
        Edge columns split in proportion to length (for example ``travel_time``).
    snap_tolerance_m
        A point this close to an edge end uses that end's node.

    Returns
    -------
    nodes, edges, point_node
        The new tables (inputs unchanged) and each point's node id (:data:`NO_NODE` when
        farther than ``max_distance_m`` from every edge).

    Notes
    -----
    A station in the middle of an edge must be a node: otherwise a building on the same edge is
    reached only through the edge's ends, and the streets around the station look far away.
    Splitting happens once per station (a few dozen), each cut with ``shapely.ops.substring``.
    Inserted nodes get negative ids; unsnapped points get the id ``NO_NODE``.
    """
    from shapely.ops import substring  # noqa: PLC0415

    snap = snap_to_edges(points, edges, max_distance_m=max_distance_m)
    lines = edges.geometry.to_numpy()
    length = edges["length"].to_numpy(dtype=float)
    u_ids = edges.index.get_level_values(0).to_numpy()
    v_ids = edges.index.get_level_values(1).to_numpy()
    point_node = np.full(len(points), NO_NODE, dtype=np.int64)
    cuts: dict[int, list[tuple[float, int]]] = {}
    new_nodes: list[tuple[int, float, float]] = []
    next_id = min(int(nodes.index.min()), 0) - 1
    for i in np.flatnonzero(snap.edge >= 0):
        e, a = int(snap.edge[i]), float(snap.to_u_m[i])
        if a <= snap_tolerance_m:
            point_node[i] = u_ids[e]
            continue
        if length[e] - a <= snap_tolerance_m:
            point_node[i] = v_ids[e]
            continue
        nid, next_id = next_id, next_id - 1
        spot = shapely.line_interpolate_point(lines[e], a)
        new_nodes.append((nid, spot.x, spot.y))
        point_node[i] = nid
        cuts.setdefault(e, []).append((a, nid))
        twins = np.flatnonzero(
            (u_ids == v_ids[e]) & (v_ids == u_ids[e]) & (np.abs(length - length[e]) < 0.01)  # noqa: PLR2004
        )
        for t in twins:
            cuts.setdefault(int(t), []).append((length[t] - a, nid))
    if not cuts:
        return nodes, edges, point_node
    rows, geoms, ends = [], [], []
    for e, unsorted in cuts.items():
        marks = sorted(unsorted)
        stops = [0.0, *[m[0] for m in marks], length[e]]
        ids = [u_ids[e], *[m[1] for m in marks], v_ids[e]]
        for j in range(len(stops) - 1):
            rows.append(e)
            geoms.append(substring(lines[e], stops[j], stops[j + 1]))
            ends.append((ids[j], ids[j + 1]))
    pieces = edges.iloc[rows].reset_index()
    piece_len = shapely.length(np.asarray(geoms, dtype=object))
    share = piece_len / np.maximum(length[rows], 1e-9)
    pieces["u"], pieces["v"] = [a for a, _ in ends], [b for _, b in ends]
    pieces["key"] = 0
    pieces["length"] = piece_len
    for col in cost_columns:
        pieces[col] = pieces[col].to_numpy(dtype=float) * share
    pieces = gpd.GeoDataFrame(pieces, geometry=np.asarray(geoms, dtype=object), crs=edges.crs)
    kept = np.ones(len(edges), dtype=bool)
    kept[list(cuts)] = False
    out_edges = pd.concat([edges[kept], pieces.set_index(["u", "v", "key"])])
    extra = gpd.GeoDataFrame(
        {"x": [n[1] for n in new_nodes], "y": [n[2] for n in new_nodes], "street_count": 2},
        index=pd.Index([n[0] for n in new_nodes], name=nodes.index.name),
        geometry=shapely.points([(n[1], n[2]) for n in new_nodes]), crs=nodes.crs,
    )  # fmt: skip
    return pd.concat([nodes, extra]), out_edges, point_node


def reach_from_sources(
    graph: sparse.csr_matrix,
    sources: np.ndarray,
    offsets: np.ndarray | None = None,
    *,
    limit: float = np.inf,
) -> Reach:
    """Cost from the nearest source to every node in ONE Dijkstra pass.

    Parameters
    ----------
    graph
        Directed adjacency of the drivable network.
    sources
        Source node positions (stations inserted as nodes by :func:`split_at_points`).
    offsets
        Cost already spent at each source (zeros by default).
    limit
        Costs beyond this are not explored (``inf``).

    Returns
    -------
    Reach
        ``nearest`` indexes ``sources`` (``-1``: unreached).
    """
    sources = np.asarray(sources, dtype=np.int64)
    offsets = np.zeros(len(sources)) if offsets is None else np.asarray(offsets, dtype=float)
    cost, nearest = multi_source_dijkstra(graph, sources, source_costs=offsets, limit=limit)
    return Reach(cost=cost, nearest=nearest)


#: Edge geometries: shapely LineStrings, or their vertices as ``(coords, edge index)`` arrays.
Lines = np.ndarray | tuple[np.ndarray, np.ndarray]


def edge_vertices(lines: Lines) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(coords, edge index)`` of every vertex, edges in order, vertices in order."""
    if isinstance(lines, tuple):
        return lines
    coords, which = shapely.get_coordinates(lines, return_index=True)
    return coords, which


def subset_vertices(lines: Lines, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the edges where ``keep`` is True, renumbered ``0..keep.sum()-1``."""
    coords, which = edge_vertices(lines)
    sel = keep[which]
    return coords[sel], (np.cumsum(keep) - 1)[which[sel]]


def edge_twins(u: np.ndarray, v: np.ndarray, lines: Lines) -> np.ndarray:
    """Index of each edge's reverse twin (the same street driven the other way), ``-1`` if none.

    Parameters
    ----------
    u, v
        Edge ends as node positions.
    lines
        Edge geometries drawn from ``u`` to ``v`` (or their vertices, see :data:`Lines`).

    Returns
    -------
    numpy.ndarray
        ``twin[i] = j`` when edge ``j`` runs ``v[i] -> u[i]`` with the same length and ``i`` is
        ``j``'s twin too (mutual); parallel edges pair at most once.
    """
    n = len(u)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    coords, which = edge_vertices(lines)
    same = which[1:] == which[:-1]
    seg = np.hypot(*np.diff(coords, axis=0).T) * same
    length = np.bincount(which[1:], weights=seg, minlength=n)
    m = int(max(u.max(), v.max())) + 1
    key = u.astype(np.int64) * m + v
    rkey = v.astype(np.int64) * m + u
    order = np.argsort(key, kind="stable")
    pos = np.clip(np.searchsorted(key[order], rkey), 0, n - 1)
    twin = np.where(key[order][pos] == rkey, order[pos], -1)
    idx = np.arange(n)
    ok = (twin >= 0) & (twin != idx)
    ok[ok] = twin[twin[ok]] == idx[ok]
    ok[ok] = np.isclose(length[ok], length[twin[ok]], rtol=1e-9, atol=1e-6)
    return np.where(ok, twin, -1)


def sample_edges(
    lines: Lines,
    cost_u: np.ndarray,
    edge_cost: np.ndarray,
    step_m: float,
    *,
    cost_v: np.ndarray | None = None,
    edge_cost_v: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step_m`` or less along each edge, with the cost of reaching each.

    Parameters
    ----------
    lines
        Edge geometries, drawn from ``u`` to ``v`` (or their vertices, see :data:`Lines`).
    cost_u
        Cost at each edge's start node.
    edge_cost
        Cost of driving the whole edge (spread evenly over its length).
    step_m
        Largest gap between samples.
    cost_v, edge_cost_v
        For a street also driven the other way: cost at each edge's end node and of driving it
        back (``inf`` where not); each point then takes the cheaper direction, so a two-way
        street is sampled once instead of once per direction.

    Returns
    -------
    xy, cost
        ``(n, 2)`` coordinates and their costs, driving from each edge's start (vertices and
        the end of every edge included).
    """
    coords, which = edge_vertices(lines)
    if len(coords) == 0:
        return np.empty((0, 2)), np.empty(0)
    n_lines = len(cost_u)
    same = which[1:] == which[:-1]
    p0, p1, line = coords[:-1][same], coords[1:][same], which[:-1][same]
    seg = np.hypot(*(p1 - p0).T)
    cum = np.cumsum(np.r_[0.0, np.hypot(*np.diff(coords, axis=0).T) * same])
    start_of_line = np.r_[0, np.flatnonzero(~same) + 1]
    offset = np.repeat(cum[start_of_line], np.bincount(which, minlength=n_lines))
    along0 = (cum - offset)[:-1][same]
    n = np.maximum(1, np.ceil(seg / step_m).astype(np.int64))
    rep = np.repeat(np.arange(len(seg)), n)
    i = np.arange(len(rep)) - np.repeat(np.cumsum(n) - n, n)
    frac = i / n[rep]
    xy = p0[rep] + frac[:, None] * (p1 - p0)[rep]
    along = along0[rep] + frac * seg[rep]
    total = np.maximum(np.bincount(line, weights=seg, minlength=n_lines), 1e-9)
    li = line[rep]
    f = along / total[li]
    cost = cost_u[li] + edge_cost[li] * f
    last = np.r_[np.flatnonzero(~same), len(coords) - 1]
    wl = which[last]
    cost_end = cost_u[wl] + edge_cost[wl]
    if cost_v is not None and edge_cost_v is not None:
        with np.errstate(invalid="ignore"):  # inf * 0 where a street has no way back
            cost = np.fmin(cost, cost_v[li] + edge_cost_v[li] * (1.0 - f))
        cost_end = np.fmin(cost_end, cost_v[wl])
    xy = np.concatenate([xy, coords[last]])
    cost = np.concatenate([cost, cost_end])
    return xy, cost


@dataclass(frozen=True)
class CostGrid:
    """A raster of break classes: ``0`` within the first break, ``len(breaks)``: beyond all."""

    classes: np.ndarray
    x0: float
    y0: float
    cell_m: float

    def polygons(self, n_breaks: int) -> list[shapely.Geometry]:
        """Return, for each break ``k``, the cells of class ``<= k`` as (multi)polygons.

        Each break's cells are polygonised on their own, cropped to their bounding box: the
        pieces GDAL returns are disjoint (4-connected), so they form the (multi)polygon as
        they are, without a union.
        """
        from affine import Affine  # noqa: PLC0415
        from rasterio import features  # noqa: PLC0415 - heavy import, only here

        out = []
        for k in range(n_breaks):
            mask = self.classes <= k
            rows = np.flatnonzero(mask.any(axis=1))
            if not len(rows):
                out.append(shapely.Polygon())
                continue
            cols = np.flatnonzero(mask.any(axis=0))
            r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            sub = np.ascontiguousarray(mask[r0:r1, c0:c1])
            transform = Affine(
                self.cell_m, 0.0, self.x0 + c0 * self.cell_m,
                0.0, -self.cell_m, self.y0 - r0 * self.cell_m,
            )  # fmt: skip
            pieces = features.shapes(
                sub.view(np.uint8), mask=sub, transform=transform, connectivity=4
            )
            out.append(_polygon_of_pieces([g["coordinates"] for g, _ in pieces]))
        return out


def _polygon_of_pieces(pieces: list[list[list[tuple[float, float]]]]) -> shapely.Geometry:
    """Build one (multi)polygon from disjoint GeoJSON polygon rings, vectorised.

    Parameters
    ----------
    pieces
        Per polygon, its rings (shell first, then holes) as coordinate lists.

    Returns
    -------
    shapely geometry
        A Polygon for one piece, else a MultiPolygon; their repaired union in the rare case
        GDAL's pieces would not form a valid geometry.
    """
    rings = [np.asarray(r, dtype=float) for p in pieces for r in p]
    ring_sizes = np.array([len(r) for r in rings])
    ring_rings = shapely.linearrings(
        np.concatenate(rings), indices=np.repeat(np.arange(len(rings)), ring_sizes)
    )
    polys = shapely.polygons(
        ring_rings, indices=np.repeat(np.arange(len(pieces)), [len(p) for p in pieces])
    )
    out = polys[0] if len(polys) == 1 else shapely.multipolygons(polys)
    return out if shapely.is_valid(out) else shapely.union_all(shapely.make_valid(polys))


def cost_grid(
    xy: np.ndarray,
    cost: np.ndarray,
    breaks: Sequence[float],
    *,
    buffer_m: float,
    cell_m: float,
) -> CostGrid:
    """Rasterise street samples by break class, then spread each class ``buffer_m`` around.

    Parameters
    ----------
    xy, cost
        From :func:`sample_edges`.
    breaks
        Increasing budgets.
    buffer_m
        Radius of the near-disc (octagon) each reached street cell serves.
    cell_m
        Raster cell size.

    Returns
    -------
    CostGrid
        A grey-scale erosion (minimum filter over an octagon) of the street raster: the raster
        equivalent of buffering the reached street parts and uniting the buffers.
    """
    n_breaks = len(breaks)
    within = cost <= breaks[-1]
    xy, cost = xy[within], cost[within]
    if len(xy) == 0:
        return CostGrid(np.full((1, 1), n_breaks, np.uint8), 0.0, 0.0, cell_m)
    cls = np.searchsorted(np.asarray(breaks, float), cost, side="left").astype(np.uint8)
    pad = buffer_m + 2 * cell_m
    x0 = float(np.floor((xy[:, 0].min() - pad) / cell_m) * cell_m)
    y0 = float(np.ceil((xy[:, 1].max() + pad) / cell_m) * cell_m)
    ncol = int(np.ceil((xy[:, 0].max() + pad - x0) / cell_m))
    nrow = int(np.ceil((y0 - (xy[:, 1].min() - pad)) / cell_m))
    col = ((xy[:, 0] - x0) / cell_m).astype(np.int64)
    row = ((y0 - xy[:, 1]) / cell_m).astype(np.int64)
    flat = np.full(nrow * ncol, n_breaks, dtype=np.uint8)
    np.minimum.at(flat, row * ncol + col, cls)
    served = octagon_min_filter(flat.reshape(nrow, ncol), round(buffer_m / cell_m))
    return CostGrid(served, x0, y0, cell_m)


def _min3(a: np.ndarray, axis: int) -> np.ndarray:
    """Minimum over each cell and its two neighbours along ``axis`` (edges: inside only)."""
    out = a.copy()
    lo = [slice(None)] * a.ndim
    hi = [slice(None)] * a.ndim
    lo[axis], hi[axis] = slice(None, -1), slice(1, None)
    np.minimum(out[tuple(hi)], a[tuple(lo)], out=out[tuple(hi)])
    np.minimum(out[tuple(lo)], a[tuple(hi)], out=out[tuple(lo)])
    return out


def octagon_min_filter(grid: np.ndarray, radius: int) -> np.ndarray:
    """Grey erosion of ``grid`` by an octagon of ``radius`` cells (a near-disc), in O(radius N).

    Parameters
    ----------
    grid
        2-D array.
    radius
        Octagon radius in cells (along the axes).

    Returns
    -------
    numpy.ndarray

    Notes
    -----
    Alternating 3 x 3 square and plus-shaped erosions grow an octagon whose diagonal reach is
    within 6 % of the disc of the same radius, at the cost of a few 1-D filters per cell of
    radius, where a disc footprint costs ``radius**2`` per pixel.
    """
    out = grid
    for i in range(radius):
        along_y = _min3(out, 0)
        out = _min3(along_y, 1) if i % 2 == 0 else np.minimum(along_y, _min3(out, 1))
    return out


def isochrone_polygons(
    lines: Lines,
    cost_u: np.ndarray,
    edge_cost: np.ndarray,
    breaks: Sequence[float],
    *,
    buffer_m: float,
    cell_m: float,
    twin: np.ndarray | None = None,
) -> list[shapely.Geometry]:
    """Isochrones: land within ``buffer_m`` of the street parts reached within each break.

    Parameters
    ----------
    lines
        Drivable edge geometries (``u`` to ``v``), or their vertices (see :data:`Lines`).
    cost_u
        Cost at each edge's start node (``inf`` when unreached).
    edge_cost
        Cost of driving each edge.
    breaks
        Increasing budgets; one polygon each.
    buffer_m
        How far off the reached streets the area counts as served (hose reach).
    cell_m
        Raster resolution of the polygons.
    twin
        From :func:`edge_twins`: each two-way street is then sampled once, with the cheaper of
        its two directions at every point (same result, about half the samples).

    Returns
    -------
    list of shapely geometries
        Nested: each break's polygon contains the previous one's. Empty when nothing is reached.

    Notes
    -----
    Unlike convex hulls of reached nodes, the area across a river or behind a block of
    unreached streets is not swallowed: only land within ``buffer_m`` of a reached street
    (including the reached leading part of a street not driven to its end) is inside. The
    buffer-and-union is done on a raster (an octagon minimum filter), which stays fast on a
    province's million edges where a vector union of buffers does not. QCVN 06:2022/BXD
    §6.2.2.1 asks every point of a low-rise building to be within 60 m of a fire-truck road,
    the natural default for ``buffer_m``.
    """
    step_m = max(cell_m, buffer_m / 3)  # the buffer closes gaps between samples
    n = len(cost_u)
    if twin is None:
        twin = np.full(n, -1, dtype=np.int64)
    has = twin >= 0
    primary = ~has | (np.arange(n) < twin)
    other = np.where(has, twin, 0)
    cost_v = np.where(has, cost_u[other], np.inf)
    edge_cost_v = np.where(has, edge_cost[other], np.inf)
    first = np.fmin(cost_u, cost_v)
    start = primary & np.isfinite(first) & (first < breaks[-1])
    xy, cost = sample_edges(
        subset_vertices(lines, start), cost_u[start], edge_cost[start], step_m,
        cost_v=cost_v[start], edge_cost_v=edge_cost_v[start],
    )  # fmt: skip
    grid = cost_grid(xy, cost, breaks, buffer_m=buffer_m, cell_m=cell_m)
    return grid.polygons(len(breaks))


@dataclass(frozen=True)
class StreetArrays:
    """An OSMnx graph as arrays: edge ends by node position, edge costs and edge vertices.

    ``graph``: the adjacency already built (:meth:`EdgeArrays.csr`), ``node_xy``: node
    coordinates by position; both optional (built or unknown when None).
    """

    arrays: EdgeArrays
    lines: Lines
    twin: np.ndarray | None = None
    graph: sparse.csr_matrix | None = None
    node_xy: np.ndarray | None = None


#: Arrays of a saved :class:`StreetArrays` (see :func:`write_street_arrays`).
_STREET_KEYS = ("node_ids", "node_xy", "u", "v", "weight", "coords", "which", "twin",
                "indptr", "indices", "data")  # fmt: skip


def write_street_arrays(path: Path, street: StreetArrays) -> None:
    """Save ``street`` (with its adjacency and node coordinates) as one uncompressed ``.npz``.

    Parameters
    ----------
    path
        File to write (any suffix: written through a file handle).
    street
        Needs ``twin``, ``graph`` and ``node_xy``; reading it back with
        :func:`read_street_arrays` is a few memory copies, no parsing and no sorting.
    """
    if street.twin is None or street.graph is None or street.node_xy is None:
        msg = "write_street_arrays needs twin, graph and node_xy"
        raise ValueError(msg)
    coords, which = edge_vertices(street.lines)
    arr, g = street.arrays, street.graph
    with path.open("wb") as fh:
        np.savez(
            fh, node_ids=arr.node_ids, node_xy=street.node_xy, u=arr.u, v=arr.v,
            weight=arr.weight, coords=coords, which=which, twin=street.twin,
            indptr=g.indptr, indices=g.indices, data=g.data,
        )  # fmt: skip


def read_street_arrays(path: Path) -> StreetArrays:
    """Load what :func:`write_street_arrays` saved (the coverage stage's ``drive_graph``).

    Raises
    ------
    InputDataError
        When the file lacks one of the arrays (written by another version).
    """
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in _STREET_KEYS if k not in z.files]
        if missing:
            msg = f"{path}: not a street-arrays file (missing {', '.join(missing)}); rerun coverage"
            raise InputDataError(msg)
        a = {k: z[k] for k in _STREET_KEYS}
    n = len(a["node_ids"])
    graph = sparse.csr_matrix((a["data"], a["indices"], a["indptr"]), shape=(n, n))
    arrays = EdgeArrays(node_ids=a["node_ids"], u=a["u"], v=a["v"], weight=a["weight"])
    return StreetArrays(arrays, (a["coords"], a["which"]), a["twin"], graph, a["node_xy"])


def graph_arrays(G: nx.MultiDiGraph, *, weight: str = "travel_time") -> StreetArrays:
    """Convert an OSMnx graph once into arrays for :func:`isochrones` (like ``graph_to_gdfs``).

    Parameters
    ----------
    G
        Projected OSMnx ``MultiDiGraph`` with ``x, y`` on nodes and ``weight`` on edges.
    weight
        Edge attribute holding the cost (seconds); a missing value means not driven.

    Returns
    -------
    StreetArrays
        Edges without a ``geometry`` are the straight line between their nodes.
    """
    node_ids = np.fromiter(G.nodes, dtype=np.int64, count=G.number_of_nodes())
    xy = np.array([(d["x"], d["y"]) for d in G._node.values()], dtype=float)  # noqa: SLF001
    index = pd.Index(node_ids)
    u_id, v_id, w, geoms = [], [], [], []
    for u, nbrs in G._adj.items():  # noqa: SLF001 - 3x faster than G.edges(data=True)
        for v, keyed in nbrs.items():
            for data in keyed.values():
                u_id.append(u)
                v_id.append(v)
                w.append(data.get(weight, np.inf))
                geoms.append(data.get("geometry"))
    u, v = index.get_indexer(pd.Index(u_id)), index.get_indexer(pd.Index(v_id))
    geom_arr = np.array(geoms, dtype=object)
    has = np.flatnonzero(pd.notna(geom_arr))
    straight = np.setdiff1d(np.arange(len(u)), has)
    c1, w1 = shapely.get_coordinates(geom_arr[has], return_index=True)
    c2 = np.concatenate([xy[u[straight]], xy[v[straight]]])
    w2 = np.concatenate([straight, straight])
    order = np.argsort(np.concatenate([has[w1], w2]), kind="stable")
    # Straight edges: their start vertex precedes their end (stable sort keeps that order).
    coords = np.concatenate([c1, c2])[order]
    which = np.concatenate([has[w1], w2])[order]
    arrays = EdgeArrays(node_ids=node_ids, u=u, v=v, weight=np.asarray(w, dtype=float))
    return StreetArrays(arrays, (coords, which), edge_twins(u, v, (coords, which)))


@dataclass(frozen=True)
class DriveGraph:
    """The drivable street graph read from the stage artifacts, as plain arrays.

    ``nodes``: ``x``, ``y``, ``street_count`` indexed by node id; ``edges``: ``u``, ``v``,
    ``key``, ``length``, ``travel_time`` (``inf`` where a truck does not drive); ``geometry``:
    the edges' LineStrings (row order of ``edges``).
    """

    nodes: pd.DataFrame
    edges: pd.DataFrame
    geometry: np.ndarray


def read_drive_graph(
    nodes_path: Path,
    edges_path: Path,
    speeds_kph: Mapping[str, float],
    *,
    turn_delay_s: float = 0.0,
    truck_edges_path: Path | None = None,
    follow_oneway: bool = True,
) -> DriveGraph:
    """Read the street graph with truck travel times, only the columns routing needs.

    Parameters
    ----------
    nodes_path, edges_path
        The ``ingest`` stage's ``graph_nodes`` and ``graph_edges`` GeoParquet files.
    speeds_kph, turn_delay_s
        See :func:`edge_travel_time_s`.
    truck_edges_path
        The ``network`` stage's ``edges``: edges without ``truck_ok`` and ``truck_connected``
        get an infinite time. None: every edge is driven.
    follow_oneway
        One-way streets are driven only in their direction.

    Returns
    -------
    DriveGraph
    """
    import pyarrow.parquet as pq  # noqa: PLC0415 - heavy, only here

    nodes = pq.read_table(nodes_path, columns=["osmid", "x", "y", "street_count"]).to_pandas()
    nodes = nodes.set_index("osmid")
    wanted = ["u", "v", "key", "length", "highway", "maxspeed", "oneway", "reversed", "geometry"]
    names = set(pq.read_schema(edges_path).names)
    table = pq.read_table(edges_path, columns=[c for c in wanted if c in names])
    geometry = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
    edges = table.drop_columns(["geometry"]).to_pandas().set_index(["u", "v", "key"])
    t = edge_travel_time_s(edges, speeds_kph, turn_delay_s=turn_delay_s,
                           street_count=nodes["street_count"]).to_numpy()  # fmt: skip
    ok = np.ones(len(edges), dtype=bool)
    if truck_edges_path is not None:
        ok &= _truck_flags(truck_edges_path, edges.index)
    if follow_oneway:
        ok &= ~(edges["oneway"].to_numpy(dtype=bool) & edges["reversed"].to_numpy(dtype=bool))
    out = edges.reset_index()[["u", "v", "key", "length"]]
    out["travel_time"] = np.where(ok, t, np.inf)
    return DriveGraph(nodes, out, geometry)


def _truck_flags(path: Path, index: pd.MultiIndex) -> np.ndarray:
    """``truck_ok & truck_connected`` of the network stage, aligned with ``index``."""
    import pyarrow.parquet as pq  # noqa: PLC0415

    cols = ["u", "v", "key", "truck_ok", "truck_connected"]
    net = pq.read_table(path, columns=cols).to_pandas()
    flag: np.ndarray = net["truck_ok"].to_numpy(dtype=bool) & net["truck_connected"].to_numpy(
        dtype=bool
    )
    same = len(net) == len(index) and all(
        np.array_equal(net[c].to_numpy(), index.get_level_values(c).to_numpy())
        for c in ("u", "v", "key")
    )
    if same:  # the network stage keeps the ingest order: no join needed
        return flag
    aligned = pd.Series(flag, index=pd.MultiIndex.from_frame(net[["u", "v", "key"]]))
    out: np.ndarray = aligned.reindex(index, fill_value=False).to_numpy(dtype=bool)
    return out


#: Up to this many nodes are looked up by one scan of the ids (beyond: a hash table).
_SCAN_MAX = 64


def node_positions(node_ids: np.ndarray, nodes: Sequence[int]) -> np.ndarray:
    """Return the position of each of a few node ids in ``node_ids`` (one scan, no hash table).

    Raises
    ------
    InputDataError
        A node id is not in the graph.
    """
    want = np.asarray(nodes, dtype=np.int64)
    if len(want) > _SCAN_MAX:
        found: np.ndarray = pd.Index(node_ids).get_indexer(want)
        if (found < 0).any():
            msg = f"station node(s) {', '.join(map(str, want[found < 0][:5]))} not in the graph"
            raise InputDataError(msg)
        return found
    hit = node_ids[:, None] == want[None, :]
    pos: np.ndarray = hit.argmax(axis=0)
    missing = want[~hit[pos, np.arange(len(want))]] if len(want) else want
    if len(missing):
        msg = f"station node(s) {', '.join(map(str, missing[:5]))} not in the graph"
        raise InputDataError(msg)
    return pos


def station_costs(graph: sparse.csr_matrix, sources: np.ndarray, *, limit: float) -> np.ndarray:
    """Least cost from any of ``sources`` to every node (``inf`` beyond ``limit``), one pass.

    Parameters
    ----------
    graph
        Directed adjacency.
    sources
        Node positions, all starting at cost 0.
    limit
        Costs beyond it are not explored.

    Returns
    -------
    numpy.ndarray

    Notes
    -----
    ``scipy.sparse.csgraph.dijkstra(min_only=True)`` on the graph itself: with every source at
    cost 0 no virtual source node is needed (:func:`pipeline.routing.multi_source_dijkstra`
    adds them for sources with costs, which copies the whole adjacency).
    """
    from scipy.sparse import csgraph  # noqa: PLC0415

    if not len(sources):
        return np.full(graph.shape[0], np.inf)
    cost: np.ndarray = csgraph.dijkstra(
        graph, directed=True, indices=np.asarray(sources), min_only=True, limit=limit
    )
    return cost


def isochrones(
    G: nx.MultiDiGraph | StreetArrays,
    station_nodes: Sequence[int],
    breaks_s: Sequence[float],
    *,
    weight: str = "travel_time",
    buffer_m: float = 60.0,
    cell_m: float = 20.0,
) -> list[shapely.Geometry]:
    """Isochrone polygons around stations on an OSMnx graph, in one multi-source pass.

    Parameters
    ----------
    G
        Projected OSMnx ``MultiDiGraph`` with ``weight`` on every edge, or the same graph
        already converted by :func:`graph_arrays` (to time the computation alone).
    station_nodes
        Node ids of the stations.
    breaks_s
        Increasing travel-time breaks in seconds.
    weight
        Edge attribute holding seconds.
    buffer_m
        Served distance off reached streets (QCVN 06:2022/BXD §6.2.2.1: 60 m).
    cell_m
        Raster resolution of the polygons.

    Returns
    -------
    list of shapely geometries
        One polygon (or multipolygon) per break, in the graph's CRS.
    """
    t0 = time.perf_counter()
    street = G if isinstance(G, StreetArrays) else graph_arrays(G, weight=weight)
    arr = street.arrays
    pos = node_positions(arr.node_ids, station_nodes)
    graph = street.graph if street.graph is not None else arr.csr()
    cost = station_costs(graph, pos, limit=float(max(breaks_s)))
    twin = street.twin if street.twin is not None else edge_twins(arr.u, arr.v, street.lines)
    polys = isochrone_polygons(
        street.lines, cost[arr.u], arr.weight, breaks_s, buffer_m=buffer_m, cell_m=cell_m,
        twin=twin,
    )  # fmt: skip
    logger.debug(
        "isochrones: %d stations, %d breaks (%.2f s)",
        len(pos), len(breaks_s), time.perf_counter() - t0,
    )  # fmt: skip
    return polys


def isochrones_baseline_osmnx(
    G: nx.MultiDiGraph,
    station_nodes: Sequence[int],
    breaks_s: Sequence[float],
    *,
    weight: str = "travel_time",
) -> list[shapely.Geometry]:
    """Time the usual OSMnx recipe (benchmark baseline): ego graph + convex hull per station.

    Parameters
    ----------
    G
        Projected OSMnx ``MultiDiGraph`` with ``weight`` on every edge.
    station_nodes
        Node ids of the stations.
    breaks_s
        Travel-time breaks in seconds.
    weight
        Edge attribute holding seconds.

    Returns
    -------
    list of shapely geometries
        Per break, the union over stations of the convex hull of the nodes reached.

    Notes
    -----
    This is the method of the OSMnx isochrone example (``nx.ego_graph(G, node, radius,
    distance=weight)`` then ``convex_hull`` of the reached nodes), one Dijkstra per station
    and break. Hulls swallow unreached land (across rivers); kept only as a baseline.
    """
    import networkx as nx  # noqa: PLC0415 - only the baseline needs it

    out = []
    for b in breaks_s:
        hulls = []
        for node in station_nodes:
            sub = nx.ego_graph(G, node, radius=b, distance=weight)
            pts = shapely.points([(d["x"], d["y"]) for _, d in sub.nodes(data=True)])
            hulls.append(shapely.convex_hull(shapely.multipoints(pts)))
        out.append(shapely.union_all(hulls))
    return out


def warn_unsnapped(names: np.ndarray, point_node: np.ndarray, max_distance_m: float) -> None:
    """Log the stations too far from every truck street to be used."""
    far = point_node == NO_NODE
    if far.any():
        logger.warning(
            "coverage: %d station(s) more than %.0f m from any truck street, ignored: %s",
            int(far.sum()), max_distance_m, ", ".join(map(str, names[far][:5])),
        )  # fmt: skip
