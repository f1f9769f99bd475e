"""Gradient coverage: which coordinates the examples reach, and which units are dead.

A dead ReLU unit (its pre-activation negative on every example) has a zero gradient:
any bug in its weights' gradient is invisible on these examples. A coordinate is
*covered* when its gradient is distinguishable from zero, ``|g| + |n| > 3 e`` (the
notion of "zero" that makes a whole block uninformative in :mod:`gcverify.verdict`,
applied to one coordinate); a block's ``coverage`` is the share of its judged
coordinates that are covered, and its *dead units* the indices along its first axis
(the units of the notebook's ``W`` (units × inputs) and ``b``) with judged coordinates,
none covered. A block whose coverage is below :data:`LOW_COVERAGE` gets a note in the
result's reasons (:func:`coverage_note`); the verdict does not change.

>>> nonzero_beyond_error_bars(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0]),
...                           np.array([0.0, 1.0, 1.0])).tolist()
[False, False, True]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from gcverify.params import ParamLayout
from gcverify.result import BlockFinding, Verdict

if TYPE_CHECKING:
    from gcverify.verdict import Evidence

__all__ = ["LOW_COVERAGE", "ZERO_BARS", "coverage_note", "covered_coordinates", "dead_units",
           "nonzero_beyond_error_bars"]

#: A gradient within this many error bars of zero is zero (a block's, a coordinate's).
ZERO_BARS = 3.0
#: A block whose gradient coverage is below this share gets a note in the reasons.
LOW_COVERAGE = 0.5


def nonzero_beyond_error_bars(analytic: np.ndarray, numerical: np.ndarray,
                              error: np.ndarray) -> np.ndarray:
    """Entrywise ``|g| + |n| > 3 e``: the gradient is distinguishable from zero (False
    where a value is NaN)."""
    with np.errstate(invalid="ignore"):
        return (np.abs(analytic) + np.abs(numerical)) > ZERO_BARS * error


def covered_coordinates(evidence: Evidence) -> np.ndarray:
    """The judged coordinates whose gradient is distinguishable from zero
    (:func:`nonzero_beyond_error_bars`): a dead ReLU unit's weights
    are not covered, and any bug in their gradient is invisible on these examples.

    >>> from gcverify.verdict import NOT_EXCLUDED, Evidence
    >>> layout = ParamLayout.from_parameters({"W": np.zeros((1, 3))})
    >>> covered_coordinates(Evidence(layout, np.array([1.0, 0.0, 2e-9]), np.array(
    ...     [1.0, 0.0, 1e-9]), np.full(3, 1e-9), np.full(3, NOT_EXCLUDED), np.ones(3, bool),
    ...     2e-7, 1e-3)).tolist()
    [True, False, False]
    """
    return evidence.judged & nonzero_beyond_error_bars(evidence.analytic, evidence.numerical,
                                                       evidence.error)


def dead_units(layout: ParamLayout, covered: np.ndarray,
               judged: np.ndarray) -> list[tuple[int, ...]]:
    """For each block of ``layout``, the indices along its first axis with some
    coordinate ``judged`` and none ``covered`` (both flat masks).

    >>> layout = ParamLayout(("W", "b"), ((3, 2), (3, 1)))
    >>> covered = np.array([1, 0, 0, 0, 0, 1, 0, 0, 1], dtype=bool)
    >>> dead_units(layout, covered, np.ones(9, dtype=bool))
    [(1,), (0, 1)]
    """
    found: list[tuple[int, ...]] = []
    for k, shape in enumerate(layout.shapes):
        span = slice(layout.offsets[k], layout.offsets[k + 1])
        if not layout.sizes[k]:
            found.append(())
            continue
        rows = shape[0] if shape else 1
        live = covered[span].reshape(rows, -1).any(axis=1)
        seen = judged[span].reshape(rows, -1).any(axis=1)
        found.append(tuple(np.flatnonzero(seen & ~live).tolist()))
    return found


def coverage_note(findings: Iterable[BlockFinding]) -> list[str]:
    """The note on the blocks whose coverage is low (none, or one sentence).

    An inconclusive block already says why (too noisy to tell zero from anything), and
    a block zero throughout is named as unverified: neither is repeated here.
    """
    low = [b for b in findings if b.coverage < LOW_COVERAGE and b.informative
           and b.verdict is not Verdict.INCONCLUSIVE]
    if not low:
        return []
    return [f"low gradient coverage (below {LOW_COVERAGE:.0%}), so a bug there could not "
            "show on these examples: " + "; ".join(_coverage_words(b) for b in low)]


def _coverage_words(block: BlockFinding) -> str:
    """``dW1 covers 40% (units 2, 5 dead on these examples)``."""
    words = f"{block.gradient_key} covers {block.coverage:.0%}"
    if block.dead_units:
        units = ", ".join(str(unit) for unit in block.dead_units)
        plural = "s" if len(block.dead_units) > 1 else ""
        words += f" (unit{plural} {units} dead on these examples)"
    return words
