"""Mutants that misbehave on a real Dask cluster (one scheduler and two workers, shared by
the module): a mutant that segfaults, loops forever or exhausts memory runs in its own
child of the worker, gets the outcome the local campaign gives it, and leaves both
workers alive (the same worker processes before and after). Ctrl-C on ``gcverify mutate
--scheduler`` exits 130 with a partial report and leaves no task of ours on the cluster."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gcverify.executors import open_executor
from gcverify.mutation import custom_mutant, mutate, notebook_target, run_campaign
from gcverify.mutation.results import Outcome
from tests.distributed.cluster import (
    Cluster,
    gcverify,
    interrupt_on_a_running_cluster,
    running_cluster,
)
from tests.distributed.test_dask_campaign import EXAMPLE, MUTATE, report

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")

# The faults, planted at the start of the notebook's backward pass (as in
# tests/faults/processes.py); each runs in the mutant's child, never in the worker.
SEGFAULT = "import ctypes\n    ctypes.string_at(0)"
LOOP = "while True:\n        pass"
ALLOCATE = "chunks = []\n    while True:\n        chunks.append(np.ones(10_000_000))"
TIME_LIMIT = 5.0
MEMORY_LIMIT = 300 * 2**20


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with running_cluster(workers=2) as running:
        yield running


def worker_pids(cluster: Cluster) -> dict[str, int]:
    """Each worker's address → the PID of its worker process (not its nanny)."""
    with distributed.Client(cluster.address, timeout=60, set_as_default=False) as client:
        return dict(client.run(os.getpid))



def planted(fault: str, description: str) -> Any:
    target = notebook_target(seed=0)
    text = target.source.text.replace("    m = X.shape[1]", f"    {fault}\n    m = X.shape[1]")
    return custom_mutant(target.source, text, description=description)


def judged(results: Any) -> dict[str, tuple[Outcome, str, str | None]]:
    return {r.mutant.description: (r.outcome, r.evidence, r.error) for r in results}


def test_mutants_that_segfault_loop_or_exhaust_memory_leave_the_workers_alive(
        cluster: Cluster) -> None:
    target = notebook_target(seed=0)
    usual = [m for m in mutate(target.source) if m.description == "dW2 × 2"]
    mutants = [planted(SEGFAULT, "segfault"), planted(LOOP, "loop"),
               planted(ALLOCATE, "allocate"), *usual]
    limits = {"time_limit": TIME_LIMIT, "memory_limit": MEMORY_LIMIT}
    before = worker_pids(cluster)
    with open_executor(scheduler=cluster.address) as dask:
        remote = run_campaign(target, examples=1, mutants=mutants, executor=dask, **limits)
    assert remote.complete and not remote.not_run and remote.lost is None
    by_description = judged(remote.results)
    assert by_description["segfault"][0] is Outcome.KILLED_BY_ERROR
    assert "killed by SIGSEGV" in by_description["segfault"][1]
    assert by_description["loop"][0] is Outcome.TIMEOUT
    assert by_description["allocate"][0] is Outcome.KILLED_BY_ERROR
    assert by_description["allocate"][2] == "ran out of memory (limit 300 MiB)"
    assert by_description["dW2 × 2"][0] is Outcome.KILLED
    # Nothing took a worker down: the same two worker processes answer.
    assert worker_pids(cluster) == before and len(before) == 2
    local = run_campaign(target, examples=1, mutants=mutants, jobs=2, **limits)
    assert by_description == judged(local.results)


def test_ctrl_c_on_mutate_with_a_scheduler_leaves_no_task_on_the_cluster(
        cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "project" / "net.py")
    before = worker_pids(cluster)
    process = gcverify([*MUTATE, "--examples", "12", "--scheduler", cluster.address,
                        "--output", "out", "--progress"], tmp_path)
    out, err = interrupt_on_a_running_cluster(process, cluster.address, "mutants ")
    assert process.returncode == 130, err
    document = report(tmp_path / "out")
    assert document["interrupted"] is True and document["lost"] is None
    assert document["summary"]["total"] >= 1 and document["not_run"]
    assert worker_pids(cluster) == before
