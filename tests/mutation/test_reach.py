"""Mutants the examples do not reach: a dead unit hides any bug in its gradient.

The tiny network's unit 2 is dead on every example (its pre-activation is negative): its
gradient (row 2 of dW1, db1[2], dW2[0, 2]) is zero. A mutant that only changes that
unit's gradient is "not reached" (mutmut's "no tests"), neither detected nor survived,
and left out of the score; the reports give it its own section.
"""

from __future__ import annotations

import functools
import json

import numpy as np

from gcverify import check_backprop
from gcverify.adapters import Backprop
from gcverify.mutation import Equivalence, Outcome, run_campaign
from gcverify.mutation.reach import (
    REVIVALS,
    differs_when_revived,
    reached_coordinates,
    revived_parameters,
)
from gcverify.report import render_html, render_json, render_junit, render_markdown
from tests.mutation import tiny_network
from tests.mutation.campaigns import pick, tiny_target, with_line

DEAD_UNIT = [6, 7, 8, 14, 18]      # W1 row 2, b1[2], W2[0, 2] in the flat layout


def test_the_tiny_network_has_one_dead_unit_that_the_check_reports():
    X, Y, parameters = tiny_network.case()
    result = check_backprop(tiny_network.forward, tiny_network.backward, X, Y, parameters)
    assert np.flatnonzero(~reached_coordinates(result)).tolist() == DEAD_UNIT
    assert result.blocks["W1"].dead_units == (2,)
    assert result.blocks["b1"].dead_units == (2,)
    assert result.blocks["W1"].coverage == 0.75


def test_revived_parameters_redraw_only_the_unreached_entries():
    X, Y, parameters = tiny_network.case()
    unreached = np.zeros(21, dtype=bool)
    unreached[DEAD_UNIT] = True
    revived = revived_parameters(parameters, unreached, seed=1)
    for name in parameters:
        assert revived[name].shape == parameters[name].shape
    assert np.array_equal(np.delete(revived["W1"], 2, axis=0),
                          np.delete(parameters["W1"], 2, axis=0))
    assert not np.array_equal(revived["W1"][2], parameters["W1"][2])
    assert revived["b1"][2, 0] != parameters["b1"][2, 0]
    assert parameters["b1"][2, 0] == tiny_network.case()[2]["b1"][2, 0]  # not changed


def _dead_unit_tripled(X, Y, cache):
    grads = tiny_network.backward(X, Y, cache)
    grads["dW1"][2] *= 3
    return grads


def _raises(X, Y, cache):
    raise ValueError("boom")


def test_revived_copies_tell_a_change_on_the_dead_unit_from_an_equivalent_one():
    example = tiny_network.case()
    unreached = np.zeros(21, dtype=bool)
    unreached[DEAD_UNIT] = True
    original = Backprop(tiny_network.forward, tiny_network.backward)
    matches = Equivalence().matches
    changed, tried = differs_when_revived(
        original, Backprop(tiny_network.forward, _dead_unit_tripled), [example] * 2,
        unreached, matches)
    assert tried == 2 * REVIVALS and 0 < changed <= tried
    assert differs_when_revived(original, original, [example], unreached,
                                matches) == (0, REVIVALS)
    assert differs_when_revived(original, Backprop(tiny_network.forward, _raises),
                                [example], unreached, matches) == (0, 0)


@functools.cache
def unreached_campaign():
    target = tiny_target()
    mutants = [
        # only the dead unit's weights: zero times 3 is zero on every example
        with_line(target, "dW1 = ", "dW1 = 1. / m * np.dot(dZ1, X.T)\ndW1[2] = dW1[2] * 3"),
        # a change below the error bars, only where the examples do not reach
        with_line(target, "db1 = ",
                  "db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)\ndb1[2] += 1e-13"),
        # the same change on a live unit: a survivor
        with_line(target, "db1 = ",
                  "db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)\ndb1[1] += 1e-13"),
        *pick(target, "Z1 > 0 → Z1 >= 0 in dZ1", "dW2 × 2"),
    ]
    return run_campaign(target, examples=3, mutants=mutants, jobs=2)


def test_a_mutant_that_only_changes_a_dead_unit_is_not_reached():
    results = unreached_campaign().results
    assert [r.outcome for r in results] == [Outcome.NOT_REACHED, Outcome.NOT_REACHED,
                                            Outcome.SURVIVED, Outcome.EQUIVALENT,
                                            Outcome.KILLED]
    assert "with their parameters redrawn its gradients differ on" in results[0].evidence
    assert results[0].evidence.endswith("the examples do not reach the change")
    assert "but only where the examples do not reach" in results[1].evidence
    assert [run.reached for run in results[2].runs] == [True] * 3
    assert [run.reached for run in results[1].runs] == [False] * 3


def test_not_reached_is_neither_detected_nor_survived():
    result = unreached_campaign()
    counts = result.counts
    assert Outcome.NOT_REACHED.label == "not reached" and not Outcome.NOT_REACHED.detected
    assert counts.judged == 2                       # the survivor and the killed one
    assert result.score == 0.5 and result.check_score == 0.5
    assert len(result.not_reached) == 2 and len(result.survivors) == 1
    assert result.summary() == (
        "score 50.0 %: 5 mutants, 1 killed by the check, 0 by an error, 0 timed out, "
        "1 survived, 1 probably equivalent, 2 not reached by the examples")


def test_every_report_shows_the_mutants_not_reached():
    result = unreached_campaign()
    markdown = render_markdown(result)
    assert "### Not reached by the examples" in markdown
    assert "| not reached by the examples | 2 |" in markdown
    assert "1 survived; 2 not reached by the examples." in markdown
    assert "<h2>Not reached by the examples</h2>" in render_html(result)
    document = json.loads(render_json(result))
    assert document["summary"]["not_reached"] == 2
    assert [m["outcome"] for m in document["mutants"]].count("not_reached") == 2
    xml = render_junit(result)
    assert 'skipped="3"' in xml and xml.count("not reached:") == 2


def test_the_command_line_summary_lists_them(capsys):
    from gcverify.cli.mutate import print_campaign

    print_campaign(unreached_campaign(), {})
    out = capsys.readouterr().out
    assert "1 survived, 1 probably equivalent, 2 not reached by the examples" in out
    assert "unreached" in out.splitlines()[5]                  # the family table's header
    assert ("Not reached by the examples (2; left out of the score: add examples that "
            "reach them):") in out
