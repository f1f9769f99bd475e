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

from gcverify.errors import InvalidArgument, invalid_argument
from gcverify.evaluate import (
    BatchedEvaluator,
    Evaluator,
    ForwardEvaluator,
    LoopEvaluator,
    cache_moves_non_smoothly,
    cache_scale,
    cache_vector,
)
from gcverify.models.mlp import MLP
from gcverify.numdiff import (
    COMPLEX_STEP,
    DEFAULT_STEP,
    PROBE_OFFSETS,
    Derivatives,
    central_derivatives,
    matches_one_side,
    probe_noise,
    step_sizes,
)
from gcverify.params import ParamLayout
from gcverify.result import BlockFinding, GradCheckResult, Verdict
from gcverify.validate import (
    callable_signature,
    validate_callable,
    validate_data,
    validate_gradients,
    validate_option_names,
    validate_options,
    validate_parameters,
)
from gcverify.verdict import EXCLUSION_REASONS, Evidence, Whole, judge_blocks, judge_whole

__all__ = [
    "assert_backprop_correct",
    "assert_gradients_correct",
    "check_backprop",
    "check_gradients",
]

_EPS = float(np.finfo(np.float64).eps)
_KINK, _ROUGH, _NONFINITE = range(len(EXCLUSION_REASONS))
_FOURTH = np.array([1.0, -4.0, 6.0, -4.0, 1.0])
_NOISE_IN_FOURTH = float(np.sqrt(70.0))
# Larger steps tried, in turn, on blocks too noisy to judge at the default step: a
# ladder fine enough to land near the step where truncation meets noise.
_REFINEMENT_STEPS = (4.0, 16.0, 64.0, 256.0, 1024.0)
# Coordinates (one per block, those that move the cost most) probed for noise.
_PROBED_COORDINATES = 4


@dataclass(frozen=True)
class _Options:
    threshold: float = 2e-7
    method: str = "central"
    epsilon: float | None = None
    seed: int | None = None
    sample: int | None = None
    noise_limit: float = 1e-4


def _options(function: str = "check_gradients", **kwargs: Any) -> _Options:
    validate_option_names(kwargs, tuple(_Options.__dataclass_fields__), function)
    options = _Options(**kwargs)
    validate_options(threshold=options.threshold, method=options.method,
                     epsilon=options.epsilon, seed=options.seed, sample=options.sample,
                     noise_limit=options.noise_limit)
    return options


def check_gradients(cost: Callable[[dict[str, np.ndarray]], Any], gradients: Mapping[str, Any],
                    parameters: Mapping[str, Any], *, threshold: float = 2e-7,
                    method: str = "central", epsilon: float | None = None,
                    seed: int | None = None, sample: int | None = None,
                    noise_limit: float = 1e-4) -> GradCheckResult:
    """Check ``gradients`` against numerical derivatives of ``cost`` at ``parameters``.

    Parameters
    ----------
    cost
        ``cost(parameters) -> float``. If it also has ``coordinate_costs`` and a
        matching ``layout`` (as :meth:`MLP.cost_function` does), all perturbations
        are evaluated in one vectorised pass.
    gradients
        Keyed like ``parameters`` (``"W1"``) or as the notebook does (``"dW1"``);
        other keys (``"dZ1"``) are ignored.
    parameters
        Dict of float64 arrays. Never modified; the cost receives copies.
    threshold
        Largest acceptable difference ``|g - n| / (|g| + |n|)`` (the notebook's 2e-7).
    method
        ``"central"``: central differences (each with an error bar and a kink test);
        ``"complex"``: the complex step where the cost is complex-safe (an error
        otherwise); ``"auto"``: complex where safe, else central, saying so.
    epsilon
        Absolute step of the central difference (``1e-7`` is the notebook's); by
        default ``cbrt(eps) * max(1, |theta_i|)``.
    seed, sample
        With ``sample=k``, check ``k`` coordinates per block chosen with ``seed``.
    noise_limit
        Largest relative numerical error under which a block is still judged.

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
    options = _options(threshold=threshold, method=method, epsilon=epsilon, seed=seed,
                       sample=sample, noise_limit=noise_limit)
    layout, theta = validate_parameters(parameters)
    analytic = validate_gradients(gradients, layout)
    evaluator: Evaluator
    if hasattr(cost, "coordinate_costs") and getattr(cost, "layout", None) == layout:
        layout = cost.layout  # the same layout, with its index tables already built
        evaluator = BatchedEvaluator(cost, layout)
    else:
        evaluator = LoopEvaluator(cost, layout)
    return _check(evaluator, theta, analytic, options)


def check_backprop(forward: Callable[..., Any], backward: Callable[..., Any], X: Any, Y: Any,
                   parameters: Mapping[str, Any], **options: Any) -> GradCheckResult:
    """Check a backward pass against numerical derivatives of its forward pass.

    ``forward(X, Y, parameters) -> (cost, cache)`` and ``backward(X, Y, cache) ->
    gradients``, as in the notebook. Options are those of :func:`check_gradients`.
    Beyond it, kinks are also looked for in the forward's cache (where two kinks can
    cancel in the cost), and before a FAIL is reported the backward pass's own
    rounding is estimated, so that a mismatch it explains is not called a bug.
    When ``forward`` is :meth:`MLP.forward`, evaluation is batched.

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
    settings = _options("check_backprop", **options)
    X, Y = validate_data("X", X), validate_data("Y", Y)
    layout, theta = validate_parameters(parameters)

    watcher = ForwardEvaluator(forward, X, Y, layout)
    cost, cache = watcher.base_with_cache(theta)
    analytic = validate_gradients(backward(X.copy(), Y.copy(), cache), layout,
                                  "backward(X, Y, cache)")
    evaluator: Evaluator = watcher
    network = getattr(forward, "__self__", None)
    if (isinstance(network, MLP) and getattr(forward, "__func__", None) is MLP.forward
            and network.layout == layout):
        evaluator = BatchedEvaluator(network.cost_function(X, Y), network.layout,
                                     function=forward, role="forward")

    def analytic_noise() -> np.ndarray | None:
        return _analytic_noise(forward, backward, X, Y, layout, theta, settings.seed)

    notes = []
    result = _check(evaluator, theta, analytic, settings, J0=cost, analytic_noise=analytic_noise)
    if watcher.mutates_inputs:
        notes.append("forward modifies X or Y in place; the check gave it fresh copies "
                     "each time, so the caller's arrays are untouched")
    return replace(result, reasons=result.reasons + tuple(notes)) if notes else result


def assert_gradients_correct(cost: Callable[[dict[str, np.ndarray]], Any],
                             gradients: Mapping[str, Any], parameters: Mapping[str, Any], *,
                             allow_inconclusive: bool = False,
                             **options: Any) -> GradCheckResult:
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
    result = check_gradients(cost, gradients, parameters, **options)
    _raise_unless_passed(result, allow_inconclusive)
    return result


def assert_backprop_correct(forward: Callable[..., Any], backward: Callable[..., Any], X: Any,
                            Y: Any, parameters: Mapping[str, Any], *,
                            allow_inconclusive: bool = False,
                            **options: Any) -> GradCheckResult:
    """:func:`check_backprop`, raising :class:`AssertionError` unless it passes.

    >>> from gcverify.models import notebook as nb
    >>> X, Y, p = nb.gradient_check_n_test_case()
    >>> assert_backprop_correct(nb.forward_propagation_n, nb.backward_propagation_n,
    ...                         X, Y, p).passed
    True
    """
    __tracebackhide__ = True
    result = check_backprop(forward, backward, X, Y, parameters, **options)
    _raise_unless_passed(result, allow_inconclusive)
    return result


def _raise_unless_passed(result: GradCheckResult, allow_inconclusive: bool) -> None:
    __tracebackhide__ = True
    if result.verdict is Verdict.FAIL or (
            result.verdict is Verdict.INCONCLUSIVE and not allow_inconclusive):
        raise AssertionError(str(result))


# --- the check itself ---------------------------------------------------------------------

def _check(evaluator: Evaluator, theta: np.ndarray, analytic: np.ndarray, options: _Options, *,
           J0: float | None = None,
           analytic_noise: Callable[[], np.ndarray | None] | None = None) -> GradCheckResult:
    """Estimate, judge, and before believing a FAIL or an unjudgeable block, look harder:
    probe the cost's noise, re-estimate noisy blocks with larger steps, and measure the
    backward pass's own rounding."""
    layout = evaluator.layout
    if J0 is None:
        J0 = evaluator.base(theta)
    first = _first_pass(evaluator, theta, J0, analytic, options)
    evidence, reasons = first.evidence, list(first.reasons)
    whole, findings = _judge(evidence)
    if math.isfinite(J0):
        noise = first.noise
        if _failed(whole, findings):
            # Before calling a mismatch a bug, measure the cost's noise where a
            # staircase cannot hide (irregular offsets), and widen the error bars.
            probed = _probe_noise(evaluator, theta, J0, evidence, first.steps)
            if probed > noise:
                evidence = replace(evidence, error=evidence.error
                                   + 3 * (probed - noise) / first.steps)
                noise = probed
                whole, findings = _judge(evidence)
        if options.epsilon is None:
            evidence, notes = _refine_noisy_blocks(evaluator, theta, J0, noise, evidence,
                                                   findings)
            if notes:                       # something was re-estimated: judge again
                reasons += notes
                whole, findings = _judge(evidence)
    if analytic_noise is not None and _failed(whole, findings):
        sigma = analytic_noise()
        if sigma is not None:
            evidence = replace(evidence, error=evidence.error + 3 * sigma)
            whole, findings = _judge(evidence)
    verdict, why = _verdict(evidence, whole, findings)
    return GradCheckResult(
        verdict=verdict, difference=whole.difference, threshold=options.threshold,
        method=first.method, step=_describe_step(options, first.method), blocks=findings,
        reasons=tuple(why + reasons), n_coordinates=layout.size,
        n_judged=int(evidence.judged.sum()), excluded=_excluded_totals(evidence),
        evaluator=evaluator.name, analytic=analytic, numerical=evidence.numerical,
        error=evidence.error)


@dataclass(frozen=True)
class _FirstPass:
    """The stencil's estimates: evidence to judge, the steps, the cost's noise."""

    evidence: Evidence
    steps: np.ndarray        # per flat coordinate; inf where not evaluated
    noise: float
    method: str
    reasons: tuple[str, ...]


def _first_pass(evaluator: Evaluator, theta: np.ndarray, J0: float, analytic: np.ndarray,
                options: _Options) -> _FirstPass:
    layout = evaluator.layout
    index = _coordinates(layout, options.sample, options.seed)
    evaluated = np.zeros(layout.size, dtype=bool)
    evaluated[index] = True
    numerical = np.full(layout.size, np.nan)
    error = np.full(layout.size, np.inf)
    exclusion = np.full(layout.size, -1, dtype=np.int64)
    one_sided = np.zeros(layout.size, dtype=bool)
    steps = np.full(layout.size, np.inf)
    noise, method, reasons = 0.0, options.method, []
    if not math.isfinite(J0):
        exclusion[index] = _NONFINITE
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
        at_kink = (exclusion[index] == _KINK) | (exclusion[index] == _ROUGH)
        one_sided[index] = at_kink & matches_one_side(J0, costs, h, analytic[index], noise)
    evidence = Evidence(layout, analytic, numerical, error, exclusion, evaluated,
                        options.threshold, options.noise_limit, one_sided)
    return _FirstPass(evidence, steps, noise, method, tuple(reasons))


def _judge(evidence: Evidence) -> tuple[Whole, dict[str, BlockFinding]]:
    whole = judge_whole(evidence)
    return whole, judge_blocks(evidence, whole)


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
                         evidence: Evidence, findings: dict[str, BlockFinding]
                         ) -> tuple[Evidence, list[str]]:
    """Re-estimate the blocks too noisy to judge with larger steps.

    Rounding noise enters a central difference as ``sigma / h`` and truncation as
    ``h^2``: where the cost is a fine staircase (a saturated sigmoid or tanh), a larger
    step trades a little truncation for much less noise. Each coordinate keeps the
    estimate with the smaller error bar; a larger stencil that meets a kink is ignored.
    The cost's noise, measured over all coordinates by the first pass, stays the floor:
    it is a property of the cost at ``theta``, not of the step.
    """
    layout, notes = evidence.layout, []
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
        findings = _judge(evidence)[1]
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
    codes = np.full(derivatives.value.shape, -1, dtype=np.int64)
    if kinks is None:
        codes[derivatives.rough] = _ROUGH
    else:
        codes[kinks] = _KINK
    codes[~derivatives.finite] = _NONFINITE
    return codes


def _complex_step(evaluator: Evaluator, theta: np.ndarray, index: np.ndarray,
                  derivatives: Derivatives, method: str
                  ) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """Complex-step derivatives where the cost is complex-safe; else what to do instead."""
    problem, values = None, None
    try:
        values = evaluator.complex_step(theta, index, COMPLEX_STEP)
    except Exception as error:  # the user's cost may fail in any way on complex input
        problem = f"{type(error).__name__}: {error}"
    if values is not None:
        smooth = derivatives.finite & ~derivatives.rough
        agree = np.abs(values - derivatives.value) <= derivatives.error + 1e-9 * np.abs(values)
        moving = smooth & (np.abs(derivatives.value) > derivatives.error)
        if moving.any() and not agree[moving].any():
            problem = ("its imaginary part does not follow the derivative (it drops it, or "
                       "uses abs, comparisons or real-only functions)")
    if problem is not None:
        if method == "complex":
            raise invalid_argument(evaluator.role, evaluator.function,
                                   f"is not complex-safe ({problem})",
                                   "use method='central', or method='auto' to fall back")
        return (derivatives.value, derivatives.error, "central",
                f"complex step unavailable, central differences used: {problem}")
    assert values is not None
    bars = 64 * _EPS * (np.abs(values) + np.sqrt(np.mean(values**2)))
    use = agree | ~(derivatives.finite & ~derivatives.rough)
    note = None
    if not use.all():
        note = (f"the complex step disagreed with the central difference on "
                f"{int((~use).sum())} coordinates; the central difference was used there")
    return np.where(use, values, derivatives.value), np.where(use, bars, derivatives.error), \
        "complex", note


def _failed(whole: Whole, findings: Mapping[str, BlockFinding]) -> bool:
    return whole.fails or any(b.verdict is Verdict.FAIL for b in findings.values())


def _verdict(evidence: Evidence, whole: Whole, findings: Mapping[str, BlockFinding]
             ) -> tuple[Verdict, list[str]]:
    """The overall verdict and the sentences that explain it, most important first."""
    difference, whole_fails, resolution = whole.difference, whole.fails, whole.resolution
    failed = [b for b in findings.values() if b.verdict is Verdict.FAIL]
    undecided = [b for b in findings.values() if b.verdict is Verdict.INCONCLUSIVE]
    nonfinite = int(np.sum(evidence.evaluated & (evidence.exclusion == _NONFINITE)))
    notes = _notes(evidence, findings, difference, resolution,
                   failing=bool(failed) or whole_fails)
    if failed:
        why = (f"{len(failed)} of {len(findings)} blocks mismatch: "
               + "; ".join(b.diagnosis for b in failed))
        return Verdict.FAIL, [why, *notes]
    if whole_fails:
        why = (f"the whole gradient's difference {difference:.4g} exceeds "
               f"{evidence.threshold:g} beyond the numerical error, though no single block does")
        return Verdict.FAIL, [why, *notes]
    if nonfinite:
        why = (f"the cost is not finite at the perturbed points of {nonfinite} coordinates: "
               "a NaN or inf is never a pass")
        return Verdict.INCONCLUSIVE, [why, *notes]
    if undecided:
        return Verdict.INCONCLUSIVE, [*(b.diagnosis for b in undecided), *notes]
    if not evidence.judged.any():
        return Verdict.INCONCLUSIVE, ["no coordinate could be judged", *notes]
    if not any(b.informative for b in findings.values()):
        why = ("the gradient is zero within the error bars in every block (a stationary "
               "point): a mismatch could not show here; check at other parameters")
        return Verdict.INCONCLUSIVE, [why, *notes]
    return Verdict.PASS, notes


def _notes(evidence: Evidence, findings: Mapping[str, BlockFinding], difference: float,
           resolution: float, *, failing: bool) -> list[str]:
    notes = []
    totals = _excluded_totals(evidence)
    if totals:
        counts = ", ".join(f"{reason} {count}" for reason, count in totals.items())
        notes.append(f"{sum(totals.values())} coordinates excluded ({counts}): their "
                     "finite differences are not derivatives")
    if not failing and math.isfinite(difference) and difference > evidence.threshold:
        notes.append(f"the difference {difference:.3g} exceeds {evidence.threshold:g} but is "
                     f"within the estimated numerical error ({resolution:.2g} relative)")
    quiet = [b.gradient_key for b in findings.values()
             if b.verdict is Verdict.PASS and not b.informative]
    if quiet:
        notes.append(f"zero within the error bars here, so unverified at this point: "
                     f"{', '.join(quiet)}")
    return notes


def _excluded_totals(evidence: Evidence) -> dict[str, int]:
    codes = evidence.exclusion[evidence.evaluated & (evidence.exclusion >= 0)]
    counts = np.bincount(codes, minlength=len(EXCLUSION_REASONS))
    return {reason: int(c) for reason, c in zip(EXCLUSION_REASONS, counts) if c}


def _describe_step(options: _Options, method: str) -> str:
    central = (f"{options.epsilon:g}" if options.epsilon is not None
               else f"{DEFAULT_STEP:.3g} × max(1, |θ|)")
    if method == "complex":
        return f"{COMPLEX_STEP:g}i (central {central} for kinks and error bars)"
    return central


# --- the backward pass's own rounding ---------------------------------------------------------

def _analytic_noise(forward: Callable[..., Any], backward: Callable[..., Any], X: np.ndarray,
                    Y: np.ndarray, layout: ParamLayout, theta: np.ndarray,
                    seed: int | None) -> np.ndarray | None:
    """Rounding noise of each analytic derivative, or None if it cannot be estimated.

    The backward pass is run at five points along a random direction; a smooth
    gradient has a negligible fourth difference there, so what remains is rounding
    (for example ``A3 - Y`` when the output saturates). The direction must not cross
    a kink (watched in the forward's cache); smaller steps are tried if it does.
    """
    rng = np.random.default_rng(seed)
    for relative in (1e-5, 1e-7, 1e-9):
        direction = rng.standard_normal(theta.size) * np.maximum(1.0, np.abs(theta)) * relative
        gradients, caches = [], []
        try:
            for t in (-2.0, -1.0, 0.0, 1.0, 2.0):
                _, cache = forward(X.copy(), Y.copy(), layout.unflatten(theta + t * direction))
                caches.append(cache_vector(cache))
                gradients.append(layout.flatten_gradients(backward(X.copy(), Y.copy(), cache)))
        except (InvalidArgument, ArithmeticError, ValueError, TypeError):
            return None
        if cache_moves_non_smoothly(caches, cache_scale(cache)):
            continue
        with np.errstate(invalid="ignore", over="ignore"):
            fourth = np.abs(_FOURTH @ np.stack(gradients)) / _NOISE_IN_FOURTH
        if not np.all(np.isfinite(fourth)):
            return None
        # One fourth difference per coordinate is a noisy estimate: take at least the
        # root mean square of its block.
        block_rms = np.sqrt(np.add.reduceat(fourth**2, layout.offsets[:-1]) / layout.sizes)
        return np.maximum(fourth, block_rms[layout.block_ids])
    return None
