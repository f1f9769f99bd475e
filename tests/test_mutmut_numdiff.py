"""Numerical derivatives to the last bit: error bars, noise, one-sided slopes, probes.

The costs here are dyadic numbers (``h = 2**-10``, small integers), so every
subtraction is exact and each formula of ``gcverify.numdiff`` can be checked for its
exact value, rather than within a tolerance that would let a wrong constant through.
These tests were written to kill mutmut's survivors in ``gcverify/numdiff.py``
(``.ci/mutmut``); each states a rule of the module's docstrings.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from gcverify.numdiff import (
    PROBE_OFFSETS,
    STENCIL,
    central_derivatives,
    matches_one_side,
    probe_noise,
)

EPS = float(np.finfo(np.float64).eps)
SQRT70 = math.sqrt(70.0)
H = 2.0**-10


def stencil(J, theta=0.0, h=H):
    """One row of costs ``J(theta + t h)`` for ``t`` in STENCIL."""
    return [J(theta + t * h) for t in STENCIL]


# --- central_derivatives: exact error bars ----------------------------------------------------

@pytest.mark.parametrize(("J0", "expected"), [
    # Linear cost: no truncation, a fourth difference of exactly 0, so the bar is the
    # floor: 3 sigma / h with sigma = eps |J0| (one unit in the last place), plus
    # eps max(1, |J0|) (no derivative is resolved below that).
    (4.0, 3 * 4.0 * EPS / H + 4.0 * EPS),
    (0.5, 3 * 0.5 * EPS / H + 1.0 * EPS),
    (0.0, EPS),
])
def test_a_linear_cost_has_the_rounding_floor_as_its_error_bar(J0, expected):
    d = central_derivatives(J0, np.array([stencil(lambda t: 3 * t + J0)]), np.array([H]))
    assert d.value.tolist() == [3.0]
    assert d.fourth.tolist() == [0.0]
    assert d.error.tolist() == [pytest.approx(expected, rel=1e-15, abs=0)]
    assert d.rough.tolist() == [False] and d.finite.tolist() == [True]
    assert d.noise == pytest.approx(EPS * J0, rel=1e-15, abs=0)


def test_pooled_noise_sets_the_bars_of_the_quiet_coordinates():
    # Kinks known elsewhere (noisy given): every coordinate's fourth difference enters
    # the pool; sigma_i = max(|fourth_i|, rms of the pool) / sqrt(70).
    costs = np.array([[0.0, 0.0, 0.0, 2.0],      # fourth difference 2
                      [0.0, 0.0, 0.0, 0.0]])     # quiet
    h = np.array([0.5, 0.5])
    d = central_derivatives(0.0, costs, h, noisy=np.array([True, True]))
    pooled = math.sqrt((2.0**2 + 0.0**2) / 2)
    assert d.value.tolist() == [0.0, 0.0]
    assert d.fourth.tolist() == [2.0, 0.0]
    assert d.error == pytest.approx([1.0 + 3 * (2 / SQRT70) / 0.5 + EPS,
                                     3 * (pooled / SQRT70) / 0.5 + EPS], rel=1e-14, abs=0)
    assert d.noise == pytest.approx(pooled / SQRT70, rel=1e-14, abs=0)


def test_without_a_pool_the_floor_remains():
    costs = np.array([[0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    d = central_derivatives(0.0, costs, np.array([0.5, 0.5]), noisy=np.array([False, False]))
    assert d.error == pytest.approx([1.0 + 3 * (2 / SQRT70) / 0.5 + EPS, EPS], rel=1e-14,
                                    abs=0)
    assert d.noise == 0.0


def test_the_typical_noise_is_the_median_fourth_difference_of_a_gaussian():
    # Not told where the kinks are: the typical noise is median(|fourth| > 0) /
    # (0.674 sqrt(70)), the median of |N(0, 70 sigma^2)|.
    costs = np.array([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    d = central_derivatives(0.0, costs, np.array([0.5, 0.5]))
    typical = 1 / (0.674 * SQRT70)
    assert d.rough.tolist() == [False, False]
    assert d.noise == pytest.approx(typical, rel=1e-14, abs=0)
    assert d.error == pytest.approx([0.5 + 3 * typical / 0.5 + EPS,
                                     3 * typical / 0.5 + EPS], rel=1e-14, abs=0)


def test_a_measured_noise_floor_is_kept():
    costs = np.array([[0.0, 0.0, 0.0, 0.0]])
    d = central_derivatives(0.0, costs, np.array([0.5]), noise_floor=0.25)
    assert d.noise == 0.25
    assert d.error.tolist() == [pytest.approx(3 * 0.25 / 0.5 + EPS, rel=1e-15, abs=0)]


def test_a_fourth_difference_far_above_the_typical_one_is_rough():
    quiet = [[0.0, 0.0, 0.0, 1e-12]] * 9
    d = central_derivatives(0.0, np.array([*quiet, [0.0, 0.0, 0.0, 1.0]]), np.full(10, 0.5))
    assert d.rough.tolist() == [False] * 9 + [True]
    # The rough coordinate keeps its own, larger bar.
    assert d.error[-1] == pytest.approx(0.5 + 3 * (1 / SQRT70) / 0.5 + EPS, rel=1e-14, abs=0)


def test_only_coordinates_with_a_non_finite_cost_are_non_finite():
    costs = np.array([[0.0, np.nan, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [np.inf, 0.0, 0.0, 0.0]])
    d = central_derivatives(0.0, costs, np.full(3, 0.5))
    assert d.finite.tolist() == [False, True, False]
    assert d.error[0] == math.inf and d.error[2] == math.inf
    assert d.error[1] == EPS


@pytest.mark.parametrize("J0", [math.nan, math.inf])
def test_a_non_finite_cost_at_theta_makes_every_derivative_non_finite(J0):
    d = central_derivatives(J0, np.zeros((2, 4)), np.full(2, 0.5))
    assert d.finite.tolist() == [False, False]
    assert d.error.tolist() == [math.inf, math.inf]
    assert d.noise == 0.0                      # no noise level is claimed for it


# --- numpy stays quiet -----------------------------------------------------------------------

NOISY_COSTS = [
    [np.inf, np.inf, np.inf, np.inf],          # inf - inf: invalid
    [-1e308, -1e308, 1e308, 1e308],            # differences overflow
]


@pytest.mark.parametrize("costs", NOISY_COSTS, ids=["invalid", "overflow"])
def test_numerical_derivatives_never_warn(costs):
    costs = np.array([costs])
    with warnings.catch_warnings(), np.errstate(all="warn"):
        warnings.simplefilter("error")
        central_derivatives(1e308, costs, np.array([0.5]))
        matches_one_side(1e308, costs, np.array([0.5]), np.array([1.0]), 0.0)


# --- matches_one_side --------------------------------------------------------------------------

def kink(c):
    """|t| + c around t = 0 (a kink at theta), with dyadic costs."""
    return np.array([stencil(lambda t: abs(t) + c)])


@pytest.mark.parametrize(("c", "analytic", "noise", "expected"), [
    (1.0, 1.0, 0.0, True),                     # the right slope
    (1.0, -1.0, 0.0, True),                    # the left slope
    (1.0, 0.0, 0.0, False),                    # neither
    (1.0, 0.5, 0.0, False),
    # Exactly at the rounding bar eps max(1, |J0|) is a match; beyond it is not.
    (0.0, 1.0 + EPS, 0.0, True),
    (0.0, 1.0 + 2 * EPS, 0.0, False),
    (0.0, -1.0 - EPS, 0.0, True),
    (0.0, -1.0 - 2 * EPS, 0.0, False),
    (1024.0, 1.0 + 512 * EPS, 0.0, True),      # the bar grows with |J0|
    (1024.0, 1.0 + 2048 * EPS, 0.0, False),
    # With noise sigma, the bar is 8 sigma / h (+ eps): 2**-27 for sigma = 2**-40.
    (0.0, 1.0 + 2.0**-28, 2.0**-40, True),
    (0.0, 1.0 + 17 * 2.0**-31, 2.0**-40, False),
], ids=lambda value: repr(value))
def test_one_sided_slopes_match_within_their_rounding(c, analytic, noise, expected):
    result = matches_one_side(c, kink(c), np.array([H]), np.array([analytic]), noise)
    assert result.tolist() == [expected]


def test_one_sided_estimates_are_second_order():
    # A quadratic on each side: J = t^2 + 3t (right), t^2 - 5t (left). The second-order
    # one-sided differences give the slopes at 0 exactly: 3 and -5.
    def J(t):
        return t * t + (3 * t if t > 0 else -5 * t)

    # Their error bars are the distance to the first-order differences: h here.
    costs = np.array([stencil(J)] * 4)
    analytic = np.array([3.0, -5.0, 3.0 + 2 * H, -5.0 - 2 * H])
    assert matches_one_side(0.0, costs, np.full(4, H), analytic, 0.0).tolist() == [
        True, True, False, False]


# --- probe_noise ---------------------------------------------------------------------------------

def test_probe_noise_is_the_rms_residual_of_a_cubic_fit_with_its_degrees_of_freedom():
    t = np.concatenate([[0.0], PROBE_OFFSETS])
    design = np.vander(t, 4)
    z = 1e-6 * np.array([0.3, -1.0, 0.2, 0.7, -0.5, 0.1, 0.9, -0.8, 0.4])
    residual = z - design @ np.linalg.lstsq(design, z, rcond=None)[0]   # no cubic in it
    # Two rows through J0 = 1 at offset 0, each a cubic plus a multiple of the residual
    # (shifted by a constant, which the cubic absorbs); a row with a NaN is left out.
    shifted = residual - residual[0]
    rows = np.array([1 + 0.1 * t + shifted, 1 - t**2 + 0.5 * t**3 + 2 * shifted])
    with_nan = np.vstack([rows[:, 1:], [np.nan] * 8])
    expected = math.sqrt((1 + 4) * np.sum(residual**2) / (2 * (t.size - 4)))
    assert probe_noise(1.0, with_nan) == pytest.approx(expected, rel=1e-6, abs=0)


def test_probe_noise_without_a_finite_row_is_zero():
    assert probe_noise(1.0, np.full((3, 8), np.nan)) == 0.0
