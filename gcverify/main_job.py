"""The main job, as a library call: replay the notebook, sweep the property over generated
networks, run the mutation campaign on the notebook's backprop, and a short sensitivity
study (preset ``tiny``: how small an error five checkers' rules catch).

``gcverify run`` prints :class:`MainJob`'s steps and writes the campaign's and the
study's reports.
Ctrl-C at any step ends the job there with what finished: the steps that ran, the
sweep's networks so far, and a campaign that says it was interrupted (every mutant
not run, if it had not started).

The example takes half a minute, so the doctests skip it; tests/test_cli.py runs the
same job through ``gcverify run`` and checks its steps.

>>> job = run_main_job(networks=5, examples=1, jobs=2)     # doctest: +SKIP
>>> [step.name for step in job.steps]                      # doctest: +SKIP
['notebook replayed', 'property sweep (5 networks)', 'mutation campaign (... mutants)',
 'sensitivity study (preset tiny)']
>>> job.passed, job.interrupted                            # doctest: +SKIP
(True, False)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gcverify.interrupts import (
    catching_interrupts,
    check_interrupt,
    deferred_interrupts,
    interrupted,
)
from gcverify.mutation.campaign import DEFAULT_EXAMPLES, run_campaign, unstarted_campaign
from gcverify.mutation.results import CampaignResult, MutantResult
from gcverify.mutation.targets import notebook_target
from gcverify.replay import NotebookReplay, replay_notebook
from gcverify.sensitivity.study import PRESETS, StudyResult, run_study
from gcverify.sweep import SweepResult, sweep_correct_backprop

__all__ = ["MainJob", "Step", "run_main_job"]


@dataclass(frozen=True)
class Step:
    """One step of the main job: its name, whether it went as it should, what it found."""

    name: str
    ok: bool
    outcome: str
    seconds: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class MainJob:
    """The four steps and their results (``replay``, ``sweep`` and ``study`` are None when
    Ctrl-C came before they finished; ``campaign`` is always there, maybe interrupted)."""

    replay: NotebookReplay | None
    sweep: SweepResult | None
    campaign: CampaignResult
    steps: tuple[Step, ...]
    interrupted: bool = False
    study: StudyResult | None = None

    @property
    def passed(self) -> bool:
        """The notebook reproduced, no correct backprop failed, no mutant survived,
        gcverify's rule had no false alarm and missed no mutant in the study, and nothing
        was interrupted."""
        return all(step.ok for step in self.steps) and not self.interrupted


def run_main_job(*, networks: int = 200, examples: int = DEFAULT_EXAMPLES, seed: int = 0,
                 jobs: int | None = None, memory_limit: int | None = None,
                 progress: Callable[[int, int, MutantResult], None] | None = None,
                 on_phase: Callable[[str], None] | None = None) -> MainJob:
    """Run the four steps; ``seed`` seeds the sweep, the campaign's examples and the
    study; ``on_phase(text)`` is told when each step starts."""
    def phase(text: str) -> None:
        if on_phase is not None:
            on_phase(text)

    steps: list[Step] = []
    replay: NotebookReplay | None = None
    sweep: SweepResult | None = None
    campaign: CampaignResult | None = None
    study: StudyResult | None = None
    target = notebook_target(seed)
    with catching_interrupts():
        try:
            phase("replaying the notebook")
            started = time.perf_counter()
            replay = replay_notebook()
            buggy, correct = replay.rows[1], replay.rows[2]
            steps.append(Step("notebook replayed", replay.reproduced,
                              f"{'reproduced' if replay.reproduced else 'NOT reproduced'}: "
                              f"buggy {buggy.difference!r} {buggy.verdict}, correct "
                              f"{correct.difference!r} {correct.verdict}",
                              time.perf_counter() - started))
            check_interrupt()

            phase(f"sweeping the property over {networks} networks")
            started = time.perf_counter()
            sweep = sweep_correct_backprop(networks, seed=seed)
            steps.append(Step(f"property sweep ({networks} networks)", sweep.passed,
                              sweep.tally() if not sweep.interrupted else sweep.summary(),
                              time.perf_counter() - started))
            check_interrupt()

            started = time.perf_counter()
            campaign = run_campaign(target, examples=examples, jobs=jobs,
                                    memory_limit=memory_limit, progress=progress,
                                    on_phase=on_phase)
            steps.append(Step(f"mutation campaign ({campaign.counts.total} mutants)",
                              campaign.passed, campaign.summary(),
                              time.perf_counter() - started))
            check_interrupt()

            phase(f"measuring five checkers' sensitivity (preset {_STUDY})")
            started = time.perf_counter()
            study = run_study(PRESETS[_STUDY], seed=seed, jobs=jobs)
            steps.append(Step(f"sensitivity study (preset {_STUDY})", _study_ok(study),
                              _study_outcome(study), time.perf_counter() - started))
        except KeyboardInterrupt:
            pass
        with deferred_interrupts():
            if replay is None:
                steps.append(Step("notebook replayed", False, "interrupted"))
            if sweep is None:
                steps.append(Step(f"property sweep ({networks} networks)", False,
                                  "not run: interrupted"))
            if campaign is None:
                campaign = unstarted_campaign(target, examples=examples, jobs=jobs,
                                              memory_limit=memory_limit)
                steps.append(Step(f"mutation campaign ({len(campaign.not_run)} mutants)",
                                  False, "not run: interrupted"))
            if study is None:
                steps.append(Step(f"sensitivity study (preset {_STUDY})", False,
                                  "not run: interrupted"))
            stopped = (interrupted() or campaign.interrupted
                       or bool(sweep and sweep.interrupted) or bool(study and study.interrupted))
    return MainJob(replay, sweep, campaign, tuple(steps), stopped, study)


#: The main job's study: a few seconds, every part of the study, every rule.
_STUDY = "tiny"


def _study_ok(study: StudyResult) -> bool:
    """gcverify's own rule raised no false alarm and caught every mutant."""
    row = study.table["gcverify"]
    return (not study.interrupted and row.false_alarms == 0
            and sum(row.missed_by_family.values()) == 0)


def _study_outcome(study: StudyResult) -> str:
    """One line per the table: each rule's false alarms, misses and smallest scaling.

    >>> study = run_study(PRESETS["tiny"], seed=0, jobs=1)
    >>> _study_outcome(study).startswith("gcverify: 0 false alarms of ")
    True
    """
    def rule(name: str) -> str:
        row = study.table[name]
        missed = sum(row.missed_by_family.values())
        scaling = "-" if row.smallest_scaling is None else f"{row.smallest_scaling:.0e}"
        return (f"{name}: {row.false_alarms} false alarm{'s' * (row.false_alarms != 1)} of "
                f"{row.correct_cases}, {missed} mutants missed, scaling caught from {scaling}")

    return "; ".join(rule(name) for name in ("gcverify", "notebook", "torch"))
