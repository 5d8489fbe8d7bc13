"""Leaflet maps of the province and its wards: compact canvas layers, self-contained HTML."""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xyzservices
from branca.element import Element, MacroElement
from folium.map import Layer
from jinja2 import Template

from pipeline.access import truck_widths_label
from pipeline.i18n import t
from pipeline.map_encode import (
    Detail,
    Kind,
    Tip,
    count_bins,
    decimals_for,
    grid_cells,
    grid_sums,
    merge_lines,
    pack_layer,
    round_wgs84,
    wgs84_column,
    with_wgs84,
)
from pipeline.paths import PROJECT_ROOT, resolve_input

if TYPE_CHECKING:
    from pathlib import Path

    from branca.element import Figure

    from pipeline.config import ProvinceConfig
    from pipeline.i18n import Language

logger = logging.getLogger(__name__)


LEAFLET_CDN = "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/"

#: Colours of every category drawn (legend swatches use the same table).
COLOURS: dict[str, str] = {
    "truck": "#1971c2",
    "small_vehicle": "#f08c00",
    "hose_only": "#e03131",
    "blocked": "#862e9c",
    "uncertain": "#f59f00",
    "alley": "#c2255c",
    "deep_building": "#ae3ec9",
    "water_usable": "#1098ad",
    "water_unusable": "#868e96",
    "reach_hydrant": "#22b8cf",
    "reach_natural": "#4dabf7",
    "station_existing": "#c92a2a",
    "station_planned": "#e67700",
    "dense_unreached": "#f03e3e",
    "site_station": "#d6336c",
    "site_hydrant": "#0c8599",
    "site_fire_point": "#2b8a3e",
    "site_alley": "#e8590c",
    "site_field_check": "#fab005",
    "ward": "#343a40",
    "ward_approximate": "#868e96",
}
#: Isochrone fill colours, from the shortest break to the longest.
ISOCHRONE_COLOURS: tuple[str, ...] = ("#2f9e44", "#94d82d", "#fcc419", "#fd7e14", "#e8590c")
WIDTH_CLASSES: tuple[str, ...] = ("truck", "small_vehicle", "hose_only", "blocked")
#: Classes of the grid-cell counts on the province map (1, 2-3, 4-7, ... 32+).
COUNT_BINS = 6
#: Dash patterns of ward boundaries: surveyed, and approximate (Voronoi cells).
WARD_DASH = [4, 4]
APPROXIMATE_DASH = [1, 6]


@dataclass
class MapData:
    """Everything a map draws, in the project CRS; ``None`` or empty when a stage has no result.

    Every frame may carry a ``ward_id`` column (from a spatial join on the ward layer); ward
    maps keep only their ward's rows. ``sites`` holds the shortlist rows (``id``, ``kind``,
    ``why_html``; points or alley lines).
    """

    wards: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame | None = None
    alleys: gpd.GeoDataFrame | None = None
    deep_buildings: gpd.GeoDataFrame | None = None
    water_sources: gpd.GeoDataFrame | None = None
    water_reach: gpd.GeoDataFrame | None = None
    stations: gpd.GeoDataFrame | None = None
    isochrones: gpd.GeoDataFrame | None = None
    dense_unreached: gpd.GeoDataFrame | None = None
    sites: gpd.GeoDataFrame | None = None
    truck_min_width_m: float = 3.5
    reach_m: dict[str, float] = field(default_factory=dict)
    #: Shortlist row id of alley runs by ``alley_id`` (ward maps ring an alley by it).
    alley_ids: pd.Series | None = None


@dataclass
class DrawnLayer:
    """One overlay of the layer control: its compact data and legend entries.

    ``legend`` holds ``(colour, label, swatch)`` with swatch {"fill", "line", "dash", "dot"}.
    """

    key: str
    data: str
    n_features: int
    legend: list[tuple[str, str, str]] = field(default_factory=list)
    show: bool = True


def _empty(key: str, legend: list[tuple[str, str, str]], *, show: bool = True) -> DrawnLayer:
    return DrawnLayer(key, json.dumps({"k": "line", "d": 5, "s": "", "n": []}), 0, legend, show)


def _layer(
    key: str,
    gdf: gpd.GeoDataFrame,
    kind: Kind,
    legend: list[tuple[str, str, str]],
    *,
    decimals: int,
    simplify_m: float,
    styles: list[dict[str, Any]],
    style_index: np.ndarray | None = None,
    tip: Tip | None = None,
    lang: Language = "vi",
    popups: list[str | None] | None = None,
    ids: list[str | None] | None = None,
    show: bool = True,
    zooms: tuple[int | None, int | None] = (None, None),
) -> DrawnLayer:
    geoms = round_wgs84(gdf, decimals, simplify_m)
    table = None
    if tip is not None:
        table = pd.DataFrame(gdf[[c for c in tip.fields() if c in gdf.columns]])
    text, n = pack_layer(
        geoms, kind, decimals=decimals, styles=styles, style_index=style_index, table=table,
        tip=tip, lang=lang, popups=popups, ids=ids, zooms=zooms,
    )  # fmt: skip
    return DrawnLayer(key, text, n, legend, show)


def _simplify_m(cfg: ProvinceConfig, detail: Detail) -> float:
    return cfg.report.province_simplify_m if detail == "province" else cfg.report.ward_simplify_m


def _cells(
    key: str,
    points: gpd.GeoDataFrame,
    *,
    colour: str,
    label: str,
    cfg: ProvinceConfig,
    lang: Language,
) -> DrawnLayer:
    """Grid cells counting ``points`` (province map): shades of ``colour`` by count."""
    cells = grid_cells(points.geometry.to_numpy(), cfg.report.province_grid_m, points.crs)
    idx, labels = count_bins(cells["count"].to_numpy(), COUNT_BINS)
    styles = [{"c": colour, "w": 0, "fo": round(0.25 + 0.1 * b, 2)} for b in range(COUNT_BINS)]
    cells["n"] = cells["count"].astype(int)
    legend = [(colour, f"{label} ({t('cells_count', lang, n=labels[0] + '+')})", "fill")]
    tip = Tip(heading=t("cells_count", lang, n="{n}"), columns=[])
    return _layer(
        key, cells[["n", "geometry"]], "poly", legend, decimals=decimals_for(cfg, "province"),
        simplify_m=0, styles=styles, style_index=idx, tip=tip, lang=lang,
    )  # fmt: skip


def _multi(key: str, parts: list[DrawnLayer], legend: list[tuple[str, str, str]],
           *, show: bool = True) -> DrawnLayer:  # fmt: skip
    """One overlay made of several layers (kinds, or aggregates and detail by zoom)."""
    drawn = [p for p in parts if p.n_features]
    if not drawn:
        return _empty(key, legend, show=show)
    if len(drawn) == 1:
        return DrawnLayer(key, drawn[0].data, drawn[0].n_features, legend, show)
    text = '{"multi":[' + ",".join(p.data for p in drawn) + "]}"
    return DrawnLayer(key, text, sum(p.n_features for p in drawn), legend, show)


#: Bins of a share in [0, 1] on the province map's cells, and their fill opacities.
SHARE_BINS = (0.25, 0.5, 0.75)
SHARE_OPACITY = (0.12, 0.3, 0.45, 0.6)


def _share_cells(
    key: str,
    cells: gpd.GeoDataFrame,
    share: np.ndarray,
    *,
    colour: str,
    cfg: ProvinceConfig,
    tip: Tip,
    lang: Language,
) -> DrawnLayer:
    """Province cells shaded by a share (4 classes), drawn below the detail zoom."""
    idx = np.digitize(np.nan_to_num(share), SHARE_BINS)
    styles = [{"c": colour, "w": 0, "fo": o} for o in SHARE_OPACITY]
    return _layer(
        key, cells, "poly", [], decimals=decimals_for(cfg, "province"), simplify_m=0,
        styles=styles, style_index=idx, tip=tip, lang=lang,
        zooms=(None, cfg.report.province_detail_zoom - 1),
    )  # fmt: skip


def _cell_km(cfg: ProvinceConfig) -> str:
    return f"{cfg.report.province_line_cell_m / 1000:g}"


def leaflet_assets(config: ProvinceConfig, root: Path = PROJECT_ROOT) -> tuple[str, str] | None:
    """Return Leaflet's JS and CSS text (the layer icon inlined), or ``None`` if not fetched.

    Parameters
    ----------
    config
        The province config (``report.leaflet_dir``).
    root
        Project root the directory is resolved against; the package's own root is tried next.

    Returns
    -------
    tuple of str, or None
    """
    for base in dict.fromkeys((root, PROJECT_ROOT)):
        dist = resolve_input(config.report.leaflet_dir, base) / "dist"
        if (dist / "leaflet.js").is_file() and (dist / "leaflet.css").is_file():
            js = (dist / "leaflet.js").read_text(encoding="utf-8")
            css = (dist / "leaflet.css").read_text(encoding="utf-8")

            def _inline(match: re.Match[str], dist: Path = dist) -> str:
                img = dist / "images" / match.group(1)
                if not img.is_file():
                    return "url()"
                data = base64.b64encode(img.read_bytes()).decode()
                return f"url(data:image/png;base64,{data})"

            css = re.sub(r"url\(images/([\w.-]+\.png)\)", _inline, css)
            return js, css
    return None


def map_script() -> str:
    """Return the page script that draws firegap's layers (``static/firegap_map.js``)."""
    return resources.files("pipeline").joinpath("static/firegap_map.js").read_text("utf-8")


#: How the street layer draws each street: passable, uncertain (field check), or, when not
#: passable, by what can still get in; the legend follows this order.
STREET_KINDS: tuple[str, ...] = ("passable", "uncertain", "small_vehicle", "hose_only", "blocked")
#: Colour key in :data:`COLOURS` of each street kind.
_STREET_COLOUR = {"passable": "truck", "uncertain": "uncertain", "small_vehicle": "small_vehicle",
                  "hose_only": "hose_only", "blocked": "blocked"}  # fmt: skip
#: Tooltip columns of a street (ward maps): the status, the width interval and its evidence.
STREET_TIP = ["truck_status", "truck_status_reason", "width_m", "width_low_m", "width_high_m",
              "truck_min_width_m", "width_source", "width_evidence", "width_confidence",
              "highway"]  # fmt: skip


def street_kinds(edges: pd.DataFrame) -> pd.Series:
    """Return the :data:`STREET_KINDS` entry of every street.

    From ``truck_status`` (passable / uncertain / not passable); a street trucks cannot use is
    drawn by its width class (small vehicle, hose only), or as blocked when something other
    than its width stops trucks (access, height, a wide street off the network...). Without
    ``truck_status`` the width class alone decides.
    """
    cls = edges["width_class"].astype(str) if "width_class" in edges else pd.Series("", edges.index)
    blocked = (
        edges["blocked"].fillna(value=False).astype(bool)
        if "blocked" in edges
        else pd.Series(data=False, index=edges.index)
    )
    narrow = cls.where(cls.isin(["small_vehicle", "hose_only"]) & ~blocked, "blocked")
    if "truck_status" not in edges:
        return narrow.where(cls != "truck", "passable").where(~blocked, "blocked")
    status = edges["truck_status"].astype(str)
    return narrow.where(status == "not_passable", status).where(
        status.isin(["passable", "uncertain", "not_passable"]), "blocked"
    )


def _street_legend(data: MapData, lang: Language) -> list[tuple[str, str, str]]:
    truck = truck_widths_label(data.edges, data.truck_min_width_m)
    labels = {
        "passable": t("class_truck", lang, truck=truck),
        "uncertain": t("street_field_check", lang, truck=truck),
    }
    return [
        (COLOURS[_STREET_COLOUR[k]], labels.get(k) or t(f"class_{k}", lang),
         "dash" if k == "uncertain" else "line")
        for k in STREET_KINDS
    ]  # fmt: skip


def _street_styles() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k in STREET_KINDS:
        style: dict[str, Any] = {"c": COLOURS[_STREET_COLOUR[k]], "w": 2, "o": 0.9}
        if k == "passable":
            style["w"] = 2.5
        if k == "uncertain":
            style.update(w=3, dash=[6, 4])
        out.append(style)
    return out


def _streets(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    legend = _street_legend(data, lang)
    edges = data.edges
    if edges is None or len(edges) == 0:
        return _empty("layer_streets", legend)
    if "reversed" in edges.columns:
        edges = edges[~edges["reversed"].astype(bool)]
    kind = street_kinds(edges)
    styles = _street_styles()
    if detail == "province":
        return _province_streets(edges, kind, styles=styles, legend=legend, cfg=cfg, lang=lang)
    tip = Tip(heading_column="name", columns=STREET_TIP)
    return _layer(
        "layer_streets", edges, "line", legend, decimals=decimals_for(cfg, detail),
        simplify_m=_simplify_m(cfg, detail), styles=styles,
        style_index=kind.map({c: i for i, c in enumerate(STREET_KINDS)}).to_numpy(),
        tip=tip, lang=lang,
    )  # fmt: skip


def _province_streets(
    edges: gpd.GeoDataFrame,
    kind: pd.Series,
    *,
    styles: list[dict[str, Any]],
    legend: list[tuple[str, str, str]],
    cfg: ProvinceConfig,
    lang: Language,
) -> DrawnLayer:
    """Passable streets as chains at every zoom; the others as cells, then chains close up."""
    zoom = cfg.report.province_detail_zoom
    km = shapely.length(edges.geometry.to_numpy()) / 1000
    cols = {
        "street_km": km,
        "narrow_km": km * (kind != "passable").to_numpy() * (kind != "uncertain").to_numpy(),
        "uncertain_km": km * (kind == "uncertain").to_numpy(),
    }
    cells = grid_sums(edges, cfg.report.province_line_cell_m, cols)
    share = cells["narrow_km"].to_numpy() / np.maximum(cells["street_km"].to_numpy(), 1e-9)
    cells["narrow_share"] = np.round(100 * share).astype(int)
    tip = Tip(columns=["street_km", "narrow_km", "narrow_share", "uncertain_km"])
    parts = [
        _share_cells("layer_streets", cells, share, colour=COLOURS["hose_only"], cfg=cfg, tip=tip,
                     lang=lang)
    ]  # fmt: skip
    decimals = decimals_for(cfg, "province")
    for i, c in enumerate(STREET_KINDS):
        chains = gpd.GeoDataFrame(
            geometry=merge_lines(edges.geometry.to_numpy()[(kind == c).to_numpy()]), crs=edges.crs
        )
        parts.append(
            _layer(
                "layer_streets", chains, "line", legend, decimals=decimals,
                simplify_m=cfg.report.province_simplify_m, styles=[styles[i]],
                zooms=(None if c == "passable" else zoom, None),
            )
        )  # fmt: skip
    cell_legend = (COLOURS["hose_only"], t("cells_narrow_share", lang, cell=_cell_km(cfg)), "fill")
    return _multi("layer_streets", parts, [*legend, cell_legend])


#: Alley runs: to widen (not passable, someone behind), to check (uncertain, someone behind),
#: the others; each a translucent halo under the street line, which keeps its own colour.
ALLEY_KINDS: tuple[str, ...] = ("to_widen", "field_check", "other")
_ALLEY_STYLES: dict[str, dict[str, Any]] = {
    "to_widen": {"c": COLOURS["alley"], "w": 10, "o": 0.45},
    "field_check": {"c": COLOURS["uncertain"], "w": 10, "o": 0.4},
    "other": {"c": COLOURS["alley"], "w": 7, "o": 0.18},
}
#: Tooltip columns of an alley run (ward maps).
ALLEY_TIP = [
    "truck_status", "min_width_m", "min_width_low_m", "min_width_high_m", "truck_min_width_m",
    "width_shortfall_m", "length_m", "depth_m", "n_buildings_behind", "n_deep_behind",
    "floor_area_behind_m2", "width_evidence",
]  # fmt: skip


def alley_kinds(alleys: pd.DataFrame) -> pd.Series:
    """Return the :data:`ALLEY_KINDS` entry of every alley run (``other`` without the flags)."""
    out = pd.Series("other", index=alleys.index, dtype=object)
    for flag in ("field_check", "to_widen"):  # to_widen wins
        if flag in alleys:
            out = out.where(~alleys[flag].fillna(value=False).astype(bool), flag)
    return out


def _alleys(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    legend = [(str(_ALLEY_STYLES[k]["c"]), t(f"alleys_{k}", lang), "line") for k in ALLEY_KINDS]
    a = data.alleys
    if a is None or len(a) == 0:
        return _empty("layer_alleys", legend)
    kind = alley_kinds(a)
    styles = [_ALLEY_STYLES[k] for k in ALLEY_KINDS]
    style_index = kind.map({k: i for i, k in enumerate(ALLEY_KINDS)}).to_numpy()
    if detail == "province":
        # Only the alleys someone needs (to widen, to check) on the province map: the ward maps
        # have every run.
        work = (kind != "other").to_numpy() if {"to_widen", "field_check"} & set(a) else None
        if work is not None:
            a, style_index = a[work], style_index[work]
        zoom = cfg.report.province_detail_zoom
        cells = grid_sums(a, cfg.report.province_line_cell_m, {"n": np.ones(len(a))})
        idx, _ = count_bins(cells["n"].to_numpy(), COUNT_BINS)
        cell_styles = [{"c": COLOURS["alley"], "w": 0, "fo": round(0.15 + 0.09 * b, 2)}
                       for b in range(COUNT_BINS)]  # fmt: skip
        coarse = _layer(
            "layer_alleys", cells, "poly", legend, decimals=decimals_for(cfg, detail),
            simplify_m=0, styles=cell_styles, style_index=idx,
            tip=Tip(heading=t("cells_alleys_count", lang, n="{n}")), lang=lang,
            zooms=(None, zoom - 1),
        )  # fmt: skip
        parts = [coarse]
        for i in range(len(ALLEY_KINDS)):
            merged = gpd.GeoDataFrame(
                geometry=merge_lines(a.geometry.to_numpy()[style_index == i]), crs=a.crs
            )
            parts.append(
                _layer(
                    "layer_alleys", merged, "line", legend, decimals=decimals_for(cfg, detail),
                    simplify_m=_simplify_m(cfg, detail), styles=[styles[i]], zooms=(zoom, None),
                )
            )  # fmt: skip
        cell_legend = (COLOURS["alley"], t("cells_alleys", lang, cell=_cell_km(cfg)), "fill")
        return _multi("layer_alleys", parts, [*legend, cell_legend])
    tip = Tip(heading=t("layer_alleys", lang), heading_column="name", columns=ALLEY_TIP)
    ids = None
    if data.alley_ids is not None and "alley_id" in a:
        found = a["alley_id"].map(data.alley_ids)
        ids = [None if pd.isna(v) else str(v) for v in found]
    return _layer(
        "layer_alleys", a, "line", legend, decimals=decimals_for(cfg, detail),
        simplify_m=_simplify_m(cfg, detail), styles=styles, style_index=style_index,
        tip=tip, lang=lang, ids=ids,
    )  # fmt: skip


#: Deep-building statuses drawn: beyond hose reach, and uncertain (field check).
DEEP_KINDS: tuple[str, ...] = ("deep", "uncertain")


def _deep(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    colour = COLOURS["deep_building"]
    legend = [(colour, t("deep_deep", lang), "fill"),
              (COLOURS["uncertain"], t("deep_uncertain", lang), "fill")]  # fmt: skip
    b = data.deep_buildings
    if b is None or len(b) == 0:
        return _empty("layer_deep_buildings", legend)
    status = (
        b["deep_status"].astype(str)
        if "deep_status" in b
        else pd.Series("deep", index=b.index, dtype=object)
    )
    if detail == "province":
        b = b[(status == "deep").to_numpy()]  # counted: beyond hose reach
        legend = legend[:1]
        if len(b) > cfg.report.province_max_points:
            label = t("layer_deep_buildings", lang)
            return _cells("layer_deep_buildings", b, colour=colour, label=label, cfg=cfg, lang=lang)
        b = b.set_geometry(shapely.centroid(b.geometry.to_numpy()))
        status = status[(status == "deep").to_numpy()]
    kind: Kind = "point" if detail == "province" else "poly"
    tip = Tip(
        heading=t("layer_deep_buildings", lang),
        columns=["deep_status", "hose_distance_m", "bottleneck_width_m", "floor_area_m2"],
    )
    styles = [{"c": colour, "w": 1, "fo": 0.6, "r": 3},
              {"c": COLOURS["uncertain"], "w": 1, "fo": 0.45, "r": 3}]  # fmt: skip
    return _layer(
        "layer_deep_buildings", b, kind, legend, decimals=decimals_for(cfg, detail),
        simplify_m=0 if kind == "point" else _simplify_m(cfg, detail), styles=styles,
        style_index=(status == "uncertain").astype(int).to_numpy(), tip=tip, lang=lang,
    )  # fmt: skip


def _water(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    legend = [
        (COLOURS["water_usable"], t("water_usable", lang), "dot"),
        (COLOURS["water_unusable"], t("water_unusable", lang), "dot"),
    ]
    w = data.water_sources
    if w is None or len(w) == 0:
        return _empty("layer_water", legend)
    usable = (
        w["usable"].fillna(value=False).astype(bool).to_numpy()
        if "usable" in w.columns
        else np.ones(len(w), bool)
    )
    pts = w.set_geometry(shapely.point_on_surface(w.geometry.to_numpy()))
    styles = [
        {"c": COLOURS["water_usable"], "w": 2, "fo": 0.8, "r": 5},
        {"c": COLOURS["water_unusable"], "w": 2, "fo": 0.6, "r": 4},
    ]
    tip = Tip(heading=t("layer_water", lang), heading_column="name",
              columns=["kind", "reach_m", "reason"])  # fmt: skip
    return _layer(
        "layer_water", pts, "point", legend, decimals=decimals_for(cfg, detail), simplify_m=0,
        styles=styles, style_index=np.where(usable, 0, 1), tip=tip, lang=lang,
    )  # fmt: skip


def _water_reach(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    kinds = ("hydrant", "natural")
    legend = [
        (COLOURS[f"reach_{k}"], t(f"reach_{k}", lang, m=f"{data.reach_m.get(k, 0):g}"), "line")
        for k in kinds
    ]
    r = data.water_reach
    show = detail == "ward"
    if r is None or len(r) == 0:
        return _empty("layer_water_reach", legend, show=show)
    # A wide band under the alley halo and the street line: the stretch a hose reaches.
    styles = [{"c": COLOURS[f"reach_{k}"], "w": 14, "o": 0.5} for k in kinds]
    kind_idx = r["kind"].map({k: i for i, k in enumerate(kinds)}).fillna(1).astype(int)
    if detail == "province":
        return _province_reach(
            data, r, kind_idx.to_numpy(), styles=styles, legend=legend, cfg=cfg, lang=lang
        )
    table = r.assign(label=[t(f"reach_{k}", lang, m=f"{m:g}") for k, m in
                            zip(r["kind"], r["reach_m"], strict=True)])  # fmt: skip
    tip = Tip(heading=t("layer_water_reach", lang), heading_column="label")
    ready = [c for c in (wgs84_column(decimals_for(cfg, detail), _simplify_m(cfg, detail)),)
             if c in table.columns]  # fmt: skip
    return _layer(
        "layer_water_reach", table[["label", "geometry", *ready]], "line", legend,
        decimals=decimals_for(cfg, detail), simplify_m=_simplify_m(cfg, detail), styles=styles,
        style_index=kind_idx.to_numpy(), tip=tip, lang=lang, show=show,
    )  # fmt: skip


def _union_length_m(r: gpd.GeoDataFrame) -> np.ndarray:
    """Each stretch's length not already reached by an earlier one on its street.

    A hydrant and a pond may reach the same stretch: summed per street, these give the
    length reached by either (the union), as the water stage's ``covered_m`` does.
    """
    if not {"u", "v", "key", "from_m", "to_m"} <= set(r.columns):
        length: np.ndarray = shapely.length(r.geometry.to_numpy())
        return length
    a, b = r["from_m"].to_numpy(float), r["to_m"].to_numpy(float)
    street, _ = pd.MultiIndex.from_arrays([r["u"], r["v"], r["key"]]).factorize()
    order = np.lexsort((a, street))
    s, aa, bb = street[order], a[order], b[order]
    before = pd.Series(bb).groupby(s).cummax().groupby(s).shift(1).fillna(-np.inf).to_numpy()
    out = np.empty(len(r))
    out[order] = np.maximum(0.0, bb - np.maximum(aa, before))
    return out


def _province_reach(
    data: MapData,
    r: gpd.GeoDataFrame,
    kind_idx: np.ndarray,
    *,
    styles: list[dict[str, Any]],
    legend: list[tuple[str, str, str]],
    cfg: ProvinceConfig,
    lang: Language,
) -> DrawnLayer:
    """Water reach as cells (share of street length reached), then as stretches close up."""
    zoom = cfg.report.province_detail_zoom
    parts = []
    edges = data.edges
    if edges is not None and len(edges):
        if "reversed" in edges.columns:
            edges = edges[~edges["reversed"].astype(bool)]
        cell_m = cfg.report.province_line_cell_m
        cols = {"street_km": shapely.length(edges.geometry.to_numpy()) / 1000}
        streets = grid_sums(edges, cell_m, cols)
        reached = grid_sums(r, cell_m, {"km": _union_length_m(r) / 1000})
        km = pd.Series(
            reached["km"].to_numpy(),
            index=pd.MultiIndex.from_arrays([reached["cx"], reached["cy"]]),
        )
        at = pd.MultiIndex.from_arrays([streets["cx"], streets["cy"]])
        streets["reach_km"] = km.reindex(at).fillna(0.0).to_numpy()
        share = np.minimum(1.0, streets["reach_km"] / np.maximum(streets["street_km"], 1e-9))
        streets["reach_share"] = np.round(100 * share.to_numpy()).astype(int)
        tip = Tip(columns=["street_km", "reach_km", "reach_share"])
        parts.append(
            _share_cells(
                "layer_water_reach", streets, share.to_numpy(), colour=COLOURS["reach_natural"],
                cfg=cfg, tip=tip, lang=lang,
            )
        )  # fmt: skip
    for i in range(len(styles)):
        chains = gpd.GeoDataFrame(
            geometry=merge_lines(r.geometry.to_numpy()[kind_idx == i]), crs=r.crs
        )
        parts.append(
            _layer(
                "layer_water_reach", chains, "line", legend, decimals=decimals_for(cfg, "province"),
                simplify_m=cfg.report.province_simplify_m, styles=[styles[i]], zooms=(zoom, None),
            )
        )  # fmt: skip
    cell_legend = (
        COLOURS["reach_natural"],
        t("cells_reach_share", lang, cell=_cell_km(cfg)),
        "fill",
    )
    return _multi("layer_water_reach", parts, [*legend, cell_legend], show=False)


def _stations(data: MapData, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    statuses = ("existing", "planned")
    legend = [(COLOURS[f"station_{s}"], t(f"status_{s}", lang), "dot") for s in statuses]
    s = data.stations
    if s is None or len(s) == 0:
        return _empty("layer_stations", legend)
    status = s["status"].astype(str) if "status" in s.columns else pd.Series("existing", s.index)
    styles = [{"c": COLOURS[f"station_{st}"], "w": 3, "fo": 0.9, "r": 8} for st in statuses]
    pts = s.set_geometry(shapely.point_on_surface(s.geometry.to_numpy()))
    return _layer(
        "layer_stations", pts, "point", legend, decimals=cfg.report.coordinate_decimals,
        simplify_m=0, styles=styles, style_index=(status == "planned").astype(int).to_numpy(),
        tip=Tip(heading=t("layer_stations", lang), heading_column="name", columns=["status"]),
        lang=lang,
    )  # fmt: skip


def _isochrones(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    iso = data.isochrones
    if iso is None or len(iso) == 0:
        return _empty("layer_isochrones", [])
    iso = iso.sort_values("minutes", ascending=False)
    breaks = sorted(iso["minutes"].unique())
    colour = {
        m: ISOCHRONE_COLOURS[min(i, len(ISOCHRONE_COLOURS) - 1)] for i, m in enumerate(breaks)
    }
    styles = [{"c": colour[m], "w": 1, "fo": 0.15} for m in breaks]
    table = iso.assign(label=[t("minutes", lang, m=float(m)) for m in iso["minutes"]])
    legend = [(colour[m], t("minutes", lang, m=float(m)), "fill") for m in breaks]
    return _layer(
        "layer_isochrones", table[["label", "geometry"]], "poly", legend,
        decimals=decimals_for(cfg, detail), simplify_m=_simplify_m(cfg, detail), styles=styles,
        style_index=iso["minutes"].map({m: i for i, m in enumerate(breaks)}).to_numpy(),
        tip=Tip(heading_column="label"), lang=lang,
    )  # fmt: skip


def _dense(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    colour = COLOURS["dense_unreached"]
    legend = [(colour, t("layer_dense_unreached", lang), "fill")]
    d = data.dense_unreached
    if d is None or len(d) == 0:
        return _empty("layer_dense_unreached", legend)
    if detail == "province" and len(d) > cfg.report.province_max_points:
        # Thousands of small squares: drawn as their union (one outline per patch), fast to
        # fill at province zoom; each cell's figures are on its ward map.
        merged = shapely.get_parts(shapely.coverage_union_all(d.geometry.to_numpy()))
        d = gpd.GeoDataFrame(geometry=merged, crs=d.crs)
    tip = Tip(heading=t("layer_dense_unreached", lang),
              columns=["floor_area_m2", "population", "time_s"])  # fmt: skip
    return _layer(
        "layer_dense_unreached", d, "poly", legend, decimals=decimals_for(cfg, detail),
        simplify_m=0, styles=[{"c": colour, "w": 1, "fo": 0.45}], tip=tip, lang=lang,
    )  # fmt: skip


def _sites(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    kinds = ("site_alley", "site_field_check", "site_station", "site_hydrant", "site_fire_point")
    lines = {"site_alley", "site_field_check"}
    legend = [(COLOURS[k], t(k, lang), "line" if k in lines else "dot") for k in kinds]
    s = data.sites
    if s is None or len(s) == 0:
        return _empty("layer_shortlist", legend)
    styles = [{"c": COLOURS[k], "w": 3, "fo": 0.8, "r": 7} for k in kinds]
    idx = s["kind"].map({k: i for i, k in enumerate(kinds)}).fillna(0).astype(int).to_numpy()
    table = s.assign(label=[t(k, lang) for k in s["kind"]])
    popups = [None if pd.isna(p) else str(p) for p in s["why_html"]]
    ids = [None if pd.isna(i) else str(i) for i in s["id"]]
    out = []
    # Alleys (to widen, to check) are lines, the other sites points: one layer's data each.
    is_line = s["kind"].isin(lines).to_numpy()
    for kind, mask in (("line", is_line), ("point", ~is_line)):
        if not mask.any():
            continue
        part = table[mask]
        out.append(
            _layer(
                "layer_shortlist",
                part[["label", "geometry"]],
                cast("Kind", kind),
                legend,
                decimals=cfg.report.coordinate_decimals,
                simplify_m=_simplify_m(cfg, detail),
                styles=styles,
                style_index=idx[mask],
                tip=Tip(heading_column="label"),
                lang=lang,
                popups=[p for p, m in zip(popups, mask, strict=True) if m],
                ids=[i for i, m in zip(ids, mask, strict=True) if m],
            )
        )
    if len(out) == 1:
        return out[0]
    combined = {"multi": [json.loads(d.data) for d in out]}
    return DrawnLayer(
        "layer_shortlist", json.dumps(combined, ensure_ascii=False, separators=(",", ":")),
        sum(d.n_features for d in out), legend,
    )  # fmt: skip


def _ward_outlines(
    data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language
) -> DrawnLayer:
    w = data.wards
    approx = (
        w["approximate"].fillna(value=False).astype(bool).to_numpy()
        if "approximate" in w.columns
        else np.zeros(len(w), bool)
    )
    legend = []
    if not approx.all():
        legend.append((COLOURS["ward"], t("layer_wards", lang), "dash"))
    if approx.any():
        legend.append((COLOURS["ward_approximate"], t("ward_approximate", lang), "dash"))
    names = w["name"].astype(str)
    labels = [
        f"{n} ({t('approximate_boundary', lang)})" if a else n
        for n, a in zip(names, approx, strict=True)
    ]
    popups: list[str | None] = []
    for label, file in zip(labels, w["map_file"], strict=True):
        popup = f"<b>{html.escape(label)}</b>"
        if detail == "province" and file:
            # "{view}" becomes the clicked spot: the ward map opens there.
            href = html.escape(str(file)) + "{view}"
            popup += f'<br><a href="{href}">{html.escape(t("open_ward_map", lang))}</a>'
        popups.append(popup)
    styles = [
        {"c": COLOURS["ward"], "w": 1.5, "dash": WARD_DASH, "fo": 0},
        {"c": COLOURS["ward_approximate"], "w": 2, "dash": APPROXIMATE_DASH, "fo": 0},
    ]
    table = gpd.GeoDataFrame({"label": labels}, geometry=w.geometry.to_numpy(), crs=w.crs)
    return _layer(
        "layer_wards", table, "poly", legend, decimals=decimals_for(cfg, detail),
        simplify_m=_simplify_m(cfg, detail), styles=styles, style_index=approx.astype(int),
        tip=Tip(heading_column="label"), lang=lang, popups=popups,
    )  # fmt: skip


#: Layers a ward map draws with their geometry as it is (rows of the province's layer).
WARD_READY_LAYERS = ("edges", "alleys", "deep_buildings", "water_reach")


def ready_for_wards(
    key: str, gdf: gpd.GeoDataFrame | None, cfg: ProvinceConfig
) -> gpd.GeoDataFrame | None:
    """Return a layer of :class:`MapData` with the geometry its ward maps draw made once.

    Streets, alleys, deep buildings and water reach are drawn on a ward map as they are:
    their WGS84 geometry (simplified and rounded for ward maps) is made here for the whole
    province (:func:`pipeline.map_encode.with_wgs84`) instead of once per ward. Streets
    drawn in the other direction (``reversed``) are not drawn and get none. Other layers
    are returned unchanged.
    """
    if gdf is None or not len(gdf) or key not in WARD_READY_LAYERS:
        return gdf
    rows = None
    if key == "edges" and "reversed" in gdf.columns:
        rows = ~gdf["reversed"].astype(bool).to_numpy()
    return with_wgs84(gdf, decimals_for(cfg, "ward"), _simplify_m(cfg, "ward"), rows=rows)


def build_layers(
    data: MapData, cfg: ProvinceConfig, lang: Language, *, detail: Detail
) -> list[DrawnLayer]:
    """Return every overlay of a map, in drawing order (bottom first).

    Parameters
    ----------
    data
        What to draw (a ward map gets only its ward's rows).
    cfg
        Province config (``report`` section: simplification, rounding, aggregation).
    lang
        {"vi", "en"}
    detail
        {"province", "ward"}: the province map joins streets into chains without tooltips and
        counts dense point layers in grid cells; ward maps draw every feature with its tooltip.

    Returns
    -------
    list of DrawnLayer
    """
    return [
        _ward_outlines(data, detail, cfg, lang),
        _isochrones(data, detail, cfg, lang),
        _dense(data, detail, cfg, lang),
        _water_reach(data, detail, cfg, lang),
        _alleys(data, detail, cfg, lang),
        _streets(data, detail, cfg, lang),
        _deep(data, detail, cfg, lang),
        _water(data, detail, cfg, lang),
        _stations(data, cfg, lang),
        _sites(data, detail, cfg, lang),
    ]


class _CanvasLayer(Layer):
    """A firegap layer (``static/firegap_map.js``): compact data drawn on its own canvas."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.firegapLayer({{ this.data_token }},
            {zIndex: {{ this.z_index }}, name: {{ this.layer_name|tojson }}});
        {% endmacro %}
        """
    )

    def __init__(self, drawn: DrawnLayer, name: str, z_index: int) -> None:
        super().__init__(name=name, overlay=True, control=True, show=drawn.show)
        self._name = "FiregapLayer"
        # The data goes in after rendering (see render_map): branca compiles every rendered
        # script as a Jinja template, which is slow on megabytes and breaks on "{{" in them.
        self.data_token = f"__firegap_data_{self.get_name()}__"
        self.payload = {self.data_token: drawn.data.replace("</", "<\\/")}
        self.z_index = z_index


class _Legend(MacroElement):
    """The title, a legend control above the metric scale bar, and the opening view."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <style>
        .firegap-legend {background: rgba(255,255,255,0.92); padding: 6px 10px;
          border-radius: 4px; font: 12px/1.35 sans-serif; max-height: 45vh; overflow-y: auto;
          box-shadow: 0 1px 4px rgba(0,0,0,0.3); max-width: 300px;}
        .firegap-legend b {display: block; margin-top: 4px;}
        .firegap-legend i {display: inline-block; width: 14px; height: 12px; margin-right: 5px;
          vertical-align: -2px; border-radius: 2px;}
        .firegap-legend i.line {height: 4px; vertical-align: 2px; border-radius: 0;}
        .firegap-legend i.dash {height: 0; border-top: 2px dashed; vertical-align: 3px;
          background: none !important;}
        .firegap-legend i.dot {width: 10px; height: 10px; border-radius: 50%;}
        .firegap-legend small {display: block; color: #495057; margin-top: 4px;}
        .leaflet-control-scale-line {background: rgba(255,255,255,0.85); font-weight: bold;
          border-width: 2px; border-color: #212529;}
        .firegap-title {position: fixed; top: 10px; left: 50px; z-index: 1000;
          background: rgba(255,255,255,0.92); padding: 4px 10px; border-radius: 4px;
          font: bold 15px sans-serif; box-shadow: 0 1px 4px rgba(0,0,0,0.3);}
        .firegap-found {font-weight: bold; border: 2px solid #fab005;}
        </style>
        <div class="firegap-title">{{ this.title }}</div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            L.control.scale({metric: true, imperial: false, maxWidth: 160}).addTo(map);
            var legend = L.control({position: "bottomleft"});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "firegap-legend");
                div.innerHTML = {{ this.content|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            legend.addTo(map);
            L.firegapOpen(map, {{ this.bounds|tojson }});
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        title: str,
        layers: list[tuple[str, DrawnLayer]],
        lang: Language,
        bounds: list[list[float]],
        note: str = "",
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Legend"
        self.title = html.escape(title)
        self.bounds = bounds
        parts = [f"<b>{html.escape(t('legend', lang))}</b>"]
        for name, drawn in layers:
            if len(drawn.legend) == 1:
                colour, _, swatch = drawn.legend[0]
                parts.append(
                    f'<b><i class="{swatch}" style="background:{colour};color:{colour}"></i>'
                    f"{html.escape(name)}</b>"
                )
                continue
            parts.append(f"<b>{html.escape(name)}</b>")
            parts.extend(
                f'<i class="{swatch}" style="background:{colour};color:{colour}"></i>'
                f"{html.escape(label)}<br>"
                for colour, label, swatch in drawn.legend
            )
        if note:
            parts.append(f"<small>{html.escape(note)}</small>")
        self.content = "\n".join(parts)


@functools.lru_cache(maxsize=16)
def _tile_source(tiles: str) -> xyzservices.TileProvider:
    """Return the tiles folium draws for ``tiles``, a provider name or a URL.

    Folium looks a name up among every xyzservices provider on each map (a URL too, before
    taking it as one); here it is looked up once. A URL becomes a provider with no options
    of its own, which folium draws as it draws the URL.
    """
    name = "OpenStreetMap Mapnik" if tiles.lower() == "openstreetmap" else tiles  # as folium
    try:
        return xyzservices.providers.query_name(name)
    except ValueError:
        return xyzservices.TileProvider(name="custom", url=tiles, attribution="")


def render_map(
    layers: list[DrawnLayer],
    bounds_wgs84: tuple[float, float, float, float],
    cfg: ProvinceConfig,
    lang: Language,
    *,
    title: str,
    assets: tuple[str, str] | None,
    note: str = "",
) -> str:
    """Return a self-contained Leaflet map page with a layer control and a legend.

    Parameters
    ----------
    layers
        The overlays (see :func:`build_layers`).
    bounds_wgs84
        ``(west, south, east, north)`` the map opens on, unless its address names a view:
        ``#<zoom>/<lat>/<lon>[/<row id>]`` (the shortlists' links) opens there and rings the
        feature carrying that row id.
    cfg
        Province config (tile URLs).
    lang
        {"vi", "en"}
    title
        Shown at the top of the map and as the page title.
    assets
        Leaflet's JS and CSS text to inline (:func:`leaflet_assets`); ``None`` loads Leaflet
        from a CDN, which needs an internet connection.
    note
        A line under the legend (for example that ward boundaries are approximate).

    Returns
    -------
    str
        The HTML page.
    """
    west, south, east, north = bounds_wgs84
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=None, control_scale=False, zoom_start=13,
    )  # fmt: skip
    # Only Leaflet itself is needed: no jQuery, Bootstrap or icon fonts.
    m.default_js = []
    m.default_css = []
    fig = cast("Figure", m.get_root())
    fig.header.add_child(Element(f"<title>{html.escape(title)}</title>"), name="title")
    script = map_script().replace("</script", "<\\/script")
    marker = "<!--firegap-leaflet-->"
    fig.header.add_child(Element(marker), name="leaflet_inline")
    payload: dict[str, str] = {}
    if assets is not None:
        js, css = assets
        safe_js = js.replace("</script", "<\\/script")
        payload[marker] = f"<style>{css}</style>\n<script>{safe_js}</script>"
    else:
        m.default_js = [("leaflet", LEAFLET_CDN + "leaflet.js")]
        m.default_css = [("leaflet_css", LEAFLET_CDN + "leaflet.css")]
        payload[marker] = ""
    payload[marker] += f"\n<script>{script}</script>"
    folium.TileLayer(
        _tile_source("OpenStreetMap"), name=t("base_osm", lang), attr=t("attribution", lang)
    ).add_to(m)
    folium.TileLayer(
        _tile_source(cfg.report.satellite_tiles), name=t("base_satellite", lang),
        attr=cfg.report.satellite_attribution, show=False,
    ).add_to(m)  # fmt: skip
    named = [(t(d.key, lang), d) for d in layers]
    for z, (name, drawn) in enumerate(named):
        layer = _CanvasLayer(drawn, name, z_index=z + 1)
        payload.update(layer.payload)
        layer.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    bounds = [[south, west], [north, east]]
    m.add_child(_Legend(title, [(n, d) for n, d in named if d.legend], lang, bounds, note))
    page = fig.render()
    for token, text in payload.items():
        page = page.replace(token, text, 1)
    return page


def write_map(text: str, path: Path, *, max_mb: float | None = None) -> float:
    """Write a map page and return its size in MB (a warning when above ``max_mb``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    size_mb = path.stat().st_size / 1e6
    if max_mb is not None and size_mb > max_mb:
        logger.warning(
            "report: %s is %.1f MB, above report.max_map_mb = %g; raise "
            "report.province_simplify_m or lower report.province_max_points",
            path, size_mb, max_mb,
        )  # fmt: skip
    return size_mb
