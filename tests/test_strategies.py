"""The public strategies: validation, reprs, the domain, Hypothesis's hard cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument as HypothesisInvalidArgument

from gcverify import MLP, InvalidArgument, check_backprop
from gcverify.models import HIDDEN_ACTIVATIONS
from gcverify.strategies import (
    MAX_LOGIT,
    Network,
    architectures,
    batches,
    cases,
    networks,
    parameters,
)

NET = MLP((4, 5, 3, 1), "relu", "naive")


@pytest.mark.parametrize(("strategy", "text"), [
    (architectures(), "architectures()"),
    (architectures(max_depth=2, activations="tanh"), "architectures(max_depth=2, activations='tanh')"),
    (networks(max_width=4, generic=True), "networks(max_width=4, generic=True)"),
    (networks(max_depth=2, min_coverage=0.9), "networks(max_depth=2, min_coverage=0.9)"),
    (batches(NET, max_examples=3), f"batches({NET!r}, max_examples=3)"),
    (parameters(NET), f"parameters({NET!r})"),
    (cases(NET, max_logit=5.0), f"cases({NET!r}, max_logit=5.0)"),
])
def test_repr_shows_only_what_was_changed(strategy, text):
    assert repr(strategy) == text


@pytest.mark.parametrize(("build", "message"), [
    (lambda: architectures(min_depth=0), "min_depth=0 is not an integer >= 1; pass e.g. min_depth=1"),
    (lambda: architectures(min_depth=3, max_depth=2),
     "max_depth=2 is below min_depth=3; pass max_depth >= min_depth"),
    (lambda: architectures(max_width=2.5), "max_width=2.5 is not an integer >= 1; pass e.g. max_width=1"),
    (lambda: architectures(activations=[]), "activations=[] is empty; pass some of relu, "
                                            "leaky_relu, tanh, sigmoid, linear"),
    (lambda: architectures(activations=("relu", "gelu")), "activations=('relu', 'gelu') contains "
     "'gelu'; pass some of relu, leaky_relu, tanh, sigmoid, linear"),
    (lambda: architectures(costs="mse"), "costs='mse' contains 'mse'; pass some of stable, naive"),
    (lambda: architectures(mixed="yes"), "mixed='yes' is not a bool; pass mixed=True or mixed=False"),
    (lambda: parameters("4-5-3-1"), "net='4-5-3-1' is not an MLP; pass e.g. MLP((4, 5, 3, 1))"),
    (lambda: parameters(NET, max_magnitude=0), "max_magnitude=0 is not a positive finite number; "
                                               "pass e.g. max_magnitude=2.0"),
    (lambda: batches(NET, min_examples=4, max_examples=2),
     "max_examples=2 is below min_examples=4; pass max_examples >= min_examples"),
    (lambda: cases(NET, max_logit=float("inf")), "max_logit=inf is not a positive finite number; "
                                                 "pass e.g. max_logit=2.0"),
    (lambda: networks(max_input=-1.0), "max_input=-1.0 is not a positive finite number; "
                                       "pass e.g. max_input=2.0"),
    (lambda: networks(min_coverage=1.5), "min_coverage=1.5 is not a share between 0 and 1; "
                                         "pass e.g. min_coverage=0.9, or None for any coverage"),
    (lambda: networks(min_coverage=-0.1), "min_coverage=-0.1 is not a share between 0 and 1; "
                                          "pass e.g. min_coverage=0.9, or None for any coverage"),
    (lambda: networks(min_coverage=True), "min_coverage=True is not a share between 0 and 1; "
                                          "pass e.g. min_coverage=0.9, or None for any coverage"),
])
def test_bad_options_are_rejected_up_front(build, message):
    with pytest.raises(InvalidArgument) as info:
        build()
    assert str(info.value) == message
    assert isinstance(info.value, HypothesisInvalidArgument)


@given(architectures(max_depth=3, max_width=6, mixed=False))
def test_architectures_stay_within_their_options(net):
    assert 1 <= net.n_layers <= 3
    assert all(1 <= width <= 6 for width in net.layer_dims[:-1])
    assert net.layer_dims[-1] == 1
    assert len({a.name for a in net.activations}) <= 1


@given(st.data())
def test_cases_respect_the_domain(data):
    net = data.draw(architectures(max_depth=3, max_width=6))
    X, Y, drawn = data.draw(cases(net, max_examples=4))
    assert X.shape[0] == net.layer_dims[0] and 1 <= X.shape[1] <= 4
    assert np.all(np.abs(X) <= 4.0)
    assert set(np.unique(Y)) <= {0, 1}
    for name, shape in zip(net.layout.names, net.layout.shapes):
        assert drawn[name].shape == shape and drawn[name].dtype == np.float64
        assert np.all(np.abs(drawn[name]) <= 2.0)
    logits = net.forward(X, Y, drawn)[1][-4]
    assert np.max(np.abs(logits)) <= MAX_LOGIT


@given(networks(max_depth=2, max_width=3))
def test_networks_are_what_check_backprop_takes(network):
    assert isinstance(network, Network)
    forward, backward, X, Y, drawn = network
    assert network.net.forward == forward
    cost, cache = forward(X, Y, drawn)
    assert set(backward(X, Y, cache)) >= {"d" + name for name in drawn}


def test_hypothesis_stays_free_to_find_hard_cases():
    # Exact zeros, repeated values and single examples must remain reachable inside the
    # domain. What was seen is collected in this test alone: no other test fills it.
    seen = {"zero": False, "repeat": False, "single example": False}

    @settings(max_examples=200)
    @given(cases(MLP((3, 2, 1)), max_examples=3))
    def collect(case):
        X, _, drawn = case
        values = np.concatenate([X.ravel(), *(v.ravel() for v in drawn.values())])
        seen["zero"] |= bool(np.any(values == 0.0))
        seen["repeat"] |= len(np.unique(values)) < values.size
        seen["single example"] |= X.shape[1] == 1

    collect()
    assert all(seen.values()), seen


@given(cases(NET, generic=True))
def test_generic_cases_have_no_exact_zeros_or_ties(case):
    X, _, drawn = case
    for array in (X, *drawn.values()):
        assert np.all(array != 0.0)
        assert len(np.unique(array)) == array.size


def test_every_hidden_activation_and_cost_is_reachable():
    found = {"activations": set(), "costs": set()}

    @settings(max_examples=150)
    @given(architectures(min_depth=2))
    def collect(net):
        found["activations"].update(a.name for a in net.activations)
        found["costs"].add(net.cost)

    collect()
    assert found["activations"] == set(HIDDEN_ACTIVATIONS)
    assert found["costs"] == {"stable", "naive"}


def _smallest_coverage(network):
    return min(b.coverage for b in check_backprop(*network).blocks.values())


@settings(max_examples=25, deadline=None)
@given(networks(max_depth=3, max_width=6, activations="relu", min_coverage=0.9))
def test_min_coverage_keeps_only_networks_whose_every_block_is_covered(network):
    assert _smallest_coverage(network) >= 0.9


@settings(max_examples=10, deadline=None)
@given(networks(max_depth=2, max_width=4, generic=True, min_coverage=1.0))
def test_full_coverage_can_be_required_of_generic_networks(network):
    assert _smallest_coverage(network) == 1.0


def test_without_min_coverage_relu_networks_have_dead_units():
    # What the option is for: a single example leaves ReLU units dead.
    found = find(networks(min_depth=2, max_depth=2, min_width=4, max_width=4,
                          activations="relu", max_examples=1),
                 lambda network: _smallest_coverage(network) < 0.9,
                 settings=settings(max_examples=200, deadline=None))
    assert _smallest_coverage(found) < 0.9
