"""Street widths surveyed by the authority: read, matched to graph edges, labelled measured."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.tables import AuthorityTable, read_authority_file

if TYPE_CHECKING:
    from pipeline.config import SourceFile

logger = logging.getLogger(__name__)


def read_measured_table(spec: SourceFile, *, crs: str) -> AuthorityTable:
    """Read one survey file of street widths with the one authority-file reader.

    Rows need a width (``width_m`` / ``bề rộng`` / ``chiều rộng``...) and either an OSM way id
    (``osm_id`` / ``way_id`` / ``mã osm``: ``123``, ``w123`` or a way link) or a geometry
    (lon/lat or x/y, WKT lines, a GeoJSON / GeoPackage of points or lines); the survey date
    (``ngày đo`` / ``date``) is optional. The others are rejected with their line numbers.
    """
    return read_authority_file(
        spec, crs=crs, what="measured widths", geometry="optional", required=("width_m",)
    ).finish()


def read_measured_widths(spec: SourceFile, *, crs: str) -> gpd.GeoDataFrame:
    """Read one survey file of street widths.

    Parameters
    ----------
    spec
        The file (see :func:`read_measured_table`) and its coordinate CRS.
    crs
        The project CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``osm_id`` (way id, ``-1`` where not given), ``width_m``, ``survey_date``
        (``YYYY-MM-DD`` or blank), ``source_file``, ``source_line`` and a geometry (``None``
        where the row is keyed by way id only).
    """
    rows = read_measured_table(spec, crs=crs).rows
    ids = (
        rows["osm_id"].fillna(-1).astype(np.int64).to_numpy()
        if "osm_id" in rows.columns
        else np.full(len(rows), -1, dtype=np.int64)
    )
    dates = (
        pd.to_datetime(rows["date"]).dt.strftime("%Y-%m-%d").fillna("").to_numpy()
        if "date" in rows.columns
        else np.full(len(rows), "")
    )
    return gpd.GeoDataFrame(
        {
            "osm_id": ids,
            "width_m": rows["width_m"].to_numpy(dtype=float),
            "survey_date": dates,
            "source_file": rows["source_file"].to_numpy(),
            "source_line": rows["source_line"].to_numpy(),
        },
        geometry=rows.geometry.to_numpy(),
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
