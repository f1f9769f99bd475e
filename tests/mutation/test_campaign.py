"""Campaign outcomes on hand-picked mutants, and the done-when figures of the default target."""

from __future__ import annotations

import re

import pytest

from gcverify import CheckOptions, Verdict, check_backprop
from gcverify.errors import InvalidArgument
from gcverify.models import notebook as nb
from gcverify.mutation import (
    ExampleStatus,
    NotebookExamples,
    Outcome,
    Target,
    mutate_function,
    notebook_target,
    run_campaign,
)
from tests.mutation.campaigns import (
    default_campaign,
    mixed_campaign,
    pick,
    tiny_target,
    with_line,
)


def outcome_of(result, description):
    (found,) = [r for r in result.results if r.mutant.description == description]
    return found


# --- one outcome each ----------------------------------------------------------------------

def test_a_scaling_mutant_is_killed_with_its_block_named_and_a_shrunk_example():
    target = notebook_target(seed=0)
    result = run_campaign(target, examples=3, mutants=pick(target, "dW2 × 2"), jobs=1)
    (killed,) = result.results
    assert killed.outcome is Outcome.KILLED
    assert killed.detection_rate == 1.0 and killed.failing_examples == 3
    example = killed.killing_example
    assert example.blocks == ("dW2",)
    assert example.diagnosis == "dW2 ≈ 2.000 × numerical (scaling bug)"
    assert killed.difference == example.difference > 0.1
    assert (example.index, example.batch_size, example.columns) == (0, 3, (0,))
    assert example.shrunk and example.X.shape == (4, 1)
    assert killed.evidence.startswith("the check FAILs on 3 of 3 examples; first on example 0:")
    # The kept example replays the kill on its own.
    mutant = killed.mutant.compile(vars(nb))
    replay = check_backprop(nb.forward_propagation_n, mutant, example.X, example.Y,
                            example.parameters)
    assert replay.verdict is Verdict.FAIL
    assert check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, example.X,
                          example.Y, example.parameters).passed


def test_loosening_a_mask_on_z_is_probably_equivalent():
    result = mixed_campaign()
    equivalent = outcome_of(result, "Z1 > 0 → Z1 >= 0 in dZ1")
    assert equivalent.outcome is Outcome.EQUIVALENT
    # The tiny network's unit 2 is dead on its examples: revived, the mutant still
    # matches the original, so it stays probably equivalent (not "not reached").
    assert equivalent.evidence == (
        "its gradients equal the original's within rounding on all 4 examples (largest "
        "relative deviation 0.0e+00); the examples leave 5 gradient coordinates unreached "
        "(zero within the error bars on every example: dead units), and on 12 copies with "
        "those revived they still do")
    assert equivalent.detection_rate == 0.0 and equivalent.killing_example is None


def test_loosening_the_notebooks_mask_on_a_is_a_real_bug_that_is_killed():
    # A = relu(Z) >= 0 everywhere, so "A2 >= 0" drops the ReLU derivative.
    result = default_campaign()
    assert outcome_of(result, "A2 > 0 → A2 >= 0 in dZ2").outcome is Outcome.KILLED


def test_a_mutant_that_raises_is_killed_by_error_not_by_the_check():
    raised = outcome_of(mixed_campaign(), "raise RuntimeError('boom <&>')")
    assert raised.outcome is Outcome.KILLED_BY_ERROR
    assert raised.error == "RuntimeError: boom <&>"
    assert [run.status for run in raised.runs] == [ExampleStatus.ERROR] * 4
    assert raised.detection_rate == 0.0


def test_a_gradient_of_the_wrong_shape_is_killed_by_error():
    wrong = outcome_of(mixed_campaign(), "drop keepdims in db1")
    assert wrong.outcome is Outcome.KILLED_BY_ERROR
    assert wrong.error.startswith("InvalidArgument: backward(X, Y, cache)['db1'].shape=(4,) "
                                  "does not match parameters['b1'].shape=(4, 1)")


def test_a_mutant_that_loops_forever_times_out():
    looping = outcome_of(mixed_campaign(), "while True:\n    pass")
    assert looping.outcome is Outcome.TIMEOUT
    assert looping.runs == () and looping.detection_rate is None
    assert looping.seconds >= 2.0


def test_a_mutant_that_ends_the_interpreter_is_killed_by_error():
    exited = outcome_of(mixed_campaign(), "import os\nos._exit(3)")
    assert exited.outcome is Outcome.KILLED_BY_ERROR
    assert exited.error == "the mutant exited with code 3"
    assert exited.evidence == "the mutant crashed the interpreter: it exited with code 3"


def test_an_aborting_mutant_is_killed_by_error_and_the_campaign_goes_on():
    target = tiny_target()
    mutants = [with_line(target, "dZ2 = ", "import os\nos.abort()"), *pick(target, "dW2 × 2")]
    result = run_campaign(target, examples=2, mutants=mutants, jobs=2)
    aborted, killed = result.results
    assert aborted.outcome is Outcome.KILLED_BY_ERROR
    assert aborted.error == "the mutant was killed by SIGABRT"
    assert killed.outcome is Outcome.KILLED


def test_a_change_below_the_checks_resolution_survives():
    survivor = outcome_of(mixed_campaign(), "db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)"
                                            " * (1 + 1e-10)")
    assert survivor.outcome is Outcome.SURVIVED
    assert survivor.evidence.startswith("its gradients differ from the original's on 4 of 4 "
                                        "examples (largest relative deviation ")
    assert survivor.evidence.endswith("yet the check gave 4 PASS")


def test_counts_and_scores_of_a_mixed_campaign():
    result = mixed_campaign()
    assert result.counts.as_dict() == {"total": 7, "killed": 1, "killed_by_error": 3,
                                       "timeout": 1, "survived": 1, "not_reached": 0,
                                       "equivalent": 1}
    assert result.counts[Outcome.KILLED_BY_ERROR] == 3 and result.counts.judged == 6
    assert result.score == pytest.approx(5 / 6)
    assert result.check_score == pytest.approx(1 / 2)
    assert not result.passed
    assert result.summary() == ("score 83.3 %: 7 mutants, 1 killed by the check, 3 by an error, "
                                "1 timed out, 1 survived, 1 probably equivalent")


# --- interruption, validation -------------------------------------------------------------

def test_ctrl_c_returns_what_finished():
    target = notebook_target(seed=0)
    mutants = mutate_function(target.backward)[:6]
    seen = []

    def progress(done, total, result):
        seen.append(result.mutant.id)
        if done == 2:
            raise KeyboardInterrupt

    result = run_campaign(target, examples=2, mutants=mutants, jobs=1, progress=progress)
    assert result.interrupted and not result.passed
    assert [r.mutant.id for r in result.results] == seen == [m.id for m in mutants[:2]]
    assert result.not_run == mutants[2:]
    assert "(interrupted: 4 not run)" in result.summary()


def test_a_backward_pass_that_already_fails_is_refused():
    buggy = Target.from_functions(nb.forward_propagation_n, nb.backward_propagation_n_buggy,
                                  NotebookExamples(seed=0))
    with pytest.raises(InvalidArgument, match=r"^backward='backward_propagation_n_buggy' "
                                              r"already fails the gradient check on example 0"):
        run_campaign(buggy, examples=1, mutants=[])


@pytest.mark.parametrize(("options", "message"), [
    ({"examples": 0}, "examples=0 is not a positive integer"),
    ({"jobs": 0}, "jobs=0 is not a positive integer"),
    ({"time_limit": -1}, "time_limit=-1 is not a positive number of seconds"),
    ({"check_options": {"treshold": 1e-7}},
     "check_options={'treshold': 1e-07} is not a CheckOptions; pass e.g. "
     "CheckOptions(threshold=1e-6), or None"),
])
def test_bad_arguments(options, message):
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        run_campaign(notebook_target(), mutants=[], **options)


def test_check_options_are_passed_on_and_reported_with_the_defaults():
    target = notebook_target()
    result = run_campaign(target, examples=1, mutants=pick(target, "dW2 × 2"), jobs=1,
                          check_options=CheckOptions(threshold=1e-6))
    assert result.check_options.as_dict() == {"threshold": 1e-6, "method": "central",
                                              "epsilon": None, "seed": 0, "sample": None,
                                              "noise_limit": 1e-4, "mode": "coordinates",
                                              "directions": 8, "jobs": 1}
    assert result.results[0].outcome is Outcome.KILLED


# --- the built-in notebook target: the "done when" ----------------------------------

def test_default_target_has_at_least_40_mutants_over_at_least_8_families():
    result = default_campaign()
    assert result.counts.total >= 40
    assert len(result.families) >= 8
    assert not result.interrupted and not result.not_run


def test_default_target_scores_100_percent_of_the_non_equivalent_mutants():
    result = default_campaign()
    assert result.score == 1.0 and result.passed
    assert result.survivors == ()
    assert result.counts[Outcome.TIMEOUT] == 0


def test_default_target_every_scaling_and_sign_mutant_is_killed_by_the_check_itself():
    result = default_campaign()
    scaling_and_sign = [r for r in result.results if r.mutant.family in ("scale", "sign")]
    assert len(scaling_and_sign) >= 20
    for mutant_result in scaling_and_sign:
        assert mutant_result.outcome is Outcome.KILLED, mutant_result.summary()
        assert mutant_result.killing_example.blocks


def test_default_target_equivalents_are_the_masks_written_with_z():
    result = default_campaign()
    assert sorted(r.mutant.description for r in result.equivalents) == [
        "A1 → Z1 in dZ1", "A2 → Z2 in dZ2"]


def test_default_target_the_notebooks_bugs_are_killed_and_diagnosed():
    result = default_campaign()
    dW2 = outcome_of(result, "dW2 × 2")
    db1 = outcome_of(result, "1. / m → 4. / m in db1")
    assert dW2.killing_example.diagnosis == "dW2 ≈ 2.000 × numerical (scaling bug)"
    assert db1.killing_example.diagnosis == "db1 ≈ 4.000 × numerical (scaling bug)"
    assert dW2.detection_rate == db1.detection_rate == 1.0


def test_mutants_of_a_function_the_target_does_not_mutate_are_refused():
    # Each mutant replaces its own function in the child: one of another function would
    # replace the target's instead, and be judged as if it were a mutant of it.
    target = notebook_target(seed=0)
    foreign = mutate_function(nb.forward_propagation_n)[:2]
    with pytest.raises(InvalidArgument, match=r"^mutants=\[.*\] holds mutants of a function "
                       r"the target does not mutate \(backward_propagation_n\); make them "
                       r"with target.mutants\(\) or mutate\(target.source\)$"):
        run_campaign(target, examples=2, mutants=foreign, jobs=1)
