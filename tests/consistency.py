"""Check that what the report shows equals the stages' own tables and summaries.

The stage artifacts are read here with plain pandas / json from their files (not through
:mod:`pipeline.contracts` or the report's code), then compared with the report's outputs:
the ward ranking (GeoPackage layer and workbook sheet), the ward index page, the summary
figures of the manifest, the thresholds sheet and the map legend's truck width.
"""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd

from pipeline.i18n import MISSING, column_label, t
from pipeline.params import LABELS
from pipeline.report_tables import cell

if TYPE_CHECKING:
    from pathlib import Path

#: Report ward figure -> (stage ward table, its column, scale): the report shows the stage's.
WARD_FIGURES = {
    "buildings": ("network/wards.parquet", "n_buildings", 1.0),
    "street_km": ("network/wards.parquet", "street_km", 1.0),
    "truck_share": ("network/wards.parquet", "truck_share", 1.0),
    "n_alleys_to_widen": ("network/wards.parquet", "n_alleys_to_widen", 1.0),
    "n_field_check": ("network/wards.parquet", "n_alleys_field_check", 1.0),
    "median_time_min": ("coverage/wards.parquet", "median_time_s", 1 / 60),
}


def _summary(out: Path, stage: str) -> dict:
    return json.loads((out / stage / "summary.json").read_text("utf-8"))


def stage_ward_figures(out: Path) -> pd.DataFrame:
    """Return the figures of :data:`WARD_FIGURES` by ward id, from the stage files."""
    frames = {}
    for col, (rel, src, scale) in WARD_FIGURES.items():
        table = pd.read_parquet(out / rel, columns=["ward_id", src]).set_index("ward_id")[src]
        values = table.astype(float).replace([np.inf, -np.inf], np.nan) * scale
        frames[col] = values.round(1) if col == "median_time_min" else values
    return pd.DataFrame(frames)


def _number(text: object, lang: str) -> float:
    """Read a number as the report writes it ("1.234,5" in Vietnamese)."""
    raw = str(text).strip()
    if lang == "vi":
        raw = raw.replace(".", "").replace(",", ".")
    return float(raw.replace(",", ""))


def _same(a: object, b: float, *, tol: float = 1e-9) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return bool(np.isnan(b))
    return not np.isnan(b) and abs(float(a) - b) <= tol  # type: ignore[arg-type]


class _Rows(HTMLParser):
    """Every table row of a page, as the text of its cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:  # noqa: ARG002 - no attribute used
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_rows(path: Path) -> list[list[str]]:
    """Return the cell texts of every table row of an HTML page."""
    parser = _Rows()
    parser.feed(path.read_text("utf-8"))
    return parser.rows


def check_report(out: Path, lang: str = "vi") -> list[str]:  # noqa: C901, PLR0912, PLR0915 - one check each
    """Return every figure of the report that differs from its stage (empty: all equal)."""
    bad: list[str] = []
    stage = stage_ward_figures(out)
    # 1. The ward ranking as the report wrote it (GeoPackage layer, with ward_id).
    ranking = gpd.read_file(out / "shortlists.gpkg", layer="wards_by_risk")
    assert set(ranking["ward_id"]) == set(stage.index), "wards differ"
    for _, row in ranking.iterrows():
        want = stage.loc[row["ward_id"]]
        bad.extend(
            f"gpkg {row['ward_id']} {col}: {row[col]} != {want[col]}"
            for col in WARD_FIGURES
            if not _same(row[col], float(want[col]))
        )
    # 2. The workbook's ward sheet: same rows, in rank order.
    wb = openpyxl.load_workbook(out / "shortlists.xlsx", read_only=True)
    sheet = list(wb[t("list_wards", lang)].iter_rows(values_only=True))
    header = list(sheet[0])
    assert len(sheet) - 1 == len(ranking)
    for values, (_, row) in zip(sheet[1:], ranking.iterrows(), strict=True):
        shown = dict(zip(header, values, strict=True))
        want = stage.loc[row["ward_id"]]
        for col in WARD_FIGURES:
            value = shown[column_label(col, lang)]
            expect = float(want[col]) * (100 if col == "truck_share" else 1)
            # percentages are written with 1 decimal
            tol = 0.0501 if col == "truck_share" else 1e-9
            if value in (None, "", MISSING) and np.isnan(expect):
                continue
            if not isinstance(value, (int, float)) or not _same(value, expect, tol=tol):
                bad.append(f"xlsx {row['ward_id']} {col}: {value!r} != {expect}")
    # 3. The ward index page: the stage's figures, formatted as the report formats numbers.
    rows = html_rows(out / "wards" / "index.html")
    head = rows[0]
    names = gpd.read_parquet(out / "network" / "wards.parquet").set_index("ward_id")["ward"]
    by_name = {r[0]: r for r in rows[1:]}
    for wid, want in stage.iterrows():
        page = by_name.get(str(names[wid])) if str(names[wid]) in by_name else None
        if page is None:  # the whole-province unit is named after the province
            page = rows[1] if len(rows) == 2 else None
        assert page is not None, wid
        for col in WARD_FIGURES:
            shown = page[head.index(column_label(col, lang))]
            value = float(want[col])
            if np.isnan(value):
                expect = cell(None, col, lang)
            elif col in ("buildings", "n_alleys_to_widen", "n_field_check"):
                expect = cell(int(value), col, lang)
            else:
                expect = cell(value, col, lang)
            if shown != expect:
                bad.append(f"index.html {wid} {col}: {shown!r} != {expect!r}")
    # 4. The summary figures (manifest) and the stages' summaries.
    report = json.loads((out / "manifest.json").read_text("utf-8"))["report"]["summary"]
    ing, net = _summary(out, "ingest"), _summary(out, "network")
    wat, cov = _summary(out, "water"), _summary(out, "coverage")
    today = cov["scenarios"]["existing"]
    expected = {
        "buildings": ing["buildings"],
        "street_km": net["street_km"],
        "truck_km": net["truck_connected_km"],
        "narrow_km": round(sum(v["km"] for k, v in net["width_class"].items() if k != "truck"), 3),
        "alleys": net["alleys"],
        "deep_buildings": net["deep_buildings"],
        "water_sources": sum(wat["usable_by_kind"].values()),
        "water_uncovered": wat["buildings_without_water"],
        "stations": ing["stations"],
        "unreached": today["buildings"] - today["buildings_within_target"],
        "dense_unreached": cov["dense_unreached_cells"],
    }
    for key, value in expected.items():
        if not _same(report.get(key), float(value)):
            bad.append(f"summary {key}: {report.get(key)} != {value}")
    # The ward table adds up to the province: the same truck km in both.
    net_w = pd.read_parquet(out / "network" / "wards.parquet")
    if abs(net_w["truck_connected_km"].sum() - net["truck_connected_km"]) > 0.002 * len(net_w):
        bad.append("network wards' truck_connected_km do not add up to the summary's")
    # 5. The thresholds sheet: what the stages recorded.
    thr = list(wb[t("list_thresholds", lang)].iter_rows(values_only=True))
    key_col = thr[0].index(column_label("key", lang))
    val_col = thr[0].index(column_label("value", lang))
    by_key = {r[key_col]: r[val_col] for r in thr[1:]}

    recorded = {
        "access.hose_reach_from_truck_road_m": net["hose_reach_m"],
        "water.hydrant_reach_m": wat["hydrant_reach_m"],
        "response.target_time_s": cov["target_time_s"] / 60,  # shown in minutes
    }
    for key, value in recorded.items():
        label = LABELS[key][0 if lang == "vi" else 1]
        if not _same(_number(by_key.get(label), lang), float(value)):
            bad.append(f"thresholds {key}: {by_key.get(label)!r} != {value}")
    return bad


def legend_truck_width(out: Path, lang: str = "vi") -> str:
    """Return the truck width the map legend states ("4", "3.5 / 4"), checked on map.html."""
    text = (out / "map.html").read_text("utf-8")
    label = t("class_truck", lang, truck="@")
    found: set[str] = set()
    for form in (label, json.dumps(label)[1:-1]):  # as written, or inside the map's JSON
        pattern = re.escape(form).replace("@", r"([0-9.,/ ]+?)")
        found |= set(re.findall(pattern, text))
    assert len(found) == 1, found
    return found.pop()


def stage_truck_widths(out: Path) -> str:
    """Return the truck widths the network stage applied to its streets, as the legend says."""
    e = pd.read_parquet(out / "network" / "edges.parquet", columns=["truck_min_width_m"])
    values = sorted(set(np.round(e["truck_min_width_m"].dropna().to_numpy(float), 2)))
    return " / ".join(f"{v:g}" for v in values)
