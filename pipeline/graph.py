"""Build, save and load the OSMnx-compatible street ``MultiDiGraph`` (vectorised, no OSMnx I/O)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from pipeline._errors import NoDataError, ValidationError

if TYPE_CHECKING:
    import networkx as nx
    from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)

#: ``oneway`` tag values meaning one-way traffic (``-1``: against the way's direction).
ONEWAY_VALUES = ("yes", "true", "1", "-1")


def split_ways(
    refs: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ways into edges at every node shared with another way (or repeated in one).

    Parameters
    ----------
    refs
        Per way, its node ids in order.

    Returns
    -------
    point_index, edge_of_point, edge_way, edge_first_last
        ``point_index`` indexes the concatenated nodes of all ways, one entry per edge vertex
        (interior split nodes appear twice: as the end of one edge and the start of the next);
        ``edge_of_point`` gives each entry's edge; ``edge_way`` each edge's way index;
        ``edge_first_last`` each edge's first and last position in the concatenated nodes.
    """
    lengths = np.fromiter((len(r) for r in refs), dtype=np.int64, count=len(refs))
    all_refs = np.concatenate(refs) if refs else np.empty(0, dtype=np.int64)
    way_of = np.repeat(np.arange(len(refs)), lengths)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(refs) else lengths
    is_first = np.zeros(len(all_refs), dtype=bool)
    is_first[starts] = True
    is_last = np.zeros(len(all_refs), dtype=bool)
    is_last[starts + lengths - 1] = True
    _, inverse, counts = np.unique(all_refs, return_inverse=True, return_counts=True)
    shared = counts[inverse] > 1
    is_split = shared | is_first | is_last
    interior_split = is_split & ~is_first & ~is_last
    repeat = np.where(interior_split, 2, 1)
    point_index = np.repeat(np.arange(len(all_refs)), repeat)
    # A new edge starts at each way's first node and at the second copy of an interior split.
    second_copy = np.zeros(len(point_index), dtype=bool)
    cum = np.cumsum(repeat)
    second_copy[cum[interior_split] - 1] = True
    new_edge = second_copy | is_first[point_index]
    edge_of_point = np.cumsum(new_edge) - 1
    n_edges = int(edge_of_point[-1]) + 1 if len(edge_of_point) else 0
    first_pos = np.full(n_edges, -1, dtype=np.int64)
    last_pos = np.full(n_edges, -1, dtype=np.int64)
    first_pos[edge_of_point[::-1]] = point_index[::-1]
    last_pos[edge_of_point] = point_index
    edge_way = way_of[first_pos]
    return point_index, edge_of_point, edge_way, np.column_stack([first_pos, last_pos])


def build_edges(
    streets: pd.DataFrame,
    refs: list[np.ndarray],
    lonlat: list[np.ndarray],
    *,
    crs: str,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Build graph nodes and both-direction edges from street ways, projected to ``crs``.

    Parameters
    ----------
    streets
        One row per way with ``osmid`` and the street tags.
    refs, lonlat
        Per way, node ids and WGS84 coordinates.
    crs
        Projected CRS for ``x``, ``y``, geometry and ``length`` (metres).

    Returns
    -------
    nodes, edges
        OSMnx-shaped GeoDataFrames: ``nodes`` indexed by ``osmid`` with ``x, y, lon, lat,
        street_count``; ``edges`` indexed by ``(u, v, key)`` with the way's tags, ``osmid``,
        ``length``, ``oneway`` (bool), ``reversed`` and a LineString geometry. Every way gives
        an edge in each direction (hose teams and, in emergencies, trucks use both).
    """
    if not refs:
        msg = "no street ways to build a graph from"
        raise NoDataError(msg)
    # ``oneway=-1``: traffic runs against the way's node order. Reverse such ways first (as OSMnx
    # does), so that the non-reversed copy of every one-way edge is the allowed direction.
    backwards = set(np.flatnonzero(streets["oneway"].to_numpy() == "-1").tolist())
    if backwards:
        refs = [r[::-1] if i in backwards else r for i, r in enumerate(refs)]
        lonlat = [c[::-1] if i in backwards else c for i, c in enumerate(lonlat)]
    point_index, edge_of_point, edge_way, first_last = split_ways(refs)
    all_refs = np.concatenate(refs)
    all_lonlat = np.concatenate(lonlat)
    to_crs = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = to_crs.transform(all_lonlat[:, 0], all_lonlat[:, 1])
    xy = np.column_stack([x, y])
    lines = shapely.linestrings(xy[point_index], indices=edge_of_point)
    u = all_refs[first_last[:, 0]]
    v = all_refs[first_last[:, 1]]
    attrs = streets.iloc[edge_way].reset_index(drop=True)
    oneway = attrs["oneway"].isin(ONEWAY_VALUES).to_numpy()
    forward = gpd.GeoDataFrame(attrs, geometry=lines, crs=crs)
    forward["u"], forward["v"] = u, v
    forward["oneway"] = oneway
    forward["oneway_tag"] = attrs["oneway"].to_numpy()
    forward["reversed"] = False
    backward = forward.copy()
    backward["u"], backward["v"] = v, u
    backward["geometry"] = shapely.reverse(lines)
    backward["reversed"] = True
    edges = pd.concat([forward, backward], ignore_index=True)
    edges["length"] = shapely.length(edges.geometry.to_numpy())
    edges["key"] = edges.groupby(["u", "v"]).cumcount()
    edges = edges.set_index(["u", "v", "key"]).drop(columns=["oneway_tag"])
    node_ids, first = np.unique(all_refs, return_index=True)
    used = np.isin(node_ids, np.concatenate([u, v]))
    node_ids, first = node_ids[used], first[used]
    nodes = gpd.GeoDataFrame(
        {
            "x": xy[first, 0],
            "y": xy[first, 1],
            "lon": all_lonlat[first, 0],
            "lat": all_lonlat[first, 1],
        },
        index=pd.Index(node_ids, name="osmid"),
        geometry=shapely.points(xy[first]),
        crs=crs,
    )
    nodes["street_count"] = _street_count(edges, nodes.index)
    return nodes, edges


def _street_count(edges: gpd.GeoDataFrame, index: pd.Index) -> np.ndarray:
    """Undirected street count per node (as ``osmnx.stats.count_streets_per_node``)."""
    fwd = edges[~edges["reversed"].to_numpy()]
    u = fwd.index.get_level_values("u").to_numpy()
    v = fwd.index.get_level_values("v").to_numpy()
    ends = np.concatenate([u, v[u != v], u[u == v]])
    counts = pd.Series(ends).value_counts()
    return counts.reindex(index, fill_value=0).to_numpy()


def clip_edges(
    nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, boundary: BaseGeometry
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Keep edges that touch the boundary polygon, and the nodes they use.

    Parameters
    ----------
    nodes, edges
        From :func:`build_edges`, in the boundary's CRS.
    boundary
        The province polygon.

    Returns
    -------
    nodes, edges
    """
    shapely.prepare(boundary)
    keep = shapely.intersects(boundary, edges.geometry.to_numpy())
    edges = edges[keep]
    used = np.union1d(
        edges.index.get_level_values("u").to_numpy(),
        edges.index.get_level_values("v").to_numpy(),
    )
    nodes = nodes.loc[nodes.index.isin(used)].copy()
    nodes["street_count"] = _street_count(edges, nodes.index)
    return nodes, edges


def to_graph(nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame) -> nx.MultiDiGraph:
    """Return an OSMnx ``MultiDiGraph`` from node and edge GeoDataFrames.

    Parameters
    ----------
    nodes, edges
        As from :func:`build_edges` (or read back from the ``ingest`` stage's artifacts).

    Returns
    -------
    networkx.MultiDiGraph
        With ``G.graph["crs"]``, node ``x, y`` and edge ``length``: OSMnx's own functions work.
    """
    import osmnx as ox  # noqa: PLC0415 - only for users of a NetworkX graph (tests, bench)

    if nodes.crs is None or not nodes.crs.is_projected:
        msg = f"graph nodes must be in a projected CRS, not {nodes.crs}"
        raise ValidationError(msg)
    return ox.convert.graph_from_gdfs(nodes, edges, graph_attrs={"crs": nodes.crs})


def read_graph_layers(
    nodes_path: object, edges_path: object
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read the ``ingest`` stage's node and edge GeoParquet files with their indexes restored."""
    from pipeline._io import read_geoparquet  # noqa: PLC0415 - avoid a cycle at import

    nodes = read_geoparquet(nodes_path)  # type: ignore[arg-type]
    edges = read_geoparquet(edges_path)  # type: ignore[arg-type]
    if "osmid" in nodes.columns:
        nodes = nodes.set_index("osmid")
    if {"u", "v", "key"} <= set(edges.columns):
        edges = edges.set_index(["u", "v", "key"])
    return nodes, edges
