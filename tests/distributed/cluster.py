"""A real Dask cluster for the tests: ``dask scheduler`` and ``dask worker`` started as
separate processes on 127.0.0.1 (not in-process mocks), each in its own process group
so that a test can kill one worker (its nanny and the worker process) and the fixture
leaves nothing running."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
