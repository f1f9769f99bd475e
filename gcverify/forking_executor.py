"""The local executor: each submitted call runs in its own child, forked from this
process at the moment it starts, at most ``jobs`` at a time.

A child inherits everything this process holds (the user's imported code, a
campaign's examples), so nothing is pickled on the way in; only the call's result
travels back. An exception the call raises becomes its future's exception; a call
that ends its child another way (a crash, ``os._exit``, the kernel's OOM killer) fails
with :class:`~gcverify.executors.WorkerKilled`, as a task that takes a Dask worker down
does. Cancelling a future kills its child if the call is running, and a shutdown that
does not wait kills every child still running: Ctrl-C never waits for a call to end.
Children ignore SIGINT (Ctrl-C is the parent's business) and die with this process.

There is no thread. Children are started, and their results collected, by whoever
waits: :meth:`ForkingExecutor.wait_first` (which
:func:`~gcverify.executors.run_tasks` and :func:`~gcverify.executors.first_completed`
use) or a future's ``result()``. A thread of ours would be forking, or holding a lock
(a stream's, the allocator's), while another forks, and a child forked then can
deadlock. So :func:`concurrent.futures.wait` and ``as_completed`` cannot drive it: wait
with :func:`~gcverify.executors.first_completed`.

>>> with ForkingExecutor(jobs=2) as executor:
...     futures = [executor.submit(abs, x) for x in (-1, -2, -3)]
...     [future.result() for future in futures]
[1, 2, 3]
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Collection
from concurrent.futures import Executor, Future
from functools import partial
from multiprocessing.connection import wait
from typing import Any, TypeVar

from gcverify.errors import invalid_argument
from gcverify.executors import WorkerKilled
from gcverify.failure import FailureKind
from gcverify.interrupts import check_interrupt, deferred_interrupts
from gcverify.supervise import Child, ChildReport, ChildSetup

__all__ = ["ForkingExecutor"]

T = TypeVar("T")

# A child runs its call without limits of its own: the calls that need limits (a
# mutant's check) fork a supervised child with them (gcverify.mutation.dispatch).
# Its exceptions come back as they were raised.
_UNLIMITED = ChildSetup(math.inf, reraise=(Exception,))


class ForkingExecutor(Executor):
    """A :class:`concurrent.futures.Executor` that forks one child per call (see the
    module docstring), ``jobs`` at most at once.

    >>> executor = ForkingExecutor(jobs=1)
    >>> executor.submit(divmod, 7, 2).result()
    (3, 1)
    >>> executor.shutdown()
    """

    def __init__(self, jobs: int) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise invalid_argument("jobs", jobs, "is not a positive integer", "pass e.g. jobs=2")
        self.jobs = jobs
        self._queued: deque[tuple[_ForkedFuture[Any], Callable[[], Any]]] = deque()
        self._running: dict[_ForkedFuture[Any], Child] = {}
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Queue ``fn(*args, **kwargs)``; it starts once a child is free and someone waits."""
        if self._closed:
            raise RuntimeError("cannot submit calls to a ForkingExecutor after its shutdown")
        future: _ForkedFuture[T] = _ForkedFuture(self)
        self._queued.append((future, partial(fn, *args, **kwargs)))
        return future

    def wait_first(self, futures: Collection[Future[Any]],
                   timeout: float | None = None) -> set[Future[Any]]:
        """Run children until one of ``futures`` is done (or ``timeout`` seconds pass):
        the done ones. Ctrl-C raises :class:`KeyboardInterrupt` here.

        (It looks at every future each time a child finishes: keep few in flight, as
        :func:`~gcverify.executors.run_tasks` does, not thousands.)
        """
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        while not (done := {future for future in futures if future.done()}):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if not self._step(remaining):
                raise RuntimeError("none of these futures can finish: they are not this "
                                   "executor's, or were lost")
        return done

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """With ``wait`` (and not ``cancel_futures``), run what is queued and running to
        the end. Otherwise cancel it, killing the children still running: without a
        thread, no one would run the rest or see it finish."""
        self._closed = True
        try:
            if wait and not cancel_futures:
                while self._step(math.inf):
                    pass
        finally:  # also when Ctrl-C stops the wait
            for future in [future for future, _ in self._queued] + list(self._running):
                future.cancel()
            self._queued.clear()

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        # Leaving on an exception (Ctrl-C, a bug) must not run the rest to the end.
        self.shutdown(wait=kind is None, cancel_futures=kind is not None)

    def _step(self, timeout: float) -> bool:
        """Start what can start, wait at most ``timeout`` for news of a child and settle
        the futures whose children finished. False when there was nothing to do."""
        started = False
        while self._queued and len(self._running) < self.jobs:
            future, call = self._queued.popleft()
            if not future.cancelled():
                self._start(future, call)  # or settled, if the fork failed
                started = True
        if not self._running:
            return started
        wait([w for child in self._running.values() for w in child.waitables()],
             timeout=None if math.isinf(timeout) else timeout)
        check_interrupt()
        for future, child in list(self._running.items()):
            report = child.poll()
            if report is not None:
                del self._running[future]
                _settle(future, report)
        return True

    def _start(self, future: _ForkedFuture[Any], call: Callable[[], Any]) -> None:
        # Ctrl-C waits until the child is recorded (and so can be killed); a fork that
        # fails (no memory, too many processes) is the call's failure.
        with deferred_interrupts():
            try:
                self._running[future] = Child.start(call, (), _UNLIMITED)
            except OSError as error:
                future.set_exception(error)
        check_interrupt()

    def _forget(self, future: _ForkedFuture[Any]) -> None:
        """A cancelled future: its child, if it has one, is killed."""
        child = self._running.pop(future, None)
        if child is not None:
            child.kill()


def _settle(future: Future[Any], report: ChildReport) -> None:
    """The call's value or exception; a child that died is a killed worker, one that
    raised what cannot come back (SystemExit, an exception that does not unpickle) is a
    bug in the call, raised here as RuntimeError."""
    failure = report.failure
    if report.error is not None:
        future.set_exception(report.error)
    elif failure is not None and failure.kind in (FailureKind.CRASHED, FailureKind.MEMORY):
        future.set_exception(WorkerKilled(f"killed its worker process, which "
                                          f"{failure.describe()}"))
    elif failure is not None:
        future.set_exception(RuntimeError(failure.line("the call")))
    else:
        future.set_result(report.value)


class _ForkedFuture(Future[T]):
    """A future whose call runs in a child of a :class:`ForkingExecutor`: waiting for
    its result runs the children, and cancelling it kills its child.

    It stays pending while its child runs, so that it can still be cancelled.
    """

    def __init__(self, executor: ForkingExecutor) -> None:
        super().__init__()
        self._executor = executor

    def running(self) -> bool:
        return self in self._executor._running

    def cancel(self) -> bool:
        cancelled = super().cancel()
        if cancelled:
            self._executor._forget(self)
        return cancelled

    def result(self, timeout: float | None = None) -> T:
        self._executor.wait_first([self], timeout)
        return super().result(timeout=0)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._executor.wait_first([self], timeout)
        return super().exception(timeout=0)
