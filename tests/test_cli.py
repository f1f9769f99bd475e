"""The command line: output a person can read at a glance, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gcverify import __version__
from gcverify.cli import main


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
    assert "0.285093156776162" in buggy and "FAIL" in buggy
    assert "1.18909130" in correct and "e-07" in correct and "PASS" in correct
    assert "7.814075313343006e-11" in out
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
