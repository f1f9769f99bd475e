"""The overall verdict and its reasons, rule by rule, on hand-made evidence.

``gcverify.verdict.overall_verdict`` turns the blocks' findings into one verdict and the
sentences that explain it, most important first. Each rule of the module docstring is
checked here with the exact sentence a user reads.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gcverify.result import Verdict
from gcverify.verdict import (
    Exclusion,
    Judgement,
    Whole,
    excluded_totals,
    judge,
    localised_verdict,
    mismatch_reason,
    non_finite_gradient,
    overall_verdict,
    verdict_without_numbers,
)
from tests.test_verdict_rules import evidence


def verdict_of(blocks, **settings):
    ev = evidence(blocks, **settings)
    return overall_verdict(ev, judge(ev))


def test_failing_blocks_are_named_with_their_diagnoses_in_order():
    verdict, reasons = verdict_of({"W": [(2.0, 1.0, 0.0), (4.0, 2.0, 0.0)],
                                   "b": [(1.0, 1.0, 0.0)], "c": [(-3.0, 3.0, 0.0)]})
    assert verdict is Verdict.FAIL
    assert reasons == ["2 of 3 blocks mismatch: dW ≈ 2.000 × numerical (scaling bug); "
                       "dc = -1.000 × numerical (wrong sign)"]


def test_the_whole_vector_failing_alone_is_a_fail_with_its_own_reason():
    # By Minkowski's inequality the whole fails only if a block does; the rule is kept
    # for rounding at the boundary, and checked on a hand-made judgement.
    ev = evidence({"W": [(1.0, 1.0, 0.0)]})
    passing = judge(ev)
    whole = Whole(difference=0.25, fails=True, resolution=0.0, scale=2.0)
    assert not passing.failed and Judgement(whole, passing.findings).failed
    verdict, reasons = overall_verdict(ev, Judgement(whole, passing.findings))
    assert verdict is Verdict.FAIL
    assert reasons == ["the whole gradient's difference 0.25 exceeds 2e-07 beyond the "
                       "numerical error, though no single block does"]


def test_a_non_finite_cost_is_never_a_pass():
    verdict, reasons = verdict_of({"W": [(1.0, 1.0, 0.0), (1.0, 0.0, 0.0, "non-finite cost"),
                                         (1.0, 0.0, 0.0, "non-finite cost")]})
    assert verdict is Verdict.INCONCLUSIVE
    assert reasons[0] == ("the cost is not finite at the perturbed points of 2 coordinates: "
                          "a NaN or inf is never a pass")


def test_an_unjudgeable_block_makes_the_check_inconclusive_with_its_diagnosis():
    verdict, reasons = verdict_of({"W": [(1.0, 1.0, 1.0)], "b": [(100.0, 100.0, 0.0)]},
                                  noise_limit=1e-3)
    assert verdict is Verdict.INCONCLUSIVE
    assert reasons == ["dW: numerical error too large to judge (resolution 0.5 > noise_limit "
                       "0.001)"]


def test_nothing_judged_is_inconclusive():
    verdict, reasons = verdict_of({"W": [(1.0, 1.0, 0.0, "unsampled")]})
    assert (verdict, reasons[0]) == (Verdict.INCONCLUSIVE, "no coordinate could be judged")


def test_a_stationary_point_is_inconclusive():
    verdict, reasons = verdict_of({"W": [(0.0, 0.0, 1e-9)], "b": [(0.0, 0.0, 0.0)]})
    assert verdict is Verdict.INCONCLUSIVE
    assert reasons[0] == ("the gradient is zero within the error bars in every block (a "
                          "stationary point): a mismatch could not show here; check at other "
                          "parameters")


def test_a_pass_says_what_was_excluded_what_is_unverified_and_what_is_within_the_bars():
    blocks = {"W": [(1.0, 1.0, 0.0), (0.2, 0.0, 0.0, "kink"),
                    (0.1, 0.0, 0.0, "non-smooth cost"), (0.1, 0.0, 0.0, "kink"),
                    (0.3, 0.3, 1e-9, "kink", True)],
              "b": [(0.0, 0.0, 1e-9)], "c": [(0.0, 0.0, 1e-9)]}
    verdict, reasons = verdict_of(blocks, noise_limit=1e-3)
    assert verdict is Verdict.PASS
    assert reasons == [
        "3 coordinates excluded (kink 2, non-smooth cost 1): their finite differences are "
        "not derivatives",
        "1 coordinates at kinks, judged by the one-sided derivative backprop takes there",
        "zero within the error bars here, so unverified at this point: db, dc",
    ]


def test_a_difference_above_the_threshold_but_within_the_error_bars_is_explained():
    # |g - n| = 0.1 > 2e-7 x 2.1, but the error bar 0.2 covers it.
    verdict, reasons = verdict_of({"W": [(1.1, 1.0, 0.2)]}, noise_limit=0.5)
    assert verdict is Verdict.PASS
    assert reasons == ["the difference 0.0476 exceeds 2e-07 but is within the estimated "
                       "numerical error (0.095 relative)"]


def test_the_within_the_bars_sentence_needs_a_difference_strictly_above_the_threshold():
    # |g - n| / (|g| + |n|) = 2 / 4, exactly the threshold: nothing to explain.
    # (An error bar of 1, not 3: with |g| + |n| = 4 within three bars of zero, the
    # coordinate would not be covered, and the note on coverage would say so.)
    verdict, reasons = verdict_of({"W": [(3.0, 1.0, 1.0)]}, threshold=0.5, noise_limit=0.8)
    assert (verdict, reasons) == (Verdict.PASS, [])


def test_a_fail_keeps_its_notes_but_never_says_within_the_bars():
    blocks = {"W": [(2.0, 1.0, 0.0), (0.1, 0.0, 0.0, "kink")], "b": [(0.0, 0.0, 1e-9)]}
    verdict, reasons = verdict_of(blocks)
    assert verdict is Verdict.FAIL
    assert reasons[1:] == [
        "1 coordinates excluded (kink 1): their finite differences are not derivatives",
        "zero within the error bars here, so unverified at this point: db"]


def test_only_passing_uninformative_blocks_are_called_unverified():
    # b is inconclusive (too noisy), not "unverified": it is named once, as the reason.
    verdict, reasons = verdict_of({"W": [(1.0, 1.0, 0.0)], "b": [(0.01, 0.01, 0.01)]},
                                  noise_limit=1e-3)
    assert verdict is Verdict.INCONCLUSIVE
    assert not any("unverified" in reason for reason in reasons)


@pytest.mark.parametrize(("codes", "totals"), [
    ([], {}),
    ([Exclusion.KINK], {"kink": 1}),
    ([Exclusion.NONFINITE, Exclusion.KINK, Exclusion.NONFINITE],
     {"kink": 1, "non-finite cost": 2}),
], ids=["none", "one", "ordered by reason"])
def test_excluded_totals_count_each_reason_in_the_enums_order(codes, totals):
    labels = {int(e): e.label for e in Exclusion}
    rows = [(1.0, 1.0, 0.0, labels[int(code)]) for code in codes] + [(1.0, 1.0, 0.0)]
    found = excluded_totals(evidence({"W": rows}))
    assert found == totals and list(found) == list(totals)


def test_excluded_totals_leave_out_unsampled_coordinates():
    ev = evidence({"W": [(1.0, 1.0, 0.0, "unsampled"), (1.0, 1.0, 0.0, "kink")]})
    ev.exclusion[0] = Exclusion.KINK            # excluded, but never evaluated: not counted
    assert excluded_totals(ev) == {"kink": 1}
    assert np.sum(ev.evaluated) == 1


# --- the verdicts the pipeline and the directional mode reach by other paths -------------

def test_the_mismatch_headline_counts_the_failing_blocks_among_all():
    findings = judge(evidence({"W": [(2.0, 1.0, 0.0), (4.0, 2.0, 0.0)],
                               "b": [(1.0, 1.0, 0.0)], "c": [(-3.0, 3.0, 0.0)]})).findings
    failed = [findings["W"], findings["c"]]
    assert mismatch_reason(failed, 3) == ("2 of 3 blocks mismatch: dW ≈ 2.000 × numerical "
                                          "(scaling bug); dc = -1.000 × numerical (wrong sign)")


WHY = "the cost is not deterministic: the same parameters gave 1, 2"


# What the pipeline judges when it cannot trust a finite difference: no numbers at all.
UNKNOWN = (np.nan, np.inf)


def test_nothing_numerical_judged_is_inconclusive_in_every_block_and_says_why():
    judgement = judge(evidence({"W": [(2.0, *UNKNOWN)], "b": [(1.0, *UNKNOWN)]}))
    verdict, findings, reasons = verdict_without_numbers(judgement, WHY)
    assert verdict is Verdict.INCONCLUSIVE and reasons == [WHY]
    assert [(f.verdict, f.diagnosis) for f in findings.values()] == [
        (Verdict.INCONCLUSIVE, "dW: not judged (the cost is not deterministic)"),
        (Verdict.INCONCLUSIVE, "db: not judged (the cost is not deterministic)")]


def test_a_missing_gradient_fails_even_when_nothing_numerical_is_judged():
    ev = replace(evidence({"W": [(0.0, *UNKNOWN)], "b": [(1.0, *UNKNOWN)]}),
                 missing=frozenset({0}))
    verdict, findings, reasons = verdict_without_numbers(judge(ev), WHY)
    assert verdict is Verdict.FAIL
    assert reasons == ["1 of 2 blocks mismatch: dW: missing from the gradients", WHY]
    assert findings["W"].verdict is Verdict.FAIL
    assert findings["b"].verdict is Verdict.INCONCLUSIVE


def test_localisation_that_finds_nothing_more_leaves_the_verdict_as_it_was():
    judgement = judge(evidence({"W": [(1.0, 1.0, 0.0)]}))
    why = ["a note"]
    assert localised_verdict(judgement, judgement.findings, Verdict.PASS, why) == (
        Verdict.PASS, why)


def test_a_block_localisation_calls_failing_heads_the_reasons_of_a_passing_judgement():
    judgement = judge(evidence({"W": [(1.0, 1.0, 0.0)], "b": [(1.0, 1.0, 0.0)]}))
    found = dict(judgement.findings)
    found["W"] = non_finite_gradient(found["W"], np.array([np.nan]), (1,))
    verdict, why = localised_verdict(judgement, found, Verdict.PASS, ["a note"])
    assert verdict is Verdict.FAIL
    assert why == ["1 of 2 blocks mismatch: dW has nan at (0,) (1 non-finite values): the "
                   "backprop overflowed or divided by zero", "a note"]


def test_a_localised_diagnosis_replaces_the_headline_of_a_failing_judgement():
    ev = evidence({"W": [(2.0, 1.0, 0.0)], "b": [(1.0, 1.0, 0.0)]})
    judgement = judge(ev)
    verdict, why = overall_verdict(ev, judgement)
    found = dict(judgement.findings)
    found["W"] = replace(found["W"], diagnosis="dW = numerical transposed")
    assert localised_verdict(judgement, found, verdict, [*why, "a note"]) == (
        Verdict.FAIL, ["1 of 2 blocks mismatch: dW = numerical transposed", "a note"])


def test_a_non_finite_analytic_entry_fails_its_block_and_is_named_where_it_is():
    passing = judge(evidence({"W": [(1.0, 1.0, 0.0)] * 4})).findings["W"]
    assert non_finite_gradient(passing, np.ones(4), (2, 2)) is None
    failing = non_finite_gradient(passing, np.array([1.0, np.inf, np.nan, -np.inf]), (2, 2))
    assert failing is not None and failing.verdict is Verdict.FAIL
    assert failing.diagnosis == ("dW has inf at (0, 1) (3 non-finite values): the backprop "
                                 "overflowed or divided by zero")
    (entry,) = failing.worst
    assert (entry.index, entry.analytic, entry.error) == ((0, 1), np.inf, np.inf)
    assert np.isnan(entry.numerical)
