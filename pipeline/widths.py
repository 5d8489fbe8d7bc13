"""Street widths as evidence: tags, lanes, building corridors, surveys and priors -> intervals."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
import shapely
from tqdm import tqdm

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import geopandas as gpd

    from pipeline.config import AccessConfig

logger = logging.getLogger(__name__)

#: Width sources (the evidence that set a street's estimate), strongest first.
WIDTH_SOURCES: tuple[str, ...] = (
    "measured",
    "tag",
    "lanes",
    "corridor",
    "service_prior",
    "name_prior",
    "class_prior",
    "unknown_prior",
)
#: Sources that are priors (a class-wide guess, not evidence about this street).
PRIOR_SOURCES: frozenset[str] = frozenset(
    {"class_prior", "service_prior", "name_prior", "unknown_prior"}
)
#: ``sidewalk=*`` values that mean the street has a sidewalk on at least one side.
SIDEWALK_VALUES = frozenset({"both", "left", "right", "yes", "separate"})
SIDEWALK_TAGS: tuple[str, ...] = ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")

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


_F = TypeVar("_F", bound="Callable[..., Any]")


def per_distinct_value(fn: _F) -> _F:
    """Run a per-element function of a tag column once per distinct value, then spread back.

    A province's tag columns hold a few distinct values over hundreds of thousands of edges;
    pandas string methods loop in Python per element. The result is the same, element by
    element (``fn`` must not look at neighbouring rows); Series keep their dtype and take the
    input's index, arrays their dtype.
    """

    @functools.wraps(fn)
    def wrapper(values: pd.Series, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        if 2 * len(uniques) >= len(values):
            return fn(values, *args, **kwargs)
        out = fn(pd.Series(uniques, dtype=values.dtype), *args, **kwargs)

        def spread(part: Any) -> Any:  # noqa: ANN401
            if isinstance(part, pd.Series):
                return part.take(codes).set_axis(values.index)
            return np.asarray(part)[codes]

        return tuple(spread(p) for p in out) if isinstance(out, tuple) else spread(out)

    return wrapper  # type: ignore[return-value]


@per_distinct_value
def normalised_text(values: pd.Series) -> pd.Series:
    """Return tag values stripped and lower-cased (``string`` dtype, missing stays missing)."""
    return values.astype("string").str.strip().str.lower()


@per_distinct_value
def parse_length_range_m(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse OSM length tags into a low and a high value in metres.

    Parameters
    ----------
    values
        Raw tag values (strings or missing), for example ``"3m"``, ``"3,5"``, ``"2-3"``,
        ``"350 cm"``, ``"12'"`` or ``"narrow"``.

    Returns
    -------
    low, high
        Float metres indexed like ``values`` (``NaN`` where no positive number is found);
        ``high`` equals ``low`` unless the value is a range.

    Notes
    -----
    A decimal comma is a decimal point (``"3,5"`` is 3.5 m, as written in Viet Nam). Of a range
    (``"2-3"``) ``low`` is the lower value; of a list (``"3;4"``) the first value is kept.
    Units ``cm``, ``mm`` and feet (``ft``, ``'``) are converted; no unit is metres.
    """
    text = values.astype("string").str.strip().str.lower()
    parts = text.str.extract(_LENGTH_RE)
    first = pd.to_numeric(parts[0].str.replace(",", ".", regex=False), errors="coerce")
    second = pd.to_numeric(parts[1].str.replace(",", ".", regex=False), errors="coerce")
    a, b = first.to_numpy(dtype=float), second.to_numpy(dtype=float)
    factor = parts[2].map(_UNIT_M).astype(float).fillna(1.0).to_numpy()
    low, high = np.fmin(a, b) * factor, np.fmax(a, b) * factor
    low[~(low > 0)] = np.nan
    high[np.isnan(low)] = np.nan
    return pd.Series(low, index=values.index), pd.Series(high, index=values.index)


def parse_length_m(values: pd.Series) -> pd.Series:
    """Parse OSM length tags (``width``, ``maxheight``, ...) into metres: the low end of a range.

    See :func:`parse_length_range_m`; the lower value of a range is the conservative reading
    for a truck.
    """
    return parse_length_range_m(values)[0]


@per_distinct_value
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


def gap_sections(
    lines: Sequence[object] | np.ndarray,
    buildings: Sequence[object] | np.ndarray,
    *,
    step_m: float,
    search_m: float,
    chunk_samples: int = 200_000,
    progress: bool = False,
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
        Cross-sections processed at a time (bounds memory at province scale).
    progress
        Show a progress bar over the chunks.

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


@per_distinct_value
def is_alley_name(names: pd.Series, prefixes: Sequence[str]) -> pd.Series:
    """Tell whether each street name starts with an alley word (``Ngõ``, ``Ngách``, ``Hẻm``...)."""
    if not prefixes:
        return pd.Series(data=False, index=names.index)
    lowered = names.astype("string").str.strip().str.lower()
    words = tuple(p.lower() for p in prefixes)
    return lowered.str.startswith(words).fillna(value=False).astype(bool)


@per_distinct_value
def as_text(values: pd.Series) -> np.ndarray:
    """Return tag values as an object array of ``str`` (``""`` where missing)."""
    return values.astype("string").fillna("").to_numpy(dtype=object)


@per_distinct_value
def base_highway(highway: pd.Series) -> pd.Series:
    """Return each way's road class for width priors: the first of a list, ``*_link`` -> parent.

    Parameters
    ----------
    highway
        OSM ``highway`` values (``"primary_link"``, ``"service;footway"``, missing...).

    Returns
    -------
    pandas.Series
        Lower-case class names (``"primary"``, ``"service"``; ``""`` where missing).
    """
    first = highway.astype("string").str.split(";").str[0].str.strip().str.lower()
    return first.str.removesuffix("_link").fillna("")


def has_sidewalk(edges: pd.DataFrame) -> np.ndarray:
    """Tell which edges are tagged with a sidewalk on at least one side (``sidewalk=*``)."""
    out = np.zeros(len(edges), dtype=bool)
    for tag in SIDEWALK_TAGS:
        if tag in edges.columns:
            values = normalised_text(edges[tag])
            out |= values.isin(SIDEWALK_VALUES).to_numpy(dtype=bool)
    return out


@dataclass
class _Evidence:
    """Working arrays of the width estimate: value, interval, source, and evidence notes."""

    est: np.ndarray
    low: np.ndarray
    high: np.ndarray
    source: np.ndarray
    notes: list[np.ndarray]

    def note(self, mask: np.ndarray, text: np.ndarray | str) -> None:
        """Add an evidence note to the rows of ``mask``."""
        col = np.full(len(self.est), "", dtype=object)
        col[mask] = text[mask] if isinstance(text, np.ndarray) else text
        self.notes.append(col)

    def set(
        self,
        mask: np.ndarray,
        interval: tuple[np.ndarray | float, np.ndarray | float, np.ndarray | float],
        source: str,
    ) -> None:
        """Replace estimate and interval on ``mask`` by ``interval`` = (low, estimate, high)."""
        low, est, high = (np.broadcast_to(np.asarray(a, float), self.est.shape) for a in interval)
        self.low[mask], self.est[mask], self.high[mask] = low[mask], est[mask], high[mask]
        self.source[mask] = source

    def evidence(self) -> np.ndarray:
        """Return the notes of each row joined by ``"; "``."""
        out = np.full(len(self.est), "", dtype=object)
        for col in self.notes:
            text = pd.Series(col, dtype=object).fillna("").astype(str).to_numpy(dtype=object)
            joined = np.where(out == "", text, out + "; " + text)
            out = np.where(text == "", out, joined)
        return out


def _interval_table(
    keys: pd.Series, table: dict[str, tuple[float, float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Look ``keys`` up in a ``{key: (low, typical, high)}`` table; ``found`` says where."""
    frame = pd.DataFrame.from_dict(table, orient="index", columns=["low", "est", "high"])
    hit = frame.reindex(keys.astype(object).to_numpy())
    found = hit["est"].notna().to_numpy()
    return (
        hit["low"].to_numpy(dtype=float),
        hit["est"].to_numpy(dtype=float),
        hit["high"].to_numpy(dtype=float),
        found,
    )


def prior_widths(edges: pd.DataFrame, cfg: AccessConfig) -> _Evidence:
    """Start every edge from its prior: class, ``service=*`` kind, or alley name.

    Parameters
    ----------
    edges
        With ``highway`` and optionally ``service`` and ``name``.
    cfg
        The ``access`` section (``width_priors_m``, ``service_priors_m``,
        ``alley_name_prior_m``...).

    Returns
    -------
    _Evidence
        Priors with their source (``class_prior``, ``service_prior``, ``name_prior`` or
        ``unknown_prior``) and notes (``class=...``, ``service=...``, ``alley name``).
    """
    n = len(edges)
    base = base_highway(edges["highway"])
    low, est, high, known = _interval_table(base, cfg.width_priors_m)
    unknown = cfg.unknown_highway_prior_m
    ev = _Evidence(
        est=np.where(known, est, unknown[1]),
        low=np.where(known, low, unknown[0]),
        high=np.where(known, high, unknown[2]),
        source=np.where(known, "class_prior", "unknown_prior").astype(object),
        notes=[],
    )
    ev.note(np.ones(n, dtype=bool), "class=" + as_text(edges["highway"]))
    if "service" in edges.columns and cfg.service_priors_m:
        kind = normalised_text(edges["service"])
        s_low, s_est, s_high, s_known = _interval_table(kind.fillna(""), cfg.service_priors_m)
        on_service = (base == "service").to_numpy(dtype=bool) & s_known
        ev.set(on_service, (s_low, s_est, s_high), "service_prior")
        ev.note(on_service, "service=" + as_text(kind))
    if "name" in edges.columns:
        alley = is_alley_name(edges["name"], cfg.alley_name_prefixes).to_numpy(dtype=bool)
        a_low, a_est, a_high = cfg.alley_name_prior_m
        takes_prior = base.isin(cfg.alley_name_prior_highways).to_numpy(dtype=bool) | ~known
        replace = alley & takes_prior
        ev.set(replace, (a_low, a_est, a_high), "name_prior")
        # On other vehicle classes (residential...) the name pulls the estimate halfway to the
        # alley prior and widens the interval; footways are never widened by it.
        blend = alley & ~takes_prior & (est > a_est)
        ev.set(
            blend,
            (np.minimum(ev.low, a_low), (ev.est + a_est) / 2, np.maximum(ev.high, a_high)),
            "name_prior",
        )
        ev.note(alley, "alley name")
    return ev


def lanes_widths(
    edges: pd.DataFrame, cfg: AccessConfig
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Carriageway interval from ``lanes`` on car roads: lanes x lane width + an edge strip.

    Returns
    -------
    mask, (low, estimate, high)
        ``mask`` is where ``lanes`` is tagged on one of ``cfg.lanes_highways``.
    """
    n = len(edges)
    lanes = parse_lanes(edges["lanes"]).to_numpy() if "lanes" in edges else np.full(n, np.nan)
    car_road = base_highway(edges["highway"]).isin(cfg.lanes_highways).to_numpy(dtype=bool)
    mask = np.isfinite(lanes) & car_road
    edge = 2 * cfg.carriageway_edge_m.value
    return mask, (
        lanes * cfg.lane_width_min_m.value + edge,
        lanes * cfg.lane_width_m.value + edge,
        lanes * cfg.lane_width_max_m.value + edge,
    )


def tag_widths(
    edges: pd.DataFrame, cfg: AccessConfig
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Carriageway interval from ``width`` (a range keeps its low end) or ``est_width``.

    Returns
    -------
    mask, notes, (low, estimate, high)
    """
    n = len(edges)
    low, est, high = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    notes = np.full(n, "", dtype=object)
    if "est_width" in edges.columns:
        value = parse_length_m(edges["est_width"]).to_numpy()
        ok = np.isfinite(value)
        tol = cfg.est_width_tolerance_m.value
        low[ok], est[ok], high[ok] = np.maximum(value[ok] - tol, 0.1), value[ok], value[ok] + tol
        notes[ok] = "est_width=" + as_text(edges["est_width"])[ok]
    if "width" in edges.columns:
        w_low, w_high = (a.to_numpy() for a in parse_length_range_m(edges["width"]))
        ok = np.isfinite(w_low)
        low[ok], est[ok], high[ok] = w_low[ok], w_low[ok], w_high[ok]
        notes[ok] = "width=" + as_text(edges["width"])[ok]
    return np.isfinite(est), notes, (low, est, high)


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


def _apply_corridor(
    ev: _Evidence, corridor: Corridor, *, can_raise: np.ndarray, cfg: AccessConfig
) -> None:
    """Cap every interval by a robust corridor; raise alley-like priors by a consistent one."""
    c = corridor.width_m
    robust = corridor.robust & np.isfinite(c)
    text = (
        pd.Series(np.nan_to_num(c)).map("corridor={:.1f} m".format)
        + " ("
        + pd.Series(corridor.n_both).astype(str)
        + " sections, "
        + pd.Series(100 * corridor.share).map("{:.0f}%)".format)
    ).to_numpy(dtype=object)
    enc = cfg.corridor_encroachment_m.value
    raise_ = robust & can_raise & (c > ev.est)
    ev.set(raise_, (np.maximum(c - enc, 0.1), c, c), "corridor")
    cap = robust & ~raise_ & (c < ev.high)
    lowered = cap & (c < ev.est)
    ev.high[cap] = c[cap]
    ev.low[cap] = np.minimum(ev.low[cap], c[cap])
    ev.est[lowered] = c[lowered]
    ev.source[lowered] = "corridor"
    ev.note(robust, text)


def estimate_widths(
    edges: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    cfg: AccessConfig,
    *,
    measured: pd.DataFrame | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Estimate the carriageway width of every edge as evidence: value, interval, sources.

    Parameters
    ----------
    edges
        Graph edges with ``highway`` and LineString geometry (projected CRS, metres), and the
        tags ``name``, ``service``, ``width``, ``est_width``, ``lanes``, ``sidewalk*`` and
        ``osmid`` where present.
    buildings
        Building footprints in the same CRS.
    cfg
        The ``access`` config section.
    measured
        Surveyed widths per edge (from :func:`pipeline.measured.match_measured_widths`), indexed
        like ``edges``: ``width_m`` and ``note`` (``NaN`` / ``""`` where not surveyed).
    progress
        Show a progress bar for the building-corridor measurement.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``edges``: ``width_m`` (the estimate), ``width_low_m``, ``width_high_m``
        (the plausible interval), ``width_source`` in :data:`WIDTH_SOURCES`,
        ``width_evidence`` (the evidence read, ``"; "``-separated), ``width_confidence``
        (0..1), ``corridor_m`` (the robust corridor, ``NaN`` where not robust),
        ``corridor_sections`` and ``gap_width_m`` (the corridor without robustness rules).

    Notes
    -----
    Evidence, weakest first, each replacing or bounding the previous:

    1. a prior by class (``*_link`` take their parent's), by ``service=*`` kind, or by alley
       name (``Ngõ``, ``Hẻm``...: on service / unclassified / track / road / living-street
       ways; halfway on residential ways);
    2. ``lanes`` on car roads: lanes x lane width plus an edge strip each side
       (TCXDVN 104:2007), so a one-lane car road is at least 4 m;
    3. the building corridor, an upper bound: a robust corridor caps the interval (its narrow
       stretches can prove a street impassable); on alley-like ways without sidewalks a
       consistent one raises the prior to ``[corridor - encroachment, corridor]``;
    4. ``width`` / ``est_width`` tags (a range keeps its low end), trusted;
    5. surveyed widths from the authority, labelled ``measured``.

    ``maxwidth`` is a vehicle restriction, not a width: see :func:`pipeline.access.truck_blocks`.
    A line and its reverse twin are measured once.
    """
    t0 = time.perf_counter()
    n = len(edges)
    ev = prior_widths(edges, cfg)
    lanes_mask, lanes_iv = lanes_widths(edges, cfg)
    ev.set(lanes_mask, lanes_iv, "lanes")
    if "lanes" in edges.columns:
        ev.note(lanes_mask, "lanes=" + as_text(edges["lanes"]))

    geoms = edges.geometry.to_numpy()
    codes, first = undirected_twins(geoms)
    way = edges["osmid"].to_numpy()[first] if "osmid" in edges.columns else np.arange(len(first))
    corridor_u = corridor_widths(
        geoms[first], buildings.geometry.to_numpy(), way, cfg, progress=progress
    )
    corridor = Corridor(
        *(np.asarray(getattr(corridor_u, f))[codes] for f in Corridor.__dataclass_fields__)
    )
    base = base_highway(edges["highway"])
    sidewalk = base.isin(cfg.sidewalk_highways).to_numpy(dtype=bool) | has_sidewalk(edges)
    hose_path = base.isin(cfg.hose_path_highways).to_numpy(dtype=bool)
    prior = np.isin(ev.source, list(PRIOR_SOURCES))
    ev.note(sidewalk, "sidewalk")
    _apply_corridor(ev, corridor, can_raise=prior & ~sidewalk & ~hose_path, cfg=cfg)

    tag_mask, tag_notes, tag_iv = tag_widths(edges, cfg)
    ev.set(tag_mask, tag_iv, "tag")
    ev.note(tag_mask, tag_notes)
    if measured is not None:
        m = measured["width_m"].reindex(edges.index).to_numpy(dtype=float)
        surveyed = np.isfinite(m)
        ev.set(surveyed, (m, m, m), "measured")
        ev.note(surveyed, measured["note"].reindex(edges.index).fillna("").to_numpy(dtype=object))

    conf_table = cfg.width_confidence
    confidence = pd.Series(ev.source).map(conf_table).to_numpy(dtype=float, copy=True)
    from_corridor = ev.source == "corridor"
    confidence[from_corridor] *= 0.5 + 0.5 * corridor.share[from_corridor]
    out = pd.DataFrame(
        {
            "width_m": ev.est,
            "width_low_m": ev.low,
            "width_high_m": ev.high,
            "width_source": ev.source.astype(str),
            "width_evidence": ev.evidence(),
            "width_confidence": np.clip(confidence, 0, 1),
            "corridor_m": np.where(corridor.robust, corridor.width_m, np.nan),
            "corridor_sections": corridor.n_both,
            "gap_width_m": corridor.raw_m,
        },
        index=edges.index,
    )
    logger.info(
        "widths: %s edges (%s undirected), %s with a robust building corridor, sources %s (%.1f s)",
        f"{n:,}",
        f"{len(first):,}",
        f"{int(np.isfinite(out['corridor_m']).sum()):,}",
        out["width_source"].value_counts().to_dict(),
        time.perf_counter() - t0,
    )
    return out
