"""The sensitivity study's faults on a real Dask cluster (scheduler and workers as
separate processes on 127.0.0.1): a study task that kills its worker every time is left
out after a bounded number of tries and named in ``failed_tasks``; the scheduler going
away during ``gcverify sensitivity --scheduler`` is one line, exit 4 and a partial
sensitivity.json; Ctrl-C, with ``--scheduler`` or ``--executor dask``, is exit 130, a
partial sensitivity.json, and nothing of ours left running."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import gcverify.sensitivity.study as study
from gcverify.executors import open_executor
from gcverify.sensitivity.report import incomplete_lines, study_document
from gcverify.sensitivity.study import PRESETS, run_study
from tests.distributed.cluster import (
    Cluster,
    finish,
    gcverify,
    interrupt_on_a_running_cluster,
    interrupt_with_its_own_cluster,
    running_cluster,
    wait_for_progress,
)
from tests.distributed.test_dask_mutant_faults import worker_pids

# The quick preset's step networks: an interrupted study has measured fewer.
QUICK_STEPS = PRESETS["quick"].step_networks

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")
# The workers do not see the tests folder: the planted task travels by value.
cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])

# The quick preset takes minutes: every run here is stopped long before its end.
STUDY = ["sensitivity", "--preset", "quick", "--seed", "3", "--output", "study", "--progress"]
_REAL_STEPS_TASK = study._steps_task
KILLER = 2


def _kills_its_worker_on_one_network(seed: int, preset: Any, index: int) -> Any:
    if index == KILLER:
        os._exit(9)  # as a crash in native code would: the whole worker goes
    return _REAL_STEPS_TASK(seed, preset, index)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # allowed-failures=1: the scheduler gives up on a task after its worker died twice.
    with running_cluster(workers=2, allowed_failures=1) as running:
        yield running


def sensitivity_json(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "study" / "sensitivity.json").read_text())


def test_a_study_task_that_kills_its_worker_every_time_is_left_out(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    local = run_study(PRESETS["tiny"], seed=3, jobs=2)
    monkeypatch.setattr(study, "_steps_task", _kills_its_worker_on_one_network)
    with open_executor(scheduler=cluster.address) as dask:
        result = run_study(PRESETS["tiny"], seed=3, executor=dask)
    why = f"step network {KILLER}: killed its Dask worker on every try"
    assert result.failed_tasks == (why,)
    assert not result.interrupted and result.lost is None
    # Only that network is missing; every other measurement is the local study's.
    assert [s.index for s in result.measurements.steps] == [
        s.index for s in local.measurements.steps if s.index != KILLER]
    assert result.measurements.steps == tuple(
        s for s in local.measurements.steps if s.index != KILLER)
    assert result.measurements.boundary == local.measurements.boundary
    assert result.measurements.mutants == local.measurements.mutants
    assert study_document(result)["failed_tasks"] == [why]
    assert f"**1 task(s) left out**, each killed its worker on every try: {why}." in \
        incomplete_lines(result)


def test_ctrl_c_on_sensitivity_with_a_scheduler_leaves_no_task_on_the_cluster(
        cluster: Cluster, tmp_path: Path) -> None:
    cluster.wait_for_workers(2)  # the previous test's workers are back
    before = worker_pids(cluster)
    process = gcverify([*STUDY, "--scheduler", cluster.address], tmp_path)
    out, err = interrupt_on_a_running_cluster(process, cluster.address, "tasks ")
    assert process.returncode == 130, err
    document = sensitivity_json(tmp_path)
    assert document["interrupted"] is True and document["lost"] is None
    assert document["steps"]["networks"] < QUICK_STEPS
    assert worker_pids(cluster) == before


def test_the_scheduler_going_away_during_the_study_is_exit_4_with_a_partial_study(
        tmp_path: Path) -> None:
    with running_cluster(workers=1) as lost:
        process = gcverify([*STUDY, "--scheduler", lost.address], tmp_path)
        wait_for_progress(process, "tasks ")
        lost.kill_scheduler()
        out, err = finish(process, timeout=120)
    assert process.returncode == 4, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"gcverify: error: lost the Dask scheduler at {lost.address}; the reports cover "
        "what finished")
    document = sensitivity_json(tmp_path)
    assert document["lost"] == f"lost the Dask scheduler at {lost.address}"
    assert document["interrupted"] is False
    assert document["steps"]["networks"] < QUICK_STEPS
    markdown = (tmp_path / "study" / "sensitivity.md").read_text()
    assert f"**Incomplete:** lost the Dask scheduler at {lost.address}." in markdown


def test_ctrl_c_on_sensitivity_with_its_own_cluster_leaves_nothing_running(
        tmp_path: Path) -> None:
    process = gcverify([*STUDY, "--executor", "dask", "--jobs", "2"], tmp_path,
                       start_new_session=True)
    out, err = interrupt_with_its_own_cluster(process, "tasks ")
    assert process.returncode == 130, err
    assert "Traceback" not in err  # the workers got the Ctrl-C too, and ignored it
    document = sensitivity_json(tmp_path)
    assert document["interrupted"] is True and document["steps"]["networks"] < QUICK_STEPS
