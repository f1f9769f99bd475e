"""The local campaign through the executor seam: one task per mutant on the local
executor, a mutant that kills its worker process reported (not a lost run), Ctrl-C
killing the mutants that run (the Dask side: tests/distributed)."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from gcverify.forking_executor import ForkingExecutor
from gcverify.mutation import custom_mutant, mutate, notebook_target, run_campaign
from gcverify.mutation.results import Outcome


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


def test_ctrl_c_kills_the_mutants_running_and_keeps_what_finished() -> None:
    target = notebook_target(seed=0)
    loop = _planted("while True:\n        pass", "loops")

    def stop_after_the_first(done: int, total: int, result: Any) -> None:
        raise KeyboardInterrupt

    started = time.monotonic()
    result = run_campaign(target, examples=1, mutants=[*_usual("dW2 × 2"), loop, loop],
                          jobs=2, time_limit=120, progress=stop_after_the_first)
    assert time.monotonic() - started < 60  # not the loop's time limit
    assert result.interrupted
    assert [r.mutant.description for r in result.results] == ["dW2 × 2"]
    assert [m.description for m in result.not_run] == ["loops", "loops"]
    assert multiprocessing.active_children() == []
