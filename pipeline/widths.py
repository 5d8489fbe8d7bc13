"""Street and alley widths: tag parsing, lanes, building-gap cross-sections, defaults."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely
from tqdm import tqdm

if TYPE_CHECKING:
    from collections.abc import Sequence

    import geopandas as gpd

    from pipeline.config import AccessConfig

logger = logging.getLogger(__name__)

#: Width sources, strongest evidence first.
WIDTH_SOURCES: tuple[str, ...] = (
    "tag",
    "lanes",
    "building_gap",
    "name_default",
    "highway_default",
)
#: Tags read for a width, in order of preference.
WIDTH_TAGS: tuple[str, ...] = ("width", "est_width", "maxwidth")

_NUMBER = r"(\d+(?:[.,]\d+)?|[.,]\d+)"
_LENGTH_RE = (
    rf"^[^\d.,]*?{_NUMBER}\s*(?:(?:-|\u2013|to|~)\s*{_NUMBER})?\s*"
    "(cm|mm|m|met|meter|meters|metre|metres|ft|feet|foot|'|\u2019)?"
)
_UNIT_M = {
    "cm": 0.01,
    "mm": 0.001,
    "ft": 0.3048,
    "feet": 0.3048,
    "foot": 0.3048,
    "'": 0.3048,
    "\u2019": 0.3048,
}
#: Columns of :func:`gap_widths` (and of :func:`gap_widths_loop_baseline`).
GAP_COLUMNS: tuple[str, ...] = ("gap_width_m", "n_samples", "n_both_sides")


def parse_length_m(values: pd.Series) -> pd.Series:
    """Parse OSM length tags (``width``, ``maxheight``, ...) into metres.

    Parameters
    ----------
    values
        Raw tag values (strings or missing), for example ``"3m"``, ``"3,5"``, ``"2-3"``,
        ``"350 cm"``, ``"12'"`` or ``"narrow"``.

    Returns
    -------
    pandas.Series
        Float metres indexed like ``values``; ``NaN`` where no positive number is found.

    Notes
    -----
    A decimal comma is a decimal point (``"3,5"`` is 3.5 m, as written in Viet Nam). Of a range
    (``"2-3"``) or a list (``"3;4"``) the first, lower value is kept: the conservative reading
    for a truck. Units ``cm``, ``mm`` and feet (``ft``, ``'``) are converted; no unit is metres.
    """
    text = values.astype("string").str.strip().str.lower()
    parts = text.str.extract(_LENGTH_RE)
    low = pd.to_numeric(parts[0].str.replace(",", ".", regex=False), errors="coerce")
    high = pd.to_numeric(parts[1].str.replace(",", ".", regex=False), errors="coerce")
    number = np.fmin(low.to_numpy(dtype=float), high.to_numpy(dtype=float))
    factor = parts[2].map(_UNIT_M).astype(float).fillna(1.0).to_numpy()
    out = number * factor
    out[~(out > 0)] = np.nan
    return pd.Series(out, index=values.index, dtype=float)


def parse_lanes(values: pd.Series) -> pd.Series:
    """Parse the OSM ``lanes`` tag: the first whole number (``"2;3"`` -> 2), ``NaN`` otherwise."""
    text = values.astype("string").str.extract(r"^\s*(\d+)", expand=False)
    lanes = pd.to_numeric(text, errors="coerce").astype(float)
    lanes[~(lanes > 0)] = np.nan
    return lanes


def _sample_positions(lengths: np.ndarray, step_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Cross-section positions: ``ceil(L / step)`` evenly spaced, half a spacing from each end."""
    n = np.maximum(1, np.ceil(lengths / step_m)).astype(np.int64)
    n[lengths <= 0] = 0
    line_idx = np.repeat(np.arange(len(lengths)), n)
    first = np.repeat(np.cumsum(n) - n, n)
    k = np.arange(len(line_idx)) - first
    along = (k + 0.5) * lengths[line_idx] / n[line_idx]
    return line_idx, along


@dataclass(frozen=True)
class _Vertices:
    """All lines' vertices in one array, with the running distance over all of them."""

    xy: np.ndarray
    cum: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, lines: np.ndarray) -> _Vertices:
        xy, owner = shapely.get_coordinates(lines, return_index=True)
        step = np.hypot(*np.diff(xy, axis=0).T) if len(xy) > 1 else np.empty(0)
        step[owner[1:] != owner[:-1]] = 0.0
        cum = np.concatenate([[0.0], np.cumsum(step)])[: len(xy)]
        ids = np.arange(len(lines))
        first = np.searchsorted(owner, ids, side="left")
        last = np.searchsorted(owner, ids, side="right") - 1
        return cls(xy, cum, first, last)

    def length(self, line_idx: np.ndarray) -> np.ndarray:
        """Length of each line."""
        return np.asarray(self.cum[self.last[line_idx]] - self.cum[self.first[line_idx]])

    def interpolate(self, line_idx: np.ndarray, along: np.ndarray) -> np.ndarray:
        """Points at distance ``along`` on lines ``line_idx`` (as ``line_interpolate_point``)."""
        first = self.first[line_idx]
        target = self.cum[first] + along
        pos = np.searchsorted(self.cum, target, side="right") - 1
        pos = np.clip(pos, first, np.maximum(self.last[line_idx] - 1, first))
        a, b = self.xy[pos], self.xy[pos + 1]
        seg = self.cum[pos + 1] - self.cum[pos]
        frac = (target - self.cum[pos]) / np.where(seg > 0, seg, 1.0)
        return np.asarray(a + (b - a) * np.clip(np.where(seg > 0, frac, 0.0), 0.0, 1.0)[:, None])


def _sections(
    verts: _Vertices, line_idx: np.ndarray, along: np.ndarray, search_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sample points and half cross-section vectors (``search_m`` long, to the left)."""
    lengths = verts.length(line_idx)
    delta = np.minimum(0.5, lengths / 4)
    a = verts.interpolate(line_idx, np.maximum(along - delta, 0))
    b = verts.interpolate(line_idx, np.minimum(along + delta, lengths))
    p = verts.interpolate(line_idx, along)
    t = b - a
    norm = np.hypot(t[:, 0], t[:, 1])
    norm[norm == 0] = 1.0
    return p, np.column_stack([-t[:, 1], t[:, 0]]) / norm[:, None] * search_m


@dataclass(frozen=True)
class _Walls:
    """Every footprint's boundary segments, grouped by footprint (CSR layout)."""

    start: np.ndarray
    vec: np.ndarray
    ptr: np.ndarray

    @classmethod
    def of(cls, polygons: np.ndarray) -> _Walls:
        parts, part_owner = shapely.get_parts(polygons, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        xy, ring_of = shapely.get_coordinates(rings, return_index=True)
        same = ring_of[1:] == ring_of[:-1]
        owner = part_owner[ring_part[ring_of[:-1][same]]]
        start = xy[:-1][same]
        vec = xy[1:][same] - start
        order = np.argsort(owner, kind="stable")
        ptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(polygons)))])
        return cls(start[order], vec[order], ptr)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])


def _first_hits_m(
    tree: shapely.STRtree, walls: _Walls, p: np.ndarray, half: np.ndarray, search_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the first footprint wall on the left and on the right of each sample.

    Footprints that cover the sample (a street drawn through a building) are ignored.
    """
    n = len(p)
    left = np.full(n, np.inf)
    right = np.full(n, np.inf)
    sections = shapely.linestrings(np.stack([p - half, p + half], axis=1))
    sec, bld = tree.query(sections)
    inside_pt, inside_b = tree.query(shapely.points(p), predicate="covered_by")
    if len(inside_pt):
        nb = len(walls.ptr) - 1
        drop = np.isin(sec * nb + bld, inside_pt * nb + inside_b)
        sec, bld = sec[~drop], bld[~drop]
    counts = walls.ptr[bld + 1] - walls.ptr[bld]
    pair = np.repeat(np.arange(len(sec)), counts)
    seg = np.arange(len(pair)) - np.repeat(np.cumsum(counts) - counts, counts)
    seg += walls.ptr[bld][pair]
    s_idx = sec[pair]
    d = half[s_idx]
    e = walls.vec[seg]
    w = walls.start[seg] - p[s_idx]
    den = _cross(d, e)
    ok = den != 0
    den = np.where(ok, den, 1.0)
    t = _cross(w, e) / den
    u = _cross(w, d) / den
    hit = ok & (u >= 0) & (u <= 1) & (np.abs(t) <= 1)
    pos = hit & (t > 0)
    neg = hit & (t < 0)
    np.minimum.at(left, s_idx[pos], t[pos] * search_m)
    np.minimum.at(right, s_idx[neg], -t[neg] * search_m)
    return left, right


def _aggregate(
    n_lines: int, line_idx: np.ndarray, widths: np.ndarray, quantile: float
) -> pd.DataFrame:
    both = np.isfinite(widths)
    n_samples = np.bincount(line_idx, minlength=n_lines)
    n_both = np.bincount(line_idx[both], minlength=n_lines)
    q = pd.Series(widths[both]).groupby(line_idx[both]).quantile(quantile)
    gap = np.full(n_lines, np.nan)
    gap[q.index.to_numpy(dtype=np.int64)] = q.to_numpy()
    return pd.DataFrame({"gap_width_m": gap, "n_samples": n_samples, "n_both_sides": n_both})


def gap_widths(
    lines: Sequence[object] | np.ndarray,
    buildings: Sequence[object] | np.ndarray,
    *,
    step_m: float,
    search_m: float,
    quantile: float,
    chunk_samples: int = 200_000,
    progress: bool = False,
) -> pd.DataFrame:
    """Measure the clear gap between building footprints across each line (vectorised).

    Parameters
    ----------
    lines
        Street centrelines (Shapely LineStrings, projected CRS in metres).
    buildings
        Building footprints (Shapely Polygons, same CRS).
    step_m
        Spacing of the cross-sections along each line (at least one per line).
    search_m
        How far each side to look for a building.
    quantile
        Low quantile of the cross-section widths taken as the line's bottleneck width.
    chunk_samples
        Cross-sections processed at a time (bounds memory at province scale).
    progress
        Show a progress bar over the chunks.

    Returns
    -------
    pandas.DataFrame
        One row per line, in input order: ``gap_width_m`` (``NaN`` where no cross-section has
        a building on both sides within ``search_m``), ``n_samples`` and ``n_both_sides``.

    Notes
    -----
    Cross-sections sit at ``(k + 1/2) L / n`` for ``n = ceil(L / step_m)``, perpendicular to
    the line (its direction over +-0.5 m). A cross-section's width is the distance to the
    first footprint wall on the left plus that on the right. Per chunk of samples: one
    STRtree bounding-box query, then every candidate wall is intersected with the
    cross-section in NumPy (no Shapely call per pair, no Python loop per sample).
    :func:`gap_widths_loop_baseline` gives the same result with Shapely calls in loops.
    """
    lines = np.asarray(lines, dtype=object)
    buildings = np.asarray(buildings, dtype=object)
    line_idx, along = _sample_positions(shapely.length(lines), step_m)
    widths = np.full(len(line_idx), np.nan)
    if len(buildings) and len(line_idx):
        tree = shapely.STRtree(buildings)
        walls = _Walls.of(buildings)
        verts = _Vertices.of(lines)
        starts = range(0, len(line_idx), chunk_samples)
        for s in tqdm(starts, desc="building gaps", unit="chunk", disable=not progress):
            sl = slice(s, s + chunk_samples)
            p, half = _sections(verts, line_idx[sl], along[sl], search_m)
            left, right = _first_hits_m(tree, walls, p, half, search_m)
            widths[sl] = left + right
    widths[~np.isfinite(widths)] = np.nan
    return _aggregate(len(lines), line_idx, widths, quantile)


def gap_widths_loop_baseline(
    lines: Sequence[object] | np.ndarray,
    buildings: Sequence[object] | np.ndarray,
    *,
    step_m: float,
    search_m: float,
    quantile: float,
    chunk_samples: int = 200_000,  # noqa: ARG001 - same signature as gap_widths
    progress: bool = False,  # noqa: ARG001
) -> pd.DataFrame:
    """Measure building gaps the common naive way: a Python loop per line and per sample.

    Same parameters and result as :func:`gap_widths`; kept only as the benchmark's baseline
    (``make bench`` times both on the same data and checks that they agree).
    """
    lines = np.asarray(lines, dtype=object)
    buildings = np.asarray(buildings, dtype=object)
    tree = shapely.STRtree(buildings) if len(buildings) else None
    rows = []
    for line in lines:
        length = line.length
        n = max(1, int(np.ceil(length / step_m))) if length > 0 else 0
        widths = []
        for k in range(n):
            along = (k + 0.5) * length / n
            delta = min(0.5, length / 4)
            a = line.interpolate(max(along - delta, 0))
            b = line.interpolate(min(along + delta, length))
            p = line.interpolate(along)
            tx, ty = b.x - a.x, b.y - a.y
            norm = float(np.hypot(tx, ty)) or 1.0
            nx, ny = -ty / norm * search_m, tx / norm * search_m
            sides = []
            for sign in (1.0, -1.0):
                ray = shapely.LineString([(p.x, p.y), (p.x + sign * nx, p.y + sign * ny)])
                best = np.inf
                candidates = tree.query(ray, predicate="intersects") if tree is not None else []
                for i in candidates:
                    poly = buildings[i]
                    if poly.covers(p):
                        continue
                    best = min(best, p.distance(ray.intersection(poly)))
                sides.append(best if best <= search_m else np.inf)
            if np.isfinite(sides[0]) and np.isfinite(sides[1]):
                widths.append(sides[0] + sides[1])
        rows.append(
            (
                float(np.quantile(widths, quantile)) if widths else np.nan,
                n,
                len(widths),
            )
        )
    out = pd.DataFrame(rows, columns=list(GAP_COLUMNS))
    out["gap_width_m"] = out["gap_width_m"].astype(float)
    out[["n_samples", "n_both_sides"]] = out[["n_samples", "n_both_sides"]].astype(np.int64)
    return out


def undirected_twins(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group each line with its reversed twin (both directions of a street are one).

    Parameters
    ----------
    geoms
        LineStrings.

    Returns
    -------
    codes, first
        ``codes[i]`` the undirected street of line ``i`` (``0..k-1``); ``first[c]`` the
        position of the first line of street ``c``.
    """
    wkb = shapely.to_wkb(shapely.normalize(geoms))
    codes, uniques = pd.factorize(wkb)
    first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    return codes, first[: len(uniques)]


def is_alley_name(names: pd.Series, prefixes: Sequence[str]) -> pd.Series:
    """Tell whether each street name starts with an alley word (``Ngõ``, ``Ngách``, ``Hẻm``...)."""
    if not prefixes:
        return pd.Series(data=False, index=names.index)
    lowered = names.astype("string").str.strip().str.lower()
    words = tuple(p.lower() for p in prefixes)
    return lowered.str.startswith(words).fillna(value=False).astype(bool)


def estimate_widths(
    edges: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    cfg: AccessConfig,
    *,
    progress: bool = False,
) -> pd.DataFrame:
    """Estimate the carriageway width of every edge, with its source and a confidence.

    Parameters
    ----------
    edges
        Graph edges with ``highway``, ``name``, ``width``, ``est_width``, ``maxwidth``,
        ``lanes`` and LineString geometry (projected CRS, metres).
    buildings
        Building footprints in the same CRS.
    cfg
        The ``access`` config section.
    progress
        Show a progress bar for the building-gap measurement.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``edges``: ``width_m``, ``width_source`` in {"tag", "lanes",
        "building_gap", "name_default", "highway_default"}, ``width_confidence`` (0..1) and
        ``gap_width_m`` (``NaN`` where not measured).

    Notes
    -----
    A tagged width wins. Otherwise ``lanes`` x lane width, then the alley-name default, then
    the ``highway`` default. A measured building gap caps every untagged estimate (a street
    cannot be wider than the space between its houses); with ``gap_replaces_default`` it also
    replaces a mere default when wider (houses fronting both sides are better evidence than
    a class-wide guess), except on ``gap_cap_only_highways`` (footways are not widened into
    truck streets). A line and its reverse twin are measured once.
    """
    t0 = time.perf_counter()
    conf = cfg.width_confidence
    tagged = pd.Series(np.nan, index=edges.index)
    for tag in WIDTH_TAGS:
        if tag in edges.columns:
            tagged = tagged.fillna(parse_length_m(edges[tag]))
    lanes = parse_lanes(edges["lanes"]) if "lanes" in edges.columns else tagged * np.nan
    by_lanes = lanes * cfg.lane_width_m.value
    alley_name = is_alley_name(edges["name"], cfg.alley_name_prefixes)
    by_highway = edges["highway"].astype("string").map(cfg.width_by_highway_m).astype(float)
    by_highway = by_highway.fillna(cfg.width_by_highway_m.get("default", np.nan))
    fallback = float(min(cfg.width_by_highway_m.values(), default=cfg.alley_width_m))
    by_highway = by_highway.fillna(fallback)
    by_name = pd.Series(np.where(alley_name, cfg.alley_width_m, np.nan), index=edges.index)

    geoms = edges.geometry.to_numpy()
    codes, first = undirected_twins(geoms)
    gaps = gap_widths(
        geoms[first],
        buildings.geometry.to_numpy(),
        step_m=cfg.gap_sample_step_m,
        search_m=cfg.gap_search_m,
        quantile=cfg.gap_quantile,
        progress=progress,
    )
    gap = pd.Series(gaps["gap_width_m"].to_numpy()[codes], index=edges.index)
    share = (gaps["n_both_sides"] / gaps["n_samples"].clip(lower=1)).to_numpy()[codes]

    width = by_highway.copy()
    source = pd.Series("highway_default", index=edges.index, dtype=object)
    confidence = pd.Series(conf["highway_default"], index=edges.index, dtype=float)
    # Alley names default only downwards: a "Ngõ" tagged highway=footway stays at 1.5 m.
    use_name = by_name.notna() & ~(by_name > by_highway)
    width[use_name], source[use_name] = by_name[use_name], "name_default"
    confidence[use_name] = conf["name_default"]
    is_default = source.isin(["highway_default", "name_default"])
    use_lanes = by_lanes.notna()
    width[use_lanes], source[use_lanes] = by_lanes[use_lanes], "lanes"
    confidence[use_lanes] = conf["lanes"]
    is_default &= ~use_lanes
    is_default &= ~edges["highway"].astype("string").isin(cfg.gap_cap_only_highways).to_numpy(
        dtype=bool
    )
    measured = gap.notna() & tagged.isna()
    use_gap = measured & ((gap < width) | (is_default & cfg.gap_replaces_default))
    width[use_gap], source[use_gap] = gap[use_gap], "building_gap"
    confidence[use_gap] = conf["building_gap"] * (0.5 + 0.5 * share[use_gap.to_numpy()])
    use_tag = tagged.notna()
    width[use_tag], source[use_tag] = tagged[use_tag], "tag"
    confidence[use_tag] = conf["tag"]
    out = pd.DataFrame(
        {
            "width_m": width.astype(float),
            "width_source": source,
            "width_confidence": confidence.clip(0, 1),
            "gap_width_m": gap,
        },
        index=edges.index,
    )
    n_unique = len(first)
    elapsed = time.perf_counter() - t0
    logger.info(
        "widths: %s edges (%s undirected), %s with a building gap, sources %s (%.1f s)",
        f"{len(edges):,}",
        f"{n_unique:,}",
        f"{int(gap.notna().sum()):,}",
        out["width_source"].value_counts().to_dict(),
        elapsed,
    )
    return out
