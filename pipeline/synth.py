"""Generate a seeded, province-scale synthetic OSM dataset shaped like the Red River delta."""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path  # noqa: TC003 - used at run time by dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import osmium
import osmium.io
import pyproj
import shapely
from osmium.osm import mutable
from tqdm import tqdm

from pipeline._errors import ConfigError
from pipeline._io import atomic_path, write_json
from pipeline.paths import PROJECT_ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator

logger = logging.getLogger(__name__)

#: Bump when the generated data changes, so cached files are regenerated.
GENERATOR_VERSION = 3
#: Projected CRS of the generator's metric world.
CRS = "EPSG:32648"
#: South-west corner of the world in UTM 48N: near Bắc Ninh city; a full province world of
#: 66 x 45 km stays inside Bắc Ninh's bbox (105.88-107.03 E, 20.97-21.63 N).
ORIGIN_XY = (595_000.0, 2_330_000.0)
#: Margin of the boundary polygon around the world (m): alleys of the outer roads stay inside.
BOUNDARY_MARGIN_M = 300.0
#: Cache folder of generated datasets, keyed by (scale, seed).
CACHE_DIR = PROJECT_ROOT / "cache" / "synth"
RIVER_NAMES = ("Sông Cầu", "Sông Đuống", "Sông Thương", "Sông Lục Nam")


@dataclass(frozen=True)
class CombSpec:
    """An alley (ngõ) with cross alleys (ngách) lined by houses, in local metres.

    The spine runs from the parent street (the origin) along +y; ``levels`` cross alleys of
    half-length ``half_m`` cross it every ``spacing_m``; a row of houses lines each side of each
    cross alley, from the spine's edge outwards, so facing rows are exactly one alley apart.
    """

    spine_width_m: float
    cross_width_m: float
    levels: int
    spacing_m: float
    half_m: float
    frontage_m: float
    house_width_m: float
    house_depth_m: float

    @property
    def depth_m(self) -> float:
        """How far the comb reaches from its parent street."""
        return self.levels * self.spacing_m + self.cross_width_m / 2 + self.house_depth_m


@dataclass(frozen=True)
class SynthSpec:
    """Every size parameter of one generated world.

    The world is ``cells_x`` x ``cells_y`` cells of ``cell_m``, bounded by district roads.
    Urban wards fill whole cells with a street grid and urban combs; villages are runs of
    village combs along the horizontal district roads; rivers run through some cell rows
    and only every ``bridge_every``-th district road crosses them.
    """

    cells_x: int
    cells_y: int
    cell_m: float
    urban_wards: int
    urban_block_x_m: float
    urban_block_y_m: float
    urban_comb_pitch_m: float
    villages_per_road: int
    village_combs: int
    village_comb_pitch_m: float
    river_rows: tuple[int, ...]
    bridge_every: int
    hydrant_share: float
    rural_stations: int

    @classmethod
    def for_scale(cls, scale: float) -> SynthSpec:
        """Return the spec of a world ``scale`` times the size of a province.

        Parameters
        ----------
        scale
            1.0 is province size (>= 300,000 graph nodes, >= 1,000,000 buildings); counts
            grow linearly with it. Below about 0.002 the world is a tiny town of one urban
            ward block and a village (a few hundred buildings), for tests.

        Returns
        -------
        SynthSpec
        """
        if not 0 < scale <= 4:  # noqa: PLR2004 - beyond 4 provinces the world leaves the bbox
            msg = f"synth scale must be in (0, 4], not {scale}"
            raise ConfigError(msg)
        if scale < 0.002:  # noqa: PLR2004 - the tiny test town
            return cls(
                cells_x=2, cells_y=2, cell_m=260.0, urban_wards=1, urban_block_x_m=260.0,
                urban_block_y_m=130.0, urban_comb_pitch_m=80.0, villages_per_road=1,
                village_combs=3, village_comb_pitch_m=64.0, river_rows=(), bridge_every=1,
                hydrant_share=0.5, rural_stations=1,
            )  # fmt: skip
        # Province: 22 x 15 cells of 3 km (2,970 km²); areas scale with the cell count.
        cx = max(2, round(22 * np.sqrt(scale)))
        cy = max(2, round(15 * np.sqrt(scale)))
        rivers = tuple(r for r in (2, 7, 12) if r < cy - 1) if cy > 3 else ()  # noqa: PLR2004
        return cls(
            cells_x=cx, cells_y=cy, cell_m=3000.0, urban_wards=max(1, round(9 * scale)),
            urban_block_x_m=220.0, urban_block_y_m=130.0, urban_comb_pitch_m=40.0,
            villages_per_road=2, village_combs=12, village_comb_pitch_m=64.0,
            river_rows=rivers, bridge_every=4, hydrant_share=0.3,
            rural_stations=max(1, round(4 * scale)),
        )  # fmt: skip


URBAN_COMBS = tuple(
    CombSpec(spine_width_m=sw, cross_width_m=cw, levels=2, spacing_m=22.0, half_m=18.0,
             frontage_m=4.0, house_width_m=4.0, house_depth_m=9.0)
    for sw in (2.0, 2.5, 3.0, 4.0) for cw in (1.5, 2.0, 2.5)
)  # fmt: skip
VILLAGE_COMBS = tuple(
    CombSpec(spine_width_m=sw, cross_width_m=cw, levels=3, spacing_m=20.0, half_m=30.0,
             frontage_m=8.0, house_width_m=6.0, house_depth_m=8.0)
    for sw in (2.0, 3.0, 4.0) for cw in (1.5, 2.0, 2.5)
)  # fmt: skip


@dataclass
class _Features:
    """Ways as flat vertex arrays (metres), plus their tags and tagged standalone nodes."""

    xy: list[np.ndarray]
    way_len: list[np.ndarray]
    tags: list[dict[str, str]]
    node_xy: list[tuple[float, float]]
    node_tags: list[dict[str, str]]
    urban_cells: list[tuple[int, int]] = field(default_factory=list)

    def add(self, xy: np.ndarray, way_len: np.ndarray, tags: list[dict[str, str]]) -> None:
        self.xy.append(np.asarray(xy, dtype=float).reshape(-1, 2))
        self.way_len.append(np.asarray(way_len, dtype=np.int64))
        self.tags.extend(tags)


def _comb_template(spec: CombSpec) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Vertices, way lengths and way kinds (``spine``, ``cross``, ``house``) of one comb."""
    xy: list[tuple[float, float]] = []
    lens: list[int] = []
    kinds: list[str] = []
    s, h, sw, cw = spec.spacing_m, spec.half_m, spec.spine_width_m, spec.cross_width_m
    xy += [(0.0, i * s) for i in range(spec.levels + 1)]
    lens.append(spec.levels + 1)
    kinds.append("spine")
    for i in range(1, spec.levels + 1):
        xy += [(-h, i * s), (0.0, i * s), (h, i * s)]
        lens.append(3)
        kinds.append("cross")
    n_houses = int((h - sw / 2) // spec.frontage_m)
    for i in range(1, spec.levels + 1):
        for y0, y1 in ((i * s - cw / 2 - spec.house_depth_m, i * s - cw / 2),
                       (i * s + cw / 2, i * s + cw / 2 + spec.house_depth_m)):  # fmt: skip
            for side in (-1.0, 1.0):
                for k in range(n_houses):
                    a = sw / 2 + k * spec.frontage_m
                    b = a + spec.house_width_m
                    xa, xb = side * a, side * b
                    xy += [(xa, y0), (xb, y0), (xb, y1), (xa, y1), (xa, y0)]
                    lens.append(5)
                    kinds.append("house")
    return np.asarray(xy), np.asarray(lens), kinds


def _place_combs(
    feats: _Features,
    roots: np.ndarray,
    direction: np.ndarray,
    template_of: np.ndarray,
    templates: tuple[CombSpec, ...],
    *,
    rng: np.random.Generator,
    urban: bool,
    first_number: int,
) -> int:
    """Instantiate combs at ``roots`` (spine along ``direction`` * y); return combs placed."""
    number = first_number
    for t, spec in enumerate(templates):
        sel = np.flatnonzero(template_of == t)
        if len(sel) == 0:
            continue
        txy, tlen, kinds = _comb_template(spec)
        n = len(sel)
        # Vectorised: every instance is a translate (and mirror in y) of the template.
        xs = roots[sel, 0][:, None] + txy[None, :, 0]
        ys = roots[sel, 1][:, None] + direction[sel][:, None] * txy[None, :, 1]
        xy = np.stack([xs, ys], axis=-1).reshape(-1, 2)
        way_len = np.tile(tlen, n)
        numbers = number + np.arange(n)
        number += n
        width_tagged = rng.random(n) < 0.3  # noqa: PLR2004 - OSM rarely tags alley width
        levels = rng.choice(["", "", "2", "3", "4", "5"] if urban else ["", "", "", "1", "2"],
                            size=(n, kinds.count("house")))  # fmt: skip
        tags: list[dict[str, str]] = []
        for i in range(n):
            h = 0
            for c, kind in enumerate(kinds):
                if kind == "spine":
                    tag = {"highway": "service", "service": "alley", "name": f"Ngõ {numbers[i]}"}
                    if width_tagged[i]:
                        tag["width"] = f"{spec.spine_width_m:g}"
                elif kind == "cross":
                    tag = {"highway": "service" if spec.cross_width_m >= 2 else "footway",  # noqa: PLR2004
                           "service": "alley", "name": f"Ngách {numbers[i]}/{c}"}  # fmt: skip
                else:
                    tag = {"building": "house" if urban else "yes"}
                    if levels[i, h]:
                        tag["building:levels"] = str(levels[i, h])
                    h += 1
                tags.append(tag)
        feats.add(xy, way_len, tags)
    return number - first_number


def _axis_lines(
    feats: _Features,
    fixed: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    stops: list[np.ndarray],
    *,
    tags: list[dict[str, str]],
    horizontal: bool,
) -> None:
    """Add axis-parallel street ways whose vertices include every junction on them."""
    xy_parts = []
    lens = []
    for f, a, b, st in zip(fixed, start, end, stops, strict=True):
        pos = np.unique(np.concatenate([[a, b], st[(st >= a) & (st <= b)]]))
        xy_parts.append(
            np.column_stack([pos, np.full(len(pos), f)])
            if horizontal
            else np.column_stack([np.full(len(pos), f), pos])
        )
        lens.append(len(pos))
    if xy_parts:
        feats.add(np.concatenate(xy_parts), np.asarray(lens), tags)


def generate_features(spec: SynthSpec, seed: int) -> _Features:  # noqa: C901, PLR0912, PLR0915
    """Lay out the world in metres (origin at the south-west corner); return its features.

    Parameters
    ----------
    spec
        Sizes.
    seed
        Seed of the random choices (same seed and spec: same world).

    Returns
    -------
    _Features
    """
    rng = np.random.default_rng(seed)
    feats = _Features([], [], [], [], [])
    D = spec.cell_m
    W = spec.cells_x * D
    river_rows = set(spec.river_rows)
    # Urban wards: whole cells, never in a river row.
    free = [(i, j) for j in range(spec.cells_y) for i in range(spec.cells_x) if j not in river_rows]
    pick = rng.choice(len(free), size=min(spec.urban_wards, len(free)), replace=False)
    urban = sorted(free[k] for k in pick)
    feats.urban_cells = urban
    urban_set = set(urban)

    # Skeleton: horizontal (y, x0, x1, tags) and vertical (x, y0, y1, tags) street lines.
    h_lines: list[tuple[float, float, float, dict[str, str]]] = []
    v_lines: list[tuple[float, float, float, dict[str, str]]] = []
    for j in range(spec.cells_y + 1):
        hw = "secondary" if j % 3 == 0 else "tertiary"
        h_lines += [(j * D, i * D, (i + 1) * D, {"highway": hw, "name": f"Đường huyện {j + 1}"})
                    for i in range(spec.cells_x)]  # fmt: skip
    for i in range(spec.cells_x + 1):
        hw = "secondary" if i % 3 == 0 else "tertiary"
        for j in range(spec.cells_y):
            tags = {"highway": hw, "name": f"Tỉnh lộ {i + 1}"}
            if j in river_rows:
                if i % spec.bridge_every:
                    continue
                tags = {**tags, "bridge": "yes"}
            v_lines.append((i * D, j * D, (j + 1) * D, tags))
    for i, j in urban:
        x0, y0 = i * D, j * D
        ys = y0 + np.arange(spec.urban_block_y_m, D - 1, spec.urban_block_y_m)
        xs = x0 + np.arange(spec.urban_block_x_m, D - 1, spec.urban_block_x_m)
        h_lines += [(float(y), x0, x0 + D, {"highway": "residential", "name": f"Phố {k + 1}"})
                    for k, y in enumerate(ys)]  # fmt: skip
        v_lines += [(float(x), y0, y0 + D, {"highway": "residential", "name": f"Phố {k + 50}"})
                    for k, x in enumerate(xs)]  # fmt: skip

    hy = np.array([h[0] for h in h_lines])
    hx0 = np.array([h[1] for h in h_lines])
    hx1 = np.array([h[2] for h in h_lines])
    vx = np.array([v[0] for v in v_lines])
    vy0 = np.array([v[1] for v in v_lines])
    vy1 = np.array([v[2] for v in v_lines])
    # Junctions of every horizontal with every vertical line (vectorised, |H| x |V|).
    cross = (
        (vx[None, :] >= hx0[:, None]) & (vx[None, :] <= hx1[:, None])
        & (hy[:, None] >= vy0[None, :]) & (hy[:, None] <= vy1[None, :])
    )  # fmt: skip
    h_stops = [vx[row] for row in cross]
    v_stops = [hy[col] for col in cross.T]

    # Comb roots on horizontal lines: urban combs on the urban grid, villages on district roads.
    roots: list[np.ndarray] = []
    dirs: list[np.ndarray] = []
    kind: list[np.ndarray] = []
    pitch = spec.urban_comb_pitch_m
    half_comb = max(c.half_m for c in URBAN_COMBS) + 2.0
    comb_depth = max(c.depth_m for c in URBAN_COMBS)
    for i, j in urban:
        x0, y0 = i * D, j * D
        ys = y0 + np.arange(0.0, D + 1, spec.urban_block_y_m)
        bx = np.arange(0.0, D, spec.urban_block_x_m)
        n_in_block = int((spec.urban_block_x_m - 2 * half_comb) // pitch) + 1
        offs = half_comb + pitch * np.arange(n_in_block)
        xs = x0 + (bx[:, None] + offs[None, :]).ravel()
        xs = xs[xs + half_comb <= x0 + D]
        for y in ys:
            for d in (1.0, -1.0):
                top_ok = y + d * comb_depth
                if top_ok < y0 - 1 or top_ok > y0 + D + 1:
                    continue
                roots.append(np.column_stack([xs, np.full(len(xs), y)]))
                dirs.append(np.full(len(xs), d))
                kind.append(np.zeros(len(xs), dtype=np.int64))
    vpitch = spec.village_comb_pitch_m
    vhalf = max(c.half_m for c in VILLAGE_COMBS) + 2.0
    run = spec.village_combs * vpitch
    village_depth = max(c.depth_m for c in VILLAGE_COMBS)
    for j in range(1, spec.cells_y):
        for i in range(spec.cells_x):
            if (i, j) in urban_set or (i, j - 1) in urban_set:
                continue
            slots = spec.villages_per_road
            span = (D - 2 * (vhalf + 20)) / slots
            for s in range(slots):
                lo = i * D + vhalf + 20 + s * span
                start = lo + rng.uniform(0, max(span - run, 0))
                xs = start + vpitch * np.arange(spec.village_combs)
                xs = xs[xs + vhalf <= (i + 1) * D - 20]
                for d in (1.0, -1.0):
                    roots.append(np.column_stack([xs, np.full(len(xs), j * D)]))
                    dirs.append(np.full(len(xs), d))
                    kind.append(np.ones(len(xs), dtype=np.int64))
                # A pond behind each village, beyond its alleys.
                px = start + run / 2
                py = j * D + rng.choice([-1.0, 1.0]) * (village_depth + 40)
                pond = np.array([[px, py], [px + 30, py], [px + 30, py + 20], [px, py + 20],
                                 [px, py]])  # fmt: skip
                feats.add(pond, np.array([5]), [{"natural": "water", "water": "pond"}])
    roots_a = np.concatenate(roots) if roots else np.empty((0, 2))
    dirs_a = np.concatenate(dirs) if dirs else np.empty(0)
    kind_a = np.concatenate(kind) if kind else np.empty(0, dtype=np.int64)
    # Comb roots are junctions of their parent horizontal line.
    for k in range(len(h_lines)):
        on = np.flatnonzero(
            (roots_a[:, 1] == hy[k]) & (roots_a[:, 0] > hx0[k]) & (roots_a[:, 0] < hx1[k])
        )
        h_stops[k] = np.concatenate([h_stops[k], roots_a[on, 0]])
    _axis_lines(feats, hy, hx0, hx1, h_stops, tags=[h[3] for h in h_lines], horizontal=True)
    _axis_lines(feats, vx, vy0, vy1, v_stops, tags=[v[3] for v in v_lines], horizontal=False)

    n_combs = 0
    for k, templates in ((0, URBAN_COMBS), (1, VILLAGE_COMBS)):
        sel = kind_a == k
        template_of = rng.integers(0, len(templates), size=int(sel.sum()))
        n_combs += _place_combs(
            feats, roots_a[sel], dirs_a[sel], template_of, templates, rng=rng,
            urban=k == 0, first_number=n_combs + 1,
        )  # fmt: skip

    # Rivers: meandering through the middle of their cell rows, 50 m vertices.
    for r, j in enumerate(spec.river_rows):
        x = np.arange(-BOUNDARY_MARGIN_M / 2, W + BOUNDARY_MARGIN_M / 2, 50.0)
        y = (j + 0.5) * D + 0.25 * D * np.sin(2 * np.pi * x / (4 * D) + r)
        feats.add(np.column_stack([x, y]), np.array([len(x)]),
                  [{"waterway": "river", "name": RIVER_NAMES[r % len(RIVER_NAMES)]}])  # fmt: skip

    # Hydrants at a share of urban grid junctions (3 m off the junction); stations.
    junctions = np.column_stack([np.broadcast_to(vx, cross.shape)[cross],
                                 np.broadcast_to(hy[:, None], cross.shape)[cross]])  # fmt: skip
    in_urban = np.zeros(len(junctions), dtype=bool)
    for i, j in urban:
        in_urban |= (
            (junctions[:, 0] >= i * D) & (junctions[:, 0] <= (i + 1) * D)
            & (junctions[:, 1] >= j * D) & (junctions[:, 1] <= (j + 1) * D)
        )  # fmt: skip
    urban_j = junctions[in_urban]
    hyd = urban_j[rng.random(len(urban_j)) < spec.hydrant_share] + [3.0, 3.0]
    for x, y in hyd:
        feats.node_xy.append((float(x), float(y)))
        feats.node_tags.append({"emergency": "fire_hydrant", "fire_hydrant:type": "pillar"})
    for k, (i, j) in enumerate(urban):
        centre = np.array([i + 0.5, j + 0.5]) * D
        near = urban_j[np.argmin(np.hypot(*(urban_j - centre).T))] if len(urban_j) else centre
        feats.node_xy.append((float(near[0]) + 8.0, float(near[1]) + 8.0))
        feats.node_tags.append({"amenity": "fire_station", "name": f"Đội PCCC khu vực {k + 1}"})
    rural = junctions[~in_urban]
    if spec.rural_stations and len(rural):
        for k, p in enumerate(rng.choice(rural, size=min(spec.rural_stations, len(rural)),
                                         replace=False)):  # fmt: skip
            feats.node_xy.append((float(p[0]) + 8.0, float(p[1]) + 8.0))
            feats.node_tags.append({"amenity": "fire_station", "name": f"Đội PCCC huyện {k + 1}"})
    logger.info(
        "synth: %d x %d cells, %d urban wards, %s combs, %s ways",
        spec.cells_x, spec.cells_y, len(urban), f"{n_combs:,}", f"{len(feats.tags):,}",
    )  # fmt: skip
    return feats


def _node_ids(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deduplicate vertices at 1 cm: ids ``1..n`` per vertex, and each node's coordinates."""
    q = np.round(xy * 100).astype(np.int64)
    key = (q[:, 0] << 32) + q[:, 1]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return inverse + 1, xy[first]


def _lonlat(xy: np.ndarray) -> np.ndarray:
    to_ll = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(xy[:, 0] + ORIGIN_XY[0], xy[:, 1] + ORIGIN_XY[1])
    return np.column_stack([lon, lat])


def _write_pbf(feats: _Features, out: Path, *, progress: bool) -> dict[str, int]:
    xy = np.concatenate(feats.xy)
    way_len = np.concatenate(feats.way_len)
    vertex_node, node_xy = _node_ids(xy)
    n_way_nodes = len(node_xy)
    tagged_xy = np.asarray(feats.node_xy, dtype=float).reshape(-1, 2)
    lonlat = _lonlat(np.concatenate([node_xy, tagged_xy]))
    refs = np.split(vertex_node, np.cumsum(way_len)[:-1])
    n_nodes = len(lonlat)
    with (
        atomic_path(out) as tmp,
        osmium.SimpleWriter(osmium.io.File(str(tmp), "pbf"), overwrite=True) as w,
    ):
        ll = lonlat.tolist()
        for i in tqdm(range(n_nodes), desc="synth nodes", disable=not progress, mininterval=1):
            tags = feats.node_tags[i - n_way_nodes] if i >= n_way_nodes else {}
            w.add_node(mutable.Node(id=i + 1, location=ll[i], tags=tags))
        for k in tqdm(range(len(refs)), desc="synth ways", disable=not progress, mininterval=1):
            w.add_way(mutable.Way(id=k + 1, nodes=refs[k].tolist(), tags=feats.tags[k]))
    return {"nodes": n_nodes, "ways": len(refs)}


def ward_features(spec: SynthSpec, urban: list[tuple[int, int]], seed: int) -> dict[str, Any]:
    """Return ward polygons (GeoJSON, WGS84): each urban cell a phường, 2 x 2 cells a xã.

    Parameters
    ----------
    spec
        Sizes.
    urban
        The urban cells ``(i, j)``.
    seed
        Seed of the made-up populations.

    Returns
    -------
    dict
        A FeatureCollection with ``code``, ``name``, ``type`` and ``population_2025`` (a
        made-up figure: 20,000-45,000 per phường, 5,000-15,000 per xã), covering the boundary.
    """
    rng = np.random.default_rng(seed + 1)
    D, m = spec.cell_m, BOUNDARY_MARGIN_M
    cx, cy = spec.cells_x, spec.cells_y

    def cell_box(i: int, j: int) -> shapely.Polygon:
        x0, y0 = i * D - m * (i == 0), j * D - m * (j == 0)
        x1, y1 = (i + 1) * D + m * (i == cx - 1), (j + 1) * D + m * (j == cy - 1)
        return shapely.box(x0, y0, x1, y1)

    urban_set = set(urban)
    groups: list[tuple[str, list[tuple[int, int]]]] = [("phường", [c]) for c in urban]
    for gj in range(0, cy, 2):
        for gi in range(0, cx, 2):
            cells = [(i, j) for i in (gi, gi + 1) for j in (gj, gj + 1)
                     if i < cx and j < cy and (i, j) not in urban_set]  # fmt: skip
            if cells:
                groups.append(("xã", cells))
    features = []
    for k, (kind, cells) in enumerate(groups):
        geom = shapely.union_all([cell_box(i, j) for i, j in cells])
        ring_sets = [geom] if geom.geom_type == "Polygon" else list(geom.geoms)
        coords = [[_lonlat(np.asarray(p.exterior.coords)).round(7).tolist()] for p in ring_sets]
        pop = rng.integers(20_000, 45_000) if kind == "phường" else rng.integers(5_000, 15_000)
        prefix = "Phường" if kind == "phường" else "Xã"
        features.append({
            "type": "Feature",
            "properties": {"code": f"{k + 1:05d}", "name": f"{prefix} Tổng hợp {k + 1}",
                           "type": kind, "population_2025": int(pop) * len(cells)},
            "geometry": {"type": "MultiPolygon", "coordinates": coords},
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def boundary_lonlat(spec: SynthSpec) -> list[list[float]]:
    """Return the world's boundary ring in WGS84, ``BOUNDARY_MARGIN_M`` outside the outer roads."""
    m = BOUNDARY_MARGIN_M
    W, H = spec.cells_x * spec.cell_m, spec.cells_y * spec.cell_m
    # Densified edges keep the ring close to the projected rectangle.
    t = np.linspace(0, 1, 21)[:-1]
    ring = np.concatenate([
        np.column_stack([-m + t * (W + 2 * m), np.full(len(t), -m)]),
        np.column_stack([np.full(len(t), W + m), -m + t * (H + 2 * m)]),
        np.column_stack([W + m - t * (W + 2 * m), np.full(len(t), H + m)]),
        np.column_stack([np.full(len(t), -m), H + m - t * (H + 2 * m)]),
    ])  # fmt: skip
    ll = _lonlat(np.vstack([ring, ring[:1]]))
    return [[round(float(a), 7), round(float(b), 7)] for a, b in ll]


@dataclass(frozen=True)
class SynthDataset:
    """A generated dataset on disk: the PBF, boundary and ward GeoJSONs, and what it holds."""

    pbf: Path
    boundary: Path
    wards: Path
    meta: dict[str, Any]


def dataset_dir(scale: float, seed: int, cache_dir: Path = CACHE_DIR) -> Path:
    """Return the cache folder of the dataset of ``(scale, seed)``."""
    return cache_dir / f"s{scale:g}-seed{seed}"


def generate(
    scale: float,
    *,
    seed: int = 42,
    cache_dir: Path = CACHE_DIR,
    force: bool = False,
    progress: bool = False,
) -> SynthDataset:
    """Generate (or reuse from the cache) the synthetic dataset of ``(scale, seed)``.

    Parameters
    ----------
    scale
        Size relative to a province (1.0: >= 300,000 graph nodes, >= 1,000,000 buildings);
        below 0.002 a tiny town for tests.
    seed
        Random seed: the same ``(scale, seed)`` always gives the same file.
    cache_dir
        Where datasets are kept (``cache/synth/`` by default).
    force
        Regenerate even when cached.
    progress
        Show progress bars while writing.

    Returns
    -------
    SynthDataset
        ``synth.osm.pbf``, ``boundary.geojson`` and ``wards.geojson`` (for the ``wards.file``
        config key) in ``cache_dir/s<scale>-seed<seed>/``.
    """
    spec = SynthSpec.for_scale(scale)
    folder = dataset_dir(scale, seed, cache_dir)
    pbf, boundary, meta_path = (
        folder / "synth.osm.pbf", folder / "boundary.geojson", folder / "meta.json"
    )  # fmt: skip
    wards = folder / "wards.geojson"
    if not force and all(p.exists() for p in (meta_path, pbf, boundary, wards)):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("generator_version") == GENERATOR_VERSION:
            logger.info("synth: reusing %s (%s buildings)", pbf, f"{meta['buildings']:,}")
            return SynthDataset(pbf, boundary, wards, meta)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    feats = generate_features(spec, seed)
    t1 = time.perf_counter()
    counts = _write_pbf(feats, pbf, progress=progress)
    fc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": f"Synthetic province (scale {scale:g})"},
        "geometry": {"type": "Polygon", "coordinates": [boundary_lonlat(spec)]}}]}  # fmt: skip
    with atomic_path(boundary) as tmp:
        tmp.write_text(json.dumps(fc), encoding="utf-8")
    ward_fc = ward_features(spec, feats.urban_cells, seed)
    with atomic_path(wards) as tmp:
        tmp.write_text(json.dumps(ward_fc, ensure_ascii=False), encoding="utf-8")
    n_buildings = sum(1 for t in feats.tags if "building" in t)
    meta = {
        "generator_version": GENERATOR_VERSION, "scale": scale, "seed": seed,
        "spec": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(spec).items()},
        "osm_nodes": counts["nodes"], "osm_ways": counts["ways"], "buildings": n_buildings,
        "streets": sum(1 for t in feats.tags if "highway" in t),
        "hydrants": sum(1 for t in feats.node_tags if t.get("emergency") == "fire_hydrant"),
        "stations": sum(1 for t in feats.node_tags if t.get("amenity") == "fire_station"),
        "wards": len(ward_fc["features"]),
        "pbf_mb": round(pbf.stat().st_size / 1e6, 2),
        "layout_s": round(t1 - t0, 2), "write_s": round(time.perf_counter() - t1, 2),
    }  # fmt: skip
    write_json(meta, meta_path)
    logger.info(
        "synth: wrote %s: %s OSM nodes, %s ways, %s buildings, %.1f MB (%.1f s)",
        pbf, f"{meta['osm_nodes']:,}", f"{meta['osm_ways']:,}", f"{n_buildings:,}",
        meta["pbf_mb"], time.perf_counter() - t0,
    )  # fmt: skip
    return SynthDataset(pbf, boundary, wards, meta)


def iter_scales(text: str) -> Iterator[float]:
    """Parse ``"0.125,0.25,1"`` into floats."""
    for part in text.split(","):
        if part.strip():
            yield float(part)


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.synth --scale 1 --seed 42``: generate (or reuse) a dataset."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.synth", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = province size")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--force", action="store_true", help="regenerate even when cached")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    ds = generate(args.scale, seed=args.seed, force=args.force, progress=True)
    logger.info("synth: boundary %s", ds.boundary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
