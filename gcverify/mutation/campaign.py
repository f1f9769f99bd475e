"""Mutation campaigns: every mutant of a backward pass, checked on seeded examples.

For each mutant, :func:`run_campaign` runs :func:`gcverify.check_backprop` on the same
``N`` examples, each mutant in its own child process with a time limit, and sorts it
into one :class:`~gcverify.mutation.results.Outcome`:

* **killed**: the check FAILs on at least one example. The first such example is
  kept (shrunk to fewer batch columns when that is cheap and still fails), with its
  difference and diagnosis;
* **killed_by_error**: no FAIL, but the mutant raised, returned a gradient of the wrong
  shape, or crashed the interpreter. A crash is not a gradient-check kill, so these
  are counted apart;
* **timeout**: it did not finish within the time limit;
* **equivalent**: its gradients equal the original's within rounding on every
  example ("probably equivalent": examples prove difference, never equality);
* **survived**: none of the above; the gradients differ and the check missed it.

The **detection rate** of a mutant is the share of examples on which the check FAILs.
The **score** is ``(killed + killed_by_error + timeout) / (total - equivalent)``: the
share of non-equivalent mutants that did not survive (it is 100 % exactly when none
survived); the **check score** ``killed / (total - equivalent - killed_by_error -
timeout)`` is the share the gradient check itself caught among those that ran.

Examples
--------
>>> from gcverify.mutation import mutate_function, notebook_target
>>> target = notebook_target(seed=0)
>>> pick = [m for m in mutate_function(target.backward) if m.description == "dW2 × 2"]
>>> result = run_campaign(target, examples=3, mutants=pick, jobs=1)
>>> result.results[0].outcome, result.results[0].detection_rate
(<Outcome.KILLED: 'killed'>, 1.0)
>>> result.results[0].killing_example.diagnosis
'dW2 ≈ 2.000 × numerical (scaling bug)'
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from gcverify.check import check_backprop
from gcverify.errors import GCVerifyError, invalid_argument
from gcverify.mutation.engine import Mutant, mutate
from gcverify.mutation.examples import Example, validate_example
from gcverify.mutation.isolation import TaskReport, TaskStatus, run_isolated, start_method
from gcverify.mutation.operators import OPERATORS, Operator
from gcverify.mutation.results import (
    CampaignResult,
    Equivalence,
    ExampleRun,
    ExampleStatus,
    KillingExample,
    MutantResult,
    Outcome,
)
from gcverify.mutation.targets import Target
from gcverify.options import CheckOptions
from gcverify.result import GradCheckResult, Verdict

__all__ = ["DEFAULT_EXAMPLES", "run_campaign"]

#: Examples per mutant when none is given: about 12 ms of checking each on the
#: notebook's network, so that ~140 mutants take some 10 s on two cores.
DEFAULT_EXAMPLES = 12
# The automatic per-mutant time limit: this many times the original's own time on all
# examples, and never less than the floor.
_TIME_FACTOR = 20.0
_TIME_FLOOR = 5.0


# --- running a campaign -------------------------------------------------------------------

@dataclass(frozen=True)
class _Job:
    """What every child needs: inherited through fork, never pickled (except on spawn)."""

    forward: Callable[..., Any]
    original: Callable[..., Any]
    namespace: Mapping[str, Any]
    examples: tuple[Example, ...]
    baseline: tuple[np.ndarray, ...]
    options: CheckOptions
    equivalence: Equivalence


@dataclass(frozen=True)
class _Evaluation:
    runs: tuple[ExampleRun, ...]
    killing: KillingExample | None


def run_campaign(target: Target, *, examples: int = DEFAULT_EXAMPLES,
                 mutants: Sequence[Mutant] | None = None,
                 operators: Sequence[Operator] = OPERATORS, jobs: int | None = None,
                 time_limit: float | None = None,
                 check_options: CheckOptions | None = None,
                 progress: Callable[[int, int, MutantResult], None] | None = None
                 ) -> CampaignResult:
    """Check every mutant of ``target``'s backward pass on ``examples`` examples.

    Parameters
    ----------
    target
        The backward pass, its forward and the example source (see
        :func:`~gcverify.mutation.targets.notebook_target`).
    examples
        Number of examples: ``target.examples(0), ..., target.examples(examples - 1)``.
    mutants
        The mutants to run; by default every mutant ``operators`` make.
    jobs
        Children running at once; by default the number of usable cores.
    time_limit
        Seconds per mutant; by default 20 times the original's time on all
        examples, and at least 5 s.
    check_options
        How :func:`gcverify.check_backprop` checks (default: ``CheckOptions()``).
    progress
        ``progress(done, total, result)`` after each mutant; a
        :class:`KeyboardInterrupt` raised by it (or by Ctrl-C) stops the campaign,
        which then returns what finished, with ``interrupted=True``.

    Raises
    ------
    InvalidArgument
        For bad arguments, an example that is not ``(X, Y, parameters)``, or an
        original backward pass that the check already FAILs (fix it first).
    GCVerifyError
        Where processes cannot be forked (Windows).

    Examples
    --------
    >>> from gcverify.mutation import mutate_function, notebook_target
    >>> target = notebook_target(seed=0)
    >>> pick = [m for m in mutate_function(target.backward) if m.family == "reduction"]
    >>> result = run_campaign(target, examples=3, mutants=pick, jobs=2)
    >>> [(r.mutant.description, r.outcome.value) for r in result.results][:2]
    [('axis=1 → axis=0 in db3', 'killed_by_error'), ('axis=1 → axis=0 in db2', 'killed_by_error')]
    """
    examples = _positive_int("examples", examples)
    jobs = _positive_int("jobs", jobs) if jobs is not None else usable_cores()
    if time_limit is not None and not (isinstance(time_limit, (int, float))
                                       and not isinstance(time_limit, bool) and time_limit > 0):
        raise invalid_argument("time_limit", time_limit, "is not a positive number of seconds",
                               "pass e.g. time_limit=10, or None for an automatic limit")
    if check_options is None:
        check_options = CheckOptions()
    elif not isinstance(check_options, CheckOptions):
        raise invalid_argument("check_options", check_options, "is not a CheckOptions",
                               "pass e.g. CheckOptions(threshold=1e-6), or None")
    if start_method() != "fork":
        raise GCVerifyError("mutation campaigns run each mutant in a forked process, and "
                            "this platform cannot fork; run them on Linux or macOS")
    started = time.perf_counter()
    generated = mutants is None
    if mutants is None:
        mutants = mutate(target.source, operators=operators)
    mutants = tuple(mutants)

    cases = tuple(validate_example(target.examples(i), f"examples({i})")
                  for i in range(examples))
    baseline_started = time.perf_counter()
    baseline, analytic = _baseline(target, cases, check_options)
    baseline_seconds = time.perf_counter() - baseline_started
    limit = time_limit if time_limit is not None else max(_TIME_FLOOR,
                                                          _TIME_FACTOR * baseline_seconds)

    equivalence = Equivalence()
    job = _Job(target.forward, target.backward, target.namespace, cases, analytic,
               check_options, equivalence)
    results: dict[int, MutantResult] = {}

    def finished(index: int, report: TaskReport) -> None:
        results[index] = _result(mutants[index], report, examples)
        if progress is not None:
            progress(len(results), len(mutants), results[index])

    _, interrupted = run_isolated(partial(_evaluate, job), mutants, jobs=jobs,
                                  time_limit=limit, on_finish=finished)
    operator_names = (tuple(o.name for o in operators) if generated
                      else tuple(dict.fromkeys(m.operator for m in mutants)))
    return CampaignResult(
        target=target, seed=target.seed, n_examples=examples, check_options=check_options,
        time_limit=time_limit, operators=operator_names, baseline=baseline,
        results=tuple(results[i] for i in sorted(results)),
        not_run=tuple(m for i, m in enumerate(mutants) if i not in results),
        interrupted=interrupted, equivalence=equivalence,
        timing={"total": time.perf_counter() - started, "baseline": baseline_seconds,
                "time_limit": limit, "jobs": jobs})


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise invalid_argument(name, value, "is not a positive integer", f"pass e.g. {name}=2")
    return int(value)


def usable_cores() -> int:
    """The number of cores this process may run on.

    >>> usable_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _baseline(target: Target, cases: Sequence[Example], options: CheckOptions
              ) -> tuple[tuple[ExampleRun, ...], tuple[np.ndarray, ...]]:
    """The original on every example: it must not FAIL, and its gradients are kept."""
    runs, analytic = [], []
    for index, (X, Y, parameters) in enumerate(cases):
        with _quiet():
            result = check_backprop(target.forward, target.backward, X, Y, parameters,
                                    **options.as_dict())
        if result.verdict is Verdict.FAIL:
            raise invalid_argument(
                "backward", target.source.name,
                f"already fails the gradient check on example {index}, before any mutation "
                f"({result.summary()})",
                "fix the backward pass first (gcverify.check_backprop shows where), or "
                "choose examples on which it passes")
        runs.append(ExampleRun(index, ExampleStatus.of(result.verdict),
                               _finite(result.difference), _diagnosis(result), 0.0, True))
        analytic.append(np.array(result.analytic))
    return tuple(runs), tuple(analytic)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's floating-point warnings and Python warnings (mutants overflow)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _diagnosis(result: GradCheckResult) -> str:
    mismatched = result.mismatched
    if mismatched:
        return "; ".join(block.diagnosis for block in mismatched)
    return result.summary()


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


# --- in the child ------------------------------------------------------------------------

def _evaluate(job: _Job, mutant: Mutant) -> _Evaluation:
    """Check ``mutant`` on every example (runs in a child process)."""
    with _quiet():
        backward = mutant.compile(job.namespace)
        runs, first_failure = [], None
        for index, (X, Y, parameters) in enumerate(job.examples):
            run, result = _run_example(job, backward, index, X, Y, parameters)
            runs.append(run)
            if first_failure is None and result is not None \
                    and run.status is ExampleStatus.FAIL:
                first_failure = (index, result)
        killing = None
        if first_failure is not None:
            killing = _killing_example(job, backward, *first_failure)
    return _Evaluation(tuple(runs), killing)


def _run_example(job: _Job, backward: Callable[..., Any], index: int, X: np.ndarray,
                 Y: np.ndarray, parameters: Mapping[str, np.ndarray]
                 ) -> tuple[ExampleRun, GradCheckResult | None]:
    try:
        result = check_backprop(job.forward, backward, X, Y, parameters,
                                **job.options.as_dict())
    except BaseException as error:  # the mutant may raise anything, even SystemExit
        return ExampleRun(index, ExampleStatus.ERROR, None, _error_text(error), None,
                          False), None
    original = job.baseline[index]
    analytic = np.asarray(result.analytic)
    scale = float(np.max(np.abs(original))) if original.size else 0.0
    gap = float(np.max(np.abs(analytic - original)))
    deviation = gap / scale if scale > 0 else gap
    run = ExampleRun(index, ExampleStatus.of(result.verdict), _finite(result.difference),
                     _diagnosis(result), _finite(deviation),
                     job.equivalence.matches(analytic, original))
    return run, result


def _killing_example(job: _Job, backward: Callable[..., Any], index: int,
                     result: GradCheckResult) -> KillingExample:
    """The failing example, shrunk to its first ``k`` batch columns for the smallest
    ``k`` on which the mutant still FAILs and the original still PASSes."""
    X, Y, parameters = job.examples[index]
    m = X.shape[-1] if X.ndim == 2 else 0
    columns = tuple(range(m))
    options = job.options.as_dict()
    if m > 1 and Y.shape[-1:] == (m,):
        for size in range(1, m):
            X_small, Y_small = X[:, :size], Y[..., :size]
            try:
                small = check_backprop(job.forward, backward, X_small, Y_small, parameters,
                                       **options)
                if small.verdict is not Verdict.FAIL:
                    continue
                reference = check_backprop(job.forward, job.original, X_small, Y_small,
                                           parameters, **options)
            except BaseException:
                continue
            if reference.verdict is Verdict.PASS:
                X, Y, result, columns = X_small, Y_small, small, tuple(range(size))
                break
    return KillingExample(
        index=index, columns=columns, batch_size=m, difference=_finite(result.difference),
        diagnosis=_diagnosis(result), summary=result.summary(),
        blocks=tuple(block.gradient_key for block in result.mismatched),
        X=np.array(X), Y=np.array(Y),
        parameters={name: np.array(value) for name, value in parameters.items()})


# --- back in the parent -----------------------------------------------------------------

def _result(mutant: Mutant, report: TaskReport, n_examples: int) -> MutantResult:
    """Sort a finished mutant into its outcome, with the evidence."""
    if report.status is TaskStatus.TIMEOUT:
        return MutantResult(mutant, Outcome.TIMEOUT, (), "did not finish within the time limit",
                            seconds=report.seconds)
    if report.status is TaskStatus.CRASHED:
        return MutantResult(mutant, Outcome.KILLED_BY_ERROR, (),
                            f"crashed the interpreter: {report.detail}", error=report.detail,
                            seconds=report.seconds)
    if report.status is TaskStatus.RAISED:
        return MutantResult(mutant, Outcome.KILLED_BY_ERROR, (),
                            f"raised before any example was checked: {report.detail}",
                            error=report.detail, seconds=report.seconds)
    evaluation: _Evaluation = report.value
    runs = evaluation.runs
    statuses = Counter(run.status for run in runs)
    errors = [run for run in runs if run.status is ExampleStatus.ERROR]
    if evaluation.killing is not None:
        killing = evaluation.killing
        evidence = (f"the check FAILs on {statuses[ExampleStatus.FAIL]} of {n_examples} "
                    f"examples; first on example {killing.index}: {killing.diagnosis}")
        if errors:
            evidence += f"; it raised on {len(errors)} other{'s' * (len(errors) != 1)}"
        return MutantResult(mutant, Outcome.KILLED, runs, evidence, killing,
                            errors[0].diagnosis if errors else None, report.seconds)
    if errors:
        first = errors[0]
        evidence = (f"raised on {len(errors)} of {n_examples} examples (first on example "
                    f"{first.index}: {first.diagnosis}); the check FAILs on none")
        return MutantResult(mutant, Outcome.KILLED_BY_ERROR, runs, evidence, None,
                            first.diagnosis, report.seconds)
    deviations = [run.deviation for run in runs if run.deviation is not None]
    largest = max(deviations, default=0.0)
    if all(run.matches for run in runs):
        evidence = (f"its gradients equal the original's within rounding on all {n_examples} "
                    f"examples (largest relative deviation {largest:.1e})")
        return MutantResult(mutant, Outcome.EQUIVALENT, runs, evidence, seconds=report.seconds)
    differing = sum(not run.matches for run in runs)
    shown = ", ".join(f"{statuses[status]} {status}" for status in
                      (ExampleStatus.PASS, ExampleStatus.INCONCLUSIVE) if statuses[status])
    evidence = (f"its gradients differ from the original's on {differing} of {n_examples} "
                f"examples (largest relative deviation {largest:.2g}), yet the check gave "
                f"{shown}")
    return MutantResult(mutant, Outcome.SURVIVED, runs, evidence, seconds=report.seconds)
