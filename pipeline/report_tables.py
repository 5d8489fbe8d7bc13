"""Tables of the printed report: values formatted for people, compact columns of each list."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.i18n import MISSING, TEXT, column_label, fmt_number, term, ward_type_label, yes_no

if TYPE_CHECKING:
    from pipeline.i18n import Language

logger = logging.getLogger(__name__)

#: Columns of each list printed in the report (the workbook has them all).
PRINT_COLUMNS: dict[str, tuple[str, ...]] = {
    "alleys_to_widen": ("id", "ward", "name", "street", "min_width_m", "width_shortfall_m",
                        "length_m", "land_m2", "people_behind", "cost_vnd", "confidence",
                        "reason"),
    "field_check": ("id", "ward", "name", "street", "width_m", "min_width_low_m",
                    "min_width_high_m", "people_behind", "confidence", "reason"),
    "fire_point_sites": ("id", "ward", "name", "street", "depth_m", "added_buildings", "people",
                         "cost_vnd", "reason"),
    "hydrant_sites": ("id", "ward", "street", "house_number", "added_buildings", "people",
                      "cost_vnd", "reason"),
    "station_sites": ("id", "ward", "street", "people", "added_dense_ha", "cost_vnd", "reason"),
    "wards_by_risk": ("rank", "ward", "ward_code", "people_at_risk", "people_beyond_hose",
                      "people_without_water", "people_beyond_time", "risk_share", "people",
                      "median_time_min"),
}  # fmt: skip
#: Shares in [0, 1], shown as percentages.
SHARES: tuple[str, ...] = ("risk_share", "truck_share", "confidence")
#: Columns whose values are codes of the artifacts, shown in words.
CODED: tuple[str, ...] = ("scenario", "kind", "status", "truck_status", "width_class",
                          "weight_kind", "deep_status")  # fmt: skip


def cell(value: object, col: str, lang: Language) -> str:  # noqa: C901, PLR0911 - one rule per kind
    """Format one value for people: numbers as the language writes them, shares in %, words."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return MISSING
    if col == "ward_type":
        return ward_type_label(value, lang)
    if col in CODED:
        return term(value, lang)
    if isinstance(value, (bool, np.bool_)):
        return yes_no(value, lang)
    if not isinstance(value, (int, np.integer, float, np.floating)):
        return str(value) or MISSING
    x = float(value)
    if not np.isfinite(x):
        return MISSING
    if col in SHARES or col.endswith("_share"):
        return f"{fmt_number(100 * x, lang, 0)} %"
    if col.endswith("_s"):
        return fmt_number(x / 60, lang, 1)
    if isinstance(value, (int, np.integer)) or col.startswith(("people", "n_", "added_build")):
        return fmt_number(x, lang, 0)
    decimals = 1 if abs(x) < 1000 else 0  # noqa: PLR2004
    if col.endswith(("_x", "_y")) or col in ("lat", "lon"):
        decimals = 6 if col in ("lat", "lon") else 2
    return fmt_number(x, lang, decimals)


def header(col: str, lang: Language, zone: str = "") -> str:
    """Return a column's label; time columns in seconds are shown in minutes."""
    if col.endswith("_s") and f"col_{col[:-2]}_min" in TEXT:
        return column_label(col[:-2] + "_min", lang, zone=zone)
    return column_label(col, lang, zone=zone)


def table(
    df: pd.DataFrame | None,
    columns: tuple[str, ...],
    lang: Language,
    *,
    rows: int | None = None,
    drop: tuple[str, ...] = (),
) -> tuple[list[str], list[list[str]]]:
    """Return the headers and formatted rows of ``df`` (the columns present, in order).

    Columns with no value in any row (a cost with no unit cost set) are left out.
    """
    if df is None or len(df) == 0:
        return [], []
    # a plain frame of the rows shown (a GeoDataFrame's column access costs far more)
    d = pd.DataFrame(df.iloc[:rows] if rows is not None else df, copy=False)
    cols = [c for c in columns if c in d.columns and c not in drop and d[c].notna().any()]
    if not cols:
        return [], [[] for _ in range(len(d))]
    # each column's values as iterating it gives them (what itertuples gave)
    body = [[cell(v, c, lang) for c, v in zip(cols, r, strict=True)]
            for r in zip(*(d[c] for c in cols), strict=True)]  # fmt: skip
    return [header(c, lang) for c in cols], body


def frame_table(df: pd.DataFrame, lang: Language) -> tuple[list[str], list[list[str]]]:
    """Return every column of a table (scenarios, summaries) labelled and formatted."""
    cols = [str(c) for c in df.columns if c != "geometry"]
    return table(pd.DataFrame(df[cols]), tuple(cols), lang)
