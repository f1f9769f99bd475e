"""Local campaigns and studies before and after they went through the executor seam, in
one run, each command in a fresh process, as a user types it.

Run:  python benchmarks/bench_local_executor.py [--before REV] [--after REV] [--repeats 2]

Issue 14 sent the local mutation campaign through the same executor seam as Dask and
the study (``open_executor`` / ``run_tasks``): the local executor forks a child per
call, which forks the mutant's supervised child, where the campaign used to fork the
mutant's child directly; the study's tasks, run by a pool of long-lived processes
in batches of 2 before, now fork a child per batch of 64, 64 or 4 (by part). This
script times, at ``--before`` (default: the last commit before the change) and
``--after`` (default: this checkout), each from its own checkout (a temporary git
worktree), the commands alternately, ``--repeats`` times:

* ``gcverify mutate --seed 7 --jobs 2``: the notebook's 153 mutants;
* ``gcverify mutate examples/row_major.py ...``: the row-major example's four functions,
  as its docstring writes the command (user code: loss and layer functions);
* ``gcverify sensitivity --preset quick --seed 3 --jobs 2``.

and prints each command's median wall time and CPU time (the command's and its
children's) before and after, the ratios, and whether
the reports are identical apart from timing (``report.json``, ``sensitivity.json``).
The machine's load changes between runs: run it on a quiet machine, or twice.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_suite import ROOT, checkout

#: The last commit whose local campaign forked its mutants' children itself.
BEFORE_THE_SEAM = "111288f"

COMMANDS = {
    "mutate, notebook (153 mutants)": ["mutate", "--seed", "7", "--jobs", "2"],
    "mutate, examples/row_major.py (67 mutants)": [
        "mutate", "examples/row_major.py", "--convention", "loss-and-grads", "--layout",
        "rows", "--forward", "loss", "--layers", "4,5,3", "--mutate", "loss", "--mutate",
        "affine_backward", "--mutate", "relu_backward", "--mutate", "softmax_loss",
        "--seed", "7", "--jobs", "2"],
    "sensitivity --preset quick (2,120 tasks)": [
        "sensitivity", "--preset", "quick", "--seed", "3", "--jobs", "2"],
}
REPORTS = ("report.json", "sensitivity.json")


def run_command(tree: Path, argv: list[str], output: Path) -> tuple[float, float, str]:
    """``python -m gcverify ARGV --output OUTPUT`` in a fresh process with ``tree``'s
    gcverify; the wall time, the CPU time of it and its children (steadier than the
    wall time on a shared machine), and the report without its timing."""
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    started, before = time.perf_counter(), _children_cpu()
    subprocess.run([sys.executable, "-m", "gcverify", *argv, "--no-progress", "--output",
                    str(output)], cwd=tree, env=environment, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed, cpu = time.perf_counter() - started, _children_cpu() - before
    for name in REPORTS:
        if (output / name).exists():
            document = json.loads((output / name).read_text())
            document.pop("timing", None)
            return elapsed, cpu, json.dumps(document, sort_keys=True)
    return elapsed, cpu, "no report"


def _children_cpu() -> float:
    # Every process the command started was waited for, so its time is counted here.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE_THE_SEAM)
    parser.add_argument("--after", default=None, help="default: this checkout")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", default="", help="the commands whose label holds this")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        with checkout(arguments.before, folder / "before") as before, \
                checkout(arguments.after, folder / "after") as after:
            trees = {"before": before, "after": after}
            print(f"before {arguments.before}, after {arguments.after or 'this checkout'} "
                  f"({ROOT.name}); median of {arguments.repeats}")
            for label, argv in COMMANDS.items():
                if arguments.only not in label:
                    continue
                times: dict[str, list[float]] = {"before": [], "after": []}
                cpus: dict[str, list[float]] = {"before": [], "after": []}
                reports: dict[str, set[str]] = {"before": set(), "after": set()}
                for repeat in range(arguments.repeats):
                    for side, tree in trees.items():
                        output = folder / f"{side}-{repeat}-{len(times[side])}"
                        elapsed, cpu, report = run_command(tree, argv, output)
                        times[side].append(elapsed)
                        cpus[side].append(cpu)
                        reports[side].add(report)
                old, new = (statistics.median(times[s]) for s in ("before", "after"))
                old_cpu, new_cpu = (statistics.median(cpus[s]) for s in ("before", "after"))
                same = ("identical" if len(reports["before"] | reports["after"]) == 1
                        else "DIFFERENT")
                print(f"  {label:44s} wall {old:6.1f} s -> {new:6.1f} s, ratio "
                      f"{new / old:.2f};  CPU {old_cpu:6.1f} s -> {new_cpu:6.1f} s, ratio "
                      f"{new_cpu / old_cpu:.2f}  (reports {same})")


if __name__ == "__main__":
    main()
