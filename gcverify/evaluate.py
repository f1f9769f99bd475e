"""How the checker evaluates a cost at perturbed parameters.

Three evaluators share one interface (:class:`Evaluator`: ``base(theta)``,
``stencil(theta, index, h)``, ``costs_at``, ``complex_step``):

* :class:`BatchedEvaluator` for a :class:`BatchedCost`, which evaluates many
  perturbations in one vectorised pass (the reference network's cost is one; so is
  any user cost that offers the same methods);
* :class:`LoopEvaluator` for any ``cost(parameters) -> float``, one call per point;
* :class:`ForwardEvaluator` for a forward pass in the notebook's convention; it also
  watches the forward's cache, where kinks show even when they cancel in the cost.

Every call into user code receives fresh copies, so a function that modifies its
inputs in place can neither corrupt the check nor reach the caller's arrays.
"""

from __future__ import annotations

import abc
import functools
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gcverify.errors import invalid_argument
from gcverify.numdiff import EPS, STENCIL, central_difference, fourth_differences
from gcverify.parallel import map_rows, workers_for
from gcverify.params import ParamLayout

__all__ = [
    "CACHE_ROUNDING",
    "FORWARD_WRITES_INPUTS",
    "BatchedCost",
    "BatchedEvaluator",
    "BatchedForward",
    "Evaluator",
    "ForwardEvaluator",
    "LoopEvaluator",
    "as_cost_value",
    "cache_moves_non_smoothly",
    "cache_scale",
    "cache_term_scale",
    "cache_vector",
]

#: The note of a check whose forward wrote into X or Y (it is harmless: every call gets copies).
FORWARD_WRITES_INPUTS = ("forward modifies X or Y in place; the check gave it fresh copies "
                         "each time, so the caller's arrays are untouched")

# A cached value "moves non-smoothly" when its fourth difference exceeds what rounding
# can produce: EPS times the scale of the value (its array, or the terms it is computed
# from), with room to spare. Measured on 2,000 generic smooth networks, rounding reached
# 272 EPS x scale (99th percentile 27); a ReLU kink crossed by the stencil gives about
# 2 h |dZ/dtheta|, 1e10 EPS x scale for a unit slope: 4096 keeps a margin of 15 on one
# side and misses only kinks whose pre-activation moves less than 1e-7 per unit step.
#: The kink test's bound on a cached value's fourth difference, in units of its scale.
CACHE_ROUNDING = 4096 * EPS
# The terms a cached value is computed from are measured by moving theta and X by this
# relative amount along a few random directions: far above rounding (5e8 ulps), far
# below anything nonlinear.
_TERM_PROBE = 1e-7
_TERM_DIRECTIONS = 3
# numpy's dtype kinds of a real number (bool, int, uint, float), and of any number.
_REAL_KINDS, _NUMBER_KINDS = "biuf", "biufc"


@runtime_checkable
class BatchedCost(Protocol):
    """A cost that evaluates many perturbations of its parameters in one vectorised pass.

    :func:`gcverify.check_gradients` evaluates such a cost in batches (the
    ``"batched"`` evaluator) when its ``layout`` is the parameters' layout.
    :meth:`gcverify.MLP.cost_function` returns one; any object with these members is one.

    ``coordinate_costs(theta, index, offsets)`` returns ``(costs, kinks)``: ``costs[r,
    s] = J(theta + offsets[r, s] * e_index[r])`` (the shape of ``offsets``) and, per
    row, whether the cost has a kink between ``theta`` and those points (None when the
    cost cannot tell).

    >>> from gcverify import MLP
    >>> isinstance(MLP((2, 1)).cost_function(*MLP((2, 1)).make_batch(3)), BatchedCost)
    True
    """

    layout: ParamLayout

    def __call__(self, parameters: Mapping[str, np.ndarray]) -> float:
        """The cost at a dict of parameter arrays."""

    def at_vector(self, theta: np.ndarray) -> float:
        """The cost at a flat parameter vector in ``layout``'s order."""

    def coordinate_costs(self, theta: np.ndarray, index: np.ndarray, offsets: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray | None]:
        """Costs at coordinate perturbations, and per-row kink flags (or None)."""


@runtime_checkable
class BatchedForward(Protocol):
    """The owner of a bound ``forward`` method that has a :class:`BatchedCost` twin.

    :func:`gcverify.check_backprop` asks ``forward.__self__.batched_cost(forward, X,
    Y)``; a :class:`BatchedCost` computing exactly ``forward(X, Y, p)[0]`` makes the
    check batched, None keeps it a loop.

    >>> from gcverify import MLP
    >>> net = MLP((2, 1))
    >>> isinstance(net, BatchedForward), net.batched_cost(print, None, None)
    (True, None)
    """

    def batched_cost(self, forward: Callable[..., Any], X: np.ndarray,
                     Y: np.ndarray) -> BatchedCost | None:
        """The batched twin of ``forward`` on ``X, Y``, or None."""


def as_cost_value(value: Any, who: str) -> float:
    """One real number from what a cost returned, or an :class:`InvalidArgument` naming
    ``who``.

    >>> as_cost_value(np.array([[0.5]]), "cost(parameters)")
    0.5
    """
    array = np.asarray(value)
    if array.size != 1 or array.dtype.kind not in _REAL_KINDS:
        raise invalid_argument(who, value, "is not one real number",
                               "return the cost as a float, e.g. float(np.sum(losses)) / m")
    return float(array.reshape(()))


def _as_complex_cost(value: Any, who: str) -> complex:
    array = np.asarray(value)
    if array.size != 1 or array.dtype.kind not in _NUMBER_KINDS:
        raise invalid_argument(who, value, "is not one number",
                               "return the cost as a number, e.g. np.sum(losses) / m")
    return complex(array.reshape(()))


class Evaluator(abc.ABC):
    """What the checker needs from a cost: values at perturbed parameters.

    ``name`` ("batched" or "loop") is shown in reports; ``role`` ("cost" or
    "forward") and ``function`` name the user's function in messages; ``cost_name``
    is how a returned cost is named when it is not a number.
    """

    name = "loop"
    role = "cost"
    cost_name = "cost(parameters)"

    def __init__(self, layout: ParamLayout, function: Any) -> None:
        self.layout = layout
        self.function = function
        #: The fastest call into the user's code measured so far (None: not measured).
        self.seconds_per_call: float | None = None

    def workers(self, rows: int, jobs: int) -> int:
        """How many processes to evaluate ``rows`` coordinates with (:func:`workers_for`)."""
        return workers_for(rows, self.seconds_per_call, jobs)

    def adaptive_stencil(self, theta: np.ndarray, index: np.ndarray, h: np.ndarray,
                         tolerance: np.ndarray | None, analytic: np.ndarray | None,
                         jobs: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """``(costs, kinks, settled)``: :meth:`stencil`, with up to ``jobs`` processes,
        without ``theta ± 2h`` (NaN there) for the coordinates ``r`` it settles: those
        with ``|analytic[r] - D1| <= tolerance[r]`` (:mod:`gcverify.settling`). Only an
        evaluator that watches for kinks may settle; this one settles none."""
        costs, kinks = self.stencil(theta, index, h)
        return costs, kinks, np.zeros(len(index), dtype=bool)

    @abc.abstractmethod
    def evaluate(self, vector: np.ndarray) -> tuple[Any, Any]:
        """Call the user's code at a flat vector: ``(cost, cache or None)``, unchecked."""

    def base(self, theta: np.ndarray) -> float:
        """The cost at ``theta``."""
        return as_cost_value(self.evaluate(theta)[0], self.cost_name)

    def cost_again(self, theta: np.ndarray) -> float:
        """The cost at ``theta`` once more, the way :meth:`base` computed it, and nothing
        else (to see whether the cost is deterministic); the call is timed."""
        start = time.perf_counter()
        value = self._again(theta)
        seconds = time.perf_counter() - start
        self.seconds_per_call = min(seconds, self.seconds_per_call or seconds)
        return value

    def _again(self, theta: np.ndarray) -> float:
        return self.base(theta)

    def stencil(self, theta: np.ndarray, index: np.ndarray,
                h: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Costs at ``theta + STENCIL[s] * h[r] * e_index[r]``, shape ``(n, 4)``, and
        per-coordinate kink flags (None when the evaluator cannot see kinks)."""
        return self.costs_at(theta, index, h[:, None] * STENCIL), None

    def costs_at(self, theta: np.ndarray, index: np.ndarray,
                 offsets: np.ndarray) -> np.ndarray:
        """Costs at ``theta + offsets[r, s] * e_index[r]``, shape of ``offsets``."""
        costs = np.empty(offsets.shape)
        work = theta.copy()
        for r, (i, row) in enumerate(zip(index.tolist(), offsets.tolist())):
            for s, offset in enumerate(row):
                work[i] = theta[i] + offset
                costs[r, s] = as_cost_value(self.evaluate(work)[0], self.cost_name)
            work[i] = theta[i]
        return costs

    def complex_step(self, theta: np.ndarray, index: np.ndarray, h: float) -> np.ndarray:
        """``Im J(theta + i h e_index[r]) / h`` for each ``r``."""
        work = theta.astype(np.complex128)
        out = np.empty(len(index))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            for r, i in enumerate(index.tolist()):
                work[i] = theta[i] + 1j * h
                out[r] = _as_complex_cost(self.evaluate(work)[0], self.cost_name).imag / h
                work[i] = theta[i]
        return out


class LoopEvaluator(Evaluator):
    """``cost(parameters)`` called once per point, with minimal overhead."""

    def __init__(self, cost: Callable[[dict[str, np.ndarray]], Any],
                 layout: ParamLayout) -> None:
        super().__init__(layout, cost)
        self.cost = cost

    def evaluate(self, vector: np.ndarray) -> tuple[Any, Any]:
        # A fresh vector per call: the user's code gets arrays nobody else holds.
        return self.cost(self.layout.unflatten(vector.copy())), None

    def adaptive_stencil(self, theta: np.ndarray, index: np.ndarray, h: np.ndarray,
                         tolerance: np.ndarray | None, analytic: np.ndarray | None,
                         jobs: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        def rows(chunk: np.ndarray) -> np.ndarray:
            return self.costs_at(theta, index[chunk], h[chunk][:, None] * STENCIL)

        costs = map_rows(rows, len(index), self.workers(len(index), jobs))
        return costs, None, np.zeros(len(index), dtype=bool)


class BatchedEvaluator(Evaluator):
    """A :class:`BatchedCost`: all perturbed points in one vectorised call.

    ``function`` and ``role`` name the user's function in messages, when the cost
    stands in for a forward pass.
    """

    name = "batched"

    def __init__(self, cost: BatchedCost, layout: ParamLayout, *, function: Any = None,
                 role: str = "cost") -> None:
        super().__init__(layout, function if function is not None else cost)
        self.cost = cost
        self.role = role

    def evaluate(self, vector: np.ndarray) -> tuple[Any, Any]:
        return self.cost(self.layout.unflatten(vector.copy())), None

    def base(self, theta: np.ndarray) -> float:
        return as_cost_value(self.cost.at_vector(theta.copy()), self.cost_name)

    def stencil(self, theta: np.ndarray, index: np.ndarray,
                h: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        costs, kinks = self.cost.coordinate_costs(theta.copy(), index.copy(),
                                                  h[:, None] * STENCIL)
        return (np.asarray(costs, dtype=np.float64),
                None if kinks is None else np.asarray(kinks, dtype=bool))

    def costs_at(self, theta: np.ndarray, index: np.ndarray,
                 offsets: np.ndarray) -> np.ndarray:
        # Fresh copies: a user's cost may write into what it is given.
        return np.asarray(self.cost.coordinate_costs(theta.copy(), index.copy(),
                                                     offsets.copy())[0], dtype=np.float64)


class ForwardEvaluator(Evaluator):
    """``forward(X, Y, parameters) -> (cost, cache)``, watching the cache for kinks.

    A coordinate is flagged when some numeric value in the cache has a fourth
    difference over the five stencil points larger than rounding can explain: a
    pre-activation crossing a ReLU kink, a mask that flips. Such kinks can cancel in
    the cost (two coinciding kinks) while backprop's subgradient still differs.
    """

    role = "forward"
    cost_name = "forward(X, Y, parameters)[0]"

    def __init__(self, forward: Callable[..., Any], X: np.ndarray, Y: np.ndarray,
                 layout: ParamLayout) -> None:
        super().__init__(layout, forward)
        self.forward = forward
        self.X, self.Y = X, Y
        #: For each cached value, the scale its rounding is judged against (None until
        #: the base point is evaluated): the largest of its array, and of the terms it
        #: is computed from (:func:`cache_term_scale`).
        self.rounding_scale: np.ndarray | None = None
        self.mutates_inputs = False
        #: The forward wrote into the parameter arrays it was given (then every call
        #: gets fresh copies, as it does anyway when it writes into X or Y).
        self.mutates_parameters = False
        self._watch: Any = None

    def evaluate(self, vector: np.ndarray) -> tuple[Any, Any]:
        return self._call(self.X.copy(), self.Y.copy(), vector)

    def _call(self, X: np.ndarray, Y: np.ndarray, vector: np.ndarray) -> tuple[Any, Any]:
        return self._checked(self.forward(X, Y, self.layout.unflatten(vector.copy())))

    def base_with_cache(self, theta: np.ndarray) -> tuple[float, Any]:
        """The cost at ``theta`` and the forward's cache there (kept for the kink test).

        Also notes whether the forward modifies its inputs in place (every call gets
        fresh copies, so that can only be reported, not suffered).
        """
        X, Y, vector = self.X.copy(), self.Y.copy(), theta.copy()
        parameters = self.layout.unflatten(vector)
        cost, cache = self._checked(self.forward(X, Y, parameters))
        self.mutates_inputs = not (np.array_equal(X, self.X) and np.array_equal(Y, self.Y))
        self.mutates_parameters = not np.array_equal(vector, theta)     # theta is finite
        value = as_cost_value(cost, self.cost_name)
        self.rounding_scale = cache_scale(cache)
        terms = cache_term_scale(self._cache_at, theta, self.X, cache_vector(cache).size)
        if terms is not None:
            self.rounding_scale = np.maximum(self.rounding_scale, terms)
        from gcverify.watch import CacheWatch  # gcverify.watch builds on this module
        skip = {id(array) for array in parameters.values()} | {id(X), id(Y)}
        self._watch = CacheWatch(cache, self.rounding_scale, skip)
        return value, cache

    def _cache_at(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        return cache_vector(self._call(X, self.Y.copy(), theta)[1])

    def base(self, theta: np.ndarray) -> float:
        return self.base_with_cache(theta)[0]

    def _again(self, theta: np.ndarray) -> float:
        return as_cost_value(self.evaluate(theta)[0], self.cost_name)

    def stencil(self, theta: np.ndarray, index: np.ndarray,
                h: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        costs, kinks, _ = self.adaptive_stencil(theta, index, h, tolerance=None, analytic=None,
                                               jobs=1)
        return costs, kinks

    def adaptive_stencil(self, theta: np.ndarray, index: np.ndarray, h: np.ndarray,
                         tolerance: np.ndarray | None, analytic: np.ndarray | None,
                         jobs: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        if self._watch is None:
            self.base_with_cache(theta)
        from gcverify.forward_stencil import forward_rows  # it builds on this module
        rows = functools.partial(forward_rows, self, theta, index, h, tolerance, analytic)
        return map_rows(rows, len(index), self.workers(len(index), jobs))

    @staticmethod
    def _checked(out: Any) -> tuple[Any, Any]:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise invalid_argument("forward(X, Y, parameters)", out,
                                   "is not a (cost, cache) pair",
                                   "return (cost, cache) as forward_propagation_n does")
        return out


def cache_vector(cache: Any) -> np.ndarray:
    """Every numeric value inside a forward's cache, as one flat float64 vector."""
    leaves = _numeric_leaves(cache)
    if not leaves:
        return np.empty(0)
    return np.concatenate([np.asarray(leaf, dtype=np.float64).ravel() for leaf in leaves])


def cache_scale(cache: Any) -> np.ndarray:
    """For each value of :func:`cache_vector`, the largest magnitude in its array."""
    leaves = _numeric_leaves(cache)
    if not leaves:
        return np.empty(0)
    return np.concatenate([np.full(np.size(leaf), np.max(np.abs(leaf), initial=0.0))
                           for leaf in leaves])


def cache_term_scale(cache_at: Callable[[np.ndarray, np.ndarray], np.ndarray],
                     theta: np.ndarray, X: np.ndarray, size: int,
                     seed: int = 0) -> np.ndarray | None:
    """For each cached value, the size of the terms it is computed from, measured.

    A value that is the small difference of large terms (``Z3 = W3 A2 + b3 = -1.7e-3``
    from terms near 1.5) carries the rounding of those terms, not of its own size: its
    smoothness is judged against them. Moving ``theta`` and ``X`` by a random relative
    amount ``eps r`` moves each value by ``eps * sum(term_i r_i)`` to first order (a term
    ``W_jk A_k`` moves by ``eps W_jk A_k r_jk``), so ``|v(+) - v(-)| / 2 eps`` is a
    random projection of its terms; the root mean square over a few directions
    (drawn with ``seed``) estimates their size. ``cache_at(theta, X)`` is the cache
    vector there (``size`` values); None when the cache's structure changes.

    >>> A = np.array([1.5, -1.5 + 1e-3])           # two terms that nearly cancel
    >>> cache_at = lambda theta, X: np.array([theta @ A])
    >>> scale = cache_term_scale(cache_at, np.ones(2), np.zeros(0), 1)
    >>> bool(0.5 < scale[0] < 5)                    # the terms' size, not 1e-3
    True
    """
    rng = np.random.default_rng(seed)
    moved = X.dtype.kind == "f"
    squares = np.zeros(size)
    for _ in range(_TERM_DIRECTIONS):
        r, rx = rng.standard_normal(theta.shape), rng.standard_normal(X.shape)
        ends = []
        for sign in (1.0, -1.0):
            shift = 1 + sign * _TERM_PROBE * rx if moved else 1.0
            ends.append(cache_at(theta * (1 + sign * _TERM_PROBE * r), X * shift))
        if any(end.shape != (size,) for end in ends):
            return None
        with np.errstate(invalid="ignore", over="ignore"):
            squares += central_difference(ends[1], ends[0], _TERM_PROBE) ** 2
    scale = np.sqrt(squares / _TERM_DIRECTIONS)
    return np.where(np.isfinite(scale), scale, 0.0)


def cache_moves_non_smoothly(points: list[np.ndarray], scale: np.ndarray | None = None) -> bool:
    """Do cache vectors at five equally spaced points show a kink between them?

    A smooth value has a fourth difference at the rounding level; a value that crosses
    a kink (a ReLU pre-activation, a flipping mask) has one of order ``jump * h``.
    Caches whose structure changes between points cannot be compared (False).
    """
    if len(points) != 5 or len({p.shape for p in points}) != 1:
        return False                # (an empty cache has no fourth difference: False)
    stacked = np.stack(points)
    magnitude = np.abs(stacked).max(axis=0)
    bound = CACHE_ROUNDING * (magnitude if scale is None else np.maximum(scale, magnitude))
    return bool(np.any(np.abs(fourth_differences(stacked)) > bound))


def _numeric_leaves(obj: Any) -> list[Any]:
    """Numeric arrays and numbers inside a cache, depth first, in a stable order."""
    if isinstance(obj, np.ndarray):
        return [obj] if obj.dtype.kind in _REAL_KINDS else []
    if isinstance(obj, (bool, int, float, np.bool_, np.integer, np.floating)):
        return [float(obj)]
    if isinstance(obj, Mapping):
        return [leaf for value in obj.values() for leaf in _numeric_leaves(value)]
    if isinstance(obj, (tuple, list)):
        return [leaf for value in obj for leaf in _numeric_leaves(value)]
    return []
