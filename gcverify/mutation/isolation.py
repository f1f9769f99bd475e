"""Run tasks each in its own child process, a few at a time, with a hard time limit.

A mutant may loop forever, exhaust memory, call ``os._exit`` or crash the interpreter;
none of that may stop a campaign. :func:`run_isolated` forks one child per task (the
child inherits the parent's memory, so nothing needs pickling), runs at most ``jobs``
children at once, kills a child that outlives its time limit, and reports what
became of each task. Ctrl-C kills the running children and returns what finished.

>>> reports, interrupted = run_isolated(abs, [-1, -2], jobs=2, time_limit=10)
>>> [(i, r.status.value, r.value) for i, r in reports.items()], interrupted
([(0, 'done', 1), (1, 'done', 2)], False)
"""

from __future__ import annotations

import enum
import faulthandler
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from gcverify.errors import invalid_argument

try:
    import resource
except ImportError:  # not on Unix
    resource = None  # type: ignore[assignment]

__all__ = ["TaskReport", "TaskStatus", "run_isolated", "start_method"]


class TaskStatus(enum.Enum):
    """How a task ended."""

    DONE = "done"           # ``value`` is the function's result
    RAISED = "raised"       # the function raised; ``detail`` is the exception
    TIMEOUT = "timeout"     # killed after the time limit
    CRASHED = "crashed"     # the child died without reporting; ``detail`` says how


@dataclass(frozen=True)
class TaskReport:
    """What became of one task: its :class:`TaskStatus`, the function's ``value`` (when
    DONE), a ``detail`` (the exception, or how the child died) and the wall time."""

    status: TaskStatus
    value: Any = None
    detail: str = ""
    seconds: float = 0.0


def start_method() -> str:
    """``"fork"`` where the platform has it (Linux, macOS), else ``"spawn"``.

    With ``"spawn"`` the function and the tasks must be picklable.
    """
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def run_isolated(function: Callable[[Any], Any], tasks: Sequence[Any], *, jobs: int,
                 time_limit: float,
                 on_finish: Callable[[int, TaskReport], None] | None = None
                 ) -> tuple[dict[int, TaskReport], bool]:
    """Run ``function(task)`` for every task, each in a fresh child process.

    Returns ``(reports, interrupted)``: ``reports[i]`` for every task that finished (in
    any way), and whether a :class:`KeyboardInterrupt` (Ctrl-C, or one raised by
    ``on_finish``) stopped the run early. ``on_finish(i, report)`` is called in the
    parent as each task finishes.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise invalid_argument("jobs", jobs, "is not a positive integer",
                               "pass e.g. jobs=2, or os.cpu_count()")
    if not (isinstance(time_limit, (int, float)) and time_limit > 0):
        raise invalid_argument("time_limit", time_limit, "is not a positive number of seconds",
                               "pass e.g. time_limit=10.0")
    context = multiprocessing.get_context(start_method())
    pending = list(range(len(tasks)))[::-1]
    running: dict[int, _Child] = {}
    reports: dict[int, TaskReport] = {}
    interrupted = False
    try:
        while pending or running:
            while pending and len(running) < jobs:
                index = pending.pop()
                running[index] = _Child.start(context, function, tasks[index])
            now = time.monotonic()
            nearest = min(child.deadline(time_limit) for child in running.values())
            wait([w for child in running.values() for w in (child.reader, child.sentinel)],
                 timeout=max(0.0, nearest - now))
            for index in sorted(running):
                report = running[index].poll(time_limit)
                if report is not None:
                    del running[index]
                    reports[index] = report
                    if on_finish is not None:
                        on_finish(index, report)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for child in running.values():
            child.kill()
    return dict(sorted(reports.items())), interrupted


@dataclass
class _Child:
    process: Any
    reader: Connection
    started: float
    reaped: bool = False

    @classmethod
    def start(cls, context: Any, function: Callable[[Any], Any], task: Any) -> _Child:
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(target=_child_main, args=(writer, function, task),
                                  daemon=True)
        process.start()
        writer.close()
        return cls(process, reader, time.monotonic())

    @property
    def sentinel(self) -> int:
        return self.process.sentinel

    def deadline(self, time_limit: float) -> float:
        return self.started + time_limit

    def poll(self, time_limit: float) -> TaskReport | None:
        """The task's report if it has finished (or overran), else None."""
        elapsed = time.monotonic() - self.started
        if self.reader.poll():
            try:
                status, value, detail = self.reader.recv()
            except (EOFError, OSError):
                pass  # the child died while writing: a crash, reported below
            else:
                self._reap()
                return TaskReport(TaskStatus(status), value, detail, elapsed)
        if not self.process.is_alive():
            code = self.process.exitcode
            self._reap()
            return TaskReport(TaskStatus.CRASHED, None, _describe_exit(code), elapsed)
        if elapsed > time_limit:
            self.kill()
            return TaskReport(TaskStatus.TIMEOUT, None,
                              f"still running after {time_limit:.3g} s", elapsed)
        return None

    def kill(self) -> None:
        if not self.reaped and self.process.is_alive():
            self.process.kill()
        self._reap()

    def _reap(self) -> None:
        if not self.reaped:
            self.reaped = True
            self.process.join()
            self.reader.close()
            self.process.close()


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the process was killed by {name}"
    return f"the process exited with code {code} without reporting"


def _child_main(writer: Connection, function: Callable[[Any], Any], task: Any) -> None:
    # Ctrl-C is the parent's business: it kills the children itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if faulthandler.is_enabled():
        faulthandler.disable()  # a crash is reported by its exit status, not a dump
    if resource is not None:  # and it leaves no core file behind
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # What the mutant prints is noise: silence the file descriptors and Python's streams
    # (which a test runner may have pointed elsewhere).
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = open(os.devnull, "w")
    try:
        message: tuple[str, Any, str] = (TaskStatus.DONE.value, function(task), "")
    except BaseException as error:  # the child reports everything, even SystemExit
        message = (TaskStatus.RAISED.value, None, _describe_error(error))
    try:
        writer.send(message)
    except Exception as error:  # e.g. an unpicklable result
        writer.send((TaskStatus.RAISED.value, None,
                     f"the result could not be sent back: {error!r}"))
    writer.close()


def _describe_error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
