"""The examples, one small network per convention, checked through the API.

Each example in ``examples/`` is code in the style people write (the notebook's, the
course's L-layer functions, a loss-and-grads function, a CS231n-style class, row-major
layer functions); each passes gcverify's check as written, and a planted bug in each
fails it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gcverify import Verdict, check_backprop, check_loss_and_grads
from gcverify.adapters import key_map, l_layer, loss_and_grads, model
from gcverify.loading import load_module

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name):
    return load_module(EXAMPLES / f"{name}.py")


def scaled(function, key, k, index=None):
    """``function`` (a backward, or loss-and-grads) with gradient ``key`` times ``k``."""
    def buggy(*args, **kwargs):
        out = function(*args, **kwargs)
        grads = out[1] if isinstance(out, tuple) else out
        grads[key] = grads[key] * k
        return out
    return buggy


def test_the_notebook_style():
    nb = example("notebook_style")
    X, Y, parameters = nb.make_case()
    assert check_backprop(nb.forward_propagation, nb.backward_propagation, X, Y,
                          parameters).verdict is Verdict.PASS
    buggy = check_backprop(nb.forward_propagation, scaled(nb.backward_propagation, "dW2", 2),
                           X, Y, parameters)
    assert [b.diagnosis for b in buggy.mismatched] == ["dW2 ≈ 2.000 × numerical (scaling bug)"]


def test_the_l_layer_style():
    ll = example("l_layer")
    X, Y, parameters = ll.make_case()
    backprop = l_layer(ll.L_model_forward, ll.compute_cost, ll.L_model_backward)
    result = check_backprop(*backprop, X, Y, parameters)
    assert result.verdict is Verdict.PASS, str(result)
    wrong = l_layer(ll.L_model_forward, ll.compute_cost, scaled(ll.L_model_backward, "db1", 4))
    assert [b.gradient_key for b in check_backprop(*wrong, X, Y, parameters).mismatched] == [
        "db1"]


def test_the_l_layer_style_with_l2_regularisation():
    ll = example("l_layer")
    X, Y, parameters = ll.make_case()
    regularised = l_layer(ll.L_model_forward, ll.compute_cost_with_regularization,
                          ll.L_model_backward_with_regularization, lambd=0.7)
    assert check_backprop(*regularised, X, Y, parameters).verdict is Verdict.PASS
    # The regularisation term's gradient forgotten: the plain backward, the L2 cost.
    forgotten = l_layer(ll.L_model_forward, ll.compute_cost_with_regularization,
                        lambda AL, Y, caches, lambd: ll.L_model_backward(AL, Y, caches),
                        lambd=0.7)
    result = check_backprop(*forgotten, X, Y, parameters)
    assert result.verdict is Verdict.FAIL
    assert {b.gradient_key for b in result.mismatched} == {"dW1", "dW2", "dW3"}


def test_the_l_layer_style_with_dropout_is_made_deterministic_and_says_so():
    ll = example("l_layer")
    X, Y, parameters = ll.make_case()
    state = np.random.get_state()
    result = check_backprop(*l_layer(ll.L_model_forward, ll.compute_cost,
                                     ll.L_model_backward, keep_prob=0.8), X, Y, parameters)
    assert result.verdict is Verdict.PASS, str(result)
    assert any(r.startswith("dropout: numpy's global random generator was seeded with 0")
               for r in result.reasons)
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1])   # left as it was
    # keep_prob not divided in the backward pass: a FAIL, block named.
    def undivided(AL, Y, caches, keep_prob):
        return ll.L_model_backward(AL, Y, caches, keep_prob=1.0)
    wrong = check_backprop(*l_layer(ll.L_model_forward, ll.compute_cost, undivided,
                                    keep_prob=0.8), X, Y, parameters)
    assert wrong.verdict is Verdict.FAIL


def test_the_loss_and_grads_style():
    lg = example("loss_and_grads")
    X, y, params = lg.make_case()
    loss = lg.make_loss(X, y)
    assert check_loss_and_grads(loss, params).verdict is Verdict.PASS
    assert check_backprop(*loss_and_grads(loss), X, y, params).verdict is Verdict.PASS
    result = check_loss_and_grads(scaled(loss, "b1", -1), params)
    assert [b.diagnosis for b in result.mismatched] == ["b1 ≈ -1.000 × numerical (sign bug)"]


def test_the_class_based_style():
    cb = example("class_based")
    net = cb.TwoLayerNet(4, 5, 3)
    X, y = cb.make_data()
    own = {name: value.copy() for name, value in net.params.items()}
    assert check_backprop(*model(net, X, y)).verdict is Verdict.PASS
    assert all(np.array_equal(net.params[k], own[k]) for k in own)      # its own params back
    net.loss = scaled(net.loss, "W2", 0.5)
    assert [b.name for b in check_backprop(*model(net, X, y)).mismatched] == ["W2"]


def test_the_row_major_layer_function_style():
    rm = example("row_major")
    X, y, params = rm.make_case()
    assert check_loss_and_grads(lambda p: rm.loss(X, y, p), params).verdict is Verdict.PASS
    def forgets_the_relu_mask(p):
        original = rm.relu_backward
        rm.relu_backward = lambda dout, cache: dout
        try:
            return rm.loss(X, y, p)
        finally:
            rm.relu_backward = original
    result = check_loss_and_grads(forgets_the_relu_mask, params)
    assert result.verdict is Verdict.FAIL
    assert {b.name for b in result.mismatched} == {"W1", "b1"}


def test_other_gradient_names_through_key_map():
    rm = example("row_major")
    X, y, params = rm.make_case()
    renamed = {"weight1": params["W1"], "bias1": params["b1"], "weight2": params["W2"],
               "bias2": params["b2"]}
    names = {"weight1": "W1", "bias1": "b1", "weight2": "W2", "bias2": "b2"}

    def loss(p):
        value, grads = rm.loss(X, y, {names[k]: v for k, v in p.items()})
        return value, {"grad_" + k: grads[v] for k, v in names.items()}

    mapped = key_map(loss, lambda key: key.removeprefix("grad_"))
    assert check_loss_and_grads(mapped, renamed).verdict is Verdict.PASS
    result = check_loss_and_grads(loss, renamed)
    assert result.verdict is Verdict.FAIL         # grad_weight1 names no parameter
    assert result.blocks["weight1"].diagnosis == "dweight1: missing from the gradients"


@pytest.mark.parametrize("bias_shape", [(5,), (1, 5)], ids=["(H,)", "(1, H)"])
def test_one_dimensional_and_row_biases_are_both_fine(bias_shape):
    rm = example("row_major")
    X, y, params = rm.make_case()
    params = {**params, "b1": params["b1"].reshape(bias_shape)}

    def loss(p):
        value, grads = rm.loss(X, y, p)
        return value, {**grads, "b1": grads["b1"].reshape(bias_shape)}
    assert check_loss_and_grads(loss, params).verdict is Verdict.PASS


# --- each example through the pytest plugin's gradcheck fixture ----------------------------

def each_example_in_the_notebook_convention():
    """(name, forward, backward, X, Y, parameters) for every example, through its adapter."""
    nb, ll, lg, cb, rm = (example(name) for name in ("notebook_style", "l_layer",
                                                     "loss_and_grads", "class_based",
                                                     "row_major"))
    X, Y, parameters = ll.make_case()
    yield "l_layer", *l_layer(ll.L_model_forward, ll.compute_cost, ll.L_model_backward), \
        X, Y, parameters
    yield "notebook_style", nb.forward_propagation, nb.backward_propagation, *nb.make_case()
    X, y, params = lg.make_case()
    yield "loss_and_grads", *loss_and_grads(lg.make_loss(X, y)), X, y, params
    X, y = cb.make_data()
    yield "class_based", *model(cb.TwoLayerNet(4, 5, 3), X, y)
    X, y, params = rm.make_case()
    yield "row_major", *loss_and_grads(rm.loss, data=True), X, y, params


CASES = list(each_example_in_the_notebook_convention())


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_example_passes_the_gradcheck_fixture(gradcheck, case):
    _, forward, backward, X, Y, parameters = case
    assert gradcheck(forward, backward, X, Y, parameters).passed


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_planted_bug_in_each_example_fails_the_gradcheck_fixture(gradcheck, case):
    _, forward, backward, X, Y, parameters = case
    key = next(k for k in backward(X, Y, forward(X, Y, parameters)[1])
               if k in parameters or k[1:] in parameters)   # not dA0, an intermediate
    with pytest.raises(AssertionError, match="Gradient check: FAIL"):
        gradcheck(forward, scaled(backward, key, 3), X, Y, parameters)
