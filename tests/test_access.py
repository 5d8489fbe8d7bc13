"""The truck rule: status from the width interval, restrictions, the threshold applied."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.access import (
    classify_edges,
    truck_blocks,
    truck_min_width_m,
    truck_widths_label,
    urban_edges,
)
from pipeline.config import load_config
from pipeline.i18n import fmt_number
from pipeline.paths import PROJECT_ROOT

ACCESS = load_config("ha_noi", root=PROJECT_ROOT).access  # the 4 m urban rule is on
TAGS = ("highway", "maxheight", "maxwidth", "maxwidth:physical", "access", "motor_vehicle",
        "vehicle", "motorcar", "emergency")  # fmt: skip


def _tags(rows):
    return pd.DataFrame([{k: r.get(k) for k in TAGS} for r in rows])


def _widths(triples):
    low, est, high = np.asarray(triples, dtype=float).T
    return pd.DataFrame({"width_low_m": low, "width_m": est, "width_high_m": high})


def test_status_is_read_off_the_interval():
    tags = _tags([{"highway": "service"}] * 4)
    widths = _widths([(4.0, 5.0, 6.0), (1.5, 2.5, 3.5), (3.0, 4.0, 6.0), (2.5, 3.5, 6.0)])
    got = classify_edges(tags, widths, ACCESS)  # threshold 4 m everywhere
    assert got["truck_status"].tolist() == ["passable", "not_passable", "uncertain", "uncertain"]
    assert got["truck_status_reason"].tolist() == ["", "width", "width", "width"]
    # Routing follows the estimate: the uncertain 4.0 m street is used, the 3.5 m one is not.
    assert got["truck_ok"].tolist() == [True, False, True, False]
    assert (got["truck_min_width_m"] == 4.0).all()


def test_restrictions_block_whatever_the_width():
    rows = [
        {"highway": "primary", "maxheight": "3.5"},
        {"highway": "primary", "maxwidth": "2.2"},  # a vehicle limit below the engine's 2.5 m
        {"highway": "primary", "maxwidth": "3"},  # a limit a fire engine fits under
        {"highway": "primary", "maxwidth:physical": "2 m"},
        {"highway": "service", "access": "no"},
        {"highway": "service", "access": "no", "emergency": "yes"},
        {"highway": "service", "vehicle": "no", "motor_vehicle": "no"},
        {"highway": "steps"},
    ]
    blocked, reason = truck_blocks(_tags(rows), ACCESS)
    assert reason.tolist() == [
        "maxheight", "maxwidth", "", "maxwidth", "access", "", "vehicle;motor_vehicle",
        "highway",
    ]  # fmt: skip
    assert blocked.tolist() == [r != "" for r in reason]
    got = classify_edges(_tags(rows), _widths([(8, 10, 12)] * len(rows)), ACCESS)
    assert got.loc[blocked, "truck_status"].eq("not_passable").all()
    assert not got.loc[blocked, "truck_ok"].any()
    assert got.loc[~blocked, "truck_status"].eq("passable").all()


def test_threshold_applied_by_ward_type():
    on = ACCESS.model_copy(update={"urban_renovated_ward_types": ["phường"]})
    types = np.array(["phường", "xã", None], dtype=object)
    urban = urban_edges(types, on)
    assert urban.tolist() == [True, False, False]
    np.testing.assert_allclose(truck_min_width_m(on, urban), [4.0, 3.5, 3.5])
    off = ACCESS.model_copy(update={"use_urban_renovated_width": False})
    assert truck_min_width_m(off) == 3.5
    assert truck_min_width_m(ACCESS) == 4.0
    tags = _tags([{"highway": "service"}] * 3)
    got = classify_edges(tags, _widths([(3.8, 3.8, 3.8)] * 3), on, urban=urban)
    assert got["truck_status"].tolist() == ["not_passable", "passable", "passable"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.5, 10), st.floats(0, 3), st.floats(0, 3)), min_size=1,
             max_size=15),
    st.floats(0.0, 4.0),
)  # fmt: skip
def test_widening_never_lowers_the_status(triples, extra):
    rank = {"not_passable": 0, "uncertain": 1, "passable": 2}
    widths = _widths([(low, low + a, low + a + b) for low, a, b in triples])
    tags = _tags([{"highway": "service"}] * len(triples))
    before = classify_edges(tags, widths, ACCESS)
    after = classify_edges(tags, widths + extra, ACCESS)
    assert (after["truck_status"].map(rank) >= before["truck_status"].map(rank)).all()
    assert (after["truck_ok"] >= before["truck_ok"]).all()
    assert (before.loc[before["truck_status"] == "passable", "truck_ok"]).all()
    assert not before.loc[before["truck_status"] == "not_passable", "truck_ok"].any()


@pytest.mark.parametrize("lanes", [1, 2, 3])
def test_lane_widths_make_car_roads_passable_under_both_rules(lanes):
    from pipeline.widths import lanes_widths

    tags = pd.DataFrame({"highway": ["primary"], "lanes": [str(lanes)]})
    mask, (low, _, _) = lanes_widths(tags, ACCESS)
    assert mask.all()
    assert low[0] >= truck_min_width_m(ACCESS)


def test_every_legend_names_each_truck_width_applied():
    """Interactive and printed legends: the widths the network stage applied, once each."""
    mixed = pd.DataFrame({"truck_min_width_m": [4.0, 3.5, 4.0, np.nan]})
    assert truck_widths_label(mixed, 9.9) == "3.5 / 4"
    assert truck_widths_label(mixed, 9.9, lambda v: fmt_number(v, "vi", 1)) == "3,5 / 4,0"
    assert truck_widths_label(mixed[mixed["truck_min_width_m"] == 4.0], 3.5) == "4"
    assert truck_widths_label(mixed.iloc[:0], 4.0) == "4"  # no street: the summary's value
