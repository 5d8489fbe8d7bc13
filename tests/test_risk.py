"""Ward ranking by people at risk: hand-computed counts, ranks, and Hypothesis properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.risk import COMPONENTS, people_per_building, ward_risk


def _buildings():
    # Ward D (dense): 4 buildings of 100 people, two beyond hose reach, one of them also dry.
    # Ward R (rural): 2 buildings of 10 people, both beyond every threshold (100 % at risk).
    return pd.DataFrame(
        {
            "ward_id": ["D", "D", "D", "D", "R", "R"],
            "people": [100.0, 100.0, 100.0, 100.0, 10.0, 10.0],
            "beyond_hose": [True, True, False, False, True, True],
            "without_water": [True, False, False, False, True, True],
            "beyond_time": [False, False, False, False, True, True],
        },
        index=pd.Index([10, 11, 12, 13, 14, 15], name="building_id"),
    )


def test_hand_computed_counts_and_a_dense_ward_ranks_first():
    out = ward_risk(_buildings(), pd.Index(["R", "D", "E"]))
    assert out.loc["D", "people"] == 400
    assert out.loc["D", "people_beyond_hose"] == 200
    assert out.loc["D", "people_without_water"] == 100
    assert out.loc["D", "people_beyond_time"] == 0
    assert out.loc["D", "people_at_risk"] == 200  # building 10 counted once
    assert out.loc["D", "risk_share"] == pytest.approx(0.5)
    assert out.loc["R", "people_at_risk"] == 20
    assert out.loc["R", "risk_share"] == 1.0
    # The old share-average ranked R (100 %) above D (50 %); counts of people do not.
    assert out["risk_rank"].to_dict() == {"D": 1, "R": 2, "E": 3}
    assert out.loc["E", "people"] == 0  # a ward without buildings


def test_unknown_component_is_left_out_not_counted():
    b = _buildings().drop(columns="beyond_time")
    b["without_water"] = np.nan
    out = ward_risk(b, pd.Index(["D", "R"]))
    assert np.isnan(out.loc["D", "people_without_water"])
    assert np.isnan(out.loc["D", "people_beyond_time"])
    assert out.loc["D", "people_at_risk"] == 200  # beyond hose only
    nothing = ward_risk(b.drop(columns=["beyond_hose", "without_water"]), pd.Index(["D"]))
    assert np.isnan(nothing.loc["D", "people_at_risk"])


def test_people_spread_by_floor_area_or_per_person():
    fa = pd.Series([100.0, 300.0, 260.0, np.nan], index=[1, 2, 3, 4])
    ward = pd.Series(["A", "A", "B", "B"], index=[1, 2, 3, 4])
    pop = pd.Series({"A": 1000.0, "B": np.nan})
    people = people_per_building(fa, ward, pop, floor_area_per_person_m2=26.0)
    assert people[[1, 2]].tolist() == pytest.approx([250.0, 750.0])  # sums to A's population
    assert people[3] == pytest.approx(10.0)  # 260 m² / 26 m² per person
    assert people[4] == 0.0


flags = st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans(), st.floats(0, 500)),
                 min_size=1, max_size=30)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(rows=flags, flip=st.integers(0, 29), comp=st.sampled_from(COMPONENTS))
def test_properties(rows, flip, comp):
    b = pd.DataFrame(rows, columns=[*COMPONENTS, "people"])
    b["ward_id"] = ["a" if i % 2 else "b" for i in range(len(b))]
    out = ward_risk(b, pd.Index(["a", "b"]))
    parts = out[[f"people_{c}" for c in COMPONENTS]]
    assert (out["people_at_risk"] >= parts.max(axis=1) - 1e-9).all()
    assert (out["people_at_risk"] <= parts.sum(axis=1) + 1e-9).all()
    assert (out["people_at_risk"] <= out["people"] + 1e-9).all()
    assert sorted(out["risk_rank"]) == [1, 2]
    top = out.sort_values("risk_rank")
    assert top["people_at_risk"].iloc[0] >= top["people_at_risk"].iloc[1]
    # One more failing building never lowers anyone's count.
    b2 = b.copy()
    b2.loc[flip % len(b), comp] = True
    out2 = ward_risk(b2, pd.Index(["a", "b"]))
    assert (out2["people_at_risk"] >= out["people_at_risk"] - 1e-9).all()
