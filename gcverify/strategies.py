"""Hypothesis strategies for gradient-checking properties: networks, parameters, batches.

In the style of :mod:`hypothesis.extra.numpy`: keyword-only options, validated when
the strategy is built, and a ``repr`` that shows only what you changed.

* :func:`architectures` draws a reference network (:class:`~gcverify.MLP`): depth,
  widths, hidden activations and cost form;
* :func:`parameters` and :func:`batches` draw its parameters and a batch ``(X, Y)``;
* :func:`cases` draws ``(X, Y, parameters)`` for one architecture, inside the domain;
  ``batches`` and ``cases`` draw them in the shapes your code expects (``layout``,
  ``labels``: :class:`~gcverify.sampling.DataShape`), so that they combine with each
  adapter of :mod:`gcverify.adapters`;
* :func:`networks` draws all of it as a :class:`Network`, which
  :func:`~gcverify.check_backprop` takes directly: ``check_backprop(*network)``;
  ``min_coverage`` keeps only networks whose every block's gradient coverage (the
  share of its coordinates the batch reaches: :mod:`gcverify.coverage`) is at least
  that, for properties about bugs that a dead unit would hide.

The domain
----------
The property "the correct backprop never fails the check" is claimed where float64
can resolve the gradient: the :class:`~gcverify.sampling.Domain` (parameters in
``[-max_magnitude, max_magnitude]``, default 2; inputs in ``[-max_input, max_input]``,
default 4; output logits ``|Z_L| <= max_logit``, default :data:`MAX_LOGIT` = 15,
reached by rescaling the output layer). :mod:`gcverify.sampling` says why the logits
are bounded, with the figures measured. Inside the domain Hypothesis stays free to
produce its favourite hard cases: exact zeros, repeated values, a single example,
width 1. ``generic=True`` draws instead
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

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument as HypothesisInvalidArgument
from hypothesis.extra import numpy as hnp

from gcverify.errors import InvalidArgument, invalid_argument
from gcverify.models.mlp import COST_FORMS, HIDDEN_ACTIVATIONS, MLP
from gcverify.sampling import (
    MAX_INPUT,
    MAX_LOGIT,
    MAX_MAGNITUDE,
    Architectures,
    Case,
    DataShape,
    Domain,
    bound_logits,
    choices,
    generic_array,
    sample_case,
)

__all__ = [
    "MAX_INPUT",
    "MAX_LOGIT",
    "MAX_MAGNITUDE",
    "Architectures",
    "Network",
    "architectures",
    "batches",
    "cases",
    "networks",
    "parameters",
]

_D = Domain
_S = DataShape


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


_A = Architectures


# --- validation and reprs, in Hypothesis's style -----------------------------------------

class _StrategyArgument(InvalidArgument, HypothesisInvalidArgument):
    """Bad strategy argument: catchable as gcverify's or as Hypothesis's InvalidArgument."""


_Spec = TypeVar("_Spec", Architectures, Domain, DataShape)


def _validated(spec: type[_Spec], values: Mapping[str, Any]) -> _Spec:
    """``spec(**values)``, its errors raised as :class:`_StrategyArgument`."""
    names = {f.name for f in dataclasses.fields(spec)}
    try:
        return spec(**{name: value for name, value in values.items() if name in names})
    except InvalidArgument as error:
        raise _StrategyArgument(str(error)) from None


def _changed(*specs: Architectures | Domain | DataShape, **extra: Any) -> dict[str, Any]:
    """The fields that differ from their defaults (for a short repr), in order."""
    changed = {}
    for spec in specs:
        for f in dataclasses.fields(spec):
            value = getattr(spec, f.name)
            if not (type(value) is type(f.default) and value == f.default):
                changed[f.name] = value
    return {**changed, **{name: value for name, value in extra.items() if value}}


def _network_argument(net: Any) -> MLP:
    if not isinstance(net, MLP):
        raise _StrategyArgument(str(invalid_argument("net", net, "is not an MLP",
                                                     "pass e.g. MLP((4, 5, 3, 1))")))
    return net


def _named(function: Callable[..., Any], name: str, *specs: type,
           generic: bool = True, extra: Mapping[str, Any] | None = None) -> Callable[..., Any]:
    """``st.composite(function)`` named ``name``, with the signature the drawn strategy's
    repr follows: ``function``'s positional parameters, then each field of ``specs``
    (keyword-only, with its default), then ``generic``, then ``extra`` (name: default)."""
    function.__name__ = function.__qualname__ = name
    own = [p for p in inspect.signature(function).parameters.values()
           if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    keyword = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default)
               for spec in specs for f in dataclasses.fields(spec)]
    if generic:
        keyword.append(inspect.Parameter("generic", inspect.Parameter.KEYWORD_ONLY,
                                         default=False))
    keyword += [inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default)
                for key, default in (extra or {}).items()]
    function.__signature__ = inspect.Signature(own + keyword)  # type: ignore[attr-defined]
    return st.composite(function)


# --- architectures ---------------------------------------------------------------------------

def architectures(*, min_depth: int = _A.min_depth, max_depth: int = _A.max_depth,
                  min_width: int = _A.min_width, max_width: int = _A.max_width,
                  output_width: int = _A.output_width,
                  activations: str | Sequence[str] = _A.activations,
                  costs: str | Sequence[str] = _A.costs,
                  mixed: bool = _A.mixed) -> st.SearchStrategy[MLP]:
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
    return _architectures(**_changed(_validated(Architectures, locals())))


def _draw_architecture(draw: Any, **changed: Any) -> MLP:
    space = Architectures(**changed)
    depth = draw(st.integers(space.min_depth, space.max_depth))
    widths = draw(st.lists(st.integers(space.min_width, space.max_width), min_size=depth,
                           max_size=depth))
    names = choices("activations", space.activations, HIDDEN_ACTIVATIONS)
    if space.mixed:
        hidden = tuple(draw(st.sampled_from(names)) for _ in range(depth - 1))
    else:
        hidden = (draw(st.sampled_from(names)),) * (depth - 1)
    cost = draw(st.sampled_from(choices("costs", space.costs, COST_FORMS)))
    activation = hidden[0] if hidden and len(set(hidden)) == 1 else (hidden or "relu")
    return MLP((*widths, space.output_width), activation, cost)


_architectures = _named(_draw_architecture, "architectures", Architectures, generic=False)


# --- parameters and batches --------------------------------------------------------------------

def _values(shape: tuple[int, ...], bound: float, generic: bool) -> st.SearchStrategy:
    """Arrays of ``shape`` in ``[-bound, bound]``: Hypothesis's, or seeded continuous."""
    if generic:
        return st.integers(0, 2**32 - 1).map(
            lambda seed: generic_array(np.random.default_rng(seed), shape, bound))
    return hnp.arrays(np.float64, shape,
                      elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False,
                                         allow_subnormal=False))


def parameters(net: MLP, *, max_magnitude: float = _D.max_magnitude,
               generic: bool = False) -> st.SearchStrategy[dict[str, np.ndarray]]:
    """Parameter dicts ``W1, b1, ..., WL, bL`` for ``net``, each entry within
    ``max_magnitude``.

    >>> sorted(parameters(MLP((2, 3, 1))).example())
    ['W1', 'W2', 'b1', 'b2']
    """
    domain = _validated(Domain, {"max_magnitude": max_magnitude})
    return _parameters(_network_argument(net), **_changed(domain, generic=generic))


def _draw_parameters(draw: Any, net: MLP, *, generic: bool = False,
                     **changed: Any) -> dict[str, np.ndarray]:
    domain = Domain(**changed)
    return {name: draw(_values(shape, domain.max_magnitude, generic))
            for name, shape in zip(net.layout.names, net.layout.shapes)}


_parameters = _named(_draw_parameters, "parameters", Domain)


def batches(net: MLP, *, min_examples: int = _D.min_examples,
            max_examples: int = _D.max_examples, max_input: float = _D.max_input,
            layout: str = _S.layout, labels: str = _S.labels,
            generic: bool = False) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """Batches ``(X, Y)`` for ``net``, inputs within ``max_input``, in ``layout`` with
    ``labels`` (:class:`~gcverify.sampling.DataShape`): by default ``X`` of shape
    ``(n_x, m)`` and 0/1 labels ``Y`` of shape ``(m,)`` (one output) or ``(n_out, m)``.

    >>> X, Y = batches(MLP((3, 1)), min_examples=2, max_examples=2).example()
    >>> X.shape, Y.shape
    ((3, 2), (2,))
    >>> X, Y = batches(MLP((3, 1)), min_examples=2, max_examples=2, labels="matrix").example()
    >>> X.shape, Y.shape, Y.dtype
    ((3, 2), (1, 2), dtype('float64'))
    >>> X, y = batches(MLP((3, 4)), min_examples=2, max_examples=2, layout="rows").example()
    >>> X.shape, y.shape, bool(y.max() <= 3)
    ((2, 3), (2,), True)
    """
    domain = _validated(Domain, {"min_examples": min_examples, "max_examples": max_examples,
                                 "max_input": max_input})
    shape = _validated(DataShape, locals())
    return _batches(_network_argument(net), **_changed(domain, shape, generic=generic))


def _domain_and_shape(changed: Mapping[str, Any]) -> tuple[Domain, DataShape]:
    """The :class:`Domain` and the :class:`DataShape` a drawing function was given."""
    shaping = {name: value for name, value in changed.items()
               if name in DataShape.__dataclass_fields__}
    return (Domain(**{name: value for name, value in changed.items() if name not in shaping}),
            DataShape(**shaping))


def _column_batch(draw: Any, net: MLP, domain: Domain, shape: DataShape,
                  generic: bool) -> tuple[np.ndarray, np.ndarray]:
    """``X`` in the column layout and the labels as ``shape`` draws them: the batch the
    logits are bounded on, before it takes ``shape``."""
    m = draw(st.integers(domain.min_examples, domain.max_examples))
    X = draw(_values((net.layer_dims[0], m), domain.max_input, generic))
    size, largest = shape.drawn_labels(net.layer_dims[-1], m)
    Y = draw(hnp.arrays(np.int64, size, elements=st.integers(0, largest)))
    return X, Y


def _draw_batch(draw: Any, net: MLP, *, generic: bool = False,
                **changed: Any) -> tuple[np.ndarray, np.ndarray]:
    domain, shape = _domain_and_shape(changed)
    return shape.batch(*_column_batch(draw, net, domain, shape, generic))


_batches = _named(_draw_batch, "batches", Domain, DataShape)


# --- cases and networks -------------------------------------------------------------------------

def cases(net: MLP, *, min_examples: int = _D.min_examples,
          max_examples: int = _D.max_examples, max_magnitude: float = _D.max_magnitude,
          max_input: float = _D.max_input, max_logit: float = _D.max_logit,
          layout: str = _S.layout, labels: str = _S.labels,
          generic: bool = False) -> st.SearchStrategy[Case]:
    """``(X, Y, parameters)`` for ``net``, inside the :class:`~gcverify.sampling.Domain`,
    in ``layout`` with ``labels`` (:class:`~gcverify.sampling.DataShape`).

    When the drawn output logits exceed ``max_logit``, the output layer (``WL``,
    ``bL``) is scaled down so that ``max |Z_L| = max_logit``; everything else is as
    drawn. Use this to check *your* backprop on the shapes of your network: ``net``
    gives the widths (and the activations the logits are bounded with), ``layout`` and
    ``labels`` the shapes your code expects. With ``generic=True`` each case is
    :func:`gcverify.sampling.sample_case` of a drawn seed.

    >>> X, Y, p = cases(MLP((4, 5, 3, 1)), max_logit=1.0).example()
    >>> bool(np.abs(MLP((4, 5, 3, 1)).forward(X, Y, p)[1][-4]).max() <= 1.0 + 1e-12)
    True
    >>> X, Y, p = cases(MLP((4, 5, 3, 1)), labels="matrix").example()  # compute_cost's
    >>> Y.shape == (1, X.shape[1])
    True
    >>> X, y, p = cases(MLP((4, 5, 3)), layout="rows").example()  # CS231n's
    >>> X.shape[1], y.shape == (X.shape[0],), p["W1"].shape, p["b1"].shape
    (4, True, (4, 5), (5,))
    """
    domain = _validated(Domain, locals())
    shape = _validated(DataShape, locals())
    return _cases(_network_argument(net), **_changed(domain, shape, generic=generic))


def _draw_case(draw: Any, net: MLP, *, generic: bool = False,
               **changed: Any) -> Case:
    domain, shape = _domain_and_shape(changed)
    if generic:
        return sample_case(net, draw(st.integers(0, 2**63 - 1)), domain,
                           layout=shape.layout, labels=shape.labels)
    drawn = draw(_parameters(net, max_magnitude=domain.max_magnitude))
    X, Y = _column_batch(draw, net, domain, shape, generic=False)
    # The logits are bounded in the column layout, where net.forward computes them.
    return shape.case(X, Y, bound_logits(net, X, Y, drawn, domain.max_logit))


_cases = _named(_draw_case, "cases", Domain, DataShape)


def networks(*, min_depth: int = _A.min_depth, max_depth: int = _A.max_depth,
             min_width: int = _A.min_width, max_width: int = _A.max_width,
             activations: str | Sequence[str] = _A.activations,
             costs: str | Sequence[str] = _A.costs, min_examples: int = _D.min_examples,
             max_examples: int = _D.max_examples, max_magnitude: float = _D.max_magnitude,
             max_input: float = _D.max_input, max_logit: float = _D.max_logit,
             generic: bool = False,
             min_coverage: float | None = None) -> st.SearchStrategy[Network]:
    """A reference network with its correct backprop, a batch and parameters.

    ``check_backprop(*network)`` checks it. Options are those of
    :func:`architectures` and :func:`cases`. With ``min_coverage`` (a share in
    ``[0, 1]``), every block of a drawn network has a gradient coverage
    (:attr:`~gcverify.BlockFinding.coverage`, as ``check_backprop(*network)`` reports it)
    of at least ``min_coverage``: up to :data:`_COVERAGE_TRIES` cases are drawn for the
    architecture, and if none reaches it the draw is rejected (Hypothesis draws again;
    a demanding bound on ReLU networks with few examples can exhaust its patience).

    >>> networks(max_depth=2, costs="naive")
    networks(max_depth=2, costs='naive')
    >>> networks(min_coverage=0.9)
    networks(min_coverage=0.9)
    """
    space = _validated(Architectures, locals())
    domain = _validated(Domain, locals())
    if min_coverage is not None and not (
            isinstance(min_coverage, (int, float)) and not isinstance(min_coverage, bool)
            and 0 <= min_coverage <= 1):
        raise _StrategyArgument(str(invalid_argument(
            "min_coverage", min_coverage, "is not a share between 0 and 1",
            "pass e.g. min_coverage=0.9, or None for any coverage")))
    return _networks(**_changed(space, domain, generic=generic),
                     **({} if min_coverage is None else {"min_coverage": min_coverage}))


# Cases drawn per architecture before a draw that must reach ``min_coverage`` gives up.
_COVERAGE_TRIES = 4


def _draw_network(draw: Any, *, generic: bool = False, min_coverage: float | None = None,
                  **changed: Any) -> Network:
    space = {name: value for name, value in changed.items()
             if name in Architectures.__dataclass_fields__}
    domain = {name: value for name, value in changed.items() if name not in space}
    net = draw(_architectures(**space))
    for _ in range(_COVERAGE_TRIES if min_coverage is not None else 1):
        X, Y, drawn = draw(_cases(net, generic=generic, **domain))
        network = Network(net.forward, net.backward, X, Y, drawn)
        if min_coverage is None or _coverage(network) >= min_coverage:
            return network
    reject()


def _coverage(network: Network) -> float:
    """The smallest gradient coverage of the network's blocks (0 where one has none)."""
    from gcverify.check import check_backprop  # the checker, only when asked for

    # One process, every coordinate: a draw never forks, and coverage is never unknown.
    blocks = check_backprop(*network, jobs=1, mode="coordinates").blocks.values()
    return min((b.coverage if b.coverage == b.coverage else 0.0 for b in blocks),
               default=0.0)


_networks = _named(_draw_network, "networks", Architectures, Domain,
                   extra={"min_coverage": None})
