"""``gcverify mutate`` on the examples, as their docstrings write the command lines: the
row-major and class-based examples fully (every function their campaigns mutate, no
survivor; the row-major example's four functions in one command, ``--mutate`` repeated),
the others once each with one example per mutant."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gcverify.cli import cli
from gcverify.loading import load_module
from gcverify.mutation.engine import mutate_function
from tests.test_examples_cli import EXAMPLES, command_lines

# Few examples per mutant keep the runs short; every mutant here is killed on the first.
SMALL = ["--examples", "1", "--jobs", "2", "--no-progress"]


def mutate(argv: list[str], output: Path) -> dict[str, Any]:
    """Run a ``gcverify mutate`` command line (click's runner, in this process; each
    mutant still runs in a child) and return its report.json, with the exit code and
    what it printed."""
    result = CliRunner().invoke(cli, [*argv, *SMALL, "--output", str(output)],
                                catch_exceptions=False)
    report = json.loads((output / "report.json").read_text())
    return {**report, "exit_code": result.exit_code, "stdout": result.stdout}


@pytest.fixture(scope="module")
def row_major_and_class_based(tmp_path_factory) -> dict[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("campaigns")
    return {f"{name}-{index}": mutate(argv, folder / f"{name}-{index}")
            for name in ("row_major", "class_based")
            for index, argv in enumerate(command_lines(name, "mutate"))}


def test_row_major_and_class_based_have_no_survivor(row_major_and_class_based):
    functions = {report["target"]["label"] for report in row_major_and_class_based.values()}
    assert functions == {"row_major.py::loss, affine_backward, relu_backward, softmax_loss",
                         "class_based.py::TwoLayerNet.loss"}
    for report in row_major_and_class_based.values():
        assert report["exit_code"] == 0, report["stdout"]
        assert report["summary"]["survived"] == 0 and "Survivors: none." in report["stdout"]


def test_one_command_makes_at_least_30_mutants_over_8_families(row_major_and_class_based):
    assert {label.split("-")[0] for label in row_major_and_class_based} == \
        {"row_major", "class_based"}
    for report in row_major_and_class_based.values():
        mutants = report["mutants"]
        assert len(mutants) >= 30 and len({m["family"] for m in mutants}) >= 8


def test_repeated_mutate_makes_every_mutant_of_each_function(row_major_and_class_based):
    """The four-function campaign runs exactly the mutants of the four functions, each
    mutated alone (the ids cover the function's name), and each in its own lines."""
    report = row_major_and_class_based["row_major-0"]
    names = ("loss", "affine_backward", "relu_backward", "softmax_loss")
    assert report["target"]["function"] == ", ".join(names)
    module = load_module(EXAMPLES / "row_major.py")
    alone = {name: {m.id for m in mutate_function(getattr(module, name))} for name in names}
    assert {m["id"] for m in report["mutants"]} == set().union(*alone.values())
    for mutant in report["mutants"]:
        function = getattr(module, next(n for n in names if mutant["id"] in alone[n]))
        lines, first = inspect.getsourcelines(function)
        assert first <= mutant["line"] < first + len(lines)


def test_the_mutants_are_checked_through_the_functions_that_call_them(
        row_major_and_class_based):
    report = row_major_and_class_based["row_major-0"]
    assert report["target"]["forward"] == "loss (loss-and-grads)"
    assert report["target"]["examples"].startswith("random 4-5-3 networks (m in 2..6, "
                                                   "examples in rows")
    doubled = next(m for m in report["mutants"] if m["description"] == "dw × 2")
    assert doubled["outcome"] == "killed"
    assert "W1 ≈ 2.000 × numerical (scaling bug)" in doubled["killing_example"]["diagnosis"]
    # Shrunk along the rows (one example is enough): the features are kept.
    killing = doubled["killing_example"]
    assert len(killing["X"]) == len(killing["columns"]) == 1 < killing["batch_size"]
    assert len(killing["X"][0]) == 4 and len(killing["Y"]) == 1


def test_a_square_weight_makes_a_transposed_gradient_a_check_kill(row_major_and_class_based):
    reports = [r for r in row_major_and_class_based.values()
               if r["target"]["label"] == "class_based.py::TwoLayerNet.loss"]
    outcomes = {r["target"]["forward"]: {m["description"]: m["outcome"] for m in r["mutants"]
                                         if m["operator"] == "transpose_weight_gradient"}
                for r in reports}
    assert outcomes == {
        "net.loss of TwoLayerNet(4, 5, 3) (model)": {'grads["W2"] transposed': "killed_by_error",
                                                     'grads["W1"] transposed': "killed_by_error"},
        "net.loss of TwoLayerNet(4, 4, 3) (model)": {'grads["W2"] transposed': "killed_by_error",
                                                     'grads["W1"] transposed': "killed"}}


OTHERS = [(name, argv) for name in ("notebook_style", "loss_and_grads", "l_layer")
          for argv in command_lines(name, "mutate")]


@pytest.mark.parametrize(("name", "argv"), OTHERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(OTHERS)])
def test_the_other_examples_mutate_command_lines(tmp_path, name, argv):
    report = mutate(argv, tmp_path / "out")
    assert report["exit_code"] == 0, report["stdout"]
    assert report["summary"]["survived"] == 0 and report["summary"]["total"] >= 10
