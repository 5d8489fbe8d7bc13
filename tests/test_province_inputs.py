"""Bắc Ninh from the repo alone: boundary and wards from OSM admin relations, or shipped files."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from pipeline.boundary import split_unit_name
from pipeline.cli import main
from pipeline.paths import PROJECT_ROOT
from pipeline.wards import detect_ward_level
from tests.osm_fixtures import BAC_NINH_REF, bac_ninh_like


@pytest.fixture
def bac_ninh_root(tmp_path):
    """A project folder holding the repo's own province configs (nothing from ../shared)."""
    root = tmp_path / "root"
    shutil.copytree(PROJECT_ROOT / "data" / "provinces", root / "data" / "provinces")
    assert "../shared" not in (root / "data" / "provinces" / "bac_ninh.yaml").read_text("utf-8")
    return root


def _cli(root, stage, osm, capsys):
    rc = main([stage, "--province", "bac_ninh", "--root", str(root), "--osm", str(osm),
               "--no-progress"])  # fmt: skip
    return rc, capsys.readouterr().err


def _summary(root, stage):
    return json.loads((root / "outputs" / "bac_ninh" / stage / "summary.json").read_text("utf-8"))


def test_bac_ninh_yaml_reads_nothing_outside_the_repo():
    text = (PROJECT_ROOT / "data" / "provinces" / "bac_ninh.yaml").read_text("utf-8")
    assert "../shared" not in text
    from pipeline.config import config_files, load_config

    for path in config_files(load_config("bac_ninh"), None):
        assert path.resolve().is_relative_to(PROJECT_ROOT), path
        assert path.exists(), path


def test_analyze_bac_ninh_shaped_extract_with_admin_relations(bac_ninh_root, tmp_path, capsys):
    builder, communes = bac_ninh_like()
    osm = builder.write(tmp_path / "bac_ninh_like.osm.pbf")
    rc, err = _cli(bac_ninh_root, "analyze", osm, capsys)
    assert rc == 0, err
    out = bac_ninh_root / "outputs" / "bac_ninh"
    ingest = _summary(bac_ninh_root, "ingest")
    # The boundary is the province relation (the shipped file agrees with it).
    assert ingest["boundary_source"] == "OSM administrative area r4000 'Tỉnh Bắc Ninh'"
    reference = gpd.read_file(BAC_NINH_REF / "province_2025.geojson").to_crs(32648)
    assert ingest["boundary_km2"] == pytest.approx(reference.area.iloc[0] / 1e6, rel=1e-4)
    # Wards: the detected lower level, coded and peopled from the 2025 commune table.
    assert ingest["wards_source"]["osm_admin_level"] == 6
    assert ingest["wards_source"]["matched_to_table"] == len(communes) == 6
    assert "OSM admin_level 6 detected (level 6: 6 areas, 100% of the province)" in err
    wards = gpd.read_parquet(out / "ingest" / "wards.parquet")
    table = pd.read_csv(BAC_NINH_REF / "communes_2025.csv", dtype={"code": str}).set_index("code")
    assert sorted(wards["ward_id"]) == sorted(c["code"] for c in communes)
    for _, w in wards.iterrows():
        assert w["name"] == table.loc[w["ward_id"], "name"]
        assert w["ward_type"] == table.loc[w["ward_id"], "type"]
        assert w["population"] == table.loc[w["ward_id"], "population_2025"]
    assert not wards["approximate"].any()
    assert wards["area_km2"].sum() == pytest.approx(ingest["boundary_km2"], rel=1e-6)
    # The run went through to the planners' outputs.
    assert (out / "map.html").exists()
    assert (out / "report.html").exists()
    assert ingest["stations"] == 2  # the OSM fire stations of the town


def test_without_admin_relations_the_shipped_files_serve(bac_ninh_root, tmp_path, capsys):
    builder, _ = bac_ninh_like(admin=False)
    osm = builder.write(tmp_path / "no_admin.osm.pbf")
    rc, err = _cli(bac_ninh_root, "ingest", osm, capsys)
    assert rc == 0, err
    ingest = _summary(bac_ninh_root, "ingest")
    assert ingest["boundary_source"].endswith("province_2025.geojson")
    assert "holds no administrative area with name 'Bắc Ninh' admin_level=4" in err
    assert ingest["wards"] == 99
    assert ingest["wards_approximate"]
    assert "Voronoi" in ingest["wards_source"]["source"]


def test_a_pre_merger_relation_gives_way_to_the_2025_boundary(bac_ninh_root, tmp_path, capsys):
    """An extract from before 1 July 2025 has a smaller "Tỉnh Bắc Ninh": the shipped file wins."""
    builder, _ = bac_ninh_like(province_scale=0.45)
    osm = builder.write(tmp_path / "old.osm.pbf")
    rc, err = _cli(bac_ninh_root, "ingest", osm, capsys)
    assert rc == 0, err
    ingest = _summary(bac_ninh_root, "ingest")
    assert ingest["boundary_source"].endswith("province_2025.geojson")
    assert "the OSM data may predate the current units; using the file" in err
    # Its communes (cut from the smaller polygon) cover a fifth of the 2025 province: not wards.
    assert ingest["wards"] == 99


def test_detect_ward_level_picks_the_finest_level_that_tiles():
    province = shapely.box(0, 0, 100, 100)
    halves = [shapely.box(0, 0, 50, 100), shapely.box(50, 0, 100, 100)]
    quarters = [shapely.box(x, y, x + 50, y + 50) for x in (0, 50) for y in (0, 50)]
    villages = [shapely.box(10, 10, 20, 20), shapely.box(30, 30, 40, 40)]
    neighbour = shapely.box(100, 0, 200, 100)
    admin = gpd.GeoDataFrame(
        {"admin_level": [4, 4] + [6] * 2 + [8] * 4 + [10] * 2},
        geometry=[province, neighbour, *halves, *quarters, *villages],
        crs=32648,
    )
    level, note = detect_ward_level(admin, province, min_cover=0.9, above=4)
    assert level == 8
    assert "level 10: 2 areas, 2% of the province" in note
    assert detect_ward_level(admin.iloc[:4], province, min_cover=0.9, above=4)[0] == 6
    assert detect_ward_level(admin.iloc[:2], province, min_cover=0.9, above=4)[0] is None


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("Phường Bắc Giang", ("phường", "Bắc Giang")),
        ("Xã Đại Đồng", ("xã", "Đại Đồng")),
        ("Thị trấn Chờ", ("thị trấn", "Chờ")),
        ("Đặc khu Vân Đồn", ("đặc khu", "Vân Đồn")),
        ("Tỉnh Bắc Ninh", ("tỉnh", "Bắc Ninh")),
        ("Xã", ("", "Xã")),
        ("Bắc Giang", ("", "Bắc Giang")),
    ],
)
def test_unit_word_split_from_osm_names(name, split):
    assert split_unit_name(name) == split
