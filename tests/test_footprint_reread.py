"""Building footprints read back or copied into a stage's building table."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from pipeline import _io, contracts, footprint_reread
from pipeline._errors import InputDataError, ValidationError
from pipeline.footprint_reread import read_footprints, write_with_footprints
from pipeline.stage import StageContext, run_pipeline
from tests.conftest import town_province


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """The town's ingest outputs (its buildings table)."""
    config, paths = town_province(tmp_path_factory.mktemp("footprints"))
    run_pipeline("ingest", config, paths)
    return config, paths


def _table(paths, crs):
    """A building table as the water stage makes it: floats with NaN, text with None, flags."""
    ids = contracts.read_table(paths, contracts.BUILDINGS, (), geometry="none", crs=crs).index
    n = len(ids)
    rng = np.random.default_rng(0)
    dist = rng.uniform(0, 300, n)
    dist[::3] = np.nan
    return gpd.pd.DataFrame(
        {"floor_area_m2": rng.uniform(20, 500, n), "hydrant_distance_m": dist,
         "natural_distance_m": dist * 2, "water_distance_m": dist,
         "nearest_source_id": np.where(np.isnan(dist), None, "h1"),
         "nearest_source_kind": np.where(np.isnan(dist), None, "hydrant"),
         "covered": dist < 100, "street_gap_m": rng.uniform(0, 50, n),
         "ward_id": np.where(np.arange(n) % 2, "w1", None)},
        index=ids,
    )  # fmt: skip


@pytest.mark.parametrize("group_rows", [1, 3, 1_000_000])
def test_copied_footprints_write_the_same_file(ingested, tmp_path, monkeypatch, group_rows):
    config, paths = ingested
    # small row groups: several groups, cut across the buildings table's own row groups
    monkeypatch.setattr(_io, "PARQUET_ROW_GROUP_ROWS", group_rows)
    monkeypatch.setattr(footprint_reread, "PARQUET_ROW_GROUP_ROWS", group_rows)
    table = _table(paths, config.crs)
    assert len(table) > 3
    ctx = StageContext(stage="water", config=config, paths=paths, key="k")
    shapes = read_footprints(paths, config.crs, table.index)
    frame = gpd.GeoDataFrame(table, geometry=shapes, crs=config.crs)
    contracts.write_table(ctx, contracts.BUILDING_WATER, frame)
    out = ctx.output(contracts.BUILDING_WATER.name)
    expected = out.read_bytes()
    out.unlink()
    write_with_footprints(ctx, contracts.BUILDING_WATER, table)
    assert out.read_bytes() == expected
    back = gpd.read_parquet(out)
    assert back.geometry.geom_equals_exact(frame.geometry, tolerance=0).all()
    assert back.drop(columns="geometry").equals(table)


def test_copied_footprints_need_the_same_buildings(ingested):
    config, paths = ingested
    ctx = StageContext(stage="water", config=config, paths=paths, key="k")
    table = _table(paths, config.crs)
    for changed in (table.iloc[1:], table.iloc[::-1]):
        with pytest.raises(InputDataError, match="buildings changed"):
            write_with_footprints(ctx, contracts.BUILDING_WATER, changed)


def test_copied_footprints_keep_the_contract(ingested):
    config, paths = ingested
    ctx = StageContext(stage="water", config=config, paths=paths, key="k")
    table = _table(paths, config.crs).drop(columns="covered")
    ctx.output(contracts.BUILDING_WATER.name).unlink(missing_ok=True)
    with pytest.raises(ValidationError, match=r"lacks column.* covered"):
        write_with_footprints(ctx, contracts.BUILDING_WATER, table)
    assert not ctx.output(contracts.BUILDING_WATER.name).exists()


def test_wkb_chunks_cut_any_file_in_equal_pieces(ingested):
    import pyarrow.parquet as pq

    _, paths = ingested
    source = pq.ParquetFile(contracts.BUILDINGS.path(paths))
    whole = source.read(columns=["geometry"]).column(0).combine_chunks()
    n = len(whole)
    for size in (1, 3, n, n + 4):
        pieces = list(footprint_reread._wkb_chunks(source, "geometry", size))
        assert [len(p) for p in pieces[:-1]] == [size] * (len(pieces) - 1)
        assert 0 < len(pieces[-1]) <= size
        assert gpd.pd.Series([p.equals(whole.slice(i * size, len(p))) for i, p in
                              enumerate(pieces)]).all()  # fmt: skip
