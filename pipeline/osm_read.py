"""Parse OSM data (``.osm.pbf``, ``.osm`` XML, Overpass JSON) into raw layers, with one reader."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import osmium.filter
import osmium.geom
import pandas as pd
import shapely
from osmium.osm import mutable
from tqdm import tqdm

from pipeline._errors import InputDataError, MissingInputError

logger = logging.getLogger(__name__)

#: Street tags kept on every street way and graph edge.
STREET_TAGS: tuple[str, ...] = (
    "highway",
    "name",
    "width",
    "est_width",
    "maxwidth",
    "maxwidth:physical",
    "lanes",
    "oneway",
    "access",
    "service",
    "surface",
    "bridge",
    "tunnel",
    "maxheight",
    "motor_vehicle",
    "motorcar",
    "vehicle",
    "emergency",
    "sidewalk",
    "sidewalk:both",
    "sidewalk:left",
    "sidewalk:right",
    "maxspeed",
    "ref",
)
#: ``highway`` values that are not usable ways (as OSMnx's ``network_type="all"`` filter).
EXCLUDED_HIGHWAYS = frozenset(
    {
        "abandoned",
        "construction",
        "no",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        "bus_stop",
        "elevator",
        "emergency_bay",
        "rest_area",
        "services",
    }
)
#: ``emergency`` values of fire-fighting water points.
WATER_POINT_KINDS = frozenset({"fire_hydrant", "water_tank", "suction_point", "fire_water_pond"})
BUILDING_TAGS: tuple[str, ...] = ("building", "building:levels", "height", "name", "amenity")
WATER_POINT_TAGS: tuple[str, ...] = (
    "emergency",
    "name",
    "fire_hydrant:type",
    "fire_hydrant:diameter",
    "fire_hydrant:position",
    "water_source",
    "water_tank:volume",
    "couplings",
    "operator",
)
WATERWAY_KINDS = frozenset({"river", "stream", "canal", "ditch", "drain", "riverbank"})
WATER_LANDUSE = frozenset({"reservoir", "basin"})
SUFFIXES: dict[str, str] = {".pbf": "pbf", ".osm": "xml", ".xml": "xml", ".json": "overpass"}

_KEYS = (
    "highway",
    "building",
    "amenity",
    "emergency",
    "natural",
    "waterway",
    "landuse",
    "water",
    "boundary",
)


@dataclass
class OsmLayers:
    """Raw layers of one OSM file, in EPSG:4326, before clipping.

    ``street_refs``/``street_lonlat`` hold, per street way, its node ids and coordinates: the
    graph builder splits them at shared nodes.
    """

    streets: pd.DataFrame
    street_refs: list[np.ndarray]
    street_lonlat: list[np.ndarray]
    buildings: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    water_points: gpd.GeoDataFrame
    water_bodies: gpd.GeoDataFrame
    admin: gpd.GeoDataFrame
    node_extent: tuple[float, float, float, float] | None
    skipped: dict[str, int] = field(default_factory=dict)
    node_highway: dict[int, str] = field(default_factory=dict)


def detect_format(path: Path) -> str:
    """Return ``"pbf"``, ``"xml"`` or ``"overpass"`` from a file name.

    Parameters
    ----------
    path
        An OSM file: ``*.osm.pbf``, ``*.osm`` / ``*.xml`` (OSM XML 0.6), or ``*.json`` (Overpass).

    Returns
    -------
    str
    """
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        msg = f"{path}: unknown OSM format; use .osm.pbf, .osm (XML) or .json (Overpass API)"
        raise InputDataError(msg)
    return fmt


def overpass_json_to_pbf(path: Path, out: Path) -> None:
    """Write an Overpass API JSON response as an ``.osm.pbf`` that the one reader then parses.

    Parameters
    ----------
    path
        Overpass JSON (``{"elements": [...]}``).
    out
        The ``.osm.pbf`` to write.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        msg = f"{path}: not valid Overpass JSON ({e})"
        raise InputDataError(msg) from e
    elements = data.get("elements") if isinstance(data, dict) else None
    if not isinstance(elements, list):
        msg = f"{path}: not an Overpass API response (no 'elements' list)"
        raise InputDataError(msg)
    order = {"node": 0, "way": 1, "relation": 2}
    try:
        elements = sorted(
            (e for e in elements if e.get("type") in order),
            key=lambda e: (order[e["type"]], int(e["id"])),
        )
        with osmium.SimpleWriter(str(out), overwrite=True) as writer:
            for el in elements:
                tags = {str(k): str(v) for k, v in (el.get("tags") or {}).items()}
                if el["type"] == "node":
                    loc = (float(el["lon"]), float(el["lat"]))
                    writer.add_node(mutable.Node(id=int(el["id"]), location=loc, tags=tags))
                elif el["type"] == "way":
                    nodes = [int(n) for n in el.get("nodes", [])]
                    writer.add_way(mutable.Way(id=int(el["id"]), nodes=nodes, tags=tags))
                else:
                    members = [
                        (m["type"][0], int(m["ref"]), m.get("role", ""))
                        for m in el.get("members", [])
                    ]
                    writer.add_relation(
                        mutable.Relation(id=int(el["id"]), members=members, tags=tags)
                    )
    except (KeyError, TypeError, ValueError) as e:
        msg = f"{path}: malformed Overpass element ({type(e).__name__}: {e})"
        raise InputDataError(msg) from e


def _parse_float(value: str | None) -> float:
    if value is None:
        return np.nan
    text = value.strip().lower().replace(",", ".").removesuffix("m").strip()
    try:
        return float(text)
    except ValueError:
        return np.nan


class _Collector:
    """Collects the objects of interest from one osmium pass."""

    def __init__(self) -> None:
        self.wkb = osmium.geom.WKBFactory()
        self.street_rows: list[dict[str, Any]] = []
        self.street_refs: list[np.ndarray] = []
        self.street_lonlat: list[np.ndarray] = []
        self.buildings: dict[str, list[Any]] = {k: [] for k in ("osm_id", "wkb", *BUILDING_TAGS)}
        self.points: list[dict[str, Any]] = []
        self.stations: list[dict[str, Any]] = []
        self.water_bodies: list[dict[str, Any]] = []
        self.admin: list[dict[str, Any]] = []
        self.skipped: dict[str, int] = {}
        self.node_highway: dict[int, str] = {}
        self.lon_min = self.lat_min = np.inf
        self.lon_max = self.lat_max = -np.inf

    def _skip(self, what: str) -> None:
        self.skipped[what] = self.skipped.get(what, 0) + 1

    def node(self, o: Any) -> None:  # noqa: ANN401 - osmium object
        tags = o.tags
        highway = tags.get("highway")
        if highway is not None:  # turning_circle, turning_loop, traffic_signals, ...
            self.node_highway[o.id] = highway
        emergency = tags.get("emergency")
        loc = o.location
        if emergency in WATER_POINT_KINDS:
            row = {k: tags.get(k) for k in WATER_POINT_TAGS}
            row.update(osm_id=f"n{o.id}", lon=loc.lon, lat=loc.lat)
            self.points.append(row)
        if tags.get("amenity") == "fire_station":
            self.stations.append(
                {"osm_id": f"n{o.id}", "name": tags.get("name"), "lon": loc.lon, "lat": loc.lat}
            )

    def way(self, o: Any) -> None:  # noqa: ANN401 - osmium object
        tags = o.tags
        highway = tags.get("highway")
        if highway is not None:
            if highway in EXCLUDED_HIGHWAYS or tags.get("area") == "yes":
                return
            refs, coords = [], []
            for n in o.nodes:
                loc = n.location
                if not loc.valid():
                    self._skip("street ways with nodes missing from the file")
                    return
                refs.append(n.ref)
                coords.append((loc.lon, loc.lat))
            if len(refs) < 2:  # noqa: PLR2004 - a line needs two nodes
                self._skip("street ways with fewer than 2 nodes")
                return
            row = {k: tags.get(k) for k in STREET_TAGS}
            row["osmid"] = o.id
            self.street_rows.append(row)
            self.street_refs.append(np.asarray(refs, dtype=np.int64))
            arr = np.asarray(coords, dtype=np.float64)
            self.street_lonlat.append(arr)
            self.lon_min = min(self.lon_min, arr[:, 0].min())
            self.lon_max = max(self.lon_max, arr[:, 0].max())
            self.lat_min = min(self.lat_min, arr[:, 1].min())
            self.lat_max = max(self.lat_max, arr[:, 1].max())
            return
        waterway = tags.get("waterway")
        if waterway in WATERWAY_KINDS and waterway != "riverbank" and not o.is_closed():
            try:
                geom = self.wkb.create_linestring(o)
            except (osmium.InvalidLocationError, RuntimeError):
                self._skip("waterways with missing nodes")
                return
            self.water_bodies.append(
                {"osm_id": f"w{o.id}", "kind": waterway, "name": tags.get("name"), "wkb": geom}
            )

    def area(self, o: Any) -> None:  # noqa: ANN401 - osmium object
        tags = o.tags
        osm_id = f"{'w' if o.from_way() else 'r'}{o.orig_id()}"
        kind = self._area_kind(tags)
        if kind is None:
            return
        try:
            geom = self.wkb.create_multipolygon(o)
        except (osmium.InvalidLocationError, RuntimeError):
            self._skip(f"{kind} areas with broken geometry")
            return
        if kind == "building":
            self.buildings["osm_id"].append(osm_id)
            self.buildings["wkb"].append(geom)
            for k in BUILDING_TAGS:
                self.buildings[k].append(tags.get(k))
            if tags.get("amenity") == "fire_station":
                self.stations.append({"osm_id": osm_id, "name": tags.get("name"), "wkb": geom})
        elif kind == "fire_station":
            self.stations.append({"osm_id": osm_id, "name": tags.get("name"), "wkb": geom})
        elif kind == "admin":
            level = _parse_float(tags.get("admin_level"))
            self.admin.append(
                {
                    "osm_id": osm_id,
                    "name": tags.get("name"),
                    "name_en": tags.get("name:en"),
                    "ref": tags.get("ref"),
                    "admin_level": level,
                    "wkb": geom,
                }
            )
        else:
            self.water_bodies.append(
                {"osm_id": osm_id, "kind": kind, "name": tags.get("name"), "wkb": geom}
            )

    @staticmethod
    def _area_kind(tags: Any) -> str | None:  # noqa: ANN401, PLR0911 - osmium TagList; a tag table
        if tags.get("building") not in (None, "no"):
            return "building"
        if tags.get("amenity") == "fire_station":
            return "fire_station"
        if tags.get("emergency") == "fire_water_pond":
            return "fire_water_pond"
        if tags.get("natural") == "water":
            return tags.get("water") or "water"
        if tags.get("landuse") in WATER_LANDUSE:
            return str(tags.get("landuse"))
        if tags.get("waterway") == "riverbank":
            return "river"
        if tags.get("boundary") == "administrative":
            return "admin"
        return None


def _points_gdf(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    """Turn node rows (lon/lat) and area rows (WKB, reduced to an inside point) into points."""
    if not rows:
        return gpd.GeoDataFrame(
            {c: pd.Series(dtype="object") for c in columns}, geometry=[], crs="EPSG:4326"
        )
    df = pd.DataFrame(rows)
    geoms = np.empty(len(df), dtype=object)
    if "wkb" in df:
        has_wkb = df["wkb"].notna().to_numpy()
        geoms[has_wkb] = shapely.point_on_surface(shapely.from_wkb(df.loc[has_wkb, "wkb"]))
    else:
        has_wkb = np.zeros(len(df), dtype=bool)
    if "lon" in df:
        xy = df.loc[~has_wkb, ["lon", "lat"]].to_numpy(dtype=float)
        geoms[~has_wkb] = shapely.points(xy)
    out = df.reindex(columns=list(columns))
    return gpd.GeoDataFrame(out, geometry=list(geoms), crs="EPSG:4326")


def _wkb_gdf(data: dict[str, list[Any]] | list[dict[str, Any]]) -> gpd.GeoDataFrame:
    df = pd.DataFrame(data)
    if df.empty:
        return gpd.GeoDataFrame(df, geometry=[], crs="EPSG:4326")
    geoms = shapely.from_wkb(df.pop("wkb").to_numpy())
    return gpd.GeoDataFrame(df, geometry=geoms, crs="EPSG:4326")


def read_osm(path: Path, *, progress: bool = False) -> OsmLayers:
    """Read an OSM file into raw layers.

    Parameters
    ----------
    path
        ``.osm.pbf``, ``.osm`` (XML) or Overpass ``.json``. JSON is first written as a PBF, so
        all three formats go through the same osmium reader.
    progress
        Show a progress bar over the objects read.

    Returns
    -------
    OsmLayers

    Raises
    ------
    InputDataError
        Missing, empty or corrupt file, or no OSM objects in it.
    """
    if not path.exists():
        msg = f"{path}: OSM file not found"
        raise MissingInputError(msg)
    if path.stat().st_size == 0:
        msg = f"{path}: OSM file is empty (0 bytes)"
        raise InputDataError(msg)
    fmt = detect_format(path)
    if fmt == "overpass":
        with tempfile.TemporaryDirectory(prefix="firegap-") as tmp:
            pbf = Path(tmp) / "overpass.osm.pbf"
            overpass_json_to_pbf(path, pbf)
            return _read_with_osmium(pbf, shown_as=path, progress=progress)
    return _read_with_osmium(path, shown_as=path, progress=progress)


def _read_with_osmium(path: Path, *, shown_as: Path, progress: bool) -> OsmLayers:
    t0 = time.perf_counter()
    collector = _Collector()
    area_filter = osmium.filter.KeyFilter(
        "building", "amenity", "emergency", "natural", "landuse", "waterway", "boundary"
    )
    processor = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_areas(area_filter)
        .with_filter(osmium.filter.KeyFilter(*_KEYS))
    )
    n_objects = 0
    try:
        for obj in tqdm(processor, desc="osm", unit=" obj", disable=not progress, mininterval=1):
            n_objects += 1
            if obj.is_area():
                collector.area(obj)
            elif obj.is_way():
                collector.way(obj)
            elif obj.is_node():
                collector.node(obj)
    except RuntimeError as e:
        msg = f"{shown_as}: corrupt or unreadable OSM file ({e})"
        raise InputDataError(msg) from e
    c = collector
    if n_objects == 0:
        msg = f"{shown_as}: no streets, buildings or water in this OSM file"
        raise InputDataError(msg)
    streets = pd.DataFrame(c.street_rows, columns=["osmid", *STREET_TAGS])
    extent = (c.lon_min, c.lat_min, c.lon_max, c.lat_max) if np.isfinite(c.lon_min) else None
    layers = OsmLayers(
        streets=streets,
        street_refs=c.street_refs,
        street_lonlat=c.street_lonlat,
        buildings=_wkb_gdf(c.buildings),
        stations=_points_gdf(c.stations, ("osm_id", "name")),
        water_points=_points_gdf(c.points, ("osm_id", *WATER_POINT_TAGS)),
        water_bodies=_wkb_gdf(c.water_bodies)
        if c.water_bodies
        else gpd.GeoDataFrame({"osm_id": [], "kind": [], "name": []}, geometry=[], crs="EPSG:4326"),
        admin=_wkb_gdf(c.admin)
        if c.admin
        else gpd.GeoDataFrame(
            {"osm_id": [], "name": [], "name_en": [], "ref": [], "admin_level": []},
            geometry=[],
            crs="EPSG:4326",
        ),
        node_extent=extent,
        skipped=c.skipped,
        node_highway=c.node_highway,
    )
    logger.info(
        "osm: read %s: %s objects, %s street ways, %s buildings, %s water points, "
        "%s water bodies, %s stations (%.1f s)",
        shown_as.name,
        f"{n_objects:,}",
        f"{len(streets):,}",
        f"{len(layers.buildings):,}",
        f"{len(layers.water_points):,}",
        f"{len(layers.water_bodies):,}",
        f"{len(layers.stations):,}",
        time.perf_counter() - t0,
    )
    for what, n in c.skipped.items():
        logger.warning("osm: skipped %s %s", f"{n:,}", what)
    return layers
