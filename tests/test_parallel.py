"""Rows computed in forked workers: ``gcverify.parallel``."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gcverify.parallel import (
    available_cores,
    can_fork,
    map_rows,
    one_blas_thread,
    resolve_jobs,
)

needs_fork = pytest.mark.skipif(not can_fork(), reason="workers are forked")


def test_one_job_runs_here_on_every_row():
    seen = []

    def rows(chunk):
        seen.append(chunk.tolist())
        return chunk * 10

    assert map_rows(rows, 4, jobs=1).tolist() == [0, 10, 20, 30]
    assert seen == [[0, 1, 2, 3]]


@needs_fork
@pytest.mark.parametrize(("n", "jobs"), [(7, 2), (7, 3), (2, 5), (1, 2)])
def test_interleaved_chunks_come_back_in_row_order_from_several_processes(n, jobs):
    def rows(chunk):
        return (chunk.astype(float) ** 2, np.full(len(chunk), os.getpid()),
                np.stack([chunk, -chunk], axis=1))

    squares, pids, pairs = map_rows(rows, n, jobs)
    assert squares.tolist() == [float(r * r) for r in range(n)]
    assert pairs.tolist() == [[r, -r] for r in range(n)]
    used = min(n, jobs)
    assert len(set(pids.tolist())) == used
    assert int(pids[0]) == os.getpid()                              # row 0: here


@needs_fork
def test_a_chunk_that_fails_in_a_worker_is_run_again_here_and_raises_here():
    def rows(chunk):
        if 1 in chunk.tolist():
            raise ZeroDivisionError("row 1")
        return chunk

    with pytest.raises(ZeroDivisionError, match="row 1"):
        map_rows(rows, 4, jobs=2)


@needs_fork
def test_a_worker_that_dies_is_replaced_by_running_its_chunk_here():
    parent = os.getpid()

    def rows(chunk):
        if os.getpid() != parent:
            os._exit(3)                              # killed before it could answer
        return chunk + 100

    assert map_rows(rows, 5, jobs=2).tolist() == [100, 101, 102, 103, 104]


def test_jobs_none_means_every_available_core():
    assert resolve_jobs(None) == available_cores() >= 1
    assert resolve_jobs(1) == 1


def test_blas_runs_on_one_thread_inside_and_as_before_after():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [pool["num_threads"] for pool in threadpoolctl.threadpool_info()
              if pool["user_api"] == "blas"]
    with one_blas_thread():
        inside = [pool["num_threads"] for pool in threadpoolctl.threadpool_info()
                  if pool["user_api"] == "blas"]
    after = [pool["num_threads"] for pool in threadpoolctl.threadpool_info()
             if pool["user_api"] == "blas"]
    assert inside == [1] * len(before) and after == before
