"""The pytest plugin, tested by running pytest itself."""

from __future__ import annotations

import re
from pathlib import Path

import numpy  # noqa: F401  (pytester's in-process runs cannot import numpy a second time)
import pytest

from tests.test_ci_recipe import RECIPE, recipe_files

USER_TESTS = '''
import numpy as np
import pytest
from gcverify.models import notebook as nb

X, Y, P = nb.gradient_check_n_test_case()

def test_correct(gradcheck):
    gradcheck(nb.forward_propagation_n, nb.backward_propagation_n, X, Y, P)

def test_buggy(gradcheck):
    gradcheck(nb.forward_propagation_n, nb.backward_propagation_n_buggy, X, Y, P)

def test_gradients_of_a_cost(gradcheck):
    cost = lambda p: nb.forward_propagation_n(X, Y, p)[0]
    gradients = nb.backward_propagation_n(X, Y, nb.forward_propagation_n(X, Y, P)[1])
    result = gradcheck.gradients(cost, gradients, P)
    assert result.passed

def slightly_off(X, Y, cache):      # dW2 x 1.5: a block difference of 0.2
    gradients = nb.backward_propagation_n(X, Y, cache)
    gradients["dW2"] = 1.5 * gradients["dW2"]
    return gradients

def test_slightly_off(gradcheck):
    gradcheck(nb.forward_propagation_n, slightly_off, X, Y, P)

@pytest.mark.gradcheck(threshold=0.3)
def test_loose_threshold_lets_the_slightly_off_one_pass(gradcheck):
    gradcheck(nb.forward_propagation_n, slightly_off, X, Y, P)
'''


@pytest.fixture
def user_tests(pytester):
    pytester.makepyfile(test_user=USER_TESTS)
    return pytester


def test_one_line_test_passes_and_fails_with_the_report(user_tests):
    result = user_tests.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines([
        "*test_buggy*",
        "*Mismatched blocks: 2 / 6*",
        "*dW2 ≈ 2.000 × numerical (scaling bug)*",
    ])
    # __tracebackhide__: the user's line is shown, not the plugin's internals.
    assert "assert_backprop_correct(" not in result.stdout.str()


def test_command_line_threshold_applies_to_every_test(user_tests):
    result = user_tests.runpytest("--gcverify-threshold=0.3")
    result.assert_outcomes(passed=4, failed=1)        # the notebook's buggy one still fails


def test_options_are_in_one_group_with_defaults(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines([
        "gradient checking with gcverify*",
        "*--gcverify-threshold=T*",
        "*(default: 2e-07)*",
        "*--gcverify-method=*",
        "*--gcverify-noise-limit=R*",
        "*--gcverify-allow-inconclusive*",
    ])


def test_marker_is_registered(pytester):
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines([
        "@pytest.mark.gradcheck(threshold=2e-07, method='central', epsilon=None, seed=0, "
        "sample=None, noise_limit=0.0001, mode='coordinates', directions=8, jobs=None, "
        "allow_inconclusive=False)*"])


@pytest.mark.parametrize(("marker", "message"), [
    ("gradcheck(1e-6)", "takes keyword arguments only"),
    ("gradcheck(treshold=1e-6)", "gradcheck(treshold=...) is not an option"),
    ("gradcheck(method='forward')",
     "@pytest.mark.gradcheck: method='forward' is not a known method; use 'central', "
     "'complex' or 'auto'"),
    ("gradcheck(noise_limit=-1)",
     "@pytest.mark.gradcheck: noise_limit=-1 is not a positive finite number"),
    ("gradcheck(allow_inconclusive='yes')", "allow_inconclusive='yes') is not a bool"),
])
def test_bad_marker_arguments_are_rejected(pytester, marker, message):
    pytester.makepyfile(f'''
import pytest
@pytest.mark.{marker}
def test_x(gradcheck):
    pass
''')
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_a_bad_command_line_value_is_a_usage_error_naming_the_flag(pytester):
    pytester.makepyfile("def test_x(gradcheck):\n    pass\n")
    result = pytester.runpytest("--gcverify-threshold=-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--gcverify-threshold=-1.0 is not a positive finite number*"])


def test_inconclusive_fails_unless_allowed(pytester):
    pytester.makepyfile('''
import numpy as np

def case():
    centre = np.array([0.5, -1.0])
    return (lambda p: float(np.sum((p["w"] - centre) ** 2))), {"w": np.zeros(2)}, {"w": centre}

def test_stationary(gradcheck):
    cost, gradients, parameters = case()
    gradcheck.gradients(cost, gradients, parameters)
''')
    pytester.runpytest().assert_outcomes(failed=1)
    pytester.runpytest("--gcverify-allow-inconclusive").assert_outcomes(passed=1)


def test_plugin_module_imports_nothing_heavy():
    import subprocess
    import sys
    code = ("import sys, gcverify.pytest_plugin; "
            "print(any(m.startswith('gcverify.check') or m == 'numpy' for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


# --- the fixture under Hypothesis's @given -------------------------------------------------

GIVEN_TESTS = '''
import pytest
from hypothesis import given, settings
from gcverify import MLP
from gcverify.strategies import cases, networks

NET = MLP((3, 4, 1))

def scaled_backward(X, Y, cache):           # dW1 x 1.5: a bug a property finds
    gradients = NET.backward(X, Y, cache)
    gradients["dW1"] = 1.5 * gradients["dW1"]
    return gradients

@settings(max_examples=5, derandomize=True, database=None)
@given(networks(max_depth=2, generic=True))
def test_correct_backprop_of_any_network(gradcheck, network):
    gradcheck(*network)

@settings(max_examples=5, derandomize=True, database=None)
@given(cases(NET, generic=True))
def test_a_bug_is_found_with_a_minimal_example(gradcheck, case):
    gradcheck(NET.forward, scaled_backward, *case)

@pytest.mark.gradcheck(threshold=0.3)   # a difference of 0.2 passes
@settings(max_examples=5, derandomize=True, database=None)
@given(cases(NET, generic=True))
def test_the_marker_applies_under_given(gradcheck, case):
    gradcheck(NET.forward, scaled_backward, *case)
'''


def test_the_fixture_works_under_given_without_a_health_check_error(pytester):
    pytester.makepyfile(test_given=GIVEN_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert "test_the_marker_applies_under_given PASSED" in out
    assert "function_scoped_fixture" not in out and "FailedHealthCheck" not in out
    # The failing property shows gcverify's report and Hypothesis's minimal example
    # (older Hypothesis versions say "Falsifying example").
    result.stdout.fnmatch_lines(["*dW1 ≈ 1.500 × numerical (scaling bug)*"])
    assert re.search(r"(Failing test case|Falsifying example): "
                     r"test_a_bug_is_found_with_a_minimal_example\(", out)


def test_one_fixture_object_serves_every_test_and_each_marker_applies_at_the_call(pytester):
    pytester.makepyfile('''
import pytest

SEEN = []

def test_first(gradcheck):
    SEEN.append(gradcheck)
    assert gradcheck._current()[0].threshold == 2e-7

@pytest.mark.gradcheck(threshold=0.25, allow_inconclusive=True)
def test_second(gradcheck):
    SEEN.append(gradcheck)
    options, allow = gradcheck._current()
    assert (options.threshold, allow) == (0.25, True)

def test_third(gradcheck):
    assert gradcheck is SEEN[0] is SEEN[1]
    assert gradcheck._current()[0].threshold == 2e-7    # the marker was the second's only
''')
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)


# --- the CI recipe's code, as docs/ci-recipe.md gives it --------------------------------------

NOTEBOOK_STYLE = Path(__file__).resolve().parents[1] / "examples" / "notebook_style.py"


def test_the_ci_recipe_runs_as_written_and_its_failure_shows_the_minimal_example(
        pytester, monkeypatch):
    # The notebook-style half of the recipe (tests/test_ci_recipe.py runs all of it).
    files = recipe_files()
    for name in ("conftest.py", "test_backprop.py"):
        pytester.path.joinpath(name).write_text(files[name])
    network = NOTEBOOK_STYLE.read_text()
    pytester.path.joinpath("mynet.py").write_text(network)
    monkeypatch.setenv("GCVERIFY_HYPOTHESIS_PROFILE", "ci")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    pytester.path.joinpath("mynet.py").write_text(network.replace(
        "dW1 = 1. / m * np.dot(dZ1, X.T)", "dW1 = 1.5 / m * np.dot(dZ1, X.T)"))
    # One property is enough to see the report (shrinking takes seconds).
    failed = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k",
                                           "test_backprop_passes_the_gradient_check")
    failed.assert_outcomes(failed=1, deselected=1)
    failed.stdout.fnmatch_lines(["*dW1 ≈ 1.500 × numerical (scaling bug)*",
                                 "*@reproduce_failure(*"])
    assert re.search(r"(Failing test case|Falsifying example): "
                     r"test_backprop_passes_the_gradient_check\(", failed.stdout.str())
    assert "GCVERIFY_HYPOTHESIS_PROFILE: ${{" in RECIPE.read_text()
