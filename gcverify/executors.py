"""Where campaigns and studies run their tasks: one seam any
:class:`concurrent.futures.Executor` fits.

The local default forks a child of this process for each submission, ``jobs`` at a time
(:mod:`gcverify.forking_executor`: each starts with this process's state, and Ctrl-C
kills them); :mod:`gcverify.dask_executor` puts a Dask cluster behind the same
interface. :func:`open_executor` picks one from the command line's
options; :func:`run_tasks` sends the tasks in batches (a few per submission, so that
scheduling costs little beside the work), calls ``progress`` as each batch finishes,
and returns what finished when Ctrl-C stops it, when a task kills its worker on every
try, or when the executor itself goes away.

>>> with open_executor(jobs=2) as executor:
...     run = run_tasks(executor, abs, [-1, -2, -3], batch=2)
>>> run.results, run.complete
([1, 2, 3], True)
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    CancelledError,
    Executor,
    Future,
    wait,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from gcverify.errors import GCVerifyError, invalid_argument
from gcverify.parallel import resolve_jobs

if TYPE_CHECKING:
    from gcverify.forking_executor import ForkingExecutor

__all__ = [
    "EXECUTORS",
    "ExecutorLost",
    "ExecutorUnavailable",
    "TaskRun",
    "WorkerKilled",
    "first_completed",
    "inherits_state",
    "local_executor",
    "open_executor",
    "run_tasks",
]

T = TypeVar("T")
R = TypeVar("R")

#: The executors :func:`open_executor` knows: ``local`` (children of this process, the default)
#: and ``dask`` (a Dask cluster: a running one at ``scheduler``, or one started here).
EXECUTORS = ("local", "dask")


class WorkerKilled(Exception):
    """A task's worker died every time it ran the task (the executor gave up on it)."""


class ExecutorLost(Exception):
    """The executor went away (a Dask scheduler stopped); an executor that breaks
    (:class:`~concurrent.futures.BrokenExecutor`) is lost too."""


def _check_jobs(jobs: int | None) -> None:
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise invalid_argument("jobs", jobs, "is not a positive integer", "pass e.g. jobs=2")


def local_executor(jobs: int | None = None) -> ForkingExecutor:
    """The local executor: a child forked from this process for each submission,
    ``jobs`` at a time (default: the usable cores), so that every task starts with this
    process's state and a task that dies, or Ctrl-C, costs only that child
    (:class:`~gcverify.forking_executor.ForkingExecutor`)."""
    from gcverify.forking_executor import ForkingExecutor

    return ForkingExecutor(resolve_jobs(jobs))  # which checks jobs


@contextlib.contextmanager
def open_executor(jobs: int | None = None, *, executor: str | None = None,
                  scheduler: str | None = None) -> Iterator[Executor]:
    """The executor the options name, closed (and a cluster it started, stopped) on exit.

    ``scheduler`` (an address such as ``tcp://127.0.0.1:8786``) uses a running Dask
    cluster; ``executor="dask"`` without one starts a local Dask cluster of ``jobs``
    workers; otherwise (``executor`` None or ``"local"``) :func:`local_executor`.
    """
    _check_jobs(jobs)
    if executor is not None and executor not in EXECUTORS:
        raise invalid_argument("executor", executor, "is not an executor",
                               f"pass one of {', '.join(EXECUTORS)}")
    if executor == "local" and scheduler is not None:
        raise invalid_argument("executor", executor, "cannot use a Dask scheduler",
                               "pass executor='dask' with a scheduler")
    if scheduler is not None and (not isinstance(scheduler, str) or ":" not in scheduler):
        raise invalid_argument("scheduler", scheduler, "is not a scheduler's address",
                               "pass e.g. scheduler='tcp://127.0.0.1:8786'")
    if scheduler is not None or executor == "dask":
        from gcverify.dask_executor import dask_executor

        with dask_executor(scheduler=scheduler, workers=jobs) as cluster:
            yield cluster
        return
    pool = local_executor(jobs)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def inherits_state(executor: Executor) -> bool:
    """Whether tasks on ``executor`` run in children forked from this process as they
    start, seeing its state (the user's imported code) with nothing sent: the local
    executor. Tasks for any other must travel pickled.

    >>> with open_executor(jobs=1) as executor:
    ...     inherits_state(executor)
    True
    """
    return _forking(executor) is not None


def first_completed(executor: Executor, futures: Collection[Future[Any]]) -> set[Future[Any]]:
    """The futures of ``executor`` that are done, once one is. Wait for the local
    executor's futures with this (or their ``result()``), not
    :func:`concurrent.futures.wait`: it has no thread of its own, and runs its children
    while it is waited on.

    >>> with open_executor(jobs=1) as executor:
    ...     future = executor.submit(abs, -1)
    ...     first_completed(executor, [future]) == {future}
    True
    """
    local = _forking(executor)
    if local is not None:
        return local.wait_first(futures)
    return wait(futures, return_when=FIRST_COMPLETED)[0]


def _in_flight(executor: Executor) -> float:
    """How many submissions :func:`run_tasks` keeps in flight: a cluster queues them
    itself (all at once), the local executor gets two per child it runs (its children
    start only as others finish, and it looks at every one it holds each time)."""
    local = _forking(executor)
    return 2 * local.jobs if local is not None else math.inf


def _forking(executor: Executor) -> ForkingExecutor | None:
    """``executor`` if it is the local executor (imported here: it imports this module)."""
    from gcverify.forking_executor import ForkingExecutor

    return executor if isinstance(executor, ForkingExecutor) else None


@dataclass(frozen=True)
class TaskRun(Generic[R]):
    """The results of the tasks that finished, in task order (None where a task did not
    finish); the tasks that killed their worker on every try (index → why); whether
    Ctrl-C stopped the run; and why the executor was lost, if it was."""

    results: list[R | None]
    interrupted: bool = False
    failed: dict[int, str] = field(default_factory=dict)
    lost: str | None = None

    @property
    def finished(self) -> int:
        return sum(result is not None for result in self.results)

    @property
    def complete(self) -> bool:
        """Whether every task ran (a task that killed its worker did run, and failed)."""
        return not self.interrupted and self.lost is None


def _run_batch(function: Callable[[T], R], batch: Sequence[T]) -> list[R]:
    return [function(task) for task in batch]


def run_tasks(executor: Executor, function: Callable[[T], R], tasks: Sequence[T], *,
              batch: int = 1,
              progress: Callable[[int, int], None] | None = None,
              on_result: Callable[[int, R], None] | None = None) -> TaskRun[R]:
    """``function(task)`` for every task on ``executor``, ``batch`` tasks per submission.

    ``on_result(index, result)`` for each task and then ``progress(done, total)`` are
    called in this process as batches finish. Ctrl-C (or a
    :class:`KeyboardInterrupt` from ``progress``) cancels what has not finished (the
    local executor kills its children at once; a cluster cancels what has not started)
    and returns what finished, with ``interrupted=True``. When the executor goes away,
    the run returns what finished, with ``lost`` saying why. An exception raised by
    ``function`` itself is a bug, and propagates (what has not finished is cancelled).

    A worker that dies takes the blame for every task it held, so a task is reported
    in ``failed`` only when it killed its worker while running alone: a batch whose
    worker died on every try is run again one task per submission, and a task that
    still fails is run once more with nothing else of this run in flight.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise invalid_argument("batch", batch, "is not a positive integer",
                               "pass e.g. batch=4")
    run = _Run(executor, function, tasks, progress, on_result)
    run.unsent.extend((start, min(start + batch, len(tasks)))
                      for start in range(0, len(tasks), batch))
    try:
        run.drain()
    except KeyboardInterrupt:
        return TaskRun(run.results, True, run.failed)
    finally:  # what has not finished is not wanted any more (a bug may be propagating)
        run.cancel()
    return TaskRun(run.results, False, run.failed, run.lost)


class _Run(Generic[T, R]):
    """The state of one :func:`run_tasks`: what is in flight, what came back."""

    def __init__(self, executor: Executor, function: Callable[[T], R], tasks: Sequence[T],
                 progress: Callable[[int, int], None] | None,
                 on_result: Callable[[int, R], None] | None) -> None:
        self.executor, self.function, self.tasks = executor, function, tasks
        self.progress, self.on_result = progress, on_result
        self.results: list[R | None] = [None] * len(tasks)
        self.failed: dict[int, str] = {}
        self.lost: str | None = None
        self.pending: dict[Future[list[R]], tuple[int, int, bool]] = {}
        self.unsent: deque[tuple[int, int]] = deque()
        self.in_flight = _in_flight(executor)
        self.suspects: list[int] = []
        self.done = 0

    def submit(self, start: int, stop: int, alone: bool = False) -> None:
        future = self.executor.submit(_run_batch, self.function, self.tasks[start:stop])
        self.pending[future] = (start, stop, alone)

    def drain(self) -> None:
        while self.lost is None and (self.pending or self.unsent or self.suspects):
            while self.unsent and len(self.pending) < self.in_flight:
                self.submit(*self.unsent.popleft())
            if not self.pending:
                suspect = self.suspects.pop(0)
                self.submit(suspect, suspect + 1, alone=True)
            for future in first_completed(self.executor, self.pending):
                self.collect(future, *self.pending.pop(future))

    def collect(self, future: Future[list[R]], start: int, stop: int, alone: bool) -> None:
        try:
            values = future.result()
        except WorkerKilled as killed:
            if stop - start > 1:
                self.unsent.extendleft((single, single + 1)
                                       for single in reversed(range(start, stop)))
                return
            if not alone:
                self.suspects.append(start)
                return
            self.failed[start] = str(killed)
            values = []
        except (ExecutorLost, BrokenExecutor, CancelledError) as error:
            self.lost = _lost_reason(error)  # and keep what the other futures brought
            return
        self.results[start:start + len(values)] = values
        if self.on_result is not None:
            for offset, value in enumerate(values):
                self.on_result(start + offset, value)
        self.done += stop - start
        if self.progress is not None:
            self.progress(self.done, len(self.tasks))

    def cancel(self) -> None:
        for future in self.pending:
            future.cancel()


def _lost_reason(error: BaseException) -> str:
    if isinstance(error, ExecutorLost):
        return str(error)
    if isinstance(error, BrokenExecutor):
        return "a worker process of the pool died"
    return "the executor cancelled the tasks"


class ExecutorUnavailable(GCVerifyError):
    """The executor the options name cannot be used here (Dask not installed, the
    scheduler unreachable or without workers); the message says what to do."""
