"""Truck access on the two real city samples (Hà Nội, HCMC District 5): what issue 11 must show.

Main roads without a width tag or a restriction are passable and never alleys; every station is
on the main truck network with its snap distance; the lists make sense.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.osm_tags import base_highway, parse_length_m
from pipeline.paths import PROJECT_ROOT, ProvincePaths
from pipeline.stage import run_pipeline
from tests.conftest import SHARED_DATA, Project

pytestmark = pytest.mark.shared_data

MAIN = ["motorway", "trunk", "primary", "secondary", "tertiary"]
SAMPLES = {
    "ha_noi": ("hanoi_osm_sample/map.osm", "ha_noi_demo_stations.csv"),
    "hcmc_d5": ("hcmc_d5_osm_sample/map.osm", "hcmc_d5_demo_stations.csv"),
}


@pytest.fixture(scope="module", params=list(SAMPLES))
def sample(request, tmp_path_factory):
    """The network stage on one sample, with the repo's config for it (urban 4 m rule on)."""
    slug = request.param
    osm, stations = SAMPLES[slug]
    project = Project(tmp_path_factory.mktemp(slug) / "project")
    project.province(
        slug,
        {"osm": {"file": str(SHARED_DATA / osm)},
         "access": {"use_urban_renovated_width": True},
         "stations": {"files": [str(PROJECT_ROOT / "data" / "stations" / stations)]}},
    )  # fmt: skip
    paths = ProvincePaths(slug, project.root)
    summary = run_pipeline("network", load_config(slug, root=project.root), paths)["network"]
    return slug, paths, summary["summary"]


def _lower(df, col):
    return df[col].astype("string").str.lower().fillna("") if col in df else ""


def untagged_main_roads(edges):
    """Main roads and their links with no width tag and no restriction (the issue's set)."""
    main = base_highway(edges["highway"]).isin(MAIN)
    no_tag = edges["width"].isna() & edges["est_width"].isna()
    open_ = ~(_lower(edges, "access") == "no") & ~(_lower(edges, "motor_vehicle") == "no")
    low = parse_length_m(edges["maxheight"]) < 4.5
    return main & no_tag & open_ & ~low


def test_main_roads_are_passable_and_never_alleys(sample):
    slug, paths, _ = sample
    e = gpd.read_parquet(paths.artifact("network", "edges"))
    e = e[~e["reversed"]]
    sel = untagged_main_roads(e)
    km = e.loc[sel, "length"].sum()
    assert km > 5000, slug  # both samples have kilometres of main road
    passable = e.loc[sel & (e["truck_status"] == "passable"), "length"].sum()
    assert passable / km >= 0.98, (slug, passable / km)
    assert (e.loc[sel, "alley_id"] == -1).all(), slug
    links = sel & e["highway"].str.endswith("_link")
    assert e.loc[links, "truck_ok"].all()


def test_every_station_is_on_the_main_network(sample):
    slug, paths, summary = sample
    st = gpd.read_parquet(paths.artifact("network", "stations"))
    assert len(st) >= 2
    assert st["connected"].all(), slug
    assert np.isfinite(st["snap_m"]).all()
    assert (st["snap_m"] < 50).all()
    assert summary["stations_unconnected"] == 0
    assert summary["truck_km_reachable_share"] > 0.5


def test_lists_hold_alleys_with_people_behind_them(sample):
    slug, paths, _ = sample
    a = gpd.read_parquet(paths.artifact("network", "alleys"))
    widen = a[a["to_widen"]]
    assert len(widen) > 10, slug
    assert (widen["n_buildings_behind"] > 0).all()
    assert (widen["truck_status"] == "not_passable").all()
    assert (widen["min_width_m"] < widen["truck_min_width_m"]).all()
    assert not widen["highway"].isin(MAIN).any()
    check = a[a["field_check"]]
    assert (check["truck_status"] == "uncertain").all()
    assert not (a["to_widen"] & a["field_check"]).any()
    # The narrowest point of an alley to widen is an alley's width, not an avenue's.
    assert widen["min_width_high_m"].max() < 4.0
    assert widen["length_m"].max() < 1000


def test_known_streets_of_hanoi(sample):
    slug, paths, _ = sample
    if slug != "ha_noi":
        pytest.skip("Hà Nội streets")
    e = gpd.read_parquet(paths.artifact("network", "edges"))
    for name in ("Phố Giảng Võ", "Phố Giang Văn Minh", "Phố Cát Linh"):
        street = e[e["name"] == name]
        assert len(street), name
        assert (street["alley_id"] == -1).all(), name
        # One-lane parts (Cát Linh, Giang Văn Minh) stay truck streets; only restricted parts
        # (an underpass of Giảng Võ, maxheight) are not.
        closed = street["block_reason"] != ""
        assert street.loc[~closed, "truck_ok"].all(), name
    a = gpd.read_parquet(paths.artifact("network", "alleys"))
    widen_names = set(a.loc[a["to_widen"], "name"].dropna())
    assert "Ngõ Thịnh Hào 1" in widen_names
    assert not any(n.startswith(("Phố", "Đường")) for n in widen_names)
