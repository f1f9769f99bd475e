"""How a Dask future's outcome reaches the executor's future, without a cluster: a stub
future whose ``result()`` returns or raises, with the status Dask would give it."""

from __future__ import annotations

from concurrent.futures import CancelledError, Future

import pytest

from gcverify.executors import ExecutorLost, WorkerKilled

distributed = pytest.importorskip("distributed")
from gcverify.dask_executor import _relay  # noqa: E402


class StubDaskFuture:
    def __init__(self, status: str, value: object = None, error: BaseException | None = None):
        self.status, self.value, self.error, self.fetched = status, value, error, 0

    def result(self) -> object:
        self.fetched += 1
        if self.error is not None:
            raise self.error
        return self.value

    def cancelled(self) -> bool:
        return self.status == "cancelled"


def relayed(done: StubDaskFuture) -> Future:
    outer: Future = Future()
    _relay(done, outer, "tcp://127.0.0.1:1")
    return outer


def test_a_result_is_passed_on():
    assert relayed(StubDaskFuture("finished", [1, 4])).result() == [1, 4]


def test_a_task_that_killed_its_worker_on_every_try_is_worker_killed():
    killed = distributed.KilledWorker("task", None, 3)
    outer = relayed(StubDaskFuture("error", error=killed))
    with pytest.raises(WorkerKilled, match="killed its Dask worker on every try"):
        outer.result()


def test_a_cancelled_task_means_the_scheduler_was_lost():
    outer = relayed(StubDaskFuture("cancelled", error=CancelledError()))
    with pytest.raises(ExecutorLost, match=r"lost the Dask scheduler at tcp://127\.0\.0\.1:1"):
        outer.result()


def test_the_tasks_own_error_is_passed_on_as_it_is():
    error = ZeroDivisionError("in the user's code")
    with pytest.raises(ZeroDivisionError) as raised:
        relayed(StubDaskFuture("error", error=error)).result()
    assert raised.value is error


@pytest.mark.parametrize("status", ["finished", "lost", "pending"])
def test_a_fetch_that_fails_for_a_task_that_did_not_raise_is_a_lost_executor(status):
    # The scheduler went away while the result was being fetched.
    outer = relayed(StubDaskFuture(status, error=OSError("connection closed")))
    with pytest.raises(ExecutorLost):
        outer.result()


def test_nothing_is_fetched_for_a_future_nobody_waits_for():
    outer: Future = Future()
    outer.cancel()
    done = StubDaskFuture("finished", 9)
    _relay(done, outer, "tcp://127.0.0.1:1")
    assert done.fetched == 0 and outer.cancelled()
