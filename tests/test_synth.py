"""The Bắc Ninh-shaped province generator: determinism, shape, OSM content, ingestion."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pytest
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from pipeline._errors import ConfigError
from pipeline._io import file_sha256
from pipeline.config import load_config
from pipeline.graph import read_graph_layers
from pipeline.paths import ProvincePaths
from pipeline.stage import run_pipeline
from tests.conftest import Project
from tools.synth import (
    URBAN_COMBS,
    Road,
    _comb_template,
    generate,
    generate_layout,
    insert_points,
    load_reference,
)

TINY = 0.002


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate(TINY, seed=7, cache_dir=tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="module")
def tiny_osm(tiny):
    """Every way's and relation's tags, and ways' node counts, read back with osmium."""
    ways, rels = [], []
    for o in osmium.FileProcessor(str(tiny.pbf), osmium.osm.WAY | osmium.osm.RELATION):
        if o.is_way():
            ways.append({**dict(o.tags), "_nodes": len(o.nodes)})
        else:
            rels.append({**dict(o.tags), "_members": len(o.members)})
    return pd.DataFrame(ways), pd.DataFrame(rels)


@pytest.fixture(scope="module")
def tiny_ingested(tiny, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("proj") / "root")
    project.province(
        "synth_tiny",
        {
            "osm": {"file": str(tiny.pbf)},
            "boundary": {"file": str(tiny.boundary)},
            "wards": {"file": str(tiny.wards)},
        },
    )
    paths = ProvincePaths("synth_tiny", project.root)
    result = run_pipeline("ingest", load_config("synth_tiny", root=project.root), paths)
    return paths, result["ingest"]["summary"]


def test_cached_unless_forced_and_the_same_seed_gives_the_same_file(tmp_path):
    ds = generate(TINY, seed=3, cache_dir=tmp_path)
    sha, mtime = file_sha256(ds.pbf), ds.pbf.stat().st_mtime_ns
    assert generate(TINY, seed=3, cache_dir=tmp_path).pbf.stat().st_mtime_ns == mtime
    forced = generate(TINY, seed=3, cache_dir=tmp_path, force=True)
    assert forced.pbf.stat().st_mtime_ns != mtime
    assert file_sha256(forced.pbf) == sha
    timing = {"layout_s", "write_s"}
    assert {k: v for k, v in forced.meta.items() if k not in timing} == {
        k: v for k, v in ds.meta.items() if k not in timing
    }
    other = generate(TINY, seed=4, cache_dir=tmp_path)
    assert file_sha256(other.pbf) != sha


def test_the_province_is_bac_ninh_with_its_99_communes(tiny):
    ref = load_reference()
    assert ref.boundary.area / 1e6 == pytest.approx(4711, rel=0.01)
    boundary = gpd.read_file(tiny.boundary).to_crs(32648).geometry.iloc[0]
    assert boundary.area / 1e6 == pytest.approx(4711, rel=0.01)
    wards = gpd.read_file(tiny.wards).to_crs(32648)
    assert len(wards) == 99
    assert wards.area.sum() == pytest.approx(boundary.area, rel=1e-3)
    assert (wards["type"] == "phường").sum() == 33
    # Every commune's cell holds its own centroid (Voronoi cells of the centroids).
    pts = shapely.points(ref.communes[["x", "y"]].to_numpy())
    by_code = wards.set_index("code").geometry
    cells = by_code.loc[ref.communes["code"]].to_numpy()
    assert shapely.contains(cells, pts).all()


def test_osm_content_has_every_ingredient(tiny, tiny_osm):
    ways, rels = tiny_osm
    hw = ways["highway"].value_counts()
    for cls in ("motorway", "motorway_link", "trunk", "secondary", "tertiary", "unclassified",
                "residential", "service"):  # fmt: skip
        assert hw.get(cls, 0) > 0, cls
    links = ways[ways["highway"] == "motorway_link"]
    assert (links["oneway"] == "yes").all()
    assert (ways.loc[ways["highway"] == "motorway", "oneway"] == "yes").all()
    assert ways["lanes"].notna().any()
    assert ways["width"].notna().any()  # a few alleys carry a width, for validation
    assert ways["bridge"].eq("yes").any()
    assert ways["name"].str.startswith("Ngõ ", na=False).any()
    assert ways["name"].str.startswith("Ngách ", na=False).any()
    assert ways["name"].str.startswith("Đê ", na=False).any()
    assert ways["service"].eq("driveway").any()
    assert ways["building"].eq("industrial").any()
    assert ways["water"].dropna().isin(["pond", "lake", "river"]).all()
    assert ways["water"].eq("pond").any()
    assert ways["waterway"].eq("river").sum() >= 4
    assert ways["addr:housenumber"].notna().any()
    assert tiny.meta["hydrants"] >= 1
    assert tiny.meta["stations"] >= 10
    # Relations: the province at level 4, the 99 communes at level 8 with ref and population.
    assert (rels["boundary"] == "administrative").all()
    prov = rels[rels["admin_level"] == "4"]
    assert prov["name"].tolist() == ["Tỉnh Bắc Ninh"]
    communes = rels[rels["admin_level"] == "8"]
    ref = load_reference().communes
    assert sorted(communes["ref"]) == sorted(ref["code"])
    assert communes["population"].astype(int).sum() == ref["population_2025"].sum()
    assert communes["name"].str.match(r"^(Phường|Xã) ").all()


def test_buildings_follow_population():
    ref = load_reference()
    layout = generate_layout(0.04, 5, ref)
    assert layout.counts["buildings"] == pytest.approx(
        0.37 * 0.04 * ref.communes["population_2025"].sum(), rel=0.25
    )
    bigger = generate_layout(0.08, 5, ref)
    assert bigger.counts["buildings"] / layout.counts["buildings"] == pytest.approx(2, rel=0.2)
    with pytest.raises(ConfigError, match="scale"):
        generate_layout(0, 5, ref)


def test_tiny_goes_through_ingest(tiny, tiny_ingested):
    paths, s = tiny_ingested
    assert s["buildings"] == tiny.meta["buildings"]
    assert s["stations"] == tiny.meta["stations"]
    assert s["water_points"] == tiny.meta["hydrants"]
    assert s["admin_areas"] >= 100
    assert s["boundary_km2"] == pytest.approx(4711, rel=0.01)
    wards = gpd.read_parquet(paths.artifact("ingest", "wards"))
    assert len(wards) == 99
    assert not wards["approximate"].any()
    nodes, edges = read_graph_layers(
        paths.artifact("ingest", "graph_nodes"), paths.artifact("ingest", "graph_edges")
    )
    # One street network: nearly every node in the largest (weak) component; the rest are
    # pieces cut off by rivers without a bridge.
    pos = pd.Index(nodes.index)
    u = pos.get_indexer(edges.index.get_level_values("u"))
    v = pos.get_indexer(edges.index.get_level_values("v"))
    adj = sparse.coo_matrix((np.ones(len(u)), (u, v)), shape=(len(pos), len(pos)))
    _, label = csgraph.connected_components(adj, directed=True, connection="weak")
    assert np.bincount(label).max() / len(pos) > 0.9
    alleys = edges[edges["service"] == "alley"]
    assert len(alleys) > 0
    assert alleys["name"].str.match(r"^(Ngõ|Ngách) ").all()


def test_facing_houses_are_one_alley_width_apart(tiny_ingested):
    """Every tagged alley has houses whose faces sit exactly half its width from its axis."""
    paths, _ = tiny_ingested
    _, edges = read_graph_layers(
        paths.artifact("ingest", "graph_nodes"), paths.artifact("ingest", "graph_edges")
    )
    buildings = gpd.read_parquet(paths.artifact("ingest", "buildings"))
    tagged = edges[edges["width"].notna() & ~edges["reversed"] & (edges["service"] == "alley")]
    assert len(tagged) > 0
    tree = shapely.STRtree(buildings.geometry.to_numpy())
    _, dist = tree.query_nearest(tagged.geometry.to_numpy(), return_distance=True)
    assert np.allclose(dist, tagged["width"].astype(float).to_numpy() / 2, atol=0.05)


def test_comb_template_rows_face_each_other_across_the_alley():
    spec = URBAN_COMBS[0]
    xy, lens, kinds = _comb_template(spec)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    houses = [xy[s : s + n] for s, n, k in zip(starts, lens, kinds, strict=True) if k == "house"]
    polys = shapely.polygons(np.stack(houses))
    assert len(polys) == kinds.count("house") == spec.houses
    i, _ = shapely.STRtree(polys).query(polys, predicate="overlaps")
    assert len(i) == 0
    spine = shapely.LineString([(0, 0), (0, spec.levels * spec.spacing_m)])
    assert shapely.distance(spine, polys).min() == pytest.approx(spec.spine_width_m / 2)
    assert max(np.abs(h[:, 1]).max() for h in houses) == pytest.approx(spec.depth_m)


def test_insert_points_puts_each_point_in_order_on_its_road():
    roads = [Road(np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]]), {}),
             Road(np.array([[0.0, 5.0], [0.0, 15.0]]), {})]  # fmt: skip
    lines, pos = insert_points(roads, np.array([0, 1, 0]), np.array([15.0, 2.0, 4.0]),
                               np.array([[15.0, 0.0], [0.0, 7.0], [4.0, 0.0]]))  # fmt: skip
    assert lines[0][:, 0].tolist() == [0.0, 4.0, 10.0, 15.0, 20.0]
    assert lines[1][:, 1].tolist() == [5.0, 7.0, 15.0]
    assert pos.tolist() == [3, 1, 1]


def test_geojson_files_are_wgs84(tiny):
    fc = json.loads(tiny.wards.read_text(encoding="utf-8"))
    lon, lat = np.array(
        [c for f in fc["features"] for poly in f["geometry"]["coordinates"] for c in poly[0]]
    ).T
    assert ((lon > 105.8) & (lon < 107.1)).all()
    assert ((lat > 20.9) & (lat < 21.7)).all()


def test_the_synth_province_takes_its_scale_from_the_command_line(tmp_path):
    from pipeline.cli import apply_overrides, build_parser
    from pipeline.paths import PROJECT_ROOT
    from tools.synth import use_generated

    config = load_config("synth", root=PROJECT_ROOT)
    assert config.synth is not None
    assert config.synth.scale == 1
    used = use_generated(config, scale=TINY, cache_dir=tmp_path)
    assert used.synth.scale == TINY
    folder = tmp_path / f"s{TINY:g}-seed42"
    assert used.osm.file == str(folder / "synth.osm.pbf")
    assert used.boundary.file == str(folder / "boundary.geojson")
    assert used.wards.file == str(folder / "wards.geojson")
    args = build_parser().parse_args(["analyze", "--province", "synth", "--scale", "0.25"])
    assert args.scale == 0.25
    with pytest.raises(ConfigError, match="generated province"):
        apply_overrides(load_config("ha_noi", root=PROJECT_ROOT), osm=None, lang=None, scale=0.5)
    with pytest.raises(ConfigError, match="scale"):
        use_generated(config, scale=3.0, cache_dir=tmp_path)
