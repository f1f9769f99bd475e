"""The stencil of a forward pass, coordinate by coordinate, without allocating per call.

:func:`forward_rows` perturbs one entry of a private copy of the parameters in place
and restores it, passes the forward a fresh dict of views into that copy (and private
copies of ``X`` and ``Y``, made once), and watches the cache in reused buffers
(:class:`gcverify.watch.CacheWatch`). A forward that writes into what it is given is
found out (by the check at ``theta``, or afterwards, when the private copies changed)
and then gets fresh copies for every call, as every call did before.

A coordinate that may settle (``tolerance >= 0``) is first evaluated at ``theta ± h``
alone, its cache unwatched. It is *settled* when its central difference is within
``tolerance`` of the analytic value (:mod:`gcverify.settling` says why that cannot
change a verdict, kink or no kink); otherwise, and for the others from the start, the
five points are evaluated with the cache watched (the inner two again), as the kink
test needs, at the cost of two more calls.

>>> from gcverify.evaluate import ForwardEvaluator
>>> from gcverify.models import notebook as nb
>>> from gcverify.params import ParamLayout
>>> X, Y, p = nb.gradient_check_n_test_case()
>>> layout = ParamLayout.from_parameters(p)
>>> theta = layout.flatten(p)
>>> evaluator = ForwardEvaluator(nb.forward_propagation_n, X, Y, layout)
>>> _ = evaluator.base_with_cache(theta)
>>> costs, kinks, settled = forward_rows(evaluator, theta, np.array([0, 1]),
...                                      np.array([1e-5, 1e-5]), None, None,
...                                      np.arange(2))
>>> costs.shape, kinks.tolist(), settled.tolist()
((2, 4), [False, False], [False, False])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gcverify.evaluate import as_cost_value
from gcverify.numdiff import STENCIL, central_difference

if TYPE_CHECKING:
    from gcverify.evaluate import ForwardEvaluator

__all__ = ["forward_rows"]

# The stencil's inner points first (theta - h, theta + h), then the outer ones.
_INNER, _OUTER = (1, 2), (0, 3)
_MULTIPLES = STENCIL.tolist()
_PLAIN_FLOATS = (float, np.float64)
# Coordinates of a block that fail to settle before its next ones are watched at once.
_SURPRISES_BEFORE_WATCHING = 4


def forward_rows(evaluator: ForwardEvaluator, theta: np.ndarray, index: np.ndarray,
                 h: np.ndarray, tolerance: np.ndarray | None, analytic: np.ndarray | None,
                 chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stencil costs ``(len(chunk), 4)`` (NaN at ``± 2h`` where settled), kink flags and
    settled flags of rows ``chunk`` of ``index``."""
    fresh = evaluator.mutates_inputs or evaluator.mutates_parameters
    result = _rows(evaluator, theta, index, h, tolerance, analytic, chunk, fresh)
    if not fresh and not result[3]:
        # The forward wrote into the private copies: everything since may be wrong.
        result = _rows(evaluator, theta, index, h, tolerance, analytic, chunk, True)
    return result[0], result[1], result[2]


def _rows(evaluator: ForwardEvaluator, theta: np.ndarray, index: np.ndarray, h: np.ndarray,
          tolerance: np.ndarray | None, analytic: np.ndarray | None, chunk: np.ndarray,
          fresh: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    layout, forward, watch = evaluator.layout, evaluator.forward, evaluator._watch
    name = evaluator.cost_name
    work = theta.copy()
    X, Y = evaluator.X.copy(), evaluator.Y.copy()
    views = layout.unflatten(work)
    shared_skip = {id(array) for array in views.values()} | {id(X), id(Y)}
    costs = np.full((len(chunk), len(STENCIL)), np.nan)
    kinks = np.zeros(len(chunk), dtype=bool)
    settled = np.zeros(len(chunk), dtype=bool)

    def at(slot: int, value: float, i: int, watched: bool = True) -> float:
        work[i] = value
        if fresh:
            x, y, parameters = X.copy(), Y.copy(), layout.unflatten(work.copy())
            skip = {id(array) for array in parameters.values()} | {id(x), id(y)}
        else:
            x, y, parameters, skip = X, Y, dict(views), shared_skip
        cost, cache = evaluator._checked(forward(x, y, parameters))
        if watched:
            watch.record(slot, cache, skip)
        # The usual return types need no validation beyond their type.
        return float(cost) if type(cost) in _PLAIN_FLOATS else as_cost_value(cost, name)

    blocks = layout.block_ids[index]
    surprises = np.zeros(len(layout.names), dtype=np.int64)
    for k, r in enumerate(chunk.tolist()):
        i, step = int(index[r]), float(h[r])
        original = float(theta[i])
        points = [original + multiple * step for multiple in _MULTIPLES]
        settling = tolerance is not None and analytic is not None and tolerance[r] >= 0
        # Most coordinates settle after theta +- h, and then need no cache: those points
        # go unwatched, unless this block's coordinates have stopped settling (a
        # mismatched block), where watching at once saves evaluating them twice.
        watched = not settling or surprises[blocks[r]] >= _SURPRISES_BEFORE_WATCHING
        if settling:
            assert analytic is not None and tolerance is not None
            for slot in _INNER:
                costs[k, slot] = at(slot, points[slot], i, watched)
            central = central_difference(costs[k, 1], costs[k, 2], step)
            settled[k] = abs(analytic[r] - central) <= tolerance[r]
            surprises[blocks[r]] += not settled[k]
        if not settled[k]:
            done = settling and watched         # the inner points, already watched
            for slot in _OUTER if done else (*_INNER, *_OUTER):
                costs[k, slot] = at(slot, points[slot], i)
            kinks[k] = watch.kink()
        work[i] = theta[i]
    untouched = fresh or (np.array_equal(work, theta, equal_nan=True)
                          and np.array_equal(X, evaluator.X, equal_nan=True)
                          and np.array_equal(Y, evaluator.Y, equal_nan=True))
    return costs, kinks, settled, bool(untouched)
