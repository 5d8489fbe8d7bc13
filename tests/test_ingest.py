"""Ingestion of generated OSM files (PBF, XML, Overpass JSON) and of the real Hà Nội sample."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.graph import read_graph_layers, to_graph
from pipeline.paths import ProvincePaths
from pipeline.stage import run_pipeline
from tests.conftest import SHARED_DATA
from tests.osm_fixtures import TOWN_COUNTS, town

#: Summary counts every OSM format must give alike for the reference town.
LAYER_COUNTS = (
    "streets",
    "buildings",
    "water_points",
    "water_bodies",
    "stations",
    "graph_nodes",
    "graph_edges",
)


def _ingest(project, slug="town"):
    paths = ProvincePaths(slug, project.root)
    result = run_pipeline("ingest", load_config(slug, root=project.root), paths)
    return paths, result["ingest"]


def test_town_counts_exact(town_project):
    _paths, entry = _ingest(town_project)
    s = entry["summary"]
    for key in LAYER_COUNTS:
        assert s[key] == TOWN_COUNTS[key], key
    assert s["street_km"] * 1000 == pytest.approx(TOWN_COUNTS["street_m"], abs=1)
    assert s["water_points_by_kind"] == {"fire_hydrant": 2, "water_tank": 1}


def test_town_graph_is_osmnx_compatible(town_project):
    paths, _ = _ingest(town_project)
    nodes, edges = read_graph_layers(
        paths.artifact("ingest", "graph_nodes"), paths.artifact("ingest", "graph_edges")
    )
    G = to_graph(nodes, edges)
    assert isinstance(G, nx.MultiDiGraph)
    assert G.graph["crs"].to_epsg() == 32648
    assert (G.number_of_nodes(), G.number_of_edges()) == (7, 12)
    # Hand-computed lengths (metres) survive the lon/lat round trip.
    assert G.edges[1, 2, 0]["length"] == pytest.approx(100.0, abs=0.03)
    assert G.edges[3, 5, 0]["length"] == pytest.approx(80.0, abs=0.03)
    assert G.edges[5, 3, 0]["reversed"]
    # The primary way A-B-C is split at B, where the residential street joins.
    assert not G.has_edge(1, 3)
    assert G.edges[1, 2, 0]["highway"] == "primary"
    assert G.edges[2, 4, 0]["width"] == "6"
    assert G.edges[1, 7, 0]["oneway"]
    # OSMnx's own functions run on it.
    assert ox.distance.nearest_nodes(G, 199.0 + 590_000, 79.0 + 2_340_000) == 5
    route = ox.routing.shortest_path(G, 1, 5, weight="length")
    assert route == [1, 2, 3, 5]
    stats = ox.stats.basic_stats(G)
    assert stats["street_length_total"] == pytest.approx(530.0, abs=0.1)
    assert dict(G.nodes(data="street_count"))[2] == 3
    assert G.nodes[5]["highway"] == "turning_circle"


def test_town_layers_content(town_project):
    paths, _ = _ingest(town_project)
    b = gpd.read_parquet(paths.artifact("ingest", "buildings"))
    assert b.crs.to_epsg() == 32648
    five = b[b["levels_tag"] == "5"].iloc[0]
    assert five["levels"] == 5
    assert five["footprint_m2"] == pytest.approx(400, rel=1e-4)
    assert five["floor_area_m2"] == pytest.approx(2000, rel=1e-4)
    tall = b[b["height_tag"] == "10"].iloc[0]
    assert tall["levels"] == 3  # 10 m / 3.3 m per storey
    assert tall["levels_source"] == "height"
    house = b[b["building"] == "house"].iloc[0]
    assert house["levels"] == 2
    assert house["levels_source"] == "default"
    st = gpd.read_parquet(paths.artifact("ingest", "stations"))
    assert sorted(st["name"]) == ["PCCC Kinh Bắc", "Đội PCCC số 1"]
    assert set(st["status"]) == {"existing"}
    wb = gpd.read_parquet(paths.artifact("ingest", "water_bodies"))
    assert sorted(wb["kind"]) == ["pond", "river"]
    streets = gpd.read_parquet(paths.artifact("ingest", "streets"))
    assert "construction" not in set(streets["highway"])
    assert set(streets.columns) >= {
        "highway",
        "name",
        "width",
        "est_width",
        "maxwidth",
        "lanes",
        "oneway",
        "access",
        "service",
        "surface",
        "bridge",
        "tunnel",
        "maxheight",
        "motor_vehicle",
    }
    assert streets.set_index("osmid").loc[103, "service"] == "alley"


@pytest.mark.parametrize("suffix", [".osm", ".json"])
def test_xml_and_overpass_json_match_pbf(project, town_boundary, tmp_path, suffix):
    pbf = town().write(tmp_path / "t.osm.pbf")
    other = town().write(tmp_path / f"t{suffix}")
    project.province("a", {"osm": {"file": str(pbf)}, "boundary": {"file": str(town_boundary)}})
    project.province("b", {"osm": {"file": str(other)}, "boundary": {"file": str(town_boundary)}})
    pa, ea = _ingest(project, "a")
    pb, eb = _ingest(project, "b")
    for key in (*LAYER_COUNTS, "street_km"):
        assert ea["summary"][key] == eb["summary"][key], key
    ea_edges = gpd.read_parquet(pa.artifact("ingest", "graph_edges"))
    eb_edges = gpd.read_parquet(pb.artifact("ingest", "graph_edges"))
    pd.testing.assert_series_equal(
        ea_edges.sort_values(["u", "v", "key"])["length"].reset_index(drop=True),
        eb_edges.sort_values(["u", "v", "key"])["length"].reset_index(drop=True),
    )


def test_authority_station_csv(town_project, tmp_path):
    csv = tmp_path / "stations.csv"
    from tests.osm_fixtures import lonlat

    lon, lat = lonlat(150, 50)
    csv.write_text(
        "name_vi,status,lat,lon\n"
        f"Đội PCCC khu vực 2,planned,{lat},{lon}\n"
        "Đội không toạ độ,existing,,\n"
        f"Đội sai trạng thái,closed,{lat},{lon}\n",
        encoding="utf-8",
    )
    town_project.province(
        "town",
        {
            "osm": {"file": str(tmp_path / "town.osm.pbf")},
            "boundary": {"file": str(tmp_path / "boundary.geojson")},
            "stations": {"files": [str(csv)]},
        },
    )
    paths, entry = _ingest(town_project)
    st = gpd.read_parquet(paths.artifact("ingest", "stations"))
    assert len(st) == 3
    planned = st[st["status"] == "planned"]
    assert list(planned["name"]) == ["Đội PCCC khu vực 2"]
    assert planned.geometry.iloc[0].x == pytest.approx(590_150, abs=0.01)
    rejects = {(r["line"], r["reason"]) for r in entry["summary"]["station_rejects"]}
    assert rejects == {
        (3, "no coordinates"),
        (4, ("unknown status 'closed' (write hiện có / quy hoạch / đang xây dựng, "
             "or existing / planned)")),
    }  # fmt: skip
    csv_rejects = pd.read_csv(paths.artifact("ingest", "rejects"))
    assert csv_rejects["line"].tolist() == [3, 4]
    assert set(csv_rejects["file"]) == {"stations.csv"}
    assert entry["summary"]["authority_files"] == [
        {"file": "stations.csv", "what": "stations", "rows": 3, "used": 1, "skipped": 2,
         "skipped_by_reason": {"no coordinates": 1, csv_rejects["reason"].iloc[1]: 1}},
    ]  # fmt: skip


def test_second_run_is_cache_hit_and_config_change_reruns(town_project):
    _paths, first = _ingest(town_project)
    _, second = _ingest(town_project)
    assert second == first
    town_project.province(
        "town",
        {
            "osm": {"file": first["summary"]["source"]},
            "boundary": {"file": str(town_project.root.parent / "boundary.geojson")},
            "buildings": {"default_levels": {"value": 3, "unit": "storeys", "source": "test"}},
        },
    )
    _, third = _ingest(town_project)
    assert third["key"] != first["key"]


@pytest.mark.shared_data
def test_real_hanoi_xml_sample():
    """The real ODbL export of central Hà Nội (see ../shared/data/PROVENANCE.md)."""
    from pipeline.boundary import load_boundary
    from pipeline.config import BoundaryConfig
    from pipeline.graph import build_edges, clip_edges
    from pipeline.osm_read import read_osm

    layers = read_osm(SHARED_DATA / "hanoi_osm_sample" / "map.osm")
    assert len(layers.buildings) == 497  # PROVENANCE.md: 497 buildings
    assert len(layers.water_points) == 0
    boundary = load_boundary(BoundaryConfig(), layers, crs="EPSG:32648").polygon
    nodes, edges = build_edges(
        layers.streets, layers.street_refs, layers.street_lonlat, crs="EPSG:32648"
    )
    nodes, edges = clip_edges(nodes, edges, boundary)
    alleys = edges[(edges["service"] == "alley") & ~edges["reversed"]]
    assert alleys["osmid"].nunique() == 46  # PROVENANCE.md: 46 service=alley ways
    named = layers.streets["name"].fillna("").str.match(r"^(Ngõ|Ngách)")
    assert named.sum() > 50


@pytest.mark.shared_data
def test_real_overpass_json_matches_osmnx():
    """Overpass JSON of Hà Nội: our graph has OSMnx's node set and street length."""
    from pipeline.graph import build_edges
    from pipeline.osm_read import read_osm

    path = SHARED_DATA / "hanoi_osm_sample" / "overpass_highways_hanoi_center_2023-12-13.json"
    layers = read_osm(path)
    assert len(layers.streets) == 5074  # PROVENANCE.md: 5,074 ways, all highways
    nodes, edges = build_edges(
        layers.streets, layers.street_refs, layers.street_lonlat, crs="EPSG:32648"
    )
    import json

    from osmnx import graph as oxg

    G = oxg._create_graph([json.loads(path.read_text())], bidirectional=True)
    G = ox.simplify_graph(G, track_merged=False)
    G = ox.project_graph(G, to_crs="EPSG:32648")
    ox_len = sum(d["length"] for _, _, d in ox.convert.to_undirected(G).edges(data=True))
    ours = edges.loc[~edges["reversed"], "length"].sum()
    # OSMnx measures great-circle lengths; ours are UTM lengths (scale factor ~0.9996-1.0).
    assert ours == pytest.approx(ox_len, rel=2e-3)
    assert math.isclose(len(nodes), 8158, rel_tol=0.25)
    assert np.isfinite(edges["length"]).all()


def test_oneway_minus_one_allows_travel_against_the_way(project, town_boundary, tmp_path):
    from tests.osm_fixtures import OsmBuilder

    b = OsmBuilder()
    n1, n2, n3 = b.node(0, 0, nid=1), b.node(100, 0, nid=2), b.node(0, 50, nid=3)
    b.way([n1, n2], {"highway": "residential", "oneway": "-1"}, wid=1)
    b.way([n1, n3], {"highway": "residential"}, wid=2)
    pbf = b.write(tmp_path / "ow.osm.pbf")
    project.province("ow", {"osm": {"file": str(pbf)}, "boundary": {"file": str(town_boundary)}})
    paths, _ = _ingest(project, "ow")
    edges = gpd.read_parquet(paths.artifact("ingest", "graph_edges")).set_index(["u", "v"])
    # Traffic may go 2 -> 1 only: that copy is the non-reversed one, and its geometry runs 2 -> 1.
    assert not edges.loc[(2, 1), "reversed"].item()
    assert edges.loc[(1, 2), "reversed"].item()
    assert edges.loc[(2, 1), "oneway"].item()
    assert edges.loc[[(2, 1)]].geometry.iloc[0].coords[0][0] == pytest.approx(590_100, abs=0.05)


def test_partial_ways_keep_their_pieces_and_are_counted(project, town_boundary, tmp_path):
    """A street way with absent nodes keeps each run of 2+ present nodes; buildings are counted."""
    from tests.osm_fixtures import OsmBuilder

    b = OsmBuilder()
    ids = [b.node(x, 0, nid=i + 1) for i, x in enumerate((0, 50, 100, 150, 200, 250))]
    # Way 1: A B C [99] D E [98] F -> pieces A-B-C and D-E (F alone is dropped).
    b.way([ids[0], ids[1], ids[2], 99, ids[3], ids[4], 98, ids[5]],
          {"highway": "residential", "name": "Phố Cắt", "sidewalk": "both",
           "maxwidth:physical": "2.4", "hgv": "no"}, wid=1)  # fmt: skip
    # Way 2: every node but one absent: nothing kept.
    b.way([97, ids[0], 96], {"highway": "service"}, wid=2)
    # A whole street, so the graph has something to stand on.
    n7 = b.node(0, 60, nid=7)
    b.way([ids[0], n7], {"highway": "residential"}, wid=3)
    # Buildings: one whole (with an address), one with an absent corner.
    b.rect(20, 10, 40, 30, {"building": "house", "addr:housenumber": "12",
                            "addr:street": "Phố Cắt"})  # fmt: skip
    c = [b.node(60, 10), b.node(80, 10), b.node(80, 30)]
    b.way([*c, 95, c[0]], {"building": "yes"}, wid=4)
    pbf = b.write(tmp_path / "partial.osm.pbf")
    project.province("partial", {"osm": {"file": str(pbf)},
                                 "boundary": {"file": str(town_boundary)}})  # fmt: skip
    paths, entry = _ingest(project, "partial")
    s = entry["summary"]
    assert s["partial_street_ways"] == {
        "street_ways_with_missing_nodes": 2, "street_nodes_missing": 4, "street_pieces_kept": 2,
    }  # fmt: skip
    assert s["skipped"] == {"street ways with fewer than 2 nodes present": 1,
                            "buildings with nodes missing from the file": 1}  # fmt: skip
    streets = gpd.read_parquet(paths.artifact("ingest", "streets"))
    cut = streets[streets["osmid"] == 1]
    assert sorted(cut.length.round(1)) == [50.0, 100.0]
    assert (cut["name"] == "Phố Cắt").all()
    assert (cut["sidewalk"] == "both").all()
    assert (cut["maxwidth:physical"] == "2.4").all()
    assert (cut["hgv"] == "no").all()
    edges = gpd.read_parquet(paths.artifact("ingest", "graph_edges"))
    # Piece A-B-C is one edge (B is shared by no other way), D-E another, plus A-G.
    assert sorted(edges.loc[~edges["reversed"], "length"].round(1)) == [50.0, 60.0, 100.0]
    buildings = gpd.read_parquet(paths.artifact("ingest", "buildings"))
    assert len(buildings) == 1
    assert buildings[["addr:housenumber", "addr:street"]].iloc[0].tolist() == ["12", "Phố Cắt"]
