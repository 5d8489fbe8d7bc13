"""OSM tag values: lengths with units and decimal commas, numbers, lanes, alley names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.osm_tags import (
    base_highway,
    is_alley_name,
    parse_lanes,
    parse_length_m,
    parse_length_range_m,
    parse_number,
)


@pytest.mark.parametrize(
    ("raw", "metres"),
    [
        ("3", 3.0), ("3m", 3.0), ("3 m", 3.0), ("3,5", 3.5), ("3.5 m", 3.5), ("2-3", 2.0),
        ("2 - 3m", 2.0), ("3;4", 3.0), ("350 cm", 3.5), ("12'", 12 * 0.3048),
        ("10 ft", 3.048), ("~2.8m", 2.8), ("khoảng 4m", 4.0), (".5", 0.5),
        ("narrow", np.nan), ("", np.nan), (None, np.nan), ("0", np.nan), ("-2", 2.0),
    ],
)  # fmt: skip
def test_parse_length(raw, metres):
    got = parse_length_m(pd.Series([raw], dtype=object)).iloc[0]
    if np.isnan(metres):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(metres)


def test_parse_lanes_and_alley_names():
    lanes = parse_lanes(pd.Series(["2", "2;3", "x", None, "0"], dtype=object))
    assert lanes.iloc[:2].tolist() == [2.0, 2.0]
    assert lanes.iloc[2:].isna().all()
    names = pd.Series(["Ngõ 119 Trung Kính", "ngách 5/12", "Hẻm 3", "Phố Huế", None])
    assert is_alley_name(names, ["Ngõ", "Ngách", "Hẻm"]).tolist() == [1, 1, 1, 0, 0]


def test_ranges_keep_both_ends():
    low, high = parse_length_range_m(pd.Series(["3-5", "4", "350-400 cm", None], dtype=object))
    np.testing.assert_allclose(low, [3.0, 4.0, 3.5, np.nan])
    np.testing.assert_allclose(high, [5.0, 4.0, 4.0, np.nan])


def test_numbers_and_road_classes():
    got = parse_number(pd.Series(["3", "2,5", "2-3", "tầng 4", "x", None], dtype=object))
    np.testing.assert_allclose(got, [3.0, 2.5, 2.0, 4.0, np.nan, np.nan])
    classes = base_highway(pd.Series(["primary_link", "Service;footway", None], dtype=object))
    assert classes.tolist() == ["primary", "service", ""]
