"""How often the garbage collector makes full collections while a stage works."""

from __future__ import annotations

import contextlib
import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Collections of the second generation between two full collections while a stage runs
#: (Python's default: 10). Shapely geometries are objects the collector tracks: a stage
#: holding millions of them spent most of its collection time walking them in full
#: collections (network stage at scale 1: 24 full collections, 7.5 s of 9.6 s) that found
#: nothing to free. Young objects are still collected as usual.
FULL_COLLECTION_EVERY = 1000


@contextlib.contextmanager
def rare_full_collections() -> Iterator[None]:
    """Run the block with few full garbage collections, then collect once and restore.

    Memory freed by reference counting (the tables, arrays and geometries a stage drops) is
    freed at once as always; only the search for unreachable reference cycles among old
    objects is made rare (:data:`FULL_COLLECTION_EVERY`). The collection at the end frees
    the cycles the block left before the next stage runs.
    """
    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], max(before[2], FULL_COLLECTION_EVERY))
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.collect()
