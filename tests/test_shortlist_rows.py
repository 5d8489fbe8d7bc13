"""Shortlist rows from the stage contracts: which list a row goes to, its measures and reason."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipeline.config import Threshold, UnitCosts, load_config
from pipeline.contracts import Applied
from pipeline.shortlist_rows import alley_lists, fire_point_list, hydrant_list, station_list

CRS = "EPSG:32648"
RATE = pd.Series({"W1": 0.04, "W2": 0.02})  # people per m² of floor area


def _config(costs: bool = False):
    config = load_config("ha_noi")
    if not costs:
        return config
    unit = UnitCosts(
        alley_widening_vnd_per_m2=Threshold(value=50e6, unit="VND/m2", source="test"),
        hydrant_vnd_each=Threshold(value=80e6, unit="VND", source="test"),
    )
    return config.model_copy(
        update={"report": config.report.model_copy(update={"unit_costs": unit})}
    )


#: The thresholds the stages applied, as their summaries record them (Hà Nội's config).
APPLIED = Applied(truck_min_width_m=4.0, hose_reach_m=60.0, hydrant_reach_m=200.0,
                  natural_reach_m=400.0, target_time_s=600.0)  # fmt: skip


def _line(x: float) -> shapely.LineString:
    return shapely.LineString([(590_000 + x, 2_340_000), (590_000 + x, 2_340_100)])


def _alleys() -> gpd.GeoDataFrame:
    """Issue 11 contract: a narrow alley, an uncertain one, a wide one, and one with nobody."""
    return gpd.GeoDataFrame(
        {
            "alley_id": [0, 1, 2, 3],
            "name": ["Ngõ hẹp", "Ngõ chưa rõ", "Ngõ rộng", "Ngõ không ai"],
            "length_m": [120.0, 80.0, 60.0, 50.0],
            "depth_m": [120.0, 80.0, 60.0, 50.0],
            "min_width_m": [2.0, 3.6, 5.0, 1.5],
            "min_width_low_m": [1.8, 2.9, 4.6, 1.2],
            "min_width_high_m": [2.3, 4.4, 5.5, 1.8],
            "truck_min_width_m": [3.5, 3.5, 3.5, 3.5],
            "width_shortfall_m": [1.5, 0.0, 0.0, 2.0],
            "truck_status": ["not_passable", "uncertain", "passable", "not_passable"],
            "width_evidence": ["class=service; corridor=2.0 m (14 sections, 80%)",
                               "class=residential; alley name", "width=5 m", "class=footway"],
            "width_confidence": [0.8, 0.3, 0.9, 0.4],
            "n_buildings_behind": [10, 4, 6, 0],
            "n_deep_behind": [6, 0, 0, 0],
            "floor_area_behind_m2": [2000.0, 500.0, 900.0, 0.0],
            "deep_floor_area_behind_m2": [1200.0, 0.0, 0.0, 0.0],
            "to_widen": [True, False, False, False],
            "parent_alley_id": [-1, -1, -1, 2],
            "mouth_node": [100, 101, 102, 102],
            "field_check": [False, True, False, False],
            "ward_id": ["W1", "W2", "W1", "W1"],
        },
        geometry=[_line(0), _line(50), _line(100), _line(150)],
        crs=CRS,
    )  # fmt: skip


def test_alleys_go_to_widen_or_to_measure_never_both():
    widen, check = alley_lists(_alleys(), RATE, _config(costs=True), "vi", applied=APPLIED)
    assert widen["name"].tolist() == ["Ngõ hẹp"]  # not the wide one, not the one with nobody
    assert check["name"].tolist() == ["Ngõ chưa rõ"]
    row = widen.iloc[0]
    assert row["land_m2"] == pytest.approx(1.5 * 120.0)
    assert row["people_behind"] == pytest.approx(2000 * 0.04)
    assert row["cost_vnd"] == pytest.approx(180.0 * 50e6)
    assert row["confidence"] == 0.8
    assert row["reason"] == (
        "Chỗ hẹp nhất 2,0 m, thiếu 1,5 m so với 3,5 m cho xe chữa cháy; phía sau có 10 nhà "
        "(khoảng 80 người), 6 nhà ngoài tầm vòi 60 m. Mở rộng 120 m, cần khoảng 180 m² đất."
    )
    assert row["evidence"] == (
        "loại đường: đường nội bộ; khoảng cách giữa hai dãy nhà 2,0 m (14 mặt cắt, 80%)"
    )
    c = check.iloc[0]
    assert (c["width_m"], c["min_width_low_m"], c["min_width_high_m"]) == (3.6, 2.9, 4.4)
    assert c["people_behind"] == pytest.approx(500 * 0.02)
    assert "Cần đo bề rộng chỗ hẹp nhất" in c["reason"]
    assert c["evidence"] == "loại đường: đường khu dân cư; tên ngõ/hẻm"


def test_without_costs_there_is_no_cost():
    widen, _ = alley_lists(_alleys(), RATE, _config(), "en", applied=APPLIED)
    assert widen["cost_vnd"].isna().all()
    assert widen.iloc[0]["reason"].startswith("Narrowest 2.0 m, 1.5 m short of the 3.5 m")


def test_fire_points_reach_the_deep_buildings_and_drop_empty_ones():
    # The network stage's sites: one per branch mouth, the deep buildings of the whole branch.
    cands = gpd.GeoDataFrame(
        {"rank": [1, 2], "mouth_node": [100, 102], "alley_id": [0, 2], "name": ["Ngõ hẹp", None],
         "depth_m": [120.0, 60.0], "n_deep_buildings": [6, 0], "ward_id": ["W1", "W1"]},
        geometry=[shapely.Point(590_000, 2_340_000), shapely.Point(590_100, 2_340_000)],
        crs=CRS,
    )  # fmt: skip
    fp = fire_point_list(cands, _alleys(), RATE, _config(), "vi", applied=APPLIED)
    assert fp["alley_id"].tolist() == [0]  # branch 102 has no building beyond hose reach
    row = fp.iloc[0]
    assert (row["added_buildings"], row["added_floor_area_m2"]) == (6, 1200.0)
    assert row["people"] == pytest.approx(48)
    assert not row["field_check"]
    assert row["reason"].startswith("Ngõ sâu 120 m (quá 50 m)")


def test_hydrants_and_stations_keep_only_sites_that_help():
    pts = [shapely.Point(590_000 + i, 2_340_000) for i in range(3)]
    hyd = gpd.GeoDataFrame(
        {"rank": [1, 2, 3], "added_buildings": [5, 0, 2],
         "added_floor_area_m2": [1000.0, 0.0, 400.0], "ward_id": ["W1", "W1", "W2"]},
        geometry=pts, crs=CRS,
    )  # fmt: skip
    h = hydrant_list(hyd, RATE, _config(costs=True), "vi", applied=APPLIED)
    assert h["rank"].tolist() == [1, 3]
    assert h["people"].tolist() == [40.0, 8.0]
    assert h["cost_vnd"].tolist() == [80e6, 80e6]
    st_ = gpd.GeoDataFrame(
        {"rank": [1, 2], "added_buildings": [3, 0], "added_population": [np.nan, 0.0],
         "added_floor_area_m2": [5000.0, 0.0],
         "added_dense_ha": [2.0, 0.0], "ward_id": ["W2", "W2"]},
        geometry=pts[:2], crs=CRS,
    )  # fmt: skip
    s = station_list(st_, RATE, _config(), "vi", applied=APPLIED)
    assert s["rank"].tolist() == [1]
    few = station_list(
        st_.assign(added_dense_ha=[0.0, 0.0]), RATE, _config(), "en", applied=APPLIED
    )
    assert few.iloc[0]["reason"] == "A station here brings about 100 people within 10 min."
    assert s.iloc[0]["people"] == pytest.approx(100)  # no population: floor area x rate
    assert s.iloc[0]["reason"] == (
        "Đội PCCC tại đây đưa thêm khoảng 100 người và 2,0 ha khu đông đúc vào thời gian "
        "tiếp cận 10 phút."
    )
