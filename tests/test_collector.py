"""Full garbage collections made rare while a stage works, restored after."""

from __future__ import annotations

import gc
import weakref

import pytest

from pipeline.collector import FULL_COLLECTION_EVERY, rare_full_collections


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_full_collections_are_rare_inside_and_the_cycles_left_are_freed_after() -> None:
    before = gc.get_threshold()
    with rare_full_collections():
        assert gc.get_threshold()[:2] == before[:2]  # young objects collected as usual
        assert gc.get_threshold()[2] >= FULL_COLLECTION_EVERY
        gc.disable()  # no automatic collection may free the cycle before the block ends
        try:
            alive = _cycle()
            assert alive() is not None  # unreachable, but only a collection frees a cycle
        finally:
            gc.enable()
    assert alive() is None
    assert gc.get_threshold() == before


def _fail_inside() -> None:
    with rare_full_collections():
        msg = "stage failed"
        raise RuntimeError(msg)


def test_thresholds_are_restored_when_the_block_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="stage failed"):
        _fail_inside()
    assert gc.get_threshold() == before
