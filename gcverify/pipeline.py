"""The checker's pipeline: estimate, judge, and look harder before believing a FAIL.

:func:`run_check` is what :func:`gcverify.check_gradients` and
:func:`gcverify.check_backprop` run once they have validated their arguments and chosen
an evaluator: it estimates every coordinate's derivative with an error bar, judges the
blocks and the whole vector (:mod:`gcverify.verdict`), and before reporting a FAIL or an
unjudgeable block it probes the cost's noise, re-estimates noisy blocks with larger
steps, and measures the backward pass's own rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from gcverify.coordinates import sampled_coordinates
from gcverify.errors import invalid_argument
from gcverify.evaluate import Evaluator
from gcverify.numdiff import (
    COMPLEX_STEP,
    EPS,
    PROBE_OFFSETS,
    Derivatives,
    central_derivatives,
    complex_step_estimates,
    one_sided_derivatives,
    probe_noise,
    step_sizes,
)
from gcverify.options import CheckOptions
from gcverify.parallel import resolve_jobs
from gcverify.result import BlockFinding, GradCheckResult, Verdict
from gcverify.settling import merge_settled, settling_tolerances
from gcverify.validate import AnalyticGradient
from gcverify.verdict import (
    NOT_EXCLUDED,
    Evidence,
    Exclusion,
    Judgement,
    excluded_totals,
    judge,
    overall_verdict,
    verdict_without_numbers,
)

__all__ = ["NOISE_PROBES", "REFINEMENT_STEPS", "nondeterminism", "not_judged", "run_check"]

#: Larger steps tried, in turn, on blocks too noisy to judge at the default step: a
#: ladder fine enough to land near the step where truncation meets noise.
REFINEMENT_STEPS = (4.0, 16.0, 64.0, 256.0, 1024.0)
#: Coordinates (or directions) probed for noise before a FAIL is believed: one per
#: block, those that move the cost most.
NOISE_PROBES = 4
# The cost at theta is evaluated this many more times: a deterministic cost gives the
# same value (to this many units in the last place: some BLAS builds reorder sums).
_REPEATS = 2
_SAME_COST_ULPS = 16


def run_check(evaluator: Evaluator, theta: np.ndarray, gradient: AnalyticGradient,
           options: CheckOptions, *, J0: float | None = None,
           analytic_noise: Callable[[], np.ndarray | None] | None = None) -> GradCheckResult:
    """Estimate, judge, and before believing a FAIL or an unjudgeable block, look harder:
    probe the cost's noise, re-estimate noisy blocks with larger steps, and measure the
    backward pass's own rounding."""
    if J0 is None:
        J0 = evaluator.base(theta)
    unstable = nondeterminism(evaluator, theta, J0)
    if unstable is not None:
        return not_judged(evaluator, gradient, options, unstable)
    first = _first_pass(evaluator, theta, J0, gradient, options)
    evidence, reasons = first.evidence, list(first.reasons)
    judgement = judge(evidence)
    if math.isfinite(J0):
        noise = first.noise
        if judgement.failed:
            # Before calling a mismatch a bug, measure the cost's noise where a
            # staircase cannot hide (irregular offsets), and widen the error bars.
            # (Noise the probe does not find beyond the first pass's adds nothing.)
            probed = _probe_noise(evaluator, theta, J0, evidence, first.steps)
            evidence = replace(evidence, error=evidence.error
                               + 3 * max(0.0, probed - noise) / first.steps)
            noise = max(noise, probed)
            judgement = judge(evidence)
        if options.epsilon is None:
            evidence, notes = _refine_noisy_blocks(evaluator, theta, J0, noise, evidence,
                                                   judgement)
            if notes:                       # something was re-estimated: judge again
                reasons += notes
                judgement = judge(evidence)
    if analytic_noise is not None and judgement.failed:
        sigma = analytic_noise()
        if sigma is not None:
            evidence = replace(evidence, error=evidence.error + 3 * sigma)
            judgement = judge(evidence)
    verdict, why = overall_verdict(evidence, judgement)
    if gradient.stray:
        reasons.append(f"the gradients hold keys that name no parameter: "
                       f"{', '.join(gradient.stray)}")
    return _result(evaluator, options, evidence, verdict, judgement.whole.difference,
                   first.method, judgement.findings, why + reasons)


def nondeterminism(evaluator: Evaluator, theta: np.ndarray, J0: float) -> str | None:
    """Why the cost is not deterministic, or None: the same parameters, evaluated again,
    must give the same cost (to a few units in the last place).

    Noise in the cost (dropout with an unseeded generator, random data drawn inside
    forward) makes every finite difference a difference of noise: error bars can hide a
    bug behind it, or call a correct backprop wrong. It is not a verdict on the backprop
    but on the check, so the check refuses to judge.
    """
    again = [evaluator.cost_again(theta) for _ in range(_REPEATS)]
    costs = [J0, *again]
    if not all(math.isfinite(c) for c in costs):
        if all(not math.isfinite(c) for c in costs):
            return None               # the same non-finite cost: judged as such later
        spread = math.inf
    else:
        spread = max(costs) - min(costs)
        if spread <= _SAME_COST_ULPS * EPS * max(abs(c) for c in costs):
            return None
    shown = ", ".join(f"{c:.17g}" for c in costs)
    return (f"the cost is not deterministic: the same parameters gave {shown} ({spread:.2g} "
            "apart), so no finite difference can be trusted; make forward deterministic: "
            "seed the random number generator inside it, or fix the dropout mask")


def not_judged(evaluator: Evaluator, gradient: AnalyticGradient, options: CheckOptions,
               why: str) -> GradCheckResult:
    """A result that judges nothing numerical, and says why; a missing gradient is still
    a FAIL (that needs no numbers)."""
    layout = evaluator.layout
    nothing = np.zeros(layout.size, dtype=bool)
    missing = frozenset(layout.names.index(name) for name in gradient.missing)
    evidence = Evidence(layout, gradient.vector, np.full(layout.size, np.nan),
                        np.full(layout.size, np.inf),
                        np.full(layout.size, NOT_EXCLUDED), nothing,
                        options.threshold, options.noise_limit, None, gradient.keys, missing)
    verdict, findings, reasons = verdict_without_numbers(judge(evidence), why)
    return _result(evaluator, options, evidence, verdict, math.nan, options.method, findings,
                   reasons)


def _result(evaluator: Evaluator, options: CheckOptions, evidence: Evidence, verdict: Verdict,
            difference: float, method: str, blocks: dict[str, BlockFinding],
            reasons: list[str]) -> GradCheckResult:
    """The result of a check, judged or not, with the counts its evidence gives."""
    return GradCheckResult(
        verdict=verdict, difference=difference, options=options, method=method,
        blocks=blocks, reasons=tuple(reasons), n_coordinates=evidence.layout.size,
        n_judged=int(evidence.judged.sum()), n_at_kinks=int(evidence.at_kinks.sum()),
        excluded=excluded_totals(evidence), evaluator=evaluator.name,
        analytic=evidence.analytic, numerical=evidence.numerical, error=evidence.error)


@dataclass(frozen=True)
class _FirstPass:
    """The stencil's estimates: evidence to judge, the steps, the cost's noise."""

    evidence: Evidence
    steps: np.ndarray        # per flat coordinate; inf where not evaluated
    noise: float             # NaN when not measured (a non-finite cost at theta)
    method: str
    reasons: tuple[str, ...]


def _first_pass(evaluator: Evaluator, theta: np.ndarray, J0: float,
                gradient: AnalyticGradient, options: CheckOptions) -> _FirstPass:
    layout, analytic = evaluator.layout, gradient.vector
    index = sampled_coordinates(layout, analytic, options.sample, options.seed)
    evaluated = np.zeros(layout.size, dtype=bool)
    evaluated[index] = True
    numerical = np.full(layout.size, np.nan)
    error = np.full(layout.size, np.inf)
    exclusion = np.full(layout.size, NOT_EXCLUDED)
    one_sided = np.zeros(layout.size, dtype=bool)
    steps = np.full(layout.size, np.inf)
    noise, method, reasons = math.nan, options.method, []
    if not math.isfinite(J0):
        exclusion[index] = Exclusion.NONFINITE
        reasons.append(f"the cost at the given parameters is {J0}: nothing can be judged")
    else:
        h = steps[index] = step_sizes(theta[index], options.epsilon)
        # The points theta +- 2h only where the verdict can depend on them (settling);
        # a negative tolerance never settles: that coordinate is audited (in full).
        tolerance = np.full(len(index), -np.inf)
        if options.method == "central" and options.sample is None:
            tolerance = settling_tolerances(layout, index, analytic[index],
                                            options.threshold, options.seed)
        costs, kinks, settled = evaluator.adaptive_stencil(
            theta, index, h, tolerance, analytic[index], resolve_jobs(options.jobs))
        # Where kinks are known (network structure, forward's cache), a rough cost is
        # noise; where they are not, a rough coordinate is left out as non-smooth.
        derivatives = merge_settled(J0, costs, h, kinks, settled, tolerance < 0,
                                    layout.block_ids[index], tolerance)
        value, bars, noise = derivatives.value, derivatives.error, derivatives.noise
        if options.method != "central":
            value, bars, method, reasons = _complex_step(evaluator, theta, index,
                                                         derivatives, options.method)
        exclusion[index] = _exclusions(derivatives, kinks)
        # At a kink, a correct backprop takes one side's derivative: where it does, that
        # side's estimate (with its own, wider, error bar) judges the coordinate.
        at_kink = (exclusion[index] == Exclusion.KINK) | (exclusion[index] == Exclusion.ROUGH)
        sides = one_sided_derivatives(J0, costs, h, analytic[index], noise)
        one_sided[index] = taken = at_kink & sides.matches
        value, bars = np.where(taken, sides.value, value), np.where(taken, sides.error, bars)
        numerical[index], error[index] = value, bars
        # A given step that theta + step rounds away (or to a step 1 % off) measures
        # nothing: those coordinates are not judged, and the verdict says why.
        moved = (theta[index] + h) - theta[index]
        exclusion[index[np.abs(moved - h) > 0.01 * h]] = Exclusion.STEP
    missing = frozenset(layout.names.index(name) for name in gradient.missing)
    evidence = Evidence(layout, analytic, numerical, error, exclusion, evaluated,
                        options.threshold, options.noise_limit, one_sided, gradient.keys,
                        missing)
    return _FirstPass(evidence, steps, noise, method, tuple(reasons))


def _probe_noise(evaluator: Evaluator, theta: np.ndarray, J0: float, evidence: Evidence,
                 steps: np.ndarray) -> float:
    """The cost's noise from irregular offsets along the judged coordinate that moves
    the cost most in each block (up to :data:`NOISE_PROBES` blocks)."""
    layout = evidence.layout
    # A judged coordinate was evaluated: its step is finite.
    movement = np.where(evidence.judged & np.isfinite(evidence.numerical),
                        np.abs(evidence.numerical) * steps, 0.0)
    chosen = []
    for k in range(len(layout.names)):
        span = slice(layout.offsets[k], layout.offsets[k + 1])
        best = int(np.argmax(movement[span]))
        if movement[span][best] > 0:
            chosen.append((movement[span][best], layout.offsets[k] + best))
    if not chosen:
        return 0.0
    chosen.sort(reverse=True)
    index = np.array([i for _, i in chosen[:NOISE_PROBES]])
    costs = evaluator.costs_at(theta, index, steps[index][:, None] * PROBE_OFFSETS)
    return probe_noise(J0, costs)


def _refine_noisy_blocks(evaluator: Evaluator, theta: np.ndarray, J0: float, noise: float,
                         evidence: Evidence, judgement: Judgement
                         ) -> tuple[Evidence, list[str]]:
    """Re-estimate the blocks too noisy to judge with larger steps.

    Rounding noise enters a central difference as ``sigma / h`` and truncation as
    ``h^2``: where the cost is a fine staircase (a saturated sigmoid or tanh), a larger
    step trades a little truncation for much less noise. Each coordinate keeps the
    estimate with the smaller error bar; a larger stencil that meets a kink is ignored.
    The cost's noise, measured over all coordinates by the first pass, stays the floor:
    it is a property of the cost at ``theta``, not of the step.
    """
    layout, notes, findings = evidence.layout, [], judgement.findings
    for factor in REFINEMENT_STEPS:
        noisy = [k for k, block in enumerate(findings.values())
                 if block.verdict is Verdict.INCONCLUSIVE
                 and block.resolution > evidence.noise_limit]
        index = np.flatnonzero(evidence.judged & np.isin(layout.block_ids, noisy))
        if index.size == 0:
            break
        h = step_sizes(theta[index], None, factor)
        costs, kinks = evaluator.stencil(theta, index, h)
        derivatives = central_derivatives(J0, costs, h, None if kinks is None else ~kinks,
                                          noise_floor=noise)
        better = (_exclusions(derivatives, kinks) < 0) & (derivatives.error
                                                          < evidence.error[index])
        if not better.any():
            continue
        numerical, error = evidence.numerical.copy(), evidence.error.copy()
        numerical[index[better]] = derivatives.value[better]
        error[index[better]] = derivatives.error[better]
        evidence = replace(evidence, numerical=numerical, error=error)
        findings = judge(evidence).findings
        names = ", ".join(layout.names[k] for k in noisy)
        notes.append(f"{names}: too noisy at the default step; {int(better.sum())} "
                     f"coordinates re-estimated with a step {factor:g} times larger")
    return evidence, notes


def _exclusions(derivatives: Derivatives, kinks: np.ndarray | None) -> np.ndarray:
    codes = np.full(derivatives.value.shape, NOT_EXCLUDED)
    if kinks is None:
        codes[derivatives.rough] = Exclusion.ROUGH
    else:
        codes[kinks] = Exclusion.KINK
    codes[~derivatives.finite] = Exclusion.NONFINITE
    return codes


def _complex_step(evaluator: Evaluator, theta: np.ndarray, index: np.ndarray,
                  derivatives: Derivatives, method: str
                  ) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    """Complex-step derivatives where the cost is complex-safe; else what ``method``
    says to do: raise (``"complex"``) or fall back to central (``"auto"``). Also the
    notes for the result's reasons."""
    problem, merged = None, None
    try:
        merged = complex_step_estimates(evaluator.complex_step(theta, index, COMPLEX_STEP),
                                        derivatives)
    except Exception as error:  # the user's cost may fail in any way on complex input
        problem = f"{type(error).__name__}: {error}"
    if merged is not None and not merged.follows:
        problem = ("its imaginary part does not follow the derivative (it drops it, or "
                   "uses abs, comparisons or real-only functions)")
    if problem is not None or merged is None:
        if method == "complex":
            raise invalid_argument(evaluator.role, evaluator.function,
                                   f"is not complex-safe ({problem})",
                                   "use method='central', or method='auto' to fall back")
        return (derivatives.value, derivatives.error, "central",
                [f"complex step unavailable, central differences used: {problem}"])
    if not merged.disagreeing:
        return merged.value, merged.error, "complex", []
    return merged.value, merged.error, "complex", [
        f"the complex step disagreed with the central difference on {merged.disagreeing} "
        "coordinates; the central difference was used there"]
