"""Kinks are seen where they are, and never where they are not.

The forward-cache watch flags a coordinate when a cached value moves non-smoothly over
its stencil. A value that is the small difference of large terms carries their rounding,
so its smoothness is judged against the terms it is computed from (measured), not its own
size. Under the ``thorough`` profile the smooth-network property runs 10,000 generic
networks (``GCVERIFY_HYPOTHESIS_PROFILE=thorough``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from gcverify import MLP, Verdict, check_backprop
from gcverify.evaluate import ForwardEvaluator
from gcverify.numdiff import STENCIL, step_sizes
from gcverify.strategies import networks

# The case: a smooth tanh network whose output logit Z3 = -1.7e-3 is the
# difference of terms near 1.5. 7 of its 10 coordinates used to be excluded as kinks.
CANCELLING = MLP((2, 1, 2, 1), "tanh", "naive")
CANCELLING_CASE = (
    np.array([[0.0], [1.5]]), np.array([[0.0]]),
    {"W1": np.array([[1.0, 1.0]]), "b1": np.array([[0.0]]), "W2": np.array([[1.0], [1.0]]),
     "b2": np.array([[-0.75], [0.0]]), "W3": np.array([[-1.0, -1.875]]),
     "b3": np.array([[1.5]])})


def opaque(net):
    """The network's forward as user code: the check watches its cache, loop by loop."""
    return lambda X, Y, parameters: net.forward(X, Y, parameters)


def doubled(backward, key):
    def buggy(X, Y, cache):
        gradients = backward(X, Y, cache)
        gradients[key] = 2 * gradients[key]
        return gradients
    return buggy


def test_a_small_difference_of_large_terms_is_no_kink():
    X, Y, parameters = CANCELLING_CASE
    assert abs(CANCELLING.forward(X, Y, parameters)[1][8][0, 0] + 1.66e-3) < 1e-5
    result = check_backprop(opaque(CANCELLING), CANCELLING.backward, X, Y, parameters)
    assert result.verdict is Verdict.PASS
    assert (result.n_judged, dict(result.excluded)) == (10, {})


def test_a_doubled_gradient_there_fails():
    X, Y, parameters = CANCELLING_CASE
    result = check_backprop(opaque(CANCELLING), doubled(CANCELLING.backward, "dW1"), X, Y,
                            parameters)
    assert result.verdict is Verdict.FAIL
    assert [block.diagnosis for block in result.mismatched] == [
        "dW1 ≈ 2.000 × numerical (scaling bug)"]


SMOOTH = networks(activations=("tanh", "sigmoid", "linear"), max_depth=4, max_width=8,
                  generic=True)


@settings(max_examples=max(settings.default.max_examples, 100))
@given(SMOOTH)
def test_smooth_networks_have_no_kink_exclusions(network):
    net = network.net
    result = check_backprop(opaque(net), net.backward, network.X, network.Y,
                            network.parameters)
    assert dict(result.excluded) == {}, str(result)
    assert result.verdict is Verdict.PASS, str(result)


def cache_and_structure(net, X, Y, parameters):
    """Per coordinate: the cache watch's kink flags and the network's exact ones."""
    theta = net.layout.flatten(parameters)
    index, h = np.arange(theta.size), step_sizes(theta, None)
    watcher = ForwardEvaluator(opaque(net), X, Y, net.layout)
    watcher.base_with_cache(theta)
    watched = watcher.stencil(theta, index, h)[1]
    exact = net.cost_function(X, Y).coordinate_costs(theta, index, h[:, None] * STENCIL)[1]
    return watched, exact


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("seed", range(6))
def test_the_cache_watch_flags_exactly_the_crossings(activation, seed):
    # A first-layer pre-activation put within a step of 0: both sides must agree on
    # every coordinate, the crossing ones and all the others.
    rng = np.random.default_rng(seed)
    net = MLP((3, 4, 3, 1), activation, "stable")
    X, Y = net.make_batch(3, seed=seed)
    parameters = net.init_parameters(seed=seed)
    z = parameters["W1"][1] @ X[:, 0] + parameters["b1"][1, 0]
    parameters["b1"][1, 0] -= z - rng.uniform(-1.5, 1.5) * 6.06e-6
    watched, exact = cache_and_structure(net, X, Y, parameters)
    assert exact.any()
    np.testing.assert_array_equal(watched, exact)


@settings(max_examples=max(settings.default.max_examples, 60))
@given(networks(activations=("relu", "leaky_relu"), min_depth=2, max_depth=4, max_width=8,
                generic=True))
def test_at_generic_inputs_relu_networks_are_flagged_only_where_they_cross(network):
    watched, exact = cache_and_structure(network.net, network.X, network.Y,
                                         network.parameters)
    np.testing.assert_array_equal(watched, exact)
