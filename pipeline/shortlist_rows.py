"""The rows of each shortlist, from the stage artifacts: what, why, how much and how sure."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipeline.i18n import describe_evidence, fmt_number, t

if TYPE_CHECKING:
    from pipeline.config import ProvinceConfig, Threshold
    from pipeline.contracts import Applied
    from pipeline.i18n import Language

logger = logging.getLogger(__name__)

#: The truck status that sends an alley to the field check (network stage).
UNCERTAIN = "uncertain"


def _people(floor_area: pd.Series, ward_id: pd.Series, rate: pd.Series) -> pd.Series:
    """Estimated people in a floor area, at the ward's people per m²."""
    per = ward_id.map(rate).astype(float).fillna(0.0)
    return (floor_area.astype(float).fillna(0.0) * per).round(0)


def _cost(quantity: pd.Series, unit: Threshold | None) -> pd.Series:
    return (
        quantity.astype(float) * unit.value
        if unit is not None
        else pd.Series(np.nan, quantity.index)
    )


def _fmt(lang: Language, value: object, decimals: int = 0) -> str:
    return fmt_number(value, lang, decimals)


def _formatted(values: np.ndarray, lang: Language, decimals: int) -> list[str]:
    """Return each value as :func:`_fmt` writes it, formatting each distinct value once.

    A column of a province's list holds few distinct values (widths to 0.1 m, counts).
    Zeros are formatted each time: ``-0.0`` equals ``0.0`` as a key but is written ``-0``.
    """
    if decimals < 0:
        return [str(v) for v in values]
    done: dict[object, str] = {}
    out = []
    for v in values.tolist():
        text = None if isinstance(v, (int, float)) and v == 0 else done.get(v)
        if text is None:
            text = _fmt(lang, v, decimals)
            done[v] = text
        out.append(text)
    return out


def _sentences(df: pd.DataFrame, key: str, lang: Language, **columns: tuple[str, int]) -> list[str]:
    """One sentence per row: ``t(key)`` with each placeholder taken from a column."""
    names = list(columns)
    parts = [_formatted(df[col].to_numpy(), lang, d) for col, d in columns.values()]
    return [t(key, lang, **dict(zip(names, row, strict=True))) for row in zip(*parts, strict=True)]


def _evidence(df: pd.DataFrame, lang: Language) -> list[str]:
    """Each row's width evidence in words (a province has few distinct evidence lists)."""
    words: dict[str, str] = {}
    out = []
    for e in df["width_evidence"]:
        if pd.isna(e):
            out.append("")
            continue
        text = str(e)
        if text not in words:
            words[text] = describe_evidence(text, lang)
        out.append(words[text])
    return out


def alley_lists(
    alleys: gpd.GeoDataFrame | None,
    rate: pd.Series,
    config: ProvinceConfig,
    lang: Language,
    *,
    applied: Applied,
) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """Return the alleys to widen and the alleys to measure, best first.

    Parameters
    ----------
    alleys
        ``network/alleys`` with ``ward_id`` (report names).
    rate
        Estimated people per m² of floor area, by ward id.
    config
        The province config (unit costs).
    lang
        {"vi", "en"}: the reason sentences.
    applied
        The thresholds the stages applied (hose reach).

    Returns
    -------
    tuple of GeoDataFrame or None
        Alleys ``to_widen`` (not passable, someone behind) by people behind, and alleys to
        ``field_check`` (passability uncertain, someone behind) by people behind.
    """
    if alleys is None:
        return None, None
    a = alleys.copy()
    a["people_behind"] = _people(a["floor_area_behind_m2"], a["ward_id"], rate)
    a["length_m"] = a["length_m"].astype(float)
    a["land_m2"] = (a["width_shortfall_m"].astype(float) * a["length_m"]).round(1)
    a["confidence"] = a["width_confidence"].astype(float)
    a["evidence"] = _evidence(a, lang)
    order = ["people_behind", "n_deep_behind", "floor_area_behind_m2"]
    widen = a[a["to_widen"].astype(bool)].sort_values(order, ascending=False, kind="stable")
    widen = widen.copy()
    hose = applied.hose_reach_m
    widen["hose_m"] = hose
    widen["reason"] = _sentences(
        widen, "why_alley", lang, width=("min_width_m", 1), short=("width_shortfall_m", 1),
        truck=("truck_min_width_m", 1), buildings=("n_buildings_behind", 0),
        people=("people_behind", 0), deep=("n_deep_behind", 0), hose=("hose_m", 0),
        length=("length_m", 0), land=("land_m2", 0),
    )  # fmt: skip
    widen["cost_vnd"] = _cost(widen["land_m2"], config.report.unit_costs.alley_widening_vnd_per_m2)
    check = a[a["field_check"].astype(bool)].sort_values(order, ascending=False, kind="stable")
    check = check.rename(columns={"min_width_m": "width_m"}).copy()
    check["reason"] = _sentences(
        check, "why_field_check", lang, width=("width_m", 1), low=("min_width_low_m", 1),
        high=("min_width_high_m", 1), truck=("truck_min_width_m", 1),
        buildings=("n_buildings_behind", 0), people=("people_behind", 0),
    )  # fmt: skip
    return widen, check


def fire_point_list(
    candidates: gpd.GeoDataFrame | None,
    alleys: gpd.GeoDataFrame | None,
    rate: pd.Series,
    config: ProvinceConfig,
    lang: Language,
    *,
    applied: Applied,
) -> gpd.GeoDataFrame | None:
    """Return public fire-point sites (deep alleys without one), by people newly reached.

    A fire point at the alley serves the buildings behind it that are beyond hose reach of a
    truck street: those are the buildings, floor area and people it newly reaches. Sites that
    reach nobody are left out.
    """
    if candidates is None or alleys is None:
        return None
    a = alleys.set_index("alley_id")
    # A site serves the whole branch behind its mouth: the entrance runs carry what is behind.
    entrances = alleys[(alleys["parent_alley_id"] < 0) & (alleys["mouth_node"] >= 0)]
    deep_fa = entrances.groupby("mouth_node")["deep_floor_area_behind_m2"].sum()
    keep = ["truck_status", "width_evidence", "width_confidence"]
    fp = candidates.join(a[keep], on="alley_id")
    fp["added_buildings"] = fp["n_deep_buildings"].fillna(0).astype(int)
    fp["added_floor_area_m2"] = fp["mouth_node"].map(deep_fa).fillna(0.0)
    fp = fp[fp["added_buildings"] > 0].copy()
    fp["people"] = _people(fp["added_floor_area_m2"], fp["ward_id"], rate)
    fp = fp.sort_values(["people", "added_buildings", "depth_m"], ascending=False, kind="stable")
    fp["field_check"] = fp["truck_status"].astype(str) == UNCERTAIN
    fp["confidence"] = fp["width_confidence"].astype(float)
    fp["evidence"] = _evidence(fp, lang)
    fp["hose_m"] = applied.hose_reach_m
    fp["limit_m"] = config.access.deep_alley_fire_point_m.value
    fp["reason"] = _sentences(
        fp, "why_fire_point", lang, depth=("depth_m", 0), limit=("limit_m", 0),
        buildings=("added_buildings", 0), people=("people", 0), area=("added_floor_area_m2", 0),
        hose=("hose_m", 0),
    )  # fmt: skip
    fp["cost_vnd"] = _cost(pd.Series(1.0, fp.index), config.report.unit_costs.fire_point_vnd_each)
    return gpd.GeoDataFrame(fp, geometry=candidates.geometry.name, crs=candidates.crs)


def hydrant_list(
    hydrants: gpd.GeoDataFrame | None,
    rate: pd.Series,
    config: ProvinceConfig,
    lang: Language,
    *,
    applied: Applied,
) -> gpd.GeoDataFrame | None:
    """Return hydrant sites that bring buildings within water reach, in the water stage's order."""
    if hydrants is None:
        return None
    h = hydrants[hydrants["added_buildings"].fillna(0) > 0].sort_values("rank", kind="stable")
    h["people"] = _people(h["added_floor_area_m2"], h["ward_id"], rate)
    h["reach_m"] = applied.hydrant_reach_m
    h["reason"] = _sentences(
        h, "why_hydrant", lang, buildings=("added_buildings", 0), people=("people", 0),
        area=("added_floor_area_m2", 0), reach=("reach_m", 0),
    )  # fmt: skip
    h["evidence"] = t("evidence_hydrant", lang)
    h["cost_vnd"] = _cost(pd.Series(1.0, h.index), config.report.unit_costs.hydrant_vnd_each)
    return h


def station_list(
    sites: gpd.GeoDataFrame | None,
    rate: pd.Series,
    config: ProvinceConfig,
    lang: Language,
    *,
    applied: Applied,
) -> gpd.GeoDataFrame | None:
    """Return new station sites that bring people within the target time, in pick order."""
    if sites is None:
        return None
    s = sites.copy()
    est = _people(s["added_floor_area_m2"], s["ward_id"], rate)
    s["people"] = s["added_population"].astype(float).round(0).fillna(est)
    s = s[(s["people"].fillna(0) > 0) | (s["added_dense_ha"].fillna(0) > 0)]
    s = s.sort_values("rank", kind="stable")
    s["target_min"] = applied.target_time_s / 60
    dense = s["added_dense_ha"].fillna(0).round(1) > 0
    with_dense = _sentences(s, "why_station", lang, people=("people", 0),
                            dense=("added_dense_ha", 1), target=("target_min", 0))  # fmt: skip
    people_only = _sentences(s, "why_station_people", lang, people=("people", 0),
                             target=("target_min", 0))  # fmt: skip
    s["reason"] = np.where(dense.to_numpy(), with_dense, people_only)
    s["evidence"] = t("evidence_station", lang)
    s["cost_vnd"] = _cost(pd.Series(1.0, s.index), config.report.unit_costs.station_vnd_each)
    return s


def build_rows(
    data: dict[str, Any],
    rate: pd.Series,
    config: ProvinceConfig,
    lang: Language,
    *,
    applied: Applied,
) -> dict[str, gpd.GeoDataFrame]:
    """Return the candidate rows of every shortlist, best first."""
    widen, check = alley_lists(data["alleys"], rate, config, lang, applied=applied)
    rows = {
        "alleys_to_widen": widen,
        "field_check": check,
        "fire_point_sites": fire_point_list(data["fire_points"], data["alleys"], rate, config,
                                            lang, applied=applied),
        "hydrant_sites": hydrant_list(data["hydrants"], rate, config, lang, applied=applied),
        "station_sites": station_list(data["station_sites"], rate, config, lang, applied=applied),
    }  # fmt: skip
    return {k: v for k, v in rows.items() if isinstance(v, gpd.GeoDataFrame)}
