"""The default test suite (``-m "not slow"``) before issue 9's refactoring and now, side by side.

Run:  python benchmarks/bench_suite.py [--before REV]

Issue 9 (one source of truth for options and outcomes, the CLI as a package, the verdict
rules in one place) asked that the default suite take no longer than before. The suite
has grown since (more tests for every later issue), so comparing totals says little;
this script runs both suites in one session, one after the other, each from its own
checkout (``REV`` in a temporary git worktree, the current one in place), reads each
test's time from pytest's JUnit XML, and prints:

* each suite's wall time and test count;
* over the tests that exist in both (the same node id), the summed time before and now,
  and their ratio: the refactoring's cost on the same work.

Both runs use the Hypothesis profile ``ci`` (derandomized) and one BLAS thread, so the
ratio measures the code, not a different search or thread pool. The machine's load
changes between the two runs; run it on a quiet machine, or twice.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The last commit before issue 9's first ("One source of truth: CheckOptions, ...").
BEFORE_ISSUE_9 = "f56bed8^"


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


def test_times(report: Path) -> dict[str, float]:
    """Each test's time in seconds, by ``classname::name``, from a JUnit XML report."""
    cases = ElementTree.parse(report).getroot().iter("testcase")
    return {f"{case.get('classname')}::{case.get('name')}": float(case.get("time", 0.0))
            for case in cases if case.find("skipped") is None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE_ISSUE_9,
                        help="the revision to compare with (default: before issue 9)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        before = Path(folder) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(before),
                        arguments.before], cwd=ROOT, check=True)
        try:
            wall_before = run_suite(before, Path(folder) / "before.xml")
            wall_now = run_suite(ROOT, Path(folder) / "now.xml")
            times_before = test_times(Path(folder) / "before.xml")
            times_now = test_times(Path(folder) / "now.xml")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT,
                           check=False)
    common = times_before.keys() & times_now.keys()
    same_before = sum(times_before[name] for name in common)
    same_now = sum(times_now[name] for name in common)
    print(f"| suite | tests | wall time | the {len(common)} tests in both |")
    print("|---|---|---|---|")
    print(f"| before ({arguments.before}) | {len(times_before)} | {wall_before:.1f} s | "
          f"{same_before:.1f} s |")
    print(f"| now | {len(times_now)} | {wall_now:.1f} s | {same_now:.1f} s |")
    print(f"\nthe same tests, now / before: {same_now / same_before:.2f}")


if __name__ == "__main__":
    main()
