"""Stage ``report``: risk maps, ward maps, ranked shortlists and the printable province report."""

from __future__ import annotations

import functools
import html
import logging
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.addresses import nearest_house_number, nearest_street
from pipeline.contracts import Applied, anchor_points, applied_thresholds
from pipeline.fork_share import shared_map
from pipeline.i18n import Language, check_language, t
from pipeline.maps import (
    WARD_READY_LAYERS,
    MapData,
    build_layers,
    leaflet_assets,
    ready_for_wards,
    render_map,
    write_map,
)
from pipeline.parallel import release_freed_memory
from pipeline.params import threshold_rows
from pipeline.report_inputs import (
    assign_wards,
    building_risk,
    drawn_deep,
    load_data,
    load_wards,
    people_rate,
    shown_rows,
    ward_table,
)
from pipeline.report_pages import ReportInputs, report_html, summary_rows, write_index
from pipeline.report_pdf import INSTALL_HINT, PdfJob
from pipeline.shortlist_rows import build_rows
from pipeline.shortlists import (
    LISTS,
    finish_list,
    thresholds_table,
    ward_list,
    write_csvs,
    write_gpkg,
    write_xlsx,
)
from pipeline.vn2000 import zone_crs, zone_label

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from pipeline.config import ProvinceConfig
    from pipeline.stage import StageContext

logger = logging.getLogger(__name__)


def street_points(df: gpd.GeoDataFrame, nodes: gpd.GeoDataFrame | None) -> np.ndarray:
    """Return where to look for a row's street and house number: an alley's mouth, else its anchor.

    An alley is addressed from the street it opens onto ("Ngõ 5, Phố X"), so the search starts
    at its mouth node when the network stage gave one.
    """
    pts = anchor_points(df) if len(df) else np.empty(0, dtype=object)
    if nodes is None or "mouth_node" not in df.columns or not len(df):
        return pts
    where = nodes.set_index("osmid").geometry
    mouth = where.reindex(df["mouth_node"].to_numpy()).to_numpy()
    known = ~pd.isna(mouth)
    pts[known] = mouth[known]
    return pts


def build_shortlists(
    data: dict[str, Any],
    wtable: gpd.GeoDataFrame,
    rate: pd.Series,
    config: ProvinceConfig,
    lang: Language,
    *,
    applied: Applied,
) -> dict[str, gpd.GeoDataFrame]:
    """Return every shortlist (full, ranked) and the ward ranking.

    Parameters
    ----------
    data
        :func:`pipeline.report_inputs.load_data`.
    wtable
        :func:`pipeline.report_inputs.ward_table`.
    rate
        Estimated people per m² of floor area by ward id
        (:func:`pipeline.report_inputs.people_rate`).
    config
        The province config.
    lang
        {"vi", "en"}: reasons and evidence.
    applied
        The thresholds the stages applied (:func:`pipeline.contracts.applied_thresholds`).

    Returns
    -------
    dict
        :data:`pipeline.shortlists.LISTS` names (those with rows upstream) and
        ``wards_by_risk``.
    """
    vn2000 = zone_crs(config.report.vn2000_zone)
    specs = {s.name: s for s in LISTS}
    max_m = config.report.address_search_m
    rows = build_rows(data, rate, config, lang, applied=applied)
    # Streets and house numbers of every list's rows in one search (the street names and
    # the spatial indexes are built once, not once per list).
    pts = [street_points(df, data.get("graph_nodes")) for df in rows.values()]
    own = [
        df["name"].to_numpy(object) if "name" in df.columns else np.full(len(df), None)
        for df in rows.values()
    ]
    cuts = np.cumsum([len(p) for p in pts])[:-1]
    every = np.concatenate(pts) if pts else np.empty(0, dtype=object)
    own_all = np.concatenate(own) if own else np.empty(0, dtype=object)
    streets = np.split(nearest_street(every, data["edges"], max_m=max_m, exclude=own_all), cuts)
    numbers = np.split(nearest_house_number(every, data["addresses"], max_m=max_m), cuts)
    out: dict[str, gpd.GeoDataFrame] = {}
    for k, (name, df) in enumerate(rows.items()):
        df["street"] = streets[k]
        df["house_number"] = numbers[k]
        out[name] = finish_list(df, specs[name], wards=wtable, vn2000=vn2000)
    out["wards_by_risk"] = ward_list(wtable)
    return out


#: Shortlists drawn on the maps with their row ids, and their kind (legend key and colour).
SITE_KINDS: dict[str, str] = {
    "alleys_to_widen": "site_alley",
    "field_check": "site_field_check",
    "station_sites": "site_station",
    "hydrant_sites": "site_hydrant",
    "fire_point_sites": "site_fire_point",
}


def _why_html(df: pd.DataFrame, label: str) -> list[str]:
    """Return each shortlist row's map popup: id and kind, reason, ward, coordinates."""
    n = len(df)

    def column(name: str) -> np.ndarray:
        return df[name].to_numpy(object) if name in df else np.full(n, None, dtype=object)

    kind = html.escape(label)
    return [
        f"<b>{html.escape(str(i))} · {kind}</b><br>{html.escape(str(reason or ''))}<br>"
        f"{html.escape(str(ward or ''))}<br><small>{lat}, {lon}</small>"
        for i, reason, ward, lat, lon in zip(
            df["id"].to_numpy(object), column("reason"), column("ward"),
            df["lat"].to_numpy(object), df["lon"].to_numpy(object), strict=True,
        )
    ]  # fmt: skip


def site_layer(
    lists: dict[str, gpd.GeoDataFrame], config: ProvinceConfig, lang: Language
) -> gpd.GeoDataFrame:
    """Return the shortlist rows as one layer: kind, id, a "why" popup; alleys as lines.

    The maps draw it with each row's id, so a workbook link ``...#18/<lat>/<lon>/<id>`` finds
    and rings its feature; the other lists are points.
    """
    frames = []
    for name, kind in SITE_KINDS.items():
        df = lists.get(name)
        if df is None or len(df) == 0:
            continue
        cols = ("id", "kind", "why_html", "map_link", "rank", "alley_id", "geometry")
        f = df[[c for c in cols if c in df]].copy()
        f["kind"] = kind
        f["why_html"] = _why_html(df, t(kind, lang))
        if kind not in {"site_alley", "site_field_check"}:
            f = f.set_geometry(anchor_points(f))
        frames.append(f[[c for c in cols if c in f]])
    if not frames:
        return gpd.GeoDataFrame({"id": [], "kind": [], "why_html": []}, geometry=[], crs=config.crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=config.crs)


def _extents(layers: list[gpd.GeoDataFrame | None]) -> list[np.ndarray]:
    """Return the ``total_bounds`` of each layer with rows."""
    return [df.total_bounds for df in layers if df is not None and len(df) > 0]


def _view_bounds(
    area: Any,  # noqa: ANN401 - a shapely geometry
    extents: list[np.ndarray],
    crs: str,
) -> tuple[float, float, float, float]:
    """Return the WGS84 bounds a map opens on: the data's extent within ``area``, else ``area``.

    ``extents``: the data's bounds (:func:`_extents`). A province whose OSM extract covers
    only part of it (or a ward layer that is the whole province) then opens on the data, not
    on an empty outline.
    """
    boxes = [shapely.box(*b) for b in extents]
    extent = shapely.intersection(shapely.union_all(boxes), area) if boxes else area
    if extent.is_empty:
        extent = area
    b = gpd.GeoSeries([shapely.box(*extent.bounds)], crs=crs).to_crs(4326).total_bounds
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


def _map_note(wtable: gpd.GeoDataFrame, lang: Language) -> str:
    """Return the legend's note: that ward boundaries are approximate, when they are."""
    if "approximate" in wtable.columns and wtable["approximate"].fillna(value=False).any():
        return t("limit_wards", lang)
    return ""


#: Layers of ``data`` (:func:`pipeline.report_inputs.load_data`) the maps draw.
MAP_LAYERS = ("edges", "alleys", "deep_buildings", "water_sources", "water_reach", "stations",
              "isochrones", "dense_unreached")  # fmt: skip


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
    applied: Applied,
    progress: bool = False,
    fork_when: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Write the province map and one map per ward; return sizes and counts.

    The map layers (:data:`MAP_LAYERS`) are taken out of ``data``: once the ward layers
    hold their WGS84 shapes, the projected shapes are freed (at scale 1 the province's
    streets and buildings would otherwise be held twice while the ward maps are drawn). The
    legends give the thresholds the stages applied (``applied``). ``fork_when``: see
    :func:`_ward_maps`.
    """
    layers = {key: data.pop(key, None) for key in MAP_LAYERS}
    if layers["deep_buildings"] is not None:
        layers["deep_buildings"] = drawn_deep(layers["deep_buildings"])
    truck = applied.truck_min_width_m
    reach_m = {"hydrant": applied.hydrant_reach_m, "natural": applied.natural_reach_m}
    note = _map_note(wtable, lang)
    # the province map: each list's province top rows; ward maps: all of their rows
    top = sites[sites["rank"] <= config.report.shortlist_rows] if "rank" in sites else sites
    t0 = time.perf_counter()
    size_mb = _province_map(
        MapData(
            wards=wtable,
            **layers,
            sites=top,
            truck_min_width_m=truck,
            reach_m=reach_m,
        ),
        config,
        lang,
        map_path=map_path,
        assets=assets,
        note=note,
    )
    logger.info("report: province map %.2f MB (%.1f s)", size_mb, time.perf_counter() - t0)
    del top
    t0 = time.perf_counter()
    # Ward maps: alley rows (to widen, to check) ring their alley in the alleys layer by its
    # alley_id; the sites layer keeps the points. (Thousands of alley rows drawn a second
    # time, each with its popup, made a ward map of 4.5 MB.)
    on_alley = sites["kind"].isin(["site_alley", "site_field_check"]).to_numpy()
    alley_ids = None
    if "alley_id" in sites and on_alley.any():
        rows_a = sites[on_alley]
        alley_ids = pd.Series(rows_a["id"].to_numpy(), index=rows_a["alley_id"].to_numpy())
        alley_ids = alley_ids[~alley_ids.index.duplicated()]
        sites = sites[~on_alley]
    layers["sites"] = sites
    rows = {key: _ward_rows(layers[key]) for key in WARD_LAYERS}
    extents = _ward_extents(layers["edges"], rows["edges"])
    frames = {}
    for key in WARD_LAYERS:
        frames[key] = _ward_frame(key, layers.pop(key), config)
        # the projected shapes are freed, partly in the threads' heaps: handed back now,
        # before the next layer's WGS84 shapes are made
        release_freed_memory()
    job = _WardJob(
        wtable=wtable, isochrones=layers["isochrones"], water_sources=layers["water_sources"],
        frames=frames, rows=rows, extents=extents, alley_ids=alley_ids, truck_min_width_m=truck,
        reach_m=reach_m, config=config, lang=lang, assets=assets, note=note, wards_dir=wards_dir,
    )  # fmt: skip
    del layers, frames
    sizes = _ward_maps(job, progress=progress, fork_when=fork_when)
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
        "ward_map_max_mb": round(max(sizes, default=0.0), 3),
    }


def _province_map(
    full: MapData,
    config: ProvinceConfig,
    lang: Language,
    *,
    map_path: Path,
    assets: tuple[str, str] | None,
    note: str,
) -> float:
    """Write the province map of ``full``; return its size in MB."""
    province_name = config.name.vi if lang == "vi" else config.name.en
    text = render_map(
        build_layers(full, config, lang, detail="province"),
        _view_bounds(
            shapely.union_all(full.wards.geometry.to_numpy()),
            _extents([full.edges, full.deep_buildings]),
            config.crs,
        ),
        config,
        lang,
        title=t("map_title", lang, name=province_name),
        assets=assets,
        note=note,
    )
    return write_map(text, map_path, max_mb=config.report.max_map_mb)


def _ward_extents(
    edges: gpd.GeoDataFrame | None, rows: dict[str, np.ndarray]
) -> dict[str | None, list[np.ndarray]]:
    """Return each ward map's data extent (:func:`_extents` of its streets), by ward id.

    Made from the projected streets before the ward layers drop them (:func:`_ward_frame`).
    A layer without ``ward_id`` is drawn whole on every ward map (:func:`_take`): its extent
    is the whole layer's, under the key ``None``.
    """
    if edges is None or not len(edges):
        return {}
    if "ward_id" not in edges.columns:
        return {None: _extents([edges])}
    bounds = shapely.bounds(edges.geometry.to_numpy())
    out: dict[str | None, list[np.ndarray]] = {}
    with warnings.catch_warnings():  # as GeoDataFrame.total_bounds: all-NaN gives NaN
        warnings.filterwarnings("ignore", r"All-NaN slice encountered", RuntimeWarning)
        for wid, at in rows.items():
            b = bounds[at]
            out[wid] = [np.array((np.nanmin(b[:, 0]), np.nanmin(b[:, 1]),
                                  np.nanmax(b[:, 2]), np.nanmax(b[:, 3])))]  # fmt: skip
    return out


def _ward_frame(key: str, gdf: Any, config: ProvinceConfig) -> Any:  # noqa: ANN401
    """Return a layer as the ward maps take it: WGS84 shapes made once, projected ones dropped.

    :func:`pipeline.maps.ready_for_wards` gives the layers a ward map draws as they are their
    WGS84 shapes; their projected shapes are then not drawn, and are set to ``None`` here so
    that they are freed (the views' extents are kept apart, :func:`_ward_extents`). Other
    layers are returned unchanged.
    """
    ready = ready_for_wards(key, gdf, config)
    if ready is None or key not in WARD_READY_LAYERS or not len(ready):
        return ready
    del gdf
    name = ready.geometry.name
    ready[name] = gpd.GeoSeries(np.full(len(ready), None), index=ready.index, crs=ready.crs)
    return ready


@dataclass(frozen=True)
class _WardJob:
    """Everything the ward maps are drawn from (shared by the worker processes)."""

    wtable: gpd.GeoDataFrame
    isochrones: gpd.GeoDataFrame | None
    water_sources: gpd.GeoDataFrame | None
    frames: dict[str, Any]
    rows: dict[str, dict[str, np.ndarray]]
    #: The data extent each ward map opens on, by ward id (:func:`_ward_extents`).
    extents: dict[str | None, list[np.ndarray]]
    alley_ids: pd.Series | None
    truck_min_width_m: float
    reach_m: dict[str, float]
    config: ProvinceConfig
    lang: Language
    assets: tuple[str, str] | None
    note: str
    wards_dir: Path


def _ward_map(job: _WardJob, i: int) -> float:
    """Write the map of the ``i``-th ward of ``job.wtable``; return its size in MB."""
    ward = job.wtable.iloc[i]
    wid, geom = ward["ward_id"], ward.geometry
    iso = job.isochrones
    if iso is not None and len(iso):
        near = iso[shapely.intersects(iso.geometry.to_numpy(), geom)]
        iso = near.set_geometry(shapely.intersection(near.geometry.to_numpy(), geom))
    ws = job.water_sources
    if ws is not None and len(ws):
        reach = ws["reach_m"].fillna(0).to_numpy(float) if "reach_m" in ws else 0.0
        ws = ws[shapely.dwithin(ws.geometry.to_numpy(), geom, reach)]
    one = MapData(
        wards=job.wtable[job.wtable["ward_id"] == wid],
        water_sources=ws,
        isochrones=iso,
        truck_min_width_m=job.truck_min_width_m,
        reach_m=job.reach_m,
        alley_ids=job.alley_ids,
        **{key: _take(job.frames[key], job.rows[key], wid) for key in WARD_LAYERS},
    )
    config = job.config
    page = render_map(
        build_layers(one, config, job.lang, detail="ward"),
        _view_bounds(geom, job.extents.get(str(wid), job.extents.get(None, [])), config.crs),
        config,
        job.lang,
        title=str(ward["name"]),
        assets=job.assets,
        note=job.note if ward.get("approximate") else "",
    )
    return write_map(page, job.wards_dir / ward["map_file"].removeprefix("wards/"))


def _ward_maps(
    job: _WardJob, *, progress: bool, fork_when: Callable[[], bool] | None = None
) -> list[float]:
    """Write every ward map; return their sizes in MB, in ward order.

    The maps are drawn by this process and by worker processes forked from it, each taking
    the next ward not yet drawn (:func:`pipeline.fork_share.shared_map`): the workers share
    the province's layers without copying them. ``fork_when``: asked before each ward this
    process draws until it says yes, when the workers are forked (the stage's PDF process
    is done: until then it holds the other CPU and its memory); ``None``: at once.
    """
    from tqdm import tqdm  # noqa: PLC0415

    with tqdm(total=len(job.wtable), disable=not progress, desc="wards") as bar:
        return shared_map(
            functools.partial(_ward_map, job), len(job.wtable), fork_when=fork_when,
            tick=bar.update,
        )  # fmt: skip


#: Layers of :class:`MapData` a ward map takes its own rows of (by ``ward_id``).
WARD_LAYERS = ("edges", "alleys", "deep_buildings", "water_reach", "stations",
               "dense_unreached", "sites")  # fmt: skip


def _ward_rows(df: Any) -> dict[str, np.ndarray]:  # noqa: ANN401 - a frame or None
    """Row positions of each ward in a layer (one pass, instead of a mask per ward)."""
    if df is None or "ward_id" not in df.columns or not len(df):
        return {}
    ids = df["ward_id"].astype(str).to_numpy()
    order = np.argsort(ids, kind="stable")
    keys, first = np.unique(ids[order], return_index=True)
    return dict(zip(keys, np.split(order, first[1:]), strict=True))


def _take(df: Any, rows: dict[str, np.ndarray], ward_id: str) -> Any:  # noqa: ANN401
    if df is None or "ward_id" not in df.columns:
        return df
    return df.iloc[rows.get(str(ward_id), np.empty(0, dtype=np.int64))]


def write_report(
    ctx: StageContext, r: ReportInputs, pdf: PdfJob | None
) -> tuple[PdfJob | None, list[str]]:
    """Write report.html and hand it to ``pdf``; return the job rendering it, and outputs off.

    ``pdf``: the PDF process (:class:`pipeline.report_pdf.PdfJob`, started without a page
    while the stage works, so that its engine is loaded), ``None`` when the config turned
    report.pdf off. The outputs off are those the config turned off. The PDF engine takes
    most of a minute on one core: it runs while this process writes the shortlists and
    draws the maps. Without the engine, the job is stopped, with a warning.
    """
    t0 = time.perf_counter()
    page = report_html(r)
    html_path = ctx.output("report")
    html_path.write_text(page, encoding="utf-8")
    del page
    logger.info("report: report.html (%.1f s)", time.perf_counter() - t0)
    if pdf is None:
        return None, ["report_pdf"]
    problem = pdf.problem()
    if problem is not None:
        logger.warning("report: report.pdf not written: %s; %s", problem, INSTALL_HINT)
        pdf.cancel()
        return None, []
    pdf.render(html_path)
    return pdf, []


def write_shortlists(
    ctx: StageContext,
    lists: dict[str, gpd.GeoDataFrame],
    *,
    wards: gpd.GeoDataFrame,
    applied: Applied,
) -> gpd.GeoDataFrame:
    """Write shortlists.xlsx, .gpkg and the CSVs; return the rows the maps draw (site layer).

    The site layer (:func:`site_layer`) carries each row's ``ward_id`` (the ward holding it).
    """
    config = ctx.config
    lang = check_language(config.report.language)
    t0 = time.perf_counter()
    zone = zone_label(config.report.vn2000_zone)
    if config.report.vn2000_zone is None:
        logger.warning(
            "report: no report.vn2000_zone in the province config; VN-2000 x / y are given in "
            "UTM 48N, not in the province's own 3-degree zone"
        )
    top = config.report.shortlist_rows
    params = threshold_rows(thresholds_table(config, applied.by_key()), lang)
    write_xlsx(lists, params, ctx.output("shortlists_xlsx"), lang, zone=zone, rows=top)
    write_gpkg(lists, ctx.output("shortlists_gpkg"))
    write_csvs(lists, ctx.output("shortlists_csv_dir"), lang, zone=zone, rows=top)
    logger.info("report: shortlists.xlsx, .gpkg and CSVs (%.1f s)", time.perf_counter() - t0)
    sites = site_layer(lists, config, lang)
    sites["ward_id"] = assign_wards(sites, wards).to_numpy() if len(sites) else []
    return sites


#: Inputs (:func:`pipeline.report_inputs.load_data`) the report no longer needs once the
#: shortlists are made, and once report.html is written.
AFTER_SHORTLISTS = ("addresses", "graph_nodes", "fire_points", "hydrants",
                    "station_sites")  # fmt: skip
AFTER_REPORT_HTML = ("building_times", "scenarios", "network_wards", "water_wards",
                     "coverage_wards")  # fmt: skip


def _drop(data: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Free the inputs ``keys`` of ``data`` (the stage's own dict) and the memory they held."""
    for key in keys:
        data.pop(key, None)
    release_freed_memory()


def run(ctx: StageContext) -> dict[str, Any]:
    """Run the report stage: maps, ward maps and index, shortlists, report.html.

    Each input is dropped once its last step is done (:data:`AFTER_SHORTLISTS`,
    :data:`AFTER_REPORT_HTML`, the map layers in :func:`render_maps`), so that the ward
    maps are drawn from little more than their own layers. They start while report.pdf is
    still being rendered; their worker processes are forked once it is done.
    """
    config, paths = ctx.config, ctx.paths
    lang = check_language(config.report.language)
    t0 = time.perf_counter()
    wards = load_wards(paths, config, lang)
    data = load_data(paths, config, wards)
    applied = applied_thresholds(paths)
    brisk = building_risk(data, wards, config, applied)
    wtable = ward_table(data, wards, brisk)
    rate = people_rate(brisk)
    # The per-building tables only the ward figures needed (a province has millions of rows).
    del brisk
    shown_rows(data)
    _drop(data, ("building_water", "buildings"))
    logger.info("report: %d wards, inputs read (%.1f s)", len(wtable), time.perf_counter() - t0)

    t0 = time.perf_counter()
    lists = build_shortlists(data, wtable, rate, config, lang, applied=applied)
    logger.info(
        "report: shortlists %s (%.1f s)",
        ", ".join(f"{k} {len(v)}" for k, v in lists.items()),
        time.perf_counter() - t0,
    )
    _drop(data, AFTER_SHORTLISTS)
    assets = leaflet_assets(config, paths.root)
    if assets is None:
        logger.warning(
            "report: Leaflet not found in %s; maps load it from a CDN and need internet "
            "(run make vendor)",
            config.report.leaflet_dir,
        )
    rows, figures = summary_rows(paths, wtable, lang)
    pdf = (
        PdfJob(None, ctx.output("report_pdf"), base_url=paths.outputs)
        if config.report.pdf
        else None
    )
    counts = {k: len(v) for k, v in lists.items()}
    try:
        pdf, outputs_off = write_report(
            ctx, ReportInputs(config, paths, lang, wtable, data, lists, rows, applied), pdf
        )
        _drop(data, AFTER_REPORT_HTML)
        sites = write_shortlists(ctx, lists, wards=wards, applied=applied)
        del lists
        _drop(data, ())
        maps = render_maps(
            data, wtable, sites, config, lang, map_path=ctx.output("map"),
            wards_dir=ctx.output("wards_dir"), assets=assets, applied=applied,
            progress=ctx.progress, fork_when=pdf.done if pdf is not None else None,
        )  # fmt: skip
    except BaseException:
        if pdf is not None:
            pdf.cancel()
        raise
    province = config.name.vi if lang == "vi" else config.name.en
    write_index(wtable, ctx.output("wards_dir") / "index.html", province, lang)
    pdf_pages = pdf.result() if pdf is not None else None
    summary = {
        "language": lang,
        **figures,
        **maps,
        "shortlists": counts,
        "people_at_risk": float(wtable["people_at_risk"].sum(min_count=1)),
        "leaflet_inlined": assets is not None,
        "pdf_pages": pdf_pages,
        "outputs_off": outputs_off,
    }
    logger.info(
        "report: map %.2f MB, %d ward maps, report.html and %s",
        maps["map_mb"],
        maps["ward_maps"],
        f"report.pdf ({pdf_pages} pages)" if pdf_pages else "no report.pdf",
    )
    return summary
