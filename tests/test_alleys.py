"""Alley runs, the buildings behind them, and the tree sums they rest on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from pipeline.alleys import alley_runs, behind_sums, hop_depth, path_sums, subtree_sums
from pipeline.hose import path_tree
from pipeline.routing import multi_source_dijkstra
from pipeline.topology import Topology


def _topology(edges, lengths, n):
    """Both directions of each undirected edge ``(a, b)``; streets numbered in input order."""
    a = np.array([e[0] for e in edges])
    b = np.array([e[1] for e in edges])
    m = len(edges)
    u, v = np.concatenate([a, b]), np.concatenate([b, a])
    length = np.concatenate([lengths, lengths]).astype(float)
    codes = np.concatenate([np.arange(m), np.arange(m)])
    return Topology(u, v, length, codes, np.arange(m), n)


#: Node 0 is on the truck network. "Ngõ 5" runs 0-1-2-3; "Ngách 5/1" leaves it at node 1
#: (1-4); an unnamed lane leaves at node 2 (2-5-6). Nodes 1 and 2 are junctions.
EDGES = [(0, 1), (1, 2), (2, 3), (1, 4), (2, 5), (5, 6)]
LENGTHS = [10.0, 20.0, 30.0, 15.0, 5.0, 25.0]
NAMES = ["Ngõ 5", "Ngõ 5", "Ngõ 5", "Ngách 5/1", None, None]


@pytest.fixture
def lane():
    topo = _topology(EDGES, LENGTHS, 7)
    names = np.array(NAMES * 2, dtype=object)
    on_truck = np.zeros(7, dtype=bool)
    on_truck[0] = True
    junction = np.isin(np.arange(7), [1, 2])
    alley = np.ones(len(topo.u), dtype=bool)
    run, n = alley_runs(topo, alley_edge=alley, on_truck=on_truck, junction=junction, names=names)
    return topo, run, n


def test_runs_follow_the_named_alley_through_its_junctions(lane):
    _, run, n = lane
    assert n == 3
    assert len(set(run[:3])) == 1  # the ngõ is one run through nodes 1 and 2
    assert run[3] != run[0]  # its ngách is a run of its own
    assert run[4] == run[5] != run[0]  # the unnamed lane continues through node 5
    np.testing.assert_array_equal(run[:6], run[6:])  # both directions agree


def test_unnamed_streets_split_at_every_junction():
    topo = _topology([(0, 1), (1, 2), (1, 3)], [10.0, 10.0, 10.0], 4)
    names = np.array([None] * 6, dtype=object)
    _, n = alley_runs(
        topo,
        alley_edge=np.ones(6, dtype=bool),
        on_truck=np.array([True, False, False, False]),
        junction=np.array([False, True, False, False]),
        names=names,
    )
    assert n == 3


def test_behind_counts_match_a_walk_up_the_tree(lane):
    topo, run, n = lane
    graph = sparse.csr_matrix((topo.length, (topo.u, topo.v)), shape=(7, 7))
    cost, _ = multi_source_dijkstra(graph, np.array([0]))
    tree = path_tree(topo, cost, np.full(len(topo.u), 2.0))
    # One building at the end of each street: snapped to its edge, entering at the far node.
    b_edge = np.arange(6)
    end = np.array([1, 2, 3, 4, 5, 6])
    weights = np.column_stack([np.ones(6), np.arange(1, 7, dtype=float)])
    got = behind_sums(
        tree, run, n, end_node=end, building_edge=b_edge, on_path=np.ones(6, bool), weights=weights
    )
    ngo, ngach, lane_run = run[0], run[3], run[4]
    # Everything is reached through the ngõ; the ngách and the lane carry their own.
    np.testing.assert_allclose(got.behind[ngo], [6, 21])
    np.testing.assert_allclose(got.behind[ngach], [1, 4])
    np.testing.assert_allclose(got.behind[lane_run], [2, 11])
    np.testing.assert_allclose(got.on_run[ngo], [3, 6])
    assert got.top_parent[ngo] == 0
    assert got.parent_run[ngo] == -1
    assert got.top_parent[ngach] == 1
    assert got.parent_run[ngach] == ngo
    assert got.parent_run[lane_run] == ngo
    # Brute force: the runs of every tree edge from each building's entry node to the root.
    brute = np.zeros((n, 2))
    for i in range(6):
        runs = {run[b_edge[i]]}
        node = end[i]
        while tree.parent_edge[node] >= 0:
            runs.add(run[tree.parent_edge[node]])
            node = tree.parent[node]
        for r in runs:
            brute[r] += weights[i]
    np.testing.assert_allclose(got.behind, brute)


@st.composite
def forests(draw):
    n = draw(st.integers(1, 40))
    parent = np.arange(n)
    for i in range(1, n):
        if draw(st.booleans()):
            parent[i] = draw(st.integers(0, i - 1))
    perm = np.array(draw(st.permutations(range(n))))
    # Relabel so that parents are not always smaller than children.
    inv = np.argsort(perm)
    return perm[parent[inv]]


@settings(max_examples=60, deadline=None)
@given(forests(), st.integers(0, 1000))
def test_tree_sums_match_brute_force(parent, seed):
    n = len(parent)
    w = np.random.default_rng(seed).uniform(0, 10, (n, 2))
    want = np.zeros((n, 2))
    depth = np.zeros(n, dtype=int)
    up = np.zeros(n)
    for i in range(n):
        node = i
        while True:
            want[node] += w[i]
            up[i] += w[node, 0]
            if parent[node] == node:
                break
            node = parent[node]
            depth[i] += 1
    np.testing.assert_allclose(subtree_sums(parent, w), want)
    np.testing.assert_array_equal(hop_depth(parent), depth)
    np.testing.assert_allclose(path_sums(np.where(parent == np.arange(n), -1, parent), w[:, 0]), up)
