"""``gcverify mutate`` through click's runner, and Ctrl-C through a real signal."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from gcverify.cli import cli, main
from gcverify.mutation import mutate, notebook_target
from gcverify.report import render_json
from tests.mutation.campaigns import TINY_FILE, default_campaign


@pytest.fixture
def tiny_file(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    path = folder / "tiny.py"
    shutil.copy(TINY_FILE, path)
    return path


def invoke(*argv):
    return CliRunner().invoke(cli, ["mutate", *map(str, argv)], catch_exceptions=False)


def test_help():
    result = invoke("--help")
    assert result.exit_code == 0
    for option in ("--forward", "--backward", "--case", "--layers", "--examples", "--seed",
                   "--output", "--jobs"):
        assert option in result.output


def test_a_file_target_with_a_case(tiny_file, tmp_path):
    before = sorted(tiny_file.parent.iterdir()), tiny_file.read_bytes()
    out = tmp_path / "reports"
    result = invoke(tiny_file, "--forward", "forward", "--backward", "backward", "--case",
                    "case", "--examples", 3, "--jobs", 2, "--output", out)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (f"Mutation testing backward ({tiny_file}, line 22), checked against "
                        "forward")
    assert lines[3].startswith("score 100.0 %: ")
    assert "Survivors: none." in lines
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "report.md",
                                                      "report.xml"]
    assert (sorted(tiny_file.parent.iterdir()), tiny_file.read_bytes()) == before
    document = json.loads((out / "report.json").read_text())
    assert document["target"]["function"] == "backward"
    assert document["settings"]["examples"] == 3


def test_a_file_target_with_layers(tiny_file, tmp_path):
    result = invoke(tiny_file, "--forward", "forward", "--backward", "backward", "--layers",
                    "3,4,1", "--batch", 3, "--examples", 2, "--output", tmp_path / "out")
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "out" / "report.json").read_text())
    assert document["target"]["examples"].startswith("random 3-4-1 networks (m=3")


def test_a_survivor_exits_1_and_fails_in_junit(tiny_file, tmp_path):
    # A 1e-12 term in db2 that the check cannot see: flipping its sign survives.
    tiny_file.write_text(tiny_file.read_text().replace(
        "db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)",
        "db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True) - 1e-12 * np.tanh(b2)"))
    result = invoke(tiny_file, "--forward", "forward", "--backward", "backward", "--case",
                    "case", "--examples", 2, "--output", tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "Survivors (1):" in result.stdout
    assert "minus_to_plus-L" in result.stdout
    suites = ET.parse(tmp_path / "out" / "report.xml").getroot()
    assert suites.get("failures") == "1"


@pytest.mark.slow
def test_the_default_target_is_the_librarys_default_campaign(tmp_path):
    # A full campaign (142 mutants × 12 examples): the suite's other tests share the
    # library's run (tests.mutation.campaigns.default_campaign); this one adds the CLI's.
    result = invoke("--jobs", 2, "--output", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Mutation testing backward_propagation_n "
                                    "(gcverify/models/notebook.py, line ")
    document = json.loads((tmp_path / "out" / "report.json").read_text())
    assert document["summary"]["survived"] == 0 and document["summary"]["total"] >= 40
    del document["timing"]
    expected = json.loads(render_json(default_campaign()))
    del expected["timing"]
    assert document == expected


@pytest.mark.parametrize(("argv", "message"), [
    (["missing.py", "--forward", "f", "--backward", "b", "--case", "c"],
     "gcverify: error: FILE='missing.py' does not exist or is not a file; pass the path"),
    (["{file}", "--forward", "forward", "--case", "case"],
     "gcverify: error: FILE='/"),
    (["{file}", "--forward", "forward", "--backward", "backprop", "--case", "case"],
     "gcverify: error: --backward='backprop' is not a function defined in {file}; use one of "
     "backward, case, forward"),
    (["{file}", "--forward", "forward", "--backward", "backward"],
     "gcverify: error: --case and --layers are both missing; pass exactly one"),
    (["{file}", "--forward", "forward", "--backward", "backward", "--layers", "3,x"],
     "gcverify: error: --layers='3,x' is not a list of at least two positive widths"),
    (["{file}", "--forward", "forward", "--backward", "backward", "--case", "case",
      "--batch", "3"],
     "gcverify: error: --batch=3 only applies with --layers"),
    (["--backward", "backward"], "gcverify: error: FILE is missing but --backward name"),
    (["--threshold", "0"], "gcverify: error: --threshold=0.0 is not a positive finite number"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(tiny_file, argv, message):
    argv = [arg.format(file=tiny_file) for arg in argv]
    result = invoke(*argv)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(message.format(file=tiny_file))
    if "--backward" not in argv and "--forward" in argv:
        assert " needs --backward NAME; name the functions to check" in result.stderr


def test_click_usage_errors_exit_2(capsys):
    assert main(["mutate", "--examples", "0"]) == 2
    assert "Invalid value for '--examples'" in capsys.readouterr().err


def test_a_function_named_twice_is_a_usage_error_that_writes_nothing(tmp_path, capsys):
    output = tmp_path / "reports"
    example = Path(__file__).resolve().parents[2] / "examples" / "row_major.py"
    assert main(["mutate", str(example), "--mutate", "loss", "--mutate",
                 "affine_backward", "--mutate", "loss", "--output", str(output)]) == 2
    error = capsys.readouterr().err
    assert "Invalid value for '--mutate': loss given twice; repeat --mutate with distinct " \
           "names, e.g. --mutate loss --mutate affine_backward" in error
    assert not output.exists()


def read_line_within(stream, seconds: float, starting: str) -> str:
    """The first line of a child's pipe starting with ``starting`` (the phases come
    before the progress), or a test failure after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([stream], [], [], left)
        line = stream.readline() if ready else ""
        if line.startswith(starting) or not line:
            break
    if not line.startswith(starting):
        pytest.fail(f"no line starting with {starting!r} within {seconds} s")
    return line


def test_ctrl_c_writes_a_partial_report(tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "gcverify", "mutate", "--progress", "--jobs", "1",
         "--output", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        first = read_line_within(process.stderr, 120, "mutants ")  # the first is done
        assert first.startswith("mutants "), first
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130, stdout
    assert "Interrupted. " in stdout
    # What finished is in every report; what did not is listed, and nothing is counted twice.
    document = json.loads((out / "report.json").read_text())
    finished, not_run = document["summary"]["total"], document["not_run"]
    assert document["interrupted"] is True and finished >= 1 and not_run
    assert finished == len(document["mutants"])
    ids = [m["id"] for m in document["mutants"]] + not_run
    every = len(mutate(notebook_target().source))
    assert len(ids) == len(set(ids)) == every    # every mutant of the default target, once
    markdown = (out / "report.md").read_text()
    assert "**Interrupted.**" in markdown and "> [!WARNING]" in markdown
    assert f"Interrupted after {finished} of {every} mutants: score so far " in markdown
    suites = ET.parse(out / "report.xml").getroot()
    assert int(suites.get("tests")) == every and int(suites.get("skipped")) >= len(not_run)
