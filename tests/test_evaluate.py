"""How the checker evaluates a cost: ``gcverify.evaluate``'s evaluators and protocols.

The three evaluators give the same numbers on the same network; user code always gets
fresh copies; returned costs are validated with a message naming the function; a
user's own vectorised cost that follows the ``BatchedCost`` protocol takes the fast
path with the same verdicts as a plain function; and the forward's cache is read for
kinks (a ReLU pre-activation crossing 0), but only where it can be compared.
"""

from __future__ import annotations

import numpy as np
import pytest

from gcverify import MLP, InvalidArgument, Verdict, check_gradients
from gcverify.evaluate import (
    BatchedCost,
    BatchedEvaluator,
    BatchedForward,
    ForwardEvaluator,
    LoopEvaluator,
    as_cost_value,
    cache_moves_non_smoothly,
    cache_scale,
    cache_vector,
)
from gcverify.numdiff import PROBE_OFFSETS, STENCIL, step_sizes
from gcverify.params import ParamLayout

NET = MLP((3, 4, 1))
X, Y = NET.make_batch(5, seed=1)
PARAMETERS = NET.init_parameters(seed=2)
THETA = NET.layout.flatten(PARAMETERS)
INDEX = np.arange(NET.layout.size)
H = step_sizes(THETA, None)


def evaluators(net=NET, X=X, Y=Y):
    """The three evaluators of one network's cost on ``X, Y``."""
    return {
        "loop": LoopEvaluator(lambda p: net.forward(X, Y, p)[0], net.layout),
        "batched": BatchedEvaluator(net.cost_function(X, Y), net.layout),
        "forward": ForwardEvaluator(lambda X, Y, p: net.forward(X, Y, p), X, Y, net.layout),
    }


# --- the three evaluators agree ------------------------------------------------------------

# The batched cost climbs the network with rank-1 updates: the same numbers as the forward
# up to rounding of its different order of operations, a few ulps of a cost of order 1.
ULPS = dict(rtol=1e-14, atol=1e-15)


def test_the_evaluators_are_named_for_reports():
    assert {key: (e.name, e.role) for key, e in evaluators().items()} == {
        "loop": ("loop", "cost"), "batched": ("batched", "cost"), "forward": ("loop", "forward")}


@pytest.mark.parametrize("key", ["batched", "forward"])
def test_every_evaluator_gives_the_loops_base_cost(key):
    loop = evaluators()["loop"].base(THETA)
    assert loop == NET.forward(X, Y, PARAMETERS)[0]
    np.testing.assert_allclose(evaluators()[key].base(THETA), loop, **ULPS)


@pytest.mark.parametrize("key", ["batched", "forward"])
def test_every_evaluator_gives_the_loops_stencil_costs(key):
    loop, no_kinks = evaluators()["loop"].stencil(THETA, INDEX, H)
    costs, kinks = evaluators()[key].stencil(THETA, INDEX, H)
    assert no_kinks is None                        # a plain cost cannot see kinks
    assert costs.shape == (INDEX.size, len(STENCIL)) and kinks.shape == (INDEX.size,)
    np.testing.assert_allclose(costs, loop, **ULPS)
    assert not kinks.any()


@pytest.mark.parametrize("key", ["batched", "forward"])
def test_every_evaluator_gives_the_loops_costs_at_any_offsets(key):
    index = np.array([7, 0, 3])                    # any order, any subset
    offsets = H[index][:, None] * PROBE_OFFSETS
    loop = evaluators()["loop"].costs_at(THETA, index, offsets)
    assert loop[1, 0] == NET.forward(X, Y, NET.layout.unflatten(
        THETA + offsets[1, 0] * np.eye(THETA.size)[0]))[0]
    np.testing.assert_allclose(evaluators()[key].costs_at(THETA, index, offsets), loop, **ULPS)


@pytest.mark.parametrize("key", ["loop", "forward", "batched"])
def test_every_evaluator_gives_the_complex_step_derivative(key):
    net = MLP((3, 4, 1), "tanh", "naive")              # complex-safe
    theta = net.layout.flatten(net.init_parameters(seed=2))
    costs = evaluators(net)["loop"].stencil(theta, INDEX, H)[0]
    # The central difference is good to ~1e-9 here; the complex step to the last digits.
    found = evaluators(net)[key].complex_step(theta, INDEX, 1e-20)
    np.testing.assert_allclose(found, (costs[:, 2] - costs[:, 1]) / (2 * H), rtol=1e-6,
                               atol=1e-9)


def zero_preactivation_case():
    """A ReLU network where Z1[0, 0] is exactly 0 (W1[0, :] and b1[0] move it)."""
    net = MLP((2, 3, 1), "relu", "naive")
    X = np.array([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0]])
    return net, X, np.array([1, 0, 1]), {
        "W1": np.array([[1.0, 2.0], [0.5, -0.5], [-1.0, 1.0]]),
        "b1": np.array([[-2.0], [0.25], [0.1]]),
        "W2": np.array([[0.7, -1.2, 0.9]]), "b2": np.array([[0.1]])}


@pytest.mark.parametrize("key", ["batched", "forward"])
def test_the_batched_cost_and_the_forwards_cache_see_the_same_kinks(key):
    net, X, Y, parameters = zero_preactivation_case()
    theta = net.layout.flatten(parameters)
    kinks = evaluators(net, X, Y)[key].stencil(theta, np.arange(theta.size),
                                               step_sizes(theta, None))[1]
    assert np.flatnonzero(kinks).tolist() == [0, 1, 6]          # W1[0, 0], W1[0, 1], b1[0]


# --- fresh copies for user code ------------------------------------------------------------

def test_a_cost_that_writes_into_its_parameters_changes_nothing():
    def vandal_cost(parameters):
        cost = NET.forward(X, Y, {k: v.copy() for k, v in parameters.items()})[0]
        parameters["W1"] += 1.0
        return cost

    theta = THETA.copy()
    honest, vandal = evaluators()["loop"], LoopEvaluator(vandal_cost, NET.layout)
    assert vandal.base(theta) == vandal.base(theta) == honest.base(theta)
    assert np.array_equal(vandal.stencil(theta, INDEX, H)[0], honest.stencil(theta, INDEX, H)[0])
    assert theta.tobytes() == THETA.tobytes()


@pytest.mark.parametrize(("vandalism", "mutates"), [
    pytest.param(lambda X, Y, p: X.fill(0.0), True, id="writes X"),
    pytest.param(lambda X, Y, p: Y.fill(0), True, id="writes Y"),
    pytest.param(lambda X, Y, p: p["W1"].fill(0.0), False, id="writes its parameters"),
    pytest.param(lambda X, Y, p: None, False, id="honest"),
])
def test_a_forward_that_writes_into_its_inputs_is_noted_and_changes_nothing(vandalism, mutates):
    def forward(X, Y, parameters):
        out = NET.forward(X.copy(), Y.copy(), {k: v.copy() for k, v in parameters.items()})
        vandalism(X, Y, parameters)
        return out

    x, y, theta = X.copy(), Y.copy(), THETA.copy()
    evaluator = ForwardEvaluator(forward, x, y, NET.layout)
    assert evaluator.mutates_inputs is False
    assert evaluator.base(theta) == evaluator.base(theta) == NET.forward(X, Y, PARAMETERS)[0]
    assert evaluator.mutates_inputs is mutates
    costs = evaluator.stencil(theta, INDEX, H)[0]
    assert np.array_equal(costs, evaluators()["forward"].stencil(THETA, INDEX, H)[0])
    assert (x.tobytes(), y.tobytes(), theta.tobytes()) == (X.tobytes(), Y.tobytes(),
                                                           THETA.tobytes())


class VandalBatchedCost:
    """A batched cost that writes into every array it is given."""

    def __init__(self):
        self.cost = NET.cost_function(X, Y)
        self.layout = NET.layout

    def __call__(self, parameters):
        return self.cost(parameters)

    def at_vector(self, theta):
        value = self.cost.at_vector(theta.copy())
        theta += 1.0
        return value

    def coordinate_costs(self, theta, index, offsets):
        result = self.cost.coordinate_costs(theta.copy(), index.copy(), offsets.copy())
        theta += 1.0
        index[...] = 0
        return result


def test_a_batched_cost_that_writes_into_theta_at_the_base_changes_nothing():
    theta = THETA.copy()
    evaluator = BatchedEvaluator(VandalBatchedCost(), NET.layout)
    assert evaluator.base(theta) == evaluator.base(theta)
    assert theta.tobytes() == THETA.tobytes()


def test_a_batched_cost_that_writes_into_theta_and_index_changes_nothing():
    theta, index = THETA.copy(), INDEX.copy()
    evaluator = BatchedEvaluator(VandalBatchedCost(), NET.layout)
    evaluator.stencil(theta, index, H)
    evaluator.costs_at(theta, index, H[:, None] * PROBE_OFFSETS)
    assert theta.tobytes() == THETA.tobytes() and index.tolist() == INDEX.tolist()


# --- what a cost or a forward may return ---------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    pytest.param(0.25, 0.25, id="float"),
    pytest.param(3, 3.0, id="int"),
    pytest.param(np.float64(0.25), 0.25, id="numpy float64"),
    pytest.param(np.float32(0.25), 0.25, id="numpy float32"),
    pytest.param(np.int64(-2), -2.0, id="numpy int64"),
    pytest.param(np.array([0.5]), 0.5, id="array of one"),
    pytest.param(np.array([[0.5]]), 0.5, id="1 x 1 array, as np.dot returns"),
])
def test_as_cost_value_accepts_one_real_number_in_any_wrapping(value, expected):
    result = as_cost_value(value, "cost(parameters)")
    assert result == expected and type(result) is float


FIX = "return the cost as a float, e.g. float(np.sum(losses)) / m"


@pytest.mark.parametrize(("value", "shown"), [
    pytest.param(np.ones(3), "array(shape=(3,), dtype=float64)", id="vector"),
    pytest.param(np.empty((0,)), "array(shape=(0,), dtype=float64)", id="empty"),
    pytest.param([0.5, 0.5], "[0.5, 0.5]", id="list"),
    pytest.param("1.0", "'1.0'", id="string"),
    pytest.param(None, "None", id="None"),
    pytest.param(1 + 0j, "(1+0j)", id="complex"),
    pytest.param(np.array([1j]), "array(shape=(1,), dtype=complex128)", id="complex array"),
])
@pytest.mark.parametrize("who", ["cost(parameters)", "forward(X, Y, parameters)[0]"])
def test_as_cost_value_rejects_anything_else_naming_the_function(value, shown, who):
    with pytest.raises(InvalidArgument) as info:
        as_cost_value(value, who)
    assert str(info.value) == f"{who}={shown} is not one real number; {FIX}"


def test_an_evaluator_names_its_function_when_the_cost_is_not_a_number():
    loop = LoopEvaluator(lambda p: np.ones(2), NET.layout)
    forward = ForwardEvaluator(lambda X, Y, p: ("cost", None), X, Y, NET.layout)
    with pytest.raises(InvalidArgument, match=r"^cost\(parameters\)=array"):
        loop.stencil(THETA, INDEX[:1], H[:1])
    with pytest.raises(InvalidArgument, match=r"^forward\(X, Y, parameters\)\[0\]='cost' "):
        forward.base(THETA)


@pytest.mark.parametrize(("out", "shown"), [
    pytest.param(2.5, "2.5", id="the cost only"),
    pytest.param((2.5, None, None), "(2.5, None, None)", id="three values"),
    pytest.param(None, "None", id="nothing"),
])
def test_a_forward_must_return_a_cost_and_cache_pair(out, shown):
    evaluator = ForwardEvaluator(lambda X, Y, p: out, X, Y, NET.layout)
    with pytest.raises(InvalidArgument) as info:
        evaluator.base(THETA)
    assert str(info.value) == (f"forward(X, Y, parameters)={shown} is not a (cost, cache) "
                               "pair; return (cost, cache) as forward_propagation_n does")


# --- the BatchedCost protocol, implemented by a user ---------------------------------------

class LogisticCost:
    """A user's vectorised logistic regression: J(w, b) = mean(log(1 + e^z) - y z)."""

    def __init__(self, X, Y):
        self.X, self.Y = X, Y
        self.layout = ParamLayout(("w", "b"), ((1, X.shape[0]), (1, 1)))

    def __call__(self, parameters):
        return float(self._costs(parameters["w"][None], parameters["b"][None])[0])

    def at_vector(self, theta):
        return self(self.layout.unflatten(theta))

    def coordinate_costs(self, theta, index, offsets):
        n, s = offsets.shape
        thetas = np.repeat(theta[None], n * s, axis=0)
        thetas[np.arange(n * s), np.repeat(index, s)] += offsets.reshape(-1)
        blocks = self.layout.unflatten_batch(thetas)
        return self._costs(blocks["w"], blocks["b"]).reshape(n, s), None

    def _costs(self, w, b):
        z = w @ self.X + b                                  # (B, 1, m)
        return np.mean(np.logaddexp(0, z) - self.Y * z, axis=(1, 2))

    def gradients(self, parameters):
        z = parameters["w"] @ self.X + parameters["b"]
        residual = 1 / (1 + np.exp(-z)) - self.Y
        return {"dw": residual @ self.X.T / self.X.shape[1],
                "db": np.mean(residual, keepdims=True).reshape(1, 1)}


def logistic_case():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((3, 8))
    cost = LogisticCost(X, (rng.random(8) < 0.5).astype(float))
    parameters = {"w": np.array([[0.5, -1.0, 0.25]]), "b": np.array([[0.1]])}
    return cost, parameters, cost.gradients(parameters)


@pytest.mark.parametrize(("as_given", "evaluator"), [
    pytest.param(lambda cost: cost, "batched", id="the batched cost"),
    pytest.param(lambda cost: lambda p: cost(p), "loop", id="the same cost as a function"),
])
def test_a_user_batched_cost_takes_the_fast_path_with_the_same_verdicts(as_given, evaluator):
    cost, parameters, gradients = logistic_case()
    assert isinstance(cost, BatchedCost)
    right = check_gradients(as_given(cost), gradients, parameters)
    assert (right.evaluator, right.verdict) == (evaluator, Verdict.PASS)
    for key, name in [("dw", "w"), ("db", "b")]:
        wrong = check_gradients(as_given(cost), {**gradients, key: 2 * gradients[key]}, parameters)
        assert (wrong.evaluator, wrong.verdict) == (evaluator, Verdict.FAIL)
        assert [block.name for block in wrong.mismatched] == [name]
        kind = "≈ 2.000 × numerical (scaling bug)" if wrong.blocks[name].size > 1 else \
            "= 2.000 × numerical (off by that factor)"     # one coordinate: just a factor
        assert wrong.blocks[name].diagnosis == f"{key} {kind}"


def test_the_fast_path_and_the_loop_find_the_same_numerical_gradient():
    cost, parameters, gradients = logistic_case()
    batched, loop = (check_gradients(c, gradients, parameters) for c in (cost, lambda p: cost(p)))
    np.testing.assert_allclose(batched.numerical, loop.numerical, rtol=1e-12, atol=1e-15)


def test_a_batched_cost_with_another_layout_is_evaluated_in_a_loop():
    cost, parameters, gradients = logistic_case()
    reordered = {"b": parameters["b"], "w": parameters["w"]}       # layout ("b", "w")
    result = check_gradients(cost, gradients, reordered)
    assert (result.evaluator, result.verdict) == ("loop", Verdict.PASS)


@pytest.mark.parametrize("missing", ["coordinate_costs", "at_vector", "layout"])
def test_an_object_lacking_a_member_of_the_protocol_is_a_plain_cost(missing):
    cost, parameters, gradients = logistic_case()
    members = {"__call__": lambda self, p: cost(p), "at_vector": lambda self, t: 0.0,
               "coordinate_costs": lambda self, t, i, o: (None, None),
               "layout": cost.layout}
    del members[missing]
    partial = type("Partial", (), members)()
    assert not isinstance(partial, BatchedCost)
    result = check_gradients(partial, gradients, parameters)
    assert (result.evaluator, result.verdict) == ("loop", Verdict.PASS)


@pytest.mark.parametrize(("forward", "batched"), [
    pytest.param(NET.forward, True, id="its own bound forward"),
    pytest.param(MLP((3, 4, 1)).forward, False, id="an equal network's forward"),
    pytest.param(lambda X, Y, p: NET.forward(X, Y, p), False, id="a function calling it"),
    pytest.param(MLP.forward, False, id="the unbound method"),
])
def test_a_network_offers_a_batched_cost_only_for_its_own_forward(forward, batched):
    assert isinstance(NET, BatchedForward)
    cost = NET.batched_cost(forward, X, Y)
    assert (cost is not None) is batched
    if batched:
        assert cost.layout == NET.layout
        np.testing.assert_allclose(cost(PARAMETERS), NET.forward(X, Y, PARAMETERS)[0], **ULPS)


# --- the forward's cache -----------------------------------------------------------------

@pytest.mark.parametrize(("cache", "vector", "scale"), [
    pytest.param((np.array([[1, -2], [3, 4]]), 5.0), [1, -2, 3, 4, 5], [4, 4, 4, 4, 5],
                 id="tuple of an int array and a float"),
    pytest.param({"Z": np.array([0.5, -1.5]), "A": [np.array([2.0]), 3]}, [0.5, -1.5, 2, 3],
                 [1.5, 1.5, 2, 3], id="dict in its order, nested list"),
    pytest.param(("relu", None, np.array(["x"]), np.array([1j]), {"n": np.float32(2.0)}),
                 [2.0], [2.0], id="non-numeric leaves ignored"),
    pytest.param((True, np.int64(7), [[np.zeros((1, 2))]]), [1, 7, 0, 0], [1, 7, 0, 0],
                 id="bools and numpy scalars"),
    pytest.param(("no", "numbers"), [], [], id="nothing numeric"),
])
def test_cache_vector_and_scale_flatten_every_numeric_leaf_depth_first(cache, vector, scale):
    assert cache_vector(cache).tolist() == vector and cache_vector(cache).dtype == np.float64
    assert cache_scale(cache).tolist() == scale


DZ = 2.0**-17                       # a step of the size the checker uses


def caches(layer, z0):
    """A layer's cache ``layer(z)`` at z = z0 + t DZ, t = -2..2 (the stencil and theta)."""
    return [cache_vector(layer(np.array([z0 + t * DZ, 1.0 + t * DZ]))) for t in range(-2, 3)]


def relu_layer(z):
    return z, np.maximum(z, 0)


def tanh_layer(z):
    return z, np.tanh(z), z > 0


@pytest.mark.parametrize(("layer", "z0", "moves"), [
    pytest.param(relu_layer, 0.5 * DZ, True, id="relu crossing 0"),
    pytest.param(relu_layer, -1.5 * DZ, True, id="relu crossing 0 near the end"),
    pytest.param(relu_layer, 0.0, True, id="relu at 0"),
    pytest.param(relu_layer, 3 * DZ, False, id="relu, 0 not crossed"),
    pytest.param(lambda z: (z, z**2), 0.3, False, id="smooth quadratic"),
    pytest.param(tanh_layer, 0.3, False, id="tanh and a mask"),
    pytest.param(tanh_layer, 0.5 * DZ, True, id="a mask that flips"),
])
def test_a_cache_moves_non_smoothly_when_some_value_crosses_a_kink(layer, z0, moves):
    assert cache_moves_non_smoothly(caches(layer, z0)) is moves


def test_the_rounding_allowance_scales_with_the_largest_entry_of_each_array():
    # A fourth difference of 6e-15 is far above the rounding of values near 1e-3, but
    # within the rounding of an array whose largest entry is 1 (64 eps = 1.4e-14).
    points = [np.array([1e-3 + 1e-15 * (t == 0)]) for t in range(-2, 3)]
    assert cache_moves_non_smoothly(points) is True
    assert cache_moves_non_smoothly(points, np.array([1.0])) is False


@pytest.mark.parametrize("points", [
    pytest.param([np.zeros(2)] * 4 + [np.zeros(3)], id="a shape changes"),
    pytest.param([np.zeros(2), np.ones(3)] + [np.zeros(2)] * 3, id="another shape changes"),
    pytest.param([np.array([0.0]), np.array([5.0])] + [np.array([0.0])] * 2, id="four points"),
    pytest.param([np.empty(0)] * 5, id="nothing cached"),
])
def test_caches_that_cannot_be_compared_are_not_called_kinks(points):
    assert cache_moves_non_smoothly(points) is False
