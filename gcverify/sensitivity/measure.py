"""What the study measures on one network, one task at a time (run in worker processes).

* :func:`step_errors`: the error of the central difference against the exact gradient
  for each step ε, and the step theory predicts, ``cbrt(3 eps |J| / |J'''|)``;
* :func:`boundary_scores`: every rule's score for planted errors of each kind and size
  (and for the correct gradient), on the same numerical derivatives;
* :func:`mutant_scores`: every rule's score for every mutant of the notebook's backward
  pass on one example, and for the original.

>>> from gcverify.sampling import Architectures, Domain
>>> sample = network_sample(3, 0, Architectures(max_depth=2, max_width=4, mixed=False),
...                         Domain(max_examples=4))
>>> errors = step_errors(sample, (1e-7, 1e-5))
>>> bool(errors.errors[0] < 1e-4 and errors.errors[1] < 1e-4)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gcverify.check import check_gradients
from gcverify.models.mlp import MLP, NetworkCost
from gcverify.numdiff import EPS, STENCIL, central_difference, third_derivative
from gcverify.params import ParamLayout
from gcverify.sampling import Architectures, Domain, sample_case
from gcverify.sensitivity.rules import RULES, SCIPY_STEP, Numbers

__all__ = [
    "KINDS",
    "BoundaryScores",
    "MutantScores",
    "NetworkSample",
    "StepErrors",
    "boundary_scores",
    "mutant_scores",
    "network_sample",
    "numbers_for",
    "plant",
    "step_errors",
]

#: The kinds of planted error: a block scaled by 1 + δ, its sign flipped, one entry
#: moved by δ ‖g_B‖, the block moved by δ ‖g_B‖ along a random direction.
KINDS = ("scaling", "sign", "entry", "direction")
# jax.test_util's finite-difference step.
_JAX_STEP = 1e-4


@dataclass(frozen=True)
class NetworkSample:
    """A drawn network and its case; ``index`` orders it in the study."""

    index: int
    net: MLP
    X: np.ndarray
    Y: np.ndarray
    parameters: dict[str, np.ndarray]

    @property
    def group(self) -> str:
        """``cost/activation`` (the study's networks have one hidden activation)."""
        activation = self.net.activation if isinstance(self.net.activation, str) else \
            self.net.activation[0] if self.net.activation else "none"
        return f"{self.net.cost}/{activation if self.net.depth_hidden else 'none'}"


def network_sample(seed: int, index: int, space: Architectures,
                   domain: Domain) -> NetworkSample:
    """Network ``index`` of a study seeded with ``seed``: its architecture drawn from
    ``space``, its case from ``domain`` (the strategies' domain, generic values)."""
    rng = np.random.default_rng([seed, index])
    net = space.sample(rng)
    X, Y, parameters = sample_case(net, [seed, index, 1], domain)
    return NetworkSample(index, net, X, Y, parameters)


def _analytic(sample: NetworkSample) -> np.ndarray:
    cache = sample.net.forward(sample.X, sample.Y, sample.parameters)[1]
    return sample.net.layout.flatten_gradients(sample.net.backward(sample.X, sample.Y, cache))


def _central(cost: NetworkCost, theta: np.ndarray, step: float) -> np.ndarray:
    index = np.arange(theta.size)
    costs = cost.coordinate_costs(theta, index, np.tile([-step, step], (theta.size, 1)))[0]
    return central_difference(costs[:, 0], costs[:, 1], step)


def numbers_for(net: MLP, X: np.ndarray, Y: np.ndarray, parameters: dict[str, np.ndarray],
                analytic: np.ndarray, rng: np.random.Generator) -> Numbers:
    """Every rule's numerical side for one case (gcverify's from a check of ``analytic``,
    the correct gradient)."""
    layout: ParamLayout = net.layout
    cost = net.cost_function(X, Y)
    theta = layout.flatten(parameters)
    J0 = cost.at_vector(theta)
    index = np.arange(theta.size)
    forward = (cost.coordinate_costs(theta, index, np.full((theta.size, 1), SCIPY_STEP))[0][:, 0]
               - J0) / SCIPY_STEP
    direction = rng.standard_normal(theta.size)
    ends = cost.batch(np.stack([theta + _JAX_STEP * direction, theta - _JAX_STEP * direction]))
    result = check_gradients(cost, layout.unflatten(analytic), parameters)
    return Numbers(central={1e-7: _central(cost, theta, 1e-7), 1e-6: _central(cost, theta, 1e-6)},
                   forward=forward, direction=direction,
                   directional=float(central_difference(ends[1], ends[0], _JAX_STEP)),
                   gcverify=(layout.offsets, np.array(result.numerical), np.array(result.error)))


@dataclass(frozen=True)
class StepErrors:
    """The relative error ``‖n_ε − g‖ / ‖g‖`` of the central difference for each step, the
    complex step's (None where the cost is not complex-safe), and theory's optimum."""

    index: int
    group: str
    errors: tuple[float, ...]
    complex_error: float | None
    theory_step: float


def step_errors(sample: NetworkSample, steps: Sequence[float]) -> StepErrors:
    """The central difference's error at each step, against the exact gradient."""
    g = _analytic(sample)
    cost = sample.net.cost_function(sample.X, sample.Y)
    theta = sample.net.layout.flatten(sample.parameters)
    norm = float(np.linalg.norm(g)) or 1.0
    errors = tuple(float(np.linalg.norm(_central(cost, theta, step) - g)) / norm
                   for step in steps)
    # The third derivative along each coordinate, from a stencil far above rounding.
    h = 1e-2
    index = np.arange(theta.size)
    far = cost.coordinate_costs(theta, index, np.tile(STENCIL * h, (theta.size, 1)))[0]
    third = third_derivative(far, h)
    J0 = abs(cost.at_vector(theta))
    rms = float(np.sqrt(np.mean(third**2)))
    theory = float(np.cbrt(3 * EPS * max(J0, EPS) / rms)) if rms > 0 else math.nan
    complex_error = None
    if sample.net.cost == "naive":           # logaddexp has no complex loop
        step = 1e-20
        values = np.empty(theta.size)
        for i in range(theta.size):
            shifted = theta.astype(np.complex128)
            shifted[i] += 1j * step
            values[i] = np.imag(cost(sample.net.layout.unflatten(shifted))) / step
        complex_error = float(np.linalg.norm(values - g)) / norm
    return StepErrors(sample.index, sample.group, errors, complex_error, theory)


def plant(g: np.ndarray, span: slice, kind: str, delta: float,
          rng: np.random.Generator) -> np.ndarray:
    """``g`` with an error of ``kind`` and relative size ``delta`` in the block ``span``.

    >>> plant(np.array([1.0, 2.0, 3.0]), slice(1, 3), "scaling", 0.5,
    ...       np.random.default_rng(0)).tolist()
    [1.0, 3.0, 4.5]
    """
    wrong = g.copy()
    block = wrong[span]
    size = float(np.linalg.norm(block))
    if kind == "scaling":
        block *= 1 + delta
    elif kind == "sign":
        block *= -1
    elif kind == "entry":
        block[int(rng.integers(block.size))] += delta * size
    else:
        direction = rng.standard_normal(block.size)
        block += delta * size * direction / np.linalg.norm(direction)
    return wrong


@dataclass(frozen=True)
class BoundaryScores:
    """Every rule's score (tuple in :data:`RULES` order) for the correct gradient and for
    each ``(kind, delta)`` planted in ``block`` (whose share of ‖g‖ is ``share``)."""

    index: int
    group: str
    block: str
    share: float
    correct: tuple[float, ...]
    planted: dict[tuple[str, float], tuple[float, ...]]


def boundary_scores(sample: NetworkSample, deltas: Sequence[float],
                    seed: int) -> BoundaryScores | None:
    """Scores for planted errors in one block with a non-negligible gradient (None if the
    gradient is zero everywhere)."""
    rng = np.random.default_rng([seed, sample.index, 2])
    g = _analytic(sample)
    layout = sample.net.layout
    norms = [float(np.linalg.norm(g[layout.slice_of(name)])) for name in layout.names]
    whole = float(np.linalg.norm(g))
    visible = [k for k, norm in enumerate(norms) if norm > 1e-6 * whole]
    if not visible:
        return None
    k = int(rng.choice(visible))
    span = layout.slice_of(layout.names[k])
    numbers = numbers_for(sample.net, sample.X, sample.Y, sample.parameters, g, rng)

    def scores(analytic: np.ndarray) -> tuple[float, ...]:
        return tuple(rule.score(numbers, analytic) for rule in RULES)

    planted = {(kind, 1.0 if kind == "sign" else delta): scores(
        plant(g, span, kind, delta, rng)) for kind in KINDS for delta in
        ((1.0,) if kind == "sign" else deltas)}
    return BoundaryScores(sample.index, sample.group, layout.names[k], norms[k] / whole,
                          scores(g), planted)


@dataclass(frozen=True)
class MutantScores:
    """Every rule's score on one example for the original backward pass and for each
    mutant whose gradient differs from it (by mutant id, with its family)."""

    example: int
    original: tuple[float, ...]
    mutants: dict[str, tuple[str, tuple[float, ...]]]


def mutant_scores(example: int, seed: int) -> MutantScores:
    """The notebook's backward pass and its mutants on example ``example`` of
    :class:`~gcverify.mutation.examples.NotebookExamples` (mutants that raise, return a
    wrong shape or the original's gradient are left out: no rule can see them)."""
    import warnings

    from gcverify.models import notebook as nb
    from gcverify.mutation.engine import mutate_function
    from gcverify.mutation.examples import NotebookExamples

    X, Y, parameters = NotebookExamples(seed)(example)
    net = MLP((4, 5, 3, 1), "relu", "naive")
    layout = net.layout
    cache = nb.forward_propagation_n(X, Y, parameters)[1]
    g = layout.flatten_gradients(nb.backward_propagation_n(X, Y, cache))
    numbers = numbers_for(net, X, Y, parameters, g, np.random.default_rng([seed, example, 3]))
    found = {}
    for mutant in mutate_function(nb.backward_propagation_n):
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wrong = layout.flatten_gradients(mutant.compile(vars(nb))(X, Y, cache))
        except Exception:  # a mutant may fail in any way: no rule could judge it
            continue
        if np.array_equal(wrong, g) or not np.all(np.isfinite(wrong)):
            continue
        found[mutant.id] = (mutant.family, tuple(rule.score(numbers, wrong) for rule in RULES))
    return MutantScores(example, tuple(rule.score(numbers, g) for rule in RULES), found)
