"""A big OSM extract cut to the province once (cached by the source's hash), and its data date."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import osmium
import osmium.filter
import osmium.geom
import osmium.io
import shapely

from pipeline._errors import InputDataError
from pipeline._io import atomic_path, file_sha256, read_json, write_json
from pipeline.boundary import name_key, resolve_boundary
from pipeline.osm_read import detect_format, read_osm

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from pipeline.config import BoundaryConfig, OsmConfig

logger = logging.getLogger(__name__)

REPLICATION_KEY = "osmosis_replication_timestamp"
#: Object timestamps before OSM began are "not set" (tools write the epoch).
_OSM_EPOCH = dt.datetime(2004, 8, 1, tzinfo=dt.UTC)
_BATCH = 200_000
#: Objects read before a file whose objects carry no timestamp is called undated.
_UNDATED_AFTER = 10_000


# --------------------------------------------------------------------------- how big, how old


@dataclass(frozen=True)
class OsmDataInfo:
    """How big an OSM file is and how old its data is (the data's own date, not the file's)."""

    path: Path
    bytes: int
    timestamp: dt.datetime | None
    timestamp_source: str | None

    def age_days(self, now: dt.datetime | None = None) -> float | None:
        """Days between the data's date and ``now`` (UTC)."""
        if self.timestamp is None:
            return None
        now = now or dt.datetime.now(dt.UTC)
        return (now - self.timestamp).total_seconds() / 86400

    def line(self) -> str:
        """One line for the log: name, size and the data's date with its age."""
        size = f"{self.bytes / 1e6:,.1f} MB"
        if self.timestamp is None:
            when = "data date unknown (no replication timestamp and no object timestamps)"
        else:
            when = (
                f"data as of {self.timestamp:%Y-%m-%d %H:%M} UTC "
                f"({self.age_days():,.0f} days old, from the {self.timestamp_source})"
            )
        return f"osm: {self.path.name}: {size}, {when}"

    def summary(self) -> dict[str, Any]:
        """Return the figures the ingest summary keeps (``osm_timestamp``: ISO 8601 UTC or null)."""
        return {
            "osm_file": self.path.name,
            "osm_bytes": self.bytes,
            "osm_timestamp": self.timestamp.isoformat().replace("+00:00", "Z")
            if self.timestamp
            else None,
            "osm_timestamp_source": self.timestamp_source,
            "osm_age_days": None if self.timestamp is None else round(self.age_days() or 0, 1),
        }


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def header_timestamp(path: Path) -> dt.datetime | None:
    """Return the ``osmosis_replication_timestamp`` of an OSM file's header (Geofabrik sets it)."""
    if detect_format(path) == "overpass":
        try:
            meta = json.loads(path.read_text(encoding="utf-8")).get("osm3s", {})
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            return None
        return _parse_time(meta.get("timestamp_osm_base"))
    try:
        reader = osmium.io.Reader(str(path), osmium.osm.NOTHING)
    except RuntimeError:
        return None
    try:
        return _parse_time(reader.header().get(REPLICATION_KEY))
    except RuntimeError:
        return None
    finally:
        reader.close()


def newest_object_timestamp(path: Path) -> dt.datetime | None:
    """Return the newest object timestamp of an OSM file (one pass), ``None`` when none is set."""
    if detect_format(path) == "overpass":
        return None
    newest = _OSM_EPOCH
    obj: Any
    try:
        for n, obj in enumerate(osmium.FileProcessor(str(path))):
            newest = max(newest, obj.timestamp)
            if n == _UNDATED_AFTER and newest == _OSM_EPOCH:
                return None  # a generated file: its objects carry no timestamps
    except RuntimeError:
        return None
    return newest if newest > _OSM_EPOCH else None


def describe(path: Path, *, scan_max_mb: float) -> OsmDataInfo:
    """Return the size and the data date of an OSM file.

    The date is the header's replication timestamp; without one (an openstreetmap.org export,
    a generated file) the newest object's timestamp, for files up to ``scan_max_mb``.
    """
    size = path.stat().st_size
    if size == 0:
        return OsmDataInfo(path, 0, None, None)
    stamp, source = header_timestamp(path), "file header"
    if stamp is None and size <= scan_max_mb * 1e6:
        stamp, source = newest_object_timestamp(path), "newest object"
    return OsmDataInfo(path, size, stamp, source if stamp is not None else None)


# --------------------------------------------------------------------------- the boundary


def admin_areas(path: Path, cfg: BoundaryConfig) -> gpd.GeoDataFrame:
    """Return the administrative areas of a big file that the boundary config names.

    Only the matching relations (by id, or by name and level) and their member ways and nodes
    are assembled, so the country file is not read into memory.
    """
    wanted = name_key(cfg.osm_name) if cfg.osm_name is not None else None
    tracker = osmium.IdTracker()
    found = 0
    boundaries = osmium.filter.TagFilter(("boundary", "administrative"))
    for rel in osmium.FileProcessor(str(path), osmium.osm.RELATION).with_filter(boundaries):
        if cfg.osm_relation is not None and rel.id != cfg.osm_relation:
            continue
        if cfg.osm_admin_level is not None and rel.tags.get("admin_level") != str(
            cfg.osm_admin_level
        ):
            continue
        if wanted is not None and wanted not in {
            name_key(rel.tags.get(k)) for k in ("name", "name:en", "name:vi")
        }:
            continue
        tracker.add_relation(rel.id)
        found += 1
    if not found:
        return gpd.GeoDataFrame(
            {"osm_id": [], "name": [], "name_en": [], "ref": [], "admin_level": []},
            geometry=[],
            crs="EPSG:4326",
        )
    tracker.complete_backward_references(str(path), relation_depth=0)
    with tempfile.TemporaryDirectory(prefix="firegap-admin-") as tmp:
        small = Path(tmp) / "admin.osm.pbf"
        with osmium.SimpleWriter(str(small), overwrite=True) as writer:
            for obj in osmium.FileProcessor(str(path)).with_filter(tracker.id_filter()):
                writer.add(obj)
        return read_osm(small).admin


def clip_polygon(
    osm_cfg: OsmConfig, cfg: BoundaryConfig, path: Path, *, crs: str
) -> BaseGeometry | None:
    """Return the polygon (EPSG:4326) to cut ``path`` to: the boundary plus a margin.

    ``None`` when no boundary is configured (then nothing is cut).
    """
    wants_osm = cfg.osm_name is not None or cfg.osm_relation is not None
    try:
        admin = admin_areas(path, cfg) if wants_osm else gpd.GeoDataFrame(geometry=[], crs=4326)
    except RuntimeError as e:
        msg = f"{path}: corrupt or unreadable OSM file ({e})"
        raise InputDataError(msg) from e
    found = resolve_boundary(cfg, admin, crs=crs, what=path.name)
    if found is None:
        return None
    grown = shapely.buffer(found.polygon, osm_cfg.clip_buffer_m)
    return gpd.GeoSeries([grown], crs=crs).to_crs("EPSG:4326").iloc[0]


# --------------------------------------------------------------------------- the clip


class _Touching:
    """Collects, in batches tested with vectorised Shapely, what touches a polygon."""

    def __init__(self, polygon: BaseGeometry) -> None:
        shapely.prepare(polygon)
        self.polygon = polygon
        self.bounds = polygon.bounds
        self.tracker = osmium.IdTracker()
        self.way_ids: list[int] = []
        self.way_wkb: list[str] = []
        self.node_ids: list[int] = []
        self.node_xy: list[tuple[float, float]] = []
        self.n_ways = self.n_nodes = 0

    def flush_ways(self) -> None:
        if not self.way_ids:
            return
        minx, miny, maxx, maxy = self.bounds
        lines = shapely.from_wkb(self.way_wkb)
        b = shapely.bounds(lines)
        near = (b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny)
        hit = np.zeros(len(lines), dtype=bool)
        hit[near] = shapely.intersects(self.polygon, lines[near])
        for wid in np.asarray(self.way_ids)[hit].tolist():
            self.tracker.add_way(wid)
        self.n_ways += int(hit.sum())
        self.way_ids.clear()
        self.way_wkb.clear()

    def flush_nodes(self) -> None:
        if not self.node_ids:
            return
        xy = np.asarray(self.node_xy)
        inside = shapely.contains_xy(self.polygon, xy[:, 0], xy[:, 1])
        for nid in np.asarray(self.node_ids)[inside].tolist():
            self.tracker.add_node(nid)
        self.n_nodes += int(inside.sum())
        self.node_ids.clear()
        self.node_xy.clear()


def _ways_touching(path: Path, polygon: BaseGeometry) -> _Touching:
    """Track the ways crossing ``polygon`` and the tagged nodes inside it (one pass).

    Untagged nodes never reach Python (they only feed the location index), ways are turned
    into WKB by osmium and tested in batches.
    """
    wkb = osmium.geom.WKBFactory()
    found = _Touching(polygon)
    untagged_nodes = osmium.filter.EmptyTagFilter()
    untagged_nodes.enable_for(osmium.osm.NODE)
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(untagged_nodes)
    )
    obj: Any
    for obj in processor:
        if obj.is_way():
            try:
                found.way_wkb.append(wkb.create_linestring(obj))
            except (osmium.InvalidLocationError, RuntimeError):
                continue  # fewer than two located nodes: nothing to place
            found.way_ids.append(obj.id)
            if len(found.way_ids) >= _BATCH:
                found.flush_ways()
        elif obj.location.valid():
            found.node_ids.append(obj.id)
            found.node_xy.append((obj.location.lon, obj.location.lat))
            if len(found.node_ids) >= _BATCH:
                found.flush_nodes()
    found.flush_ways()
    found.flush_nodes()
    return found


def clip_file(src: Path, polygon: BaseGeometry, out: Path) -> dict[str, int]:
    """Write the objects of ``src`` that lie in ``polygon`` (EPSG:4326) to ``out``, complete.

    Every way crossing the polygon is kept whole with all its nodes ("complete ways"), every
    tagged node inside it, and every relation with such a member, with all its member ways and
    their nodes (multipolygons, administrative areas). The header keeps the source's
    replication timestamp, so the clip's data date is the source's.

    Returns
    -------
    dict
        Objects written by kind.
    """
    found = _ways_touching(src, polygon)
    tracker = found.tracker
    relations = 0
    for rel in osmium.FileProcessor(str(src), osmium.osm.RELATION):
        if tracker.contains_any_references(rel):
            tracker.add_relation(rel.id)
            relations += 1
    tracker.complete_backward_references(str(src), relation_depth=0)
    header = osmium.io.Header()
    stamp = osmium.io.Reader(str(src), osmium.osm.NOTHING)
    try:
        value = stamp.header().get(REPLICATION_KEY)
    finally:
        stamp.close()
    if value:
        header.set(REPLICATION_KEY, value)
    header.set("generator", "firegap clip (pyosmium)")
    counts = {"nodes": 0, "ways": 0, "relations": 0}
    obj: Any
    target = osmium.io.File(str(out), "pbf")  # the format, whatever the (temporary) name
    with osmium.SimpleWriter(target, header=header, overwrite=True) as writer:
        for obj in osmium.FileProcessor(str(src)).with_filter(tracker.id_filter()):
            writer.add(obj)
            kind = "nodes" if obj.is_node() else "ways" if obj.is_way() else "relations"
            counts[kind] += 1
    logger.debug(
        "clip: %d ways crossing, %d tagged nodes inside, %d relations",
        found.n_ways,
        found.n_nodes,
        relations,
    )
    return counts


def _source_hash(src: Path, cache_dir: Path) -> str:
    """SHA-256 of the source, remembered by (path, size, mtime) so it is computed once."""
    memo_path = cache_dir / "source_hashes.json"
    memo: dict[str, Any] = read_json(memo_path) if memo_path.exists() else {}
    stat = src.stat()
    key = str(src.resolve())
    known = memo.get(key)
    if known and known["size"] == stat.st_size and known["mtime_ns"] == stat.st_mtime_ns:
        return str(known["sha256"])
    digest = file_sha256(src)
    memo[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
    write_json(memo, memo_path)
    return digest


def should_clip(cfg: OsmConfig, src: Path, *, downloaded: bool) -> bool:
    """Return whether to cut ``src`` first (``osm.clip``; auto: big, or downloaded)."""
    if cfg.clip == "auto":
        return downloaded or src.stat().st_size >= cfg.clip_min_mb * 1e6
    return cfg.clip == "always"


def clipped_extract(
    src: Path,
    *,
    osm_cfg: OsmConfig,
    boundary_cfg: BoundaryConfig,
    crs: str,
    cache_dir: Path,
) -> Path:
    """Return ``src`` cut to the province, from the cache when this source was cut before.

    The clip is keyed by the source's SHA-256 and the polygon it was cut to; a new download or
    another boundary makes a new clip. Without a configured boundary the source is returned.

    Raises
    ------
    InputDataError
        The source is not a PBF or XML OSM file, or the cut holds nothing.
    """
    if detect_format(src) == "overpass":
        return src
    cache_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    polygon = clip_polygon(osm_cfg, boundary_cfg, src, crs=crs)
    if polygon is None:
        logger.info("clip: no boundary configured; %s is read whole", src.name)
        return src
    key = hashlib.sha256(
        (_source_hash(src, cache_dir) + shapely.to_wkb(polygon, output_dimension=2).hex()).encode()
    ).hexdigest()[:16]
    out = cache_dir / f"{src.name.removesuffix('.osm.pbf').removesuffix('.osm')}-{key}.osm.pbf"
    if out.exists() and out.stat().st_size > 0:
        logger.info("clip: using cached %s (%.1f MB)", out, out.stat().st_size / 1e6)
        return out
    try:
        with atomic_path(out) as tmp:
            counts = clip_file(src, polygon, tmp)
    except RuntimeError as e:
        msg = f"{src}: corrupt or unreadable OSM file ({e})"
        raise InputDataError(msg) from e
    if counts["ways"] == 0:
        out.unlink()
        msg = f"{src}: nothing of it lies inside the province boundary; is it the right extract?"
        raise InputDataError(msg)
    logger.info(
        "clip: %s (%.1f MB) cut to the province: %s (%.1f MB; %s nodes, %s ways, %s relations) "
        "in %.0f s",
        src.name,
        src.stat().st_size / 1e6,
        out.name,
        out.stat().st_size / 1e6,
        f"{counts['nodes']:,}",
        f"{counts['ways']:,}",
        f"{counts['relations']:,}",
        time.perf_counter() - t0,
    )
    return out
