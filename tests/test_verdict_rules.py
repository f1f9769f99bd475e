"""The judge's rules, one by one, on hand-made evidence with exact numbers.

``gcverify.verdict`` turns analytic and numerical derivatives with error bars into
verdicts. Here the evidence is written by hand, so that each rule of its docstring is
checked on its own, at its boundaries (``<=`` against ``<``), with every field of the
findings: what the checker says must be what the rule says, to the last digit shown.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gcverify.diagnosis import format_factor
from gcverify.params import ParamLayout
from gcverify.result import Entry, Verdict
from gcverify.verdict import (
    NOT_EXCLUDED,
    Evidence,
    Exclusion,
    Whole,
    allowed_gap,
    judge_blocks,
    judge_whole,
)

CODES = {reason.label: int(reason) for reason in Exclusion}


def evidence(blocks, *, threshold=2e-7, noise_limit=0.1):
    """Evidence from ``{name: [(g, n, e), ...]}`` or ``(g, n, e, reason[, one_sided])``.

    ``reason`` is ``"kink"``, ``"non-smooth cost"`` or ``"non-finite cost"`` for an
    excluded coordinate, ``"unsampled"`` for one not evaluated.
    """
    rows = [(name, row) for name, entries in blocks.items() for row in entries]
    layout = ParamLayout(tuple(blocks), tuple((len(entries),) for entries in blocks.values()))
    reason = [row[3] if len(row) > 3 else None for _, row in rows]
    return Evidence(
        layout=layout,
        analytic=np.array([row[0] for _, row in rows], dtype=float),
        numerical=np.array([row[1] for _, row in rows], dtype=float),
        error=np.array([row[2] for _, row in rows], dtype=float),
        exclusion=np.array([CODES.get(r, NOT_EXCLUDED) for r in reason]),
        evaluated=np.array([r != "unsampled" for r in reason]),
        threshold=threshold, noise_limit=noise_limit,
        one_sided=np.array([len(row) > 4 and row[4] for _, row in rows]))


def scaled(vector, k, error=0.0):
    """Coordinates with analytic ``k * v``, numerical ``v``, one error bar each."""
    return [(k * v, v, error) for v in vector]


def whole_fields(whole: Whole) -> tuple:
    return whole.difference, whole.fails, whole.resolution, whole.scale, whole.error


# --- the whole vector ----------------------------------------------------------------------

@pytest.mark.parametrize("r", [0.5, 1.0, 3.0, 1e-3, -0.25])
def test_scaling_everything_by_1_plus_r_gives_difference_r_over_2_plus_r(r):
    # |(1+r)v - v| / (|(1+r)v| + |v|) = |r| / (|1+r| + 1), whatever v (small here: |v| < 1).
    v = [0.12, -0.16]                                     # |v| = 0.2
    whole = judge_whole(evidence({"W": scaled(v, 1 + r, error=0.01)}))
    assert whole.difference == pytest.approx(abs(r) / (abs(1 + r) + 1), rel=1e-13, abs=0)
    assert whole.scale == pytest.approx((abs(1 + r) + 1) * 0.2, rel=1e-13, abs=0)
    assert whole.error == pytest.approx(0.01 * math.sqrt(2), rel=1e-13, abs=0)
    assert whole.resolution == pytest.approx(whole.error / whole.scale, rel=1e-13, abs=0)
    assert whole.fails is (abs(r) * 0.2 > 2e-7 * whole.scale + whole.error)


def test_the_whole_fails_only_beyond_threshold_plus_error_bars():
    g, n = [0.3], [0.2]                                   # mismatch 0.1, scale 0.5
    assert judge_whole(evidence({"W": [(0.3, 0.2, 0.09)]})).fails is True
    assert judge_whole(evidence({"W": [(0.3, 0.2, 0.11)]})).fails is False
    assert judge_whole(evidence({"W": [(*g, *n, 0.0)]}, threshold=0.21)).fails is False
    assert judge_whole(evidence({"W": [(*g, *n, 0.0)]}, threshold=0.19)).fails is True


def test_nothing_judged_is_difference_zero_with_no_resolution():
    whole = judge_whole(evidence({"W": [(1.0, 5.0, 0.1, "kink"), (2.0, 0.0, 0.0, "unsampled")]}))
    assert whole_fields(whole) == (0.0, False, math.inf, 0.0, 0.0)
    assert whole.zero


def test_a_zero_gradient_is_difference_zero_and_a_stationary_point():
    whole = judge_whole(evidence({"W": [(0.0, 0.0, 1e-9), (0.0, 0.0, 0.0)]}))
    assert whole_fields(whole) == (0.0, False, math.inf, 0.0, 1e-9)
    assert whole.zero


def test_a_non_finite_analytic_value_fails_the_whole_with_what_is_finite_kept():
    whole = judge_whole(evidence({"W": [(np.nan, 0.5, 0.1), (3.0, 4.0, 0.3)],
                                  "b": [(np.inf, 1.0, 0.4)]}))
    assert math.isnan(whole.difference)
    assert whole_fields(whole)[1:] == (True, math.inf, 7.0, 0.3)


# --- blocks: differences, factors, diagnoses --------------------------------------------------

@pytest.mark.parametrize("r", [0.5, 1.0, 3.0, -0.5, -2.0])
def test_one_scaled_block_has_difference_r_over_2_plus_r_and_factor_1_plus_r(r):
    found = judge_blocks(evidence({"W": scaled([0.12, -0.16], 1 + r),
                                   "b": scaled([0.3], 1.0)}))
    block = found["W"]
    assert block.verdict is Verdict.FAIL
    assert block.difference == pytest.approx(abs(r) / (abs(1 + r) + 1), rel=1e-13, abs=0)
    assert block.scale == pytest.approx(1 + r, rel=1e-13, abs=0)
    assert block.resolution == 0.0
    assert (block.size, block.judged, dict(block.excluded)) == (2, 2, {})
    assert found["b"].verdict is Verdict.PASS
    b = found["b"]
    assert (b.difference, b.scale, b.diagnosis) == (0.0, 1.0, "db matches")


def test_perturbing_one_entry_fails_its_block_and_names_it_first():
    v = [0.5, -0.25, 0.125, 1.0, 0.75]
    rows = scaled(v, 1.0, error=1e-12)
    rows[2] = (0.125 + 1e-3, 0.125, 1e-12)
    found = judge_blocks(evidence({"W": rows, "b": scaled([0.3], 1.0, error=1e-12)}))
    block = found["W"]
    assert block.verdict is Verdict.FAIL and found["b"].verdict is Verdict.PASS
    assert block.worst[0] == Entry((2,), 0.125 + 1e-3, 0.125, 1e-12)
    assert len(block.worst) == 3
    assert block.difference == pytest.approx(1e-3 / (2 * math.sqrt(sum(x * x for x in v))),
                                             rel=1e-3, abs=0)


def test_worst_entries_are_the_largest_gaps_in_order_with_all_their_numbers():
    rows = [(1.0, 1.0, 0.5), (2.0, 0.0, 0.25), (0.0, 3.0, 0.125), (5.0, 4.5, 0.0625)]
    block = judge_blocks(evidence({"W": rows}))["W"]
    assert block.worst == (Entry((2,), 0.0, 3.0, 0.125), Entry((1,), 2.0, 0.0, 0.25),
                           Entry((3,), 5.0, 4.5, 0.0625))


def test_a_pass_block_reports_its_difference_factor_and_resolution():
    block = judge_blocks(evidence({"W": [(0.3, 0.2, 0.15)]}, noise_limit=0.5))["W"]
    assert block.verdict is Verdict.PASS and block.informative
    assert block.difference == pytest.approx(0.2, rel=1e-13, abs=0)
    assert block.scale == pytest.approx(1.5, rel=1e-13, abs=0)
    assert block.resolution == pytest.approx(0.3, rel=1e-13, abs=0)


def test_judge_blocks_judges_the_whole_itself_when_not_given_it():
    ev = evidence({"W": [(0.0, 0.0, 1.0)], "b": [(2.0, 2.0, 0.0)]}, noise_limit=0.25)
    assert judge_blocks(ev) == judge_blocks(ev, judge_whole(ev))


@pytest.mark.parametrize(("rows", "diagnosis"), [
    (scaled([0.5, 1.0], 2.0), "dW ≈ 2.000 × numerical (scaling bug)"),
    (scaled([0.5, 1.0], 0.5), "dW ≈ 0.500 × numerical (scaling bug)"),
    (scaled([0.5, 1.0], -1.0), "dW ≈ -1.000 × numerical (sign bug)"),
    (scaled([0.5, 1.0], -0.5), "dW ≈ -0.500 × numerical (sign and scaling bug)"),
    (scaled([0.5, 1.0], -2.0), "dW ≈ -2.000 × numerical (sign and scaling bug)"),
    (scaled([0.5, 1.0], 1.0003), "dW ≈ 1.00030 × numerical (scaling bug)"),
    # Orthogonal: the best factor is exactly 0 and explains nothing.
    ([(1.0, 0.0, 0.0), (0.0, 1.0, 0.0)],
     "dW does not match numerical, and not by a common factor (best fit 0.000 ×, "
     "leaving 100% unexplained)"),
    # Best factor 1; the residual (0, 1) is 1/sqrt(2) of |g|.
    ([(1.0, 1.0, 0.0), (1.0, 0.0, 0.0)],
     "dW does not match numerical, and not by a common factor (best fit 1.000 ×, "
     "leaving 71% unexplained)"),
    # |g| equal to the error bars: nothing the analytic side says can be told from 0.
    ([(1.0, 10.0, 1.0)], "dW = 0 while numerical ≠ 0 (missing term)"),
    # |n| equal to the error bars, or exactly 0.
    ([(10.0, 1.0, 1.0)], "dW ≠ 0 while numerical = 0 (spurious term)"),
    ([(1.0, 0.0, 0.0), (2.0, 0.0, 0.0)], "dW ≠ 0 while numerical = 0 (spurious term)"),
    # A factor 2 seen through noisy numerical values: the residual is within the bars.
    ([(2.0, 1.0, 0.01), (2.01, 1.0, 0.01)], "dW ≈ 2.005 × numerical (scaling bug)"),
    # The residual is within 1e-6 |g|: rounding of the analytic side, still a factor.
    ([(20.0, 10.0, 0.0), (20.0 + 4e-5, 10.0, 0.0)], "dW ≈ 2.000 × numerical (scaling bug)"),
], ids=["x2", "x0.5", "sign", "x-0.5", "x-2", "x1.0003", "orthogonal", "partly",
        "missing", "spurious", "numerical zero", "noisy factor", "rounding"])
def test_diagnosis_names_the_kind_of_mismatch(rows, diagnosis):
    block = judge_blocks(evidence({"W": rows}))["W"]
    assert block.verdict is Verdict.FAIL
    assert block.diagnosis == diagnosis


@pytest.mark.parametrize(("k", "text"), [
    (2.0, "2.000"), (1.0, "1.000"), (-1.0, "-1.000"), (1.5, "1.500"), (0.5, "0.500"),
    (1.05, "1.050"), (0.995, "0.9950"),
    (1.0003, "1.00030"), (0.9997, "0.99970"), (1.00002, "1.000020"), (math.inf, "inf"),
])
def test_factors_are_shown_with_enough_digits_to_tell_them_from_1(k, text):
    assert format_factor(k) == text


def test_a_factor_is_a_factor_within_the_threshold_share_of_the_norms():
    # Residual 0.028 <= 1e-3 * (|g| + |n|) = 0.042: a scaling bug at threshold 1e-3,
    # though 0.028 is far above 1e-3 * (|g| - |n|) and 1e-3 / (|g| + |n|).
    rows = [(20.0, 10.0, 0.0), (20.04, 10.0, 0.0)]
    block = judge_blocks(evidence({"W": rows}, threshold=1e-3))["W"]
    assert block.diagnosis == "dW ≈ 2.002 × numerical (scaling bug)"


def test_a_residual_exactly_at_the_tolerance_is_still_a_factor():
    # g = (4, 3), n = (4, 0): best factor 1, residual exactly 3; |g| = 5, |n| = 4.
    # The tolerance threshold (|g| + |n|) + |e| + 1e-6 |g| is made exactly 3 as well.
    threshold = 2.0**-20
    slack = 1e-6 * 5.0
    e = 3.0 - slack - threshold * 9.0
    assert (threshold * (5.0 + 4.0) + e) + slack == 3.0
    block = judge_blocks(evidence({"W": [(4.0, 4.0, e), (3.0, 0.0, 0.0)]},
                                  threshold=threshold))["W"]
    assert block.verdict is Verdict.FAIL
    assert block.diagnosis == "dW ≈ 1.000 × numerical (scaling bug)"


def test_a_factor_of_exactly_zero_is_no_sign_bug():
    # g orthogonal to n: the best factor is 0; at threshold 0.5 the residual |g| = 1 is
    # within the tolerance 0.5 (|g| + |n|), yet the difference sqrt(2) fails.
    block = judge_blocks(evidence({"W": [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0)]},
                                  threshold=0.5))["W"]
    assert block.verdict is Verdict.FAIL
    assert block.diagnosis == "dW ≈ 0.000 × numerical (scaling bug)"


def test_numerical_zero_has_no_factor():
    found = judge_blocks(evidence({"W": [(1.0, 0.0, 0.0)], "b": [(0.0, 0.0, 0.0)],
                                   "c": [(1.0, 1.0, 0.0)]}))
    assert found["W"].scale is None and found["W"].verdict is Verdict.FAIL
    assert found["b"].scale is None and found["b"].difference == 0.0


def test_non_finite_analytic_values_fail_their_block_and_are_named():
    rows = [(1.0, 1.0, 0.0)] * 6 + [(np.nan, 1.0, 0.0), (9.0, 1.0, 0.0), (np.inf, 2.0, 0.0)]
    block = judge_blocks(evidence({"W": rows, "b": [(1.0, 1.0, 0.0)]}))["W"]
    assert block.verdict is Verdict.FAIL
    assert math.isnan(block.difference)
    assert (block.scale, block.resolution) == (None, math.inf)
    # NaN first (its gap is unknown), then the infinite gap, then the largest finite one.
    assert [entry.index for entry in block.worst] == [(6,), (8,), (7,)]
    assert block.diagnosis == ("dW has nan at (6,) (2 non-finite values): the backprop "
                               "overflowed or divided by zero")


# --- blocks: PASS, INCONCLUSIVE and their boundaries -----------------------------------------

def test_resolution_equal_to_the_noise_limit_is_still_informative():
    block = judge_blocks(evidence({"W": [(2.0, 2.0, 1.0)]}, noise_limit=0.25))["W"]
    assert block.resolution == 0.25
    assert (block.verdict, block.informative, block.diagnosis) == (Verdict.PASS, True,
                                                                   "dW matches")


def test_error_bars_too_wide_to_see_a_mismatch_are_inconclusive():
    found = judge_blocks(evidence({"W": [(1.0, 1.0, 0.5)], "b": [(100.0, 100.0, 0.0)]}))
    block = found["W"]
    assert (block.verdict, block.informative) == (Verdict.INCONCLUSIVE, False)
    assert block.diagnosis == ("dW: numerical error too large to judge (resolution 0.25 > "
                               "noise_limit 0.1)")
    assert block.difference == 0.0 and block.scale == 1.0 and block.resolution == 0.25


def test_zero_within_three_error_bars_passes_uninformative():
    # |g| + |n| = 3 = three error bars exactly; the whole gradient is zero as well.
    block = judge_blocks(evidence({"W": [(1.5, 1.5, 1.0)]}))["W"]
    assert (block.verdict, block.informative) == (Verdict.PASS, False)
    assert block.diagnosis == ("dW is zero within the error bars here (a scaling bug in this "
                               "block could not show at this point)")


def test_zero_needs_error_bars_negligible_beside_the_whole_gradient():
    # W: zero, error bar 1 = noise_limit 0.25 x the whole gradient's |g| + |n| = 4.
    found = judge_blocks(evidence({"W": [(0.0, 0.0, 1.0)], "b": [(2.0, 2.0, 0.0)]},
                                  noise_limit=0.25))
    assert found["W"].verdict is Verdict.PASS and not found["W"].informative
    assert found["W"].resolution == math.inf
    # An error bar of 1.25 is not negligible any more: the zero cannot be told from noise.
    found = judge_blocks(evidence({"W": [(0.0, 0.0, 1.25)], "b": [(2.0, 2.0, 0.0)]},
                                  noise_limit=0.25))
    assert found["W"].verdict is Verdict.INCONCLUSIVE


def test_negligible_error_bars_do_not_make_a_nonzero_block_zero():
    # |g| + |n| = 2 is more than three error bars (1.5): not zero, however small the
    # bars are beside the whole gradient; too noisy to judge.
    found = judge_blocks(evidence({"W": [(1.0, 1.0, 0.5)], "b": [(100.0, 100.0, 0.0)]},
                                  noise_limit=0.1))
    assert found["W"].verdict is Verdict.INCONCLUSIVE


@pytest.mark.parametrize(("rows", "verdict"), [
    # Excluded |g| 1 > judged |g| 0.1, and > noise_limit x whole scale (0.02): doubt.
    ([(0.1, 0.1, 0.0), (1.0, 0.0, 0.0, "kink")], Verdict.INCONCLUSIVE),
    # Excluded 0.5 < judged 1: the judged part vouches for the block.
    ([(1.0, 1.0, 0.0), (0.5, 0.0, 0.0, "kink")], Verdict.PASS),
    ([(1.0, 1.0, 0.0), (1.0, 1.0, 0.0), (0.5, 0.0, 0.0, "kink")], Verdict.PASS),
    # Excluded equal to judged: not "most of the gradient".
    ([(1.0, 1.0, 0.0), (1.0, 0.0, 0.0, "kink")], Verdict.PASS),
], ids=["most", "half", "third", "equal"])
def test_excluded_coordinates_that_carry_most_of_a_block_make_it_inconclusive(rows, verdict):
    block = judge_blocks(evidence({"W": rows}))["W"]
    assert block.verdict is verdict
    assert block.judged == len(rows) - 1 and dict(block.excluded) == {"kink": 1}
    if verdict is Verdict.INCONCLUSIVE:
        assert block.diagnosis == ("dW: the excluded coordinates (kink 1) carry most of this "
                                   "block's gradient, so what remains cannot vouch for it")


def test_excluded_gradient_equal_to_the_negligible_level_is_not_doubt():
    # W's excluded |g| = 1 = noise_limit 0.25 x whole scale 4: still negligible.
    rows = {"W": [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0, "non-smooth cost")],
            "b": [(2.0, 2.0, 0.0)]}
    assert judge_blocks(evidence(rows, noise_limit=0.25))["W"].verdict is Verdict.PASS
    rows["W"][1] = (1.25, 0.0, 0.0, "non-smooth cost")
    assert judge_blocks(evidence(rows, noise_limit=0.25))["W"].verdict is Verdict.INCONCLUSIVE


def test_at_a_kink_the_one_sided_derivative_judges_the_coordinate():
    # (g, n, e) of a one-sided coordinate: n and e are that side's estimate and bar.
    rows = [(0.1, 0.1, 0.0), (1.0, 1.0, 1e-9, "kink", True)]
    block = judge_blocks(evidence({"W": rows}))["W"]
    assert (block.verdict, block.judged, block.at_kinks, dict(block.excluded)) == (
        Verdict.PASS, 2, 1, {})
    assert block.resolution == pytest.approx(1e-9 / (2 * math.hypot(0.1, 1.0)))
    wrong = judge_blocks(evidence({"W": [(0.1, 0.1, 0.0), (2.0, 1.0, 1e-9, "kink", True)]}))
    assert wrong["W"].verdict is Verdict.FAIL


def test_a_block_with_every_coordinate_excluded_says_so_with_the_counts():
    rows = {"W": [(1e-9, 0.0, 0.0, "kink"), (2e-9, 0.0, 0.0, "non-smooth cost"),
                  (3e-9, 0.0, 0.0, "kink")],
            "b": [(1.0, 1.0, 0.0)]}
    block = judge_blocks(evidence(rows))["W"]
    assert (block.verdict, block.judged, block.size) == (Verdict.PASS, 0, 3)
    assert dict(block.excluded) == {"kink": 2, "non-smooth cost": 1}
    assert block.diagnosis == ("dW: every coordinate excluded (kink 2, non-smooth cost 1), "
                               "none carrying unverified gradient")


def test_a_sampled_block_whose_sample_is_all_excluded_or_zero_is_not_a_pass():
    # The unsampled coordinate carries the block's gradient: the sample saw none of it.
    excluded = {"W": [(1e-9, 0.0, 0.0, "kink"), (2e-9, 0.0, 0.0, "non-smooth cost"),
                      (3e-9, 0.0, 0.0, "kink"), (1.0, 0.0, 0.0, "unsampled")],
                "b": [(1.0, 1.0, 0.0)]}
    zero = {"W": [(0.0, 0.0, 1e-12), (0.0, 0.0, 1e-12), (1.0, 0.0, 0.0, "unsampled")],
            "b": [(1.0, 1.0, 0.0)]}
    for rows, evaluated in ((excluded, 3), (zero, 2)):
        block = judge_blocks(evidence(rows))["W"]
        assert block.verdict is Verdict.INCONCLUSIVE
        assert block.diagnosis == (
            f"dW: the {evaluated} sampled coordinates carry none of this block's gradient "
            "(zero within the error bars, or excluded), so they cannot vouch for it; check "
            "more coordinates (a larger sample, or sample=None)")
        assert block.gradient_share == pytest.approx(1e-9 * math.sqrt(14) if rows is excluded
                                               else 0.0, abs=1e-20)
    # Without the unsampled coordinate, the same zero block is the old uninformative PASS.
    whole = judge_blocks(evidence({"W": zero["W"][:2], "b": [(1.0, 1.0, 0.0)]}))["W"]
    assert (whole.verdict, whole.informative, whole.gradient_share) == (Verdict.PASS, False, 1.0)


def test_a_block_with_every_coordinate_excluded_and_a_real_gradient_is_not_a_pass():
    rows = {"W": [(1.0, 0.0, 0.0, "kink"), (2.0, 0.0, 0.0, "kink")], "b": [(1.0, 1.0, 0.0)]}
    block = judge_blocks(evidence(rows))["W"]
    assert (block.verdict, block.judged) == (Verdict.INCONCLUSIVE, 0)


def test_judged_counts_only_judged_coordinates():
    rows = [(1.0, 1.0, 0.0), (np.nan, 1.0, 0.0, "non-finite cost"),
            (np.inf, 1.0, 0.0, "unsampled"), (np.nan, 1.0, 0.0)]
    block = judge_blocks(evidence({"W": rows}))["W"]
    assert (block.judged, dict(block.excluded)) == (2, {"non-finite cost": 1})
    assert block.diagnosis.startswith("dW has nan at (3,) (1 non-finite values)")


def test_the_rules_tolerance_is_the_threshold_of_both_norms_plus_the_error_bars():
    assert allowed_gap(3.0, 1.0, 0.5, 0.25) == 1.5
    assert allowed_gap(0.0, 0.0, 0.0, 2e-7) == 0.0
    # A block FAILs just beyond it, and not at it (dyadic numbers: no rounding).
    beyond = evidence({"W": [(4.5, 2.0, 0.5)]}, threshold=0.25)  # 2.5 > 0.25 * 6.5 + 0.5
    assert judge_blocks(beyond)["W"].verdict is Verdict.FAIL
    at = evidence({"W": [(4.0, 2.0, 0.5)]}, threshold=0.25)      # 2 == 0.25 * 6 + 0.5
    assert judge_blocks(at)["W"].verdict is Verdict.PASS
