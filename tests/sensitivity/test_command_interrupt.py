"""Ctrl-C on ``gcverify sensitivity``: a real SIGINT to the command's process group (as a
terminal sends it), once its progress shows finished tasks; it exits 130 and writes the
four files with what finished, marked as interrupted. The signal waits for a progress
line, never for a guessed delay."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import jsonschema

from gcverify.sensitivity import PRESETS, STUDY_FILES, load_schema
from tests.faults.processes import ROOT, read_line_within

# Generous: the first tasks finish within seconds, but the machine may be shared.
FIRST_PROGRESS_SECONDS = 120


def test_ctrl_c_exits_130_and_keeps_what_finished(tmp_path):
    output = tmp_path / "study"
    process = subprocess.Popen(
        [sys.executable, "-m", "gcverify", "sensitivity", "--preset", "quick", "--seed", "3",
         "--output", str(output), "--progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)})
    try:
        line = read_line_within(process.stderr, FIRST_PROGRESS_SECONDS, "tasks ")
        shown = int(line.split()[1].split("/")[0])          # "tasks 2/2120 [...]"
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert sorted(p.name for p in output.iterdir()) == sorted(STUDY_FILES)
    document = json.loads((output / "sensitivity.json").read_text())
    jsonschema.validate(document, load_schema())
    assert document["interrupted"] is True and document["lost"] is None
    # What finished is kept: at least the tasks the progress line counted, not all.
    quick = PRESETS["quick"]
    total = quick.step_networks + quick.boundary_networks + quick.mutant_examples
    # correct_cases counts one correct backprop per boundary network and per example.
    kept = document["steps"]["networks"] + document["roc"]["correct_cases"]
    assert 1 <= shown <= kept < total
    assert "**Interrupted.**" in (output / "sensitivity.md").read_text()
    assert "Interrupted. The figures cover the tasks that finished." in stdout
