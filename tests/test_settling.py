"""Which coordinates settle after theta ± h, and the error bars of those that do:
``gcverify.settling``'s rules, with exact numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gcverify.numdiff import EPS, STENCIL, central_derivatives
from gcverify.params import ParamLayout
from gcverify.settling import AUDITED_AT_LEAST, merge_settled, settling_tolerances


def test_the_tolerance_is_a_sixteenth_of_a_fail_spread_over_the_block():
    layout = ParamLayout(("W", "b"), ((40, 10), (3,)))
    analytic = np.concatenate([np.full(400, 0.5), [3.0, 0.0, 4.0]])
    tolerance = settling_tolerances(layout, np.arange(403), analytic, 2e-7, seed=0)
    # W: ||g|| = 0.5 sqrt(400) = 10 over 400 coordinates; 2e-7 * 10 / (8 * 20).
    assert set(tolerance[:400].tolist()) == {-1.0, 2e-7 * 10 / (8 * 20)}
    assert tolerance[400:].tolist() == [-1.0, -1.0, -1.0]         # b: 3 <= 32, all audited


@pytest.mark.parametrize(("size", "audited"), [(1, 1), (32, 32), (33, 32), (1024, 32),
                                               (1025, 33), (4096, 128)])
def test_each_block_audits_max_32_and_a_32nd_of_its_coordinates(size, audited):
    layout = ParamLayout(("W",), ((size,),))
    tolerance = settling_tolerances(layout, np.arange(size), np.ones(size), 2e-7, seed=3)
    assert int((tolerance < 0).sum()) == audited
    assert AUDITED_AT_LEAST == 32


def test_the_audit_counts_the_evaluated_coordinates_of_each_block_and_follows_the_seed():
    layout = ParamLayout(("W", "V"), ((2000,), (100,)))
    index = np.concatenate([np.arange(0, 2000, 2), np.arange(2000, 2100)])   # 1000 of W
    analytic = np.ones(index.size)
    first = settling_tolerances(layout, index, analytic, 2e-7, seed=1)
    assert int((first[:1000] < 0).sum()) == 32 and int((first[1000:] < 0).sum()) == 32
    assert first[:1000].max() == 2e-7 * math.sqrt(1000) / (8 * math.sqrt(1000))
    again = settling_tolerances(layout, index, analytic, 2e-7, seed=1)
    other = settling_tolerances(layout, index, analytic, 2e-7, seed=2)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_a_non_finite_analytic_value_never_settles_and_does_not_poison_its_block():
    layout = ParamLayout(("W",), ((100,),))
    analytic = np.ones(100)
    analytic[7] = np.nan
    tolerance = settling_tolerances(layout, np.arange(100), analytic, 2e-7, seed=0)
    assert tolerance[7] == -1.0
    assert tolerance.max() == 2e-7 * math.sqrt(99) / (8 * 10)


def quadratic_costs(theta, h, curvature=0.5, cubic=0.0):
    """Stencil costs of J(t) = curvature t^2 + cubic t^3 around each theta."""
    points = theta[:, None] + h[:, None] * STENCIL
    return curvature * points**2 + cubic * points**3


def test_with_nothing_settled_the_derivatives_are_central_derivatives_exactly():
    theta, h = np.linspace(-1, 1, 6), np.full(6, 1e-3)
    costs = quadratic_costs(theta, h, cubic=0.3)
    kinks = np.array([False, True, False, False, False, False])
    nothing = np.zeros(6, dtype=bool)
    merged = merge_settled(0.0, costs, h, kinks, nothing, np.ones(6, bool), np.zeros(6, int))
    expected = central_derivatives(0.0, costs, h, ~kinks)
    for name in ("value", "error", "rough", "finite", "fourth"):
        assert np.array_equal(getattr(merged, name), getattr(expected, name)), name
    assert merged.noise == expected.noise
    unknown = merge_settled(0.0, costs, h, None, nothing, np.ones(6, bool), np.zeros(6, int))
    assert np.array_equal(unknown.rough, central_derivatives(0.0, costs, h).rough)


def test_settled_rows_get_d1_and_the_pooled_bar_of_their_block():
    theta = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    h = np.full(6, 2.0**-8)
    J0 = 1.0
    costs = quadratic_costs(theta, h, cubic=1.0)
    settled = np.array([False, False, True, False, False, True])
    costs[settled, 0] = costs[settled, 3] = np.nan          # never evaluated
    blocks = np.array([0, 0, 0, 1, 1, 1])
    kinks = np.zeros(6, dtype=bool)
    audited = ~settled
    merged = merge_settled(J0, costs, h, kinks, settled, audited, blocks)
    d1 = (costs[:, 2] - costs[:, 1]) / (2 * h)
    d2 = (costs[:, 3] - costs[:, 0]) / (4 * h)
    assert np.array_equal(merged.value, d1)
    full = central_derivatives(J0, costs[~settled], h[~settled], np.ones(4, bool))
    assert np.array_equal(merged.error[~settled], full.error)
    truncation = np.abs(d1 - d2)
    for row, block_rows in ((2, [0, 1]), (5, [3, 4])):
        pooled = math.sqrt(np.mean(truncation[block_rows] ** 2))
        assert merged.error[row] == pytest.approx(
            pooled + 3 * full.noise / h[row] + EPS, rel=1e-12)
    assert merged.finite.all() and not merged.rough.any()
    assert merged.fourth[settled].tolist() == [0.0, 0.0]


def test_a_settled_row_of_a_block_without_smooth_full_rows_gets_the_overall_pool():
    theta, h = np.array([0.1, 0.2, 0.3]), np.full(3, 2.0**-8)
    costs = quadratic_costs(theta, h, cubic=1.0)
    settled = np.array([False, False, True])
    costs[2, [0, 3]] = np.nan
    kinks = np.array([False, True, False])                  # block 1's only full row
    merged = merge_settled(0.0, costs, h, kinks, settled, ~settled, np.array([0, 1, 1]))
    d1 = (costs[0, 2] - costs[0, 1]) / (2 * h[0])
    d2 = (costs[0, 3] - costs[0, 0]) / (4 * h[0])
    noise = merged.noise
    assert merged.error[2] == pytest.approx(abs(d1 - d2) + 3 * noise / h[2] + EPS, rel=1e-12)


def test_a_settled_row_with_a_non_finite_cost_is_not_finite():
    theta, h = np.array([0.1, 0.2]), np.full(2, 2.0**-8)
    costs = quadratic_costs(theta, h)
    settled = np.array([False, True])
    costs[1, [0, 3]] = np.nan
    costs[1, 2] = np.inf
    merged = merge_settled(0.0, costs, h, np.zeros(2, bool), settled, ~settled,
                           np.zeros(2, int))
    assert merged.finite.tolist() == [True, False]
    nonfinite_base = merge_settled(np.inf, quadratic_costs(theta, h), h, np.zeros(2, bool),
                                   settled, ~settled, np.zeros(2, int))
    assert not nonfinite_base.finite.any()


def test_a_settled_rows_truncation_bar_is_at_most_its_own_tolerance():
    # One strongly curved audited row makes the pooled bar wide; a settled row, whose
    # |g - D1| is within its tolerance, keeps a bar no wider than that tolerance.
    theta, h = np.array([0.1, 0.2, 0.3]), np.full(3, 2.0**-8)
    costs = quadratic_costs(theta, h, cubic=1.0)
    costs[0] = quadratic_costs(theta[:1], h[:1], cubic=1e6)[0]
    settled = np.array([False, False, True])
    costs[2, [0, 3]] = np.nan
    args = (0.0, costs, h, np.zeros(3, bool), settled, ~settled, np.zeros(3, int))
    wide = merge_settled(*args)
    tolerance = np.array([-1.0, -1.0, 1e-9])
    capped = merge_settled(*args, tolerance)
    floor = 3 * capped.noise / h[2] + EPS
    assert wide.error[2] > 1e-6
    assert capped.error[2] == pytest.approx(1e-9 + floor, rel=1e-12)
    assert np.array_equal(capped.error[:2], wide.error[:2])
    assert np.array_equal(capped.value, wide.value)
