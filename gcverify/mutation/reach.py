"""Where the examples reach: a mutant that survives only where they do not.

A dead ReLU unit (its pre-activation negative on every example) has a zero gradient
on every example: any bug in its gradient is invisible there, and a mutant that
multiplies zeros looks exactly like the original. The campaign calls such a mutant
**not reached** (:attr:`~gcverify.mutation.results.Outcome.NOT_REACHED`, mutmut's "no
tests"), on this evidence:

* the original's check on each example says which gradient coordinates it reaches
  (:func:`reached_coordinates`: ``|g| + |n|`` beyond three error bars, the notion of
  zero the verdict uses); the others are *unreached* on that example;
* a mutant that the check never FAILs, that never raises, and whose cost equals the
  original's, is **not reached** when its gradient differs from the original's only at
  coordinates unreached on each example; or when it differs nowhere, but does once
  the parameters of the coordinates that no example reaches are redrawn
  (:func:`revived_parameters`: dead units brought back to life, the original and the
  mutant compared there, no gradient check needed). A mutant that still matches there
  stays "probably equivalent" (``Z1 > 0 -> Z1 >= 0`` on continuous inputs).

>>> reached = np.array([True, False, True])
>>> revived = revived_parameters({"W": np.array([[1.0, -2.0, 3.0]])}, ~reached, seed=0)
>>> revived["W"].tolist()[0][::2], bool(revived["W"][0, 1] != -2.0)
([1.0, 3.0], True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from gcverify.adapters import Backprop
from gcverify.coverage import nonzero_beyond_error_bars
from gcverify.mutation.examples import Example
from gcverify.params import ParamLayout
from gcverify.result import GradCheckResult
from gcverify.validate import validate_data, validate_gradients

__all__ = ["REVIVALS", "differs_when_revived", "reached_coordinates", "revived_parameters"]

#: Revived copies tried per example (of the first :data:`_REVIVED_EXAMPLES` examples).
REVIVALS = 4
_REVIVED_EXAMPLES = 3


def reached_coordinates(result: GradCheckResult) -> np.ndarray:
    """The flat coordinates whose gradient the check saw distinguishable from zero
    (where it evaluated no numerical derivative, those with a non-zero analytic one).

    >>> from gcverify.models import notebook as nb
    >>> from gcverify import check_backprop
    >>> X, Y, p = nb.gradient_check_n_test_case()
    >>> result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y, p)
    >>> int((~reached_coordinates(result)).sum())      # units dead on the three examples
    20
    """
    evaluated = np.isfinite(result.numerical)
    seen = nonzero_beyond_error_bars(result.analytic, result.numerical, result.error)
    return np.where(evaluated, seen, result.analytic != 0)


def revived_parameters(parameters: Mapping[str, np.ndarray], unreached: np.ndarray, *,
                       seed: int) -> dict[str, np.ndarray]:
    """A copy of ``parameters`` whose ``unreached`` (flat) entries are drawn afresh from
    a normal distribution with each block's spread (1 where it has none): a dead unit's
    weights and bias, redrawn, make it live on some examples."""
    layout = ParamLayout.from_parameters(parameters)
    theta = layout.flatten(parameters)
    rng = np.random.default_rng(seed)
    spread = np.repeat([float(np.std(theta[layout.slice_of(name)])) or 1.0
                        for name in layout.names], layout.sizes)
    theta = np.where(unreached, rng.normal(size=theta.shape) * spread, theta)
    return layout.unflatten(theta)


def differs_when_revived(original: Backprop, mutated: Backprop, examples: Sequence[Example],
                         unreached: np.ndarray,
                         matches: Callable[[np.ndarray, np.ndarray], bool]) -> tuple[int, int]:
    """On revived copies of the first examples (:data:`REVIVALS` each), how many give
    the mutant a gradient (or a cost) different from the original's, and how many were
    compared
    (copies where either pass raises, or gives no finite gradient, are not counted).
    ``matches(g, g0)`` is the campaign's equivalence test."""
    differing = tried = 0
    for index, (X, Y, parameters) in enumerate(examples[:_REVIVED_EXAMPLES]):
        for draw in range(REVIVALS):
            revived = revived_parameters(parameters, unreached, seed=index * REVIVALS + draw)
            try:
                g0, cost0 = _gradient_and_cost(original, X, Y, revived)
                g, cost = _gradient_and_cost(mutated, X, Y, revived)
            except Exception:  # a mutant may fail in any way there: no evidence
                continue
            if not (np.isfinite(g0).all() and g.shape == g0.shape):
                continue
            tried += 1
            differing += not (matches(g, g0) and matches(cost, cost0))
    return differing, tried


def _gradient_and_cost(passes: Backprop, X: np.ndarray, Y: np.ndarray,
                       parameters: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The backward pass's flat gradient at ``parameters``, and the forward's cost (as an
    array of one value), on copies of everything."""
    layout = ParamLayout.from_parameters(parameters)
    X, Y = validate_data("X", X), validate_data("Y", Y)
    copies = {name: np.array(value) for name, value in parameters.items()}
    cost, cache = passes.forward(X.copy(), Y.copy(), copies)
    gradient = validate_gradients(passes.backward(X.copy(), Y.copy(), cache), layout).vector
    return gradient, np.asarray(cost, dtype=np.float64).reshape(-1)[:1]
