"""A mutation campaign's mutants on an executor (:mod:`gcverify.executors`), each in
its own supervised child of the executor's worker.

The task is the same wherever it runs: :func:`run_on_executor` hands the executor one
call per mutant (locally) or per few (on Dask), and the worker forks a child for each
mutant with its time and memory limits (:func:`~gcverify.mutation.isolation.run_isolated`),
so that a mutant that crashes, hangs or exhausts memory cannot take the worker down.

Locally the worker is itself a child forked from this process as the call starts
(:class:`~gcverify.forking_executor.ForkingExecutor`): it holds the user's imported code
already, and nothing is sent. A Dask worker holds none of it, and need not see the
user's files: the campaign's job (the user's functions, the examples, the original's
gradients, the options) travels with the tasks, pickled by value
(``cloudpickle.register_pickle_by_value`` for every module loaded from the user's
folder; installed packages travel by name and must be installed on the workers). A
task that kills its worker anyway is retried a bounded number of times, then reported.

>>> portable_namespace({"__builtins__": {}, "np": 1, "sigmoid": abs})
{'np': 1, 'sigmoid': <built-in function abs>}
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from gcverify.errors import GCVerifyError
from gcverify.executors import TaskRun, inherits_state, run_tasks
from gcverify.mutation.engine import Mutant
from gcverify.mutation.isolation import run_isolated
from gcverify.supervise import ChildReport

__all__ = ["MUTANTS_PER_TASK", "WORKER_WATCHDOG_MARGIN", "portable_namespace",
           "run_on_executor", "user_modules"]

#: Mutants per task sent to a cluster: a mutant takes some 0.1-0.3 s on the notebook's
#: network and a Dask task costs a few milliseconds to schedule
#: (benchmarks/bench_dask.py), so four keep that under 1 % without starving workers of
#: work on a 150-mutant campaign. Locally each mutant is a task of its own: a fork costs
#: about as much as scheduling, and progress and Ctrl-C go mutant by mutant.
MUTANTS_PER_TASK = 4
#: Seconds beyond the mutant's time limit after which a local worker that has not
#: reported is ended (a Dask worker, shared by threads, is the cluster's to watch).
WORKER_WATCHDOG_MARGIN = 30.0

# Module globals that describe how the module was imported here, not what its code
# uses; a worker rebuilds builtins itself.
_IMPORT_STATE = ("__builtins__", "__loader__", "__spec__", "__cached__")
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def portable_namespace(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The module globals a mutant is compiled in, without this process's import state."""
    return {name: value for name, value in namespace.items() if name not in _IMPORT_STATE}


def user_modules(namespace: Mapping[str, Any]) -> list[ModuleType]:
    """The modules loaded from the folder of the module whose globals ``namespace`` is
    (the user's file and the files beside it that it imports); none for gcverify's own
    (installed on every worker)."""
    file = namespace.get("__file__")
    if not isinstance(file, str):
        return []
    folder = Path(file).resolve().parent
    if folder.is_relative_to(_PACKAGE_ROOT):
        return []
    found = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and Path(path).resolve().parent == folder:
            found.append(module)
    return found


@contextlib.contextmanager
def _sent_by_value(modules: Sequence[ModuleType]) -> Iterator[None]:
    import cloudpickle

    registered = [m for m in modules
                  if m.__name__ not in cloudpickle.list_registry_pickle_by_value()]
    for module in registered:
        cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        for module in registered:
            cloudpickle.unregister_pickle_by_value(module)


def _check_portable(evaluate: Callable[[Mutant], Any], namespace: Mapping[str, Any]) -> None:
    """A one-line error naming the global that cannot travel, before anything is sent."""
    import cloudpickle

    try:
        cloudpickle.dumps(evaluate)
    except Exception as error:  # pickling raises many types
        culprit = ""
        for name, value in namespace.items():
            try:
                cloudpickle.dumps(value)
            except Exception:
                culprit = f": its global {name!r} ({type(value).__name__}) cannot be pickled"
                break
        raise GCVerifyError(
            f"the campaign cannot be sent to the workers{culprit or f' ({error})'}; "
            "run it on this machine (without --scheduler / --executor dask)") from None


@contextlib.contextmanager
def _children_allowed() -> Iterator[None]:
    # A Dask worker, like a child of the local executor, is a daemonic process, and
    # multiprocessing refuses children to those (they could outlive it). Each mutant's
    # child is killed with its parent (supervise: PR_SET_PDEATHSIG) and waited for, so
    # it cannot.
    process = multiprocessing.current_process()
    daemon = process.daemon
    if daemon:
        process.daemon = False
    try:
        yield
    finally:
        if daemon:
            process.daemon = True


def _run_on_worker(evaluate: Callable[[Mutant], Any], time_limit: float,
                   memory_limit: int, argv: tuple[str, ...] | None,
                   mutant: Mutant) -> ChildReport:
    """One mutant in a forked child of the worker (runs on the worker: a Dask worker, or
    the local executor's child)."""
    with _children_allowed():
        reports, _ = run_isolated(evaluate, [mutant], jobs=1, time_limit=time_limit,
                                  memory_limit=memory_limit, argv=argv)
    return reports[0]


def _run_in_local_worker(time_limit: float, task: Callable[[Mutant], ChildReport],
                         mutant: Mutant) -> ChildReport:
    """``task(mutant)`` in a child of the local executor, which SIGALRM ends should it
    hang itself before its mutant's child does: forked while a thread of the user's
    code held a lock, it could. Its one task, then, is reported as killed by error."""
    signal.alarm(math.ceil(time_limit + WORKER_WATCHDOG_MARGIN))
    try:
        return task(mutant)
    finally:
        signal.alarm(0)


def run_on_executor(executor: Executor, evaluate: Callable[[Mutant], Any],
                    mutants: Sequence[Mutant], *, namespace: Mapping[str, Any],
                    time_limit: float, memory_limit: int,
                    argv: Sequence[str] | None,
                    on_finish: Callable[[int, ChildReport], None]) -> TaskRun[ChildReport]:
    """``evaluate(mutant)`` for every mutant, each in a child of a worker of
    ``executor``; ``on_finish(index, report)`` here as each finishes.

    ``namespace`` is the user's module globals (sent to a cluster: its folder's
    modules by value); ``time_limit`` and ``memory_limit`` bound each child.
    """
    task = partial(_run_on_worker, evaluate, time_limit, memory_limit,
                   tuple(argv) if argv is not None else None)
    if inherits_state(executor):
        return run_tasks(executor, partial(_run_in_local_worker, time_limit, task),
                         list(mutants), on_result=on_finish)
    with _sent_by_value(user_modules(namespace)):
        _check_portable(evaluate, namespace)
        return run_tasks(executor, task, list(mutants), batch=MUTANTS_PER_TASK,
                         on_result=on_finish)
