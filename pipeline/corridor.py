"""Building corridors: the clear gap between footprints across each street, measured in bulk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely
from tqdm import tqdm

from pipeline.parallel import blocks, built_tree, map_chunks, ready_tree

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pipeline.config import AccessConfig

#: Footprints whose walls are read at a time (bounds the temporary parts and rings).
_FOOTPRINTS_PER_BLOCK = 100_000
#: Columns of :func:`gap_widths` (and of :func:`gap_widths_loop_baseline`).
GAP_COLUMNS: tuple[str, ...] = ("gap_width_m", "n_samples", "n_both_sides")


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
    """Every footprint's boundary segments, grouped by footprint (CSR layout), and envelopes."""

    start: np.ndarray
    vec: np.ndarray
    ptr: np.ndarray
    polygons: np.ndarray
    box: np.ndarray

    @classmethod
    def of(cls, polygons: np.ndarray) -> _Walls:
        """Read the walls block by block (the parts and rings of a block are temporary).

        A footprint of one ring (a polygon, or a multipolygon of one part, without holes:
        nearly all of them) is read straight from its coordinates (:func:`_one_ring`); the
        others go through their parts and rings. Either way a footprint's walls come in the
        order of its rings and vertices.
        """

        def read(first: int, stop: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
            out = []
            for a, b in blocks(first, stop, _FOOTPRINTS_PER_BLOCK):
                block = polygons[a:b]
                xy, owner = shapely.get_coordinates(block, return_index=True)
                simple = _one_ring(block, xy, owner)
                keep = simple[owner]
                out.append(_ring_walls(xy[keep], owner[keep], owner[keep] + a))
                del xy, owner, keep
                rows = np.flatnonzero(~simple)
                if len(rows):
                    parts, part_owner = shapely.get_parts(block[rows], return_index=True)
                    rings, ring_part = shapely.get_rings(parts, return_index=True)
                    del parts
                    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
                    out.append(_ring_walls(xy, ring_of, rows[part_owner[ring_part[ring_of]]] + a))
            return out

        found = [p for chunk in map_chunks(read, len(polygons), min_chunk=_FOOTPRINTS_PER_BLOCK)
                 for p in chunk]  # fmt: skip
        owner, start, vec = (np.concatenate([f[k] for f in found]) for k in range(3))
        del found
        ptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(polygons)))])
        if np.any(owner[1:] < owner[:-1]):  # each footprint's walls stay in their order
            order = np.argsort(owner, kind="stable")
            start, vec = start[order], vec[order]
        return cls(start, vec, ptr, polygons, shapely.bounds(polygons))


#: ``shapely.get_type_id`` of a Polygon and of a MultiPolygon.
_POLYGON_TYPES = (3, 6)
#: Copies of its first vertex in a closed ring's coordinates (first and last).
_RING_COPIES = 2


def _one_ring(polygons: np.ndarray, xy: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Boolean per polygon: one part and no hole, so its coordinates are one closed ring.

    ``xy``/``owner`` are ``shapely.get_coordinates(polygons, return_index=True)``. A ring's
    first vertex is also its last; a polygon whose coordinates end on their first vertex and
    hold it exactly twice has no second ring (a second ring would either end elsewhere or add
    a third copy: the first ring's closing vertex comes before the end). Empty and missing
    polygons have no coordinates (and no walls either way).
    """
    n = len(polygons)
    one_part = np.isin(shapely.get_type_id(polygons), _POLYGON_TYPES)
    one_part &= shapely.get_num_geometries(polygons) <= 1
    counts = np.bincount(owner, minlength=n)
    first = np.cumsum(counts) - counts
    last = first + counts - 1
    has = counts > 0
    head = np.zeros((n, 2))
    head[has] = xy[first[has]]
    closes = np.zeros(n, dtype=bool)
    closes[has] = np.all(xy[last[has]] == head[has], axis=1)
    copies = np.bincount(owner[np.all(xy == head[owner], axis=1)], minlength=n)
    simple: np.ndarray = one_part & ((closes & (copies == _RING_COPIES)) | ~has)
    return simple


def _ring_walls(
    xy: np.ndarray, ring_of: np.ndarray, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segments between consecutive vertices of the same ring: owner, start, vector.

    ``xy`` and ``ring_of`` as from ``shapely.get_coordinates(rings, return_index=True)``;
    ``owner`` gives the footprint of each vertex.
    """
    same = ring_of[1:] == ring_of[:-1]
    start = xy[:-1][same]
    return owner[:-1][same], start, xy[1:][same] - start


#: Candidate walls intersected at a time in :func:`_first_hits_m`: bounds its temporaries
#: (about 100 bytes a wall) whatever the density of the footprints around the sections.
_WALLS_PER_BLOCK = 1 << 20


def _first_hits_m(
    tree: shapely.STRtree, walls: _Walls, p: np.ndarray, half: np.ndarray, search_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the first footprint wall on the left and on the right of each sample.

    Footprints that cover the sample (a street drawn through a building) are ignored. The
    candidate walls are intersected in blocks of at most ``_WALLS_PER_BLOCK`` (a minimum
    over the same values whatever the blocks, so the result does not depend on them).
    """
    n = len(p)
    left = np.full(n, np.inf)
    right = np.full(n, np.inf)
    sections = shapely.linestrings(np.stack([p - half, p + half], axis=1))
    sec, bld = tree.query(sections)
    del sections
    counts = walls.ptr[bld + 1] - walls.ptr[bld]
    ends = np.cumsum(counts)
    cuts = np.searchsorted(ends, np.arange(_WALLS_PER_BLOCK, ends[-1] if len(ends) else 0,
                                           _WALLS_PER_BLOCK), side="right")  # fmt: skip
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(sec)], strict=True):
        _hits_into(left, right, walls=walls, p=p, half=half, sec=sec[a:b], bld=bld[a:b],
                   counts=counts[a:b], search_m=search_m)  # fmt: skip
    return left, right


def _hits_into(
    left: np.ndarray,
    right: np.ndarray,
    *,
    walls: _Walls,
    p: np.ndarray,
    half: np.ndarray,
    sec: np.ndarray,
    bld: np.ndarray,
    counts: np.ndarray,
    search_m: float,
) -> None:
    """Lower ``left``/``right`` by the walls of footprints ``bld`` crossing sections ``sec``.

    A footprint that covers its section's sample is skipped: its envelope holds the sample,
    and the exact point test (``intersects`` of a point is ``covered_by``) confirms it.
    """
    px, py = p[sec, 0], p[sec, 1]
    box = walls.box[bld]
    maybe = np.flatnonzero(
        (box[:, 0] <= px) & (px <= box[:, 2]) & (box[:, 1] <= py) & (py <= box[:, 3])
    )
    keep = np.ones(len(sec), dtype=bool)
    if len(maybe):
        keep[maybe] = ~shapely.intersects_xy(walls.polygons[bld[maybe]], px[maybe], py[maybe])
    # A footprint whose envelope lies wholly on one side of the section's line (by more than
    # any rounding) has no wall crossing it: its walls are not intersected.
    dx, dy = half[sec, 0], half[sec, 1]
    side = [(box[:, i] - px) * dy - (box[:, j] - py) * dx for i, j in _CORNERS]
    lo = np.minimum(np.minimum(side[0], side[1]), np.minimum(side[2], side[3]))
    hi = np.maximum(np.maximum(side[0], side[1]), np.maximum(side[2], side[3]))
    margin = _SIDE_MARGIN * search_m * (1.0 + np.abs(px) + np.abs(py))
    keep &= (lo <= margin) & (hi >= -margin)
    del side, lo, hi, margin, box
    sec, bld, counts = sec[keep], bld[keep], counts[keep]
    px, py, dx, dy = px[keep], py[keep], dx[keep], dy[keep]
    if len(sec) == 0:
        return
    # per wall: the pair's values repeated (sequential copies), the wall's own gathered
    starts = np.cumsum(counts) - counts
    s_idx = np.repeat(sec, counts)
    seg = np.arange(len(s_idx)) - np.repeat(starts - walls.ptr[bld], counts)
    dx, dy = np.repeat(dx, counts), np.repeat(dy, counts)
    ex, ey = walls.vec[seg, 0], walls.vec[seg, 1]
    wx = walls.start[seg, 0] - np.repeat(px, counts)
    wy = walls.start[seg, 1] - np.repeat(py, counts)
    del seg
    den = dx * ey - dy * ex
    ok = den != 0
    den[~ok] = 1.0
    t = (wx * ey - wy * ex) / den
    u = (wx * dy - wy * dx) / den
    del dx, dy, ex, ey, wx, wy, den
    hit = ok & (u >= 0) & (u <= 1) & (np.abs(t) <= 1)
    pos = hit & (t > 0)
    neg = hit & (t < 0)
    np.minimum.at(left, s_idx[pos], t[pos] * search_m)
    np.minimum.at(right, s_idx[neg], -t[neg] * search_m)


#: Corners of an envelope ``(minx, miny, maxx, maxy)``, as pairs of its column positions.
_CORNERS = ((0, 1), (2, 1), (0, 3), (2, 3))
#: Relative slack on the side test of :func:`_hits_into` (cross products of coordinates
#: relative to the sample carry rounding errors of ~1e-16 of the coordinates' size).
_SIDE_MARGIN = 1e-9


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


def gap_sections(
    lines: Sequence[object] | np.ndarray,
    buildings: Sequence[object] | np.ndarray,
    *,
    step_m: float,
    search_m: float,
    chunk_samples: int = 200_000,
    progress: bool = False,
    tree: shapely.STRtree | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Measure the clear gap between building footprints at every cross-section (vectorised).

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
    chunk_samples
        Cross-sections processed at a time by each thread (bounds memory at province scale).
    progress
        Show a progress bar over the chunks.
    tree
        ``STRtree(buildings)`` already built (:func:`pipeline.parallel.built_tree`): the
        caller's one index of the footprints (built here when ``None``).

    Returns
    -------
    line_idx, widths_m
        Per cross-section, the line it belongs to and its width (``NaN`` unless a building
        stands on both sides within ``search_m``).

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
        tree = built_tree(buildings) if tree is None else ready_tree(tree)
        walls = _Walls.of(buildings)
        verts = _Vertices.of(lines)
        bar = tqdm(
            total=-(-len(line_idx) // chunk_samples),
            desc="building gaps",
            unit="chunk",
            disable=not progress,
        )

        def measure(start: int, stop: int) -> np.ndarray:
            out = np.empty(stop - start)
            for s in range(start, stop, chunk_samples):
                e = min(s + chunk_samples, stop)
                p, half = _sections(verts, line_idx[s:e], along[s:e], search_m)
                left, right = _first_hits_m(tree, walls, p, half, search_m)
                out[s - start : e - start] = left + right
                bar.update(1)
            return out

        with bar:
            widths = np.concatenate(map_chunks(measure, len(line_idx), min_chunk=chunk_samples))
    widths[~np.isfinite(widths)] = np.nan
    return line_idx, widths


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
    lines, buildings, step_m, search_m, chunk_samples, progress
        As :func:`gap_sections`.
    quantile
        Low quantile of the cross-section widths taken as the line's bottleneck width.

    Returns
    -------
    pandas.DataFrame
        One row per line, in input order: ``gap_width_m`` (``NaN`` where no cross-section has
        a building on both sides within ``search_m``), ``n_samples`` and ``n_both_sides``.
    """
    lines = np.asarray(lines, dtype=object)
    line_idx, widths = gap_sections(
        lines,
        buildings,
        step_m=step_m,
        search_m=search_m,
        chunk_samples=chunk_samples,
        progress=progress,
    )
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


@dataclass(frozen=True)
class Corridor:
    """Building corridor per line: robust low quantile of the cross-sections, and its support."""

    width_m: np.ndarray
    raw_m: np.ndarray
    n_both: np.ndarray
    share: np.ndarray
    robust: np.ndarray


def corridor_widths(
    lines: np.ndarray,
    buildings: np.ndarray,
    groups: np.ndarray,
    cfg: AccessConfig,
    *,
    progress: bool = False,
    tree: shapely.STRtree | None = None,
) -> Corridor:
    """Robust building-corridor width of each line, pooled over its OSM way when too short.

    Parameters
    ----------
    lines
        Street lines (one per undirected street).
    buildings
        Footprints.
    groups
        Per line, its OSM way (lines of one way pool their cross-sections when a line alone
        has too few).
    cfg
        The ``access`` section: ``gap_*`` sampling, ``corridor_min_sections`` and
        ``corridor_min_share``.
    progress
        Progress bar for the measurement.
    tree
        ``STRtree(buildings)`` when the caller has it (see :func:`gap_sections`).

    Returns
    -------
    Corridor
        ``width_m`` is the ``gap_quantile`` of the cross-sections with buildings on both sides
        where they are at least ``corridor_min_sections`` and ``corridor_min_share`` of all
        (``NaN`` elsewhere); ``raw_m`` the same quantile without those conditions.
    """
    n = len(lines)
    line_idx, widths = gap_sections(
        lines,
        buildings,
        step_m=cfg.gap_sample_step_m,
        search_m=cfg.gap_search_m,
        progress=progress,
        tree=tree,
    )
    own = _aggregate(n, line_idx, widths, cfg.gap_quantile)
    codes, _ = pd.factorize(groups)
    pooled = _aggregate(int(codes.max()) + 1 if n else 0, codes[line_idx], widths, cfg.gap_quantile)
    pooled = pooled.iloc[codes].reset_index(drop=True)

    def robust(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        n_both = table["n_both_sides"].to_numpy()
        share = n_both / np.maximum(table["n_samples"].to_numpy(), 1)
        ok = (n_both >= cfg.corridor_min_sections) & (share >= cfg.corridor_min_share)
        return ok, share

    own_ok, own_share = robust(own)
    pool_ok, pool_share = robust(pooled)
    use_pool = ~own_ok & pool_ok
    width = np.where(own_ok, own["gap_width_m"], np.where(use_pool, pooled["gap_width_m"], np.nan))
    return Corridor(
        width_m=np.asarray(width, dtype=float),
        raw_m=own["gap_width_m"].to_numpy(dtype=float),
        n_both=np.where(use_pool, pooled["n_both_sides"], own["n_both_sides"]).astype(np.int64),
        share=np.where(use_pool, pool_share, own_share),
        robust=own_ok | pool_ok,
    )
