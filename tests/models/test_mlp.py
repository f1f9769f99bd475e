"""The reference network: the notebook's numbers, correct gradients, batched costs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from gcverify import MLP, InvalidArgument
from gcverify.models import HIDDEN_ACTIVATIONS
from gcverify.models import notebook as nb

ARCHITECTURES = [
    MLP((4, 5, 3, 1), "relu", "naive"),
    MLP((3, 1), "relu", "stable"),                       # logistic regression
    MLP((2, 1, 1), "tanh", "stable"),                    # width-1 hidden layer
    MLP((5, 7, 6, 4, 1), ("tanh", "sigmoid", "leaky_relu"), "stable"),
    MLP((3, 4, 2), "linear", "naive"),                   # two output units
    *[MLP((4, 6, 5, 1), name, "stable") for name in HIDDEN_ACTIVATIONS],
]
IDS = [f"{'-'.join(map(str, n.layer_dims))}-{n.activation}-{n.cost}" for n in ARCHITECTURES]


def central_differences(net, X, Y, parameters, h=1e-6):
    layout = net.layout
    theta = layout.flatten(parameters)
    estimate = np.empty_like(theta)
    for i in range(theta.size):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += h
        minus[i] -= h
        estimate[i] = (net.forward(X, Y, layout.unflatten(plus))[0]
                       - net.forward(X, Y, layout.unflatten(minus))[0]) / (2 * h)
    return estimate


def test_agrees_bitwise_with_the_notebook_functions():
    X, Y, parameters = nb.gradient_check_n_test_case()
    net = MLP((4, 5, 3, 1), "relu", "naive")
    cost, cache = net.forward(X, Y, parameters)
    nb_cost, nb_cache = nb.forward_propagation_n(X, Y, parameters)
    assert cost == nb_cost
    assert len(cache) == len(nb_cache) == 12
    for ours, theirs in zip(cache, nb_cache):
        np.testing.assert_array_equal(ours, theirs)
    ours, theirs = net.backward(X, Y, cache), nb.backward_propagation_n(X, Y, nb_cache)
    assert list(ours) == list(theirs)
    for key in theirs:
        np.testing.assert_array_equal(ours[key], theirs[key])


def test_stable_cost_equals_naive_cost_away_from_saturation():
    X, Y, parameters = nb.gradient_check_n_test_case()
    naive = MLP((4, 5, 3, 1), cost="naive").forward(X, Y, parameters)[0]
    stable = MLP((4, 5, 3, 1), cost="stable").forward(X, Y, parameters)[0]
    assert stable == pytest.approx(naive, rel=1e-14)


def test_stable_cost_stays_finite_where_the_naive_one_does_not():
    X, Y, parameters = nb.gradient_check_n_test_case()
    saturated = dict(parameters, b3=np.array([[60.0]]))
    with np.errstate(divide="ignore", invalid="ignore"):
        naive = MLP((4, 5, 3, 1), cost="naive").forward(X, Y, saturated)[0]
    stable = MLP((4, 5, 3, 1), cost="stable").forward(X, Y, saturated)[0]
    assert not np.isfinite(naive)
    assert np.isfinite(stable) and stable > 10


@pytest.mark.parametrize("net", ARCHITECTURES, ids=IDS)
def test_gradients_agree_with_central_differences(net):
    X, Y = net.make_batch(5, seed=3)
    parameters = net.init_parameters(seed=4)
    gradients = net.backward(X, Y, net.forward(X, Y, parameters)[1])
    analytic = net.layout.flatten_gradients(gradients)
    numerical = central_differences(net, X, Y, parameters)
    difference = np.linalg.norm(analytic - numerical) / (
        np.linalg.norm(analytic) + np.linalg.norm(numerical))
    assert difference < 1e-7


@pytest.mark.parametrize("net", ARCHITECTURES, ids=IDS)
def test_batched_cost_equals_one_at_a_time(net):
    X, Y = net.make_batch(6, seed=1)
    cost = net.cost_function(X, Y)
    rng = np.random.default_rng(0)
    thetas = rng.standard_normal((9, net.layout.size))
    one_at_a_time = [cost(net.layout.unflatten(theta)) for theta in thetas]
    np.testing.assert_allclose(cost.batch(thetas), one_at_a_time, rtol=1e-13, atol=0)


def test_batched_cost_chunks_large_batches(monkeypatch):
    import gcverify.models.mlp as mlp
    monkeypatch.setattr(mlp, "_CHUNK_FLOATS", 50)  # forces many small chunks
    net = MLP((3, 4, 1))
    cost = net.cost_function(*net.make_batch(4))
    thetas = np.random.default_rng(1).standard_normal((23, net.layout.size))
    np.testing.assert_allclose(cost.batch(thetas),
                               [cost(net.layout.unflatten(t)) for t in thetas], rtol=1e-13)
    assert cost.batch(np.empty((0, net.layout.size))).shape == (0,)


@pytest.mark.parametrize("net", ARCHITECTURES, ids=IDS)
def test_coordinate_costs_equal_full_evaluations(net):
    X, Y = net.make_batch(4, seed=2)
    cost = net.cost_function(X, Y)
    theta = net.layout.flatten(net.init_parameters(seed=5))
    index = np.arange(net.layout.size)
    offsets = np.outer(np.ones(index.size), [-2e-3, -1e-3, 0.0, 1e-3, 2e-3])
    costs, kinks = cost.coordinate_costs(theta, index, offsets)
    expected = np.array([[cost.batch((theta + d * np.eye(theta.size)[i])[None])[0]
                          for d in row] for i, row in zip(index, offsets)])
    np.testing.assert_allclose(costs, expected, rtol=1e-12, atol=1e-14)
    assert kinks.shape == index.shape and kinks.dtype == bool


def test_coordinate_kink_flags_find_a_relu_crossing():
    net = MLP((2, 2, 1), "relu")
    X = np.array([[1.0, -1.0], [0.5, 2.0]])
    Y = np.array([1, 0])
    parameters = {"W1": np.array([[1.0, 0.0], [0.3, 0.2]]), "b1": np.array([[-1.0], [0.1]]),
                  "W2": np.array([[1.0, -1.0]]), "b2": np.array([[0.0]])}
    # Z1[0, 0] = 1 * 1 + 0 * 0.5 - 1 = 0 exactly: perturbing W1[0, 0] or b1[0] crosses it.
    theta = net.layout.flatten(parameters)
    index = np.arange(theta.size)
    _, kinks = net.cost_function(X, Y).coordinate_costs(
        theta, index, np.outer(np.ones(index.size), [-1e-6, 1e-6]))
    crossing = {net.layout.locate(i) for i in np.flatnonzero(kinks)}
    assert crossing == {("W1", (0, 0)), ("W1", (0, 1)), ("b1", (0, 0))}


def test_smooth_activations_report_no_kinks():
    net = MLP((3, 4, 1), "tanh")
    cost = net.cost_function(*net.make_batch(3))
    theta = net.layout.flatten(net.init_parameters())
    index = np.arange(theta.size)
    _, kinks = cost.coordinate_costs(theta, index, np.outer(np.ones(index.size), [-1.0, 1.0]))
    assert not kinks.any()


def test_initialisation_and_batches_are_deterministic():
    net = MLP((4, 5, 3, 1))
    first, second = net.init_parameters(seed=7), net.init_parameters(seed=7)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    assert not np.array_equal(first["W1"], net.init_parameters(seed=8)["W1"])
    np.testing.assert_array_equal(net.make_batch(3, seed=2)[0], net.make_batch(3, seed=2)[0])
    state = np.random.get_state()[1].copy()
    net.init_parameters(seed=1)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_shapes_follow_the_layout():
    net = MLP((4, 5, 3, 2))
    assert net.layout.names == ("W1", "b1", "W2", "b2", "W3", "b3")
    assert net.layout.size == 5 * 4 + 5 + 3 * 5 + 3 + 2 * 3 + 2
    X, Y = net.make_batch(3)
    assert X.shape == (4, 3) and Y.shape == (2, 3)
    assert net.make_batch(3)[1].shape == (2, 3)
    assert MLP((4, 1)).make_batch(3)[1].shape == (3,)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"layer_dims": 4},
     "layer_dims=4 is not a sequence of widths; pass e.g. layer_dims=(4, 5, 3, 1)"),
    ({"layer_dims": (4,)},
     "layer_dims=(4,) needs at least two positive integer widths; "
     "pass input width, hidden widths, output width, e.g. (4, 5, 3, 1)"),
    ({"layer_dims": (4, 0, 1)},
     "layer_dims=(4, 0, 1) needs at least two positive integer widths; "
     "pass input width, hidden widths, output width, e.g. (4, 5, 3, 1)"),
    ({"layer_dims": (4, 2.5, 1)},
     "layer_dims=(4, 2.5, 1) needs at least two positive integer widths; "
     "pass input width, hidden widths, output width, e.g. (4, 5, 3, 1)"),
    ({"layer_dims": (4, 3, 1), "activation": "softplus"},
     "activation='softplus' is not a known activation; "
     "use one of relu, leaky_relu, tanh, sigmoid, linear"),
    ({"layer_dims": (4, 3, 2, 1), "activation": ("relu",)},
     "activation=('relu',) names 1 activations for 2 hidden layers; "
     "give one name, or one per hidden layer"),
    ({"layer_dims": (4, 1), "cost": "mse"},
     "cost='mse' is not a known cost form; use cost='stable' or cost='naive'"),
])
def test_bad_architectures_are_rejected_clearly(kwargs, message):
    with pytest.raises(InvalidArgument) as info:
        MLP(**kwargs)
    assert str(info.value) == message


def test_bad_batch_size_is_rejected_clearly():
    with pytest.raises(InvalidArgument, match=r"^m=0 is not a positive integer; "):
        MLP((2, 1)).make_batch(0)


def test_the_batched_cost_stands_in_only_for_the_networks_own_forward():
    net, twin = MLP((2, 3, 1)), MLP((2, 3, 1))            # equal, but not the same network
    X, Y = net.make_batch(3)
    assert net.batched_cost(net.forward, X, Y).net is net
    assert net.batched_cost(twin.forward, X, Y) is None
    assert net.batched_cost(lambda X, Y, p: net.forward(X, Y, p), X, Y) is None
    # Something that looks like MLP.forward but is bound to nothing is not it either.
    assert net.batched_cost(SimpleNamespace(__func__=MLP.forward), X, Y) is None


def test_the_cost_is_a_python_float_and_a_complex_cost_keeps_its_imaginary_part():
    net = MLP((2, 3, 1), "tanh", "naive")
    X, Y = net.make_batch(3)
    cost, parameters = net.cost_function(X, Y), net.init_parameters()
    assert type(cost(parameters)) is float
    shifted = {**parameters, "b2": parameters["b2"] + 1e-20j}
    assert cost(shifted).imag != 0
