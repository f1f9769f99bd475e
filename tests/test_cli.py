"""The command line: output a person can read at a glance, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from gcverify import __version__
from gcverify.cli import main
from gcverify.replay import reproduces


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_notebook_prints_both_differences_with_verdicts(capsys):
    code, out, _ = run(capsys, "notebook")
    assert code == 0
    lines = out.splitlines()
    buggy = next(line for line in lines if "backward_propagation_n_buggy" in line)
    correct = next(line for line in lines if line.strip().startswith("N-D  backward_propagation_n ")
                   )
    # The differences' BLAS-independent digits (gcverify.replay.REPRODUCIBLE_DIGITS).
    assert reproduces("buggy", float(buggy.split()[2])) and "FAIL" in buggy
    assert reproduces("correct", float(correct.split()[2])) and "PASS" in correct
    assert "7.814075313343006e-11" in out            # plain Python floats: no BLAS
    assert "Reproduced" in out


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"gcverify, version {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["notebook", "--help"], ["-h"]])
def test_help_everywhere(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0 and out.startswith("Usage: gcverify")


@pytest.mark.parametrize("argv", [["nope"], ["notebook", "--bogus"]])
def test_usage_errors_exit_2_without_traceback(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in out + err
    assert "Error:" in err


def test_python_dash_m_works():
    done = subprocess.run([sys.executable, "-m", "gcverify", "--version"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and __version__ in done.stdout


# --- gcverify notebook shows both verdicts ---------------------------------------------

def test_notebook_shows_gcverify_verdict_beside_the_notebooks(capsys):
    code, out, _ = run(capsys, "notebook")
    header = next(line for line in out.splitlines() if "difference" in line and "check" in line)
    assert header.split() == ["check", "difference", "notebook", "gcverify", "expected"]
    buggy = next(line for line in out.splitlines() if "_buggy " in line and "FAIL" in line)
    assert buggy.split()[-3:] == ["FAIL", "FAIL", "FAIL"]
    assert "dW2 ≈ 2.000 × numerical (scaling bug)" in out


# --- gcverify check ------------------------------------------------------------------------

USER_FILE = '''
import numpy as np
from gcverify.models import notebook as nb
from gcverify import MLP

def forward(X, Y, parameters):
    return nb.forward_propagation_n(X, Y, parameters)

def backward(X, Y, cache):
    return nb.backward_propagation_n(X, Y, cache)

def buggy(X, Y, cache):
    return nb.backward_propagation_n_buggy(X, Y, cache)

def case():
    return nb.gradient_check_n_test_case()

_kinks = MLP((1, 1, 2, 1), ("linear", "relu"), "stable")

def kink_forward(X, Y, p):
    return _kinks.forward(X, Y, p)

def kink_backward(X, Y, cache):
    return _kinks.backward(X, Y, cache)

def kink_case():
    X = np.array([[2.0, -1.0, 3.0]])
    Y = np.array([1, 0, 1])
    p = {"W1": np.array([[1.5]]), "b1": np.array([[-3.0]]),
         "W2": np.array([[1.0], [-1.0]]), "b2": np.zeros((2, 1)),
         "W3": np.array([[1.0, -1.0]]), "b3": np.array([[0.2]])}
    return X, Y, p

def not_a_case():
    return 3
'''


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "mynet.py"
    path.write_text(USER_FILE)
    return path


def test_check_passes_the_correct_backprop(capsys, user_file):
    code, out, _ = run(capsys, "check", str(user_file), "--forward", "forward",
                       "--backward", "backward", "--case", "case")
    assert code == 0
    assert out.splitlines()[0] == "Gradient check: PASS"
    assert "Blocks:" in out and "W1" in out
    assert sorted(p.name for p in user_file.parent.iterdir()) == ["mynet.py"]  # nothing written


def test_check_fails_the_buggy_backprop_with_the_table(capsys, user_file):
    code, out, _ = run(capsys, "check", str(user_file), "--forward", "forward",
                       "--backward", "buggy", "--case", "case")
    assert code == 1
    assert "Mismatched blocks: 2 / 6" in out
    assert "dW2 ≈ 2.000 × numerical (scaling bug)" in out


def test_check_inconclusive_exits_3(capsys, user_file):
    code, out, _ = run(capsys, "check", str(user_file), "--forward", "kink_forward",
                       "--backward", "kink_backward", "--case", "kink_case")
    assert code == 3
    assert out.splitlines()[0] == "Gradient check: INCONCLUSIVE"


def test_check_with_generated_layers_and_json(capsys, user_file):
    code, out, _ = run(capsys, "check", str(user_file), "--forward", "forward",
                       "--backward", "backward", "--layers", "4,5,3,1", "--batch", "3",
                       "--seed", "5", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["verdict"] == "pass" and set(data["blocks"]) == {"W1", "b1", "W2", "b2",
                                                                "W3", "b3"}
    assert data["blocks"]["W2"]["verdict"] == "pass"


@pytest.mark.parametrize(("argv", "message"), [
    (["check", "missing.py", "--forward", "f", "--backward", "b", "--case", "c"],
     "gcverify: error: FILE='missing.py' does not exist or is not a file; "
     "pass the path of the .py file that defines your functions"),
    (["check", "{file}", "--forward", "nope", "--backward", "backward", "--case", "case"],
     "gcverify: error: --forward='nope' is not a function defined in {file}; use one of "),
    (["check", "{file}", "--forward", "forward", "--backward", "backward", "--case",
      "not_a_case"],
     "gcverify: error: --case='not_a_case' does not return (X, Y, parameters); "
     "return the three, as gradient_check_n_test_case does"),
    (["check", "{file}", "--forward", "forward", "--backward", "backward", "--layers", "4,x"],
     "gcverify: error: --layers='4,x' is not a list of at least two positive widths; "
     "pass e.g. --layers 4,5,3,1"),
    (["check", "{file}", "--forward", "forward", "--backward", "backward"],
     "gcverify: error: --case and --layers are both missing; pass exactly one: --case NAME"),
    (["check", "{file}", "--forward", "forward", "--backward", "backward", "--case", "case",
      "--threshold", "-1"],
     "gcverify: error: --threshold=-1.0 is not a positive finite number; pass e.g. "
     "--threshold 2e-7, the notebook's"),
])
def test_check_usage_errors_are_one_line(capsys, user_file, argv, message):
    argv = [a.replace("{file}", str(user_file)) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in out + err
    last = err.strip().splitlines()[-1]
    assert last.startswith(message.replace("{file}", str(user_file)))


# --- gcverify run and gcverify mutate ---------------------------------------------------------

def test_run_is_the_main_job_with_a_summary_table(capsys, tmp_path):
    code, out, _ = run(capsys, "run", "--networks", "10", "--examples", "1", "--jobs", "2",
                       "--output", str(tmp_path), "--no-progress")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "gcverify run: the main job on the built-in default"
    steps = [line.split()[0] for line in lines
             if line.strip().startswith(("notebook", "property", "mutation", "sensitivity"))]
    assert steps == ["notebook", "property", "mutation", "sensitivity"]
    assert re.search(r"reproduced: buggy 0\.2850931567\d* FAIL", out)
    assert "10 networks" in out and "no FAIL" in out
    assert "score 100.0 %" in out
    assert "gcverify: 0 false alarms of " in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json",
                                                          "report.md", "report.xml",
                                                          "sensitivity"]
    assert sorted(p.name for p in (tmp_path / "sensitivity").iterdir()) == [
        "sensitivity.csv", "sensitivity.html", "sensitivity.json", "sensitivity.md"]


def test_mutate_is_registered(capsys):
    code, out, _ = run(capsys, "mutate", "--help")
    assert code == 0 and out.startswith("Usage: gcverify mutate [OPTIONS] [FILE]")
    code, out, _ = run(capsys, "--help")
    commands = {line.split()[0] for line in out.split("Commands:")[1].splitlines()
                if line.strip()}
    assert {"check", "mutate", "notebook", "run"} <= commands


HYPOTHESIS_CONTROL = """
from hypothesis import given, settings
from gcverify.strategies import networks
@settings(max_examples=3, database=None)
@given(networks(max_depth=1))
def draw(network):
    pass
draw()
"""


def run_in(folder, *argv):
    folder.mkdir()
    done = subprocess.run([sys.executable, *argv], cwd=folder, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return sorted(p.name for p in folder.iterdir())


def skip_unless_hypothesis_writes_without_a_database(tmp_path):
    # Hypothesis caches the constants of the code it sees in ./.hypothesis even without
    # a database; a version that does not has nothing to avoid. A process of its own:
    # the cache is written once per process.
    if run_in(tmp_path / "control", "-c", HYPOTHESIS_CONTROL) != [".hypothesis"]:
        pytest.skip("this Hypothesis version writes no .hypothesis without a database")


def test_the_sweep_leaves_no_hypothesis_folder_in_the_working_directory(tmp_path):
    skip_unless_hypothesis_writes_without_a_database(tmp_path)
    code = "from gcverify.sweep import sweep_correct_backprop\nsweep_correct_backprop(3)\n"
    assert run_in(tmp_path / "sweep", "-c", code) == []


@pytest.mark.slow
def test_run_leaves_no_hypothesis_folder_in_the_working_directory(tmp_path):
    skip_unless_hypothesis_writes_without_a_database(tmp_path)
    assert run_in(tmp_path / "job", "-m", "gcverify", "run", "--networks", "3", "--examples",
                  "1", "--jobs", "2", "--output", "out", "--no-progress") == ["out"]


@pytest.mark.parametrize(("stopped", "lost", "code", "says"), [
    (True, "the Dask scheduler went away", 130, ""),     # Ctrl-C comes first
    (False, "the Dask scheduler went away", 4,
     "gcverify: error: the Dask scheduler went away; the reports cover what finished\n"),
    (False, None, 1, ""),
])
def test_mutate_and_sensitivity_end_the_same_way(stopped, lost, code, says, capsys):
    from gcverify.cli.exit_codes import ExitCode
    from gcverify.cli.scaling import exit_after_run

    with pytest.raises(SystemExit) as stop:
        exit_after_run(stopped, lost, ExitCode.FAILED)
    assert stop.value.code == code and capsys.readouterr().err == says
