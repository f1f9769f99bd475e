"""Layer functions on row-major data (examples x features), composed in a ``loss``: the
``affine_forward``/``relu_backward`` style. ``loss(X, y, params) -> (loss, grads)``.

    gcverify check examples/row_major.py --convention loss-and-grads --layout rows \\
        --forward loss --layers 4,5,3

Mutated: ``loss`` by default, or the layer functions it calls (``affine_backward``,
``relu_backward``, ``softmax_loss``), checked through ``loss``: ``--mutate`` names one,
and repeated names several, here all four in one campaign:

    gcverify mutate examples/row_major.py --convention loss-and-grads --layout rows \\
        --forward loss --layers 4,5,3 --mutate loss --mutate affine_backward \\
        --mutate relu_backward --mutate softmax_loss
"""

import numpy as np


def affine_forward(x, w, b):
    out = x.dot(w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = dout.dot(w.T)
    dw = x.T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def softmax_loss(scores, y):
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    N = scores.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dscores = np.exp(log_probs)
    dscores[np.arange(N), y] -= 1
    dscores /= N
    return loss, dscores


def loss(X, y, params):
    hidden, cache1 = affine_forward(X, params["W1"], params["b1"])
    activated, cache_relu = relu_forward(hidden)
    scores, cache2 = affine_forward(activated, params["W2"], params["b2"])
    data_loss, dscores = softmax_loss(scores, y)
    dactivated, dW2, db2 = affine_backward(dscores, cache2)
    dhidden = relu_backward(dactivated, cache_relu)
    _, dW1, db1 = affine_backward(dhidden, cache1)
    return data_loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def make_case(seed=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((8, 4))
    y = rng.integers(0, 3, size=8)
    params = {"W1": 0.4 * rng.standard_normal((4, 5)), "b1": 0.1 * rng.standard_normal(5),
              "W2": 0.4 * rng.standard_normal((5, 3)), "b2": 0.1 * rng.standard_normal(3)}
    return X, y, params
