"""The result objects: their text report, one-line summary and repr, their plain data
(one policy for non-finite numbers), and their immutability."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gcverify import (
    BlockFinding,
    CheckOptions,
    Entry,
    GradCheckResult,
    Verdict,
    assert_backprop_correct,
    assert_gradients_correct,
    check_backprop,
    check_gradients,
)
from gcverify.models import notebook as nb
from tests.test_check import cancelling_kinks_case, notebook_case

# --- the text report and the assertions --------------------------------------------------

def test_failure_report_follows_numpy_testing_layout():
    X, Y, parameters = notebook_case()
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n_buggy, X, Y,
                            parameters)
    text = str(result)
    lines = text.splitlines()
    assert lines[0] == "Gradient check: FAIL"
    assert "threshold 2e-07 | method central | step 6.06e-06 × max(1, |θ|)" in lines[1]
    assert "Mismatched blocks: 2 / 6" in text
    assert "dW2 ≈ 2.000 × numerical (scaling bug)" in text
    assert "db1 ≈ 4.000 × numerical (scaling bug)" in text
    header = next(i for i, line in enumerate(lines) if line.startswith("  dW2:"))
    assert lines[header + 1].split() == ["index", "analytic", "numerical"]
    assert result.summary().startswith("FAIL: 2 of 6 blocks mismatched (db1 ≈ 4.000 ×")


def test_assert_helpers_raise_with_the_report():
    X, Y, parameters = notebook_case()
    with pytest.raises(AssertionError) as info:
        assert_backprop_correct(nb.forward_propagation_n, nb.backward_propagation_n_buggy, X, Y,
                                parameters)
    assert "Mismatched blocks: 2 / 6" in str(info.value)
    net, X2, Y2, p2 = cancelling_kinks_case()
    with pytest.raises(AssertionError, match="INCONCLUSIVE"):
        assert_backprop_correct(net.forward, net.backward, X2, Y2, p2)
    assert assert_backprop_correct(net.forward, net.backward, X2, Y2, p2,
                                   allow_inconclusive=True).verdict is Verdict.INCONCLUSIVE
    g = net.backward(X2, Y2, net.forward(X2, Y2, p2)[1])
    with pytest.raises(AssertionError):
        assert_gradients_correct(net.cost_function(X2, Y2), g, p2)


def test_result_is_immutable():
    X, Y, parameters = notebook_case()
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y, parameters)
    assert isinstance(result, GradCheckResult)
    with pytest.raises(AttributeError):
        result.verdict = Verdict.FAIL
    with pytest.raises(TypeError):
        result.blocks["W1"] = None
    with pytest.raises(ValueError):
        result.analytic[0] = 1.0
    with pytest.raises(TypeError):
        result.blocks["W1"].excluded["kink"] = 1
    assert [v.value for v in Verdict] == ["pass", "fail", "inconclusive"]


# --- one line, plain data ------------------------------------------------------------------

def buggy_result() -> GradCheckResult:
    X, Y, parameters = notebook_case()
    return check_backprop(nb.forward_propagation_n, nb.backward_propagation_n_buggy, X, Y,
                          parameters)


def test_repr_is_one_short_line():
    result = buggy_result()
    assert repr(result) == ("GradCheckResult(FAIL, difference=0.285093, blocks=6, "
                            "mismatched=['b1', 'W2'])")
    assert repr(result.blocks["W2"]) == "BlockFinding('W2', FAIL, difference=0.333333, scale=2)"
    assert "\n" not in repr(result) and len(repr(result)) < 120


def test_verdicts_are_written_one_way_in_header_summary_and_table():
    text = str(buggy_result())
    table = text[text.index("Blocks:"):].splitlines()[2:8]
    assert [row.split()[1] for row in table] == ["PASS", "FAIL", "FAIL", "PASS", "PASS", "PASS"]
    assert text.startswith("Gradient check: FAIL") and str(Verdict.FAIL) == "FAIL"


def test_the_result_carries_its_options_and_says_its_step():
    X, Y, parameters = notebook_case()
    result = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                            parameters, epsilon=1e-7, threshold=3e-7)
    assert result.options == CheckOptions(epsilon=1e-7, threshold=3e-7)
    assert result.threshold == 3e-7
    assert "threshold 3e-07 | method central | step 1e-07 | loop evaluation" in str(result)


def test_plain_data_is_strict_json_with_null_for_non_finite_numbers():
    def cost(p):
        return float(np.sum(p["w"] ** 2))
    w = np.array([1.0, 2.0])
    result = check_gradients(cost, {"w": np.array([np.nan, 4.0])}, {"w": w})
    data = result.to_dict()
    text = json.dumps(data, allow_nan=False)          # would raise on NaN or inf
    assert data["verdict"] == "fail" and data["difference"] is None
    assert math.isnan(result.difference)
    assert data["blocks"]["w"]["worst"][0]["analytic"] is None
    assert data["options"] == CheckOptions().as_dict()
    assert "step" not in data           # display prose stays in the text report
    assert json.loads(text) == data


def test_to_dict_holds_every_block_and_the_counts():
    data = buggy_result().to_dict()
    assert list(data["blocks"]) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert data["n_coordinates"] == data["n_judged"] == 47 and data["excluded"] == {}
    assert data["blocks"]["W2"]["scale"] == pytest.approx(2.0)
    assert data["blocks"]["W2"]["verdict"] == "fail"


def test_entries_and_findings_are_plain_frozen_records():
    entry = Entry((0, 1), 2.0, 1.0, 1e-9)
    assert entry.index == (0, 1) and entry == Entry((0, 1), 2.0, 1.0, 1e-9)
    block = buggy_result().blocks["b1"]
    assert isinstance(block, BlockFinding) and block.gradient_key == "db1"
    with pytest.raises(AttributeError):
        block.verdict = Verdict.PASS  # type: ignore[misc]


def test_summary_of_each_verdict_is_one_line():
    X, Y, parameters = notebook_case()
    passed = check_backprop(nb.forward_propagation_n, nb.backward_propagation_n, X, Y,
                            parameters)
    net, X2, Y2, p2 = cancelling_kinks_case()
    inconclusive = check_backprop(net.forward, net.backward, X2, Y2, p2)
    for result in (passed, buggy_result(), inconclusive):
        assert "\n" not in result.summary()
        assert result.summary().startswith(str(result.verdict) + ":")
    assert passed.summary().endswith("<= 2e-07 over 47 of 47 coordinates (0 excluded)")


# --- one name per block, numpy's figures ------------------------------------------------

def test_each_block_has_one_name_the_key_of_its_gradient():
    result = buggy_result()
    text = str(result)
    table = text[text.index("Blocks:"):].splitlines()[2:8]
    assert [row.split()[0] for row in table] == ["dW1", "db1", "dW2", "db2", "dW3", "db3"]
    assert "  dW2: difference 0.333333, 15 of 15 coordinates judged" in text
    assert result.blocks["dW2"] is result.blocks["W2"] and "dW2" in result.blocks
    with pytest.raises(KeyError):
        result.blocks["dW9"]


def test_gradients_keyed_by_parameter_names_keep_those_names():
    X, Y, parameters = notebook_case()
    gradients = nb.backward_propagation_n(X, Y, nb.forward_propagation_n(X, Y, parameters)[1])
    plain = {name: gradients["d" + name] * (2 if name == "W2" else 1) for name in parameters}
    result = check_gradients(lambda p: nb.forward_propagation_n(X, Y, p)[0], plain, parameters)
    assert [b.gradient_key for b in result.blocks.values()] == list(parameters)
    assert result.mismatched[0].diagnosis == "W2 ≈ 2.000 × numerical (scaling bug)"


def test_a_failing_block_shows_numpys_largest_absolute_and_relative_differences():
    result = buggy_result()
    db1 = result.blocks["b1"]
    g = result.analytic[20:25]
    n = result.numerical[20:25]
    assert db1.max_absolute == pytest.approx(np.max(np.abs(g - n)), rel=1e-12)
    assert db1.max_relative == pytest.approx(3.0, rel=1e-6)        # 4 n - n over n
    text = str(result)
    assert "    Max absolute difference: 1.89872" in text
    assert "    Max relative difference: 3\n" in text


def test_results_pickle_whole():
    import pickle
    result = buggy_result()
    again = pickle.loads(pickle.dumps(result))
    assert str(again) == str(result) and again.blocks["dW2"].diagnosis == \
        result.blocks["dW2"].diagnosis
