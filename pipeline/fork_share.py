"""Items made by this process and forked workers, each taking the next from a shared counter."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from pipeline.parallel import thread_count

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")

#: The item function and counter of a worker process (set in each by :func:`_start_worker`).
_WORKER: dict[str, Any] = {}


class _Counter:
    """The counter of a process working alone (no process shares it)."""

    def __init__(self) -> None:
        self.value = 0

    def get_lock(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


def _start_worker(make: Callable[[int], Any], counter: Any, n: int) -> None:  # noqa: ANN401
    _WORKER.update(make=make, counter=counter, n=n)


def _next(counter: Any, n: int) -> int | None:  # noqa: ANN401 - a shared Value
    """Take the next item not yet taken by any process; ``None`` once all are taken."""
    with counter.get_lock():
        i = int(counter.value)
        if i >= n:
            return None
        counter.value = i + 1
    return i


def _take_all(make: Callable[[int], T], counter: Any, n: int) -> dict[int, T]:  # noqa: ANN401
    """Make the items taken from ``counter`` until none is left; by position."""
    done = {}
    while (i := _next(counter, n)) is not None:
        done[i] = make(i)
    return done


def _worker_takes() -> dict[int, Any]:
    return _take_all(_WORKER["make"], _WORKER["counter"], _WORKER["n"])


def _fork_workers(
    make: Callable[[int], Any],
    counter: Any,  # noqa: ANN401 - a shared Value
    n: int,
    workers: int,
    stack: contextlib.ExitStack,
) -> list[Any]:
    """Fork ``workers`` processes taking items from ``counter``; return their futures.

    The pool is shut down (waiting for them) when ``stack`` closes.
    """
    # Objects made so far go to a permanent generation the workers' collector does not
    # walk: walking them would write to every page holding one and copy it per worker.
    gc.collect()
    gc.freeze()
    stack.callback(gc.unfreeze)
    with warnings.catch_warnings():
        # Python 3.12+ warns at every fork of a process with threads (the idle pool of
        # pipeline.parallel); the workers only make items, never take its locks.
        warnings.filterwarnings("ignore", message=r".*fork\(\)", category=DeprecationWarning)
        pool = stack.enter_context(
            ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker, initargs=(make, counter, n),
            )
        )  # fmt: skip
        return [pool.submit(_worker_takes) for _ in range(workers)]


def shared_map(
    make: Callable[[int], T],
    n: int,
    *,
    fork_when: Callable[[], bool] | None = None,
    tick: Callable[[int], object] | None = None,
) -> list[T]:
    """Return ``make(i)`` for ``i`` in ``range(n)``, made here and in forked worker processes.

    This process and the workers (one fewer than the CPUs this process may use,
    :func:`pipeline.parallel.thread_count`) each take the next item not yet taken. The
    workers share this process's data without copying it (``make`` and what it reads are
    inherited, never pickled; its results are), for work that holds the GIL; a worker's
    memory grows as it touches shared pages, so this process works too rather than wait for
    one more worker. Where processes cannot be forked, or with one CPU, every item is made
    here.

    Parameters
    ----------
    make
        Makes item ``i`` (a picklable result).
    n
        Number of items.
    fork_when
        Asked before each item this process makes until it says yes: the workers are
        forked then, not before (for example once another process is done with its CPU and
        memory). ``None``: at once.
    tick
        Called with the number of items done, as they are done (a progress bar).

    Returns
    -------
    list
        The items, in order.

    Raises
    ------
    Exception
        The first error of ``make``, here or in a worker; after an error here the workers
        take no further item.
    """
    workers = min(thread_count(), n) - 1
    if workers < 1 or "fork" not in multiprocessing.get_all_start_methods():
        workers = 0
    counter = multiprocessing.get_context("fork").Value("i", 0) if workers else _Counter()
    done: dict[int, T] = {}
    with contextlib.ExitStack() as stack:
        futures: list[Any] = []
        try:
            while (i := _next(counter, n)) is not None:
                if workers and not futures and (fork_when is None or fork_when()):
                    futures = _fork_workers(make, counter, n, workers, stack)
                done[i] = make(i)
                if tick is not None:
                    tick(1)
        except BaseException:
            with counter.get_lock():
                counter.value = n  # the workers take no further item
            raise
        for f in futures:
            theirs = f.result()
            done.update(theirs)
            if tick is not None:
                tick(len(theirs))
    return [done[i] for i in range(n)]
