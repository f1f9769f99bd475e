"""Run tasks each in its own supervised child process, a few at a time.

A mutant may loop forever, exhaust memory, call ``os._exit`` or crash the interpreter;
none of that may stop a campaign. :func:`run_isolated` runs one
:class:`~gcverify.supervise.Child` per task (forked: it inherits the parent's memory,
so nothing needs pickling on the way in), at most ``jobs`` at once, each with the time
and memory limits of :mod:`gcverify.supervise`, and reports what became of each task.
Ctrl-C kills the running children and returns what finished. A campaign's worker (a
child of the local executor, or a Dask worker) runs each of its mutants so, one at a
time (:mod:`gcverify.mutation.dispatch`).

>>> reports, interrupted = run_isolated(abs, [-1, -2], jobs=2, time_limit=10)
>>> [(i, r.ok, r.value) for i, r in reports.items()], interrupted
([(0, True, 1), (1, True, 2)], False)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from typing import Any

from gcverify.errors import GCVerifyError, invalid_argument
from gcverify.interrupts import catching_interrupts, check_interrupt
from gcverify.supervise import Child, ChildReport, ChildSetup, can_fork

__all__ = ["run_isolated", "start_method"]


def start_method() -> str:
    """``"fork"`` where the platform has it (Linux, macOS), else ``"spawn"``.

    >>> start_method() in ("fork", "spawn")
    True
    """
    return "fork" if can_fork() else "spawn"


def run_isolated(function: Callable[[Any], Any], tasks: Sequence[Any], *, jobs: int,
                 time_limit: float, memory_limit: int | None = None,
                 argv: Sequence[str] | None = None,
                 on_finish: Callable[[int, ChildReport], None] | None = None
                 ) -> tuple[dict[int, ChildReport], bool]:
    """Run ``function(task)`` for every task, each in a fresh supervised child.

    Returns ``(reports, interrupted)``: ``reports[i]`` for every task that finished (in
    any way: a value, or a :class:`~gcverify.failure.Failure`), and whether a
    :class:`KeyboardInterrupt` (Ctrl-C, or one raised by ``on_finish``) stopped the run
    early. ``on_finish(i, report)`` is called in the parent as each task finishes.
    ``memory_limit`` (bytes) caps each child; ``argv`` is the ``sys.argv`` it sees.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise invalid_argument("jobs", jobs, "is not a positive integer",
                               "pass e.g. jobs=2, or os.cpu_count()")
    setup = ChildSetup(time_limit, memory_limit, tuple(argv) if argv is not None else None)
    if not can_fork():
        raise GCVerifyError("each task runs in a forked process, and this platform cannot "
                            "fork; run on Linux or macOS")
    pending = list(range(len(tasks)))[::-1]
    running: dict[int, Child] = {}
    reports: dict[int, ChildReport] = {}
    interrupted = False
    with catching_interrupts():
        try:
            while pending or running:
                while pending and len(running) < jobs:
                    index = pending.pop()
                    running[index] = Child.start(function, (tasks[index],), setup)
                nearest = min(child.deadline for child in running.values())
                wait([w for child in running.values() for w in child.waitables()],
                     timeout=max(0.0, nearest - time.monotonic()))
                for index in sorted(running):
                    report = running[index].poll()
                    if report is not None:
                        del running[index]
                        reports[index] = report
                        if on_finish is not None:
                            on_finish(index, report)
                check_interrupt()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for child in running.values():
                child.kill()
    return dict(sorted(reports.items())), interrupted
