"""Greedy MCLP / LSCP against hand-worked and brute-force answers."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from pipeline.siting import greedy_lscp, greedy_mclp, pick_gains


def test_mclp_hand_example():
    # Candidates x demand. Demand weights 5, 1, 1, 4.
    cov = sparse.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 1], [1, 0, 0, 1]], dtype=bool))
    w = np.array([5.0, 1.0, 1.0, 4.0])
    r = greedy_mclp(cov, w, 2)
    assert r.chosen.tolist() == [2, 1]  # 9 first, then the 2 left
    assert r.gains.tolist() == [9.0, 2.0]
    assert r.covered.all()


def test_pick_gains_are_disjoint_and_add_up_to_the_gains():
    cov = sparse.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 1], [1, 0, 0, 1]], dtype=bool))
    w = np.array([5.0, 1.0, 1.0, 4.0])
    r = greedy_mclp(cov, w, 2)
    newly = pick_gains(cov, r.chosen).toarray()
    assert newly.tolist() == [[True, False, False, True], [False, True, True, False]]
    assert (newly.astype(float) @ w).tolist() == r.gains.tolist()
    assert pick_gains(cov, np.array([], dtype=np.int64)).shape == (0, 4)


def test_mclp_respects_already_covered():
    cov = sparse.csr_matrix(np.array([[1, 1, 0], [0, 0, 1]], dtype=bool))
    r = greedy_mclp(cov, np.array([3.0, 3.0, 1.0]), 1, already_covered=np.array([1, 1, 0], bool))
    assert r.chosen.tolist() == [1]


def test_lscp_covers_everything_coverable():
    cov = sparse.csr_matrix(np.array([[1, 1, 0, 0, 0], [0, 0, 1, 1, 0]], dtype=bool))
    r = greedy_lscp(cov)
    assert sorted(r.chosen.tolist()) == [0, 1]
    assert r.covered[:4].all()
    assert not r.covered[4]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3))
def test_greedy_within_bound_of_brute_force(seed, k):
    rng = np.random.default_rng(seed)
    m = rng.random((6, 12)) < 0.3
    w = rng.integers(1, 10, 12).astype(float)
    r = greedy_mclp(sparse.csr_matrix(m), w, k)
    best = max(w[m[list(c)].any(axis=0)].sum() for c in itertools.combinations(range(6), k))
    assert r.total >= (1 - 1 / np.e) * best - 1e-9
    assert r.total <= best + 1e-9
