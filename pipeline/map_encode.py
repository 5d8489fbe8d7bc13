"""Compact map data: coordinates rounded, GeoJSON, Google encoded polylines, vectorised tooltips."""

from __future__ import annotations

import html
import json
import logging
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.i18n import MISSING, column_label, t, translate_values

if TYPE_CHECKING:
    from pyproj import CRS

    from pipeline.config import ProvinceConfig
    from pipeline.i18n import Language

logger = logging.getLogger(__name__)

Detail = Literal["province", "ward"]


def round_wgs84(gdf: gpd.GeoDataFrame, decimals: int, simplify_m: float) -> np.ndarray:
    """Simplify in metres, project to WGS84 and round coordinates to ``decimals``."""
    geoms = gdf.geometry.to_numpy()
    if simplify_m > 0:
        geoms = shapely.simplify(geoms, simplify_m, preserve_topology=True)
    wgs = gpd.GeoSeries(geoms, crs=gdf.crs).to_crs(4326).to_numpy()
    out: np.ndarray = shapely.transform(wgs, lambda c: np.round(c, decimals))
    return out


def decimals_for(cfg: ProvinceConfig, detail: Detail) -> int:
    """Coordinate decimals: fewer on the province map (1e-5 degree is about 1 m)."""
    rc = cfg.report
    return rc.province_coordinate_decimals if detail == "province" else rc.coordinate_decimals


def encode_lines(geoms: np.ndarray, decimals: int) -> tuple[str, list[int]]:
    """Encode WGS84 lines as one Google encoded-polyline string, deltas running across lines.

    Parameters
    ----------
    geoms
        LineStrings in WGS84 (lon, lat).
    decimals
        Precision: coordinates are stored as integers of ``10**-decimals`` degree.

    Returns
    -------
    str, list of int
        The encoded ``lat, lon`` deltas of every vertex, and the vertex count of each line
        (lines with fewer than 2 vertices are dropped).

    Notes
    -----
    The algorithm of Google's polyline format (zig-zag, 5-bit chunks + 63), vectorised: a
    few bytes per vertex instead of ~20 in GeoJSON, which keeps a province-scale map small.
    """
    keep = shapely.get_num_coordinates(geoms) >= 2  # noqa: PLR2004 - a line needs two vertices
    coords, idx = shapely.get_coordinates(geoms[keep], return_index=True)
    counts = np.bincount(idx, minlength=int(keep.sum())).tolist()
    if not len(coords):
        return "", counts
    ints = np.round(coords[:, ::-1] * 10**decimals).astype(np.int64)
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), np.int64)).ravel()
    z = (deltas << 1) ^ (deltas >> 63)
    shifts = 5 * np.arange(7, dtype=np.int64)
    chunks = (z[:, None] >> shifts) & 31
    needed = (z[:, None] >> shifts) > 0
    needed[:, 0] = True
    more = np.zeros_like(needed)
    more[:, :-1] = needed[:, 1:]
    chars = chunks + 32 * more + 63
    return chars[needed].astype(np.uint8).tobytes().decode("ascii"), counts


def merged_group(lines: gpd.GeoDataFrame, colour: str, cfg: ProvinceConfig) -> dict[str, Any]:
    """One encoded line group (no tooltips) of the province map."""
    decimals = decimals_for(cfg, "province")
    geoms = round_wgs84(lines, decimals, cfg.report.province_simplify_m)
    text, counts = encode_lines(geoms, decimals)
    return {"c": colour, "s": text, "n": counts}


def encoded_json(groups: list[dict[str, Any]]) -> str:
    """Return encoded line groups as compact JSON."""
    return json.dumps(groups, separators=(",", ":"))


def geojson(geoms: np.ndarray, props: list[dict[str, Any]]) -> str:
    """Return a FeatureCollection of ``geoms`` (WGS84) with ``props``, compact."""
    keep = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    geo = shapely.to_geojson(geoms[keep])
    kept = [p for p, k in zip(props, keep, strict=True) if k]
    features = [
        f'{{"type":"Feature","geometry":{g},"properties":'
        f"{json.dumps(p, ensure_ascii=False, separators=(',', ':'))}}}"
        for g, p in zip(geo, kept, strict=True)
    ]
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"


def escape_html(values: pd.Series) -> pd.Series:
    """HTML-escape a column of strings (vectorised ``html.escape``)."""
    out = values.astype(str)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        out = out.str.replace(char, entity, regex=False)
    return out


def format_column(values: pd.Series) -> pd.Series:
    """Format a column for tooltips: numbers with 1 decimal (integers without), NaN as a dash."""
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "\u2713", False: "\u2717"}).astype(str)
    if pd.api.types.is_integer_dtype(values):
        return values.astype(str)
    if pd.api.types.is_float_dtype(values):
        num = values.to_numpy(dtype=float)
        text = np.char.mod("%.1f", np.where(np.isfinite(num), num, 0.0))
        return pd.Series(np.where(np.isfinite(num), text, MISSING), index=values.index)
    return escape_html(values.fillna(MISSING))


def tooltips(df: pd.DataFrame, columns: list[str], lang: Language, title: str = "") -> list[str]:
    """One tooltip per row (vectorised): the name (else ``title``), then ``label: value``."""
    present = [c for c in columns if c in df.columns]
    head = f"<b>{html.escape(title)}</b><br>" if title else ""
    out = pd.Series(head, index=df.index, dtype=object)
    if "name" in df.columns:
        names = df["name"].fillna("").astype(str)
        out = out.where(names == "", "<b>" + escape_html(names) + "</b><br>")
    for i, col in enumerate(present):
        sep = "" if i == 0 else "<br>"
        values = translate_values(df[col], col, lang)
        out = out + sep + html.escape(column_label(col, lang)) + ": " + format_column(values)
    return out.tolist()


def empty_geojson() -> str:
    """Return an empty FeatureCollection."""
    return '{"type":"FeatureCollection","features":[]}'


def rectangles(
    boxes: np.ndarray,
    crs: CRS | None,
    *,
    colour: str,
    label: str,
    counts: np.ndarray | None,
    decimals: int,
) -> dict[str, Any]:
    """Return an encoded group of rectangles (SW and NE corners as 2-vertex lines).

    ``label`` is the tooltip; ``{n}`` in it is replaced by the rectangle's count in the page.
    """
    lo = shapely.points(shapely.bounds(boxes)[:, :2])
    hi = shapely.points(shapely.bounds(boxes)[:, 2:])
    both = gpd.GeoSeries(np.concatenate([lo, hi]), crs=crs).to_crs(4326)
    xy = shapely.get_coordinates(both.to_numpy()).reshape(2, len(boxes), 2)
    lines = shapely.linestrings(np.stack([xy[0], xy[1]], axis=1))
    text, n = encode_lines(lines, decimals)
    group: dict[str, Any] = {"c": colour, "s": text, "n": n, "box": 1, "label": label}
    if counts is not None:
        group["k"] = counts.astype(int).tolist()
    return group


def grid_counts(
    gdf: gpd.GeoDataFrame, cell_m: float, decimals: int, colour: str, lang: Language
) -> tuple[dict[str, Any], int]:
    """Bin points (or centroids) into square cells: an encoded rectangle group with counts."""
    pts = shapely.centroid(gdf.geometry.to_numpy())
    xy = shapely.get_coordinates(pts)
    ij = np.floor(xy / cell_m).astype(np.int64)
    cells, counts = np.unique(ij, axis=0, return_counts=True)
    boxes = shapely.box(
        cells[:, 0] * cell_m, cells[:, 1] * cell_m,
        (cells[:, 0] + 1) * cell_m, (cells[:, 1] + 1) * cell_m,
    )  # fmt: skip
    label = t("cells_count", lang, n="{n}")
    group = rectangles(boxes, gdf.crs, colour=colour, label=label, counts=counts, decimals=decimals)
    return group, len(cells)
