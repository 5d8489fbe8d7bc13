"""File I/O: atomic writes, GeoParquet read/write, input hashing."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from pipeline._errors import InputDataError, MissingInputError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import geopandas as gpd
    import pandas as pd

logger = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of a file (as ``sha256sum``), or of a folder's files and names.

    Parameters
    ----------
    path
        A file or a folder.

    Returns
    -------
    str
    """
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            digest.update(str(f.relative_to(path)).encode())
        with f.open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def json_sha256(obj: Any) -> str:  # noqa: ANN401 - any JSON-serialisable value
    """Return the SHA-256 of a JSON-serialisable object in canonical form."""
    text = json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def tmp_path_for(path: Path) -> Path:
    """Return the temporary sibling a file or folder is written to before its rename."""
    return path.with_name(path.name + ".tmp")


def remove_path(path: Path) -> None:
    """Remove a file or a folder if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def commit_tmp(path: Path) -> None:
    """Move ``<path>.tmp`` onto ``path`` (a file or a folder), replacing what was there."""
    tmp = tmp_path_for(path)
    if tmp.is_dir():
        remove_path(path)
    tmp.replace(path)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path; on success rename it onto ``path``, on error remove it.

    Parameters
    ----------
    path
        The final path of the file or folder.

    Yields
    ------
    Path
        Where to write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_for(path)
    remove_path(tmp)
    try:
        yield tmp
    except BaseException:
        remove_path(tmp)
        raise
    commit_tmp(path)


def write_json(obj: Any, path: Path) -> None:  # noqa: ANN401 - any JSON-serialisable value
    """Write JSON atomically (UTF-8, indented, non-ASCII kept)."""
    with atomic_path(path) as tmp:
        tmp.write_text(
            json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )


def read_json(path: Path) -> Any:  # noqa: ANN401 - whatever the file holds
    """Read a JSON file, naming the file in any error."""
    if not path.exists():
        msg = f"{path}: file not found"
        raise MissingInputError(msg)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        msg = f"{path}: not valid JSON ({e})"
        raise InputDataError(msg) from e


#: Parquet codec of every artifact: snappy encodes ~30 % faster than zstd and decodes faster,
#: for files ~20 % larger (cache files, not downloads); every Parquet reader (GDAL/QGIS) has it.
PARQUET_COMPRESSION: Final = "snappy"


#: Rows per Parquet row group: each group is converted and written on its own (its WKB, then
#: its Arrow columns), so writing a table adds memory for one group, not for a copy of the
#: whole table (1.37 M buildings: +0.5 GB in one piece). 131 072 rows keep row groups large
#: enough for fast scans (the Parquet overhead per group is a few kB).
PARQUET_ROW_GROUP_ROWS: Final = 131_072


def write_parquet(df: pd.DataFrame | gpd.GeoDataFrame, path: Path) -> None:
    """Write a (Geo)DataFrame as (Geo)Parquet at ``path`` (the caller makes it atomic).

    The file is what ``DataFrame.to_parquet(index=True)`` / ``GeoDataFrame.to_parquet(index=True,
    write_covering_bbox=False)`` write (same Arrow schema, ``pandas``, ``geo`` and
    ``PANDAS_ATTRS`` metadata, same values), but written one row group of
    :data:`PARQUET_ROW_GROUP_ROWS` rows at a time, so the memory it adds is bounded by a group.
    The GeoParquet ``geo`` metadata (bbox, geometry types, CRS) is computed once for the whole
    frame by GeoPandas from vectorised bounds.
    """
    import geopandas as gpd  # noqa: PLC0415 - keep the CLI's cache-hit path light
    import numpy as np  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415
    from geopandas.io._geoarrow import construct_wkb_array  # noqa: PLC0415
    from geopandas.io.arrow import _create_metadata, _encode_metadata  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    is_geo = isinstance(df, gpd.GeoDataFrame)
    geom_cols = [str(c) for c in df.columns[df.dtypes == "geometry"]] if is_geo else []
    # as GeoPandas: a shallow plain copy (which drops .attrs from the pandas metadata) whose
    # geometry is replaced; a plain frame is converted as it is (as pandas does)
    attrs = pd.DataFrame(df.copy(deep=False)) if is_geo else df
    for col in geom_cols:
        attrs[col] = None  # an Arrow null column; its WKB is set per row group
    schema = pa.Schema.from_pandas(attrs, preserve_index=True)
    geoms = {c: np.asarray(df[c].array) for c in geom_cols}
    crs = {c: df[c].crs for c in geom_cols}
    for col in geom_cols:
        field, _ = construct_wkb_array(geoms[col][:0], field_name=col, crs=crs[col])
        schema = schema.set(schema.get_field_index(col), field)
    metadata = dict(schema.metadata or {})
    if is_geo:
        geo = _create_metadata(df, geometry_encoding=dict.fromkeys(geom_cols, "WKB"))
        metadata[b"geo"] = _encode_metadata(geo)
    if df.attrs:
        metadata[b"PANDAS_ATTRS"] = json.dumps(df.attrs).encode()
    schema = schema.with_metadata(metadata)
    with pq.ParquetWriter(path, schema, compression=PARQUET_COMPRESSION) as writer:
        for start in range(0, max(len(df), 1), PARQUET_ROW_GROUP_ROWS):
            stop = start + PARQUET_ROW_GROUP_ROWS
            part = attrs.iloc[start:stop]
            table = pa.Table.from_pandas(part, schema=schema, preserve_index=True)
            for col in geom_cols:
                _, wkb = construct_wkb_array(geoms[col][start:stop], field_name=col, crs=crs[col])
                table = table.set_column(schema.get_field_index(col), schema.field(col), wkb)
            writer.write_table(table, row_group_size=PARQUET_ROW_GROUP_ROWS)
            del part, table


def read_geoparquet(path: Path) -> gpd.GeoDataFrame:
    """Read a GeoParquet artifact, naming the file and the stage to rerun on failure.

    Parameters
    ----------
    path
        An artifact written by a previous stage.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    if not path.exists():
        msg = f"{path}: not found; run the stage that makes it first (make analyze)"
        raise MissingInputError(msg)
    import geopandas as gpd  # noqa: PLC0415 - keep the CLI's cache-hit path light

    try:
        return gpd.read_parquet(path)
    except Exception as e:
        msg = f"{path}: cannot read as GeoParquet ({type(e).__name__}: {e})"
        raise InputDataError(msg) from e


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a plain Parquet artifact, naming the file on failure."""
    if not path.exists():
        msg = f"{path}: not found; run the stage that makes it first (make analyze)"
        raise MissingInputError(msg)
    import pandas as pd  # noqa: PLC0415 - keep the CLI's cache-hit path light

    try:
        return pd.read_parquet(path)
    except Exception as e:
        msg = f"{path}: cannot read as Parquet ({type(e).__name__}: {e})"
        raise InputDataError(msg) from e
