"""The sensitivity study: how small an error can each gradient checker see, and at what
price in false alarms?

:func:`run_study` measures, on random networks of the strategies' domain (and on the
mutation engine's mutants of the notebook's backward pass), four things, every rule of
:data:`~gcverify.sensitivity.rules.RULES` on the same numerical derivatives and the
same planted errors:

1. **step sweep**: the central difference's error against the exact gradient for steps
   1e-12 to 1e-1 (median and 5-95 % band per cost form and activation), the measured
   optimum against theory's ``cbrt(3 eps |J| / |J'''|)``, and the notebook's 1e-7;
2. **detection boundary**: the probability that each rule FAILs an error of relative
   size δ (a block scaled by 1 + δ, its sign flipped, one entry moved, a random
   direction), against the analytic boundary;
3. **ROC**: false alarms on correct backprops against detections of mutants, as each
   rule's tolerance is scaled;
4. **the table**: each rule at its defaults.

Same seed, same result (apart from timing).

>>> result = run_study(PRESETS["tiny"], seed=3, jobs=1)
>>> sorted(result.table)
['gcverify', 'jax', 'notebook', 'scipy', 'torch']
>>> result.table["gcverify"].false_alarms
0
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from gcverify.errors import invalid_argument
from gcverify.executors import TaskRun, open_executor, run_tasks
from gcverify.sampling import Architectures, Domain
from gcverify.sensitivity.measure import (
    KINDS,
    BoundaryScores,
    MutantScores,
    StepErrors,
    boundary_scores,
    mutant_scores,
    network_sample,
    step_errors,
)
from gcverify.sensitivity.rules import RULES

__all__ = ["CSV_COLUMNS", "PRESETS", "TASKS_PER_SUBMISSION", "Measurements", "Preset",
           "RuleRow", "StudyResult", "run_study"]


# The networks every preset draws: one hidden activation each (so that errors can be told
# apart by activation), up to 4 layers of up to 12 units, in the strategies' domain.
_SPACE = Architectures(max_depth=4, max_width=12, mixed=False)
_DOMAIN = Domain()


@dataclass(frozen=True)
class Preset:
    """How big a study is: networks per part, examples for the mutants, the grids."""

    name: str
    step_networks: int
    boundary_networks: int
    mutant_examples: int
    steps: tuple[float, ...] = tuple(10.0 ** (k / 2) for k in range(-24, -1))
    deltas: tuple[float, ...] = tuple(10.0 ** k for k in range(-10, 1))
    scales: tuple[float, ...] = tuple(10.0 ** (k / 4) for k in range(-16, 17))
    space: Architectures = _SPACE
    domain: Domain = _DOMAIN


#: ``tiny`` (``gcverify run``'s: a few seconds), ``quick`` (under a minute on 2 cores)
#: and ``paper`` (some 3 million measurements: 2,390 CPU-seconds measured, about 20
#: minutes on 2 cores). Sized from the measured cost of a task on one core (a step
#: network about 10 ms, a boundary network 9 ms with the 11 sizes δ and 19 ms with the
#: paper's 41, a mutant example 0.33 s: the notebook's 153 mutants checked by every rule).
PRESETS = {
    "tiny": Preset("tiny", 6, 10, 2, deltas=tuple(10.0 ** k for k in range(-10, 1, 2))),
    "quick": Preset("quick", 500, 1500, 120),
    "paper": Preset("paper", 5000, 10000, 9000,
                    deltas=tuple(10.0 ** (k / 4) for k in range(-40, 1))),
}

#: Tasks sent to a worker at once, per part of the study: 0.6-1.3 s of work (the costs
#: above). A submission costs some 20 ms beside its work on the local executor (the
#: child it forks starts cold: measured on the mutant examples one per submission,
#: 24 ms each) and 6-7 ms on Dask (benchmarks/bench_dask.py); with batches of 2 the
#: quick study took 1.56 times as long as on a pool of long-lived processes, with these
#: 0.99 times (benchmarks/bench_local_executor.py). The results do not depend on it.
TASKS_PER_SUBMISSION = {"step network": 64, "boundary network": 64, "mutant example": 4}
# ... but at least this many submissions per part, so that a small study (tiny: 6, 10
# and 2 tasks) still spreads over the workers.
_FEWEST_SUBMISSIONS = 8


def _batch(part: str, count: int) -> int:
    """Tasks per submission for ``count`` tasks of ``part``.

    >>> _batch("step network", 5000), _batch("step network", 6), _batch("mutant example", 2)
    (64, 1, 1)
    """
    return max(1, min(TASKS_PER_SUBMISSION[part], -(-count // _FEWEST_SUBMISSIONS)))


@dataclass(frozen=True)
class RuleRow:
    """One rule at its defaults: false alarms on correct backprops, mutants it never
    catches (per family), and the smallest scaling it catches in at least half the
    networks (None if none of those planted)."""

    false_alarms: int
    correct_cases: int
    missed_by_family: dict[str, int]
    mutants_by_family: dict[str, int]
    smallest_scaling: float | None


#: The CSV's columns: what was measured, then each rule's score (its discrepancy over
#: its tolerance: above 1 FAILs) on it.
CSV_COLUMNS = ("part", "case", "group", "kind", "size", "value", *(rule.name for rule in RULES))


@dataclass(frozen=True)
class Measurements:
    """Every number the study measured, as the tasks returned them."""

    preset: Preset
    steps: tuple[StepErrors, ...]
    boundary: tuple[BoundaryScores, ...]
    mutants: tuple[MutantScores, ...]

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """One row per measurement (:data:`CSV_COLUMNS`), generated as it is written:
        a paper-size study has millions."""
        blank = ("",) * len(RULES)
        for item in self.steps:
            for step, error in zip(self.preset.steps, item.errors, strict=True):
                yield ("steps", item.index, item.group, "central", step, error, *blank)
        for found in self.boundary:
            for (kind, delta), scores in [(("correct", 0.0), found.correct),
                                          *found.planted.items()]:
                yield ("detection", found.index, found.group, kind, delta, "", *scores)
        for example in self.mutants:
            for mutant_id, (family, scores) in [("original", ("", example.original)),
                                                *example.mutants.items()]:
                yield ("mutants", example.example, family or "original", mutant_id, "", "",
                       *scores)


@dataclass(frozen=True)
class StudyResult:
    """Everything the study found; the reports render only this."""

    preset: Preset
    seed: int
    steps: dict[str, Any]
    detection: dict[str, Any]
    roc: dict[str, Any]
    table: dict[str, RuleRow]
    measurements: Measurements = field(repr=False)
    interrupted: bool = False
    failed_tasks: tuple[str, ...] = ()
    lost: str | None = None
    timing: dict[str, float] = field(default_factory=dict, compare=False)


def _steps_task(seed: int, preset: Preset, index: int) -> StepErrors:
    return step_errors(network_sample(seed, index, preset.space, preset.domain), preset.steps)


def _boundary_task(seed: int, preset: Preset, index: int) -> BoundaryScores | None:
    sample = network_sample(seed + 1, index, preset.space, preset.domain)
    return boundary_scores(sample, preset.deltas, seed)


def _mutant_task(seed: int, example: int) -> MutantScores:
    return mutant_scores(example, seed)


def run_study(preset: Preset, *, seed: int = 0, jobs: int | None = None,
              executor: Executor | None = None,
              progress: Callable[[int, int], None] | None = None) -> StudyResult:
    """Run the four parts of the study (see the module's docstring) on ``executor``
    (default: ``jobs`` children of this process at a time). ``progress(done, total)``
    follows the tasks. Ctrl-C returns what finished, with ``interrupted=True``; so does losing the
    executor (``lost`` says why); a task that killed its worker on every try is left out
    and named in ``failed_tasks``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise invalid_argument("seed", seed, "is not a non-negative integer", "pass e.g. seed=0")
    started = time.perf_counter()
    total = preset.step_networks + preset.boundary_networks + preset.mutant_examples
    done = [0]

    def tick(count: int, _: int) -> None:
        if progress is not None:
            progress(done[0] + count, total)

    with contextlib.ExitStack() as stack:
        pool = executor if executor is not None else stack.enter_context(open_executor(jobs))
        parts: list[list[Any]] = []
        failed: list[str] = []
        stopped: TaskRun[Any] | None = None
        for name, function, count in (
                ("step network", partial(_steps_task, seed, preset), preset.step_networks),
                ("boundary network", partial(_boundary_task, seed, preset),
                 preset.boundary_networks),
                ("mutant example", partial(_mutant_task, seed), preset.mutant_examples)):
            if stopped is not None:
                parts.append([])
                continue
            run = run_tasks(pool, function, list(range(count)), batch=_batch(name, count),
                            progress=tick)
            done[0] += count
            parts.append([r for r in run.results if r is not None])
            failed += [f"{name} {index}: {why}" for index, why in sorted(run.failed.items())]
            stopped = None if run.complete else run
    steps, boundary, mutants = parts
    measurements = Measurements(preset, tuple(steps), tuple(boundary), tuple(mutants))
    return StudyResult(preset, seed, _step_summary(steps, preset),
                       _detection_summary(boundary, preset), _roc(boundary, mutants, preset),
                       _table(boundary, mutants, preset), measurements,
                       interrupted=stopped is not None and stopped.interrupted,
                       failed_tasks=tuple(failed),
                       lost=stopped.lost if stopped is not None else None,
                       timing={"total": time.perf_counter() - started})


# --- aggregation -------------------------------------------------------------------------------

def _band(values: np.ndarray) -> dict[str, list[float]]:
    return {"median": np.median(values, axis=0).tolist(),
            "p05": np.quantile(values, 0.05, axis=0).tolist(),
            "p95": np.quantile(values, 0.95, axis=0).tolist()}


def _step_summary(found: Sequence[StepErrors], preset: Preset) -> dict[str, Any]:
    if not found:
        return {"steps": list(preset.steps), "groups": {}, "networks": 0}
    groups: dict[str, list[StepErrors]] = defaultdict(list)
    for item in found:
        groups[item.group].append(item)
    errors = np.array([item.errors for item in found])
    median = np.median(errors, axis=0)
    complex_errors = [item.complex_error for item in found if item.complex_error is not None]
    theory = [item.theory_step for item in found if np.isfinite(item.theory_step)]
    return {
        "steps": list(preset.steps),
        "networks": len(found),
        "all": _band(errors),
        "groups": {name: {"networks": len(items),
                          **_band(np.array([item.errors for item in items]))}
                   for name, items in sorted(groups.items())},
        "measured_optimum": float(preset.steps[int(np.argmin(median))]),
        "theory_optimum": float(np.median(theory)) if theory else None,
        "notebook_step": 1e-7,
        "error_at_notebook_step": float(np.interp(-7, np.log10(preset.steps), median)),
        "error_at_optimum": float(np.min(median)),
        "complex_step_error": float(np.median(complex_errors)) if complex_errors else None,
    }


def _detection_summary(found: Sequence[BoundaryScores], preset: Preset) -> dict[str, Any]:
    shares = [item.share for item in found]
    kinds: dict[str, dict[str, list[float]]] = {}
    for kind in KINDS:
        deltas = (1.0,) if kind == "sign" else preset.deltas
        kinds[kind] = {rule.name: [float(np.mean([item.planted[(kind, d)][r] > 1
                                                  for item in found])) if found else 0.0
                                   for d in deltas]
                       for r, rule in enumerate(RULES)}
    # The analytic boundary of a block scaled by 1 + δ: per block, δ / (2 + δ) > t, so
    # δ > 2t / (1 - t); over the whole vector (the notebook) the block's share s of ‖g‖
    # divides it: δ > 2t / s, roughly (error bars and the numerical side aside).
    median_share = float(np.median(shares)) if shares else None
    return {"deltas": list(preset.deltas), "networks": len(found), "kinds": kinds,
            "median_block_share": median_share,
            "analytic": {"per_block": 2 * 2e-7 / (1 - 2e-7),
                         "whole_vector_at_median_share":
                             (2 * 2e-7 / median_share) if median_share else None}}


def _roc(boundary: Sequence[BoundaryScores], mutants: Sequence[MutantScores],
         preset: Preset) -> dict[str, Any]:
    correct = np.array([item.correct for item in boundary] +
                       [item.original for item in mutants]).reshape(-1, len(RULES))
    wrong = np.array([scores for item in mutants for _, scores in item.mutants.values()]
                     ).reshape(-1, len(RULES))
    curves = {}
    for r, rule in enumerate(RULES):
        curves[rule.name] = {
            "false_alarm": [float(np.mean(correct[:, r] > c)) if len(correct) else 0.0
                            for c in preset.scales],
            "detection": [float(np.mean(wrong[:, r] > c)) if len(wrong) else 0.0
                          for c in preset.scales]}
    return {"scales": list(preset.scales), "default_scale": 1.0, "correct_cases": len(correct),
            "mutant_cases": len(wrong), "rules": curves}


def _table(boundary: Sequence[BoundaryScores], mutants: Sequence[MutantScores],
           preset: Preset) -> dict[str, RuleRow]:
    table = {}
    for r, rule in enumerate(RULES):
        correct = [item.correct[r] for item in boundary] + [item.original[r] for item in mutants]
        caught: dict[str, bool] = {}
        family_of: dict[str, str] = {}
        for item in mutants:
            for mutant_id, (family, scores) in item.mutants.items():
                family_of[mutant_id] = family
                caught[mutant_id] = caught.get(mutant_id, False) or scores[r] > 1
        missed: dict[str, int] = defaultdict(int)
        counted: dict[str, int] = defaultdict(int)
        for mutant_id, family in family_of.items():
            counted[family] += 1
            missed[family] += not caught[mutant_id]
        share = [float(np.mean([item.planted[("scaling", d)][r] > 1 for item in boundary]))
                 if boundary else 0.0 for d in preset.deltas]
        smallest = next((d for d, p in zip(preset.deltas, share) if p >= 0.5), None)
        table[rule.name] = RuleRow(int(sum(score > 1 for score in correct)), len(correct),
                                   dict(sorted(missed.items())), dict(sorted(counted.items())),
                                   smallest)
    return table


