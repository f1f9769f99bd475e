"""The decision rules the study compares, each applied to numbers gcverify computes.

Every rule reduces a check to one *score*: the check FAILs when the score exceeds 1 at the
rule's defaults, and scaling the rule's tolerance by ``c`` moves that line to ``c`` (the
study's ROC curves vary ``c``). No torch, jax or scipy is imported: their criteria are
written down from their documentation and applied here.

* ``notebook``: the "Gradient Checking" notebook: central differences with ε = 1e-7 and
  one global ``‖g − n‖ / (‖g‖ + ‖n‖) > 2e-7``;
* ``torch``: ``torch.autograd.gradcheck``: central differences with ``eps=1e-6``, then
  ``allclose(analytic, numerical, rtol=1e-3, atol=1e-5)`` entry by entry;
* ``jax``: ``jax.test_util.check_grads``: one random direction ``v``, the directional
  derivative ``(J(θ + εv) − J(θ − εv)) / 2ε`` with ε = 1e-4 against ``g · v``, within
  ``atol = rtol = 1e-5`` (its float64 gradient tolerance);
* ``scipy``: ``scipy.optimize.check_grad``: forward differences with ε = √eps ≈ 1.49e-8,
  the 2-norm of the difference, against the typical ``< 1e-5``;
* ``gcverify``: per block, ``|g − n| > threshold (|g| + |n|) + |e|`` with measured error
  bars ``e`` (threshold 2e-7).

>>> [rule.name for rule in RULES]
['notebook', 'torch', 'jax', 'scipy', 'gcverify']
>>> NOTEBOOK.score(Numbers(central={1e-7: np.array([1.0, 2.0])}), np.array([1.0, 2.0]))
0.0
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["GCVERIFY", "JAX", "NOTEBOOK", "RULES", "SCIPY", "TORCH", "Numbers", "Rule",
           "rule_named"]

#: scipy.optimize.check_grad's default step: the square root of float64's epsilon.
SCIPY_STEP = float(np.sqrt(np.finfo(np.float64).eps))


@dataclass(frozen=True)
class Numbers:
    """The numerical side of a check, computed once per network and reused for every
    planted error: central differences per step, scipy's forward differences, jax's
    direction and directional derivative, and gcverify's estimates with their error bars
    (per block, as ``(offsets, numerical, error)``)."""

    central: dict[float, np.ndarray] = field(default_factory=dict)
    forward: np.ndarray | None = None
    direction: np.ndarray | None = None
    directional: float | None = None
    gcverify: tuple[tuple[int, ...], np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class Rule:
    """A decision rule: its name, what it computes and decides (in words, with its
    source), and its score: FAIL when the score exceeds 1 at its defaults."""

    name: str
    label: str
    numerical: str
    criterion: str
    source: str
    score: Callable[[Numbers, np.ndarray], float] = field(repr=False, compare=False)

    def fails(self, numbers: Numbers, analytic: np.ndarray, scale: float = 1.0) -> bool:
        """The rule's verdict with its tolerance scaled by ``scale`` (1: its default)."""
        return bool(self.score(numbers, analytic) > scale)


def _notebook(numbers: Numbers, g: np.ndarray) -> float:
    n = numbers.central[1e-7]
    denominator = float(np.linalg.norm(g) + np.linalg.norm(n))
    difference = float(np.linalg.norm(g - n)) / denominator if denominator else 0.0
    return difference / 2e-7 if math.isfinite(difference) else math.inf


def _torch(numbers: Numbers, g: np.ndarray) -> float:
    n = numbers.central[1e-6]
    with np.errstate(invalid="ignore"):
        ratio = np.abs(g - n) / (1e-5 + 1e-3 * np.abs(n))
    return float(np.max(np.where(np.isfinite(ratio), ratio, np.inf), initial=0.0))


def _jax(numbers: Numbers, g: np.ndarray) -> float:
    assert numbers.direction is not None and numbers.directional is not None
    analytic = float(g @ numbers.direction)
    gap = abs(analytic - numbers.directional)
    return gap / (1e-5 + 1e-5 * abs(numbers.directional)) if math.isfinite(gap) else math.inf


def _scipy(numbers: Numbers, g: np.ndarray) -> float:
    assert numbers.forward is not None
    error = float(np.linalg.norm(g - numbers.forward))
    return error / 1e-5 if math.isfinite(error) else math.inf


def _gcverify(numbers: Numbers, g: np.ndarray) -> float:
    """The largest block's ``(|g - n| - |e|) / (|g| + |n|)`` over the threshold."""
    assert numbers.gcverify is not None
    offsets, n, e = numbers.gcverify
    worst = 0.0
    for start, stop in itertools.pairwise(offsets):
        use = np.isfinite(e[start:stop]) & np.isfinite(n[start:stop])
        gb, nb, eb = g[start:stop][use], n[start:stop][use], e[start:stop][use]
        if not np.all(np.isfinite(gb)):
            return math.inf
        scale = float(np.linalg.norm(gb) + np.linalg.norm(nb))
        excess = float(np.linalg.norm(gb - nb) - np.linalg.norm(eb))
        if scale > 0:
            worst = max(worst, excess / scale)
        elif excess > 0:
            return math.inf
    return worst / 2e-7


NOTEBOOK = Rule("notebook", "the notebook's gradient_check_n", "central, ε = 1e-7",
                "‖g − n‖ / (‖g‖ + ‖n‖) > 2e-7 over the whole vector",
                "the \"Gradient Checking\" notebook", _notebook)
TORCH = Rule("torch", "torch.autograd.gradcheck", "central, eps = 1e-6",
             "any |g − n| > atol + rtol |n|, atol = 1e-5, rtol = 1e-3",
             "torch.autograd.gradcheck defaults (eps=1e-06, atol=1e-05, rtol=0.001)", _torch)
JAX = Rule("jax", "jax.test_util.check_grads", "one random direction, ε = 1e-4",
           "|g·v − n_v| > atol + rtol |n_v|, atol = rtol = 1e-5",
           "jax.test_util.check_grads (EPS = 1e-4, float64 gradient tolerance 1e-5)", _jax)
SCIPY = Rule("scipy", "scipy.optimize.check_grad", "forward, ε = √eps ≈ 1.49e-8",
             "‖g − n‖₂ > 1e-5", "scipy.optimize.check_grad (epsilon=sqrt(eps)), with the "
             "tolerance its users typically assert", _scipy)
GCVERIFY = Rule("gcverify", "gcverify.check_gradients", "central, h = cbrt(eps) max(1, |θ|), "
                "with error bars", "per block, |g − n| > 2e-7 (|g| + |n|) + |e|",
                "gcverify's verdict rule", _gcverify)

#: The rules, in the order reports show them.
RULES = (NOTEBOOK, TORCH, JAX, SCIPY, GCVERIFY)


def rule_named(name: str) -> Rule:
    """The rule called ``name``.

    >>> rule_named("torch").numerical
    'central, eps = 1e-6'
    """
    for rule in RULES:
        if rule.name == name:
            return rule
    from gcverify.errors import invalid_argument
    raise invalid_argument("name", name, "is not a rule",
                           f"use one of {', '.join(r.name for r in RULES)}")
