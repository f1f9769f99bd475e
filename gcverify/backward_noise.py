"""The backward pass's own rounding: how far an analytic gradient is from exact.

When the output saturates, ``A3 - Y`` loses relative precision, so the *analytic*
gradient, not the numerical one, can be off by about 1e-6 relative. Before a FAIL is
reported, :func:`backward_rounding` measures that rounding, so that a mismatch it
explains is not called a bug.

>>> from gcverify.models import notebook as nb
>>> from gcverify.params import ParamLayout
>>> X, Y, p = nb.gradient_check_n_test_case()
>>> layout = ParamLayout.from_parameters(p)
>>> sigma = backward_rounding(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
...                           layout, layout.flatten(p), seed=0)
>>> sigma.shape, bool(sigma.max() < 1e-12)
((47,), True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gcverify.errors import InvalidArgument
from gcverify.evaluate import cache_moves_non_smoothly, cache_scale, cache_vector
from gcverify.numdiff import rounding_noise
from gcverify.params import ParamLayout

__all__ = ["backward_rounding"]

# Relative lengths of the probe direction, tried in turn until it crosses no kink.
_PROBE_LENGTHS = (1e-5, 1e-7, 1e-9)
# The five points of the probe, in multiples of the direction.
_PROBE_POINTS = (-2.0, -1.0, 0.0, 1.0, 2.0)


def backward_rounding(forward: Callable[..., Any], backward: Callable[..., Any],
                      X: np.ndarray, Y: np.ndarray, layout: ParamLayout, theta: np.ndarray,
                      seed: int | None,
                      rounding_scale: np.ndarray | None = None) -> np.ndarray | None:
    """Rounding sigma of each analytic derivative at ``theta``, or None if unknown.

    The backward pass is run at five points along a random direction (drawn with
    ``seed``); a smooth gradient has a negligible fourth difference there, so what
    remains is rounding. The direction must not cross a kink (watched in the
    forward's cache, each value judged against ``rounding_scale`` when given, else its
    array's size); shorter directions are tried if it does. One fourth difference
    per coordinate is a noisy estimate: each coordinate gets at least the root mean
    square of its block.
    """
    rng = np.random.default_rng(seed)
    for relative in _PROBE_LENGTHS:
        direction = rng.standard_normal(theta.size) * np.maximum(1.0, np.abs(theta)) * relative
        gradients, caches = [], []
        try:
            for t in _PROBE_POINTS:
                _, cache = forward(X.copy(), Y.copy(), layout.unflatten(theta + t * direction))
                caches.append(cache_vector(cache))
                gradients.append(layout.flatten_gradients(backward(X.copy(), Y.copy(), cache)))
        except (InvalidArgument, ArithmeticError, ValueError, TypeError):
            return None
        scale = rounding_scale if rounding_scale is not None else cache_scale(cache)
        if cache_moves_non_smoothly(caches, scale):
            continue
        sigma = rounding_noise(np.stack(gradients))
        if not np.all(np.isfinite(sigma)):
            return None
        block_rms = np.sqrt(np.add.reduceat(sigma**2, layout.offsets[:-1]) / layout.sizes)
        return np.maximum(sigma, block_rms[layout.block_ids])
    return None
