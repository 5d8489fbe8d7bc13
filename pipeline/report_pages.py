"""HTML pages of the report stage: the printable report.html and the ward index."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jinja2 import Environment

from pipeline import charts
from pipeline.i18n import MISSING, Language, column_label, t, yes_no
from pipeline.maps import (
    COLOURS,
    WIDTH_CLASSES,
)
from pipeline.paths import resolve_input
from pipeline.report_inputs import deep_only
from pipeline.shortlists import (
    thresholds_table,
)

if TYPE_CHECKING:
    from pathlib import Path

    import geopandas as gpd

    from pipeline.config import ProvinceConfig
    from pipeline.paths import ProvincePaths

logger = logging.getLogger(__name__)


_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

_PAGE_CSS = """
body {font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;}
h1 {font-size: 1.6em;} h2 {font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 1.6em;}
table {border-collapse: collapse; margin: 0.5em 0; font-size: 12.5px;}
th, td {border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top;}
td.n {text-align: right; font-variant-numeric: tabular-nums;}
th {background: #f1f3f5;} img {max-width: 100%;} .small {color: #666; font-size: 12px;}
@media print {body {margin: 0; max-width: none;} h2 {break-after: avoid;}
  table, img {break-inside: avoid;} a {color: inherit; text-decoration: none;}}
"""

_INDEX = _ENV.from_string(
    """<!DOCTYPE html><html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ title }}</title><style>{{ css }}</style></head><body>
<h1>{{ title }}</h1><p><a href="../map.html">{{ province_map }}</a> ·
<a href="../report.html">report.html</a></p>
<table><tr>{% for h in headers %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}<tr><td><a href="{{ row.href }}">{{ row.name }}</a></td>
{% for v in row["values"] %}<td class="n">{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table></body></html>
"""
)

_REPORT = _ENV.from_string(
    """<!DOCTYPE html><html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ title }}</title><style>{{ css }}</style></head><body>
<h1>{{ title }}</h1><p class="small">{{ generated }}</p>
<p>{% for href, label in outputs %}<a href="{{ href }}">{{ label }}</a>{% if not loop.last %}
 · {% endif %}{% endfor %}</p>
<h2>{{ h.summary }}</h2><table>
{% for label, value in summary %}<tr><th>{{ label }}</th><td class="n">{{ value }}</td></tr>
{% endfor %}</table>
<h2>{{ h.wards }}</h2><p class="small">{{ risk_note }}</p>
<table><tr>{% for x in ward_headers %}<th>{{ x }}</th>{% endfor %}</tr>
{% for row in ward_rows %}<tr>{% for v in row %}<td{% if not loop.first %} class="n"{% endif %}>
{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>
<h2>{{ h.charts }}</h2>{% for src in chart_uris %}<p><img src="{{ src }}" alt=""></p>{% endfor %}
<h2>{{ h.scenarios }}</h2>{% if scenario_headers %}<table><tr>
{% for x in scenario_headers %}<th>{{ x }}</th>{% endfor %}</tr>
{% for row in scenario_rows %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table>{% else %}<p>{{ no_scenarios }}</p>{% endif %}
<h2>{{ h.sources }}</h2><table>
{% for label, value, date in sources %}<tr><th>{{ label }}</th><td>{{ value }}</td>
<td>{{ date }}</td></tr>{% endfor %}</table>
<h2>{{ h.thresholds }}</h2><table><tr>{% for x in threshold_headers %}<th>{{ x }}</th>
{% endfor %}</tr>{% for row in threshold_rows %}<tr>{% for v in row %}<td>{{ v }}</td>
{% endfor %}</tr>{% endfor %}</table>
<h2>{{ h.limits }}</h2><ul>{% for x in limits %}<li>{{ x }}</li>{% endfor %}</ul>
</body></html>
"""
)

#: Ward figures shown in the index page and the report, in order.
WARD_FIGURES: tuple[str, ...] = (
    "ward_type",
    "population",
    "area_km2",
    "buildings",
    "street_km",
    "truck_share",
    "n_alleys",
    "deep_share",
    "water_uncovered_share",
    "unreached_share",
    "median_time_s",
    "risk",
)


#: Values at least this large are shown without decimals.
_NO_DECIMALS_FROM = 1000


def _number(value: float) -> str:
    return f"{value:,.1f}" if abs(value) < _NO_DECIMALS_FROM else f"{value:,.0f}"


def _cell(value: object, col: str, lang: Language) -> str:
    """Format one table value for people: shares as %, risk with 2 decimals, yes/no."""
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    if missing or not isinstance(value, (bool, np.bool_, int, np.integer, float, np.floating)):
        return MISSING if missing else str(value)
    if isinstance(value, (bool, np.bool_)):
        return yes_no(value, lang)
    if col.endswith("_share"):
        text = f"{float(value):.0%}"
    elif col == "risk":
        text = f"{float(value):.2f}"
    elif isinstance(value, (int, np.integer)):
        text = f"{int(value):,}"
    else:
        text = _number(float(value))
    return text


def write_index(wtable: gpd.GeoDataFrame, path: Path, province: str, lang: Language) -> None:
    """Write ``wards/index.html``: every ward with its key figures and a link to its map."""
    w = wtable.sort_values(["risk", "name"], ascending=[False, True], na_position="last")
    rows = [
        {
            "name": r["name"],
            "href": r["map_file"].removeprefix("wards/"),
            "values": [_cell(r[c], c, lang) for c in WARD_FIGURES],
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
            headers=[column_label("ward", lang)] + [column_label(c, lang) for c in WARD_FIGURES],
        ),
        encoding="utf-8",
    )


def _sources(
    config: ProvinceConfig, paths: ProvincePaths, lang: Language
) -> list[tuple[str, str, str]]:
    files: list[tuple[str, str | None]] = [
        (t("src_osm", lang), config.osm.file),
        ("boundary", config.boundary.file),
        ("wards.file", config.wards.file),
        ("wards.centroids_csv", config.wards.centroids_csv),
        ("density.population_raster", config.density.population_raster),
    ]
    files += [("stations.files", f) for f in config.stations.files]
    files += [("water.files", f.path) for f in config.water.files]
    files += [("buildings.extra_files", f.path) for f in config.buildings.extra_files]
    files += [
        ("access.public_fire_points_files", f.path) for f in config.access.public_fire_points_files
    ]
    out = []
    for label, f in files:
        if not f:
            continue
        p = resolve_input(f, paths.root)
        date = (
            dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC).date().isoformat()
            if p.exists()
            else MISSING
        )
        out.append((label, p.name, date))
    sources_csv = paths.root / "data" / "sources.csv"
    if sources_csv.exists():
        for _, r in pd.read_csv(sources_csv, dtype=str).fillna("").iterrows():
            out.append(
                (
                    r.get("dataset", ""),
                    r.get("url", "") or r.get("version", ""),
                    r.get("retrieved", ""),
                )
            )
    out.append(
        (t("src_config", lang), str(paths.config.name), dt.datetime.now(dt.UTC).date().isoformat())
    )
    return out


def write_report(
    path: Path,
    *,
    config: ProvinceConfig,
    paths: ProvincePaths,
    lang: Language,
    wtable: gpd.GeoDataFrame,
    data: dict[str, Any],
    summary: list[tuple[str, str]],
) -> None:
    """Write the printable ``report.html``: figures, ward table, charts, sources, thresholds."""
    province = config.name.vi if lang == "vi" else config.name.en
    w = wtable.sort_values(["risk", "name"], ascending=[False, True], na_position="last")
    uris = [charts.risk_bars(w.set_index("name")["risk"], t("chart_risk", lang))]
    edges = data["edges"]
    if edges is not None:
        e = edges[~edges["reversed"].astype(bool)] if "reversed" in edges else edges
        km = (e["length"] / 1000).groupby(e["width_class"]).sum()
        km = km.reindex([c for c in WIDTH_CLASSES if c in km.index])
        labels = {
            c: t(f"class_{c}", lang, truck=f"{config.access.truck_min_width_m.value:g}")
            for c in WIDTH_CLASSES
        }
        uris.append(charts.width_class_bars(km, labels, COLOURS, t("chart_width", lang)))
    bt = data["building_times"]
    if bt is not None:
        uris.append(
            charts.time_histogram(
                bt["time_s"].astype(float),
                config.response.target_time_s.value,
                t("chart_time", lang),
                t("chart_buildings", lang),
                unreachable_label=t("chart_unreachable", lang),
            )
        )
    scen = data["scenarios"]
    scen_headers: list[str] = []
    scen_rows: list[list[str]] = []
    if scen is not None and len(scen):
        s = pd.DataFrame(scen.drop(columns=[c for c in ("geometry",) if c in scen.columns]))
        scen_headers = [column_label(str(c), lang) for c in s.columns]
        scen_rows = [
            [_cell(v, str(c), lang) for c, v in zip(s.columns, r, strict=True)]
            for r in s.itertuples(index=False)
        ]
    thr = thresholds_table(config)
    names = {"unreached": "unreached_share", "response_time": "median_time_s",
             "alley_access": "deep_share", "water": "water_uncovered_share"}  # fmt: skip
    weights = "; ".join(
        f"{column_label(names.get(k, k), lang)} {v:g}"
        for k, v in config.report.risk_weights.items()
    )
    path.write_text(
        _REPORT.render(
            lang=lang,
            css=_PAGE_CSS,
            title=t("report_title", lang, province=province),
            generated=t("generated", lang, date=dt.datetime.now(dt.UTC).date().isoformat()),
            outputs=[
                ("map.html", "map.html"),
                ("wards/index.html", "wards/index.html"),
                ("shortlists.xlsx", "shortlists.xlsx"),
                ("shortlists.gpkg", "shortlists.gpkg"),
                ("shortlists/", "shortlists/*.csv"),
            ],
            h={
                k: t(f"sec_{k}", lang)
                for k in (
                    "summary",
                    "wards",
                    "charts",
                    "scenarios",
                    "sources",
                    "thresholds",
                    "limits",
                )
            },
            summary=summary,
            risk_note=t("risk_note", lang, weights=weights),
            ward_headers=[column_label("ward", lang)]
            + [column_label(c, lang) for c in WARD_FIGURES],
            ward_rows=[
                [r["name"]] + [_cell(r[c], c, lang) for c in WARD_FIGURES] for _, r in w.iterrows()
            ],
            chart_uris=uris,
            scenario_headers=scen_headers,
            scenario_rows=scen_rows,
            no_scenarios=t("stage_missing", lang, stage="coverage"),
            sources=_sources(config, paths, lang),
            threshold_headers=[column_label(c, lang) for c in ("key", "value", "unit", "source")],
            threshold_rows=[[r.key, f"{r.value:g}", r.unit, r.source] for r in thr.itertuples()],
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
        ),
        encoding="utf-8",
    )


def summary_rows(
    data: dict[str, Any], wtable: gpd.GeoDataFrame, config: ProvinceConfig, lang: Language
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Return the summary table rows (label, value) and the figures for the manifest."""
    figures: dict[str, Any] = {"wards": len(wtable)}
    b = data["buildings"]
    figures["buildings"] = len(b) if b is not None else None
    e = data["edges"]
    if e is not None:
        e = e[~e["reversed"].astype(bool)] if "reversed" in e else e
        figures["street_km"] = round(float(e["length"].sum()) / 1000, 3)
        figures["truck_km"] = round(
            float(e.loc[e["width_class"] == "truck", "length"].sum()) / 1000, 3
        )
        figures["narrow_km"] = round(figures["street_km"] - figures["truck_km"], 3)
    if data["alleys"] is not None:
        figures["alleys"] = len(data["alleys"])
    d = deep_only(data["deep_buildings"])
    if d is not None:
        figures["deep_buildings"] = len(d)
    ws = data["water_sources"]
    if ws is not None:
        figures["water_sources"] = (
            int(ws["usable"].astype(bool).sum()) if "usable" in ws else len(ws)
        )
    bw = data["building_water"]
    if bw is not None:
        figures["water_uncovered"] = int((~bw["covered"].fillna(value=False).astype(bool)).sum())
    if data["stations"] is not None:
        figures["stations"] = len(data["stations"])
    bt = data["building_times"]
    if bt is not None:
        ts = bt["time_s"].astype(float)
        figures["unreached"] = int((ts.isna() | (ts > config.response.target_time_s.value)).sum())
    if data["dense_unreached"] is not None:
        figures["dense_unreached"] = len(data["dense_unreached"])
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
        (t(labels[k], lang), _cell(v, k, lang))
        for k, v in figures.items()
        if k in labels and v is not None
    ]
    return rows, figures
