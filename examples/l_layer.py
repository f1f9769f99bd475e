"""An L-layer network in the deep-learning course's style, with L2 and dropout variants.

``L_model_forward(X, parameters) -> (AL, caches)``, ``compute_cost(AL, Y)`` and
``L_model_backward(AL, Y, caches) -> grads`` (with ``dA0`` among the grads), built from
``linear_forward``, ``linear_activation_forward`` and their backward counterparts.
ReLU hidden layers, a sigmoid output, column layout.

    gcverify check examples/l_layer.py --convention l-layer --forward L_model_forward \\
        --cost compute_cost --backward L_model_backward --layers 5,4,3,1

With dropout (the masks drawn alike on every pass) and with L2 regularisation:

    gcverify check examples/l_layer.py --convention l-layer --forward L_model_forward \\
        --cost compute_cost --backward L_model_backward --layers 5,4,3,1 --keep-prob 0.8
    gcverify check examples/l_layer.py --convention l-layer --forward L_model_forward \\
        --cost compute_cost_with_regularization \\
        --backward L_model_backward_with_regularization --layers 5,4,3,1 --lambd 0.7

Mutated: ``L_model_backward`` by default (its dropout lines only matter with
``--keep-prob``), or the helper or cost function ``--mutate`` names:

    gcverify mutate examples/l_layer.py --convention l-layer --forward L_model_forward \\
        --cost compute_cost --backward L_model_backward --layers 5,4,3,1 --keep-prob 0.8
    gcverify mutate examples/l_layer.py --convention l-layer --forward L_model_forward \\
        --cost compute_cost --backward L_model_backward --layers 5,4,3,1 \\
        --mutate sigmoid_backward
"""

import numpy as np


def initialize_parameters_deep(layer_dims, seed=3):
    rng = np.random.default_rng(seed)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = rng.standard_normal(
            (layer_dims[l], layer_dims[l - 1])) / np.sqrt(layer_dims[l - 1])
        parameters["b" + str(l)] = rng.standard_normal((layer_dims[l], 1)) * 0.1
    return parameters


def make_case(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((5, 6))
    Y = (rng.random((1, 6)) > 0.5).astype(float)
    return X, Y, initialize_parameters_deep([5, 4, 3, 1], seed)


def linear_forward(A, W, b):
    Z = W.dot(A) + b
    return Z, (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = linear_forward(A_prev, W, b)
    if activation == "sigmoid":
        A = 1 / (1 + np.exp(-Z))
    else:
        A = np.maximum(0, Z)
    return A, (linear_cache, Z)


def L_model_forward(X, parameters, keep_prob=None):
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters["W" + str(l)],
                                             parameters["b" + str(l)], "relu")
        mask = None
        if keep_prob is not None:
            mask = np.random.rand(*A.shape) < keep_prob
            A = A * mask / keep_prob
        caches.append((cache, mask))
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)],
                                          parameters["b" + str(L)], "sigmoid")
    caches.append((cache, None))
    return AL, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m
    return np.squeeze(cost)


def compute_cost_with_regularization(AL, Y, parameters, lambd):
    m = Y.shape[1]
    L = len(parameters) // 2
    l2 = sum(np.sum(np.square(parameters["W" + str(l)])) for l in range(1, L + 1))
    return compute_cost(AL, Y) + lambd / (2 * m) * l2


def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = 1. / m * np.dot(dZ, A_prev.T)
    db = 1. / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def relu_backward(dA, Z):
    return dA * (Z > 0)


def sigmoid_backward(dA, Z):
    s = 1 / (1 + np.exp(-Z))
    return dA * s * (1 - s)


def linear_activation_backward(dA, cache, activation):
    linear_cache, Z = cache
    if activation == "relu":
        dZ = relu_backward(dA, Z)
    else:
        dZ = sigmoid_backward(dA, Z)
    return linear_backward(dZ, linear_cache)


def L_model_backward(AL, Y, caches, keep_prob=None):
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    cache, _ = caches[L - 1]
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = \
        linear_activation_backward(dAL, cache, "sigmoid")
    for l in reversed(range(L - 1)):
        cache, mask = caches[l]
        dA = grads["dA" + str(l + 1)]
        if mask is not None:
            dA = dA * mask / keep_prob
        grads["dA" + str(l)], grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = \
            linear_activation_backward(dA, cache, "relu")
    return grads


def L_model_backward_with_regularization(AL, Y, caches, lambd):
    grads = L_model_backward(AL, Y, caches)
    m = Y.shape[1]
    for l, (cache, _) in enumerate(caches, start=1):
        (A_prev, W, b), Z = cache
        grads["dW" + str(l)] = grads["dW" + str(l)] + lambd / m * W
    return grads
