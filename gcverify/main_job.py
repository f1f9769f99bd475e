"""The main job, as a library call: replay the notebook, sweep the property over generated
networks, and run the mutation campaign on the notebook's backprop.

``gcverify run`` prints :class:`MainJob`'s steps and writes the campaign's reports.

>>> job = run_main_job(networks=5, examples=1, jobs=2)
>>> [step.name for step in job.steps]
['notebook replayed', 'property sweep (5 networks)', 'mutation campaign (142 mutants)']
>>> job.passed
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gcverify.mutation.campaign import DEFAULT_EXAMPLES, run_campaign
from gcverify.mutation.results import CampaignResult, MutantResult
from gcverify.mutation.targets import notebook_target
from gcverify.replay import NotebookReplay, replay_notebook
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
    """The three steps and their results."""

    replay: NotebookReplay
    sweep: SweepResult
    campaign: CampaignResult
    steps: tuple[Step, ...]

    @property
    def passed(self) -> bool:
        """The notebook reproduced, no correct backprop failed, no mutant survived."""
        return all(step.ok for step in self.steps)


def run_main_job(*, networks: int = 200, examples: int = DEFAULT_EXAMPLES, seed: int = 0,
                 jobs: int | None = None,
                 progress: Callable[[int, int, MutantResult], None] | None = None) -> MainJob:
    """Run the three steps; ``seed`` seeds the sweep and the campaign's examples."""
    started = time.perf_counter()
    replay = replay_notebook()
    buggy, correct = replay.rows[1], replay.rows[2]
    steps = [Step("notebook replayed", replay.reproduced,
                  f"{'reproduced' if replay.reproduced else 'NOT reproduced'}: buggy "
                  f"{buggy.difference!r} {buggy.verdict}, correct {correct.difference!r} "
                  f"{correct.verdict}", time.perf_counter() - started)]

    started = time.perf_counter()
    sweep = sweep_correct_backprop(networks, seed=seed)
    steps.append(Step(f"property sweep ({networks} networks)", sweep.passed, sweep.tally(),
                      time.perf_counter() - started))

    started = time.perf_counter()
    campaign = run_campaign(notebook_target(seed), examples=examples, jobs=jobs,
                            progress=progress)
    steps.append(Step(f"mutation campaign ({campaign.counts.total} mutants)", campaign.passed,
                      campaign.summary(), time.perf_counter() - started))
    return MainJob(replay, sweep, campaign, tuple(steps))
