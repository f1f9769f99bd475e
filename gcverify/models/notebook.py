"""The "Gradient Checking" notebook, reproduced exactly.

Same names, same signatures, same numbers as the notebook (and its helper modules
``gc_utils`` and ``testCases``). The notebook is the specification of the basics,
so its behaviour is kept *even where it is flawed*; each flaw is documented where
it lives, and :func:`gcverify.check_backprop` is the checker that does better.

>>> X, Y, parameters = gradient_check_n_test_case()
>>> cost, cache = forward_propagation_n(X, Y, parameters)
>>> gradients = backward_propagation_n_buggy(X, Y, cache)
>>> round(gradient_check_n(parameters, gradients, X, Y), 9)      # BLAS-independent digits
0.285093157
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gcverify.params import ParamLayout, gradient_key

__all__ = [
    "NOTEBOOK_LAYOUT",
    "backward_propagation",
    "backward_propagation_n",
    "backward_propagation_n_buggy",
    "dictionary_to_vector",
    "forward_propagation",
    "forward_propagation_n",
    "gradient_check",
    "gradient_check_n",
    "gradient_check_n_test_case",
    "gradients_to_vector",
    "relu",
    "sigmoid",
    "vector_to_dictionary",
]

#: The notebook's network 4-5-3-1: 47 parameters in the order W1, b1, W2, b2, W3, b3.
NOTEBOOK_LAYOUT = ParamLayout(
    ("W1", "b1", "W2", "b2", "W3", "b3"),
    ((5, 4), (5, 1), (3, 5), (3, 1), (1, 3), (1, 1)),
)

_THRESHOLD = 2e-7
_MISTAKE = "\033[93mThere is a mistake in the backward propagation! difference = {}\033[0m"
_FINE = "\033[92mYour backward propagation works perfectly fine! difference = {}\033[0m"


# --- gc_utils -----------------------------------------------------------------------

def sigmoid(x: Any) -> Any:
    """Logistic function ``1 / (1 + exp(-x))``, as in ``gc_utils``.

    Flaw kept: ``np.exp(-x)`` overflows (with a warning) for ``x < -709``.

    >>> float(sigmoid(0.0))
    0.5
    """
    s = 1 / (1 + np.exp(-x))
    return s


def relu(x: Any) -> Any:
    """``max(0, x)`` elementwise, as in ``gc_utils``.

    >>> relu(np.array([-1.0, 2.0]))
    array([0., 2.])
    """
    s = np.maximum(0, x)
    return s


def dictionary_to_vector(parameters: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """Stack W1, b1, W2, b2, W3, b3 into one ``(n, 1)`` column, and name each entry.

    Returns ``(theta, keys)`` where ``keys[i]`` is the block of ``theta[i]``.

    >>> theta, keys = dictionary_to_vector(gradient_check_n_test_case()[2])
    >>> theta.shape, keys[20]
    ((47, 1), 'b1')
    """
    blocks = {name: parameters[name] for name in NOTEBOOK_LAYOUT.names}
    layout = ParamLayout.from_parameters(blocks)
    return layout.flatten(blocks).reshape(-1, 1), layout.entry_names()


def vector_to_dictionary(theta: np.ndarray) -> dict[str, np.ndarray]:
    """Unroll a 47-entry vector into the notebook's parameter dict (views of ``theta``).

    Flaw kept: the shapes are hard-coded for the 4-5-3-1 network.

    >>> vector_to_dictionary(np.arange(47.0).reshape(-1, 1))["b3"]
    array([[46.]])
    """
    return NOTEBOOK_LAYOUT.unflatten(theta)


def gradients_to_vector(gradients: dict[str, np.ndarray]) -> np.ndarray:
    """Stack dW1, db1, dW2, db2, dW3, db3 into one ``(n, 1)`` column.

    Other keys (dZ1, dA1, ...) are ignored.

    >>> grads = {gradient_key(name): np.ones(shape)
    ...          for name, shape in zip(NOTEBOOK_LAYOUT.names, NOTEBOOK_LAYOUT.shapes)}
    >>> gradients_to_vector(grads).shape
    (47, 1)
    """
    blocks = {name: gradients[gradient_key(name)] for name in NOTEBOOK_LAYOUT.names}
    return ParamLayout.from_parameters(blocks).flatten(blocks).reshape(-1, 1)


# --- testCases ----------------------------------------------------------------------

def gradient_check_n_test_case() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The notebook's test case: X (4, 3), Y (3,), and the 4-5-3-1 parameters, seed 1.

    Flaw kept: it reseeds numpy's *global* random generator (``np.random.seed(1)``),
    as the original does; the numbers depend on that exact stream.

    >>> X, Y, parameters = gradient_check_n_test_case()
    >>> X.shape, Y.tolist(), parameters["W2"].shape
    ((4, 3), [1, 1, 0], (3, 5))
    """
    np.random.seed(1)
    x = np.random.randn(4, 3)
    y = np.array([1, 1, 0])
    W1 = np.random.randn(5, 4)
    b1 = np.random.randn(5, 1)
    W2 = np.random.randn(3, 5)
    b2 = np.random.randn(3, 1)
    W3 = np.random.randn(1, 3)
    b3 = np.random.randn(1, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    return x, y, parameters


# --- 1-dimensional gradient checking ---------------------------------------------------

def forward_propagation(x: float, theta: float) -> float:
    """``J(theta) = theta * x``.

    >>> forward_propagation(2, 4)
    8
    """
    J = theta * x
    return J


def backward_propagation(x: float, theta: float) -> float:
    """``dJ/dtheta = x``.

    >>> backward_propagation(3, 4)
    3
    """
    dtheta = x
    return dtheta


def _difference(grad: Any, gradapprox: Any) -> float:
    """The notebook's relative difference ``|g - a| / (|g| + |a|)``.

    Flaw kept: it is ``nan`` when both are zero, and noise over noise (about 1) when
    the true gradient is zero.
    """
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return float(numerator / denominator)


def _print_verdict(difference: float) -> None:
    # Flaw kept: ``nan > 2e-7`` is False, so a NaN difference prints "perfectly fine".
    if difference > _THRESHOLD:
        print(_MISTAKE.format(difference))
    else:
        print(_FINE.format(difference))


def gradient_check(x: float, theta: float, epsilon: float = 1e-7,
                   print_msg: bool = False) -> float:
    """Compare ``backward_propagation`` with a central difference of step ``epsilon``.

    Returns the relative difference as a Python float.

    >>> gradient_check(3, 4)
    7.814075313343006e-11
    """
    theta_plus = theta + epsilon
    theta_minus = theta - epsilon
    J_plus = forward_propagation(x, theta_plus)
    J_minus = forward_propagation(x, theta_minus)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)

    grad = backward_propagation(x, theta)
    difference = _difference(grad, gradapprox)
    if print_msg:
        _print_verdict(difference)
    return difference


# --- N-dimensional gradient checking ---------------------------------------------------

def forward_propagation_n(X: np.ndarray, Y: np.ndarray,
                          parameters: dict[str, np.ndarray]) -> tuple[float, tuple[Any, ...]]:
    """LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID, and the cross-entropy cost.

    Returns ``(cost, cache)`` with ``cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3,
    W3, b3)``.

    Flaw kept: the cost is written naively, ``-log(A3)`` and ``-log(1 - A3)``; when
    the output saturates ``1 - A3`` loses its digits, and from ``Z3 > 36.7`` it is
    exactly 0, so the cost is inf (or nan where ``Y = 1``: ``inf * 0``). :class:`gcverify.MLP` with ``cost="stable"`` computes the same
    cost from the logits.

    >>> X, Y, parameters = gradient_check_n_test_case()
    >>> round(float(forward_propagation_n(X, Y, parameters)[0]), 6)
    2.407833
    """
    m = X.shape[1]
    W1 = parameters["W1"]
    b1 = parameters["b1"]
    W2 = parameters["W2"]
    b2 = parameters["b2"]
    W3 = parameters["W3"]
    b3 = parameters["b3"]

    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)

    log_probs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)
    cost = 1. / m * np.sum(log_probs)

    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)
    return cost, cache


def backward_propagation_n(X: np.ndarray, Y: np.ndarray, cache: tuple[Any, ...]) -> dict[str, Any]:
    """The correct backward pass of :func:`forward_propagation_n`.

    Returns the notebook's dict: ``dZ3, dW3, db3, dA2, dZ2, dW2, db2, dA1, dZ1, dW1,
    db1``.

    Flaw kept: the ReLU mask is ``A > 0``, i.e. the subgradient 0 at a kink; a
    central difference straddling the kink sees the average of both sides.

    >>> X, Y, parameters = gradient_check_n_test_case()
    >>> gradients = backward_propagation_n(X, Y, forward_propagation_n(X, Y, parameters)[1])
    >>> gradients["dW2"].shape
    (3, 5)
    """
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache

    dZ3 = A3 - Y
    dW3 = 1. / m * np.dot(dZ3, A2.T)
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)

    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1. / m * np.dot(dZ2, A1.T)
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)

    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T)
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)

    gradients = {"dZ3": dZ3, "dW3": dW3, "db3": db3,
                 "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
                 "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}
    return gradients


def backward_propagation_n_buggy(X: np.ndarray, Y: np.ndarray, cache: tuple[Any, ...]) -> dict[str, Any]:
    """The notebook's backward pass *with its two planted bugs*.

    ``dW2`` is multiplied by 2 and ``db1`` uses ``4. / m`` instead of ``1. / m``;
    :func:`gradient_check_n` reports 0.2850931567761623 for it.

    >>> X, Y, parameters = gradient_check_n_test_case()
    >>> cache = forward_propagation_n(X, Y, parameters)[1]
    >>> good, bad = backward_propagation_n(X, Y, cache), backward_propagation_n_buggy(X, Y, cache)
    >>> bool(np.allclose(bad["dW2"], 2 * good["dW2"]))
    True
    """
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache

    dZ3 = A3 - Y
    dW3 = 1. / m * np.dot(dZ3, A2.T)
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)

    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1. / m * np.dot(dZ2, A1.T) * 2
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)

    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T)
    db1 = 4. / m * np.sum(dZ1, axis=1, keepdims=True)

    gradients = {"dZ3": dZ3, "dW3": dW3, "db3": db3,
                 "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
                 "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}
    return gradients


def gradient_check_n(parameters: dict[str, np.ndarray], gradients: dict[str, Any],
                     X: np.ndarray, Y: np.ndarray, epsilon: float = 1e-7,
                     print_msg: bool = False) -> float:
    """The notebook's N-dimensional check: central differences, one global difference.

    Returns ``|grad - gradapprox| / (|grad| + |gradapprox|)`` as a Python float.

    Flaws kept (measured, see the README): with ``epsilon=1e-7`` the rounding of the
    naive cost alone can push a correct backprop over the 2e-7 threshold; a NaN
    difference prints "works perfectly fine"; a kink under the step, or a true
    gradient of zero, is judged like any other point; and one global difference can
    hide a wrong block whose share of the gradient is small.

    >>> X, Y, parameters = gradient_check_n_test_case()
    >>> gradients = backward_propagation_n(X, Y, forward_propagation_n(X, Y, parameters)[1])
    >>> gradient_check_n(parameters, gradients, X, Y) < 2e-7
    True
    """
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)

    num_parameters = parameters_values.shape[0]
    J_plus = np.zeros((num_parameters, 1))
    J_minus = np.zeros((num_parameters, 1))
    gradapprox = np.zeros((num_parameters, 1))

    for i in range(num_parameters):
        theta_plus = np.copy(parameters_values)
        theta_plus[i][0] += epsilon
        J_plus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_plus))

        theta_minus = np.copy(parameters_values)
        theta_minus[i][0] -= epsilon
        J_minus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_minus))

        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)

    difference = _difference(grad, gradapprox)
    if print_msg:
        _print_verdict(difference)
    return difference
