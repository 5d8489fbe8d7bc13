"""The synthetic province generator: determinism, shape, and ingestion like real data."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
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
from pipeline.synth import URBAN_COMBS, SynthSpec, _comb_template, generate
from tests.conftest import Project

TINY = 0.001
BAC_NINH_BBOX = (105.88, 20.97, 107.03, 21.63)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate(TINY, seed=7, cache_dir=tmp_path_factory.mktemp("synth"))


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


def test_same_seed_same_file_other_seed_other_file(tiny, tmp_path):
    again = generate(TINY, seed=7, cache_dir=tmp_path / "a")
    other = generate(TINY, seed=8, cache_dir=tmp_path / "b")
    assert file_sha256(again.pbf) == file_sha256(tiny.pbf)
    assert file_sha256(other.pbf) != file_sha256(tiny.pbf)


def test_cache_is_reused_unless_forced(tmp_path):
    ds = generate(TINY, seed=3, cache_dir=tmp_path)
    mtime = ds.pbf.stat().st_mtime_ns
    assert generate(TINY, seed=3, cache_dir=tmp_path).pbf.stat().st_mtime_ns == mtime
    forced = generate(TINY, seed=3, cache_dir=tmp_path, force=True)
    assert forced.pbf.stat().st_mtime_ns != mtime
    timing = {"layout_s", "write_s"}
    assert {k: v for k, v in forced.meta.items() if k not in timing} == {
        k: v for k, v in ds.meta.items() if k not in timing
    }


def test_tiny_is_a_few_hundred_buildings_inside_bac_ninh(tiny):
    assert 200 <= tiny.meta["buildings"] <= 1500
    assert tiny.meta["stations"] >= 1
    assert tiny.meta["hydrants"] >= 1
    ring = np.array(
        json.loads(tiny.boundary.read_text())["features"][0]["geometry"]["coordinates"][0]
    )
    lon0, lat0, lon1, lat1 = BAC_NINH_BBOX
    assert ((ring[:, 0] > lon0) & (ring[:, 0] < lon1)).all()
    assert ((ring[:, 1] > lat0) & (ring[:, 1] < lat1)).all()


def test_tiny_goes_through_ingest(tiny, tiny_ingested):
    paths, s = tiny_ingested
    assert s["buildings"] == tiny.meta["buildings"]
    assert s["stations"] == tiny.meta["stations"]
    assert s["water_points"] == tiny.meta["hydrants"]
    assert s["water_bodies"] >= 1  # the village pond
    wards = gpd.read_parquet(paths.artifact("ingest", "wards"))
    assert s["wards"] == tiny.meta["wards"] == 2  # one phường (the urban cell), one xã
    assert sorted(wards["ward_type"]) == ["phường", "xã"]
    assert not wards["approximate"].any()
    boundary = gpd.read_parquet(paths.artifact("ingest", "boundary")).geometry.iloc[0]
    assert wards.area.sum() == pytest.approx(boundary.area, rel=1e-3)
    nodes, edges = read_graph_layers(
        paths.artifact("ingest", "graph_nodes"), paths.artifact("ingest", "graph_edges")
    )
    # One connected street network: every alley hangs off a street.
    pos = {n: i for i, n in enumerate(nodes.index)}
    u = np.array([pos[x] for x in edges.index.get_level_values("u")])
    v = np.array([pos[x] for x in edges.index.get_level_values("v")])
    adj = sparse.coo_matrix((np.ones(len(u)), (u, v)), shape=(len(pos), len(pos)))
    n_comp, _ = csgraph.connected_components(adj, directed=True, connection="weak")
    assert n_comp == 1
    alleys = edges[edges["service"] == "alley"]
    assert len(alleys) > len(edges) / 2
    assert alleys["name"].str.match(r"^(Ngõ|Ngách) ").all()


def test_facing_houses_are_one_alley_width_apart(tiny_ingested):
    """Every tagged alley has houses whose faces sit exactly half its width from its axis."""
    paths, _ = tiny_ingested
    _, edges = read_graph_layers(
        paths.artifact("ingest", "graph_nodes"), paths.artifact("ingest", "graph_edges")
    )
    buildings = gpd.read_parquet(paths.artifact("ingest", "buildings"))
    tagged = edges[edges["width"].notna() & ~edges["reversed"]]
    assert len(tagged) > 0
    tree = shapely.STRtree(buildings.geometry.to_numpy())
    _, dist = tree.query_nearest(tagged.geometry.to_numpy(), return_distance=True)
    # Only the nearest building per edge is returned (ties aside): it faces the alley.
    assert np.allclose(dist, tagged["width"].astype(float).to_numpy() / 2, atol=0.02)


def test_comb_template_rows_face_each_other_across_the_alley():
    spec = URBAN_COMBS[0]
    xy, lens, kinds = _comb_template(spec)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    houses = [xy[s : s + n] for s, n, k in zip(starts, lens, kinds, strict=True) if k == "house"]
    polys = shapely.polygons(np.stack(houses))
    assert len(polys) == kinds.count("house")
    # No two houses overlap (row houses only share walls).
    i, _ = shapely.STRtree(polys).query(polys, predicate="overlaps")
    assert len(i) == 0
    # Houses nearest to the spine axis start exactly half the spine width away.
    spine = shapely.LineString([(0, 0), (0, spec.levels * spec.spacing_m)])
    assert shapely.distance(spine, polys).min() == pytest.approx(spec.spine_width_m / 2)
    assert max(np.abs(h[:, 1]).max() for h in houses) == pytest.approx(spec.depth_m)


def test_sizes_grow_linearly_with_scale():
    cells = {s: SynthSpec.for_scale(s) for s in (0.125, 0.25, 0.5, 1.0)}
    n = {s: c.cells_x * c.cells_y for s, c in cells.items()}
    assert n[1.0] / n[0.125] == pytest.approx(8, rel=0.15)
    assert cells[1.0].urban_wards == 9
    assert cells[1.0].river_rows
    with pytest.raises(ConfigError, match="scale"):
        SynthSpec.for_scale(0)
