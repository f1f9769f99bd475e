"""The backward pass's rounding probe, pinned against its own description.

These tests were written to kill mutmut's survivors in ``gcverify/backward_noise.py``
(``.ci/mutmut``); each states a rule of :func:`backward_rounding`'s docstring: the
backward pass runs at five points ``theta + t d`` (t = -2..2) along a direction drawn
with ``seed`` and scaled by ``max(1, |theta|)`` times 1e-5, then 1e-7, then 1e-9 while
the forward's cache shows a kink (each cached value judged against ``rounding_scale``
when given, else the largest value of its array); sigma is the fourth difference's
rounding, raised to its block's root mean square; the user's code gets fresh copies of
``X`` and ``Y``; an error of the user's code, a non-finite sigma or a kink at every
length gives None (unknown), and any other exception is the user's own.
"""

from __future__ import annotations

import numpy as np
import pytest

from gcverify import InvalidArgument
from gcverify.backward_noise import backward_rounding
from gcverify.evaluate import cache_moves_non_smoothly, cache_scale, cache_vector
from gcverify.numdiff import rounding_noise
from gcverify.params import ParamLayout

LAYOUT = ParamLayout(("W", "b"), ((2, 3), (2,)))
# |theta| above and below 1, so the direction's max(1, |theta|) scaling shows.
THETA = np.array([0.3, -2.5, 1.25, 4.0, -0.6, 0.05, 3.0, -0.2])
X = np.array([[1.0, 2.0], [0.5, -1.0]])
Y = np.array([[1.0, 0.0]])


def forward(X, Y, p):
    """A smooth forward that also writes into its inputs (after reading them)."""
    cost = float(np.sum(p["W"] ** 2) * X.sum() + np.sum(p["b"]) * Y.sum())
    cache = {"W": p["W"] * X.sum(), "b": p["b"] + Y.sum()}
    X *= 2.0
    Y += 1.0
    return cost, cache


def backward(X, Y, cache):
    """A gradient with rounding-like wiggles of about 1e-12, different per coordinate."""
    gradients = {"dW": cache["W"] ** 2 / X.sum() + 1e-12 * np.sin(1e9 * cache["W"]),
                 "db": cache["b"] * Y.sum() + 3e-12 * np.cos(1e9 * cache["b"])}
    X[...] = 0.0
    return gradients


def expected(forward, backward, X, Y, layout, theta, seed, scale=None):
    """The rule, written out: (sigma, the probe length used), or None."""
    rng = np.random.default_rng(seed)
    for relative in (1e-5, 1e-7, 1e-9):
        direction = rng.standard_normal(theta.size) * np.maximum(1.0, np.abs(theta)) * relative
        points = [forward(X.copy(), Y.copy(), layout.unflatten(theta + t * direction))[1]
                  for t in (-2.0, -1.0, 0.0, 1.0, 2.0)]
        gradients = np.stack([layout.flatten_gradients(backward(X.copy(), Y.copy(), cache))
                              for cache in points])
        caches = [cache_vector(cache) for cache in points]
        if cache_moves_non_smoothly(caches, cache_scale(points[-1]) if scale is None
                                    else scale):
            continue
        sigma = rounding_noise(gradients)
        rms = [np.sqrt(np.mean(sigma[start:stop] ** 2))
               for start, stop in zip(layout.offsets, layout.offsets[1:])]
        return np.maximum(sigma, np.repeat(rms, layout.sizes)), relative
    return None


def probe(forward=forward, backward=backward, seed=3, scale=None, theta=THETA):
    X_, Y_ = X.copy(), Y.copy()
    sigma = backward_rounding(forward, backward, X_, Y_, LAYOUT, theta.copy(), seed, scale)
    assert X_.tolist() == X.tolist() and Y_.tolist() == Y.tolist()   # fresh copies each call
    return sigma


def assert_same(sigma, want):
    # Equal to the rule's value up to the order of a sum's terms (last bits).
    assert sigma is not None
    np.testing.assert_allclose(sigma, want, rtol=1e-12, atol=0)


def test_sigma_is_the_fourth_differences_rounding_raised_to_its_blocks_rms():
    sigma = probe()
    want, relative = expected(forward, backward, X, Y, LAYOUT, THETA, 3)
    assert relative == 1e-5
    assert_same(sigma, want)
    # The wiggles differ per coordinate, so the block floor raises some but not all.
    assert 0 < np.sum(sigma > rounding_noise_only()) < sigma.size
    assert np.all(sigma > 1e-14) and np.all(sigma < 1e-10)


def rounding_noise_only():
    """Sigma before the block floor, from the same probe."""
    rng = np.random.default_rng(3)
    direction = rng.standard_normal(THETA.size) * np.maximum(1.0, np.abs(THETA)) * 1e-5
    return rounding_noise(np.stack([
        LAYOUT.flatten_gradients(backward(X.copy(), Y.copy(), forward(
            X.copy(), Y.copy(), LAYOUT.unflatten(THETA + t * direction))[1]))
        for t in (-2.0, -1.0, 0.0, 1.0, 2.0)]))


def test_the_direction_is_drawn_with_the_seed():
    assert probe(seed=3).tolist() == probe(seed=3).tolist()
    assert probe(seed=4).tolist() != probe(seed=3).tolist()
    assert_same(probe(seed=4), expected(forward, backward, X, Y, LAYOUT, THETA, 4)[0])


def kinked_at(distance):
    """A forward whose cache has |b[0] - c| with a kink ``distance`` above theta's b[0]."""
    def kinked(X, Y, p):
        cost, cache = forward(X, Y, p)
        cache["kink"] = np.abs(p["b"][:1] - (THETA[6] + distance))
        return cost, cache
    return kinked


def test_a_direction_that_crosses_a_kink_is_shortened_until_it_does_not():
    # b[0] = 3 moves by up to 2 * 3 * |n| * 1e-5 ~ 1e-4 in the first probe, 1e-6 in the
    # second: a kink 2e-5 away is crossed by the first only.
    kinked = kinked_at(-2e-5)
    want, relative = expected(kinked, backward, X, Y, LAYOUT, THETA, 3)
    assert relative == 1e-7
    assert_same(probe(kinked), want)


def test_a_kink_at_every_length_leaves_the_rounding_unknown():
    assert probe(kinked_at(0.0)) is None


def noisy_beside_a_large_value(X, Y, p):
    """A cached array whose small value wiggles by 1e-14: a kink judged against its own
    size (1e-3), rounding judged against its array's largest value (1e6)."""
    cost, cache = forward(X, Y, p)
    b0 = p["b"][0]
    cache["mixed"] = np.array([1e6, 1e-3 * b0 + 1e-14 * np.sin(1e9 * b0)])
    return cost, cache


def test_each_cached_value_is_judged_against_its_arrays_largest_value_by_default():
    want, relative = expected(noisy_beside_a_large_value, backward, X, Y, LAYOUT, THETA, 3)
    assert relative == 1e-5
    assert_same(probe(noisy_beside_a_large_value), want)
    # Judged against its own size only, it would be a kink at every length:
    rng = np.random.default_rng(3)
    direction = rng.standard_normal(THETA.size) * np.maximum(1.0, np.abs(THETA)) * 1e-5
    caches = [cache_vector(noisy_beside_a_large_value(X.copy(), Y.copy(), LAYOUT.unflatten(
        THETA + t * direction))[1]) for t in (-2.0, -1.0, 0.0, 1.0, 2.0)]
    assert cache_moves_non_smoothly(caches)


def noisy_alone(X, Y, p):
    cost, cache = forward(X, Y, p)
    b0 = p["b"][0]
    cache["alone"] = np.array([1e-3 * b0 + 1e-14 * np.sin(1e9 * b0)])
    return cost, cache


def cache_size(forward):
    return cache_vector(forward(X.copy(), Y.copy(), LAYOUT.unflatten(THETA))[1]).size


def test_a_given_rounding_scale_is_what_cached_values_are_judged_against():
    assert probe(noisy_alone) is None                           # its own size: kinks
    scale = np.full(cache_size(noisy_alone), 1e6)
    want, relative = expected(noisy_alone, backward, X, Y, LAYOUT, THETA, 3, scale)
    assert relative == 1e-5
    assert_same(probe(noisy_alone, scale=scale), want)
    # ... and it replaces the arrays' own largest values: judged against a tiny scale,
    # the wiggle beside 1e6 is a kink at every length.
    tiny = np.full(cache_size(noisy_beside_a_large_value), 1e-300)
    assert probe(noisy_beside_a_large_value, scale=tiny) is None


def failing_at_call(number, error):
    calls = []

    def failing(X, Y, cache):
        calls.append(1)
        if len(calls) == number:
            raise error
        return backward(X, Y, cache)
    return failing


@pytest.mark.parametrize("error", [
    pytest.param(InvalidArgument("gradients['dW'].shape=(3,) does not match"), id="invalid"),
    pytest.param(ZeroDivisionError("division by zero"), id="arithmetic"),
    pytest.param(FloatingPointError("overflow"), id="floating point"),
    pytest.param(ValueError("shapes not aligned"), id="value"),
    pytest.param(TypeError("unsupported operand"), id="type"),
])
def test_an_error_of_the_users_code_leaves_the_rounding_unknown(error):
    assert probe(backward=failing_at_call(3, error)) is None

    def raising_forward(X, Y, p):
        raise error
    assert probe(raising_forward) is None


def test_any_other_exception_is_the_users_own():
    with pytest.raises(KeyError, match="dZ9"):
        probe(backward=failing_at_call(2, KeyError("dZ9")))


def test_a_gradient_of_the_wrong_shape_leaves_the_rounding_unknown():
    def wrong_shape(X, Y, cache):
        gradients = backward(X, Y, cache)
        gradients["db"] = gradients["db"][:1]
        return gradients
    assert probe(backward=wrong_shape) is None


def test_a_non_finite_gradient_at_one_point_leaves_the_rounding_unknown():
    calls = []

    def overflows_once(X, Y, cache):
        calls.append(1)
        gradients = backward(X, Y, cache)
        if len(calls) == 4:
            gradients["dW"][0, 1] = np.inf
        return gradients
    assert probe(backward=overflows_once) is None
