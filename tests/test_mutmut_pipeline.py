"""The checker's pipeline to the last bit: first pass, noise probe, refinement, verdicts.

:func:`gcverify.pipeline.run_check` is driven here by a scripted evaluator: a cost given
along each coordinate (``J(theta + offset e_i)``), with kinks and complex steps as the
test says, that records every batch of points the pipeline asks for. So each rule of the
pipeline's docstrings is checked for its exact numbers, recomputed from the recorded
costs with :mod:`gcverify.numdiff`, rather than within a tolerance that would let a
wrong constant through. These tests were written to kill mutmut's survivors in
``gcverify/pipeline.py`` (``.ci/mutmut``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gcverify import CheckOptions, InvalidArgument, Verdict, check_gradients
from gcverify.evaluate import Evaluator
from gcverify.numdiff import (
    EPS,
    STENCIL,
    central_derivatives,
    complex_step_estimates,
    probe_noise,
    step_sizes,
)
from gcverify.parallel import available_cores
from gcverify.params import ParamLayout
from gcverify.pipeline import run_check
from gcverify.settling import merge_settled, settling_tolerances
from gcverify.validate import validate_gradients


class Scripted(Evaluator):
    """A cost known along each coordinate: ``J(theta + offset e_i) = along(i, offset)``.

    ``kinks(index, h)`` gives the stencil's kink flags (None: the evaluator cannot see
    kinks); ``complex(index)`` the complex-step derivatives (None: not complex-safe);
    ``probe_extra(i, offset)`` noise that only the probe's irregular offsets meet. Every
    stencil and probe is recorded as ``(kind, index, offsets)``.
    """

    name = "scripted"

    def __init__(self, layout, J0, along, kinks=None, complex=None, probe_extra=None):
        super().__init__(layout, along)
        self.J0, self.along, self.kinks = J0, along, kinks
        self.complex, self.probe_extra = complex, probe_extra
        self.calls = []

    def evaluate(self, vector):
        raise AssertionError("the pipeline asks for costs in batches")

    def base(self, theta):
        return self.J0

    def cost_again(self, theta):
        return self.J0

    def _costs(self, index, offsets, extra=None):
        return np.array([[self.along(i, o) + (extra(i, o) if extra else 0.0) for o in row]
                         for i, row in zip(index.tolist(), offsets.tolist())])

    def stencil(self, theta, index, h):
        offsets = h[:, None] * STENCIL
        self.calls.append(("stencil", index.tolist(), offsets))
        kinks = None if self.kinks is None else np.asarray(self.kinks(index, h), dtype=bool)
        return self._costs(index, offsets), kinks

    def costs_at(self, theta, index, offsets):
        self.calls.append(("probe", index.tolist(), offsets))
        return self._costs(index, offsets, self.probe_extra)

    def complex_step(self, theta, index, h):
        if self.complex is None:
            raise TypeError("real-only cost")
        return np.asarray(self.complex(index), dtype=np.float64)

    def recorded(self, kind):
        return [(index, offsets) for k, index, offsets in self.calls if k == kind]


def linear(J0, slopes):
    """``J0 + slope_i * offset``: a cost whose stencil has no truncation at all."""
    slopes = np.asarray(slopes, dtype=np.float64)
    return lambda i, offset: J0 + slopes[i] * offset


def gradient(layout, values, keys=None):
    values = np.asarray(values, dtype=np.float64)
    blocks = layout.unflatten(values)
    if keys is not None:
        blocks = {key: blocks[name] for key, name in zip(keys, layout.names)}
    return validate_gradients(blocks, layout)


def check(evaluator, theta, analytic, **options):
    return run_check(evaluator, np.asarray(theta, dtype=np.float64),
                     gradient(evaluator.layout, analytic), CheckOptions(**options))


def first_pass(evaluator, J0, kinks_known=False):
    """The first pass's central derivatives, recomputed from its recorded stencil."""
    index, offsets = evaluator.recorded("stencil")[0]
    costs = evaluator._costs(np.array(index), offsets)
    h = offsets[:, 2]
    noisy = None
    if kinks_known:
        noisy = ~np.asarray(evaluator.kinks(np.array(index), h), dtype=bool)
    return central_derivatives(J0, costs, h, noisy)


ONE_BLOCK = ParamLayout(("w",), ((2,),))
TWO_BLOCKS = ParamLayout(("W", "b"), ((2,), (1,)))


# --- the first pass -------------------------------------------------------------------------

def staircase(J0, slopes, q):
    """A cost that loses digits: ``J0 + slope_i * offset`` rounded to multiples of ``q``."""
    smooth = linear(J0, slopes)
    return lambda i, offset: q * round(smooth(i, offset) / q)


def test_the_first_pass_pools_the_noise_of_every_coordinate_without_a_known_kink():
    # Kinks known (as from the network's structure or the forward's cache): the
    # coordinates without one are the noise pool, however rough; the kink is not.
    theta = [0.5, -0.25, 1.0]
    layout = ParamLayout(("w",), ((3,),))
    steps = staircase(0.75, [1.0, -2.0, 0.5], 2.0**-44)

    def along(i, offset):                                # w[2] has a kink at theta
        return steps(i, offset) + (1e-3 * abs(offset) if i == 2 else 0.0)
    scripted = Scripted(layout, 0.75, along, kinks=lambda index, h: index == 2)
    result = check(scripted, theta, [1.0, -2.0, 0.5])
    expected = first_pass(scripted, 0.75, kinks_known=True)
    assert result.numerical[:2].tolist() == expected.value[:2].tolist()
    assert result.error[:2].tolist() == expected.error[:2].tolist()
    unknown = central_derivatives(0.75, scripted._costs(np.arange(3),
                                                        scripted.recorded("stencil")[0][1]),
                                  step_sizes(np.array(theta), None))
    assert result.error[:2].tolist() != unknown.error[:2].tolist()   # it matters


def test_a_cost_that_is_not_finite_at_theta_is_judged_nowhere_and_says_so():
    result = check_gradients(lambda p: math.nan, {"w": np.ones(2)}, {"w": np.ones(2)})
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.reasons[-1] == "the cost at the given parameters is nan: nothing can be judged"
    assert result.method == "central"
    assert all(isinstance(reason, str) for reason in result.reasons)


# theta + h rounds on the grid of theta's binade: a step of 100 ulp(1) from just below 2
# lands 101 ulp(1) away, exactly 1 % off (kept); from 1.0, a step of 40.5 ulp(1) lands
# half an ulp(1) away, 1.2 % off (excluded).
ULP1 = 2.0**-52


@pytest.mark.parametrize(("theta", "h", "excluded"), [
    (2.0 - ULP1, 100 * ULP1, {}),
    (2.0 - 2 * ULP1, 100 * ULP1, {}),
    (1.0, 40.5 * ULP1, {"step too small": 1}),
    (1.0, 1e-20, {"step too small": 1}),
])
def test_only_a_step_that_theta_rounds_more_than_one_percent_off_is_excluded(theta, h, excluded):
    moved = (theta + h) - theta
    assert abs(moved - h) / h <= 0.01 if not excluded else abs(moved - h) > 0.01 * h
    result = check_gradients(lambda p: 3.0 * float(p["w"][0]), {"w": np.array([3.0])},
                             {"w": np.array([theta])}, epsilon=h)
    assert dict(result.excluded) == excluded


# --- settling: the second stencil only where the verdict can depend on it --------------

class Settling(Scripted):
    """A scripted cost that watches for kinks and settles as :mod:`gcverify.settling`
    says: a row with ``|analytic - D1| <= tolerance`` gets no ``theta +- 2h`` (NaN). It
    records what it was asked and what it returned."""

    def adaptive_stencil(self, theta, index, h, tolerance, analytic, jobs):
        costs, kinks = self.stencil(theta, index, h)
        settled = np.zeros(len(index), dtype=bool)
        if tolerance is not None:
            central = (costs[:, 2] - costs[:, 1]) / (2 * h)
            settled = (tolerance >= 0) & (np.abs(analytic - central) <= tolerance)
            costs[np.ix_(settled, [0, 3])] = np.nan
        self.asked = (tolerance, analytic, jobs)
        self.returned = (costs, kinks, settled)
        return costs, kinks, settled


# Blocks of 34 and 33 coordinates: 32 of each are audited (never settled); the others are
# w[4] and w[6] (tolerance 2.5e-8) and z[16] (tolerance 0: its block's gradient is zero).
SETTLING = ParamLayout(("w", "z"), ((34,), (33,)))
SETTLING_GRADIENT = np.r_[np.ones(34), np.zeros(33)]
H20 = 2.0**-20                      # theta = 0.5 moves by exactly this step


def settling_cost(i, offset):
    """w[4] settles; w[6] and z[16] do not, and their outer points jump by 1e-12 (a
    fourth difference far above the audited coordinates'); the other w's are cubic
    (a truncation of 3e-7, above w[4]'s tolerance), the other z's constant."""
    jump = 1e-12 if abs(offset) > 1.5 * H20 else 0.0
    if i == 4:
        return 0.5 + offset
    if i == 6:
        return 0.5 + (1 + 1e-6) * offset + jump
    if i == 34 + 16:
        return 0.5 + 1e-7 * offset + jump
    return 0.5 + offset + 1.1e5 * offset**3 if i < 34 else 0.5


def test_settled_coordinates_skip_the_second_stencil_and_the_noise_pools_only_audited_ones():
    jobs = available_cores() + 1
    scripted = Settling(SETTLING, 0.5, settling_cost,
                        kinks=lambda index, h: np.zeros(len(index), dtype=bool))
    result = check(scripted, np.full(67, 0.5), SETTLING_GRADIENT, epsilon=H20, jobs=jobs)
    tolerance, analytic, asked_jobs = scripted.asked
    expected = settling_tolerances(SETTLING, np.arange(67), SETTLING_GRADIENT, 2e-7, 0)
    assert np.flatnonzero(expected >= 0).tolist() == [4, 6, 34 + 16]
    assert tolerance.tolist() == expected.tolist()
    assert analytic.tolist() == SETTLING_GRADIENT.tolist() and asked_jobs == jobs
    costs, kinks, settled = scripted.returned
    assert np.flatnonzero(settled).tolist() == [4]
    assert result.verdict is not Verdict.FAIL and scripted.recorded("probe") == []
    merged = merge_settled(0.5, costs, np.full(67, H20), kinks, settled, expected < 0,
                           SETTLING.block_ids, expected)
    assert result.numerical.tolist() == merged.value.tolist()
    assert result.error.tolist() == merged.error.tolist()
    assert result.error[4] < 3e-7                  # capped at w[4]'s tolerance


def test_only_the_central_difference_over_every_coordinate_settles():
    for options in ({"method": "auto"}, {"sample": 60}):
        scripted = Settling(SETTLING, 0.5, settling_cost,
                            kinks=lambda index, h: np.zeros(len(index), dtype=bool))
        check(scripted, np.full(67, 0.5), SETTLING_GRADIENT, epsilon=H20, **options)
        assert scripted.asked[0].tolist() == [-math.inf] * len(scripted.asked[1])


# --- the complex step -------------------------------------------------------------------------

def test_a_complex_step_that_agrees_everywhere_adds_no_reason():
    scripted = Scripted(ONE_BLOCK, 0.5, linear(0.5, [1.0, -3.0]),
                        complex=lambda index: np.array([1.0, -3.0])[index])
    result = check(scripted, [0.25, 0.5], [1.0, -3.0], method="complex")
    assert (result.verdict, result.method) == (Verdict.PASS, "complex")
    assert result.reasons == ()


def test_a_complex_step_that_disagrees_with_the_central_difference_says_where():
    slopes = np.array([1.0, -3.0])
    scripted = Scripted(ONE_BLOCK, 0.5, linear(0.5, slopes),
                        complex=lambda index: np.array([1.0, -3.5])[index])
    result = check(scripted, [0.25, 0.5], slopes, method="complex")
    assert result.method == "complex"
    assert result.reasons[-1] == ("the complex step disagreed with the central difference on "
                                  "1 coordinates; the central difference was used there")
    merged = complex_step_estimates(np.array([1.0, -3.5]), first_pass(scripted, 0.5))
    assert result.numerical.tolist() == merged.value.tolist()
    assert result.error.tolist() == merged.error.tolist()


NOT_FOLLOWING = ("its imaginary part does not follow the derivative (it drops it, or uses "
                 "abs, comparisons or real-only functions)")


def test_a_cost_whose_imaginary_part_does_not_follow_is_not_complex_safe():
    def drops_it(index):
        return np.zeros(len(index))
    scripted = Scripted(ONE_BLOCK, 0.5, linear(0.5, [1.0, -3.0]), complex=drops_it)
    with pytest.raises(InvalidArgument) as info:
        check(scripted, [0.25, 0.5], [1.0, -3.0], method="complex")
    assert str(info.value) == (f"cost=linear.<locals>.<lambda> is not complex-safe "
                               f"({NOT_FOLLOWING}); use method='central', or method='auto' "
                               "to fall back")
    result = check(Scripted(ONE_BLOCK, 0.5, linear(0.5, [1.0, -3.0]), complex=drops_it),
                   [0.25, 0.5], [1.0, -3.0], method="auto")
    assert result.method == "central"
    assert result.reasons[-1] == f"complex step unavailable, central differences used: " \
                                 f"{NOT_FOLLOWING}"


# --- the noise probe ---------------------------------------------------------------------------

# Blocks a (2 coordinates), b, c, d, e. Along a, the coordinate at theta = 100 has the
# larger step (h = 100 c) and moves the cost most (|n| h = 100 c against 2 c), although its
# derivative is the smaller one. Block c's derivative is 0: it moves nothing.
FIVE = ParamLayout(("a", "b", "c", "d", "e"), ((2,), (1,), (1,), (1,), (1,)))
FIVE_THETA = [100.0, 1.0, 1.0, 1.0, 1.0, 1.0]
FIVE_SLOPES = [1.0, 2.0, 4.0, 0.0, 8.0, 3.0]


def wobble(amplitude):
    """Noise of the probe's offsets only: what a staircase hides from a stencil."""
    return lambda i, offset: amplitude * math.sin(1e6 * offset + i)


@pytest.mark.parametrize(("blocks", "probed"), [
    # The most moving judged coordinate of each block, the 4 largest first: a[0] (100 c),
    # d (8 c), b (4 c), e (3 c); never c (0).
    (FIVE_SLOPES, [0, 4, 2, 5]),
    # The same with c moving a little (0.5 c): the smallest of 5, left out.
    ([1.0, 2.0, 4.0, 0.5, 8.0, 3.0], [0, 4, 2, 5]),
    # Only e moves: one coordinate is probed.
    ([0.0, 0.0, 0.0, 0.0, 0.0, 3.0], [5]),
])
def test_a_fail_probes_the_most_moving_coordinate_of_each_block_the_largest_first(blocks,
                                                                                    probed):
    scripted = Scripted(FIVE, 0.5, linear(0.5, blocks), probe_extra=wobble(0.0))
    result = check(scripted, FIVE_THETA, 2 * np.asarray(blocks) + 0.5)
    assert result.verdict is Verdict.FAIL
    [(index, offsets)] = scripted.recorded("probe")
    assert index == probed
    steps = step_sizes(np.array(FIVE_THETA), None)
    assert offsets.tolist() == (steps[probed][:, None] * np.array(
        [-1.93, -1.31, -0.62, -0.27, 0.37, 0.83, 1.41, 1.87])).tolist()


def test_a_coordinate_excluded_at_a_kink_is_never_probed():
    # a[0] moves the cost most, but a kink excludes it (its analytic value matches
    # neither side): block a is probed along a[1].
    scripted = Scripted(FIVE, 0.5, linear(0.5, FIVE_SLOPES), kinks=lambda index, h: index == 0)
    analytic = 2 * np.asarray(FIVE_SLOPES) + 0.5
    result = check(scripted, FIVE_THETA, analytic)
    assert dict(result.excluded) == {"kink": 1}
    assert scripted.recorded("probe")[0][0] == [4, 2, 5, 1]


def test_only_evaluated_coordinates_are_probed_when_sampling():
    scripted = Scripted(FIVE, 0.5, linear(0.5, FIVE_SLOPES))
    result = check(scripted, FIVE_THETA, 2 * np.asarray(FIVE_SLOPES) + 0.5, sample=1, seed=3)
    [(evaluated, _)] = scripted.recorded("stencil")
    assert result.n_judged == 5 and len(evaluated) == 5
    [(probed, offsets)] = scripted.recorded("probe")
    assert set(probed) <= set(evaluated) and len(probed) == 4
    assert np.isfinite(offsets).all()


def test_nothing_is_probed_where_nothing_moves():
    # A constant cost and a non-zero gradient: FAIL, and the error bars are the first
    # pass's (no probe, no noise added).
    scripted = Scripted(ONE_BLOCK, 0.5, linear(0.5, [0.0, 0.0]))
    result = check(scripted, [0.25, 0.5], [1.0, 1.0])
    assert result.verdict is Verdict.FAIL
    assert scripted.recorded("probe") == []
    assert result.error.tolist() == first_pass(scripted, 0.5).error.tolist()


def test_the_probe_widens_each_error_bar_by_three_sigmas_of_the_noise_it_finds():
    # A mismatch the probe's noise cannot explain stays a FAIL, with bars widened by
    # 3 (probed - first-pass noise) / h.
    slopes, theta = [1.0, 2.0, 4.0, 0.5, 8.0, 3.0], FIVE_THETA
    quiet = Scripted(FIVE, 0.5, linear(0.5, slopes), probe_extra=wobble(1e-13))
    base = check(quiet, theta, slopes)
    assert base.verdict is Verdict.PASS and quiet.recorded("probe") == []
    noisy = Scripted(FIVE, 0.5, linear(0.5, slopes), probe_extra=wobble(1e-13))
    result = check(noisy, theta, 2 * np.asarray(slopes) + 0.5)
    assert result.verdict is Verdict.FAIL
    [(index, offsets)] = noisy.recorded("probe")
    probed = probe_noise(0.5, noisy._costs(np.array(index), offsets, noisy.probe_extra))
    noise = first_pass(noisy, 0.5).noise
    assert probed > noise
    steps = step_sizes(np.array(theta), None)
    assert result.error.tolist() == (base.error + 3 * (probed - noise) / steps).tolist()


def test_a_mismatch_the_probed_noise_explains_is_re_estimated_with_that_noise_as_floor():
    # A relative error of 1e-5 fails at first; the probe finds noise that explains it,
    # every block is then too noisy to judge and is re-estimated with the probed noise as
    # the floor (d, resolved at 4 times the step, keeps that estimate).
    slopes, theta = [1.0, 2.0, 4.0, 0.5, 8.0, 3.0], FIVE_THETA
    scripted = Scripted(FIVE, 0.5, linear(0.5, slopes), probe_extra=wobble(1e-8))
    result = check(scripted, theta, np.asarray(slopes) * (1 + 1e-5))
    assert result.verdict is Verdict.PASS
    [(index, offsets)] = scripted.recorded("probe")
    probed = probe_noise(0.5, scripted._costs(np.array(index), offsets, scripted.probe_extra))
    first, refined = scripted.recorded("stencil")[:2]
    assert refined[0] == [0, 1, 2, 3, 4, 5]
    assert refined[1][:, 2] == pytest.approx(4 * first[1][:, 2], rel=1e-15)
    again = central_derivatives(0.5, scripted._costs(np.array(refined[0]), refined[1]),
                                refined[1][:, 2], noise_floor=probed)
    assert [index for _, index, _ in scripted.calls[3:]] == [[0, 1, 2, 3, 5], [3]]
    assert (result.numerical[4], result.error[4]) == (again.value[4], again.error[4])


# --- refining noisy blocks ---------------------------------------------------------------------

def refine_note(names, count, factor):
    return (f"{names}: too noisy at the default step; {count} coordinates re-estimated with "
            f"a step {factor} times larger")


def noisy_case(kinks=None, slopes=(1.0, -2.0, 0.75), wobble=1.2e-9):
    """A cost with noise of size ``wobble`` in every stencil: too noisy to judge W and b at
    the default step (resolution about 3e-4), judged at 4 times that step."""
    def along(i, offset):
        return 0.5 + slopes[i] * offset + wobble * math.sin(1e6 * offset + i)
    return Scripted(TWO_BLOCKS, 0.5, along, kinks=kinks)


THETA3 = [0.25, -0.5, 1.0]


@pytest.mark.parametrize("kinks", [None, lambda index, h: np.zeros(len(index), dtype=bool)],
                         ids=["kinks unknown", "kinks known, none"])
def test_noisy_blocks_are_re_estimated_with_a_larger_step_and_the_first_noise_as_floor(kinks):
    scripted = noisy_case(kinks)
    result = check(scripted, THETA3, [1.0, -2.0, 0.75])
    assert result.verdict is Verdict.PASS
    assert [r for r in result.reasons if "too noisy" in r] == [refine_note("W, b", 3, 4)]
    first, refined = scripted.recorded("stencil")
    assert refined[0] == [0, 1, 2]
    assert refined[1][:, 2] == pytest.approx(4 * first[1][:, 2], rel=1e-15)
    noisy = None if kinks is None else np.ones(3, dtype=bool)
    again = central_derivatives(0.5, scripted._costs(np.arange(3), refined[1]),
                                refined[1][:, 2], noisy,
                                noise_floor=first_pass(scripted, 0.5, kinks is not None).noise)
    assert result.numerical.tolist() == again.value.tolist()
    assert result.error.tolist() == again.error.tolist()


def test_a_block_that_is_not_noisy_keeps_its_first_estimates_bit_for_bit():
    # b's derivative is large: the same noise leaves it well resolved.
    scripted = noisy_case(slopes=(1.0, -2.0, 1000.0))
    result = check(scripted, THETA3, [1.0, -2.0, 1000.0])
    assert [r for r in result.reasons if "too noisy" in r] == [refine_note("W", 2, 4)]
    assert scripted.recorded("stencil")[1][0] == [0, 1]
    first = first_pass(scripted, 0.5)
    assert (result.numerical[2], result.error[2]) == (first.value[2], first.error[2])


def test_a_failing_noisy_block_is_not_re_estimated():
    # W is as noisy as b but fails all the same: only INCONCLUSIVE blocks are re-estimated.
    scripted = noisy_case()
    result = check(scripted, THETA3, [2.0, -4.0, 0.75])
    assert result.blocks["W"].verdict is Verdict.FAIL
    assert [r for r in result.reasons if "too noisy" in r] == [refine_note("b", 1, 4)]


def kinks_at(*steps):
    """Kink flags of a stencil by its step (about 6e-6 at first): ``steps`` maps a range
    of steps to the flagged coordinates."""
    def kinks(index, h):
        for (low, high), flagged in steps:
            if low < h[0] < high:
                return np.isin(index, flagged)
        return np.zeros(len(index), dtype=bool)
    return kinks


def test_a_larger_stencil_that_meets_a_kink_is_ignored_and_the_next_step_tried():
    # At 4 times the step every stencil meets a kink: nothing is better, the next step is
    # tried; at 16 times only W[0]'s does.
    scripted = noisy_case(kinks_at(((1.5e-5, 5e-5), [0, 1, 2]), ((5e-5, 2e-4), [0])))
    result = check(scripted, THETA3, [1.0, -2.0, 0.75])
    notes = [r for r in result.reasons if "too noisy" in r]
    assert notes[0] == refine_note("W, b", 2, 16)
    assert not any("step 4 times" in note for note in notes)


def test_a_larger_stencil_pools_the_noise_of_its_coordinates_without_a_kink():
    # At 4 times the step W[0]'s outer points meet a jump of 1e-6 and its kink is flagged:
    # the noise is pooled over W[1] and b, which are re-estimated there. (Pooled over W[0]
    # instead, nothing would be better until 16 times the step.)
    base = noisy_case()

    def along(i, offset):
        return base.along(i, offset) + (1e-6 if i == 0 and abs(offset) > 3e-5 else 0.0)
    scripted = Scripted(TWO_BLOCKS, 0.5, along, kinks=kinks_at(((1.5e-5, 5e-5), [0])))
    result = check(scripted, THETA3, [1.0, -2.0, 0.75])
    assert [r for r in result.reasons if "too noisy" in r] == [refine_note("W, b", 2, 4)]


def test_an_estimate_with_an_equal_error_bar_is_not_better():
    # J0 = 0 and an exactly linear stencil: every step gives the bar EPS; with a limit far
    # below it the block is INCONCLUSIVE, and no larger step does better.
    scripted = Scripted(ONE_BLOCK, 0.0, linear(0.0, [1.0, -2.0]))
    result = check(scripted, [0.25, -0.5], [1.0, -2.0], noise_limit=1e-20)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.error.tolist() == [EPS, EPS]
    assert len(scripted.recorded("stencil")) == 6                 # the first pass and 5 tries
    assert not any("too noisy" in reason for reason in result.reasons)


def test_a_block_exactly_at_the_noise_limit_is_not_too_noisy():
    # Block w is INCONCLUSIVE because an excluded coordinate (a kink whose gradient matches
    # neither side) carries most of it; its resolution is exactly the noise limit.
    def case():
        return Scripted(ONE_BLOCK, 0.5, linear(0.5, [1e-3, 4.0]),
                        kinks=lambda index, h: index == 1)
    scripted = case()
    first = check(scripted, [0.25, -0.5], [1e-3, 9.0])
    block = first.blocks["w"]
    assert block.verdict is Verdict.INCONCLUSIVE and "excluded" in block.diagnosis
    again = case()
    result = check(again, [0.25, -0.5], [1e-3, 9.0], noise_limit=block.resolution)
    assert result.blocks["w"].resolution == block.resolution
    assert len(again.recorded("stencil")) == 1
    assert not any("too noisy" in reason for reason in result.reasons)


# --- the backward pass's rounding --------------------------------------------------------------

def widened_by_the_probe(scripted, error, J0, theta):
    """``error`` as the probe widens it (when it ran and found more noise)."""
    probes = scripted.recorded("probe")
    if not probes:
        return error
    index, offsets = probes[0]
    probed = probe_noise(J0, scripted._costs(np.array(index), offsets, scripted.probe_extra))
    noise = first_pass(scripted, J0).noise
    steps = step_sizes(np.asarray(theta), None)
    return error + 3 * (probed - noise) / steps if probed > noise else error


@pytest.mark.parametrize(("sigma", "verdict"), [
    (np.array([1e-6, 3e-6]), Verdict.PASS),
    (None, Verdict.FAIL),                       # the rounding is unknown: nothing added
])
def test_the_backward_pass_rounding_widens_each_error_bar_by_three_sigmas(sigma, verdict):
    base = check(Scripted(ONE_BLOCK, 0.5, linear(0.5, [1.0, -2.0])), [0.25, -0.5], [1.0, -2.0])
    scripted = Scripted(ONE_BLOCK, 0.5, linear(0.5, [1.0, -2.0]))
    result = run_check(scripted, np.array([0.25, -0.5]), gradient(ONE_BLOCK, [1.0 + 2e-6, -2.0]),
                       CheckOptions(), analytic_noise=lambda: sigma)
    assert result.verdict is verdict
    expected = widened_by_the_probe(scripted, base.error, 0.5, [0.25, -0.5])
    if sigma is not None:
        expected = expected + 3 * sigma
    assert result.error.tolist() == expected.tolist()


# --- the reasons -------------------------------------------------------------------------------

def test_the_first_pass_reasons_come_before_the_refinements():
    scripted = noisy_case(slopes=(1.0, -2.0, 1000.0))
    result = check(scripted, THETA3, [1.0, -2.0, 1000.0], method="auto")
    assert result.reasons[-2:] == (
        "complex step unavailable, central differences used: TypeError: real-only cost",
        refine_note("W", 2, 4))


def test_stray_gradient_keys_are_listed_in_their_order():
    result = check_gradients(lambda p: float(p["w"] @ p["w"]),
                             {"dw": np.array([1.0, 2.0]), "dW9": 0.0, "db_1": 0.0},
                             {"w": np.array([0.5, 1.0])})
    assert result.reasons[-1] == ("the gradients hold keys that name no parameter: "
                                  "'dW9', 'db_1'")


# --- a cost that is not deterministic ----------------------------------------------------------

class Drifting:
    """A cost that drifts by ``step`` per call at the same parameters (or per a list)."""

    def __init__(self, values):
        self.values, self.calls = list(values), 0

    def __call__(self, parameters):
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        return value


NOT_DETERMINISTIC = ("apart), so no finite difference can be trusted; make forward "
                     "deterministic: seed the random number generator inside it, or fix "
                     "the dropout mask")


@pytest.mark.parametrize(("values", "shown"), [
    ([0.5, 0.5 + 2.0**-30, 0.5 + 2.0**-29], "0.5, 0.50000000093132257, 0.50000000186264515 "
                                            "(1.9e-09 "),
    ([0.5, math.nan, 0.5], "0.5, nan, 0.5 (inf "),
    ([math.inf, 0.5, 0.5], "inf, 0.5, 0.5 (inf "),
])
def test_a_cost_that_changes_at_the_same_parameters_is_not_judged(values, shown):
    result = check_gradients(Drifting(values), {"W1": np.ones((1, 2)), "db1": np.ones(1)},
                             {"W1": np.ones((1, 2)), "b1": np.zeros(1)})
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.reasons == (f"the cost is not deterministic: the same parameters gave {shown}"
                              + NOT_DETERMINISTIC,)


def test_a_cost_that_is_not_deterministic_judges_nothing_but_a_missing_gradient():
    parameters = {"W1": np.ones((1, 2)), "b1": np.zeros(1), "W2": np.ones((1, 1))}
    gradients = {"W1": np.array([[1.0, 2.0]]), "W2": np.array([[3.0]])}       # b1 forgotten
    result = check_gradients(Drifting([0.5, 0.75, 1.0]), gradients, parameters, sample=1)
    assert result.verdict is Verdict.FAIL
    why = ("the cost is not deterministic: the same parameters gave 0.5, 0.75, 1 (0.5 "
           + NOT_DETERMINISTIC)
    assert result.reasons == ("1 of 3 blocks mismatch: db1: missing from the gradients", why)
    findings = {name: (b.verdict, b.informative, b.diagnosis)
                for name, b in result.blocks.items()}
    assert findings == {
        "W1": (Verdict.INCONCLUSIVE, False, "W1: not judged (the cost is not deterministic)"),
        "b1": (Verdict.FAIL, True, "db1: missing from the gradients"),
        "W2": (Verdict.INCONCLUSIVE, False, "W2: not judged (the cost is not deterministic)"),
    }
    assert math.isnan(result.difference)
    assert (result.method, result.options) == ("central", CheckOptions(sample=1))
    assert (result.n_coordinates, result.n_judged, dict(result.excluded)) == (4, 0, {})
    assert result.evaluator == "loop"
    assert result.analytic.tolist() == [1.0, 2.0, 0.0, 3.0]
    assert np.isnan(result.numerical).all() and result.numerical.shape == (4,)
    assert np.isinf(result.error).all() and result.error.shape == (4,)


def test_every_missing_gradient_is_listed_and_the_evaluator_named_when_nothing_is_judged():
    scripted = Scripted(ONE_BLOCK, 0.5, linear(0.5, [1.0, -2.0]))
    drift = iter([0.5, 0.75])
    scripted.cost_again = lambda theta: next(drift)
    assert check(scripted, [0.25, -0.5], [1.0, -2.0]).evaluator == "scripted"
    parameters = {"W1": np.ones((1, 2)), "b1": np.zeros(1), "W2": np.ones((1, 1))}
    result = check_gradients(Drifting([0.5, 0.75, 1.0]), {"W1": np.ones((1, 2))}, parameters)
    assert result.reasons[0] == ("2 of 3 blocks mismatch: db1: missing from the gradients; "
                                 "dW2: missing from the gradients")


def test_a_cost_that_is_not_deterministic_with_every_gradient_is_inconclusive():
    result = check_gradients(Drifting([0.5, 0.75, 1.0]), {"w": np.ones(2)}, {"w": np.ones(2)},
                             method="auto")
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.method == "auto"
    assert result.reasons[0].startswith("the cost is not deterministic")
    assert len(result.reasons) == 1
