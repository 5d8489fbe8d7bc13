"""Chunked thread-pool work: same result whatever the number of threads."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import numpy as np
import pytest
import shapely

from pipeline._errors import ConfigError, WorkerError
from pipeline.parallel import (
    THREADS_ENV,
    Background,
    ForkedCall,
    chunk_bounds,
    map_chunks,
    points_on_surface,
    thread_count,
)


@pytest.mark.parametrize(("n", "k"), [(0, 2), (1, 2), (10, 3), (7, 7), (5, 9), (100_001, 2)])
def test_chunk_bounds_cover_every_item_once_in_order(n: int, k: int) -> None:
    bounds = chunk_bounds(n, k)
    covered = [i for a, b in bounds for i in range(a, b)]
    assert covered == list(range(n))
    assert len(bounds) <= max(1, k)
    sizes = [b - a for a, b in bounds]
    assert not sizes or max(sizes) - min(sizes) <= 1


def test_map_chunks_matches_one_call_and_uses_threads() -> None:
    rng = np.random.default_rng(0)
    pts = shapely.points(rng.uniform(0, 1000, (50_000, 2)))
    line = shapely.LineString([(0, 0), (1000, 1000)])
    names: set[str] = set()

    def dist(a: int, b: int) -> np.ndarray:
        names.add(threading.current_thread().name)
        return shapely.distance(pts[a:b], line)

    whole = dist(0, len(pts))
    names.clear()
    parts = map_chunks(dist, len(pts), min_chunk=10_000, threads=3)
    assert len(parts) == 3
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert names
    assert all(n.startswith("firegap") for n in names)  # pool threads, not the caller


def test_map_chunks_small_input_runs_once_in_the_caller() -> None:
    calls: list[tuple[int, int]] = []
    out = map_chunks(lambda a, b: calls.append((a, b)) or b - a, 5, min_chunk=10, threads=4)
    assert out == [5]
    assert calls == [(0, 5)]
    assert map_chunks(lambda a, b: b - a, 0, threads=4) == [0]


def test_thread_count_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "3")
    assert thread_count() == 3
    monkeypatch.delenv(THREADS_ENV)
    assert thread_count() >= 1
    for bad in ("0", "-1", "two"):
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(ConfigError, match=THREADS_ENV):
            thread_count()


@pytest.mark.parametrize("threads", ["1", "2"])
def test_background_runs_calls_in_order_and_raises_their_error(
    threads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(THREADS_ENV, threads)
    done: list[tuple[int, str]] = []
    with Background() as bg:
        for i in range(20):
            bg.submit(lambda k: done.append((k, threading.current_thread().name)), i)
    assert [k for k, _ in done] == list(range(20))
    in_caller = {name for _, name in done} == {threading.current_thread().name}
    assert in_caller == (threads == "1")  # a worker thread only when there are two


def test_background_raises_a_call_error_once_the_calls_are_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(THREADS_ENV, "2")
    done: list[int] = []

    def fail() -> None:
        msg = "disk full"
        raise OSError(msg)

    bg = Background()
    bg.submit(fail)
    bg.submit(done.append, 99)
    with pytest.raises(OSError, match="disk full"):
        bg.close()
    assert done == [99]  # the next calls still ran


def test_points_on_surface_in_chunks_matches_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "3")
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 1000, (1_000, 2))
    geoms = shapely.buffer(shapely.points(xy), rng.uniform(1, 9, len(xy)), quad_segs=2)
    geoms[[5, 500]] = None  # missing stays missing, in place
    whole = shapely.point_on_surface(geoms)
    chunked = points_on_surface(geoms, min_chunk=100)
    assert len(chunked) == len(geoms)
    np.testing.assert_array_equal(shapely.to_wkb(chunked), shapely.to_wkb(whole))
    assert shapely.is_missing(chunked[[5, 500]]).all()
    assert len(points_on_surface(np.empty(0, dtype=object))) == 0


needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="processes cannot be forked here"
)


def _pid_and_sum(values: np.ndarray) -> tuple[int, float]:
    return os.getpid(), float(values.sum())


def _fail() -> None:
    msg = "no such ward 99999"
    raise KeyError(msg)


@needs_fork
def test_forked_call_runs_in_a_child_on_the_callers_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREGAP_THREADS", "2")
    values = np.arange(1_000_000, dtype=float)  # read by the child, not pickled to it
    job = ForkedCall("sum", _pid_and_sum, values)
    values[:] = 0  # the child works on the values as they were at the fork
    pid, total = job.result()  # type: ignore[misc]
    assert pid != os.getpid()
    assert total == 999_999 * 1_000_000 / 2
    assert job.result() == (pid, total)  # cached: the child is not waited for twice


@needs_fork
def test_forked_call_raises_the_childs_error_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIREGAP_THREADS", "2")
    job = ForkedCall("ward table", _fail)
    with pytest.raises(
        WorkerError,
        match=r"ward table failed in its worker process: KeyError: .no such ward 99999.$",
    ):
        job.result()


@needs_fork
def test_forked_call_says_when_the_child_died(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREGAP_THREADS", "2")
    job = ForkedCall("files", os._exit, 3)
    with pytest.raises(WorkerError, match=r"files: the worker process died \(exit code 3\)"):
        job.result()


@needs_fork
def test_forked_call_cancel_stops_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREGAP_THREADS", "2")
    job = ForkedCall("sleep", time.sleep, 60)
    t0 = time.perf_counter()
    job.cancel()
    assert time.perf_counter() - t0 < 30
    assert job._proc is not None
    assert job._proc.exitcode is not None


def test_forked_call_with_one_thread_runs_in_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREGAP_THREADS", "1")
    pid, total = ForkedCall("sum", _pid_and_sum, np.ones(4)).result()  # type: ignore[misc]
    assert (pid, total) == (os.getpid(), 4.0)
