"""Chunked work over a thread pool, for vectorised steps that release the GIL.

Shapely 2, NumPy and pyarrow release the GIL inside their vectorised calls, so a big step
split into a few chunks runs on several cores at once without copying its inputs to other
processes. Results come back in chunk order: the output of :func:`map_chunks` is the same
whatever the number of threads.

The number of threads is a property of the machine, not of the province: it is the number
of CPUs this process may use, or the ``FIREGAP_THREADS`` environment variable (1 turns the
pool off).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import itertools
import logging
import multiprocessing
import os
import traceback
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Self, TypeVar

import numpy as np
import shapely

from pipeline._errors import ConfigError, WorkerError

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection


T = TypeVar("T")

logger = logging.getLogger(__name__)

#: Environment variable that sets the number of threads (default: the CPUs available).
THREADS_ENV = "FIREGAP_THREADS"


def thread_count() -> int:
    """Return how many threads chunked steps use.

    Returns
    -------
    int
        ``FIREGAP_THREADS`` if set, else the CPUs this process may run on (at least 1).

    Raises
    ------
    ConfigError
        If ``FIREGAP_THREADS`` is not a positive whole number.
    """
    text = os.environ.get(THREADS_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            msg = f"environment variable {THREADS_ENV}={text!r}: expected a whole number >= 1"
            raise ConfigError(msg)
        return int(text)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def chunk_bounds(n_items: int, n_chunks: int) -> list[tuple[int, int]]:
    """Split ``range(n_items)`` into at most ``n_chunks`` contiguous, near-equal pieces.

    Returns
    -------
    list of (start, stop)
        In order, covering every item once; empty when ``n_items`` is 0.
    """
    n_chunks = max(1, min(n_chunks, n_items))
    edges = [n_items * k // n_chunks for k in range(n_chunks + 1)]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def map_chunks(
    func: Callable[[int, int], T],
    n_items: int,
    *,
    min_chunk: int = 10_000,
    threads: int | None = None,
) -> list[T]:
    """Call ``func(start, stop)`` over contiguous chunks of ``range(n_items)``, in threads.

    Parameters
    ----------
    func
        Works on items ``start:stop`` and returns its part of the result; it must not change
        shared state (each chunk writes only its own result).
    n_items
        Number of items.
    min_chunk
        Smallest chunk worth a thread: fewer items than twice this run in one call.
    threads
        Number of threads (default :func:`thread_count`).

    Returns
    -------
    list
        One result per chunk, in chunk order (one element when the pool is not used).
    """
    n_threads = thread_count() if threads is None else max(1, threads)
    n_chunks = min(n_threads, max(1, n_items // max(1, min_chunk)))
    bounds = chunk_bounds(n_items, n_chunks) or [(0, 0)]
    if len(bounds) == 1:
        return [func(*bounds[0])]
    with ThreadPoolExecutor(max_workers=len(bounds), thread_name_prefix="firegap") as pool:
        futures = [pool.submit(func, a, b) for a, b in bounds]
        return [f.result() for f in futures]


def points_on_surface(geoms: np.ndarray, *, min_chunk: int = 100_000) -> np.ndarray:
    """Return ``shapely.point_on_surface(geoms)``, computed in chunks over the thread pool.

    The same points as one call (each geometry's point depends on it alone); GEOS releases
    the GIL, so the chunks run on several cores at once.

    Parameters
    ----------
    geoms
        Shapely geometries (missing ones give missing points).
    min_chunk
        Smallest chunk worth a thread (see :func:`map_chunks`).

    Returns
    -------
    numpy.ndarray
        One point per geometry, in input order.
    """
    geoms = np.asarray(geoms, dtype=object)
    parts = map_chunks(
        lambda a, b: shapely.point_on_surface(geoms[a:b]), len(geoms), min_chunk=min_chunk
    )
    out: np.ndarray = np.concatenate(parts) if len(parts) > 1 else np.asarray(parts[0])
    return out


def built_tree(geoms: object) -> shapely.STRtree:
    """Return an ``STRtree`` of ``geoms`` ready to be queried from several threads at once.

    GEOS builds a tree on its first query, and that build is not thread-safe: a tree shared
    by :func:`map_chunks` workers is queried once here, before any thread uses it.
    """
    return ready_tree(shapely.STRtree(geoms))


def ready_tree(tree: shapely.STRtree) -> shapely.STRtree:
    """Build ``tree`` now (GEOS builds it lazily, on the first query) and return it.

    See :func:`built_tree`: a tree made elsewhere is made safe to share between threads here.
    """
    tree.query(shapely.points(0.0, 0.0))
    return tree


def blocks(start: int, stop: int, size: int) -> list[tuple[int, int]]:
    """Cut ``range(start, stop)`` in consecutive pieces of at most ``size`` items.

    Within one :func:`map_chunks` chunk, working block by block bounds the temporaries of a
    bulk step whatever the size of the province. An empty range gives one empty piece.
    """
    return [(a, min(a + size, stop)) for a in range(start, stop, size)] or [(start, stop)]


def release_freed_memory() -> None:
    """Hand the heap memory freed by a step back to the system (glibc ``malloc_trim``).

    The bulk steps free GBs of short-lived Shapely and NumPy objects, partly from worker
    threads' heaps that the next step's allocations do not reuse; without this the process
    keeps that memory and the next step's peak adds to it. Call it between a stage's steps.
    No-op outside glibc.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return


class Background:
    """Calls run one after another in a worker thread while the caller goes on.

    For steps that release the GIL (Parquet writes: WKB encoding, Arrow, compression) next to
    the caller's own work, so the two use both cores. With one thread (:func:`thread_count`)
    each call runs at once, in the caller. :meth:`wait` (or leaving a ``with`` block) returns
    once every call is done and raises the first error.
    """

    def __init__(self) -> None:
        self._pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="firegap-bg")
            if thread_count() > 1
            else None
        )
        self._futures: list[Future[object]] = []

    def submit(self, func: Callable[..., object], *args: object) -> None:
        """Run ``func(*args)`` in the worker (in order of submission), or now without one."""
        if self._pool is None:
            func(*args)
        else:
            self._futures.append(self._pool.submit(func, *args))

    def wait(self) -> None:
        """Return once every submitted call is done; raise the first error of one."""
        try:
            for f in self._futures:
                f.result()
        finally:
            self._futures = []

    def close(self) -> None:
        """Wait for the calls, then stop the worker."""
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def __enter__(self) -> Self:
        """Return the runner."""
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        """Wait for the calls and stop the worker; raise a call's error unless one is raised."""
        if exc_type is None:
            self.close()
            return
        with contextlib.suppress(Exception):  # the error being raised is the one to report
            self.close()


def receive_then_join(conn: Connection, proc: multiprocessing.process.BaseProcess) -> Any:  # noqa: ANN401 - what the child sent
    """Wait for the one message a child process sends, then for its end; return the message.

    Returns ``None`` when the child ended without sending (killed, out of memory): its
    ``exitcode`` then says how. Interrupted while waiting (Ctrl-C), the child is stopped
    before the interruption goes on.
    """
    try:
        return conn.recv()
    except EOFError:
        return None
    except BaseException:
        proc.terminate()
        raise
    finally:
        proc.join()
        conn.close()


def _forked_main(func: Callable[..., object], args: tuple[object, ...], conn: Connection) -> None:
    """Body of a :class:`ForkedCall` child: run, send the result or the traceback."""
    try:
        out: tuple[bool, object] = (True, func(*args))
    except BaseException as e:  # noqa: BLE001 - every failure goes to the parent, which raises
        said = "".join(traceback.format_exception_only(e)).strip().replace("\n", " ")
        out = (False, (said, traceback.format_exc()))
    conn.send(out)
    conn.close()


class ForkedCall:
    """``func(*args)`` run in a forked child process while this process goes on.

    For a step that holds the GIL (formatting rows, writing files) next to the caller's own
    work, so the two use two cores. The child is a fork: it reads the caller's tables
    without copying or pickling them (only the result travels back, pickled), and logs
    through the caller's handlers. Objects made so far are frozen before the fork, so the
    child's collector does not write to (and copy) every page holding one. Where processes
    cannot be forked, or with one CPU (:func:`thread_count`), the call runs at once, here.

    Parameters
    ----------
    name
        What the call does, for messages ("shortlist files").
    func, args
        The call; ``func`` must not rely on changes the caller makes after the fork.

    Examples
    --------
    >>> job = ForkedCall("sum", sum, [1, 2, 3])
    >>> job.result()
    6
    """

    def __init__(self, name: str, func: Callable[..., T], *args: object) -> None:
        self.name = name
        self._value: object = None
        self._done = False
        self._proc: multiprocessing.process.BaseProcess | None = None
        if thread_count() < 2 or "fork" not in multiprocessing.get_all_start_methods():  # noqa: PLR2004
            self._value, self._done = func(*args), True
            return
        context = multiprocessing.get_context("fork")
        self._conn, child_conn = context.Pipe(duplex=False)
        self._proc = context.Process(
            target=_forked_main, args=(func, args, child_conn), name=f"firegap-{name}"
        )
        gc.freeze()  # no collection first: at province scale it walks millions of objects
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns at a fork of a process with threads; the child runs only
                # ``func``, which starts its own thread pools (map_chunks) if it needs any.
                warnings.filterwarnings(
                    "ignore", message=r".*fork\(\)", category=DeprecationWarning
                )
                self._proc.start()
        finally:
            gc.unfreeze()
        child_conn.close()

    def result(self) -> object:
        """Wait for the child; return what ``func`` returned (again at once on a second call).

        Raises
        ------
        WorkerError
            If ``func`` raised in the child (its error in one line; the traceback is logged
            at DEBUG) or the child died.
        """
        if self._done:
            return self._value
        assert self._proc is not None  # noqa: S101 - set whenever the call is not done
        out = receive_then_join(self._conn, self._proc)
        if out is None:
            msg = f"{self.name}: the worker process died (exit code {self._proc.exitcode})"
            raise WorkerError(msg)
        ok, value = out
        if not ok:
            said, trace = value
            logger.debug("%s: the worker process's traceback:\n%s", self.name, trace)
            msg = f"{self.name} failed in its worker process: {said}"
            raise WorkerError(msg)
        self._value, self._done = value, True
        return value

    def cancel(self) -> None:
        """Stop the child if it still runs (the caller failed: its work is not wanted)."""
        if self._proc is None or self._done:
            return
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
        self._conn.close()
        self._done = True
