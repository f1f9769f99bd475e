"""The reference network beyond "gradients agree": what mutmut showed the suite missed.

mutmut (``.ci/mutmut``) left no mutant of ``MLP.backward`` alive; these tests pin the
rest of ``gcverify/models/mlp.py`` that its survivors pointed at: the backward pass's
shapes and exact values on a network small enough to do by hand, the architecture's
normal form, reproducible data (same seed, same numbers, across versions), and the
batched costs' corner cases (one row per layer, one example with several outputs, the
kink flags of a deeper network, the cached base pass, bounded chunks).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gcverify.models.mlp as mlp
from gcverify import MLP, InvalidArgument
from gcverify.models.activations import ACTIVATIONS, LEAKY_SLOPE
from gcverify.models.mlp import NetworkCost


def full_costs(cost, theta, index, offsets):
    """``J(theta + d e_i)`` one full evaluation at a time: the reference."""
    eye = np.eye(theta.size)
    return np.array([[cost.batch((theta + d * eye[i])[None])[0] for d in row]
                     for i, row in zip(index, offsets)])


# --- the backward pass ---------------------------------------------------------------------

def test_backward_keys_order_and_shapes_follow_the_notebook():
    net = MLP((4, 5, 3, 2))
    X, Y = net.make_batch(6)
    parameters = net.init_parameters()
    gradients = net.backward(X, Y, net.forward(X, Y, parameters)[1])
    assert list(gradients) == ["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1",
                               "dW1", "db1"]
    for l, width in enumerate(net.layer_dims[1:], start=1):
        assert gradients[f"dW{l}"].shape == parameters[f"W{l}"].shape
        assert gradients[f"db{l}"].shape == (width, 1)
        assert gradients[f"dZ{l}"].shape == (width, 6)
        if l < net.n_layers:
            assert gradients[f"dA{l}"].shape == (width, 6)


def test_backward_by_hand_on_a_two_unit_chain():
    # x -> z1 = w1 x + b1 -> tanh -> z2 = w2 a1 + b2 -> sigmoid, two examples.
    net = MLP((1, 1, 1), "tanh")
    X, Y = np.array([[2.0, -1.0]]), np.array([1, 0])
    p = {"W1": np.array([[0.5]]), "b1": np.array([[0.25]]),
         "W2": np.array([[-1.5]]), "b2": np.array([[0.125]])}
    g = net.backward(X, Y, net.forward(X, Y, p)[1])
    a1 = np.tanh(0.5 * X[0] + 0.25)
    dz2 = 1 / (1 + np.exp(-(-1.5 * a1 + 0.125))) - Y
    dz1 = -1.5 * dz2 * (1 - a1**2)
    np.testing.assert_allclose(g["dZ2"][0], dz2, rtol=1e-15)
    assert g["dW2"][0, 0] == pytest.approx(np.mean(dz2 * a1), rel=1e-14, abs=0)
    assert g["db2"][0, 0] == pytest.approx(np.mean(dz2), rel=1e-14, abs=0)
    np.testing.assert_allclose(g["dA1"][0], -1.5 * dz2, rtol=1e-15)
    np.testing.assert_allclose(g["dZ1"][0], dz1, rtol=1e-14)
    assert g["dW1"][0, 0] == pytest.approx(np.mean(dz1 * X[0]), rel=1e-14, abs=0)
    assert g["db1"][0, 0] == pytest.approx(np.mean(dz1), rel=1e-14, abs=0)


def test_at_the_kink_both_relus_take_their_left_slope():
    # As the notebook's mask (A > 0): the subgradient at exactly 0 is the left slope,
    # the side a pre-activation of exactly 0 counts on when kinks are flagged.
    Z = np.array([-1.0, 0.0, 1.0])
    for name, left in (("relu", 0.0), ("leaky_relu", LEAKY_SLOPE)):
        activation = ACTIVATIONS[name]
        assert activation.derivative(Z, activation.forward(Z)).tolist() == [left, left, 1.0]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_in_place_activations_reuse_their_argument_and_others_leave_it(name):
    activation = ACTIVATIONS[name]
    Z = np.array([[-1.5, 0.5], [2.0, -0.25]])
    before = Z.copy()
    out = activation.apply_inplace(Z)
    np.testing.assert_array_equal(out, activation.forward(before))
    if name in ("relu", "tanh"):
        assert out is Z                          # no new array: the memory is reused
    else:
        np.testing.assert_array_equal(Z, before)


# --- the architecture and its data -------------------------------------------------------------

def test_layer_dims_are_kept_as_a_tuple_of_ints():
    from_list = MLP([4, np.int64(5), 1])
    assert from_list.layer_dims == (4, 5, 1)
    assert all(type(d) is int for d in from_list.layer_dims)
    assert from_list == MLP((4, 5, 1)) and hash(from_list) == hash(MLP((4, 5, 1)))


def test_the_default_seed_is_zero():
    net = MLP((3, 2, 1))
    for name, array in net.init_parameters().items():
        np.testing.assert_array_equal(array, net.init_parameters(seed=0)[name])
    for default, seeded in zip(net.make_batch(4), net.make_batch(4, seed=0)):
        np.testing.assert_array_equal(default, seeded)


def test_same_seed_same_numbers_across_versions():
    # Reports are reproducible from their seed: these numbers must not change.
    net = MLP((2, 2, 1))
    expected = {
        "W1": [[0.1257302210933933, -0.1321048632913019],
               [0.6404226504432821, 0.10490011715303971]],
        "b1": [[-0.0535669373161111], [0.03615950549094848]],
        "W2": [[1.3040000451301372, 0.9470809631292422]],
        "b2": [[-0.07037352358069926]],
    }
    for name, array in net.init_parameters(seed=0).items():
        np.testing.assert_allclose(array, expected[name], rtol=1e-15)
    X, Y = net.make_batch(3, seed=0)
    np.testing.assert_allclose(X, [[0.10296768001436127, -0.9805271710302613, -0.8174783249223175],
                                   [-1.027881871299033, -0.574458905742871, 1.9711298228060992]],
                               rtol=1e-15)
    assert Y.tolist() == [0, 1, 0]
    assert MLP((2, 3)).make_batch(2, seed=5)[1].tolist() == [[1, 1], [1, 1], [1, 0]]


def test_weights_are_he_scaled_and_biases_small():
    parameters = MLP((500, 400, 1)).init_parameters(seed=1, bias_scale=0.5)
    assert np.std(parameters["W1"]) == pytest.approx(math.sqrt(2 / 500), rel=0.02, abs=0)
    assert abs(np.mean(parameters["W1"])) < 0.002
    assert np.std(parameters["b1"]) == pytest.approx(0.5, rel=0.15, abs=0)


@pytest.mark.parametrize(("m", "shown"), [(0, "0"), (-2, "-2"), (True, "True"),
                                          (2.5, "2.5"), ("3", "'3'")])
def test_bad_batch_sizes_are_rejected_with_the_fix(m, shown):
    with pytest.raises(InvalidArgument) as info:
        MLP((2, 1)).make_batch(m)
    assert str(info.value) == (f"m={shown} is not a positive integer; "
                               "pass the number of examples, e.g. m=3")


def test_a_batch_of_one_example():
    X, Y = MLP((3, 2, 1)).make_batch(1)
    assert X.shape == (3, 1) and Y.shape == (1,)
    assert MLP((3, 2)).make_batch(np.int64(1))[1].shape == (2, 1)


def test_network_cost_repr():
    net = MLP((3, 1))
    assert repr(net.cost_function(*net.make_batch(4))) == (
        "NetworkCost(MLP(layer_dims=(3, 1), activation='relu', cost='stable'), m=4)")


# --- batched costs: corner cases ------------------------------------------------------------------

@pytest.mark.parametrize(("net", "m"), [
    (MLP((2, 3, 3, 2, 1), "tanh"), 3),          # one row in each of four layers
    (MLP((3, 4, 2), "relu"), 1),                # one example, two output units
    (MLP((3, 4, 2), "sigmoid"), 2),
], ids=["one row per layer", "one example, two outputs", "two outputs"])
def test_coordinate_costs_of_one_coordinate_per_layer(net, m):
    cost = net.cost_function(*net.make_batch(m, seed=1))
    theta = net.layout.flatten(net.init_parameters(seed=2))
    # The first coordinate of every block, perturbed once.
    index = np.array(net.layout.offsets[:-1])
    offsets = np.full((index.size, 1), 1e-3)
    costs, _ = cost.coordinate_costs(theta, index, offsets)
    np.testing.assert_allclose(costs, full_costs(cost, theta, index, offsets),
                               rtol=1e-12, atol=1e-14)


def kinked_network():
    """Two ReLU layers with pre-activations at exactly 0: Z1 = (1, 0, 1), Z2 = (0, 2.5)."""
    net = MLP((1, 3, 2, 1), "relu")
    parameters = {"W1": np.array([[0.5], [0.5], [1.0]]), "b1": np.array([[0.5], [-0.5], [0.0]]),
                  "W2": np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]),
                  "b2": np.array([[-1.0], [0.5]]),
                  "W3": np.array([[1.0, 1.0]]), "b3": np.array([[0.0]])}
    return net, np.array([[1.0]]), np.array([1]), parameters


def test_kink_flags_follow_each_perturbation_up_the_network():
    net, X, Y, parameters = kinked_network()
    cost = net.cost_function(X, Y)
    theta = net.layout.flatten(parameters)
    index = np.arange(theta.size)
    offsets = np.outer(np.ones(index.size), [-1e-3, 1e-3])
    costs, kinks = cost.coordinate_costs(theta, index, offsets)
    flagged = {net.layout.locate(i) for i in np.flatnonzero(kinks)}
    assert flagged == {
        ("W1", (1, 0)), ("b1", (1, 0)),      # Z1[1] = 0 moves across its kink
        ("W1", (0, 0)), ("b1", (0, 0)),      # A1[0] moves Z2[0] = 0, one layer up
        ("W2", (0, 0)), ("W2", (0, 2)), ("b2", (0, 0)),   # Z2[0] itself
    }
    # Not flagged: W1[2] and b1[2] move A1[2], which reaches Z2[0] only through
    # W2[0, 2] = 0; W2[0, 1] multiplies A1[1] = 0, so Z2[0] stays exactly 0, which
    # counts as the left side, as at the base; Z2[1] = 2.5 stays positive; the output
    # layer has no kinks.
    np.testing.assert_allclose(costs, full_costs(cost, theta, index, offsets), rtol=1e-13)


def test_kinks_are_looked_for_in_the_layers_whose_activation_has_them():
    # tanh then ReLU: Z1[0] = 0 is no kink (tanh is smooth there), Z2[0] = 0 is one.
    net = MLP((1, 2, 2, 1), ("tanh", "relu"))
    parameters = {"W1": np.array([[1.0], [1.0]]), "b1": np.array([[-1.0], [0.5]]),
                  "W2": np.array([[1.0, 0.0], [0.0, 1.0]]), "b2": np.array([[0.0], [0.5]]),
                  "W3": np.array([[1.0, 1.0]]), "b3": np.array([[0.0]])}
    theta = net.layout.flatten(parameters)
    index = np.arange(theta.size)
    _, kinks = net.cost_function(np.array([[1.0]]), np.array([1])).coordinate_costs(
        theta, index, np.outer(np.ones(index.size), [-1e-3, 1e-3]))
    flagged = {net.layout.locate(i) for i in np.flatnonzero(kinks)}
    # W1[0], b1[0] move A1[0] = tanh(0) and so Z2[0]; W2[0, 0] multiplies A1[0] = 0.
    assert flagged == {("W1", (0, 0)), ("b1", (0, 0)), ("W2", (0, 1)), ("b2", (0, 0))}


def test_the_cached_base_pass_follows_theta():
    net = MLP((3, 4, 2, 1), "relu")
    cost = net.cost_function(*net.make_batch(5, seed=3))
    first = net.layout.flatten(net.init_parameters(seed=4))
    second = first + 0.25
    index = np.arange(first.size)
    offsets = np.outer(np.ones(index.size), [-1e-4, 1e-4])
    for theta in (first, second, first):
        assert cost.at_vector(theta) == pytest.approx(cost.batch(theta[None])[0], rel=1e-14, abs=0)
        costs, _ = cost.coordinate_costs(theta, index, offsets)
        np.testing.assert_allclose(costs, full_costs(cost, theta, index, offsets), rtol=1e-12)


def test_the_base_pass_is_computed_once_per_theta(monkeypatch):
    # at_vector then coordinate_costs at the same theta share one base pass (what the
    # checker does); a new theta needs a new one.
    calls = []
    compute = NetworkCost._compute_base

    def counting(self, theta):
        calls.append(theta.copy())
        return compute(self, theta)

    monkeypatch.setattr(NetworkCost, "_compute_base", counting)
    net = MLP((3, 4, 1))
    cost = net.cost_function(*net.make_batch(4))
    theta = net.layout.flatten(net.init_parameters())
    index, offsets = np.arange(theta.size), np.full((theta.size, 2), 1e-4)
    cost.at_vector(theta)
    cost.coordinate_costs(theta, index, offsets)
    cost.coordinate_costs(theta.copy(), index, offsets)
    assert len(calls) == 1
    cost.coordinate_costs(theta + 1.0, index, offsets)
    assert len(calls) == 2


@pytest.mark.parametrize("rows_per_chunk", [1, 3])
def test_coordinate_costs_evaluate_each_point_once_in_bounded_chunks(monkeypatch, rows_per_chunk):
    net = MLP((3, 4, 2, 1), "tanh")
    cost = net.cost_function(*net.make_batch(5))
    widest = max(net.layer_dims) * 5
    monkeypatch.setattr(mlp, "_CHUNK_FLOATS", rows_per_chunk * widest if rows_per_chunk > 1
                        else 1)                         # a budget below one row: one at a time
    chunks = []
    climb = NetworkCost._climb

    def counting(self, base, layer, j, k, delta):
        chunks.append(len(delta))
        return climb(self, base, layer, j, k, delta)

    monkeypatch.setattr(NetworkCost, "_climb", counting)
    theta = net.layout.flatten(net.init_parameters())
    index = np.arange(theta.size)
    offsets = np.outer(np.ones(index.size), [-2e-3, -1e-3, 1e-3, 2e-3])
    costs, _ = cost.coordinate_costs(theta, index, offsets)
    n_points = offsets.size
    assert sum(chunks) == n_points
    assert chunks == [rows_per_chunk] * (n_points // rows_per_chunk) + (
        [n_points % rows_per_chunk] if n_points % rows_per_chunk else [])
    np.testing.assert_allclose(costs, full_costs(cost, theta, index, offsets), rtol=1e-12)
