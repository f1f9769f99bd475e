"""What the command fault tests share: a user's project with a fault planted in a small
network, ``gcverify`` run as a real process on it, and the promise that the project is
left byte for byte as it was.

Each case is a :class:`Fault`: a readable id, the user's file, the command line, and the
outcome it must get (exit code and the last line of stderr, where ``{file}`` is the
file as typed and ``{line}`` the line marked ``# FAULT``). The cases of a table run as
processes side by side (:class:`Launched`, a few at a time), so that a table costs
little more than its slowest case.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILE = "project/net.py"   # as typed on the command line, from the case's folder

# A two-layer network in the notebook's convention; faults go at the marked places.
NETWORK = '''\
import numpy as np
{at_import}


def forward(X, Y, parameters):
{in_forward}
    m = X.shape[1]
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    Z1 = np.dot(W1, X) + b1
    A1 = np.maximum(0, Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = 1 / (1 + np.exp(-Z2))
    cost = 1. / m * np.sum(Y * np.logaddexp(0, -Z2) + (1 - Y) * np.logaddexp(0, Z2))
    return cost, (Z1, A1, W1, b1, Z2, A2, W2, b2)


def backward(X, Y, cache):
{in_backward}
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2) = cache
    dZ2 = A2 - Y
    dW2 = 1. / m * np.dot(dZ2, A1.T)
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(Z1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T)
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)
    return {{"dW1": dW1{wrong}, "db1": db1, "dW2": dW2, "db2": db2}}


def case():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((3, 4))
    Y = np.array([0, 1, 1, 0])
    parameters = {{"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal((4, 1)),
                  "W2": rng.standard_normal((1, 4)), "b2": rng.standard_normal((1, 1))}}
    return X, Y, parameters
'''


def network(*, at_import: str = "", in_forward: str = "", in_backward: str = "",
            wrong: str = "") -> str:
    """The network's source with code planted at import, at the start of forward or
    backward (mark the line the outcome names with ``# FAULT``)."""
    def body(code: str) -> str:
        return textwrap.indent(textwrap.dedent(code).strip("\n"), "    ") if code else ""

    return NETWORK.format(at_import=textwrap.dedent(at_import).strip("\n"),
                          in_forward=body(in_forward), in_backward=body(in_backward),
                          wrong=wrong)


# Faults, each marking the line that the one-line error must name.
SYS_EXIT = "import sys\nsys.exit(0)  # FAULT"
OS_EXIT = "import os\nos._exit(3)  # FAULT"
RAISE = "raise ValueError('boom')  # FAULT"
HANG = "while True: pass  # FAULT"
ALLOCATE = "chunks = []\nwhile True: chunks.append(np.ones(10_000_000))  # FAULT"
SEGFAULT = "import ctypes\nctypes.string_at(0)  # FAULT"
ARGPARSE_REQUIRED = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
args = parser.parse_args()  # FAULT
"""
ARGPARSE_OPTIONAL = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()
"""
PRINT = """
import os, sys
print("USER-OUTPUT", end="")
print("USER-OUTPUT", end="", file=sys.stderr)
os.write(1, b"USER-OUTPUT")
os.write(2, b"USER-OUTPUT")
"""
INPUT = "epochs = input('epochs? ')  # FAULT"


@dataclass(frozen=True)
class Fault:
    """One row of a table: the user's file, the arguments after the command, and what
    gcverify must do: ``code`` and the last line of stderr (``line``; "" when none is
    promised), a text ``stdout`` must contain, texts that must appear nowhere."""

    id: str
    source: str
    argv: tuple[str, ...]
    code: int
    line: str = ""
    stdout: str = ""
    absent: tuple[str, ...] = ()
    setup: str = ""   # "output-is-a-file", "output-below-a-file", "output-read-only"

    def expected_line(self) -> str:
        marked = [n for n, text in enumerate(self.source.splitlines(), 1) if "# FAULT" in text]
        return self.line.format(file=FILE, line=marked[0] if marked else "?")

    def accepts(self, line: str) -> bool:
        """Is ``line`` the promised last line? A hang is named where the child was when
        its time ran out: on a loaded machine it may not have reached the user's loop
        yet, and the line then has no place."""
        expected = self.expected_line()
        if "hung (still running" in expected:
            return line in (expected, expected.rpartition(" at ")[0])
        return line == expected


@dataclass
class Run:
    """A finished gcverify process on a fault's project."""

    fault: Fault
    folder: Path
    code: int
    stdout: str
    stderr: str
    seconds: float
    untouched: bool

    @property
    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


@dataclass
class Launched:
    """The processes of a table, run side by side, at most ``at_once`` at a time (in the
    order they were queued); :meth:`result` waits for one."""

    command: str
    at_once: int = 4
    folders: dict[str, Path] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    before: dict[str, dict[str, bytes]] = field(default_factory=dict)
    faults: dict[str, Fault] = field(default_factory=dict)
    queue: list[str] = field(default_factory=list)

    def start(self, fault: Fault, folder: Path) -> None:
        """Queue ``fault`` (its project is written now) and start what may run."""
        project = make_project(folder, fault.source)
        self.before[fault.id] = snapshot(project)
        prepare(fault.setup, folder)
        self.folders[fault.id] = folder
        self.faults[fault.id] = fault
        self.queue.append(fault.id)
        self._pump()

    def _pump(self, first: str | None = None) -> None:
        if first in self.queue:
            self.queue.remove(first)
            self.queue.insert(0, first)
        running = sum(process.poll() is None for process in self.processes.values())
        while self.queue and (running < self.at_once or first in self.queue):
            fault_id = self.queue.pop(0)
            fault = self.faults[fault_id]
            self.started[fault_id] = time.monotonic()
            self.processes[fault_id] = gcverify(self.command, FILE, *fault.argv,
                                                cwd=self.folders[fault_id])
            running += 1

    def result(self, fault_id: str, timeout: float = 120) -> Run:
        self._pump(first=fault_id)
        process = self.processes[fault_id]
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            self._pump()  # the others' outputs are small: their pipes never fill
            time.sleep(0.02)
        try:
            stdout, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            process.kill()
        self._pump()
        folder = self.folders[fault_id]
        return Run(self.faults[fault_id], folder, process.returncode, stdout, stderr,
                   time.monotonic() - self.started[fault_id],
                   snapshot(folder / "project") == self.before[fault_id])

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def make_project(folder: Path, source: str) -> Path:
    """``folder/project/net.py`` holding ``source``; the project folder."""
    project = folder / "project"
    project.mkdir(parents=True)
    (project / "net.py").write_text(source)
    return project


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes)."""
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def prepare(setup: str, folder: Path) -> None:
    """Make ``--output out`` unwritable in the way the case asks."""
    if setup == "output-is-a-file":
        (folder / "out").write_text("taken")
    elif setup == "output-below-a-file":
        (folder / "taken").write_text("a file")
    elif setup == "output-read-only":
        (folder / "locked").mkdir()
        (folder / "locked").chmod(0o500)


def gcverify(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -m gcverify ARGV`` in ``cwd``, its output as text through pipes."""
    return subprocess.Popen(
        [sys.executable, "-m", "gcverify", *argv], cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), **(env or {})})


def read_line_within(stream, seconds: float, starting: str) -> str:
    """The first line of a child's pipe that starts with ``starting``, or a test
    failure when none comes within ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([stream], [], [], left)
        if not ready:
            break
        line = stream.readline()
        if not line:
            break
        if line.startswith(starting):
            return line
    pytest.fail(f"no line starting with {starting!r} within {seconds} s")


def wait_for_file(path: Path, seconds: float) -> None:
    """Wait until ``path`` exists (the user's code wrote it), or fail the test."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path.name} was not written within {seconds} s")
        time.sleep(0.02)


running_as_root = hasattr(os, "geteuid") and os.geteuid() == 0
