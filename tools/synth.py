"""Generate a seeded province shaped like the real Bắc Ninh (2025), written as a real ``.osm.pbf``.

Inside the 2025 boundary (``data/reference/bac_ninh/``), settlements grow around the 99 commune
centroids with buildings in proportion to each commune's 2025 population: dense ward cores (a
jittered street grid with deep alleys named Ngõ / Ngách lined with tube houses), villages strung
along provincial roads, commune roads and river dikes, industrial parks with wide roads, a
national road and expressway skeleton with ``*_link`` ramps, four rivers with bridges, ponds,
hydrants (mostly in the wards), fire stations (some on a driveway off a main road), and
administrative relations (the province at ``admin_level=4``, the 99 communes at 8: Voronoi cells
of their centroids clipped to the boundary).

``scale`` shrinks the density (buildings, alleys, hydrants), never the boundary: scale 1 is about
the real province (about 1.3 M buildings, 300-400 k street nodes). Same ``(scale, seed)``: same
file, byte for byte.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path  # noqa: TC003 - used at run time by dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree
from scipy.spatial import Delaunay, cKDTree

from pipeline._errors import ConfigError
from pipeline._io import atomic_path, write_json
from pipeline.paths import PROJECT_ROOT
from tools.synth_write import Features, opl_tags, write_pbf

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pipeline.config import ProvinceConfig

logger = logging.getLogger(__name__)

#: Bump when the generated data changes, so cached files are regenerated.
GENERATOR_VERSION = 4
#: Projected CRS of the generator's metric world.
CRS = "EPSG:32648"
#: Cache folder of generated datasets, keyed by (scale, seed).
CACHE_DIR = PROJECT_ROOT / "cache" / "synth"
#: The real province the generated one is shaped like.
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference" / "bac_ninh"
#: Buildings per inhabitant at scale 1 (3.62 M people -> about 1.3 M buildings, 2.7 per house).
BUILDINGS_PER_PERSON = 0.37
#: Largest scale: beyond it a commune's core outgrows its Voronoi cell.
MAX_SCALE = 2.0
#: Wards (phường) with the most people get a fire station each; a few large communes too.
URBAN_STATIONS = 13
RURAL_STATIONS = 5
N_PARKS = 8
PARK_NAMES = ("Yên Phong", "Quế Võ", "VSIP Bắc Ninh", "Tiên Sơn", "Quang Châu", "Vân Trung",
              "Đình Trám", "Song Khê - Nội Hoàng")  # fmt: skip
STREET_NAMES = (
    "Lý Thái Tổ", "Trần Hưng Đạo", "Nguyễn Trãi", "Lê Lợi", "Ngô Gia Tự", "Hai Bà Trưng",
    "Nguyễn Văn Cừ", "Lý Thường Kiệt", "Hoàng Quốc Việt", "Trần Phú", "Nguyễn Du", "Lê Văn Thịnh",
    "Kinh Dương Vương", "Hàn Thuyên", "Thiên Đức", "Nguyễn Cao", "Huyền Quang", "Âu Cơ",
    "Lạc Long Quân", "Bà Chúa Kho", "Minh Khai", "Ngô Quyền", "Xương Giang", "Hoàng Văn Thụ",
    "Lê Lai", "Tô Hiến Thành", "Phan Đình Phùng", "Quang Trung", "Đào Sư Tích", "Nguyễn Đăng Đạo",
)  # fmt: skip
#: Rivers: name, width (m), waypoints (lon, lat) from source to mouth (roughly the real courses).
RIVERS = (
    ("Sông Đuống", 350.0, ((105.90, 21.075), (106.02, 21.06), (106.12, 21.05), (106.22, 21.07),
                           (106.30, 21.09), (106.40, 21.07))),
    ("Sông Cầu", 180.0, ((105.86, 21.40), (105.93, 21.30), (106.02, 21.24), (106.08, 21.20),
                         (106.18, 21.16), (106.30, 21.12))),
    ("Sông Thương", 150.0, ((106.40, 21.62), (106.30, 21.45), (106.22, 21.32), (106.20, 21.26),
                            (106.24, 21.20), (106.30, 21.14))),
    ("Sông Lục Nam", 120.0, ((106.95, 21.42), (106.75, 21.38), (106.58, 21.36), (106.45, 21.28),
                             (106.36, 21.22), (106.31, 21.16))),
)  # fmt: skip
#: Rivers whose banks carry dikes with a road on top (Đê tả / Đê hữu).
DIKED = ("Sông Đuống", "Sông Cầu")


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

    @property
    def houses(self) -> int:
        """Houses in one comb."""
        return self.levels * 4 * int((self.half_m - self.spine_width_m / 2) // self.frontage_m)


def _combs(levels: tuple[int, ...], half: float, frontage: float, width: float, depth: float,
           *, spacing: float) -> tuple[CombSpec, ...]:  # fmt: skip
    return tuple(
        CombSpec(spine_width_m=sw, cross_width_m=cw, levels=lv, spacing_m=spacing, half_m=half,
                 frontage_m=frontage, house_width_m=width, house_depth_m=depth)
        for lv in levels for sw in (1.8, 2.5, 3.0, 4.0, 5.0) for cw in (1.5, 2.0, 2.5)
    )  # fmt: skip


#: Urban combs: tube houses 4 m wide, 2 to 6 cross alleys deep (up to 140 m: ngõ sâu).
URBAN_COMBS = _combs((2, 3, 4, 5, 6), 18.0, 4.0, 4.0, 9.0, spacing=22.0)
#: Village combs: houses 6 m wide on 8 m plots, 2 to 4 cross alleys.
VILLAGE_COMBS = _combs((2, 3, 4), 30.0, 8.0, 6.0, 8.0, spacing=22.0)


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


# --- reference data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """The real province: boundary and communes, projected to :data:`CRS`."""

    boundary: shapely.Polygon | shapely.MultiPolygon
    communes: pd.DataFrame  # code, name, type, population_2025, x, y


def load_reference(folder: Path = REFERENCE_DIR) -> Reference:
    """Read the 2025 boundary and commune table, projected to :data:`CRS`."""
    geo = json.loads((folder / "province_2025.geojson").read_text(encoding="utf-8"))
    geom = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in geo["features"]])
    to_m = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    boundary = shapely.transform(geom, lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1])))
    communes = pd.read_csv(folder / "communes_2025.csv", dtype={"code": str})
    x, y = to_m.transform(communes["centroid_lon"].to_numpy(), communes["centroid_lat"].to_numpy())
    communes = communes.assign(x=x, y=y)
    return Reference(shapely.make_valid(boundary), communes.reset_index(drop=True))


# --- polyline helpers -----------------------------------------------------------------------


def _meander(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, *, step: float,
             amp: float) -> np.ndarray:  # fmt: skip
    """Return a road from ``a`` to ``b`` with a smooth sideways wander (zero at both ends)."""
    d = b - a
    length = float(np.hypot(*d))
    n = max(2, int(np.ceil(length / step)) + 1)
    t = np.linspace(0.0, 1.0, n)
    normal = np.array([-d[1], d[0]]) / max(length, 1e-9)
    f1, f2 = rng.integers(1, 3), rng.integers(2, 5)
    p1, p2 = rng.uniform(0, 2 * np.pi, 2)
    wobble = np.sin(np.pi * t) * (np.sin(f1 * np.pi * t + p1) + 0.4 * np.sin(f2 * np.pi * t + p2))
    out: np.ndarray = a + t[:, None] * d + (amp * length * wobble)[:, None] * normal
    return out


def _smooth(xy: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Chaikin corner cutting (ends kept)."""
    for _ in range(rounds):
        q = 0.75 * xy[:-1] + 0.25 * xy[1:]
        r = 0.25 * xy[:-1] + 0.75 * xy[1:]
        xy = np.vstack([xy[:1], np.column_stack([q, r]).reshape(-1, 2), xy[-1:]])
    return xy


def _densify(xy: np.ndarray, step: float) -> np.ndarray:
    out: np.ndarray = shapely.get_coordinates(shapely.segmentize(shapely.linestrings(xy), step))
    return out


def _cumlen(xy: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
    return out


def _lines(xys: list[np.ndarray]) -> np.ndarray:
    """Return LineStrings from a list of vertex arrays, in one vectorised call."""
    lens = [len(a) for a in xys]
    out: np.ndarray = shapely.linestrings(
        np.concatenate(xys), indices=np.repeat(np.arange(len(xys)), lens)
    )
    return out


@dataclass
class Road:
    """A street line of the skeleton with its tags and points to insert into it later."""

    xy: np.ndarray
    tags: dict[str, str]
    level: str = "ground"  # "ground" roads meet at crossings; "motorway" roads do not
    village_sides: tuple[float, ...] = (-1.0, 1.0)


def insert_points(roads: list[Road], road: np.ndarray, along: np.ndarray,
                  xy: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:  # fmt: skip
    """Insert points into road polylines, vectorised over every road.

    Parameters
    ----------
    roads
        The roads.
    road, along
        Per point: its road index and arc-length position on it.
    xy
        The points' coordinates (a crossing is inserted into both roads with the same ones).

    Returns
    -------
    lines, position
        The new vertex arrays, and each inserted point's vertex index in its road's new line.
    """
    lens = np.array([len(r.xy) for r in roads])
    verts = np.concatenate([r.xy for r in roads])
    vroad = np.repeat(np.arange(len(roads)), lens)
    vcum = np.concatenate([_cumlen(r.xy) for r in roads])
    big = float(vcum.max() + 1.0) * 4
    vkey = vroad * big + vcum
    along = np.clip(along, 0.0, None)
    pkey = road * big + along
    keys = np.concatenate([vkey, pkey])
    order = np.lexsort((np.r_[np.zeros(len(vkey)), np.ones(len(pkey))], keys))
    all_xy = np.concatenate([verts, xy])[order]
    all_road = np.concatenate([vroad, road])[order]
    counts = np.bincount(all_road, minlength=len(roads))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    position = rank[len(vkey) :] - starts[road]
    return np.split(all_xy, np.cumsum(counts)[:-1]), position


def _end_gap(ends: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Distance from each point to the nearer of its line's two ends (``ends``: (n, 2, 2))."""
    d = ends - pts[:, None, :]
    gap: np.ndarray = np.hypot(d[..., 0], d[..., 1]).min(axis=1)
    return gap


# --- the layout -------------------------------------------------------------------------------


@dataclass
class Layout:
    """Everything laid out before writing."""

    feats: Features
    wards: list[dict[str, Any]]
    counts: dict[str, int]


class _Builder:
    """Lays out one province; each method adds one kind of feature."""

    def __init__(self, ref: Reference, scale: float, seed: int) -> None:
        self.ref = ref
        self.scale = scale
        self.rng = np.random.default_rng(seed)
        self.feats = Features()
        self.P = ref.boundary
        shapely.prepare(self.P)
        c = ref.communes
        self.cxy = c[["x", "y"]].to_numpy()
        self.pop = c["population_2025"].to_numpy(dtype=float)
        self.urban = (c["type"] == "phường").to_numpy()
        self.target = np.round(self.pop * BUILDINGS_PER_PERSON * scale).astype(np.int64)
        self.roads: list[Road] = []
        self.reserved: list[shapely.Geometry] = []  # cores, parks: no village there
        self.core_r = np.zeros(len(c))
        self.core_junctions: list[np.ndarray] = [np.empty((0, 2)) for _ in range(len(c))]
        self.counts: dict[str, int] = {}
        self.hydrant_xy: list[np.ndarray] = []

    # communes ------------------------------------------------------------------------------
    def commune_cells(self) -> np.ndarray:
        pts = shapely.points(self.cxy)
        env = shapely.buffer(shapely.envelope(self.P), 5000)
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=env))
        tree = shapely.STRtree(cells)
        pi, ci = tree.query(pts, predicate="within")
        order = np.empty(len(pts), dtype=np.int64)
        order[pi] = ci
        out: np.ndarray = shapely.intersection(cells[order], self.P)
        return out

    # skeleton ------------------------------------------------------------------------------
    def skeleton(self, cells: np.ndarray) -> None:
        tri = Delaunay(self.cxy)
        e = np.vstack(
            [tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [0, 2]]]
        )
        e = np.unique(np.sort(e, axis=1), axis=0)
        segs = shapely.linestrings(np.stack([self.cxy[e[:, 0]], self.cxy[e[:, 1]]], axis=1))
        length = shapely.length(segs)
        outside = 1.0 - shapely.length(shapely.intersection(segs, self.P)) / length
        n = len(self.cxy)
        w = length * (1 + 20 * outside)
        mst = minimum_spanning_tree(coo_matrix((w, (e[:, 0], e[:, 1])), shape=(n, n))).tocoo()
        in_mst = {(min(a, b), max(a, b)) for a, b in zip(mst.row, mst.col, strict=True)}
        is_mst = np.array([(a, b) in in_mst for a, b in e])
        keep = is_mst | ((outside < 0.02) & (length < 14_000))  # noqa: PLR2004
        e, length, is_mst = e[keep], length[keep], is_mst[keep]
        # National roads: shortest paths between the most populous wards (hubs).
        graph = coo_matrix((length, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
        hubs = np.argsort(-self.pop * self.urban)[:8]
        dist, pred = dijkstra(graph, directed=False, indices=hubs, return_predecessors=True)
        hub_mst = minimum_spanning_tree(dist[:, hubs]).tocoo()
        trunk_edges: set[tuple[int, int]] = set()
        for a, b in zip(hub_mst.row, hub_mst.col, strict=True):
            node = hubs[b]
            while node != hubs[a] and pred[a, node] >= 0:
                p = pred[a, node]
                trunk_edges.add((min(p, node), max(p, node)))
                node = p
        self.hubs = hubs
        self.delaunay = (e, graph)
        for k, (a, b) in enumerate(e):
            if (a, b) in trunk_edges:
                ql = 1 + (k % 7) * 6
                tags = {"highway": "trunk" if k % 3 else "primary", "ref": f"QL{ql}",
                        "name": f"Quốc lộ {ql}", "lanes": "4" if k % 2 else "2"}  # fmt: skip
            elif is_mst[k]:
                tags = {"highway": "secondary", "ref": f"ĐT{277 + k % 120}",
                        "name": f"Đường tỉnh {277 + k % 120}"}  # fmt: skip
                if k % 4 == 0:
                    tags["lanes"] = "2"
            else:
                tags = {"highway": "tertiary", "name": f"Đường huyện {k + 1}"}
            xy = _meander(self.cxy[a], self.cxy[b], self.rng, step=250.0, amp=0.03)
            self.roads.append(Road(xy, tags))
        self.road_ends = [(int(a), int(b)) for a, b in e]
        # Commune roads: a few rays from each rural centroid, inside its cell.
        for i in np.flatnonzero(~self.urban):
            for ang in self.rng.uniform(0, 2 * np.pi, 3):
                ray = shapely.linestrings([self.cxy[i], self.cxy[i] + 6000 * np.array(
                    [np.cos(ang), np.sin(ang)])])  # fmt: skip
                inside = shapely.intersection(ray, cells[i])
                reach = float(shapely.length(inside)) * 0.8
                if reach < 500:  # noqa: PLR2004
                    continue
                end = self.cxy[i] + reach * np.array([np.cos(ang), np.sin(ang)])
                xy = _meander(self.cxy[i], end, self.rng, step=150.0, amp=0.05)
                self.roads.append(Road(xy, {"highway": "unclassified",
                                            "name": f"Đường xã {len(self.roads)}"}))  # fmt: skip
                self.road_ends.append((int(i), -1))

    def expressway(self) -> None:
        """Two one-way carriageways through the hubs, bypassing their centres."""
        _, graph = self.delaunay
        d = dijkstra(graph, directed=False, indices=self.hubs)[:, self.hubs]
        a, b = np.unravel_index(np.argmax(np.where(np.isfinite(d), d, -1)), d.shape)
        _, pred = dijkstra(graph, directed=False, indices=[self.hubs[a]], return_predecessors=True)
        path = [int(self.hubs[b])]
        while path[-1] != self.hubs[a]:
            path.append(int(pred[0, path[-1]]))
        pts = self.cxy[path]
        step = np.diff(pts, axis=0)
        normal = np.column_stack([-step[:, 1], step[:, 0]]) / np.hypot(*step.T)[:, None]
        off = np.vstack([normal[:1], (normal[:-1] + normal[1:]) / 2, normal[-1:]])
        centre = _densify(_smooth(pts + 1800 * off), 250.0)
        line = shapely.linestrings(centre)
        tags = {"highway": "motorway", "oneway": "yes", "lanes": "2", "maxspeed": "100",
                "ref": "CT.01", "name": "Cao tốc Hà Nội - Bắc Giang - Lạng Sơn"}  # fmt: skip
        right = shapely.get_coordinates(shapely.offset_curve(line, -12.0))
        left = shapely.get_coordinates(shapely.offset_curve(line, 12.0))[::-1]
        self.motorway = (len(self.roads), len(self.roads) + 1)
        self.roads.append(Road(right, dict(tags), level="motorway", village_sides=()))
        self.roads.append(Road(left, dict(tags), level="motorway", village_sides=()))

    def rivers(self) -> None:
        to_m = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
        polys, self.river_lines = [], []
        for name, width, pts in RIVERS:
            ll = np.array(pts)
            xy = np.column_stack(to_m.transform(ll[:, 0], ll[:, 1]))
            coarse = _densify(xy, 2000.0)
            inner = np.r_[0, np.ones(len(coarse) - 2), 0][:, None]
            centre = _densify(
                _smooth(coarse + self.rng.normal(0, 450, coarse.shape) * inner, 4), 80.0
            )
            line = shapely.intersection(shapely.linestrings(centre), self.P)
            if shapely.is_empty(line):
                continue
            poly = shapely.intersection(shapely.buffer(line, width / 2, quad_segs=2), self.P)
            for part in shapely.get_parts(line):
                self.river_lines.append(part)
                self.feats.add_lines([shapely.get_coordinates(part)],
                                     [opl_tags({"waterway": "river", "name": name})])  # fmt: skip
            for part in shapely.get_parts(poly):
                ring = shapely.get_coordinates(shapely.get_exterior_ring(part))
                self.feats.add_lines([ring], [opl_tags({"natural": "water", "water": "river",
                                                        "name": name})])  # fmt: skip
            polys.append(poly)
            if name in DIKED:
                side_names = ("Đê tả", "Đê hữu")
                for s, off in enumerate((width / 2 + 120.0, -(width / 2 + 120.0))):
                    dike = shapely.offset_curve(shapely.simplify(line, 20.0), off)
                    for part in shapely.get_parts(shapely.intersection(dike, self.P)):
                        if shapely.length(part) < 1000:  # noqa: PLR2004
                            continue
                        xy2 = _densify(shapely.get_coordinates(part), 200.0)
                        dike_name = f"{side_names[s]} {name.split(' ', 1)[1]}"
                        sides = (-1.0,) if off > 0 else (1.0,)  # villages on the land side
                        tags = {"highway": "tertiary", "name": dike_name}
                        self.roads.append(Road(xy2, tags, village_sides=sides))
        self.water = shapely.union_all(polys)
        shapely.prepare(self.water)

    # urban cores ---------------------------------------------------------------------------
    def cores(self, cells: np.ndarray) -> None:  # noqa: C901, PLR0915 - one grid per ward, in order
        tree = cKDTree(self.cxy)
        nearest = tree.query(self.cxy, k=2)[0][:, 1]
        cell_r = np.sqrt(shapely.area(cells) / np.pi)
        hub_set = set(self.hubs.tolist())
        rows_h: list[np.ndarray] = []
        rows_v: list[np.ndarray] = []
        tags_h: list[dict[str, str]] = []
        tags_v: list[dict[str, str]] = []
        self.core_combs: list[tuple[int, np.ndarray, np.ndarray, int]] = []
        for i in np.flatnonzero(self.urban):
            lmax = int(self.rng.integers(3, 7))
            spec_depth = lmax * 22.0 + 1.25 + 9.0
            a, b = 5 * 40.0 + 30.0, 2 * spec_depth + 16.0
            houses_block = 2 * 5 * (lmax - 1) * 16
            need = self.target[i]
            r = 1.15 * np.sqrt(need / houses_block * a * b / np.pi)
            r = min(r, 0.42 * nearest[i], 0.8 * cell_r[i])
            if i in self.hubs[:2]:  # the two largest wards keep a core at any scale
                r = max(r, 1.6 * max(a, b))
            if r < 0.75 * max(a, b):
                continue
            self.core_r[i] = r
            theta = self.rng.uniform(0, np.pi)
            rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
            ni, nj = int(np.ceil(r / a)) + 1, int(np.ceil(r / b)) + 1
            gi, gj = np.meshgrid(np.arange(-ni, ni + 1), np.arange(-nj, nj + 1), indexing="ij")
            base = np.stack([gi * a, gj * b], axis=-1)
            inside = np.hypot(base[..., 0], base[..., 1]) <= r
            jit = self.rng.uniform(-1, 1, base.shape) * np.array([0.05 * a, 0.05 * b])
            junction = self.cxy[i] + (base + jit) @ rot.T
            self.core_junctions[i] = junction[inside]
            names = self.rng.choice(len(STREET_NAMES), size=2 * (2 * max(ni, nj) + 1))
            # Horizontal streets (constant j) carry the combs; vertical ones only junctions.
            roots, dirs, parent = [], [], []
            for jj in range(base.shape[1]):
                cols = np.flatnonzero(inside[:, jj])
                if len(cols) < 2:  # noqa: PLR2004
                    continue
                pts = junction[cols, jj]
                seg = np.diff(pts, axis=0)
                seg_len = np.hypot(*seg.T)
                n_c = np.floor((seg_len - 30.0) / 40.0).astype(np.int64)
                t = [(15.0 + 40.0 * (np.arange(k) + 0.5) + (sl - 30.0 - 40.0 * k) / 2) / sl
                     for k, sl in zip(n_c, seg_len, strict=True)]  # fmt: skip
                line = [pts[:1]]
                for k in range(len(seg)):
                    r_xy = pts[k] + t[k][:, None] * seg[k]
                    line += [r_xy, pts[k + 1 : k + 2]]
                    unit = seg[k] / seg_len[k]
                    perp = np.array([-unit[1], unit[0]])
                    for side in (1.0, -1.0):
                        roots.append(r_xy)
                        dirs.append(np.tile(side * perp, (len(r_xy), 1)))
                        parent.append(np.full(len(r_xy), len(rows_h)))
                rows_h.append(np.concatenate(line))
                main = jj % 4 == 0
                name = STREET_NAMES[names[jj % len(names)]]
                tag = {"highway": "tertiary" if main else "residential", "name": f"Phố {name}"}
                if main:
                    tag |= {"lanes": "2", "sidewalk": "both"}
                tags_h.append(tag)
            for ii in range(base.shape[0]):
                rws = np.flatnonzero(inside[ii])
                if len(rws) >= 2:  # noqa: PLR2004
                    rows_v.append(junction[ii, rws])
                    name = STREET_NAMES[names[-1 - ii % len(names)]]
                    tags_v.append({"highway": "tertiary" if ii % 4 == 0 else "residential",
                                   "name": f"Đường {name}"})  # fmt: skip
            if roots:
                self.core_combs.append((int(i), np.concatenate(roots), np.concatenate(dirs), lmax))
            self.reserved.append(shapely.buffer(shapely.points(self.cxy[i]), r + 60.0))
            # Hydrants at a share of junctions, 3 m off; more in hub wards.
            share = 0.45 if i in hub_set else 0.3
            hj = self.core_junctions[i]
            self.hydrant_xy.append(hj[self.rng.random(len(hj)) < share] + 3.0)
        self.feats.add_lines(rows_h, [opl_tags(t) for t in tags_h])
        self.feats.add_lines(rows_v, [opl_tags(t) for t in tags_v])
        self.counts["urban_streets"] = len(rows_h) + len(rows_v)

    def trim_roads_at_cores(self) -> None:
        """Delaunay roads stop at a ward core's edge and join its nearest junction."""
        for k, (a, b) in enumerate(self.road_ends):
            road = self.roads[k]
            xy = road.xy
            for end, idx in ((a, 0), (b, -1)):
                if end < 0 or self.core_r[end] == 0:
                    continue
                dist = np.hypot(*(xy - self.cxy[end]).T)
                out = dist > self.core_r[end] + 40.0
                if out.sum() < 2:  # noqa: PLR2004
                    xy = xy[:0]
                    break
                xy = xy[out]
                tip = xy[0] if idx == 0 else xy[-1]
                jn = self.core_junctions[end]
                join = jn[np.argmin(np.hypot(*(jn - tip).T))]
                xy = np.vstack([join, xy]) if idx == 0 else np.vstack([xy, join])
            road.xy = xy
        self.roads = [r for r in self.roads if len(r.xy) >= 2]  # noqa: PLR2004
        del self.road_ends

    # industrial parks ----------------------------------------------------------------------
    def parks(self) -> list[tuple[int, float, np.ndarray]]:
        """Parks beside national roads; returns their connectors (road, along, park junction)."""
        trunk = [k for k, r in enumerate(self.roads) if r.tags["highway"] in ("trunk", "primary")]
        blocked = shapely.union_all([self.water, *self.reserved])
        shapely.prepare(blocked)
        placed: list[shapely.Geometry] = []
        connectors = []
        factories, streets, stags = [], [], []
        tries = 0
        while len(placed) < N_PARKS and tries < 400 and trunk:  # noqa: PLR2004
            tries += 1
            k = trunk[self.rng.integers(len(trunk))]
            xy = self.roads[k].xy
            cum = _cumlen(xy)
            s = self.rng.uniform(0.2, 0.8) * cum[-1]
            j = min(np.searchsorted(cum, s), len(xy) - 1)
            unit = (xy[j] - xy[j - 1]) / max(np.hypot(*(xy[j] - xy[j - 1])), 1e-9)
            perp = np.array([-unit[1], unit[0]]) * self.rng.choice([-1.0, 1.0])
            w, h = 1400.0, 900.0
            origin = xy[j] + perp * 250.0 - unit * w / 2
            corners = origin + np.array([[0, 0], [w, 0], [w, h], [0, h]]) @ np.vstack([unit, perp])
            poly = shapely.polygons(corners)
            if (
                not shapely.contains(self.P, poly)
                or shapely.intersects(blocked, poly)
                or any(shapely.intersects(p, poly) for p in placed)
            ):
                continue
            name = PARK_NAMES[len(placed)]
            placed.append(shapely.buffer(poly, 100.0))
            self.feats.add_lines([np.vstack([corners, corners[:1]])], [opl_tags(
                {"landuse": "industrial", "name": f"Khu công nghiệp {name}"})])  # fmt: skip
            gx, gy = np.arange(0, w + 1, 350.0), np.arange(0, h + 1, 300.0)
            frame = np.vstack([unit, perp])
            for m, x in enumerate(gx):
                pts = origin + np.column_stack([np.full(len(gy), x), gy]) @ frame
                streets.append(pts)
                t = {"highway": "tertiary", "name": f"Đường KCN {name} {m + 1}", "lanes": "4"}
                if m == 0:
                    t["width"] = "15"
                stags.append(t)
            for m, y in enumerate(gy):
                pts = origin + np.column_stack([gx, np.full(len(gx), y)]) @ frame
                streets.append(pts)
                stags.append({"highway": "unclassified", "name": f"Đường KCN {name} N{m + 1}"})
            # Factories: two per block, set back 20 m from the roads.
            bx, by = np.meshgrid(gx[:-1], gy[:-1], indexing="ij")
            for off in (0.0, 165.0):
                x0 = bx.ravel() + 20.0 + off
                y0 = by.ravel() + 20.0
                fw = self.rng.uniform(80, 140, len(x0))
                fh = self.rng.uniform(120, 250, len(x0))
                box = np.stack([np.column_stack([x0, y0]), np.column_stack([x0 + fw, y0]),
                                np.column_stack([x0 + fw, y0 + fh]), np.column_stack([x0, y0 + fh]),
                                np.column_stack([x0, y0])], axis=1)  # fmt: skip
                factories.append(origin + box.reshape(-1, 2) @ frame)
            connectors.append((k, float(cum[j]), origin + np.array([w / 2 - w / 2, 0.0])))
        for f in factories:
            n = len(f) // 5
            self.feats.add_ways(f, np.full(n, 5), opl_tags(
                {"building": "industrial", "building:levels": "1"}))  # fmt: skip
        self.feats.add_lines(streets, [opl_tags(t) for t in stags])
        self.reserved += placed
        self.counts["industrial_parks"] = len(placed)
        # Connect each park's corner junction to the national road.
        return [(k, s, corner) for k, s, corner in connectors]

    # noding, bridges, insertions -----------------------------------------------------------
    def crossings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points where two ground roads cross (shared by both), as insertion requests."""
        ground = np.array([k for k, r in enumerate(self.roads) if r.level == "ground"])
        lines = _lines([self.roads[k].xy for k in ground])
        tree = shapely.STRtree(lines)
        i, j = tree.query(lines, predicate="intersects")
        sel = i < j
        i, j = i[sel], j[sel]
        inter = shapely.intersection(lines[i], lines[j])
        pts, which = shapely.get_coordinates(inter, return_index=True)
        gi, gj = i[which], j[which]
        ends = np.array([[r.xy[0], r.xy[-1]] for r in (self.roads[k] for k in ground)])
        near_end = (_end_gap(ends[gi], pts) < 0.05) | (_end_gap(ends[gj], pts) < 0.05)  # noqa: PLR2004
        pts, gi, gj = pts[~near_end], gi[~near_end], gj[~near_end]
        p = shapely.points(pts)
        road = np.concatenate([ground[gi], ground[gj]])
        along = np.concatenate([shapely.line_locate_point(lines[gi], p),
                                shapely.line_locate_point(lines[gj], p)])  # fmt: skip
        self.counts["road_crossings"] = len(pts)
        return road, along, np.concatenate([pts, pts])

    def bank_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where roads meet a river bank: their ways split there (bridge or gap)."""
        banks = shapely.boundary(self.water)
        lines = _lines([r.xy for r in self.roads])
        inter = shapely.intersection(lines, banks)
        pts, which = shapely.get_coordinates(inter, return_index=True)
        along = shapely.line_locate_point(lines[which], shapely.points(pts))
        return which, along, pts

    def villages(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Village comb roots along rural roads: clusters where a smooth random field is high."""
        req_road, req_along, req_dir = [], [], []
        pitch = 64.0
        for k, r in enumerate(self.roads):
            if not r.village_sides or r.tags["highway"] in ("motorway", "motorway_link"):
                continue
            cum = _cumlen(r.xy)
            s = np.arange(120.0, cum[-1] - 120.0, pitch)
            for sd in r.village_sides:
                req_road.append(np.full(len(s), k))
                req_along.append(s)
                req_dir.append(np.full(len(s), sd))
        road = np.concatenate(req_road)
        along = np.concatenate(req_along)
        side = np.concatenate(req_dir)
        # Positions and directions (perpendicular to the road).
        lines = _lines([r.xy for r in self.roads])
        p0 = shapely.get_coordinates(shapely.line_interpolate_point(lines[road], along))
        p1 = shapely.get_coordinates(shapely.line_interpolate_point(lines[road], along + 1.0))
        unit = (p1 - p0) / np.maximum(np.hypot(*(p1 - p0).T), 1e-9)[:, None]
        perp = np.column_stack([-unit[:, 1], unit[:, 0]]) * side[:, None]
        # Field: sum of random plane waves of 2-5 km wavelength.
        k_vec = self.rng.normal(0, 1, (6, 2))
        k_vec *= (2 * np.pi / self.rng.uniform(2000, 5000, 6) / np.hypot(*k_vec.T))[:, None]
        phase = self.rng.uniform(0, 2 * np.pi, 6)
        field = np.cos(p0 @ k_vec.T + phase).sum(axis=1) + self.rng.normal(0, 0.3, len(p0))
        commune = cKDTree(self.cxy).query(p0)[1]
        box_c = p0 + perp * 60.0
        boxes = shapely.buffer(shapely.points(box_c), 55.0, quad_segs=1)
        blocked = shapely.union_all([self.water, *self.reserved])
        shapely.prepare(blocked)
        ok = shapely.contains(self.P, boxes) & ~shapely.intersects(blocked, boxes)
        # Houses per village comb, on average.
        per_comb = np.mean([c.houses for c in VILLAGE_COMBS])
        core_houses = np.zeros(len(self.cxy))
        for idx, roots, _, lmax in self.core_combs:
            per = np.mean([c.houses for c in URBAN_COMBS if lmax - 2 <= c.levels <= lmax])
            core_houses[idx] = len(roots) * float(per)
        need = np.maximum(self.target - core_houses, 0) / per_comb
        df = pd.DataFrame({"c": commune, "f": np.where(ok, field, -np.inf)})
        rank = df.groupby("c")["f"].rank(ascending=False, method="first").to_numpy()
        chosen = ok & (rank <= np.round(need[commune]))
        self.counts["village_slots"] = int(ok.sum())
        self.counts["village_slots_short"] = int(
            np.maximum(np.round(need) - np.bincount(commune[chosen], minlength=len(need)), 0).sum()
        )
        return road[chosen], along[chosen], perp[chosen]

    def write_roads(self, split: dict[int, list[int]]) -> None:
        """Write the skeleton roads, split at bank points: bridges over rivers or gaps."""
        lines, tags = [], []
        for k, r in enumerate(self.roads):
            cuts = sorted(set(split.get(k, [])))
            bounds = [0, *[c for c in cuts if 0 < c < len(r.xy) - 1], len(r.xy) - 1]
            # Main roads always bridge a river; two local roads in five do, the rest stop.
            bridge_ok = r.tags["highway"] in ("motorway", "trunk", "primary", "secondary") or (
                k % 5 < 2  # noqa: PLR2004
            )
            for a, b in itertools.pairwise(bounds):
                piece = r.xy[a : b + 1]
                if len(piece) < 2:  # noqa: PLR2004
                    continue
                mid = shapely.points(piece[len(piece) // 2] if len(piece) > 2 else piece.mean(0))  # noqa: PLR2004
                t = dict(r.tags)
                if cuts and shapely.contains(self.water, mid):
                    if not bridge_ok:
                        continue
                    t |= {"bridge": "yes", "layer": "1"}
                lines.append(piece)
                tags.append(opl_tags(t))
        self.feats.add_lines(lines, tags)
        self.counts["skeleton_ways"] = len(lines)


_EMPTY = pa.scalar("", pa.string())


def _place_combs(
    feats: Features,
    roots: np.ndarray,
    direction: np.ndarray,
    template_of: np.ndarray,
    templates: tuple[CombSpec, ...],
    *,
    rng: np.random.Generator,
    urban: bool,
    first_number: int,
) -> tuple[int, list[np.ndarray]]:
    """Instantiate combs at ``roots``, spine along ``direction``; return houses and comb boxes."""
    number = first_number
    houses = 0
    boxes = []
    for t, spec in enumerate(templates):
        sel = np.flatnonzero(template_of == t)
        if len(sel) == 0:
            continue
        txy, tlen, kinds = _comb_template(spec)
        kinds_a = np.array(kinds)
        n = len(sel)
        d = direction[sel]
        e = np.column_stack([d[:, 1], -d[:, 0]])
        xy = (roots[sel][:, None, :] + txy[None, :, 0, None] * e[:, None, :]
              + txy[None, :, 1, None] * d[:, None, :]).reshape(-1, 2)  # fmt: skip
        way_len = np.tile(tlen, n)
        numbers = number + 2 * np.arange(n)
        number += 2 * n
        n_house = int((kinds_a == "house").sum())
        houses += n * n_house
        corner = np.array([[-spec.half_m, 0], [spec.half_m, 0], [spec.half_m, spec.depth_m],
                           [-spec.half_m, spec.depth_m]])  # fmt: skip
        boxes.append(roots[sel][:, None, :] + corner[None, :, 0, None] * e[:, None, :]
                     + corner[None, :, 1, None] * d[:, None, :])  # fmt: skip
        # Tags, vectorised with Arrow: one string per way of every instance.
        num = pa.array(np.repeat(numbers, len(kinds))).cast(pa.string())
        kind = np.tile(kinds_a, n)
        level = np.tile(np.cumsum(kinds_a == "cross") * (kinds_a == "cross"), n)
        spine_hw = rng.choice(
            ["service", "service", "residential", "footway"]
            if spec.spine_width_m < 2  # noqa: PLR2004 - narrowest alleys may be footways
            else ["service", "service", "residential"],
            size=n,
        )
        width_tag = rng.random(n) < 0.05  # noqa: PLR2004 - OSM rarely tags alley width
        ngo = pc.binary_join_element_wise("Ngõ%20%", num, "")
        spine = pc.binary_join_element_wise(
            "highway=", pa.array(np.repeat(spine_hw, len(kinds))), ",service=alley,name=", ngo, ""
        )
        spine = pc.if_else(pa.array(np.repeat(width_tag, len(kinds))), pc.binary_join_element_wise(
            spine, f",width={spec.spine_width_m:g}", ""), spine)  # fmt: skip
        cross_hw = "service" if spec.cross_width_m >= 2 else "footway"  # noqa: PLR2004
        cross = pc.binary_join_element_wise(
            f"highway={cross_hw},service=alley,name=Ngách%20%", num, "/",
            pa.array(level).cast(pa.string()), "",
        )  # fmt: skip
        levels = rng.choice(["", "2", "3", "4", "5", "6"] if urban else ["", "", "1", "2", "3"],
                            size=n * n_house)  # fmt: skip
        lv_all = np.full(len(kind), "", dtype=object)
        lv_all[kind == "house"] = levels
        house_no = np.full(len(kind), "", dtype=object)
        hn = (np.arange(n * n_house) % n_house + 1).astype(str)
        house_no[kind == "house"] = hn
        btype = "house" if urban else "yes"
        addr = rng.random(len(kind)) < (0.4 if urban else 0.1)
        house = pc.binary_join_element_wise(
            f"building={btype}",
            pc.if_else(pa.array(lv_all != ""), pc.binary_join_element_wise(
                ",building:levels=", pa.array(lv_all, pa.string()), ""), _EMPTY),
            pc.if_else(pa.array(addr), pc.binary_join_element_wise(
                ",addr:street=", ngo, ",addr:housenumber=", num, "%2f%",
                pa.array(house_no, pa.string()), ""), _EMPTY), "",
        )  # fmt: skip
        tags = pc.if_else(pa.array(kind == "spine"), spine,
                          pc.if_else(pa.array(kind == "cross"), cross, house))  # fmt: skip
        feats.add_ways(xy, way_len, tags.to_numpy(zero_copy_only=False))
    return houses, boxes


def _ponds(feats: Features, centres: np.ndarray, radius: np.ndarray, rng: np.random.Generator,
           tags: dict[str, str]) -> None:  # fmt: skip
    """Irregular ten-sided ponds."""
    if len(centres) == 0:
        return
    ang = np.linspace(0, 2 * np.pi, 11)[:-1]
    r = radius[:, None] * rng.uniform(0.75, 1.2, (len(centres), 10))
    ring = centres[:, None, :] + np.stack([r * np.cos(ang), r * np.sin(ang)], axis=-1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    feats.add_ways(ring.reshape(-1, 2), np.full(len(centres), 11), opl_tags(tags))


def generate_layout(scale: float, seed: int, ref: Reference | None = None) -> Layout:  # noqa: PLR0915
    """Lay out the whole province (metres, :data:`CRS`); return its features and ward table.

    Parameters
    ----------
    scale
        Density relative to the real province (1: about 1.3 M buildings); the boundary stays.
    seed
        Seed of every random choice.
    ref
        The reference province (default: ``data/reference/bac_ninh``).

    Returns
    -------
    Layout
    """
    if not 0 < scale <= MAX_SCALE:
        msg = f"synth scale must be in (0, {MAX_SCALE:g}], not {scale}"
        raise ConfigError(msg)
    b = _Builder(ref or load_reference(), scale, seed)
    cells = b.commune_cells()
    b.skeleton(cells)
    b.expressway()
    b.rivers()
    b.cores(cells)
    b.trim_roads_at_cores()
    park_links = b.parks()
    # Insertion requests into the skeleton roads: crossings, bank points, village roots,
    # ramps and station driveways; then the dependent features are built on the final vertices.
    c_road, c_along, c_xy = b.crossings()
    k_road, k_along, k_xy = b.bank_points()
    v_road, v_along, v_dir = b.villages()
    ramps = _ramp_requests(b)
    st = _station_requests(b)
    pk_road = np.array([p[0] for p in park_links], dtype=np.int64)
    pk_along = np.array([p[1] for p in park_links])
    r_road = np.array([r[0] for r in ramps], dtype=np.int64)
    r_along = np.array([r[1] for r in ramps])
    s_road = np.array([s[0] for s in st], dtype=np.int64)
    s_along = np.array([s[1] for s in st])
    groups = [(c_road, c_along, c_xy), (k_road, k_along, k_xy)]
    interp = [v_road, pk_road, r_road, s_road]
    interp_along = [v_along, pk_along, r_along, s_along]
    lines_xy = _lines([r.xy for r in b.roads])
    ia = np.concatenate(interp)
    ial = np.concatenate(interp_along)
    ixy = shapely.get_coordinates(shapely.line_interpolate_point(lines_xy[ia], ial)) if len(ia) \
        else np.empty((0, 2))  # fmt: skip
    road = np.concatenate([g[0] for g in groups] + [ia])
    along = np.concatenate([g[1] for g in groups] + [ial])
    xy = np.concatenate([g[2] for g in groups] + [ixy])
    new_lines, pos = insert_points(b.roads, road, along, xy)
    for r, line in zip(b.roads, new_lines, strict=True):
        r.xy = line
    n_split = len(c_road)
    split: dict[int, list[int]] = {}
    for rr, pp in zip(road[n_split : n_split + len(k_road)], pos[n_split : n_split + len(k_road)],
                      strict=True):  # fmt: skip
        split.setdefault(int(rr), []).append(int(pp))
    b.write_roads(split)
    off = n_split + len(k_road)
    v_xy = xy[off : off + len(v_road)]
    off += len(v_road)
    pk_xy = xy[off : off + len(pk_road)]
    off += len(pk_road)
    r_xy = xy[off : off + len(r_road)]
    off += len(r_road)
    s_xy = xy[off : off + len(s_road)]
    _park_links(b, park_links, pk_xy)
    _ramps(b, ramps, r_xy)
    houses, boxes = _all_combs(b, v_xy, v_dir)
    _stations(b, st, s_xy)
    _water_features(b, v_xy, v_dir, boxes)
    wards = _admin(b, cells)
    b.counts["buildings"] = (
        houses + b.counts.get("factories", 0) + b.counts.get("station_buildings", 0)
    )
    return Layout(b.feats, wards, b.counts)


def _ramp_requests(b: _Builder) -> list[tuple[int, float, str]]:
    """Interchanges where the expressway crosses a national or provincial road (diamonds)."""
    mw = [b.roads[k] for k in b.motorway]
    mlines = _lines([r.xy for r in mw])
    out: list[tuple[int, float, str]] = []
    cands = [k for k, r in enumerate(b.roads)
             if r.tags["highway"] in ("trunk", "primary", "secondary")]  # fmt: skip
    if not cands:
        return out
    lines = _lines([b.roads[k].xy for k in cands])
    hits = shapely.intersection(mlines[0], lines)
    pts, which = shapely.get_coordinates(hits, return_index=True)
    last = -1e18
    s_m = shapely.line_locate_point(mlines[0], shapely.points(pts))
    order = np.argsort(s_m)
    for o in order:
        if s_m[o] - last < 6000:  # noqa: PLR2004 - interchanges at least 6 km apart
            continue
        last = s_m[o]
        k = cands[which[o]]
        p = shapely.points(pts[o])
        s_road = float(shapely.line_locate_point(lines[which[o]], p))
        s_other = float(shapely.line_locate_point(mlines[1], p))
        rl = float(shapely.length(lines[which[o]]))
        ml = [float(shapely.length(m)) for m in mlines]
        if min(s_road, rl - s_road) < 400 or min(s_m[o], ml[0] - s_m[o]) < 700:  # noqa: PLR2004
            continue
        # Off- and on-ramps of both carriageways, to points 300 m each side on the road.
        s0 = float(s_m[o])
        m0, m1 = b.motorway
        out += [(m0, s0 - 500, "m0_off"), (k, s_road - 300, "r_a"), (m0, s0 + 500, "m0_on"),
                (k, s_road + 300, "r_b"), (m1, s_other - 500, "m1_off"),
                (m1, s_other + 500, "m1_on")]  # fmt: skip
    return out


def _ramps(b: _Builder, ramps: list[tuple[int, float, str]], xy: np.ndarray) -> None:
    lines, tags = [], []
    t = opl_tags({"highway": "motorway_link", "oneway": "yes", "lanes": "1"})
    for i in range(0, len(ramps), 6):
        m0_off, r_a, m0_on, r_b, m1_off, m1_on = xy[i : i + 6]
        for a, c in ((m0_off, r_a), (r_b, m0_on), (m1_off, r_b), (r_a, m1_on)):
            mid = (a + c) / 2 + 0.15 * np.array([-(c - a)[1], (c - a)[0]])
            q = np.linspace(0, 1, 8)[:, None]
            lines.append((1 - q) ** 2 * a + 2 * q * (1 - q) * mid + q**2 * c)
            tags.append(t)
    b.feats.add_lines(lines, tags)
    b.counts["ramps"] = len(lines)


def _park_links(b: _Builder, links: list[tuple[int, float, np.ndarray]], xy: np.ndarray) -> None:
    lines = [np.vstack([p, corner]) for (_, _, corner), p in zip(links, xy, strict=True)]
    b.feats.add_lines(lines, [opl_tags({"highway": "tertiary", "name": "Đường vào KCN",
                                        "lanes": "2"})] * len(lines))  # fmt: skip
    b.counts["factories"] = b.feats.count_ways("building=industrial")


def _station_requests(b: _Builder) -> list[tuple[int, float, str]]:
    """Fire stations: on a driveway off a main road near the biggest wards and communes."""
    urban = np.flatnonzero(b.urban)
    urban = urban[np.argsort(-b.pop[urban])][:URBAN_STATIONS]
    rural = np.flatnonzero(~b.urban)
    rural = rural[np.argsort(-b.pop[rural])][:RURAL_STATIONS]
    out: list[tuple[int, float, str]] = []
    ends = np.array([[r.xy[0], r.xy[-1]] for r in b.roads])
    main = np.array([r.tags["highway"] in ("trunk", "primary", "secondary", "tertiary")
                     and r.level == "ground" for r in b.roads])  # fmt: skip
    for kind, group in (("urban", urban), ("rural", rural)):
        for i in group:
            d = np.hypot(*(ends - b.cxy[i]).transpose(2, 0, 1)).min(axis=1)
            d = np.where(main, d, np.inf)
            k = int(np.argmin(d))
            if not np.isfinite(d[k]):
                continue
            length = float(_cumlen(b.roads[k].xy)[-1])
            start_near = np.hypot(*(b.roads[k].xy[0] - b.cxy[i])) <= d[k] + 1e-6
            s = min(150.0, length / 3)
            out.append((k, s if start_near else length - s, f"{kind}:{b.ref.communes['name'][i]}"))
    return out


def _stations(b: _Builder, st: list[tuple[int, float, str]], xy: np.ndarray) -> None:
    """Stations: a building on a 40 m driveway (2 in 3) or a node beside the road (1 in 3)."""
    drive, drive_tags, nodes, node_tags, bld = [], [], [], [], []
    for n, ((k, s, label), p) in enumerate(zip(st, xy, strict=True)):
        line = shapely.linestrings(b.roads[k].xy)
        q = shapely.get_coordinates(shapely.line_interpolate_point(line, s + 1.0))[0]
        unit = (q - p) / max(np.hypot(*(q - p)), 1e-9)
        perp = np.array([-unit[1], unit[0]])
        name = f"Đội Cảnh sát PCCC và CNCH khu vực {label.split(':', 1)[1]}"
        tags = {"amenity": "fire_station", "name": name}
        if n % 3 == 2:  # noqa: PLR2004
            nodes.append(p + perp * 12.0)
            node_tags.append(opl_tags(tags))
            continue
        end = p + perp * 40.0
        drive.append(np.vstack([p, end]))
        drive_tags.append(opl_tags({"highway": "service", "service": "driveway"}))
        corners = end + np.array([[-10, 0], [10, 0], [10, 25], [-10, 25], [-10, 0]]) @ np.vstack(
            [unit, perp])  # fmt: skip
        bld.append(corners)
        bld_tags = opl_tags({"building": "fire_station", **tags, "building:levels": "3"})
        b.feats.add_lines([corners], [bld_tags])
    b.feats.add_lines(drive, drive_tags)
    b.feats.add_nodes(np.array(nodes).reshape(-1, 2), node_tags)
    b.counts["stations"] = len(st)
    b.counts["station_buildings"] = len(bld)
    b.counts["station_driveways"] = len(drive)


def _all_combs(b: _Builder, v_xy: np.ndarray, v_dir: np.ndarray) -> tuple[int, np.ndarray]:
    """Village and ward combs; returns houses placed and every comb's box (for the ponds)."""
    houses = 0
    boxes: list[np.ndarray] = []
    number = 1
    # Ward cores: comb levels limited by the block depth.
    per_level = len(URBAN_COMBS) // len({c.levels for c in URBAN_COMBS})
    for _, roots, dirs, lmax in b.core_combs:
        lv = b.rng.integers(max(2, lmax - 2), lmax + 1, size=len(roots))
        template_of = (lv - 2) * per_level + b.rng.integers(0, per_level, size=len(roots))
        h, bx = _place_combs(b.feats, roots, dirs, template_of, URBAN_COMBS, rng=b.rng,
                             urban=True, first_number=number)  # fmt: skip
        number += 2 * len(roots)
        houses += h
        boxes += bx
    template_of = b.rng.integers(0, len(VILLAGE_COMBS), size=len(v_xy))
    h, bx = _place_combs(b.feats, v_xy, v_dir, template_of, VILLAGE_COMBS, rng=b.rng,
                         urban=False, first_number=number)  # fmt: skip
    houses += h
    boxes += bx
    b.counts["combs"] = sum(len(x) for x in boxes)
    return houses, (np.concatenate(boxes) if boxes else np.empty((0, 4, 2)))


def _water_features(b: _Builder, v_xy: np.ndarray, v_dir: np.ndarray, boxes: np.ndarray) -> None:
    """Ponds behind some villages, a few larger lakes; hydrants; none on a house or road."""
    pick = b.rng.random(len(v_xy)) < 0.15  # noqa: PLR2004
    r = b.rng.uniform(10, 35, int(pick.sum()))
    centres = v_xy[pick] + v_dir[pick] * (115.0 + r)[:, None]
    comb_polys = shapely.polygons(boxes) if len(boxes) else np.empty(0, dtype=object)
    roads = _lines([rd.xy for rd in b.roads])
    tree = shapely.STRtree(np.concatenate([comb_polys, roads]))
    disc = shapely.buffer(shapely.points(centres), r * 1.25, quad_segs=2)
    hit = np.zeros(len(disc), dtype=bool)
    hit[tree.query(disc, predicate="intersects")[0]] = True
    ok = ~hit & shapely.contains(b.P, disc) & ~shapely.intersects(b.water, disc)
    _ponds(b.feats, centres[ok], r[ok], b.rng, {"natural": "water", "water": "pond"})
    # Lakes: a dozen 100-300 m across, in open country.
    x0, y0, x1, y1 = (float(v) for v in shapely.bounds(b.P))
    lx = b.rng.uniform(x0, x1, 400)
    ly = b.rng.uniform(y0, y1, 400)
    lr = b.rng.uniform(60, 160, 400)
    ldisc = shapely.buffer(shapely.points(np.column_stack([lx, ly])), lr * 1.3, quad_segs=2)
    lhit = np.zeros(len(ldisc), dtype=bool)
    lhit[tree.query(ldisc, predicate="intersects")[0]] = True
    blocked = shapely.union_all([b.water, *b.reserved])
    lok = np.flatnonzero(~lhit & shapely.contains(b.P, ldisc) & ~shapely.intersects(blocked, ldisc))
    lok = lok[:12]
    _ponds(b.feats, np.column_stack([lx, ly])[lok], lr[lok], b.rng,
           {"natural": "water", "water": "lake"})  # fmt: skip
    b.counts["ponds"] = int(ok.sum())
    b.counts["lakes"] = len(lok)
    # Hydrants: at ward junctions (laid out with the cores, which shrink with the scale), plus
    # a few beside village alleys.
    hyd = np.concatenate(b.hydrant_xy) if b.hydrant_xy else np.empty((0, 2))
    rural = v_xy[b.rng.random(len(v_xy)) < 0.01] + 4.0  # noqa: PLR2004
    hyd = np.concatenate([hyd, rural])
    b.feats.add_nodes(hyd, [opl_tags({"emergency": "fire_hydrant", "fire_hydrant:type": "pillar"})]
                      * len(hyd))  # fmt: skip
    b.counts["hydrants"] = len(hyd)
    b.counts["hydrants_rural"] = len(rural)


def _admin(b: _Builder, cells: np.ndarray) -> list[dict[str, Any]]:
    """Administrative relations: the province (level 4) and its 99 communes (level 8)."""
    c = b.ref.communes
    rings = [shapely.get_coordinates(shapely.get_exterior_ring(p)) for p in shapely.get_parts(b.P)]
    batch = b.feats.add_lines(rings, [opl_tags({"boundary": "administrative",
                                                "admin_level": "4"})] * len(rings))  # fmt: skip
    b.feats.relations.append((
        [(batch, i, "outer") for i in range(len(rings))],
        {"type": "boundary", "boundary": "administrative", "admin_level": "4",
         "name": "Tỉnh Bắc Ninh", "name:en": "Bac Ninh Province", "ref": "27"},
    ))  # fmt: skip
    wards = []
    for i, cell in enumerate(cells):
        parts = [p for p in shapely.get_parts(shapely.make_valid(cell))
                 if p.geom_type == "Polygon" and p.area > 1.0]  # fmt: skip
        if not parts:
            continue
        rings = [shapely.get_coordinates(p.exterior) for p in parts]
        batch = b.feats.add_lines(rings, [opl_tags({"boundary": "administrative",
                                                    "admin_level": "8"})] * len(rings))  # fmt: skip
        prefix = "Phường" if c["type"][i] == "phường" else "Xã"
        name = f"{prefix} {c['name'][i]}"
        members = [(batch, j, "outer") for j in range(len(rings))]
        b.feats.relations.append((members, {
            "type": "boundary", "boundary": "administrative", "admin_level": "8",
            "name": name, "ref": str(c["code"][i]), "population": str(int(c["population_2025"][i])),
        }))  # fmt: skip
        wards.append({"code": str(c["code"][i]), "name": name, "type": str(c["type"][i]),
                      "population_2025": int(c["population_2025"][i]),
                      "geometry": shapely.MultiPolygon(parts)})  # fmt: skip
    b.counts["wards"] = len(wards)
    return wards


# --- the dataset on disk ----------------------------------------------------------------------


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


def _geojson(features: list[dict[str, Any]]) -> dict[str, Any]:
    to_ll = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    out = []
    for f in features:
        geom = shapely.transform(f["geometry"], lambda c: np.column_stack(
            to_ll.transform(c[:, 0], c[:, 1])))  # fmt: skip
        geom = shapely.set_precision(geom, 1e-7)
        props = {k: v for k, v in f.items() if k != "geometry"}
        out.append({"type": "Feature", "properties": props,
                    "geometry": json.loads(shapely.to_geojson(geom))})  # fmt: skip
    return {"type": "FeatureCollection", "features": out}


def generate(
    scale: float,
    *,
    seed: int = 42,
    cache_dir: Path = CACHE_DIR,
    force: bool = False,
    progress: bool = False,  # noqa: ARG001 - kept for callers; writing has no per-object loop
) -> SynthDataset:
    """Generate (or reuse from the cache) the dataset of ``(scale, seed)``.

    Parameters
    ----------
    scale
        Density relative to the real province (1: about 1.3 M buildings); the boundary and the
        99 communes are always the real ones.
    seed
        Random seed: the same ``(scale, seed)`` always gives the same file.
    cache_dir
        Where datasets are kept (``cache/synth/`` by default).
    force
        Regenerate even when cached.
    progress
        Unused (kept for callers).

    Returns
    -------
    SynthDataset
        ``synth.osm.pbf``, ``boundary.geojson`` and ``wards.geojson`` (for the ``wards.file``
        config key) in ``cache_dir/s<scale>-seed<seed>/``.
    """
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
    ref = load_reference()
    layout = generate_layout(scale, seed, ref)
    t1 = time.perf_counter()
    with atomic_path(pbf) as tmp:
        tmp.unlink(missing_ok=True)
        counts = write_pbf(layout.feats, tmp, crs=CRS)
    with atomic_path(boundary) as tmp:
        fc = _geojson([{"name": "Tỉnh Bắc Ninh", "geometry": ref.boundary}])
        tmp.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    with atomic_path(wards) as tmp:
        tmp.write_text(json.dumps(_geojson(layout.wards), ensure_ascii=False), encoding="utf-8")
    feats = layout.feats
    meta = {
        "generator_version": GENERATOR_VERSION, "scale": scale, "seed": seed,
        "osm_nodes": counts["nodes"], "osm_ways": counts["ways"],
        "osm_relations": counts["relations"],
        "buildings": feats.count_ways("building="),
        "streets": feats.count_ways("highway="),
        "hydrants": feats.count_nodes("emergency=fire_hydrant"),
        "stations": layout.counts["stations"], "wards": len(layout.wards),
        "boundary_km2": round(ref.boundary.area / 1e6, 1),
        "layout": {k: v for k, v in layout.counts.items() if k not in ("buildings", "stations")},
        "pbf_mb": round(pbf.stat().st_size / 1e6, 2),
        "layout_s": round(t1 - t0, 2), "write_s": round(time.perf_counter() - t1, 2),
    }  # fmt: skip
    write_json(meta, meta_path)
    logger.info(
        "synth: wrote %s: %s OSM nodes, %s ways, %s buildings, %.1f MB (%.1f s)",
        pbf, f"{meta['osm_nodes']:,}", f"{meta['osm_ways']:,}", f"{meta['buildings']:,}",
        meta["pbf_mb"], time.perf_counter() - t0,
    )  # fmt: skip
    return SynthDataset(pbf, boundary, wards, meta)


def use_generated(
    config: ProvinceConfig, *, scale: float | None = None, cache_dir: Path = CACHE_DIR
) -> ProvinceConfig:
    """Return ``config`` reading the generated dataset of its ``synth:`` section (made if needed).

    Parameters
    ----------
    config
        A province config with a ``synth`` section.
    scale
        Overrides ``synth.scale`` (``make analyze PROVINCE=synth SCALE=0.25``).
    cache_dir
        Where generated datasets are kept.

    Returns
    -------
    ProvinceConfig
        With ``osm.file``, ``boundary.file`` and ``wards.file`` set to the dataset's files.
    """
    assert config.synth is not None  # noqa: S101 - checked by the caller
    synth = config.synth
    if scale is not None:
        if not 0 < scale <= MAX_SCALE:
            msg = f"synth scale must be in (0, {MAX_SCALE:g}], not {scale}"
            raise ConfigError(msg)
        synth = synth.model_copy(update={"scale": scale})
    ds = generate(synth.scale, seed=synth.seed, cache_dir=cache_dir)
    return config.model_copy(update={
        "synth": synth,
        "osm": config.osm.model_copy(update={"file": str(ds.pbf)}),
        "boundary": config.boundary.model_copy(update={"file": str(ds.boundary), "field": None,
                                                       "value": None, "osm_admin_level": None}),
        "wards": config.wards.model_copy(update={"file": str(ds.wards), "osm_admin_level": None,
                                                 "centroids_csv": None}),
    })  # fmt: skip


def iter_scales(text: str) -> Iterator[float]:
    """Parse ``"0.125,0.25,1"`` into floats."""
    for part in text.split(","):
        if part.strip():
            yield float(part)


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.synth --scale 1 --seed 42``: generate (or reuse) a dataset."""
    parser = argparse.ArgumentParser(prog="python -m tools.synth", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = the real province")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--force", action="store_true", help="regenerate even when cached")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    ds = generate(args.scale, seed=args.seed, force=args.force, progress=True)
    logger.info("synth: boundary %s", ds.boundary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
