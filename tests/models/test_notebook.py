"""The notebook, pinned: same names, same signatures, same numbers."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from gcverify.models import notebook as nb
from gcverify.replay import NOTEBOOK_DIFFERENCES, reproduces

BUGGY = NOTEBOOK_DIFFERENCES["buggy"]
CORRECT = NOTEBOOK_DIFFERENCES["correct"]


@pytest.fixture
def case():
    X, Y, parameters = nb.gradient_check_n_test_case()
    cost, cache = nb.forward_propagation_n(X, Y, parameters)
    return X, Y, parameters, cache


def test_one_dimensional_numbers(capsys):
    assert nb.forward_propagation(2, 4) == 8
    assert nb.backward_propagation(3, 4) == 3
    assert nb.gradient_check(3, 4, print_msg=True) == 7.814075313343006e-11
    assert "works perfectly fine! difference = 7.814075313343006e-11" in capsys.readouterr().out


def test_buggy_backprop_difference(case, capsys):
    X, Y, parameters, cache = case
    gradients = nb.backward_propagation_n_buggy(X, Y, cache)
    difference = nb.gradient_check_n(parameters, gradients, X, Y, 1e-7, True)
    # 10 significant digits are the same under every BLAS kernel (test_notebook_blas.py).
    assert reproduces("buggy", difference)
    assert difference == pytest.approx(BUGGY, rel=5e-10, abs=0)
    out = capsys.readouterr().out
    assert out.startswith("\033[93mThere is a mistake in the backward propagation! difference = ")


def test_correct_backprop_difference(case, capsys):
    X, Y, parameters, cache = case
    gradients = nb.backward_propagation_n(X, Y, cache)
    difference = nb.gradient_check_n(parameters, gradients, X, Y, 1e-7, True)
    # Rounding noise of the central difference: BLAS kernels agree on 4 digits only.
    assert reproduces("correct", difference)
    assert difference == pytest.approx(CORRECT, rel=5e-4, abs=0)
    assert difference < 2e-7
    assert "\033[92mYour backward propagation works perfectly fine!" in capsys.readouterr().out


def test_difference_is_a_python_float_not_an_ndarray(case):
    X, Y, parameters, cache = case
    difference = nb.gradient_check_n(parameters, nb.backward_propagation_n(X, Y, cache), X, Y)
    assert type(difference) is float
    assert type(nb.gradient_check(3, 4)) is float


def test_notebook_assertion_cell_passes(case):
    # The notebook's own final cell, verbatim in substance.
    X, Y, parameters, cache = case
    difference = nb.gradient_check_n(parameters, nb.backward_propagation_n_buggy(X, Y, cache),
                                     X, Y, 1e-7, False)
    expected_values = [0.2850931567761623, 1.1890913024229996e-07]
    assert not (type(difference) == np.ndarray)  # noqa: E721 - the notebook's own check
    assert np.any(np.isclose(difference, expected_values))


@pytest.mark.parametrize(("name", "parameters"), [
    ("sigmoid", ["x"]),
    ("relu", ["x"]),
    ("dictionary_to_vector", ["parameters"]),
    ("vector_to_dictionary", ["theta"]),
    ("gradients_to_vector", ["gradients"]),
    ("gradient_check_n_test_case", []),
    ("forward_propagation", ["x", "theta"]),
    ("backward_propagation", ["x", "theta"]),
    ("gradient_check", ["x", "theta", "epsilon", "print_msg"]),
    ("forward_propagation_n", ["X", "Y", "parameters"]),
    ("backward_propagation_n", ["X", "Y", "cache"]),
    ("backward_propagation_n_buggy", ["X", "Y", "cache"]),
    ("gradient_check_n", ["parameters", "gradients", "X", "Y", "epsilon", "print_msg"]),
])
def test_signatures_match_the_notebook(name, parameters):
    signature = inspect.signature(getattr(nb, name))
    assert list(signature.parameters) == parameters
    defaults = {k: p.default for k, p in signature.parameters.items()
                if p.default is not inspect.Parameter.empty}
    if "epsilon" in parameters:
        assert defaults == {"epsilon": 1e-7, "print_msg": False}


def test_test_case_shapes_and_values():
    X, Y, parameters = nb.gradient_check_n_test_case()
    assert X.shape == (4, 3) and Y.tolist() == [1, 1, 0]
    assert [parameters[k].shape for k in ("W1", "b1", "W2", "b2", "W3", "b3")] == [
        (5, 4), (5, 1), (3, 5), (3, 1), (1, 3), (1, 1)]
    np.random.seed(1)
    assert X[0, 0] == np.random.randn()


def test_vector_helpers_round_trip_and_keys():
    _, _, parameters = nb.gradient_check_n_test_case()
    theta, keys = nb.dictionary_to_vector(parameters)
    assert theta.shape == (47, 1)
    assert keys == ["W1"] * 20 + ["b1"] * 5 + ["W2"] * 15 + ["b2"] * 3 + ["W3"] * 3 + ["b3"]
    back = nb.vector_to_dictionary(theta)
    assert list(back) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for name in back:
        np.testing.assert_array_equal(back[name], parameters[name])
    assert np.shares_memory(back["W1"], theta)  # views, as in the notebook


def test_vector_helpers_match_the_original_concatenation():
    _, _, parameters = nb.gradient_check_n_test_case()
    original = np.concatenate([np.reshape(parameters[k], (-1, 1))
                               for k in ("W1", "b1", "W2", "b2", "W3", "b3")])
    np.testing.assert_array_equal(nb.dictionary_to_vector(parameters)[0], original)
    gradients = {"d" + k: v for k, v in parameters.items()}
    gradients["dZ1"] = np.ones((5, 3))  # ignored, as in the notebook
    np.testing.assert_array_equal(nb.gradients_to_vector(gradients), original)


def test_buggy_differs_from_correct_exactly_by_the_two_planted_bugs(case):
    X, Y, _, cache = case
    good = nb.backward_propagation_n(X, Y, cache)
    bad = nb.backward_propagation_n_buggy(X, Y, cache)
    assert list(good) == list(bad)
    for key in good:
        if key == "dW2":
            np.testing.assert_allclose(bad[key], 2 * good[key], rtol=1e-15)
        elif key == "db1":
            np.testing.assert_allclose(bad[key], 4 * good[key], rtol=1e-15)
        else:
            np.testing.assert_array_equal(bad[key], good[key])


def test_documented_flaw_nan_difference_prints_perfectly_fine(capsys):
    nb._print_verdict(float("nan"))
    assert "works perfectly fine! difference = nan" in capsys.readouterr().out


def test_documented_flaw_saturated_naive_cost_is_not_finite():
    X, Y, parameters = nb.gradient_check_n_test_case()
    parameters = dict(parameters, b3=np.array([[40.0]]))
    with np.errstate(divide="ignore", invalid="ignore"):
        cost, _ = nb.forward_propagation_n(X, Y, parameters)
    assert not np.isfinite(cost)
