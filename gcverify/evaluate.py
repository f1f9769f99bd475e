"""How the checker evaluates a cost at perturbed parameters.

Three evaluators share one small interface, ``base(theta)`` and
``stencil(theta, index, h)``:

* :class:`BatchedEvaluator` for costs that evaluate many perturbations at once (the
  reference network's :class:`~gcverify.models.NetworkCost`);
* :class:`LoopEvaluator` for any ``cost(parameters) -> float``, one call per point;
* :class:`ForwardEvaluator` for a forward pass in the notebook's convention; it also
  watches the forward's cache, where kinks show even when they cancel in the cost.

Every call into user code receives fresh copies, so a function that modifies its
inputs in place can neither corrupt the check nor reach the caller's arrays.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from gcverify.errors import invalid_argument
from gcverify.numdiff import STENCIL
from gcverify.params import ParamLayout

__all__ = [
    "BatchedEvaluator",
    "Evaluator",
    "ForwardEvaluator",
    "LoopEvaluator",
    "as_cost_value",
    "cache_moves_non_smoothly",
    "cache_scale",
    "cache_vector",
]

_EPS = np.finfo(np.float64).eps
# Fourth-difference weights of the points theta + (-2, -1, 0, 1, 2) h.
_FOURTH = np.array([1.0, -4.0, 6.0, -4.0, 1.0])
# A cached value "moves non-smoothly" when its fourth difference exceeds what rounding
# of the five values can produce (sum of |weights| = 16, with a factor 4 of margin).
_CACHE_ROUNDING = 64 * _EPS


class Evaluator(Protocol):
    """What the checker needs from a cost."""

    layout: ParamLayout
    name: str          # "batched" or "loop", shown in reports
    role: str          # "cost" or "forward": the user's function, named in messages
    function: Any      # that function

    def base(self, theta: np.ndarray) -> float:
        """The cost at ``theta``."""

    def stencil(self, theta: np.ndarray, index: np.ndarray,
                h: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Costs at ``theta + STENCIL[s] * h[r] * e_index[r]``, shape ``(n, 4)``, and
        per-coordinate kink flags (None when the evaluator cannot see kinks)."""

    def costs_at(self, theta: np.ndarray, index: np.ndarray,
                 offsets: np.ndarray) -> np.ndarray:
        """Costs at ``theta + offsets[r, s] * e_index[r]``, shape of ``offsets``."""

    def complex_step(self, theta: np.ndarray, index: np.ndarray,
                     h: float) -> np.ndarray:
        """``Im J(theta + i h e_index[r]) / h`` for each ``r``."""


def as_cost_value(value: Any, who: str, *, complex_ok: bool = False) -> complex | float:
    """One number from what a cost returned, or an :class:`InvalidArgument` naming ``who``."""
    array = np.asarray(value)
    kinds = "biufc" if complex_ok else "biuf"
    if array.size != 1 or array.dtype.kind not in kinds:
        raise invalid_argument(who, value, "is not one real number",
                               "return the cost as a float, e.g. float(np.sum(losses)) / m")
    return complex(array.reshape(())) if complex_ok else float(array.reshape(()))


class LoopEvaluator:
    """``cost(parameters)`` called once per point, with minimal overhead.

    ``role`` names the user's function in messages (``"cost"`` or ``"forward"``) and
    ``function`` is that function.
    """

    role = "cost"
    cost_name = "cost(parameters)"

    def __init__(self, cost: Callable[[dict[str, np.ndarray]], Any],
                 layout: ParamLayout) -> None:
        self.cost = cost
        self.function: Any = cost
        self.layout = layout
        self.name = "loop"

    def __call__(self, vector: np.ndarray) -> tuple[Any, Any]:
        """Evaluate at a flat vector; returns ``(cost, cache or None)``."""
        # A fresh vector per call: the user's code gets arrays nobody else holds.
        return self.cost(self.layout.unflatten(vector.copy())), None

    def base(self, theta: np.ndarray) -> float:
        return as_cost_value(self(theta)[0], self.cost_name)

    def stencil(self, theta: np.ndarray, index: np.ndarray,
                h: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return self.costs_at(theta, index, h[:, None] * STENCIL), None

    def costs_at(self, theta: np.ndarray, index: np.ndarray,
                 offsets: np.ndarray) -> np.ndarray:
        """Costs at ``theta + offsets[r, s] * e_index[r]``, shape of ``offsets``."""
        costs = np.empty(offsets.shape)
        work = theta.copy()
        for r, (i, row) in enumerate(zip(index.tolist(), offsets.tolist())):
            for s, offset in enumerate(row):
                work[i] = theta[i] + offset
                costs[r, s] = as_cost_value(self(work)[0], self.cost_name)
            work[i] = theta[i]
        return costs

    def complex_step(self, theta: np.ndarray, index: np.ndarray, h: float) -> np.ndarray:
        work = theta.astype(np.complex128)
        out = np.empty(len(index))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            for r, i in enumerate(index.tolist()):
                work[i] = theta[i] + 1j * h
                value = as_cost_value(self(work)[0], "cost(parameters)", complex_ok=True)
                out[r] = value.imag / h
                work[i] = theta[i]
        return out


class BatchedEvaluator(LoopEvaluator):
    """A cost with ``coordinate_costs``: all perturbed points in one vectorised call."""

    def __init__(self, cost: Any, layout: ParamLayout, *, function: Any = None,
                 role: str = "cost") -> None:
        super().__init__(cost, layout)
        self.name = "batched"
        self.role = role
        self.function = function if function is not None else cost

    def base(self, theta: np.ndarray) -> float:
        at_vector = getattr(self.cost, "at_vector", None)
        if at_vector is None:
            return super().base(theta)
        return as_cost_value(at_vector(theta), "cost(parameters)")

    def stencil(self, theta: np.ndarray, index: np.ndarray,
                h: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        costs, kinks = self.cost.coordinate_costs(theta, index, h[:, None] * STENCIL)
        return np.asarray(costs, dtype=np.float64), np.asarray(kinks, dtype=bool)

    def costs_at(self, theta: np.ndarray, index: np.ndarray,
                 offsets: np.ndarray) -> np.ndarray:
        return np.asarray(self.cost.coordinate_costs(theta, index, offsets)[0],
                          dtype=np.float64)


class ForwardEvaluator(LoopEvaluator):
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
        super().__init__(forward, layout)
        self.X, self.Y = X, Y
        self.name = "loop"
        self._base_cache: np.ndarray | None = None
        self._cache_scale: np.ndarray | None = None
        self.mutates_inputs = False

    def __call__(self, vector: np.ndarray) -> tuple[Any, Any]:
        return self._call(self.X.copy(), self.Y.copy(), vector)

    def _call(self, X: np.ndarray, Y: np.ndarray, vector: np.ndarray) -> tuple[Any, Any]:
        out = self.cost(X, Y, self.layout.unflatten(vector.copy()))
        if not (isinstance(out, tuple) and len(out) == 2):
            raise invalid_argument("forward(X, Y, parameters)", out,
                                   "is not a (cost, cache) pair",
                                   "return (cost, cache) as forward_propagation_n does")
        return out

    def base_with_cache(self, theta: np.ndarray) -> tuple[float, Any]:
        """The cost at ``theta`` and the forward's cache there (kept for the kink test).

        Also notes whether the forward modifies its inputs in place (every call gets
        fresh copies, so that can only be reported, not suffered).
        """
        X, Y = self.X.copy(), self.Y.copy()
        cost, cache = self._call(X, Y, theta)
        self.mutates_inputs = not (np.array_equal(X, self.X) and np.array_equal(Y, self.Y))
        value = as_cost_value(cost, "forward(X, Y, parameters)[0]")
        self._base_cache = cache_vector(cache)
        self._cache_scale = cache_scale(cache)
        return value, cache

    def base(self, theta: np.ndarray) -> float:
        return self.base_with_cache(theta)[0]

    def stencil(self, theta: np.ndarray, index: np.ndarray,
                h: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if self._base_cache is None:
            self.base_with_cache(theta)
        costs = np.empty((len(index), len(STENCIL)))
        kinks = np.zeros(len(index), dtype=bool)
        work = theta.copy()
        for r, (i, step) in enumerate(zip(index.tolist(), h.tolist())):
            caches = []
            for s, multiple in enumerate(STENCIL.tolist()):
                work[i] = theta[i] + multiple * step
                cost, cache = self(work)
                costs[r, s] = as_cost_value(cost, "forward(X, Y, parameters)[0]")
                caches.append(cache_vector(cache))
            work[i] = theta[i]
            caches.insert(2, self._base_cache)
            kinks[r] = cache_moves_non_smoothly(caches, self._cache_scale)
        return costs, kinks

    def complex_step(self, theta: np.ndarray, index: np.ndarray, h: float) -> np.ndarray:
        def cost_only(parameters: Mapping[str, np.ndarray]) -> Any:
            return self.cost(self.X.copy(), self.Y.copy(), parameters)[0]
        return LoopEvaluator(cost_only, self.layout).complex_step(theta, index, h)


def cache_vector(cache: Any) -> np.ndarray:
    """Every numeric value inside a forward's cache, as one flat float64 vector."""
    leaves = _numeric_leaves(cache)
    if not leaves:
        return np.empty(0)
    return np.concatenate([np.asarray(leaf, dtype=np.float64).reshape(-1) for leaf in leaves])


def cache_scale(cache: Any) -> np.ndarray:
    """For each value of :func:`cache_vector`, the largest magnitude in its array."""
    leaves = _numeric_leaves(cache)
    if not leaves:
        return np.empty(0)
    return np.concatenate([np.full(np.size(leaf), np.max(np.abs(leaf), initial=0.0))
                           for leaf in leaves])


def cache_moves_non_smoothly(points: list[np.ndarray], scale: np.ndarray | None = None) -> bool:
    """Do cache vectors at five equally spaced points show a kink between them?

    A smooth value has a fourth difference at the rounding level; a value that crosses
    a kink (a ReLU pre-activation, a flipping mask) has one of order ``jump * h``.
    Caches whose structure changes between points cannot be compared (False).
    """
    if len(points) != 5 or any(p.shape != points[2].shape for p in points) \
            or points[2].size == 0:
        return False
    stacked = np.stack(points)
    magnitude = np.abs(stacked).max(axis=0)
    bound = _CACHE_ROUNDING * (magnitude if scale is None else np.maximum(scale, magnitude))
    with np.errstate(invalid="ignore"):
        return bool(np.any(np.abs(_FOURTH @ stacked) > bound))


def _numeric_leaves(obj: Any) -> list[Any]:
    """Numeric arrays and numbers inside a cache, depth first, in a stable order."""
    if isinstance(obj, np.ndarray):
        return [obj] if obj.dtype.kind in "biuf" else []
    if isinstance(obj, (bool, int, float, np.bool_, np.integer, np.floating)):
        return [np.asarray(obj, dtype=np.float64)]
    if isinstance(obj, Mapping):
        return [leaf for value in obj.values() for leaf in _numeric_leaves(value)]
    if isinstance(obj, (tuple, list)):
        return [leaf for value in obj for leaf in _numeric_leaves(value)]
    return []
