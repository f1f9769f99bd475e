"""Numerical derivatives with error estimates and a test for non-smooth points.

Each coordinate ``i`` is evaluated at ``theta + t h_i e_i`` for ``t`` in
:data:`STENCIL` = (-2, -1, 1, 2), besides ``theta`` itself. From those five values:

* ``D1 = (J(+h) - J(-h)) / 2h``, the notebook's central difference (the estimate);
* ``D2 = (J(+2h) - J(-2h)) / 4h``, the same with twice the step; ``|D1 - D2|`` bounds
  the truncation error of ``D1`` (it is three times it for a smooth cost) and
  reflects its rounding noise;
* the fourth difference ``J(-2h) - 4J(-h) + 6J(0) - 4J(h) + J(2h)``. For a smooth
  cost it is rounding noise (about ``sqrt(70)`` sigma); where the one-sided slopes on
  adjacent intervals disagree because of a kink it is of order ``jump * h``. Its
  typical size over all coordinates estimates the cost's noise sigma; a coordinate
  whose fourth difference stands far above that is *rough* (non-smooth).

The error bar of ``D1`` is ``|D1 - D2| + 3 sigma_i / h``. The complex step
``Im J(theta + i h e_i) / h`` has no subtractive cancellation at all; it is used
where the cost is complex-safe and agrees with the real stencil.

>>> J = lambda t: np.sin(t)
>>> theta, h = 0.3, 1e-3
>>> costs = np.array([[J(theta + t * h) for t in STENCIL]])
>>> d = central_derivatives(J(theta), costs, np.array([h]))
>>> bool(abs(d.value[0] - np.cos(0.3)) <= d.error[0])
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np

# A cost or a vector of costs (one per coordinate).
_Costs = TypeVar("_Costs", float, np.ndarray)

__all__ = [
    "COMPLEX_STEP",
    "DEFAULT_STEP",
    "EPS",
    "FOURTH_DIFFERENCE",
    "NOISE_IN_FOURTH",
    "PROBE_OFFSETS",
    "STENCIL",
    "ComplexStep",
    "Derivatives",
    "OneSided",
    "central_derivatives",
    "central_difference",
    "complex_step_estimates",
    "fourth_differences",
    "matches_one_side",
    "one_sided_derivatives",
    "probe_noise",
    "rounding_noise",
    "step_sizes",
    "third_derivative",
]

#: float64's machine epsilon.
EPS = float(np.finfo(np.float64).eps)
#: Multiples of the step at which each coordinate is evaluated (besides 0).
STENCIL = np.array([-2.0, -1.0, 1.0, 2.0])
#: Default relative step: cbrt(machine epsilon), which balances the truncation error
#: (~h^2) and the rounding error (~eps/h) of a central difference.
DEFAULT_STEP = float(np.cbrt(EPS))
#: Step of the complex-step method: no cancellation, so it can be tiny.
COMPLEX_STEP = 1e-20
#: Irregular multiples of the step for :func:`probe_noise`: no two ratios are simple
#: fractions, so rounding that drifts linearly on equally spaced points cannot hide.
PROBE_OFFSETS = np.array([-1.93, -1.31, -0.62, -0.27, 0.37, 0.83, 1.41, 1.87])
#: Weights of the fourth difference over the points ``theta + (-2, -1, 0, 1, 2) h``.
FOURTH_DIFFERENCE = np.array([1.0, -4.0, 6.0, -4.0, 1.0])
#: sqrt(70): the standard deviation of a fourth difference of unit-variance noise.
NOISE_IN_FOURTH = float(np.sqrt(70.0))
# A fourth difference this many noise sigmas above the typical one is not noise.
_ROUGH_SIGMAS = 20.0


def central_difference(below: _Costs, above: _Costs, h: float | np.ndarray) -> _Costs:
    """``(J(theta + h) - J(theta - h)) / 2h`` from ``below = J(theta - h)`` and
    ``above = J(theta + h)``: the notebook's estimate, elementwise.

    >>> round(float(central_difference(1.0, 3.0, 0.5)), 3)
    2.0
    """
    return (above - below) / (2 * h)     # type: ignore[return-value]  # (a float h keeps a float)


def third_derivative(costs: np.ndarray, h: float | np.ndarray) -> np.ndarray:
    """The third derivative from stencil costs ``(n, 4)`` at ``STENCIL * h``:
    ``(J(2h) - 2 J(h) + 2 J(-h) - J(-2h)) / 2h^3``, exact for a cubic.

    >>> t = 0.5 + STENCIL * 0.25
    >>> third_derivative((t**3)[None, :], 0.25).tolist()
    [6.0]
    """
    Jm2, Jm1, Jp1, Jp2 = costs.T
    return (Jp2 - 2 * Jp1 + 2 * Jm1 - Jm2) / (2 * h**3)


def step_sizes(theta: np.ndarray, epsilon: float | None, scale: float = 1.0) -> np.ndarray:
    """The step of each coordinate.

    With ``epsilon=None``: ``scale * DEFAULT_STEP * max(1, |theta_i|)``, rounded so
    that ``theta_i + h`` is exact (then ``(theta + h) - theta == h``). With a number:
    that absolute step for every coordinate, as the notebook does (``1e-7``).

    >>> step_sizes(np.array([0.0, 100.0]), None) / DEFAULT_STEP
    array([  1., 100.])
    >>> step_sizes(np.array([3.0]), 1e-7)
    array([1.e-07])
    """
    if epsilon is not None:
        return np.full(theta.shape, float(epsilon))
    h = scale * DEFAULT_STEP * np.maximum(1.0, np.abs(theta))
    return (theta + h) - theta


@dataclass(frozen=True)
class Derivatives:
    """Numerical derivatives of some coordinates, with what is known about each.

    ``value``: the central difference. ``error``: its error bar. ``rough``: the
    fourth difference stands far above the typical one (a kink, or a noise spike).
    ``finite``: all stencil costs were finite. ``fourth``: ``|fourth difference|``.
    """

    value: np.ndarray
    error: np.ndarray
    rough: np.ndarray
    finite: np.ndarray
    fourth: np.ndarray
    noise: float = 0.0


def central_derivatives(J0: float, costs: np.ndarray, h: np.ndarray,
                        noisy: np.ndarray | None = None,
                        noise_floor: float = 0.0) -> Derivatives:
    """Central differences from stencil costs ``(n, 4)`` at ``STENCIL * h``.

    The rounding noise of the cost is a property of the cost at ``theta``, so it is
    pooled over all coordinates (root mean square of their fourth differences): a
    cost that loses digits (the naive cross-entropy when the output saturates) is a
    staircase whose rounding can drift *linearly* across one stencil, invisible in
    that coordinate's fourth difference but not in the others'. ``noisy`` marks the
    coordinates that may enter the pool; by default those that are not rough (when
    kinks are known from elsewhere, every coordinate without a kink is noise,
    however rough). ``noise_floor`` is a noise level already measured at ``theta``
    (by a first pass over all coordinates, when only a few are re-estimated).
    """
    Jm2, Jm1, Jp1, Jp2 = costs.T
    finite = np.isfinite(costs).all(axis=1) & np.isfinite(J0)
    with np.errstate(invalid="ignore", over="ignore"):
        d1 = central_difference(Jm1, Jp1, h)
        d2 = central_difference(Jm2, Jp2, 2 * h)
        fourth = np.abs(Jm2 - 4 * Jm1 + 6 * J0 - 4 * Jp1 + Jp2)
        floor = EPS * abs(J0) if np.isfinite(J0) else 0.0
        if noisy is None:
            typical = _typical_noise(fourth[finite], floor)
            rough = finite & (fourth > _ROUGH_SIGMAS * NOISE_IN_FOURTH * typical)
            pool = finite & ~rough
        else:  # kinks are known: no need to tell them from noise by the cost alone
            typical = floor
            rough = np.zeros(finite.shape, dtype=bool)
            pool = finite & noisy
        pooled = float(np.sqrt(np.mean(fourth[pool] ** 2))) if pool.any() else 0.0
        # (fmax: a NaN fourth difference, where a cost is not finite, gives way; that
        # coordinate's error bar is inf anyway)
        sigma = np.fmax(fourth, pooled) / NOISE_IN_FOURTH
        sigma = np.maximum(sigma, max(typical, noise_floor))
        # Below eps * max(1, |J|) no derivative is resolved, analytic or numerical.
        error = np.abs(d1 - d2) + 3 * sigma / h + EPS * max(1.0, abs(J0))
    return Derivatives(d1, np.where(finite, error, np.inf), rough, finite, fourth,
                       max(pooled / NOISE_IN_FOURTH, typical, noise_floor))


@dataclass(frozen=True)
class OneSided:
    """The one-sided derivative closest to each analytic value, and its error bar.

    ``matches``: the analytic value is within the bar of the left or the right
    derivative; ``value`` and ``error``: that side's estimate and bar (where both
    match, the one with the smaller bar; where none does, the closer one).
    """

    value: np.ndarray
    error: np.ndarray
    matches: np.ndarray


def one_sided_derivatives(J0: float, costs: np.ndarray, h: np.ndarray, analytic: np.ndarray,
                          noise: float) -> OneSided:
    """The left and right derivatives at a kink, the one the analytic value takes.

    See :func:`matches_one_side` for the estimates and their error bars.

    >>> J = lambda t: abs(t)                        # kink at 0, one-sided slopes -1, 1
    >>> costs = np.array([[J(t * 1e-3) for t in STENCIL]])
    >>> found = one_sided_derivatives(0.0, costs, np.array([1e-3]), np.array([-0.9]), 0.0)
    >>> found.value.round(12).tolist(), found.matches.tolist()
    ([-1.0], [False])
    """
    Jm2, Jm1, Jp1, Jp2 = costs.T
    with np.errstate(invalid="ignore", over="ignore"):
        right = (-3 * J0 + 4 * Jp1 - Jp2) / (2 * h)
        left = (3 * J0 - 4 * Jm1 + Jm2) / (2 * h)
        rounding = 8 * noise / h + EPS * max(1.0, abs(J0))
        right_bar = np.abs(right - (Jp1 - J0) / h) + rounding
        left_bar = np.abs(left - (J0 - Jm1) / h) + rounding
        right_gap, left_gap = np.abs(analytic - right), np.abs(analytic - left)
    right_ok, left_ok = right_gap <= right_bar, left_gap <= left_bar
    take_right = np.where(right_ok & left_ok, right_bar <= left_bar,
                          right_ok | (~left_ok & (right_gap <= left_gap)))
    return OneSided(np.where(take_right, right, left), np.where(take_right, right_bar, left_bar),
                    right_ok | left_ok)


def matches_one_side(J0: float, costs: np.ndarray, h: np.ndarray, analytic: np.ndarray,
                     noise: float) -> np.ndarray:
    """Does each analytic value equal the left or the right derivative?

    At a kink sitting exactly at ``theta`` (a ReLU pre-activation of exactly 0) one
    side of the stencil is smooth, and a correct backprop returns the derivative of
    one side (its subgradient choice). The second-order one-sided differences
    ``(-3 J0 + 4 J(h) - J(2h)) / 2h`` and its mirror estimate both sides; the error
    bar of each is its distance to the first-order difference (which overstates the
    error of the second-order one) plus the rounding noise.

    >>> J = lambda t: abs(t)                        # kink at 0, one-sided slopes -1, 1
    >>> costs = np.array([[J(t * 1e-3) for t in STENCIL]])
    >>> matches_one_side(0.0, costs, np.array([1e-3]), np.array([1.0]), 0.0).tolist()
    [True]
    >>> matches_one_side(0.0, costs, np.array([1e-3]), np.array([0.5]), 0.0).tolist()
    [False]
    """
    return one_sided_derivatives(J0, costs, h, analytic, noise).matches


def probe_noise(J0: float, costs: np.ndarray) -> float:
    """Rounding noise sigma of the cost from values at :data:`PROBE_OFFSETS` (rows).

    Each row (one coordinate, ``J0`` included at offset 0) is fitted with a cubic;
    the residuals, with 5 degrees of freedom per row, measure the noise. A cost that
    loses digits (the naive cross-entropy near saturation) is a staircase; on equally
    spaced points its rounding can drift linearly, like a slope, but not on these.

    >>> rng = np.random.default_rng(0)
    >>> t = np.concatenate([[0.0], PROBE_OFFSETS])
    >>> noisy = 1 + 0.1 * t + 1e-9 * rng.standard_normal((50, t.size))
    >>> 0.5e-9 < probe_noise(noisy[0, 0], noisy[:, 1:]) < 2e-9
    True
    """
    t = np.concatenate([[0.0], PROBE_OFFSETS])
    values = np.column_stack([np.full(len(costs), J0), costs])
    design = np.vander(t, 4)
    finite = np.isfinite(values).all(axis=1)
    if not finite.any():
        return 0.0
    fit, *_ = np.linalg.lstsq(design, values[finite].T, rcond=None)
    residual = values[finite].T - design @ fit
    return float(np.sqrt(np.sum(residual**2) / (finite.sum() * (t.size - 4))))


def _typical_noise(fourth: np.ndarray, floor: float) -> float:
    """Rounding noise sigma of the cost from the median fourth difference (robust to a
    few kinks), and at least ``floor`` (one unit in the last place of the cost)."""
    moving = fourth[fourth > 0]
    if moving.size == 0:
        return floor
    # For Gaussian noise the median of |fourth| is 0.674 sqrt(70) sigma.
    return max(float(np.median(moving)) / (0.674 * NOISE_IN_FOURTH), floor)


def fourth_differences(values: np.ndarray) -> np.ndarray:
    """Fourth differences along the first axis of values at 5 equally spaced points.

    For a smooth function they are of order ``h^4``: what remains is rounding (about
    :data:`NOISE_IN_FOURTH` times its sigma) or a kink between the points.

    >>> fourth_differences(np.array([4.0, 1.0, 0.0, 1.0, 4.0]))      # t^2: exactly 0
    array(0.)
    """
    with np.errstate(invalid="ignore", over="ignore"):
        return np.tensordot(FOURTH_DIFFERENCE, values, axes=(0, 0))


def rounding_noise(values: np.ndarray) -> np.ndarray:
    """Rounding sigma of each column of values at 5 equally spaced points (rows), from
    its fourth difference: ``|D4| / sqrt(70)``, NaN-free (inf where not finite).

    >>> rng = np.random.default_rng(0)
    >>> smooth = np.linspace(-2, 2, 5)[:, None] * np.ones((5, 2000))
    >>> sigma = rounding_noise(smooth + 1e-9 * rng.standard_normal((5, 2000)))
    >>> 0.5e-9 < float(np.sqrt(np.mean(sigma**2))) < 2e-9
    True
    """
    fourth = np.abs(fourth_differences(values)) / NOISE_IN_FOURTH
    return np.where(np.isnan(fourth), np.inf, fourth)


@dataclass(frozen=True)
class ComplexStep:
    """Complex-step derivatives merged with central ones.

    ``value`` and ``error``: the complex step where it agrees with the central
    difference (or where the central one is unusable), else the central estimate.
    ``disagreeing``: how many coordinates kept the central estimate. ``follows``: False
    when the imaginary part does not follow the derivative at all (the cost is not
    complex-safe: it drops the imaginary part, or uses abs, comparisons or real-only
    functions).
    """

    value: np.ndarray
    error: np.ndarray
    disagreeing: int
    follows: bool


def complex_step_estimates(values: np.ndarray, central: Derivatives) -> ComplexStep:
    """Merge complex-step derivatives ``Im J(theta + i h e) / h`` with ``central``.

    The complex step has no subtractive cancellation: its error bar is a few units in
    the last place of the derivatives. It is trusted where it agrees with the central
    difference within that one's error bar; if it agrees nowhere that the central
    difference clearly moves, the cost is not complex-safe.

    >>> t = np.array([0.3])
    >>> costs = np.array([[np.sin(0.3 + s * 1e-3) for s in STENCIL]])
    >>> central = central_derivatives(np.sin(0.3), costs, np.array([1e-3]))
    >>> merged = complex_step_estimates(np.array([np.cos(0.3)]), central)
    >>> merged.follows, bool(merged.error[0] < 1e-13)
    (True, True)
    """
    smooth = central.finite & ~central.rough
    agree = np.abs(values - central.value) <= central.error + 1e-9 * np.abs(values)
    moving = smooth & (np.abs(central.value) > central.error)
    follows = not (moving.any() and not agree[moving].any())
    bars = 64 * EPS * (np.abs(values) + np.sqrt(np.mean(values**2)))
    use = agree | ~smooth
    return ComplexStep(np.where(use, values, central.value), np.where(use, bars, central.error),
                       int((~use).sum()), follows)
