"""Invariants checked between stages: projected CRS, numeric lengths, unique ids."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pipeline._errors import ValidationError

if TYPE_CHECKING:
    import geopandas as gpd


def check_projected(gdf: gpd.GeoDataFrame, what: str) -> None:
    """Raise unless ``gdf`` has a projected CRS (metric work needs one)."""
    if gdf.crs is None or not gdf.crs.is_projected:
        msg = f"{what}: CRS must be projected (metres), not {gdf.crs}"
        raise ValidationError(msg)


def check_graph_layers(nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame) -> None:
    """Check the graph: projected, unique node ids, every edge with a finite positive length.

    Raises
    ------
    ValidationError
    """
    check_projected(nodes, "graph nodes")
    check_projected(edges, "graph edges")
    if not nodes.index.is_unique:
        msg = "graph nodes: duplicate node ids"
        raise ValidationError(msg)
    length = edges["length"].to_numpy(dtype=float)
    if not np.isfinite(length).all() or (length < 0).any():
        msg = "graph edges: length must be finite and non-negative"
        raise ValidationError(msg)
    ends = np.union1d(
        edges.index.get_level_values("u").to_numpy(), edges.index.get_level_values("v").to_numpy()
    )
    if not np.isin(ends, nodes.index.to_numpy()).all():
        msg = "graph edges: an edge ends at a node that is not in the node table"
        raise ValidationError(msg)
