"""The street graph as arrays: edge ends, undirected streets, components and chains of edges."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph


@dataclass(frozen=True)
class Topology:
    """Edge ends as node positions, and the undirected street each directed edge belongs to.

    ``codes[e]`` is the undirected street of directed edge ``e``; ``first[c]`` the first
    directed edge of street ``c`` (see :func:`undirected_twins`).
    """

    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    codes: np.ndarray
    first: np.ndarray
    n_nodes: int


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Label the connected components of the undirected graph with edges ``a[i] - b[i]``."""
    graph = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)).tocsr()
    return np.asarray(csgraph.connected_components(graph, directed=False)[1])


def chain_labels(topo: Topology, mask_unique: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """Label runs of undirected edges that meet only at nodes not in ``cut``.

    Parameters
    ----------
    topo
        The graph.
    mask_unique
        Boolean per undirected street (``topo.first``): the streets to chain.
    cut
        Boolean per node: runs end there.

    Returns
    -------
    numpy.ndarray
        A run label per chained street (in the order of ``topo.first[mask_unique]``).

    Notes
    -----
    Each edge end at a cut node gets its own private vertex, so runs end there.
    """
    idx = topo.first[mask_unique]
    m = len(idx)
    a = np.where(cut[topo.u[idx]], topo.n_nodes + np.arange(m), topo.u[idx])
    b = np.where(cut[topo.v[idx]], topo.n_nodes + np.arange(m), topo.v[idx])
    labels = components(topo.n_nodes + m, a, b)
    return labels[a]


def street_degree(topo: Topology, mask_unique: np.ndarray) -> np.ndarray:
    """Per node, the number of distinct neighbours over the streets of ``mask_unique``.

    A self-loop (a turning loop drawn as a closed way) counts twice.
    """
    idx = topo.first[mask_unique]
    a, b = topo.u[idx], topo.v[idx]
    pairs = np.unique(np.column_stack([np.minimum(a, b), np.maximum(a, b)]), axis=0)
    loops = pairs[:, 0] == pairs[:, 1]
    degree = np.bincount(pairs[~loops].ravel(), minlength=topo.n_nodes)
    degree += 2 * np.bincount(pairs[loops, 0], minlength=topo.n_nodes)
    return degree


def undirected_twins(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group each line with its reversed twin (both directions of a street are one).

    Parameters
    ----------
    geoms
        LineStrings.

    Returns
    -------
    codes, first
        ``codes[i]`` the undirected street of line ``i`` (``0..k-1``); ``first[c]`` the
        position of the first line of street ``c``.
    """
    wkb = shapely.to_wkb(shapely.normalize(geoms))
    codes, uniques = pd.factorize(wkb)
    first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    return codes, first[: len(uniques)]
