"""Ward risk score: hand-computed values and Hypothesis properties (in [0, 1], monotone in time)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline._errors import ConfigError
from pipeline.risk import time_score, ward_risk

WEIGHTS = {"unreached": 0.35, "response_time": 0.25, "alley_access": 0.25, "water": 0.15}
share = st.floats(0, 1)
time_s = st.one_of(st.floats(0, 1e5), st.just(np.inf))


def _risk(u, t, d, w, weights=WEIGHTS):
    s = lambda v: pd.Series(v, index=["a", "b"][: len(v)], dtype=float)  # noqa: E731
    return ward_risk(s(u), s(t), s(d), s(w), target_time_s=600, weights=weights)


def test_hand_computed():
    r = _risk([1.0, 0.0], [700.0, 100.0], [1.0, 0.0], [1.0, 0.0])
    assert r["a"] == pytest.approx(0.35 + 0.25 * 700 / 1300 + 0.25 + 0.15)
    assert r["b"] == pytest.approx(0.25 * 100 / 700)
    assert time_score(np.array([600.0, np.nan, np.inf, 0.0]), target_time_s=600).tolist() == [
        0.5, 1.0, 1.0, 0.0,
    ]  # fmt: skip


def test_unknown_component_is_left_out_not_counted_as_zero():
    r = _risk([np.nan], [np.nan], [0.5], [1.0])
    assert r["a"] == pytest.approx((0.25 * 0.5 + 0.15 * 1.0) / 0.4)
    assert np.isnan(_risk([np.nan], [np.nan], [np.nan], [np.nan])["a"])


def test_bad_weights_are_a_config_error():
    with pytest.raises(ConfigError, match="risk_weights"):
        _risk([0.5], [10.0], [0.5], [0.5], weights={"unreached": 1, "typo": 1})
    with pytest.raises(ConfigError, match="risk_weights"):
        _risk([0.5], [10.0], [0.5], [0.5], weights={"unreached": 0})


@settings(max_examples=100, deadline=None)
@given(u=share, t1=time_s, dt=st.floats(0, 1e5), d=share, w=share)
def test_in_unit_interval_and_not_decreasing_with_time(u, t1, dt, d, w):
    t2 = t1 + dt
    r1, r2 = _risk([u, u], [t1, t2], [d, d], [w, w])
    assert 0.0 <= r1 <= 1.0
    assert 0.0 <= r2 <= 1.0
    assert r2 >= r1 - 1e-12
