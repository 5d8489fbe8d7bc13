"""Building footprints read back: the water and coverage stages hold them only while needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline import contracts
from pipeline._errors import InputDataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipeline.paths import ProvincePaths


def read_footprints(paths: ProvincePaths, crs: str, index: pd.Index) -> np.ndarray:
    """Read the building footprints again, in the order of ``index``.

    The water and coverage stages drop the footprints once their snaps are done (they are
    most of a stage's memory at a province's size) and read them back for their outputs.

    Parameters
    ----------
    paths
        The province's paths.
    crs
        The project CRS.
    index
        The ``building_id`` of the stage's buildings, as read at its start.

    Returns
    -------
    numpy.ndarray
        The footprints, aligned with ``index``.

    Raises
    ------
    InputDataError
        The buildings table changed during the stage.
    """
    shapes = contracts.read_table(paths, contracts.BUILDINGS, (), crs=crs)
    if not shapes.index.equals(index):
        msg = f"{contracts.BUILDINGS.path(paths)}: the buildings changed while the stage ran"
        raise InputDataError(msg)
    geoms: np.ndarray = shapes.geometry.to_numpy()
    return geoms
