"""Stage ``report``: risk maps, ward maps, ranked shortlists and the printable province report."""

from __future__ import annotations

import html
import logging
import time
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import shapely

from pipeline.i18n import MISSING, Language, check_language, t
from pipeline.maps import (
    MapData,
    build_layers,
    leaflet_assets,
    render_map,
    write_map,
)
from pipeline.report_inputs import (
    INPUTS,
    assign_wards,
    deep_only,
    load_data,
    load_wards,
    stage_available,
    ward_table,
)
from pipeline.report_pages import summary_rows, write_index, write_report
from pipeline.shortlists import (
    LISTS,
    anchor_points,
    finish_list,
    thresholds_table,
    write_csvs,
    write_gpkg,
    write_xlsx,
)

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.config import ProvinceConfig
    from pipeline.stage import StageContext

logger = logging.getLogger(__name__)


def _sort(df: gpd.GeoDataFrame, by: list[tuple[str, bool]]) -> gpd.GeoDataFrame:
    """Sort by the first present column of ``by`` (name, ascending)."""
    for col, asc in by:
        if col in df.columns:
            return df.sort_values(col, ascending=asc, kind="stable", na_position="last")
    return df


def build_shortlists(
    data: dict[str, Any], wtable: gpd.GeoDataFrame, config: ProvinceConfig
) -> dict[str, gpd.GeoDataFrame]:
    """Return every shortlist of :data:`LISTS` that has an upstream source, ranked."""
    files = wtable.set_index("ward_id")["map_file"]
    rows = config.report.shortlist_rows
    specs = {s.name: s for s in LISTS}
    sources: dict[str, tuple[str, list[tuple[str, bool]]]] = {
        "alleys_to_widen": ("alleys", [("priority", True)]),
        "fire_point_sites": ("fire_points", [("rank", True), ("floor_area_m2", False)]),
        "hydrant_sites": ("hydrants", [("rank", True), ("added_floor_area_m2", False)]),
        "station_sites": ("station_sites", [("rank", True), ("added_floor_area_m2", False)]),
    }
    out = {}
    for name, (key, order) in sources.items():
        df = data[key]
        if df is None or not isinstance(df, gpd.GeoDataFrame):
            continue
        if name == "alleys_to_widen":
            df = df[df["to_widen"].to_numpy(dtype=bool)]
        out[name] = finish_list(_sort(df, order), specs[name], ward_files=files, rows=rows)
    wards = wtable.rename(columns={"name": "ward"})
    wards = wards.sort_values(["risk", "ward"], ascending=[False, True], na_position="last")
    out["wards_by_risk"] = finish_list(
        gpd.GeoDataFrame(wards, geometry="geometry"),
        specs["wards_by_risk"],
        ward_files=files,
        rows=len(wards),
    )
    return out


def _why(row: pd.Series, kind: str, lang: Language, target_min: float) -> str:
    def num(col: str) -> str:
        v = row.get(col)
        return f"{float(v):,.0f}" if v is not None and pd.notna(v) else MISSING

    key = {
        "site_station": "why_station",
        "site_hydrant": "why_hydrant",
        "site_fire_point": "why_fire_point",
    }[kind]
    area_col = "floor_area_m2" if kind == "site_fire_point" else "added_floor_area_m2"
    bcol = "n_buildings" if kind == "site_fire_point" else "added_buildings"
    text = t(
        key,
        lang,
        rank=int(row["rank"]),
        buildings=num(bcol),
        area=num(area_col),
        target=f"{target_min:g}",
    )
    ward = f"<br>{html.escape(str(row['ward']))}" if pd.notna(row.get("ward")) else ""
    return (
        f"<b>{html.escape(str(row['id']))} · {html.escape(t(kind, lang))}</b><br>"
        f"{html.escape(text)}{ward}<br><small>{row['lat']}, {row['lon']}</small>"
    )


def site_layer(
    lists: dict[str, gpd.GeoDataFrame], config: ProvinceConfig, lang: Language
) -> gpd.GeoDataFrame:
    """Return the shortlisted sites as one point layer with kind, ward and a "why" popup."""
    kinds = {
        "station_sites": "site_station",
        "hydrant_sites": "site_hydrant",
        "fire_point_sites": "site_fire_point",
    }
    target_min = config.response.target_time_s.value / 60
    frames = []
    for name, kind in kinds.items():
        df = lists.get(name)
        if df is None or len(df) == 0:
            continue
        f = df.copy()
        f["kind"] = kind
        f["why_html"] = [_why(r, kind, lang, target_min) for _, r in f.iterrows()]
        frames.append(f[["id", "kind", "why_html", "map_link", "geometry"]])
    if not frames:
        return gpd.GeoDataFrame({"id": [], "kind": [], "why_html": []}, geometry=[], crs=config.crs)
    sites = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(sites, geometry=anchor_points(sites), crs=config.crs)


def _subset(df: Any, ward_id: str) -> Any:  # noqa: ANN401 - a frame or None
    if df is None or "ward_id" not in df.columns:
        return df
    return df[df["ward_id"] == ward_id]


def _view_bounds(
    area: Any,  # noqa: ANN401 - a shapely geometry
    layers: list[gpd.GeoDataFrame | None],
    crs: str,
) -> tuple[float, float, float, float]:
    """Return the WGS84 bounds a map opens on: the data's extent within ``area``, else ``area``.

    A province whose OSM extract covers only part of it (or a ward layer that is the whole
    province) then opens on the data, not on an empty outline.
    """
    boxes = [shapely.box(*df.total_bounds) for df in layers if df is not None and len(df) > 0]
    extent = shapely.intersection(shapely.union_all(boxes), area) if boxes else area
    if extent.is_empty:
        extent = area
    b = gpd.GeoSeries([shapely.box(*extent.bounds)], crs=crs).to_crs(4326).total_bounds
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


def render_maps(
    data: dict[str, Any],
    wtable: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    config: ProvinceConfig,
    lang: Language,
    *,
    map_path: Path,
    wards_dir: Path,
    assets: tuple[str, str] | None,
    progress: bool = False,
) -> dict[str, Any]:
    """Write the province map and one map per ward; return sizes and counts."""
    from tqdm import tqdm  # noqa: PLC0415

    truck = config.access.truck_min_width_m.value
    full = MapData(
        wards=wtable,
        edges=data["edges"],
        alleys=data["alleys"],
        deep_buildings=deep_only(data["deep_buildings"]),
        water_sources=data["water_sources"],
        stations=data["stations"],
        isochrones=data["isochrones"],
        dense_unreached=data["dense_unreached"],
        sites=sites,
        truck_min_width_m=truck,
    )
    province_name = config.name.vi if lang == "vi" else config.name.en
    t0 = time.perf_counter()
    layers = build_layers(full, config, lang, detail="province")
    text = render_map(
        layers,
        _view_bounds(
            shapely.union_all(wtable.geometry.to_numpy()),
            [full.edges, full.deep_buildings],
            config.crs,
        ),
        config,
        lang,
        title=t("map_title", lang, name=province_name),
        assets=assets,
    )
    size_mb = write_map(text, map_path, max_mb=config.report.max_map_mb)
    logger.info(
        "report: province map %.2f MB, %s features (%.1f s)",
        size_mb,
        f"{sum(d.n_features for d in layers):,}",
        time.perf_counter() - t0,
    )
    t0 = time.perf_counter()
    sizes = []
    for _, ward in tqdm(wtable.iterrows(), total=len(wtable), disable=not progress, desc="wards"):
        wid, geom = ward["ward_id"], ward.geometry
        iso = full.isochrones
        if iso is not None and len(iso):
            near = iso[shapely.intersects(iso.geometry.to_numpy(), geom)]
            iso = near.set_geometry(shapely.intersection(near.geometry.to_numpy(), geom))
        ws = full.water_sources
        if ws is not None and len(ws):
            reach = ws["reach_m"].fillna(0).to_numpy(float) if "reach_m" in ws else 0.0
            ws = ws[shapely.dwithin(ws.geometry.to_numpy(), geom, reach)]
        one = MapData(
            wards=wtable[wtable["ward_id"] == wid],
            edges=_subset(full.edges, wid),
            alleys=_subset(full.alleys, wid),
            deep_buildings=_subset(full.deep_buildings, wid),
            water_sources=ws,
            stations=_subset(full.stations, wid),
            isochrones=iso,
            dense_unreached=_subset(full.dense_unreached, wid),
            sites=_subset(full.sites, wid),
            truck_min_width_m=truck,
        )
        wl = build_layers(one, config, lang, detail="ward")
        page = render_map(
            wl,
            _view_bounds(geom, [one.edges], config.crs),
            config,
            lang,
            title=str(ward["name"]),
            assets=assets,
        )
        sizes.append(write_map(page, wards_dir / ward["map_file"].removeprefix("wards/")))
    logger.info(
        "report: %d ward maps, %.1f MB in all, largest %.2f MB (%.1f s)",
        len(sizes),
        sum(sizes),
        max(sizes, default=0.0),
        time.perf_counter() - t0,
    )
    return {
        "map_mb": round(size_mb, 3),
        "ward_maps": len(sizes),
        "ward_maps_mb": round(sum(sizes), 3),
        "map_features": sum(d.n_features for d in layers),
    }


def run(ctx: StageContext) -> dict[str, Any]:
    """Run the report stage: maps, ward maps and index, shortlists, report.html."""
    config, paths = ctx.config, ctx.paths
    lang = check_language(config.report.language)
    t0 = time.perf_counter()
    wards = load_wards(paths, config, lang)
    data = load_data(paths, config, wards)
    wtable = ward_table(data, wards, config)
    logger.info("report: %d wards, inputs read (%.1f s)", len(wtable), time.perf_counter() - t0)

    t0 = time.perf_counter()
    lists = build_shortlists(data, wtable, config)
    write_xlsx(lists, thresholds_table(config), ctx.output("shortlists_xlsx"), lang)
    write_gpkg(lists, ctx.output("shortlists_gpkg"))
    write_csvs(lists, ctx.output("shortlists_csv_dir"), lang)
    logger.info(
        "report: shortlists %s (%.1f s)",
        ", ".join(f"{k} {len(v)}" for k, v in lists.items()),
        time.perf_counter() - t0,
    )

    assets = leaflet_assets(config, paths.root)
    if assets is None:
        logger.warning(
            "report: Leaflet not found in %s; maps load it from a CDN and need internet "
            "(run make vendor)",
            config.report.leaflet_dir,
        )
    sites = site_layer(lists, config, lang)
    sites["ward_id"] = assign_wards(sites, wards).to_numpy() if len(sites) else []
    wards_dir = ctx.output("wards_dir")
    maps = render_maps(
        data,
        wtable,
        sites,
        config,
        lang,
        map_path=ctx.output("map"),
        wards_dir=wards_dir,
        assets=assets,
        progress=ctx.progress,
    )
    province = config.name.vi if lang == "vi" else config.name.en
    write_index(wtable, wards_dir / "index.html", province, lang)
    rows, figures = summary_rows(data, wtable, config, lang)
    write_report(
        ctx.output("report"),
        config=config,
        paths=paths,
        lang=lang,
        wtable=wtable,
        data=data,
        summary=rows,
    )
    summary = {
        "language": lang,
        **figures,
        **maps,
        "shortlists": {k: len(v) for k, v in lists.items()},
        "max_risk": None if wtable["risk"].isna().all() else float(wtable["risk"].max()),
        "leaflet_inlined": assets is not None,
        "stages_missing": sorted(
            {s.stage for s in INPUTS.values() if not stage_available(s.stage)}
        ),
    }
    logger.info(
        "report: map %.2f MB, %d ward maps, report.html written", maps["map_mb"], maps["ward_maps"]
    )
    return summary
