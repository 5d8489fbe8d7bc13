"""The network stage's snap of every building to its nearest street, handed to later stages.

The network stage snaps each footprint to the nearest of all streets once; the water and
coverage stages need the nearest street of a subset (segments, drivable edges) and reuse that
snap where it settles the answer (:func:`pipeline.routing.snap_by_street`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from pipeline import contracts
from pipeline._errors import InputDataError
from pipeline.routing import Snap

if TYPE_CHECKING:
    from pipeline.paths import ProvincePaths

#: Edge key columns of the nearest street (its forward edge), as in ``network/edges``.
EDGE_KEY = ("u", "v", "key")


def snap_table(
    buildings: pd.Index, edges: pd.DataFrame, codes: np.ndarray, snap: Snap
) -> pd.DataFrame:
    """Return the ``network/building_snap`` table.

    Parameters
    ----------
    buildings
        The building index (``building_id``), aligned with ``snap``.
    edges
        The directed edges (indexed by ``(u, v, key)``, with ``reversed`` and geometry).
    codes
        The undirected street of each edge (:func:`pipeline.topology.undirected_twins`).
    snap
        The snap of the buildings to the streets (``edge`` a position in ``edges``), after the
        frontage rule, with ``runner_up_m``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``building_id``: ``u, v, key`` of the nearest street's forward edge (-1:
        none), ``gap_m``, ``to_u_m``/``to_v_m`` (frontage ends along that forward edge) and
        ``runner_up_m`` (a lower bound on the distance to any other street).
    """
    n = len(buildings)
    fwd = np.flatnonzero(~edges["reversed"].to_numpy(dtype=bool))
    fwd_of_code = np.full(int(codes.max()) + 1 if len(codes) else 0, -1, dtype=np.int64)
    fwd_of_code[codes[fwd[::-1]]] = fwd[::-1]  # the first forward edge of each street
    ok = snap.edge >= 0
    chosen = snap.edge[ok]
    street = fwd_of_code[codes[chosen]]
    street = np.where(street >= 0, street, chosen)  # a street drawn only backwards: itself
    # Same direction as the forward edge: the same start node (both ends compared on loops).
    u_ids = edges.index.get_level_values(0).to_numpy()
    v_ids = edges.index.get_level_values(1).to_numpy()
    same_way = u_ids[chosen] == u_ids[street]
    loop = np.flatnonzero(u_ids[street] == v_ids[street])
    if len(loop):
        lines = edges.geometry.to_numpy()
        start = shapely.get_coordinates(shapely.get_point(lines[chosen[loop]], 1))
        same_way[loop] = np.all(
            start == shapely.get_coordinates(shapely.get_point(lines[street[loop]], 1)), axis=1
        )
    to_u, to_v = snap.to_u_m[ok], snap.to_v_m[ok]
    keys = {}
    for level, name in enumerate(EDGE_KEY):
        col = np.full(n, -1, dtype=np.int64)
        col[ok] = edges.index.get_level_values(level).to_numpy()[street]
        keys[name] = col
    along_u = np.full(n, np.inf)
    along_v = np.full(n, np.inf)
    along_u[ok] = np.where(same_way, to_u, to_v)
    along_v[ok] = np.where(same_way, to_v, to_u)
    second = snap.runner_up_m if snap.runner_up_m is not None else snap.gap_m
    return pd.DataFrame(
        {
            **keys,
            "gap_m": snap.gap_m,
            "to_u_m": along_u,
            "to_v_m": along_v,
            "runner_up_m": second,
        },
        index=pd.Index(buildings, name="building_id"),
    )


def read_prior(
    paths: ProvincePaths, buildings: pd.Index, lines: pd.Index
) -> tuple[Snap, np.ndarray]:
    """Read ``network/building_snap`` for ``buildings`` and find each street among ``lines``.

    Parameters
    ----------
    paths
        The province's paths.
    buildings
        The buildings (``building_id``) in the order wanted.
    lines
        The ``(u, v, key)`` index of the lines the caller snaps to.

    Returns
    -------
    prior, prior_line
        The snap (``edge`` = 0 where a street was found, else -1; ``gap_m``,
        ``runner_up_m``) and the position in ``lines`` of each building's street (-1:
        not among them).

    Raises
    ------
    InputDataError
        The table does not cover the buildings (the stages disagree: rerun the network stage).
    """
    table = contracts.read_table(paths, contracts.BUILDING_SNAP, geometry="none")
    table = table.reindex(buildings)
    if table["gap_m"].isna().any():
        msg = (
            f"{contracts.BUILDING_SNAP.path(paths)}: buildings missing from the network "
            "stage's snap; rerun the network stage"
        )
        raise InputDataError(msg)
    u = table["u"].to_numpy(dtype=np.int64)
    has = u >= 0
    key = pd.MultiIndex.from_arrays([table[c].to_numpy(dtype=np.int64) for c in EDGE_KEY])
    prior_line = np.where(has, lines.get_indexer(key), -1).astype(np.int64)
    gap = table["gap_m"].to_numpy(dtype=float)
    prior = Snap(
        np.where(has, 0, -1),
        gap,
        table["to_u_m"].to_numpy(dtype=float),
        table["to_v_m"].to_numpy(dtype=float),
        table["runner_up_m"].to_numpy(dtype=float),
    )
    return prior, prior_line
