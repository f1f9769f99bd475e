"""Diagnoses and one-sided slopes at their boundaries.

Written to kill mutmut's survivors in ``gcverify/diagnosis.py`` and in
``gcverify.numdiff.one_sided_derivatives`` (``.ci/mutmut``). The costs are small dyadic
numbers with ``h = 1``, so each one-sided estimate and error bar is exact and a tie is a
real tie.
"""

from __future__ import annotations

import numpy as np
import pytest

from gcverify.diagnosis import diagnose_mismatch, is_transposed
from gcverify.numdiff import EPS, one_sided_derivatives

# --- diagnose_mismatch: one coordinate ------------------------------------------------------


@pytest.mark.parametrize(("scale", "what"), [
    (-1.0, "wrong sign"),
    (-0.5, "off by that factor"),       # |scale + 1| = 0.5: not a sign error
    (-1.5, "off by that factor"),
    (2.0, "off by that factor"),
])
def test_one_coordinate_is_a_sign_error_only_at_minus_one(scale, what):
    found = diagnose_mismatch("db2", abs(scale), 1.0, 0.0, scale, 0.0, 2e-7, 1)
    assert found.endswith(f"× numerical ({what})")


# --- is_transposed: square blocks of two rows and more -----------------------------------------

N = np.array([[1.0, 2.0], [3.0, 4.0]])


def test_a_two_by_two_block_can_be_transposed():
    assert is_transposed(N.T, N, 0.0)


def test_the_tolerance_is_inclusive():
    # The transpose within exactly the tolerance counts.
    assert is_transposed(N.T + np.array([[0.0, 0.5], [0.0, 0.0]]), N, 0.5)


def test_a_symmetric_block_equal_to_the_numerical_is_not_transposed():
    symmetric = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert not is_transposed(symmetric, symmetric, 0.0)


def test_an_antisymmetric_transpose_is_told_by_the_difference_not_the_sum():
    numerical = np.array([[0.0, 1.0], [-1.0, 0.0]])
    assert is_transposed(numerical.T, numerical, 0.0)    # g + n = 0, g - n = -2 n


def test_blocks_that_cannot_be_transposed():
    assert not is_transposed(np.ones((1, 1)), np.ones((1, 1)), 0.0)
    assert not is_transposed(np.ones((2, 3)), np.ones((3, 2)), 1.0)
    assert not is_transposed(np.full((2, 2), np.nan), N, np.inf)


# --- one_sided_derivatives: which side is taken ---------------------------------------------


def costs(right, right_first, left, left_first):
    """Costs at theta - 2, -1, +1, +2 (h = 1, J0 = 0) whose second-order one-sided slopes
    are ``right`` and ``left`` and first-order ones ``right_first`` and ``left_first``
    (each bar is the distance between the two, plus the rounding)."""
    Jp1, Jm1 = right_first, -left_first
    Jp2 = 4 * Jp1 - 2 * right                # right = (4 Jp1 - Jp2) / 2
    Jm2 = 2 * left + 4 * Jm1                 # left = (-4 Jm1 + Jm2) / 2
    return np.array([[Jm2, Jm1, Jp1, Jp2]])


def one_sided(row, analytic, noise=0.0):
    found = one_sided_derivatives(0.0, row, np.array([1.0]), np.array([analytic]), noise)
    return float(found.value[0]), float(found.error[0]), bool(found.matches[0])


def test_both_sides_match_the_smaller_bar_wins():
    # right 1 with bar 0.5, left 1 with bar 0.25: the left is the better estimate.
    assert one_sided(costs(1.0, 1.5, 1.0, 1.25), 1.0) == (1.0, 0.25 + EPS, True)
    # and the mirror case: the right one.
    assert one_sided(costs(1.0, 1.25, 1.0, 1.5), 1.0) == (1.0, 0.25 + EPS, True)


def test_both_sides_match_with_equal_bars_the_right_one_is_taken():
    # Both bars are the rounding 8 noise / h + eps: a tie goes to the right.
    assert one_sided(costs(1.0, 1.0, 1.5, 1.5), 1.25, noise=0.1) == (1.0, 0.8 + EPS, True)


def test_only_the_right_side_matches_even_if_the_left_is_closer():
    # right 1 with bar 1 matches 1.9; left 1.5 with bar eps does not, though closer.
    assert one_sided(costs(1.0, 2.0, 1.5, 1.5), 1.9) == (1.0, 1.0 + EPS, True)


def test_only_the_left_side_matches():
    assert one_sided(costs(1.0, 1.0, 1.5, 2.5), 1.9) == (1.5, 1.0 + EPS, True)


def test_no_side_matches_the_closer_one_is_taken_and_a_tie_goes_right():
    assert one_sided(costs(1.0, 1.0, 1.5, 1.5), 0.9) == (1.0, EPS, False)
    assert one_sided(costs(1.0, 1.0, 1.5, 1.5), 1.6) == (1.5, EPS, False)
    assert one_sided(costs(1.0, 1.0, 1.5, 1.5), 1.25) == (1.0, EPS, False)
