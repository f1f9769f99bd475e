"""Mutation campaigns: every mutant of a backward pass, checked on seeded examples.

For each mutant, :func:`run_campaign` runs :func:`gcverify.check_backprop` on the same
``N`` examples, each mutant in its own child process with a time limit, and sorts it
into one :class:`Outcome`:

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
import enum
import inspect
import math
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import Any

import numpy as np

from gcverify._version import __version__
from gcverify.check import check_backprop, check_gradients
from gcverify.errors import GCVerifyError, invalid_argument
from gcverify.mutation.engine import Mutant, mutate
from gcverify.mutation.examples import Example, validate_example
from gcverify.mutation.isolation import TaskReport, run_isolated, start_method
from gcverify.mutation.operators import FAMILIES, OPERATORS, Operator
from gcverify.mutation.targets import Target
from gcverify.result import GradCheckResult, Verdict

__all__ = [
    "CHECK_OPTIONS",
    "DEFAULT_EXAMPLES",
    "EQUIVALENCE_ATOL",
    "EQUIVALENCE_RTOL",
    "CampaignResult",
    "ExampleRun",
    "KillingExample",
    "MutantResult",
    "Outcome",
    "run_campaign",
]

#: Examples per mutant when none is given: about 12 ms of checking each on the
#: notebook's network, so that ~140 mutants take some 10 s on two cores.
DEFAULT_EXAMPLES = 12
#: Gradients equal the original's "within rounding" when, entry by entry,
#: ``|g - g0| <= EQUIVALENCE_RTOL * |g0| + EQUIVALENCE_ATOL * max|g0|``.
EQUIVALENCE_RTOL = 1e-12
EQUIVALENCE_ATOL = 1e-15
#: The options of :func:`gcverify.check_backprop` a campaign passes on.
# The checker's options (its keyword-only parameters) and their defaults.
_CHECK_DEFAULTS = {name: parameter.default
                   for name, parameter in inspect.signature(check_gradients).parameters.items()
                   if parameter.kind is parameter.KEYWORD_ONLY}
CHECK_OPTIONS = tuple(_CHECK_DEFAULTS)
# The automatic per-mutant time limit: this many times the original's own time on all
# examples, and never less than the floor.
_TIME_FACTOR = 20.0
_TIME_FLOOR = 5.0


class Outcome(enum.Enum):
    """What became of a mutant. ``detected`` outcomes count towards the score.

    >>> [o.value for o in Outcome if o.detected]
    ['killed', 'killed_by_error', 'timeout']
    """

    KILLED = "killed"
    KILLED_BY_ERROR = "killed_by_error"
    TIMEOUT = "timeout"
    SURVIVED = "survived"
    EQUIVALENT = "equivalent"

    @property
    def detected(self) -> bool:
        return self in (Outcome.KILLED, Outcome.KILLED_BY_ERROR, Outcome.TIMEOUT)

    @property
    def label(self) -> str:
        """How reports name the outcome."""
        return _LABELS[self]

    def __str__(self) -> str:
        return self.value


_LABELS = {Outcome.KILLED: "killed", Outcome.KILLED_BY_ERROR: "killed by error",
           Outcome.TIMEOUT: "timeout", Outcome.SURVIVED: "survived",
           Outcome.EQUIVALENT: "probably equivalent"}


@dataclass(frozen=True)
class ExampleRun:
    """The check of one mutant on one example.

    ``verdict`` is ``"pass"``, ``"fail"``, ``"inconclusive"`` or ``"error"``;
    ``diagnosis`` the mismatched blocks' diagnoses (or the check's summary, or the
    error); ``deviation`` the largest ``|g - g0| / max|g0|`` against the original's
    gradient ``g0`` (None when not finite or on error); ``matches`` whether ``g``
    equals ``g0`` within rounding.

    >>> run = ExampleRun(0, "fail", 0.333, "dW2 ≈ 2.000 × numerical (scaling bug)", 0.5, False)
    >>> run.verdict, run.matches
    ('fail', False)
    """

    index: int
    verdict: str
    difference: float | None
    diagnosis: str
    deviation: float | None
    matches: bool


@dataclass(frozen=True)
class KillingExample:
    """The first example on which the check caught a mutant, shrunk where cheap.

    ``columns`` are the batch columns kept of example ``index`` (all of them if it
    could not be shrunk); ``X, Y, parameters`` the arrays themselves, so that the kill
    can be replayed without the campaign; ``blocks`` the mismatched gradient keys.

    >>> from gcverify.mutation import mutate_function, notebook_target
    >>> target = notebook_target()
    >>> pick = [m for m in mutate_function(target.backward) if m.description == "db2 × 2"]
    >>> example = run_campaign(target, examples=1, mutants=pick, jobs=1).results[0].killing_example
    >>> example.blocks, example.columns, example.X.shape
    (('db2',), (0,), (4, 1))
    """

    index: int
    columns: tuple[int, ...]
    batch_size: int
    difference: float | None
    diagnosis: str
    summary: str
    blocks: tuple[str, ...]
    X: np.ndarray = field(repr=False)
    Y: np.ndarray = field(repr=False)
    parameters: Mapping[str, np.ndarray] = field(repr=False)

    @property
    def shrunk(self) -> bool:
        return len(self.columns) < self.batch_size


@dataclass(frozen=True)
class MutantResult:
    """The outcome of one mutant and the evidence for it.

    ``runs`` has one :class:`ExampleRun` per example (empty after a timeout or a
    crash); ``error`` is the first error (for ``killed_by_error``); ``evidence`` one
    sentence a reviewer can check; ``seconds`` the wall time (not part of equality).

    >>> from gcverify.mutation import custom_mutant, notebook_target
    >>> target = notebook_target()
    >>> boom = custom_mutant(target.source, target.source.text.replace(
    ...     "    m = X.shape[1]", "    m = X.shape[1]\\n    raise ValueError('boom')"))
    >>> print(run_campaign(target, examples=2, mutants=[boom], jobs=1).results[0].summary())
    custom-L...: killed by error (raised on 2 of 2 examples (first on example 0:
    ValueError: boom); the check FAILs on none)
    """

    mutant: Mutant
    outcome: Outcome
    runs: tuple[ExampleRun, ...]
    evidence: str
    killing_example: KillingExample | None = None
    error: str | None = None
    seconds: float = field(default=0.0, compare=False)

    @property
    def detected(self) -> int:
        """Number of examples on which the check FAILs."""
        return sum(run.verdict == "fail" for run in self.runs)

    @property
    def detection_rate(self) -> float | None:
        """Share of examples on which the check FAILs (None if none ran)."""
        return self.detected / len(self.runs) if self.runs else None

    @property
    def difference(self) -> float | None:
        """The difference on the killing example, if killed."""
        return self.killing_example.difference if self.killing_example else None

    def summary(self) -> str:
        """One line: id, outcome, evidence."""
        return f"{self.mutant.id}: {self.outcome.label} ({self.evidence})"


_COUNTED = ("killed", "killed_by_error", "timeout", "survived", "equivalent")


def _counts(results: Sequence[MutantResult]) -> dict[str, int]:
    tally = Counter(result.outcome.value for result in results)
    return {"total": len(results), **{name: tally.get(name, 0) for name in _COUNTED}}


def _score(counts: Mapping[str, int]) -> float | None:
    judged = counts["total"] - counts["equivalent"]
    return None if judged == 0 else (judged - counts["survived"]) / judged


def _check_score(counts: Mapping[str, int]) -> float | None:
    ran = counts["total"] - counts["equivalent"] - counts["killed_by_error"] - counts["timeout"]
    return None if ran == 0 else counts["killed"] / ran


@dataclass(frozen=True)
class CampaignResult:
    """Everything a campaign found; the reports render only this.

    ``results`` follow the mutants' order; ``not_run`` lists the mutants an
    interruption left unfinished; ``baseline`` the original's check on each example;
    ``timing`` the wall times (``total``, ``baseline``, ``time_limit`` in seconds and
    the number of ``jobs``), the one part that differs between identical runs.

    >>> from gcverify.mutation import mutate_function, notebook_target
    >>> target = notebook_target()
    >>> pick = [m for m in mutate_function(target.backward) if m.description == "dZ3 × −1"]
    >>> print(run_campaign(target, examples=2, mutants=pick, jobs=1).summary())
    score 100.0 %: 1 mutant, 1 killed by the check, 0 by an error, 0 timed out,
    0 survived, 0 probably equivalent
    """

    target: Target
    seed: int | None
    n_examples: int
    check_options: Mapping[str, Any]
    time_limit: float | None
    operators: tuple[str, ...]
    baseline: tuple[ExampleRun, ...]
    results: tuple[MutantResult, ...]
    not_run: tuple[Mutant, ...] = ()
    interrupted: bool = False
    timing: Mapping[str, float] = field(default_factory=dict, compare=False)
    tool_version: str = __version__

    def __post_init__(self) -> None:
        object.__setattr__(self, "check_options", MappingProxyType(dict(self.check_options)))
        object.__setattr__(self, "timing", MappingProxyType(dict(self.timing)))

    @property
    def counts(self) -> dict[str, int]:
        """``total`` (finished mutants) and the number of each outcome."""
        return _counts(self.results)

    @property
    def score(self) -> float | None:
        """``(killed + killed_by_error + timeout) / (total - equivalent)``."""
        return _score(self.counts)

    @property
    def check_score(self) -> float | None:
        """``killed / (total - equivalent - killed_by_error - timeout)``."""
        return _check_score(self.counts)

    @property
    def families(self) -> dict[str, dict[str, Any]]:
        """Per operator family: the counts, ``score`` and ``check_score``."""
        order = {family: k for k, family in enumerate(FAMILIES)}
        names = sorted({r.mutant.family for r in self.results},
                       key=lambda family: (order.get(family, len(order)), family))
        table = {}
        for family in names:
            counts = _counts([r for r in self.results if r.mutant.family == family])
            table[family] = {**counts, "score": _score(counts),
                             "check_score": _check_score(counts)}
        return table

    def with_outcome(self, *outcomes: Outcome) -> tuple[MutantResult, ...]:
        """The results with one of ``outcomes``, in order."""
        return tuple(r for r in self.results if r.outcome in outcomes)

    @property
    def survivors(self) -> tuple[MutantResult, ...]:
        return self.with_outcome(Outcome.SURVIVED)

    @property
    def equivalents(self) -> tuple[MutantResult, ...]:
        return self.with_outcome(Outcome.EQUIVALENT)

    @property
    def passed(self) -> bool:
        """No non-equivalent mutant survived, and the campaign ran to the end."""
        return not self.survivors and not self.interrupted

    def summary(self) -> str:
        """One line: the score and the count of each outcome."""
        counts = self.counts
        score = "n/a" if self.score is None else f"{100 * self.score:.1f} %"
        line = (f"score {score}: {counts['total']} mutant{'s' * (counts['total'] != 1)}, "
                f"{counts['killed']} killed by the check, {counts['killed_by_error']} by an "
                f"error, {counts['timeout']} timed out, {counts['survived']} survived, "
                f"{counts['equivalent']} probably equivalent")
        if self.interrupted:
            line += f" (interrupted: {len(self.not_run)} not run)"
        return line


# --- running a campaign -------------------------------------------------------------------

@dataclass(frozen=True)
class _Job:
    """What every child needs: inherited through fork, never pickled (except on spawn)."""

    forward: Callable[..., Any]
    original: Callable[..., Any]
    namespace: Mapping[str, Any]
    examples: tuple[Example, ...]
    baseline: tuple[np.ndarray, ...]
    options: Mapping[str, Any]


@dataclass(frozen=True)
class _Evaluation:
    runs: tuple[ExampleRun, ...]
    killing: KillingExample | None


def run_campaign(target: Target, *, examples: int = DEFAULT_EXAMPLES,
                 mutants: Sequence[Mutant] | None = None,
                 operators: Sequence[Operator] = OPERATORS, jobs: int | None = None,
                 time_limit: float | None = None,
                 check_options: Mapping[str, Any] | None = None,
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
        Passed to :func:`gcverify.check_backprop` (``threshold``, ``method``...).
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
    jobs = _positive_int("jobs", jobs) if jobs is not None else _usable_cores()
    if time_limit is not None and not (isinstance(time_limit, (int, float))
                                       and not isinstance(time_limit, bool) and time_limit > 0):
        raise invalid_argument("time_limit", time_limit, "is not a positive number of seconds",
                               "pass e.g. time_limit=10, or None for an automatic limit")
    options = dict(check_options or {})
    unknown = sorted(set(options) - set(CHECK_OPTIONS))
    if unknown:
        raise invalid_argument("check_options", unknown, "are not options of check_backprop",
                               f"use some of {', '.join(CHECK_OPTIONS)}")
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
    baseline, analytic = _baseline(target, cases, options)
    baseline_seconds = time.perf_counter() - baseline_started
    limit = time_limit if time_limit is not None else max(_TIME_FLOOR,
                                                          _TIME_FACTOR * baseline_seconds)

    job = _Job(target.forward, target.backward, target.namespace, cases, analytic, options)
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
        target=target, seed=target.seed, n_examples=examples,
        check_options={**_CHECK_DEFAULTS, **options},
        time_limit=time_limit, operators=operator_names, baseline=baseline,
        results=tuple(results[i] for i in sorted(results)),
        not_run=tuple(m for i, m in enumerate(mutants) if i not in results),
        interrupted=interrupted,
        timing={"total": time.perf_counter() - started, "baseline": baseline_seconds,
                "time_limit": limit, "jobs": jobs})


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise invalid_argument(name, value, "is not a positive integer", f"pass e.g. {name}=2")
    return int(value)


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _baseline(target: Target, cases: Sequence[Example], options: Mapping[str, Any]
              ) -> tuple[tuple[ExampleRun, ...], tuple[np.ndarray, ...]]:
    """The original on every example: it must not FAIL, and its gradients are kept."""
    runs, analytic = [], []
    for index, (X, Y, parameters) in enumerate(cases):
        with _quiet():
            result = check_backprop(target.forward, target.backward, X, Y, parameters,
                                    **options)
        if result.verdict is Verdict.FAIL:
            raise invalid_argument(
                "backward", target.source.name,
                f"already fails the gradient check on example {index}, before any mutation "
                f"({result.summary()})",
                "fix the backward pass first (gcverify.check_backprop shows where), or "
                "choose examples on which it passes")
        runs.append(ExampleRun(index, result.verdict.value, _finite(result.difference),
                               _diagnosis(result), 0.0, True))
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
            if first_failure is None and result is not None and run.verdict == "fail":
                first_failure = (index, result)
        killing = None
        if first_failure is not None:
            killing = _killing_example(job, backward, *first_failure)
    return _Evaluation(tuple(runs), killing)


def _run_example(job: _Job, backward: Callable[..., Any], index: int, X: np.ndarray,
                 Y: np.ndarray, parameters: Mapping[str, np.ndarray]
                 ) -> tuple[ExampleRun, GradCheckResult | None]:
    try:
        result = check_backprop(job.forward, backward, X, Y, parameters, **job.options)
    except BaseException as error:  # the mutant may raise anything, even SystemExit
        return ExampleRun(index, "error", None, _error_text(error), None, False), None
    original = job.baseline[index]
    analytic = np.asarray(result.analytic)
    scale = float(np.max(np.abs(original))) if original.size else 0.0
    gap = np.abs(analytic - original)
    matches = bool(np.all(gap <= EQUIVALENCE_RTOL * np.abs(original)
                          + EQUIVALENCE_ATOL * scale))
    deviation = float(np.max(gap)) / scale if scale > 0 else float(np.max(gap))
    run = ExampleRun(index, result.verdict.value, _finite(result.difference),
                     _diagnosis(result), _finite(deviation), matches)
    return run, result


def _killing_example(job: _Job, backward: Callable[..., Any], index: int,
                     result: GradCheckResult) -> KillingExample:
    """The failing example, shrunk to its first ``k`` batch columns for the smallest
    ``k`` on which the mutant still FAILs and the original still PASSes."""
    X, Y, parameters = job.examples[index]
    m = X.shape[-1] if X.ndim == 2 else 0
    columns = tuple(range(m))
    if m > 1 and Y.shape[-1:] == (m,):
        for size in range(1, m):
            X_small, Y_small = X[:, :size], Y[..., :size]
            try:
                small = check_backprop(job.forward, backward, X_small, Y_small, parameters,
                                       **job.options)
                if small.verdict is not Verdict.FAIL:
                    continue
                reference = check_backprop(job.forward, job.original, X_small, Y_small,
                                           parameters, **job.options)
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
    if report.status == "timeout":
        return MutantResult(mutant, Outcome.TIMEOUT, (), "did not finish within the time limit",
                            seconds=report.seconds)
    if report.status == "crashed":
        return MutantResult(mutant, Outcome.KILLED_BY_ERROR, (),
                            f"crashed the interpreter: {report.detail}", error=report.detail,
                            seconds=report.seconds)
    if report.status == "raised":
        return MutantResult(mutant, Outcome.KILLED_BY_ERROR, (),
                            f"raised before any example was checked: {report.detail}",
                            error=report.detail, seconds=report.seconds)
    evaluation: _Evaluation = report.value
    runs = evaluation.runs
    verdicts = Counter(run.verdict for run in runs)
    errors = [run for run in runs if run.verdict == "error"]
    if evaluation.killing is not None:
        killing = evaluation.killing
        evidence = (f"the check FAILs on {verdicts['fail']} of {n_examples} examples; first on "
                    f"example {killing.index}: {killing.diagnosis}")
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
    shown = ", ".join(f"{verdicts[v]} {v.upper()}" for v in ("pass", "inconclusive")
                      if verdicts[v])
    evidence = (f"its gradients differ from the original's on {differing} of {n_examples} "
                f"examples (largest relative deviation {largest:.2g}), yet the check gave "
                f"{shown}")
    return MutantResult(mutant, Outcome.SURVIVED, runs, evidence, seconds=report.seconds)
