"""A small network written in the notebook's convention, the way the notebook writes it.

``forward_propagation(X, Y, parameters) -> (cost, cache)`` and ``backward_propagation(X, Y,
cache) -> gradients``: LINEAR -> TANH -> LINEAR -> SIGMOID, cross-entropy cost, column
layout (X is features x examples, Y is 1 x examples).

    gcverify check examples/notebook_style.py --forward forward_propagation \\
        --backward backward_propagation --case make_case
    gcverify mutate examples/notebook_style.py --forward forward_propagation \\
        --backward backward_propagation --case make_case
"""

import numpy as np


def make_case(seed=1):
    """(X, Y, parameters) for a 3-4-1 network and 5 examples."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, 5))
    Y = np.array([[1.0, 0.0, 1.0, 1.0, 0.0]])   # both labels: a case with one label hides bugs
    parameters = {"W1": rng.standard_normal((4, 3)) * 0.5, "b1": np.zeros((4, 1)),
                  "W2": rng.standard_normal((1, 4)) * 0.5, "b2": np.zeros((1, 1))}
    return X, Y, parameters


def forward_propagation(X, Y, parameters):
    m = X.shape[1]
    Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
    A1 = np.tanh(Z1)
    Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
    A2 = 1 / (1 + np.exp(-Z2))
    cost = -np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m
    cache = (Z1, A1, Z2, A2, parameters["W1"], parameters["W2"])
    return cost, cache


def backward_propagation(X, Y, cache):
    m = X.shape[1]
    Z1, A1, Z2, A2, W1, W2 = cache
    dZ2 = A2 - Y
    dW2 = 1. / m * np.dot(dZ2, A1.T)
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = dA1 * (1 - A1 ** 2)
    dW1 = 1. / m * np.dot(dZ1, X.T)
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
