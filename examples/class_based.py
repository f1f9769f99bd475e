"""A class-based two-layer net in the CS231n style: ``net.params`` and ``net.loss(X, y,
reg) -> (loss, grads)``; row-major data, ``(H,)`` biases.

Checked, and mutated (``TwoLayerNet.loss``, the method the model's ``net.loss`` runs),
from the command line; with ``TwoLayerNet(4, 4, 3)`` the 4 x 4 ``W1`` makes a
transposed gradient a bug of the right shape:

    gcverify check examples/class_based.py --convention model \\
        --model "TwoLayerNet(4, 5, 3)" --case make_data
    gcverify mutate examples/class_based.py --convention model \\
        --model "TwoLayerNet(4, 5, 3)" --case make_data
    gcverify mutate examples/class_based.py --convention model \\
        --model "TwoLayerNet(4, 4, 3)" --case make_data
"""

import numpy as np


class TwoLayerNet:
    """affine - relu - affine - softmax."""

    def __init__(self, input_size, hidden_size, output_size, std=0.3, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {"W1": std * rng.standard_normal((input_size, hidden_size)),
                       "b1": np.zeros(hidden_size),
                       "W2": std * rng.standard_normal((hidden_size, output_size)),
                       "b2": np.zeros(output_size)}

    def loss(self, X, y, reg=0.05):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        N = X.shape[0]
        hidden = np.maximum(0, X.dot(W1) + b1)
        scores = hidden.dot(W2) + b2
        scores = scores - np.max(scores, axis=1, keepdims=True)
        exp = np.exp(scores)
        probs = exp / exp.sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(N), y]).mean() + 0.5 * reg * (
            np.sum(W1 * W1) + np.sum(W2 * W2))
        dscores = probs
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads = {}
        grads["W2"] = hidden.T.dot(dscores) + reg * W2
        grads["b2"] = np.sum(dscores, axis=0)
        dhidden = dscores.dot(W2.T)
        dhidden[hidden <= 0] = 0
        grads["W1"] = X.T.dot(dhidden) + reg * W1
        grads["b1"] = np.sum(dhidden, axis=0)
        return loss, grads


def make_data(seed=1):
    """(X, y) for a 4-feature, 3-class problem."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((7, 4)), rng.integers(0, 3, size=7)
