"""Data contracts between the stages: what each stage writes, what later stages may read."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipeline import contracts
from pipeline._errors import InputDataError, MissingInputError, StaleInputError, ValidationError
from pipeline.paths import ProvincePaths
from pipeline.stage import StageContext, run_pipeline, run_stage
from tests.conftest import town_province


@pytest.fixture(scope="module")
def town_stages(tmp_path_factory):
    """Every stage but the report on the town with its two wards."""
    config, paths = town_province(tmp_path_factory.mktemp("contracts"), wards=True)
    for stage in ("water", "coverage"):
        run_pipeline(stage, config, paths)
    return config, paths


@pytest.fixture
def copy(town_stages, tmp_path):
    """A copy of the town's outputs to break."""
    config, paths = town_stages
    shutil.copytree(paths.outputs, tmp_path / "outputs" / "town")
    return config, ProvincePaths("town", tmp_path)


def _manifest(paths):
    return json.loads(paths.manifest.read_text("utf-8"))


def _rewrite(paths, art, frame, key):
    """Write ``frame`` over an artifact with a stamp of ``key``, as a stage would."""
    frame.attrs = {contracts.STAMP: {"stage": art.stage, "artifact": art.name, "key": key}}
    frame.to_parquet(art.path(paths))


def test_every_artifact_keeps_its_contract(town_stages):
    _, paths = town_stages
    manifest = _manifest(paths)
    for art in contracts.TABLES.values():
        frame = contracts.read_table(paths, art)
        have = set(frame.columns) | set(frame.index.names)
        assert set(art.columns) | set(art.index) <= have, art.label
        assert list(frame.index.names) == list(art.index or frame.index.names), art.label
        assert contracts.table_stamp(art.path(paths))["key"] == manifest[art.stage]["key"]
    for summ in contracts.SUMMARIES.values():
        data = contracts.read_summary(paths, summ)
        assert set(summ.keys) <= set(data), summ.stage
        assert contracts.STAMP not in data  # the stamp is the reader's, not the caller's
        assert data == manifest[summ.stage]["summary"]  # the file says what the manifest says


def test_readers_read_only_what_is_asked(town_stages):
    config, paths = town_stages
    b = contracts.read_table(
        paths, contracts.BUILDINGS, ("floor_area_m2",), geometry="anchor", crs=config.crs
    )
    assert list(b.columns) == ["floor_area_m2", "geometry"]
    assert b.index.name == "building_id"
    assert len(b) == 4
    assert set(shapely.get_type_id(b.geometry.to_numpy())) == {0}  # one point per building
    full = contracts.read_table(paths, contracts.BUILDINGS)
    assert shapely.within(b.geometry.to_numpy(), full.geometry.loc[b.index].to_numpy()).all()
    deep = contracts.read_table(
        paths, contracts.DEEP_BUILDINGS, ("deep",), geometry_if=(("deep", (True,)),)
    )
    assert (deep.geometry.notna() == deep["deep"]).all()  # shapes only where asked
    water = contracts.read_table(paths, contracts.BUILDING_WATER, ("covered",), geometry="none")
    assert isinstance(water, pd.DataFrame)
    assert not isinstance(water, gpd.GeoDataFrame)
    assert list(water.columns) == ["covered"]
    edges = contracts.read_table(paths, contracts.EDGES, ("truck_ok",), geometry="none")
    assert edges.index.names == ["u", "v", "key"]
    with pytest.raises(ValueError, match="not in its contract"):
        contracts.read_table(paths, contracts.EDGES, ("no_such_column",))


def test_wards_and_truck_flags(town_stages):
    config, paths = town_stages
    wards, note = contracts.read_wards(paths, config.crs)
    assert note == "ward polygons"
    assert wards["ward_id"].tolist() == ["W1", "W2"]
    assert wards["name"].tolist() == ["Phường Kinh Bắc", "Xã Hòa Long"]
    nodes, edges = contracts.read_graph(paths)
    assert nodes.index.name == "osmid"
    ok = contracts.truck_flags(paths, edges)
    net = contracts.read_table(paths, contracts.EDGES, ("truck_ok", "truck_connected"))
    expected = (net["truck_ok"] & net["truck_connected"]).reindex(edges.index)
    assert ok.tolist() == expected.tolist()
    assert 0 < ok.sum() < len(ok)  # the footway and the alley are not truck streets


def test_a_missing_artifact_names_the_stage_to_run(tmp_path):
    paths = ProvincePaths("town", tmp_path)
    with pytest.raises(MissingInputError, match=r"network/edges\.parquet: not found; run the "
                       r"network stage first \(make network PROVINCE=town\)"):  # fmt: skip
        contracts.read_table(paths, contracts.EDGES, ("truck_ok",))
    with pytest.raises(MissingInputError, match=r"water/summary\.json: not found"):
        contracts.read_summary(paths, contracts.WATER_SUMMARY)


def test_stale_artifacts_are_refused(copy):
    _, paths = copy
    manifest = _manifest(paths)
    edges = contracts.EDGES.path(paths)
    frame = gpd.read_parquet(edges)
    # Written by hand (no stamp): not a stage's output.
    frame.attrs = {}
    frame.to_parquet(edges)
    with pytest.raises(StaleInputError, match=r"edges\.parquet: stale: no stage key"):
        contracts.read_table(paths, contracts.EDGES, ("truck_ok",))
    # Written by an older network run than the one the manifest records.
    _rewrite(paths, contracts.EDGES, frame, "0ld" * 20)
    with pytest.raises(StaleInputError, match=r"written by a network run with key 0ld0ld"):
        contracts.read_table(paths, contracts.EDGES, ("truck_ok",))
    with pytest.raises(StaleInputError, match="make network PROVINCE=town FORCE=1"):
        contracts.truck_flags(paths, frame)
    # No manifest entry for the stage: nothing says a finished run wrote the files.
    del manifest["network"]
    paths.manifest.write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(StaleInputError, match=r"manifest\.json has no network entry"):
        contracts.read_table(paths, contracts.ALLEYS, ("alley_id",))
    with pytest.raises(StaleInputError, match=r"manifest\.json has no network entry"):
        contracts.read_summary(paths, contracts.NETWORK_SUMMARY)
    # The ingest artifacts are still fine.
    assert len(contracts.read_table(paths, contracts.BUILDINGS, ("floor_area_m2",))) == 4


@pytest.mark.parametrize("column", ["truck_ok", "truck_connected"])
def test_a_missing_upstream_column_is_an_error_not_a_default(copy, column):
    """Coverage and water never guess the truck streets: no column, no run."""
    config, paths = copy
    key = _manifest(paths)["network"]["key"]
    original = gpd.read_parquet(contracts.EDGES.path(paths))
    frame = original.drop(columns=column)
    _rewrite(paths, contracts.EDGES, frame, key)
    with pytest.raises(InputDataError, match=rf"edges\.parquet: column\(s\) {column} "
                       r"missing; rerun the network stage"):  # fmt: skip
        contracts.truck_flags(paths, frame.set_index(["u", "v", "key"]))
    for stage in ("coverage", "water"):
        with pytest.raises(InputDataError, match=rf"network/edges\.parquet: column\(s\) {column}"):
            run_stage(stage, config, paths, force=True)
        assert stage not in _manifest(paths)  # no half-made outputs left as done
    # An edge of the street graph the network stage did not classify is an error too.
    _rewrite(paths, contracts.EDGES, original.iloc[1:], key)
    _, graph_edges = contracts.read_graph(paths)
    with pytest.raises(InputDataError, match=r"1 ingest edge\(s\) missing"):
        contracts.truck_flags(paths, graph_edges)
    # A summary key the report reads, missing.
    summary = contracts.NETWORK_SUMMARY.path(paths)
    data = json.loads(summary.read_text("utf-8"))
    del data["truck_min_width_m"]
    summary.write_text(json.dumps(data), "utf-8")
    with pytest.raises(InputDataError, match=r"summary\.json: key\(s\) truck_min_width_m missing"):
        contracts.read_summary(paths, contracts.NETWORK_SUMMARY)


def test_another_crs_is_an_error(copy):
    config, paths = copy
    key = _manifest(paths)["ingest"]["key"]
    wards = gpd.read_parquet(contracts.WARDS.path(paths)).to_crs(4326)
    _rewrite(paths, contracts.WARDS, wards, key)
    with pytest.raises(InputDataError, match=r"wards\.parquet: CRS EPSG:4326 is not the project"):
        contracts.read_wards(paths, config.crs)


def test_stages_write_only_what_their_contract_promises(copy):
    config, paths = copy
    ctx = StageContext(stage="network", config=config, paths=paths, key="k")
    edges = contracts.read_table(paths, contracts.EDGES)
    with pytest.raises(ValidationError, match=r"network/edges lacks column.* truck_ok"):
        contracts.write_table(ctx, contracts.EDGES, edges.drop(columns="truck_ok"))
    with pytest.raises(ValidationError, match="cannot write water/sources"):
        contracts.write_table(ctx, contracts.SOURCES, edges)
    with pytest.raises(ValidationError, match=r"lacks key.* truck_min_width_m"):
        contracts.write_summary(ctx, contracts.NETWORK_SUMMARY, {"street_km": 1.0})
    assert not list(paths.outputs.rglob("*.tmp"))  # refused before anything was written
    contracts.write_table(ctx, contracts.EDGES, edges)
    written = contracts.EDGES.path(paths).with_name("edges.parquet.tmp")
    assert contracts.table_stamp(written) == {"stage": "network", "artifact": "edges", "key": "k"}
    assert edges.attrs == {}  # the caller's frame is left as it was
    back = gpd.read_parquet(written)
    assert back.index.names == ["u", "v", "key"]
    assert np.array_equal(back["truck_ok"].to_numpy(), edges["truck_ok"].to_numpy())


def test_read_table_equals_geopandas_on_every_artifact(town_stages):
    """The fast reader (Arrow + one WKB decode) gives what geopandas' own reader gives."""
    _, paths = town_stages
    checked = 0
    for art in contracts.TABLES.values():
        path = art.path(paths)
        if not path.exists():
            continue
        ours = contracts.read_table(paths, art)
        theirs = gpd.read_parquet(path) if b"geo" in _schema_meta(path) else pd.read_parquet(path)
        theirs.attrs = {}
        keys = [c for c in art.index if c in theirs.columns]
        theirs = theirs.set_index(keys) if keys else theirs
        assert type(ours) is type(theirs), art.label
        if isinstance(ours, gpd.GeoDataFrame):
            assert ours.crs == theirs.crs, art.label
            assert ours.geometry.geom_equals_exact(theirs.geometry, 0).all(), art.label
            ours, theirs = (pd.DataFrame(f.drop(columns=f.geometry.name)) for f in (ours, theirs))
        pd.testing.assert_frame_equal(ours, theirs, check_exact=True, obj=art.label)
        checked += 1
    assert checked >= 25


def _schema_meta(path):
    import pyarrow.parquet as pq

    return pq.read_schema(path).metadata or {}


def test_tables_are_standard_geoparquet(town_stages):
    """Every table is GeoParquet 1.x with WKB geometry (QGIS/GDAL read it), snappy-compressed."""
    import pyarrow.parquet as pq

    _, paths = town_stages
    path = contracts.BUILDINGS.path(paths)
    geo = json.loads(_schema_meta(path)[b"geo"])
    assert geo["version"].startswith("1.")
    assert geo["primary_column"] == "geometry"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB"
    assert set(column["geometry_types"]) <= {"Polygon", "MultiPolygon"}
    assert column["crs"]["id"] == {"authority": "EPSG", "code": 32648}
    meta = pq.ParquetFile(path).metadata
    codecs = {meta.row_group(0).column(i).compression for i in range(meta.num_columns)}
    assert codecs == {"SNAPPY"}
    buildings = gpd.read_parquet(path)
    assert len(buildings) == len(contracts.read_table(paths, contracts.BUILDINGS, ()))
    assert shapely.is_valid(buildings.geometry.to_numpy()).all()


def _frame_for_row_groups(n):
    """A frame whose columns change Arrow inference between row groups (None first, then text)."""
    rng = np.random.default_rng(7)
    geoms = shapely.buffer(shapely.points(rng.uniform(0, 1000, (n, 2))), rng.uniform(1, 5, n))
    geoms[3] = None  # a missing geometry
    geoms[n - 2] = shapely.multipolygons([geoms[n - 2], shapely.box(2000, 2000, 2001, 2001)])
    return gpd.GeoDataFrame(
        {
            "name": [None] * (n // 2) + [f"phố {i}" for i in range(n - n // 2)],
            "kind": pd.Categorical(rng.choice(["house", "shop", "school"], n)),
            "width_m": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(1, 9, n)),
            "lanes": pd.array(np.where(rng.random(n) < 0.2, None, 2), dtype="Int64"),
        },
        geometry=geoms,
        index=pd.Index(np.arange(n) * 3 + 10, name="building"),
        crs="EPSG:32648",
    )


@pytest.mark.parametrize("n", [0, 1, 25, 1000])
def test_tables_are_written_by_row_group_as_to_parquet_writes_them(tmp_path, monkeypatch, n):
    """Row-group writing gives to_parquet's schema, pandas/geo/attrs metadata and values."""
    import pyarrow.parquet as pq

    from pipeline import _io

    monkeypatch.setattr(_io, "PARQUET_ROW_GROUP_ROWS", 7)
    for frame in (_frame_for_row_groups(max(n, 4)).iloc[:n], pd.DataFrame(
        {"node": np.arange(n), "time_s": np.linspace(0, 1, n), "label": ["a"] * n}
    )):  # fmt: skip
        frame.attrs = {contracts.STAMP: {"stage": "x", "key": "k"}}
        theirs, ours = tmp_path / "theirs.parquet", tmp_path / "ours.parquet"
        frame.to_parquet(theirs, index=True, compression=_io.PARQUET_COMPRESSION)
        _io.write_parquet(frame, ours)
        assert pq.read_schema(ours).equals(pq.read_schema(theirs), check_metadata=True)
        assert pq.read_table(ours).equals(pq.read_table(theirs))
        assert pq.ParquetFile(ours).num_row_groups == max(-(-n // 7), 1)
        read = gpd.read_parquet if isinstance(frame, gpd.GeoDataFrame) else pd.read_parquet
        pd.testing.assert_frame_equal(read(ours), read(theirs), check_exact=True)
        if n:
            pd.testing.assert_frame_equal(read(ours), frame, check_exact=True)


def test_graph_edges_maxspeed_is_read_when_the_file_has_it(copy):
    _, paths = copy
    asked = ("highway", "maxspeed", "oneway", "reversed", "length")
    edges = contracts.read_table(paths, contracts.GRAPH_EDGES, asked)
    every = contracts.read_table(paths, contracts.GRAPH_EDGES)
    assert set(edges.columns) == {*asked, "geometry"}
    assert edges.equals(every[list(edges.columns)])
    # a graph without maxspeed tags: the optional column is left out, not an error
    path = contracts.GRAPH_EDGES.path(paths)
    stamp = contracts.table_stamp(path)
    _rewrite(paths, contracts.GRAPH_EDGES, every.drop(columns="maxspeed"), stamp["key"])
    edges = contracts.read_table(paths, contracts.GRAPH_EDGES, asked)
    assert "maxspeed" not in edges.columns
    assert len(edges) == len(every)
