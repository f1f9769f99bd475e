"""Mutation campaigns: every mutant of a backward pass, checked on seeded examples.

For each mutant, :func:`run_campaign` runs :func:`gcverify.check_backprop` on the same
``N`` examples (built, and checked on the original, by :mod:`~gcverify.mutation.baseline`
in a child of their own), each mutant in its own child process with a time limit and a
memory limit, and sorts it into one :class:`~gcverify.mutation.results.Outcome`:

* **killed**: the check FAILs on at least one example. The first such example is
  kept (shrunk to fewer examples of its batch when that still fails), with its
  difference and diagnosis;
* **killed_by_error**: no FAIL, but the mutant raised, returned a gradient of the wrong
  shape, ran out of memory ("ran out of memory (limit 1.5 GiB)"), or crashed the
  interpreter. A crash is not a gradient-check kill, so these are counted apart;
* **timeout**: it did not finish within the time limit;
* **equivalent**: its gradients and its cost equal the original's within rounding on
  every example ("probably equivalent": examples prove difference, never equality),
  and on copies of them where the coordinates no example reaches are revived;
* **not reached**: its cost equals the original's and its gradients differ only where
  the examples do not reach (their gradient is zero there within the error bars: dead
  units), on the examples or on those revived copies (:mod:`~gcverify.mutation.reach`;
  mutmut's "no tests");
* **survived**: none of the above; the gradients differ and the check missed it.

The **detection rate** of a mutant is the share of examples on which the check FAILs.
The **score** is ``(killed + killed_by_error + timeout) / (total - equivalent -
not_reached)``: the share of the mutants the examples can judge that did not survive (it
is 100 % exactly when none survived); the **check score** ``killed / (total - equivalent
- not_reached - killed_by_error - timeout)`` is the share the gradient check itself
caught among those that ran. A mutant not reached is neither detected nor survived.

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
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from gcverify.adapters import Backprop
from gcverify.check import check_backprop
from gcverify.errors import GCVerifyError, invalid_argument
from gcverify.executors import inherits_state, open_executor
from gcverify.failure import Failure, FailureKind, error_text
from gcverify.interrupts import catching_interrupts, deferred_interrupts
from gcverify.limits import DEFAULT_TIME_LIMIT, default_memory_limit
from gcverify.mutation.baseline import (
    Baseline,
    check_diagnosis,
    cost_of,
    deviation,
    finite,
    quiet,
    run_baseline,
)
from gcverify.mutation.dispatch import portable_namespace, run_on_executor
from gcverify.mutation.engine import Mutant
from gcverify.mutation.examples import Example
from gcverify.mutation.isolation import start_method
from gcverify.mutation.operators import OPERATORS, Operator
from gcverify.mutation.outcomes import Evaluation, sort_outcome
from gcverify.mutation.reach import differs_when_revived
from gcverify.mutation.rebuild import namespace_with
from gcverify.mutation.results import (
    CampaignResult,
    Equivalence,
    ExampleRun,
    ExampleStatus,
    KillingExample,
    MutantResult,
    Outcome,
)
from gcverify.mutation.shrinking import shrunk
from gcverify.mutation.source import FunctionSource
from gcverify.mutation.targets import Target
from gcverify.options import CheckOptions
from gcverify.parallel import available_cores
from gcverify.result import GradCheckResult
from gcverify.supervise import ChildReport

__all__ = ["DEFAULT_EXAMPLES", "run_campaign", "unstarted_campaign"]

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
    """What every child needs (forked, or cloudpickled to a Dask worker: no open file or
    lock): a mutant replaces its function (``mutated``, or the name ``also`` pairs with
    the mutant's source) in a copy of ``namespace``, ``build`` makes the passes of that
    copy; ``baseline`` and ``costs`` are the original pair's results."""

    forward: Callable[..., Any]
    original: Callable[..., Any]
    namespace: Mapping[str, Any]
    examples: tuple[Example, ...]
    baseline: tuple[np.ndarray, ...]
    options: CheckOptions
    equivalence: Equivalence
    memory_limit: int
    mutated: str
    build: Callable[[Mapping[str, Any]], Backprop]
    costs: tuple[np.ndarray, ...]
    layout: str
    reached: tuple[np.ndarray, ...] = ()
    also: tuple[tuple[str, FunctionSource], ...] = ()

    @classmethod
    def of(cls, target: Target, baseline: Baseline, options: CheckOptions,
           memory_limit: int) -> _Job:
        assert target.build is not None  # Target.__post_init__ sets it
        return cls(target.forward, target.backward, target.namespace, baseline.examples,
                   baseline.analytic, options, Equivalence(), memory_limit, target.mutated,
                   target.build, baseline.costs, target.layout, baseline.reached, target.also)

    @property
    def unreached(self) -> np.ndarray:
        """The coordinates no example reaches (a flat mask; none if unknown or if the
        examples' layouts differ)."""
        shapes = {mask.shape for mask in self.reached}
        if len(shapes) != 1:
            return np.zeros(0, dtype=bool)
        return ~np.logical_or.reduce(self.reached)


def run_campaign(target: Target, *, examples: int = DEFAULT_EXAMPLES,
                 mutants: Sequence[Mutant] | None = None,
                 operators: Sequence[Operator] = OPERATORS, jobs: int | None = None,
                 time_limit: float | None = None, memory_limit: int | None = None,
                 check_options: CheckOptions | None = None,
                 progress: Callable[[int, int, MutantResult], None] | None = None,
                 on_phase: Callable[[str], None] | None = None,
                 argv: Sequence[str] | None = None,
                 executor: Executor | None = None) -> CampaignResult:
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
        examples, and at least 5 s. The baseline (building the examples and checking
        the original on them) gets the same limit, or
        :data:`~gcverify.limits.DEFAULT_TIME_LIMIT` when it is automatic.
    memory_limit
        Bytes each child (the baseline's, each mutant's) may add to its address
        space; by default :func:`~gcverify.limits.default_memory_limit` for ``jobs``.
    check_options
        How :func:`gcverify.check_backprop` checks (default: ``CheckOptions()``), with
        ``jobs=1`` whatever is given: the campaign's workers are its parallelism, and
        each check runs alone in one.
    progress
        ``progress(done, total, result)`` after each mutant; a
        :class:`KeyboardInterrupt` raised by it (or by Ctrl-C, at any point) stops the
        campaign, which then returns what finished, with ``interrupted=True``.
    on_phase
        ``on_phase(text)`` when the baseline starts, and when the mutants do.
    argv
        The ``sys.argv`` the user's code sees in the children (default: this
        process's).
    executor
        Where the mutants run (:mod:`~gcverify.mutation.dispatch`): by default
        :func:`gcverify.executors.open_executor` ``(jobs)``, ``jobs`` children of this
        process at a time; any executor it opens (a Dask cluster) runs them on its
        workers instead. Either way each mutant runs in a child of the worker, with
        the limits. The baseline always runs here. If the executor goes away, the
        campaign returns what finished, with ``lost`` saying why.

    Raises
    ------
    InvalidArgument
        For bad arguments, an example that is not ``(X, Y, parameters)``, or an
        original backward pass that the check already FAILs (fix it first).
    UserCodeFailed
        When the original (or the example source) raises, exits, crashes, hangs or
        runs out of memory in the baseline; ``.failure`` says how and where.
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
    jobs = _positive_int("jobs", jobs) if jobs is not None else available_cores()
    if time_limit is not None and not (isinstance(time_limit, (int, float))
                                       and not isinstance(time_limit, bool) and time_limit > 0):
        raise invalid_argument("time_limit", time_limit, "is not a positive number of seconds",
                               "pass e.g. time_limit=10, or None for an automatic limit")
    if memory_limit is None:
        memory_limit = default_memory_limit(jobs)
    elif isinstance(memory_limit, bool) or not isinstance(memory_limit, int) or memory_limit < 1:
        raise invalid_argument("memory_limit", memory_limit, "is not a positive number of "
                               "bytes", "pass e.g. memory_limit=2**30, or None for a share "
                               "of the machine")
    if check_options is not None and not isinstance(check_options, CheckOptions):
        raise invalid_argument("check_options", check_options, "is not a CheckOptions",
                               "pass e.g. CheckOptions(threshold=1e-6), or None")
    check_options = _checked_alone(check_options)
    if mutants is not None:
        mutants = _of_the_target(target, tuple(mutants))
    if start_method() != "fork":
        raise GCVerifyError("mutation campaigns run each mutant in a forked process, and "
                            "this platform cannot fork; run them on Linux or macOS")
    started = time.perf_counter()
    settings = _Settings(target, examples, operators, mutants is None, jobs, time_limit,
                         memory_limit, check_options)
    results: dict[int, MutantResult] = {}
    baseline: Baseline | None = None
    with catching_interrupts():
        try:
            if mutants is None:
                mutants = target.mutants(operators)
            mutants = tuple(mutants)
            if on_phase is not None:
                on_phase(f"checking the original {target.function_names} on {examples} "
                         "examples")
            baseline = run_baseline(
                target, examples, check_options, memory_limit=memory_limit, argv=argv,
                time_limit=time_limit if time_limit is not None else DEFAULT_TIME_LIMIT)
            limit = time_limit if time_limit is not None else max(
                _TIME_FLOOR, _TIME_FACTOR * baseline.seconds)
            job = _Job.of(target, baseline, check_options, memory_limit)
            if on_phase is not None:
                on_phase(f"running {len(mutants)} mutants, {jobs} at a time")
        except KeyboardInterrupt:
            with deferred_interrupts():
                return settings.result(mutants, started=started, baseline=baseline)

        def record(index: int, result: MutantResult) -> None:
            assert mutants is not None
            results[index] = result
            if progress is not None:
                progress(len(results), len(mutants), result)

        def finished(index: int, report: ChildReport) -> None:
            assert mutants is not None
            record(index, sort_outcome(mutants[index], report, examples, memory_limit))

        interrupted, lost = True, None
        try:
            with contextlib.ExitStack() as stack:
                pool = executor if executor is not None else stack.enter_context(
                    open_executor(jobs))
                if not inherits_state(pool):  # the job travels, without this process's imports
                    job = replace(job, namespace=portable_namespace(job.namespace))
                run = run_on_executor(pool, partial(_evaluate, job), mutants,
                                      namespace=target.namespace, time_limit=limit,
                                      memory_limit=memory_limit, argv=argv, on_finish=finished)
                interrupted, lost = run.interrupted, run.lost
                for index, why in sorted(run.failed.items()):
                    record(index, MutantResult(
                        mutants[index], Outcome.KILLED_BY_ERROR, (), f"the mutant {why} (each "
                        "mutant runs in a child of the worker: something took the whole "
                        "worker down)", error=f"the mutant {why}"))
        except KeyboardInterrupt:  # whatever it interrupted, what was recorded stays
            interrupted = True
    return settings.result(mutants, started=started, baseline=baseline, limit=limit,
                           results=results, interrupted=interrupted, lost=lost)


def unstarted_campaign(target: Target, *, examples: int = DEFAULT_EXAMPLES,
                       mutants: Sequence[Mutant] | None = None,
                       operators: Sequence[Operator] = OPERATORS, jobs: int | None = None,
                       time_limit: float | None = None, memory_limit: int | None = None,
                       check_options: CheckOptions | None = None) -> CampaignResult:
    """The result of a campaign that Ctrl-C stopped before any mutant finished (while
    the file was imported, the original checked, or an earlier step ran): every
    mutant is listed as not run, and ``interrupted`` is True.

    >>> from gcverify.mutation import notebook_target
    >>> result = unstarted_campaign(notebook_target())
    >>> result.interrupted, result.counts.total, len(result.not_run) > 40
    (True, 0, True)
    """
    jobs = jobs if jobs is not None else available_cores()
    settings = _Settings(target, examples, operators, mutants is None, jobs, time_limit,
                         memory_limit if memory_limit is not None else default_memory_limit(jobs),
                         _checked_alone(check_options))
    if mutants is None:
        mutants = target.mutants(operators)
    return settings.result(tuple(mutants), started=time.perf_counter())


@dataclass(frozen=True)
class _Settings:
    """What a campaign was asked to do, to build its result however far it got."""

    target: Target
    examples: int
    operators: Sequence[Operator]
    generated: bool
    jobs: int
    time_limit: float | None
    memory_limit: int
    check_options: CheckOptions

    def result(self, mutants: Sequence[Mutant] | None, *, started: float,
               baseline: Baseline | None = None, limit: float | None = None,
               results: Mapping[int, MutantResult] | None = None,
               interrupted: bool = True, lost: str | None = None) -> CampaignResult:
        mutants = tuple(mutants) if mutants is not None else ()
        results = results or {}
        operator_names = (tuple(o.name for o in self.operators) if self.generated
                          else tuple(dict.fromkeys(m.operator for m in mutants)))
        timing = {"total": time.perf_counter() - started,
                  "baseline": baseline.seconds if baseline is not None else 0.0,
                  "jobs": self.jobs, "memory_limit": self.memory_limit}
        if limit is not None:
            timing["time_limit"] = limit
        return CampaignResult(
            target=self.target, seed=self.target.seed, n_examples=self.examples,
            check_options=self.check_options, time_limit=self.time_limit,
            operators=operator_names, baseline=baseline.runs if baseline is not None else (),
            results=tuple(results[i] for i in sorted(results)),
            not_run=tuple(m for i, m in enumerate(mutants) if i not in results),
            interrupted=interrupted, lost=lost, timing=timing)


def _of_the_target(target: Target, mutants: tuple[Mutant, ...]) -> tuple[Mutant, ...]:
    """``mutants``, each of a function the target mutates (else its copy would replace
    the wrong function in the child)."""
    sources = {source for _, source in target.sources}
    foreign = [m.id for m in mutants if m.original not in sources]
    if foreign:
        raise invalid_argument("mutants", foreign, "holds mutants of a "
                               f"function the target does not mutate ({target.function_names})",
                               "make them with target.mutants() or mutate(target.source)")
    return mutants


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise invalid_argument(name, value, "is not a positive integer", f"pass e.g. {name}=2")
    return int(value)


# --- in the child ------------------------------------------------------------------------

def _evaluate(job: _Job, mutant: Mutant) -> Evaluation:
    """Check ``mutant`` on every example (runs in a child process), through the passes
    built from a namespace where it replaces its function."""
    with quiet():
        # (run_campaign checked that the mutant is of the function or of one in also)
        name = dict((source, name) for name, source in job.also).get(mutant.original,
                                                                      job.mutated)
        mutated = job.build(namespace_with(job.namespace, name, mutant.compile(job.namespace)))
        runs, first_failure = [], None
        for index, (X, Y, parameters) in enumerate(job.examples):
            run, result = _run_example(job, mutated, index, X, Y, parameters)
            runs.append(run)
            if first_failure is None and result is not None \
                    and run.status is ExampleStatus.FAIL:
                first_failure = (index, result)
        killing = _killing_example(job, mutated, *first_failure) if first_failure else None
        unreached = job.unreached
        revived = (0, 0)
        if killing is None and unreached.any() and all(run.matches for run in runs):
            # Equal on every example: equivalent, or a change the examples never reach.
            revived = differs_when_revived(Backprop(job.forward, job.original), mutated,
                                           job.examples, unreached, job.equivalence.matches)
    return Evaluation(tuple(runs), killing, revived, int(unreached.sum()))


def _run_example(job: _Job, mutated: Backprop, index: int, X: np.ndarray, Y: np.ndarray,
                 parameters: Mapping[str, np.ndarray]
                 ) -> tuple[ExampleRun, GradCheckResult | None]:
    """One example; the mutant matches the original when its gradients and its cost do
    (a cost mutant leaves the gradients as they were: only its cost shows the change)."""
    try:
        result = check_backprop(*mutated, X, Y, parameters, **job.options.as_dict())
        cost = cost_of(mutated.forward, X, Y, parameters)
    except BaseException as error:  # the mutant may raise anything, even SystemExit
        text = (Failure(FailureKind.MEMORY, limit=job.memory_limit).describe()
                if isinstance(error, MemoryError) else error_text(error))
        return ExampleRun(index, ExampleStatus.ERROR, None, text, None, False), None
    analytic = np.asarray(result.analytic)
    pairs = ((analytic, job.baseline[index]), (cost, job.costs[index]))
    matches = all(job.equivalence.matches(*p) for p in pairs)
    run = ExampleRun(index, ExampleStatus.of(result.verdict), finite(result.difference),
                     check_diagnosis(result), finite(max(deviation(*p) for p in pairs)),
                     matches, not matches and _reached(job, index, analytic, cost))
    return run, result


def _reached(job: _Job, index: int, analytic: np.ndarray, cost: np.ndarray) -> bool:
    """Whether the mutant's change shows where example ``index`` reaches: its cost
    differs, or its gradient does at a coordinate the example reaches (always, when
    the baseline does not say which it reaches)."""
    if not job.equivalence.matches(cost, job.costs[index]):
        return True
    original = job.baseline[index]
    if index >= len(job.reached) or analytic.shape != original.shape:
        return True
    return bool((job.equivalence.differing(analytic, original) & job.reached[index]).any())


def _killing_example(job: _Job, mutated: Backprop, index: int,
                     result: GradCheckResult) -> KillingExample:
    """The failing example, shrunk (:func:`~gcverify.mutation.shrinking.shrunk`)."""
    return shrunk(mutated, Backprop(job.forward, job.original), index, job.examples[index],
                  result, job.options.as_dict(), job.layout)


def _checked_alone(options: CheckOptions | None) -> CheckOptions:
    """The options a campaign checks each mutant with: ``options`` (default
    ``CheckOptions()``) with ``jobs=1``, since each check runs alone in a campaign worker.

    >>> _checked_alone(CheckOptions(threshold=1e-6)).jobs
    1
    """
    return (options if options is not None else CheckOptions()).replace(jobs=1)
