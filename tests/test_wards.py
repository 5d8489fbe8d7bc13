"""Ward polygons: Voronoi cells from commune centroids, files, the whole-province fallback."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipeline.boundary import read_vector
from pipeline.config import load_config
from pipeline.paths import ProvincePaths
from pipeline.stage import run_pipeline
from pipeline.wards import build_wards, ward_columns, ward_rows
from tests.osm_fixtures import lonlat


def _centroids_csv(path):
    rows = [
        ("001", "Phường A", "phường", 1000, *lonlat(20, 20)),
        ("002", "Xã B", "xã", 300, *lonlat(250, 150)),
    ]
    pd.DataFrame(
        rows, columns=["code", "name", "type", "population_2025", "centroid_lon", "centroid_lat"]
    ).to_csv(path, index=False)
    return path


def test_voronoi_wards_from_centroids(town_project, tmp_path):
    csv = _centroids_csv(tmp_path / "communes.csv")
    town_project.province(
        "town",
        {
            "osm": {"file": str(tmp_path / "town.osm.pbf")},
            "boundary": {"file": str(tmp_path / "boundary.geojson")},
            "wards": {"centroids_csv": str(csv)},
        },
    )
    paths = ProvincePaths("town", town_project.root)
    run_pipeline("ingest", load_config("town", root=town_project.root), paths)
    wards = gpd.read_parquet(paths.artifact("ingest", "wards"))
    assert list(wards["name"]) == ["Phường A", "Xã B"]
    assert wards["approximate"].all()
    assert wards["population"].tolist() == [1000, 300]
    # The cells tile the 350 x 250 m boundary, each holding its own centroid.
    assert wards["area_km2"].sum() == pytest.approx(0.35 * 0.25, rel=1e-3)
    a = wards.geometry.iloc[0]
    assert a.contains(shapely.Point(590_020, 2_340_020))
    assert not a.contains(shapely.Point(590_250, 2_340_150))
    b = gpd.read_parquet(paths.artifact("ingest", "buildings"))
    tagged = ward_columns(shapely.point_on_surface(b.geometry.to_numpy()), wards)
    # The 5-storey building at (20..40, 10..30) is in ward A.
    assert tagged["ward"][(b["levels_tag"] == "5").to_numpy()].item() == "Phường A"


def test_whole_province_fallback(town_project):
    paths = ProvincePaths("town", town_project.root)
    run_pipeline("ingest", load_config("town", root=town_project.root), paths)
    wards = gpd.read_parquet(paths.artifact("ingest", "wards"))
    assert len(wards) == 1
    assert wards["ward_type"].item() == "province"


def test_bac_ninh_99_communes():
    """The shipped 2025 reference table (data/reference/bac_ninh): 99 units, from the repo alone."""
    config = load_config("bac_ninh")
    boundary = read_vector(config.boundary.file).to_crs(config.crs).geometry.iloc[0]
    admin = gpd.GeoDataFrame(
        {"osm_id": [], "name": [], "admin_level": []}, geometry=[], crs=config.crs
    )
    wards, info = build_wards(config, admin, boundary)
    assert info["table"]["used"] == 99
    assert "Voronoi" in info["source"]
    assert len(wards) == 99
    assert wards["ward_id"].str.fullmatch(r"\d{5}").all()
    assert wards.set_index("ward_id").loc["07210", "name"] == "Bắc Giang"
    assert (wards["ward_type"] == "phường").sum() == 33
    assert wards["population"].sum() == 3_619_442  # PROVENANCE.md
    assert wards["area_km2"].sum() == pytest.approx(boundary.area / 1e6, rel=1e-6)
    assert np.isfinite(wards["area_km2"]).all()


def test_commune_table_rejects_go_to_the_ingest_rejects_csv(town_project, tmp_path):
    csv = _centroids_csv(tmp_path / "communes.csv")
    csv.write_text(csv.read_text("utf-8") + "003,Xã C,xã,10,,\n", encoding="utf-8")
    town_project.province(
        "town",
        {
            "osm": {"file": str(tmp_path / "town.osm.pbf")},
            "boundary": {"file": str(tmp_path / "boundary.geojson")},
            "wards": {"centroids_csv": str(csv)},
        },
    )
    paths = ProvincePaths("town", town_project.root)
    result = run_pipeline("ingest", load_config("town", root=town_project.root), paths)
    rejects = pd.read_csv(paths.artifact("ingest", "rejects"))
    assert rejects.to_dict(orient="records") == [
        {"file": "communes.csv", "line": 4, "reason": "no coordinates"}
    ]
    files = result["ingest"]["summary"]["authority_files"]
    assert [(f["file"], f["used"], f["skipped"]) for f in files] == [("communes.csv", 2, 1)]


def test_one_rule():
    wards = gpd.GeoDataFrame(
        {"ward_id": ["07210", "09295"], "name": ["Bắc Giang", "Bồng Lai"]},
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)],
        crs="EPSG:32648",
    )
    # Inside a ward, else the nearest one; a missing geometry has none.
    pts = np.array([shapely.Point(50, 50), shapely.Point(150, 50), shapely.Point(250, 50), None])
    assert ward_rows(pts, wards).tolist() == [0, 1, 1, -1]
    assert ward_columns(pts, wards)["ward"].tolist() == ["Bắc Giang", "Bồng Lai", "Bồng Lai", None]


def test_overlapping_wards_first_wins_and_boundary_goes_to_nearest():
    # Two overlapping wards, listed big-first: a point in both belongs to the first listed.
    wards = gpd.GeoDataFrame(
        {"ward_id": ["a", "b"], "name": ["A", "B"]},
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(50, 0, 150, 100)],
        crs="EPSG:32648",
    )
    pts = shapely.points([(75, 50), (25, 50), (125, 50), (150, 50), (170, 50)])
    # (150, 50) lies on B's boundary, not inside it: the nearest ward (B, at 0 m) takes it.
    assert ward_rows(pts, wards).tolist() == [0, 0, 1, 1, 1]
    flipped = wards.iloc[::-1].reset_index(drop=True)
    assert ward_rows(pts, flipped).tolist() == [0, 1, 0, 0, 0]
    rows = ward_rows(pts, wards)
    assert ward_columns(pts, wards, rows=rows)["ward_id"].tolist() == ["a", "a", "b", "b", "b"]
