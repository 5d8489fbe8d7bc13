"""Independent answer for nearest-line searches: Shapely's exhaustive query, lowest position."""

from __future__ import annotations

import numpy as np
import shapely


def lowest_nearest(
    lines: np.ndarray, geoms: np.ndarray, max_distance: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each geometry's nearest line; of lines at the very same distance, the lowest position.

    ``STRtree.query_nearest(..., all_matches=True)`` returns every line at the minimum
    distance; the rule the pipeline documents picks the lowest position among them.
    """
    (p, ln), d = shapely.STRtree(lines).query_nearest(
        geoms, max_distance=max_distance, return_distance=True, all_matches=True
    )
    order = np.lexsort((ln, p))
    p, ln, d = p[order], ln[order], d[order]
    first = np.r_[True, p[1:] != p[:-1]] if len(p) else np.zeros(0, dtype=bool)
    return p[first], ln[first], d[first]
