"""Conventions: names and options in, a forward and a backward pass out."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

from gcverify import Verdict, check_backprop
from gcverify.conventions import Convention
from gcverify.errors import InvalidArgument

X = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
y = np.array([1.0, 0.0, 2.0])
P = {"w": np.array([0.1, -0.2]), "b": np.array([0.3])}


def least_squares(X, y, params):
    r = X @ params["w"] + params["b"] - y
    return float(r @ r) / 2, {"w": X.T @ r, "b": r.sum(keepdims=True)}


def make_loss(X, y):
    return lambda params: least_squares(X, y, params)


class Regression:
    def __init__(self, scale=1.0):
        self.params = {name: value * scale for name, value in P.items()}

    def loss(self, X, y):
        return least_squares(X, y, self.params)

    def half_loss(self, X, y):
        loss, grads = least_squares(X, y, self.params)
        return loss / 2, {name: grad / 2 for name, grad in grads.items()}


NAMESPACE = {"least_squares": least_squares, "make_loss": make_loss,
             "closed": lambda params: least_squares(X, y, params), "Regression": Regression,
             "make_model": lambda: Regression(2.0), "model_object": Regression(3.0),
             "not_callable": 3, "__name__": __name__}


@pytest.mark.parametrize("forward", ["least_squares", "make_loss", "closed"])
def test_loss_and_grads_is_called_as_it_is_written(forward):
    backprop = Convention("loss-and-grads", forward=forward).build(NAMESPACE)
    assert check_backprop(*backprop, X, y, P).verdict is Verdict.PASS
    loss, grads = backprop.forward(X, y, P)
    assert backprop.backward(X, y, grads) is grads
    assert loss == least_squares(X, y, P)[0]


@pytest.mark.parametrize(("model", "scale"), [("Regression(2.0)", 2.0),
                                              ("Regression(scale=0.5)", 0.5),
                                              ("Regression", 1.0), ("make_model", 2.0),
                                              ("model_object", 3.0)])
def test_a_model_is_a_call_a_class_a_factory_or_an_object(model, scale):
    convention = Convention("model", model=model)
    parameters = convention.own_parameters(NAMESPACE)
    np.testing.assert_array_equal(parameters["w"], P["w"] * scale)
    assert check_backprop(*convention.build(NAMESPACE), X, y, parameters).verdict \
        is Verdict.PASS


def test_another_method_of_the_model_and_bound_methods_in_other_conventions():
    half = Convention("model", model="Regression()", forward="net.half_loss")
    assert half.build(NAMESPACE).forward(X, y, P)[0] == least_squares(X, y, P)[0] / 2
    bound = Convention("loss-and-grads", model="Regression()", forward="net.loss")
    with pytest.raises(InvalidArgument, match=re.escape(
            "returned a tuple when called with (X, Y), not a function loss(parameters); for "
            "a model's net.loss(X, y), use the model convention")):
        bound.build(NAMESPACE).forward(X, y, P)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Convention("l_layer"), "convention='l_layer' is not a convention; use one of "
                                    "notebook, l-layer, loss-and-grads, model"),
    (lambda: Convention("notebook", forward="f"), "backward=None is missing: the notebook "
                                                  "convention needs it"),
    (lambda: Convention("loss-and-grads", forward="f", backward="b"),
     "backward='b' has no use in the loss-and-grads convention; drop backward= (it takes "
     "forward)"),
    (lambda: Convention("notebook", forward="f", backward="b", lambd=0.1),
     "lambd=0.1 only applies to the l-layer convention"),
    (lambda: Convention("model", model="Regression(X)").build(NAMESPACE),
     "model='Regression(X)' is not NAME or NAME(arguments) with literal arguments"),
    (lambda: Convention("model", model="Regresion()").build(NAMESPACE),
     "model='Regresion' is not in the file"),
    (lambda: Convention("model", model="not_callable()").build(NAMESPACE),
     "model='not_callable()' calls a int"),
    (lambda: Convention("model", model="Regression()", forward="loss").build(NAMESPACE),
     "forward='loss' is not a method of net (the model)"),
    (lambda: Convention("loss-and-grads", forward="not_callable").build(NAMESPACE),
     "forward='not_callable' is a int, not a function"),
    (lambda: Convention("loss-and-grads", forward="varargs").build(
        {"varargs": lambda *args: None}), "forward='varargs' takes 0 required arguments"),
])
def test_bad_conventions_say_what_to_change(make, message):
    with pytest.raises(InvalidArgument) as raised:
        make()
    assert message in str(raised.value)


def test_a_convention_is_plain_data_that_pickles():
    convention = Convention("l-layer", forward="f", cost="c", backward="b", keep_prob=0.8)
    assert pickle.loads(pickle.dumps(convention)) == convention
    assert convention.label == "f and c (l-layer)" and convention.checked == "b"
