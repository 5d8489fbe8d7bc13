"""Ranked shortlists as CSV (UTF-8 with BOM), XLSX (a sheet per list) and GeoPackage layers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from openpyxl.utils import get_column_letter

from pipeline.config import Threshold
from pipeline.i18n import column_label, t

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import BaseModel

    from pipeline.config import ProvinceConfig
    from pipeline.i18n import Language

logger = logging.getLogger(__name__)

#: VN-2000 / UTM zone 48N, the national datum construction departments work in.
VN2000_CRS = "EPSG:3405"
#: Coordinate columns every shortlist row carries, after its own columns.
COORD_COLUMNS: tuple[str, ...] = ("lon", "lat", "x_utm", "y_utm", "x_vn2000", "y_vn2000")
#: Zoom level of the map links of shortlist rows.
LINK_ZOOM = 18
#: Decimals of the lists' measured values (lengths, areas, times); shares, scores and
#: coordinates keep theirs.
SHORTLIST_DECIMALS = 2
MEASURE_SUFFIXES = ("_m", "_m2", "_km", "_km2", "_s")


@dataclass(frozen=True)
class ListSpec:
    """One shortlist: its file / layer name, sheet title key, id prefix and columns."""

    name: str
    title_key: str
    id_prefix: str
    columns: tuple[str, ...]


#: The shortlists, in sheet order. Columns missing upstream are left out of a list.
LISTS: tuple[ListSpec, ...] = (
    ListSpec("alleys_to_widen", "list_alleys", "AL",
             ("rank", "ward", "name", "length_m", "depth_m", "min_width_m", "truck_status",
              "width_evidence", "n_buildings_behind", "n_deep_behind", "floor_area_behind_m2",
              "has_fire_point")),
    ListSpec("fire_point_sites", "list_fire_points", "FP",
             ("rank", "ward", "name", "n_buildings", "floor_area_m2")),
    ListSpec("hydrant_sites", "list_hydrants", "HY",
             ("rank", "ward", "added_buildings", "added_floor_area_m2")),
    ListSpec("station_sites", "list_stations", "ST",
             ("rank", "ward", "added_buildings", "added_floor_area_m2")),
    ListSpec("wards_by_risk", "list_wards", "W",
             ("rank", "ward", "ward_id", "ward_type", "population", "area_km2", "buildings",
              "street_km", "truck_share", "n_alleys", "deep_share", "water_uncovered_share",
              "unreached_share", "median_time_s", "risk", "approximate")),
)  # fmt: skip


def anchor_points(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Return one point per row: the point itself, a line's midpoint, a polygon's inner point."""
    geoms = gdf.geometry.to_numpy()
    kind = shapely.get_type_id(geoms)
    out: np.ndarray = shapely.point_on_surface(geoms)
    lines = np.isin(kind, (1, 2, 5))
    if lines.any():
        out[lines] = shapely.line_interpolate_point(geoms[lines], 0.5, normalized=True)
    return out


def with_coordinates(gdf: gpd.GeoDataFrame, *, decimals: int = 6) -> pd.DataFrame:
    """Return the rows with WGS84, UTM (project CRS) and VN-2000 / UTM 48N coordinates.

    Parameters
    ----------
    gdf
        Rows in the project CRS (points, lines or polygons).
    decimals
        Decimals of the WGS84 coordinates (metric ones get 2).

    Returns
    -------
    pandas.DataFrame
        The rows without geometry, plus :data:`COORD_COLUMNS`.
    """
    pts = gpd.GeoSeries(anchor_points(gdf), crs=gdf.crs, index=gdf.index)
    out = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    wgs = pts.to_crs(4326)
    vn = pts.to_crs(VN2000_CRS)
    out["lon"] = np.round(wgs.x.to_numpy(), decimals)
    out["lat"] = np.round(wgs.y.to_numpy(), decimals)
    out["x_utm"] = np.round(pts.x.to_numpy(), 2)
    out["y_utm"] = np.round(pts.y.to_numpy(), 2)
    out["x_vn2000"] = np.round(vn.x.to_numpy(), 2)
    out["y_vn2000"] = np.round(vn.y.to_numpy(), 2)
    return out


def finish_list(
    gdf: gpd.GeoDataFrame, spec: ListSpec, *, ward_files: pd.Series, rows: int
) -> gpd.GeoDataFrame:
    """Return a shortlist: ranked rows with an id, coordinates and a link to the map.

    Parameters
    ----------
    gdf
        Candidate rows already sorted best first, with a ``ward_id`` column.
    spec
        The list's definition.
    ward_files
        Ward map file (relative to ``outputs/<province>/``) by ward id.
    rows
        Keep at most this many rows.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id``, the list's columns present, :data:`COORD_COLUMNS`, ``map_link``, geometry.
    """
    top = gdf.head(rows).reset_index(drop=True)
    top["rank"] = np.arange(1, len(top) + 1)
    table = with_coordinates(top)
    width = max(3, len(str(len(top))))
    ids = [f"{spec.id_prefix}-{i:0{width}d}" for i in range(1, len(top) + 1)]
    files = top["ward_id"].map(ward_files).fillna("map.html") if "ward_id" in top else "map.html"
    link = (
        files + f"#{LINK_ZOOM}/" + table["lat"].astype(str) + "/" + table["lon"].astype(str)
        if len(top)
        else pd.Series([], dtype=str)
    )
    cols = [c for c in spec.columns if c in table.columns]
    values = table[cols].copy()
    measured = [c for c in values.select_dtypes("float").columns if c.endswith(MEASURE_SUFFIXES)]
    values[measured] = values[measured].round(SHORTLIST_DECIMALS)
    out = pd.DataFrame({"id": ids}).join(values).join(table[list(COORD_COLUMNS)])
    out["map_link"] = list(link)
    return gpd.GeoDataFrame(out, geometry=top.geometry.to_numpy(), crs=gdf.crs)


def thresholds_table(config: ProvinceConfig) -> pd.DataFrame:
    """Return every threshold of the config: key path, value, unit and source."""
    rows: list[dict[str, object]] = []

    def walk(model: BaseModel, prefix: str) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, Threshold):
                rows.append({"key": f"{prefix}{name}", "value": value.value,
                             "unit": value.unit, "source": value.source})  # fmt: skip
            elif hasattr(type(value), "model_fields"):
                walk(value, f"{prefix}{name}.")

    walk(config, "")
    return pd.DataFrame(rows, columns=["key", "value", "unit", "source"])


def _labelled(df: pd.DataFrame, lang: Language) -> pd.DataFrame:
    return df.rename(columns={c: column_label(c, lang) for c in df.columns})


def write_csvs(lists: dict[str, gpd.GeoDataFrame], folder: Path, lang: Language) -> list[Path]:
    """Write one CSV per list (UTF-8 with BOM, so Excel shows Vietnamese); return the files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, gdf in lists.items():
        path = folder / f"{name}.csv"
        _labelled(pd.DataFrame(gdf.drop(columns="geometry")), lang).to_csv(
            path, index=False, encoding="utf-8-sig"
        )
        files.append(path)
    return files


def write_xlsx(
    lists: dict[str, gpd.GeoDataFrame], thresholds: pd.DataFrame, path: Path, lang: Language
) -> None:
    """Write a workbook: a sheet per list (map links clickable) and a thresholds sheet.

    Parameters
    ----------
    lists
        Shortlists by name (:data:`LISTS`).
    thresholds
        :func:`thresholds_table`.
    path
        The ``.xlsx`` file (any suffix; the format is fixed).
    lang
        {"vi", "en"}: sheet names and column headers.
    """
    titles = {s.name: t(s.title_key, lang)[:31] for s in LISTS}
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, gdf in lists.items():
            df = pd.DataFrame(gdf.drop(columns="geometry"))
            sheet = titles.get(name, name[:31])
            _labelled(df, lang).to_excel(writer, sheet_name=sheet, index=False)
            ws = writer.sheets[sheet]
            ws.freeze_panes = "B2"
            for j, col in enumerate(df.columns, start=1):
                letter = get_column_letter(j)
                ws.column_dimensions[letter].width = max(
                    10, min(40, len(column_label(col, lang)) + 2)
                )
                if col == "map_link":
                    for i, link in enumerate(df[col], start=2):
                        ws.cell(row=i, column=j).hyperlink = str(link)
        sheet = t("list_thresholds", lang)[:31]
        _labelled(thresholds, lang).to_excel(writer, sheet_name=sheet, index=False)
        ws = writer.sheets[sheet]
        for letter, width in zip("ABCD", (44, 10, 10, 90), strict=True):
            ws.column_dimensions[letter].width = width


def write_gpkg(lists: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    """Write each list as a GeoPackage layer (English column names, project CRS)."""
    # GDAL wants a .gpkg name: write beside the target, then move onto it.
    scratch = path if path.suffix == ".gpkg" else path.with_name(path.name + ".gpkg")
    scratch.unlink(missing_ok=True)
    for name, gdf in lists.items():
        kind = None if len(gdf) else "Point"
        gdf.to_file(scratch, layer=name, driver="GPKG", engine="pyogrio", geometry_type=kind)
    if scratch != path:
        scratch.replace(path)
