"""Items shared between this process and forked workers: each made once, returned in order."""

from __future__ import annotations

import os
import time

import pytest

from pipeline.fork_share import shared_map
from pipeline.parallel import THREADS_ENV


def test_shared_map_gives_every_item_once_in_order_whatever_process_made_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(THREADS_ENV, "2")
    stage = os.getpid()
    ticks: list[int] = []

    def make(i: int) -> tuple[int, bool]:
        time.sleep(0.005)
        return i * i, os.getpid() == stage

    out = shared_map(make, 80, tick=ticks.append)
    assert [v for v, _ in out] == [i * i for i in range(80)]
    assert {here for _, here in out} == {True, False}  # made here and in the worker
    assert sum(ticks) == 80


@pytest.mark.parametrize("threads", ["1", "2"])
def test_an_error_here_or_in_a_worker_is_raised(
    threads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(THREADS_ENV, threads)

    def make(i: int) -> int:
        if i == 7:
            msg = "item 7 is bad"
            raise ValueError(msg)
        time.sleep(0.002)
        return i

    with pytest.raises(ValueError, match="item 7 is bad"):
        shared_map(make, 30)
