"""The gradient checker: verdicts that can be trusted, and where and how a gradient is wrong.

:func:`check_gradients` compares given gradients with numerical derivatives of a cost;
:func:`check_backprop` does the same for a forward/backward pair in the notebook's
convention, and can also watch the forward's cache for kinks and estimate the
backward pass's own rounding. Both return a :class:`~gcverify.result.GradCheckResult`;
the ``assert_*`` helpers raise an :class:`AssertionError` carrying its report.

Compared with the notebook's ``gradient_check_n``: each numerical derivative has an
error bar; coordinates whose finite differences straddle a kink are judged by the
one-sided derivative backprop takes there, or excluded (and counted); each parameter
block is judged on its own as well as the whole vector; a NaN, an inf, a missing
gradient or a case that cannot be judged is never a pass. This module validates the
arguments and picks how to evaluate the cost; :func:`gcverify.pipeline.run_check` does
the checking.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

import numpy as np

# Loaded with the checker, not during its first check (gcverify.evaluate imports it at
# its first use, to avoid an import cycle).
import gcverify.forward_stencil  # noqa: F401
from gcverify.adapters import NOTES
from gcverify.backward_noise import backward_rounding
from gcverify.directional import directional_backprop, directional_gradients, resolve_mode
from gcverify.errors import invalid_argument
from gcverify.evaluate import (
    FORWARD_WRITES_INPUTS,
    BatchedCost,
    BatchedEvaluator,
    BatchedForward,
    Evaluator,
    ForwardEvaluator,
    LoopEvaluator,
)
from gcverify.options import CheckOptions
from gcverify.parallel import one_blas_thread
from gcverify.pipeline import run_check
from gcverify.result import GradCheckResult, Verdict
from gcverify.validate import (
    callable_signature,
    validate_callable,
    validate_data,
    validate_gradients,
    validate_parameters,
)

__all__ = [
    "assert_backprop_correct",
    "assert_gradients_correct",
    "check_backprop",
    "check_gradients",
    "check_loss_and_grads",
]

# Shorthands for the defaults, which CheckOptions defines.
_O = CheckOptions


def check_gradients(cost: Callable[[dict[str, np.ndarray]], Any], gradients: Mapping[str, Any],
                    parameters: Mapping[str, Any], *, threshold: float = _O.threshold,
                    method: str = _O.method, epsilon: float | None = _O.epsilon,
                    seed: int = _O.seed, sample: int | None = _O.sample,
                    noise_limit: float = _O.noise_limit, mode: str = _O.mode,
                    directions: int = _O.directions,
                    jobs: int | None = _O.jobs) -> GradCheckResult:
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
    threshold, method, epsilon, seed, sample, noise_limit, mode, directions, jobs
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
                           sample=sample, noise_limit=noise_limit,
                           mode=mode, directions=directions, jobs=jobs)
    layout, theta = validate_parameters(parameters)
    analytic = validate_gradients(gradients, layout)
    if resolve_mode(options, layout.size) == "directional":
        return directional_gradients(cost, analytic, parameters, layout, theta, options)
    evaluator: Evaluator
    if isinstance(cost, BatchedCost) and cost.layout == layout:
        evaluator = BatchedEvaluator(cost, cost.layout)  # its index tables already built
        return run_check(evaluator, theta, analytic, options)
    with one_blas_thread():                 # the user's code, called thousands of times
        return run_check(LoopEvaluator(cost, layout), theta, analytic, options)


def check_backprop(forward: Callable[..., Any], backward: Callable[..., Any], X: Any, Y: Any,
                   parameters: Mapping[str, Any], *, threshold: float = _O.threshold,
                   method: str = _O.method, epsilon: float | None = _O.epsilon,
                   seed: int = _O.seed, sample: int | None = _O.sample,
                   noise_limit: float = _O.noise_limit, mode: str = _O.mode,
                   directions: int = _O.directions,
                   jobs: int | None = _O.jobs) -> GradCheckResult:
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
                           sample=sample, noise_limit=noise_limit,
                           mode=mode, directions=directions, jobs=jobs)
    X, Y = validate_data("X", X), validate_data("Y", Y)
    layout, theta = validate_parameters(parameters)
    if resolve_mode(options, layout.size) == "directional":
        return directional_backprop(forward, backward, X, Y, parameters, layout, theta,
                                    options)

    watcher = ForwardEvaluator(forward, X, Y, layout)
    evaluator: Evaluator = watcher
    owner = getattr(forward, "__self__", None)
    if isinstance(owner, BatchedForward):
        batched = owner.batched_cost(forward, X.copy(), Y.copy())   # (the user's code)
        if batched is not None and batched.layout == layout:
            evaluator = BatchedEvaluator(batched, batched.layout, function=forward,
                                         role="forward")

    def analytic_noise() -> np.ndarray | None:
        return backward_rounding(forward, backward, X, Y, layout, theta, options.seed,
                                 watcher.rounding_scale)

    # The user's code, called thousands of times: one BLAS thread, the same throughout.
    with nullcontext() if evaluator is not watcher else one_blas_thread():
        cost, cache = watcher.base_with_cache(theta)
        analytic = validate_gradients(backward(X.copy(), Y.copy(), cache), layout,
                                      "backward(X, Y, cache)")
        result = run_check(evaluator, theta, analytic, options, J0=cost,
                           analytic_noise=analytic_noise)
    notes = tuple(getattr(forward, NOTES, ()))
    if watcher.mutates_inputs:
        notes += (FORWARD_WRITES_INPUTS,)
    return replace(result, reasons=(*result.reasons, *notes))


def check_loss_and_grads(f: Callable[[dict[str, np.ndarray]], Any],
                         parameters: Mapping[str, Any], *, threshold: float = _O.threshold,
                         method: str = _O.method, epsilon: float | None = _O.epsilon,
                         seed: int = _O.seed, sample: int | None = _O.sample,
                         noise_limit: float = _O.noise_limit, mode: str = _O.mode,
                         directions: int = _O.directions,
                         jobs: int | None = _O.jobs) -> GradCheckResult:
    """Check ``f(parameters) -> (loss, grads)`` (scipy's ``jac=True`` style, CS231n's
    ``net.loss``): its grads against numerical derivatives of its loss.

    ``grads`` are keyed like the parameters (``"W1"``, or ``"dW1"``); any shapes work,
    ``(H,)`` biases as well as ``(1, H)``. ``f`` always receives fresh copies. The
    options are those of :class:`~gcverify.options.CheckOptions`.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    >>> y = np.array([1.0, 0.0, 2.0])
    >>> def f(p):                                # least squares, row-major, (H,) bias
    ...     r = X @ p["W"] + p["b"] - y
    ...     return float(r @ r) / 2, {"W": X.T @ r, "b": r.sum(keepdims=True)}
    >>> check_loss_and_grads(f, {"W": np.array([0.1, -0.2]), "b": np.array([0.3])}).verdict
    <Verdict.PASS: 'pass'>
    """
    validate_callable("f", f, "f(parameters) -> (loss, grads)")
    layout, theta = validate_parameters(parameters)
    first = f(layout.unflatten(theta.copy()))
    if not (isinstance(first, tuple) and len(first) == 2):
        raise invalid_argument("f(parameters)", first, "is not a pair (loss, grads)",
                               "return loss, grads")

    def loss(p: dict[str, np.ndarray]) -> Any:
        value = f(p)
        return value[0] if isinstance(value, tuple) and len(value) == 2 else value

    return check_gradients(loss, first[1], parameters, threshold=threshold, method=method,
                           epsilon=epsilon, seed=seed, sample=sample, noise_limit=noise_limit,
                           mode=mode, directions=directions, jobs=jobs)


def assert_gradients_correct(cost: Callable[[dict[str, np.ndarray]], Any],
                             gradients: Mapping[str, Any], parameters: Mapping[str, Any], *,
                             allow_inconclusive: bool = False, threshold: float = _O.threshold,
                             method: str = _O.method, epsilon: float | None = _O.epsilon,
                             seed: int = _O.seed, sample: int | None = _O.sample,
                             noise_limit: float = _O.noise_limit, mode: str = _O.mode,
                             directions: int = _O.directions,
                             jobs: int | None = _O.jobs) -> GradCheckResult:
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
                             noise_limit=noise_limit, mode=mode, directions=directions, jobs=jobs)
    _raise_unless_passed(result, allow_inconclusive)
    return result


def assert_backprop_correct(forward: Callable[..., Any], backward: Callable[..., Any], X: Any,
                            Y: Any, parameters: Mapping[str, Any], *,
                            allow_inconclusive: bool = False, threshold: float = _O.threshold,
                            method: str = _O.method, epsilon: float | None = _O.epsilon,
                            seed: int = _O.seed, sample: int | None = _O.sample,
                            noise_limit: float = _O.noise_limit, mode: str = _O.mode,
                            directions: int = _O.directions,
                            jobs: int | None = _O.jobs) -> GradCheckResult:
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
                            noise_limit=noise_limit, mode=mode, directions=directions, jobs=jobs)
    _raise_unless_passed(result, allow_inconclusive)
    return result


def _raise_unless_passed(result: GradCheckResult, allow_inconclusive: bool) -> None:
    __tracebackhide__ = True
    if result.verdict is Verdict.FAIL or (
            result.verdict is Verdict.INCONCLUSIVE and not allow_inconclusive):
        raise AssertionError(str(result))
