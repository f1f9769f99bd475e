"""The local campaign through the executor seam: one task per mutant on the local
executor, a mutant that kills its worker process reported (not a lost run), Ctrl-C
killing the mutants that run (the Dask side: tests/distributed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gcverify.forking_executor import ForkingExecutor
from gcverify.mutation import custom_mutant, dispatch, mutate, notebook_target, run_campaign
from gcverify.mutation.results import Outcome
from tests.process_state import running


class _Counting(ForkingExecutor):
    """The local executor, counting the calls submitted to it."""

    def __init__(self, jobs: int) -> None:
        super().__init__(jobs)
        self.calls = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return super().submit(fn, *args, **kwargs)


def _planted(code: str, description: str) -> Any:
    target = notebook_target(seed=0)
    text = target.source.text.replace("    m = X.shape[1]", f"    {code}\n    m = X.shape[1]")
    return custom_mutant(target.source, text, description=description)


def _usual(*descriptions: str) -> list[Any]:
    mutants = mutate(notebook_target(seed=0).source)
    return [m for m in mutants if m.description in descriptions]


def test_each_mutant_is_one_task_of_the_executor_with_the_default_result() -> None:
    target = notebook_target(seed=0)
    mutants = _usual("dW2 × 2", "dW2 × −1", "db1 × 4")
    assert len(mutants) == 3
    with _Counting(jobs=2) as executor:
        given = run_campaign(target, examples=2, mutants=mutants, executor=executor)
    default = run_campaign(target, examples=2, mutants=mutants, jobs=2)
    assert executor.calls == len(mutants)
    assert [(r.mutant.id, r.outcome, r.evidence) for r in given.results] == \
        [(r.mutant.id, r.outcome, r.evidence) for r in default.results]
    assert given.complete and all(r.outcome is Outcome.KILLED for r in given.results)


def test_a_mutant_that_kills_its_worker_process_is_killed_by_error_after_one_retry() -> None:
    target = notebook_target(seed=0)
    killer = _planted("import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)",
                      "kills its worker")
    with _Counting(jobs=2) as executor:
        result = run_campaign(target, examples=1, mutants=[killer, *_usual("dW2 × 2")],
                              executor=executor)
    assert result.complete and result.lost is None and not result.not_run
    by_description = {r.mutant.description: r for r in result.results}
    assert by_description["dW2 × 2"].outcome is Outcome.KILLED
    reported = by_description["kills its worker"]
    assert reported.outcome is Outcome.KILLED_BY_ERROR
    assert reported.error == "the mutant killed its worker process, which was killed by SIGKILL"
    assert executor.calls == 3  # the killer ran twice: once more alone


def test_ctrl_c_kills_the_mutants_running_and_keeps_what_finished(tmp_path: Path) -> None:
    target = notebook_target(seed=0)
    loop = _planted(f"import os\n    open(os.path.join({str(tmp_path)!r}, str(os.getpid())), "
                    "'w').close()\n    while True:\n        pass", "loops")

    def stop_once_the_loops_run(done: int, total: int, result: Any) -> None:
        _wait_for(lambda: len(list(tmp_path.iterdir())) == 2)
        raise KeyboardInterrupt

    started = time.monotonic()
    result = run_campaign(target, examples=1, mutants=[loop, loop, *_usual("dW2 × 2")],
                          jobs=3, time_limit=120, progress=stop_once_the_loops_run)
    assert time.monotonic() - started < 60  # not the loops' time limit
    assert result.interrupted
    assert [r.mutant.description for r in result.results] == ["dW2 × 2"]
    assert [m.description for m in result.not_run] == ["loops", "loops"]
    mutant_processes = [int(path.name) for path in tmp_path.iterdir()]
    _wait_for(lambda: not any(map(running, mutant_processes)))


def test_a_local_worker_that_hangs_itself_is_ended_and_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # As if it had been forked while a thread of the user's held a lock it needs.
    monkeypatch.setattr(dispatch, "run_isolated", lambda *args, **kwargs: time.sleep(600))
    monkeypatch.setattr(dispatch, "WORKER_WATCHDOG_MARGIN", 0.5)
    with ForkingExecutor(jobs=1) as executor:
        run = dispatch.run_on_executor(executor, abs, [-1], namespace={}, time_limit=1.0,
                                       memory_limit=2**30, argv=None,
                                       on_finish=lambda index, report: None)
    assert run.failed == {0: "killed its worker process, which was killed by SIGALRM"}


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    stop = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < stop, "timed out"
        time.sleep(0.02)
