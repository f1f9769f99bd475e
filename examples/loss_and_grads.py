"""A two-layer softmax classifier as one function ``loss(params) -> (loss, grads)``, the way
scipy's ``minimize(..., jac=True)`` wants it: row-major data (examples x features),
``(H,)`` biases, grads keyed like the parameters.

``make_loss(X, y)`` is called with the case's data, and the function it returns with the
parameters; mutating ``make_loss`` mutates that function with it:

    gcverify check examples/loss_and_grads.py --convention loss-and-grads \\
        --forward make_loss --case make_case
    gcverify mutate examples/loss_and_grads.py --convention loss-and-grads \\
        --forward make_loss --case make_case
"""

import numpy as np


def make_case(seed=0):
    """(X, y, params): 6 examples, 4 features, 5 hidden units, 3 classes."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((6, 4))
    y = rng.integers(0, 3, size=6)
    params = {"W1": rng.standard_normal((4, 5)) * 0.3, "b1": np.zeros(5),
              "W2": rng.standard_normal((5, 3)) * 0.3, "b2": np.zeros(3)}
    return X, y, params


def make_loss(X, y, reg=0.05):
    """The loss of the classifier on (X, y) as a function of its parameters alone."""
    def loss(params):
        N = X.shape[0]
        hidden = np.maximum(0, X.dot(params["W1"]) + params["b1"])
        scores = hidden.dot(params["W2"]) + params["b2"]
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)
        data_loss = -np.sum(np.log(probs[np.arange(N), y])) / N
        total = data_loss + 0.5 * reg * (np.sum(params["W1"] ** 2)
                                         + np.sum(params["W2"] ** 2))
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads = {"W2": hidden.T.dot(dscores) + reg * params["W2"],
                 "b2": np.sum(dscores, axis=0)}
        dhidden = dscores.dot(params["W2"].T) * (hidden > 0)
        grads["W1"] = X.T.dot(dhidden) + reg * params["W1"]
        grads["b1"] = np.sum(dhidden, axis=0)
        return total, grads
    return loss
