"""Bad input: a table of malformed arguments, each with its exact message.

Every message names the argument in ``name=value`` form and ends with the fix.
"""

from __future__ import annotations

import numpy as np
import pytest

from gcverify import InvalidArgument, check_backprop, check_gradients, check_loss_and_grads
from gcverify.models import notebook as nb

X, Y, P = nb.gradient_check_n_test_case()
G = nb.backward_propagation_n(X, Y, nb.forward_propagation_n(X, Y, P)[1])
F, B = nb.forward_propagation_n, nb.backward_propagation_n


def cost(p):
    return nb.forward_propagation_n(X, Y, p)[0]


def with_(d, **changes):
    return {**d, **changes}


def without(d, key):
    return {k: v for k, v in d.items() if k != key}


CASES = [
    pytest.param(
        lambda: check_gradients(cost, G, [P["W1"]]),
        "parameters=[array(shape=(5, 4), dtype=float64)] is not a dict of arrays; pass e.g. {'W1': W1, 'b1': b1}",
        id="parameters not a dict",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, {}),
        "parameters={} is empty; pass at least one parameter array",
        id="parameters empty",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, {1: P["W1"]}),
        "parameters.keys()=[1] has a non-string key 1; name each block with a string such as 'W1'",
        id="parameter key not a string",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, with_(P, W1=P["W1"].astype(int))),
        "parameters['W1'].dtype=int64 is not floating point; pass parameters as float64, e.g. .astype(np.float64)",
        id="parameter int dtype",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, with_(P, W1=P["W1"].astype(np.float32))),
        "parameters['W1'].dtype=float32 is too coarse for gradient checking (its rounding is near the 2e-7 threshold); compute parameters in float64, e.g. .astype(np.float64)",
        id="parameter float32",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, with_(P, b1=np.array([[None]] * 5))),
        "parameters['b1'].dtype=object is not numeric; pass parameters as float64 arrays, e.g. np.asarray(value, dtype=np.float64)",
        id="parameter object dtype",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, with_(P, b3=P["b3"] + 0j)),
        "parameters['b3'].dtype=complex128 is complex; pass real parameters as float64",
        id="parameter complex",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, with_(P, b1=np.zeros((0, 1)))),
        "parameters['b1'].shape=(0, 1) is empty; every block needs at least one entry",
        id="parameter empty array",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, with_(P, W2=np.where(np.eye(3, 5) > 0, np.nan, P["W2"]))),
        "parameters['W2'][0, 0]=nan is not finite; pass finite parameters",
        id="parameter nan",
    ),
    pytest.param(
        lambda: check_gradients(cost, [1, 2], P),
        "gradients=[1, 2] is not a dict of arrays; give a dict like {'dW1': dW1, 'db1': db1}, as the notebook's backward_propagation_n returns",
        id="gradients not a dict",
    ),
    pytest.param(
        lambda: check_gradients(cost, with_(G, W2=G["dW2"]), P),
        "gradients.keys()=['W2', 'dA1', 'dA2', 'dW1', 'dW2', 'dW3', 'dZ1', 'dZ2', '... has both 'W2' and 'dW2'; keep one gradient per parameter",
        id="gradient under both keys",
    ),
    pytest.param(
        lambda: check_gradients(cost, with_(G, dW1=G["dW1"].T), P),
        "gradients['dW1'].shape=(4, 5) does not match parameters['W1'].shape=(5, 4); give each gradient the shape of its parameter",
        id="gradient shape",
    ),
    pytest.param(
        lambda: check_gradients(cost, with_(G, db3=np.array([[1]])), P),
        "gradients['db3'].dtype=int64 is not floating point; pass gradients as float64, e.g. .astype(np.float64)",
        id="gradient int dtype",
    ),
    pytest.param(
        lambda: check_gradients(cost, with_(G, dW3=G["dW3"].astype(np.float32)), P),
        "gradients['dW3'].dtype=float32 is too coarse for gradient checking (its rounding is near the 2e-7 threshold); compute gradients in float64, e.g. .astype(np.float64)",
        id="gradient float32",
    ),
    pytest.param(
        lambda: check_gradients(
            cost, with_(G, db2=np.array([["a"], ["b"], ["c"]], dtype=object)), P
        ),
        "gradients['db2'].dtype=object is not numeric; pass gradients as float64 arrays, e.g. np.asarray(value, dtype=np.float64)",
        id="gradient object",
    ),
    pytest.param(
        lambda: check_gradients(3.0, G, P),
        "cost=3.0 is not callable; pass a function cost(parameters) -> float",
        id="cost not callable",
    ),
    pytest.param(
        lambda: check_gradients(lambda p: np.ones(3), G, P),
        "cost(parameters)=array(shape=(3,), dtype=float64) is not one real number; return the cost as a float, e.g. float(np.sum(losses)) / m",
        id="cost returns array",
    ),
    pytest.param(
        lambda: check_gradients(lambda p: "1.0", G, P),
        "cost(parameters)='1.0' is not one real number; return the cost as a float, e.g. float(np.sum(losses)) / m",
        id="cost returns string",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, threshold=-1),
        "threshold=-1 is not a positive finite number; pass e.g. threshold=2e-7, the notebook's",
        id="threshold negative",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, threshold=float("nan")),
        "threshold=nan is not a positive finite number; pass e.g. threshold=2e-7, the notebook's",
        id="threshold nan",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, epsilon=0),
        "epsilon=0 is not a positive finite number; pass e.g. epsilon=1e-7, or None for the default step",
        id="epsilon zero",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, epsilon=2.0),
        "epsilon=2.0 is not a small step; pass e.g. epsilon=1e-7, or None for the default step",
        id="epsilon large",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, epsilon=1),
        "epsilon=1 is not a small step; pass e.g. epsilon=1e-7, or None for the default step",
        id="epsilon one",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, epsilon=1.5),
        "epsilon=1.5 is not a small step; pass e.g. epsilon=1e-7, or None for the default step",
        id="epsilon between one and two",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, method="forward"),
        "method='forward' is not a known method; use 'central', 'complex' or 'auto'",
        id="method unknown",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, seed=1.5),
        "seed=1.5 is not an integer; pass e.g. seed=0",
        id="seed float",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, sample=0),
        "sample=0 is not a positive integer; pass the number of coordinates to check per block, or None for all",
        id="sample zero",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, sample=True),
        "sample=True is not a positive integer; pass the number of coordinates to check per block, or None for all",
        id="sample bool",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, sample=2.5),
        "sample=2.5 is not a positive integer; pass the number of coordinates to check per block, or None for all",
        id="sample float",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, noise_limit="big"),
        "noise_limit='big' is not a positive finite number; pass e.g. noise_limit=1e-4",
        id="noise_limit string",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, mode="fast"),
        "mode='fast' is not a known mode; use 'coordinates', 'directional' or 'auto'",
        id="mode unknown",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, directions=0),
        "directions=0 is not a positive integer; pass the number of random directions per block, e.g. directions=8",
        id="directions zero",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, directions=True),
        "directions=True is not a positive integer; pass the number of random directions per block, e.g. directions=8",
        id="directions bool",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, directions=2.0),
        "directions=2.0 is not a positive integer; pass the number of random directions per block, e.g. directions=8",
        id="directions float",
    ),
    pytest.param(
        lambda: check_backprop(F, B, X, Y, P, mode="directional", method="complex"),
        "method='complex' is not available in directional mode; use method='central' (or 'auto'), or mode='coordinates'",
        id="directional complex",
    ),
    pytest.param(
        lambda: check_gradients(cost, G, P, mode="directional", sample=2),
        "sample=2 samples coordinates, which directional mode does not check one by one; drop sample=, or use mode='coordinates'",
        id="directional sample",
    ),
    pytest.param(
        lambda: check_backprop(None, B, X, Y, P),
        "forward=None is not callable; pass a function forward(X, Y, parameters) -> (cost, cache)",
        id="forward not callable",
    ),
    pytest.param(
        lambda: check_backprop(F, "backward", X, Y, P),
        "backward='backward' is not callable; pass a function backward(X, Y, cache) -> gradients",
        id="backward not callable",
    ),
    pytest.param(
        lambda: check_backprop(F, B, np.where(np.eye(4, 3) > 0, np.nan, X), Y, P),
        "X[0, 0]=nan is not finite; pass finite inputs (drop or impute missing values)",
        id="X with nan",
    ),
    pytest.param(
        lambda: check_backprop(F, B, X, np.array([1.0, np.inf, 0.0]), P),
        "Y[1]=inf is not finite; pass finite inputs (drop or impute missing values)",
        id="X with inf",
    ),
    pytest.param(
        lambda: check_backprop(F, B, [["a"]], Y, P),
        "X=[['a']] is not a numeric array; pass X as a float64 array, e.g. np.asarray(X, dtype=np.float64)",
        id="X strings",
    ),
    pytest.param(
        lambda: check_backprop(F, B, np.zeros((4, 0)), Y, P),
        "X.shape=(4, 0) is empty; pass at least one example",
        id="X empty",
    ),
    pytest.param(
        lambda: check_backprop(lambda X, Y, p: F(X, Y, p)[0], B, X, Y, P),
        "forward(X, Y, parameters)=np.float64(2.407833389834357) is not a (cost, cache) pair; return (cost, cache) as forward_propagation_n does",
        id="forward returns cost only",
    ),
    pytest.param(
        lambda: check_backprop(F, lambda X, Y, c: [1], X, Y, P),
        "backward(X, Y, cache)=[1] is not a dict of arrays; give a dict like {'dW1': dW1, 'db1': db1}, as the notebook's backward_propagation_n returns",
        id="backward returns list",
    ),
    pytest.param(
        lambda: check_loss_and_grads(3.0, P),
        "f=3.0 is not callable; pass a function f(parameters) -> (loss, grads)",
        id="f not callable",
    ),
    pytest.param(
        lambda: check_loss_and_grads(lambda p: [1.0, {}], P),
        "f(parameters)=[1.0, {}] is not a pair (loss, grads); return loss, grads",
        id="f returns a list",
    ),
    pytest.param(
        lambda: check_loss_and_grads(lambda p: (1.0, {}, None), P),
        "f(parameters)=(1.0, {}, None) is not a pair (loss, grads); return loss, grads",
        id="f returns a triple",
    ),
]


@pytest.mark.parametrize(("call", "message"), CASES)
def test_bad_input_raises_invalid_argument_with_the_fix(call, message):
    with pytest.raises(InvalidArgument) as info:
        call()
    assert str(info.value) == message


def test_a_misspelt_option_is_a_type_error_naming_it():
    # The options are explicit keyword-only parameters: Python itself names the typo.
    with pytest.raises(TypeError, match="unexpected keyword argument 'thresold'"):
        check_backprop(F, B, X, Y, P, thresold=1e-7)


def test_the_smallest_valid_values_of_the_new_options_are_accepted():
    result = check_gradients(cost, G, P, mode="directional", directions=1)
    assert result.mode == "directional"
    assert result.n_judged == len(P)                     # one direction per block
    assert check_gradients(cost, G, P, mode="coordinates").mode == "coordinates"


def test_the_table_is_large_enough():
    assert len(CASES) >= 20


def test_invalid_argument_is_both_a_type_error_and_a_value_error():
    with pytest.raises(TypeError):
        check_gradients(3.0, G, P)
    with pytest.raises(ValueError):
        check_gradients(cost, G, P, threshold=-1)


def test_bad_input_leaves_the_callers_arrays_alone():
    before = {k: v.copy() for k, v in P.items()}
    with pytest.raises(InvalidArgument):
        check_backprop(F, B, X, Y, P, method="nope")
    for key in P:
        assert P[key].tobytes() == before[key].tobytes()
