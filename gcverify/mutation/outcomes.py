"""Sorting a finished mutant into its outcome, with the evidence (in the campaign's
process, from what its child reported): see :mod:`gcverify.mutation.campaign` for the
outcomes and :mod:`gcverify.mutation.reach` for "not reached"."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from gcverify.failure import Failure, FailureKind
from gcverify.mutation.engine import Mutant
from gcverify.mutation.results import (
    ExampleRun,
    ExampleStatus,
    KillingExample,
    MutantResult,
    Outcome,
)
from gcverify.supervise import ChildReport

__all__ = ["Evaluation", "sort_outcome"]


@dataclass(frozen=True)
class Evaluation:
    """What a mutant did on the examples; ``revived``: on how many revived copies its
    gradient differed from the original's, of how many compared; ``unreached``: how
    many coordinates no example reaches."""

    runs: tuple[ExampleRun, ...]
    killing: KillingExample | None
    revived: tuple[int, int] = (0, 0)
    unreached: int = 0


def sort_outcome(mutant: Mutant, report: ChildReport, n_examples: int,
            memory_limit: int) -> MutantResult:
    """Sort a finished mutant into its outcome, with the evidence."""
    failure = report.failure
    if failure is not None and failure.kind is FailureKind.TIMEOUT:
        return MutantResult(mutant, Outcome.TIMEOUT, (), "did not finish within the time limit",
                            seconds=report.seconds)
    if failure is not None:
        error = f"the mutant {failure.describe()}"
        evidence = {FailureKind.CRASHED: f"the mutant crashed the interpreter: it "
                                         f"{failure.describe()}",
                    FailureKind.MEMORY: error}.get(
            failure.kind, f"{error} before any example was checked")
        return MutantResult(mutant, Outcome.KILLED_BY_ERROR, (), evidence, error=error,
                            seconds=report.seconds)
    evaluation: Evaluation = report.value
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
        if first.diagnosis.startswith(Failure(FailureKind.MEMORY).describe()):
            evidence = (f"{first.diagnosis} on {len(errors)} of {n_examples} examples; the "
                        "check FAILs on none")
        else:
            evidence = (f"raised on {len(errors)} of {n_examples} examples (first on example "
                        f"{first.index}: {first.diagnosis}); the check FAILs on none")
        return MutantResult(mutant, Outcome.KILLED_BY_ERROR, runs, evidence, None,
                            first.diagnosis, report.seconds)
    deviations = [run.deviation for run in runs if run.deviation is not None]
    largest = max(deviations, default=0.0)
    what = "its cost and gradients" if mutant.role == "cost" else "its gradients"
    revived, compared = evaluation.revived
    unreached = (f"the examples leave {evaluation.unreached} gradient coordinates "
                 "unreached (zero within the error bars on every example: dead units)")
    if all(run.matches for run in runs) and revived:
        evidence = (f"{what} equal the original's on all {n_examples} examples, but "
                    f"{unreached}, and with their parameters redrawn {what} differ on "
                    f"{revived} of {compared} revived copies: the examples do not reach the "
                    "change")
        return MutantResult(mutant, Outcome.NOT_REACHED, runs, evidence,
                            seconds=report.seconds)
    if all(run.matches for run in runs):
        evidence = (f"{what} equal the original's within rounding on all {n_examples} "
                    f"examples (largest relative deviation {largest:.1e})")
        if evaluation.unreached:
            evidence += (f"; {unreached}, and on {compared} copies with those revived "
                         "they still do")
        return MutantResult(mutant, Outcome.EQUIVALENT, runs, evidence, seconds=report.seconds)
    differing = sum(not run.matches for run in runs)
    if not any(run.reached for run in runs):
        evidence = (f"{what} differ from the original's on {differing} of {n_examples} "
                    f"examples (largest relative deviation {largest:.2g}), but only where "
                    "the examples do not reach (coordinates whose gradient is zero within "
                    "the error bars there: dead units)")
        return MutantResult(mutant, Outcome.NOT_REACHED, runs, evidence,
                            seconds=report.seconds)
    shown = ", ".join(f"{statuses[status]} {status}" for status in
                      (ExampleStatus.PASS, ExampleStatus.INCONCLUSIVE) if statuses[status])
    evidence = (f"{what} differ from the original's on {differing} of {n_examples} "
                f"examples (largest relative deviation {largest:.2g}), yet the check gave "
                f"{shown}")
    return MutantResult(mutant, Outcome.SURVIVED, runs, evidence, seconds=report.seconds)
