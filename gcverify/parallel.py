"""Rows of a stencil computed in forked workers, each with its own copy of everything.

:func:`map_rows` splits the rows ``0..n-1`` into ``jobs`` interleaved chunks (row ``r``
goes to chunk ``r % jobs``, so costly rows, a buggy block's, spread evenly), runs the
first chunk in this process and the others in children made with ``fork``: a child
inherits the parameters, the user's callables and their state without pickling, and
changes nothing the parent sees. Each row's result depends on that row alone, so the
assembled result is the same, bit for bit, as with ``jobs=1``.

Where ``fork`` is unavailable (Windows; macOS, where forking a process that has used
Accelerate or the Objective-C runtime is unsafe) everything runs in this process. A
child that fails (an exception in the user's code) is not trusted: its chunk is run
again here, so the user sees the real exception with its traceback. An interrupt (or
any exception) in the parent ends the children it started.

>>> import numpy as np
>>> rows = lambda chunk: np.asarray(chunk, dtype=float) ** 2
>>> map_rows(rows, 5, jobs=2).tolist()
[0.0, 1.0, 4.0, 9.0, 16.0]
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["available_cores", "can_fork", "map_rows", "one_blas_thread", "resolve_jobs",
           "workers_for"]

# Workers are forked only for work expected to take this long in one process (a fork
# and the trip of the results back cost a few milliseconds).
_WORTH_FORKING_SECONDS = 0.1
# Calls per coordinate assumed when deciding that (2 to 4; most need 2).
_CALLS_PER_COORDINATE = 3


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1.

    >>> available_cores() >= 1
    True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS (OpenBLAS, MKL, ...) limited to one thread in this process, and so in the
    workers it forks, while the block runs; nothing when threadpoolctl is not installed.

    A check calls the user's forward thousands of times on small matrices, where a
    BLAS thread pool costs more than it gains (measured on 2 busy cores, a 256-128-64-1
    forward: 0.2 ms of CPU with one thread, 1.4 ms with two), and the check's own
    parallelism is its workers (``jobs``). The same limit for any ``jobs`` keeps results
    the same for any ``jobs``.

    >>> with one_blas_thread():
    ...     pass
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def resolve_jobs(jobs: int | None) -> int:
    """The number of processes ``jobs`` asks for: None means one per available core.

    >>> resolve_jobs(3), resolve_jobs(None) == available_cores()
    (3, True)
    """
    return available_cores() if jobs is None else jobs


def workers_for(rows: int, seconds_per_call: float | None, jobs: int) -> int:
    """How many processes to evaluate ``rows`` coordinates with, at most ``jobs``: one
    unless the work (timed by ``seconds_per_call``, None: not timed) is worth a fork.

    >>> workers_for(10_000, 1e-4, 2), workers_for(100, 1e-4, 2), workers_for(10**6, None, 2)
    (2, 1, 1)
    """
    if jobs <= 1 or seconds_per_call is None:
        return 1
    expected = rows * _CALLS_PER_COORDINATE * seconds_per_call
    return jobs if expected >= _WORTH_FORKING_SECONDS else 1


def can_fork() -> bool:
    """Whether workers can be forked safely here (Linux and other non-macOS POSIX)."""
    return hasattr(os, "fork") and sys.platform != "darwin" and sys.platform != "win32"


def map_rows(rows: Callable[[np.ndarray], Any], n: int, jobs: int) -> Any:
    """``rows(chunk)`` over interleaved chunks of ``range(n)``, reassembled in row order.

    ``rows`` takes an int64 array of row numbers and returns an array, or a tuple of
    arrays, whose first axis follows the chunk. With ``jobs=1`` (or no fork) it is
    simply ``rows(np.arange(n))``.
    """
    jobs = max(1, min(jobs, n))
    if jobs == 1 or not can_fork():
        return rows(np.arange(n, dtype=np.int64))
    chunks = [np.arange(j, n, jobs, dtype=np.int64) for j in range(jobs)]
    children = []
    try:
        for chunk in chunks[1:]:
            children.append(_fork(rows, chunk))
        results = [rows(chunks[0])]
        for chunk in chunks[1:]:
            pid, reader = children.pop(0)
            results.append(_collect(pid, reader, rows, chunk))
    finally:
        for pid, reader in children:          # only on an exception or an interrupt
            _end(pid, reader)
    return _assemble(results, chunks, n)


def _fork(rows: Callable[[np.ndarray], Any], chunk: np.ndarray) -> tuple[int, int]:
    reader, writer = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:                                           # the child
        os.close(reader)
        status = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)   # the parent handles Ctrl-C
            payload = pickle.dumps(("ok", rows(chunk)), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:                              # the parent runs it again
            payload, status = pickle.dumps(("failed", None)), 1
        try:
            with os.fdopen(writer, "wb") as out:
                out.write(payload)
        finally:
            os._exit(status)                               # no atexit, no buffers flushed
    os.close(writer)
    return pid, reader


def _collect(pid: int, reader: int, rows: Callable[[np.ndarray], Any],
             chunk: np.ndarray) -> Any:
    try:
        with os.fdopen(reader, "rb") as source:
            data = source.read()
    except BaseException:                                  # an interrupt while waiting
        _end(pid, None)
        raise
    os.waitpid(pid, 0)
    try:
        status, result = pickle.loads(data)
    except Exception:                                      # killed, or cut short
        status, result = "failed", None
    return result if status == "ok" else rows(chunk)


def _end(pid: int, reader: int | None) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    if reader is not None:
        try:
            os.close(reader)
        except OSError:
            pass


def _assemble(results: list[Any], chunks: list[np.ndarray], n: int) -> Any:
    if isinstance(results[0], tuple):
        return tuple(_assemble([r[k] for r in results], chunks, n)
                     for k in range(len(results[0])))
    first = np.asarray(results[0])
    out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
    for chunk, result in zip(chunks, results):
        out[chunk] = result
    return out
