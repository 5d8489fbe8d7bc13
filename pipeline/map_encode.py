"""Compact map data: rounded coordinates as encoded polylines, tooltip columns as small arrays."""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from pipeline.i18n import MISSING, column_label, translate_values
from pipeline.parallel import map_chunks

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pyproj import CRS

    from pipeline.config import ProvinceConfig
    from pipeline.i18n import Language

logger = logging.getLogger(__name__)

Detail = Literal["province", "ward"]
Kind = Literal["line", "poly", "point"]

#: Decimals of tooltip numbers by column suffix (others: 1); "b" marks a yes / no column.
_INT_SUFFIXES = ("n_", "buildings", "rank", "priority", "population", "count")


def wgs84_column(decimals: int, simplify_m: float) -> str:
    """Return the name of a column holding the geometry as :func:`round_wgs84` returns it.

    A layer drawn on many maps (every ward map takes its rows of the province's streets)
    carries it, made once by :func:`with_wgs84`; the geometry must not change after that.
    """
    return f"_wgs84_{decimals}_{simplify_m:g}"


def with_wgs84(
    gdf: gpd.GeoDataFrame, decimals: int, simplify_m: float, *, rows: np.ndarray | None = None
) -> gpd.GeoDataFrame:
    """Return the rows with their :func:`round_wgs84` geometry in :func:`wgs84_column`.

    Parameters
    ----------
    gdf
        Rows in a projected CRS.
    decimals, simplify_m
        As for :func:`round_wgs84`.
    rows
        Mask of the rows that will be drawn (default: all); the others get ``None``.

    Returns
    -------
    geopandas.GeoDataFrame
        A shallow copy with the column added.
    """
    ready = np.full(len(gdf), None, dtype=object)
    drawn = np.ones(len(gdf), bool) if rows is None else np.asarray(rows, bool)
    geoms = gdf.geometry.to_numpy()[drawn]

    def chunk(start: int, stop: int) -> np.ndarray:
        return _rounded_wgs84(geoms[start:stop], gdf.crs, decimals, simplify_m)

    parts = map_chunks(chunk, len(geoms), min_chunk=GEOMETRIES_PER_THREAD)
    ready[drawn] = np.concatenate(parts) if parts else geoms
    out = gdf.copy(deep=False)
    out[wgs84_column(decimals, simplify_m)] = ready
    return out


#: Fewest geometries worth a thread of their own in :func:`with_wgs84`.
GEOMETRIES_PER_THREAD = 20_000


def _rounded_wgs84(
    geoms: np.ndarray,
    crs: CRS | str | None,
    decimals: int,
    simplify_m: float,
) -> np.ndarray:
    """Return :func:`round_wgs84` of ``geoms``, with a projection of its own (for threads).

    The projection is the one geopandas' ``to_crs`` applies (each vertex on its own, lon /
    lat order); a pyproj transformer is not shared between threads.
    """
    if simplify_m > 0:
        geoms = shapely.simplify(geoms, simplify_m, preserve_topology=True)
    proj = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = proj.transform(xy[:, 0], xy[:, 1])
        return np.round(np.column_stack([x, y]), decimals)

    out: np.ndarray = shapely.transform(geoms, project)
    return out


def round_wgs84(gdf: gpd.GeoDataFrame, decimals: int, simplify_m: float) -> np.ndarray:
    """Simplify in metres, project to WGS84 and round coordinates to ``decimals``.

    Rows carrying :func:`wgs84_column` (:func:`with_wgs84`) are taken from it.
    """
    ready = wgs84_column(decimals, simplify_m)
    if ready in gdf.columns:
        done: np.ndarray = gdf[ready].to_numpy(object)
        return done
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
        LineStrings (or LinearRings) in WGS84 (lon, lat).
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
    few bytes per vertex instead of ~20 in GeoJSON.
    """
    keep = shapely.get_num_coordinates(geoms) >= 2  # noqa: PLR2004 - a line needs two vertices
    coords, idx = shapely.get_coordinates(geoms[keep], return_index=True)
    counts = np.bincount(idx, minlength=int(keep.sum())).tolist()
    return encode_coords(coords, decimals), counts


def encode_coords(coords: np.ndarray, decimals: int) -> str:
    """Encode ``(lon, lat)`` rows as one encoded-polyline string of ``lat, lon`` deltas."""
    if not len(coords):
        return ""
    ints = np.round(coords[:, ::-1] * 10**decimals).astype(np.int64)
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), np.int64)).ravel()
    return _chars((deltas << 1) ^ (deltas >> 63))


def encode_uints(values: Sequence[int] | np.ndarray) -> str:
    """Encode non-negative integers (vertex counts, style indexes) one to a few characters each.

    The number format of encoded polylines without the sign: values below 32 take one
    character, instead of two or three in a JSON list.
    """
    v = np.asarray(values, dtype=np.int64)
    if not len(v):
        return ""
    if (v < 0).any():
        msg = "encode_uints: negative value"
        raise ValueError(msg)
    return _chars(v)


def _chars(z: np.ndarray) -> str:
    """Characters of non-negative integers: 5-bit chunks, low first, +32 when more follow, +63."""
    shifts = 5 * np.arange(7, dtype=np.int64)
    chunks = (z[:, None] >> shifts) & 31
    needed = (z[:, None] >> shifts) > 0
    needed[:, 0] = True
    more = np.zeros_like(needed)
    more[:, :-1] = needed[:, 1:]
    chars = chunks + 32 * more + 63
    return chars[needed].astype(np.uint8).tobytes().decode("ascii")


def encode_parts(
    geoms: np.ndarray, decimals: int, kind: Kind
) -> tuple[str, list[int], list[int] | None, np.ndarray]:
    """Encode WGS84 geometries as parts: lines, polygon rings (unclosed) or points.

    Parameters
    ----------
    geoms
        Geometries of one kind (multi-parts allowed), rounded to ``decimals``.
    decimals
        Coordinate decimals.
    kind
        {"line", "poly", "point"}

    Returns
    -------
    s, n, f, kept
        The encoded vertices; vertices per part (empty for points); parts per feature
        (``None`` when every feature has one part); the positions of the geometries kept
        (empty geometries and degenerate parts are dropped).
    """
    geoms = np.asarray(geoms)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if kind == "point":
        kept = np.flatnonzero(ok)
        pts = shapely.centroid(geoms[kept]) if len(kept) else np.empty(0, dtype=object)
        return encode_coords(shapely.get_coordinates(pts), decimals), [], None, kept
    parts, owner = shapely.get_parts(geoms[ok], return_index=True)
    if kind == "poly":
        rings, ring_owner = shapely.get_rings(parts, return_index=True)
        coords, idx = shapely.get_coordinates(rings, return_index=True)
        n = np.bincount(idx, minlength=len(rings))
        last = np.cumsum(n) - 1
        keep_v = np.ones(len(coords), bool)
        keep_v[last[n > 0]] = False  # the closing vertex repeats the first
        coords, idx = coords[keep_v], idx[keep_v]
        n = np.bincount(idx, minlength=len(rings))
        min_n, part_owner = 3, owner[ring_owner]
    else:
        coords, idx = shapely.get_coordinates(parts, return_index=True)
        n = np.bincount(idx, minlength=len(parts))
        min_n, part_owner = 2, owner
    good = n >= min_n
    coords = coords[good[idx]]
    n, part_owner = n[good], part_owner[good]
    feature = np.flatnonzero(ok)
    per = np.bincount(part_owner, minlength=int(ok.sum()))
    kept = feature[per > 0]
    per = per[per > 0]
    f = None if (per == 1).all() else per.tolist()
    return encode_coords(coords, decimals), n.tolist(), f, kept


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
    """One HTML tooltip per row (vectorised): the name (else ``title``), then ``label: value``."""
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


def _decimals(column: str, values: pd.Series) -> int | str:
    if pd.api.types.is_bool_dtype(values):
        return "b"
    if pd.api.types.is_integer_dtype(values) or column.startswith(_INT_SUFFIXES):
        return 0
    return 1


#: A numeric tooltip column with at most this many distinct values is stored as codes into
#: its formatted values (one character each) instead of as numbers.
MAX_CODED_NUMBERS = 250


def pack_values(
    values: pd.Series,
    *,
    decimals: int | str,
    labels: dict[str, str] | None = None,
    column: str = "",
    lang: Language = "vi",
) -> tuple[list[Any] | str, list[str] | None]:
    """Return a tooltip column in a compact form: numbers, or codes into a list of words.

    Parameters
    ----------
    values
        The column.
    decimals
        Decimals of numbers; ``"b"`` for yes / no columns.
    labels
        Display text of coded values (``{"tag": "OSM tag"}``); others go through
        :func:`pipeline.i18n.translate_values` (codes and English reasons in words).
    column, lang
        The column's name and the language, for that translation.

    Returns
    -------
    values, dictionary
        Text, yes / no and numbers with few distinct values: ``values`` is a string of codes
        (:func:`encode_uints`; 0 is missing, ``k`` is ``dictionary[k - 1]``, HTML-escaped).
        Other numbers: ``values`` is the list of numbers rounded to ``decimals`` (``None`` for
        missing) and ``dictionary`` is ``None``.
    """
    if decimals == "b":
        flags = values.astype("boolean")
        text = np.where(flags.to_numpy(dtype=bool, na_value=False), "\u2713", "\u2717")
        text = text.astype(object)
        text[flags.isna().to_numpy()] = None
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        dec = int(decimals)
        rounded = np.round(values.to_numpy(dtype=float), dec)
        finite = np.isfinite(rounded)
        if len(np.unique(rounded[finite])) > MAX_CODED_NUMBERS:
            if dec == 0:
                return [int(v) if ok else None for v, ok in zip(rounded, finite, strict=True)], None
            return [float(v) if ok else None for v, ok in zip(rounded, finite, strict=True)], None
        text = np.char.mod(f"%.{dec}f", np.where(finite, rounded, 0.0)).astype(object)
        text[~finite] = None
        labels, column = None, ""  # formatted numbers need no translation
    else:
        text = values.to_numpy(object)
        missing = pd.isna(text)
        if missing.any():
            text = text.copy()
            text[missing] = None
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    words = [str(u) for u in uniques]
    if labels:
        words = [labels.get(w, w) for w in words]
    elif column:
        words = _translated(words, column, lang)
    return encode_uints(codes + 1), [html.escape(w) for w in words]


#: Words of coded columns already translated, by (column, language): every ward map shows
#: the same few codes and evidence lists.
_TRANSLATED: dict[tuple[str, str], dict[str, str]] = {}
#: Entries kept at most (the cache is emptied beyond).
_MAX_TRANSLATED = 200_000


def _translated(words: list[str], column: str, lang: Language) -> list[str]:
    """Return :func:`pipeline.i18n.translate_values` of ``words``, each word translated once."""
    if sum(len(d) for d in _TRANSLATED.values()) > _MAX_TRANSLATED:
        _TRANSLATED.clear()
    known = _TRANSLATED.setdefault((column, lang), {})
    new = [w for w in dict.fromkeys(words) if w not in known]
    if new:
        done = translate_values(pd.Series(new, dtype=object), column, lang)
        known.update(zip(new, (str(w) for w in done), strict=True))
    return [known[w] for w in words]


@dataclass
class Tip:
    """What a layer's tooltips show: a heading, a heading column, then ``label: value`` rows."""

    heading: str = ""
    heading_column: str | None = None
    columns: list[str] = field(default_factory=list)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def fields(self) -> list[str]:
        """Return the columns the tooltips read: the rows, the heading column, ``{name}``s."""
        head = [self.heading_column] if self.heading_column else []
        return list(dict.fromkeys([*self.columns, *head, *re.findall(r"\{(\w+)\}", self.heading)]))


def _pack_tip(rows: pd.DataFrame, tip: Tip, lang: Language) -> dict[str, Any]:
    """Return the tooltip part of a layer's data: values, dictionaries, the layout."""
    cols = [c for c in tip.columns if c in rows.columns]
    in_heading = [c for c in re.findall(r"\{(\w+)\}", tip.heading) if c in rows.columns]
    head_col = [tip.heading_column] if tip.heading_column in rows.columns else []
    values: dict[str, list[Any] | str] = {}
    dicts: dict[str, list[str]] = {}
    decs: dict[str, int | str] = {}
    for col in dict.fromkeys([*cols, *head_col, *in_heading]):
        decs[col] = _decimals(col, rows[col])
        vals, words = pack_values(
            rows[col], decimals=decs[col], labels=tip.labels.get(col), column=col, lang=lang
        )
        values[col] = vals
        if words is not None:
            dicts[col] = words
    return {
        "a": values,
        "v": dicts,
        "tip": {
            "h": html.escape(tip.heading),
            "hc": tip.heading_column if head_col else None,
            "rows": [[html.escape(column_label(c, lang)), c, decs[c]] for c in cols],
        },
    }


def pack_layer(
    geoms: np.ndarray,
    kind: Kind,
    *,
    decimals: int,
    styles: Sequence[dict[str, Any]],
    style_index: np.ndarray | None = None,
    table: pd.DataFrame | None = None,
    tip: Tip | None = None,
    lang: Language = "vi",
    popups: Sequence[str | None] | None = None,
    ids: Sequence[str | None] | None = None,
    zooms: tuple[int | None, int | None] = (None, None),
) -> tuple[str, int]:
    """Return one map layer's data as compact JSON (read by ``static/firegap_map.js``).

    Parameters
    ----------
    geoms
        WGS84 geometries, rounded (:func:`round_wgs84`).
    kind
        {"line", "poly", "point"}
    decimals
        Their decimals.
    styles
        Leaflet-like styles: ``c`` colour, ``w`` line weight, ``o`` opacity, ``fo`` fill
        opacity, ``fc`` fill colour, ``dash`` dash pattern, ``r`` point radius (px).
    style_index
        Style of each feature (default: the first).
    table
        Rows aligned with ``geoms``: the tooltip columns.
    tip
        Tooltip layout (none: no tooltips).
    lang
        {"vi", "en"}: column labels.
    popups
        Popup HTML per feature (``None``: the tooltip).
    ids
        Row id per feature (shortlist ids, found by the map's ``#.../<row id>`` address).
    zooms
        Lowest and highest zoom the layer is drawn at (``None``: no limit).

    Returns
    -------
    str, int
        The JSON text and the number of features drawn.
    """
    order = spatial_order(geoms)
    s, n, f, kept = encode_parts(np.asarray(geoms)[order], decimals, kind)
    kept = order[kept]
    data: dict[str, Any] = {"k": kind, "d": decimals, "s": s, "styles": list(styles)}
    if kind == "point":
        data["count"] = len(kept)
    else:
        data["n"] = encode_uints(n)
    if f is not None:
        data["f"] = encode_uints(f)
    if zooms[0] is not None:
        data["z0"] = zooms[0]
    if zooms[1] is not None:
        data["z1"] = zooms[1]
    if style_index is not None and len(styles) > 1:
        data["st"] = encode_uints(np.asarray(style_index)[kept].astype(int))
    if tip is not None and table is not None:
        data.update(_pack_tip(table.iloc[kept], tip, lang))
    if popups is not None:
        data["pop"] = [popups[i] for i in kept]
    if ids is not None:
        data["id"] = [ids[i] for i in kept]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")), len(kept)


def spatial_order(geoms: np.ndarray) -> np.ndarray:
    """Return an order of geometries along a Z-order curve of their first vertices.

    Neighbours in the file are neighbours on the ground, so the jump from one feature to the
    next (a delta in the encoded coordinates) is short: fewer bytes per feature.
    """
    geoms = np.asarray(geoms)
    if len(geoms) < 2:  # noqa: PLR2004 - nothing to order
        return np.arange(len(geoms))
    first = shapely.get_point(shapely.get_exterior_ring(geoms), 0)
    plain = shapely.is_missing(first)
    first[plain] = shapely.get_point(geoms[plain], 0)
    first = np.where(shapely.is_missing(first), shapely.centroid(geoms), first)
    ok = ~shapely.is_missing(first) & ~shapely.is_empty(first)
    key = np.zeros(len(geoms), dtype=np.uint64)
    if ok.any():
        pts = shapely.get_coordinates(first[ok])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        q = ((pts - lo) / np.maximum(hi - lo, 1e-12) * 65535).astype(np.uint64)
        key[ok] = _interleave(q[:, 0]) | (_interleave(q[:, 1]) << np.uint64(1))
    return np.argsort(key, kind="stable")


def _interleave(v: np.ndarray) -> np.ndarray:
    """Spread the 16 low bits of each value to the even bits (Morton code)."""
    v = v & np.uint64(0xFFFF)
    for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def merge_lines(geoms: np.ndarray) -> np.ndarray:
    """Return the lines joined into chains where they meet end to end (fewer, longer lines)."""
    geoms = np.asarray(geoms)
    if not len(geoms):
        return geoms
    merged = shapely.line_merge(shapely.multilinestrings(shapely.get_parts(geoms)))
    out: np.ndarray = shapely.get_parts(merged)
    return out


def grid_cells(
    points: np.ndarray, cell_m: float, crs: CRS | str | None, weights: np.ndarray | None = None
) -> gpd.GeoDataFrame:
    """Bin points into square cells of ``cell_m``: one box per occupied cell, with its totals.

    Parameters
    ----------
    points
        Shapely points (or any geometries: their centroids) in a projected CRS.
    cell_m
        Cell size in the CRS's units.
    crs
        Their CRS.
    weights
        Summed per cell as ``total`` (default: none).

    Returns
    -------
    geopandas.GeoDataFrame
        ``count``, ``total`` and the cell boxes.
    """
    xy = shapely.get_coordinates(shapely.centroid(np.asarray(points)))
    if not len(xy):
        return gpd.GeoDataFrame({"count": [], "total": []}, geometry=[], crs=crs)
    ij = np.floor(xy / cell_m).astype(np.int64)
    cells, inverse, counts = np.unique(ij, axis=0, return_inverse=True, return_counts=True)
    w = np.ones(len(xy)) if weights is None else np.asarray(weights, dtype=float)
    total = np.bincount(inverse.ravel(), weights=np.nan_to_num(w), minlength=len(cells))
    boxes = shapely.box(
        cells[:, 0] * cell_m, cells[:, 1] * cell_m,
        (cells[:, 0] + 1) * cell_m, (cells[:, 1] + 1) * cell_m,
    )  # fmt: skip
    return gpd.GeoDataFrame({"count": counts, "total": total}, geometry=boxes, crs=crs)


def grid_sums(
    lines: gpd.GeoDataFrame, cell_m: float, columns: dict[str, np.ndarray]
) -> gpd.GeoDataFrame:
    """Sum values of lines (or any rows) into square cells of ``cell_m``, by their midpoints.

    Parameters
    ----------
    lines
        Rows in a projected CRS.
    cell_m
        Cell size in the CRS's units.
    columns
        Output column -> one value per row (for example a length in km).

    Returns
    -------
    geopandas.GeoDataFrame
        One box per cell holding a row: its column and row numbers ``cx, cy`` (cell
        ``(cx, cy)`` spans ``cx * cell_m`` to ``(cx + 1) * cell_m``) and the sums.
    """
    geoms = lines.geometry.to_numpy()
    if not len(geoms):
        empty: dict[str, list[float]] = {c: [] for c in ("cx", "cy", *columns)}
        return gpd.GeoDataFrame(empty, geometry=[], crs=lines.crs)
    mid = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    point = np.isin(shapely.get_type_id(geoms), (0, 4))
    mid[point] = shapely.centroid(geoms[point])
    ij = np.floor(shapely.get_coordinates(mid) / cell_m).astype(np.int64)
    cells, inverse = np.unique(ij, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    sums = {
        c: np.bincount(inverse, weights=np.nan_to_num(np.asarray(v, float)), minlength=len(cells))
        for c, v in columns.items()
    }
    boxes = shapely.box(
        cells[:, 0] * cell_m, cells[:, 1] * cell_m,
        (cells[:, 0] + 1) * cell_m, (cells[:, 1] + 1) * cell_m,
    )  # fmt: skip
    return gpd.GeoDataFrame(
        {"cx": cells[:, 0], "cy": cells[:, 1], **sums}, geometry=boxes, crs=lines.crs
    )


def count_bins(counts: np.ndarray, n_bins: int) -> tuple[np.ndarray, list[str]]:
    """Return a class per count on a doubling scale (1, 2-3, 4-7, ...) and the class labels."""
    counts = np.maximum(np.asarray(counts, dtype=float), 1)
    idx = np.minimum(np.floor(np.log2(counts)).astype(int), n_bins - 1)
    labels = []
    for b in range(n_bins):
        lo, hi = 2**b, 2 ** (b + 1) - 1
        labels.append(f"{lo}+" if b == n_bins - 1 else (f"{lo}" if lo == hi else f"{lo}\u2013{hi}"))
    return idx, labels
