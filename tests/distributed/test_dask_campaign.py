"""``gcverify mutate`` and ``gcverify sensitivity`` on a real Dask cluster (scheduler and
workers as separate processes on 127.0.0.1): the same reports as the local run, also
when a worker is killed during the run; a mutant that kills its worker every time; the
scheduler going away; Ctrl-C with a cluster gcverify started itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gcverify.executors import open_executor
from gcverify.mutation import custom_mutant, mutate, notebook_target, run_campaign
from gcverify.mutation.results import Outcome
from tests.distributed.cluster import (
    finish,
    gcverify,
    interrupt_with_its_own_cluster,
    running_cluster,
    wait_for_progress,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "notebook_style.py"
# The user's project lives in a folder the workers never see.
MUTATE = ["mutate", "project/net.py", "--forward", "forward_propagation", "--backward",
          "backward_propagation", "--case", "make_case", "--seed", "7", "--examples", "3"]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "project").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "project" / "net.py")
    return tmp_path




def report(folder: Path, name: str = "report.json") -> dict[str, Any]:
    document = json.loads((folder / name).read_text())
    document.pop("timing")
    return document



@pytest.fixture(scope="module")
def local_reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The local runs everything here is compared with: a campaign and a study."""
    folder = tmp_path_factory.mktemp("local")
    (folder / "project").mkdir()
    shutil.copy(EXAMPLE, folder / "project" / "net.py")
    finish(gcverify([*MUTATE, "--output", "campaign"], folder))
    finish(gcverify(["sensitivity", "--preset", "tiny", "--seed", "3", "--output", "study"],
                    folder))
    return folder / "campaign", folder / "study"


def test_mutate_on_dask_writes_the_local_report(project: Path,
                                                local_reports: tuple[Path, Path]) -> None:
    with running_cluster(workers=2) as cluster:
        out, err = finish(gcverify([*MUTATE, "--scheduler", cluster.address,
                                    "--output", "out"], project))
    assert "Survivors: none." in out, err
    assert report(project / "out") == report(local_reports[0])


def test_mutate_with_a_worker_killed_mid_run_writes_the_same_report(
        project: Path, local_reports: tuple[Path, Path]) -> None:
    with running_cluster(workers=2) as cluster:
        process = gcverify([*MUTATE, "--scheduler", cluster.address, "--output", "out",
                            "--progress"], project)
        wait_for_progress(process, "mutants ")
        cluster.kill_worker()
        out, err = finish(process)
    assert process.returncode == 0, err
    assert report(project / "out") == report(local_reports[0])


def test_sensitivity_on_dask_writes_the_local_study(project: Path,
                                                    local_reports: tuple[Path, Path]) -> None:
    with running_cluster(workers=2) as cluster:
        process = gcverify(["sensitivity", "--preset", "tiny", "--seed", "3", "--scheduler",
                            cluster.address, "--output", "study", "--progress"], project)
        wait_for_progress(process, "tasks ")
        cluster.kill_worker()
        out, err = finish(process)
    assert process.returncode == 0, err
    assert report(project / "study", "sensitivity.json") == report(
        local_reports[1], "sensitivity.json")


def test_a_mutant_that_kills_its_worker_is_killed_by_error_after_bounded_tries() -> None:
    target = notebook_target(seed=0)
    killer = custom_mutant(target.source, target.source.text.replace(
        "    m = X.shape[1]", "    m = X.shape[1]\n    import os, signal\n"
        "    os.kill(os.getppid(), signal.SIGKILL)"))
    usual = [m for m in mutate(target.source) if m.description == "dW2 × 2"]
    with running_cluster(workers=2, allowed_failures=1) as cluster, \
            open_executor(scheduler=cluster.address) as dask:
        result = run_campaign(target, examples=2, mutants=[killer, *usual], executor=dask)
    by_id = {r.mutant.id: r for r in result.results}
    assert by_id[killer.id].outcome is Outcome.KILLED_BY_ERROR
    assert "killed its Dask worker on every try" in by_id[killer.id].evidence
    assert by_id[usual[0].id].outcome is Outcome.KILLED
    assert result.complete and not result.not_run


def test_the_scheduler_going_away_is_exit_4_with_a_partial_report(project: Path) -> None:
    with running_cluster(workers=1) as cluster:
        process = gcverify([*MUTATE, "--examples", "12", "--scheduler", cluster.address,
                            "--output", "out", "--progress", "--jobs", "1"], project)
        wait_for_progress(process, "mutants ")
        cluster.kill_scheduler()
        out, err = finish(process, timeout=120)
    assert process.returncode == 4, err
    last = err.strip().splitlines()[-1]
    assert last == (f"gcverify: error: lost the Dask scheduler at {cluster.address}; the "
                    "reports cover what finished")
    document = report(project / "out")
    assert document["lost"] == f"lost the Dask scheduler at {cluster.address}"
    assert document["interrupted"] is False and document["not_run"]
    assert document["summary"]["total"] == len(document["mutants"]) >= 1
    assert "Stopped (lost the Dask scheduler" in (project / "out" / "report.md").read_text()


def test_ctrl_c_on_a_cluster_gcverify_started_leaves_nothing_running(project: Path) -> None:
    process = gcverify([*MUTATE, "--examples", "12", "--executor", "dask", "--jobs", "2",
                        "--output", "out", "--progress"], project, start_new_session=True)
    out, err = interrupt_with_its_own_cluster(process, "mutants ")
    assert process.returncode == 130, err
    assert "Traceback" not in err  # the workers got the Ctrl-C too, and ignored it
    assert report(project / "out")["interrupted"] is True
