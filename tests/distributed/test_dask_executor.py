"""The executor seam on a real Dask cluster (scheduler and workers as separate
processes on 127.0.0.1): the same results as on this machine, a worker killed mid-run,
a task that kills its worker every time, the scheduler going away."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from gcverify.executors import ExecutorUnavailable, open_executor, run_tasks
from tests.distributed.cluster import Cluster, free_port, running_cluster

pytestmark = pytest.mark.slow

# The workers do not see the tests folder: send this module's functions by value, as
# campaigns send the user's source.
cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _slow_square(x: int) -> int:
    time.sleep(0.05)
    return x * x


def _kills_worker_on_seven(x: int) -> int:
    if x == 7:
        os._exit(9)
    return x * x


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    with running_cluster(workers=2) as running:
        yield running


def test_the_same_results_as_the_local_pool(cluster: Cluster) -> None:
    with open_executor(jobs=2) as pool:
        local = run_tasks(pool, _slow_square, list(range(30)), batch=4)
    with open_executor(scheduler=cluster.address) as dask:
        remote = run_tasks(dask, _slow_square, list(range(30)), batch=4)
    assert remote.results == local.results and remote.complete


def test_a_worker_killed_mid_run_loses_nothing() -> None:
    with running_cluster(workers=2) as cluster, \
            open_executor(scheduler=cluster.address) as dask:
        killed = threading.Event()

        def kill_once_running(done: int, total: int) -> None:
            if done >= 6 and not killed.is_set():
                killed.set()
                cluster.kill_worker()

        run = run_tasks(dask, _slow_square, list(range(60)), batch=2,
                        progress=kill_once_running)
    assert killed.is_set() and run.complete and not run.failed
    assert run.results == [x * x for x in range(60)]


def test_a_task_that_kills_every_worker_is_reported_after_bounded_tries() -> None:
    # allowed-failures=1: the scheduler gives up on a task after its worker died twice.
    with running_cluster(workers=2, allowed_failures=1) as cluster, \
            open_executor(scheduler=cluster.address) as dask:
        run = run_tasks(dask, _kills_worker_on_seven, list(range(10)), batch=5)
    assert run.failed == {7: "killed its Dask worker on every try"}
    assert run.complete
    assert [r for i, r in enumerate(run.results) if i != 7] == [
        x * x for x in range(10) if x != 7]


def test_the_scheduler_going_away_is_a_lost_run_not_a_hang() -> None:
    with running_cluster(workers=1) as cluster, \
            open_executor(scheduler=cluster.address) as dask:
        started = time.monotonic()
        run = run_tasks(dask, _slow_square, list(range(400)), batch=1,
                        progress=lambda done, _: done == 5 and cluster.kill_scheduler())
        assert time.monotonic() - started < 30
    assert run.lost == f"lost the Dask scheduler at {cluster.address}"
    assert 0 < run.finished < 400
    assert all(r == x * x for x, r in enumerate(run.results) if r is not None)


def test_no_scheduler_at_the_address_is_one_clear_error(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    import gcverify.dask_executor as dask_executor

    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(ExecutorUnavailable, match=f"cannot reach the Dask scheduler at "
                                                  f"{address}.*dask scheduler"), \
            open_executor(scheduler=address):
        pass


def test_a_local_dask_cluster_is_started_and_stopped() -> None:
    import psutil

    before = {child.pid for child in psutil.Process().children(recursive=True)}
    with open_executor(jobs=2, executor="dask") as dask:
        run = run_tasks(dask, _slow_square, list(range(10)), batch=2)
    assert run.results == [x * x for x in range(10)]
    # (multiprocessing's resource tracker lives as long as this process, by design.)
    leftovers = [child for child in psutil.Process().children(recursive=True)
                 if child.pid not in before and child.is_running()
                 and child.status() != psutil.STATUS_ZOMBIE
                 and "resource_tracker" not in " ".join(child.cmdline())]
    assert leftovers == []
