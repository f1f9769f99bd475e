"""The default test suite (``-m "not slow"``) before issue 9's refactoring and now, in one run.

Run:  python benchmarks/bench_suite.py [--before REV] [--after REV]

Issue 9 (one source of truth for options and outcomes, the CLI as a package, the verdict
rules in one place) asked that the default suite take no longer than before. The suite
has grown since (more tests for every later issue), so comparing totals says little;
this script runs both suites in one session, one after the other, each from its own
checkout (``--before`` in a temporary git worktree; ``--after`` too, or by default this
checkout as it is), reads each test's time from pytest's JUnit XML, and prints:

* each suite's wall time and test count;
* over the tests that exist in both (the same node id), the summed time before and now,
  and their ratio: the cost, on the same work, of everything since (the refactoring and
  the features of later issues that every check now runs);
* the tests that gained most, to see where that cost went.

Both runs use the Hypothesis profile ``ci`` (derandomized) and one BLAS thread, so the
ratio measures the code, not a different search or thread pool. The machine's load
changes between the two runs; run it on a quiet machine, or twice.
Issue 9's refactoring came in two parts: ``--before f56bed8^ --after e24af90`` and
``--before 748d302 --after 071726d`` isolate each one's cost.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The last commit before issue 9's first ("One source of truth: CheckOptions, ...").
BEFORE_ISSUE_9 = "f56bed8^"
#: How many of the tests that gained most time are listed.
SHOWN = 8


@contextlib.contextmanager
def checkout(revision: str | None, folder: Path) -> Iterator[Path]:
    """``revision`` in a temporary git worktree at ``folder`` (this checkout if None)."""
    if revision is None:
        yield ROOT
        return
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(folder), revision],
                   cwd=ROOT, check=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT,
                       check=False)


def run_suite(checkout: Path, report: Path) -> float:
    """Run the default suite of ``checkout`` with its own gcverify; the wall time."""
    environment = {**os.environ, "PYTHONPATH": str(checkout), "OPENBLAS_NUM_THREADS": "1",
                   "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "GCVERIFY_HYPOTHESIS_PROFILE": "ci"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "not slow",
                    "-p", "no:cacheprovider", f"--junitxml={report}"],
                   cwd=checkout, env=environment, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def times_per_test(report: Path) -> dict[str, float]:
    """Each test's time in seconds, by ``classname::name``, from a JUnit XML report."""
    cases = ElementTree.parse(report).getroot().iter("testcase")
    return {f"{case.get('classname')}::{case.get('name')}": float(case.get("time", 0.0))
            for case in cases if case.find("skipped") is None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE_ISSUE_9,
                        help="the revision to compare with (default: before issue 9)")
    parser.add_argument("--after", default=None,
                        help="the revision to compare (default: this checkout as it is)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with checkout(arguments.before, Path(folder) / "before") as before, \
                checkout(arguments.after, Path(folder) / "after") as after:
            wall_before = run_suite(before, Path(folder) / "before.xml")
            wall_now = run_suite(after, Path(folder) / "now.xml")
        times_before = times_per_test(Path(folder) / "before.xml")
        times_now = times_per_test(Path(folder) / "now.xml")
    common = times_before.keys() & times_now.keys()
    same_before = sum(times_before[name] for name in common)
    same_now = sum(times_now[name] for name in common)
    print(f"| suite | tests | wall time | the {len(common)} tests in both |")
    print("|---|---|---|---|")
    print(f"| before ({arguments.before}) | {len(times_before)} | {wall_before:.1f} s | "
          f"{same_before:.1f} s |")
    print(f"| after ({arguments.after or 'this checkout'}) | {len(times_now)} | "
          f"{wall_now:.1f} s | {same_now:.1f} s |")
    if same_before > 0:
        print(f"\nthe same tests, after / before: {same_now / same_before:.2f}")
    slower = sorted(common, key=lambda name: times_before[name] - times_now[name])[:SHOWN]
    print(f"\nthe {SHOWN} tests that gained most (before -> after):")
    for name in slower:
        print(f"  {times_before[name]:6.2f} s -> {times_now[name]:6.2f} s  {name}")


if __name__ == "__main__":
    main()
