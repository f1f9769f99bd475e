"""A killing example, shrunk: the fewest examples of the batch on which a mutant still
FAILs the check and the original still PASSes, so that a report shows a small case.

The batch is the last axis of ``X`` and ``Y`` in the notebook's column layout, the first
in the row layout (X is examples × features, y one label per example).

>>> from gcverify.adapters import Backprop
>>> from gcverify.check import check_backprop
>>> from gcverify.models import notebook as nb
>>> X, Y, p = nb.gradient_check_n_test_case()
>>> mutated = Backprop(nb.forward_propagation_n, nb.backward_propagation_n_buggy)
>>> original = Backprop(nb.forward_propagation_n, nb.backward_propagation_n)
>>> killing = shrunk(mutated, original, 0, (X, Y, p), check_backprop(*mutated, X, Y, p),
...                  {}, "columns")
>>> killing.columns, killing.batch_size
((0,), 3)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gcverify.adapters import Backprop
from gcverify.check import check_backprop
from gcverify.mutation.baseline import check_diagnosis, finite
from gcverify.mutation.examples import Example
from gcverify.mutation.results import KillingExample
from gcverify.result import GradCheckResult, Verdict

__all__ = ["shrunk"]


def shrunk(mutated: Backprop, original: Backprop, index: int, example: Example,
           result: GradCheckResult, options: Mapping[str, Any], layout: str
           ) -> KillingExample:
    """Example ``index`` on which ``mutated`` FAILed (``result``), shrunk to its first
    ``k`` examples for the smallest ``k`` on which ``mutated`` still FAILs and
    ``original`` still PASSes (checked with ``options``)."""
    X, Y, parameters = example
    axis = 0 if layout == "rows" else -1
    m = X.shape[axis] if X.ndim == 2 else 0
    columns = tuple(range(m))
    if m > 1 and Y.ndim >= 1 and Y.shape[axis] == m:
        for size in range(1, m):
            X_small, Y_small = (np.take(array, range(size), axis=axis) for array in (X, Y))
            try:
                small = check_backprop(*mutated, X_small, Y_small, parameters, **options)
                if small.verdict is not Verdict.FAIL:
                    continue
                reference = check_backprop(*original, X_small, Y_small, parameters, **options)
            except BaseException:  # the mutant may raise anything on a smaller batch
                continue
            if reference.verdict is Verdict.PASS:
                X, Y, result, columns = X_small, Y_small, small, tuple(range(size))
                break
    return KillingExample(
        index=index, columns=columns, batch_size=m, difference=finite(result.difference),
        diagnosis=check_diagnosis(result), summary=result.summary(),
        blocks=tuple(block.gradient_key for block in result.mismatched),
        X=np.array(X), Y=np.array(Y),
        parameters={name: np.array(value) for name, value in parameters.items()})
