"""A real Dask cluster for the tests: ``dask scheduler`` and ``dask worker`` started as
separate processes on 127.0.0.1 (not in-process mocks), each in its own process group
so that a test can kill one worker (its nanny and the worker process) and the fixture
leaves nothing running."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed")

_DASK = str(Path(sys.executable).with_name("dask"))
_START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    """A scheduler and its workers, as processes this test controls."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def add_worker(self, *, nanny: bool = True) -> subprocess.Popen[bytes]:
        command = [_DASK, "worker", self.address, "--nthreads", "1", "--no-dashboard",
                   "--host", "127.0.0.1", "--nworkers", "1"]
        if not nanny:
            command.append("--no-nanny")
        worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        self.workers.append(worker)
        return worker

    def kill_worker(self, index: int = 0) -> None:
        """SIGKILL a worker's whole process group (nanny and worker): as a machine
        that goes away."""
        _kill_group(self.workers[index])

    def kill_scheduler(self) -> None:
        _kill_group(self.scheduler)

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=_START_TIMEOUT, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=_START_TIMEOUT)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@contextlib.contextmanager
def running_cluster(workers: int = 2, *, allowed_failures: int | None = None
                    ) -> Iterator[Cluster]:
    """A scheduler on a free port with ``workers`` workers, stopped on exit.

    ``allowed_failures`` sets the scheduler's retry bound for tasks whose worker dies
    (Dask's default is 3).
    """
    port = free_port()
    environment = dict(os.environ)
    if allowed_failures is not None:
        environment["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = str(allowed_failures)
    scheduler = subprocess.Popen(
        [_DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
        start_new_session=True)
    cluster = Cluster(f"tcp://127.0.0.1:{port}", scheduler)
    try:
        for _ in range(workers):
            cluster.add_worker()
        cluster.wait_for_workers(workers)
        yield cluster
    finally:
        cluster.stop()


def wait_until(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


# --- gcverify as a user runs it, and Ctrl-C ----------------------------------------------

def gcverify(arguments: list[str], cwd: Path, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "gcverify", *arguments], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, **popen)


def finish(process: subprocess.Popen[str], timeout: float = 300) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    finally:
        process.kill()
        process.wait()


def wait_for_progress(process: subprocess.Popen[str], starting: str,
                      seconds: float = 120) -> None:
    """Read stderr until a progress line starting with ``starting`` (or fail)."""
    assert process.stderr is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], deadline - time.monotonic())
        line = process.stderr.readline() if ready else ""
        if line.startswith(starting):
            return
        if not line and process.poll() is not None:
            break
    pytest.fail(f"no progress line {starting!r} within {seconds} s")


def tasks_on_the_cluster(client: Any) -> tuple[int, int]:
    """How many tasks the scheduler knows, and how many the workers still hold (a task
    cancelled while running stays on its worker until it returns)."""
    on_scheduler = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
    on_workers = client.run(lambda dask_worker: len(dask_worker.state.tasks))
    return on_scheduler, sum(on_workers.values())


def interrupt_on_a_running_cluster(process: subprocess.Popen[str], address: str,
                                   progress: str) -> tuple[str, str]:
    """Ctrl-C on a command using the cluster at ``address`` once it shows ``progress``:
    the cluster holds its tasks first (so the count below can see them), and none after.
    The command's stdout and stderr."""
    from distributed import Client

    with Client(address, timeout=60, set_as_default=False) as client:
        wait_for_progress(process, progress)
        assert tasks_on_the_cluster(client)[0] > 0  # the count sees the command's tasks
        process.send_signal(signal.SIGINT)
        out, err = finish(process, timeout=120)
        # Cancelled on the scheduler at once; a batch that was running when Ctrl-C came
        # finishes on its worker and is then forgotten.
        wait_until(lambda: tasks_on_the_cluster(client) == (0, 0), timeout=120)
        assert tasks_on_the_cluster(client) == (0, 0)
    return out, err


def interrupt_with_its_own_cluster(process: subprocess.Popen[str],
                                   progress: str) -> tuple[str, str]:
    """Ctrl-C, as a terminal sends it (to the whole process group), on a command that
    started its own cluster, once it shows ``progress``; none of the processes it had
    started is left running. The command's stdout and stderr."""
    psutil = pytest.importorskip("psutil")
    wait_for_progress(process, progress)
    tree = psutil.Process(process.pid).children(recursive=True)
    assert tree  # the scheduler's and workers' processes
    os.killpg(process.pid, signal.SIGINT)
    out, err = finish(process, timeout=120)
    psutil.wait_procs(tree, timeout=30)
    assert [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []
    return out, err
