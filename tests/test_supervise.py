"""A supervised child, seen from the parent (the rest of supervise is tested through
what runs user code: tests/faults, tests/mutation, tests/test_forking_executor.py)."""

from __future__ import annotations

import time
from typing import Any

from gcverify.supervise import Child, ChildSetup


def _after_a_moment(value: int) -> int:
    time.sleep(0.3)
    return value


class _ReportArrivesLate:
    """The child's pipe, where the report is not there yet at the parent's first look,
    and the child exits right after that look (the parent's worst timing)."""

    def __init__(self, child: Child) -> None:
        self.child, self.reader, self.looks = child, child.reader, 0

    def poll(self, timeout: float = 0.0) -> bool:
        self.looks += 1
        if self.looks == 1:
            self.child.process.join()   # it reports and exits between the two looks
            return False
        return self.reader.poll(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reader, name)


def test_a_child_that_reports_and_exits_between_two_looks_is_not_taken_for_dead() -> None:
    child = Child.start(_after_a_moment, (7,), ChildSetup(30.0))
    child.reader = _ReportArrivesLate(child)  # type: ignore[assignment]
    try:
        while (report := child.poll()) is None:
            time.sleep(0.01)
    finally:
        child.kill()
    assert report.failure is None and report.value == 7
