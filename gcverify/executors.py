"""Where studies run their tasks: a seam any :class:`concurrent.futures.Executor` fits.

The local default is a process pool forked from this process (``jobs`` workers, each
with its own copy of everything); a Dask cluster's ``Client.get_executor()`` is another
executor of the same interface. :func:`run_tasks` sends the tasks in batches (a few per
submission, so that scheduling costs little beside the work), calls ``progress`` as each
batch finishes, and on Ctrl-C returns what finished.

>>> with local_executor(jobs=2) as executor:
...     run = run_tasks(executor, abs, [-1, -2, -3], batch=2)
>>> run.results, run.interrupted
([1, 2, 3], False)
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

from gcverify.errors import invalid_argument

__all__ = ["TaskRun", "local_executor", "run_tasks", "usable_cores"]

T = TypeVar("T")
R = TypeVar("R")


def usable_cores() -> int:
    """The number of cores this process may run on.

    >>> usable_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def local_executor(jobs: int | None = None) -> Executor:
    """A process pool of ``jobs`` workers (default: the usable cores), forked where the
    platform can fork, so that workers start with this process's state."""
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise invalid_argument("jobs", jobs, "is not a positive integer", "pass e.g. jobs=2")
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return ProcessPoolExecutor(max_workers=jobs or usable_cores(), mp_context=context,
                               initializer=_ignore_ctrl_c)


def _ignore_ctrl_c() -> None:
    # Ctrl-C reaches the whole process group: the parent decides (it cancels what has
    # not started, and the tasks running finish).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass(frozen=True)
class TaskRun(Generic[R]):
    """The results of the tasks that finished, in task order (None where a task did not
    finish), and whether Ctrl-C stopped the run."""

    results: list[R | None]
    interrupted: bool

    @property
    def finished(self) -> int:
        return sum(result is not None for result in self.results)


def _run_batch(function: Callable[[T], R], batch: Sequence[T]) -> list[R]:
    return [function(task) for task in batch]


def run_tasks(executor: Executor, function: Callable[[T], R], tasks: Sequence[T], *,
              batch: int = 1,
              progress: Callable[[int, int], None] | None = None) -> TaskRun[R]:
    """``function(task)`` for every task on ``executor``, ``batch`` tasks per submission.

    ``progress(done, total)`` is called in this process as batches finish. Ctrl-C (or a
    :class:`KeyboardInterrupt` from ``progress``) cancels what has not started and
    returns what finished, with ``interrupted=True``.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise invalid_argument("batch", batch, "is not a positive integer",
                               "pass e.g. batch=4")
    results: list[R | None] = [None] * len(tasks)
    pending: dict[Future[list[R]], int] = {}
    try:
        for start in range(0, len(tasks), batch):
            future = executor.submit(_run_batch, function, tasks[start:start + batch])
            pending[future] = start
        done_count = 0
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                start = pending.pop(future)
                values = future.result()
                results[start:start + len(values)] = values
                done_count += len(values)
                if progress is not None:
                    progress(done_count, len(tasks))
    except KeyboardInterrupt:
        for future in pending:
            future.cancel()
        return TaskRun(results, True)
    return TaskRun(results, False)

