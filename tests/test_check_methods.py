"""The checker's methods: the complex step, the automatic fallback, sampling, and batched
against loop evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from gcverify import MLP, InvalidArgument, Verdict, check_backprop, check_gradients
from gcverify.models import HIDDEN_ACTIVATIONS
from gcverify.models import notebook as nb
from tests.test_check import notebook_case, user_forward

# --- methods ----------------------------------------------------------------------------

def test_complex_step_on_a_complex_safe_cost():
    X, Y, parameters = notebook_case()
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                            parameters, method="complex")
    assert result.verdict is Verdict.PASS and result.method == "complex"
    assert result.difference < 1e-12          # no subtractive cancellation at all
    assert "| step 1e-20i (central " in str(result)


def test_complex_step_on_an_unsafe_cost_is_a_clear_error():
    net = MLP((3, 2, 1), cost="stable")                   # logaddexp has no complex loop
    X, Y = net.make_batch(4)
    with pytest.raises(InvalidArgument) as info:
        check_backprop(net.forward, net.backward, X, Y, net.init_parameters(), method="complex")
    message = str(info.value)
    assert message.startswith("forward=MLP.forward is not complex-safe (TypeError: ufunc "
                              "'logaddexp' not supported")
    assert message.endswith("; use method='central', or method='auto' to fall back")


def test_auto_falls_back_to_central_and_says_so():
    def cost(p):
        return float(np.sum(np.abs(p["w"]) ** 3))         # abs breaks the complex step
    w = np.array([0.5, -1.5])
    result = check_gradients(cost, {"w": 3 * w * np.abs(w)}, {"w": w}, method="auto")
    assert result.verdict is Verdict.PASS and result.method == "central"
    assert any(reason.startswith("complex step unavailable") for reason in result.reasons)


def test_sampling_checks_a_seeded_subset_per_block():
    net = MLP((20, 10, 1))
    X, Y = net.make_batch(5)
    parameters = net.init_parameters()
    first = check_backprop(net.forward, net.backward, X, Y, parameters, sample=4, seed=1)
    again = check_backprop(net.forward, net.backward, X, Y, parameters, sample=4, seed=1)
    assert first.n_judged == 4 + 4 + 4 + 1
    np.testing.assert_array_equal(np.isnan(first.numerical), np.isnan(again.numerical))
    assert first.verdict is Verdict.PASS


def test_same_inputs_same_result():
    X, Y, parameters = notebook_case()
    first = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y, parameters)
    second = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                            parameters)
    assert str(first) == str(second)


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("cost", ["stable", "naive"])
def test_batched_and_loop_evaluation_agree(activation, cost):
    net = MLP((3, 4, 3, 1), activation, cost)
    X, Y = net.make_batch(5, seed=2)
    parameters = net.init_parameters(seed=9)
    batched = check_backprop(net.forward, net.backward, X, Y, parameters)
    loop = check_backprop(user_forward(net), net.backward, X, Y, parameters)
    assert batched.evaluator == "batched" and loop.evaluator == "loop"
    assert batched.verdict is loop.verdict is Verdict.PASS
    np.testing.assert_allclose(batched.numerical, loop.numerical, rtol=1e-7, atol=1e-9)



def test_complex_step_on_the_batched_reference_network():
    # The reference network's own cost keeps the imaginary part: batched, complex-safe.
    net = MLP((3, 4, 1), "tanh", "naive")
    X, Y = net.make_batch(4, seed=1)
    result = check_backprop(net.forward, net.backward, X, Y, net.init_parameters(seed=2),
                            method="complex")
    assert result.evaluator == "batched" and result.method == "complex"
    assert result.verdict is Verdict.PASS and result.difference < 1e-12
