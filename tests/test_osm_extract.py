"""Cutting a big extract to the province once (complete ways and relations), and dating the data."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import geopandas as gpd
import osmium
import pytest
import shapely

import pipeline.osm_extract
from pipeline.cli import main
from pipeline.config import BoundaryConfig, OsmConfig
from pipeline.osm_extract import clip_file, clipped_extract, describe, newest_object_timestamp
from pipeline.paths import PROJECT_ROOT
from tests.conftest import SHARED_DATA
from tests.osm_fixtures import CRS, X0, Y0, OsmBuilder, bac_ninh_like, boundary_geojson


def _ids(path):
    out = {"n": set(), "w": set(), "r": set()}
    for o in osmium.FileProcessor(str(path)):
        out["n" if o.is_node() else "w" if o.is_way() else "r"].add(o.id)
    return out


def _box_ll(x0, y0, x1, y1):
    return (
        gpd.GeoSeries([shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)], crs=CRS)
        .to_crs("EPSG:4326")
        .iloc[0]
    )


def _scene() -> OsmBuilder:
    """Inside the box (0..1000 m): a street, a crossing street, a building relation whose outer
    way is untagged, a hydrant. Outside: a street, a pond relation, a hydrant."""
    b = OsmBuilder()
    a, c = b.node(100, 100, nid=1), b.node(300, 100, nid=2)
    b.way([a, c], {"highway": "residential"}, wid=10)
    p, q, r = b.node(900, 500, nid=3), b.node(1500, 500, nid=4), b.node(2500, 500, nid=5)
    b.way([p, q, r], {"highway": "primary"}, wid=11)  # crosses the edge at x = 1000
    s, t = b.node(5000, 5000, nid=6), b.node(5100, 5000, nid=7)
    b.way([s, t], {"highway": "residential"}, wid=12)  # outside
    ring = [b.node(x, y) for x, y in ((400, 400), (420, 400), (420, 420), (400, 420))]
    outer = b.way([*ring, ring[0]], {}, wid=13)
    b.relations[100] = ([("w", outer, "outer")], {"type": "multipolygon", "building": "yes"})
    far = [b.node(x, y) for x, y in ((6000, 6000), (6030, 6000), (6030, 6030))]
    pond = b.way([*far, far[0]], {}, wid=14)
    b.relations[101] = ([("w", pond, "outer")], {"type": "multipolygon", "natural": "water"})
    b.node(150, 110, {"emergency": "fire_hydrant"}, nid=20)
    b.node(7000, 7000, {"emergency": "fire_hydrant"}, nid=21)
    b.node(200, 200, nid=22)  # untagged, belongs to nothing: dropped
    return b


def test_clip_keeps_complete_ways_and_relations(tmp_path):
    src = _scene().write(tmp_path / "scene.osm.pbf", replication_timestamp="2026-11-30T00:00:00Z")
    out = tmp_path / "cut.osm.pbf"
    counts = clip_file(src, _box_ll(0, 0, 1000, 1000), out)
    ids = _ids(out)
    assert ids["w"] == {10, 11, 13}
    assert ids["r"] == {100}
    # The crossing street keeps its node 1.5 km outside; the building its untagged ring.
    assert {3, 4, 5} <= ids["n"]
    assert 20 in ids["n"]
    assert not ids["n"] & {6, 7, 21, 22}
    assert counts == {"nodes": len(ids["n"]), "ways": 3, "relations": 1}
    assert describe(out, scan_max_mb=1).timestamp == dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def test_the_cut_is_cached_by_source_hash_and_boundary(tmp_path, monkeypatch):
    src = _scene().write(tmp_path / "scene.osm.pbf")
    b1 = boundary_geojson(tmp_path / "b1.geojson", 0, 0, 1000, 1000)
    b2 = boundary_geojson(tmp_path / "b2.geojson", 0, 0, 800, 800)
    osm_cfg = OsmConfig(clip_buffer_m=0)
    cache = tmp_path / "clip"

    def cut(boundary):
        return clipped_extract(
            src, osm_cfg=osm_cfg, boundary_cfg=BoundaryConfig(file=str(boundary)), crs=CRS,
            cache_dir=cache,
        )  # fmt: skip

    first = cut(b1)
    assert _ids(first)["w"] == {10, 11, 13}

    def boom(*args, **kwargs):
        raise AssertionError("cut again")

    monkeypatch.setattr(pipeline.osm_extract, "clip_file", boom)
    assert cut(b1) == first  # same source, same boundary: from the cache
    with pytest.raises(AssertionError, match="cut again"):
        cut(b2)  # another boundary: another cut
    monkeypatch.undo()
    newer = _scene().write(tmp_path / "v2.osm.pbf", replication_timestamp="2026-12-01T00:00:00Z")
    src.write_bytes(newer.read_bytes())
    assert cut(b1) != first  # a new source: a new cut
    assert len(list(cache.glob("*.osm.pbf"))) == 2  # b2's cut failed on purpose above


def test_nothing_inside_is_an_error(tmp_path):
    src = _scene().write(tmp_path / "scene.osm.pbf")
    far = boundary_geojson(tmp_path / "far.geojson", 50_000, 50_000, 51_000, 51_000)
    from pipeline._errors import InputDataError

    with pytest.raises(InputDataError, match="nothing of it lies inside the province boundary"):
        clipped_extract(
            src, osm_cfg=OsmConfig(clip_buffer_m=0), boundary_cfg=BoundaryConfig(file=str(far)),
            crs=CRS, cache_dir=tmp_path / "clip",
        )  # fmt: skip


def test_bac_ninh_cut_to_its_own_relation(tmp_path, capsys):
    """The province relation found in the big file bounds the cut; the cut still holds it."""
    builder, communes = bac_ninh_like()
    far = [builder.node(x, 150_000 + x) for x in range(0, 3000, 100)]  # 150 km north: outside
    builder.way(far, {"highway": "residential"})
    osm = builder.write(tmp_path / "big.osm.pbf", replication_timestamp="2026-11-30T00:00:00Z")
    root = tmp_path / "root"
    shutil.copytree(PROJECT_ROOT / "data" / "provinces", root / "data" / "provinces")
    cfg = root / "data" / "provinces" / "bac_ninh.yaml"
    cfg.write_text(cfg.read_text("utf-8") + "\nosm: {clip: always}\n", encoding="utf-8")
    rc = main(["ingest", "--province", "bac_ninh", "--root", str(root), "--osm", str(osm),
               "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 0, err
    summary = json.loads((root / "outputs" / "bac_ninh" / "ingest" / "summary.json").read_text())
    assert summary["osm_clip"] is not None
    assert summary["boundary_source"] == "OSM administrative area r4000 'Tỉnh Bắc Ninh'"
    assert summary["wards_source"]["matched_to_table"] == len(communes)
    assert summary["osm_timestamp"] == "2026-11-30T00:00:00Z"
    cut = next((root / "cache" / "clip" / "bac_ninh").glob("*.osm.pbf"))
    ids = _ids(cut)
    assert {4000, *(int(c["rid"][1:]) for c in communes)} <= ids["r"]
    assert not set(far) & ids["n"]


def test_data_date_from_the_newest_object(tmp_path):
    b = _scene()
    path = b.write(tmp_path / "x.osm", object_timestamp=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    info = describe(path, scan_max_mb=1)
    assert info.timestamp == dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    assert info.timestamp_source == "newest object"
    assert "data as of 2025-06-01 00:00 UTC" in info.line()
    undated = describe(b.write(tmp_path / "y.osm.pbf"), scan_max_mb=1)
    assert undated.timestamp is None
    assert "data date unknown" in undated.line()
    assert undated.summary()["osm_timestamp"] is None
    assert describe(path, scan_max_mb=0).timestamp is None  # too big to scan


@pytest.mark.shared_data
def test_hanoi_sample_dated_by_its_newest_element():
    """PROVENANCE.md: the openstreetmap.org export's newest element is of 2023-12-20."""
    stamp = newest_object_timestamp(SHARED_DATA / "hanoi_osm_sample" / "map.osm")
    assert stamp is not None
    assert stamp.date() == dt.date(2023, 12, 20)


@pytest.mark.parametrize("boundary", ["file", "osm"])
def test_corrupt_extract_to_cut_is_one_line(project, tmp_path, town_boundary, capsys, boundary):
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all" * 50)
    where = {"file": str(town_boundary)} if boundary == "file" else {"osm_name": "Bắc Ninh"}
    project.province("bad", {"osm": {"file": str(bad), "clip": "always"}, "boundary": where})
    rc = main(["ingest", "--province", "bad", "--root", str(project.root), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("firegap: error:")]
    assert len(lines) == 1
    assert f"{bad}: corrupt or unreadable OSM file" in lines[0]
