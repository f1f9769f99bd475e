"""The public API's own rules, pinned: check_loss_and_grads, the assert helpers, options.

These tests were written to kill mutmut's survivors in ``gcverify/check.py`` and
``gcverify/options.py`` (``.ci/mutmut``); each states a rule of their docstrings: what
``check_loss_and_grads`` takes from ``f`` and when, that ``allow_inconclusive`` is
honoured, that the helpers hide their own frames from pytest's traceback, and that
every front end reads an option's default, help, parser, metavar and choices from the
one definition in :class:`~gcverify.options.CheckOptions`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gcverify import (
    MLP,
    CheckOptions,
    InvalidArgument,
    Verdict,
    assert_backprop_correct,
    assert_gradients_correct,
    check_backprop,
    check_gradients,
    check_loss_and_grads,
)
from gcverify.backward_noise import backward_rounding
from gcverify.evaluate import ForwardEvaluator
from gcverify.models import notebook as nb
from gcverify.options import METHODS, MODES, _option, option_fields
from gcverify.params import ParamLayout

X, Y, P = nb.gradient_check_n_test_case()
F, B = nb.forward_propagation_n, nb.backward_propagation_n


def loss_and_grads(p):
    cost, cache = F(X, Y, p)
    return cost, B(X, Y, cache)


# --- check_loss_and_grads: the first call gives the grads, every call the loss -------------

def test_after_the_first_call_a_bare_loss_is_taken_as_the_loss():
    # Only the first call's grads are checked; at the perturbed points a pair gives its
    # loss and anything else is the loss itself.
    calls = []

    def f(p):
        calls.append(1)
        return loss_and_grads(p) if len(calls) == 1 else F(X, Y, p)[0]
    result = check_loss_and_grads(f, P)
    assert result.verdict is Verdict.PASS, str(result)
    assert len(calls) > 1


def test_after_the_first_call_anything_but_a_pair_is_judged_as_a_cost():
    # A list [loss, grads] is not a pair: it is handed on whole, and is no number.
    calls = []

    def f(p):
        calls.append(1)
        cost, grads = loss_and_grads(p)
        return (cost, grads) if len(calls) == 1 else [cost, 1.0]
    with pytest.raises(InvalidArgument) as info:
        check_loss_and_grads(f, P)
    assert str(info.value).startswith("cost(parameters)=[")
    assert str(info.value).endswith("] is not one real number; return the cost as a float, "
                                    "e.g. float(np.sum(losses)) / m")


# --- the assert helpers -------------------------------------------------------------------

def nan_cost(p):
    return float("nan")


def test_assert_gradients_correct_lets_an_inconclusive_result_through_when_allowed():
    gradients = B(X, Y, F(X, Y, P)[1])
    result = assert_gradients_correct(nan_cost, gradients, P, allow_inconclusive=True)
    assert result.verdict is Verdict.INCONCLUSIVE
    with pytest.raises(AssertionError, match="INCONCLUSIVE"):
        assert_gradients_correct(nan_cost, gradients, P)


def hidden_frames(info):
    """``__tracebackhide__`` of every frame in the traceback that sets it."""
    return [entry.frame.f_locals["__tracebackhide__"] for entry in info.traceback
            if "__tracebackhide__" in entry.frame.f_locals]


def doubled_dw2(X, Y, cache):
    gradients = B(X, Y, cache)
    gradients["dW2"] = 2 * gradients["dW2"]
    return gradients


@pytest.mark.parametrize("helper", ["gradients", "backprop"])
def test_the_assert_helpers_hide_their_frames_from_pytests_traceback(helper):
    # A failing user test shows the user's line and the report, not gcverify's frames:
    # the helper's frame and the one that raises both say __tracebackhide__ = True.
    with pytest.raises(AssertionError) as info:
        if helper == "gradients":
            assert_gradients_correct(lambda p: F(X, Y, p)[0], doubled_dw2(X, Y, F(X, Y, P)[1]),
                                     P)
        else:
            assert_backprop_correct(F, doubled_dw2, X, Y, P)
    assert hidden_frames(info) == [True, True]


# --- the options: one definition -------------------------------------------------------------

def test_an_option_field_carries_its_default_and_what_front_ends_show():
    spec = _option(0.5, "what it does", float, "V", ("a", "b"))
    assert spec.default == 0.5
    assert dict(spec.metadata) == {"help": "what it does", "parse": float, "metavar": "V",
                                   "choices": ("a", "b")}
    assert _option(None, "h", int, "N").metadata["choices"] is None


def test_option_fields_are_the_dataclass_fields_with_their_parser_metavar_and_choices():
    shown = [(spec.name, spec.default, spec.parse, spec.metavar, spec.choices, spec.flag)
             for spec in option_fields()]
    assert shown == [
        ("threshold", 2e-7, float, "T", None, "threshold"),
        ("method", "central", str, "METHOD", METHODS, "method"),
        ("epsilon", None, float, "H", None, "epsilon"),
        ("seed", 0, int, "S", None, "seed"),
        ("sample", None, int, "K", None, "sample"),
        ("noise_limit", 1e-4, float, "R", None, "noise-limit"),
        ("mode", "coordinates", str, "MODE", MODES, "mode"),
        ("directions", 8, int, "K", None, "directions"),
        ("jobs", None, int, "N", None, "jobs"),
    ]
    helps = {f.name: f.metadata["help"] for f in dataclasses.fields(CheckOptions)}
    for spec in option_fields():
        assert spec.help == helps[spec.name]
    assert option_fields()[0].help.startswith("largest acceptable difference")


def test_the_options_parse_what_a_command_line_gives():
    parsed = {spec.name: spec.parse(text) for spec, text in
              zip(option_fields(), ["3e-7", "auto", "1e-6", "7", "3", "2e-4", "auto", "5", "2"])}
    assert parsed == {"threshold": 3e-7, "method": "auto", "epsilon": 1e-6, "seed": 7,
                      "sample": 3, "noise_limit": 2e-4, "mode": "auto", "directions": 5,
                      "jobs": 2}
    assert CheckOptions(**parsed).as_dict() == parsed


# --- check_gradients: a batched cost is evaluated in batches only in its own layout --------

def test_a_batched_cost_is_evaluated_in_batches_in_its_own_layout_and_in_a_loop_otherwise():
    net = MLP((3, 4, 1))
    X_, Y_ = net.make_batch(5, seed=1)
    parameters = net.init_parameters(seed=2)
    gradients = net.backward(X_, Y_, net.forward(X_, Y_, parameters)[1])
    cost = net.cost_function(X_, Y_)
    same = check_gradients(cost, gradients, parameters)
    # The same blocks in another order are another layout: cost(parameters) per point.
    reordered = check_gradients(cost, gradients, dict(reversed(parameters.items())))
    assert (same.evaluator, same.verdict) == ("batched", Verdict.PASS)
    assert (reordered.evaluator, reordered.verdict) == ("loop", Verdict.PASS)


# --- check_backprop: what it hands the pipeline --------------------------------------------------

def rounded_to(bits, backward):
    """``backward`` with every gradient rounded to ``bits`` bits: relative rounding 2^-bits,
    like a backward pass that loses digits (an output near saturation)."""
    def rounded(X, Y, cache):
        gradients = backward(X, Y, cache)
        for key, value in gradients.items():
            unit = 2.0 ** (np.floor(np.log2(np.abs(value) + 1e-300)) - bits)
            gradients[key] = np.round(value / unit) * unit
        return gradients
    return rounded


def test_a_mismatch_the_backward_pass_own_rounding_explains_is_not_a_fail():
    # Rounded to 20 bits, the gradients differ from the exact ones by ~2e-7: beyond the
    # threshold, and a FAIL without the backward pass's measured rounding.
    result = check_backprop(F, rounded_to(20, B), X, Y, P)
    assert result.verdict is Verdict.PASS, str(result)
    assert result.difference > 1e-7
    # The probe's direction is drawn with the seed: the same seed, the same error bars.
    again = check_backprop(F, rounded_to(20, B), X, Y, P)
    assert again.error.tobytes() == result.error.tobytes()
    other = check_backprop(F, rounded_to(20, B), X, Y, P, seed=1)
    assert other.error.tobytes() != result.error.tobytes()


def test_the_backward_probe_gets_the_forwards_measured_rounding_scale(monkeypatch):
    import gcverify.check as check_module
    seen = []

    def spy(forward, backward, X, Y, layout, theta, seed, rounding_scale=None):
        seen.append((forward, backward, seed, rounding_scale))
        return backward_rounding(forward, backward, X, Y, layout, theta, seed, rounding_scale)
    monkeypatch.setattr(check_module, "backward_rounding", spy)
    backward = rounded_to(20, B)
    check_backprop(F, backward, X, Y, P, seed=5)
    [(forward, called, seed, scale)] = seen
    watcher = ForwardEvaluator(F, X, Y, ParamLayout.from_parameters(P))
    watcher.base_with_cache(watcher.layout.flatten(P))
    assert (forward, called, seed) == (F, backward, 5)
    assert scale is not None and scale.tolist() == watcher.rounding_scale.tolist()


def test_the_forward_is_evaluated_once_at_the_parameters_before_the_determinism_test():
    # A forward whose cost drifts with each call at the given parameters: the message
    # shows the first call's cost, then the two calls of the determinism test.
    calls = []

    def drifting(X_, Y_, parameters):
        cost, cache = F(X_, Y_, parameters)
        here = all(np.array_equal(parameters[k], P[k]) for k in P)
        calls.append(here)
        return cost + here * 2.0**-20 * (sum(calls) - 1), cache
    result = check_backprop(drifting, B, X, Y, P)
    base = F(X, Y, P)[0]
    shown = ", ".join(f"{base + k * 2.0**-20:.17g}" for k in range(3))
    assert result.reasons[0].startswith(f"the cost is not deterministic: the same parameters "
                                        f"gave {shown} (")
    assert sum(calls) == 3


class OwnerWithoutTwin:
    """An object whose bound forward offers a batched twin, which it then declines."""

    def __init__(self, twin=None):
        self.twin = twin

    def forward(self, X, Y, parameters):
        return F(X, Y, parameters)

    def batched_cost(self, forward, X, Y):
        return self.twin


@pytest.mark.parametrize("twin", [
    pytest.param(None, id="no twin"),
    pytest.param(MLP((4, 3, 1)).cost_function(X, Y), id="a twin in another layout"),
])
def test_a_forward_whose_owner_offers_no_usable_twin_is_checked_in_a_loop(twin):
    result = check_backprop(OwnerWithoutTwin(twin).forward, B, X, Y, P)
    assert (result.evaluator, result.verdict) == ("loop", Verdict.PASS)


def test_the_forwards_notes_and_the_in_place_note_are_both_reported():
    def forward(X_, Y_, parameters):
        cost, cache = F(X_, Y_, parameters)
        X_ *= 2.0                                   # writes into X, after using it
        return cost, cache
    forward.gcverify_notes = ("dropout: a note of the adapter",)
    result = check_backprop(forward, B, X, Y, P)
    assert result.reasons[-2:] == (
        "dropout: a note of the adapter",
        "forward modifies X or Y in place; the check gave it fresh copies each time, so the "
        "caller's arrays are untouched")


def test_one_coordinate_per_block_is_a_valid_sample():
    result = check_backprop(F, B, X, Y, P, sample=1)
    assert (result.options.sample, result.n_judged) == (1, len(P))


def test_directional_mode_restores_its_parameters_after_the_backwards_rounding_probe():
    # A FAIL in directional mode measures the backward's rounding at probe points made in
    # the checker's own copy of the parameters, restored from the caller's arrays: the
    # check hands those arrays on, and after it the caller's are untouched.
    before = {name: array.copy() for name, array in P.items()}

    def doubled_dW2(X, Y, cache):
        gradients = B(X, Y, cache)
        gradients["dW2"] = gradients["dW2"] * 2
        return gradients

    result = check_backprop(F, doubled_dW2, X, Y, P, mode="directional", directions=2)
    assert result.verdict is Verdict.FAIL and result.blocks["W2"].verdict is Verdict.FAIL
    assert all(np.array_equal(P[name], before[name]) for name in P)


def test_a_loop_over_the_users_code_runs_on_one_blas_thread_and_a_batched_cost_as_is(
        monkeypatch):
    # The loop calls the user's small products thousands of times: one BLAS thread, the
    # same throughout. The batched evaluator's large products keep the BLAS's threads.
    import contextlib

    import gcverify.check as check

    entered = []

    @contextlib.contextmanager
    def spy():
        entered.append(1)
        yield

    monkeypatch.setattr(check, "one_blas_thread", spy)
    net = MLP((4, 3, 1))
    x, y = net.make_batch(5, seed=0)
    batched = check_backprop(net.forward, net.backward, x, y, net.init_parameters(seed=1))
    assert batched.evaluator == "batched" and entered == []

    def user_forward(X, Y, parameters):                 # a function of the user's own
        return net.forward(X, Y, parameters)

    looped = check_backprop(user_forward, net.backward, x, y, net.init_parameters(seed=1))
    assert looped.evaluator == "loop" and entered == [1]
