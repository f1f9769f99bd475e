"""The notebook's numbers under several BLAS kernels: the digits gcverify promises are the
same on every one, and so are both checkers' verdicts.

numpy's OpenBLAS picks a kernel for the CPU it runs on (``OPENBLAS_CORETYPE`` forces
one). Each kernel rounds its sums its own way, so the last digits of the notebook's
differences depend on the machine: the buggy difference agrees on 10 significant digits,
the correct one (rounding noise of a central difference) on 4
(:data:`gcverify.replay.REPRODUCIBLE_DIGITS`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from gcverify.replay import reproduces

SCRIPT = """
import contextlib, io, json
from gcverify import check_backprop
from gcverify.models import notebook as nb
X, Y, P = nb.gradient_check_n_test_case()
_, cache = nb.forward_propagation_n(X, Y, P)
with contextlib.redirect_stdout(io.StringIO()):
    buggy = nb.gradient_check_n(P, nb.backward_propagation_n_buggy(X, Y, cache), X, Y, 1e-7)
    correct = nb.gradient_check_n(P, nb.backward_propagation_n(X, Y, cache), X, Y, 1e-7)
verdicts = [check_backprop(nb.forward_propagation_n, backward, X, Y, P).verdict.name
            for backward in (nb.backward_propagation_n_buggy, nb.backward_propagation_n)]
print("RESULT " + json.dumps({"buggy": buggy, "correct": correct, "verdicts": verdicts}))
"""
CORETYPES = ["Prescott", "Nehalem", "Sandybridge", "Haswell", "SkylakeX"]


def run_under(coretype: str) -> tuple[str | None, dict]:
    env = {**os.environ, "OPENBLAS_CORETYPE": coretype, "OPENBLAS_VERBOSE": "2",
           "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    core = re.search(r"Core: (\w+)", done.stdout + done.stderr)
    result = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return (core.group(1) if core else None), json.loads(result.removeprefix("RESULT "))


@pytest.fixture(scope="module")
def kernels() -> dict[str, dict]:
    if sys.platform != "linux" or os.uname().machine not in ("x86_64", "AMD64"):
        pytest.skip("OPENBLAS_CORETYPE selects x86-64 kernels")
    found = {}
    for coretype in CORETYPES:
        core, result = run_under(coretype)
        if core is not None:
            found[core] = result
    if len(found) < 3:
        pytest.skip(f"this numpy's OpenBLAS offered only {sorted(found)} (no DYNAMIC_ARCH?)")
    return found


def test_at_least_three_kernels_ran(kernels):
    assert len(kernels) >= 3, kernels


def test_every_kernel_reproduces_the_promised_digits(kernels):
    for core, result in kernels.items():
        assert reproduces("buggy", result["buggy"]), (core, result)
        assert reproduces("correct", result["correct"]), (core, result)


def test_every_kernel_gives_the_same_verdicts(kernels):
    for core, result in kernels.items():
        assert result["correct"] < 2e-7 < result["buggy"], core          # the notebook's
        assert result["verdicts"] == ["FAIL", "PASS"], core                # gcverify's
