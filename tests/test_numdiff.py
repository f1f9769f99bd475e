"""Numerical derivatives as ``gcverify.numdiff`` documents them, on real functions.

Steps that make ``(theta + h) - theta == h``; central differences whose error bars
cover the true derivative of smooth functions; the cost's noise recovered from many
coordinates or from irregular probes (where a staircase cannot pass for a slope); kinks
told from noise; fourth differences exact on cubics; complex steps merged with the
central estimates. (``tests/test_mutmut_numdiff.py`` pins the exact constants of the
same formulas on dyadic numbers; this file is about what they are for.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gcverify.numdiff import (
    DEFAULT_STEP,
    EPS,
    NOISE_IN_FOURTH,
    PROBE_OFFSETS,
    STENCIL,
    Derivatives,
    central_derivatives,
    central_difference,
    complex_step_estimates,
    fourth_differences,
    matches_one_side,
    probe_noise,
    rounding_noise,
    step_sizes,
    third_derivative,
)

# Rounding theta + h to theta's grid moves h by at most ulp(theta + h) / 2, which is
# about EPS / DEFAULT_STEP (4e-11) of h: the default step is exact only to that share.
STEP_ROUNDING = 1e-10

SMOOTH = {
    "sin": (np.sin, np.cos),
    "exp": (np.exp, np.exp),
    "cubic": (lambda t: t**3 - 2 * t**2 + 0.5 * t - 1, lambda t: 3 * t**2 - 4 * t + 0.5),
    "quartic": (lambda t: t**4 - t, lambda t: 4 * t**3 - 1),
}


def stencil_costs(J, theta, h):
    """``J0 = J(theta)`` and the ``(n, 4)`` costs ``J(theta + t h_i e_i)``, t in STENCIL."""
    rows = []
    for i in range(theta.size):
        row = []
        for t in STENCIL:
            point = theta.copy()
            point[i] += t * h[i]
            row.append(J(point))
        rows.append(row)
    return J(theta), np.array(rows)


def separable(f):
    """The cost ``sum_i f(theta_i)``: its derivative along ``e_i`` is ``f'(theta_i)``."""
    return lambda theta: float(np.sum(f(theta)))


# --- step_sizes ---------------------------------------------------------------------------

@pytest.mark.parametrize("theta", [0.0, 1e-3, -0.5, 1.0, -3.0, 100.0, 0.1 + 0.2, -1e6, 1e-300])
def test_the_default_step_is_relative_and_exact(theta):
    h = step_sizes(np.array([theta]), None)[0]
    assert (theta + h) - theta == h
    assert h == pytest.approx(DEFAULT_STEP * max(1.0, abs(theta)), rel=STEP_ROUNDING, abs=0)


@given(st.floats(-1e300, 1e300), st.sampled_from([1.0, 4.0, 16.0]))
def test_every_default_step_is_exact_positive_and_about_scale_times_cbrt_eps(theta, scale):
    h = step_sizes(np.array([theta]), None, scale)[0]
    assert h > 0 and (theta + h) - theta == h
    assert h == pytest.approx(scale * DEFAULT_STEP * max(1.0, abs(theta)),
                              rel=STEP_ROUNDING, abs=0)


def test_at_zero_the_default_step_is_cbrt_eps_times_the_scale_exactly():
    assert DEFAULT_STEP == np.cbrt(EPS)
    assert step_sizes(np.zeros(3), None).tolist() == [DEFAULT_STEP] * 3
    assert step_sizes(np.zeros(1), None, 4.0).tolist() == [4.0 * DEFAULT_STEP]


def test_an_absolute_epsilon_is_used_as_given_for_every_coordinate():
    # The notebook's step: not rounded to theta's grid ((3 + 1e-7) - 3 != 1e-7).
    theta = np.array([3.0, 0.0, -1e6])
    assert step_sizes(theta, 1e-7).tolist() == [1e-7, 1e-7, 1e-7]
    assert (3.0 + 1e-7) - 3.0 != 1e-7


# --- central_derivatives: the estimate and its error bar ----------------------------------

@pytest.mark.parametrize("name", list(SMOOTH))
def test_the_value_is_the_notebooks_central_difference(name):
    f = SMOOTH[name][0]
    theta, h = np.array([0.3, -1.2, 2.0]), np.array([1e-7, 1e-4, 1e-2])
    J0, costs = stencil_costs(separable(f), theta, h)
    d = central_derivatives(J0, costs, h)
    plus = [separable(f)(theta + h[i] * np.eye(3)[i]) for i in range(3)]
    minus = [separable(f)(theta - h[i] * np.eye(3)[i]) for i in range(3)]
    assert d.value.tolist() == ((np.array(plus) - np.array(minus)) / (2 * h)).tolist()


@given(st.sampled_from(list(SMOOTH)), st.integers(-48, 48), st.integers(2, 26))
def test_the_error_bar_covers_the_true_derivative_of_a_smooth_function(name, k, j):
    # Dyadic points and steps: theta + t h is exact, only the function itself rounds.
    f, df = SMOOTH[name]
    theta, h = k / 16, 2.0**-j
    costs = np.array([[f(theta + t * h) for t in STENCIL]])
    d = central_derivatives(f(theta), costs, np.array([h]))
    assert abs(d.value[0] - df(theta)) <= d.error[0]
    assert d.finite.tolist() == [True] and d.rough.tolist() == [False]


@pytest.mark.parametrize("scale", [1.0, 4.0, 64.0])
@pytest.mark.parametrize("name", list(SMOOTH))
def test_the_error_bars_cover_the_derivatives_at_the_default_steps(name, scale):
    f, df = SMOOTH[name]
    theta = np.linspace(-2.9, 2.7, 12)
    h = step_sizes(theta, None, scale)
    d = central_derivatives(*stencil_costs(separable(f), theta, h), h)
    assert np.all(np.abs(d.value - df(theta)) <= d.error)
    assert np.all(d.error < 1e-6 * scale**2 + 1e-8)        # and they are tight


@pytest.mark.parametrize("sigma", [1e-10, 1e-6])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_pooled_noise_recovers_a_known_gaussian_sigma(sigma, seed):
    rng = np.random.default_rng(seed)
    n, h = 300, 1e-3
    slopes = rng.uniform(-1, 1, n)
    J0 = 1.0 + sigma * rng.standard_normal()
    costs = 1.0 + slopes[:, None] * STENCIL * h + sigma * rng.standard_normal((n, 4))
    d = central_derivatives(J0, costs, np.full(n, h))
    assert sigma / 2 < d.noise < 2 * sigma
    assert not d.rough.any()
    assert np.all(np.abs(d.value - slopes) <= d.error)


def kinked_cost(kink_at):
    """``sum_i sin(theta_i) + |theta_0 - kink_at|``: one kink, on coordinate 0."""
    return lambda theta: float(np.sum(np.sin(theta)) + abs(theta[0] - kink_at))


@pytest.mark.parametrize("offset", [0.0, 0.5, -1.5], ids=["at theta", "half a step", "1.5 steps"])
def test_a_kink_under_the_stencil_is_rough_unless_kinks_are_known(offset):
    theta = np.linspace(-1.0, 1.0, 20)
    h = step_sizes(theta, None)
    J0, costs = stencil_costs(kinked_cost(theta[0] + offset * h[0]), theta, h)
    unknown = central_derivatives(J0, costs, h)
    assert unknown.rough.tolist() == [True] + [False] * 19
    known = central_derivatives(J0, costs, h, noisy=np.arange(20) != 0)
    assert not known.rough.any()
    # The kink is not taken for noise: the smooth coordinates keep tight bars.
    assert unknown.noise < 1e-14 and known.noise < 1e-14
    assert np.all(unknown.error[1:] < 1e-8)


@pytest.mark.parametrize(("f", "theta", "h"), [
    pytest.param(np.log, 1e-6, 1e-6, id="log of 0 and of negatives"),
    pytest.param(np.exp, 709.5, 0.25, id="exp overflows"),
    pytest.param(lambda t: 1 / (t - 0.5), 0.5 + 2.0**-10, 2.0**-10, id="a pole"),
])
def test_non_finite_costs_are_flagged_with_an_infinite_error_bar(f, theta, h):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        costs = np.array([[f(theta + t * h) for t in STENCIL], [1.0, 2.0, 4.0, 5.0]])
        d = central_derivatives(float(f(theta)), costs, np.array([h, 1.0]))
    assert math.isfinite(f(theta))                 # only the stencil leaves the domain
    assert d.finite.tolist() == [False, True]      # only that coordinate is lost
    assert d.error[0] == math.inf and not d.rough[0]


def test_a_non_finite_cost_at_theta_leaves_nothing_finite():
    costs = np.array([[1.0, 2.0, 4.0, 5.0]])
    d = central_derivatives(math.nan, costs, np.array([1.0]))
    assert (d.finite.tolist(), d.error.tolist()) == ([False], [math.inf])


@pytest.mark.parametrize("floor", [1e-12, 1e-9, 1e-6])
def test_a_noise_floor_raises_the_error_bars_to_three_sigma_over_h(floor):
    theta = np.array([0.1, 0.7, -1.3])
    h = step_sizes(theta, None)
    J0, costs = stencil_costs(separable(np.sin), theta, h)
    quiet = central_derivatives(J0, costs, h)
    floored = central_derivatives(J0, costs, h, noise_floor=floor)
    assert floored.noise == floor
    assert np.all(floored.error >= 3 * floor / h)
    assert np.all(floored.error >= quiet.error)
    assert floored.value.tolist() == quiet.value.tolist()


# --- matches_one_side ---------------------------------------------------------------------

ONE_SIDED = [
    # (cost with a kink at 0, its left slope, its right slope)
    pytest.param(lambda t: max(t, 0.0), 0.0, 1.0, id="relu"),
    pytest.param(lambda t: max(t, 0.01 * t), 0.01, 1.0, id="leaky relu"),
    pytest.param(lambda t: t * t + 2 * abs(t) + 1, -2.0, 2.0, id="curved abs"),
    pytest.param(lambda t: math.exp(t) if t > 0 else 1 + 3 * t, 3.0, 1.0, id="exp and a line"),
]


@pytest.mark.parametrize(("J", "left", "right"), ONE_SIDED)
def test_at_a_kink_either_one_sided_derivative_matches_and_nothing_between(J, left, right):
    h = 2.0**-12
    costs = np.array([[J(t * h) for t in STENCIL]] * 4)
    analytic = np.array([left, right, (left + right) / 2, left + 2 * (right - left)])
    assert matches_one_side(J(0.0), costs, np.full(4, h), analytic, 0.0).tolist() == [
        True, True, False, False]


def test_on_a_smooth_cost_the_derivative_matches_one_side():
    theta, h = 0.4, 2.0**-12
    costs = np.array([[math.sin(theta + t * h) for t in STENCIL]] * 2)
    analytic = np.array([math.cos(theta), math.cos(theta) + 1e-3])
    assert matches_one_side(math.sin(theta), costs, np.full(2, h), analytic, 0.0).tolist() == [
        True, False]


# --- probe_noise --------------------------------------------------------------------------

@pytest.mark.parametrize("sigma", [1e-12, 1e-9, 1e-5])
def test_probe_noise_recovers_a_known_sigma_on_cubics(sigma):
    # 40 rows (coordinates), each a different cubic through the same J(theta) = 1.
    rng = np.random.default_rng(7)
    cubics = 1.0 + rng.standard_normal((40, 3)) @ np.vander(PROBE_OFFSETS, 4)[:, :3].T
    J0 = 1.0 + sigma * rng.standard_normal()
    costs = cubics + sigma * rng.standard_normal(cubics.shape)
    assert sigma / 2 < probe_noise(J0, costs) < 2 * sigma


@pytest.mark.parametrize("J", [
    pytest.param(lambda t: 1.0 + 0.5 * t, id="linear"),
    pytest.param(lambda t: 2.0 - t + 0.25 * t**3, id="cubic"),
])
def test_probe_noise_of_a_smooth_cost_is_rounding_only(J):
    h = 2.0**-10
    costs = np.array([[J(t * h) for t in PROBE_OFFSETS]])
    # A rounding-level answer; its last bits come from LAPACK's least squares, which each
    # BLAS kernel rounds its own way (Nehalem's gives 7 EPS here, SkylakeX's under 4).
    assert probe_noise(J(0.0), costs) < 64 * EPS


def test_a_staircase_that_drifts_linearly_on_the_stencil_is_caught_by_the_probes():
    # A cost rounded to steps of q with slope 1.25 q / h: on the equally spaced stencil
    # the rounding drifts linearly (0, +-q, +-2q), so the fourth difference is 0 and the
    # central difference is 20 % off with a tiny error bar. The irregular probes see
    # the steps, and three of their sigmas over h cover the 20 %.
    q, h = 2.0**-20, 2.0**-10
    slope = 1.25 * q / h

    def J(theta):
        return q * np.round(slope * theta / q)

    d = central_derivatives(J(0.0), np.array([[J(t * h) for t in STENCIL]]), np.array([h]))
    assert d.fourth.tolist() == [0.0]
    assert abs(d.value[0] - slope) > d.error[0]                   # fooled
    sigma = probe_noise(J(0.0), np.array([[J(t * h) for t in PROBE_OFFSETS]]))
    assert 0.1 * q < sigma < q
    assert abs(d.value[0] - slope) <= d.error[0] + 3 * sigma / h


# --- fourth_differences and rounding_noise ------------------------------------------------

@given(st.lists(st.integers(-1000, 1000), min_size=4, max_size=4), st.integers(-1000, 1000),
       st.integers(-50, 50))
def test_fourth_differences_vanish_on_cubics_and_are_24_a4_on_quartics(coefficients, start,
                                                                       a4):
    t = np.arange(start, start + 5, dtype=np.float64)
    cubic = np.polyval(np.array(coefficients, dtype=np.float64), t)
    quartic = cubic + a4 * t**4
    values = np.column_stack([cubic, quartic])
    assert fourth_differences(values).tolist() == [0.0, 24.0 * a4]
    assert rounding_noise(values).tolist() == [0.0, 24.0 * abs(a4) / NOISE_IN_FOURTH]


@pytest.mark.parametrize("shape", [(5,), (5, 3), (5, 2, 4)])
def test_fourth_differences_run_along_the_first_axis(shape):
    values = np.arange(math.prod(shape), dtype=np.float64).reshape(shape) ** 2
    expected = values[0] - 4 * values[1] + 6 * values[2] - 4 * values[3] + values[4]
    assert fourth_differences(values).shape == shape[1:]
    assert np.array_equal(fourth_differences(values), expected)


@pytest.mark.parametrize(("column", "sigma"), [
    pytest.param([0.0, 0.0, 1.0, 0.0, 0.0], 6 / math.sqrt(70), id="a spike at the centre"),
    pytest.param([1.0, 0.0, 0.0, 0.0, 0.0], 1 / math.sqrt(70), id="a spike at the end"),
    pytest.param([0.0, 0.0, math.nan, 0.0, 0.0], math.inf, id="nan"),
    pytest.param([math.inf, 0.0, 0.0, 0.0, 0.0], math.inf, id="inf"),
    pytest.param([math.inf] * 5, math.inf, id="inf - inf"),
])
def test_rounding_noise_is_the_fourth_difference_over_sqrt_70_and_never_nan(column, sigma):
    values = np.column_stack([column, [1.0, 2.0, 3.0, 4.0, 5.0]])
    with np.errstate(invalid="ignore"):
        result = rounding_noise(values)
    assert result.tolist() == [pytest.approx(sigma, rel=1e-15), 0.0]


# --- complex_step_estimates ---------------------------------------------------------------

def f(t):
    return np.exp(t) * np.sin(t)


def df(t):
    return np.exp(t) * (np.sin(t) + np.cos(t))


def complex_case(theta):
    """Central estimates of ``sum f(theta_i)`` and its complex steps ``Im f(t + ih) / h``."""
    h = step_sizes(theta, None)
    central = central_derivatives(*stencil_costs(separable(f), theta, h), h)
    return central, np.imag(f(theta + 1e-20j)) / 1e-20


def test_the_complex_step_of_a_complex_safe_cost_is_exact_to_the_last_digits():
    theta = np.linspace(-2.0, 2.0, 9)
    central, values = complex_case(theta)
    merged = complex_step_estimates(values, central)
    assert (merged.follows, merged.disagreeing) == (True, 0)
    np.testing.assert_allclose(merged.value, df(theta), rtol=1e-14, atol=0)
    assert np.all(np.abs(merged.value - df(theta)) <= merged.error)
    assert np.all(merged.error < 1e-3 * central.error)             # far tighter bars


@pytest.mark.parametrize("values", [
    pytest.param(lambda theta: np.zeros_like(theta), id="imaginary part dropped"),
    pytest.param(lambda theta: 1e-9 * np.ones_like(theta), id="nonsense"),
])
def test_a_cost_whose_imaginary_part_ignores_the_derivative_does_not_follow(values):
    theta = np.linspace(-2.0, 2.0, 9)
    central, _ = complex_case(theta)
    merged = complex_step_estimates(values(theta), central)
    assert merged.follows is False


def test_where_nothing_moves_the_complex_step_cannot_be_refuted():
    # A stationary point: every central value is within its error bar of 0, so even
    # complex values that disagree everywhere do not show the cost is unsafe.
    central = central_derivatives(1.0, np.ones((3, 4)), np.full(3, 1e-3))
    merged = complex_step_estimates(np.full(3, 5.0), central)
    assert (merged.follows, merged.disagreeing) == (True, 3)
    assert merged.value.tolist() == [0.0, 0.0, 0.0]


def test_disagreeing_coordinates_keep_the_central_estimate_and_are_counted():
    theta = np.linspace(-2.0, 2.0, 9)
    central, values = complex_case(theta)
    wrong = values.copy()
    wrong[[2, 5]] += 1e-3                                          # far beyond the bars
    merged = complex_step_estimates(wrong, central)
    assert (merged.follows, merged.disagreeing) == (True, 2)
    assert merged.value[[2, 5]].tolist() == central.value[[2, 5]].tolist()
    assert merged.error[[2, 5]].tolist() == central.error[[2, 5]].tolist()
    kept = np.delete(np.arange(9), [2, 5])
    assert merged.value[kept].tolist() == wrong[kept].tolist()


def test_where_the_central_estimate_is_unusable_the_complex_step_is_taken():
    costs = np.array([[0.0, 1.0, 3.0, 4.0], [0.0, np.nan, 3.0, 4.0]])
    central = central_derivatives(2.0, costs, np.array([1.0, 1.0]))
    merged = complex_step_estimates(np.array([1.0, 7.0]), central)
    assert central.finite.tolist() == [True, False] and math.isnan(central.value[1])
    assert merged.value.tolist() == [1.0, 7.0]
    assert merged.disagreeing == 0 and merged.error[1] < 1e-12


def test_at_a_rough_coordinate_the_complex_step_is_taken():
    theta = np.linspace(-1.0, 1.0, 20)
    h = step_sizes(theta, None)
    central = central_derivatives(*stencil_costs(kinked_cost(theta[0]), theta, h), h)
    values = np.cos(theta)
    values[0] = 10.0                   # far outside the central bar: not a disagreement
    merged = complex_step_estimates(values, central)
    assert central.rough[0] and abs(central.value[0] - 10.0) > central.error[0]
    assert (merged.value[0], merged.disagreeing, merged.follows) == (10.0, 0, True)


def hand_made(value, error):
    """Central derivatives with exactly these values and error bars (all finite, smooth)."""
    value, error = np.asarray(value, dtype=float), np.asarray(error, dtype=float)
    flags = np.zeros(value.shape, dtype=bool)
    return Derivatives(value, error, flags, ~flags, np.zeros(value.shape))


def test_the_complex_step_error_bar_is_64_ulps_of_the_value_and_the_rms():
    values = np.array([-3.0, 1.0, 2.0])
    merged = complex_step_estimates(values, hand_made(values, [1.0, 1.0, 1.0]))
    rms = math.sqrt((9 + 1 + 4) / 3)
    assert merged.error.tolist() == [64 * EPS * (abs(v) + rms) for v in values]


def test_agreement_and_movement_are_judged_at_their_boundaries():
    # |complex - central| equal to the central bar agrees; a central value equal to its
    # bar does not "move", so a disagreeing complex value there cannot refute safety.
    agree = complex_step_estimates(np.array([0.0]), hand_made([0.5], [0.5]))
    assert agree.disagreeing == 0 and agree.value.tolist() == [0.0]
    still = complex_step_estimates(np.array([9.0]), hand_made([0.5], [0.5]))
    assert still.follows is True and still.disagreeing == 1


def test_fourth_differences_of_overflowing_or_undefined_values_raise_no_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(fourth_differences(np.array([np.inf, 0.0, 0.0, 0.0, -np.inf])))
        assert np.isinf(fourth_differences(np.array([1e308, 0.0, -1e308, 0.0, 0.0])))


# --- the stencils the rest of the package reads through numdiff ---------------------------

@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_the_central_difference_is_the_derivative_to_second_order(name):
    J, dJ = SMOOTH[name]
    for h in (1e-2, 5e-3):
        # The truncation error is about h^2 |J'''| / 6, and |J'''| <= 17 at 0.7 here.
        error = abs(central_difference(J(0.7 - h), J(0.7 + h), h) - dJ(0.7))
        assert error <= 3 * h**2
    values = central_difference(np.array([J(0.7 - 1e-3)]), np.array([J(0.7 + 1e-3)]), 1e-3)
    assert values.shape == (1,) and abs(values[0] - dJ(0.7)) <= 3e-6


def test_the_third_derivative_is_exact_on_cubics_and_close_on_smooth_functions():
    cubic = SMOOTH["cubic"][0]                         # third derivative 6 everywhere
    h = 0.125                                          # dyadic: no rounding at all
    costs = np.array([[cubic(theta + t * h) for t in STENCIL] for theta in (0.0, 0.5)])
    assert third_derivative(costs, h).tolist() == [6.0, 6.0]
    h = 1e-2
    costs = np.array([[np.sin(0.3 + t * h) for t in STENCIL]])
    assert third_derivative(costs, h)[0] == pytest.approx(-np.cos(0.3), rel=1e-3)
