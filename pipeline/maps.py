"""Folium (Leaflet) maps of the province and its wards: render only, self-contained HTML."""

from __future__ import annotations

import base64
import html
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.map import Layer
from jinja2 import Template

from pipeline.i18n import t
from pipeline.map_encode import (
    Detail,
    decimals_for,
    empty_geojson,
    encoded_json,
    geojson,
    grid_counts,
    merged_group,
    rectangles,
    round_wgs84,
    tooltips,
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
    "alley": "#c2255c",
    "deep_building": "#ae3ec9",
    "water_usable": "#1098ad",
    "water_unusable": "#868e96",
    "station_existing": "#c92a2a",
    "station_planned": "#e67700",
    "dense_unreached": "#f03e3e",
    "site_station": "#d6336c",
    "site_hydrant": "#0c8599",
    "site_fire_point": "#2b8a3e",
    "ward": "#343a40",
}
#: Isochrone fill colours, from the shortest break to the longest.
ISOCHRONE_COLOURS: tuple[str, ...] = ("#2f9e44", "#94d82d", "#fcc419", "#fd7e14", "#e8590c")
WIDTH_CLASSES: tuple[str, ...] = ("truck", "small_vehicle", "hose_only", "blocked")


@dataclass
class MapData:
    """Everything a map draws, in the project CRS; ``None`` or empty when a stage has no result.

    Every frame may carry a ``ward_id`` column (from a spatial join on the ward layer); ward
    maps keep only their ward's rows.
    """

    wards: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame | None = None
    alleys: gpd.GeoDataFrame | None = None
    deep_buildings: gpd.GeoDataFrame | None = None
    water_sources: gpd.GeoDataFrame | None = None
    stations: gpd.GeoDataFrame | None = None
    isochrones: gpd.GeoDataFrame | None = None
    dense_unreached: gpd.GeoDataFrame | None = None
    sites: gpd.GeoDataFrame | None = None
    truck_min_width_m: float = 3.5


@dataclass
class DrawnLayer:
    """One overlay of the layer control: GeoJSON text and its legend entries."""

    key: str
    geojson: str
    n_features: int
    legend: list[tuple[str, str]] = field(default_factory=list)
    weight: float = 2.0
    fill_opacity: float = 0.3
    opacity: float = 0.9
    point_radius_px: float = 4.0
    show: bool = True
    #: Province-scale lines without tooltips: ``[{"c": colour, "s": encoded, "n": counts}]``
    #: as JSON (see :func:`encode_lines`), drawn in the same layer as ``geojson``.
    encoded: str = "[]"
    decimals: int = 6


class _GeoJsonLayer(Layer):
    """A Leaflet GeoJSON layer styled from compact per-feature properties.

    Properties: ``c`` colour, ``w`` line weight, ``r`` circle radius in metres (drawn as
    ``L.circle``), ``t`` tooltip HTML, ``p`` popup HTML. Encoded line groups (no tooltips) are
    decoded in the page and added to the same layer.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON({{ this.data_token }}, {
            style: function (f) {
                var p = f.properties;
                return {color: p.c, weight: p.w || {{ this.weight }}, opacity: {{ this.opacity }},
                        fillColor: p.c, fillOpacity: {{ this.fill_opacity }},
                        dashArray: p.d || null};
            },
            pointToLayer: function (f, ll) {
                var p = f.properties;
                if (p.r) { return L.circle(ll, {radius: p.r}); }
                return L.circleMarker(ll, {radius: {{ this.point_radius }}});
            },
            onEachFeature: function (f, l) {
                var p = f.properties;
                if (p.t) { l.bindTooltip(p.t, {sticky: true}); }
                if (p.p) { l.bindPopup(p.p, {maxWidth: 360}); }
            }
        });
        (function (layer, groups, f) {
            function decode(s, counts) {
                var i = 0, lat = 0, lng = 0, out = [];
                function next() {
                    var r = 0, sh = 0, b;
                    do {
                        b = s.charCodeAt(i++) - 63; r |= (b & 31) << sh; sh += 5;
                    } while (b >= 32);
                    return (r & 1) ? ~(r >> 1) : (r >> 1);
                }
                for (var c = 0; c < counts.length; c++) {
                    var line = [];
                    for (var k = 0; k < counts[c]; k++) {
                        lat += next(); lng += next(); line.push([lat / f, lng / f]);
                    }
                    out.push(line);
                }
                return out;
            }
            groups.forEach(function (g) {
                var lines = decode(g.s, g.n);
                if (!g.box) {
                    L.polyline(lines, {color: g.c, weight: {{ this.weight }},
                        opacity: {{ this.opacity }}, interactive: false}).addTo(layer);
                    return;
                }
                // Cells binned by count (1, 2-3, 4-7, ...): one multi-polygon per bin keeps
                // tens of thousands of cells fast to draw.
                var bins = {};
                lines.forEach(function (b, i) {
                    var n = g.k ? g.k[i] : 1, bin = Math.min(6, Math.floor(Math.log2(n)));
                    var sw = b[0], ne = b[1];
                    (bins[bin] = bins[bin] || []).push(
                        [[sw, [sw[0], ne[1]], ne, [ne[0], sw[1]]]]);
                });
                Object.keys(bins).forEach(function (bin) {
                    var lo = Math.pow(2, +bin), hi = +bin < 6 ? 2 * lo - 1 : null;
                    var n = hi === null ? lo + "+" : (hi > lo ? lo + "\u2013" + hi : "" + lo);
                    L.polygon(bins[bin], {color: g.c, weight: 0, fillColor: g.c,
                        fillOpacity: 0.25 + 0.1 * bin})
                        .bindTooltip(g.label.replace("{n}", n), {sticky: true}).addTo(layer);
                });
            });
        })({{ this.get_name() }}, {{ this.encoded_token }}, {{ this.scale }});
        {% endmacro %}
        """
    )

    def __init__(self, drawn: DrawnLayer, name: str) -> None:
        super().__init__(name=name, overlay=True, control=True, show=drawn.show)
        self._name = "GeoJsonLayer"
        # The data goes in after rendering (see render_map): branca compiles every rendered
        # script as a Jinja template, which is slow on megabytes and breaks on "{{" in them.
        self.data_token = f"__firegap_data_{self.get_name()}__"
        self.encoded_token = f"__firegap_encoded_{self.get_name()}__"
        self.payload = {
            self.data_token: drawn.geojson.replace("</", "<\\/"),
            self.encoded_token: drawn.encoded.replace("</", "<\\/"),
        }
        self.weight = drawn.weight
        self.fill_opacity = drawn.fill_opacity
        self.opacity = drawn.opacity
        self.point_radius = drawn.point_radius_px
        self.scale = 10**drawn.decimals


class _Legend(MacroElement):
    """A fixed legend box listing every layer and its colours."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div class="firegap-legend">{{ this.content }}</div>
        <style>
        .firegap-legend {position: fixed; bottom: 24px; left: 10px; z-index: 1000;
          background: rgba(255,255,255,0.92); padding: 6px 10px; border-radius: 4px;
          font: 12px/1.35 sans-serif; max-height: 60vh; overflow-y: auto;
          box-shadow: 0 1px 4px rgba(0,0,0,0.3);}
        .firegap-legend b {display: block; margin-top: 4px;}
        .firegap-legend i {display: inline-block; width: 12px; height: 12px; margin-right: 5px;
          vertical-align: -2px; border-radius: 2px;}
        .firegap-title {position: fixed; top: 10px; left: 50px; z-index: 1000;
          background: rgba(255,255,255,0.92); padding: 4px 10px; border-radius: 4px;
          font: bold 15px sans-serif; box-shadow: 0 1px 4px rgba(0,0,0,0.3);}
        </style>
        <div class="firegap-title">{{ this.title }}</div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            function go() {
                var h = window.location.hash.slice(1).split("/");
                var p = h.slice(0, 3).map(Number);
                if (p.length === 3 && p.every(isFinite)) { map.setView([p[1], p[2]], p[0]); }
            }
            go();
            window.addEventListener("hashchange", go);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, title: str, layers: list[tuple[str, DrawnLayer]], lang: Language) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Legend"
        self.title = html.escape(title)
        parts = [f"<b>{html.escape(t('legend', lang))}</b>"]
        for name, drawn in layers:
            if len(drawn.legend) == 1:
                colour = drawn.legend[0][0]
                parts.append(f'<b><i style="background:{colour}"></i>{html.escape(name)}</b>')
                continue
            parts.append(f"<b>{html.escape(name)}</b>")
            parts.extend(
                f'<i style="background:{colour}"></i>{html.escape(label)}<br>'
                for colour, label in drawn.legend
            )
        self.content = "\n".join(parts)


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


def _streets(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    rc = cfg.report
    legend = [
        (COLOURS[c], t(f"class_{c}", lang, truck=f"{data.truck_min_width_m:g}"))
        for c in WIDTH_CLASSES
    ]
    edges = data.edges
    if edges is None or len(edges) == 0:
        return DrawnLayer("layer_streets", empty_geojson(), 0, legend)
    if "reversed" in edges.columns:
        edges = edges[~edges["reversed"].astype(bool)]
    cls = edges["width_class"].astype(str)
    if "blocked" in edges.columns:
        cls = cls.where(~edges["blocked"].fillna(value=False).astype(bool), "blocked")
    cols = ["width_m", "width_source", "highway"]
    if detail == "province":
        # Truck streets merged and simplified, without tooltips; other streets keep theirs
        # unless there are more than province_max_points of them (then merged by class too).
        truck = (cls == "truck").to_numpy()
        few = int((~truck).sum()) <= rc.province_max_points
        merge = truck if few else np.ones(len(cls), dtype=bool)
        groups = [
            merged_group(
                edges[merge & (cls == c).to_numpy()], COLOURS.get(c, COLOURS["blocked"]), cfg
            )
            for c in dict.fromkeys(cls[merge])
        ]
        text, n = empty_geojson(), 0
        if few and (~truck).any():
            other = edges[~truck]
            g2 = round_wgs84(other, decimals_for(cfg, detail), rc.province_simplify_m)
            tips = tooltips(other, cols, lang)
            p2 = [
                {"c": COLOURS.get(c, COLOURS["blocked"]), "t": tip}
                for c, tip in zip(cls[~truck], tips, strict=True)
            ]
            text, n = geojson(g2, p2), len(g2)
        return DrawnLayer(
            "layer_streets", text, n + sum(len(g["n"]) for g in groups), legend,
            encoded=encoded_json(groups), decimals=decimals_for(cfg, detail),
        )  # fmt: skip
    geoms = round_wgs84(edges, rc.coordinate_decimals, rc.ward_simplify_m)
    tips = tooltips(edges, cols, lang)
    props = [
        {"c": COLOURS.get(c, COLOURS["blocked"]), "t": tip}
        for c, tip in zip(cls, tips, strict=True)
    ]
    return DrawnLayer("layer_streets", geojson(geoms, props), len(geoms), legend)


def _alleys(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    legend = [(COLOURS["alley"], t("layer_alleys", lang))]
    a = data.alleys
    if a is None or len(a) == 0:
        return DrawnLayer("layer_alleys", empty_geojson(), 0, legend, weight=9, opacity=0.35)
    if detail == "province" and len(a) > cfg.report.province_max_points:
        group = merged_group(a, COLOURS["alley"], cfg)
        return DrawnLayer(
            "layer_alleys", empty_geojson(), len(group["n"]), legend, weight=9, opacity=0.35,
            encoded=encoded_json([group]), decimals=decimals_for(cfg, detail),
        )  # fmt: skip
    tol = cfg.report.province_simplify_m if detail == "province" else cfg.report.ward_simplify_m
    geoms = round_wgs84(a, decimals_for(cfg, detail), tol)
    cols = ["length_m", "depth_m", "min_width_m", "n_buildings", "floor_area_m2", "priority"]
    tips = tooltips(a, cols, lang, t("layer_alleys", lang))
    props = [{"c": COLOURS["alley"], "t": tip} for tip in tips]
    # A wide translucent halo under the street lines: the line inside still shows the width class.
    return DrawnLayer(
        "layer_alleys", geojson(geoms, props), len(geoms), legend, weight=9, opacity=0.35
    )


def _deep(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    colour = COLOURS["deep_building"]
    legend = [(colour, t("layer_deep_buildings", lang))]
    b = data.deep_buildings
    if b is None or len(b) == 0:
        return DrawnLayer("layer_deep_buildings", empty_geojson(), 0, legend)
    rc = cfg.report
    if detail == "province":
        if len(b) > rc.province_max_points:
            group, n = grid_counts(b, rc.province_grid_m, decimals_for(cfg, detail), colour, lang)
            return DrawnLayer(
                "layer_deep_buildings", empty_geojson(), n, legend, fill_opacity=0.5,
                encoded=encoded_json([group]), decimals=decimals_for(cfg, detail),
            )  # fmt: skip
        pts = gpd.GeoDataFrame(geometry=shapely.centroid(b.geometry.to_numpy()), crs=b.crs)
        geoms = round_wgs84(pts, decimals_for(cfg, detail), 0)
    else:
        geoms = round_wgs84(b, rc.coordinate_decimals, rc.ward_simplify_m)
    tips = tooltips(b, ["hose_distance_m", "bottleneck_width_m", "floor_area_m2"], lang,
                     t("layer_deep_buildings", lang))  # fmt: skip
    props = [{"c": colour, "t": tip, "w": 1} for tip in tips]
    return DrawnLayer(
        "layer_deep_buildings", geojson(geoms, props), len(geoms), legend,
        fill_opacity=0.6, point_radius_px=3,
    )  # fmt: skip


def _water(
    data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language
) -> tuple[DrawnLayer, DrawnLayer]:
    legend = [
        (COLOURS["water_usable"], t("water_usable", lang)),
        (COLOURS["water_unusable"], t("water_unusable", lang)),
    ]
    reach_legend = [(COLOURS["water_usable"], t("layer_water_reach", lang))]
    w = data.water_sources
    if w is None or len(w) == 0:
        return (
            DrawnLayer("layer_water", empty_geojson(), 0, legend),
            DrawnLayer("layer_water_reach", empty_geojson(), 0, reach_legend),
        )
    pts = gpd.GeoDataFrame(
        w.drop(columns="geometry"), geometry=shapely.centroid(w.geometry.to_numpy()), crs=w.crs
    )
    geoms = round_wgs84(pts, decimals_for(cfg, detail), 0)
    usable = (
        w["usable"].fillna(value=False).astype(bool).to_numpy()
        if "usable" in w.columns
        else np.ones(len(w), bool)
    )
    colours = np.where(usable, COLOURS["water_usable"], COLOURS["water_unusable"])
    tips = tooltips(w, ["kind", "reach_m", "reason"], lang, t("layer_water", lang))
    props = [{"c": c, "t": tip} for c, tip in zip(colours, tips, strict=True)]
    reach = w["reach_m"].to_numpy(dtype=float) if "reach_m" in w.columns else np.zeros(len(w))
    has_reach = usable & np.isfinite(reach) & (reach > 0)
    rprops = [{"c": COLOURS["water_usable"], "r": round(float(r), 1)} for r in reach[has_reach]]
    reach_layer = DrawnLayer(
        "layer_water_reach", geojson(geoms[has_reach], rprops), int(has_reach.sum()),
        reach_legend, weight=1, fill_opacity=0.08, show=detail == "ward",
    )  # fmt: skip
    return DrawnLayer("layer_water", geojson(geoms, props), len(geoms), legend), reach_layer


def _stations(data: MapData, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    legend = [
        (COLOURS["station_existing"], t("status_existing", lang)),
        (COLOURS["station_planned"], t("status_planned", lang)),
    ]
    s = data.stations
    if s is None or len(s) == 0:
        return DrawnLayer("layer_stations", empty_geojson(), 0, legend, point_radius_px=8)
    pts = gpd.GeoDataFrame(
        s.drop(columns="geometry"), geometry=shapely.centroid(s.geometry.to_numpy()), crs=s.crs
    )
    geoms = round_wgs84(pts, cfg.report.coordinate_decimals, 0)
    status = s["status"].astype(str) if "status" in s.columns else pd.Series("existing", s.index)
    tips = tooltips(s, ["status"], lang, t("layer_stations", lang))
    props = [
        {"c": COLOURS.get(f"station_{st}", COLOURS["station_existing"]), "t": tip, "w": 3}
        for st, tip in zip(status, tips, strict=True)
    ]
    return DrawnLayer(
        "layer_stations", geojson(geoms, props), len(geoms), legend,
        point_radius_px=8, fill_opacity=0.9,
    )  # fmt: skip


def _isochrones(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    iso = data.isochrones
    if iso is None or len(iso) == 0:
        return DrawnLayer("layer_isochrones", empty_geojson(), 0, [], weight=1)
    iso = iso.sort_values("minutes", ascending=False)
    breaks = sorted(iso["minutes"].unique())
    colour = {
        m: ISOCHRONE_COLOURS[min(i, len(ISOCHRONE_COLOURS) - 1)] for i, m in enumerate(breaks)
    }
    tol = cfg.report.province_simplify_m if detail == "province" else cfg.report.ward_simplify_m
    geoms = round_wgs84(iso, decimals_for(cfg, detail), tol)
    props = [{"c": colour[m], "t": t("minutes", lang, m=float(m))} for m in iso["minutes"]]
    legend = [(colour[m], t("minutes", lang, m=float(m))) for m in breaks]
    return DrawnLayer(
        "layer_isochrones", geojson(geoms, props), len(geoms), legend,
        weight=1, fill_opacity=0.15,
    )  # fmt: skip


def _dense(data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    colour = COLOURS["dense_unreached"]
    legend = [(colour, t("layer_dense_unreached", lang))]
    d = data.dense_unreached
    if d is None or len(d) == 0:
        return DrawnLayer("layer_dense_unreached", empty_geojson(), 0, legend, weight=1)
    if detail == "province" and len(d) > cfg.report.province_max_points:
        group = rectangles(
            d.geometry.to_numpy(), d.crs, colour=colour, label=t("layer_dense_unreached", lang),
            counts=None, decimals=decimals_for(cfg, detail),
        )  # fmt: skip
        return DrawnLayer(
            "layer_dense_unreached", empty_geojson(), len(d), legend, weight=1, fill_opacity=0.45,
            encoded=encoded_json([group]), decimals=decimals_for(cfg, detail),
        )  # fmt: skip
    if detail == "province":
        merged = shapely.coverage_union_all(d.geometry.to_numpy())
        d = gpd.GeoDataFrame(geometry=shapely.get_parts([merged]), crs=d.crs)
        tips = [t("layer_dense_unreached", lang)] * len(d)
    else:
        tips = tooltips(d, ["floor_area_m2", "population", "time_s"], lang,
                         t("layer_dense_unreached", lang))  # fmt: skip
    geoms = round_wgs84(d, decimals_for(cfg, detail), 0)
    props = [{"c": colour, "t": tip} for tip in tips]
    return DrawnLayer(
        "layer_dense_unreached", geojson(geoms, props), len(geoms), legend,
        weight=1, fill_opacity=0.45,
    )  # fmt: skip


def _sites(data: MapData, cfg: ProvinceConfig, lang: Language) -> DrawnLayer:
    kinds = ("site_station", "site_hydrant", "site_fire_point")
    legend = [(COLOURS[k], t(k, lang)) for k in kinds]
    s = data.sites
    if s is None or len(s) == 0:
        return DrawnLayer("layer_shortlist", empty_geojson(), 0, legend, point_radius_px=7)
    geoms = round_wgs84(s, cfg.report.coordinate_decimals, 0)
    props = [
        {"c": COLOURS.get(k, "#000"), "t": html.escape(t(k, lang)), "p": why, "w": 3}
        for k, why in zip(s["kind"], s["why_html"], strict=True)
    ]
    return DrawnLayer(
        "layer_shortlist", geojson(geoms, props), len(geoms), legend,
        point_radius_px=7, fill_opacity=0.8,
    )  # fmt: skip


def _ward_outlines(
    data: MapData, detail: Detail, cfg: ProvinceConfig, lang: Language
) -> DrawnLayer:
    legend = [(COLOURS["ward"], t("layer_wards", lang))]
    w = data.wards
    tol = cfg.report.province_simplify_m if detail == "province" else cfg.report.ward_simplify_m
    geoms = round_wgs84(w, decimals_for(cfg, detail), tol)
    props = []
    for _, row in w[["ward_id", "name", "map_file"]].iterrows():
        popup = f"<b>{html.escape(str(row['name']))}</b>"
        if detail == "province" and row["map_file"]:
            href = html.escape(str(row["map_file"]))
            popup += f'<br><a href="{href}">{html.escape(t("open_ward_map", lang))}</a>'
        props.append({"c": COLOURS["ward"], "t": html.escape(str(row["name"])), "p": popup,
                      "d": "4 4"})  # fmt: skip
    return DrawnLayer(
        "layer_wards", geojson(geoms, props), len(geoms), legend, weight=1.5, fill_opacity=0.0
    )


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
        {"province", "ward"}: the province map merges truck streets and bins dense point
        layers into grid cells; ward maps draw every feature with its tooltip.

    Returns
    -------
    list of DrawnLayer
    """
    water, reach = _water(data, detail, cfg, lang)
    return [
        _ward_outlines(data, detail, cfg, lang),
        _isochrones(data, detail, cfg, lang),
        _dense(data, detail, cfg, lang),
        reach,
        _alleys(data, detail, cfg, lang),
        _streets(data, detail, cfg, lang),
        _deep(data, detail, cfg, lang),
        water,
        _stations(data, cfg, lang),
        _sites(data, cfg, lang),
    ]


def render_map(
    layers: list[DrawnLayer],
    bounds_wgs84: tuple[float, float, float, float],
    cfg: ProvinceConfig,
    lang: Language,
    *,
    title: str,
    assets: tuple[str, str] | None,
) -> str:
    """Return a self-contained Leaflet map page with a layer control and a legend.

    Parameters
    ----------
    layers
        The overlays (see :func:`build_layers`).
    bounds_wgs84
        ``(west, south, east, north)`` the map opens on.
    cfg
        Province config (tile URLs).
    lang
        {"vi", "en"}
    title
        Shown at the top of the map and as the page title.
    assets
        Leaflet's JS and CSS text to inline (:func:`leaflet_assets`); ``None`` loads Leaflet
        from a CDN, which needs an internet connection.

    Returns
    -------
    str
        The HTML page.
    """
    west, south, east, north = bounds_wgs84
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=None, prefer_canvas=True, control_scale=True, zoom_start=13,
    )  # fmt: skip
    # Only Leaflet itself is needed: no jQuery, Bootstrap or icon fonts.
    m.default_js = []
    m.default_css = []
    fig = cast("Figure", m.get_root())
    fig.header.add_child(Element(f"<title>{html.escape(title)}</title>"), name="title")
    payload: dict[str, str] = {}
    if assets is not None:
        js, css = assets
        marker = "<!--firegap-leaflet-->"
        fig.header.add_child(Element(marker), name="leaflet_inline")
        safe_js = js.replace("</script", "<\\/script")
        payload[marker] = f"<style>{css}</style>\n<script>{safe_js}</script>"
    else:
        m.default_js = [("leaflet", LEAFLET_CDN + "leaflet.js")]
        m.default_css = [("leaflet_css", LEAFLET_CDN + "leaflet.css")]
    folium.TileLayer("OpenStreetMap", name=t("base_osm", lang), attr=t("attribution", lang)).add_to(
        m
    )
    folium.TileLayer(
        cfg.report.satellite_tiles, name=t("base_satellite", lang),
        attr=cfg.report.satellite_attribution, show=False,
    ).add_to(m)  # fmt: skip
    named = [(t(d.key, lang), d) for d in layers]
    for name, drawn in named:
        layer = _GeoJsonLayer(drawn, name)
        payload.update(layer.payload)
        layer.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[south, west], [north, east]])
    # After fit_bounds: a "#zoom/lat/lon" address (the shortlists' links) wins over it.
    m.add_child(_Legend(title, [(n, d) for n, d in named if d.legend], lang))
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
