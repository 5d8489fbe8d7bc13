"""Parse OSM data (``.osm.pbf``, ``.osm`` XML, Overpass JSON) into raw layers, with one reader."""

from __future__ import annotations

import json
import logging
import re
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
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from osmium.osm import mutable
from pyarrow import csv as pacsv

from pipeline._errors import InputDataError, MissingInputError
from pipeline.parallel import map_chunks

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
    "hgv",
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
BUILDING_TAGS: tuple[str, ...] = (
    "building",
    "building:levels",
    "height",
    "name",
    "amenity",
    "addr:housenumber",
    "addr:street",
)
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
    partial: dict[str, int] = field(default_factory=dict)
    read_s: float = 0.0
    read_cpu_s: float = 0.0
    objects_kept: int = 0

    def release(self) -> None:
        """Drop the layers' rows (kept: columns, counts, timings) once they have been used."""
        for name in ("streets", "buildings", "stations", "water_points", "water_bodies", "admin"):
            setattr(self, name, getattr(self, name).iloc[:0])
        self.street_refs, self.street_lonlat, self.node_highway = [], [], {}


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


def _area_kind(tags: pd.DataFrame) -> np.ndarray:
    """Return what each closed way or relation is as an area (``None``: not of interest).

    The same order as a tag table: a building first, then a station, a fire pond, water, a
    reservoir / basin, a riverbank, an administrative boundary. Tests run in Arrow (C++).
    """
    n = len(tags)

    def col(k: str) -> pa.Array:
        if k not in tags:
            return pa.nulls(n, pa.string())
        arr = pa.array(tags[k].array)  # a chunked one after a concat
        return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr

    def test(mask: pa.Array) -> np.ndarray:
        return np.asarray(pc.fill_null(mask, fill_value=False).to_numpy(zero_copy_only=False),
                          dtype=bool)  # fmt: skip

    landuse, water = col("landuse"), col("water")
    conds = [
        test(pc.not_equal(col("building"), "no")),
        test(pc.equal(col("amenity"), "fire_station")),
        test(pc.equal(col("emergency"), "fire_water_pond")),
        test(pc.equal(col("natural"), "water")),
        test(pc.is_in(landuse, pa.array(sorted(WATER_LANDUSE)))),
        test(pc.equal(col("waterway"), "riverbank")),
        test(pc.equal(col("boundary"), "administrative")),
    ]

    def values(arr: pa.Array, rows: np.ndarray) -> np.ndarray:
        return np.asarray(arr.filter(pa.array(rows)).to_numpy(zero_copy_only=False), dtype=object)

    out = np.full(n, None, dtype=object)
    choices: list[Any] = ["building", "fire_station", "fire_water_pond", "water", landuse,
                          "river", "admin"]  # fmt: skip
    for cond, choice in reversed(list(zip(conds, choices, strict=True))):  # the first one wins
        out[cond] = values(choice, cond) if isinstance(choice, pa.Array) else choice
    is_water = conds[3] & ~np.logical_or.reduce(conds[:3])
    named = values(water, is_water)  # natural=water: its water=* value names the kind
    out[is_water] = np.where(pd.notna(named), named, "water")
    return out


#: Keys the reader keeps from any object (``area``/``type`` decide what an object is).
_WANTED_KEYS = tuple(dict.fromkeys((
    *STREET_TAGS, *BUILDING_TAGS, *WATER_POINT_TAGS, *_KEYS, "area", "water", "type",
    "admin_level", "name:en",
)))  # fmt: skip
_ESCAPE = re.compile(r"%([0-9a-fA-F]+)%")
#: Escapes decoded in bulk (space, comma, equals, at). Not ``%25%`` (a percent sign): the
#: per-value decoding after them must not see a percent sign it would take for an escape.
_COMMON_ESCAPES = (("%20%", " "), ("%2c%", ","), ("%3d%", "="), ("%40%", "@"))


def _unescape(values: pa.Array) -> pa.Array:
    """Decode OPL escapes (``%20%`` -> space) in the values that have any (once per value)."""
    has = pc.fill_null(pc.match_substring(values, "%"), fill_value=False)
    if not pc.any(has).as_py():
        return values
    for code, char in _COMMON_ESCAPES:  # the frequent ones in C++, the rest once per value
        values = pc.replace_substring(values, code, char)
    has = pc.fill_null(pc.match_substring(values, "%"), fill_value=False)
    if not pc.any(has).as_py():
        return values
    uniq = pc.unique(pc.filter(values, has))
    decoded = pa.array([_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), v)
                        for v in uniq.to_pylist()], pa.string())  # fmt: skip
    return pc.if_else(has, pc.take(decoded, pc.index_in(values, uniq)), values)


def _csv(text: pa.Array, names: list[str], types: list[pa.DataType], sep: str, *,
         terminated: bool = False) -> pa.Table:  # fmt: skip
    """Parse the strings of ``text`` as CSV rows in C++ (``terminated``: each ends a row)."""
    return _read_csv(_buffer(text) if terminated else _joined(text), names, types, sep)


def _read_csv(data: bytes, names: list[str], types: list[pa.DataType], sep: str,
              include: list[str] | None = None) -> pa.Table:  # fmt: skip
    """Parse ``data`` as CSV rows (no quoting, empty lines skipped) in C++, with these types."""
    kept = include if include is not None else names
    if not data.translate(None, b"\n"):  # nothing but empty lines
        return pa.table({n: pa.array([], t) for n, t in zip(names, types, strict=True)
                         if n in kept})  # fmt: skip
    return pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 25),
        parse_options=pacsv.ParseOptions(delimiter=sep, quote_char=False, escape_char=False),
        convert_options=pacsv.ConvertOptions(
            column_types=dict(zip(names, types, strict=True)),
            strings_can_be_null=False,
            null_values=[""],
            include_columns=include,
        ),
    )


def _buffer(text: pa.Array) -> bytes:
    """Return the bytes of the strings of ``text``, back to back."""
    if len(text) == 0:
        return b""
    arr = text.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[
        arr.offset : arr.offset + len(arr) + 1
    ]
    data: bytes = (
        arr.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes()
    )
    return data


def _joined(text: pa.Array) -> bytes:
    """Return the strings of ``text`` joined by newlines, as one bytes object."""
    if len(text) == 0:
        return b""
    text = text.cast(pa.large_string())
    nl = pa.scalar("\n", pa.large_string())
    arr = pc.binary_join_element_wise(text, nl, pa.scalar("", pa.large_string()))
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[
        arr.offset : arr.offset + len(arr) + 1
    ]
    data: bytes = arr.buffers()[2].to_pybytes()
    return data[int(offsets[0]) : int(offsets[-1])]


def _counts(text: pa.Array, sep: str, *, newline: bool = False) -> np.ndarray:
    """Items per string of ``sep``-separated lists (an empty one, or only ``newline``: none)."""
    n = pc.add(pc.count_substring(text, sep), 1).to_numpy(zero_copy_only=False)
    empty = pc.less_equal(pc.utf8_length(text), int(newline)).to_numpy(zero_copy_only=False)
    return np.where(empty, 0, n).astype(np.int64)


def _str_column(values: pa.Array) -> pd.arrays.ArrowStringArray | np.ndarray:
    """Return a pandas column of strings (missing: NaN), as pandas 3 builds from strings."""
    column: pd.arrays.ArrowStringArray = pd.array(
        values, dtype=pd.StringDtype("pyarrow", na_value=np.nan)
    )
    return column


def _tag_table(tag_field: pa.Array) -> pd.DataFrame:
    """Return the wanted tags of each object from OPL ``T`` fields, one column per key.

    The pairs are parsed as CSV (one pair a row, ``=`` the delimiter) in C++.
    """
    body = pc.utf8_slice_codeunits(tag_field, 1)
    return _tags_of_pairs(_joined(body), _counts(body, ","))


def _tags_of_pairs(text: bytes, per: np.ndarray) -> pd.DataFrame:
    """Return the wanted tags from ``k=v,k=v`` lists joined by newlines (``per``: pairs each)."""
    n = len(per)
    table = _read_csv(text.replace(b",", b"\n"), ["k", "v"], [pa.string(), pa.string()], "=")
    row = np.repeat(np.arange(n), per)
    keys = pc.dictionary_encode(table.column("k").combine_chunks())
    values = table.column("v").combine_chunks()
    cols: dict[str, Any] = {}
    key_index = keys.indices.to_numpy(zero_copy_only=False)
    for code, k in enumerate(keys.dictionary.to_pylist()):
        name = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), k)
        if name not in _WANTED_KEYS:
            continue
        sel = np.flatnonzero(key_index == code)
        idx = np.full(n, -1, dtype=np.int64)
        idx[row[sel]] = sel
        cols[name] = _unescape(pc.take(values, pa.array(idx, mask=idx < 0)))
    return pd.DataFrame({k: _str_column(v) for k, v in cols.items()}, index=pd.RangeIndex(n))


@dataclass
class _Ways:
    """Ways of the OPL text: ids, wanted tags and their nodes (ids, lon, lat; NaN if absent)."""

    ids: np.ndarray
    tags: pd.DataFrame
    offsets: np.ndarray
    refs: np.ndarray
    lon: np.ndarray
    lat: np.ndarray

    def vertices(self, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the node counts of the selected ways, their vertex rows and way of each row."""
        counts = np.diff(self.offsets)[sel]
        starts = self.offsets[:-1][sel]
        vidx = np.repeat(starts - np.cumsum(np.r_[0, counts[:-1]]), counts) + np.arange(
            counts.sum()
        )
        return counts, vidx, np.repeat(np.arange(len(counts)), counts)


#: Ways whose node lists are parsed at once (bounds the memory of the text being parsed).
_WAY_CHUNK = 250_000


def _parse_ways(lines: pa.Array) -> _Ways:
    """Parse OPL way lines (``w<id> T<tags> N<nodes>``): each field gathered in C++, no split."""
    pieces = _way_pieces(lines)
    n = len(pieces) // 6
    ids = pc.cast(pieces.take(np.arange(1, 6 * n, 6)), pa.int64()).to_numpy()
    tag_field = pieces.take(np.arange(3, 6 * n, 6))  # "k=v,k=v " (the space ends the row)
    tags = _tags_of_pairs(_buffer(tag_field).translate(_TAG_BYTES),
                          _counts(tag_field, ",", newline=True))  # fmt: skip
    del tag_field
    per, refs, lon, lat = [], [], [], []
    for start in range(0, n, _WAY_CHUNK):
        rows = np.arange(6 * start + 5, 6 * min(start + _WAY_CHUNK, n), 6)
        p, r, x, y = _parse_nodes_of_ways(pieces.take(rows))
        per.append(p)
        refs.append(r)
        lon.append(x)
        lat.append(y)
    if not per:
        return _Ways(ids, tags, np.zeros(1, np.int64), np.empty(0, np.int64), np.empty(0),
                     np.empty(0))  # fmt: skip
    offsets = np.r_[0, np.cumsum(np.concatenate(per))]
    return _Ways(ids, tags, offsets, np.concatenate(refs), np.concatenate(lon),
                 np.concatenate(lat))  # fmt: skip


def _way_pieces(lines: pa.Array) -> pa.LargeStringArray:
    """Cut each way line into 6 strings over the same bytes (no copy).

    ``w``, the id, `` T``, the tags with the space after them, ``N``, the nodes with the
    newline: OPL escapes spaces inside tags, so a line's two spaces separate its fields.
    """
    arr = lines.cast(pa.large_string())
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    if n == 0:
        return pa.array([], pa.large_string())
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    spaces = np.flatnonzero(data[offsets[0] : offsets[-1]] == ord(" ")) + offsets[0]
    if len(spaces) != 2 * n:
        msg = f"osmium wrote {len(spaces)} field separators for {n} way lines"
        raise RuntimeError(msg)
    line, tags_end = offsets[:-1], spaces[1::2]
    cuts = np.column_stack([line, line + 1, spaces[0::2], spaces[0::2] + 2, tags_end + 1,
                            tags_end + 2]).ravel()  # fmt: skip
    cuts = np.r_[cuts, offsets[-1]].astype(np.int64)
    return pa.LargeStringArray.from_buffers(6 * n, pa.py_buffer(cuts), arr.buffers()[2])


#: Tag lists as CSV rows: ``k=v,k=v `` -> one ``k=v`` row each.
_TAG_BYTES = bytes.maketrans(b", ", b"\n\n")
#: Node fields as CSV: ``n1x106.1y21.1,n2xy`` -> rows ``x1x106.1x21.1`` and ``x2xx``.
_NODE_BYTES = bytes.maketrans(b",ny", b"\nxx")


def _parse_nodes_of_ways(node_field: pa.Array) -> tuple[np.ndarray, ...]:
    """Node counts, ids, lon and lat (NaN where absent) of OPL ``N`` fields (newline ended)."""
    per = pc.count_substring(node_field, "n").to_numpy(zero_copy_only=False).astype(np.int64)
    table = _read_csv(_buffer(node_field).translate(_NODE_BYTES), ["_", "id", "x", "y"],
                      [pa.string(), pa.int64(), pa.float64(), pa.float64()], "x",
                      include=["id", "x", "y"])  # fmt: skip
    lon = np.asarray(pc.fill_null(table.column("x"), np.nan).to_numpy())
    lat = np.asarray(pc.fill_null(table.column("y"), np.nan).to_numpy())
    return per, table.column("id").to_numpy(), lon, lat


@dataclass
class _Nodes:
    ids: np.ndarray
    tags: pd.DataFrame
    lon: np.ndarray
    lat: np.ndarray


def _parse_nodes(lines: pa.Array) -> _Nodes:
    fields = pc.split_pattern(pc.utf8_rtrim(lines, "\n"), " ")
    ids = pc.cast(pc.utf8_slice_codeunits(pc.list_element(fields, 0), 1), pa.int64()).to_numpy()
    lon = pc.cast(pc.utf8_slice_codeunits(pc.list_element(fields, 2), 1), pa.float64())
    lat = pc.cast(pc.utf8_slice_codeunits(pc.list_element(fields, 3), 1), pa.float64())
    return _Nodes(ids, _tag_table(pc.list_element(fields, 1)), lon.to_numpy(), lat.to_numpy())


def _split_kinds(lines: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Node, way and relation lines (slices, no copy, when they come in that order)."""
    kind = pc.utf8_slice_codeunits(lines, 0, 1)
    out = []
    for k in ("n", "w", "r"):
        rows = np.flatnonzero(pc.equal(kind, k).to_numpy(zero_copy_only=False))
        contiguous = len(rows) == 0 or rows[-1] - rows[0] + 1 == len(rows)
        start = int(rows[0]) if len(rows) else 0
        out.append(lines.slice(start, len(rows)) if contiguous else lines.take(rows))
    return out[0], out[1], out[2]


def _parse_relations(lines: pa.Array) -> tuple[np.ndarray, pd.DataFrame, list[list[int]]]:
    """Relation ids, tags and member way ids (other members are ignored)."""
    fields = pc.split_pattern(pc.utf8_rtrim(lines, "\n"), " ")
    ids = pc.cast(pc.utf8_slice_codeunits(pc.list_element(fields, 0), 1), pa.int64()).to_numpy()
    tags = _tag_table(pc.list_element(fields, 1))
    members = pc.utf8_slice_codeunits(pc.list_element(fields, 2), 1).to_pylist()
    ways = [[int(m[1:].split("@", 1)[0]) for m in (text or "").split(",") if m.startswith("w")]
            for text in members]  # fmt: skip
    return ids, tags, ways


def _only_for(filt: Any, entities: Any) -> Any:  # noqa: ANN401 - osmium filter objects
    """Apply an osmium filter to some object types only (the others pass through)."""
    filt.enable_for(entities)
    return filt


def _export(path: Path, out: Path, shown_as: Path, *, ways: set[int] | None = None) -> None:
    """Filter ``path`` into OPL text with node locations on ways, all in libosmium (C++).

    Parameters
    ----------
    ways
        When given, export only these ways (relation members missed by the tag filter).
    """
    locations = osmium.NodeLocationsForWays(osmium.index.create_map("flex_mem"))
    locations.ignore_errors()  # a way with absent nodes is written with empty locations
    if ways is None:
        filters: list[Any] = [
            _only_for(osmium.filter.KeyFilter("highway", "amenity", "emergency"), osmium.osm.NODE),
            _only_for(osmium.filter.KeyFilter(*_KEYS), osmium.osm.WAY),
            _only_for(osmium.filter.KeyFilter("type"), osmium.osm.RELATION),
        ]
    else:
        filters = [osmium.filter.EntityFilter(osmium.osm.WAY),
                   _only_for(osmium.filter.IdFilter(ways), osmium.osm.WAY)]  # fmt: skip
    writer = osmium.SimpleWriter(
        osmium.io.File(str(out), "opl,add_metadata=false,locations_on_ways=true"), bufsz=4 << 20
    )
    try:
        osmium.apply(osmium.io.Reader(str(path)), locations, *filters, writer)
    except RuntimeError as e:
        msg = f"{shown_as}: corrupt or unreadable OSM file ({e})"
        raise InputDataError(msg) from e
    finally:
        writer.close()


def _read_lines(path: Path) -> pa.Array:
    """OPL lines as one Arrow string array over the file's bytes (each keeps its newline)."""
    data = np.fromfile(path, dtype=np.uint8)
    if len(data) == 0:
        return pa.array([], pa.large_string())
    if data[-1] != ord("\n"):
        data = np.r_[data, np.uint8(ord("\n"))]
    ends = np.flatnonzero(data == ord("\n")) + 1
    offsets = np.r_[0, ends].astype(np.int64)
    return pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data))


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


def _streets(ways: _Ways, sel: np.ndarray, partial: dict[str, int]) -> tuple[
        pd.DataFrame, list[np.ndarray], list[np.ndarray], int]:  # fmt: skip
    """Street ways; a way with absent nodes keeps its pieces of 2+ present nodes."""
    counts, vidx, way_of = ways.vertices(sel)
    present = np.isfinite(ways.lon[vidx]) & np.isfinite(ways.lat[vidx])
    gap = np.cumsum(~present)  # pieces: runs of present nodes between absent ones
    piece_key = way_of.astype(np.int64) * (len(vidx) + 1) + gap
    v_keep = vidx[present]
    key = piece_key[present]
    _, first, size = np.unique(key, return_index=True, return_counts=True)
    good = size >= 2  # noqa: PLR2004 - a line needs two nodes
    piece_way = way_of[present][first]
    has_missing = np.bincount(way_of[~present], minlength=len(counts)) > 0
    if has_missing.any():
        partial["street_ways_with_missing_nodes"] = int(has_missing.sum())
        partial["street_nodes_missing"] = int((~present).sum())
        partial["street_pieces_kept"] = int((good & has_missing[piece_way]).sum())
    bounds = np.r_[first, len(key)]
    lon, lat, refs = ways.lon[v_keep], ways.lat[v_keep], ways.refs[v_keep]
    ll = np.column_stack([lon, lat])
    keep_pieces = np.flatnonzero(good)
    refs_list = [refs[bounds[i] : bounds[i + 1]] for i in keep_pieces]
    ll_list = [ll[bounds[i] : bounds[i + 1]] for i in keep_pieces]
    rows = np.flatnonzero(sel)[piece_way[keep_pieces]]
    streets = pd.DataFrame({"osmid": ways.ids[rows],
                            **{k: _take(ways.tags, k, rows) for k in STREET_TAGS}})  # fmt: skip
    no_piece = np.bincount(piece_way[good], minlength=len(counts)) == 0
    return streets, refs_list, ll_list, int(no_piece.sum())


def _rings(ways: _Ways, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return closed ways as MultiPolygons (as libosmium's assembler does), and which are whole."""
    counts, vidx, way_of = ways.vertices(sel)
    lon, lat = ways.lon[vidx], ways.lat[vidx]
    whole = np.bincount(way_of[~np.isfinite(lon)], minlength=len(counts)) == 0
    # Repeated consecutive locations are dropped (as libosmium does).
    dup = np.r_[False, (way_of[1:] == way_of[:-1]) & (lon[1:] == lon[:-1]) & (lat[1:] == lat[:-1])]
    keepv = whole[way_of] & ~dup
    n_pts = np.bincount(way_of[keepv], minlength=len(counts))
    good = whole & (n_pts >= 4)  # noqa: PLR2004 - a ring needs 4 points
    kv = keepv & good[way_of]
    x, y, n = lon[kv], lat[kv], n_pts[good]
    del lon, lat, vidx, way_of, keepv, kv
    src = _ring_order(x, y, n, ccw=True)
    geoms = np.full(len(counts), None, dtype=object)
    if len(n):
        offsets = np.r_[0, np.cumsum(n)]
        one = np.arange(len(n) + 1)
        geoms[good] = shapely.from_ragged_array(
            shapely.GeometryType.MULTIPOLYGON, np.column_stack([x[src], y[src]]),
            (offsets, one, one),
        )  # fmt: skip
    return geoms, whole


def _ring_order(x: np.ndarray, y: np.ndarray, n: np.ndarray, *, ccw: bool) -> np.ndarray:
    """Return the vertex order that starts each ring at its lowest vertex, as libosmium does.

    The lowest vertex is the one of least x, then least y (the first of them). With ``ccw``,
    clockwise rings (shoelace sign, computed on the rotated ring) are also reversed, keeping
    their first vertex first.

    Parameters
    ----------
    x, y
        Vertices of closed rings (each ring's last vertex repeats its first), back to back.
    n
        Vertices per ring, the closing one included (at least 2).

    Returns
    -------
    np.ndarray
        Indices into ``x``/``y``: the rings' vertices in their new order, still closed and at
        the same places (each ring keeps its length).
    """
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[0, np.cumsum(n)[:-1]]
    ring = np.repeat(np.arange(len(n)), n)
    ring_start = start[ring]
    j = np.arange(len(x)) - ring_start
    # The closing vertex repeats the first: minima and the first lowest position are unchanged.
    min_x = np.minimum.reduceat(x, start)
    at_min = x == min_x[ring]
    min_y = np.minimum.reduceat(np.where(at_min, y, np.inf), start)
    is_low = at_min & (y == min_y[ring])
    low = np.minimum.reduceat(np.where(is_low, j, np.iinfo(np.int64).max), start)[ring]
    m = (n - 1)[ring]  # open ring length: vertex j of the new ring is open vertex (low + j) % m
    src: np.ndarray = ring_start + (low + j) % m
    if not ccw:
        return src
    xr, yr = x[src], y[src]
    same = ring[1:] == ring[:-1]
    cross = (xr[:-1] * yr[1:] - xr[1:] * yr[:-1]) * same
    clockwise = np.bincount(ring[:-1], weights=cross, minlength=len(n)) < 0
    back = clockwise[ring]
    src[back] = ring_start[back] + (low[back] - j[back]) % m[back]
    return src


def _relation_areas(rel_ids: np.ndarray, rel_ways: list[list[int]], ways: _Ways,
                    kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Multipolygon / boundary relations assembled with shapely from their member ways."""
    pos = pd.Series(np.arange(len(ways.ids)), index=ways.ids)
    pos = pos[~pos.index.duplicated()]
    out = np.full(len(rel_ids), None, dtype=object)
    for i in np.flatnonzero(pd.notna(kinds)):
        members = [w for w in rel_ways[i] if w in pos.index]
        if not members or len(members) < len(rel_ways[i]):
            continue
        lines: list[shapely.LineString] = []
        for w in pos[members].to_numpy():
            a, b = ways.offsets[w], ways.offsets[w + 1]
            xy = np.column_stack([ways.lon[a:b], ways.lat[a:b]])
            if not np.isfinite(xy).all():
                lines = []
                break
            lines.append(shapely.LineString(xy))
        if not lines:
            continue
        area = shapely.build_area(shapely.union_all(lines))
        if area.is_empty:
            continue
        polys = []
        for p in shapely.get_parts(area):
            rings = [shapely.get_coordinates(r) for r in (p.exterior, *p.interiors)]
            rings = [r[_ring_order(r[:, 0], r[:, 1], np.array([len(r)]), ccw=False)]
                     for r in rings]  # fmt: skip
            polys.append(shapely.Polygon(rings[0], rings[1:]))
        out[i] = shapely.MultiPolygon(polys)
    return out, pd.notna(out)


@dataclass
class _Relations:
    """The area relations of the file: ids, tags, member way ids, area kind (``None``: other)."""

    ids: np.ndarray
    tags: pd.DataFrame
    ways: list[list[int]]
    kind: np.ndarray


@dataclass
class _Areas:
    """Every area of interest (closed ways and assembled relations) in libosmium's order."""

    ids: np.ndarray
    kind: np.ndarray
    geom: np.ndarray
    valid: np.ndarray
    way_tags: pd.DataFrame
    way_rows: np.ndarray
    rel_tags: pd.DataFrame
    order: np.ndarray

    def tag(self, key: str, rows: np.ndarray) -> Any:  # noqa: ANN401 - a pandas or NumPy column
        """Return tag ``key`` of the given rows (one column gathered, not the whole table).

        The area tags are the way areas' (``way_rows`` of ``way_tags``) then the relations',
        in area ``order``.
        """
        way_part = self.way_tags[[key]] if key in self.way_tags else self.way_tags[[]]
        rel_part = self.rel_tags[[key]] if key in self.rel_tags else self.rel_tags[[]]
        column = pd.concat([way_part.iloc[self.way_rows], rel_part], ignore_index=True)
        return _take(column, key, self.order[rows])


def _read_with_osmium(path: Path, *, shown_as: Path, progress: bool) -> OsmLayers:  # noqa: ARG001
    """Read the layers in one C++-filtered pass: parse, streets, areas, waterways, nodes."""
    t0 = time.perf_counter()
    c0 = time.process_time()
    nodes, ways, rels, t_export = _filtered_objects(path, shown_as)
    n_objects = len(nodes.ids) + len(ways.ids) + len(rels.ids)
    if n_objects == 0:
        msg = f"{shown_as}: no streets, buildings or water in this OSM file"
        raise InputDataError(msg)
    skipped: dict[str, int] = {}
    partial: dict[str, int] = {}
    wt = ways.tags
    highway = wt["highway"].to_numpy(dtype=object) if "highway" in wt else np.full(len(wt), None)
    area_yes = (wt["area"] == "yes").to_numpy() if "area" in wt else np.zeros(len(wt), bool)
    is_street = pd.notna(highway) & ~pd.Series(highway).isin(EXCLUDED_HIGHWAYS).to_numpy()
    is_street &= ~area_yes
    streets, refs, lonlat, n_dropped = _streets(ways, is_street, partial)
    if n_dropped:
        skipped["street ways with fewer than 2 nodes present"] = n_dropped
    closed = _closed_rings(ways)
    areas = _areas(ways, rels, closed & pd.isna(highway), skipped)
    buildings, admin, wb_rows, st_rows = _area_layers(areas)
    water_bodies = _water_bodies(ways, closed, areas, wb_rows, skipped)
    water_points, stations, node_highway = _node_layers(nodes, areas, st_rows)
    extent = None
    if lonlat:
        ll = np.concatenate(lonlat)
        extent = (float(ll[:, 0].min()), float(ll[:, 1].min()),
                  float(ll[:, 0].max()), float(ll[:, 1].max()))  # fmt: skip
    layers = OsmLayers(
        streets=streets, street_refs=refs, street_lonlat=lonlat, buildings=buildings,
        stations=stations, water_points=water_points, water_bodies=water_bodies, admin=admin,
        node_extent=extent, skipped=skipped, node_highway=node_highway, partial=partial,
        read_s=round(time.perf_counter() - t0, 2),
        read_cpu_s=round(time.process_time() - c0, 2), objects_kept=n_objects,
    )  # fmt: skip
    _log_read(layers, shown_as, (len(ways.ids), len(nodes.ids), len(rels.ids)), t_export)
    return layers


def _filtered_objects(path: Path, shown_as: Path) -> tuple[_Nodes, _Ways, _Relations, float]:
    """Export the objects of interest with osmium's C++ filters and parse them in bulk.

    Member ways of area relations that carry no tag of interest are fetched by a second,
    narrower pass. Returns the nodes, ways, relations and the export's seconds.
    """
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="firegap-osm-") as tmp:
        opl = Path(tmp) / "filtered.opl"
        _export(path, opl, shown_as)
        t_export = time.perf_counter() - t0
        node_lines, way_lines, rel_lines = _split_kinds(_read_lines(opl))
        opl.unlink()
        rel_ids, rel_tags, rel_ways = _parse_relations(rel_lines)
        rel_kind = _area_kind(rel_tags)
        rel_kind[~rel_tags.get("type", pd.Series(index=rel_tags.index, dtype=object)).isin(
            ["multipolygon", "boundary"]).to_numpy()] = None  # fmt: skip
        nodes = _parse_nodes(node_lines)
        del node_lines, rel_lines
        ways = _parse_ways(way_lines)
        del way_lines  # the last view of the OPL text
        wanted = {w for i in np.flatnonzero(pd.notna(rel_kind)) for w in rel_ways[i]}
        absent = wanted - set(ways.ids.tolist()) if wanted else set()
        if absent:  # relation members without tags of interest: a second, narrower pass
            extra = Path(tmp) / "members.opl"
            _export(path, extra, shown_as, ways=absent)
            ways = _concat_ways(ways, _parse_ways(_read_lines(extra)))
    return nodes, ways, _Relations(rel_ids, rel_tags, rel_ways, rel_kind), t_export


def _closed_rings(ways: _Ways) -> np.ndarray:
    """Per way: closed (first node = last node) with at least 4 nodes, i.e. a ring."""
    counts = np.diff(ways.offsets)
    first = ways.refs[ways.offsets[:-1][counts > 0]]
    last = ways.refs[ways.offsets[1:][counts > 0] - 1]
    closed = np.zeros(len(counts), dtype=bool)
    closed[counts > 0] = first == last
    closed &= counts >= 4  # noqa: PLR2004 - a ring needs 4 nodes (3 distinct)
    return closed


def _areas(ways: _Ways, rels: _Relations, ring: np.ndarray, skipped: dict[str, int]) -> _Areas:
    """Assemble closed ways (``ring``: closed, not a street) and relations into one table.

    In the order libosmium's assembler gives them: a closed way's area at the way, a
    relation's right after its last member way (files are sorted by id, so a way's rank by id
    is its place in the file). Areas with nodes missing or broken geometry are counted in
    ``skipped``; relation areas are oriented (way rings are counter-clockwise already).
    """
    kind = _area_kind(ways.tags)
    is_area = pd.notna(kind) & ring
    area_geom, whole = _rings(ways, is_area)
    a_rows = np.flatnonzero(is_area)
    for k, n in pd.Series(kind[a_rows][~whole]).value_counts().items():
        skipped[
            f"{'buildings' if k == 'building' else f'{k} areas'} with nodes missing from the file"
        ] = int(n)
    r_geom, r_ok = _relation_areas(rels.ids, rels.ways, ways, rels.kind)
    n_incomplete = int((pd.notna(rels.kind) & ~r_ok).sum())
    if n_incomplete:  # as libosmium: a relation cut by the extract is not assembled
        logger.info("osm: %d area relation(s) incomplete in this file, not assembled", n_incomplete)
    if len(ways.ids) < 2 or bool(np.all(np.diff(ways.ids) > 0)):  # noqa: PLR2004
        sorted_ids, rank = ways.ids, np.arange(len(ways.ids))
    else:
        sorted_ids = np.unique(ways.ids)
        rank = np.searchsorted(sorted_ids, ways.ids)
    last_member = [np.searchsorted(sorted_ids, max(m)) if m else len(sorted_ids) + 1
                   for m in rels.ways]  # fmt: skip
    rel_pos = 2 * np.asarray(last_member, dtype=np.int64) - 1
    order = np.argsort(np.concatenate([2 * rank[a_rows], rel_pos]), kind="stable")
    a_kind = np.concatenate([kind[a_rows], rels.kind]).astype(object)[order]
    a_geom = np.concatenate([area_geom, r_geom])[order]
    valid = pd.notna(a_geom)
    checked = a_geom[valid]  # GEOS validity releases the GIL: on every core
    valid[valid] = np.concatenate(
        map_chunks(lambda a, b: shapely.is_valid(checked[a:b]), len(checked), min_chunk=50_000)
    )
    for k, n in pd.Series(a_kind[pd.notna(a_geom) & ~valid]).value_counts().items():
        key = f"{k} areas with broken geometry"
        skipped[key] = skipped.get(key, 0) + int(n)
    from_rel = np.r_[np.zeros(len(a_rows), dtype=bool), np.ones(len(rels.ids), dtype=bool)][order]
    fix = valid & from_rel
    a_geom[fix] = shapely.orient_polygons(a_geom[fix], exterior_cw=False)
    return _Areas(
        ids=np.concatenate([_prefixed("w", ways.ids[a_rows]), _prefixed("r", rels.ids)])[order],
        kind=a_kind,
        geom=a_geom,
        valid=valid,
        way_tags=ways.tags,
        way_rows=a_rows,
        rel_tags=rels.tags,
        order=order,
    )


def _area_layers(
    areas: _Areas,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """Return the buildings, the admin areas, and the rows of water areas and station areas."""
    valid, kind = areas.valid, areas.kind
    bi = np.flatnonzero(valid & (kind == "building"))
    buildings = gpd.GeoDataFrame(
        {"osm_id": areas.ids[bi], **{k: areas.tag(k, bi) for k in BUILDING_TAGS}},
        geometry=areas.geom[bi], crs="EPSG:4326",
    )  # fmt: skip
    amenity = areas.tag("amenity", np.arange(len(kind)))
    st_rows = np.flatnonzero(
        valid & ((kind == "fire_station") | ((kind == "building") & (amenity == "fire_station")))
    )
    wb_rows = np.flatnonzero(
        valid & ~pd.Series(kind).isin(["building", "fire_station", "admin"]).to_numpy()
    )
    ad = np.flatnonzero(valid & (kind == "admin"))
    admin = gpd.GeoDataFrame(
        {"osm_id": areas.ids[ad], "name": areas.tag("name", ad),
         "name_en": areas.tag("name:en", ad), "ref": areas.tag("ref", ad),
         "admin_level": pd.to_numeric(pd.Series(areas.tag("admin_level", ad)).astype("string")
                                      .str.replace(",", "."), errors="coerce").to_numpy(float)},
        geometry=areas.geom[ad], crs="EPSG:4326",
    )  # fmt: skip
    return buildings, admin, wb_rows, st_rows


def _water_bodies(
    ways: _Ways, closed: np.ndarray, areas: _Areas, wb_rows: np.ndarray, skipped: dict[str, int]
) -> gpd.GeoDataFrame:
    """Return the open waterways (lines) and the water areas as one layer."""
    wt = ways.tags
    waterway = wt["waterway"].to_numpy(dtype=object) if "waterway" in wt else np.full(len(wt), None)
    is_ww = pd.Series(waterway).isin(WATERWAY_KINDS - {"riverbank"}).to_numpy() & ~closed
    ww_geom, ww_whole = _lines(ways, is_ww)
    if (~ww_whole).any():
        skipped["waterways with missing nodes"] = int((~ww_whole).sum())
    ww_rows = np.flatnonzero(is_ww)[ww_whole]
    names = (
        wt["name"].to_numpy(dtype=object)[ww_rows] if "name" in wt else np.full(len(ww_rows), None)
    )
    return gpd.GeoDataFrame(
        {"osm_id": np.concatenate([_prefixed("w", ways.ids[ww_rows]), areas.ids[wb_rows]]),
         "kind": np.concatenate([waterway[ww_rows], areas.kind[wb_rows]]),
         "name": np.concatenate([names, areas.tag("name", wb_rows)])},
        geometry=np.concatenate([ww_geom[ww_whole], areas.geom[wb_rows]]), crs="EPSG:4326",
    )  # fmt: skip


def _node_layers(
    nodes: _Nodes, areas: _Areas, st_rows: np.ndarray
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[int, str]]:
    """Return the water points, the stations (nodes, then station areas) and node highway tags."""
    nt = nodes.tags

    def ntag(k: str) -> np.ndarray:
        return nt[k].to_numpy(dtype=object) if k in nt else np.full(len(nt), None, dtype=object)

    wp = np.flatnonzero(pd.Series(ntag("emergency")).isin(WATER_POINT_KINDS).to_numpy())
    water_points = gpd.GeoDataFrame(
        {"osm_id": _prefixed("n", nodes.ids[wp]),
         **{k: ntag(k)[wp] for k in WATER_POINT_TAGS}},
        geometry=shapely.points(nodes.lon[wp], nodes.lat[wp]), crs="EPSG:4326",
    )[["osm_id", *WATER_POINT_TAGS, "geometry"]]  # fmt: skip
    sn = np.flatnonzero(ntag("amenity") == "fire_station")
    stations = gpd.GeoDataFrame(
        {"osm_id": np.concatenate([_prefixed("n", nodes.ids[sn]), areas.ids[st_rows]]),
         "name": np.concatenate([ntag("name")[sn], areas.tag("name", st_rows)])},
        geometry=np.concatenate([shapely.points(nodes.lon[sn], nodes.lat[sn]),
                                 shapely.point_on_surface(areas.geom[st_rows])]),
        crs="EPSG:4326",
    )  # fmt: skip
    hw = ntag("highway")
    has_hw = pd.notna(hw)
    node_highway = dict(zip(nodes.ids[has_hw].tolist(), hw[has_hw].tolist(), strict=True))
    return water_points, stations, node_highway


def _log_read(
    layers: OsmLayers, shown_as: Path, counts: tuple[int, int, int], t_export: float
) -> None:
    """Log what was kept (ways, tagged nodes, relations) and what was skipped, and why."""
    n_ways, n_nodes, n_rels = counts
    logger.info(
        "osm: read %s: kept %s objects (%s ways, %s tagged nodes, %s relations) in %.1f s "
        "(osmium filter %.1f s); %s street ways, %s buildings, %s water points, "
        "%s water bodies, %s stations",
        shown_as.name, f"{layers.objects_kept:,}", f"{n_ways:,}", f"{n_nodes:,}",
        f"{n_rels:,}", layers.read_s, t_export, f"{len(layers.streets):,}",
        f"{len(layers.buildings):,}", f"{len(layers.water_points):,}",
        f"{len(layers.water_bodies):,}", f"{len(layers.stations):,}",
    )  # fmt: skip
    for what, n in layers.skipped.items():
        logger.warning("osm: skipped %s %s", f"{n:,}", what)
    if layers.partial:
        partial = layers.partial
        logger.warning(
            "osm: %s street way(s) with nodes missing from the file kept as %s piece(s) "
            "(%s node(s) missing)",
            f"{partial['street_ways_with_missing_nodes']:,}",
            f"{partial['street_pieces_kept']:,}", f"{partial['street_nodes_missing']:,}",
        )  # fmt: skip


def _prefixed(prefix: str, ids: np.ndarray) -> np.ndarray:
    """``"w123"``-style OSM ids as an object array (Arrow string kernels, no Python loop)."""
    text = pc.binary_join_element_wise(prefix, pa.array(ids).cast(pa.string()), "")
    return np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)


def _take(table: pd.DataFrame, key: str, rows: np.ndarray) -> Any:  # noqa: ANN401
    """Rows of one tag column (strings, NaN where absent); all None when none of them has it."""
    if key in table:
        values = table[key].array.take(rows)
        if not values.isna().all():
            return values
    return np.full(len(rows), None, dtype=object)


def _lines(ways: _Ways, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Open ways as LineStrings, and which had every node present."""
    counts, vidx, way_of = ways.vertices(sel)
    ok_v = np.isfinite(ways.lon[vidx])
    whole = (np.bincount(way_of[~ok_v], minlength=len(counts)) == 0) & (counts >= 2)  # noqa: PLR2004
    kv = whole[way_of]
    geoms = np.full(len(counts), None, dtype=object)
    geoms[whole] = shapely.linestrings(
        np.column_stack([ways.lon[vidx][kv], ways.lat[vidx][kv]]),
        indices=np.cumsum(whole)[way_of[kv]] - 1,
    )
    return geoms, whole


def _concat_ways(a: _Ways, b: _Ways) -> _Ways:
    return _Ways(
        np.concatenate([a.ids, b.ids]), pd.concat([a.tags, b.tags], ignore_index=True),
        np.concatenate([a.offsets, a.offsets[-1] + b.offsets[1:]]),
        np.concatenate([a.refs, b.refs]), np.concatenate([a.lon, b.lon]),
        np.concatenate([a.lat, b.lat]),
    )  # fmt: skip
