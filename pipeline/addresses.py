"""Where a shortlist row is, in words: the nearest named street and the nearest house number."""

from __future__ import annotations

import logging
from dataclasses import dataclass
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
    streets = _Streets(tree, geoms, names)

    def chunk(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        mine = None if own is None else own[start:stop]
        return _nearest_names(streets, points[start:stop], mine, start, max_m=max_m)

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


#: Metres of the first, short search of :func:`nearest_street` (most rows are on or beside
#: their street); the points it does not settle are searched to the full distance.
FIRST_SEARCH_M = 10.0
#: Metres a first answer must lie inside the first search: an equally near street on its
#: edge could be missed by rounding in GEOS's distance test.
SEARCH_SLACK_M = 0.01


@dataclass(frozen=True)
class _Streets:
    """The named streets searched: their tree, geometries and names (in tree order)."""

    tree: shapely.STRtree
    geoms: np.ndarray
    names: np.ndarray


def _best_names(
    streets: _Streets,
    points: np.ndarray,
    own: np.ndarray | None,
    rows: np.ndarray,
    *,
    reach_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return, of the points ``rows``, those with a street within ``reach_m``, its name, distance.

    Each point's candidates are taken in the order the tree gives them, the own name left
    out; the nearest wins, the first of equals.
    """
    src, dst = streets.tree.query(points[rows], predicate="dwithin", distance=reach_m)
    src = rows[src]
    cand = pd.DataFrame({"p": src, "name": streets.names[dst],
                         "d": shapely.distance(points[src], streets.geoms[dst])})  # fmt: skip
    if own is not None:
        cand = cand[cand["name"].to_numpy() != own[cand["p"].to_numpy()]]
    best = cand.sort_values(["p", "d"], kind="stable").drop_duplicates("p")
    return best["p"].to_numpy(), best["name"].to_numpy(), best["d"].to_numpy()


def _nearest_names(
    streets: _Streets,
    points: np.ndarray,
    own: np.ndarray | None,
    start: int,
    *,
    max_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the rows (offset by ``start``) of ``points`` with a street found, and its name.

    The answers of one search within ``max_m``, found with far fewer candidates: a first
    search within :data:`FIRST_SEARCH_M` settles every point whose answer lies inside it
    (any nearer street is then among its candidates too, and the tree gives the candidates
    of a shorter search in the same order); the others are searched within ``max_m``.
    """
    every = np.arange(len(points))
    first_m = min(FIRST_SEARCH_M, max_m)
    p, name, d = _best_names(streets, points, own, every, reach_m=first_m)
    settled = d <= first_m - SEARCH_SLACK_M
    again = np.ones(len(points), dtype=bool)
    again[p[settled]] = False
    p2, name2, _ = _best_names(streets, points, own, every[again], reach_m=max_m)
    return np.concatenate([p[settled], p2]) + start, np.concatenate([name[settled], name2])
