"""The network stage's building snap as handed to later stages (network/building_snap)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.building_snap import snap_table
from pipeline.routing import snap_to_edges
from pipeline.topology import undirected_twins


def test_snap_table_names_the_forward_edge_and_measures_along_it():
    # Street 1-2 (100 m along x) in both directions, the backward edge listed first so the
    # snap lands on it; a one-way street 3-4 along y; a loop 5-5.
    fwd = shapely.LineString([(0, 0), (100, 0)])
    lines = [shapely.reverse(fwd), fwd, shapely.LineString([(300, 0), (300, 100)]),
             shapely.LineString([(500, 0), (600, 0), (600, 100), (500, 0)])]  # fmt: skip
    index = pd.MultiIndex.from_tuples(
        [(2, 1, 0), (1, 2, 0), (3, 4, 0), (5, 5, 0)], names=["u", "v", "key"]
    )
    edges = gpd.GeoDataFrame({"reversed": [True, False, False, False]}, geometry=lines,
                             index=index)  # fmt: skip
    codes, first = undirected_twins(edges.geometry.to_numpy())
    houses = shapely.buffer(shapely.points([(30, 10), (310, 20), (50, 50), (590, 40)]), 2.0)
    raw = snap_to_edges(houses, edges.iloc[first])
    snap = type(raw)(first[raw.edge], raw.gap_m, raw.to_u_m, raw.to_v_m, raw.runner_up_m)
    table = snap_table(pd.Index([10, 11, 12, 13], name="building_id"), edges, codes, snap)
    assert table[["u", "v", "key"]].to_numpy().tolist() == [[1, 2, 0], [3, 4, 0], [1, 2, 0],
                                                            [5, 5, 0]]  # fmt: skip
    # House 10: 30 m from node 1 along the forward edge, 8 m from the street.
    np.testing.assert_allclose(table.loc[10, ["gap_m", "to_u_m", "to_v_m"]], [8, 30, 70], atol=1e-9)
    np.testing.assert_allclose(table.loc[11, ["gap_m", "to_u_m", "to_v_m"]], [8, 20, 80], atol=1e-9)
    # House 12 is 48 m from street 1-2; the next street (3-4) is 250 m away or more.
    assert table.loc[12, "runner_up_m"] >= 64.0
    assert table.loc[10, "runner_up_m"] > table.loc[10, "gap_m"]
