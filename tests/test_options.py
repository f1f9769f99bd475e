"""One CheckOptions feeds every front end: each field reaches the checker from the API,
the pytest marker, the plugin's command-line options and ``gcverify check``."""

from __future__ import annotations

import dataclasses
import inspect
import json

import numpy  # noqa: F401  (pytester's in-process runs cannot import numpy a second time)
import pytest

from gcverify import (
    CheckOptions,
    InvalidArgument,
    assert_backprop_correct,
    assert_gradients_correct,
    check_backprop,
    check_gradients,
    check_loss_and_grads,
)
from gcverify.cli import main
from gcverify.models import notebook as nb
from gcverify.options import METHODS, option_fields

# A value other than the default for every field; the notebook's correct backprop still
# passes with each of them.
VALUES = {"threshold": 3e-7, "method": "auto", "epsilon": 1e-6, "seed": 7, "sample": 3,
          "noise_limit": 2e-4, "mode": "auto", "directions": 5, "jobs": 2}
FIELDS = [f.name for f in dataclasses.fields(CheckOptions)]
X, Y, P = nb.gradient_check_n_test_case()
F, B = nb.forward_propagation_n, nb.backward_propagation_n


def test_the_table_covers_every_field_with_a_value_that_is_not_the_default():
    assert list(VALUES) == FIELDS
    for name, value in VALUES.items():
        assert getattr(CheckOptions(), name) != value


@pytest.mark.parametrize("function", [check_backprop, check_gradients, check_loss_and_grads,
                                      assert_backprop_correct, assert_gradients_correct])
def test_each_field_is_an_explicit_keyword_with_the_options_default(function):
    parameters = inspect.signature(function).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    for spec in option_fields():
        assert parameters[spec.name].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[spec.name].default == spec.default, spec.name


@pytest.mark.parametrize(("name", "value"), VALUES.items())
def test_each_field_reaches_the_checker_from_the_api(name, value):
    cost = lambda p: nb.forward_propagation_n(X, Y, p)[0]  # noqa: E731
    gradients = B(X, Y, F(X, Y, P)[1])
    loss_and_grads = lambda p: (cost(p), B(X, Y, F(X, Y, p)[1]))  # noqa: E731
    results = [check_backprop(F, B, X, Y, P, **{name: value}),
               check_gradients(cost, gradients, P, **{name: value}),
               check_loss_and_grads(loss_and_grads, P, **{name: value}),
               assert_backprop_correct(F, B, X, Y, P, **{name: value}),
               assert_gradients_correct(cost, gradients, P, **{name: value})]
    for result in results:
        assert getattr(result.options, name) == value
        assert result.options == CheckOptions().replace(**{name: value})


def test_the_options_change_what_the_checker_does():
    # Not only recorded: sample=3 judges 3 coordinates per block, epsilon sets the step.
    sampled = check_backprop(F, B, X, Y, P, sample=3)
    assert sampled.n_judged == sum(min(3, array.size) for array in P.values())
    assert "| step 1e-06 |" in str(check_backprop(F, B, X, Y, P, epsilon=1e-6))
    def slightly_off(X, Y, cache):
        gradients = B(X, Y, cache)
        gradients["dW2"] = 1.5 * gradients["dW2"]          # a block difference of 0.2
        return gradients
    assert not check_backprop(F, slightly_off, X, Y, P).passed
    assert check_backprop(F, slightly_off, X, Y, P, threshold=0.3).passed
    # mode and directions: 4 directions for each block larger than 4, coordinates else.
    directional = check_backprop(F, B, X, Y, P, mode="directional", directions=4)
    assert directional.mode == "directional" and directional.passed
    assert directional.n_judged == sum(min(4, array.size) for array in P.values())
    assert check_backprop(F, B, X, Y, P, mode="auto").mode == "coordinates"   # 47 parameters


USER_TEST = '''
import json
from gcverify.models import notebook as nb

X, Y, P = nb.gradient_check_n_test_case()

{marker}
def test_options(gradcheck):
    result = gradcheck(nb.forward_propagation_n, nb.backward_propagation_n, X, Y, P)
    with open("options.json", "w") as file:
        json.dump(result.options.as_dict(), file)
'''


def options_written(pytester) -> dict:
    return json.loads((pytester.path / "options.json").read_text())


@pytest.mark.parametrize(("name", "value"), VALUES.items())
def test_each_field_reaches_the_checker_from_the_plugin_marker(pytester, name, value):
    pytester.makepyfile(USER_TEST.format(marker=f"import pytest\n@pytest.mark.gradcheck("
                                                f"{name}={value!r})"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert options_written(pytester) == {**CheckOptions().as_dict(), name: value}


@pytest.mark.parametrize(("name", "value"), VALUES.items())
def test_each_field_reaches_the_checker_from_the_plugin_options(pytester, name, value):
    pytester.makepyfile(USER_TEST.format(marker=""))
    flag = "--gcverify-" + name.replace("_", "-")
    result = pytester.runpytest("-p", "no:cacheprovider", f"{flag}={value}")
    result.assert_outcomes(passed=1)
    assert options_written(pytester) == {**CheckOptions().as_dict(), name: value}


USER_FILE = '''
from gcverify.models import notebook as nb
forward, backward = nb.forward_propagation_n, nb.backward_propagation_n
case = nb.gradient_check_n_test_case
'''


@pytest.mark.parametrize(("name", "value"), VALUES.items())
def test_each_field_reaches_the_checker_from_the_cli(tmp_path, capsys, name, value):
    path = tmp_path / "net.py"
    path.write_text(USER_FILE)
    flag = "--" + name.replace("_", "-")
    code = main(["check", str(path), "--forward", "forward", "--backward", "backward",
                 "--case", "case", flag, str(value), "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["options"] == {**CheckOptions().as_dict(),
                                                              name: value}


def test_the_cli_and_the_plugin_show_the_fields_help(capsys):
    assert main(["check", "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    for spec in option_fields():
        assert f"--{spec.flag}" in shown
        assert " ".join(spec.help.split())[1:40] in shown, spec.name


def test_options_validate_themselves_and_name_a_misspelt_one():
    with pytest.raises(InvalidArgument) as info:
        CheckOptions().replace(thresold=1)
    assert str(info.value) == ("thresold=1 is not a checker option; use one of threshold, "
                               "method, epsilon, seed, sample, noise_limit, mode, directions, jobs")
    with pytest.raises(InvalidArgument, match=r"^sample=0 is not a positive integer"):
        CheckOptions(sample=0)
    for jobs in (0, -1, 1.5, True, "2"):
        with pytest.raises(InvalidArgument) as info:
            CheckOptions(jobs=jobs)
        assert str(info.value) == (f"jobs={jobs!r} is not a positive integer; pass e.g. "
                                   "jobs=2, or None for one per available core")
    assert (CheckOptions(jobs=1).jobs, CheckOptions().jobs) == (1, None)
    assert CheckOptions().method in METHODS
    with pytest.raises(dataclasses.FrozenInstanceError):
        CheckOptions().threshold = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("threshold", [0.5, 0.7, 1.0])
def test_a_threshold_that_only_a_threefold_error_could_exceed_is_rejected(threshold):
    with pytest.raises(InvalidArgument) as info:
        CheckOptions(threshold=threshold)
    assert str(info.value) == (
        f"threshold={threshold} is not below 0.5, the difference of a gradient 3 times too "
        "large, so no milder bug could fail; pass e.g. threshold=2e-7, the notebook's")
