"""The check of a user's own forward and backward: perturbations in place on private
copies, theta ± 2h only where a coordinate does not settle, and workers that change
nothing but the time taken (``gcverify.forward_stencil``, ``gcverify.settling``,
``gcverify.parallel`` through :func:`gcverify.check_backprop`)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gcverify import MLP, Verdict, check_backprop, parallel
from gcverify.evaluate import ForwardEvaluator
from gcverify.forward_stencil import forward_rows
from gcverify.numdiff import step_sizes
from gcverify.parallel import can_fork
from gcverify.settling import settling_tolerances

# Blocks larger than the audit (W1: 120 entries, W2: 60), so coordinates settle.
NET = MLP((12, 10, 6, 1), "relu", "naive")


def case(seed=0, m=8):
    X, Y = NET.make_batch(m, seed=seed)
    return X, Y, NET.init_parameters(seed=seed)


def user_forward(X, Y, parameters):
    """The network's forward as user code: no batched twin, so the loop runs."""
    return NET.forward(X, Y, parameters)


def scaled(key, factor):
    def backward(X, Y, cache):
        gradients = NET.backward(X, Y, cache)
        gradients[key] = factor * gradients[key]
        return gradients
    return backward


def full_stencil_result(X, Y, parameters, backward, monkeypatch):
    """The check with every coordinate evaluated at all four points (nothing settles)."""
    with monkeypatch.context() as patch:
        patch.setattr("gcverify.pipeline.settling_tolerances",
                      lambda layout, index, *a, **k: np.full(index.size, -1.0))
        return check_backprop(user_forward, backward, X, Y, parameters, jobs=1)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("key", "factor"), [(None, 1.0), ("dW2", 2.0), ("db1", 4.0),
                                             ("dW1", -1.0), ("dW1", 1 + 1e-4)])
def test_settling_gives_the_verdicts_of_the_full_stencil(seed, key, factor, monkeypatch):
    X, Y, parameters = case(seed)
    backward = NET.backward if key is None else scaled(key, factor)
    fast = check_backprop(user_forward, backward, X, Y, parameters, jobs=1)
    full = full_stencil_result(X, Y, parameters, backward, monkeypatch)
    assert fast.verdict is full.verdict
    assert {n: b.verdict for n, b in fast.blocks.items()} == \
        {n: b.verdict for n, b in full.blocks.items()}
    # The numerical derivatives are the same central differences either way.
    assert np.array_equal(fast.numerical, full.numerical)
    assert fast.verdict is (Verdict.PASS if key is None else Verdict.FAIL)


def test_most_coordinates_of_a_correct_backprop_settle_and_a_mismatch_never_does():
    X, Y, parameters = case(1)
    layout = NET.layout
    theta = layout.flatten(parameters)
    evaluator = ForwardEvaluator(user_forward, X, Y, layout)
    _, cache = evaluator.base_with_cache(theta)
    analytic = layout.flatten_gradients(NET.backward(X, Y, cache))
    index, h = np.arange(layout.size), step_sizes(theta, None)
    tolerance = settling_tolerances(layout, index, analytic, 2e-7, seed=0)
    costs, kinks, settled = forward_rows(evaluator, theta, index, h, tolerance, analytic,
                                         index)
    assert not settled[tolerance < 0].any()
    assert settled.sum() == (tolerance >= 0).sum()
    assert np.isnan(costs[settled][:, [0, 3]]).all()
    assert np.isfinite(costs[~settled]).all() and np.isfinite(costs[:, 1:3]).all()
    wrong = analytic.copy()
    wrong[layout.slice_of("W2")] *= 2
    _, _, settled = forward_rows(evaluator, theta, index, h, tolerance, wrong, index)
    moved = wrong != analytic                    # doubled, where the gradient is not 0
    assert moved.sum() > 20 and not settled[moved].any()


def test_a_coordinate_at_a_kink_in_a_settling_block_gets_the_kink_test():
    # A first-layer pre-activation put exactly at 0: W1's row and b1's entry straddle
    # the ReLU's kink, so their central differences are off, and they must be judged by
    # the one-sided derivative, as with the full stencil.
    X, Y, parameters = case(2)
    parameters["b1"][3, 0] = -(parameters["W1"][3] @ X[:, 0])
    result = check_backprop(user_forward, NET.backward, X, Y, parameters, jobs=1)
    assert result.verdict is Verdict.PASS, str(result)
    assert result.blocks["W1"].at_kinks > 0 and result.blocks["b1"].at_kinks == 1


class InPlace:
    """A forward that writes into the parameters it is given, from its ``start``-th call
    on; its cost is that of W1 halved, computed before it writes (so it is right only
    when every call gets parameters nobody wrote into)."""

    def __init__(self, start):
        self.calls, self.start = 0, start

    def __call__(self, X, Y, parameters):
        self.calls += 1
        halved = parameters["W1"] * 0.5
        if self.calls >= self.start:
            parameters["W1"] += 1e-3
        return NET.forward(X, Y, {**parameters, "W1": halved})


@pytest.mark.parametrize("start", [1, 40, 200])
def test_a_forward_that_writes_into_its_parameters_gets_fresh_ones_every_call(start):
    X, Y, parameters = case(3)
    W1 = parameters["W1"].copy()

    def halved(X, Y, p):
        return NET.forward(X, Y, {**p, "W1": p["W1"] * 0.5})

    expected = check_backprop(halved, NET.backward, X, Y, parameters, jobs=1)
    result = check_backprop(InPlace(start), NET.backward, X, Y, parameters, jobs=1)
    assert np.array_equal(result.numerical, expected.numerical)
    assert result.verdict is expected.verdict
    assert np.array_equal(parameters["W1"], W1)


@pytest.mark.skipif(not can_fork(), reason="workers are forked")
@pytest.mark.parametrize(("key", "factor"), [(None, 1.0), ("dW2", 2.0)])
def test_jobs_give_the_result_of_one_process_bit_for_bit(key, factor, monkeypatch):
    monkeypatch.setattr(parallel, "_WORTH_FORKING_SECONDS", 0.0)          # always fork
    forks = []
    real_fork = os.fork

    def counted_fork():
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counted_fork)
    X, Y, parameters = case(4)
    backward = NET.backward if key is None else scaled(key, factor)
    results = [check_backprop(user_forward, backward, X, Y, parameters, jobs=jobs)
               for jobs in (1, 2, 3)]
    assert len(forks) >= 1 + 2                       # jobs=2: a child, jobs=3: two, or more
    for other in results[1:]:
        assert other.verdict is results[0].verdict
        assert {**other.to_dict(), "options": None} == {**results[0].to_dict(),
                                                        "options": None}
        for name in ("analytic", "numerical", "error"):
            assert np.array_equal(getattr(other, name), getattr(results[0], name),
                                  equal_nan=True), name


def test_workers_are_forked_only_for_work_worth_a_fork():
    evaluator = ForwardEvaluator(user_forward, *case(0)[:2], NET.layout)
    assert evaluator.workers(10_000, 4) == 1                 # no call timed yet
    evaluator.seconds_per_call = 1e-5
    assert evaluator.workers(3333, 4) == 1                   # 3 * 3333 * 1e-5 < 0.1 s
    assert evaluator.workers(3334, 4) == 4
    assert evaluator.workers(10_000, 1) == 1
