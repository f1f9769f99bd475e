"""Directional mode: k random directions per block, judged by the verdict's rules, with
the wrong entries of a failing block found by group testing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gcverify import InvalidArgument, check_backprop, check_gradients
from gcverify.detection import margin, miss_probability, smallest_caught
from gcverify.directional import AUTO_DIRECTIONAL_FROM, resolve_mode
from gcverify.options import CheckOptions
from gcverify.result import Verdict

# --- a user's network in the notebook's convention (ReLU hidden layers, naive cost) ---

def make_case(layers, m, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((layers[0], m))
    Y = (np.arange(m) % 2).reshape(1, m).astype(float)         # both labels
    parameters = {}
    for layer in range(1, len(layers)):
        parameters[f"W{layer}"] = (rng.standard_normal((layers[layer], layers[layer - 1]))
                                   * np.sqrt(2.0 / layers[layer - 1]))
        parameters[f"b{layer}"] = rng.standard_normal((layers[layer], 1)) * 0.1
    return X, Y, parameters


def forward(X, Y, parameters):
    count = len(parameters) // 2
    A, cache = X, []
    for layer in range(1, count + 1):
        W, b = parameters[f"W{layer}"], parameters[f"b{layer}"]
        Z = W @ A + b
        cache.append((A, W, Z))
        A = np.maximum(Z, 0) if layer < count else 1 / (1 + np.exp(-Z))
    cost = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / X.shape[1]
    return cost, (cache, A)


def backward(X, Y, cache):
    layers, AL = cache
    m = X.shape[1]
    gradients, dZ = {}, AL - Y
    for layer in range(len(layers), 0, -1):
        A_prev, W, _ = layers[layer - 1]
        gradients[f"dW{layer}"] = 1. / m * dZ @ A_prev.T
        gradients[f"db{layer}"] = 1. / m * np.sum(dZ, axis=1, keepdims=True)
        if layer > 1:
            dZ = (W.T @ dZ) * (layers[layer - 2][2] > 0)
    return gradients


def with_bug(change):
    def buggy_backward(X, Y, cache):
        gradients = backward(X, Y, cache)
        change(gradients)
        return gradients
    return buggy_backward


CASE = make_case((30, 20, 10, 1), 16)


def check(backward_pass, case=CASE, **options):
    X, Y, parameters = case
    return check_backprop(forward, backward_pass, X, Y, parameters, mode="directional",
                          **options)


def correct_gradients(case=CASE):
    X, Y, parameters = case
    return backward(X, Y, forward(X, Y, parameters)[1])


# --- verdicts -------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_correct_backprop_passes_and_the_result_says_how_it_was_checked(seed):
    result = check(backward, seed=seed)
    assert result.verdict is Verdict.PASS, str(result)
    assert result.mode == "directional" and result.to_dict()["mode"] == "directional"
    assert result.n_judged == 8 * 5 + 1                 # b3 has one entry: a coordinate
    assert "over 41 directions in 6 blocks" in result.summary()
    assert "mode directional" in str(result)
    assert any("missed with probability ≤ 0.1%" in reason for reason in result.reasons)


def test_random_directions_certify_a_scaling_surely_and_other_errors_with_a_probability():
    result = check(backward)
    random, single = result.blocks["W1"], result.blocks["b3"]     # b3: one coordinate
    assert random.sensitivity.confidence == 0.999 and random.sensitivity.tolerated == 0.0
    c = margin(2e-7, random.resolution)
    assert random.sensitivity.relative_error == pytest.approx(
        math.hypot(smallest_caught(8, c), c), rel=1e-12)
    lo, hi = random.sensitivity.scaling
    assert lo < 1 < hi and hi - 1 < 1e-6
    assert math.isnan(random.coverage) and random.dead_units == ()
    assert single.sensitivity.confidence == 1.0 and single.coverage == 1.0
    caught = random.sensitivity.relative_error                  # ~1.6e-06
    assert f"dW1: would catch an error ≥ {caught:.2g} of ‖dW1‖ with probability ≥ 99.9%; " \
        "a scaling outside [" in str(result)
    assert result.to_dict()["blocks"]["W1"]["sensitivity"]["confidence"] == 0.999


@pytest.mark.parametrize(("key", "factor", "words"), [
    ("dW2", 2.0, "dW2 ≈ 2.000 × numerical (scaling bug)"),
    ("db1", 4.0, "db1 ≈ 4.000 × numerical (scaling bug)"),
    ("dW1", -1.0, "dW1 ≈ -1.000 × numerical (sign bug)"),
], ids=["dW2 x 2", "db1 4/m", "dW1 sign"])
def test_a_scaling_bug_fails_and_its_largest_entries_are_named(key, factor, words):
    result = check(with_bug(lambda g: g.__setitem__(key, g[key] * factor)))
    assert result.verdict is Verdict.FAIL
    assert [block.diagnosis for block in result.mismatched] == [words]
    block = result.blocks[key]
    gradient = correct_gradients()[key]
    assert block.worst[0].index == np.unravel_index(np.argmax(np.abs(gradient)),
                                                    gradient.shape)
    for entry in block.worst:                          # measured, not inferred
        assert entry.analytic == pytest.approx(factor * entry.numerical, rel=1e-5)


@pytest.mark.parametrize(("seed", "entry"), [(0, (3, 7)), (1, (19, 0)), (2, (11, 29))])
def test_a_single_wrong_entry_is_found_by_group_testing_and_named_first(seed, entry):
    size = 1e-3 * np.linalg.norm(correct_gradients()["dW1"])

    def one_entry_off(gradients):
        gradients["dW1"][entry] += size

    block = check(with_bug(one_entry_off), seed=seed).blocks["dW1"]
    assert block.verdict is Verdict.FAIL
    assert block.worst[0].index == entry
    assert block.worst[0].analytic - block.worst[0].numerical == pytest.approx(size, rel=1e-3)
    assert block.diagnosis.startswith("dW1 is wrong at 1 entry found by ")


def test_a_transposed_square_block_is_told():
    case = make_case((12, 9, 9, 1), 16)                  # W2 is 9 x 9
    result = check(with_bug(lambda g: g.__setitem__("dW2", g["dW2"].T.copy())), case)
    assert [block.diagnosis for block in result.mismatched] == [
        "dW2 = numerical transposed (a transposed gradient)"]


def test_a_nan_in_the_gradient_fails_naming_the_entry():
    result = check(with_bug(lambda g: g["dW1"].__setitem__((2, 5), np.nan)))
    block = result.blocks["dW1"]
    assert result.verdict is Verdict.FAIL and block.verdict is Verdict.FAIL
    assert block.worst[0].index == (2, 5)
    assert block.diagnosis.startswith("dW1 has nan at (2, 5) (1 non-finite values)")


def test_a_missing_gradient_fails():
    result = check(with_bug(lambda g: g.pop("db2")))
    assert [block.diagnosis for block in result.mismatched] == ["db2: missing from the gradients"]


def test_a_non_deterministic_cost_is_never_a_pass():
    rng = np.random.default_rng(0)

    def noisy_forward(X, Y, parameters):
        cost, cache = forward(X, Y, parameters)
        return cost + 1e-10 * rng.standard_normal(), cache

    X, Y, parameters = CASE
    result = check_backprop(noisy_forward, backward, X, Y, parameters, mode="directional")
    assert result.verdict is Verdict.INCONCLUSIVE and result.mode == "directional"
    assert "the cost is not deterministic" in result.reasons[-1]


def test_a_cost_that_is_not_finite_is_never_a_pass():
    X, Y, parameters = CASE

    def overflowing(X, Y, parameters):
        cost, cache = forward(X, Y, parameters)
        return (np.inf if parameters["W1"][0, 0] > CASE[2]["W1"][0, 0] else cost), cache

    at_theta = check_backprop(lambda X, Y, p: (np.nan, forward(X, Y, p)[1]), backward, X, Y,
                              parameters, mode="directional")
    assert at_theta.verdict is Verdict.INCONCLUSIVE
    around = check_backprop(overflowing, backward, X, Y, parameters, mode="directional")
    assert around.verdict is Verdict.INCONCLUSIVE
    assert "not finite" in around.reasons[0]


def test_check_gradients_leaves_the_callers_arrays_untouched_and_passes():
    X, Y, parameters = CASE
    before = {name: array.copy() for name, array in parameters.items()}
    gradients = correct_gradients()

    def cost(p):
        value = forward(X, Y, p)[0]
        p["W1"][...] = 0.0                      # a cost that writes into what it is given
        return value

    result = check_gradients(cost, gradients, parameters, mode="directional")
    assert result.verdict is Verdict.PASS
    for name, array in parameters.items():
        np.testing.assert_array_equal(array, before[name])


def test_the_number_of_cost_evaluations_does_not_grow_with_the_block():
    calls = []

    def evaluations(size):
        calls.clear()
        weights = np.linspace(-1.0, 1.0, size)

        def cost(p):
            calls.append(1)
            return float(weights @ p["w"] + 0.5 * p["w"] @ p["w"])

        theta = np.linspace(0.5, -0.5, size)
        result = check_gradients(cost, {"w": weights + theta}, {"w": theta},
                                 mode="directional")
        assert result.verdict is Verdict.PASS
        return len(calls)

    assert evaluations(100) == evaluations(100_000) == 3 + 4 * 8


# --- options --------------------------------------------------------------------------

def test_auto_checks_coordinates_below_the_crossover_and_directions_from_it():
    auto = CheckOptions(mode="auto")
    assert resolve_mode(auto, AUTO_DIRECTIONAL_FROM - 1) == "coordinates"
    assert resolve_mode(auto, AUTO_DIRECTIONAL_FROM) == "directional"
    assert resolve_mode(CheckOptions(mode="directional"), 1) == "directional"
    small = make_case((4, 5, 3, 1), 3)
    assert check_backprop(forward, backward, *small, mode="auto").mode == "coordinates"
    large = make_case((40, 25, 10, 1), 8)                          # 1,296 parameters
    assert check_backprop(forward, backward, *large, mode="auto").mode == "directional"
    # Options only coordinates support keep auto on coordinates: never an error.
    assert resolve_mode(auto.replace(sample=3), AUTO_DIRECTIONAL_FROM) == "coordinates"
    assert resolve_mode(auto.replace(method="complex"), AUTO_DIRECTIONAL_FROM) == "coordinates"
    sampled = check_backprop(forward, backward, *large, mode="auto", sample=3)
    assert sampled.mode == "coordinates" and sampled.verdict is Verdict.PASS


@pytest.mark.parametrize(("options", "message"), [
    ({"mode": "fast"}, "mode='fast' is not a known mode; use 'coordinates', 'directional' "
                       "or 'auto'"),
    ({"directions": 0}, "directions=0 is not a positive integer; pass the number of random "
                        "directions per block, e.g. directions=8"),
    ({"mode": "directional", "method": "complex"}, "method='complex' is not available in "
                                                   "directional mode"),
    ({"mode": "directional", "sample": 3}, "sample=3 samples coordinates, which directional "
                                           "mode does not check one by one"),
])
def test_bad_options_name_themselves_and_the_fix(options, message):
    with pytest.raises(InvalidArgument) as info:
        check_backprop(forward, backward, *CASE, **options)
    assert str(info.value).startswith(message)


def test_the_number_of_directions_is_what_is_judged():
    assert check(backward, directions=3).n_judged == 3 * 5 + 1


# --- the detection bound --------------------------------------------------------------

def test_the_bound_has_its_known_constants():
    assert miss_probability(1.0, 1, 0.01) == pytest.approx(2 / math.pi * 0.01)
    assert miss_probability(1.0, 2, 0.01) == pytest.approx(1e-4)
    assert miss_probability(1.0, 8, 0.01) == pytest.approx(35 * 1e-16)
    assert miss_probability(0.0, 4, 0.01) == 1.0
    assert margin(0.01, 0.0) == pytest.approx(0.02 / 0.99)
    assert margin(0.6, 0.5) == math.inf
    assert miss_probability(smallest_caught(8, 0.01), 8, 0.01) == pytest.approx(1e-3)


def planted_miss_rate(k, rho, tries, threshold=0.01, size=200):
    """How often k directions miss an error of relative size rho, orthogonal to the
    gradient, in a block of a linear cost (exact derivatives, negligible error bars)."""
    rng = np.random.default_rng(12345)
    misses = 0
    for seed in range(tries):
        weights = rng.standard_normal(size)
        error = rng.standard_normal(size)
        error -= (error @ weights) / (weights @ weights) * weights
        error *= rho * np.linalg.norm(weights) / np.linalg.norm(error)
        result = check_gradients(lambda p, w=weights: float(w @ p["w"]),
                                 {"w": weights + error}, {"w": np.zeros(size)},
                                 threshold=threshold, mode="directional", directions=k,
                                 seed=seed)
        misses += result.verdict is Verdict.PASS
    return misses / tries


@pytest.mark.parametrize("k", [1, 2])
def test_the_measured_miss_rate_is_within_the_derived_bound_and_near_it(k):
    rho, tries = 0.1, 300
    bound = miss_probability(rho, k, margin(0.01, 0.0))        # 0.129 and 0.042
    rate = planted_miss_rate(k, rho, tries)
    spread = 3 * math.sqrt(bound * (1 - bound) / tries)
    assert bound / 3 < rate <= bound + spread, (rate, bound)


# --- renderers ------------------------------------------------------------------------

def test_the_report_and_the_json_keep_their_shape():
    result = check(with_bug(lambda g: g.__setitem__("dW2", g["dW2"] * 2)))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["mode"] == "directional"
    assert data["blocks"]["W2"]["worst"][0]["index"] == list(result.blocks["W2"].worst[0].index)
    assert data["blocks"]["W2"]["size"] == 200 and data["blocks"]["W2"]["judged"] == 8
    text = str(result)
    assert "dW2: difference 0.333333, 8 directions judged, worst entries localised" \
        in text


# --- memory ---------------------------------------------------------------------------

@pytest.mark.slow
def test_a_single_entry_in_a_million_parameter_block_is_named_first_within_4x_memory():
    # The failing check keeps its vector of the parameters and the flat gradient, makes
    # every point in place and lets go of its gradient while it probes the backward pass:
    # its peak stays under 4x the parameters.
    import tracemalloc

    case = make_case((1000, 1000, 1), 64)
    size = 1e-3 * np.linalg.norm(correct_gradients(case)["dW1"])

    def one_entry_off(gradients):
        gradients["dW1"][617, 333] += size

    X, Y, parameters = case
    passed = check_backprop(forward, backward, X, Y, parameters, mode="directional")
    tracemalloc.start()
    try:
        failed = check_backprop(forward, with_bug(one_entry_off), X, Y, parameters,
                                mode="directional")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert passed.verdict is Verdict.PASS
    assert failed.blocks["dW1"].verdict is Verdict.FAIL
    assert failed.blocks["dW1"].worst[0].index == (617, 333)
    assert peak < 4 * 8 * sum(array.size for array in parameters.values())
