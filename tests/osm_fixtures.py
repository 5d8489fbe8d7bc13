"""Write small OSM files for tests: a hand-built town in metric coordinates (UTM 48N)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import osmium
import osmium.io
import pyproj
import shapely
from osmium.osm import mutable

from pipeline.paths import PROJECT_ROOT

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

CRS = "EPSG:32648"
#: Origin of the fixture town in UTM 48N (near Bắc Ninh city).
X0, Y0 = 590_000.0, 2_340_000.0
_TO_LONLAT = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Town metres (relative to the origin) -> WGS84 lon/lat."""
    lon, lat = _TO_LONLAT.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


@dataclass
class OsmBuilder:
    """Collect nodes, ways and relations in metres, then write .osm.pbf / .osm / Overpass JSON."""

    nodes: dict[int, tuple[float, float, dict[str, str]]] = field(default_factory=dict)
    ways: dict[int, tuple[list[int], dict[str, str]]] = field(default_factory=dict)
    relations: dict[int, tuple[list[tuple[str, int, str]], dict[str, str]]] = field(
        default_factory=dict
    )
    _next_node: int = 1000
    _next_way: int = 5000

    def node(
        self, x: float, y: float, tags: dict[str, str] | None = None, nid: int | None = None
    ) -> int:
        if nid is None:
            self._next_node += 1
            nid = self._next_node
        self.nodes[nid] = (x, y, tags or {})
        return nid

    def way(self, node_ids: list[int], tags: dict[str, str], wid: int | None = None) -> int:
        if wid is None:
            self._next_way += 1
            wid = self._next_way
        self.ways[wid] = (list(node_ids), tags)
        return wid

    def line(self, points: list[tuple[float, float]], tags: dict[str, str]) -> int:
        return self.way([self.node(x, y) for x, y in points], tags)

    def rect(self, x0: float, y0: float, x1: float, y1: float, tags: dict[str, str]) -> int:
        ids = [self.node(x0, y0), self.node(x1, y0), self.node(x1, y1), self.node(x0, y1)]
        return self.way([*ids, ids[0]], tags)

    def shift(self, dx: float, dy: float) -> OsmBuilder:
        """Move every node by (dx, dy) metres."""
        self.nodes = {nid: (x + dx, y + dy, tags) for nid, (x, y, tags) in self.nodes.items()}
        return self

    def area(self, rings: list[list[tuple[float, float]]], tags: dict[str, str],
             *, rid: int, chunk: int = 400) -> int:  # fmt: skip
        """Add a ``type=boundary`` relation whose outer rings are split into ways of ``chunk``."""
        members = []
        for ring in rings:
            ids = [self.node(x, y) for x, y in ring[:-1]]
            ids.append(ids[0])
            members.extend(
                ("w", self.way(ids[start : start + chunk + 1], {}), "outer")
                for start in range(0, len(ids) - 1, chunk)
            )
        self.relations[rid] = (members, {"type": "boundary", **tags})
        return rid

    def write(
        self,
        path: Path,
        *,
        replication_timestamp: str | None = None,
        object_timestamp: dt.datetime | None = None,
    ) -> Path:
        """Write with osmium: the format follows the suffix (.osm.pbf, .osm), or Overpass .json.

        ``replication_timestamp`` goes into the header as Geofabrik writes it;
        ``object_timestamp`` is given to every object (none by default, as generators write).
        """
        if path.suffix == ".json":
            path.write_text(json.dumps(self.overpass_json()), encoding="utf-8")
            return path
        header = osmium.io.Header()
        if replication_timestamp is not None:
            header.set("osmosis_replication_timestamp", replication_timestamp)
        meta: dict[str, Any] = {}
        if object_timestamp is not None:
            meta = {"timestamp": object_timestamp, "version": 1}
        with osmium.SimpleWriter(str(path), header=header, overwrite=True) as w:
            for nid in sorted(self.nodes):
                x, y, tags = self.nodes[nid]
                w.add_node(mutable.Node(id=nid, location=lonlat(x, y), tags=tags, **meta))
            for wid in sorted(self.ways):
                refs, tags = self.ways[wid]
                w.add_way(mutable.Way(id=wid, nodes=refs, tags=tags, **meta))
            for rid in sorted(self.relations):
                members, tags = self.relations[rid]
                w.add_relation(mutable.Relation(id=rid, members=members, tags=tags, **meta))
        return path

    def overpass_json(self) -> dict[str, Any]:
        elements: list[dict[str, Any]] = []
        for nid, (x, y, tags) in self.nodes.items():
            lon, lat = lonlat(x, y)
            el: dict[str, Any] = {"type": "node", "id": nid, "lat": lat, "lon": lon}
            if tags:
                el["tags"] = tags
            elements.append(el)
        for wid, (refs, tags) in self.ways.items():
            elements.append({"type": "way", "id": wid, "nodes": refs, "tags": tags})
        for rid, (members, tags) in self.relations.items():
            elements.append(
                {
                    "type": "relation",
                    "id": rid,
                    "tags": tags,
                    "members": [
                        {
                            "type": {"n": "node", "w": "way", "r": "relation"}[t],
                            "ref": ref,
                            "role": role,
                        }
                        for t, ref, role in members
                    ],
                }
            )
        return {"version": 0.6, "generator": "firegap tests", "elements": elements}


def boundary_geojson(path: Path, x0: float, y0: float, x1: float, y1: float) -> Path:
    """Write a WGS84 GeoJSON rectangle (town metres) as a province boundary."""
    ring = [lonlat(x0, y0), lonlat(x1, y0), lonlat(x1, y1), lonlat(x0, y1), lonlat(x0, y0)]
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Test"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path.write_text(json.dumps(fc), encoding="utf-8")
    return path


def town() -> OsmBuilder:
    """The reference town (all lengths in metres, hand-computable).

    Streets (7 nodes, 6 street edges -> 12 directed graph edges inside the boundary)::

        G(0,100)                 D(100,100)---F(150,100)  footway
          |  tertiary oneway        |  residential width=6
        A(0,0)-------------B(100,0)------------C(200,0)   primary, lanes=2
                                               |  service=alley "Ngõ 5" (no width), 80 m
                                               E(200,80)

    Outside the boundary: one residential street (clipped away). Excluded: one
    ``highway=construction`` way. Buildings: 4 inside (one with 5 levels, one fire station),
    1 outside. Water points: 2 hydrants and 1 water tank inside, 1 hydrant outside. Water
    bodies: a pond and a river. Fire stations: one node, one building.
    """
    b = OsmBuilder()
    A = b.node(0, 0, nid=1)
    B = b.node(100, 0, nid=2)
    C = b.node(200, 0, nid=3)
    D = b.node(100, 100, nid=4)
    E = b.node(200, 80, {"highway": "turning_circle"}, nid=5)
    F = b.node(150, 100, nid=6)
    G = b.node(0, 100, nid=7)
    b.way([A, B, C], {"highway": "primary", "name": "Đường Lý Thái Tổ", "lanes": "2"}, wid=101)
    b.way([B, D], {"highway": "residential", "name": "Phố Nguyễn Đăng Đạo", "width": "6"}, wid=102)
    b.way([C, E], {"highway": "service", "service": "alley", "name": "Ngõ 5"}, wid=103)
    b.way([D, F], {"highway": "footway"}, wid=104)
    b.way([A, G], {"highway": "tertiary", "oneway": "yes", "maxspeed": "30"}, wid=105)
    b.line([(5000, 5000), (5100, 5000)], {"highway": "residential"})  # outside
    b.line([(0, -30), (100, -30)], {"highway": "construction"})  # excluded
    b.rect(20, 10, 40, 30, {"building": "yes", "building:levels": "5"})
    b.rect(120, 10, 140, 30, {"building": "house"})
    b.rect(205, 20, 215, 40, {"building": "yes", "height": "10"})
    b.rect(
        60, 110, 80, 130, {"building": "yes", "amenity": "fire_station", "name": "PCCC Kinh Bắc"}
    )
    b.rect(5000, 5010, 5020, 5030, {"building": "yes"})  # outside
    b.node(50, 3, {"emergency": "fire_hydrant", "fire_hydrant:type": "pillar"})
    b.node(150, 3, {"emergency": "fire_hydrant"})
    b.node(100, 105, {"emergency": "water_tank"})
    b.node(5000, 4990, {"emergency": "fire_hydrant"})  # outside
    b.node(10, -10, {"amenity": "fire_station", "name": "Đội PCCC số 1"})
    b.rect(250, 150, 280, 180, {"natural": "water", "water": "pond"})
    b.line([(-40, 190), (290, 190)], {"waterway": "river", "name": "Sông Cầu"})
    return b


#: Counts the reference town must give after ingestion.
TOWN_COUNTS = {
    "streets": 5,
    "buildings": 4,
    "water_points": 3,
    "water_bodies": 2,
    "stations": 2,
    "graph_nodes": 7,
    "graph_edges": 12,
    "street_m": 100 + 100 + 100 + 80 + 50 + 100,
}
TOWN_BOUNDS = (-50.0, -50.0, 300.0, 200.0)


#: The town's two wards (:func:`ward_geojson`): W1 "Phường Kinh Bắc" is x < 160 m, W2 "Xã Hòa
#: Long" (population unknown) is x >= 160 m.
WARD_SPLIT_X = 160.0


def ward_geojson(path: Path) -> Path:
    """Write the town's two wards as a WGS84 GeoJSON file (the ``wards.file`` config input).

    They reach 10 m beyond :data:`TOWN_BOUNDS`: ingest clips them to the boundary.
    """
    x0, y0, x1, y1 = TOWN_BOUNDS
    m = 10.0
    boxes = [(x0 - m, y0 - m, WARD_SPLIT_X, y1 + m), (WARD_SPLIT_X, y0 - m, x1 + m, y1 + m)]
    props = [
        {"code": "W1", "name": "Phường Kinh Bắc", "type": "phường", "population_2025": 12000},
        {"code": "W2", "name": "Xã Hòa Long", "type": "xã", "population_2025": None},
    ]
    features = []
    for (a, b, c, d), p in zip(boxes, props, strict=True):
        ring = [lonlat(a, b), lonlat(c, b), lonlat(c, d), lonlat(a, d), lonlat(a, b)]
        features.append(
            {"type": "Feature", "properties": p,
             "geometry": {"type": "Polygon", "coordinates": [ring]}}
        )  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


#: The shipped 2025 Bắc Ninh boundary and commune table (data/reference/bac_ninh/).
BAC_NINH_REF = PROJECT_ROOT / "data" / "reference" / "bac_ninh"
#: Where the town sits in a Bắc Ninh-shaped extract: Bắc Ninh city (106.06 E, 21.18 N).
BAC_NINH_TOWN = (610_036.6 - X0, 2_342_436.7 - Y0)


def _rings(geom: Any) -> list[list[tuple[float, float]]]:
    """Exterior rings of a (multi)polygon in UTM 48N, as town metres."""
    parts = getattr(geom, "geoms", [geom])
    return [[(x - X0, y - Y0) for x, y in p.exterior.coords] for p in parts]


def bac_ninh_like(
    *, admin: bool = True, grid: tuple[int, int] = (3, 2), province_scale: float = 1.0
) -> tuple[OsmBuilder, list[dict[str, str]]]:
    """A Bắc Ninh-shaped extract: the reference town in Bắc Ninh city, admin relations around it.

    The province relation (``admin_level=4``, "Tỉnh Bắc Ninh", relation 4000) has the shipped
    2025 boundary's shape (scaled about the town by ``province_scale``: < 1 makes a pre-merger
    sized province). The communes (``admin_level=6``, relations 4001...) are the province cut
    by a ``grid`` of columns x rows; each is named after a commune of the 2025 table whose
    centroid lies in it ("Phường Bắc Giang"), so a name match gives the commune code.

    Returns
    -------
    builder, communes
        The communes as written: relation id, OSM name, and the table's code, name and type.
    """
    import geopandas as gpd
    import pandas as pd
    import shapely
    from shapely import affinity

    b = town().shift(*BAC_NINH_TOWN)
    if not admin:
        return b, []
    province = gpd.read_file(BAC_NINH_REF / "province_2025.geojson").to_crs(CRS).geometry.iloc[0]
    if province_scale != 1.0:
        origin = (X0 + BAC_NINH_TOWN[0], Y0 + BAC_NINH_TOWN[1])
        province = affinity.scale(province, province_scale, province_scale, origin=origin)
    b.area(_rings(province), {"boundary": "administrative", "admin_level": "4",
                              "name": "Tỉnh Bắc Ninh", "name:en": "Bac Ninh Province"},
           rid=4000)  # fmt: skip
    table = pd.read_csv(BAC_NINH_REF / "communes_2025.csv", dtype={"code": str})
    pts = gpd.GeoSeries(
        gpd.points_from_xy(table["centroid_lon"], table["centroid_lat"]), crs="EPSG:4326"
    ).to_crs(CRS)
    minx, miny, maxx, maxy = province.bounds
    cols, rows = grid
    communes = []
    for i in range(cols):
        for j in range(rows):
            cell = shapely.box(
                minx + (maxx - minx) * i / cols, miny + (maxy - miny) * j / rows,
                minx + (maxx - minx) * (i + 1) / cols, miny + (maxy - miny) * (j + 1) / rows,
            )  # fmt: skip
            part = shapely.intersection(province, cell)
            if part.is_empty or part.area == 0:
                continue
            inside = table[shapely.contains(part, pts.to_numpy())]
            row = inside.iloc[0]
            osm_name = f"{row['type'].capitalize()} {row['name']}"
            rid = 4001 + len(communes)
            b.area(_rings(part), {"boundary": "administrative", "admin_level": "6",
                                  "name": osm_name}, rid=rid)  # fmt: skip
            communes.append(
                {"rid": f"r{rid}", "osm_name": osm_name, "code": row["code"],
                 "name": row["name"], "type": row["type"]}
            )  # fmt: skip
    return b, communes


def row_houses(x_gap_m, y0, y1, *, depth=9.0, frontage=4.0, spacing=5.0, x_mid=0.0):
    """Boxes on both sides of the line x = x_mid, leaving ``x_gap_m`` between the fronts."""
    ys = np.arange(y0, y1 - frontage + 1e-9, spacing) + 0.5
    half = x_gap_m / 2
    east = shapely.box(x_mid + half, ys, x_mid + half + depth, ys + frontage)
    west = shapely.box(x_mid - half - depth, ys, x_mid - half, ys + frontage)
    return np.concatenate([east, west])
