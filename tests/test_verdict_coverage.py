"""Gradient coverage: which coordinates the examples reach, and the note on dead units.

A coordinate is covered when ``|g| + |n| > 3 e`` (the verdict's notion of zero, for one
coordinate); a block's coverage is the share of its judged coordinates that are; its
dead units are the rows (the units of ``W`` and ``b``) with judged coordinates, none
covered. A block below :data:`~gcverify.verdict.LOW_COVERAGE` gets one note; the verdict
does not change.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gcverify.coverage import LOW_COVERAGE, ZERO_BARS, covered_coordinates
from gcverify.params import ParamLayout
from gcverify.result import Verdict
from gcverify.verdict import (
    NOT_EXCLUDED,
    Evidence,
    Exclusion,
    judge,
    judge_blocks,
    overall_verdict,
)
from tests.test_verdict_rules import evidence


def test_the_low_coverage_threshold_is_one_half_and_zero_is_three_error_bars():
    assert (LOW_COVERAGE, ZERO_BARS) == (0.5, 3.0)


@pytest.mark.parametrize("g, n, e, covered", [
    (1.0, 2.0, 1.0, False),          # |g| + |n| = 3 e exactly: zero within three bars
    (1.0, 2.0 + 1e-12, 1.0, True),
    (0.0, 3.5, 1.0, True),           # the numerical side alone can show it
    (-3.5, 0.0, 1.0, True),          # and the analytic side alone
    (0.0, 0.0, 0.0, False),          # a dead unit: both exactly zero, no error at all
    (1e-300, 0.0, 0.0, True),
    (math.nan, 1.0, 0.0, False),
], ids=["at three bars", "just above", "numerical only", "analytic only", "exact zero",
        "tiny but certain", "nan"])
def test_a_coordinate_is_covered_beyond_three_error_bars(g, n, e, covered):
    assert covered_coordinates(evidence({"W": [(g, n, e)]})).tolist() == [covered]


def test_excluded_and_unsampled_coordinates_are_not_covered():
    ev = evidence({"W": [(1.0, 1.0, 0.0, "kink"), (1.0, 1.0, 0.0, "unsampled"),
                         (1.0, 1.0, 0.0)]})
    assert covered_coordinates(ev).tolist() == [False, False, True]


def test_coverage_is_the_share_of_judged_coordinates_that_are_covered():
    findings = judge_blocks(evidence({
        "W": [(1.0, 1.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0),
              (5.0, 5.0, 0.0, "kink")],
        "b": [(1.0, 1.0, 0.0, "kink")]}))
    assert findings["W"].coverage == 0.25
    assert math.isnan(findings["b"].coverage)


def _grid_evidence(analytic, *, excluded=()):
    """A 3 x 2 block ``W`` (units x inputs) and a (3, 1) ``b``; error bars 1e-9."""
    layout = ParamLayout(("W", "b"), ((3, 2), (3, 1)))
    g = np.asarray(analytic, dtype=float)
    exclusion = np.full(g.size, NOT_EXCLUDED)
    exclusion[list(excluded)] = Exclusion.KINK
    return Evidence(layout, g, g.copy(), np.full(g.size, 1e-9), exclusion,
                    np.ones(g.size, dtype=bool), 2e-7, 1e-3, None, None)


def test_dead_units_are_the_rows_with_no_covered_coordinate():
    #      W: unit 0 live, unit 1 dead, unit 2 half live;  b: units 0, 1 dead, 2 live
    ev = _grid_evidence([0.5, 0.1, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.2])
    findings = judge_blocks(ev)
    assert findings["W"].dead_units == (1,)
    assert findings["b"].dead_units == (0, 1)
    assert findings["W"].coverage == pytest.approx(3 / 6)
    assert findings["b"].coverage == pytest.approx(1 / 3)


def test_a_unit_whose_coordinates_are_all_excluded_is_not_called_dead():
    ev = _grid_evidence([0.5, 0.1, 0.0, 0.0, 0.2, 0.3, 0.1, 0.1, 0.2], excluded=(2, 3))
    assert judge_blocks(ev)["W"].dead_units == ()


def test_low_coverage_is_a_note_naming_the_dead_units_and_the_verdict_stays():
    ev = _grid_evidence([0.5, 0.1, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.2])
    verdict, reasons = overall_verdict(ev, judge(ev))
    assert verdict is Verdict.PASS
    assert reasons == ["low gradient coverage (below 50%), so a bug there could not show "
                       "on these examples: db covers 33% (units 0, 1 dead on these "
                       "examples)"]


def test_one_dead_unit_is_named_in_the_singular_and_a_block_without_dead_units_too():
    ev = evidence({"W": [(1.0, 1.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)],
                   "c": [(2.0, 2.0, 0.0)]})
    layout = ParamLayout(("W", "c"), ((1, 3), (1,)))
    ev = Evidence(layout, ev.analytic, ev.numerical, ev.error, ev.exclusion, ev.evaluated,
                  ev.threshold, ev.noise_limit)
    _, reasons = overall_verdict(ev, judge(ev))
    assert reasons == ["low gradient coverage (below 50%), so a bug there could not show "
                       "on these examples: dW covers 33%"]
    ev = evidence({"W": [(1.0, 1.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]})
    _, reasons = overall_verdict(ev, judge(ev))
    assert reasons[-1].endswith("dW covers 33% (units 1, 2 dead on these examples)")
    ev = evidence({"W": [(1.0, 1.0, 0.0), (0.0, 0.0, 0.0), (1.0, 1.0, 0.0),
                         (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]})
    _, reasons = overall_verdict(ev, judge(ev))
    assert reasons[-1].endswith("dW covers 40% (units 1, 3, 4 dead on these examples)")
    ev = evidence({"W": [(1.0, 1.0, 0.0), (0.0, 0.0, 0.0), (1.0, 1.0, 0.0), (0.0, 0.0, 0.0),
                         (0.0, 0.0, 0.0), (1.0, 1.0, 0.0)]})
    _, reasons = overall_verdict(ev, judge(ev))
    assert reasons == []                          # exactly one half: not low
    ev = evidence({"W": [(1.0, 1.0, 0.0), (1.0, 1.0, 0.0), (0.0, 0.0, 0.0)],
                   "c": [(1.0, 1.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]})
    _, reasons = overall_verdict(ev, judge(ev))
    assert reasons == ["low gradient coverage (below 50%), so a bug there could not show "
                       "on these examples: dc covers 33% (units 1, 2 dead on these "
                       "examples)"]


def test_inconclusive_and_zero_blocks_get_no_coverage_note():
    # b is zero throughout (named as unverified already); c is too noisy to judge.
    ev = evidence({"W": [(10.0, 10.0, 0.0)], "b": [(0.0, 0.0, 1e-12)],
                   "c": [(0.5, 0.5, 1.0)]}, noise_limit=1e-3)
    verdict, reasons = overall_verdict(ev, judge(ev))
    assert verdict is Verdict.INCONCLUSIVE
    assert not any("coverage" in reason for reason in reasons)


def test_a_failing_block_with_low_coverage_keeps_the_note():
    ev = evidence({"W": [(2.0, 1.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]})
    verdict, reasons = overall_verdict(ev, judge(ev))
    assert verdict is Verdict.FAIL
    assert reasons[-1].endswith("dW covers 33% (units 1, 2 dead on these examples)")


def test_certificate_and_coverage_reach_the_json_and_the_text_report():
    from gcverify import MLP, check_backprop
    net = MLP((3, 4, 1))
    X, Y = net.make_batch(5)
    result = check_backprop(net.forward, net.backward, X, Y, net.init_parameters())
    data = result.to_dict()
    block = data["blocks"]["W1"]
    assert block["coverage"] == result.blocks["W1"].coverage
    assert block["dead_units"] == list(result.blocks["W1"].dead_units)
    assert block["sensitivity"] == result.blocks["W1"].sensitivity.as_dict()
    assert data["sensitivity"]["relative_error"] == max(
        b.sensitivity.relative_error for b in result.blocks.values())
    text = str(result)
    assert "What this check would have caught" in text
    assert result.blocks["W1"].sensitivity.describe("dW1") in text
