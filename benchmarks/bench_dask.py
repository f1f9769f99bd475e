"""Throughput on this machine (``--jobs``: a child forked per task) against a Dask cluster
of the same size, and the overhead per task of each, measured side by side in one run.

Run:  python benchmarks/bench_dask.py [--workers 2] [--preset quick]

Starts ``dask scheduler`` and ``--workers`` ``dask worker`` processes on 127.0.0.1 (as
a user would on a cluster), then times, with ``--workers`` jobs on this machine and on
the Dask cluster:

* the mutation campaign of ``gcverify mutate`` on the notebook (153 mutants, 12
  examples each; the same report: checked);
* the sensitivity study ``--preset`` (the same tasks, the same results: checked);
* empty tasks in batches of 1, 2 and 8, whose time per task is the overhead of
  scheduling (Dask) or forking (here) and moving them (a campaign sends one mutant per
  local task and 4 per Dask task; the study 4 to 64 networks or examples per task).

Prints seconds, tasks per second and the Dask / local ratio, and the overhead per task
that the README's "Scaling out" estimate uses.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from gcverify.executors import open_executor, run_tasks
from gcverify.mutation import notebook_target, run_campaign
from gcverify.report import render_json
from gcverify.sensitivity.report import study_document
from gcverify.sensitivity.study import PRESETS, run_study

_EMPTY_TASKS = 400


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_cluster(workers: int) -> tuple[str, list[subprocess.Popen[bytes]]]:
    dask = str(Path(sys.executable).with_name("dask"))
    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
             "start_new_session": True}
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", port,
                                   "--no-dashboard"], **quiet)]  # type: ignore[call-overload]
    processes += [subprocess.Popen([dask, "worker", address, "--nthreads", "1",
                                    "--no-dashboard", "--host", "127.0.0.1"], **quiet)
                  for _ in range(workers)]
    return address, processes


def _identity(x: int) -> int:
    return x


def _time_study(preset: str, **where: object) -> tuple[float, dict[str, object]]:
    with open_executor(**where) as pool:  # type: ignore[arg-type]
        started = time.perf_counter()
        result = run_study(PRESETS[preset], seed=0, executor=pool)
        elapsed = time.perf_counter() - started
    document = study_document(result)
    document.pop("timing")
    return elapsed, document


def _time_campaign(**where: object) -> tuple[float, int, str]:
    jobs = where.pop("jobs", None)
    with contextlib.ExitStack() as stack:
        executor = stack.enter_context(open_executor(**where)) if where else None  # type: ignore[arg-type]
        started = time.perf_counter()
        result = run_campaign(notebook_target(7), jobs=jobs, executor=executor)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
    document = json.loads(render_json(result))
    document.pop("timing")
    return elapsed, result.counts.total, json.dumps(document)


def _time_empty(batch: int, **where: object) -> float:
    with open_executor(**where) as pool:  # type: ignore[arg-type]
        run_tasks(pool, _identity, list(range(8)), batch=1)  # warm: Dask's workers ready
        started = time.perf_counter()
        run_tasks(pool, _identity, list(range(_EMPTY_TASKS)), batch=batch)
        return (time.perf_counter() - started) / _EMPTY_TASKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--preset", choices=list(PRESETS), default="quick")
    arguments = parser.parse_args()
    address, processes = _start_cluster(arguments.workers)
    try:
        local = {"jobs": arguments.workers}
        dask = {"scheduler": address}
        print(f"mutation campaign, notebook target, {arguments.workers} workers")
        local_time, mutants, local_report = _time_campaign(**local)
        dask_time, _, dask_report = _time_campaign(**dask)
        same = "identical" if local_report == dask_report else "DIFFERENT"
        print(f"  local       {local_time:7.2f} s  {mutants / local_time:7.1f} mutants/s")
        print(f"  dask        {dask_time:7.2f} s  {mutants / dask_time:7.1f} mutants/s  "
              f"ratio dask/local {dask_time / local_time:.2f}  (report {same})")
        preset = PRESETS[arguments.preset]
        tasks = preset.step_networks + preset.boundary_networks + preset.mutant_examples
        print(f"sensitivity study, preset {arguments.preset} ({tasks} tasks), "
              f"{arguments.workers} workers")
        local_time, local_doc = _time_study(arguments.preset, **local)
        dask_time, dask_doc = _time_study(arguments.preset, **dask)
        same = "identical" if local_doc == dask_doc else "DIFFERENT"
        print(f"  local       {local_time:7.2f} s  {tasks / local_time:7.1f} tasks/s")
        print(f"  dask        {dask_time:7.2f} s  {tasks / dask_time:7.1f} tasks/s  "
              f"ratio dask/local {dask_time / local_time:.2f}  (results {same})")
        print(f"empty tasks ({_EMPTY_TASKS}): time per task")
        for batch in (1, 2, 8):
            local_cost = _time_empty(batch, **local)
            dask_cost = _time_empty(batch, **dask)
            print(f"  batch {batch}:  local {local_cost * 1e3:6.2f} ms   dask "
                  f"{dask_cost * 1e3:6.2f} ms   ratio {dask_cost / local_cost:5.1f}")
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    main()
