"""The pytest plugin, tested by running pytest itself."""

from __future__ import annotations

import numpy  # noqa: F401  (pytester's in-process runs cannot import numpy a second time)
import pytest

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
        "sample=None, noise_limit=0.0001, allow_inconclusive=False)*"])


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
