"""Hypothesis strategies for gradient-checking properties: networks, parameters, batches.

In the style of :mod:`hypothesis.extra.numpy`: keyword-only options, validated when
the strategy is built, and a ``repr`` that shows only what you changed.

* :func:`architectures` draws a reference network (:class:`~gcverify.MLP`): depth,
  widths, hidden activations and cost form;
* :func:`parameters` and :func:`batches` draw its parameters and a batch ``(X, Y)``;
* :func:`cases` draws ``(X, Y, parameters)`` for one architecture, inside the domain;
* :func:`networks` draws all of it as a :class:`Network`, which
  :func:`~gcverify.check_backprop` takes directly: ``check_backprop(*network)``.

The domain
----------
The property "the correct backprop never fails the check" is claimed where float64
can resolve the gradient: parameters in ``[-max_magnitude, max_magnitude]``
(default 2), inputs in ``[-max_input, max_input]`` (default 4), and the output logits
bounded, ``|Z_L| <= max_logit`` (default :data:`MAX_LOGIT` = 15; :func:`cases`
rescales the output layer to get there). Why a bound on the logits, measured: when the
sigmoid saturates, ``1 - A`` keeps only ``-log10(eps * e^|z|)`` digits, so the naive
cost (the notebook's ``-log(1 - A)``) becomes a staircase and the backward pass's
``A - Y`` loses its relative precision (about ``eps * e^|z|``: 7e-10 at 15, 1e-6 at
23, everything beyond 36.7 where ``A`` rounds to exactly 1). Over 3,000 random
networks the checker never failed a correct backprop with ``|z| <= 30`` and passed
99.3 % or more of them with ``|z| <= 15`` (the rest INCONCLUSIVE); beyond 30 the naive
cost can lose every digit of a term, and no finite difference can see it.
Inside the domain Hypothesis stays free to produce its favourite hard cases: exact
zeros, repeated values, a single example, width 1. ``generic=True`` draws instead
from a seeded continuous distribution (no ties, no exact zeros, hence no exact
kinks): the setting for properties about bugs, which need a gradient to see.

>>> from hypothesis import given
>>> from gcverify import check_backprop, Verdict
>>> @given(networks(max_depth=2))
... def test_correct_backprop_never_fails(network):
...     assert check_backprop(*network).verdict is not Verdict.FAIL
>>> test_correct_backprop_never_fails()
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument as HypothesisInvalidArgument
from hypothesis.extra import numpy as hnp

from gcverify.errors import InvalidArgument, invalid_argument
from gcverify.models.mlp import COST_FORMS, HIDDEN_ACTIVATIONS, MLP

__all__ = [
    "MAX_INPUT",
    "MAX_LOGIT",
    "MAX_MAGNITUDE",
    "Network",
    "architectures",
    "batches",
    "cases",
    "networks",
    "parameters",
    "sample_case",
]

#: Default bound on the output logits |Z_L| (see the module's docstring).
MAX_LOGIT = 15.0
#: Default bound on every parameter.
MAX_MAGNITUDE = 2.0
#: Default bound on every input.
MAX_INPUT = 4.0


class Network(NamedTuple):
    """A drawn network: ``check_backprop(*network)`` checks its backprop."""

    forward: Callable[..., Any]
    backward: Callable[..., Any]
    X: np.ndarray
    Y: np.ndarray
    parameters: dict[str, np.ndarray]

    @property
    def net(self) -> MLP:
        """The reference network the forward and backward belong to."""
        return self.forward.__self__  # type: ignore[attr-defined]


# --- validation, in Hypothesis's style --------------------------------------------------

class _StrategyArgument(InvalidArgument, HypothesisInvalidArgument):
    """Bad strategy argument: catchable as gcverify's or as Hypothesis's InvalidArgument."""


def _invalid(name: str, value: Any, problem: str, fix: str) -> _StrategyArgument:
    return _StrategyArgument(str(invalid_argument(name, value, problem, fix)))


def _integer(name: str, value: Any, lowest: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lowest:
        raise _invalid(name, value, f"is not an integer >= {lowest}",
                       f"pass e.g. {name}={max(lowest, 1)}")


def _ordered(low_name: str, low: Any, high_name: str, high: Any, lowest: int) -> None:
    _integer(low_name, low, lowest)
    _integer(high_name, high, lowest)
    if low > high:
        raise _invalid(high_name, high, f"is below {low_name}={low}",
                       f"pass {high_name} >= {low_name}")


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or value <= 0:
        raise _invalid(name, value, "is not a positive finite number",
                       f"pass e.g. {name}=2.0")


def _choices(name: str, value: Any, known: Sequence[str]) -> tuple[str, ...]:
    chosen = (value,) if isinstance(value, str) else tuple(value)
    if not chosen:
        raise _invalid(name, value, "is empty", f"pass some of {', '.join(known)}")
    for item in chosen:
        if item not in known:
            raise _invalid(name, value, f"contains {item!r}",
                           f"pass some of {', '.join(known)}")
    return chosen


def _given(function: Callable[..., Any], values: dict[str, Any]) -> dict[str, Any]:
    """The arguments that differ from ``function``'s defaults (for a short repr)."""
    defaults = {name: p.default for name, p in inspect.signature(function).parameters.items()}
    return {name: value for name, value in values.items()
            if name in defaults and not _same(value, defaults[name])}


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _named(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    function.__name__ = function.__qualname__ = name
    return st.composite(function)


# --- architectures ---------------------------------------------------------------------------

def architectures(*, min_depth: int = 1, max_depth: int = 5, min_width: int = 1,
                  max_width: int = 16, output_width: int = 1,
                  activations: str | Sequence[str] = HIDDEN_ACTIVATIONS,
                  costs: str | Sequence[str] = COST_FORMS,
                  mixed: bool = True) -> st.SearchStrategy[MLP]:
    """Reference networks with ``min_depth`` to ``max_depth`` weight layers.

    Input and hidden widths are drawn from ``[min_width, max_width]``; the output has
    ``output_width`` units. Each hidden layer draws its activation from
    ``activations`` (all layers share one when ``mixed=False``); the cost form is
    drawn from ``costs`` ("stable", "naive").

    >>> architectures(max_depth=2)
    architectures(max_depth=2)
    >>> architectures(activations="relu", costs="naive").example().activation
    'relu'
    """
    _ordered("min_depth", min_depth, "max_depth", max_depth, 1)
    _ordered("min_width", min_width, "max_width", max_width, 1)
    _integer("output_width", output_width, 1)
    chosen_activations = _choices("activations", activations, HIDDEN_ACTIVATIONS)
    chosen_costs = _choices("costs", costs, COST_FORMS)
    if not isinstance(mixed, bool):
        raise _invalid("mixed", mixed, "is not a bool", "pass mixed=True or mixed=False")
    return _architectures(**_given(architectures, locals()))


def _draw_architecture(draw: Any, *, min_depth: int = 1, max_depth: int = 5,
                       min_width: int = 1, max_width: int = 16, output_width: int = 1,
                       activations: str | Sequence[str] = HIDDEN_ACTIVATIONS,
                       costs: str | Sequence[str] = COST_FORMS, mixed: bool = True) -> MLP:
    depth = draw(st.integers(min_depth, max_depth))
    widths = draw(st.lists(st.integers(min_width, max_width), min_size=depth, max_size=depth))
    names = _choices("activations", activations, HIDDEN_ACTIVATIONS)
    if mixed:
        hidden = tuple(draw(st.sampled_from(names)) for _ in range(depth - 1))
    else:
        hidden = (draw(st.sampled_from(names)),) * (depth - 1)
    cost = draw(st.sampled_from(_choices("costs", costs, COST_FORMS)))
    activation = hidden[0] if hidden and len(set(hidden)) == 1 else (hidden or "relu")
    return MLP((*widths, output_width), activation, cost)


_architectures = _named(_draw_architecture, "architectures")


# --- parameters and batches --------------------------------------------------------------------

def _generic_array(rng: np.random.Generator, shape: tuple[int, ...], bound: float) -> np.ndarray:
    """Continuous values in ``[-bound, bound]``: a normal distribution clipped at 3 sigma."""
    return np.clip(rng.standard_normal(shape), -3, 3) * (bound / 3)


def _values(shape: tuple[int, ...], bound: float, generic: bool) -> st.SearchStrategy:
    """Arrays of ``shape`` in ``[-bound, bound]``: Hypothesis's, or seeded continuous."""
    if generic:
        return st.integers(0, 2**32 - 1).map(
            lambda seed: _generic_array(np.random.default_rng(seed), shape, bound))
    return hnp.arrays(np.float64, shape,
                      elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False,
                                         allow_subnormal=False))


def parameters(net: MLP, *, max_magnitude: float = MAX_MAGNITUDE,
               generic: bool = False) -> st.SearchStrategy[dict[str, np.ndarray]]:
    """Parameter dicts ``W1, b1, ..., WL, bL`` for ``net``, each entry within
    ``max_magnitude``.

    >>> sorted(parameters(MLP((2, 3, 1))).example())
    ['W1', 'W2', 'b1', 'b2']
    """
    if not isinstance(net, MLP):
        raise _invalid("net", net, "is not an MLP", "pass e.g. MLP((4, 5, 3, 1))")
    _positive("max_magnitude", max_magnitude)
    return _parameters(net, **_given(parameters, {"max_magnitude": max_magnitude,
                                                  "generic": generic}))


def _draw_parameters(draw: Any, net: MLP, *, max_magnitude: float = MAX_MAGNITUDE,
                     generic: bool = False) -> dict[str, np.ndarray]:
    return {name: draw(_values(shape, max_magnitude, generic))
            for name, shape in zip(net.layout.names, net.layout.shapes)}


_parameters = _named(_draw_parameters, "parameters")


def batches(net: MLP, *, min_examples: int = 1, max_examples: int = 8,
            max_input: float = MAX_INPUT,
            generic: bool = False) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """Batches ``(X, Y)`` for ``net``: ``X`` of shape ``(n_x, m)`` within
    ``max_input``, 0/1 labels ``Y`` of shape ``(m,)`` (one output) or ``(n_out, m)``.

    >>> X, Y = batches(MLP((3, 1)), min_examples=2, max_examples=2).example()
    >>> X.shape, Y.shape
    ((3, 2), (2,))
    """
    if not isinstance(net, MLP):
        raise _invalid("net", net, "is not an MLP", "pass e.g. MLP((4, 5, 3, 1))")
    _ordered("min_examples", min_examples, "max_examples", max_examples, 1)
    _positive("max_input", max_input)
    return _batches(net, **_given(batches, {"min_examples": min_examples,
                                            "max_examples": max_examples,
                                            "max_input": max_input, "generic": generic}))


def _draw_batch(draw: Any, net: MLP, *, min_examples: int = 1, max_examples: int = 8,
                max_input: float = MAX_INPUT,
                generic: bool = False) -> tuple[np.ndarray, np.ndarray]:
    m = draw(st.integers(min_examples, max_examples))
    X = draw(_values((net.layer_dims[0], m), max_input, generic))
    n_out = net.layer_dims[-1]
    Y = draw(hnp.arrays(np.int64, (m,) if n_out == 1 else (n_out, m), elements=st.integers(0, 1)))
    return X, Y


_batches = _named(_draw_batch, "batches")


# --- cases and networks -------------------------------------------------------------------------

def cases(net: MLP, *, min_examples: int = 1, max_examples: int = 8,
          max_magnitude: float = MAX_MAGNITUDE, max_input: float = MAX_INPUT,
          max_logit: float = MAX_LOGIT,
          generic: bool = False) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray, dict]]:
    """``(X, Y, parameters)`` for ``net``, inside the domain.

    When the drawn output logits exceed ``max_logit``, the output layer (``WL``,
    ``bL``) is scaled down so that ``max |Z_L| = max_logit``; everything else is as
    drawn. Use this to check *your* backprop on the shapes of your network.

    >>> X, Y, p = cases(MLP((4, 5, 3, 1)), max_logit=1.0).example()
    >>> bool(np.abs(MLP((4, 5, 3, 1)).forward(X, Y, p)[1][-4]).max() <= 1.0 + 1e-12)
    True
    """
    if not isinstance(net, MLP):
        raise _invalid("net", net, "is not an MLP", "pass e.g. MLP((4, 5, 3, 1))")
    _ordered("min_examples", min_examples, "max_examples", max_examples, 1)
    for name, value in (("max_magnitude", max_magnitude), ("max_input", max_input),
                        ("max_logit", max_logit)):
        _positive(name, value)
    return _cases(net, **_given(cases, {
        "min_examples": min_examples, "max_examples": max_examples,
        "max_magnitude": max_magnitude, "max_input": max_input, "max_logit": max_logit,
        "generic": generic}))


def _draw_case(draw: Any, net: MLP, *, min_examples: int = 1, max_examples: int = 8,
               max_magnitude: float = MAX_MAGNITUDE, max_input: float = MAX_INPUT,
               max_logit: float = MAX_LOGIT,
               generic: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    if generic:
        return sample_case(net, draw(st.integers(0, 2**63 - 1)), min_examples=min_examples,
                           max_examples=max_examples, max_magnitude=max_magnitude,
                           max_input=max_input, max_logit=max_logit)
    drawn = draw(_parameters(net, max_magnitude=max_magnitude, generic=generic))
    X, Y = draw(_batches(net, min_examples=min_examples, max_examples=max_examples,
                         max_input=max_input, generic=generic))
    return X, Y, bound_logits(net, X, Y, drawn, max_logit)


_cases = _named(_draw_case, "cases")


def sample_case(net: MLP, seed: int | Sequence[int], *, min_examples: int = 1,
                max_examples: int = 8, max_magnitude: float = MAX_MAGNITUDE,
                max_input: float = MAX_INPUT,
                max_logit: float = MAX_LOGIT) -> tuple[np.ndarray, np.ndarray, dict]:
    """What ``cases(net, generic=True, ...)`` draws for one ``seed``, without Hypothesis.

    For reproducible example sources that do not search (the mutation campaign draws
    example ``i`` with seed ``[seed, i]``): the same domain, the same distribution.

    >>> X, Y, p = sample_case(MLP((4, 5, 3, 1)), [0, 7], min_examples=2, max_examples=6)
    >>> 2 <= X.shape[1] <= 6 and bool(np.array_equal(sample_case(MLP((4, 5, 3, 1)), [0, 7],
    ...     min_examples=2, max_examples=6)[0], X))
    True
    """
    rng = np.random.default_rng(seed)
    drawn = {name: _generic_array(rng, shape, max_magnitude)
             for name, shape in zip(net.layout.names, net.layout.shapes)}
    m = int(rng.integers(min_examples, max_examples + 1))
    X = _generic_array(rng, (net.layer_dims[0], m), max_input)
    n_out = net.layer_dims[-1]
    Y = rng.integers(0, 2, size=(m,) if n_out == 1 else (n_out, m))
    return X, Y, bound_logits(net, X, Y, drawn, max_logit)


def bound_logits(net: MLP, X: np.ndarray, Y: np.ndarray, parameters: dict[str, np.ndarray],
                 max_logit: float) -> dict[str, np.ndarray]:
    """``parameters`` with the output layer scaled so that ``max |Z_L| <= max_logit``."""
    with np.errstate(all="ignore"):
        logits = net.forward(X, Y, parameters)[1][-4]
    largest = float(np.max(np.abs(logits)))
    if not largest > max_logit:
        return parameters
    factor = max_logit / largest * (1 - 1e-12)   # stay inside despite rounding
    L = net.n_layers
    return {**parameters, f"W{L}": parameters[f"W{L}"] * factor,
            f"b{L}": parameters[f"b{L}"] * factor}


def networks(*, min_depth: int = 1, max_depth: int = 5, min_width: int = 1,
             max_width: int = 16, activations: str | Sequence[str] = HIDDEN_ACTIVATIONS,
             costs: str | Sequence[str] = COST_FORMS, min_examples: int = 1,
             max_examples: int = 8, max_magnitude: float = MAX_MAGNITUDE,
             max_input: float = MAX_INPUT, max_logit: float = MAX_LOGIT,
             generic: bool = False) -> st.SearchStrategy[Network]:
    """A reference network with its correct backprop, a batch and parameters.

    ``check_backprop(*network)`` checks it. Options are those of
    :func:`architectures` and :func:`cases`.

    >>> networks(max_depth=2, costs="naive")
    networks(max_depth=2, costs='naive')
    """
    architectures(min_depth=min_depth, max_depth=max_depth, min_width=min_width,
                  max_width=max_width, activations=activations, costs=costs)
    _ordered("min_examples", min_examples, "max_examples", max_examples, 1)
    for name, value in (("max_magnitude", max_magnitude), ("max_input", max_input),
                        ("max_logit", max_logit)):
        _positive(name, value)
    return _networks(**_given(networks, locals()))


def _draw_network(draw: Any, *, min_depth: int = 1, max_depth: int = 5, min_width: int = 1,
                  max_width: int = 16, activations: str | Sequence[str] = HIDDEN_ACTIVATIONS,
                  costs: str | Sequence[str] = COST_FORMS, min_examples: int = 1,
                  max_examples: int = 8, max_magnitude: float = MAX_MAGNITUDE,
                  max_input: float = MAX_INPUT, max_logit: float = MAX_LOGIT,
                  generic: bool = False) -> Network:
    net = draw(_architectures(min_depth=min_depth, max_depth=max_depth, min_width=min_width,
                              max_width=max_width, activations=activations, costs=costs))
    X, Y, drawn = draw(_cases(net, min_examples=min_examples, max_examples=max_examples,
                              max_magnitude=max_magnitude, max_input=max_input,
                              max_logit=max_logit, generic=generic))
    return Network(net.forward, net.backward, X, Y, drawn)


_networks = _named(_draw_network, "networks")
