"""The executor seam: batches, progress, Ctrl-C, a task that kills its worker, a lost
executor, bad arguments (the Dask side: tests/distributed)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any

import pytest

from gcverify.errors import GCVerifyError, InvalidArgument
from gcverify.executors import (
    ExecutorLost,
    ExecutorUnavailable,
    TaskRun,
    WorkerKilled,
    open_executor,
    run_tasks,
)


def _square(x: int) -> int:
    return x * x


def _exit_on_three(x: int) -> int:
    if x == 3:
        os._exit(9)
    return x


class _Inline(Executor):
    """Runs each submission at once; a batch holding a ``killer`` task raises
    WorkerKilled (as a task that takes its worker down would), and after ``lose_after``
    submissions every further one raises ExecutorLost."""

    def __init__(self, killer: int | None = None, lose_after: int | None = None) -> None:
        self.killer = killer
        self.lose_after = lose_after
        self.submissions: list[list[int]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        batch = list(args[1])
        self.submissions.append(batch)
        if self.lose_after is not None and len(self.submissions) > self.lose_after:
            future.set_exception(ExecutorLost("lost the scheduler"))
        elif self.killer in batch:
            future.set_exception(WorkerKilled("killed its worker on every try"))
        else:
            future.set_result(fn(*args, **kwargs))
        return future


def test_results_come_back_in_task_order_whatever_the_batch() -> None:
    with open_executor(jobs=2) as pool:
        for batch in (1, 3, 10):
            run = run_tasks(pool, _square, list(range(7)), batch=batch)
            assert run.results == [x * x for x in range(7)]
            assert run.complete and run.finished == 7 and not run.failed


def test_progress_counts_every_task_once() -> None:
    seen: list[tuple[int, int]] = []
    run_tasks(_Inline(), _square, list(range(5)), batch=2,
              progress=lambda done, total: seen.append((done, total)))
    # Batches finish in any order: one call per batch, counting up to the total.
    assert len(seen) == 3 and seen[-1] == (5, 5)
    assert [done for done, _ in seen] == sorted({done for done, _ in seen})


def test_each_result_is_handed_over_with_its_index() -> None:
    seen: dict[int, int] = {}
    run_tasks(_Inline(killer=3), _square, list(range(6)), batch=4,
              on_result=lambda index, value: seen.setdefault(index, value))
    assert seen == {0: 0, 1: 1, 2: 4, 4: 16, 5: 25}  # not the task that killed its worker


def test_ctrl_c_keeps_what_finished() -> None:
    def stop_after_first(done: int, total: int) -> None:
        raise KeyboardInterrupt

    run = run_tasks(_Inline(), _square, list(range(6)), batch=2, progress=stop_after_first)
    assert run.interrupted and not run.complete
    assert run.finished == 2  # the one batch whose progress was reported
    assert all(r == x * x for x, r in enumerate(run.results) if r is not None)


def test_only_the_task_that_kills_its_worker_is_reported() -> None:
    executor = _Inline(killer=5)
    run = run_tasks(executor, _square, list(range(8)), batch=4)
    assert run.failed == {5: "killed its worker on every try"}
    assert run.results == [0, 1, 4, 9, 16, None, 36, 49]
    assert run.complete  # every task ran; one of them failed
    # The batch holding it was run again one task at a time, and the task that failed
    # once more alone (bounded: one try each).
    assert executor.submissions == [[0, 1, 2, 3], [4, 5, 6, 7], [4], [5], [6], [7], [5]]


def test_a_lost_executor_returns_what_finished_and_says_why() -> None:
    run = run_tasks(_Inline(lose_after=2), _square, list(range(8)), batch=2)
    assert run.lost == "lost the scheduler"
    assert not run.complete and not run.interrupted
    assert run.results[:4] == [0, 1, 4, 9] and run.results[4:] == [None] * 4


def test_a_pool_whose_process_dies_is_lost_not_a_traceback() -> None:
    # Any executor may be passed in (run_study(executor=...)); the local one loses
    # only the task (tests/test_forking_executor.py).
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        run = run_tasks(pool, _exit_on_three, list(range(6)), batch=1)
    assert run.lost == "a worker process of the pool died"
    assert run.results[:3] == [0, 1, 2]


def test_a_task_that_raises_is_a_bug_and_propagates() -> None:
    with pytest.raises(ZeroDivisionError):
        run_tasks(_Inline(), lambda x: 1 // x, [1, 0])


@pytest.mark.parametrize(("arguments", "named"), [
    ({"jobs": 0}, "jobs=0"),
    ({"jobs": True}, "jobs=True"),
    ({"executor": "ray"}, "executor='ray'"),
    ({"executor": "local", "scheduler": "tcp://127.0.0.1:8786"}, "executor='local'"),
    ({"scheduler": "localhost"}, "scheduler='localhost'"),
])
def test_bad_executor_options_name_the_argument(arguments: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidArgument, match=named), open_executor(**arguments):
        pass


@pytest.mark.parametrize("batch", [0, -1, 1.5, True])
def test_a_bad_batch_names_the_argument(batch: Any) -> None:
    with pytest.raises(InvalidArgument, match="batch="):
        run_tasks(_Inline(), _square, [1], batch=batch)


def test_without_dask_the_error_says_which_extra_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gcverify.dask_executor as dask_executor

    monkeypatch.setattr(dask_executor, "dask_installed", lambda: False)
    with pytest.raises(ExecutorUnavailable) as raised, \
            open_executor(scheduler="tcp://127.0.0.1:8786"):
        pass
    assert isinstance(raised.value, GCVerifyError)
    assert str(raised.value) == ("--scheduler needs Dask, which is not installed; install it "
                                 "with: pip install 'gcverify[dask]'")


def test_task_run_counts() -> None:
    run: TaskRun[int] = TaskRun([1, None, 3], failed={1: "killed"})
    assert run.finished == 2 and run.complete


@pytest.mark.parametrize("command", ["mutate", "sensitivity"])
def test_without_dask_the_command_says_so_in_one_line(
        command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Any) -> None:
    import gcverify.dask_executor as dask_executor
    from gcverify.cli import ExitCode, main

    monkeypatch.setattr(dask_executor, "dask_installed", lambda: False)
    code = main([command, "--scheduler", "tcp://127.0.0.1:8786", "--output",
                 str(tmp_path / "out")])
    assert code == ExitCode.USAGE
    assert capsys.readouterr().err.strip().splitlines() == [
        "gcverify: error: --scheduler needs Dask, which is not installed; install it with: "
        "pip install 'gcverify[dask]'"]


@pytest.mark.parametrize("command", ["mutate", "sensitivity"])
def test_a_local_executor_with_a_scheduler_is_a_usage_error(
        command: str, capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    from gcverify.cli import ExitCode, main

    code = main([command, "--executor", "local", "--scheduler", "tcp://127.0.0.1:8786",
                 "--output", str(tmp_path / "out")])
    assert code == ExitCode.USAGE
    assert capsys.readouterr().err.strip() == (
        "gcverify: error: --executor='local' cannot use a Dask scheduler; pass --executor "
        "'dask' with a scheduler")


def _ignores_ctrl_c_and_term() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(600)


def test_a_worker_that_outlives_its_clusters_close_is_ended():
    # As a Dask worker of a cluster gcverify started, which ignores Ctrl-C: if the close
    # times out, the interpreter's exit would wait for it.
    from gcverify.dask_executor import _end_leftover_workers

    fork = multiprocessing.get_context("fork")
    stubborn = fork.Process(target=_ignores_ctrl_c_and_term, daemon=True,
                            name="Dask Worker process (from Nanny)")
    other = fork.Process(target=time.sleep, args=(600,), daemon=True, name="not Dask's")
    stubborn.start()
    other.start()
    try:
        _end_leftover_workers()
        assert not stubborn.is_alive() and stubborn.exitcode == -signal.SIGKILL
        assert other.is_alive()                 # only Dask's workers are ended
    finally:
        other.kill()
        other.join()
