"""The examples from the command line: each example's docstring gives its ``gcverify
check`` command lines, and each passes as written; the conventions' options, and the
one-line usage errors of options that do not go together."""

from __future__ import annotations

import ast
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gcverify.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NAMES = ("notebook_style", "l_layer", "loss_and_grads", "class_based", "row_major")


def command_lines(name: str, command: str) -> list[list[str]]:
    """The ``gcverify <command>`` lines of an example's docstring (read, not run), with
    their continuation lines joined and their paths made absolute."""
    text = ast.get_docstring(ast.parse((EXAMPLES / f"{name}.py").read_text())) or ""
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [shlex.split(line.strip()) for line in joined.splitlines()
             if line.strip().startswith(f"gcverify {command} ")]
    return [[str(ROOT / word) if word.startswith("examples/") else word for word in line[1:]]
            for line in lines]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


CHECKS = [(name, line) for name in NAMES for line in command_lines(name, "check")]


def test_every_example_documents_check_and_mutate_command_lines():
    assert {name for name, _ in CHECKS} == set(NAMES)
    assert all(command_lines(name, "mutate") for name in NAMES)


@pytest.mark.parametrize(("name", "argv"), CHECKS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(CHECKS)])
def test_each_documented_check_command_line_passes(capsys, name, argv):
    code, out, err = run(capsys, *argv)
    assert (code, out.splitlines()[0]) == (0, "Gradient check: PASS"), out + err


def test_the_l_layer_command_line_of_the_issue_as_a_real_process():
    done = subprocess.run(
        [sys.executable, "-m", "gcverify", "check", "examples/l_layer.py", "--convention",
         "l-layer", "--forward", "L_model_forward", "--cost", "compute_cost", "--backward",
         "L_model_backward", "--layers", "5,4,3,1"],
        cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Gradient check: PASS")
    assert {"dW1", "db1", "dW3", "db3"} <= set(done.stdout.split())


@pytest.fixture
def copied(tmp_path):
    """An example copied to a folder of its own, to plant a bug in."""
    def copy(name: str, old: str = "", new: str = "") -> Path:
        path = tmp_path / f"{name}.py"
        text = (EXAMPLES / f"{name}.py").read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
        return path
    return copy


@pytest.mark.parametrize(("name", "old", "new", "argv", "diagnosis"), [
    ("class_based", 'grads["W2"] = hidden.T.dot(dscores) + reg * W2',
     'grads["W2"] = hidden.T.dot(dscores) + 2 * reg * W2',
     ["--convention", "model", "--model", "TwoLayerNet(4, 5, 3)", "--case", "make_data"],
     "W2 does not match numerical"),
    ("row_major", "return dout * (cache > 0)", "return dout * (cache < 0)",
     ["--convention", "loss-and-grads", "--layout", "rows", "--forward", "loss", "--layers",
      "4,5,3"], "W1"),
    ("l_layer", "dA = dA * mask / keep_prob", "dA = dA * mask",
     ["--convention", "l-layer", "--forward", "L_model_forward", "--cost", "compute_cost",
      "--backward", "L_model_backward", "--layers", "5,4,3,1", "--keep-prob", "0.8"], "dW1"),
    ("loss_and_grads", 'grads["b1"] = np.sum(dhidden, axis=0)',
     'grads["b1"] = -np.sum(dhidden, axis=0)',
     ["--convention", "loss-and-grads", "--forward", "make_loss", "--case", "make_case"],
     "b1 ≈ -1.000 × numerical (sign bug)"),
])
def test_a_planted_bug_fails_through_each_convention(capsys, copied, name, old, new, argv,
                                                     diagnosis):
    code, out, _ = run(capsys, "check", copied(name, old, new), *argv)
    assert code == 1 and out.splitlines()[0] == "Gradient check: FAIL"
    assert diagnosis in out


# --- a file as python FILE.py runs it: its folder on the import path ------------------------

LAYERS = '''
import numpy as np

def affine_backward(dout, x, w):
    return dout.dot(w.T), x.T.dot(dout), np.sum(dout, axis=0)
'''

NET = '''
import numpy as np
from my_layers import affine_backward

def loss(X, y, params):
    scores = X.dot(params["W"]) + params["b"]
    diff = scores - y
    _, dW, db = affine_backward(diff / len(X), X, params["W"])
    return 0.5 * np.sum(diff ** 2) / len(X), {"W": dW, "b": db}

def case():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((5, 3)), rng.standard_normal((5, 2)),
            {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)})
'''


@pytest.fixture
def beside(tmp_path):
    """net.py importing my_layers.py beside it; my_layers forgotten afterwards (the checks
    run in children of this process, which would inherit it)."""
    (tmp_path / "my_layers.py").write_text(LAYERS)
    (tmp_path / "net.py").write_text(NET)
    yield tmp_path
    sys.modules.pop("my_layers", None)


def test_a_file_importing_a_module_beside_it_is_checked_and_its_folder_left_alone(
        capsys, beside):
    tmp_path = beside
    code, out, err = run(capsys, "check", tmp_path / "net.py", "--convention",
                         "loss-and-grads", "--forward", "loss", "--case", "case")
    assert code == 0, out + err
    assert out.startswith("Gradient check: PASS")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_layers.py", "net.py"]  # no cache
    assert str(tmp_path) not in sys.path


def test_a_file_importing_a_module_beside_it_is_mutated(capsys, beside):
    tmp_path = beside
    code, out, err = run(capsys, "mutate", tmp_path / "net.py", "--convention",
                         "loss-and-grads", "--forward", "loss", "--case", "case",
                         "--examples", "1", "--output", tmp_path / "out", "--no-progress")
    assert code == 0, out + err
    assert "Survivors: none." in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_layers.py", "net.py", "out"]


# --- bound methods: --model builds net -----------------------------------------------------

METHODS = '''
import numpy as np

class Regression:
    """A model whose forward and backward are methods, in the notebook's convention."""
    def __init__(self, features=3):
        self.features = features

    def forward(self, X, Y, parameters):
        residual = parameters["W"] @ X + parameters["b"] - Y
        return 0.5 * float(np.mean(residual ** 2)), (X, residual)

    def backward(self, X, Y, cache):
        X, residual = cache
        m = residual.size
        return {"dW": residual @ X.T / m, "db": residual.sum(axis=1, keepdims=True) / m}

def make_model():
    return Regression()

def case():
    rng = np.random.default_rng(1)
    return (rng.standard_normal((3, 4)), rng.standard_normal((1, 4)),
            {"W": rng.standard_normal((1, 3)), "b": np.zeros((1, 1))})
'''


@pytest.mark.parametrize("model", ["Regression(3)", "Regression(features=3)", "Regression",
                                   "make_model"])
def test_bound_methods_after_model(capsys, tmp_path, model):
    path = tmp_path / "methods.py"
    path.write_text(METHODS)
    code, out, err = run(capsys, "check", path, "--model", model, "--forward", "net.forward",
                         "--backward", "net.backward", "--case", "case")
    assert code == 0 and out.startswith("Gradient check: PASS"), out + err


# --- options that do not go together: one line, exit 2 ---------------------------------------

L_LAYER = ["--convention", "l-layer", "--forward", "L_model_forward", "--cost", "compute_cost",
           "--backward", "L_model_backward"]

USAGE_ERRORS = [
    ("l_layer", ["--convention", "l-layer", "--forward", "L_model_forward", "--backward",
                 "L_model_backward", "--layers", "5,4,3,1"],
     "FILE='{file}' needs --cost NAME with --convention l-layer; name the functions to "
     "check, e.g. --forward L_model_forward --cost compute_cost --backward L_model_backward"),
    ("notebook_style", ["--forward", "forward_propagation", "--backward",
                        "backward_propagation", "--cost", "c", "--case", "make_case"],
     "--cost has no use with --convention notebook; drop it, or choose the convention that "
     "takes it"),
    ("notebook_style", ["--forward", "forward_propagation", "--backward",
                        "backward_propagation", "--keep-prob", "0.5", "--case", "make_case"],
     "--keep-prob has no use with --convention notebook"),
    ("row_major", ["--convention", "loss-and-grads", "--forward", "loss", "--backward", "b",
                   "--layers", "4,5,3", "--layout", "rows"],
     "--backward has no use with --convention loss-and-grads"),
    ("class_based", ["--convention", "model", "--case", "make_data"],
     "FILE='{file}' needs --model EXPR with --convention model; name the functions to "
     'check, e.g. --model "TwoLayerNet(4, 5, 3)"'),
    ("class_based", ["--convention", "model", "--model", "TwoLayerNet(4, 5", "--case",
                     "make_data"],
     "--model='TwoLayerNet(4, 5' is not NAME or NAME(arguments) with literal arguments; "
     "pass e.g. --model 'TwoLayerNet(4, 5, 3)'"),
    ("class_based", ["--convention", "model", "--model", "TwoLayerNet(4, 5, 3)", "--layers",
                     "4,6,3", "--layout", "rows"],
     "--layers=(4, 6, 3) gives W1 (4, 6), b1 (6,), W2 (6, 3), b2 (3,), but the model has "
     "W1 (4, 5), b1 (5,), W2 (5, 3), b2 (3,); pass the model's widths"),
    ("class_based", ["--convention", "model", "--model", "TwoLayerNet(4, 5, 3)",
                     "--forward", "net.los", "--case", "make_data"],
     "--forward='net.los' is not in {file}: net has no attribute los"),
    ("l_layer", [*L_LAYER, "--cost", "compute_cst", "--layers", "5,4,3,1"],
     "--cost='compute_cst' is not a function defined in {file}; use one of"),
    ("l_layer", [*L_LAYER, "--layers", "5,4,3,1", "--layout", "diagonal"],
     "Invalid value for '--layout': 'diagonal' is not one of 'columns', 'rows'"),
]


@pytest.mark.parametrize(("name", "argv", "message"), USAGE_ERRORS,
                         ids=[f"{i}-{n}" for i, (n, _, _) in enumerate(USAGE_ERRORS)])
def test_options_that_do_not_go_together_are_one_line_usage_errors(capsys, name, argv,
                                                                    message):
    file = str(EXAMPLES / f"{name}.py")
    code, out, err = run(capsys, "check", file, *argv)
    assert code == 2, out + err
    assert "Traceback" not in out + err
    assert message.replace("{file}", file) in err.strip().splitlines()[-1]


def test_the_convention_options_are_in_the_help(capsys):
    code, out, _ = run(capsys, "check", "--help")
    assert code == 0
    for option in ("--convention [notebook|l-layer|loss-and-grads|model]", "--cost NAME",
                   "--model EXPR", "--lambd L", "--keep-prob P", "--layout [columns|rows]"):
        assert option in out, option
    code, out, _ = run(capsys, "mutate", "--help")
    assert "--mutate NAME" in out and "--convention" in out


def test_a_mutate_usage_error_names_the_flag(capsys, tmp_path):
    shutil.copy(EXAMPLES / "row_major.py", tmp_path / "row_major.py")
    code, _, err = run(capsys, "mutate", tmp_path / "row_major.py", "--convention",
                       "loss-and-grads", "--forward", "loss", "--layers", "4,5,3", "--layout",
                       "rows", "--mutate", "np", "--output", tmp_path / "out")
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(
        "gcverify: error: --mutate='np' is a module, not a function")
