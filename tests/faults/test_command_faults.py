"""``gcverify check FILE`` on user code that misbehaves: the code under test never
decides gcverify's exit code.

Each row plants one fault in a small network and runs ``gcverify check`` as a real
process; it must get its outcome (exit code and the one line on stderr), the user's
project must be byte for byte as it was, and nothing may be written next to the file.
The rows run side by side (``Launched``): the table takes about as long as its
slowest row (the one that hangs, 3 s).
"""

from __future__ import annotations

import json

import pytest

from tests.faults.processes import (
    ALLOCATE,
    ARGPARSE_OPTIONAL,
    ARGPARSE_REQUIRED,
    HANG,
    INPUT,
    OS_EXIT,
    PRINT,
    RAISE,
    SEGFAULT,
    SYS_EXIT,
    Fault,
    Launched,
    network,
)

ARGS = ("--forward", "forward", "--backward", "backward", "--case", "case")
ERROR = "gcverify: error: the code under test "

CASES = [  # the slowest first: the table runs a few rows at a time, in this order
    Fault("forward-that-loops-forever", network(in_forward=HANG), (*ARGS, "--time-limit", "3"),
          4, ERROR + "hung (still running after 3 s) at {file}:{line}"),
    Fault("sys-exit-at-import", network(at_import=SYS_EXIT), ARGS, 4,
          ERROR + "called sys.exit(0) at {file}:{line}"),
    Fault("sys-exit-in-forward", network(in_forward=SYS_EXIT), ARGS, 4,
          ERROR + "called sys.exit(0) at {file}:{line}"),
    Fault("sys-exit-in-backward", network(in_backward=SYS_EXIT), ARGS, 4,
          ERROR + "called sys.exit(0) at {file}:{line}"),
    Fault("os-exit-in-forward", network(in_forward=OS_EXIT), ARGS, 4,
          ERROR + "exited with code 3 at {file}:{line}"),
    Fault("argparse-with-a-required-argument", network(at_import=ARGPARSE_REQUIRED), ARGS, 4,
          ERROR + "called sys.exit(2) at {file}:{line}"),
    Fault("argparse-sees-only-the-file-not-gcverifys-options",
          network(at_import=ARGPARSE_OPTIONAL), ARGS, 0, stdout="Gradient check: PASS"),
    Fault("exception-at-import", network(at_import=RAISE), ARGS, 4,
          ERROR + "raised ValueError: boom at {file}:{line}"),
    Fault("exception-in-forward", network(in_forward=RAISE), ARGS, 4,
          ERROR + "raised ValueError: boom at {file}:{line}"),
    Fault("exception-in-backward-with-traceback", network(in_backward=RAISE),
          (*ARGS, "--traceback"), 4, "ValueError: boom"),
    Fault("input-at-import", network(at_import=INPUT), ARGS, 4,
          ERROR + "raised EOFError: EOF when reading a line at {file}:{line}"),
    Fault("forward-that-allocates-without-bound", network(in_forward=ALLOCATE),
          (*ARGS, "--memory-limit", "300M"), 4,
          ERROR + "ran out of memory (limit 300 MiB) at {file}:{line}"),
    Fault("segfault-in-forward", network(in_forward=SEGFAULT), ARGS, 4,
          ERROR + "was killed by SIGSEGV at {file}:{line}"),
    Fault("prints-without-end", network(in_forward=PRINT), ARGS, 0,
          stdout="Gradient check: PASS", absent=("USER-OUTPUT",)),
    Fault("prints-without-end-json", network(in_forward=PRINT), (*ARGS, "--json"), 0,
          absent=("USER-OUTPUT",)),
    Fault("a-gradient-of-the-wrong-shape-stays-a-usage-error", network(wrong=".T"), ARGS, 2,
          "gcverify: error: backward(X, Y, cache)['dW1'].shape=(3, 4) does not match "
          "parameters['W1'].shape=(4, 3); give each gradient the shape of its parameter"),
]


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    runs = Launched("check")
    for fault in CASES:
        runs.start(fault, tmp_path_factory.mktemp(fault.id))
    yield runs
    runs.stop()


@pytest.mark.parametrize("fault", CASES, ids=lambda fault: fault.id)
def test_each_fault_gets_its_outcome(launched, fault):
    run = launched.result(fault.id)
    assert run.code == fault.code, run.stderr
    if fault.line:
        assert fault.accepts(run.last_line), run.stderr
    if fault.code == 4:
        assert run.stdout == ""
        if "--traceback" not in fault.argv:
            assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    if fault.stdout:
        assert run.stdout.startswith(fault.stdout)
    for text in fault.absent:
        assert text not in run.stdout + run.stderr
    # The user's file is byte for byte as it was, and nothing was written next to it.
    assert run.untouched
    assert sorted(path.name for path in run.folder.iterdir()) == ["project"]


def test_traceback_follows_the_one_line(launched):
    run = launched.result("exception-in-backward-with-traceback")
    fault = next(case for case in CASES if case.id == run.fault.id)
    lines = run.stderr.splitlines()
    line = fault.source.splitlines().index("    raise ValueError('boom')  # FAULT") + 1
    assert lines[0] == f"{ERROR}raised ValueError: boom at project/net.py:{line}"
    assert lines[1] == "Traceback (most recent call last):"
    assert any(text.endswith(f'net.py", line {line}, in backward') for text in lines)


def test_json_output_stays_json(launched):
    run = launched.result("prints-without-end-json")
    assert json.loads(run.stdout)["verdict"] == "pass"


def test_a_hang_costs_the_time_limit_not_more(launched):
    run = launched.result("forward-that-loops-forever")
    assert run.seconds < 30  # 3 s of limit, a process start, a table running beside it
