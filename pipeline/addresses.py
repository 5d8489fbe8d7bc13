"""Where a shortlist row is, in words: the nearest named street and the nearest house number."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from pipeline.parallel import built_tree, map_chunks

if TYPE_CHECKING:
    import geopandas as gpd

logger = logging.getLogger(__name__)

#: Fewest points worth a thread of their own in the searches (each point's search is
#: independent, so the results do not depend on the split).
POINTS_PER_THREAD = 2_000


def _names(values: pd.Series) -> np.ndarray:
    """Return names as plain strings ("" when missing); OSMnx lists keep their first name."""

    def one(v: object) -> str:
        if isinstance(v, (list, tuple, np.ndarray)):
            return str(v[0]) if len(v) else ""
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()

    return np.asarray([one(v) for v in values.to_numpy()], dtype=object)


def nearest_street(
    points: np.ndarray,
    edges: gpd.GeoDataFrame | None,
    *,
    max_m: float,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Return the name of the nearest named street within ``max_m`` of each point ("" if none).

    Parameters
    ----------
    points
        Shapely points in the edges' CRS.
    edges
        Street edges with a ``name`` column.
    max_m
        Search distance, metres.
    exclude
        Per point, a name that does not count (an alley's own name: its parent street is
        wanted).

    Returns
    -------
    numpy.ndarray of str
    """
    out = np.full(len(points), "", dtype=object)
    if edges is None or len(edges) == 0 or "name" not in edges.columns or not len(points):
        return out
    names = _names(edges["name"])
    named = names != ""
    if not named.any():
        return out
    geoms = edges.geometry.to_numpy()[named]
    names = names[named]
    tree = built_tree(geoms)
    own = None
    if exclude is not None:
        own = pd.Series(exclude, dtype=object).fillna("").astype(str).to_numpy()

    def chunk(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        # Each point's candidates in the order the tree gives them, whatever the chunk.
        src, dst = tree.query(points[start:stop], predicate="dwithin", distance=max_m)
        src = src + start
        dist = shapely.distance(points[src], geoms[dst])
        cand = pd.DataFrame({"p": src, "name": names[dst], "d": dist})
        if own is not None:
            cand = cand[cand["name"].to_numpy() != own[cand["p"]]]
        best = cand.sort_values(["p", "d"], kind="stable").drop_duplicates("p")
        return best["p"].to_numpy(), best["name"].to_numpy()

    for rows, found in map_chunks(chunk, len(points), min_chunk=POINTS_PER_THREAD):
        out[rows] = found
    return out


def nearest_house_number(
    points: np.ndarray, buildings: gpd.GeoDataFrame | None, *, max_m: float
) -> np.ndarray:
    """Return the nearest OSM address within ``max_m`` of each point ("" if none).

    Parameters
    ----------
    points
        Shapely points in the buildings' CRS.
    buildings
        Footprints with ``housenumber`` (OSM ``addr:housenumber``) and optionally
        ``addr_street`` (``addr:street``).
    max_m
        Search distance, metres.

    Returns
    -------
    numpy.ndarray of str
        ``"<number> <street>"`` (the street when tagged), else ``""``.
    """
    out = np.full(len(points), "", dtype=object)
    if buildings is None or "housenumber" not in buildings.columns or not len(points):
        return out
    numbers = _names(buildings["housenumber"])
    has = numbers != ""
    if not has.any():
        return out
    streets = (
        _names(buildings["addr_street"])
        if "addr_street" in buildings.columns
        else np.full(len(buildings), "", dtype=object)
    )
    label = np.char.strip(
        numbers[has].astype(str).astype(np.str_) + " " + streets[has].astype(np.str_)
    ).astype(object)
    tree = built_tree(buildings.geometry.to_numpy()[has])

    def chunk(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        src, dst = tree.query_nearest(points[start:stop], max_distance=max_m, all_matches=False)
        return src + start, dst

    for src, dst in map_chunks(chunk, len(points), min_chunk=POINTS_PER_THREAD):
        out[src] = label[dst]
    return out
