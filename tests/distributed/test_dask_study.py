"""The sensitivity study on a real Dask cluster gives the local run's sensitivity.json
(apart from timing), also when a worker is killed during the run."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from gcverify.executors import open_executor
from gcverify.sensitivity.report import study_document
from gcverify.sensitivity.study import PRESETS, run_study
from tests.distributed.cluster import running_cluster

pytestmark = pytest.mark.slow


def _without_timing(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "timing"}


@pytest.fixture(scope="module")
def local_document() -> dict[str, Any]:
    return _without_timing(study_document(run_study(PRESETS["tiny"], seed=3, jobs=2)))


def test_the_study_on_dask_is_the_local_study(local_document: dict[str, Any]) -> None:
    with running_cluster(workers=2) as cluster, \
            open_executor(scheduler=cluster.address) as dask:
        result = run_study(PRESETS["tiny"], seed=3, executor=dask)
    assert _without_timing(study_document(result)) == local_document


def test_a_worker_killed_during_the_study_changes_nothing(local_document: dict[str, Any]
                                                          ) -> None:
    with running_cluster(workers=2) as cluster, \
            open_executor(scheduler=cluster.address) as dask:
        killed = threading.Event()

        def kill_once_running(done: int, total: int) -> None:
            if done >= 4 and not killed.is_set():
                killed.set()
                cluster.kill_worker()

        result = run_study(PRESETS["tiny"], seed=3, executor=dask, progress=kill_once_running)
    assert killed.is_set()
    assert not result.lost and not result.failed_tasks
    assert _without_timing(study_document(result)) == local_document
