"""What a mutation campaign found: outcomes, evidence and the campaign's result.

:func:`gcverify.mutation.run_campaign` returns a :class:`CampaignResult`; the reports
render only it. Each status is an enum whose members carry their labels:
:class:`Outcome` (what became of a mutant) and :class:`ExampleStatus` (the check of one
mutant on one example).

>>> Outcome.EQUIVALENT.label, Outcome.TIMEOUT.detected
('probably equivalent', True)
>>> ExampleStatus.of(Verdict.FAIL), ExampleStatus.ERROR.value
(<ExampleStatus.FAIL: 'fail'>, 'error')
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gcverify import __version__
from gcverify.mutation.engine import Mutant
from gcverify.mutation.operators import FAMILIES
from gcverify.mutation.targets import Target
from gcverify.options import CheckOptions
from gcverify.result import FrozenMap, Verdict

__all__ = [
    "CampaignResult",
    "Counts",
    "Equivalence",
    "ExampleRun",
    "ExampleStatus",
    "KillingExample",
    "MutantResult",
    "Outcome",
]


class Outcome(enum.Enum):
    """What became of a mutant: its ``value`` (as in ``report.json``), its ``label`` (as
    reports print it), and whether it is ``detected`` (counts towards the score).

    ``NOT_REACHED`` (like mutmut's "no tests") is a mutant the examples do not reach:
    its gradient differs from the original's only where their gradient is zero (dead
    units), or nowhere on them but somewhere once those coordinates are revived. It is
    neither detected nor a survivor, and is left out of the score like an equivalent one.

    >>> [o.value for o in Outcome if o.detected]
    ['killed', 'killed_by_error', 'timeout']
    """

    KILLED = "killed"
    KILLED_BY_ERROR = "killed_by_error"
    TIMEOUT = "timeout"
    SURVIVED = "survived"
    NOT_REACHED = "not_reached"
    EQUIVALENT = "equivalent"

    @property
    def detected(self) -> bool:
        return self in (Outcome.KILLED, Outcome.KILLED_BY_ERROR, Outcome.TIMEOUT)

    @property
    def label(self) -> str:
        """How reports name the outcome in a table cell."""
        return _OUTCOME_WORDS[self][0]

    @property
    def description(self) -> str:
        """How reports name the outcome in a summary table."""
        return _OUTCOME_WORDS[self][1]

    def __str__(self) -> str:
        return self.value


_OUTCOME_WORDS = {
    Outcome.KILLED: ("killed", "killed by the gradient check"),
    Outcome.KILLED_BY_ERROR: ("killed by error",
                              "killed by an error (exception, wrong shape, memory, crash)"),
    Outcome.TIMEOUT: ("timeout", "timed out"),
    Outcome.SURVIVED: ("survived", "survived"),
    Outcome.NOT_REACHED: ("not reached", "not reached by the examples"),
    Outcome.EQUIVALENT: ("probably equivalent", "probably equivalent"),
}


class ExampleStatus(enum.Enum):
    """The check of one mutant on one example: a :class:`~gcverify.Verdict`, or ERROR when
    the mutant raised (or returned gradients the check cannot read).

    >>> [str(status) for status in ExampleStatus]
    ['PASS', 'FAIL', 'INCONCLUSIVE', 'ERROR']
    """

    PASS = Verdict.PASS.value
    FAIL = Verdict.FAIL.value
    INCONCLUSIVE = Verdict.INCONCLUSIVE.value
    ERROR = "error"

    @classmethod
    def of(cls, verdict: Verdict) -> ExampleStatus:
        return cls(verdict.value)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Equivalence:
    """When a mutant's gradient ``g`` equals the original's ``g0`` "within rounding":
    entry by entry, ``|g - g0| <= rtol * |g0| + atol * max|g0|``.

    >>> Equivalence().matches(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-14]))
    True
    """

    rtol: float = 1e-12
    atol: float = 1e-15

    def matches(self, gradient: np.ndarray, original: np.ndarray) -> bool:
        return not self.differing(gradient, original).any()

    def differing(self, gradient: np.ndarray, original: np.ndarray) -> np.ndarray:
        """Where ``gradient`` differs from ``original`` beyond rounding (entrywise).

        >>> Equivalence().differing(np.array([1.0, 2.0]), np.array([1.0, 2.5])).tolist()
        [False, True]
        """
        scale = float(np.max(np.abs(original))) if original.size else 0.0
        gap = np.abs(gradient - original)
        return ~(gap <= self.rtol * np.abs(original) + self.atol * scale)


@dataclass(frozen=True)
class ExampleRun:
    """The check of one mutant on one example.

    ``status`` is its :class:`ExampleStatus`; ``diagnosis`` the mismatched blocks'
    diagnoses (or the check's summary, or the error); ``deviation`` the largest
    ``|g - g0| / max|g0|`` against the original's gradient ``g0`` (None when not
    finite or on error); ``matches`` whether ``g`` equals ``g0`` within rounding;
    ``reached`` whether the mutant's change shows where this example reaches: its cost
    differs, or its gradient does at a coordinate whose original gradient is not zero
    within the error bars (:func:`gcverify.coverage.nonzero_beyond_error_bars`).

    >>> run = ExampleRun(0, ExampleStatus.FAIL, 0.333, "dW2 ≈ 2.000 × numerical", 0.5, False)
    >>> run.status, run.matches
    (<ExampleStatus.FAIL: 'fail'>, False)
    """

    index: int
    status: ExampleStatus
    difference: float | None
    diagnosis: str
    deviation: float | None
    matches: bool
    reached: bool = True


@dataclass(frozen=True)
class KillingExample:
    """The first example on which the check caught a mutant, shrunk where cheap.

    ``columns`` are the batch columns kept of example ``index`` (all of them if it
    could not be shrunk); ``X, Y, parameters`` the arrays themselves, so that the kill
    can be replayed without the campaign; ``blocks`` the mismatched gradient keys.

    >>> from gcverify.mutation import mutate_function, notebook_target, run_campaign
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

    >>> from gcverify.mutation import custom_mutant, notebook_target, run_campaign
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
    def failing_examples(self) -> int:
        """Number of examples on which the check FAILs."""
        return sum(run.status is ExampleStatus.FAIL for run in self.runs)

    @property
    def detection_rate(self) -> float | None:
        """Share of examples on which the check FAILs (None if none ran)."""
        return self.failing_examples / len(self.runs) if self.runs else None

    @property
    def difference(self) -> float | None:
        """The difference on the killing example, if killed."""
        return self.killing_example.difference if self.killing_example else None

    def summary(self) -> str:
        """One line: id, outcome, evidence."""
        return f"{self.mutant.id}: {self.outcome.label} ({self.evidence})"


@dataclass(frozen=True)
class Counts:
    """How many finished mutants had each outcome, and the scores they give.

    ``score = (killed + killed_by_error + timeout) / (total - equivalent - not_reached)``;
    ``check_score = killed / (total - equivalent - not_reached - killed_by_error -
    timeout)``; each None when its denominator is 0. A mutant the examples do not reach
    is neither detected nor survived: like mutmut's "no tests", it is left out.

    >>> Counts.of([]).score is None
    True
    """

    total: int
    by_outcome: Mapping[Outcome, int]

    @classmethod
    def of(cls, results: Sequence[MutantResult]) -> Counts:
        tally = Counter(result.outcome for result in results)
        return cls(len(results), FrozenMap({o: tally.get(o, 0) for o in Outcome}))

    def __getitem__(self, outcome: Outcome) -> int:
        return self.by_outcome[outcome]

    def as_dict(self) -> dict[str, int]:
        """``{"total": ..., "killed": ..., ...}``, keyed by :attr:`Outcome.value`."""
        return {"total": self.total, **{o.value: n for o, n in self.by_outcome.items()}}

    @property
    def judged(self) -> int:
        """Mutants that are neither probably equivalent nor out of the examples' reach."""
        return self.total - self[Outcome.EQUIVALENT] - self[Outcome.NOT_REACHED]

    @property
    def score(self) -> float | None:
        return None if self.judged == 0 else (self.judged - self[Outcome.SURVIVED]) / self.judged

    @property
    def check_score(self) -> float | None:
        ran = self.judged - self[Outcome.KILLED_BY_ERROR] - self[Outcome.TIMEOUT]
        return None if ran == 0 else self[Outcome.KILLED] / ran


@dataclass(frozen=True)
class CampaignResult:
    """Everything a campaign found; the reports render only this.

    ``results`` follow the mutants' order; ``not_run`` lists the mutants an
    interruption left unfinished; ``baseline`` the original's check on each example;
    ``check_options`` the :class:`~gcverify.options.CheckOptions` every check used;
    ``equivalence`` the tolerance of "probably equivalent"; ``timing`` the wall times
    (``total``, ``baseline``, ``time_limit`` in seconds and the number of ``jobs``),
    the one part that differs between identical runs.

    >>> from gcverify.mutation import mutate_function, notebook_target, run_campaign
    >>> target = notebook_target()
    >>> pick = [m for m in mutate_function(target.backward) if m.description == "dZ3 × −1"]
    >>> print(run_campaign(target, examples=2, mutants=pick, jobs=1).summary())
    score 100.0 %: 1 mutant, 1 killed by the check, 0 by an error, 0 timed out,
    0 survived, 0 probably equivalent
    """

    target: Target
    seed: int | None
    n_examples: int
    check_options: CheckOptions
    time_limit: float | None
    operators: tuple[str, ...]
    baseline: tuple[ExampleRun, ...]
    results: tuple[MutantResult, ...]
    not_run: tuple[Mutant, ...] = ()
    interrupted: bool = False
    lost: str | None = None
    equivalence: Equivalence = Equivalence()
    timing: Mapping[str, float] = field(default_factory=dict, compare=False)
    tool_version: str = __version__

    def __post_init__(self) -> None:
        object.__setattr__(self, "timing", FrozenMap(dict(self.timing)))

    @property
    def counts(self) -> Counts:
        """How many finished mutants had each outcome, and the scores."""
        return Counts.of(self.results)

    @property
    def score(self) -> float | None:
        """``(killed + killed_by_error + timeout) / (total - equivalent - not_reached)``."""
        return self.counts.score

    @property
    def check_score(self) -> float | None:
        """``killed / (total - equivalent - not_reached - killed_by_error - timeout)``."""
        return self.counts.check_score

    @property
    def families(self) -> dict[str, Counts]:
        """Per operator family (in the registry's order): its counts and scores."""
        order = {family: k for k, family in enumerate(FAMILIES)}
        names = sorted({r.mutant.family for r in self.results},
                       key=lambda family: (order.get(family, len(order)), family))
        return {family: Counts.of([r for r in self.results if r.mutant.family == family])
                for family in names}

    @staticmethod
    def family_description(family: str) -> str:
        """What a family's operators do ("" for a family the registry does not know)."""
        return FAMILIES.get(family, "")

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
    def not_reached(self) -> tuple[MutantResult, ...]:
        """The mutants the examples do not reach (:attr:`Outcome.NOT_REACHED`)."""
        return self.with_outcome(Outcome.NOT_REACHED)

    @property
    def complete(self) -> bool:
        """Whether the campaign ran to the end: neither Ctrl-C nor a lost executor
        stopped it."""
        return not self.interrupted and self.lost is None

    @property
    def passed(self) -> bool:
        """No non-equivalent mutant survived, and the campaign ran to the end."""
        return not self.survivors and self.complete

    def summary(self) -> str:
        """One line: the score and the count of each outcome."""
        counts = self.counts
        score = "n/a" if self.score is None else f"{100 * self.score:.1f} %"
        line = (f"score {score}: {counts.total} mutant{'s' * (counts.total != 1)}, "
                f"{counts[Outcome.KILLED]} killed by the check, "
                f"{counts[Outcome.KILLED_BY_ERROR]} by an error, {counts[Outcome.TIMEOUT]} "
                f"timed out, {counts[Outcome.SURVIVED]} survived, "
                f"{counts[Outcome.EQUIVALENT]} probably equivalent")
        if counts[Outcome.NOT_REACHED]:
            line += f", {counts[Outcome.NOT_REACHED]} not reached by the examples"
        if self.interrupted:
            line += f" (interrupted: {len(self.not_run)} not run)"
        elif self.lost:
            line += f" ({self.lost}: {len(self.not_run)} not run)"
        return line
