"""A small network in the notebook's convention, for campaign, CLI and report tests.

Its ReLU mask is written on Z, so that ``Z1 > 0`` -> ``Z1 >= 0`` is an equivalent
mutant on continuous inputs (on the notebook's ``A1 > 0`` it is a real bug).
"""

import numpy as np


def forward(X, Y, parameters):
    m = X.shape[1]
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    Z1 = np.dot(W1, X) + b1
    A1 = np.maximum(0, Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = 1 / (1 + np.exp(-Z2))
    cost = 1. / m * np.sum(Y * np.logaddexp(0, -Z2) + (1 - Y) * np.logaddexp(0, Z2))
    return cost, (Z1, A1, W1, b1, Z2, A2, W2, b2)


def backward(X, Y, cache):
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2) = cache
    dZ2 = A2 - Y
    dW2 = 1. / m * np.dot(dZ2, A1.T)
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(Z1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T)
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def case():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((3, 4))
    Y = np.array([0, 1, 1, 0])
    parameters = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal((4, 1)),
                  "W2": rng.standard_normal((1, 4)), "b2": rng.standard_normal((1, 1))}
    return X, Y, parameters
