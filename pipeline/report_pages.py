"""HTML pages of the report stage: the printable report (HTML and PDF) and the ward index."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jinja2 import Environment

from pipeline import charts, contracts
from pipeline.access import truck_widths_label
from pipeline.fork_share import shared_map
from pipeline.i18n import MISSING, column_label, fmt_number, t, ward_type_label
from pipeline.maps import COLOURS, WIDTH_CLASSES
from pipeline.params import threshold_rows
from pipeline.paths import resolve_input
from pipeline.report_inputs import deep_only
from pipeline.report_tables import PRINT_COLUMNS, cell, frame_table, table
from pipeline.shortlists import LISTS, thresholds_table
from pipeline.static_maps import StaticLayers, draw_map
from pipeline.vn2000 import zone_label

if TYPE_CHECKING:
    import geopandas as gpd

    from pipeline.config import ProvinceConfig
    from pipeline.contracts import Applied
    from pipeline.i18n import Language
    from pipeline.paths import ProvincePaths

logger = logging.getLogger(__name__)

_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

_PAGE_CSS = """
body {font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; font-size: 13px;
  line-height: 1.45; margin: 2em auto; max-width: 1100px; color: #222;}
h1 {font-size: 1.6em;} h2 {font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 1.4em;}
h3 {font-size: 1.05em; margin: 1em 0 0.3em;}
table {border-collapse: collapse; margin: 0.4em 0; font-size: 11.5px; width: 100%;}
th, td {border: 1px solid #ccc; padding: 2px 5px; text-align: left; vertical-align: top;}
td.n {text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;}
th {background: #f1f3f5;} img {max-width: 100%;} .small {color: #555; font-size: 11px;}
.headline {font-size: 1.15em; font-weight: bold; color: #c92a2a;}
@page {size: A4; margin: 14mm 12mm 16mm 12mm;
  @bottom-center {content: counter(page) " / " counter(pages); font-size: 9px; color: #666;
    font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif;}}
@media print {body {margin: 0; max-width: none; font-size: 10.5px;}
  table {font-size: 8.5px;} .page {break-before: page;} h2, h3 {break-after: avoid;}
  tr, img {break-inside: avoid;} a {color: inherit; text-decoration: none;}}
"""

_INDEX = _ENV.from_string(
    """<!DOCTYPE html><html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ title }}</title><style>{{ css | safe }}</style></head><body>
<h1>{{ title }}</h1><p><a href="../map.html">{{ province_map }}</a> ·
<a href="../report.html">report.html</a></p>
<table><tr>{% for h in headers %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}<tr><td><a href="{{ row.href }}">{{ row.name }}</a></td>
{% for v in row["values"] %}<td class="n">{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table></body></html>
"""
)

_TABLE = """{% macro grid(headers, rows) %}{% if rows %}<table><tr>
{% for x in headers %}<th>{{ x }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for v in row %}<td{% if v is number_like %} class="n"{% endif %}>
{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>{% endif %}{% endmacro %}"""

_REPORT = _ENV.from_string(
    _TABLE
    + """<!DOCTYPE html><html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ title }}</title><style>{{ css | safe }}</style></head><body>
<h1>{{ title }}</h1><p class="small">{{ generated }} · {{ osm_date }}</p>
<p>{% for href, label in outputs %}<a href="{{ href }}">{{ label }}</a>{% if not loop.last %}
 · {% endif %}{% endfor %}</p>
<p class="headline">{{ headline }}</p>
{% for note in notes %}<p class="headline">{{ note }}</p>{% endfor %}
<p><img src="{{ province_map }}" alt=""></p>
<h2>{{ h.summary }}</h2>{{ grid([], summary) }}
<h2 class="page">{{ h.wards }}</h2><p class="small">{{ risk_note }}</p>
{{ grid(ward_headers, ward_rows) }}
<h2>{{ h.charts }}</h2>{% for src in chart_uris %}<p><img src="{{ src }}" alt=""></p>{% endfor %}
<h2 class="page">{{ h.lists }}</h2><p class="small">{{ coords_note }}</p>
{% for l in lists %}<h3>{{ l.title }}</h3><p class="small">{{ l.note }}</p>
{{ grid(l.headers, l.rows) }}{% endfor %}
{% for w in wards %}<section class="page">{% if loop.first %}<h2>{{ h.ward_pages }}</h2>
{% endif %}<h2>{{ w.title }}</h2>
<p><img src="{{ w.map }}" alt=""></p><h3>{{ h.figures }}</h3>{{ grid([], w.figures) }}
{% for l in w.lists %}<h3>{{ l.title }}</h3>{% if l.rows %}{{ grid(l.headers, l.rows) }}
{% else %}<p class="small">{{ l.note }}</p>{% endif %}{% endfor %}</section>{% endfor %}
<h2 class="page">{{ h.scenarios }}</h2>{% if scenario_rows %}
{{ grid(scenario_headers, scenario_rows) }}{% else %}<p>{{ no_scenarios }}</p>{% endif %}
<h2>{{ h.thresholds }}</h2>{{ grid(threshold_headers, threshold_rows) }}
<h2 class="page">{{ h.method }}</h2><ul>{% for x in method %}<li>{{ x }}</li>{% endfor %}</ul>
<h2>{{ h.sources }}</h2>{{ grid([], sources) }}
<h2>{{ h.limits }}</h2><ul>{% for x in limits %}<li>{{ x }}</li>{% endfor %}</ul>
</body></html>
"""
)
_ENV.tests["number_like"] = lambda v: (
    isinstance(v, str) and v[:1].isdigit() and len(v) < 24  # noqa: PLR2004
)

#: Ward figures shown in the index page and on each ward's page, in order.
WARD_FIGURES: tuple[str, ...] = (
    "ward_code", "ward_type", "population", "people", "area_km2", "buildings", "street_km",
    "truck_share", "n_alleys_to_widen", "n_field_check", "people_at_risk",
    "people_beyond_hose", "people_without_water", "people_beyond_time", "risk_share",
    "median_time_min",
)  # fmt: skip


def write_index(wtable: gpd.GeoDataFrame, path: Path, province: str, lang: Language) -> None:
    """Write ``wards/index.html``: every ward with its key figures and a link to its map."""
    w = wtable.sort_values("risk_rank", kind="stable")
    cols = [c for c in WARD_FIGURES if c in w.columns]
    rows = [
        {
            "name": r["name"],
            "href": r["map_file"].removeprefix("wards/"),
            "values": [cell(r[c], c, lang) for c in cols],
        }
        for _, r in w.iterrows()
    ]
    path.write_text(
        _INDEX.render(
            lang=lang,
            css=_PAGE_CSS,
            title=t("index_title", lang, province=province),
            province_map=t("whole_province", lang),
            rows=rows,
            headers=[column_label("ward", lang)] + [column_label(c, lang) for c in cols],
        ),
        encoding="utf-8",
    )


def osm_data_date(paths: ProvincePaths) -> str | None:
    """Return the OSM data's own date (``osm_timestamp`` of the ingest summary), not the file's."""
    value = contracts.read_summary(paths, contracts.INGEST_SUMMARY)["osm_timestamp"]
    return str(value)[:10] if value else None


def _sources(
    config: ProvinceConfig, paths: ProvincePaths, lang: Language, osm: str | None
) -> list[tuple[str, str, str]]:
    """Return the data sources: label, file, and its date (the OSM data's own date for OSM)."""
    files: list[tuple[str, str | None]] = [
        ("src_boundary", config.boundary.file),
        ("src_wards", config.wards.file),
        ("src_ward_centroids", config.wards.centroids_csv),
        ("src_population", config.density.population_raster),
    ]
    files += [("src_stations", f.path) for f in config.stations.files]
    files += [("src_water", f.path) for f in config.water.files]
    files += [("src_buildings", f.path) for f in config.buildings.extra_files]
    files += [("src_fire_points", f.path) for f in config.access.public_fire_points_files]
    osm_file = config.osm.file or config.osm.download_name
    out = [(t("src_osm", lang), resolve_input(osm_file, paths.root).name,
            t("osm_date", lang, date=osm or MISSING))]  # fmt: skip
    for key, f in files:
        if not f:
            continue
        p = resolve_input(f, paths.root)
        date = (
            dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC).date().isoformat()
            if p.exists()
            else MISSING
        )
        out.append((t(key, lang), p.name, t("src_file_date", lang, date=date)))
    out.append((t("src_config", lang), str(paths.config.name), ""))
    counts = _authority_counts(paths)
    return [
        (label, name, f"{date}; {t('src_rows', lang, **counts[name])}" if name in counts else date)
        for label, name, date in out
    ]


def _authority_counts(paths: ProvincePaths) -> dict[str, dict[str, str]]:
    """Rows used and skipped of each authority file, by file name (from the stage summaries)."""
    out: dict[str, dict[str, str]] = {}
    for summ in (contracts.INGEST_SUMMARY, contracts.NETWORK_SUMMARY, contracts.WATER_SUMMARY):
        for f in contracts.read_summary(paths, summ)["authority_files"] or []:
            file = Path(str(f.get("file", ""))).name
            out[file] = {k: str(f.get(k, MISSING)) for k in ("rows", "used", "skipped")}
    return out


@dataclass
class ReportInputs:
    """Everything the printed report shows, computed by the report stage."""

    config: ProvinceConfig
    paths: ProvincePaths
    lang: Language
    wtable: gpd.GeoDataFrame
    data: dict[str, Any]
    lists: dict[str, gpd.GeoDataFrame]
    summary: list[tuple[str, str]]
    #: The thresholds the stages applied (:func:`pipeline.contracts.applied_thresholds`).
    applied: Applied


def _list_block(
    name: str, df: gpd.GeoDataFrame | None, lang: Language, rows: int, *, in_ward: bool
) -> dict[str, Any]:
    spec = {s.name: s for s in LISTS}[name]
    total = 0 if df is None else len(df)
    drop = ("ward",) if in_ward else ()
    headers, body = table(df, PRINT_COLUMNS[name], lang, rows=rows, drop=drop)
    note = (
        t("list_rows_note", lang, shown=min(rows, total), total=total)
        if total
        else t("list_empty", lang)
    )
    return {"title": t(spec.title_key, lang), "headers": headers, "rows": body, "note": note}


def _ward_pages(r: ReportInputs) -> list[dict[str, Any]]:
    """One page per ward: map, key figures and the top rows of each list."""
    cfg, lang, data = r.config, r.lang, r.data
    n = cfg.report.ward_print_rows
    truck = r.applied.truck_min_width_m

    def groups(df: Any) -> dict[str, Any]:  # noqa: ANN401 - a frame or None
        if df is None or "ward_id" not in df.columns or not len(df):
            return {}
        return dict(tuple(df.groupby("ward_id", sort=False)))

    by = {k: groups(data.get(k)) for k in ("edges", "water_sources", "stations")}
    by["deep"] = groups(deep_only(data["deep_buildings"]))
    lists = {k: groups(v) for k, v in r.lists.items() if k != "wards_by_risk"}
    pages, layers_of = [], []
    for _, w in r.wtable.sort_values("risk_rank", kind="stable").iterrows():
        wid = w["ward_id"]
        own = {k: v.get(wid) for k, v in lists.items()}
        ws = by["water_sources"].get(wid)
        if ws is not None and "usable" in ws.columns:
            ws = ws[ws["usable"].fillna(value=False).astype(bool)]
        layers = StaticLayers(
            outline=np.asarray([w.geometry], dtype=object),
            approximate=bool(w.get("approximate", False)),
            edges=by["edges"].get(wid), deep_buildings=by["deep"].get(wid), water=ws,
            stations=by["stations"].get(wid), lists=own, label_rows=n,
            truck_min_width_m=truck,
        )  # fmt: skip
        code = w.get("ward_code") or ""
        kind = ward_type_label(w.get("ward_type"), lang)
        title = " · ".join(x for x in (str(w["name"]), str(code), kind) if x)
        figures = [(column_label(c, lang), cell(w[c], c, lang)) for c in WARD_FIGURES
                   if c in w.index and c not in ("ward_code", "ward_type")]  # fmt: skip
        layers_of.append(layers)
        pages.append({
            "title": f"{int(w['risk_rank'])}. {title}",
            "figures": figures,
            "lists": [_list_block(s.name, own.get(s.name), lang, n, in_ward=True)
                      for s in LISTS if s.name in r.lists],
        })  # fmt: skip
    # The maps (most of the time) drawn here and in a forked worker: matplotlib holds the GIL.
    maps = shared_map(lambda i: draw_map(layers_of[i], lang, size_in=6.5, dpi=100), len(layers_of))
    for page, uri in zip(pages, maps, strict=True):
        page["map"] = uri
    return pages


def report_html(r: ReportInputs) -> str:
    """Return the printable report: summary, wards, lists, ward pages, thresholds, method."""
    cfg, lang, data = r.config, r.lang, r.data
    province = cfg.name.vi if lang == "vi" else cfg.name.en
    w = r.wtable.sort_values("risk_rank", kind="stable")
    applied = r.applied
    truck = applied.truck_min_width_m
    net = contracts.read_summary(r.paths, contracts.NETWORK_SUMMARY)
    uris = [charts.risk_bars(w.set_index("name")["people_at_risk"], t("chart_risk", lang))]
    edges = data["edges"]
    # km by width class: the network stage's own count
    km = pd.Series({c: float(v["km"]) for c, v in net["width_class"].items()})
    km = km.reindex([c for c in WIDTH_CLASSES if c in km.index])
    widths = truck_widths_label(edges, truck, lambda v: fmt_number(v, lang, 1))
    labels = {c: t(f"class_{c}", lang, truck=widths) for c in WIDTH_CLASSES}
    uris.append(charts.width_class_bars(km, labels, COLOURS, t("chart_width", lang)))
    bt = data["building_times"]
    if bt is not None:
        target = applied.target_time_s
        uris.append(
            charts.time_histogram(
                bt["time_s"].astype(float),
                target,
                t("chart_time", lang),
                t("chart_buildings", lang),
                unreachable_label=t("chart_unreachable", lang),
            )
        )
    scen = data["scenarios"]
    scen_headers: list[str] = []
    scen_rows: list[list[str]] = []
    if scen is not None and len(scen):
        scen_headers, scen_rows = frame_table(pd.DataFrame(scen), lang)
    wards_headers, wards_rows = table(r.lists.get("wards_by_risk"), PRINT_COLUMNS["wards_by_risk"],
                                      lang)  # fmt: skip
    params = threshold_rows(thresholds_table(cfg, applied.by_key()), lang)
    layers = StaticLayers(
        outline=r.wtable.geometry.to_numpy(),
        approximate=bool(r.wtable["approximate"].astype(bool).any()),
        edges=edges, deep_buildings=deep_only(data["deep_buildings"]),
        stations=data["stations"],
        # The province's top rows (those printed), not every row of a large province.
        lists={k: v.head(cfg.report.print_rows) for k, v in r.lists.items()
               if k != "wards_by_risk"},
        truck_min_width_m=truck,
    )  # fmt: skip
    people = w["people_at_risk"].sum(min_count=1)
    osm_date = osm_data_date(r.paths)
    method = [
        t("method_widths", lang),
        t("method_deep", lang, hose=fmt_number(applied.hose_reach_m, lang)),
        t("method_water", lang, hydrant=fmt_number(applied.hydrant_reach_m, lang),
          natural=fmt_number(applied.natural_reach_m, lang)),
        t("method_time", lang, target=fmt_number(applied.target_time_s / 60, lang)),
        t("method_sites", lang, spacing=fmt_number(cfg.response.candidate_spacing_m, lang),
          step=fmt_number(cfg.response.siting_position_step_m, lang)),
        t("method_people", lang,
          m2=fmt_number(cfg.report.floor_area_per_person_m2.value, lang)),
        t("risk_note", lang),
        t("method_lists", lang),
        t("coords_note", lang, zone=zone_label(cfg.report.vn2000_zone)),
        t("method_costs", lang),
    ]  # fmt: skip
    sec = ("summary", "wards", "charts", "lists", "ward_pages", "scenarios", "thresholds",
           "method", "sources", "limits", "figures")  # fmt: skip
    return _REPORT.render(
        lang=lang,
        css=_PAGE_CSS,
        title=t("report_title", lang, province=province),
        generated=t("generated", lang, date=dt.datetime.now(dt.UTC).date().isoformat()),
        osm_date=t("osm_date", lang, date=osm_date or MISSING),
        outputs=[
            ("map.html", "map.html"),
            ("wards/index.html", "wards/index.html"),
            ("shortlists.xlsx", "shortlists.xlsx"),
            ("shortlists.gpkg", "shortlists.gpkg"),
            ("report.pdf", "report.pdf"),
        ],
        headline=t("people_at_risk_headline", lang, people=fmt_number(people, lang)),
        notes=network_notes(net, data["stations"], lang),
        province_map=draw_map(layers, lang, size_in=7.0, dpi=110),
        h={k: t(f"sec_{k}", lang) for k in sec},
        summary=r.summary,
        risk_note=t("risk_note", lang),
        ward_headers=wards_headers,
        ward_rows=wards_rows,
        chart_uris=uris,
        coords_note=t("coords_note", lang, zone=zone_label(cfg.report.vn2000_zone)),
        lists=[
            _list_block(s.name, r.lists[s.name], lang, cfg.report.print_rows, in_ward=False)
            for s in LISTS
            if s.name in r.lists
        ],
        wards=_ward_pages(r),
        scenario_headers=scen_headers,
        scenario_rows=scen_rows,
        no_scenarios=t("stage_missing", lang, stage=t("layer_isochrones", lang)),
        threshold_headers=list(params.columns),
        threshold_rows=params.to_numpy().tolist(),
        method=method,
        sources=_sources(cfg, r.paths, lang, osm_date),
        limits=[
            t(k, lang)
            for k in (
                "limit_widths",
                "limit_buildings",
                "limit_speeds",
                "limit_water",
                "limit_wards",
                "limit_stations",
            )
        ],
    )


def network_notes(net: dict[str, Any], stations: pd.DataFrame, lang: Language) -> list[str]:
    """Return the network stage's warning about the stations, in ``lang``.

    The stage writes it in English (``station_note`` of its summary ``net``); it is rebuilt
    here from the same figures: no existing station, or stations that reach too little of
    the truck network.
    """
    if not net.get("station_note"):
        return []
    n = int((stations["status"].astype(str) == "existing").sum())
    if n == 0:
        return [t("note_no_station", lang)]
    share = float(net.get("truck_km_reachable_share") or 0.0)
    return [t("note_low_reach", lang, n=n, share=fmt_number(100 * share, lang))]


def summary_rows(
    paths: ProvincePaths, wtable: gpd.GeoDataFrame, lang: Language
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Return the summary table rows (label, value) and the figures for the manifest.

    Every figure is a stage's own (its summary): the report counts nothing again.
    """
    ing = contracts.read_summary(paths, contracts.INGEST_SUMMARY)
    net = contracts.read_summary(paths, contracts.NETWORK_SUMMARY)
    wat = contracts.read_summary(paths, contracts.WATER_SUMMARY)
    cov = contracts.read_summary(paths, contracts.COVERAGE_SUMMARY)
    today = cov["scenarios"]["existing"]
    below = sum(float(v["km"]) for c, v in net["width_class"].items() if c != "truck")
    figures: dict[str, Any] = {
        "wards": len(wtable),
        "buildings": int(ing["buildings"]),
        "street_km": float(net["street_km"]),
        # the main truck network: the km the ward table's truck share counts
        "truck_km": float(net["truck_connected_km"]),
        "narrow_km": round(below, 3),
        "alleys": int(net["alleys"]),
        "deep_buildings": int(net["deep_buildings"]),
        "water_sources": int(sum(wat["usable_by_kind"].values())),
        "water_uncovered": int(wat["buildings_without_water"]),
        "stations": int(ing["stations"]),
        "unreached": int(today["buildings"]) - int(today["buildings_within_target"]),
        "dense_unreached": int(cov["dense_unreached_cells"]),
    }
    labels = {
        "street_km": "sum_street_km",
        "truck_km": "sum_truck_km",
        "narrow_km": "sum_narrow_km",
        "alleys": "sum_alleys",
        "buildings": "sum_buildings",
        "deep_buildings": "sum_deep_buildings",
        "water_sources": "sum_water_sources",
        "water_uncovered": "sum_water_uncovered",
        "stations": "sum_stations",
        "unreached": "sum_unreached",
        "dense_unreached": "sum_dense_unreached",
    }
    rows = [
        (t(labels[k], lang), cell(v, k, lang))
        for k, v in figures.items()
        if k in labels and v is not None
    ]
    return rows, figures
