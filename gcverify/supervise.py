"""Run the code under test in a child process that cannot take gcverify down with it.

A user's file may call ``sys.exit`` or ``os._exit``, parse ``sys.argv``, loop forever,
exhaust memory, crash the interpreter or print; none of it may decide what gcverify
prints or how it exits. :func:`run_supervised` forks a child (which inherits the
parent's memory: nothing is pickled on the way in) that

* ignores SIGINT: Ctrl-C is the parent's business, and it kills the child;
* may add at most ``memory_limit`` bytes to its address space (``RLIMIT_AS``), and
  leaves no core file;
* sees ``sys.argv`` as given (``[FILE]``, as ``python FILE`` would see it);
* writes nothing: its stdout goes to ``/dev/null``, its stderr to a pipe of which the
  parent keeps the tail, where a fault dump (a crash, ``os._exit``, or a hang, dumped
  on request before the kill) names the line the child was at;

and returns a :class:`ChildReport`: the function's value, or a
:class:`~gcverify.failure.Failure`. :class:`Child` is one such child, for callers that
run several at once (:func:`gcverify.mutation.isolation.run_isolated`,
:class:`gcverify.forking_executor.ForkingExecutor`).

>>> run_supervised(abs, -2, time_limit=10).value
2
>>> run_supervised(sys.exit, 3, time_limit=10).failure.describe()
'called sys.exit(3)'
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from gcverify.errors import invalid_argument
from gcverify.failure import Failure, FailureKind, dump_location, error_text
from gcverify.interrupts import check_interrupt

try:
    import resource
except ImportError:  # not on Unix
    resource = None  # type: ignore[assignment]

__all__ = ["Child", "ChildReport", "ChildSetup", "can_fork", "run_guarded", "run_supervised"]

_DONE, _FAILED, _RERAISE = "done", "failed", "reraise"
_TAIL = 32_768            # bytes of a child's stderr kept
_RESERVE = 1 << 20        # freed before a child reports a failure, so it can when out of memory
_DUMP_WAIT = 1.0          # seconds a hung child gets to dump where it is before the kill
_PR_SET_PDEATHSIG = 1     # linux/prctl.h
# os._exit as Python has it: a child replaces os._exit to say where it was called, and
# a child's child (a campaign's worker forks the mutant's) must not inherit that.
_REAL_EXIT = os._exit


@dataclass(frozen=True)
class ChildSetup:
    """The conditions a child runs under: seconds, bytes (None: no memory limit), the
    ``sys.argv`` it sees (None: the parent's), the user's files (to locate failures)
    and the exception types handed back to the parent as they are (its own errors,
    such as :class:`~gcverify.errors.InvalidArgument`).

    >>> ChildSetup(10.0, memory_limit=2**30, argv=("net.py",)).argv
    ('net.py',)
    """

    time_limit: float
    memory_limit: int | None = None
    argv: tuple[str, ...] | None = None
    user_files: tuple[str, ...] = ()
    reraise: tuple[type[BaseException], ...] = ()
    locate_hangs: bool = False

    def __post_init__(self) -> None:
        limit = self.time_limit
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
            raise invalid_argument("time_limit", limit, "is not a positive number of seconds",
                                   "pass e.g. time_limit=10.0")
        memory = self.memory_limit
        if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int)
                                   or memory < 1):
            raise invalid_argument("memory_limit", memory, "is not a positive number of "
                                   "bytes", "pass e.g. memory_limit=2**30, or None")


@dataclass(frozen=True)
class ChildReport:
    """What became of a child: the function's ``value``, or a ``failure``; its wall
    ``seconds``; ``error``: an exception of the setup's ``reraise`` types.

    >>> ChildReport(value=1).ok
    True
    """

    value: Any = None
    failure: Failure | None = None
    seconds: float = field(default=0.0, compare=False)
    error: BaseException | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.failure is None and self.error is None


def can_fork() -> bool:
    """Whether children can be forked here (Linux, macOS; not Windows).

    >>> isinstance(can_fork(), bool)
    True
    """
    return "fork" in multiprocessing.get_all_start_methods()


def run_supervised(function: Callable[..., Any], *args: Any, time_limit: float,
                   memory_limit: int | None = None, argv: Sequence[str] | None = None,
                   user_files: Collection[str] = (),
                   reraise: tuple[type[BaseException], ...] = ()) -> ChildReport:
    """``function(*args)`` in a supervised child (see the module docstring).

    Exceptions of the ``reraise`` types are raised here, as the child raised them. A
    Ctrl-C kills the child and gives the failure ``interrupted``. Where processes
    cannot be forked, :func:`run_guarded` runs the function in this process instead.

    >>> report = run_supervised(int, "x", time_limit=10)
    >>> report.failure.kind, report.failure.error
    (<FailureKind.RAISED: 'raised'>, "ValueError: invalid literal for int() with base 10: 'x'")
    """
    setup = ChildSetup(float(time_limit), memory_limit,
                       tuple(argv) if argv is not None else None, tuple(user_files),
                       tuple(reraise), locate_hangs=True)
    if not can_fork():
        return run_guarded(function, *args, argv=argv, user_files=user_files,
                           reraise=reraise)
    started = time.monotonic()
    child: Child | None = None
    try:
        child = Child.start(function, args, setup)
        while (report := child.poll()) is None:
            check_interrupt()
            wait(child.waitables(), timeout=max(0.0, child.deadline - time.monotonic()))
    except KeyboardInterrupt:
        report = ChildReport(failure=Failure(FailureKind.INTERRUPTED),
                             seconds=time.monotonic() - started)
    finally:
        if child is not None:
            child.kill()
    if report.error is not None:
        raise report.error
    return report


@dataclass
class Child:
    """One supervised child, seen from the parent: start it, wait on
    :meth:`waitables`, :meth:`poll` it until it reports, :meth:`kill` it.

    >>> child = Child.start(abs, (-3,), ChildSetup(10.0))
    >>> while (report := child.poll()) is None:
    ...     _ = wait(child.waitables(), timeout=1.0)
    >>> report.value
    3
    """

    process: Any
    reader: Connection
    stderr: int
    setup: ChildSetup
    started: float
    tail: bytes = b""
    reaped: bool = False

    @classmethod
    def start(cls, function: Callable[..., Any], args: tuple[Any, ...],
              setup: ChildSetup) -> Child:
        context = multiprocessing.get_context("fork")
        reader, writer = context.Pipe(duplex=False)
        stderr_read, stderr_write = os.pipe()
        process = context.Process(target=_child_main, daemon=True,
                                  args=(writer, stderr_write, function, args, setup))
        try:
            process.start()
        finally:
            writer.close()
            os.close(stderr_write)
        os.set_blocking(stderr_read, False)
        return cls(process, reader, stderr_read, setup, time.monotonic())

    @property
    def deadline(self) -> float:
        return self.started + self.setup.time_limit

    def waitables(self) -> list[Any]:
        """What to :func:`multiprocessing.connection.wait` on for news of this child."""
        return [self.reader, self.process.sentinel, self.stderr]

    def poll(self) -> ChildReport | None:
        """The child's report if it has finished (or overran its time), else None."""
        self._drain()
        elapsed = time.monotonic() - self.started
        # Alive or not, asked before the pipe: a child that reports and exits between
        # the two looks dead with its report unread otherwise (seen: "exited with code 0").
        alive = self.process.is_alive()
        if self.reader.poll():
            try:
                tag, payload = self.reader.recv()
            except (EOFError, OSError):  # died before (or while) reporting: see below
                self.process.join(timeout=1.0)
            except Exception as error:  # a value that cannot be rebuilt here
                self._reap()
                return ChildReport(failure=Failure(
                    FailureKind.RAISED, error=f"{error_text(error)} (its result could not "
                    "be read back)"), seconds=elapsed)
            else:
                self._reap()
                if tag == _DONE:
                    return ChildReport(value=payload, seconds=elapsed)
                if tag == _RERAISE:
                    return ChildReport(error=payload, seconds=elapsed)
                return ChildReport(failure=payload, seconds=elapsed)
        if not alive:
            code = self.process.exitcode
            self._reap()
            return ChildReport(failure=Failure.of_death(
                code, self.tail.decode(errors="replace"), self.setup.user_files,
                memory_limit=self.setup.memory_limit or 0), seconds=elapsed)
        if elapsed > self.setup.time_limit:
            location = self._where_it_hangs() if self.setup.locate_hangs else ""
            self.kill()
            return ChildReport(failure=Failure(FailureKind.TIMEOUT,
                                               limit=self.setup.time_limit,
                                               location=location), seconds=elapsed)
        return None

    def kill(self) -> None:
        """Kill the child (if it still runs) and release everything it held."""
        if not self.reaped and self.process.is_alive():
            self.process.kill()
        self._reap()

    def _drain(self) -> None:
        """Keep the tail of what the child wrote on its stderr."""
        if self.reaped:
            return
        with contextlib.suppress(BlockingIOError, OSError):
            while chunk := os.read(self.stderr, 65_536):
                self.tail = (self.tail + chunk)[-_TAIL:]

    def _where_it_hangs(self) -> str:
        """Ask the child for a traceback dump (SIGUSR1) and read where it is."""
        before = len(self.tail)
        with contextlib.suppress(OSError):
            os.kill(self.process.pid, signal.SIGUSR1)
        stop = time.monotonic() + _DUMP_WAIT
        location = ""
        while not location and time.monotonic() < stop:
            wait([self.stderr], timeout=max(0.0, stop - time.monotonic()))
            self._drain()
            location = dump_location(self.tail[before:].decode(errors="replace"),
                                     self.setup.user_files)
        return location

    def _reap(self) -> None:
        if not self.reaped:
            self._drain()
            self.reaped = True
            self.process.join()
            self.reader.close()
            os.close(self.stderr)
            self.process.close()


def run_guarded(function: Callable[..., Any], *args: Any, argv: Sequence[str] | None = None,
                user_files: Collection[str] = (),
                reraise: tuple[type[BaseException], ...] = ()) -> ChildReport:
    """``function(*args)`` in *this* process, as safely as a process can run code it
    does not trust: ``sys.argv`` as given, its output silenced (file descriptors too),
    SIGINT's handler restored afterwards, any exception or ``SystemExit`` reported as a
    failure. ``os._exit``, crashes and hangs are beyond it: rule them out with
    :func:`run_supervised` first.

    >>> run_guarded(print, "not shown").ok
    True
    """
    started = time.monotonic()
    saved_argv = sys.argv
    in_main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if in_main else None
    try:
        with _silenced():
            if argv is not None:
                sys.argv = list(argv)
            try:
                value = function(*args)
            except reraise:
                raise
            except BaseException as error:  # SystemExit included: it is the user's
                return ChildReport(failure=Failure.of_exception(error, user_files),
                                   seconds=time.monotonic() - started)
    finally:
        sys.argv = saved_argv
        if in_main and handler is not None and signal.getsignal(signal.SIGINT) is not handler:
            signal.signal(signal.SIGINT, handler)
    return ChildReport(value=value, seconds=time.monotonic() - started)


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """stdout and stderr to /dev/null, Python's streams and the file descriptors."""
    streams = sys.stdout, sys.stderr
    for stream in streams:
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    sink = open(os.devnull, "w")  # closed below
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        sys.stdout = sys.stderr = sink
        yield
    finally:
        sys.stdout, sys.stderr = streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)
        sink.close()


# --- in the child ----------------------------------------------------------------------

def _child_main(writer: Connection, stderr: int, function: Callable[..., Any],
                args: tuple[Any, ...], setup: ChildSetup) -> None:
    try:
        _enter(stderr, setup)
        reserve: bytearray | None = bytearray(_RESERVE)
        try:
            message: tuple[str, Any] = (_DONE, function(*args))
        except setup.reraise as error:
            message = (_RERAISE, error)
        except BaseException as error:  # the child reports everything, even SystemExit
            reserve = None
            message = (_FAILED, Failure.of_exception(
                error, setup.user_files, memory_limit=setup.memory_limit or 0))
            _forget(error)
        del reserve
        try:
            writer.send(message)
        except BaseException as error:  # e.g. an unpicklable result, or error to re-raise
            failure = (Failure.of_exception(message[1], setup.user_files)
                       if message[0] == _RERAISE else
                       Failure(FailureKind.RAISED, error=f"{error_text(error)} (its result "
                               "could not be sent back)"))
            writer.send((_FAILED, failure))
        writer.close()
    finally:
        _REAL_EXIT(0)  # no atexit handler, no thread, no finalizer of the user's delays it


def _enter(stderr: int, setup: ChildSetup) -> None:
    """Become a supervised child (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    if resource is not None:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if setup.memory_limit is not None:
            _limit_memory(setup.memory_limit)
    if setup.argv is not None:
        sys.argv = list(setup.argv)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(stderr, 2)
    os.close(devnull)
    os.close(stderr)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # the child's to its end
    dump = os.fdopen(os.dup(2), "w")
    faulthandler.enable(file=dump, all_threads=False)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=dump, all_threads=False)
    def exit_with_dump(status: int) -> None:  # os._exit says where it was called
        faulthandler.dump_traceback(file=dump, all_threads=False)
        _REAL_EXIT(status)

    os._exit = exit_with_dump  # type: ignore[assignment]


def _die_with_parent() -> None:
    """On Linux, be killed when the parent dies: only the parent enforces the time
    limit, and a parent killed outright (a Dask worker taken down, ``kill -9``) must not
    leave a hung child running for ever."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        parent = multiprocessing.parent_process()
        if parent is not None and os.getppid() != parent.pid:  # it died before the call
            os._exit(1)


def _limit_memory(limit: int) -> None:
    """At most ``limit`` more bytes of address space than the child has now."""
    soft = _address_space() + limit
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space() -> int:
    """This process's virtual memory size in bytes (0 where /proc cannot tell)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _forget(error: BaseException) -> None:
    """Release what the failed code held (a child out of memory needs it back)."""
    import traceback

    traceback.clear_frames(error.__traceback__)
    error.__traceback__ = None
