"""Write small OSM files for tests: a hand-built town in metric coordinates (UTM 48N)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import osmium
import pyproj
import shapely
from osmium.osm import mutable

if TYPE_CHECKING:
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

    def write(self, path: Path) -> Path:
        """Write with osmium: the format follows the suffix (.osm.pbf, .osm), or Overpass .json."""
        if path.suffix == ".json":
            path.write_text(json.dumps(self.overpass_json()), encoding="utf-8")
            return path
        with osmium.SimpleWriter(str(path), overwrite=True) as w:
            for nid in sorted(self.nodes):
                x, y, tags = self.nodes[nid]
                w.add_node(mutable.Node(id=nid, location=lonlat(x, y), tags=tags))
            for wid in sorted(self.ways):
                refs, tags = self.ways[wid]
                w.add_way(mutable.Way(id=wid, nodes=refs, tags=tags))
            for rid in sorted(self.relations):
                members, tags = self.relations[rid]
                w.add_relation(mutable.Relation(id=rid, members=members, tags=tags))
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


def row_houses(x_gap_m, y0, y1, *, depth=9.0, frontage=4.0, spacing=5.0, x_mid=0.0):
    """Boxes on both sides of the line x = x_mid, leaving ``x_gap_m`` between the fronts."""
    ys = np.arange(y0, y1 - frontage + 1e-9, spacing) + 0.5
    half = x_gap_m / 2
    east = shapely.box(x_mid + half, ys, x_mid + half + depth, ys + frontage)
    west = shapely.box(x_mid - half - depth, ys, x_mid - half, ys + frontage)
    return np.concatenate([east, west])
