"""Street widths surveyed by the authority: read, matched to graph edges, labelled measured."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline._errors import InputDataError, MissingInputError
from pipeline.paths import resolve_input
from pipeline.tables import X_NAMES, Y_NAMES, _read_table
from pipeline.widths import parse_length_m

if TYPE_CHECKING:
    from pipeline.config import SourceFile

logger = logging.getLogger(__name__)

#: Header names (lower case, with or without diacritics) of the survey columns.
ID_NAMES = ("osm_id", "osmid", "way_id", "osm_way_id", "mã đường", "ma_duong")
WIDTH_NAMES = ("width_m", "width", "bề rộng", "be_rong", "bề rộng (m)", "chiều rộng")
DATE_NAMES = ("survey_date", "date", "ngày đo", "ngay_do", "ngày khảo sát")


def _column(columns: pd.Index, names: tuple[str, ...]) -> str | None:
    lower = {str(c).strip().lower(): str(c) for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def read_measured_widths(spec: SourceFile, *, crs: str) -> gpd.GeoDataFrame:
    """Read one survey file of street widths.

    Parameters
    ----------
    spec
        The file (CSV / XLSX with ``osm_id`` and optionally lon/lat or x/y columns, or a
        GeoJSON / GeoPackage of points or lines) and its coordinate CRS.
    crs
        The project CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``osm_id`` (way id, ``-1`` where not given), ``width_m``, ``survey_date``,
        ``source_line`` and a geometry (``None`` where the row is keyed by way id only).
        Rows with no usable width, or neither way id nor geometry, are left out with a
        warning naming the file and the lines.
    """
    path = resolve_input(spec.path)
    if not path.exists():
        msg = f"{path}: measured widths file not found (access.measured_widths_files)"
        raise MissingInputError(msg)
    df, first_line = _read_table(path, spec.layer)
    width_col = _column(df.columns, WIDTH_NAMES)
    if width_col is None:
        msg = f"{path}: no width column; name it one of {', '.join(WIDTH_NAMES)}"
        raise InputDataError(msg)
    id_col = _column(df.columns, ID_NAMES)
    date_col = _column(df.columns, DATE_NAMES)
    if isinstance(df, gpd.GeoDataFrame):
        geoms = df.to_crs(crs).geometry.to_numpy()
    else:
        x_col = spec.x_column or _column(df.columns, X_NAMES)
        y_col = spec.y_column or _column(df.columns, Y_NAMES)
        geoms = np.full(len(df), None, dtype=object)
        if x_col and y_col:
            x = pd.to_numeric(df[x_col].astype(str).str.replace(",", "."), errors="coerce")
            y = pd.to_numeric(df[y_col].astype(str).str.replace(",", "."), errors="coerce")
            ok = (x.notna() & y.notna()).to_numpy()
            pts = gpd.GeoSeries(shapely.points(x[ok], y[ok]), crs=spec.crs).to_crs(crs)
            geoms[ok] = pts.to_numpy()
    ids = (
        pd.to_numeric(
            df[id_col].astype(str).str.strip().str.lstrip("wW"), errors="coerce"
        ).to_numpy()
        if id_col
        else np.full(len(df), np.nan)
    )
    width = parse_length_m(df[width_col].astype(str)).to_numpy()
    keyed = np.isfinite(ids) | ~pd.isna(geoms)
    good = np.isfinite(width) & keyed
    lines = np.arange(len(df)) + first_line
    if (~good).any():
        logger.warning(
            "%s: %d of %d survey rows skipped (no width, or neither osm_id nor coordinates): "
            "lines %s",
            path, int((~good).sum()), len(df), ", ".join(map(str, lines[~good][:10])),
        )  # fmt: skip
    if not good.any():
        msg = f"{path}: no usable survey row (each needs a width and an osm_id or coordinates)"
        raise InputDataError(msg)
    dates = df[date_col].astype(str).to_numpy() if date_col else np.full(len(df), "")
    return gpd.GeoDataFrame(
        {
            "osm_id": np.where(np.isfinite(ids), ids, -1).astype(np.int64)[good],
            "width_m": width[good],
            "survey_date": dates[good],
            "source_file": path.name,
            "source_line": lines[good],
        },
        geometry=list(geoms[good]),
        crs=crs,
    )


def match_measured_widths(
    edges: gpd.GeoDataFrame, surveys: gpd.GeoDataFrame, *, match_m: float
) -> pd.DataFrame:
    """Give each edge its surveyed width: by OSM way id, else by the nearest surveyed geometry.

    Parameters
    ----------
    edges
        Graph edges with ``osmid`` (way id) and geometry.
    surveys
        From :func:`read_measured_widths` (several files concatenated).
    match_m
        A surveyed point or line this close to an edge's middle describes it.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``edges``: ``width_m`` (``NaN`` where not surveyed) and ``note``
        (``"measured=3.2 m (2026-05-01)"``). Where several surveys hit one edge the narrowest
        counts (the conservative reading for a truck).
    """
    width = np.full(len(edges), np.nan)
    note = np.full(len(edges), "", dtype=object)
    if surveys.empty:
        return pd.DataFrame({"width_m": width, "note": note}, index=edges.index)
    surveys = surveys.reset_index(drop=True)
    dated = surveys["survey_date"].str.strip() != ""
    text = (
        "measured="
        + surveys["width_m"].map("{:.2f} m".format)
        + np.where(dated, " (" + surveys["survey_date"] + ")", "")
    ).to_numpy(dtype=object)
    keyed = surveys["osm_id"].to_numpy() >= 0
    if keyed.any() and "osmid" in edges.columns:
        narrowest = surveys[keyed].sort_values("width_m", kind="stable").drop_duplicates("osm_id")
        way = pd.to_numeric(edges["osmid"], errors="coerce").fillna(-2).astype(np.int64)
        pos = pd.Index(narrowest["osm_id"]).get_indexer(way)
        hit = pos >= 0
        rows = narrowest.index.to_numpy()[pos[hit]]
        width[hit], note[hit] = surveys["width_m"].to_numpy()[rows], text[rows]
    located = np.flatnonzero(~keyed & surveys.geometry.notna().to_numpy())
    if len(located):
        mids = shapely.line_interpolate_point(edges.geometry.to_numpy(), 0.5, normalized=True)
        e_idx, s_idx = shapely.STRtree(surveys.geometry.to_numpy()[located]).query(
            mids, predicate="dwithin", distance=match_m
        )
        rows = located[s_idx]
        found = pd.DataFrame({"e": e_idx, "row": rows, "w": surveys["width_m"].to_numpy()[rows]})
        found = found.sort_values("w", kind="stable").drop_duplicates("e")
        e, row = found["e"].to_numpy(), found["row"].to_numpy()
        free = np.isnan(width[e])
        width[e[free]], note[e[free]] = found["w"].to_numpy()[free], text[row[free]]
    return pd.DataFrame({"width_m": width, "note": note}, index=edges.index)
