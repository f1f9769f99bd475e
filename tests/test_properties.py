"""The property suite: Hypothesis generates networks, parameters and batches.

1. The correct backprop is never FAIL, and PASS (not INCONCLUSIVE) on >= 95 % of examples.
2. A scaling bug in a block with a visible gradient is always FAIL, block and factor found.
3. The notebook's own checker is not reliable: Hypothesis finds a correct backprop it
   fails, and a NaN it calls "perfectly fine" (minimal examples recorded below).
4. The caller's arrays are never modified, and the same input gives the same result.
5. No noise in the cost hides a planted bug: relative noise from 1e-16 to 1e-2, an error
   of relative size 1e-6 to 1 in one block, never PASS.

The number of examples comes from the Hypothesis profile (GCVERIFY_HYPOTHESIS_PROFILE);
property 1 runs at least 200 under ``ci`` so that its 95 % share means something.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import event, find, given, note, settings
from hypothesis import strategies as st

from gcverify import MLP, Verdict, check_backprop
from gcverify.models import notebook as nb
from gcverify.strategies import cases, networks

NOTEBOOK_NET = MLP((4, 5, 3, 1), "relu", "naive")


def budget(minimum: int) -> settings:
    """At least ``minimum`` examples, unless the profile asks for fewer on purpose."""
    current = settings.default
    if current.phases and len(current.phases) <= 2:     # the mutmut profile: stay fast
        return settings(current)
    return settings(current, max_examples=max(current.max_examples, minimum))


def reason_kind(reason: str) -> str:
    """A reason without its numbers, for counting."""
    return re.sub(r"[dW]?[Wb]\d+|\d[\d.e+-]*", "#", reason)[:70]


def verdict_shares(strategy, check, minimum: int) -> Counter:
    """Run ``check`` on examples of ``strategy``: no FAIL allowed; count the verdicts."""
    counts: Counter = Counter()
    reasons: Counter = Counter()

    @budget(minimum)
    @given(strategy)
    def correct_backprop_never_fails(case):
        result = check(case)
        counts[result.verdict] += 1
        event(f"verdict: {result.verdict.value}")
        if result.verdict is not Verdict.PASS:
            event(f"inconclusive: {reason_kind(result.reasons[0])}")
            reasons[reason_kind(result.reasons[0])] += 1
        assert result.verdict is not Verdict.FAIL, str(result)

    correct_backprop_never_fails()
    total = sum(counts.values())
    print(f"{total} examples: " + ", ".join(
        f"{verdict.value} {count} ({count / total:.1%})" for verdict, count in counts.items()))
    print("\n".join(f"  {count:5d}  {kind}" for kind, count in reasons.most_common()))
    return counts


def assert_mostly_pass(counts: Counter) -> None:
    total = sum(counts.values())
    inconclusive = counts[Verdict.INCONCLUSIVE]
    assert inconclusive <= max(1, 0.05 * total), f"{inconclusive} of {total} inconclusive"


# --- 1. the correct backprop never fails ------------------------------------------------

def test_reference_network_correct_backprop_never_fails():
    counts = verdict_shares(networks(), lambda network: check_backprop(*network), 200)
    assert_mostly_pass(counts)


def test_notebook_functions_correct_backprop_never_fails():
    def check(case):
        X, Y, parameters = case
        return check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                              parameters)

    counts = verdict_shares(cases(NOTEBOOK_NET), check, 60)
    assert_mostly_pass(counts)


# --- 2. scaling bugs are always caught ----------------------------------------------------

FACTORS = st.one_of(
    st.sampled_from([2.0, 4.0, 0.5, -1.0, 0.0, 1.001, 0.999]),
    st.floats(-10, 10).filter(lambda k: abs(k - 1) / (1 + abs(k)) >= 5e-4),
)


@given(networks(generic=True, max_depth=4), FACTORS, st.data())
def test_a_scaled_block_is_fail_with_block_and_factor(network, k, data):
    correct = check_backprop(*network)
    # A block whose gradient the check resolves: it passes with resolution <= noise_limit.
    visible = [name for name, block in correct.blocks.items()
               if block.verdict is Verdict.PASS and block.informative]
    if not visible:
        event("no block with a resolvable gradient")
        return
    name = data.draw(st.sampled_from(visible), label="block")
    note(f"scaling d{name} by {k}")

    def buggy(X, Y, cache):
        gradients = network.backward(X, Y, cache)
        gradients["d" + name] = gradients["d" + name] * k
        return gradients

    result = check_backprop(network.forward, buggy, network.X, network.Y, network.parameters)
    assert result.verdict is Verdict.FAIL, str(result)
    assert [b.name for b in result.mismatched] == [name], str(result)
    block = result.blocks[name]
    if k == 0.0:
        assert block.diagnosis == f"d{name} = 0 while numerical ≠ 0 (missing term)"
    else:
        assert block.scale == pytest.approx(k, rel=1e-4, abs=1e-6)


# --- 3. the notebook's own checker is not reliable (a research finding) ----------------------

def notebook_difference(case) -> float:
    """The notebook's gradient_check_n on its correct backprop (epsilon 1e-7, naive cost)."""
    X, Y, parameters = case
    with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
        cache = nb.forward_propagation_n(X, Y, parameters)[1]
        return nb.gradient_check_n(parameters, nb.backward_propagation_n(X, Y, cache), X, Y)


def notebook_parameters(**arrays):
    zeros = {name: np.zeros(shape) for name, shape in zip(NOTEBOOK_NET.layout.names,
                                                            NOTEBOOK_NET.layout.shapes)}
    return {**zeros, **{name: np.array(value, dtype=float) for name, value in arrays.items()}}


#: Minimal examples found by Hypothesis (``find`` below), recorded.
KINK_FALSE_ALARM = (np.zeros((4, 1)), np.array([0]), notebook_parameters(W3=[[1.0, 1.0, 1.0]]))
NAN_CALLED_FINE = (np.zeros((4, 4)), np.array([0, 1, 1, 0]), notebook_parameters())
ROUNDING_FALSE_ALARM = (
    np.array([[0.4562496705149782], [-2.5617034099021083], [0.852225996283765],
              [1.8132048463566988]]),
    np.array([0]),
    notebook_parameters(
        W1=[[0.08382014739559553, -0.08806990886086792, 0.4269484336288547, 0.0699334114353598],
            [-0.35711291544074064, 0.2410633699396565, 0.8693333634200915, 0.6313873087528281],
            [-0.4691568238713284, -0.8436143140307016, -0.4155163083582348, 0.0275506528981624],
            [-1.5500205164258896, -0.14586110928836382, -0.83060729816871, -0.48817823646896774],
            [-0.3628393219048732, -0.21086677091276967, 0.2744203575827552, 0.695008912961785]],
        b1=[[0.08382014739559553], [-0.08806990886086792], [0.4269484336288547],
            [0.0699334114353598], [-0.35711291544074064]],
        W2=[[0.3254849434864579, -1.0471668473953761, 0.0954454767172099, -0.5529466172163167,
             -0.6376597845493162],
            [0.4919897440952483, -0.5257647116388172, 0.5056855775409901, -0.3403230919634715,
             1.682944140188288],
            [1.0449310283087327, 0.7792778547254998, 0.5959480545383626, -0.1720222814143955,
             0.4151850116530109]],
        b2=[[0.08382014739559553], [-0.08806990886086792], [0.4269484336288547]],
        W3=[[-0.6713304748730403, 1.0682190639204832, 1.2811474483364644]],
        b3=[[0.08382014739559553]]),
)


def test_recorded_kink_false_alarm():
    # b1 = b2 = 0: every pre-activation is exactly 0, the central difference straddles the
    # ReLU kinks, and the notebook reports 0.37 for a correct backprop.
    assert notebook_difference(KINK_FALSE_ALARM) > 0.3
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n,
                            *KINK_FALSE_ALARM)
    assert result.verdict is Verdict.PASS
    assert (result.n_at_kinks, dict(result.excluded)) == (8, {})


def test_recorded_rounding_false_alarm():
    # Generic inputs (no exact zeros), logit 8.8: the naive -log(1 - A3) rounds at
    # ~1e-12, and epsilon = 1e-7 turns that into a 5.2e-7 difference.
    assert notebook_difference(ROUNDING_FALSE_ALARM) > 2e-7
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n,
                            *ROUNDING_FALSE_ALARM)
    assert result.verdict is Verdict.PASS and result.difference < 1e-7


def test_recorded_nan_called_perfectly_fine():
    X, Y, parameters = NAN_CALLED_FINE
    cache = nb.forward_propagation_n(X, Y, parameters)[1]
    out = io.StringIO()
    with np.errstate(all="ignore"), contextlib.redirect_stdout(out):
        difference = nb.gradient_check_n(parameters, nb.backward_propagation_n(X, Y, cache),
                                         X, Y, print_msg=True)
    assert math.isnan(difference)
    assert "works perfectly fine! difference = nan" in out.getvalue()
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, *NAN_CALLED_FINE)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "stationary point" in result.reasons[0]


FIND = settings(max_examples=3000, database=None, deadline=None, derandomize=True)


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "failure"), [
    (cases(NOTEBOOK_NET), lambda d: d > 2e-7),
    (cases(NOTEBOOK_NET, generic=True), lambda d: d > 2e-7),
    (cases(NOTEBOOK_NET, max_logit=1e6), math.isnan),
], ids=["false alarm", "false alarm on generic inputs", "nan called fine"])
def test_hypothesis_finds_the_notebook_checker_wrong(strategy, failure):
    X, Y, parameters = find(strategy, lambda case: failure(notebook_difference(case)),
                            settings=FIND)
    # ... and on that very case, gcverify's checker does not fail the correct backprop.
    with np.errstate(all="ignore"):
        result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                                parameters)
    assert result.verdict is not Verdict.FAIL


# --- 4. arrays untouched, same input same result ---------------------------------------------

@given(networks(max_depth=3, max_width=6))
def test_callers_arrays_untouched_and_results_repeat(network):
    before = [network.X.tobytes(), network.Y.tobytes(),
              *(a.tobytes() for a in network.parameters.values())]
    first = check_backprop(*network)
    second = check_backprop(*network)
    after = [network.X.tobytes(), network.Y.tobytes(),
             *(a.tobytes() for a in network.parameters.values())]
    assert before == after
    assert str(first) == str(second)
    np.testing.assert_array_equal(first.numerical, second.numerical)


# --- 5. no noise in the cost can hide a bug ------------------------------------------------

@budget(100)
@given(networks(generic=True, max_depth=3, max_width=6), st.floats(-16, -2), st.floats(-6, 0),
       st.integers(0, 2**32 - 1), st.data())
def test_a_planted_bug_never_passes_whatever_the_costs_noise(network, noise, size, seed, data):
    # Noise of relative size 10^noise in every cost (dropout with an unseeded generator,
    # random data inside forward), and an error of relative size 10^size (1e-6 to 1) in
    # one block: the check may FAIL, or refuse to judge a non-deterministic cost, and may
    # PASS only an error below what it says it can see in that block: an error hides
    # under |g - n| <= threshold (|g| + |n|) + |e|, i.e. a relative size of at most about
    # 2 (threshold + resolution). (A block whose gradient is 1e-6 of the cost has error
    # bars of ~1e-5 of it at best: its resolution says so.)
    rng = np.random.default_rng(seed)
    correct = network.backward(network.X, network.Y,
                               network.forward(network.X, network.Y, network.parameters)[1])
    name = data.draw(st.sampled_from([n for n in network.parameters
                                      if np.any(correct["d" + n] != 0)]), label="block")
    error = rng.standard_normal(correct["d" + name].shape)
    error *= 10**size * np.linalg.norm(correct["d" + name]) / np.linalg.norm(error)

    def forward(X, Y, parameters):
        cost, cache = network.forward(X, Y, parameters)
        return cost * (1 + 10**noise * rng.standard_normal()), cache

    def backward(X, Y, cache):
        gradients = network.backward(X, Y, cache)
        gradients["d" + name] = gradients["d" + name] + error
        return gradients

    result = check_backprop(forward, backward, network.X, network.Y, network.parameters)
    event(f"verdict: {result.verdict.value}")
    if result.verdict is Verdict.PASS:
        event("PASS below the block's resolution")
        visible = 2 * (result.threshold + result.blocks[name].resolution)
        assert 10**size <= 1.01 * visible, str(result)
    if noise >= -13:        # far above rounding (16 ulps): always seen, and said first
        assert result.verdict is Verdict.INCONCLUSIVE, str(result)
        assert result.reasons[0].startswith("the cost is not deterministic"), str(result)
