"""A Dask cluster behind the :class:`concurrent.futures.Executor` interface of
:mod:`gcverify.executors` (the optional extra ``gcverify[dask]``).

:func:`dask_executor` connects to a running scheduler (``scheduler="tcp://HOST:PORT"``)
or starts a ``LocalCluster`` of ``workers`` single-threaded worker processes, and
yields an executor whose futures speak gcverify's language: a task whose worker died on
every try (Dask's ``KilledWorker``, after the scheduler's ``allowed-failures`` retries)
raises :class:`~gcverify.executors.WorkerKilled`; tasks cancelled because the scheduler
went away raise :class:`~gcverify.executors.ExecutorLost`. Dask's own log lines are
kept off the terminal (gcverify says what went wrong in one line). On exit the client
is closed, and a cluster started here is stopped with nothing left running.

Tasks are pickled with cloudpickle: workers need the packages the tasks import
(numpy, gcverify, and what the user's code imports), not the user's files (campaigns
send the source with the tasks; a module registered with
``cloudpickle.register_pickle_by_value`` travels by value).

>>> with dask_executor(workers=1) as executor:          # doctest: +SKIP
...     executor.submit(abs, -2).result()
2
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
import signal
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Executor, Future, InvalidStateError
from typing import Any

from gcverify.executors import ExecutorLost, ExecutorUnavailable, WorkerKilled
from gcverify.parallel import available_cores

__all__ = ["CONNECT_TIMEOUT", "DaskExecutor", "dask_executor", "dask_installed"]

#: Seconds to wait for a scheduler to answer and for its first worker to join.
CONNECT_TIMEOUT = 10.0
#: Seconds the client keeps trying to reach a scheduler that went away, before its
#: tasks count as lost.
_RECONNECT = 5.0
_LOGGERS = ("distributed", "tornado", "asyncio")


def dask_installed() -> bool:
    """Whether ``dask.distributed`` can be imported.

    >>> isinstance(dask_installed(), bool)
    True
    """
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


class DaskExecutor(Executor):
    """``client`` as an executor, with Dask's failures translated (see the module)."""

    def __init__(self, client: Any, address: str) -> None:
        self._client = client
        self._submitted: weakref.WeakSet[Any] = weakref.WeakSet()
        self._shut_down = False
        self.address = address

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        import cloudpickle

        if self._shut_down:
            raise RuntimeError("cannot submit tasks to a DaskExecutor after its shutdown")

        # Dask pickles a task with pickle first, which sends functions by reference;
        # cloudpickle sends those of modules registered by value (a user's file that
        # the workers cannot import) by value, however deep they sit in the task.
        payload = cloudpickle.dumps((fn, args, kwargs))
        inner = self._client.submit(_call_pickled, payload, pure=False)
        self._submitted.add(inner)
        outer: Future[Any] = Future()

        def forward_cancel(done: Future[Any]) -> None:
            if done.cancelled():
                inner.cancel()

        outer.add_done_callback(forward_cancel)
        # Not Dask's ClientExecutor: it reads the task's status after fetching its
        # result, and a worker dying in between (the result lost, to be computed
        # again) turned a finished task into a garbled error (measured in CI).
        inner.add_done_callback(lambda done: _relay(done, outer, self.address))
        return outer

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shut_down = True
        submitted = list(self._submitted)
        if cancel_futures or not wait:
            self._client.cancel(submitted)
        elif submitted:
            from distributed import wait as wait_for

            # Our client is not Dask's default one; a cancelled task has ended too.
            with self._client.as_current(), contextlib.suppress(CancelledError):
                wait_for(submitted)


def _relay(done: Any, outer: Future[Any], address: str) -> None:
    """Give ``outer`` the outcome of the Dask future ``done`` (in Dask's callback
    thread): its result, fetched again if a worker death lost it, or its error.

    Only a task that ended in error (Dask's final status "error") passes its exception
    on: a fetch that fails otherwise (the scheduler going away mid-fetch) means the
    executor was lost, not that the task raised.
    """
    from distributed import KilledWorker

    if outer.cancelled():               # nobody waits for it (Ctrl-C): fetch nothing
        return
    lost = ExecutorLost(f"lost the Dask scheduler at {address}")
    try:
        value = done.result()
    except KilledWorker:
        _settle(outer, error=WorkerKilled("killed its Dask worker on every try"))
    except CancelledError:
        _settle(outer, error=lost)
    except Exception as error:
        _settle(outer, error=error if done.status == "error" else lost)
    else:
        _settle(outer, value)


def _settle(outer: Future[Any], value: Any = None, *, error: BaseException | None = None
            ) -> None:
    # The caller may cancel ``outer`` at any moment (Ctrl-C): then nobody wants it.
    with contextlib.suppress(InvalidStateError):
        if error is not None:
            outer.set_exception(error)
        else:
            outer.set_result(value)


def _call_pickled(payload: bytes) -> Any:
    function, args, kwargs = pickle.loads(payload)
    return function(*args, **kwargs)


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask logs reconnection attempts and worker deaths as it handles them; gcverify
    reports what matters in its own words, so these stay off the terminal."""
    # Dask's configuration gives its modules' loggers levels of their own: quiet each.
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name.split(".")[0] in _LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _missing_dask(argument: str) -> ExecutorUnavailable:
    return ExecutorUnavailable(f"{argument} needs Dask, which is not installed; "
                               "install it with: pip install 'gcverify[dask]'")


@contextlib.contextmanager
def dask_executor(*, scheduler: str | None = None,
                  workers: int | None = None) -> Iterator[DaskExecutor]:
    """An executor on the Dask cluster at ``scheduler``, or on a local cluster of
    ``workers`` processes (default: the usable cores) started here and stopped on exit."""
    if not dask_installed():
        raise _missing_dask("--scheduler" if scheduler is not None else "--executor dask")
    import dask
    from distributed import Client, LocalCluster

    with _quiet_dask(), dask.config.set({"distributed.comm.timeouts.connect": CONNECT_TIMEOUT}):
        cluster = None
        if scheduler is None:
            cluster = LocalCluster(n_workers=workers or available_cores(), threads_per_worker=1,
                                   processes=True, dashboard_address=None,
                                   # no dashboard, and its HTTP server on a free port
                                   # (8787 may be another scheduler's)
                                   scheduler_kwargs={"dashboard": False,
                                                     "dashboard_address": "127.0.0.1:0"},
                                   host="127.0.0.1", silence_logs=logging.CRITICAL)
        address = scheduler or cluster.scheduler_address  # type: ignore[union-attr]
        try:
            client = _connect(Client, cluster or address, address)
        except BaseException:
            if cluster is not None:
                cluster.close()
            raise
        try:
            if cluster is not None:
                client.register_plugin(_ctrl_c_ignored(), name="gcverify-ignores-ctrl-c")
            yield DaskExecutor(client, address)
        finally:
            _close(client, cluster)


def _ctrl_c_ignored() -> Any:
    """A worker plugin that makes a worker process ignore SIGINT, for the clusters
    started here: their workers share the terminal's process group, so Ctrl-C reaches
    them too, and each printed the traceback of its KeyboardInterrupt under gcverify's
    report. gcverify stops them itself (it cancels its tasks and closes the cluster)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class IgnoreCtrlC(WorkerPlugin):
        def setup(self, worker: Any) -> None:
            # Dask runs setup on the worker's event loop, in its main thread: the only
            # one that may set a signal handler (elsewhere, leave the handler as it is).
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGINT, signal.SIG_IGN)

    return IgnoreCtrlC()


def _connect(client_class: Any, target: Any, address: str) -> Any:
    # The client's timeout is also how long it tries to reconnect to a scheduler that
    # went away (its tasks are cancelled at once, and then it closes): keep that short,
    # and try to connect again until CONNECT_TIMEOUT instead.
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        try:
            client = client_class(target, timeout=_RECONNECT, set_as_default=False)
            break
        except (OSError, TimeoutError):
            if time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            raise ExecutorUnavailable(
                f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT:g} s; "
                f"start one with: dask scheduler, then workers with: dask worker {address}"
            ) from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError):
        client.close()
        raise ExecutorUnavailable(
            f"the Dask scheduler at {address} has no workers after {CONNECT_TIMEOUT:g} s; "
            f"start some with: dask worker {address}") from None
    return client


def _close(client: Any, cluster: Any) -> None:
    # Cancel what is left (Ctrl-C) so that no task of ours outlives us on the cluster.
    with contextlib.suppress(Exception):
        client.cancel(list(client.futures.values()), force=True)
    with contextlib.suppress(Exception):
        client.close(timeout=_RECONNECT)
    # A client that lost its scheduler closes itself when it gives up reconnecting;
    # wait for that, so that its last words fall while Dask's logs are still quiet.
    deadline = time.monotonic() + _RECONNECT + 1
    while client.status != "closed" and time.monotonic() < deadline:
        time.sleep(0.1)
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close(timeout=_RECONNECT)
        _end_leftover_workers()


# How distributed's Nanny names the process of each worker it starts.
_WORKER_PROCESS = "Dask Worker process"


def _end_leftover_workers() -> None:
    """Kill the worker processes of the cluster started here that outlived its close.
    They ignore SIGINT, so a close that timed out (a Ctrl-C while the cluster was still
    busy starting or stopping) leaves them running, and the interpreter's exit, which
    joins its children, would wait for them: once seen in CI, the command hung after its
    reports were written. (Dask names them; no other child is touched.)"""
    for child in multiprocessing.active_children():
        if not child.name.startswith(_WORKER_PROCESS):
            continue
        with contextlib.suppress(Exception):
            child.kill()
            child.join(timeout=_RECONNECT)
