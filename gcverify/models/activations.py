"""Hidden-layer activations of the reference network, with their derivatives and kinks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["ACTIVATIONS", "LEAKY_SLOPE", "Activation"]

#: Slope of leaky ReLU for negative inputs.
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """An elementwise activation ``A = forward(Z)`` and its derivative ``dA/dZ``.

    ``derivative(Z, A)`` receives both, since most derivatives are cheapest from the
    output (``1 - A**2`` for tanh). ``kinks`` lists the inputs where the function is
    not differentiable; a finite difference straddling one of them is not a
    derivative.

    >>> ACTIVATIONS["tanh"].derivative(np.zeros(1), np.zeros(1))
    array([1.])
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]
    kinks: tuple[float, ...] = ()
    #: The same as ``forward``, but may overwrite its argument (saves memory traffic
    #: on large batches whose pre-activations are not needed afterwards).
    forward_inplace: Callable[[np.ndarray], np.ndarray] | None = None

    def apply_inplace(self, Z: np.ndarray) -> np.ndarray:
        """``forward(Z)``, reusing ``Z``'s memory where the activation allows it."""
        return (self.forward_inplace or self.forward)(Z)


def _relu(Z: np.ndarray) -> np.ndarray:
    return np.maximum(0, Z)


def _relu_inplace(Z: np.ndarray) -> np.ndarray:
    return np.maximum(Z, 0, out=Z)


def _tanh_inplace(Z: np.ndarray) -> np.ndarray:
    return np.tanh(Z, out=Z)


def _relu_derivative(Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    # The notebook's mask, bit for bit: the subgradient at 0 is 0.
    return np.int64(A > 0)


def _leaky_relu(Z: np.ndarray) -> np.ndarray:
    return np.where(Z > 0, Z, LEAKY_SLOPE * Z)


def _leaky_relu_derivative(Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    return np.where(Z > 0, 1.0, LEAKY_SLOPE)


def _tanh_derivative(Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    return 1 - A**2


def _sigmoid(Z: np.ndarray) -> np.ndarray:
    # The tanh form never overflows, unlike 1 / (1 + exp(-Z)) for Z < -709.
    return 0.5 * (1 + np.tanh(0.5 * Z))


def _sigmoid_derivative(Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    return A * (1 - A)


def _linear(Z: np.ndarray) -> np.ndarray:
    return Z


def _linear_derivative(Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    return np.ones_like(Z)


ACTIVATIONS: dict[str, Activation] = {
    activation.name: activation
    for activation in (
        Activation("relu", _relu, _relu_derivative, kinks=(0.0,), forward_inplace=_relu_inplace),
        Activation("leaky_relu", _leaky_relu, _leaky_relu_derivative, kinks=(0.0,)),
        Activation("tanh", np.tanh, _tanh_derivative, forward_inplace=_tanh_inplace),
        Activation("sigmoid", _sigmoid, _sigmoid_derivative),
        Activation("linear", _linear, _linear_derivative),
    )
}
