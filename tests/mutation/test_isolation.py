"""Each task in its own process: results, exceptions, crashes, time and memory limits, Ctrl-C."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from gcverify.errors import InvalidArgument
from gcverify.failure import FailureKind
from gcverify.mutation.isolation import run_isolated


def behave(task):
    kind, value = task
    if kind == "return":
        return value
    if kind == "raise":
        raise ValueError(value)
    if kind == "exit":
        os._exit(value)
    if kind == "sleep":
        time.sleep(value)
        return value
    if kind == "print":
        print("noise on stdout")
        os.write(2, b"noise on stderr\n")
        return value
    if kind == "unpicklable":
        return lambda: value
    if kind == "allocate":
        # The limit is on address space: reserving it fails at once, without the
        # seconds that writing 300 MiB takes on a loaded machine.
        chunks = []
        while True:
            chunks.append(np.empty(value))
    raise AssertionError(kind)


def test_every_way_a_task_can_end(capfd):
    tasks = [("return", 1), ("raise", "bad"), ("exit", 4), ("sleep", 30), ("print", 5),
             ("unpicklable", 0), ("allocate", 10_000_000)]
    # The limit leaves the quick tasks seconds to spare on a loaded machine.
    started = time.monotonic()
    reports, interrupted = run_isolated(behave, tasks, jobs=3, time_limit=2.0,
                                        memory_limit=300 * 2**20)
    assert time.monotonic() - started < 20
    assert not interrupted
    assert [r.value for r in reports.values()] == [1, None, None, None, 5, None, None]
    assert [r.failure.describe() if r.failure else "" for r in reports.values()] == [
        "",
        "raised ValueError: bad",
        "exited with code 4",
        "hung (still running after 2 s)",
        "",
        reports[5].failure.describe(),
        "ran out of memory (limit 300 MiB)",
    ]
    assert reports[5].failure.kind is FailureKind.RAISED
    assert reports[5].failure.describe().endswith("(its result could not be sent back)")
    captured = capfd.readouterr()
    assert "noise" not in captured.out + captured.err


def test_results_come_in_task_order_whatever_the_finishing_order():
    tasks = [("sleep", 0.6), ("sleep", 0.0), ("sleep", 0.3)]
    reports, _ = run_isolated(behave, tasks, jobs=3, time_limit=10)
    assert list(reports) == [0, 1, 2]


def test_keyboard_interrupt_in_the_callback_stops_the_run_and_kills_the_children():
    def stop(index, report):
        raise KeyboardInterrupt

    started = time.monotonic()
    reports, interrupted = run_isolated(
        behave, [("return", 0), ("sleep", 60), ("sleep", 60)], jobs=3, time_limit=100,
        on_finish=stop)
    assert interrupted and list(reports) == [0]
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(("options", "message"), [
    ({"jobs": 0, "time_limit": 1}, "jobs=0 is not a positive integer"),
    ({"jobs": 1, "time_limit": 0}, "time_limit=0 is not a positive number of seconds"),
])
def test_bad_arguments(options, message):
    with pytest.raises(InvalidArgument, match=message):
        run_isolated(behave, [], **options)
