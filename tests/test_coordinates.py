"""Sampled checks pick where the gradient is, and say what they cover:
``gcverify.coordinates`` and what ``sample=k`` gives through :func:`check_backprop`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gcverify import MLP, Verdict, check_backprop
from gcverify.coordinates import gradient_share, sampled_coordinates
from gcverify.models import notebook as nb
from gcverify.params import ParamLayout

SEEDS = range(20)


# --- the pick ---------------------------------------------------------------------------------

def test_the_first_pick_of_each_block_is_its_largest_gradient():
    layout = ParamLayout(("W", "b"), ((5,), (4,)))
    g = np.array([0.1, -7.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, -2.0])
    for seed in SEEDS:
        assert sampled_coordinates(layout, g, 1, seed).tolist() == [1, 8]


def test_then_weighted_and_blind_picks_alternate():
    # Weighted picks never land on a zero gradient; blind ones can, so with k = 3 (the
    # largest, one weighted, one blind) a zero coordinate is sometimes picked, and with
    # k = 2 (the largest, one weighted) never.
    layout = ParamLayout(("W",), ((50,),))
    g = np.zeros(50)
    g[[3, 17, 29]] = [1.0, 2.0, 4.0]
    twos = [sampled_coordinates(layout, g, 2, seed).tolist() for seed in SEEDS]
    assert all(29 in pick for pick in twos)
    assert all(set(pick) <= {3, 17, 29} and len(pick) == 2 for pick in twos)
    threes = [set(sampled_coordinates(layout, g, 3, seed).tolist()) for seed in SEEDS]
    assert all(len(pick) == 3 and 29 in pick for pick in threes)
    assert any(not pick <= {3, 17, 29} for pick in threes)


def test_a_block_without_gradient_is_sampled_blindly_and_a_broken_value_first():
    layout = ParamLayout(("W",), ((40,),))
    picks = {tuple(sampled_coordinates(layout, np.zeros(40), 2, seed).tolist())
             for seed in SEEDS}
    assert len(picks) > 10 and all(len(p) == 2 and p[0] < p[1] for p in picks)
    g = np.ones(40)
    g[33] = np.nan
    assert all(33 in sampled_coordinates(layout, g, 1, seed).tolist() for seed in SEEDS)


def test_the_pick_follows_the_seed_and_takes_all_of_a_small_block():
    layout = ParamLayout(("W", "b"), ((30,), (2,)))
    g = np.random.default_rng(0).standard_normal(32)
    a, b = (sampled_coordinates(layout, g, 6, seed).tolist() for seed in (1, 1))
    assert a == b and len(a) == 6 + 2 and a[-2:] == [30, 31]
    assert a != sampled_coordinates(layout, g, 6, 2).tolist()


def test_the_share_of_each_block_s_gradient_norm():
    layout = ParamLayout(("W", "b", "c"), ((4,), (2,), (2,)))
    g = np.array([3.0, 4.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    share = gradient_share(layout, g, np.array([0, 4, 5, 6]))
    assert share[0] == pytest.approx(3.0 / 5.0, rel=1e-15) and share[1] == 1.0
    assert math.isnan(share[2])                     # c: a zero gradient, half sampled
    share = gradient_share(layout, g, np.array([0, 1, 2, 3, 4, 6, 7]))
    assert share[0] == 1.0 and share[1] == pytest.approx(math.sqrt(0.5), rel=1e-15)
    assert share[2] == 1.0                          # every coordinate: all of it


# --- what sample=k catches, on every seed -------------------------------------------------------

def scaled(backward, key, factor):
    def buggy(X, Y, cache):
        gradients = backward(X, Y, cache)
        gradients[key] = factor * gradients[key]
        return gradients
    return buggy


def networks():
    """(name, forward, backward, X, Y, parameters) at P = 47 (twice), ~1k and ~11k."""
    X, Y, parameters = nb.gradient_check_n_test_case()
    yield "notebook, P=47", nb.forward_propagation_n, nb.backward_propagation_n, X, Y, \
        parameters
    # A blind pick of one coordinate per block missed dW2 x 2 on 13 (the notebook's case)
    # and 16 (the random 4-5-3-1) of these 20 seeds, db1 x 4 on 7 and 8.
    for dims, m in (((4, 5, 3, 1), 3), ((20, 30, 10, 1), 16), ((100, 80, 40, 1), 32)):
        net = MLP(dims, "relu", "naive")
        X, Y = net.make_batch(m, seed=5)
        yield (f"{'-'.join(map(str, dims))}, P={net.layout.size}",
               lambda X, Y, p, net=net: net.forward(X, Y, p), net.backward, X, Y,
               net.init_parameters(seed=5))


NETWORKS = list(networks())


@pytest.mark.parametrize("network", NETWORKS, ids=[n[0] for n in NETWORKS])
@pytest.mark.parametrize(("key", "factor"), [("dW2", 2.0), ("db1", 4.0)])
@pytest.mark.parametrize("k", [1, 5])
def test_sample_k_catches_the_notebook_s_bugs_on_every_seed(network, key, factor, k):
    _, forward, backward, X, Y, parameters = network
    buggy = scaled(backward, key, factor)
    for seed in SEEDS:
        result = check_backprop(forward, buggy, X, Y, parameters, sample=k, seed=seed, jobs=1)
        assert result.verdict is Verdict.FAIL, (seed, str(result))
        assert result.blocks[key].verdict is Verdict.FAIL, (seed, str(result))
        assert 0 < result.blocks[key].gradient_share <= 1


@pytest.mark.parametrize("network", NETWORKS, ids=[n[0] for n in NETWORKS])
def test_a_zeroed_gradient_is_never_a_sampled_pass(network):
    _, forward, backward, X, Y, parameters = network
    zeroed = scaled(backward, "dW2", 0.0)
    for seed in range(8):
        result = check_backprop(forward, zeroed, X, Y, parameters, sample=1, seed=seed,
                                jobs=1)
        assert result.blocks["W2"].verdict is not Verdict.PASS, (seed, str(result))
        assert result.verdict is not Verdict.PASS


def test_a_sampled_result_states_what_it_covers():
    X, Y, parameters = nb.gradient_check_n_test_case()
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                            parameters, sample=2)
    shares = {name: block.gradient_share for name, block in result.blocks.items()}
    assert shares["b3"] == 1.0 and all(0 < s <= 1 for s in shares.values())
    line = next(line for line in str(result).splitlines() if "sampled:" in line)
    assert line.startswith("  sampled: up to 2 coordinates per block, picked by |g|; share "
                           "of each block's gradient norm checked: dW1 ")
    assert result.to_dict()["blocks"]["W1"]["gradient_share"] == shares["W1"]
    full = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                          parameters)
    assert {b.gradient_share for b in full.blocks.values()} == {1.0}
    assert "sampled:" not in str(full)
