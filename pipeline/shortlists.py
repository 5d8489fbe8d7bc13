"""Ranked shortlists as CSV (UTF-8 with BOM), XLSX (a sheet per list) and GeoPackage layers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from pipeline.config import Threshold
from pipeline.contracts import anchor_points
from pipeline.i18n import LANGUAGES, column_label, t, ward_type_label, yes_no
from pipeline.xlsx_writer import Sheet, write_workbook

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from pydantic import BaseModel
    from pyproj import CRS

    from pipeline.config import ProvinceConfig
    from pipeline.i18n import Language

logger = logging.getLogger(__name__)

#: Where a row is: the columns every shortlist row carries after its id and ranks.
WHERE_COLUMNS: tuple[str, ...] = (
    "ward", "ward_code", "name", "street", "house_number", "lat", "lon", "vn2000_x",
    "vn2000_y", "map_link",
)  # fmt: skip
#: Zoom level of the map links of shortlist rows (street level).
LINK_ZOOM = 18
#: Decimals of the lists' measured values (lengths, areas, times); shares, scores and
#: coordinates keep theirs.
SHORTLIST_DECIMALS = 2
MEASURE_SUFFIXES = ("_m", "_m2", "_km", "_km2", "_s", "_ha", "_min")


@dataclass(frozen=True)
class ListSpec:
    """One shortlist: its file / layer name, sheet title keys, id prefix and its own columns."""

    name: str
    title_key: str
    id_prefix: str
    columns: tuple[str, ...]

    @property
    def ward_title_key(self) -> str:
        """Sheet title key of the full list, by ward."""
        return f"{self.title_key}_by_ward"


#: The shortlists, in sheet order: id, ranks and :data:`WHERE_COLUMNS` come first, then these.
LISTS: tuple[ListSpec, ...] = (
    ListSpec("alleys_to_widen", "list_alleys", "AL",
             ("reason", "min_width_m", "truck_min_width_m", "width_shortfall_m", "length_m",
              "land_m2", "n_buildings_behind", "n_deep_behind", "floor_area_behind_m2",
              "people_behind", "cost_vnd", "evidence", "confidence")),
    ListSpec("field_check", "list_field_check", "FC",
             ("reason", "width_m", "min_width_low_m", "min_width_high_m", "truck_min_width_m",
              "length_m", "n_buildings_behind", "people_behind", "evidence", "confidence")),
    ListSpec("fire_point_sites", "list_fire_points", "FP",
             ("reason", "depth_m", "added_buildings", "added_floor_area_m2", "people", "cost_vnd",
              "evidence", "confidence", "field_check")),
    ListSpec("hydrant_sites", "list_hydrants", "HY",
             ("reason", "added_buildings", "added_floor_area_m2", "people", "cost_vnd",
              "evidence")),
    ListSpec("station_sites", "list_stations", "ST",
             ("reason", "people", "added_dense_ha", "added_floor_area_m2", "added_buildings",
              "cost_vnd", "evidence")),
)  # fmt: skip
#: The ward ranking (not a list of works: one row per ward, no ward ranks).
WARD_COLUMNS: tuple[str, ...] = (
    "rank", "ward", "ward_code", "ward_type", "people_at_risk", "people_beyond_hose",
    "people_without_water", "people_beyond_time", "risk_share", "people", "population",
    "buildings", "area_km2", "street_km", "truck_share", "n_alleys_to_widen",
    "n_field_check", "median_time_min", "approximate", "map_link",
)  # fmt: skip


def with_coordinates(gdf: gpd.GeoDataFrame, vn2000: CRS, *, decimals: int = 6) -> pd.DataFrame:
    """Return the rows with WGS84 lon/lat and VN-2000 X (north) / Y (east) of their anchor.

    Parameters
    ----------
    gdf
        Rows in the project CRS (points, lines or polygons).
    vn2000
        The province's VN-2000 grid (:func:`pipeline.vn2000.zone_crs`).
    decimals
        Decimals of the WGS84 coordinates (metric ones get 2).

    Returns
    -------
    pandas.DataFrame
        The rows without geometry, plus ``lon, lat, vn2000_x, vn2000_y``: as in Vietnamese
        survey practice, X is the northing and Y the easting.
    """
    pts = gpd.GeoSeries(anchor_points(gdf), crs=gdf.crs, index=gdf.index)
    out = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    wgs = pts.to_crs(4326)
    vn = pts.to_crs(vn2000)
    out["lon"] = np.round(wgs.x.to_numpy(), decimals)
    out["lat"] = np.round(wgs.y.to_numpy(), decimals)
    out["vn2000_x"] = np.round(vn.y.to_numpy(), 2)
    out["vn2000_y"] = np.round(vn.x.to_numpy(), 2)
    return out


def _ranks(ward_ids: pd.Series) -> np.ndarray:
    """Rank within each ward, rows already in province order."""
    return ward_ids.fillna("").groupby(ward_ids.fillna("").to_numpy()).cumcount().to_numpy() + 1


def map_links(files: pd.Series, lat: pd.Series, lon: pd.Series, ids: pd.Series) -> list[str]:
    """Return ``<ward map>#<zoom>/<lat>/<lon>/<row id>`` links (the ward maps read them)."""
    return [
        f"{f}#{LINK_ZOOM}/{la}/{lo}/{i}" for f, la, lo, i in zip(files, lat, lon, ids, strict=True)
    ]


def finish_list(
    gdf: gpd.GeoDataFrame,
    spec: ListSpec,
    *,
    wards: pd.DataFrame,
    vn2000: CRS,
) -> gpd.GeoDataFrame:
    """Return a full shortlist: ids, province and ward ranks, where the row is, its columns.

    Parameters
    ----------
    gdf
        Candidate rows already sorted best first, with ``ward_id``; ``street`` and
        ``house_number`` when known.
    spec
        The list's definition.
    wards
        The ward table: ``ward_id``, ``name``, ``ward_code``, ``map_file``.
    vn2000
        The province's VN-2000 grid.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id``, ``rank`` (province), ``ward_rank``, :data:`WHERE_COLUMNS`, the list's columns
        present, the source keys (``ward_id`` and ``alley_id`` / ``node_id`` when present)
        and the geometry. Ids follow the province rank: ``AL-001`` is the first row.
    """
    top = gdf.reset_index(drop=True)
    n = len(top)
    table = with_coordinates(top, vn2000)
    w = wards.set_index("ward_id")
    ward_id = top["ward_id"].astype(object) if "ward_id" in top else pd.Series([None] * n)
    width = max(3, len(str(n)))
    ids = pd.Series([f"{spec.id_prefix}-{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    out = pd.DataFrame({"id": ids, "rank": np.arange(1, n + 1), "ward_rank": _ranks(ward_id)})
    out["ward"] = ward_id.map(w["name"]).to_numpy()
    out["ward_code"] = ward_id.map(w["ward_code"]).fillna("").to_numpy()
    for col in ("name", "street", "house_number"):
        out[col] = table[col].fillna("").astype(str).to_numpy() if col in table else ""
    for col in ("lat", "lon", "vn2000_x", "vn2000_y"):
        out[col] = table[col].to_numpy()
    files = ward_id.map(w["map_file"]).fillna("map.html")
    out["map_link"] = map_links(files, out["lat"], out["lon"], out["id"]) if n else []
    cols = [c for c in spec.columns if c in table.columns]
    values = table[cols].reset_index(drop=True)
    measured = [c for c in values.select_dtypes("float").columns if c.endswith(MEASURE_SUFFIXES)]
    values[measured] = values[measured].round(SHORTLIST_DECIMALS)
    keys = [c for c in ("ward_id", "alley_id", "node_id", "station_id") if c in table.columns]
    out = out.join(values).join(table[keys].reset_index(drop=True))
    return gpd.GeoDataFrame(out, geometry=top.geometry.to_numpy(), crs=gdf.crs)


def ward_list(wtable: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the ward ranking: wards by people at risk, with the components beside the rank."""
    w = wtable.sort_values("risk_rank", kind="stable").reset_index(drop=True)
    out = pd.DataFrame(w.drop(columns="geometry"))
    out["rank"] = w["risk_rank"].to_numpy()
    out["ward"] = w["name"].to_numpy()
    out["map_link"] = w["map_file"].to_numpy()
    cols = [c for c in WARD_COLUMNS if c in out.columns]
    return gpd.GeoDataFrame(out[[*cols, "ward_id"]], geometry=w.geometry.to_numpy(), crs=w.crs)


def thresholds_table(
    config: ProvinceConfig, applied: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Return every threshold of the config: key path, value, unit and source.

    ``applied`` holds the values the stages recorded in their summaries, by key path
    (:func:`pipeline.report_inputs.applied_thresholds`): they are what the table shows.
    """
    rows: list[dict[str, object]] = []
    recorded = applied or {}

    def walk(model: BaseModel, prefix: str) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, Threshold):
                key = f"{prefix}{name}"
                rows.append({"key": key, "value": recorded.get(key, value.value),
                             "unit": value.unit, "source": value.source})  # fmt: skip
            elif hasattr(type(value), "model_fields"):
                walk(value, f"{prefix}{name}.")

    walk(config, "")
    return pd.DataFrame(rows, columns=["key", "value", "unit", "source"])


#: Source keys kept for the maps and the GeoPackage, never shown to people.
HIDDEN_COLUMNS: tuple[str, ...] = ("ward_id", "alley_id", "node_id", "station_id")
#: Columns of long sentences, given wide columns in the workbook (their labels, both languages).
WIDE_COLUMNS: frozenset[str] = frozenset(
    column_label(c, lang) for c in ("reason", "evidence") for lang in LANGUAGES
)
#: Columns holding a share in [0, 1], shown as percentages.
PERCENT_COLUMNS: tuple[str, ...] = ("confidence", "risk_share", "truck_share")


def display_table(df: pd.DataFrame, lang: Language, *, zone: str) -> pd.DataFrame:
    """Return a list as people read it: labelled columns, yes / no, percentages, no codes.

    Parameters
    ----------
    df
        A shortlist (:func:`finish_list`, :func:`ward_list`) or any table of them.
    lang
        {"vi", "en"}
    zone
        The VN-2000 grid's name, put into the coordinate headers.

    Returns
    -------
    pandas.DataFrame
        Without geometry and :data:`HIDDEN_COLUMNS`; booleans as yes / no, shares as
        percentages with one decimal, ward types in words.
    """
    drop = [c for c in (*HIDDEN_COLUMNS, "geometry") if c in df.columns]
    out = pd.DataFrame(df.drop(columns=drop))
    for col in out.columns:
        values = out[col]
        if col in PERCENT_COLUMNS:
            out[col] = (values.astype(float) * 100).round(1)
        elif pd.api.types.is_bool_dtype(values) or col in ("approximate", "field_check"):
            out[col] = [yes_no(v, lang) if pd.notna(v) else "" for v in values]
        elif col == "ward_type":
            out[col] = [ward_type_label(v, lang) for v in values]
    return out.rename(columns={c: column_label(c, lang, zone=zone) for c in out.columns})


def by_ward(df: pd.DataFrame) -> pd.DataFrame:
    """Return a full list in ward order (then the rank within the ward)."""
    if "ward_rank" not in df.columns:
        return df
    return df.sort_values(["ward", "ward_rank"], kind="stable", na_position="last")


def write_csvs(
    lists: dict[str, gpd.GeoDataFrame], folder: Path, lang: Language, *, zone: str, rows: int
) -> list[Path]:
    """Write each list as CSV (UTF-8 with BOM, so Excel shows Vietnamese); return the files.

    ``<list>.csv`` holds the province top ``rows``; ``<list>_by_ward.csv`` every row, in ward
    order with the rank within the ward.
    """
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, gdf in lists.items():
        frames = {name: gdf[gdf["rank"] <= rows]}
        if "ward_rank" in gdf.columns:
            frames[f"{name}_by_ward"] = by_ward(gdf)
        for stem, frame in frames.items():
            path = folder / f"{stem}.csv"
            display_table(frame, lang, zone=zone).to_csv(path, index=False, encoding="utf-8-sig")
            files.append(path)
    return files


#: Excel keeps at most 65,530 hyperlinks per sheet; longer lists keep their links as text.
MAX_SHEET_LINKS = 65_000


def _widths(columns: pd.Index) -> list[float]:
    """Column widths: wide for sentences, else the header's length (10 to 30 characters)."""
    return [60 if c in WIDE_COLUMNS else max(10, min(30, len(str(c)) + 2)) for c in columns]


def _sheets(
    lists: dict[str, gpd.GeoDataFrame],
    thresholds: pd.DataFrame,
    lang: Language,
    *,
    zone: str,
    rows: int,
) -> Iterator[Sheet]:
    """Yield the workbook's sheets, one table at a time (see :func:`write_xlsx`)."""
    specs = {s.name: s for s in LISTS}
    link = column_label("map_link", lang)
    for name, gdf in lists.items():
        spec = specs.get(name)
        parts: list[tuple[str, str | None]]
        if spec is None:
            parts = [(t("list_wards", lang), None)]
        else:
            parts = [(t(spec.title_key, lang), "top"), (t(spec.ward_title_key, lang), "ward")]
        for title, part in parts:
            frame = gdf[gdf["rank"] <= rows] if part == "top" else by_ward(gdf) if part else gdf
            table = display_table(frame, lang, zone=zone)
            del frame
            links = link if link in table.columns and len(table) <= MAX_SHEET_LINKS else None
            yield Sheet(title[:31], table, _widths(table.columns), link_column=links)
            del table
    yield Sheet(
        t("list_thresholds", lang)[:31],
        thresholds,
        (50, 10, 12, 90),
        freeze_header=False,
        auto_filter=False,
    )


def write_xlsx(
    lists: dict[str, gpd.GeoDataFrame],
    thresholds: pd.DataFrame,
    path: Path,
    lang: Language,
    *,
    zone: str,
    rows: int,
) -> None:
    """Write a workbook: per list the province top and the full list by ward, then the wards.

    Parameters
    ----------
    lists
        Full shortlists by name (:data:`LISTS` and ``wards_by_risk``).
    thresholds
        The parameters as people read them (:func:`pipeline.params.threshold_rows`).
    path
        The ``.xlsx`` file (any suffix; the format is fixed).
    lang
        {"vi", "en"}: sheet names, headers and values.
    zone
        The VN-2000 grid's name (coordinate headers).
    rows
        Rows of each province top list.
    """
    write_workbook(path, _sheets(lists, thresholds, lang, zone=zone, rows=rows))


def write_gpkg(lists: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    """Write each list as a GeoPackage layer (English column names, project CRS)."""
    # GDAL wants a .gpkg name: write beside the target, then move onto it.
    scratch = path if path.suffix == ".gpkg" else path.with_name(path.name + ".gpkg")
    scratch.unlink(missing_ok=True)
    for name, gdf in lists.items():
        kind = None if len(gdf) else "Point"
        # through Arrow: the same layers, their columns handed to GDAL in bulk
        gdf.to_file(scratch, layer=name, driver="GPKG", engine="pyogrio", geometry_type=kind,
                    use_arrow=True)  # fmt: skip
    if scratch != path:
        scratch.replace(path)
