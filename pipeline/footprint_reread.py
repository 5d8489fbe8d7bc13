"""Building footprints read back: the water and coverage stages hold them only while needed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pipeline import contracts
from pipeline._errors import InputDataError, ValidationError
from pipeline._io import PARQUET_COMPRESSION, PARQUET_ROW_GROUP_ROWS

if TYPE_CHECKING:
    from collections.abc import Iterator

    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.paths import ProvincePaths
    from pipeline.stage import StageContext


def read_footprints(paths: ProvincePaths, crs: str, index: pd.Index) -> np.ndarray:
    """Read the building footprints again, in the order of ``index``.

    The water and coverage stages drop the footprints once their snaps are done (they are
    most of a stage's memory at a province's size) and read them back for their outputs.

    Parameters
    ----------
    paths
        The province's paths.
    crs
        The project CRS.
    index
        The ``building_id`` of the stage's buildings, as read at its start.

    Returns
    -------
    numpy.ndarray
        The footprints, aligned with ``index``.

    Raises
    ------
    InputDataError
        The buildings table changed during the stage.
    """
    shapes = contracts.read_table(paths, contracts.BUILDINGS, (), crs=crs)
    _check_same(paths, shapes.index, index)
    geoms: np.ndarray = shapes.geometry.to_numpy()
    return geoms


def _check_same(paths: ProvincePaths, read: pd.Index, index: pd.Index) -> None:
    if not read.equals(index):
        msg = f"{contracts.BUILDINGS.path(paths)}: the buildings changed while the stage ran"
        raise InputDataError(msg)


def write_with_footprints(ctx: StageContext, art: contracts.Artifact, table: pd.DataFrame) -> None:
    """Write ``table`` with the building footprints as the stage's table ``art``.

    The file is the one :func:`pipeline.contracts.write_table` writes for
    ``GeoDataFrame(table, geometry=read_footprints(...), crs=crs)`` (same schema, metadata,
    row groups and values), but the footprints' WKB is copied from the buildings table one
    row group at a time, never decoded into shapes and encoded again: it takes a fraction of
    the time and memory, and Arrow does it without holding the GIL, so it can run in a
    :class:`pipeline.parallel.Background` worker next to the stage's own work.

    Parameters
    ----------
    ctx
        The running stage.
    art
        One of its artifacts, keyed by ``building_id``.
    table
        Its columns, indexed by ``building_id`` in the order of the buildings table; not
        changed while it is written.

    Raises
    ------
    InputDataError
        The buildings table changed during the stage.
    ValidationError
        ``table`` lacks a column of the contract.
    """
    import geopandas as gpd  # noqa: PLC0415 - keep the CLI's cache-hit path light
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415
    from geopandas.io.arrow import _create_metadata, _encode_metadata  # noqa: PLC0415

    paths, crs = ctx.paths, ctx.config.crs
    _check_contract(ctx, art, table)
    ids = contracts.read_table(paths, contracts.BUILDINGS, (), geometry="none", crs=crs)
    _check_same(paths, ids.index, table.index)
    source = pq.ParquetFile(contracts.BUILDINGS.path(paths))
    source_geo = json.loads(source.schema_arrow.metadata[b"geo"])
    source_col = source_geo["primary_column"]
    # As write_parquet: the attributes with a null geometry column, its WKB set per row group.
    shell = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    geom_col = shell.geometry.name
    attrs = table.copy(deep=False)
    attrs.attrs = {}
    attrs[geom_col] = None
    schema = pa.Schema.from_pandas(attrs, preserve_index=True)
    schema = schema.set(schema.get_field_index(geom_col), _wkb_field(shell, geom_col))
    # The same shapes as the buildings table: their types and bounds are the ones it records.
    geo = _create_metadata(shell, geometry_encoding={geom_col: "WKB"})
    for key in ("geometry_types", "bbox"):
        if key in source_geo["columns"][source_col]:
            geo["columns"][geom_col][key] = source_geo["columns"][source_col][key]
    attrs_meta = {contracts.STAMP: {"stage": art.stage, "artifact": art.name, "key": ctx.key}}
    metadata = {
        **(schema.metadata or {}),
        b"geo": _encode_metadata(geo),
        b"PANDAS_ATTRS": json.dumps(attrs_meta).encode(),
    }
    schema = schema.with_metadata(metadata)
    wkb = _wkb_chunks(source, source_col, PARQUET_ROW_GROUP_ROWS)
    field = schema.field(geom_col)
    with pq.ParquetWriter(ctx.output(art.name), schema, compression=PARQUET_COMPRESSION) as writer:
        for start in range(0, max(len(attrs), 1), PARQUET_ROW_GROUP_ROWS):
            part = attrs.iloc[start : start + PARQUET_ROW_GROUP_ROWS]
            group = pa.Table.from_pandas(part, schema=schema, preserve_index=True)
            group = group.set_column(schema.get_field_index(geom_col), field, next(wkb))
            writer.write_table(group, row_group_size=PARQUET_ROW_GROUP_ROWS)
            del part, group


def _check_contract(ctx: StageContext, art: contracts.Artifact, table: pd.DataFrame) -> None:
    """Raise as :func:`pipeline.contracts.write_table` for a table that breaks its contract."""
    have = {*map(str, table.columns), *(str(n) for n in table.index.names if n is not None)}
    missing = [c for c in (*art.columns, *art.index) if c not in have]
    if art.stage != ctx.stage or missing:
        msg = f"stage {ctx.stage}: {art.label} lacks column(s) {', '.join(missing)} of its contract"
        raise ValidationError(msg)


def _wkb_field(shell: gpd.GeoDataFrame, geom_col: str) -> pa.Field:
    """Return the Arrow field GeoPandas writes a WKB geometry column with (CRS in its metadata)."""
    from geopandas.io._geoarrow import construct_wkb_array  # noqa: PLC0415

    geoms = shell[geom_col]
    field, _ = construct_wkb_array(geoms.to_numpy(), field_name=geom_col, crs=geoms.crs)
    return field


def _wkb_chunks(source: pq.ParquetFile, column: str, size: int) -> Iterator[pa.Array]:
    """Yield a Parquet file's WKB column in consecutive pieces of ``size`` rows (last: the rest).

    One empty piece for an empty file, as the writer writes one (empty) row group then.
    """
    import pyarrow as pa  # noqa: PLC0415

    held: list[pa.Array] = []
    n_held, pieces = 0, 0
    for batch in source.iter_batches(batch_size=size, columns=[column]):
        held.append(batch.column(0))
        n_held += len(batch)
        while n_held >= size:
            joined = pa.concat_arrays(held) if len(held) > 1 else held[0]
            yield joined.slice(0, size)
            pieces += 1
            rest = joined.slice(size)
            held, n_held = ([rest] if len(rest) else []), len(rest)
    if n_held or not pieces:
        yield pa.concat_arrays(held) if held else pa.array([], pa.binary())
