"""The gradient checker: verdicts that can be trusted, and where and how a gradient is wrong.

:func:`check_gradients` compares given gradients with numerical derivatives of a cost;
:func:`check_backprop` does the same for a forward/backward pair in the notebook's
convention, and can also watch the forward's cache for kinks and estimate the
backward pass's own rounding. Both return a :class:`~gcverify.result.GradCheckResult`;
the ``assert_*`` helpers raise an :class:`AssertionError` carrying its report.

Compared with the notebook's ``gradient_check_n``: each numerical derivative has an
error bar; coordinates whose finite differences straddle a kink are excluded (and
counted); each parameter block is judged on its own as well as the whole vector; a
NaN, an inf, or a case that cannot be judged is never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gcverify.backward_noise import backward_rounding
from gcverify.errors import invalid_argument
from gcverify.evaluate import (
    BatchedCost,
    BatchedEvaluator,
    BatchedForward,
    Evaluator,
    ForwardEvaluator,
    LoopEvaluator,
)
from gcverify.numdiff import (
    COMPLEX_STEP,
    PROBE_OFFSETS,
    Derivatives,
    central_derivatives,
    complex_step_estimates,
    matches_one_side,
    probe_noise,
    step_sizes,
)
from gcverify.options import CheckOptions
from gcverify.params import ParamLayout
from gcverify.result import GradCheckResult, Verdict
from gcverify.validate import (
    callable_signature,
    validate_callable,
    validate_data,
    validate_gradients,
    validate_parameters,
)
from gcverify.verdict import (
    NOT_EXCLUDED,
    Evidence,
    Exclusion,
    Judgement,
    excluded_totals,
    judge,
    overall_verdict,
)

__all__ = [
    "assert_backprop_correct",
    "assert_gradients_correct",
    "check_backprop",
    "check_gradients",
]

# Larger steps tried, in turn, on blocks too noisy to judge at the default step: a
# ladder fine enough to land near the step where truncation meets noise.
_REFINEMENT_STEPS = (4.0, 16.0, 64.0, 256.0, 1024.0)
# Coordinates (one per block, those that move the cost most) probed for noise.
_PROBED_COORDINATES = 4
# Shorthands for the defaults, which CheckOptions defines.
_O = CheckOptions


def check_gradients(cost: Callable[[dict[str, np.ndarray]], Any], gradients: Mapping[str, Any],
                    parameters: Mapping[str, Any], *, threshold: float = _O.threshold,
                    method: str = _O.method, epsilon: float | None = _O.epsilon,
                    seed: int = _O.seed, sample: int | None = _O.sample,
                    noise_limit: float = _O.noise_limit) -> GradCheckResult:
    """Check ``gradients`` against numerical derivatives of ``cost`` at ``parameters``.

    Parameters
    ----------
    cost
        ``cost(parameters) -> float``. A :class:`~gcverify.evaluate.BatchedCost` whose
        ``layout`` is the parameters' (as :meth:`MLP.cost_function` returns) is
        evaluated in vectorised batches.
    gradients
        Keyed like ``parameters`` (``"W1"``) or as the notebook does (``"dW1"``);
        other keys (``"dZ1"``) are ignored.
    parameters
        Dict of float64 arrays. Never modified; the cost receives copies.
    threshold, method, epsilon, seed, sample, noise_limit
        The options of :class:`~gcverify.options.CheckOptions`, where each is described.

    Examples
    --------
    >>> from gcverify import MLP
    >>> net = MLP((4, 5, 3, 1))
    >>> X, Y = net.make_batch(6, seed=1)
    >>> parameters = net.init_parameters(seed=2)
    >>> gradients = net.backward(X, Y, net.forward(X, Y, parameters)[1])
    >>> check_gradients(net.cost_function(X, Y), gradients, parameters).verdict
    <Verdict.PASS: 'pass'>
    >>> gradients["dW2"] = gradients["dW2"] * 2
    >>> print(check_gradients(net.cost_function(X, Y), gradients, parameters).summary())
    FAIL: 1 of 6 blocks mismatched (dW2 ≈ 2.000 × numerical (scaling bug)); difference ...
    """
    validate_callable("cost", cost, callable_signature("cost"))
    options = CheckOptions(threshold=threshold, method=method, epsilon=epsilon, seed=seed,
                           sample=sample, noise_limit=noise_limit)
    layout, theta = validate_parameters(parameters)
    analytic = validate_gradients(gradients, layout)
    evaluator: Evaluator
    if isinstance(cost, BatchedCost) and cost.layout == layout:
        evaluator = BatchedEvaluator(cost, cost.layout)  # its index tables already built
    else:
        evaluator = LoopEvaluator(cost, layout)
    return _check(evaluator, theta, analytic, options)


def check_backprop(forward: Callable[..., Any], backward: Callable[..., Any], X: Any, Y: Any,
                   parameters: Mapping[str, Any], *, threshold: float = _O.threshold,
                   method: str = _O.method, epsilon: float | None = _O.epsilon,
                   seed: int = _O.seed, sample: int | None = _O.sample,
                   noise_limit: float = _O.noise_limit) -> GradCheckResult:
    """Check a backward pass against numerical derivatives of its forward pass.

    ``forward(X, Y, parameters) -> (cost, cache)`` and ``backward(X, Y, cache) ->
    gradients``, as in the notebook. The options are those of
    :class:`~gcverify.options.CheckOptions`. Beyond :func:`check_gradients`, kinks are
    also looked for in the forward's cache (where two kinks can cancel in the cost),
    and before a FAIL is reported the backward pass's own rounding is estimated, so
    that a mismatch it explains is not called a bug. When ``forward`` is a bound
    method of a :class:`~gcverify.evaluate.BatchedForward` (:meth:`MLP.forward`),
    evaluation is batched.

    Examples
    --------
    >>> from gcverify.models import notebook as nb
    >>> X, Y, parameters = nb.gradient_check_n_test_case()
    >>> result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n_buggy,
    ...                         X, Y, parameters)
    >>> [block.diagnosis for block in result.mismatched]
    ['db1 ≈ 4.000 × numerical (scaling bug)', 'dW2 ≈ 2.000 × numerical (scaling bug)']
    """
    validate_callable("forward", forward, callable_signature("forward"))
    validate_callable("backward", backward, callable_signature("backward"))
    options = CheckOptions(threshold=threshold, method=method, epsilon=epsilon, seed=seed,
                           sample=sample, noise_limit=noise_limit)
    X, Y = validate_data("X", X), validate_data("Y", Y)
    layout, theta = validate_parameters(parameters)

    watcher = ForwardEvaluator(forward, X, Y, layout)
    cost, cache = watcher.base_with_cache(theta)
    analytic = validate_gradients(backward(X.copy(), Y.copy(), cache), layout,
                                  "backward(X, Y, cache)")
    evaluator: Evaluator = watcher
    owner = getattr(forward, "__self__", None)
    if isinstance(owner, BatchedForward):
        batched = owner.batched_cost(forward, X, Y)
        if batched is not None and batched.layout == layout:
            evaluator = BatchedEvaluator(batched, batched.layout, function=forward,
                                         role="forward")

    def analytic_noise() -> np.ndarray | None:
        return backward_rounding(forward, backward, X, Y, layout, theta, options.seed,
                                 watcher.rounding_scale)

    result = _check(evaluator, theta, analytic, options, J0=cost,
                    analytic_noise=analytic_noise)
    if watcher.mutates_inputs:
        note = ("forward modifies X or Y in place; the check gave it fresh copies each "
                "time, so the caller's arrays are untouched")
        result = replace(result, reasons=(*result.reasons, note))
    return result


def assert_gradients_correct(cost: Callable[[dict[str, np.ndarray]], Any],
                             gradients: Mapping[str, Any], parameters: Mapping[str, Any], *,
                             allow_inconclusive: bool = False, threshold: float = _O.threshold,
                             method: str = _O.method, epsilon: float | None = _O.epsilon,
                             seed: int = _O.seed, sample: int | None = _O.sample,
                             noise_limit: float = _O.noise_limit) -> GradCheckResult:
    """:func:`check_gradients`, raising :class:`AssertionError` unless it passes.

    The message is the full report: header with threshold, method and step,
    ``Mismatched blocks: k / n``, the worst entries of each failing block and a
    diagnosis such as ``dW2 ≈ 2.000 × numerical (scaling bug)``. INCONCLUSIVE fails
    too, unless ``allow_inconclusive=True``.

    >>> from gcverify import MLP
    >>> net = MLP((2, 3, 1))
    >>> X, Y = net.make_batch(4)
    >>> p = net.init_parameters()
    >>> g = net.backward(X, Y, net.forward(X, Y, p)[1])
    >>> assert_gradients_correct(net.cost_function(X, Y), g, p).passed
    True
    """
    __tracebackhide__ = True
    result = check_gradients(cost, gradients, parameters, threshold=threshold, method=method,
                             epsilon=epsilon, seed=seed, sample=sample,
                             noise_limit=noise_limit)
    _raise_unless_passed(result, allow_inconclusive)
    return result


def assert_backprop_correct(forward: Callable[..., Any], backward: Callable[..., Any], X: Any,
                            Y: Any, parameters: Mapping[str, Any], *,
                            allow_inconclusive: bool = False, threshold: float = _O.threshold,
                            method: str = _O.method, epsilon: float | None = _O.epsilon,
                            seed: int = _O.seed, sample: int | None = _O.sample,
                            noise_limit: float = _O.noise_limit) -> GradCheckResult:
    """:func:`check_backprop`, raising :class:`AssertionError` unless it passes.

    >>> from gcverify.models import notebook as nb
    >>> X, Y, p = nb.gradient_check_n_test_case()
    >>> assert_backprop_correct(nb.forward_propagation_n, nb.backward_propagation_n,
    ...                         X, Y, p).passed
    True
    """
    __tracebackhide__ = True
    result = check_backprop(forward, backward, X, Y, parameters, threshold=threshold,
                            method=method, epsilon=epsilon, seed=seed, sample=sample,
                            noise_limit=noise_limit)
    _raise_unless_passed(result, allow_inconclusive)
    return result


def _raise_unless_passed(result: GradCheckResult, allow_inconclusive: bool) -> None:
    __tracebackhide__ = True
    if result.verdict is Verdict.FAIL or (
            result.verdict is Verdict.INCONCLUSIVE and not allow_inconclusive):
        raise AssertionError(str(result))


# --- the pipeline ----------------------------------------------------------------------------

def _check(evaluator: Evaluator, theta: np.ndarray, analytic: np.ndarray, options: CheckOptions,
           *, J0: float | None = None,
           analytic_noise: Callable[[], np.ndarray | None] | None = None) -> GradCheckResult:
    """Estimate, judge, and before believing a FAIL or an unjudgeable block, look harder:
    probe the cost's noise, re-estimate noisy blocks with larger steps, and measure the
    backward pass's own rounding."""
    layout = evaluator.layout
    if J0 is None:
        J0 = evaluator.base(theta)
    first = _first_pass(evaluator, theta, J0, analytic, options)
    evidence, reasons = first.evidence, list(first.reasons)
    judgement = judge(evidence)
    if math.isfinite(J0):
        noise = first.noise
        if judgement.failed:
            # Before calling a mismatch a bug, measure the cost's noise where a
            # staircase cannot hide (irregular offsets), and widen the error bars.
            probed = _probe_noise(evaluator, theta, J0, evidence, first.steps)
            if probed > noise:
                evidence = replace(evidence, error=evidence.error
                                   + 3 * (probed - noise) / first.steps)
                noise = probed
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
    return GradCheckResult(
        verdict=verdict, difference=judgement.whole.difference, options=options,
        method=first.method, blocks=judgement.findings, reasons=tuple(why + reasons),
        n_coordinates=layout.size, n_judged=int(evidence.judged.sum()),
        excluded=excluded_totals(evidence), evaluator=evaluator.name, analytic=analytic,
        numerical=evidence.numerical, error=evidence.error)


@dataclass(frozen=True)
class _FirstPass:
    """The stencil's estimates: evidence to judge, the steps, the cost's noise."""

    evidence: Evidence
    steps: np.ndarray        # per flat coordinate; inf where not evaluated
    noise: float
    method: str
    reasons: tuple[str, ...]


def _first_pass(evaluator: Evaluator, theta: np.ndarray, J0: float, analytic: np.ndarray,
                options: CheckOptions) -> _FirstPass:
    layout = evaluator.layout
    index = _coordinates(layout, options.sample, options.seed)
    evaluated = np.zeros(layout.size, dtype=bool)
    evaluated[index] = True
    numerical = np.full(layout.size, np.nan)
    error = np.full(layout.size, np.inf)
    exclusion = np.full(layout.size, NOT_EXCLUDED, dtype=np.int64)
    one_sided = np.zeros(layout.size, dtype=bool)
    steps = np.full(layout.size, np.inf)
    noise, method, reasons = 0.0, options.method, []
    if not math.isfinite(J0):
        exclusion[index] = Exclusion.NONFINITE
        reasons.append(f"the cost at the given parameters is {J0}: nothing can be judged")
    else:
        h = steps[index] = step_sizes(theta[index], options.epsilon)
        costs, kinks = evaluator.stencil(theta, index, h)
        # Where kinks are known (network structure, forward's cache), a rough cost is
        # noise; where they are not, a rough coordinate is left out as non-smooth.
        derivatives = central_derivatives(J0, costs, h, None if kinks is None else ~kinks)
        value, bars, noise = derivatives.value, derivatives.error, derivatives.noise
        if options.method != "central":
            value, bars, method, note = _complex_step(evaluator, theta, index, derivatives,
                                                      options.method)
            reasons += [note] if note else []
        numerical[index], error[index] = value, bars
        exclusion[index] = _exclusions(derivatives, kinks)
        at_kink = (exclusion[index] == Exclusion.KINK) | (exclusion[index] == Exclusion.ROUGH)
        one_sided[index] = at_kink & matches_one_side(J0, costs, h, analytic[index], noise)
    evidence = Evidence(layout, analytic, numerical, error, exclusion, evaluated,
                        options.threshold, options.noise_limit, one_sided)
    return _FirstPass(evidence, steps, noise, method, tuple(reasons))


def _probe_noise(evaluator: Evaluator, theta: np.ndarray, J0: float, evidence: Evidence,
                 steps: np.ndarray) -> float:
    """The cost's noise from irregular offsets along the judged coordinate that moves
    the cost most in each block (up to :data:`_PROBED_COORDINATES` blocks)."""
    layout = evidence.layout
    movement = np.where(evidence.judged & np.isfinite(evidence.numerical),
                        np.abs(evidence.numerical) * np.where(np.isfinite(steps), steps, 0),
                        -1.0)
    chosen = []
    for k in range(len(layout.names)):
        span = slice(layout.offsets[k], layout.offsets[k + 1])
        best = int(np.argmax(movement[span]))
        if movement[span][best] > 0:
            chosen.append((movement[span][best], layout.offsets[k] + best))
    chosen.sort(reverse=True)
    index = np.array([i for _, i in chosen[:_PROBED_COORDINATES]], dtype=np.int64)
    if index.size == 0:
        return 0.0
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
    for factor in _REFINEMENT_STEPS:
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


def _coordinates(layout: ParamLayout, sample: int | None, seed: int | None) -> np.ndarray:
    """All flat indices, or ``sample`` per block chosen with ``seed``."""
    if sample is None:
        return np.arange(layout.size)
    rng = np.random.default_rng(seed)
    chosen = [start + np.sort(rng.choice(size, size=min(size, sample), replace=False))
              for start, size in zip(layout.offsets, layout.sizes)]
    return np.concatenate(chosen)


def _exclusions(derivatives: Derivatives, kinks: np.ndarray | None) -> np.ndarray:
    codes = np.full(derivatives.value.shape, NOT_EXCLUDED, dtype=np.int64)
    if kinks is None:
        codes[derivatives.rough] = Exclusion.ROUGH
    else:
        codes[kinks] = Exclusion.KINK
    codes[~derivatives.finite] = Exclusion.NONFINITE
    return codes


def _complex_step(evaluator: Evaluator, theta: np.ndarray, index: np.ndarray,
                  derivatives: Derivatives, method: str
                  ) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """Complex-step derivatives where the cost is complex-safe; else what ``method``
    says to do: raise (``"complex"``) or fall back to central (``"auto"``)."""
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
                f"complex step unavailable, central differences used: {problem}")
    note = None
    if merged.disagreeing:
        note = (f"the complex step disagreed with the central difference on "
                f"{merged.disagreeing} coordinates; the central difference was used there")
    return merged.value, merged.error, "complex", note
