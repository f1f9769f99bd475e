"""The domain of the properties, and seeded cases drawn from it (plain numpy).

:class:`Domain` is where the property "the correct backprop never fails the check" is
claimed: parameters in ``[-max_magnitude, max_magnitude]``, inputs in ``[-max_input,
max_input]``, output logits ``|Z_L| <= max_logit``, ``min_examples`` to
``max_examples`` examples. :func:`gcverify.strategies.cases` draws from it with
Hypothesis; :func:`sample_case` draws one seeded case without Hypothesis (what
``cases(net, generic=True)`` draws), for example sources that do not search, such as
the mutation campaign's.

Why a bound on the logits, measured: when the sigmoid saturates, ``1 - A`` keeps only
``-log10(eps * e^|z|)`` digits, so the naive cost (the notebook's ``-log(1 - A)``)
becomes a staircase and the backward pass's ``A - Y`` loses its relative precision
(about ``eps * e^|z|``: 7e-10 at 15, 1e-6 at 23, everything beyond 36.7 where ``A``
rounds to exactly 1). Over 3,000 random networks the checker never failed a correct
backprop with ``|z| <= 30`` and passed 99.3 % or more of them with ``|z| <= 15``.

>>> from gcverify import MLP
>>> X, Y, p = sample_case(MLP((4, 5, 3, 1)), [0, 7], Domain(min_examples=2, max_examples=6))
>>> 2 <= X.shape[1] <= 6, sorted(p)[:2]
(True, ['W1', 'W2'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from gcverify.conventions import LAYOUTS
from gcverify.errors import invalid_argument
from gcverify.models.mlp import COST_FORMS, HIDDEN_ACTIVATIONS, MLP

__all__ = [
    "LABEL_FORMS",
    "MAX_INPUT",
    "MAX_LOGIT",
    "MAX_MAGNITUDE",
    "Architectures",
    "Case",
    "DataShape",
    "Domain",
    "bound_logits",
    "sample_case",
]


# --- validation, with Hypothesis's wording ---------------------------------------------------

def integer(name: str, value: Any, lowest: int) -> None:
    """``value`` must be an integer ``>= lowest``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < lowest:
        raise invalid_argument(name, value, f"is not an integer >= {lowest}",
                               f"pass e.g. {name}={max(lowest, 1)}")


def ordered(low_name: str, low: Any, high_name: str, high: Any, lowest: int) -> None:
    """Two integers ``>= lowest`` with ``low <= high``."""
    integer(low_name, low, lowest)
    integer(high_name, high, lowest)
    if low > high:
        raise invalid_argument(high_name, high, f"is below {low_name}={low}",
                               f"pass {high_name} >= {low_name}")


def positive(name: str, value: Any) -> None:
    """A positive finite number."""
    if isinstance(value, bool) or not isinstance(value, Real) or \
            not math.isfinite(value) or value <= 0:
        raise invalid_argument(name, value, "is not a positive finite number",
                               f"pass e.g. {name}=2.0")


@dataclass(frozen=True)
class Domain:
    """Where cases are drawn: sizes and bounds, each validated.

    >>> Domain().max_logit
    15.0
    >>> Domain(min_examples=4, max_examples=2)
    Traceback (most recent call last):
    ...
    gcverify.errors.InvalidArgument: max_examples=2 is below min_examples=4; pass ...
    """

    min_examples: int = 1
    max_examples: int = 8
    max_magnitude: float = 2.0
    max_input: float = 4.0
    max_logit: float = 15.0

    def __post_init__(self) -> None:
        ordered("min_examples", self.min_examples, "max_examples", self.max_examples, 1)
        for name in ("max_magnitude", "max_input", "max_logit"):
            positive(name, getattr(self, name))


def choices(name: str, value: Any, known: Sequence[str]) -> tuple[str, ...]:
    chosen = (value,) if isinstance(value, str) else tuple(value)
    if not chosen:
        raise invalid_argument(name, value, "is empty", f"pass some of {', '.join(known)}")
    for item in chosen:
        if item not in known:
            raise invalid_argument(name, value, f"contains {item!r}",
                                   f"pass some of {', '.join(known)}")
    return chosen


@dataclass(frozen=True)
class Architectures:
    """The space of reference networks: depth, widths, hidden activations, cost form.

    :func:`gcverify.strategies.architectures` draws from it with Hypothesis;
    :meth:`sample` draws one network with a numpy generator. The defaults are written
    here once.

    >>> Architectures(max_depth=2).max_width
    16
    >>> net = Architectures(max_depth=2, activations="tanh").sample(np.random.default_rng(0))
    >>> net.n_layers <= 2 and set(net.activation if isinstance(net.activation, tuple)
    ...                          else [net.activation]) <= {"tanh"}
    True
    """

    min_depth: int = 1
    max_depth: int = 5
    min_width: int = 1
    max_width: int = 16
    output_width: int = 1
    activations: str | Sequence[str] = HIDDEN_ACTIVATIONS
    costs: str | Sequence[str] = COST_FORMS
    mixed: bool = True

    def __post_init__(self) -> None:
        ordered("min_depth", self.min_depth, "max_depth", self.max_depth, 1)
        ordered("min_width", self.min_width, "max_width", self.max_width, 1)
        integer("output_width", self.output_width, 1)
        choices("activations", self.activations, HIDDEN_ACTIVATIONS)
        choices("costs", self.costs, COST_FORMS)
        if not isinstance(self.mixed, bool):
            raise invalid_argument("mixed", self.mixed, "is not a bool",
                                   "pass mixed=True or mixed=False")

    def sample(self, rng: np.random.Generator) -> MLP:
        """One network of this space, each choice uniform (the ranges the strategy draws
        from, without Hypothesis's preference for small examples)."""
        depth = int(rng.integers(self.min_depth, self.max_depth + 1))
        widths = [int(w) for w in rng.integers(self.min_width, self.max_width + 1, depth)]
        names = choices("activations", self.activations, HIDDEN_ACTIVATIONS)
        count = depth - 1 if self.mixed else min(1, depth - 1)
        hidden = tuple(str(rng.choice(names)) for _ in range(count)) * (
            1 if self.mixed else depth - 1)
        cost = str(rng.choice(choices("costs", self.costs, COST_FORMS)))
        activation = hidden[0] if hidden and len(set(hidden)) == 1 else (hidden or "relu")
        return MLP((*widths, self.output_width), activation, cost)


#: How the labels of a column-layout batch are written: ``flat`` integers, ``(m,)`` for
#: one output unit (the gradient-checking notebook's), or a ``matrix`` of floats,
#: ``(n_out, m)`` also for one output unit (the L-layer course's, ``Y.shape[1] == m``).
LABEL_FORMS = ("flat", "matrix")

#: ``(X, Y, parameters)``.
Case = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]


@dataclass(frozen=True)
class DataShape:
    """The shapes a user's code expects its data in: where the examples are
    (``layout``, as ``gcverify check --layout`` spells it) and how the labels are written
    (``labels``, one of :data:`LABEL_FORMS`).

    * ``layout="columns"`` (the default): ``X`` is ``(n_x, m)`` and the parameters are
      :class:`~gcverify.MLP`'s, ``W1 (n1, n0)``, ``b1 (n1, 1)``. With ``labels="flat"``
      (the default) ``Y`` is ``(m,)`` 0/1 integers for one output unit (``(n_out, m)``
      for more), as the notebook's ``gradient_check_n_test_case``; with
      ``labels="matrix"``, ``(n_out, m)`` 0.0/1.0 floats, as the L-layer course's
      ``compute_cost`` (``m = Y.shape[1]``) and ``gcverify check --layout columns`` want.
    * ``layout="rows"`` (CS231n's): ``X`` is ``(m, n_x)``, ``y`` is ``(m,)`` integer
      class labels in ``0..n_out - 1``, ``W1`` is ``(n0, n1)`` and ``b1`` is ``(n1,)``.

    >>> DataShape(layout="rows").labels
    'flat'
    >>> DataShape(layout="rows", labels="matrix")
    Traceback (most recent call last):
    ...
    gcverify.errors.InvalidArgument: labels='matrix' is for the column layout: in the ...
    """

    layout: str = LAYOUTS[0]
    labels: str = LABEL_FORMS[0]

    def __post_init__(self) -> None:
        for name, known in (("layout", LAYOUTS), ("labels", LABEL_FORMS)):
            if getattr(self, name) not in known:
                raise invalid_argument(name, getattr(self, name), f"is not one of "
                                       f"{', '.join(known)}", f"pass e.g. {name}={known[-1]!r}")
        if self.layout == "rows" and self.labels != LABEL_FORMS[0]:
            raise invalid_argument("labels", self.labels, "is for the column layout: in the "
                                   "row layout y is one integer label per example",
                                   "drop labels=, or pass layout='columns'")

    def drawn_labels(self, n_out: int, m: int) -> tuple[tuple[int, ...], int]:
        """The shape the labels are drawn in, and the largest label.

        >>> DataShape().drawn_labels(1, 5), DataShape(layout="rows").drawn_labels(3, 5)
        (((5,), 1), ((5,), 2))
        """
        if self.layout == "rows":
            return (m,), n_out - 1
        return ((m,) if n_out == 1 else (n_out, m)), 1

    def batch(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A batch drawn in the column layout (labels as :meth:`drawn_labels` says), in
        this shape; the default shape returns it as drawn.

        >>> X, Y = DataShape(labels="matrix").batch(np.zeros((3, 2)), np.array([0, 1]))
        >>> X.shape, Y.shape, Y.dtype
        ((3, 2), (1, 2), dtype('float64'))
        """
        if self.layout == "rows":
            return X.T.copy(), Y
        if self.labels == "matrix":
            return X, Y.reshape(-1, X.shape[1]).astype(np.float64)
        return X, Y

    def case(self, X: np.ndarray, Y: np.ndarray,
             parameters: Mapping[str, np.ndarray]) -> Case:
        """A case drawn in the column layout, in this shape: in the row layout each
        weight is transposed to ``(fan_in, fan_out)`` and each bias flattened.

        >>> X, y, p = DataShape(layout="rows").case(np.zeros((3, 2)), np.array([0, 2]),
        ...     {"W1": np.zeros((4, 3)), "b1": np.zeros((4, 1))})
        >>> X.shape, p["W1"].shape, p["b1"].shape
        ((2, 3), (3, 4), (4,))
        """
        X, Y = self.batch(X, Y)
        return X, Y, self.parameters(parameters)

    def parameters(self, parameters: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Parameters in the column layout (``W1 (n1, n0)``, ``b1 (n1, 1)``), in this
        shape: in the row layout each weight transposed, each bias flattened.

        >>> DataShape(layout="rows").parameters({"W1": np.zeros((4, 3)),
        ...                                      "b1": np.zeros((4, 1))})["b1"].shape
        (4,)
        """
        if self.layout != "rows":
            return dict(parameters)
        return {name: value.T.copy() if name.startswith("W") else value[:, 0].copy()
                for name, value in parameters.items()}


#: Default bound on the output logits |Z_L|.
MAX_LOGIT = Domain.max_logit
#: Default bound on every parameter.
MAX_MAGNITUDE = Domain.max_magnitude
#: Default bound on every input.
MAX_INPUT = Domain.max_input


def sample_case(net: MLP, seed: int | Sequence[int], domain: Domain = Domain(), *,
                layout: str = DataShape.layout, labels: str = DataShape.labels) -> Case:
    """One case ``(X, Y, parameters)`` for ``net`` in ``domain``, drawn with ``seed``, in
    the ``layout`` and with the ``labels`` your code expects (see :class:`DataShape`).

    Continuous values (a normal distribution clipped at 3 sigma and scaled to each
    bound): no ties, no exact zeros, hence no exact kinks; the same seed gives the same
    case, in every shape.

    >>> from gcverify import MLP
    >>> a = sample_case(MLP((2, 1)), 3)
    >>> b = sample_case(MLP((2, 1)), 3)
    >>> bool(np.array_equal(a[0], b[0]))
    True
    >>> X, Y, p = sample_case(MLP((2, 1)), 3, labels="matrix")   # the L-layer course's
    >>> Y.shape == (1, X.shape[1]), Y.dtype
    (True, dtype('float64'))
    >>> X, y, p = sample_case(MLP((4, 5, 3)), 3, layout="rows")  # CS231n's
    >>> X.shape[1], y.shape == (X.shape[0],), p["W1"].shape, p["b1"].shape
    (4, True, (4, 5), (5,))
    """
    wanted = DataShape(layout, labels)
    rng = np.random.default_rng(seed)
    drawn = {name: generic_array(rng, shape, domain.max_magnitude)
             for name, shape in zip(net.layout.names, net.layout.shapes)}
    m = int(rng.integers(domain.min_examples, domain.max_examples + 1))
    X = generic_array(rng, (net.layer_dims[0], m), domain.max_input)
    size, largest = wanted.drawn_labels(net.layer_dims[-1], m)
    Y = rng.integers(0, largest + 1, size=size)
    # The logits are bounded in the column layout, where net.forward computes them.
    return wanted.case(X, Y, bound_logits(net, X, Y, drawn, domain.max_logit))


def generic_array(rng: np.random.Generator, shape: tuple[int, ...], bound: float) -> np.ndarray:
    """Continuous values in ``[-bound, bound]``: a normal distribution clipped at 3 sigma.

    >>> bool(np.abs(generic_array(np.random.default_rng(0), (100,), 2.0)).max() <= 2.0)
    True
    """
    return np.clip(rng.standard_normal(shape), -3, 3) * (bound / 3)


def bound_logits(net: MLP, X: np.ndarray, Y: np.ndarray, parameters: Mapping[str, np.ndarray],
                 max_logit: float) -> dict[str, np.ndarray]:
    """``parameters`` with the output layer scaled so that ``max |Z_L| <= max_logit``.

    >>> from gcverify import MLP
    >>> net = MLP((1, 1))
    >>> p = bound_logits(net, np.ones((1, 1)), np.ones(1), {"W1": np.array([[40.0]]),
    ...                  "b1": np.zeros((1, 1))}, 15.0)
    >>> bool(abs(p["W1"][0, 0]) <= 15.0)
    True
    """
    with np.errstate(all="ignore"):
        logits = net.forward(X, Y, parameters)[1][-4]
    largest = float(np.max(np.abs(logits)))
    if not largest > max_logit:
        return dict(parameters)
    factor = max_logit / largest * (1 - 1e-12)   # stay inside despite rounding
    L = net.n_layers
    return {**parameters, f"W{L}": parameters[f"W{L}"] * factor,
            f"b{L}": parameters[f"b{L}"] * factor}
