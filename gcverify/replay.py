"""Replay the "Gradient Checking" notebook and collect its numbers and verdicts.

>>> replay = replay_notebook()
>>> [row.verdict for row in replay.rows]
['PASS', 'FAIL', 'PASS']
>>> replay.reproduced
True
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from gcverify.models import notebook as nb

__all__ = ["NOTEBOOK_DIFFERENCES", "NotebookReplay", "ReplayRow", "replay_notebook"]

#: The differences the notebook printed for its buggy and its correct backprop.
NOTEBOOK_DIFFERENCES = {"buggy": 0.2850931567761623, "correct": 1.1890913024229996e-07}


@dataclass(frozen=True)
class ReplayRow:
    """One check of the notebook: what was checked, its difference, both verdicts."""

    label: str
    difference: float
    verdict: str        # the notebook's rule: "FAIL" if difference > threshold
    expected: str       # what the notebook's author intended the verdict to be

    @property
    def as_expected(self) -> bool:
        return self.verdict == self.expected


@dataclass(frozen=True)
class NotebookReplay:
    """The notebook's three checks, replayed; :attr:`reproduced` if all went as intended."""

    rows: tuple[ReplayRow, ...]
    threshold: float = 2e-7
    epsilon: float = 1e-7

    @property
    def reproduced(self) -> bool:
        return all(row.as_expected for row in self.rows)


def _notebook_verdict(difference: float, threshold: float) -> str:
    # The notebook's own rule, flaw included (a NaN difference is not > threshold).
    return "FAIL" if difference > threshold else "PASS"


def replay_notebook(threshold: float = 2e-7, epsilon: float = 1e-7) -> NotebookReplay:
    """Run the notebook's 1-D check and its N-D check on the buggy and the correct backprop.

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
    rows = (
        ReplayRow("1-D  J = theta * x at x=3, theta=4", one_d,
                  _notebook_verdict(one_d, threshold), "PASS"),
        ReplayRow("N-D  backward_propagation_n_buggy", buggy,
                  _notebook_verdict(buggy, threshold), "FAIL"),
        ReplayRow("N-D  backward_propagation_n", correct,
                  _notebook_verdict(correct, threshold), "PASS"),
    )
    return NotebookReplay(rows, threshold, epsilon)
