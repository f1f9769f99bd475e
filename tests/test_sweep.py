"""The property sweep as a library call: seeded, complete, honest about FAILs."""

from __future__ import annotations

import gc
import os
import signal
import sys

import numpy as np
import pytest
from hypothesis import strategies as st

from gcverify import CheckOptions, InvalidArgument, Verdict
from gcverify.strategies import Network, networks
from gcverify.sweep import sweep_correct_backprop


def test_same_seed_same_sweep():
    first = sweep_correct_backprop(examples=15, seed=3)
    second = sweep_correct_backprop(examples=15, seed=3)
    assert first == second and first.examples == 15
    assert first.passed and first.summary().startswith("15 networks: no FAIL")


def test_a_failing_backprop_is_recorded_not_raised():
    def buggy(network: Network) -> Network:
        def backward(X, Y, cache):
            gradients = network.backward(X, Y, cache)
            return {key: value * 2 for key, value in gradients.items()}
        return network._replace(backward=backward)

    result = sweep_correct_backprop(examples=10, seed=0,
                                    strategy=networks(generic=True, max_depth=2).map(buggy))
    assert not result.passed
    assert result.verdicts[Verdict.FAIL] == len(result.failures) > 0
    assert "FAIL" in result.summary()


def test_inconclusive_cases_are_counted_with_their_reason():
    # All zero, balanced labels: every gradient is 0 (the notebook's NaN case).
    def stationary(network: Network) -> Network:
        m = network.X.shape[1] * 2
        return network._replace(X=np.zeros((network.X.shape[0], m)),
                                Y=np.tile([0, 1], m // 2),
                                parameters={k: np.zeros_like(v)
                                            for k, v in network.parameters.items()})

    result = sweep_correct_backprop(examples=5, seed=0,
                                    strategy=networks(max_depth=2, max_width=3).map(stationary))
    assert result.verdicts[Verdict.INCONCLUSIVE] == 5 and result.passed
    assert any("stationary point" in reason for reason in result.reasons)


@pytest.mark.parametrize("examples", [0, -3, 2.5, True])
def test_examples_must_be_a_positive_integer(examples):
    with pytest.raises(InvalidArgument, match=r"^examples=.* is not a positive integer; "):
        sweep_correct_backprop(examples=examples)


def test_the_default_strategy_is_networks():
    assert isinstance(networks(), st.SearchStrategy)


def test_options_reach_every_check():
    # A threshold of 0.3 lets a gradient 1.5 times too large (difference 0.2) pass.
    def doubled(network: Network) -> Network:
        def backward(X, Y, cache):
            return {key: 1.5 * value for key, value in network.backward(X, Y, cache).items()}
        return network._replace(backward=backward)

    strategy = networks(generic=True, max_depth=2).map(doubled)
    loose = sweep_correct_backprop(examples=5, seed=0, strategy=strategy,
                                   options=CheckOptions(threshold=0.3))
    assert loose.passed and loose.verdicts[Verdict.PASS] == 5


def test_a_ctrl_c_swallowed_by_a_garbage_collector_callback_still_stops_the_sweep(capfd):
    # Why 1 in 13 Ctrl-C in `gcverify run`'s sweep used to vanish: SIGINT landing while a
    # garbage-collector callback runs (Hypothesis times the collector with one) raises
    # KeyboardInterrupt inside it, and the interpreter prints "Exception ignored" and
    # drops it. Here a callback sends SIGINT and lets it land in itself, once.
    def inside_a_checked_network():
        frame = sys._getframe(2)
        while frame is not None and frame.f_code is not sweep_body:
            frame = frame.f_back
        return frame is not None

    def callback(phase, info):
        if phase == "start" and not sent and inside_a_checked_network():
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs here, inside the callback
                pass

    sent: list[bool] = []
    sweep_body = next(const for const in sweep_correct_backprop.__code__.co_consts
                      if getattr(const, "co_name", "") == "sweep")
    gc.callbacks.append(callback)
    try:
        result = sweep_correct_backprop(examples=500, seed=0)
    finally:
        gc.callbacks.remove(callback)
    assert sent and "Exception ignored" not in capfd.readouterr().err
    assert result.interrupted and not result.passed and result.examples < 500
    assert result.summary().startswith(f"interrupted after {result.examples} of 500 networks")
