"""The local executor: one child forked per call as it starts, at most ``jobs`` at a
time; exceptions come back, a dead child fails only its call, cancelling and Ctrl-C
kill what runs, and no thread is involved."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from gcverify import forking_executor
from gcverify.errors import InvalidArgument
from gcverify.executors import (
    WorkerKilled,
    inherits_state,
    local_executor,
    open_executor,
    run_tasks,
)
from gcverify.forking_executor import ForkingExecutor
from gcverify.interrupts import catching_interrupts
from tests.process_state import running

_STATE = {"value": "before"}


def _read_state(_: object) -> str:
    return _STATE["value"]


def _span(seconds: float) -> tuple[int, float, float]:
    started = time.monotonic()
    time.sleep(seconds)
    return os.getpid(), started, time.monotonic()


def _sleep_after_writing_pid(folder: str) -> None:
    (Path(folder) / f"{os.getpid()}.pid").write_text("")
    time.sleep(60)


def _exit_on_three(x: int) -> int:
    if x == 3:
        os._exit(9)
    return x


def _pids(folder: Path, count: int, timeout: float = 20.0) -> list[int]:
    stop = time.monotonic() + timeout
    while len(found := sorted(folder.glob("*.pid"))) < count and time.monotonic() < stop:
        time.sleep(0.02)
    assert len(found) >= count, f"only {len(found)} of {count} children started"
    return [int(path.stem) for path in found]


def test_each_call_runs_in_a_fresh_child_forked_when_it_starts() -> None:
    with ForkingExecutor(jobs=2) as executor:
        spans = [executor.submit(_span, 0.0) for _ in range(4)]
        _STATE["value"] = "after submitting"  # the children start when waited on
        try:
            seen = executor.submit(_read_state, None).result()
        finally:
            _STATE["value"] = "before"
        pids = {future.result()[0] for future in spans}
    assert seen == "after submitting"
    assert len(pids) == 4 and os.getpid() not in pids


def test_at_most_jobs_children_run_at_once_and_they_do_run_together() -> None:
    with ForkingExecutor(jobs=2) as executor:
        futures = [executor.submit(_span, 0.3) for _ in range(6)]
        spans = [future.result() for future in futures]
    events = sorted([(start, 1) for _, start, _ in spans] + [(end, -1) for *_, end in spans])
    running, most = 0, 0
    for _, change in events:
        running += change
        most = max(most, running)
    assert most == 2


def test_an_exception_comes_back_as_it_was_raised() -> None:
    with ForkingExecutor(jobs=1) as executor:
        future = executor.submit(int, "x")
        with pytest.raises(ValueError, match="invalid literal"):
            future.result()
        assert isinstance(future.exception(), ValueError)


def test_a_call_that_ends_its_child_fails_only_itself() -> None:
    with local_executor(jobs=1) as executor:
        run = run_tasks(executor, _exit_on_three, list(range(6)), batch=1)
    assert run.failed == {3: "killed its worker process, which exited with code 9"}
    assert run.results == [0, 1, 2, None, 4, 5]
    assert run.complete and run.lost is None


def test_a_dead_child_is_worker_killed_for_its_future() -> None:
    with ForkingExecutor(jobs=1) as executor:
        with pytest.raises(WorkerKilled, match="was killed by SIGKILL"):
            executor.submit(_kill_self).result()


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_cancelling_a_running_call_kills_its_child(tmp_path: Path) -> None:
    executor = ForkingExecutor(jobs=1)
    future = executor.submit(_sleep_after_writing_pid, str(tmp_path))
    assert executor.wait_first([future], timeout=0.01) == set()  # started, not done
    (pid,) = _pids(tmp_path, 1)
    assert future.running()
    assert future.cancel() and future.cancelled()
    assert not running(pid)
    executor.shutdown()


def test_leaving_on_an_exception_kills_the_children_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="a bug"), ForkingExecutor(jobs=2) as executor:
        futures = [executor.submit(_sleep_after_writing_pid, str(tmp_path)) for _ in range(3)]
        executor.wait_first(futures, timeout=0.01)
        pids = _pids(tmp_path, 2)
        raise RuntimeError("a bug")
    assert time.monotonic() - started < 20
    assert not any(running(pid) for pid in pids)
    assert all(future.cancelled() for future in futures)  # the queued third one too


def test_shutdown_waiting_runs_the_queue_to_the_end() -> None:
    executor = ForkingExecutor(jobs=1)
    futures = [executor.submit(abs, -x) for x in range(3)]
    executor.shutdown(wait=True)
    assert [future.result() for future in futures] == [0, 1, 2]
    with pytest.raises(RuntimeError, match="after its shutdown"):
        executor.submit(abs, 1)


def test_ctrl_c_stops_the_run_and_kills_the_children_running(tmp_path: Path) -> None:
    def interrupt_once_both_run() -> None:
        _pids(tmp_path, 2)
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Thread(target=interrupt_once_both_run)
    with catching_interrupts(), local_executor(jobs=2) as executor:
        timer.start()
        started = time.monotonic()
        run = run_tasks(executor, _sleep_after_writing_pid, [str(tmp_path)] * 4)
        elapsed = time.monotonic() - started
    timer.join()
    assert run.interrupted and run.finished == 0
    assert elapsed < 30
    assert not any(running(pid) for pid in _pids(tmp_path, 2))


def test_map_works_as_on_any_executor() -> None:
    with ForkingExecutor(jobs=2) as executor:
        assert list(executor.map(abs, [-1, -2, -3])) == [1, 2, 3]


def test_the_local_executor_inherits_state_and_is_the_default() -> None:
    with local_executor(jobs=1) as executor:
        assert isinstance(executor, ForkingExecutor) and inherits_state(executor)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_bad_jobs_name_the_argument(jobs: object) -> None:
    with pytest.raises(InvalidArgument, match="jobs="):
        ForkingExecutor(jobs)  # type: ignore[arg-type]


def test_the_local_executor_is_open_executors_default_and_has_no_thread() -> None:
    threads = threading.active_count()
    with open_executor(jobs=2) as executor:
        futures = [executor.submit(_span, 0.05) for _ in range(4)]
        assert isinstance(executor, ForkingExecutor)
        executor.wait_first(futures)
        assert threading.active_count() == threads
        assert all(future.result() for future in futures)


def test_a_call_that_exits_is_a_bug_raised_not_a_killed_worker() -> None:
    with ForkingExecutor(jobs=1) as executor:
        with pytest.raises(RuntimeError, match=r"the call called sys.exit\(3\)"):
            executor.submit(sys.exit, 3).result()


def test_a_fork_that_fails_fails_its_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_more_processes(*args: object) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(forking_executor.Child, "start", no_more_processes)
    with ForkingExecutor(jobs=1) as executor:
        with pytest.raises(BlockingIOError):
            executor.submit(abs, -1).result(timeout=10)


def test_waiting_for_a_future_it_does_not_hold_says_so() -> None:
    with ForkingExecutor(jobs=1) as executor, pytest.raises(RuntimeError, match="can finish"):
        executor.wait_first([Future()])


def test_ctrl_c_during_a_waiting_shutdown_still_kills_everything(tmp_path: Path) -> None:
    executor = ForkingExecutor(jobs=2)
    futures = [executor.submit(_sleep_after_writing_pid, str(tmp_path)) for _ in range(3)]
    executor.wait_first(futures, timeout=0.01)
    pids = _pids(tmp_path, 2)
    interrupter = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    with catching_interrupts(), pytest.raises(KeyboardInterrupt):
        interrupter.start()
        executor.shutdown(wait=True)
    interrupter.join()
    assert not any(running(pid) for pid in pids)
    assert all(future.cancelled() for future in futures)


def test_run_tasks_keeps_two_calls_per_child_in_flight() -> None:
    class Counting(ForkingExecutor):
        def __init__(self, jobs: int) -> None:
            super().__init__(jobs)
            self.futures: list[Future[object]] = []
            self.most = 0

        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            self.most = max(self.most, sum(not f.done() for f in self.futures) + 1)
            self.futures.append(super().submit(fn, *args, **kwargs))
            return self.futures[-1]

    with Counting(jobs=2) as executor:
        run = run_tasks(executor, abs, list(range(-40, 0)))
    assert run.results == list(range(40, 0, -1))
    assert executor.most == 4


def test_a_bug_propagating_from_run_tasks_kills_the_calls_running(tmp_path: Path) -> None:
    def bug(index: int, value: object) -> None:
        raise ValueError("a bug in on_result")

    tasks: list[object] = [None, *[str(tmp_path)] * 2]
    with ForkingExecutor(jobs=3) as executor, pytest.raises(ValueError, match="a bug"):
        run_tasks(executor, _sleep_unless_none, tasks, on_result=bug)
    assert not any(running(pid) for pid in _pids(tmp_path, 2))


def _sleep_unless_none(folder: str | None) -> None:
    if folder is not None:
        _sleep_after_writing_pid(folder)
    else:
        time.sleep(1.0)  # finishes once the sleepers have started
