"""The checker: verdicts, localisation, kinks, noise, NaNs, the caller's arrays, methods."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gcverify import (
    MLP,
    Verdict,
    check_backprop,
    check_gradients,
)
from gcverify.models import notebook as nb


def notebook_case():
    X, Y, parameters = nb.gradient_check_n_test_case()
    return X, Y, parameters


def scaled(backward, key, k):
    """A backward pass whose gradient ``key`` is multiplied by ``k``."""
    def buggy(X, Y, cache):
        gradients = backward(X, Y, cache)
        gradients[key] = gradients[key] * k
        return gradients
    return buggy


def user_forward(net):
    """The network's forward as opaque user code (no batched evaluation)."""
    def forward(X, Y, parameters):
        return net.forward(X, Y, parameters)
    return forward


# --- 1. the notebook's case ---------------------------------------------------------------

@pytest.mark.parametrize("path", ["notebook functions", "batched network", "plain cost"])
def test_notebook_buggy_backprop_fails_with_both_bugs_localised(path):
    X, Y, parameters = notebook_case()
    if path == "notebook functions":
        result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n_buggy,
                                X, Y, parameters)
    elif path == "batched network":
        net = MLP((4, 5, 3, 1), cost="naive")
        result = check_backprop(net.forward, nb.backward_propagation_n_buggy, X, Y, parameters)
        assert result.evaluator == "batched"
    else:
        cache = nb.forward_propagation_n(X, Y, parameters)[1]
        result = check_gradients(lambda p: nb.forward_propagation_n(X, Y, p)[0],
                                 nb.backward_propagation_n_buggy(X, Y, cache), parameters)
    assert result.verdict is Verdict.FAIL
    assert {b.name for b in result.mismatched} == {"W2", "b1"}
    assert result.blocks["W2"].scale == pytest.approx(2.0, rel=1e-6)
    assert result.blocks["b1"].scale == pytest.approx(4.0, rel=1e-6)
    assert result.blocks["W2"].diagnosis == "dW2 ≈ 2.000 × numerical (scaling bug)"
    assert result.blocks["b1"].diagnosis == "db1 ≈ 4.000 × numerical (scaling bug)"
    for name in ("W1", "b2", "W3", "b3"):
        assert result.blocks[name].verdict is Verdict.PASS
    assert result.difference == pytest.approx(0.2850931567761623, rel=1e-6)


@pytest.mark.parametrize("epsilon", [None, 1e-7])
def test_notebook_correct_backprop_passes(epsilon):
    X, Y, parameters = notebook_case()
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                            parameters, epsilon=epsilon)
    assert result.verdict is Verdict.PASS
    assert result.n_judged == result.n_coordinates == 47
    assert not result.excluded


def test_notebook_step_reproduces_the_notebooks_difference_exactly():
    X, Y, parameters = notebook_case()
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                            parameters, epsilon=1e-7)
    cache = nb.forward_propagation_n(X, Y, parameters)[1]
    notebook = nb.gradient_check_n(parameters, nb.backward_propagation_n(X, Y, cache), X, Y)
    assert result.difference == notebook


# --- 2. NaN and Inf are never a pass ------------------------------------------------------

def test_nan_in_the_gradients_is_a_fail_that_says_where():
    X, Y, parameters = notebook_case()

    def backward(X, Y, cache):
        gradients = nb.backward_propagation_n(X, Y, cache)
        gradients["dW3"] = gradients["dW3"].copy()
        gradients["dW3"][0, 1] = np.nan
        return gradients

    result = check_backprop(nb.forward_propagation_n, backward, X, Y, parameters)
    assert result.verdict is Verdict.FAIL
    assert result.blocks["W3"].diagnosis.startswith("dW3 has nan at (0, 1)")
    assert math.isnan(result.difference)


def test_inf_in_the_gradients_is_a_fail():
    X, Y, parameters = notebook_case()
    result = check_backprop(nb.forward_propagation_n,
                            scaled(nb.backward_propagation_n, "db3", np.inf), X, Y, parameters)
    assert result.verdict is Verdict.FAIL


def test_nan_cost_at_the_parameters_is_inconclusive():
    X, Y, parameters = notebook_case()
    saturated = dict(parameters, b3=np.array([[60.0]]))   # 1 - A3 == 0 exactly: inf, nan
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                                saturated)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "not finite" in result.reasons[0] or "nan" in result.reasons[0]


def test_non_finite_cost_at_perturbed_points_is_never_a_pass():
    def cost(p):
        x = p["x"][0]
        return math.log(x - 1.0) if x > 1.0 else math.nan   # log of a tiny number, then nan
    parameters = {"x": np.array([1.0 + 1e-6])}
    result = check_gradients(cost, {"x": np.array([1e6])}, parameters, epsilon=1e-6)
    assert result.verdict is not Verdict.PASS
    assert result.excluded.get("non-finite cost") == 1


def test_notebook_prints_fine_for_nan_but_the_checker_does_not_pass_it():
    X, Y, parameters = notebook_case()

    def backward(X, Y, cache):
        gradients = nb.backward_propagation_n(X, Y, cache)
        return {key: value * np.nan for key, value in gradients.items()}

    cache = nb.forward_propagation_n(X, Y, parameters)[1]
    notebook = nb.gradient_check_n(parameters, backward(X, Y, cache), X, Y)
    assert math.isnan(notebook) and not notebook > 2e-7   # the notebook's "perfectly fine"
    assert check_backprop(nb.forward_propagation_n, backward, X, Y,
                          parameters).verdict is Verdict.FAIL


# --- 3. kinks ------------------------------------------------------------------------------

def zero_preactivation_case():
    """A ReLU network where Z1[0, 0] is exactly 0: the central difference straddles it."""
    net = MLP((2, 3, 1), "relu", "naive")
    X = np.array([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0]])
    Y = np.array([1, 0, 1])
    parameters = {"W1": np.array([[1.0, 2.0], [0.5, -0.5], [-1.0, 1.0]]),
                  "b1": np.array([[-2.0], [0.25], [0.1]]),
                  "W2": np.array([[0.7, -1.2, 0.9]]), "b2": np.array([[0.1]])}
    assert net.forward(X, Y, parameters)[1][0][0, 0] == 0.0
    return net, X, Y, parameters


@pytest.mark.parametrize("path", ["batched", "loop with cache", "plain cost"])
def test_a_kink_under_the_step_is_excluded_and_counted(path):
    net, X, Y, parameters = zero_preactivation_case()
    if path == "batched":
        result = check_backprop(net.forward, net.backward, X, Y, parameters)
    elif path == "loop with cache":
        result = check_backprop(user_forward(net), net.backward, X, Y, parameters)
    else:
        gradients = net.backward(X, Y, net.forward(X, Y, parameters)[1])
        result = check_gradients(lambda p: net.forward(X, Y, p)[0], gradients, parameters)
    assert result.verdict is Verdict.PASS
    # W1[0, 0], W1[0, 1] and b1[0] all move Z1[0, 0] across 0: backprop's subgradient is
    # one side's derivative there, and that side judges them.
    assert (result.n_at_kinks, dict(result.excluded)) == (3, {})
    assert (result.blocks["W1"].at_kinks, result.blocks["b1"].at_kinks) == (2, 1)
    assert result.n_judged == result.n_coordinates


def test_the_notebooks_check_is_fooled_by_that_kink():
    net, X, Y, parameters = zero_preactivation_case()
    keyed = dict(parameters)
    # The notebook's helpers are hard-coded for 4-5-3-1; its formula, on this network:
    theta = net.layout.flatten(keyed)
    analytic = net.layout.flatten_gradients(net.backward(X, Y, net.forward(X, Y, keyed)[1]))
    numerical = np.empty_like(theta)
    for i in range(theta.size):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += 1e-7
        minus[i] -= 1e-7
        numerical[i] = (net.forward(X, Y, net.layout.unflatten(plus))[0]
                        - net.forward(X, Y, net.layout.unflatten(minus))[0]) / 2e-7
    difference = np.linalg.norm(analytic - numerical) / (
        np.linalg.norm(analytic) + np.linalg.norm(numerical))
    assert difference > 2e-7


def cancelling_kinks_case():
    """relu(u) - relu(-u) = u with u = 0 exactly: the cost is smooth (linear in u),
    but backprop's subgradient at both kinks is 0."""
    net = MLP((1, 1, 2, 1), ("linear", "relu"), "stable")
    X = np.array([[2.0, -1.0, 3.0]])
    Y = np.array([1, 0, 1])
    parameters = {"W1": np.array([[1.5]]), "b1": np.array([[-3.0]]),
                  "W2": np.array([[1.0], [-1.0]]), "b2": np.zeros((2, 1)),
                  "W3": np.array([[1.0, -1.0]]), "b3": np.array([[0.2]])}
    return net, X, Y, parameters


@pytest.mark.parametrize("batched", [True, False])
def test_kinks_that_cancel_in_the_cost_are_seen_in_the_cache(batched):
    net, X, Y, parameters = cancelling_kinks_case()
    forward = net.forward if batched else user_forward(net)
    result = check_backprop(forward, net.backward, X, Y, parameters)
    assert result.verdict is Verdict.INCONCLUSIVE          # not FAIL: the backprop is right
    assert result.blocks["W1"].excluded == {"kink": 1}
    assert "carry most of this block's gradient" in result.blocks["W1"].diagnosis


def test_exclusions_never_turn_a_bug_into_a_pass():
    net, X, Y, parameters = cancelling_kinks_case()
    for key in ("dW1", "db1"):
        result = check_backprop(net.forward, scaled(net.backward, key, 2.0), X, Y, parameters)
        assert result.verdict is not Verdict.PASS


# --- 4. noise -------------------------------------------------------------------------------

def test_a_stationary_point_is_inconclusive_not_fail():
    centre = np.array([[0.5, -1.0], [2.0, 0.0]])

    def cost(p):
        return float(np.sum((p["W"] - centre) ** 2))

    result = check_gradients(cost, {"W": np.zeros((2, 2))}, {"W": centre.copy()})
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "stationary point" in result.reasons[0]


def test_a_dead_unit_passes_but_is_marked_uninformative():
    net = MLP((2, 2, 1), "relu", "stable")
    X, Y = net.make_batch(4, seed=0)
    parameters = net.init_parameters(seed=0)
    parameters["b1"] = np.array([[-50.0], [0.3]])                     # unit 0 never fires
    result = check_backprop(net.forward, net.backward, X, Y, parameters)
    assert result.verdict is Verdict.PASS
    assert result.blocks["W1"].verdict is Verdict.PASS            # row 1 is alive
    marked = [b for b in result.blocks.values() if not b.informative]
    assert ("* error bars wider than noise_limit" in str(result)) == bool(marked)
    assert any("unverified at this point" in reason for reason in result.reasons) or all(
        b.informative for b in result.blocks.values())


def test_noisy_naive_cost_near_saturation_is_not_a_fail():
    # Logits around 20: the naive cost keeps ~8 digits of 1 - A3, a staircase whose
    # rounding the notebook's check (epsilon 1e-7) reads as a mismatch.
    X, Y, parameters = notebook_case()
    parameters = dict(parameters, b3=np.array([[20.0]]))
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                            parameters)
    assert result.verdict is not Verdict.FAIL
    cache = nb.forward_propagation_n(X, Y, parameters)[1]
    notebook = nb.gradient_check_n(parameters, nb.backward_propagation_n(X, Y, cache), X, Y)
    assert notebook > 2e-7                                         # the notebook's false alarm


def test_every_numerical_derivative_has_a_finite_positive_error_bar():
    X, Y, parameters = notebook_case()
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                            parameters)
    assert np.all(np.isfinite(result.error)) and np.all(result.error > 0)
    assert np.all(np.abs(result.analytic - result.numerical) <= result.error)


# --- 5. sensitivity ---------------------------------------------------------------------

NETWORKS = [MLP((4, 5, 3, 1), "relu", "naive"), MLP((3, 6, 4, 1), "tanh", "stable"),
            MLP((5, 4, 1), "sigmoid", "stable"), MLP((2, 3, 3, 2), "leaky_relu", "stable")]


@pytest.mark.parametrize("net", NETWORKS, ids=lambda n: "-".join(map(str, n.layer_dims)))
@pytest.mark.parametrize("k", [2.0, 4.0, 0.5, -1.0, 0.0, 1.001, 0.999, 1.0 + 1e-5])
def test_scaling_one_block_is_fail_with_block_and_factor(net, k):
    X, Y = net.make_batch(7, seed=3)
    parameters = net.init_parameters(seed=11)
    for name in net.layout.names:
        result = check_backprop(net.forward, scaled(net.backward, "d" + name, k), X, Y,
                                parameters)
        assert result.verdict is Verdict.FAIL, (name, result.summary())
        assert [b.name for b in result.mismatched] == [name]
        block = result.blocks[name]
        if k == 0.0:
            assert block.diagnosis == f"d{name} = 0 while numerical ≠ 0 (missing term)"
        else:
            assert block.scale == pytest.approx(k, rel=1e-6, abs=1e-9)
            assert "×" in block.diagnosis
        if k == -1.0:
            assert block.diagnosis.endswith("(wrong sign)" if block.size == 1 else "(sign bug)")
        elif k != 0.0 and block.size == 1:     # one coordinate: no "scaling" to speak of
            assert block.diagnosis.endswith("(off by that factor)")


def test_a_bug_hidden_in_the_global_difference_is_found_per_block():
    net = MLP((30, 20, 1), "tanh", "stable")
    X, Y = net.make_batch(16, seed=0)
    parameters = net.init_parameters(seed=0)
    result = check_backprop(net.forward, scaled(net.backward, "db2", 1.01), X, Y, parameters)
    assert result.verdict is Verdict.FAIL
    assert result.blocks["b2"].verdict is Verdict.FAIL
    # The notebook's single global difference would not see it:
    g = net.layout.flatten_gradients(net.backward(X, Y, net.forward(X, Y, parameters)[1]))
    bad = g.copy()
    bad[net.layout.slice_of("b2")] *= 1.01
    assert np.linalg.norm(bad - g) / (np.linalg.norm(bad) + np.linalg.norm(g)) < 1e-3


@pytest.mark.parametrize("k", [2.0, -1.0])
def test_scaling_the_whole_gradient_reports_every_block(k):
    X, Y, parameters = notebook_case()

    def backward(X, Y, cache):
        return {key: v * k for key, v in nb.backward_propagation_n(X, Y, cache).items()}

    result = check_backprop(nb.forward_propagation_n, backward, X, Y, parameters)
    assert len(result.mismatched) == 6
    assert result.difference == pytest.approx(abs(k - 1) / (1 + abs(k)), rel=1e-6)


def test_one_wrong_entry_is_found_with_its_index():
    X, Y, parameters = notebook_case()

    def backward(X, Y, cache):
        gradients = nb.backward_propagation_n(X, Y, cache)
        gradients["dW1"] = gradients["dW1"].copy()
        gradients["dW1"][3, 2] += 0.05
        return gradients

    result = check_backprop(nb.forward_propagation_n, backward, X, Y, parameters)
    assert [b.name for b in result.mismatched] == ["W1"]
    assert result.blocks["W1"].worst[0].index == (3, 2)


# --- 6. the caller's arrays -------------------------------------------------------------

def test_callers_arrays_are_bitwise_unchanged_even_if_forward_writes_into_them():
    X, Y, parameters = notebook_case()
    before = {k: v.copy() for k, v in parameters.items()}
    X_before, Y_before = X.copy(), Y.copy()

    def vandal_forward(X, Y, parameters):
        cost, cache = nb.forward_propagation_n(X.copy(), Y, {k: v.copy()
                                                             for k, v in parameters.items()})
        for array in parameters.values():
            array += 1.0          # writes into what it was given
        X *= 2.0
        return cost, cache

    def vandal_backward(X, Y, cache):
        gradients = nb.backward_propagation_n(X, Y, cache)
        X[...] = 0.0
        return gradients

    result = check_backprop(vandal_forward, vandal_backward, X, Y, parameters)
    for key in parameters:
        assert parameters[key].tobytes() == before[key].tobytes()
    assert X.tobytes() == X_before.tobytes() and Y.tobytes() == Y_before.tobytes()
    assert result.verdict is Verdict.PASS          # it still judged the right function
    assert any("modifies X or Y in place" in reason for reason in result.reasons)


def test_gradients_dict_is_not_modified():
    X, Y, parameters = notebook_case()
    gradients = nb.backward_propagation_n(X, Y, nb.forward_propagation_n(X, Y, parameters)[1])
    before = {k: v.copy() for k, v in gradients.items()}
    net = MLP((4, 5, 3, 1), cost="naive")
    check_gradients(net.cost_function(X, Y), gradients, parameters)
    for key in gradients:
        assert gradients[key].tobytes() == before[key].tobytes()


# --- keys and re-estimates ---------------------------------------------------------------

def test_gradients_may_use_parameter_names_and_extra_keys_are_ignored():
    X, Y, parameters = notebook_case()
    gradients = nb.backward_propagation_n(X, Y, nb.forward_propagation_n(X, Y, parameters)[1])
    plain = {name: gradients["d" + name] for name in parameters}
    cost = MLP((4, 5, 3, 1), cost="naive").cost_function(X, Y)
    assert check_gradients(cost, plain, parameters).verdict is Verdict.PASS
    assert check_gradients(cost, gradients, parameters).verdict is Verdict.PASS   # dZ1, dA1...


def test_noisy_blocks_are_re_estimated_and_the_result_reports_the_new_values():
    # Found by Hypothesis: W3 is tiny, so b1's derivative is ~1e-6 of the cost's scale
    # and too noisy at the default step; a 4 times larger step resolves it.
    net = MLP((1, 1, 1, 1), "sigmoid", "stable")
    X, Y = np.array([[0.0]]), np.array([0])
    parameters = {"W1": np.array([[0.0]]), "b1": np.array([[0.0]]), "W2": np.array([[0.125]]),
                  "b2": np.array([[0.0]]), "W3": np.array([[6.103515625e-05]]),
                  "b3": np.array([[0.0]])}
    result = check_backprop(net.forward, net.backward, X, Y, parameters)
    assert result.verdict is Verdict.PASS
    assert any("re-estimated with a step 4 times larger" in r for r in result.reasons)
    judged = ~np.isnan(result.numerical)
    assert np.all(np.abs(result.analytic - result.numerical)[judged] <= result.error[judged])
    b1 = net.layout.slice_of("b1")
    g, n = result.analytic[b1], result.numerical[b1]
    assert result.blocks["b1"].difference == pytest.approx(
        np.linalg.norm(g - n) / (np.linalg.norm(g) + np.linalg.norm(n)), rel=1e-12)
    assert result.blocks["b1"].resolution <= 1e-4


# --- diagnoses that do not mislead ---------------------------------------------------------

def with_gradients(change):
    """The notebook's correct backward pass, its gradients changed by ``change``."""
    def backward(X, Y, cache):
        gradients = nb.backward_propagation_n(X, Y, cache)
        change(gradients)
        return gradients
    return backward


def test_a_forgotten_gradient_is_a_fail_naming_the_block_and_the_stray_key():
    X, Y, parameters = notebook_case()
    result = check_backprop(nb.forward_propagation_n,
                            with_gradients(lambda g: g.update(db_3=g.pop("db3"))), X, Y,
                            parameters)
    assert result.verdict is Verdict.FAIL
    assert [b.diagnosis for b in result.mismatched] == ["db3: missing from the gradients"]
    assert "the gradients hold keys that name no parameter: 'db_3'" in result.reasons


def test_a_square_block_equal_to_the_transposed_numerical_one_is_called_transposed():
    net = MLP((3, 3, 1), "tanh", "stable")
    X, Y = net.make_batch(4, seed=2)
    parameters = net.init_parameters(seed=5)

    def transposed(X, Y, cache):
        gradients = net.backward(X, Y, cache)
        gradients["dW1"] = gradients["dW1"].T
        return gradients
    result = check_backprop(net.forward, transposed, X, Y, parameters)
    assert [b.diagnosis for b in result.mismatched] == [
        "dW1 = numerical transposed (a transposed gradient)"]


def test_a_step_that_theta_rounds_away_is_too_small_not_a_stationary_point():
    X, Y, parameters = notebook_case()
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                            parameters, epsilon=1e-20)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.reasons[0].startswith("the step is too small: theta + step rounds to theta")
    assert dict(result.excluded) == {"step too small": 47}


def test_a_batched_twin_of_the_users_gets_copies_of_the_data():
    # batched_cost is the user's code too (any class may offer it): it never gets the
    # caller's own X and Y, which the check does not copy for itself.
    class WritesIntoItsData(MLP):
        def batched_cost(self, forward, X, Y):
            X[...] = 0
            Y[...] = 0

    net = WritesIntoItsData((4, 3, 1))
    X, Y = net.make_batch(5, seed=0)
    X_before, Y_before = X.copy(), Y.copy()
    result = check_backprop(net.forward, net.backward, X, Y, net.init_parameters(seed=1))
    assert result.verdict is Verdict.PASS
    assert np.array_equal(X, X_before) and np.array_equal(Y, Y_before)
