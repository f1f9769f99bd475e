"""``gcverify mutate FILE`` (and ``gcverify run``) on user code that misbehaves, on an
unwritable ``--output``, and under Ctrl-C at every phase.

Each row plants one fault in a small network and runs ``gcverify mutate`` as a real
process: at import (a probe child imports FILE first), in the baseline (the original
backward on every example, in a child with the time and memory limits), or in one
mutant; it must get its outcome, leave the user's project byte for byte as it was, and
write nothing but the reports (none when exit 2 or 4). Ctrl-C is a real SIGINT, sent
when the user's code says it is running (a file it writes) or when a line of progress
appears, never after a guessed delay.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from gcverify.mutation import Outcome, mutate, notebook_target, run_campaign
from tests.faults.processes import (
    ALLOCATE,
    ARGPARSE_OPTIONAL,
    ARGPARSE_REQUIRED,
    FILE,
    HANG,
    OS_EXIT,
    PRINT,
    RAISE,
    SEGFAULT,
    SYS_EXIT,
    Fault,
    Launched,
    gcverify,
    make_project,
    network,
    read_line_within,
    running_as_root,
    snapshot,
    wait_for_file,
)
from tests.mutation.campaigns import tiny_target, with_line

TARGET = ("--forward", "forward", "--backward", "backward", "--case", "case")
ARGS = (*TARGET, "--examples", "2", "--jobs", "2", "--output", "out")
ERROR = "gcverify: error: the code under test "
IMPORTED = "open('imported-by-gcverify', 'w').close()"  # proves FILE was (not) imported

CASES = [
    # At import: the probe child finds it, before this process imports anything.
    Fault("sys-exit-at-import", network(at_import=SYS_EXIT), ARGS, 4,
          ERROR + "called sys.exit(0) at {file}:{line}"),
    Fault("os-exit-at-import", network(at_import=OS_EXIT), ARGS, 4,
          ERROR + "exited with code 3 at {file}:{line}"),
    Fault("exception-at-import", network(at_import=RAISE), ARGS, 4,
          ERROR + "raised ValueError: boom at {file}:{line}"),
    Fault("argparse-with-a-required-argument", network(at_import=ARGPARSE_REQUIRED), ARGS, 4,
          ERROR + "called sys.exit(2) at {file}:{line}"),
    Fault("import-that-loops-forever", network(at_import=HANG), (*ARGS, "--time-limit", "3"),
          4, ERROR + "hung (still running after 3 s) at {file}:{line}"),
    # In the baseline: the original backward on every example, in a limited child.
    Fault("exception-in-forward", network(in_forward=RAISE), ARGS, 4,
          ERROR + "raised ValueError: boom at {file}:{line}"),
    Fault("sys-exit-in-backward", network(in_backward=SYS_EXIT), ARGS, 4,
          ERROR + "called sys.exit(0) at {file}:{line}"),
    Fault("os-exit-in-backward", network(in_backward=OS_EXIT), ARGS, 4,
          ERROR + "exited with code 3 at {file}:{line}"),
    Fault("baseline-that-loops-forever", network(in_forward=HANG),
          (*ARGS, "--time-limit", "3"), 4,
          ERROR + "hung (still running after 3 s) at {file}:{line}"),
    Fault("baseline-that-allocates-without-bound", network(in_forward=ALLOCATE),
          (*ARGS, "--memory-limit", "300M"), 4,
          ERROR + "ran out of memory (limit 300 MiB) at {file}:{line}"),
    Fault("segfault-in-backward", network(in_backward=SEGFAULT), ARGS, 4,
          ERROR + "was killed by SIGSEGV at {file}:{line}"),
    # --output that cannot be written: found before anything runs.
    Fault("output-is-a-file", network(at_import=IMPORTED), ARGS, 2,
          "Error: Invalid value for '--output': Directory 'out' is a file.",
          setup="output-is-a-file"),
    Fault("output-below-a-file", network(at_import=IMPORTED),
          (*TARGET, "--output", "taken/reports"), 2,
          "gcverify: error: --output='taken/reports' cannot be written (Not a directory); "
          "pass a folder you can write to, e.g. mutants/", setup="output-below-a-file"),
    *([] if running_as_root else [  # root writes anywhere
        Fault("output-read-only", network(at_import=IMPORTED),
              (*TARGET, "--output", "locked/reports"), 2,
              "gcverify: error: --output='locked/reports' cannot be written (Permission "
              "denied); pass a folder you can write to, e.g. mutants/",
              setup="output-read-only")]),
    # Campaigns that run to the end.
    Fault("user-code-that-prints-and-parses-its-own-argv",
          network(at_import=ARGPARSE_OPTIONAL, in_forward=PRINT),
          (*TARGET, "--examples", "1", "--output", "out"), 0,
          stdout="Mutation testing backward", absent=("USER-OUTPUT",)),
    # np.dot(dZ2, A1.T) -> np.dot(A1.T, dZ2) is a 4000 x 4000 outer product with one
    # hidden unit: 122 MiB, more than the 100 MiB each mutant may add.
    Fault("mutant-that-allocates-without-bound", network(),
          ("--forward", "forward", "--backward", "backward", "--layers", "3,1,1",
           "--batch", "4000", "--examples", "1", "--memory-limit", "100M", "--output", "out"),
          0, stdout="Mutation testing backward"),
]


# The table runs a few rows at a time: the slowest start first.
SLOWEST = ("mutant-that-allocates-without-bound", "user-code-that-prints-and-parses-its-own-argv",
           "import-that-loops-forever", "baseline-that-loops-forever")


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    runs = Launched("mutate")
    for fault in sorted(CASES, key=lambda fault: fault.id not in SLOWEST):
        runs.start(fault, tmp_path_factory.mktemp(fault.id))
    yield runs
    runs.stop()


@pytest.mark.parametrize("fault", CASES, ids=lambda fault: fault.id)
def test_each_fault_gets_its_outcome(launched, fault):
    run = launched.result(fault.id)
    assert run.code == fault.code, run.stderr
    if fault.line:
        assert fault.accepts(run.last_line), run.stderr
    if fault.code in (2, 4):
        assert run.stdout == "" and "Traceback" not in run.stderr
    if fault.stdout:
        assert run.stdout.startswith(fault.stdout)
    for text in fault.absent:
        assert text not in run.stdout + run.stderr
    # The user's file is byte for byte as it was, nothing was written next to it, and
    # only a campaign that ran wrote its reports.
    assert run.untouched
    written = {"output-is-a-file": ["out"], "output-below-a-file": ["taken"],
               "output-read-only": ["locked"]}.get(fault.id, ["out"] if fault.code == 0 else [])
    assert sorted(path.name for path in run.folder.iterdir()) == sorted(["project", *written])
    if fault.code == 0:
        reports = sorted(path.name for path in (run.folder / "out").iterdir())
        assert reports == ["report.html", "report.json", "report.md", "report.xml"]


def test_a_mutant_out_of_memory_is_killed_by_error_and_says_memory(launched):
    run = launched.result("mutant-that-allocates-without-bound")
    document = json.loads((run.folder / "out" / "report.json").read_text())
    (mutant,) = [m for m in document["mutants"] if m["operator"] == "swap_matrix_operands"
                 and "dW2" in m["description"]]
    assert mutant["outcome"] == "killed_by_error"
    assert mutant["evidence"] == ("ran out of memory (limit 100 MiB) on 1 of 1 examples; the "
                                  "check FAILs on none")
    assert document["timing"]["memory_limit_bytes"] == 100 * 2**20
    assert "ran out of memory (limit 100 MiB)" in (run.folder / "out" / "report.md").read_text()


def test_the_memory_limit_reaches_each_mutant_in_the_library_too():
    target = tiny_target()
    mutant = with_line(target, "dW1 = ", "chunks = []\nwhile True:\n"
                                         "    chunks.append(np.ones(10_000_000))")
    result = run_campaign(target, examples=2, mutants=[mutant], jobs=1,
                          memory_limit=300 * 2**20)
    (killed,) = result.results
    assert killed.outcome is Outcome.KILLED_BY_ERROR
    assert killed.error == "ran out of memory (limit 300 MiB)"


def test_unwritable_output_runs_nothing(launched):
    for fault_id in ("output-is-a-file", "output-below-a-file"):
        run = launched.result(fault_id)
        assert not (run.folder / "imported-by-gcverify").exists()


# --- Ctrl-C at every phase -------------------------------------------------------------

SIGNAL_ENV = "GCVERIFY_TEST_SIGNAL"
ANNOUNCE = "import os, time\nopen(os.environ['GCVERIFY_TEST_SIGNAL'], 'w').close()\n"


def interrupt(tmp_path, source, *argv, when):
    """Run ``gcverify mutate`` on ``source``, send SIGINT when ``when(process, marker)``
    returns, and return (exit code, stdout, the case folder, the project's snapshot)."""
    folder = tmp_path / "case"
    project = make_project(folder, source)
    before = snapshot(project)
    marker = tmp_path / "running"
    process = gcverify("mutate", FILE, *argv, cwd=folder, env={SIGNAL_ENV: str(marker)})
    try:
        when(process, marker)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert time.monotonic() - started < 30  # not the user's 60 s sleep
    assert snapshot(project) == before
    return process.returncode, stdout, folder


def reports(folder):
    out = folder / "out"
    document = json.loads((out / "report.json").read_text())
    return document, (out / "report.md").read_text(), (out / "report.html").read_text(), \
        ET.parse(out / "report.xml").getroot()


def when_the_file_says_so(process: subprocess.Popen, marker) -> None:
    wait_for_file(marker, 60)


def test_ctrl_c_during_the_import_exits_130_with_reports(tmp_path):
    source = network(at_import=ANNOUNCE + "time.sleep(60)")
    code, stdout, folder = interrupt(tmp_path, source, *ARGS, when=when_the_file_says_so)
    assert code == 130, stdout
    document, markdown, html, junit = reports(folder)
    assert document["interrupted"] is True and document["summary"]["total"] == 0
    assert len(document["not_run"]) == int(junit.get("tests")) > 40
    assert "Interrupted before any mutant finished (0 of " in markdown
    assert "> [!WARNING]" in markdown and "Score 100" not in markdown
    assert 'class="headline warn"' in html
    assert sorted(path.name for path in folder.iterdir()) == ["out", "project"]


def test_ctrl_c_during_the_baseline_exits_130_with_reports(tmp_path):
    source = network(in_forward=ANNOUNCE + "time.sleep(60)")
    code, stdout, folder = interrupt(tmp_path, source, *ARGS, when=when_the_file_says_so)
    assert code == 130, stdout
    document, markdown, html, _ = reports(folder)
    assert document["interrupted"] is True and document["summary"]["total"] == 0
    assert document["not_run"] and document["baseline"]["verdicts"] == []
    assert "Interrupted before any mutant finished" in markdown
    assert "Interrupted. " in stdout


def test_ctrl_c_during_the_campaign_exits_130_with_what_finished(tmp_path):
    def after_the_first_mutant(process, marker):
        read_line_within(process.stderr, 60, "mutants ")

    source = network(in_forward="import time\ntime.sleep(0.002)")
    code, stdout, folder = interrupt(tmp_path, source, *ARGS, "--progress",
                                     when=after_the_first_mutant)
    assert code == 130, stdout
    document, markdown, html, junit = reports(folder)
    finished, not_run = document["summary"]["total"], document["not_run"]
    assert document["interrupted"] is True and finished >= 1 and not_run
    ids = [m["id"] for m in document["mutants"]] + not_run
    assert len(ids) == len(set(ids)) == int(junit.get("tests"))  # each mutant once
    assert f"Interrupted after {finished} of {len(ids)} mutants: score so far " in markdown
    assert not any(line.startswith("**Score") for line in markdown.splitlines())
    assert 'class="headline warn"' in html and 'class="headline ok"' not in html


def test_gcverify_run_interrupted_in_the_sweep_exits_130_with_reports(tmp_path):
    process = gcverify("run", "--networks", "100000", "--examples", "1", "--progress",
                       "--output", "out", cwd=tmp_path)
    try:
        read_line_within(process.stderr, 60, "sweeping the property")
        time.sleep(0.5)  # well inside a sweep of 100,000 networks
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130, stdout
    assert "interrupted after " in stdout and " of 100000 networks" in stdout
    document = json.loads((tmp_path / "out" / "report.json").read_text())
    assert document["interrupted"] is True and document["summary"]["total"] == 0
    assert len(document["not_run"]) == len(mutate(notebook_target().source))
