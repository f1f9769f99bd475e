"""Replay the "Gradient Checking" notebook and collect its numbers and verdicts.

>>> replay = replay_notebook()
>>> [str(row.verdict) for row in replay.rows]
['PASS', 'FAIL', 'PASS']
>>> replay.reproduced
True
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np

from gcverify.check import check_backprop, check_gradients
from gcverify.models import notebook as nb
from gcverify.result import GradCheckResult, Verdict

__all__ = [
    "NOTEBOOK_DIFFERENCES",
    "REPRODUCIBLE_DIGITS",
    "NotebookReplay",
    "ReplayRow",
    "replay_notebook",
    "reproduces",
]

#: The differences the notebook printed for its buggy and its correct backprop.
NOTEBOOK_DIFFERENCES = {"buggy": 0.2850931567761623, "correct": 1.1890913024229996e-07}
#: How many significant digits of each difference every BLAS kernel reproduces. Measured
#: with numpy's OpenBLAS under the Katmai (Prescott, Core2, Sandybridge), Nehalem, Haswell
#: and SkylakeX kernels (OPENBLAS_CORETYPE): the buggy difference spans
#: 0.2850931567761623 to 0.285093156780699 (1.6e-11 relative), the correct one
#: 1.1890913024229996e-07 to 1.189041787877932e-07 (4.2e-5: it is the rounding noise of a
#: central difference at epsilon = 1e-7, and each kernel rounds its sums its own way).
REPRODUCIBLE_DIGITS = {"buggy": 10, "correct": 4}


def reproduces(name: str, difference: float) -> bool:
    """Does ``difference`` equal the notebook's ``name`` difference to its reproducible
    digits (half a unit in the last of them, relative)?

    >>> reproduces("buggy", 0.285093156780699), reproduces("buggy", 0.2851)
    (True, False)
    """
    expected = NOTEBOOK_DIFFERENCES[name]
    return abs(difference - expected) <= 0.5 * 10.0 ** (1 - REPRODUCIBLE_DIGITS[name]) \
        * abs(expected)


@dataclass(frozen=True)
class ReplayRow:
    """One check of the notebook: what was checked, its difference, both verdicts."""

    label: str
    difference: float
    verdict: Verdict      # the notebook's rule: FAIL if difference > threshold
    expected: Verdict     # what the notebook's author intended the verdict to be
    robust: Verdict       # gcverify's checker on the same case
    robust_summary: str

    @property
    def as_expected(self) -> bool:
        return self.verdict is self.expected


@dataclass(frozen=True)
class NotebookReplay:
    """The notebook's three checks, replayed; :attr:`reproduced` if all went as intended."""

    rows: tuple[ReplayRow, ...]
    threshold: float = 2e-7
    epsilon: float = 1e-7

    @property
    def reproduced(self) -> bool:
        """The notebook's verdicts are as its author intended, gcverify agrees, and its
        two N-D differences are the notebook's to their reproducible digits."""
        buggy, correct = self.rows[1].difference, self.rows[2].difference
        return all(row.as_expected and row.robust is row.expected for row in self.rows) \
            and reproduces("buggy", buggy) and reproduces("correct", correct)


def _row(label: str, difference: float, threshold: float, expected: Verdict,
         robust: GradCheckResult) -> ReplayRow:
    return ReplayRow(label, difference, _notebook_verdict(difference, threshold), expected,
                     robust.verdict, robust.summary())


def _notebook_verdict(difference: float, threshold: float) -> Verdict:
    # The notebook's own rule, flaw included (a NaN difference is not > threshold).
    return Verdict.FAIL if difference > threshold else Verdict.PASS


def replay_notebook(threshold: float = 2e-7, epsilon: float = 1e-7) -> NotebookReplay:
    """Run the notebook's 1-D check and its N-D check on the buggy and the correct backprop,
    and gcverify's checker on the same cases.

    The notebook's functions print coloured messages; they are silenced here (the
    numbers are returned instead).
    """
    X, Y, parameters = nb.gradient_check_n_test_case()
    _, cache = nb.forward_propagation_n(X, Y, parameters)
    with contextlib.redirect_stdout(io.StringIO()):
        one_d = nb.gradient_check(3, 4, epsilon)
        buggy = nb.gradient_check_n(parameters, nb.backward_propagation_n_buggy(X, Y, cache),
                                    X, Y, epsilon)
        correct = nb.gradient_check_n(parameters, nb.backward_propagation_n(X, Y, cache),
                                      X, Y, epsilon)
    robust = {
        "1-D": check_gradients(lambda p: nb.forward_propagation(3, p["theta"][0]),
                               {"theta": np.array([nb.backward_propagation(3, 4)], dtype=float)},
                               {"theta": np.array([4.0])}, threshold=threshold),
        "buggy": check_backprop(nb.forward_propagation_n, nb.backward_propagation_n_buggy,
                                X, Y, parameters, threshold=threshold),
        "correct": check_backprop(nb.forward_propagation_n, nb.backward_propagation_n,
                                  X, Y, parameters, threshold=threshold),
    }
    rows = (
        _row("1-D  J = theta * x at x=3, theta=4", one_d, threshold, Verdict.PASS, robust["1-D"]),
        _row("N-D  backward_propagation_n_buggy", buggy, threshold, Verdict.FAIL, robust["buggy"]),
        _row("N-D  backward_propagation_n", correct, threshold, Verdict.PASS,
             robust["correct"]),
    )
    return NotebookReplay(rows, threshold, epsilon)
